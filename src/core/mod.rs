//! The sans-IO core of tether.
//!
//! Nothing here reads a clock, owns a socket or touches the browser. A host (the browser driver
//! in `web/`, or a test with a virtual clock) runs one loop around a [`Client`]:
//!
//! 1. **Inputs in**, each with the current time in ms: calls (`connect`, `channel`, `join`,
//!    `push`, …), socket events (`handle_open`, `handle_text`, `handle_binary`, `handle_close`,
//!    `handle_connect_error`), page events (`set_online`, `set_visible`, `page_shown`,
//!    `page_hidden`) and timer expiry (`handle_timeout`).
//! 2. **Outputs out**: after every input, drain [`Client::poll_output`] until `None` — frames to
//!    send, sockets to open or close, events for the user.
//! 3. **One timer**: arm it for [`Client::poll_timeout`]; when it fires, call `handle_timeout`
//!    (an early or extra call is harmless).
//!
//! The loop, with a server played by hand that accepts every join:
//!
//! ```
//! use tether::core::{json, Client, Config, Event, Output, SplitMix64};
//!
//! let mut client = Client::new(Config::default(), Box::new(SplitMix64::new(7)));
//! let mut now = 0;
//! let room = client.channel("room:lobby", json::parse("{}").unwrap());
//! client.connect(now);
//! client.join(now, room).unwrap();
//!
//! let mut joined = false;
//! while !joined {
//!     // Inputs the outputs call for go back in; the loop drains until nothing is left.
//!     let mut replies = Vec::new();
//!     while let Some(out) = client.poll_output() {
//!         match out {
//!             // The host opens a WebSocket; here it opens at once.
//!             Output::Connect => client.handle_open(now),
//!             Output::Send(text) => {
//!                 let frame = json::parse(&text).unwrap();
//!                 if frame[3] == "phx_join" {
//!                     replies.push(format!(
//!                         r#"[{},{},{},"phx_reply",{{"status":"ok","response":{{}}}}]"#,
//!                         frame[0], frame[1], frame[2]
//!                     ));
//!                 }
//!             }
//!             Output::Event(Event::Joined { channel, .. }) => joined = channel == room,
//!             _ => {}
//!         }
//!     }
//!     for reply in replies {
//!         client.handle_text(now, &reply);
//!     }
//!     // Nothing more until the timer: advance the clock to it.
//!     if !joined {
//!         if let Some(deadline) = client.poll_timeout() {
//!             now = now.max(deadline);
//!             client.handle_timeout(now);
//!         }
//!     }
//! }
//! ```
//!
//! The parts, each a folder: `connection/` (the reconnect schedule, what a close code means),
//! `channel/` (a channel's state, the send buffer), `presence/` (presence state, its list
//! mirror's touches, the tracker), `notifications/` (the notification store), `json/` (reader,
//! writer, values), `dialect/` (the wire formats: Phoenix V2 JSON and binary, hub, nova),
//! `util/` (maps, random source, number text, the timer table); `client/` holds the [`Client`]
//! that owns them and routes between them, and `event.rs` the loop's output types.

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
