//! Channels on the client: the calls (`channel`, `join`, `push`, `leave`), inbound frames routed
//! to their channel, and the channel state transitions.

use crate::prelude::*;

use super::value::Value;

use super::channel::{accepts, Channel};
use super::client::{CallError, Client, InFlight, Request};
use super::codec::{
    empty_object, encode, nested_deeper_than, JsonText, RawFrame, Reply, LARGE_FRAME_BYTES,
    MAX_DEPTH,
};
use super::dialect::Inbound;
use super::event::{ChannelId, ChannelState, DropReason, Event, PushId, PushOutcome, Telemetry};
use super::send_buffer::Waiting;
use super::timers::TimerKey;

impl Client {
    /// Creates a channel for `topic`, joined with `params` (a JSON object).
    pub fn channel(&mut self, topic: &str, params: Value) -> ChannelId {
        self.next_channel += 1;
        let id = ChannelId(self.next_channel);
        let params = if params.is_object() {
            params
        } else {
            empty_object()
        };
        self.channels
            .insert(id.0, Channel::new(topic.to_string(), params));
        self.routes_version += 1;
        id
    }

    /// Forgets a channel entirely (after its owner is gone). Waiting sends are dropped.
    pub fn remove_channel(&mut self, channel: ChannelId) {
        self.clear_channel_work(channel, DropReason::Left);
        self.channels.remove(&channel.0);
        self.routes_version += 1;
        self.presence.remove(&channel.0);
        self.stores.by_channel.remove(&channel.0);
        self.stores.pushes.retain(|_, (c, _)| *c != channel);
        self.timers.cancel(TimerKey::NotificationExpiry(channel.0));
        self.timers.cancel(TimerKey::NotificationSync(channel.0));
        self.timers.cancel(TimerKey::PresenceGrace(channel.0));
    }

    /// Joins the channel now, or as soon as the socket is open, and keeps it joined (rejoining
    /// after errors and reconnects) until `leave`. The returned request ends with the first join's
    /// outcome, or a timeout.
    pub fn join(&mut self, now: u64, channel: ChannelId) -> Result<PushId, CallError> {
        self.tick(now);
        let Some(ch) = self.channels.get(&channel.0) else {
            return Err(CallError::new("unknown_channel", "no such channel"));
        };
        if ch.wants_membership() {
            return Err(CallError::new(
                "already_joined",
                [
                    "join() was already called on ",
                    &ch.topic,
                    "; leave() first",
                ]
                .concat(),
            ));
        }
        let push = self.make_push_id();
        if let Some(ch) = self.channels.get_mut(&channel.0) {
            ch.join_request = Some(push);
            ch.rejoin_attempt = 0;
        }
        self.requests.insert(push, Request::Join { channel });
        self.timers.set(
            TimerKey::Push(push.0),
            now.saturating_add(self.cfg.timeout_ms),
        );
        self.set_channel_state(channel, ChannelState::Joining);
        if self.is_open() {
            self.send_join(now, channel);
        }
        Ok(push)
    }

    /// Pushes `event` with `payload` on a channel: sent now when joined, otherwise buffered until
    /// it is. The request ends with the reply, a timeout, or a drop from the buffer.
    pub fn push(
        &mut self,
        now: u64,
        channel: ChannelId,
        event: &str,
        payload: Value,
        timeout_ms: Option<u64>,
    ) -> Result<PushId, CallError> {
        self.tick(now);
        let Some(ch) = self.channels.get(&channel.0) else {
            return Err(CallError::new("unknown_channel", "no such channel"));
        };
        if !ch.wants_membership() {
            return Err(CallError::new(
                "not_joined",
                [
                    "tried to push '",
                    event,
                    "' to '",
                    &ch.topic,
                    "' before joining it",
                ]
                .concat(),
            ));
        }
        let ready = ch.state == ChannelState::Joined && self.is_open();
        let timeout_ms = timeout_ms.unwrap_or(self.cfg.timeout_ms);
        let push = self.make_push_id();
        if ready {
            self.send_push(now, push, channel, event, &payload, timeout_ms);
        } else {
            let expires_at = now.saturating_add(self.cfg.send_buffer_ttl_ms);
            self.buffer_send(Waiting {
                push,
                channel,
                event: event.to_string(),
                payload,
                timeout_ms,
                expires_at,
            });
        }
        Ok(push)
    }

    /// Leaves the channel. The request ends when the server confirms (or at once when there is no
    /// connection); the channel is closed either way and is not rejoined.
    pub fn leave(&mut self, now: u64, channel: ChannelId) -> Result<PushId, CallError> {
        self.tick(now);
        let Some(ch) = self.channels.get(&channel.0) else {
            return Err(CallError::new("unknown_channel", "no such channel"));
        };
        let was_member = matches!(ch.state, ChannelState::Joined | ChannelState::Joining);
        let join_ref = ch.join_ref.clone();
        let topic = ch.topic.clone();
        self.clear_channel_work(channel, DropReason::Left);
        let push = self.make_push_id();
        match join_ref {
            Some(join_ref) if was_member && self.is_open() && self.dialect.acknowledged() => {
                let reference = self.make_ref();
                self.out.push_back(super::event::Output::Send(encode(
                    Some(&join_ref),
                    Some(&reference),
                    &topic,
                    "phx_leave",
                    &empty_object(),
                )));
                self.inflight.insert(reference, InFlight::Leave { channel });
                self.requests.insert(push, Request::Leave { channel });
                self.timers.set(
                    TimerKey::Push(push.0),
                    now.saturating_add(self.cfg.timeout_ms),
                );
                if let Some(ch) = self.channels.get_mut(&channel.0) {
                    ch.leave_request = Some(push);
                }
                self.set_channel_state(channel, ChannelState::Leaving);
            }
            _ => {
                self.close_channel(channel);
                self.emit(Event::Reply {
                    push,
                    outcome: PushOutcome::Ok(empty_object()),
                });
                // A subscription in the URL ends only with a new connection without it.
                if was_member && self.dialect.membership_in_url() {
                    self.resubscribe(now);
                }
            }
        }
        Ok(push)
    }

    /// One inbound text frame.
    pub fn handle_text(&mut self, now: u64, text: &str) {
        self.tick(now);
        let frame = match self.dialect.decode(text, self.cfg.max_frame_bytes) {
            Ok(Inbound::Phoenix(frame)) => frame,
            Ok(Inbound::HeartbeatReply) => {
                let reference = self.heartbeat_ref.clone();
                self.on_heartbeat_reply(now, reference.as_deref());
                return;
            }
            Ok(Inbound::Message {
                topic,
                event,
                payload,
            }) => {
                self.dialect_message(now, topic.as_deref(), &event, payload);
                return;
            }
            Err(e) => {
                self.emit(Event::Error {
                    code: e.code(),
                    message: e.message(),
                });
                return;
            }
        };
        self.route_frame(now, frame);
    }

    /// Whether a message with this event is one the core reads itself (a reply, close or error,
    /// presence, a notification store's event) rather than hands to listeners as it is.
    pub fn core_reads_event(event: &str) -> bool {
        event.starts_with("phx_")
            || event == "presence_state"
            || event == "presence_diff"
            || event.starts_with("notification:")
    }

    /// Changes whenever what [`Client::routable_channels`] yields may have changed: a channel
    /// created or removed, a state change, a new join ref. A host that mirrors the routing
    /// (the browser driver does, to deliver parsed frames without entering wasm) rebuilds its
    /// mirror when this moves.
    pub fn routes_version(&self) -> u64 {
        self.routes_version
    }

    /// The channels a Phoenix message can be delivered to, in delivery order, with their
    /// topic and join ref: a message for `topic` goes to each whose join ref it carries, or to
    /// all of them when it carries none. The message events the core does not read
    /// ([`Client::core_reads_event`]) are routed by exactly this, wherever it happens.
    pub fn routable_channels(&self) -> impl Iterator<Item = (ChannelId, &str, Option<&str>)> {
        self.channels
            .iter()
            .filter(|(_, c)| c.state != ChannelState::Closed)
            .map(|(id, c)| (ChannelId(*id), c.topic.as_str(), c.join_ref.as_deref()))
    }

    /// The fast inbound path, for a Phoenix text frame the host has already parsed (a browser's
    /// `JSON.parse` is faster than copying the text into wasm and handing the payload back).
    /// Returns the channels whose message listeners get the payload as it is, or `None` when
    /// the core must read the payload itself — [`Client::core_reads_event`], another dialect,
    /// or a frame too large to pass unchecked (`text_units` is the frame's length in UTF-16
    /// code units, at most 3 bytes of UTF-8 each). On `None` the host passes the whole text to
    /// [`Client::handle_text`]; the result is the same either way.
    pub fn route_parsed(
        &mut self,
        now: u64,
        join_ref: Option<&str>,
        topic: &str,
        event: &str,
        text_units: usize,
    ) -> Option<Vec<ChannelId>> {
        if self.protocol() != crate::core::Protocol::Phoenix
            || text_units > self.parsed_frame_limit()
            || Client::core_reads_event(event)
        {
            return None;
        }
        self.tick(now);
        Some(self.message_targets(topic, join_ref).into_iter().collect())
    }

    /// The channels a message for `topic` carrying `join_ref` is delivered to, in order: the
    /// one statement of the rule, for the core's own routing and for `route_parsed`.
    fn message_targets(&self, topic: &str, join_ref: Option<&str>) -> Targets {
        let mut targets = Targets::default();
        for (id, t, current) in self.routable_channels() {
            if t == topic && accepts(current, join_ref) {
                targets.push(id);
            }
        }
        targets
    }

    /// The longest frame, in UTF-16 code units, that may take the fast path: one that cannot
    /// exceed `max_frame_bytes` of UTF-8.
    pub fn parsed_frame_limit(&self) -> usize {
        self.cfg.max_frame_bytes / 3
    }

    /// Routes one decoded Phoenix frame, text or binary (`binary_routing.rs`), to its reply or
    /// its channels.
    pub(super) fn route_frame(&mut self, now: u64, frame: RawFrame<'_>) {
        // The envelope is read, the payload not yet checked. Presence reads its frames with its
        // own checking scanners; a large payload is checked by whoever reads it (JavaScript's
        // `JSON.parse` for a message). Any other payload is checked here, once.
        let presence_event = frame.event == "presence_state" || frame.event == "presence_diff";
        let large = frame.payload.len() >= LARGE_FRAME_BYTES;
        if !presence_event && !large {
            if let Err(e) = check_payload(frame.payload) {
                self.emit(e);
                return;
            }
        }
        if frame.event == "phx_reply" {
            if frame.topic == "phoenix" {
                self.on_heartbeat_reply(now, frame.reference.as_deref());
                return;
            }
            let Some(reference) = frame.reference.as_deref() else {
                self.emit(Event::Error {
                    code: "malformed_frame",
                    message: "phx_reply without a ref".into(),
                });
                return;
            };
            let Some(inflight) = self.inflight.get(reference).copied() else {
                // A reply to something that already timed out (or was abandoned: a join replaced
                // or cut by a reconnect), or was never ours. Dropped, but reported, so that bad
                // or slow servers are visible (issue 8, "replies for pushes that timed out").
                self.emit(Event::Error {
                    code: "stale_reply",
                    message: [
                        "phx_reply for ref ",
                        reference,
                        " on '",
                        &frame.topic,
                        "', which is not awaiting a reply",
                    ]
                    .concat(),
                });
                return;
            };
            let ch_id = match inflight {
                InFlight::Push { channel, .. }
                | InFlight::Join { channel }
                | InFlight::Leave { channel } => channel,
            };
            if self.channels.get(&ch_id.0).map(|c| c.topic.as_str()) != Some(&*frame.topic) {
                // Our ref, another topic: not the reply awaited (which may still come). Reported
                // like a stale reply and dropped.
                self.emit(Event::Error {
                    code: "stale_reply",
                    message: [
                        "phx_reply for ref ",
                        reference,
                        " on '",
                        &frame.topic,
                        "', but that ref was sent on another topic",
                    ]
                    .concat(),
                });
                return;
            }
            let payload = match parse_payload(frame.payload) {
                Ok(p) => p,
                Err(e) => {
                    self.emit(e);
                    return;
                }
            };
            self.inflight.remove(reference);
            let reply = Reply::from_payload(payload);
            match inflight {
                InFlight::Push { push, channel } => {
                    self.timers.cancel(TimerKey::Push(push.0));
                    self.requests.remove(&push);
                    self.push_telemetry(now, push, channel, &reply.status);
                    let outcome = if reply.is_ok() {
                        PushOutcome::Ok(reply.response)
                    } else {
                        PushOutcome::Error {
                            status: reply.status,
                            response: reply.response,
                        }
                    };
                    self.emit(Event::Reply { push, outcome });
                }
                InFlight::Join { channel } => self.on_join_reply(now, channel, reference, reply),
                InFlight::Leave { channel } => {
                    self.on_leave_done(channel, PushOutcome::Ok(reply.response))
                }
            }
            return;
        }
        let targets = self.message_targets(&frame.topic, frame.join_ref.as_deref());
        // Checked only when it is read (above): nobody will read this one, so check it here.
        let mut unchecked = presence_event || large;
        if targets.is_empty() {
            if unchecked {
                if let Err(e) = check_payload(frame.payload) {
                    self.emit(e);
                }
            }
            return;
        }
        match &*frame.event {
            "phx_close" | "phx_error" if frame.join_ref.is_some() => {
                for channel in targets {
                    if frame.event == "phx_close" {
                        if self.channel_state(channel) == Some(ChannelState::Leaving) {
                            self.on_leave_done(channel, PushOutcome::Ok(empty_object()));
                        } else {
                            self.close_channel(channel);
                        }
                    } else {
                        self.on_channel_error(now, channel);
                    }
                }
            }
            _ => {
                // Presence reads the text; a store gets a parsed value; everyone else gets the
                // text itself, which JavaScript parses once.
                let mut parsed: Option<Value> = None;
                let mut depth_checked = false;
                for channel in targets {
                    if self.route_presence(now, channel, &frame.event, frame.payload) {
                        continue;
                    }
                    // A presence event for a channel that does not track presence: checked
                    // before it is handed on, as any other small payload.
                    if unchecked && !large {
                        if let Err(e) = check_payload(frame.payload) {
                            self.emit(e);
                            return;
                        }
                        unchecked = false;
                    }
                    if self.is_store_message(channel, &frame.event) {
                        let payload = match &parsed {
                            Some(v) => v.clone(),
                            None => match parse_payload(frame.payload) {
                                Ok(v) => {
                                    parsed = Some(v.clone());
                                    v
                                }
                                Err(e) => {
                                    self.emit(e);
                                    return;
                                }
                            },
                        };
                        self.store_message(now, channel, &frame.event, &payload);
                        continue;
                    }
                    // Text handed on unparsed must not nest deeper than a parser would accept.
                    if !depth_checked {
                        if nested_deeper_than(frame.payload, MAX_DEPTH) {
                            self.emit(Event::Error {
                                code: "malformed_frame",
                                message: [
                                    "frame payload nests deeper than ",
                                    &super::text::decimal(MAX_DEPTH as u64),
                                    " levels",
                                ]
                                .concat(),
                            });
                            return;
                        }
                        depth_checked = true;
                    }
                    self.emit(Event::Message {
                        channel,
                        event: frame.event.to_string(),
                        payload: JsonText::new(frame.payload),
                    });
                }
            }
        }
    }

    // ---- channel transitions -------------------------------------------------------------

    pub(super) fn set_channel_state(&mut self, channel: ChannelId, state: ChannelState) {
        let Some(ch) = self.channels.get_mut(&channel.0) else {
            return;
        };
        if ch.state != state {
            let was_joined = ch.state == ChannelState::Joined;
            ch.state = state;
            self.routes_version += 1;
            self.emit(Event::ChannelState { channel, state });
            if was_joined {
                self.store_disconnected(self.last_now, channel);
            }
        }
    }

    fn send_join(&mut self, now: u64, channel: ChannelId) {
        if !self.dialect.acknowledged() {
            self.implicit_join(now, channel);
            return;
        }
        let reference = self.make_ref();
        let Some(ch) = self.channels.get_mut(&channel.0) else {
            return;
        };
        if let Some(old) = ch.join_ref.take() {
            self.inflight.remove(&old);
        }
        ch.join_ref = Some(reference.clone());
        self.routes_version += 1;
        let frame = encode(
            Some(&reference),
            Some(&reference),
            &ch.topic,
            "phx_join",
            &ch.params,
        );
        self.out.push_back(super::event::Output::Send(frame));
        self.inflight.insert(reference, InFlight::Join { channel });
        if self.telemetry {
            self.join_sent_at.insert(channel.0, now);
        }
        self.timers.cancel(TimerKey::Rejoin(channel.0));
        self.timers.set(
            TimerKey::JoinAttempt(channel.0),
            now.saturating_add(self.cfg.timeout_ms),
        );
        self.set_channel_state(channel, ChannelState::Joining);
        self.pipeline_store_sync(now, channel);
    }

    /// Dialects without joins: a channel is joined when the connection carries it (its URL, or
    /// the endpoint itself); a new channel in a URL-membership dialect means a new connection.
    fn implicit_join(&mut self, now: u64, channel: ChannelId) {
        let Some(topic) = self.channel_topic(channel).map(str::to_string) else {
            return;
        };
        if self.dialect.membership_in_url() && !self.connected_topics.contains(&topic) {
            self.set_channel_state(channel, ChannelState::Joining);
            self.resubscribe(now);
            return;
        }
        let reference = self.make_ref();
        if let Some(ch) = self.channels.get_mut(&channel.0) {
            ch.join_ref = Some(reference.clone());
            self.routes_version += 1;
        }
        self.set_channel_state(channel, ChannelState::Joining);
        if self.telemetry {
            self.join_sent_at.insert(channel.0, now);
        }
        self.on_join_reply(
            now,
            channel,
            &reference,
            Reply {
                status: "ok".into(),
                response: empty_object(),
            },
        );
    }

    /// A dialect's event for `topic` (or, without a topic, for every channel of the connection).
    fn dialect_message(&mut self, now: u64, topic: Option<&str>, event: &str, payload: Value) {
        let targets: Vec<ChannelId> = self
            .channels
            .iter()
            .filter(|(_, c)| c.state == ChannelState::Joined && topic.is_none_or(|t| c.topic == t))
            .map(|(id, _)| ChannelId(*id))
            .collect();
        for channel in targets {
            if self.store_message(now, channel, event, &payload) {
                continue;
            }
            if event == "presence_state" || event == "presence_diff" {
                let text = payload.to_string();
                if self.route_presence(now, channel, event, &text) {
                    continue;
                }
            }
            self.emit(Event::Message {
                channel,
                event: event.to_string(),
                payload: JsonText::from_value(&payload),
            });
        }
    }

    fn on_join_reply(&mut self, now: u64, channel: ChannelId, reference: &str, reply: Reply) {
        let Some(ch) = self.channels.get_mut(&channel.0) else {
            return;
        };
        if ch.join_ref.as_deref() != Some(reference) || ch.state != ChannelState::Joining {
            return;
        }
        self.timers.cancel(TimerKey::JoinAttempt(channel.0));
        let request = ch.join_request.take();
        if self.telemetry {
            let topic = ch.topic.clone();
            let took = self
                .join_sent_at
                .remove(&channel.0)
                .map(|t| now.saturating_sub(t));
            let code = reply.status.clone();
            self.telemetry(Telemetry {
                event: "join",
                duration_ms: took,
                topic: Some(topic),
                code: Some(code),
                ..Default::default()
            });
        }
        let Some(ch) = self.channels.get_mut(&channel.0) else {
            return;
        };
        if reply.is_ok() {
            let rejoin = ch.joined_once;
            ch.joined_once = true;
            ch.rejoin_attempt = 0;
            self.set_channel_state(channel, ChannelState::Joined);
            self.emit(Event::Joined {
                channel,
                rejoin,
                response: reply.response.clone(),
            });
            if let Some(push) = request {
                self.finish_request(push, PushOutcome::Ok(reply.response));
            }
            for w in self.buffer.take_channel(channel) {
                self.send_push(now, w.push, channel, &w.event, &w.payload, w.timeout_ms);
            }
            self.rearm_buffer_timer();
            self.store_joined(now, channel);
        } else {
            self.set_channel_state(channel, ChannelState::Errored);
            if let Some(push) = request {
                self.finish_request(
                    push,
                    PushOutcome::Error {
                        status: reply.status,
                        response: reply.response,
                    },
                );
            }
            self.schedule_rejoin(now, channel);
        }
    }

    fn finish_request(&mut self, push: PushId, outcome: PushOutcome) {
        self.timers.cancel(TimerKey::Push(push.0));
        self.requests.remove(&push);
        self.emit(Event::Reply { push, outcome });
    }

    fn schedule_rejoin(&mut self, now: u64, channel: ChannelId) {
        let Some(ch) = self.channels.get_mut(&channel.0) else {
            return;
        };
        ch.rejoin_attempt = ch.rejoin_attempt.saturating_add(1);
        let attempt = ch.rejoin_attempt;
        let delay = self.cfg.rejoin.delay(attempt, self.rng.as_mut());
        self.timers
            .set(TimerKey::Rejoin(channel.0), now.saturating_add(delay));
    }

    pub(super) fn on_rejoin_timer(&mut self, now: u64, channel: ChannelId) {
        if self.channel_state(channel) == Some(ChannelState::Errored) && self.is_open() {
            self.send_join(now, channel);
        }
    }

    pub(super) fn on_join_attempt_timeout(&mut self, now: u64, channel: ChannelId) {
        let open = self.is_open();
        let Some(ch) = self.channels.get_mut(&channel.0) else {
            return;
        };
        if ch.state != ChannelState::Joining {
            return;
        }
        // Tell the server to forget the half-made join, as phoenix.js does.
        if let Some(old) = ch.join_ref.take() {
            self.inflight.remove(&old);
            if open {
                let topic = ch.topic.clone();
                let reference = self.make_ref();
                self.out.push_back(super::event::Output::Send(encode(
                    Some(&old),
                    Some(&reference),
                    &topic,
                    "phx_leave",
                    &empty_object(),
                )));
            }
        }
        self.set_channel_state(channel, ChannelState::Errored);
        self.schedule_rejoin(now, channel);
    }

    fn on_channel_error(&mut self, now: u64, channel: ChannelId) {
        match self.channel_state(channel) {
            Some(ChannelState::Joined) | Some(ChannelState::Joining) => {
                self.timers.cancel(TimerKey::JoinAttempt(channel.0));
                self.set_channel_state(channel, ChannelState::Errored);
                self.schedule_rejoin(now, channel);
            }
            Some(ChannelState::Leaving) => {
                self.on_leave_done(channel, PushOutcome::Ok(empty_object()))
            }
            _ => {}
        }
    }

    pub(super) fn on_request_timeout(&mut self, push: PushId) {
        match self.requests.remove(&push) {
            Some(Request::Sent { reference }) => {
                if let Some(InFlight::Push { channel, .. }) = self.inflight.remove(&reference) {
                    self.push_telemetry(self.last_now, push, channel, "timeout");
                }
                self.emit(Event::Reply {
                    push,
                    outcome: PushOutcome::Timeout,
                });
            }
            Some(Request::Join { channel }) => {
                if let Some(ch) = self.channels.get_mut(&channel.0) {
                    ch.join_request = None;
                }
                self.emit(Event::Reply {
                    push,
                    outcome: PushOutcome::Timeout,
                });
            }
            Some(Request::Leave { channel }) => {
                self.requests.insert(push, Request::Leave { channel });
                self.on_leave_done(channel, PushOutcome::Timeout);
            }
            Some(Request::Buffered) | None => {}
        }
    }

    fn on_leave_done(&mut self, channel: ChannelId, outcome: PushOutcome) {
        let request = self
            .channels
            .get_mut(&channel.0)
            .and_then(|c| c.leave_request.take());
        self.inflight
            .retain(|_, f| !matches!(f, InFlight::Leave { channel: c } if *c == channel));
        // `join()` may have been called again since: the old leave must not undo it.
        if self.channel_state(channel) == Some(ChannelState::Leaving) {
            self.close_channel(channel);
        }
        if let Some(push) = request {
            self.finish_request(push, outcome);
        }
    }

    /// Closed: not joined and not trying to be.
    fn close_channel(&mut self, channel: ChannelId) {
        self.clear_channel_work(channel, DropReason::Left);
        if let Some(ch) = self.channels.get_mut(&channel.0) {
            ch.join_ref = None;
            self.routes_version += 1;
        }
        self.set_channel_state(channel, ChannelState::Closed);
    }

    /// Cancels a channel's timers, ends its pending join request and drops its waiting sends.
    fn clear_channel_work(&mut self, channel: ChannelId, reason: DropReason) {
        self.timers.cancel(TimerKey::Rejoin(channel.0));
        self.timers.cancel(TimerKey::JoinAttempt(channel.0));
        if let Some(push) = self
            .channels
            .get_mut(&channel.0)
            .and_then(|c| c.join_request.take())
        {
            self.finish_request(push, PushOutcome::Dropped(reason));
        }
        let dropped = self.buffer.take_channel(channel);
        for w in dropped {
            self.drop_waiting(w, reason);
        }
        self.rearm_buffer_timer();
    }

    /// The socket opened: every channel that wants membership joins at once.
    pub(super) fn rejoin_all(&mut self, now: u64) {
        let ids: Vec<ChannelId> = self
            .channels
            .iter()
            .filter(|(_, c)| c.wants_membership())
            .map(|(id, _)| ChannelId(*id))
            .collect();
        for channel in ids {
            if let Some(ch) = self.channels.get_mut(&channel.0) {
                ch.rejoin_attempt = 0;
            }
            self.send_join(now, channel);
        }
    }

    /// The socket closed: members become errored (rejoined on the next open); leaving channels
    /// are closed.
    pub(super) fn channels_lost_connection(&mut self) {
        let ids: Vec<(ChannelId, ChannelState)> = self
            .channels
            .iter()
            .map(|(id, c)| (ChannelId(*id), c.state))
            .collect();
        for (channel, state) in ids {
            match state {
                ChannelState::Joined | ChannelState::Joining => {
                    self.timers.cancel(TimerKey::JoinAttempt(channel.0));
                    self.timers.cancel(TimerKey::Rejoin(channel.0));
                    if let Some(old) = self
                        .channels
                        .get_mut(&channel.0)
                        .and_then(|c| c.join_ref.take())
                    {
                        self.inflight.remove(&old);
                    }
                    self.set_channel_state(channel, ChannelState::Errored);
                }
                ChannelState::Errored => self.timers.cancel(TimerKey::Rejoin(channel.0)),
                ChannelState::Leaving => {
                    self.on_leave_done(channel, PushOutcome::Ok(empty_object()))
                }
                ChannelState::Closed => {}
            }
        }
    }
}

/// A frame's payload text as a value; malformed (too deeply nested) is an error event.
/// Whether a payload is JSON, without building it.
fn check_payload(text: &str) -> Result<(), Event> {
    super::json::check(text).map_err(|e| Event::Error {
        code: "malformed_frame",
        message: ["frame payload is not valid JSON: ", &e.message()].concat(),
    })
}

fn parse_payload(text: &str) -> Result<Value, Event> {
    super::json::parse(text).map_err(|e| Event::Error {
        code: "malformed_frame",
        message: ["frame payload is not valid JSON: ", &e.message()].concat(),
    })
}

impl Client {
    /// A push's reply (or timeout) as telemetry.
    fn push_telemetry(&mut self, now: u64, push: PushId, channel: ChannelId, code: &str) {
        if !self.telemetry {
            return;
        }
        let took = self.sent_at.remove(&push).map(|t| now.saturating_sub(t));
        let topic = self.channel_topic(channel).map(str::to_string);
        self.telemetry(Telemetry {
            event: "push_reply",
            duration_ms: took,
            topic,
            code: Some(code.to_string()),
            ..Default::default()
        });
    }
}

/// The channels a frame goes to, in order: almost always one, held without allocating.
#[derive(Default)]
struct Targets {
    first: Option<ChannelId>,
    more: Vec<ChannelId>,
}

impl Targets {
    fn push(&mut self, id: ChannelId) {
        if self.first.is_none() {
            self.first = Some(id);
        } else {
            self.more.push(id);
        }
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }
}

impl IntoIterator for Targets {
    type Item = ChannelId;
    type IntoIter =
        ::core::iter::Chain<::core::option::IntoIter<ChannelId>, alloc::vec::IntoIter<ChannelId>>;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.more)
    }
}
