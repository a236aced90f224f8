//! One process clock for send and receive times: nanoseconds since the first call.

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds from the process epoch to `t`.
pub fn since_epoch(t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX)
}

/// Nanoseconds from the process epoch to now.
pub fn now_ns() -> u64 {
    since_epoch(Instant::now())
}

/// Start the clock (call first thing, so no timestamp predates the epoch).
pub fn start() {
    let _ = epoch();
}
