//! The driver's one real timer: a single `Closure`, created once, armed with `setTimeout` for the
//! core's next deadline and cleared on re-arm and on drop.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

pub struct DriverTimer {
    callback: Closure<dyn FnMut()>,
    handle: Option<i32>,
    deadline: Option<u64>,
}

/// Browsers treat delays above 2^31-1 ms as 0; clamp below that.
const MAX_DELAY_MS: u64 = 0x7FFF_FFFF;

impl DriverTimer {
    pub fn new(on_fire: impl FnMut() + 'static) -> DriverTimer {
        DriverTimer {
            callback: Closure::new(on_fire),
            handle: None,
            deadline: None,
        }
    }

    /// Arms the timer for `deadline` (absolute ms), or disarms it for `None`. Re-arming for the
    /// same deadline keeps the running timer; `now` is read only when a timer is set (most
    /// frames leave the deadline as it was, and reading the clock crosses into JS).
    pub fn arm(&mut self, deadline: Option<u64>, now: impl FnOnce() -> u64) {
        if deadline == self.deadline && (self.handle.is_some() || deadline.is_none()) {
            return;
        }
        self.clear();
        let Some(at) = deadline else {
            return;
        };
        let Some(window) = web_sys::window() else {
            return;
        };
        let delay = at.saturating_sub(now()).min(MAX_DELAY_MS) as i32;
        if let Ok(handle) = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            self.callback.as_ref().unchecked_ref(),
            delay,
        ) {
            self.handle = Some(handle);
            self.deadline = Some(at);
        }
    }

    /// Called when the timer fired: it is no longer armed.
    pub fn fired(&mut self) {
        self.handle = None;
        self.deadline = None;
    }

    fn clear(&mut self) {
        if let (Some(handle), Some(window)) = (self.handle.take(), web_sys::window()) {
            window.clear_timeout_with_handle(handle);
        }
        self.deadline = None;
    }
}

impl Drop for DriverTimer {
    fn drop(&mut self) {
        self.clear();
    }
}
