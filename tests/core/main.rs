#![cfg(not(target_arch = "wasm32"))]
//! Native deterministic tests of tether's sans-IO core: a virtual clock, a scripted fake server,
//! no sleeps and no threads.

/// `serde_json::json!`, as tether's own [`tether::core::Value`] (its text read back by tether's
/// reader), so tests write payloads the usual way.
macro_rules! json {
    ($($t:tt)+) => {
        $crate::value_of(::serde_json::json!($($t)+))
    };
}

/// A serde_json value as tether's.
pub fn value_of(v: serde_json::Value) -> tether::core::Value {
    tether::core::json::parse(&v.to_string()).expect("serde_json writes JSON tether reads")
}

mod binary_push;
mod channels;
mod codec;
mod dialects;
mod drift;
mod failures;
mod fuzz;
mod harness;
mod heartbeat;
mod join_params;
mod json_reader;
mod notifications;
mod notifications_sim;
mod page_cache;
mod parsed;
mod ping;
mod presence;
mod presence_differential;
mod presence_scan;
mod presence_touches;
mod random;
mod reconnect;
mod send_buffer;
mod telemetry;
