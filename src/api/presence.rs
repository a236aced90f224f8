//! `Presence`: who is on a channel, merged from `presence_state` / `presence_diff` exactly as
//! phoenix.js does, with an optional leave grace window.

use crate::prelude::*;

use js_sys::{Array, Function, JSON};
use wasm_bindgen::prelude::*;

use super::convert::presence_to_js;
use super::socket::busy;
use super::subscription::{listen_on, unsubscribe_fn, Slot};
use super::validate;
use crate::core::ChannelId;
use crate::web::driver::{Driver, Shared};
use crate::web::presence_mirror::{catch_up, pairs_text, PresenceMirror};

#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    fn presence_list(pairs: &JsValue, chooser: Option<&Function>) -> JsValue;
    fn presence_values(pairs: &JsValue) -> JsValue;
    fn pair_of() -> Function;
    fn bind_methods(obj: JsValue) -> JsValue;
}

/// The view as JavaScript gets it: every method bound to it, so each can be passed on alone.
pub(crate) fn bound(view: PresenceView) -> JsValue {
    bind_methods(view.into())
}

/// Makes sure the channel has an up-to-date mirror if it can; true when it has one.
fn mirror(d: &mut Driver, channel: ChannelId) -> bool {
    let Driver {
        core,
        presence_mirrors,
        ..
    } = d;
    if catch_up(presence_mirrors, core, channel) {
        return true;
    }
    match PresenceMirror::build(&mut d.core, channel) {
        Some(m) => {
            d.presence_mirrors.insert(channel.0, m);
            true
        }
        None => false,
    }
}

/// The list as a frozen array, the same until the next change.
pub(crate) fn snapshot(d: &mut Driver, channel: ChannelId) -> Result<JsValue, JsValue> {
    if mirror(d, channel) {
        if let Some(m) = d.presence_mirrors.get_mut(&channel.0) {
            return Ok(m.snapshot());
        }
    }
    Ok(cached_list(d, channel)?.1)
}

/// `[[key, presence], ...]` and `[presence, ...]` of a channel, parsed once per change.
pub(crate) fn cached_list(
    d: &mut Driver,
    channel: ChannelId,
) -> Result<(JsValue, JsValue), JsValue> {
    if let Some(cached) = d.presence_lists.get(&channel.0) {
        return Ok(cached.clone());
    }
    if d.core.presence(channel).is_none() {
        return Ok((Array::new().into(), Array::new().into()));
    }
    let text = pairs_text(&d.core, channel);
    let pairs = JSON::parse(&text)?;
    let values = presence_values(&pairs);
    d.presence_lists
        .insert(channel.0, (pairs.clone(), values.clone()));
    Ok((pairs, values))
}

#[wasm_bindgen(js_name = Presence)]
pub struct PresenceView {
    shared: Shared,
    channel: ChannelId,
}

impl PresenceView {
    pub(crate) fn new(shared: Shared, channel: ChannelId) -> PresenceView {
        PresenceView { shared, channel }
    }

    fn listen(&self, slot: Slot, callback: Function, call: &str) -> Result<Function, JsValue> {
        let callback = validate::callback(callback, call)?;
        listen_on(&self.shared, self.channel, slot, callback)
    }
}

#[wasm_bindgen(js_class = Presence)]
impl PresenceView {
    /// `callback(key, current | undefined, joined)` for each join; returns the unsubscribe.
    #[wasm_bindgen(js_name = onJoin, unchecked_return_type = "() => void")]
    pub fn on_join(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "(key: string, current: PresenceEntry | undefined, joined: PresenceEntry) => void"
        )]
        callback: Function,
    ) -> Result<Function, JsValue> {
        self.listen(
            |l| &mut l.presence_join,
            callback,
            "presence.onJoin(callback)",
        )
    }

    /// `callback(key, remaining, left)` for each leave (`remaining.metas` may be empty); returns
    /// the unsubscribe.
    #[wasm_bindgen(js_name = onLeave, unchecked_return_type = "() => void")]
    pub fn on_leave(
        &self,
        #[wasm_bindgen(
            unchecked_param_type = "(key: string, remaining: PresenceEntry, left: PresenceEntry) => void"
        )]
        callback: Function,
    ) -> Result<Function, JsValue> {
        self.listen(
            |l| &mut l.presence_leave,
            callback,
            "presence.onLeave(callback)",
        )
    }

    /// `callback()` after each state or diff is applied; returns the unsubscribe.
    #[wasm_bindgen(js_name = onSync, unchecked_return_type = "() => void")]
    pub fn on_sync(
        &self,
        #[wasm_bindgen(unchecked_param_type = "() => void")] callback: Function,
    ) -> Result<Function, JsValue> {
        self.listen(
            |l| &mut l.presence_sync,
            callback,
            "presence.onSync(callback)",
        )
    }

    /// Every key's presence in order (phoenix.js order: array-index keys first, then insertion),
    /// mapped through `chooser(key, presence)` when given. The parsed list is cached until the
    /// presence changes, so calling `list()` in every render costs a copy, not a rebuild.
    /// (Typed by overloads in the custom TypeScript section.)
    #[wasm_bindgen(skip_typescript)]
    pub fn list(&self, chooser: Option<Function>) -> Result<JsValue, JsValue> {
        let chooser = validate::optional_function(chooser, "presence.list(chooser)", "chooser")?;
        let source = {
            let mut d = self.shared.try_borrow_mut().map_err(|_| busy())?;
            if mirror(&mut d, self.channel) {
                // Build the array inside the borrow (no user code runs: the chooser runs after).
                match (&chooser, d.presence_mirrors.get(&self.channel.0)) {
                    (None, Some(m)) => return Ok(m.list(None)),
                    _ => None,
                }
            } else {
                Some(cached_list(&mut d, self.channel)?)
            }
        };
        match (source, chooser) {
            (Some((pairs, _)), Some(f)) => Ok(presence_list(&pairs, Some(&f))),
            (Some((_, values)), None) => Ok(presence_list(&values, None::<&Function>)),
            (None, Some(f)) => {
                // A mirror and a chooser: copy the pairs out, then call the chooser unborrowed.
                let pairs = {
                    let d = self.shared.try_borrow().map_err(|_| busy())?;
                    d.presence_mirrors
                        .get(&self.channel.0)
                        .map(|m| m.list(Some(&pair_of())))
                };
                Ok(presence_list(
                    &pairs.unwrap_or_else(|| Array::new().into()),
                    Some(&f),
                ))
            }
            (None, None) => Ok(Array::new().into()),
        }
    }

    /// The list of presences (as `list()`), the same array until the presence changes: a
    /// `useSyncExternalStore` snapshot.
    #[wasm_bindgen(js_name = getSnapshot, unchecked_return_type = "readonly PresenceEntry[]")]
    pub fn get_snapshot(&self) -> Result<JsValue, JsValue> {
        let mut d = self.shared.try_borrow_mut().map_err(|_| busy())?;
        snapshot(&mut d, self.channel)
    }

    /// Svelte's store contract: `callback(list)` now and after every change; returns the
    /// unsubscribe. With Svelte, `$presence` is the list.
    #[wasm_bindgen(unchecked_return_type = "() => void")]
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(list: readonly PresenceEntry[]) => void")] callback: Function,
    ) -> Result<Function, JsValue> {
        let callback = validate::callback(callback, "presence.subscribe(callback)")?;
        let (id, snapshot) = {
            let mut d = super::socket::driver(&self.shared)?;
            let id = d.listeners.next_id();
            d.listeners
                .presence_subs
                .push((id, self.channel, callback.clone()));
            (id, snapshot(&mut d, self.channel)?)
        };
        crate::web::driver::reported(callback.call1(&JsValue::UNDEFINED, &snapshot));
        Ok(unsubscribe_fn(&self.shared, id))
    }

    /// The presence of `key`, or undefined.
    #[wasm_bindgen(unchecked_return_type = "PresenceEntry | undefined")]
    pub fn get(&self, key: String) -> JsValue {
        let Ok(d) = self.shared.try_borrow() else {
            return JsValue::UNDEFINED;
        };
        d.core
            .presence(self.channel)
            .and_then(|t| t.get(&key))
            .map(presence_to_js)
            .unwrap_or(JsValue::UNDEFINED)
    }
}
