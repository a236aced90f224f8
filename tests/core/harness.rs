//! A virtual clock and a scripted fake server around one `tether::core::Client`.
//!
//! Time only passes through [`Harness::advance`], which steps to every timer deadline in order.
//! Every input is followed by [`Harness::pump`], which drains the client's outputs into recorders
//! and, in auto mode, lets the fake server answer.

use std::collections::{HashSet, VecDeque};

use tether::core::Value;
use tether::core::{
    Backoff, ChannelId, ChannelState, Client, Config, Event, Output, PushId, PushOutcome, Schedule,
    SocketState, SplitMix64,
};

/// The fake socket, as the driver sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sock {
    None,
    Connecting,
    Open,
}

/// The auto-replying fake server.
#[derive(Debug, Default)]
pub struct Server {
    /// Joins of these topics are answered with an error.
    pub join_errors: HashSet<String>,
    /// Joins of these topics get no reply at all.
    pub join_silent: HashSet<String>,
    /// When false, heartbeats are not answered.
    pub no_heartbeat_reply: bool,
    /// Open every socket as soon as the client asks for it.
    pub auto_open: bool,
}

pub struct Harness {
    pub client: Client,
    pub now: u64,
    /// Every frame sent by the client, parsed.
    pub sent: Vec<Value>,
    /// When each frame of `sent` was sent.
    pub sent_at: Vec<u64>,
    /// Every binary frame sent by the client.
    pub sent_binary: Vec<Vec<u8>>,
    pub events: Vec<Event>,
    /// Times at which a Connect was output.
    pub connects: Vec<u64>,
    /// Close outputs (code, reason) and when.
    pub closes: Vec<(u16, String, u64)>,
    pub sock: Sock,
    /// The auto server, when enabled.
    pub server: Option<Server>,
    inbox: VecDeque<String>,
}

/// A config whose reconnect and rejoin schedules have no jitter (exact times in tests).
pub fn exact_config() -> Config {
    Config {
        reconnect: Backoff {
            schedule: Schedule::Exponential {
                min_ms: 250,
                max_ms: 30_000,
                jitter: 0.0,
            },
            max_attempts: None,
            reset_after_ms: 5_000,
        },
        rejoin: Backoff {
            schedule: Schedule::Exponential {
                min_ms: 1_000,
                max_ms: 10_000,
                jitter: 0.0,
            },
            max_attempts: None,
            reset_after_ms: 0,
        },
        ..Config::default()
    }
}

pub fn phx_reply(frame: &Value, status: &str, response: Value) -> Value {
    json!([frame[0], frame[1], frame[2], "phx_reply", {"status": status, "response": response}])
}

impl Harness {
    pub fn new(cfg: Config) -> Harness {
        Harness::with_seed(cfg, 7)
    }

    pub fn with_seed(cfg: Config, seed: u64) -> Harness {
        Harness {
            client: Client::new(cfg, Box::new(SplitMix64::new(seed))),
            now: 1_000_000,
            sent: Vec::new(),
            sent_at: Vec::new(),
            sent_binary: Vec::new(),
            events: Vec::new(),
            connects: Vec::new(),
            closes: Vec::new(),
            sock: Sock::None,
            server: None,
            inbox: VecDeque::new(),
        }
    }

    /// A harness with the auto-replying server that opens sockets at once.
    pub fn auto(cfg: Config) -> Harness {
        let mut h = Harness::new(cfg);
        h.server = Some(Server {
            auto_open: true,
            ..Server::default()
        });
        h
    }

    pub fn server_mut(&mut self) -> &mut Server {
        self.server.get_or_insert_with(Server::default)
    }

    // ---- the loop ------------------------------------------------------------------------

    /// Drains the client's outputs into the recorders; lets the auto server answer.
    pub fn pump(&mut self) {
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds < 100_000, "pump does not settle");
            while let Some(out) = self.client.poll_output() {
                self.record(out);
            }
            if let Some(text) = self.inbox.pop_front() {
                if self.sock == Sock::Open {
                    self.client.handle_text(self.now, &text);
                }
                continue;
            }
            if self.sock == Sock::Connecting && self.server.as_ref().is_some_and(|s| s.auto_open) {
                self.sock = Sock::Open;
                self.client.handle_open(self.now);
                continue;
            }
            break;
        }
    }

    fn record(&mut self, out: Output) {
        match out {
            Output::Connect => {
                assert_eq!(
                    self.sock,
                    Sock::None,
                    "Connect while a socket is still live (at {})",
                    self.now
                );
                self.sock = Sock::Connecting;
                self.connects.push(self.now);
            }
            Output::Close { code, reason } => {
                assert_ne!(self.sock, Sock::None, "Close without a socket");
                self.sock = Sock::None;
                self.inbox.clear();
                self.closes.push((code, reason, self.now));
            }
            Output::Send(text) => {
                assert_eq!(
                    self.sock,
                    Sock::Open,
                    "frame sent on a socket that is not open: {text}"
                );
                let frame: Value =
                    tether::core::json::parse(&text).expect("client sent invalid JSON");
                assert!(
                    frame.as_array().is_some_and(|a| a.len() == 5),
                    "not a V2 frame: {text}"
                );
                if let Some(reply) = self.auto_reply(&frame) {
                    self.inbox.push_back(reply.to_string());
                }
                self.sent.push(frame);
                self.sent_at.push(self.now);
            }
            Output::SendBinary(bytes) => {
                assert_eq!(
                    self.sock,
                    Sock::Open,
                    "binary frame sent on a socket that is not open"
                );
                self.sent_binary.push(bytes);
            }
            Output::Event(e) => self.events.push(e),
        }
    }

    fn auto_reply(&self, frame: &Value) -> Option<Value> {
        let server = self.server.as_ref()?;
        let topic = frame[2].as_str().unwrap_or_default();
        match frame[3].as_str().unwrap_or_default() {
            "heartbeat" if server.no_heartbeat_reply => None,
            "heartbeat" => Some(phx_reply(frame, "ok", json!({}))),
            "phx_join" if server.join_silent.contains(topic) => None,
            "phx_join" if server.join_errors.contains(topic) => {
                Some(phx_reply(frame, "error", json!({"reason": "unauthorized"})))
            }
            "phx_join" => Some(phx_reply(frame, "ok", json!({"joined": topic}))),
            "phx_leave" => Some(phx_reply(frame, "ok", json!({}))),
            "noreply" => None,
            _ => Some(phx_reply(frame, "ok", frame[4].clone())),
        }
    }

    /// Lets `ms` of virtual time pass, firing every timer at its deadline.
    pub fn advance(&mut self, ms: u64) {
        let target = self.now + ms;
        let mut steps = 0;
        while let Some(t) = self.client.poll_timeout() {
            if t > target {
                break;
            }
            steps += 1;
            assert!(steps < 1_000_000, "timers do not settle");
            self.now = self.now.max(t);
            self.client.handle_timeout(self.now);
            if let Some(next) = self.client.poll_timeout() {
                assert!(
                    next > self.now,
                    "poll_timeout {next} not after now {} after handle_timeout",
                    self.now
                );
            }
            self.pump();
        }
        self.now = target;
    }

    /// Advances to an absolute time.
    pub fn advance_to(&mut self, at: u64) {
        assert!(at >= self.now, "time goes forward");
        self.advance(at - self.now);
    }

    // ---- socket --------------------------------------------------------------------------

    pub fn connect(&mut self) {
        self.client.connect(self.now);
        self.pump();
    }

    /// The socket the client asked for opens.
    pub fn open(&mut self) {
        assert_eq!(
            self.sock,
            Sock::Connecting,
            "open() without a socket being opened"
        );
        self.sock = Sock::Open;
        self.client.handle_open(self.now);
        self.pump();
    }

    /// `connect()` then `open()`.
    pub fn connected(&mut self) {
        self.connect();
        if self.sock == Sock::Connecting {
            self.open();
        }
        assert_eq!(self.client.state(), SocketState::Open);
    }

    /// The server (or the network) closes the live socket.
    pub fn server_close(&mut self) {
        assert_ne!(self.sock, Sock::None, "server_close() without a socket");
        self.sock = Sock::None;
        self.inbox.clear();
        self.client.handle_close(self.now, 1006, "");
        self.pump();
    }

    /// The server closes the socket with this close code and reason.
    pub fn server_close_with(&mut self, code: u16, reason: &str) {
        assert_ne!(
            self.sock,
            Sock::None,
            "server_close_with() without a socket"
        );
        self.sock = Sock::None;
        self.inbox.clear();
        self.client.handle_close(self.now, code, reason);
        self.pump();
    }

    pub fn set_online(&mut self, online: bool) {
        self.client.set_online(self.now, online);
        self.pump();
    }

    pub fn set_visible(&mut self, visible: bool) {
        self.client.set_visible(self.now, visible);
        self.pump();
    }

    pub fn disconnect(&mut self) {
        self.client.disconnect(self.now);
        self.pump();
    }

    // ---- frames --------------------------------------------------------------------------

    /// A server → client frame.
    pub fn recv(&mut self, frame: Value) {
        self.recv_text(&frame.to_string());
    }

    pub fn recv_text(&mut self, text: &str) {
        self.client.handle_text(self.now, text);
        self.pump();
    }

    /// The last frame sent with this event.
    pub fn last_sent(&self, event: &str) -> Value {
        self.sent
            .iter()
            .rev()
            .find(|f| f[3] == event)
            .cloned()
            .unwrap_or_else(|| panic!("no '{event}' frame sent; sent: {:?}", self.sent))
    }

    pub fn sent_events(&self, event: &str) -> Vec<Value> {
        self.sent
            .iter()
            .filter(|f| f[3] == event)
            .cloned()
            .collect()
    }

    pub fn count_sent(&self, event: &str) -> usize {
        self.sent.iter().filter(|f| f[3] == event).count()
    }

    /// Replies to the last frame sent with `event`.
    pub fn reply_last(&mut self, event: &str, status: &str, response: Value) {
        let frame = self.last_sent(event);
        self.recv(phx_reply(&frame, status, response));
    }

    // ---- channels ------------------------------------------------------------------------

    pub fn channel(&mut self, topic: &str) -> ChannelId {
        self.client.channel(topic, json!({}))
    }

    /// A channel on `topic`, joined on the open socket (its join answered ok).
    pub fn joined(&mut self, topic: &str) -> ChannelId {
        let ch = self.channel(topic);
        self.join(ch);
        self.reply_last("phx_join", "ok", crate::value_of(serde_json::json!({})));
        assert_eq!(self.ch_state(ch), ChannelState::Joined);
        ch
    }

    pub fn join(&mut self, channel: ChannelId) -> PushId {
        let p = self.client.join(self.now, channel).expect("join refused");
        self.pump();
        p
    }

    pub fn push(&mut self, channel: ChannelId, event: &str, payload: Value) -> PushId {
        let p = self
            .client
            .push(self.now, channel, event, payload, None)
            .expect("push refused");
        self.pump();
        p
    }

    pub fn push_timeout(
        &mut self,
        channel: ChannelId,
        event: &str,
        payload: Value,
        timeout_ms: u64,
    ) -> PushId {
        let p = self
            .client
            .push(self.now, channel, event, payload, Some(timeout_ms))
            .expect("push refused");
        self.pump();
        p
    }

    pub fn leave(&mut self, channel: ChannelId) -> PushId {
        let p = self.client.leave(self.now, channel).expect("leave refused");
        self.pump();
        p
    }

    pub fn ch_state(&self, channel: ChannelId) -> ChannelState {
        self.client.channel_state(channel).expect("unknown channel")
    }

    // ---- events --------------------------------------------------------------------------

    /// Every outcome reported for a request.
    pub fn outcomes(&self, push: PushId) -> Vec<PushOutcome> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Reply { push: p, outcome } if *p == push => Some(outcome.clone()),
                _ => None,
            })
            .collect()
    }

    /// The one outcome of a request (fails if there is none or more than one).
    pub fn outcome(&self, push: PushId) -> PushOutcome {
        let all = self.outcomes(push);
        assert_eq!(
            all.len(),
            1,
            "expected exactly one outcome for {push:?}, got {all:?}"
        );
        all[0].clone()
    }

    pub fn errors(&self) -> Vec<&'static str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Error { code, .. } => Some(*code),
                _ => None,
            })
            .collect()
    }

    /// The codes of [`Event::Connection`] reports (failed attempts, lost connections).
    pub fn connection_errors(&self) -> Vec<&'static str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Connection(e) => Some(e.code),
                _ => None,
            })
            .collect()
    }

    /// The [`Event::Connection`] reports themselves.
    pub fn connection_reports(&self) -> Vec<tether::core::ConnectionError> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Connection(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    /// Messages delivered to a channel: (event, payload).
    pub fn messages(&self, channel: ChannelId) -> Vec<(String, Value)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Message {
                    channel: c,
                    event,
                    payload,
                } if *c == channel => Some((event.clone(), payload.value())),
                _ => None,
            })
            .collect()
    }

    pub fn joined_events(&self, channel: ChannelId) -> Vec<bool> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Joined {
                    channel: c, rejoin, ..
                } if *c == channel => Some(*rejoin),
                _ => None,
            })
            .collect()
    }

    pub fn count_events(&self, pred: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|e| pred(e)).count()
    }

    /// The retry delay of the current Waiting state.
    pub fn waiting(&self) -> (u32, u64) {
        match self.client.state() {
            SocketState::Waiting {
                attempt,
                retry_in_ms,
            } => (attempt, retry_in_ms),
            other => panic!("expected Waiting, got {other:?}"),
        }
    }
}
