//! What every dialect is: the protocol names, the inbound frame kinds and the `WireDialect`
//! trait the Phoenix, hub and nova dialects implement.

use crate::prelude::*;

use crate::core::json::value::Value;

use crate::core::dialect::codec::{DecodeError, RawFrame};

/// Which dialect a socket speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Phoenix,
    Hub,
    Nova,
}

impl Protocol {
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "phoenix" => Some(Protocol::Phoenix),
            "hub" => Some(Protocol::Hub),
            "nova" => Some(Protocol::Nova),
            _ => None,
        }
    }
}

/// One decoded inbound frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound<'a> {
    /// A Phoenix frame, with everything that goes with it (refs, replies, join refs).
    Phoenix(RawFrame<'a>),
    /// An event for whoever is subscribed to `topic` (`None`: the connection's own channel).
    Message {
        topic: Option<String>,
        event: String,
        payload: Value,
    },
    /// The answer to the dialect's heartbeat.
    HeartbeatReply,
}

/// The codec of one dialect.
pub trait WireDialect {
    fn protocol(&self) -> Protocol;

    /// Reads one inbound text frame.
    fn decode<'a>(&self, text: &'a str, max_bytes: usize) -> Result<Inbound<'a>, DecodeError>;

    /// The heartbeat frame carrying `reference`, or `None` when the dialect has no heartbeat.
    fn heartbeat(&self, reference: &str) -> Option<String>;

    /// True when the server confirms joins and replies to pushes (Phoenix); otherwise joining is
    /// implied by the connection and pushes are fire-and-forget.
    fn acknowledged(&self) -> bool;

    /// The frame for a push, or `None` when the dialect cannot send.
    fn encode_push(
        &self,
        join_ref: Option<&str>,
        reference: &str,
        topic: &str,
        event: &str,
        payload: &Value,
    ) -> Option<String>;

    /// Query parameters the connection needs for this membership (`hub`: one `c` per topic).
    fn connect_query(&self, topics: &[String]) -> Vec<(String, String)>;

    /// True when a new channel can only be added by reconnecting (membership is the URL).
    fn membership_in_url(&self) -> bool {
        false
    }
}

/// A dialect payload as a JSON object: objects as they are, anything else under `value`.
pub(crate) fn as_object(v: Value) -> Value {
    if v.is_object() {
        v
    } else {
        crate::core::json::object([("value", v)])
    }
}
