//! tether — a Phoenix-protocol realtime client for the browser.
//!
//! Three layers: [`core`] is sans-IO pure Rust (codec, reconnect schedule, heartbeats, channels,
//! the send buffer), tested natively with a virtual clock; `web` (wasm32 only) drives it with a
//! real WebSocket, one timer and the page's listeners; `api` (wasm32 only) is the wasm-bindgen
//! surface that JavaScript imports.

pub mod core;

#[cfg(target_arch = "wasm32")]
pub mod api;
#[cfg(target_arch = "wasm32")]
mod web;
