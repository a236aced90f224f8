//! Which topics can be joined, and what a channel answers to a push.

pub mod notifications;
pub mod room;

use crate::frame::Frame;
use crate::hub::Outbox;
use serde_json::Value;

/// The channel implementation serving a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// `room:*` — chat rooms plus the `echo`/`noreply` test events.
    Room,
    /// `user:*` (prefix in any case) — `user:{id}:notifications`, joinable only by that user
    /// (others get "unauthorized").
    Notifications,
}

/// The channel for `topic`, or `None` when nothing serves it ("unmatched topic").
pub fn route(topic: &str) -> Option<Channel> {
    if topic.starts_with("room:") {
        Some(Channel::Room)
    } else if topic
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("user:"))
    {
        // Any spelling of a user topic (even `USER:…`) is refused as "unauthorized" unless
        // it is exactly the connection's own.
        Some(Channel::Notifications)
    } else {
        None
    }
}

/// What a channel answers to a push.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `{"status":"ok","response":…}`
    Ok(Value),
    /// `{"status":"error","response":{"reason":…}}`
    Error(&'static str),
    /// No reply at all (the client's push times out).
    None,
}

/// Where a channel queues its own reply when the reply has to keep its place among broadcasts:
/// the connection's outbox, the same queue broadcasts travel through. A reply queued while the
/// store lock is held therefore reaches the client after every broadcast whose change it counts,
/// and before every broadcast of a later change (a reply written straight to the socket could
/// overtake a queued `notification:new` and leave the client one count too high).
#[derive(Debug)]
pub struct ReplyTo {
    tx: Outbox,
    join_ref: Option<String>,
    ref_: Option<String>,
    topic: String,
}

impl ReplyTo {
    pub fn new(tx: Outbox, join_ref: Option<String>, to: &Frame) -> Self {
        ReplyTo {
            tx,
            join_ref,
            ref_: to.ref_.clone(),
            topic: to.topic.clone(),
        }
    }

    /// Queue `{"status":"ok","response":…}`; false when the outbox is full or closed (the
    /// client's push then times out, as for any lost reply).
    pub fn ok(&self, response: Value) -> bool {
        let frame = Frame::reply(
            self.join_ref.as_deref(),
            self.ref_.as_deref(),
            &self.topic,
            "ok",
            response,
        );
        self.tx.try_send(frame.encode()).is_ok()
    }
}
