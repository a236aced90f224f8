//! The sans-IO core of tether.
//!
//! Nothing here reads a clock, owns a socket or touches the browser. The driver feeds a
//! [`Client`] inputs — calls (`connect`, `join`, `push`, …), socket events (`handle_open`,
//! `handle_text`, `handle_close`), browser events (`set_online`, `set_visible`) and timer expiry
//! (`handle_timeout`) — each with the current time in ms. After every input it drains
//! [`Client::poll_output`] until `None` (frames to send, sockets to open or close, events for the
//! user) and arms its one real timer for [`Client::poll_timeout`]. Extra `handle_timeout` calls are
//! harmless. Tests drive the same loop with a virtual clock.

pub mod channel;
pub mod client;
pub mod connection;
pub mod dialect;
pub mod event;
pub mod json;
pub mod notifications;
pub mod presence;
pub mod util;

pub use client::config::Config;
pub use client::{CallError, Client};
pub use connection::backoff::{round, Backoff, Schedule};
pub use connection::close_policy::{CloseAction, ClosePolicy};
pub use dialect::codec::{decode, encode, DecodeError, Frame, Reply};
pub use dialect::Protocol;
pub use event::{
    ChannelId, ChannelState, ConnectionError, DropReason, Event, Output, PushId, PushOutcome,
    SocketState, Telemetry,
};
pub use json::value::{Map, Number, Value};
pub use notifications::notification::{badge, Kind, Notification};
pub use notifications::store::{NotificationStore, ReadOp, StoreStatus};
pub use presence::tracker::{PresenceTracker, PresenceUpdate};
pub use presence::{Presence, PresenceChange, PresenceState, Touch};
pub use util::rng::{RandomSource, SplitMix64};
