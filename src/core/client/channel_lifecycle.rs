//! Channels on the client: the calls (`channel`, `join`, `push`, `leave`), the replies to joins
//! and leaves, timeouts and rejoins: a channel's state transitions. Inbound frames reach them
//! through `routing.rs`.

use crate::prelude::*;

use crate::core::json::value::Value;

use crate::core::channel::send_buffer::{PushBody, Waiting};
use crate::core::channel::Channel;
use crate::core::client::{CallError, Client, InFlight, Request};
use crate::core::dialect::codec::{empty_object, encode, Reply};
use crate::core::event::{
    ChannelId, ChannelState, DropReason, Event, PushId, PushOutcome, Telemetry,
};
use crate::core::util::timers::TimerKey;

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

    /// From now on the channel's owner gives its params for each join: when one is due, the
    /// client asks with [`Event::JoinParamsWanted`] and sends the join once
    /// [`Client::supply_join_params`] answers (phoenix.js calls a params function at every join).
    pub fn ask_params_on_join(&mut self, channel: ChannelId) {
        if let Some(ch) = self.channels.get_mut(&channel.0) {
            ch.params_from_owner = true;
        }
    }

    /// The params asked for by `request`: `Ok` with a JSON object sends the join with them;
    /// anything else fails this join attempt as a refused join would (an `invalid_params` error
    /// event, the `join()` request rejected, a rejoin later). An answer to an older request, or
    /// one that comes when the join is no longer due (the socket closed, `leave()` was called),
    /// is ignored.
    pub fn supply_join_params(
        &mut self,
        now: u64,
        channel: ChannelId,
        request: u64,
        params: Result<Value, String>,
    ) {
        self.tick(now);
        let open = self.is_open();
        let Some(ch) = self.channels.get_mut(&channel.0) else {
            return;
        };
        if ch.params_request != Some(request) || ch.state != ChannelState::Joining {
            return;
        }
        ch.params_request = None;
        let reason = match params {
            Ok(params) if params.is_object() => {
                ch.params = params;
                if open {
                    self.send_join_frame(now, channel);
                }
                return;
            }
            Ok(_) => "the params function must return a plain object".to_string(),
            Err(message) => ["the params function failed: ", &message].concat(),
        };
        self.timers.cancel(TimerKey::JoinAttempt(channel.0));
        let response = crate::core::json::object([("reason", Value::from(reason.as_str()))]);
        self.emit(Event::Error {
            code: "invalid_params",
            message: reason,
        });
        self.join_failed(now, channel, "error".into(), response);
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
        self.push_body(now, channel, event, PushBody::Json(payload), timeout_ms)
    }

    /// [`Client::push`] with bytes for a payload, sent as a Phoenix binary frame (as phoenix.js
    /// sends an `ArrayBuffer`). Dialects other than Phoenix refuse it with an error reply.
    pub fn push_binary(
        &mut self,
        now: u64,
        channel: ChannelId,
        event: &str,
        payload: Vec<u8>,
        timeout_ms: Option<u64>,
    ) -> Result<PushId, CallError> {
        self.push_body(now, channel, event, PushBody::Binary(payload), timeout_ms)
    }

    fn push_body(
        &mut self,
        now: u64,
        channel: ChannelId,
        event: &str,
        payload: PushBody,
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
                let reference = self.send_leave(&join_ref, &topic);
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

    // ---- channel transitions -------------------------------------------------------------

    pub(in crate::core) fn set_channel_state(&mut self, channel: ChannelId, state: ChannelState) {
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
        let Some(ch) = self.channels.get_mut(&channel.0) else {
            return;
        };
        if ch.params_from_owner {
            // Asked for first; a join whose params never come times out as a lost one would.
            self.next_params_request += 1;
            let request = self.next_params_request;
            ch.params_request = Some(request);
            if let Some(old) = ch.join_ref.take() {
                self.inflight.remove(&old);
                self.routes_version += 1;
            }
            self.timers.cancel(TimerKey::Rejoin(channel.0));
            self.timers.set(
                TimerKey::JoinAttempt(channel.0),
                now.saturating_add(self.cfg.timeout_ms),
            );
            self.set_channel_state(channel, ChannelState::Joining);
            self.emit(Event::JoinParamsWanted { channel, request });
            return;
        }
        self.send_join_frame(now, channel);
    }

    /// Sends `phx_join` with the channel's params.
    fn send_join_frame(&mut self, now: u64, channel: ChannelId) {
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
        self.out.push_back(crate::core::event::Output::Send(frame));
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

    pub(in crate::core) fn on_join_reply(
        &mut self,
        now: u64,
        channel: ChannelId,
        reference: &str,
        reply: Reply,
    ) {
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
            if let Some(ch) = self.channels.get_mut(&channel.0) {
                ch.join_request = request;
            }
            self.join_refused(now, channel, reply.status, reply.response);
        }
    }

    /// The server refused a join: the attempt fails (the `join()` request ends with the
    /// refusal, a rejoin is scheduled), a store shows `refused`, and the user hears of it with
    /// the server's response and when the next attempt is due.
    fn join_refused(&mut self, now: u64, channel: ChannelId, status: String, response: Value) {
        let reason = response
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or(&status)
            .to_string();
        self.join_failed(now, channel, status.clone(), response.clone());
        let retry_in_ms = self
            .timers
            .get(TimerKey::Rejoin(channel.0))
            .map(|at| at.saturating_sub(now));
        self.store_join_refused(now, channel, &reason);
        let topic = self.channel_topic(channel).unwrap_or_default();
        let mut message = ["the server refused the join of '", topic, "': ", &reason].concat();
        match retry_in_ms {
            Some(ms) => {
                message.push_str("; rejoining in ");
                message.push_str(&crate::core::util::text::decimal(ms));
                message.push_str(" ms");
            }
            None => message.push_str("; rejoining after the reconnect"),
        }
        self.emit(Event::JoinRefused {
            channel,
            status,
            response,
            retry_in_ms,
            message,
        });
    }

    /// A join attempt failed: errored, the `join()` request (if pending) ends with the error,
    /// and a rejoin is scheduled.
    fn join_failed(&mut self, now: u64, channel: ChannelId, status: String, response: Value) {
        let request = self
            .channels
            .get_mut(&channel.0)
            .and_then(|c| c.join_request.take());
        self.set_channel_state(channel, ChannelState::Errored);
        if let Some(push) = request {
            self.finish_request(push, PushOutcome::Error { status, response });
        }
        self.schedule_rejoin(now, channel);
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

    pub(in crate::core) fn on_rejoin_timer(&mut self, now: u64, channel: ChannelId) {
        if self.channel_state(channel) == Some(ChannelState::Errored) && self.is_open() {
            self.send_join(now, channel);
        }
    }

    pub(in crate::core) fn on_join_attempt_timeout(&mut self, now: u64, channel: ChannelId) {
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
                self.send_leave(&old, &topic);
            }
        }
        self.set_channel_state(channel, ChannelState::Errored);
        self.schedule_rejoin(now, channel);
    }

    pub(in crate::core) fn on_channel_error(&mut self, now: u64, channel: ChannelId) {
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

    pub(in crate::core) fn on_request_timeout(&mut self, push: PushId) {
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
            Some(Request::Ping { .. }) => self.emit(Event::Reply {
                push,
                outcome: PushOutcome::Timeout,
            }),
            Some(Request::Buffered) | None => {}
        }
    }

    pub(in crate::core) fn on_leave_done(&mut self, channel: ChannelId, outcome: PushOutcome) {
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
    pub(in crate::core) fn close_channel(&mut self, channel: ChannelId) {
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
    pub(in crate::core) fn rejoin_all(&mut self, now: u64) {
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
    pub(in crate::core) fn channels_lost_connection(&mut self) {
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

    /// Sends `phx_leave` for the channel joined as `join_ref`; returns the leave's ref.
    fn send_leave(&mut self, join_ref: &str, topic: &str) -> String {
        let reference = self.make_ref();
        self.out.push_back(crate::core::event::Output::Send(encode(
            Some(join_ref),
            Some(&reference),
            topic,
            "phx_leave",
            &empty_object(),
        )));
        reference
    }

    /// A push's reply (or timeout) as telemetry.
    pub(in crate::core) fn push_telemetry(
        &mut self,
        now: u64,
        push: PushId,
        channel: ChannelId,
        code: &str,
    ) {
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
