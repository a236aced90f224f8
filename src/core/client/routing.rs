//! Inbound frames routed to their channel: decoded, checked, matched to a channel by topic and
//! join ref, and handed to the reply, presence, store or message path.

use crate::prelude::*;

use crate::core::json::value::Value;

use crate::core::channel::accepts;
use crate::core::client::{Client, InFlight};
use crate::core::dialect::codec::{
    empty_object, nested_deeper_than, JsonText, RawFrame, Reply, LARGE_FRAME_BYTES, MAX_DEPTH,
};
use crate::core::dialect::Inbound;
use crate::core::event::{ChannelId, ChannelState, Event, PushOutcome};
use crate::core::util::timers::TimerKey;

/// The message events the core reads itself (a reply, close or error, presence, a notification
/// store's event): an event equal to one of these, or starting with one that ends in `*` (without
/// it). Everything else is a plain message for the listeners. The one statement of this rule:
/// [`Client::core_reads_event`] applies it, and a host that routes plain messages itself (the
/// browser driver's inbound path) is given it as data.
pub const CORE_READS: [&str; 4] = ["phx_*", "presence_state", "presence_diff", "notification:*"];

impl Client {
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
    /// The rule is [`CORE_READS`], which the browser's inbound path is given too.
    pub fn core_reads_event(event: &str) -> bool {
        CORE_READS.iter().any(|rule| match rule.strip_suffix('*') {
            Some(prefix) => event.starts_with(prefix),
            None => event == *rule,
        })
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
    pub(in crate::core) fn route_frame(&mut self, now: u64, frame: RawFrame<'_>) {
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
                let reference = frame.reference.as_deref();
                if !reference.is_some_and(|r| self.on_ping_reply(now, r)) {
                    self.on_heartbeat_reply(now, reference);
                }
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
                                    &crate::core::util::text::decimal(MAX_DEPTH as u64),
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
}

/// Whether a payload is JSON, without building it; malformed is an error event.
fn check_payload(text: &str) -> Result<(), Event> {
    crate::core::json::check(text).map_err(|e| Event::Error {
        code: "malformed_frame",
        message: ["frame payload is not valid JSON: ", &e.message()].concat(),
    })
}

/// A frame's payload text as a value; malformed (too deeply nested) is an error event.
fn parse_payload(text: &str) -> Result<Value, Event> {
    crate::core::json::parse(text).map_err(|e| Event::Error {
        code: "malformed_frame",
        message: ["frame payload is not valid JSON: ", &e.message()].concat(),
    })
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
