//! `socket.notifications(userId, options)`: a notification store that fits Svelte's store
//! contract and React's `useSyncExternalStore` (its methods are bound, so
//! `useSyncExternalStore(store.subscribe, store.getSnapshot)` works).

use crate::prelude::*;

use js_sys::Function;
use wasm_bindgen::prelude::*;

use super::subscription::unsubscribe_fn;
use crate::core::ChannelId;
use crate::web::driver::{pump, Shared};

/// The store's handle; JS gets the bound wrapper made by `bound_store`.
#[wasm_bindgen(skip_typescript)]
pub struct NotificationStoreHandle {
    shared: Shared,
    channel: ChannelId,
}

#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    fn bound_store(h: NotificationStoreHandle) -> JsValue;
}

impl NotificationStoreHandle {
    pub(crate) fn create(shared: Shared, channel: ChannelId) -> JsValue {
        bound_store(NotificationStoreHandle { shared, channel })
    }

    fn call(
        &self,
        f: impl FnOnce(&mut crate::core::Client, u64, ChannelId),
    ) -> Result<(), JsValue> {
        {
            let mut d = super::socket::driver(&self.shared)?;
            let now = d.now();
            f(&mut d.core, now, self.channel);
        }
        pump(&self.shared);
        Ok(())
    }
}

#[wasm_bindgen]
impl NotificationStoreHandle {
    /// Calls `callback(snapshot)` now and after every change; returns the unsubscribe.
    pub fn subscribe(&self, callback: Function) -> Result<Function, JsValue> {
        let callback = super::validate::callback(callback, "store.subscribe(callback)")?;
        let snapshot = {
            let mut d = super::socket::driver(&self.shared)?;
            let id = d.listeners.next_id();
            d.listeners
                .store_subs
                .push((id, self.channel, callback.clone()));
            let now = d.now();
            let d = &mut *d;
            (d.stores.snapshot(&d.core, self.channel, now), id)
        };
        crate::web::driver::reported(callback.call1(&JsValue::UNDEFINED, &snapshot.0));
        Ok(unsubscribe_fn(&self.shared, snapshot.1))
    }

    /// The current snapshot: the same object until something changes.
    #[wasm_bindgen(js_name = getSnapshot)]
    pub fn get_snapshot(&self) -> JsValue {
        let Ok(mut d) = self.shared.try_borrow_mut() else {
            return JsValue::UNDEFINED;
        };
        let now = d.now();
        let d = &mut *d;
        d.stores.snapshot(&d.core, self.channel, now)
    }

    /// Marks one notification, or several (an array of ids), read at once and tells the server:
    /// several go in `mark_read` pushes of up to 100 ids. Unknown and already read ids are left
    /// out.
    #[wasm_bindgen(js_name = markRead)]
    pub fn mark_read(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | readonly string[]")] ids: JsValue,
    ) -> Result<(), JsValue> {
        let mut list: Vec<String> = Vec::new();
        if let Some(id) = ids.as_string() {
            list.push(id);
        } else if js_sys::Array::is_array(&ids) {
            let array: &js_sys::Array = ids.unchecked_ref();
            for i in 0..array.length() {
                list.push(array.get(i).as_string().ok_or_else(not_ids)?);
            }
        } else {
            return Err(not_ids());
        }
        self.call(|core, now, ch| core.mark_read_ids(now, ch, &list))
    }

    #[wasm_bindgen(js_name = markAllRead)]
    pub fn mark_all_read(&self) -> Result<(), JsValue> {
        self.call(|core, now, ch| core.mark_all_read(now, ch))
    }

    pub fn refresh(&self) -> Result<(), JsValue> {
        self.call(|core, now, ch| core.refresh_notifications(now, ch))
    }

    /// Calls `callback(notification)` for every notification pushed (toasts included).
    #[wasm_bindgen(js_name = onNotification)]
    pub fn on_notification(&self, callback: Function) -> Result<Function, JsValue> {
        let callback = super::validate::callback(callback, "store.onNotification(callback)")?;
        let mut d = super::socket::driver(&self.shared)?;
        let id = d.listeners.next_id();
        d.listeners.notifications.push((id, self.channel, callback));
        drop(d);
        Ok(unsubscribe_fn(&self.shared, id))
    }
}

/// The error for a `markRead` argument that is neither an id nor an array of ids.
fn not_ids() -> JsValue {
    super::convert::tether_error(
        "invalid_payload",
        "markRead takes an id or an array of ids (strings)",
    )
}
