//! Wall-clock milliseconds for the core, never going backwards.

use ::core::cell::Cell;

/// Reads `Date.now()` (it keeps running while a laptop sleeps, which drift detection needs) and
/// clamps it so the core never sees time run backwards when the system clock is set back.
#[derive(Debug, Default)]
pub struct Clock {
    last: Cell<u64>,
}

impl Clock {
    pub fn now(&self) -> u64 {
        let t = js_sys::Date::now();
        let t = if t.is_finite() && t > 0.0 {
            t as u64
        } else {
            0
        };
        let t = t.max(self.last.get());
        self.last.set(t);
        t
    }
}
