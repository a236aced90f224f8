//! Phoenix V2 JSON frame codec: `[join_ref, ref, topic, event, payload]`.

use serde_json::{Map, Value};
use std::fmt;

/// One Phoenix V2 message. Refs are strings or absent (`null` on the wire).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub join_ref: Option<String>,
    pub ref_: Option<String>,
    pub topic: String,
    pub event: String,
    pub payload: Map<String, Value>,
}

/// Why an incoming text frame was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    NotJson,
    NotArray,
    Arity(usize),
    BadRef(&'static str),
    BadTopic,
    BadEvent,
    PayloadNotObject,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::NotJson => write!(f, "not JSON"),
            FrameError::NotArray => write!(f, "not a JSON array"),
            FrameError::Arity(n) => write!(f, "array of {n} elements, expected 5"),
            FrameError::BadRef(which) => write!(f, "{which} is not a string or null"),
            FrameError::BadTopic => write!(f, "topic is not a non-empty string"),
            FrameError::BadEvent => write!(f, "event is not a non-empty string"),
            FrameError::PayloadNotObject => write!(f, "payload is not a JSON object"),
        }
    }
}

impl std::error::Error for FrameError {}

impl Frame {
    /// A frame with both refs null (a broadcast).
    pub fn broadcast(topic: &str, event: &str, payload: Map<String, Value>) -> Self {
        Frame {
            join_ref: None,
            ref_: None,
            topic: topic.to_owned(),
            event: event.to_owned(),
            payload,
        }
    }

    /// `phx_reply` to `ref_` with `{"status": status, "response": response}`.
    pub fn reply(
        join_ref: Option<&str>,
        ref_: Option<&str>,
        topic: &str,
        status: &str,
        response: Value,
    ) -> Self {
        let mut payload = Map::new();
        payload.insert("status".into(), Value::String(status.to_owned()));
        payload.insert("response".into(), response);
        Frame {
            join_ref: join_ref.map(str::to_owned),
            ref_: ref_.map(str::to_owned),
            topic: topic.to_owned(),
            event: "phx_reply".into(),
            payload,
        }
    }

    /// `phx_close` for a channel whose join ref was `join_ref` (ref = join_ref, as Phoenix does).
    pub fn close(join_ref: Option<&str>, topic: &str) -> Self {
        Frame {
            join_ref: join_ref.map(str::to_owned),
            ref_: join_ref.map(str::to_owned),
            topic: topic.to_owned(),
            event: "phx_close".into(),
            payload: Map::new(),
        }
    }

    /// Decode one text frame. Never panics.
    pub fn decode(text: &str) -> Result<Frame, FrameError> {
        let value: Value = serde_json::from_str(text).map_err(|_| FrameError::NotJson)?;
        let Value::Array(items) = value else {
            return Err(FrameError::NotArray);
        };
        let len = items.len();
        let Ok([join_ref, ref_, topic, event, payload]) = <[Value; 5]>::try_from(items) else {
            return Err(FrameError::Arity(len));
        };
        let join_ref = opt_string(join_ref).ok_or(FrameError::BadRef("join_ref"))?;
        let ref_ = opt_string(ref_).ok_or(FrameError::BadRef("ref"))?;
        let topic = match topic {
            Value::String(s) if !s.is_empty() => s,
            _ => return Err(FrameError::BadTopic),
        };
        let event = match event {
            Value::String(s) if !s.is_empty() => s,
            _ => return Err(FrameError::BadEvent),
        };
        let Value::Object(payload) = payload else {
            return Err(FrameError::PayloadNotObject);
        };
        Ok(Frame {
            join_ref,
            ref_,
            topic,
            event,
            payload,
        })
    }

    /// Encode a V2 JSON text frame whose payload is already JSON object text (used where key
    /// order matters: `serde_json::Map` sorts its keys).
    pub fn encode_raw(
        join_ref: Option<&str>,
        ref_: Option<&str>,
        topic: &str,
        event: &str,
        payload_json: &str,
    ) -> String {
        let opt = |s: Option<&str>| s.map_or(Value::Null, |s| Value::String(s.to_owned()));
        format!(
            "[{},{},{},{},{}]",
            opt(join_ref),
            opt(ref_),
            Value::String(topic.to_owned()),
            Value::String(event.to_owned()),
            payload_json
        )
    }

    /// Encode as a V2 JSON text frame.
    pub fn encode(&self) -> String {
        let opt = |s: &Option<String>| s.clone().map_or(Value::Null, Value::String);
        Value::Array(vec![
            opt(&self.join_ref),
            opt(&self.ref_),
            Value::String(self.topic.clone()),
            Value::String(self.event.clone()),
            Value::Object(self.payload.clone()),
        ])
        .to_string()
    }
}

/// `Some(None)` for null, `Some(Some(s))` for a string, `None` for anything else.
fn opt_string(v: Value) -> Option<Option<String>> {
    match v {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_a_join() {
        let text = r#"["3","3","room:lobby","phx_join",{"name":"ada"}]"#;
        let f = Frame::decode(text).expect("valid frame");
        assert_eq!(f.join_ref.as_deref(), Some("3"));
        assert_eq!(f.ref_.as_deref(), Some("3"));
        assert_eq!(f.topic, "room:lobby");
        assert_eq!(f.event, "phx_join");
        assert_eq!(f.payload.get("name"), Some(&json!("ada")));
        let encoded: Value = serde_json::from_str(&f.encode()).expect("json");
        assert_eq!(
            encoded,
            json!(["3", "3", "room:lobby", "phx_join", {"name": "ada"}])
        );
    }

    #[test]
    fn encode_raw_keeps_payload_text() {
        let text = Frame::encode_raw(
            Some("3"),
            None,
            "room:\"x\"",
            "presence_state",
            r#"{"b":1,"a":2}"#,
        );
        assert_eq!(
            text,
            r#"["3",null,"room:\"x\"","presence_state",{"b":1,"a":2}]"#
        );
        assert!(Frame::decode(&text).is_ok());
    }

    #[test]
    fn null_refs() {
        let f = Frame::decode(r#"[null,"5","phoenix","heartbeat",{}]"#).expect("valid");
        assert_eq!(f.join_ref, None);
        let r = Frame::reply(None, f.ref_.as_deref(), "phoenix", "ok", json!({}));
        let encoded: Value = serde_json::from_str(&r.encode()).expect("json");
        assert_eq!(
            encoded,
            json!([null, "5", "phoenix", "phx_reply", {"status": "ok", "response": {}}])
        );
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Frame::decode("nope"), Err(FrameError::NotJson));
        assert_eq!(Frame::decode("{}"), Err(FrameError::NotArray));
        assert_eq!(Frame::decode("[1,2]"), Err(FrameError::Arity(2)));
        assert_eq!(
            Frame::decode(r#"[1,"1","t","e",{}]"#),
            Err(FrameError::BadRef("join_ref"))
        );
        assert_eq!(
            Frame::decode(r#"[null,{},"t","e",{}]"#),
            Err(FrameError::BadRef("ref"))
        );
        assert_eq!(
            Frame::decode(r#"[null,null,"","e",{}]"#),
            Err(FrameError::BadTopic)
        );
        assert_eq!(
            Frame::decode(r#"[null,null,"t",3,{}]"#),
            Err(FrameError::BadEvent)
        );
        assert_eq!(
            Frame::decode(r#"[null,null,"t","e",[]]"#),
            Err(FrameError::PayloadNotObject)
        );
        assert_eq!(
            Frame::decode(r#"[null,null,"t","e","x"]"#),
            Err(FrameError::PayloadNotObject)
        );
    }
}
