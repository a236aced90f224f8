//! The sans-IO core of tether.
//!
//! Nothing here reads a clock, owns a socket or touches the browser. The driver feeds a
//! [`Client`] inputs — calls (`connect`, `join`, `push`, …), socket events (`handle_open`,
//! `handle_text`, `handle_close`), browser events (`set_online`, `set_visible`) and timer expiry
//! (`handle_timeout`) — each with the current time in ms. After every input it drains
//! [`Client::poll_output`] until `None` (frames to send, sockets to open or close, events for the
//! user) and arms its one real timer for [`Client::poll_timeout`]. Extra `handle_timeout` calls are
//! harmless. Tests drive the same loop with a virtual clock.

pub mod backoff;
pub mod binary;
mod binary_routing;
pub mod channel;
mod channel_lifecycle;
pub mod client;
pub mod close_policy;
pub mod codec;
pub mod config;
pub mod dialect;
pub mod event;
mod fxhash;
pub mod json;
mod json_float;
mod json_scan;
pub mod notification;
mod notification_reads;
mod notification_routing;
pub mod notification_store;
mod page_cache;
mod ping;
pub mod presence;
mod presence_routing;
mod presence_touches;
pub mod presence_tracker;
pub mod rng;
mod routing;
pub mod send_buffer;
pub mod small_map;
pub mod text;
pub mod timers;
pub mod value;
#[cfg(feature = "serde")]
mod value_serde;

pub use backoff::{round, Backoff, Schedule};
pub use client::{CallError, Client};
pub use close_policy::{CloseAction, ClosePolicy};
pub use codec::{decode, encode, DecodeError, Frame, Reply};
pub use config::Config;
pub use dialect::Protocol;
pub use event::{
    ChannelId, ChannelState, ConnectionError, DropReason, Event, Output, PushId, PushOutcome,
    SocketState, Telemetry,
};
pub use notification::{badge, Kind, Notification};
pub use notification_store::{NotificationStore, ReadOp, StoreStatus};
pub use presence::{Presence, PresenceChange, PresenceState, Touch};
pub use presence_tracker::{PresenceTracker, PresenceUpdate};
pub use rng::{RandomSource, SplitMix64};
pub use value::{Map, Number, Value};
