//! The socket's lifecycle policy: the reconnect schedule and what a close code means.

pub mod backoff;
pub mod close_policy;
