//! Client options with their defaults.

use crate::core::connection::backoff::{Backoff, Schedule};
use crate::core::connection::close_policy::ClosePolicy;
use crate::core::dialect::Protocol;

#[derive(Debug)]
pub struct Config {
    /// The wire dialect. Default Phoenix.
    pub protocol: Protocol,
    /// Interval between heartbeats, and the time a heartbeat reply may take. Default 30 s.
    pub heartbeat_ms: u64,
    /// Default reply timeout for joins and pushes; also bounds the WebSocket opening. Default 10 s.
    pub timeout_ms: u64,
    /// A timer firing this much later than scheduled (a laptop waking from sleep, a frozen tab)
    /// makes the connection suspect: a heartbeat goes out at once. Default 10 s.
    pub drift_ms: u64,
    /// How long a suspect connection has to answer that heartbeat before it is replaced.
    /// Default 5 s.
    pub suspect_timeout_ms: u64,
    /// Socket reconnect schedule. Default: exponential 250 ms → 30 s, full jitter, reset after 5 s up.
    pub reconnect: Backoff,
    /// What a close code means for the next reconnect (the app's `reconnect.onClose`, then the
    /// defaults of [`crate::core::connection::close_policy::default_action`]).
    pub close_policy: ClosePolicy,
    /// Channel rejoin schedule (after a join error or timeout). Default: exponential 1 s → 10 s,
    /// half jitter.
    pub rejoin: Backoff,
    /// Sends waiting for the socket or their channel's join, at most. Default 100.
    pub send_buffer_max: usize,
    /// A waiting send is dropped after this long. Default 30 s.
    pub send_buffer_ttl_ms: u64,
    /// Larger inbound frames are rejected before parsing. Default 16 MiB.
    pub max_frame_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            protocol: Protocol::Phoenix,
            heartbeat_ms: 30_000,
            timeout_ms: 10_000,
            drift_ms: 10_000,
            suspect_timeout_ms: 5_000,
            reconnect: Backoff::exponential(250, 30_000, 1.0),
            close_policy: ClosePolicy::default(),
            rejoin: Backoff {
                schedule: Schedule::Exponential {
                    min_ms: 1_000,
                    max_ms: 10_000,
                    jitter: 0.5,
                },
                max_attempts: None,
                reset_after_ms: 0,
            },
            send_buffer_max: 100,
            send_buffer_ttl_ms: 30_000,
            max_frame_bytes: 16 * 1024 * 1024,
        }
    }
}
