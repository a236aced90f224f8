//! The MemoriesDB hub dialect: `GET /ws?c=<channel>&c=<channel>…`.
//!
//! - Subscribe: the `c` query parameters (percent-decoded, duplicates merged, at most
//!   [`MAX_CHANNELS`], each at most [`MAX_CHANNEL_CHARS`] characters). Channels are the Phoenix
//!   topic names (`room:lobby`). Any listed channel that is not `room:*` refuses the whole
//!   upgrade with 403 (so a typo is loud, not a silent missing subscription). No `c` at all is
//!   allowed (a publish-only socket).
//! - Client → server: `{"method":"pub","params":{"channel":"room:lobby","content":<any JSON>}}`.
//!   The channel must be `room:*`; the sender need not be subscribed to it. Anything else —
//!   bad JSON, another method, missing params, a refused channel, a frame over the push rate —
//!   is logged and ignored; the socket stays open and nothing is sent back.
//! - How a publish is broadcast on the topic (`Hub::broadcast`, so Phoenix clients see it too):
//!   - content is an object whose `body` is a string (≤ 2000 characters; a longer one is
//!     dropped): Phoenix `new_msg` `{"body", "name", "at"}` — `name` is the content's `name`
//!     string (trimmed, ≤ 64 characters) or `"hub"`, `at` Unix ms. Extra content keys are
//!     dropped, like a Phoenix client's `new_msg`.
//!   - any other content: Phoenix event [`PUB_EVENT`] `{"content": <content>}`.
//! - Server → client: `{"channel": <topic>, "content": <content>}` for every broadcast on a
//!   subscribed topic, the sender's own publishes included:
//!   - a [`PUB_EVENT`] broadcast: content is the published content, as sent;
//!   - any other broadcast (`new_msg` — from Phoenix or from a hub publish —, `presence_diff`,
//!     …): content is `{"event": <event>, "payload": <payload>}`.

use super::{accept, allowed_topic, refuse, Codec, Ctx};
use crate::channels::room;
use crate::clock::now_ms;
use crate::frame::Frame;
use crate::http::AppState;
use crate::log;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use std::net::SocketAddr;

/// Most channels one hub socket may subscribe to.
pub const MAX_CHANNELS: usize = 32;
/// Longest channel name accepted, in characters.
pub const MAX_CHANNEL_CHARS: usize = 200;
/// The Phoenix event carrying a hub publish that is not a chat message: `{"content": …}`.
pub const PUB_EVENT: &str = "pub";
/// The `name` of a hub `new_msg` whose content has no usable `name`.
pub const DEFAULT_NAME: &str = "hub";

pub(super) async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(params): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refuse(&state, &headers, peer, "hub") {
        return refused;
    }
    let channels = match channels(&params) {
        Ok(c) => c,
        Err(why) => {
            log!("hub websocket from {peer} refused: {why}");
            return (StatusCode::FORBIDDEN, why).into_response();
        }
    };
    accept(ws, &state, peer, channels, HubCodec)
}

/// The subscribed channels from the query parameters, in order, without duplicates.
pub fn channels(params: &[(String, String)]) -> Result<Vec<String>, &'static str> {
    let mut out: Vec<String> = Vec::new();
    for (key, value) in params {
        if key != "c" || out.contains(value) {
            continue;
        }
        if value.chars().count() > MAX_CHANNEL_CHARS || !allowed_topic(value) {
            return Err("channel not allowed (only room:* channels)");
        }
        if out.len() == MAX_CHANNELS {
            return Err("too many channels");
        }
        out.push(value.clone());
    }
    Ok(out)
}

pub(super) struct HubCodec;

impl Codec for HubCodec {
    const NAME: &'static str = "hub";

    fn outbound(&self, frame: Frame) -> Option<String> {
        Some(encode_outbound(frame).to_string())
    }

    fn inbound(&mut self, ctx: &mut Ctx, text: &str) -> Option<String> {
        if !ctx.allow() {
            return None;
        }
        let (channel, content) = match decode_pub(text) {
            Ok(p) => p,
            Err(why) => {
                log!(
                    "conn {}: ignoring hub frame: {why} ({} bytes)",
                    ctx.conn,
                    text.len()
                );
                return None;
            }
        };
        match to_broadcast(content) {
            Ok((event, payload)) => {
                ctx.hub.broadcast(&channel, event, payload);
            }
            Err(why) => log!("conn {}: ignoring hub publish: {why}", ctx.conn),
        }
        None
    }
}

/// `{"channel": topic, "content": …}` for one hub frame.
pub fn encode_outbound(frame: Frame) -> Value {
    let Frame {
        topic,
        event,
        mut payload,
        ..
    } = frame;
    let content = match payload.remove("content") {
        Some(content) if event == PUB_EVENT => content,
        other => {
            if let Some(c) = other {
                payload.insert("content".into(), c);
            }
            json!({"event": event, "payload": payload})
        }
    };
    json!({"channel": topic, "content": content})
}

/// The channel and content of a `pub` frame.
pub fn decode_pub(text: &str) -> Result<(String, Value), &'static str> {
    let Ok(Value::Object(mut frame)) = serde_json::from_str::<Value>(text) else {
        return Err("not a JSON object");
    };
    if frame.get("method").and_then(Value::as_str) != Some("pub") {
        return Err("method is not \"pub\"");
    }
    let Some(Value::Object(mut params)) = frame.remove("params") else {
        return Err("params is not an object");
    };
    let channel = match params.remove("channel") {
        Some(Value::String(c)) if allowed_topic(&c) => c,
        Some(Value::String(_)) => return Err("channel not allowed (only room:* channels)"),
        _ => return Err("channel is not a string"),
    };
    let Some(content) = params.remove("content") else {
        return Err("content is missing");
    };
    Ok((channel, content))
}

/// The Phoenix broadcast (event, payload) for published `content`.
pub fn to_broadcast(content: Value) -> Result<(&'static str, Map<String, Value>), &'static str> {
    if let Value::Object(c) = &content {
        if let Some(Value::String(body)) = c.get("body") {
            if body.chars().count() > room::MAX_BODY_CHARS {
                return Err("body over 2000 characters");
            }
            let name = c
                .get("name")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| n.chars().take(room::MAX_NAME_CHARS).collect())
                .unwrap_or_else(|| DEFAULT_NAME.to_owned());
            let mut out = Map::new();
            out.insert("body".into(), Value::String(body.clone()));
            out.insert("name".into(), Value::String(name));
            out.insert("at".into(), Value::from(now_ms()));
            return Ok(("new_msg", out));
        }
    }
    let mut out = Map::new();
    out.insert("content".into(), content);
    Ok((PUB_EVENT, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn channel_lists() {
        assert_eq!(
            channels(&pairs(&[
                ("c", "room:a"),
                ("x", "y"),
                ("c", "room:a"),
                ("c", "room:b")
            ])),
            Ok(vec!["room:a".to_string(), "room:b".to_string()])
        );
        assert_eq!(channels(&[]), Ok(vec![]));
        assert!(channels(&pairs(&[("c", "room:a"), ("c", "user:x:notifications")])).is_err());
        assert!(channels(&pairs(&[("c", "updates")])).is_err());
        let many: Vec<(String, String)> = (0..=MAX_CHANNELS)
            .map(|i| ("c".to_string(), format!("room:{i}")))
            .collect();
        assert_eq!(channels(&many), Err("too many channels"));
    }

    #[test]
    fn pub_frames() {
        let ok = decode_pub(r#"{"method":"pub","params":{"channel":"room:a","content":[1]}}"#);
        assert_eq!(ok, Ok(("room:a".to_string(), json!([1]))));
        for bad in [
            "nope",
            "[]",
            r#"{"method":"sub","params":{"channel":"room:a","content":1}}"#,
            r#"{"method":"pub"}"#,
            r#"{"method":"pub","params":{"channel":5,"content":1}}"#,
            r#"{"method":"pub","params":{"channel":"user:x:notifications","content":1}}"#,
            r#"{"method":"pub","params":{"channel":"room:a"}}"#,
        ] {
            assert!(decode_pub(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn broadcasts_and_back() {
        let (event, p) = to_broadcast(json!({"body": "hi", "name": " ada ", "x": 1})).unwrap();
        assert_eq!(event, "new_msg");
        assert_eq!(p["body"], "hi");
        assert_eq!(p["name"], "ada");
        assert!(p["at"].is_i64());
        assert!(p.get("x").is_none());
        let (_, p) = to_broadcast(json!({"body": "hi", "name": 3})).unwrap();
        assert_eq!(p["name"], DEFAULT_NAME);
        assert!(to_broadcast(json!({"body": "x".repeat(room::MAX_BODY_CHARS + 1)})).is_err());

        let (event, p) = to_broadcast(json!("plain")).unwrap();
        assert_eq!(event, PUB_EVENT);
        let back = encode_outbound(Frame::broadcast("room:a", event, p));
        assert_eq!(back, json!({"channel": "room:a", "content": "plain"}));

        let mut p = Map::new();
        p.insert("content".into(), json!(1));
        let back = encode_outbound(Frame::broadcast("room:a", "other", p));
        assert_eq!(
            back,
            json!({"channel": "room:a", "content": {"event": "other", "payload": {"content": 1}}})
        );
    }
}
