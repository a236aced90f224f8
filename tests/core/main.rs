#![cfg(not(target_arch = "wasm32"))]
//! Native deterministic tests of tether's sans-IO core: a virtual clock, a scripted fake server,
//! no sleeps and no threads.

mod channels;
mod codec;
mod dialects;
mod drift;
mod fuzz;
mod harness;
mod heartbeat;
mod json_reader;
mod notifications;
mod notifications_sim;
mod parsed;
mod presence;
mod presence_differential;
mod presence_scan;
mod presence_touches;
mod random;
mod reconnect;
mod send_buffer;
mod telemetry;
