//! `Channel`: a topic on a socket — join, push, receive, leave.

use crate::prelude::*;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use super::convert::{js_to_json_object, tether_error};
use super::options::push_timeout;
use super::subscription::{listen_on, unsubscribe_fn};
use super::validate;
use crate::core::{CallError, ChannelId, PushId};
use crate::web::driver::{deliver, pump, Input, Resolvers, Shared};

#[wasm_bindgen]
pub struct Channel {
    shared: Shared,
    id: ChannelId,
    topic: String,
}

fn call_error(e: CallError) -> JsValue {
    tether_error(e.code, &e.message)
}

impl Channel {
    pub(crate) fn new(shared: Shared, id: ChannelId, topic: String) -> Channel {
        Channel { shared, id, topic }
    }

    /// [`Channel::presence`] as the Rust type (its JS methods unbound).
    pub fn presence_view(
        &self,
        options: Option<JsValue>,
    ) -> Result<super::presence::PresenceView, JsValue> {
        let grace = super::options::leave_grace(&options.unwrap_or_default())?;
        let mut d = super::socket::driver(&self.shared)?;
        // Every view shares one presence: a later call cannot change its grace window.
        let held = d.core.presence(self.id).map(|t| t.grace_ms());
        if let (Some(held), Some(asked)) = (held, grace) {
            if held != asked {
                return Err(tether_error(
                    "invalid_option",
                    &[
                        "channel.presence(options): leaveGraceMs is ",
                        &crate::core::util::text::decimal(held),
                        ", set by the first presence() call of this channel; every view shares \
                         that presence, so a later call cannot change it",
                    ]
                    .concat(),
                ));
            }
        }
        d.core.track_presence(self.id, grace.unwrap_or(0));
        drop(d);
        Ok(super::presence::PresenceView::new(
            self.shared.clone(),
            self.id,
        ))
    }
}

/// A promise settled when request `push` ends.
fn promise(shared: &Shared, push: PushId, what: &'static str) -> Promise {
    let mut resolvers = None;
    let promise = Promise::new(&mut |resolve, reject| resolvers = Some((resolve, reject)));
    if let Some((resolve, reject)) = resolvers {
        let resolvers = Resolvers {
            resolve,
            reject,
            what,
        };
        deliver(shared, Input::Pending(push, resolvers));
    }
    pump(shared);
    promise
}

/// Makes a request of the core and returns the promise of its outcome (rejected at once when
/// the core refuses the call).
pub(super) fn request(
    shared: &Shared,
    what: &'static str,
    call: impl FnOnce(&mut crate::core::Client, u64) -> Result<PushId, CallError>,
) -> Promise {
    let result = match super::socket::driver(shared) {
        Ok(mut d) => {
            let now = d.now();
            call(&mut d.core, now).map_err(call_error)
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(push) => promise(shared, push, what),
        Err(e) => Promise::reject(&e),
    }
}

#[wasm_bindgen]
impl Channel {
    #[wasm_bindgen(getter)]
    pub fn topic(&self) -> String {
        self.topic.clone()
    }

    /// The ref of the current join (as phoenix.js's `joinRef()`), or undefined.
    #[wasm_bindgen(getter, js_name = joinRef)]
    pub fn join_ref(&self) -> Option<String> {
        self.shared
            .try_borrow()
            .ok()
            .and_then(|d| d.core.channel_join_ref(self.id).map(str::to_string))
    }

    /// "closed" | "joining" | "joined" | "leaving" | "errored".
    #[wasm_bindgen(getter, unchecked_return_type = "ChannelStateName")]
    pub fn state(&self) -> String {
        self.shared
            .try_borrow()
            .ok()
            .and_then(|d| d.core.channel_state(self.id).map(|s| s.name().to_string()))
            .unwrap_or_else(|| "closed".to_string())
    }

    /// Joins (now, or once the socket opens) and stays joined across errors and reconnects until
    /// `leave()`. Resolves with the server's response to the first join; rejects with an Error
    /// whose `code` is "error" (with `response`), "timeout" or "dropped".
    #[wasm_bindgen(unchecked_return_type = "Promise<JsonObject>")]
    pub fn join(&self) -> Promise {
        let id = self.id;
        request(&self.shared, "join", |core, now| core.join(now, id))
    }

    /// Pushes an event. Resolves with the reply's response; rejects with code "error",
    /// "timeout" or "dropped" (never sent: buffer full, expired, or channel left), and at once
    /// with "invalid_event", "invalid_payload" or "invalid_option" for a bad argument. An
    /// `ArrayBuffer` or `Uint8Array` payload goes as a Phoenix binary frame, as phoenix.js sends
    /// an `ArrayBuffer` (the server's channel gets `{:binary, data}`).
    #[wasm_bindgen(skip_typescript)]
    pub fn push(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] event: JsValue,
        #[wasm_bindgen(unchecked_param_type = "JsonObject | ArrayBuffer | Uint8Array")]
        payload: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "PushOptions")] options: Option<JsValue>,
    ) -> Promise {
        let event = match validate::event(&event, "channel.push(event, payload)") {
            Ok(event) => event,
            Err(e) => return Promise::reject(&e),
        };
        let bytes = if payload.is_instance_of::<js_sys::ArrayBuffer>() {
            Some(js_sys::Uint8Array::new(&payload).to_vec())
        } else {
            payload.dyn_ref::<js_sys::Uint8Array>().map(|a| a.to_vec())
        };
        let json = match bytes {
            Some(_) => None,
            None => match js_to_json_object(&payload) {
                Ok(p) => Some(p),
                Err(e) => return Promise::reject(&e),
            },
        };
        let timeout = match push_timeout(&options.unwrap_or_default()) {
            Ok(t) => t,
            Err(e) => return Promise::reject(&e),
        };
        let id = self.id;
        request(&self.shared, "push", move |core, now| match (json, bytes) {
            (Some(payload), _) => core.push(now, id, &event, payload, timeout),
            (None, bytes) => core.push_binary(now, id, &event, bytes.unwrap_or_default(), timeout),
        })
    }

    /// Leaves the channel; it is not rejoined. Resolves when the server confirms or at once when
    /// disconnected.
    #[wasm_bindgen(unchecked_return_type = "Promise<JsonObject>")]
    pub fn leave(&self) -> Promise {
        let id = self.id;
        request(&self.shared, "leave", |core, now| core.leave(now, id))
    }

    /// Calls `callback(payload)` for each `event` the server sends on this channel; returns the
    /// unsubscribe function.
    #[wasm_bindgen(skip_typescript)]
    pub fn on(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] event: JsValue,
        #[wasm_bindgen(unchecked_param_type = "(payload: JsonObject) => void")] callback: Function,
    ) -> Result<Function, JsValue> {
        let event = validate::event(&event, "channel.on(event, callback)")?;
        let callback = validate::callback(callback, "channel.on(event, callback)")?;
        let mut d = super::socket::driver(&self.shared)?;
        let id = d.listeners.add_message(self.id, event, callback);
        d.sync_routes();
        drop(d);
        Ok(unsubscribe_fn(&self.shared, id))
    }

    /// This channel's presence (created on first call; later calls return a view of the same
    /// state). `leaveGraceMs` (default 0) hides a key that leaves and comes back within it. Its
    /// methods are bound, so `useSyncExternalStore(presence.subscribe, presence.getSnapshot)`
    /// works.
    #[wasm_bindgen(unchecked_return_type = "Presence")]
    pub fn presence(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "PresenceOptions")] options: Option<JsValue>,
    ) -> Result<JsValue, JsValue> {
        Ok(super::presence::bound(self.presence_view(options)?))
    }

    /// Calls `callback(state)` with the channel's new state at every change: "joining",
    /// "joined", "errored" (a refused or timed-out join, a server error, a lost connection; it
    /// rejoins by itself), "leaving", "closed" (left, or closed by the server; not rejoined).
    /// Returns the unsubscribe function.
    #[wasm_bindgen(js_name = onState, unchecked_return_type = "() => void")]
    pub fn on_state(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(state: ChannelStateName) => void")]
        callback: Function,
    ) -> Result<Function, JsValue> {
        let callback = validate::callback(callback, "channel.onState(callback)")?;
        listen_on(&self.shared, self.id, |l| &mut l.channel_states, callback)
    }

    /// Calls `callback({rejoin, response})` after every successful join, so an app can pull what
    /// it missed while away; returns the unsubscribe function.
    #[wasm_bindgen(js_name = onJoin, unchecked_return_type = "() => void")]
    pub fn on_join(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(info: JoinInfo) => void")] callback: Function,
    ) -> Result<Function, JsValue> {
        let callback = validate::callback(callback, "channel.onJoin(callback)")?;
        listen_on(&self.shared, self.id, |l| &mut l.joins, callback)
    }
}
