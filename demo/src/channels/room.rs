//! `room:*` topics: chat messages broadcast to every member, presence keyed by the joiner's
//! name, plus test events (`echo`, `noreply`, and `binary_echo` for binary pushes, answered in
//! `Session::handle_binary`).

use super::Reply;
use crate::hub::{Hub, Member};
use serde_json::{Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest accepted `new_msg` body, in characters.
pub const MAX_BODY_CHARS: usize = 2000;
/// Longest display name kept from the join payload, in characters.
pub const MAX_NAME_CHARS: usize = 64;
pub const DEFAULT_NAME: &str = "anonymous";

/// The display name from a join payload's `name` param.
pub fn name_from_join(payload: &Map<String, Value>) -> String {
    payload
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(MAX_NAME_CHARS).collect())
        .unwrap_or_else(|| DEFAULT_NAME.to_owned())
}

/// The presence meta of a joiner (the hub adds `phx_ref`): `{"name": …, "online_at": <unix ms>}`.
pub fn presence_meta(name: &str) -> Map<String, Value> {
    let mut meta = Map::new();
    meta.insert("name".into(), Value::String(name.to_owned()));
    meta.insert("online_at".into(), Value::from(unix_ms()));
    meta
}

/// Handle a push from `member` on `topic`.
pub fn handle_in(
    hub: &Hub,
    member: &Member,
    topic: &str,
    event: &str,
    payload: Map<String, Value>,
) -> Reply {
    match event {
        "new_msg" => {
            let body = match payload.get("body") {
                Some(Value::String(b)) if b.chars().count() <= MAX_BODY_CHARS => b.clone(),
                _ => return Reply::Error("invalid body"),
            };
            let mut out = Map::new();
            out.insert("body".into(), Value::String(body));
            out.insert("name".into(), Value::String(member.name.clone()));
            out.insert("at".into(), Value::from(unix_ms()));
            hub.broadcast(topic, "new_msg", out);
            Reply::Ok(Value::Object(Map::new()))
        }
        "echo" => Reply::Ok(Value::Object(payload)),
        "noreply" => Reply::None,
        _ => Reply::Error("unknown event"),
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn names() {
        assert_eq!(name_from_join(&obj(json!({"name": "ada"}))), "ada");
        assert_eq!(name_from_join(&obj(json!({"name": "  "}))), DEFAULT_NAME);
        assert_eq!(name_from_join(&obj(json!({"name": 3}))), DEFAULT_NAME);
        assert_eq!(name_from_join(&obj(json!({}))), DEFAULT_NAME);
        let long = "x".repeat(500);
        assert_eq!(
            name_from_join(&obj(json!({ "name": long })))
                .chars()
                .count(),
            MAX_NAME_CHARS
        );
    }

    #[test]
    fn body_rules() {
        let hub = Hub::new();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let m = Member {
            conn: 1,
            join_ref: Some("1".into()),
            name: "ada".into(),
            tx,
        };
        hub.join("room:x", m.clone());
        let bad = |p: Value| handle_in(&hub, &m, "room:x", "new_msg", obj(p));
        assert_eq!(bad(json!({})), Reply::Error("invalid body"));
        assert_eq!(bad(json!({"body": 5})), Reply::Error("invalid body"));
        assert_eq!(
            bad(json!({"body": "é".repeat(MAX_BODY_CHARS + 1)})),
            Reply::Error("invalid body")
        );
        assert!(rx.try_recv().is_err());
        assert_eq!(
            bad(json!({"body": "é".repeat(MAX_BODY_CHARS)})),
            Reply::Ok(json!({}))
        );
        assert!(rx.try_recv().is_ok());
        assert_eq!(
            handle_in(&hub, &m, "room:x", "what", Map::new()),
            Reply::Error("unknown event")
        );
        assert_eq!(
            handle_in(&hub, &m, "room:x", "noreply", Map::new()),
            Reply::None
        );
    }
}
