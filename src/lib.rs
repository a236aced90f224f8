//! tether — a Phoenix-protocol realtime client for the browser.
//!
//! Three layers: [`core`] is sans-IO pure Rust (codec, reconnect schedule, heartbeats, channels,
//! the send buffer), tested natively with a virtual clock; `web` (wasm32 only) drives it with a
//! real WebSocket, one timer and the page's listeners; `api` (wasm32 only) is the wasm-bindgen
//! surface that JavaScript imports.
//!
//! `no_std` with `alloc`: the standard library is linked only with the `std` feature (on by
//! default, and what the browser tests build with). The npm package is built without it, so its
//! wasm carries no `std` panic machinery: a panic there is an immediate trap (see [`panic`]).

#![no_std]

extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

mod prelude;

pub mod core;

#[cfg(target_arch = "wasm32")]
pub mod api;
#[cfg(target_arch = "wasm32")]
mod web;

#[cfg(any(target_arch = "wasm32", test))]
mod size_classes;

// talc instead of the standard library's dlmalloc: 2.4 KB less gzip, and as flat over a million
// frames (docs/design.md, "talc as the allocator"). Small blocks are recycled in front of it by size class
// (`size_classes.rs`): O(1) for the many small strings a frame allocates and frees.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
// SAFETY: `new_global` requires single-threaded wasm, which this build is (wasm32 without the
// atomics feature: no threads, so the allocator's lock is never entered twice); the size-class
// lists rely on the same.
static ALLOCATOR: size_classes::SizeClasses<talc::TalckWasm> =
    size_classes::SizeClasses::new(unsafe { talc::TalckWasm::new_global() });

/// Without `std` (the npm package's build) a panic traps at once, as `std`'s handler does in a
/// `panic = "abort"` wasm build after formatting a message nobody sees; here the message is
/// not formatted. (Bad input never panics; this is for bugs.)
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[panic_handler]
fn panic(_: &::core::panic::PanicInfo<'_>) -> ! {
    ::core::arch::wasm32::unreachable()
}
