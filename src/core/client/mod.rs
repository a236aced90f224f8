//! The sans-IO client: the socket's lifecycle, heartbeats, the timer table and the public calls.
//! Inbound frames are routed in `routing.rs`; channel calls and transitions live in
//! `channel_lifecycle.rs`.

use crate::prelude::*;

mod binary_routing;
mod channel_lifecycle;
pub mod config;
mod notification_routing;
mod page_cache;
mod ping;
mod presence_routing;
mod routing;

pub use routing::CORE_READS;

use alloc::collections::VecDeque;

use crate::core::util::small_map::SmallMap;

use crate::core::json::value::Value;

use crate::core::channel::send_buffer::{PushBody, SendBuffer, Waiting};
use crate::core::channel::Channel;
use crate::core::client::config::Config;
use crate::core::connection::close_policy::{is_unauthorized, CloseAction};
use crate::core::dialect::codec::empty_object;
use crate::core::dialect::{Protocol, WireDialect};
use crate::core::event::{
    ChannelId, ChannelState, ConnectionError, DropReason, Event, Output, PushId, PushOutcome,
    SocketState, Telemetry,
};
use crate::core::notifications::stores::Stores;
use crate::core::presence::tracker::PresenceTracker;
use crate::core::util::rng::RandomSource;
use crate::core::util::timers::{TimerKey, TimerTable};

/// A call the client refused; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub code: &'static str,
    pub message: String,
}

impl CallError {
    pub(super) fn new(code: &'static str, message: impl Into<String>) -> CallError {
        CallError {
            code,
            message: message.into(),
        }
    }
}

/// What an in-flight ref (a frame sent, awaiting `phx_reply`) stands for.
#[derive(Debug, Clone, Copy)]
pub(super) enum InFlight {
    Push { channel: ChannelId, push: PushId },
    Join { channel: ChannelId },
    Leave { channel: ChannelId },
}

/// What a [`PushId`] currently stands for.
#[derive(Debug, Clone)]
pub(super) enum Request {
    /// Sent with this ref; its reply timer runs.
    Sent { reference: String },
    /// Waiting in the send buffer.
    Buffered,
    /// A `join()` awaiting its first outcome.
    Join { channel: ChannelId },
    /// A `leave()` awaiting its reply.
    Leave { channel: ChannelId },
    /// A `ping()` sent with this ref at `sent_at`.
    Ping { reference: String, sent_at: u64 },
}

/// A Phoenix-protocol client with no I/O: feed it inputs with the current time in ms, then drain
/// [`Client::poll_output`] and arm one timer for [`Client::poll_timeout`].
pub struct Client {
    pub(super) cfg: Config,
    pub(super) rng: Box<dyn RandomSource>,
    pub(super) state: SocketState,
    pub(super) want_connected: bool,
    /// `pagehide` disconnected a live connection: `pageshow` connects again (unless the app
    /// called `connect` or `disconnect` in between).
    pub(super) resume_on_pageshow: bool,
    pub(super) online: bool,
    pub(super) visible: bool,
    pub(super) attempt: u32,
    pub(super) opened_at: Option<u64>,
    pub(super) next_ref: u64,
    pub(super) next_push: u64,
    pub(super) next_channel: u32,
    /// The last request for a join's params ([`Event::JoinParamsWanted`]).
    pub(super) next_params_request: u64,
    /// Bumped whenever a channel appears, goes, changes state or join ref (see `routes_version`).
    pub(super) routes_version: u64,
    pub(super) heartbeat_ref: Option<String>,
    pub(super) timers: TimerTable,
    /// In creation order, which is id order (ids only grow).
    pub(super) channels: SmallMap<u32, Channel>,
    pub(super) inflight: SmallMap<String, InFlight>,
    pub(super) requests: SmallMap<PushId, Request>,
    pub(super) buffer: SendBuffer,
    pub(super) presence: SmallMap<u32, PresenceTracker>,
    pub(super) stores: Stores,
    pub(super) dialect: Box<dyn WireDialect>,
    /// The topics the current connection's URL subscribes to (dialects with membership in the URL).
    pub(super) connected_topics: Vec<String>,
    /// Whether telemetry events are emitted.
    pub(super) telemetry: bool,
    pub(super) connect_started: u64,
    /// When each request was sent (only kept while telemetry is on).
    pub(super) sent_at: SmallMap<PushId, u64>,
    pub(super) join_sent_at: SmallMap<u32, u64>,
    /// The latest `now` any input carried (for work that follows from an input without one).
    pub(super) last_now: u64,
    pub(super) out: VecDeque<Output>,
}

impl Client {
    pub fn new(cfg: Config, rng: Box<dyn RandomSource>) -> Client {
        let dialect = cfg.protocol.dialect();
        let mut client = Client {
            cfg,
            rng,
            state: SocketState::Closed,
            want_connected: false,
            resume_on_pageshow: false,
            online: true,
            visible: true,
            attempt: 0,
            opened_at: None,
            next_ref: 0,
            next_push: 0,
            next_channel: 0,
            next_params_request: 0,
            routes_version: 0,
            heartbeat_ref: None,
            timers: TimerTable::default(),
            channels: SmallMap::new(),
            inflight: SmallMap::new(),
            requests: SmallMap::new(),
            buffer: SendBuffer::default(),
            presence: SmallMap::new(),
            stores: Stores::default(),
            last_now: 0,
            telemetry: false,
            dialect,
            connected_topics: Vec::new(),
            connect_started: 0,
            sent_at: SmallMap::new(),
            join_sent_at: SmallMap::new(),
            out: VecDeque::new(),
        };
        client.tick(0);
        client
    }

    /// The socket's wire dialect.
    pub fn protocol(&self) -> Protocol {
        self.dialect.protocol()
    }

    /// Query parameters the next connection's URL must carry (after the user's params).
    pub fn connect_query(&self) -> Vec<(String, String)> {
        self.dialect.connect_query(&self.connected_topics)
    }

    // ---- getters -------------------------------------------------------------------------

    pub fn state(&self) -> SocketState {
        self.state
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn channel_state(&self, channel: ChannelId) -> Option<ChannelState> {
        self.channels.get(&channel.0).map(|c| c.state)
    }

    pub fn channel_join_ref(&self, channel: ChannelId) -> Option<&str> {
        self.channels
            .get(&channel.0)
            .and_then(|c| c.join_ref.as_deref())
    }

    pub fn channel_topic(&self, channel: ChannelId) -> Option<&str> {
        self.channels.get(&channel.0).map(|c| c.topic.as_str())
    }

    /// Sends waiting in the buffer.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    // ---- polling -------------------------------------------------------------------------

    /// The next action for the driver, until `None`.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When to call [`Client::handle_timeout`] next (absolute ms), if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.timers.next_deadline()
    }

    // ---- socket lifecycle ----------------------------------------------------------------

    /// Starts connecting (at once, unless offline) and keeps reconnecting until `disconnect`.
    pub fn connect(&mut self, now: u64) {
        self.tick(now);
        self.want_connected = true;
        self.resume_on_pageshow = false;
        match self.state {
            SocketState::Closed | SocketState::Waiting { .. } | SocketState::Offline => {
                if self.online {
                    self.start_connecting(now);
                } else {
                    self.timers.cancel(TimerKey::Reconnect);
                    self.set_state(SocketState::Offline);
                }
            }
            SocketState::Connecting | SocketState::Open => {}
        }
    }

    /// Closes the connection on purpose. Nothing reconnects it but `connect`.
    pub fn disconnect(&mut self, now: u64) {
        self.disconnect_because(now, "client disconnect");
    }

    /// [`Client::disconnect`], with the close frame's reason.
    pub(super) fn disconnect_because(&mut self, now: u64, reason: &str) {
        self.tick(now);
        self.want_connected = false;
        self.resume_on_pageshow = false;
        if matches!(self.state, SocketState::Open | SocketState::Connecting) {
            self.out.push_back(Output::Close {
                code: 1000,
                reason: reason.into(),
            });
        }
        self.timers.cancel(TimerKey::Reconnect);
        // A later `connect` starts a fresh session with a fresh retry budget.
        self.attempt = 0;
        self.connection_lost(now, Lost::ByClient);
    }

    /// The WebSocket opened.
    pub fn handle_open(&mut self, now: u64) {
        self.tick(now);
        if self.state != SocketState::Connecting {
            return;
        }
        self.timers.cancel(TimerKey::ConnectTimeout);
        self.opened_at = Some(now);
        self.heartbeat_ref = None;
        self.timers.set(
            TimerKey::Heartbeat,
            now.saturating_add(self.cfg.heartbeat_ms),
        );
        let attempt = self.attempt;
        let took = now.saturating_sub(self.connect_started);
        self.telemetry(Telemetry {
            event: "connect",
            duration_ms: Some(took),
            attempt: Some(attempt),
            ..Default::default()
        });
        self.set_state(SocketState::Open);
        self.rejoin_all(now);
    }

    /// The WebSocket closed (or failed to open), with its close code and reason.
    pub fn handle_close(&mut self, now: u64, code: u16, reason: &str) {
        self.tick(now);
        if matches!(self.state, SocketState::Open | SocketState::Connecting) {
            self.connection_lost(
                now,
                Lost::Closed {
                    code,
                    reason: reason.into(),
                },
            );
        }
    }

    /// The connection asked for by [`Output::Connect`] could not even be attempted: the socket's
    /// params or token failed, or the browser refused the URL. `why` says which.
    pub fn handle_connect_error(&mut self, now: u64, why: &str) {
        self.tick(now);
        if self.state == SocketState::Connecting {
            self.connection_lost(now, Lost::OpenFailed(why.into()));
        }
    }

    /// The browser's `online` / `offline` events.
    pub fn set_online(&mut self, now: u64, online: bool) {
        self.tick(now);
        self.online = online;
        if online {
            if self.want_connected
                && matches!(
                    self.state,
                    SocketState::Offline | SocketState::Waiting { .. }
                )
            {
                self.start_connecting(now);
            }
        } else {
            match self.state {
                SocketState::Waiting { .. } => {
                    self.timers.cancel(TimerKey::Reconnect);
                    self.set_state(SocketState::Offline);
                }
                // The network went away under an open socket, which may now be dead without
                // knowing it: it must answer a heartbeat quickly or be replaced (and, while
                // offline, not retried).
                SocketState::Open => self.probe_connection(now),
                _ => {}
            }
        }
    }

    /// The page became hidden or visible. A hidden page does not reconnect; becoming visible
    /// reconnects at once, or checks an open connection with a heartbeat.
    pub fn set_visible(&mut self, now: u64, visible: bool) {
        self.tick(now);
        self.visible = visible;
        if !visible || !self.want_connected {
            return;
        }
        match self.state {
            SocketState::Waiting { .. } if self.online => self.start_connecting(now),
            SocketState::Open if self.heartbeat_ref.is_none() => self.send_heartbeat(now),
            _ => {}
        }
    }

    /// Fires every timer due at `now`. Extra calls are harmless.
    pub fn handle_timeout(&mut self, now: u64) {
        self.tick(now);
        let mut lateness = 0;
        while let Some((key, deadline)) = self.timers.pop_due(now) {
            lateness = lateness.max(now.saturating_sub(deadline));
            self.on_timer(now, key);
        }
        if lateness >= self.cfg.drift_ms {
            self.on_clock_drift(now, lateness);
        }
    }

    /// A timer fired far too late: the machine slept or the tab was frozen, and an open socket may
    /// be dead without knowing it. Probe it with a heartbeat that must be answered quickly.
    fn on_clock_drift(&mut self, now: u64, lateness: u64) {
        if self.state != SocketState::Open {
            return;
        }
        self.emit(Event::Error {
            code: "clock_drift",
            message: [
                "timers fired ",
                &crate::core::util::text::decimal(lateness),
                " ms late; checking the connection",
            ]
            .concat(),
        });
        self.probe_connection(now);
    }

    /// Checks an open connection that may be dead without knowing it: a heartbeat goes out
    /// (unless one is unanswered) and must be answered within `suspect_timeout_ms`.
    fn probe_connection(&mut self, now: u64) {
        if self.heartbeat_ref.is_none() {
            self.send_heartbeat(now);
        }
        if self.heartbeat_ref.is_none() {
            return; // A dialect without a heartbeat cannot be probed.
        }
        let probe_deadline = now.saturating_add(self.cfg.suspect_timeout_ms);
        if self
            .timers
            .get(TimerKey::Heartbeat)
            .is_none_or(|d| d > probe_deadline)
        {
            self.timers.set(TimerKey::Heartbeat, probe_deadline);
        }
    }

    fn on_timer(&mut self, now: u64, key: TimerKey) {
        match key {
            TimerKey::Reconnect => {
                if !self.want_connected {
                    return;
                }
                if !self.online {
                    self.set_state(SocketState::Offline);
                } else if self.visible {
                    self.start_connecting(now);
                }
                // Hidden: stay waiting; `set_visible(true)` connects.
            }
            TimerKey::ConnectTimeout => {
                if self.state == SocketState::Connecting {
                    self.out.push_back(Output::Close {
                        code: 1000,
                        reason: "connect timeout".into(),
                    });
                    self.connection_lost(now, Lost::Timeout);
                }
            }
            TimerKey::Heartbeat => {
                if self.state != SocketState::Open {
                    return;
                }
                if self.heartbeat_ref.is_some() {
                    self.emit(Event::HeartbeatTimeout);
                    self.telemetry(Telemetry {
                        event: "heartbeat_timeout",
                        ..Default::default()
                    });
                    self.out.push_back(Output::Close {
                        code: 1000,
                        reason: "heartbeat timeout".into(),
                    });
                    self.connection_lost(now, Lost::ByClient);
                } else {
                    self.send_heartbeat(now);
                }
            }
            TimerKey::BufferExpiry => {
                for w in self.buffer.take_expired(now) {
                    self.drop_waiting(w, DropReason::Expired);
                }
                self.rearm_buffer_timer();
            }
            TimerKey::Rejoin(ch) => self.on_rejoin_timer(now, ChannelId(ch)),
            TimerKey::JoinAttempt(ch) => self.on_join_attempt_timeout(now, ChannelId(ch)),
            TimerKey::Push(id) => self.on_request_timeout(PushId(id)),
            TimerKey::PresenceGrace(ch) => self.on_presence_grace(now, ChannelId(ch)),
            TimerKey::NotificationExpiry(ch) => self.on_notification_expiry(now, ChannelId(ch)),
            TimerKey::NotificationSync(ch) => self.refresh_notifications(now, ChannelId(ch)),
        }
    }

    fn start_connecting(&mut self, now: u64) {
        self.connect_started = now;
        self.connected_topics = self
            .channels
            .values()
            .filter(|c| c.wants_membership())
            .map(|c| c.topic.clone())
            .collect();
        self.timers.cancel(TimerKey::Reconnect);
        self.set_state(SocketState::Connecting);
        self.out.push_back(Output::Connect);
        self.timers.set(
            TimerKey::ConnectTimeout,
            now.saturating_add(self.cfg.timeout_ms),
        );
    }

    /// The current connection is gone (closed by either side, abandoned, or never opened): the
    /// close policy picks the next step, the user is told what failed and when the next attempt
    /// is due, and the reconnect is scheduled.
    fn connection_lost(&mut self, now: u64, lost: Lost) {
        self.timers.cancel(TimerKey::ConnectTimeout);
        self.timers.cancel(TimerKey::Heartbeat);
        self.heartbeat_ref = None;
        let opened_at = self.opened_at.take();
        let (close_code, close_reason) = match &lost {
            Lost::Closed { code, reason } => (Some(*code), reason.as_str()),
            _ => (None, ""),
        };
        let close_reason = String::from(close_reason);
        // An attempt that never opened is a failed connect, not a disconnect.
        let failed_attempt = opened_at.is_none() && !matches!(lost, Lost::ByClient);
        if let Some(opened) = opened_at {
            if now.saturating_sub(opened) >= self.cfg.reconnect.reset_after_ms {
                self.attempt = 0;
            }
        }
        let failures = self.attempt.saturating_add(1);
        if self.telemetry {
            let (event, duration_ms) = match opened_at {
                _ if failed_attempt => (
                    "connect_failed",
                    Some(now.saturating_sub(self.connect_started)),
                ),
                Some(t) => ("disconnect", Some(now.saturating_sub(t))),
                None => ("disconnect", None),
            };
            self.telemetry(Telemetry {
                event,
                duration_ms,
                attempt: failed_attempt.then_some(failures),
                code: close_code.map(|c| crate::core::util::text::decimal(c.into())),
                ..Default::default()
            });
        }
        self.channels_lost_connection();
        let action = match (&lost, self.want_connected) {
            (Lost::Closed { code, reason }, true) => self.cfg.close_policy.action(*code, reason),
            _ => CloseAction::Retry,
        };
        let mut retry_in_ms = None;
        let mut gave_up = false;
        let mut stopped = false;
        if self.want_connected && self.online {
            if action == CloseAction::Stop {
                stopped = true;
            } else {
                self.attempt = failures;
                if self.cfg.reconnect.exhausted(failures) {
                    gave_up = true;
                } else {
                    let delay = match action {
                        CloseAction::Soon => self.cfg.reconnect.soon(self.rng.as_mut()),
                        CloseAction::Slow => {
                            self.cfg.reconnect.slowest(failures, self.rng.as_mut())
                        }
                        _ => self.cfg.reconnect.delay(failures, self.rng.as_mut()),
                    };
                    retry_in_ms = Some(delay);
                }
            }
        }
        // A stop is always said; otherwise a clean close of an open connection (a deploy's
        // graceful shutdown, a restart) shows in the state alone, and an unclean one (1006: where
        // a browser fires `error`, and phoenix.js its `onError`) or a server error (1011) is a
        // lost connection.
        let report = match &lost {
            Lost::ByClient => None,
            Lost::Closed { code, .. } if is_unauthorized(*code) => Some("unauthorized"),
            _ if failed_attempt => Some("connect_failed"),
            Lost::Closed { code, .. } if stopped || matches!(code, 1006 | 1011) => {
                Some("connection_lost")
            }
            _ => None,
        };
        if let Some(code) = report {
            let message = lost_message(
                code,
                &lost,
                failures,
                retry_in_ms,
                self.want_connected && !self.online,
                stopped,
            );
            self.emit(Event::Connection(ConnectionError {
                code,
                message,
                attempt: failures,
                close_code,
                close_reason,
                retry_in_ms,
            }));
        }
        if gave_up || stopped || !self.want_connected {
            self.want_connected = false;
            self.attempt = 0;
            self.set_state(SocketState::Closed);
            if gave_up {
                self.emit(Event::Error {
                    code: "gave_up",
                    message: "reconnect attempts exhausted".into(),
                });
            }
        } else if let Some(delay) = retry_in_ms {
            self.timers
                .set(TimerKey::Reconnect, now.saturating_add(delay));
            self.telemetry(Telemetry {
                event: "reconnect_scheduled",
                duration_ms: Some(delay),
                attempt: Some(failures),
                ..Default::default()
            });
            self.set_state(SocketState::Waiting {
                attempt: failures,
                retry_in_ms: delay,
            });
        } else {
            self.set_state(SocketState::Offline);
        }
    }

    fn send_heartbeat(&mut self, now: u64) {
        let reference = self.make_ref();
        let Some(frame) = self.dialect.heartbeat(&reference) else {
            return; // A dialect without a heartbeat relies on the socket's own close.
        };
        self.heartbeat_ref = Some(reference);
        self.out.push_back(Output::Send(frame));
        self.timers.set(
            TimerKey::Heartbeat,
            now.saturating_add(self.cfg.heartbeat_ms),
        );
    }

    /// A heartbeat reply: the next heartbeat is scheduled from it.
    pub(super) fn on_heartbeat_reply(&mut self, now: u64, reference: Option<&str>) {
        if reference.is_some() && self.heartbeat_ref.as_deref() == reference {
            self.heartbeat_ref = None;
            self.timers.set(
                TimerKey::Heartbeat,
                now.saturating_add(self.cfg.heartbeat_ms),
            );
        }
    }

    // ---- helpers shared with routing -----------------------------------------------------

    pub(super) fn make_ref(&mut self) -> String {
        self.next_ref += 1;
        crate::core::util::text::decimal(self.next_ref)
    }

    pub(super) fn make_push_id(&mut self) -> PushId {
        self.next_push += 1;
        PushId(self.next_push)
    }

    pub(super) fn emit(&mut self, event: Event) {
        if let Event::Reply { push, outcome } = event {
            // Replies to a notification store's pushes go to the store, not the user.
            if let Some(outcome) = self.store_reply(self.last_now, push, outcome) {
                self.out
                    .push_back(Output::Event(Event::Reply { push, outcome }));
            }
            return;
        }
        self.out.push_back(Output::Event(event));
    }

    /// Switches telemetry events on or off.
    pub fn set_telemetry(&mut self, on: bool) {
        self.telemetry = on;
        if !on {
            self.sent_at.clear();
            self.join_sent_at.clear();
        }
    }

    pub(super) fn telemetry(&mut self, t: Telemetry) {
        if self.telemetry {
            self.out.push_back(Output::Event(Event::Telemetry(t)));
        }
    }

    /// Records the time of an input.
    pub(super) fn tick(&mut self, now: u64) {
        self.last_now = self.last_now.max(now);
    }

    pub(super) fn set_state(&mut self, state: SocketState) {
        if self.state != state || matches!(state, SocketState::Waiting { .. }) {
            self.state = state;
            self.emit(Event::State(state));
        }
    }

    pub(super) fn is_open(&self) -> bool {
        self.state == SocketState::Open
    }

    pub(super) fn rearm_buffer_timer(&mut self) {
        match self.buffer.next_expiry() {
            Some(at) => self.timers.set(TimerKey::BufferExpiry, at),
            None => self.timers.cancel(TimerKey::BufferExpiry),
        }
    }

    pub(super) fn drop_waiting(&mut self, w: Waiting, reason: DropReason) {
        self.requests.remove(&w.push);
        if self.telemetry {
            let topic = self.channel_topic(w.channel).map(str::to_string);
            self.telemetry(Telemetry {
                event: "send_dropped",
                topic,
                code: Some(reason.name().into()),
                ..Default::default()
            });
        }
        self.emit(Event::SendDropped {
            channel: w.channel,
            event: w.event,
            reason,
        });
        self.emit(Event::Reply {
            push: w.push,
            outcome: PushOutcome::Dropped(reason),
        });
    }

    /// Adds a send to the buffer, reporting the one it evicts.
    pub(super) fn buffer_send(&mut self, w: Waiting) {
        self.requests.insert(w.push, Request::Buffered);
        if let Some(evicted) = self.buffer.push(w, self.cfg.send_buffer_max) {
            self.drop_waiting(evicted, DropReason::Overflow);
        }
        self.rearm_buffer_timer();
    }

    /// Closes the connection and opens a new one at once, for a new membership in the URL.
    pub(super) fn resubscribe(&mut self, now: u64) {
        if !self.is_open() {
            return;
        }
        self.out.push_back(Output::Close {
            code: 1000,
            reason: "resubscribe".into(),
        });
        self.timers.cancel(TimerKey::Heartbeat);
        self.heartbeat_ref = None;
        self.opened_at = None;
        self.channels_lost_connection();
        self.start_connecting(now);
    }

    /// Sends a push on its channel now and starts its reply timer.
    pub(super) fn send_push(
        &mut self,
        now: u64,
        push: PushId,
        channel: ChannelId,
        event: &str,
        payload: &PushBody,
        timeout_ms: u64,
    ) {
        let Some(ch) = self.channels.get(&channel.0) else {
            return;
        };
        let acknowledged = self.dialect.acknowledged();
        let join_ref = if acknowledged {
            ch.join_ref.clone()
        } else {
            None
        };
        let topic = ch.topic.clone();
        let reference = self.make_ref();
        let frame = match payload {
            PushBody::Json(payload) => self
                .dialect
                .encode_push(join_ref.as_deref(), &reference, &topic, event, payload)
                .map(Output::Send),
            PushBody::Binary(bytes) if acknowledged => crate::core::dialect::binary::encode_push(
                join_ref.as_deref(),
                &reference,
                &topic,
                event,
                bytes,
            )
            .map(Output::SendBinary),
            PushBody::Binary(_) => None,
        };
        let Some(frame) = frame else {
            // A dialect that cannot send this, or a binary push whose topic or event does not
            // fit the frame's one-byte lengths: refused, nothing sent.
            let reason = if acknowledged {
                "a binary push's topic and event must be at most 255 bytes each"
            } else {
                "this protocol cannot send"
            };
            self.requests.remove(&push);
            let response = crate::core::json::object([("reason", Value::from(reason))]);
            self.emit(Event::Reply {
                push,
                outcome: PushOutcome::Error {
                    status: "error".into(),
                    response,
                },
            });
            return;
        };
        self.out.push_back(frame);
        if !acknowledged {
            // Fire-and-forget dialects: sent is done.
            self.requests.remove(&push);
            self.emit(Event::Reply {
                push,
                outcome: PushOutcome::Ok(empty_object()),
            });
            return;
        }
        self.inflight
            .insert(reference.clone(), InFlight::Push { channel, push });
        self.requests.insert(push, Request::Sent { reference });
        if self.telemetry {
            self.sent_at.insert(push, now);
        }
        self.timers
            .set(TimerKey::Push(push.0), now.saturating_add(timeout_ms));
    }
}

/// Why the current connection went away.
#[derive(Debug)]
pub(super) enum Lost {
    /// The client closed it (`disconnect`, a heartbeat timeout): deliberate, or reported already.
    ByClient,
    /// The WebSocket closed with this code and reason.
    Closed { code: u16, reason: String },
    /// It did not open within the connect timeout.
    Timeout,
    /// It could not be attempted (the socket's params or token failed, the URL was refused).
    OpenFailed(String),
}

/// The sentence the user reads: what failed, what to check, and what happens next.
fn lost_message(
    code: &str,
    lost: &Lost,
    attempt: u32,
    retry_in_ms: Option<u64>,
    offline: bool,
    stopped: bool,
) -> String {
    let decimal = crate::core::util::text::decimal;
    let mut m = String::new();
    let with_reason = |m: &mut String, code: u16, reason: &str| {
        m.push_str(" (close code ");
        m.push_str(&decimal(code.into()));
        if !reason.is_empty() {
            m.push_str(": ");
            m.push_str(reason);
        }
        m.push(')');
    };
    match (code, lost) {
        ("unauthorized", Lost::Closed { code, reason }) => {
            m.push_str("the server refused the connection as unauthorized");
            with_reason(&mut m, *code, reason);
            m.push_str("; check the token or params the socket sends");
        }
        ("connect_failed", _) => {
            m.push_str("connect attempt ");
            m.push_str(&decimal(attempt.into()));
            m.push_str(" failed: ");
            match lost {
                Lost::Closed { code, reason } => {
                    m.push_str("the WebSocket closed before it opened");
                    with_reason(&mut m, *code, reason);
                    if *code == 1006 {
                        m.push_str(
                            "; check that the server is up and the URL is right (a browser \
                             cannot see why an upgrade was refused, e.g. a 403 for a bad token)",
                        );
                    }
                }
                Lost::Timeout => m.push_str("the WebSocket did not open in time (timeoutMs)"),
                Lost::OpenFailed(why) => m.push_str(why),
                Lost::ByClient => {}
            }
        }
        (_, Lost::Closed { code, reason }) => {
            m.push_str("the connection was lost");
            with_reason(&mut m, *code, reason);
        }
        _ => m.push_str("the connection was lost"),
    }
    match retry_in_ms {
        Some(ms) => {
            m.push_str("; retrying in ");
            m.push_str(&decimal(ms));
            m.push_str(" ms");
        }
        None if stopped => m.push_str("; not retrying (reconnect.onClose said \"stop\")"),
        None if offline => m.push_str("; retrying when the browser is back online"),
        None => m.push_str("; not retrying"),
    }
    m
}
