//! The browser driver (wasm32 only): owns the WebSocket, the one timer and the window listeners,
//! feeds the sans-IO core and dispatches its outputs. Every `Closure` is owned by the struct that
//! registered it and unregistered when that struct drops.

pub mod clock;
pub mod driver;
pub mod listeners;
pub mod presence_mirror;
pub mod routes;
pub mod stores;
pub mod timer;
pub mod websocket;
pub mod window;
