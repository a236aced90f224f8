//! Driver-side state of notification stores: cached snapshots (the same object until something
//! changes, as `useSyncExternalStore` requires) and the localStorage key of unconfirmed reads.

use crate::prelude::*;

use crate::core::util::small_map::SmallMap;

use crate::core::json;
use crate::core::Value;
use wasm_bindgen::JsValue;

use crate::core::notifications::store::StoredRead;
use crate::core::{badge, ChannelId, Client};

#[derive(Default)]
pub struct StoreViews {
    snapshots: SmallMap<u32, JsValue>,
    storage_keys: SmallMap<u32, String>,
}

impl StoreViews {
    pub fn register(&mut self, channel: ChannelId, storage_key: Option<String>) {
        if let Some(key) = storage_key {
            self.storage_keys.insert(channel.0, key);
        }
    }

    pub fn invalidate(&mut self, channel: ChannelId) {
        self.snapshots.remove(&channel.0);
    }

    /// `{items, unreadCount, badge, status, refusedReason?}`, frozen, rebuilt only after a change.
    pub fn snapshot(&mut self, core: &Client, channel: ChannelId, now: u64) -> JsValue {
        if let Some(s) = self.snapshots.get(&channel.0) {
            return s.clone();
        }
        let Some(store) = core.notification_store(channel) else {
            return JsValue::UNDEFINED;
        };
        let unread = store.unread_count();
        let mut value = json::object([
            ("items", Value::Array(store.items(now))),
            ("unreadCount", Value::from(unread)),
            ("badge", Value::String(badge(unread))),
            ("status", Value::from(store.status().name())),
        ]);
        if let (Some(reason), Some(obj)) = (store.refused_reason(), value.as_object_mut()) {
            obj.insert("refusedReason".into(), Value::from(reason));
        }
        let snapshot = js_sys::JSON::parse(&json::text(&value))
            .ok()
            .unwrap_or(JsValue::UNDEFINED);
        if let Ok(items) = js_sys::Reflect::get(&snapshot, &"items".into()) {
            js_sys::Object::freeze(&items.into());
        }
        let snapshot: JsValue = js_sys::Object::freeze(&snapshot.into()).into();
        self.snapshots.insert(channel.0, snapshot.clone());
        snapshot
    }

    /// Writes the unconfirmed reads of a store (or removes the key when there are none).
    pub fn persist(&self, channel: ChannelId, pending: &[Value]) {
        let (Some(key), Some(storage)) = (self.storage_keys.get(&channel.0), local_storage())
        else {
            return;
        };
        if pending.is_empty() {
            let _ = storage.remove_item(key);
        } else {
            let _ = storage.set_item(key, &json::text(&Value::Array(pending.to_vec())));
        }
    }
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Reads of a previous page load that the server never confirmed.
pub fn restore(storage_key: &str) -> Vec<StoredRead> {
    let Some(text) = local_storage().and_then(|s| s.get_item(storage_key).ok().flatten()) else {
        return Vec::new();
    };
    match crate::core::json::parse(&text) {
        Ok(Value::Array(ops)) => ops.iter().filter_map(StoredRead::from_value).collect(),
        _ => Vec::new(),
    }
}
