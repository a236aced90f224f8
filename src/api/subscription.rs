//! Unsubscribe functions: every `on…(callback)` returns `() => void` that removes the callback.

use crate::prelude::*;

use ::core::cell::RefCell;
use alloc::rc::{Rc, Weak};

use js_sys::Function;
use wasm_bindgen::prelude::*;

use crate::web::driver::{deliver, Driver, Input, Shared};

/// Holds what an unsubscribe function removes. Not part of the typed API: JS sees a function.
#[wasm_bindgen(skip_typescript)]
pub struct Subscription {
    driver: Weak<RefCell<Driver>>,
    id: u32,
}

#[wasm_bindgen]
impl Subscription {
    pub fn unsubscribe(&self) {
        if let Some(shared) = self.driver.upgrade() {
            deliver(&shared, Input::Unsubscribe(self.id));
        }
    }
}

#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    fn unsubscriber(sub: Subscription) -> Function;
}

/// The JS function that removes listener `id`.
pub fn unsubscribe_fn(shared: &Shared, id: u32) -> Function {
    unsubscriber(Subscription {
        driver: Rc::downgrade(shared),
        id,
    })
}

/// Where a channel's listeners of one kind are kept.
pub type Slot =
    fn(&mut crate::web::listeners::Listeners) -> &mut Vec<(u32, crate::core::ChannelId, Function)>;

/// Adds `callback` to `channel`'s listeners in `slot`; returns its unsubscribe function.
pub fn listen_on(
    shared: &Shared,
    channel: crate::core::ChannelId,
    slot: Slot,
    callback: Function,
) -> Result<Function, JsValue> {
    let mut d = super::socket::driver(shared)?;
    let id = d.listeners.next_id();
    slot(&mut d.listeners).push((id, channel, callback));
    drop(d);
    Ok(unsubscribe_fn(shared, id))
}
