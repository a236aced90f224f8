//! A JavaScript `Map` mirroring a channel's presence list, kept up to date from the keys each
//! change touches (O(change), not O(room)), so `presence.list()` is a copy of the map's values
//! rather than a rebuild. Rooms with array-index keys (which JavaScript orders first) fall back to
//! rebuilding the list, cached until the next change.

use crate::prelude::*;

use js_sys::{Function, JSON};
use wasm_bindgen::prelude::*;

use crate::api::convert::presence_to_js;
use crate::core::presence::array_index;
use crate::core::util::small_map::SmallMap;
use crate::core::{ChannelId, Client, Touch};

#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    fn mirror_new(pairs: &JsValue) -> JsValue;
    fn mirror_set(m: &JsValue, key: &str, value: &JsValue, fresh: bool);
    fn mirror_delete(m: &JsValue, key: &str);
    fn mirror_values(m: &JsValue) -> JsValue;
    fn mirror_map(m: &JsValue, chooser: &Function) -> JsValue;
}

pub struct PresenceMirror {
    map: JsValue,
    snapshot: Option<JsValue>,
}

/// `[[key, presence], ...]` of a channel as JSON text, in list order.
pub fn pairs_text(core: &Client, channel: ChannelId) -> String {
    let mut text = String::from("[");
    if let Some(tracker) = core.presence(channel) {
        for (i, (key, presence)) in tracker.list().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push('[');
            crate::core::json::write_string(&mut text, key);
            text.push(',');
            presence.write_json(&mut text);
            text.push(']');
        }
    }
    text.push(']');
    text
}

impl PresenceMirror {
    /// A mirror of the channel's current list, or `None` when the room has array-index keys.
    pub fn build(core: &mut Client, channel: ChannelId) -> Option<PresenceMirror> {
        let tracker = core.presence(channel)?;
        if tracker.state.has_index_keys() {
            return None;
        }
        let pairs = JSON::parse(&pairs_text(core, channel)).ok()?;
        core.take_presence_touches(channel);
        core.record_presence_touches(channel, true);
        Some(PresenceMirror {
            map: mirror_new(&pairs),
            snapshot: None,
        })
    }

    /// Applies the keys touched since the last update; false when the mirror can no longer
    /// follow (an array-index key appeared) and must be dropped.
    pub fn update(&mut self, core: &mut Client, channel: ChannelId) -> bool {
        let touches = core.take_presence_touches(channel);
        if touches.is_empty() {
            return true;
        }
        self.snapshot = None;
        let Some(tracker) = core.presence(channel) else {
            return false;
        };
        for touch in touches {
            match touch {
                Touch::Set { key, fresh } => {
                    if array_index(&key).is_some() {
                        return false;
                    }
                    if let Some(p) = tracker.get(&key) {
                        mirror_set(&self.map, &key, &presence_to_js(p), fresh);
                    }
                }
                Touch::Removed(key) => mirror_delete(&self.map, &key),
            }
        }
        true
    }

    /// A fresh array of the presences, or of `chooser(key, presence)`.
    pub fn list(&self, chooser: Option<&Function>) -> JsValue {
        match chooser {
            Some(f) => mirror_map(&self.map, f),
            None => mirror_values(&self.map),
        }
    }

    /// The presences, frozen, the same array until the next change.
    pub fn snapshot(&mut self) -> JsValue {
        if let Some(s) = &self.snapshot {
            return s.clone();
        }
        let values: JsValue = js_sys::Object::freeze(&mirror_values(&self.map).into()).into();
        self.snapshot = Some(values.clone());
        values
    }
}

/// Brings the channel's mirror up to date, if it has one; a mirror that can no longer follow (an
/// array-index key appeared) is dropped and the core stops recording for it. True when an
/// up-to-date mirror remains.
pub fn catch_up(
    mirrors: &mut SmallMap<u32, PresenceMirror>,
    core: &mut Client,
    channel: ChannelId,
) -> bool {
    let Some(mirror) = mirrors.get_mut(&channel.0) else {
        return false;
    };
    if mirror.update(core, channel) {
        return true;
    }
    mirrors.remove(&channel.0);
    core.record_presence_touches(channel, false);
    false
}
