//! `Socket`: one connection to a Phoenix endpoint, kept alive across failures.

use crate::prelude::*;

use js_sys::Function;
use wasm_bindgen::prelude::*;

use super::channel::Channel;
use super::convert::{js_to_json_object, state_to_js, tether_error};
use super::options::socket_options;
use super::subscription::unsubscribe_fn;
use super::validate;
use crate::core::{Client, SplitMix64};
use crate::web::driver::{pump, Driver, Shared};

#[wasm_bindgen]
pub struct Socket {
    shared: Shared,
}

/// Refuses calls made from inside a reconnect schedule function (the one place user code runs
/// while the client is busy).
pub(crate) fn busy() -> JsValue {
    tether_error(
        "reentrant_call",
        "tether was called from inside its own schedule function",
    )
}

/// The driver, ready for a call: refused while the client is busy (`reentrant_call`) or after
/// the `Socket` was freed (`closed_socket`).
pub(crate) fn driver(shared: &Shared) -> Result<::core::cell::RefMut<'_, Driver>, JsValue> {
    let d = shared.try_borrow_mut().map_err(|_| busy())?;
    if d.closed {
        return Err(crate::web::driver::closed_socket());
    }
    Ok(d)
}

#[wasm_bindgen]
impl Socket {
    /// `new Socket("ws://host/socket", options)`. Does not connect until `connect()`. Throws
    /// `invalid_url` for a URL that is not ws/wss/http/https or a path, `invalid_option` for an
    /// unknown option or a bad value.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "string")] url: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "SocketOptions")] options: Option<JsValue>,
    ) -> Result<Socket, JsValue> {
        let url = validate::socket_url(&url)?;
        let opts = socket_options(&options.unwrap_or_default())?;
        let seed = (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64
            ^ (js_sys::Date::now() as u64);
        let core = Client::new(opts.config, Box::new(SplitMix64::new(seed)));
        Ok(Socket {
            shared: Driver::new(core, url, opts.params, opts.auth_token),
        })
    }

    /// What `socket.free()` (and `using`) does before the object goes: the connection closes for
    /// good, pending promises reject with `closed_socket`, and the socket's channels and stores
    /// refuse every call from then on. Called by the package's glue from `free()` only, not when
    /// the garbage collector finalizes an unreachable `Socket`: an app may keep only its channels,
    /// which keep the connection (pkg-template/guard_glue.mjs).
    #[wasm_bindgen(js_name = __closeForGood, skip_typescript)]
    pub fn close_for_good(&self) {
        crate::web::driver::close_for_good(&self.shared);
    }

    /// Connects, and keeps reconnecting until `disconnect()`.
    pub fn connect(&self) -> Result<(), JsValue> {
        {
            let mut d = self.shared.try_borrow_mut().map_err(|_| busy())?;
            let now = d.now();
            d.core.connect(now);
        }
        pump(&self.shared);
        Ok(())
    }

    /// Closes the connection; nothing reconnects it until `connect()`.
    pub fn disconnect(&self) -> Result<(), JsValue> {
        {
            let mut d = self.shared.try_borrow_mut().map_err(|_| busy())?;
            let now = d.now();
            d.core.disconnect(now);
        }
        pump(&self.shared);
        Ok(())
    }

    /// The function the current connection's WebSocket `onmessage` calls with each frame's
    /// data (undefined without a socket). The benchmarks feed frames through it to compare
    /// message paths without network noise.
    #[wasm_bindgen(js_name = _receiver, skip_typescript)]
    pub fn receiver(&self) -> JsValue {
        crate::web::driver::receiver(&self.shared).map_or(JsValue::UNDEFINED, JsValue::from)
    }

    /// The connection state right now.
    #[wasm_bindgen(getter, unchecked_return_type = "SocketStateInfo")]
    pub fn state(&self) -> JsValue {
        match self.shared.try_borrow() {
            Ok(d) => state_to_js(d.core.state()),
            Err(_) => JsValue::UNDEFINED,
        }
    }

    /// Calls `callback` with every state change; returns the unsubscribe function.
    #[wasm_bindgen(js_name = onState, unchecked_return_type = "() => void")]
    pub fn on_state(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(state: SocketStateInfo) => void")]
        callback: Function,
    ) -> Result<Function, JsValue> {
        let callback = validate::callback(callback, "socket.onState(callback)")?;
        let mut d = self.shared.try_borrow_mut().map_err(|_| busy())?;
        let id = d.listeners.next_id();
        d.listeners.state.push((id, callback));
        drop(d);
        Ok(unsubscribe_fn(&self.shared, id))
    }

    /// Calls `callback` with every error the client survived (malformed frames, dropped sends,
    /// heartbeat timeouts, failed connects); returns the unsubscribe function.
    #[wasm_bindgen(js_name = onError, unchecked_return_type = "() => void")]
    pub fn on_error(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(error: TetherError) => void")] callback: Function,
    ) -> Result<Function, JsValue> {
        let callback = validate::callback(callback, "socket.onError(callback)")?;
        let mut d = self.shared.try_borrow_mut().map_err(|_| busy())?;
        let id = d.listeners.next_id();
        d.listeners.error.push((id, callback));
        drop(d);
        Ok(unsubscribe_fn(&self.shared, id))
    }

    /// The notification store of user `userId` (topic `user:{userId}:notifications`), joined at
    /// once and kept in sync across reconnects.
    #[wasm_bindgen(unchecked_return_type = "NotificationStore")]
    pub fn notifications(
        &self,
        #[wasm_bindgen(js_name = userId)] user_id: String,
        #[wasm_bindgen(unchecked_optional_param_type = "NotificationStoreOptions")] options: Option<
            JsValue,
        >,
    ) -> Result<JsValue, JsValue> {
        let (cap, persist) = super::options::store_options(&options.unwrap_or_default())?;
        let storage_key = persist.then(|| ["tether:notifications:", &user_id].concat());
        let restored = storage_key
            .as_deref()
            .map(crate::web::stores::restore)
            .unwrap_or_default();
        let channel = {
            let mut d = self.shared.try_borrow_mut().map_err(|_| busy())?;
            let now = d.now();
            let channel = d.core.notifications(
                now,
                &["user:", &user_id, ":notifications"].concat(),
                cap,
                restored,
            );
            d.stores.register(channel, storage_key);
            channel
        };
        pump(&self.shared);
        Ok(super::notifications::NotificationStoreHandle::create(
            self.shared.clone(),
            channel,
        ))
    }

    /// Calls `callback` with every telemetry event (connects, disconnects, scheduled reconnects,
    /// heartbeat timeouts, joins, push replies, dropped sends, with durations); returns the
    /// unsubscribe. Telemetry costs nothing until the first callback is registered.
    #[wasm_bindgen(js_name = onTelemetry, unchecked_return_type = "() => void")]
    pub fn on_telemetry(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(event: TelemetryEvent) => void")]
        callback: Function,
    ) -> Result<Function, JsValue> {
        let callback = validate::callback(callback, "socket.onTelemetry(callback)")?;
        let mut d = self.shared.try_borrow_mut().map_err(|_| busy())?;
        let id = d.listeners.next_id();
        d.listeners.telemetry.push((id, callback));
        d.core.set_telemetry(true);
        drop(d);
        Ok(unsubscribe_fn(&self.shared, id))
    }

    /// Measures the connection's round trip (as phoenix.js's `socket.ping(callback)`): a
    /// heartbeat of its own; resolves with the milliseconds to its reply. Rejects with code
    /// "not_connected" when the socket is not open, "unsupported" on the hub and nova dialects,
    /// "timeout" after `timeoutMs`.
    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn ping(&self) -> js_sys::Promise {
        super::channel::request(&self.shared, "ping", |core, now| core.ping(now))
    }

    /// A channel for `topic`, joined with `params` when `join()` is called. `params` may be a
    /// function returning them (or a promise of them): it is called at every join and rejoin
    /// (as phoenix.js does), so a rejoin can carry what the app knows by then (a fresh token,
    /// the last id it saw).
    #[wasm_bindgen(skip_typescript)]
    pub fn channel(
        &self,
        topic: String,
        #[wasm_bindgen(
            unchecked_optional_param_type = "JsonObject | (() => JsonObject | Promise<JsonObject>)"
        )]
        params: Option<JsValue>,
    ) -> Result<Channel, JsValue> {
        let params = params.unwrap_or_default();
        let params_fn = params.dyn_ref::<Function>().cloned();
        let params = match params_fn {
            Some(_) => crate::core::dialect::codec::empty_object(),
            None => js_to_json_object(&params)?,
        };
        let mut d = self.shared.try_borrow_mut().map_err(|_| busy())?;
        let id = d.core.channel(&topic, params);
        if let Some(f) = params_fn {
            d.core.ask_params_on_join(id);
            d.channel_params.insert(id.0, f);
        }
        drop(d);
        Ok(Channel::new(self.shared.clone(), id, topic))
    }
}
