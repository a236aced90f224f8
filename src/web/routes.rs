//! The driver's mirror of the core's message routing, kept in JS for the inbound path in `glue.js`: topic →
//! channels (join ref, event → listeners), rebuilt from [`Client::routable_channels`] and the
//! message listeners whenever either changes. With it a plain broadcast goes from
//! `JSON.parse` to its listeners without entering wasm; everything the core reads still goes
//! through the core.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use super::listeners::Listeners;
use crate::core::Client;

#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    /// A new (empty) map; `core_reads` is [`crate::core::client::CORE_READS`] as space-separated
    /// words, the rule the inbound path uses to send an event to the core.
    #[wasm_bindgen(js_name = newRoutes)]
    fn new_routes(core_reads: &str) -> JsValue;
    #[wasm_bindgen(js_name = clearRoutes)]
    fn clear_routes(routes: &JsValue);
    #[wasm_bindgen(js_name = addRoute)]
    fn add_route(routes: &JsValue, topic: &str, join_ref: Option<&str>) -> JsValue;
    #[wasm_bindgen(js_name = addHandler)]
    fn add_handler(handlers: &JsValue, event: &str, listener: &JsValue);
}

pub struct Routes {
    map: JsValue,
    /// (core routes version, listeners version) the map was built from.
    built: Option<(u64, u64)>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes {
            map: new_routes(&crate::core::client::CORE_READS.join(" ")),
            built: None,
        }
    }
}

impl Routes {
    /// The JS map the inbound path (`glue.js`) routes with.
    pub fn js(&self) -> &JsValue {
        &self.map
    }

    /// Rebuilds the map if the core's channels or the message listeners changed since.
    pub fn sync(&mut self, core: &Client, listeners: &Listeners) {
        let now = (core.routes_version(), listeners.version());
        if self.built == Some(now) {
            return;
        }
        self.built = Some(now);
        clear_routes(&self.map);
        for (channel, topic, join_ref) in core.routable_channels() {
            let handlers = add_route(&self.map, topic, join_ref);
            for (_, c, event, listener) in listeners.messages() {
                if *c == channel {
                    add_handler(&handlers, event, listener);
                }
            }
        }
    }
}
