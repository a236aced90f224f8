//! What the client tells its driver and its user.

use crate::prelude::*;

use crate::core::json::value::Value;

/// Identifies a channel of one [`super::Client`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u32);

/// Identifies a request awaiting a reply (a push, a join or a leave).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PushId(pub u64);

/// The socket's connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketState {
    /// Not connected and not trying (never connected, deliberately disconnected, or gave up).
    Closed,
    Connecting,
    Open,
    /// Waiting to retry: attempt `attempt` is due in `retry_in_ms`.
    Waiting {
        attempt: u32,
        retry_in_ms: u64,
    },
    /// The browser reports no network; retried as soon as it comes back.
    Offline,
}

impl SocketState {
    pub fn name(&self) -> &'static str {
        match self {
            SocketState::Closed => "closed",
            SocketState::Connecting => "connecting",
            SocketState::Open => "open",
            SocketState::Waiting { .. } => "waiting",
            SocketState::Offline => "offline",
        }
    }
}

/// A channel's state, as in phoenix.js.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    Closed,
    Joining,
    Joined,
    Leaving,
    Errored,
}

impl ChannelState {
    pub fn name(&self) -> &'static str {
        match self {
            ChannelState::Closed => "closed",
            ChannelState::Joining => "joining",
            ChannelState::Joined => "joined",
            ChannelState::Leaving => "leaving",
            ChannelState::Errored => "errored",
        }
    }
}

/// Why a send never left the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The buffer was full; the oldest send made room.
    Overflow,
    /// It waited longer than the buffer's time-to-live.
    Expired,
    /// Its channel was left.
    Left,
}

impl DropReason {
    pub fn name(&self) -> &'static str {
        match self {
            DropReason::Overflow => "overflow",
            DropReason::Expired => "expired",
            DropReason::Left => "left",
        }
    }
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq)]
pub enum PushOutcome {
    /// The server replied `ok` with this response.
    Ok(Value),
    /// The server replied with another status (usually `error`) and this response.
    Error { status: String, response: Value },
    /// No reply in time.
    Timeout,
    /// Never sent.
    Dropped(DropReason),
}

/// A measurement for monitoring: what happened, and where it applies, how long it took.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Telemetry {
    /// connect | connect_failed | disconnect | reconnect_scheduled | heartbeat_timeout | join |
    /// push_reply | send_dropped
    pub event: &'static str,
    pub duration_ms: Option<u64>,
    pub attempt: Option<u32>,
    pub topic: Option<String>,
    pub code: Option<String>,
}

/// A failed connection attempt or a lost connection, as the user is told of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionError {
    /// `connect_failed` (an attempt that never opened: refused, closed, timed out, or its params
    /// failed), `unauthorized` (closed with an unauthorized code) or `connection_lost` (an open
    /// connection closed without the client asking).
    pub code: &'static str,
    /// What happened and what comes next, in a sentence.
    pub message: String,
    /// Consecutive failed attempts so far (1 for the first failure).
    pub attempt: u32,
    /// The WebSocket close code, when the socket closed (none for a timeout or a failed open).
    pub close_code: Option<u16>,
    /// The close frame's reason (empty without one).
    pub close_reason: String,
    /// When the next attempt is due, ms; none when the client stopped (gave up, told to stop,
    /// offline).
    pub retry_in_ms: Option<u64>,
}

/// Something the user may want to know; the driver dispatches these after releasing the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    State(SocketState),
    ChannelState {
        channel: ChannelId,
        state: ChannelState,
    },
    /// A join succeeded; `rejoin` is true for every join after the first.
    Joined {
        channel: ChannelId,
        rejoin: bool,
        response: Value,
    },
    /// A channel's presence changed (one `presence_state` or `presence_diff` applied, or a grace
    /// window ended): these joins and leaves, then a sync.
    Presence {
        channel: ChannelId,
        changes: Vec<crate::core::presence::PresenceChange>,
    },
    /// A notification arrived on a store's channel (every kind, toasts included).
    Notification {
        channel: ChannelId,
        notification: Value,
    },
    /// A notification store's snapshot changed.
    NotificationsChanged {
        channel: ChannelId,
    },
    /// A store's unconfirmed reads changed: persist them (`{"ids": [...]}` or `{"all": true}`).
    NotificationsPersist {
        channel: ChannelId,
        pending: Vec<Value>,
    },
    /// An event the server sent to a channel; the payload as the server's JSON text.
    Message {
        channel: ChannelId,
        event: String,
        payload: crate::core::dialect::codec::JsonText,
    },
    /// A join of a channel whose params its owner gives is due: answer with
    /// [`super::Client::supply_join_params`] and this `request`.
    JoinParamsWanted {
        channel: ChannelId,
        request: u64,
    },
    /// A request (push, join, leave) ended.
    Reply {
        push: PushId,
        outcome: PushOutcome,
    },
    /// A buffered send was dropped.
    SendDropped {
        channel: ChannelId,
        event: String,
        reason: DropReason,
    },
    /// Something went wrong that the client survived.
    Error {
        code: &'static str,
        message: String,
    },
    /// A connection attempt failed or a connection was lost, and what comes next.
    Connection(ConnectionError),
    /// A channel's join (or rejoin) was refused by the server; it is retried on the rejoin
    /// schedule.
    JoinRefused {
        channel: ChannelId,
        /// The reply's status (usually `error`) and the server's response.
        status: String,
        response: Value,
        /// The rejoin is due in this many ms, if one is scheduled now (a refusal while
        /// disconnected rejoins after the reconnect).
        retry_in_ms: Option<u64>,
        /// What was refused, why, and when the next attempt is due, in a sentence.
        message: String,
    },
    /// No heartbeat reply in time: the connection is being replaced.
    HeartbeatTimeout,
    /// A measurement (only while telemetry is switched on).
    Telemetry(Telemetry),
}

/// An action for the driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open a new WebSocket (building its URL from the endpoint, params and token).
    Connect,
    /// Send this text frame on the open WebSocket.
    Send(String),
    /// Send this binary frame on the open WebSocket.
    SendBinary(Vec<u8>),
    /// Close the current WebSocket and detach from it; the client already treats it as gone.
    Close {
        code: u16,
        reason: String,
    },
    Event(Event),
}
