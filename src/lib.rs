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

// talc instead of the standard library's dlmalloc: 2.4 KB less gzip, and as flat over a million
// frames (BENCHMARKS.md, P3 and P5).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
// SAFETY: `new_global` requires single-threaded wasm, which this build is (wasm32 without the
// atomics feature: no threads, so the allocator's lock is never entered twice).
static ALLOCATOR: talc::TalckWasm = unsafe { talc::TalckWasm::new_global() };
