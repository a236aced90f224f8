//! The MemoriesDB hub dialect: `GET /ws?c=<channel>&c=<channel>…`.
//!
//! - Channels are created on demand, as in the seed: any name is a channel (`updates`,
//!   `notifications`, `room:lobby`, …), within [`hub_channel`]'s rules — 1 to
//!   [`MAX_CHANNEL_CHARS`] characters, no control characters, and never a user's private topic
//!   (`user:…`, any case: the notifications of `/socket` stay unreachable from here). A
//!   `room:*` channel is the Phoenix room of that name, so hub and Phoenix clients share it.
//! - Subscribe: the `c` query parameters (percent-decoded, duplicates merged, at most
//!   [`MAX_CHANNELS`]). No `c` at all is allowed (a publish-only socket). A list that breaks a
//!   rule opens nothing: the upgrade is accepted and the socket closed at once (a browser
//!   cannot read the status of a refused upgrade) with [`CLOSE_FORBIDDEN`] for a private topic
//!   or [`CLOSE_BAD_REQUEST`] otherwise, and a reason that says what is wrong.
//! - Client → server: `{"method":"pub","params":{"channel":"updates","content":<any JSON>}}`.
//!   The sender need not be subscribed to the channel. Anything else — bad JSON, another
//!   method, missing params, a channel that breaks the rules, a frame over the push rate — is
//!   logged and ignored; the socket stays open and nothing is sent back.
//! - How a publish is broadcast on the topic (`Hub::broadcast`, so Phoenix clients of a
//!   `room:*` channel see it too):
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

use super::{accept, close_at_once, refuse, Codec, Ctx};
use crate::channels::{self, room, Channel};
use crate::clock::now_ms;
use crate::frame::Frame;
use crate::log;
use crate::state::AppState;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
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
/// Close code of a hub socket that asked for a private channel (`user:…`).
pub const CLOSE_FORBIDDEN: u16 = 4403;
/// Close code of a hub socket whose channel list breaks a rule (too many, too long, empty…).
pub const CLOSE_BAD_REQUEST: u16 = 4400;

/// Why a channel list (or a publish's channel) is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// A user's private topic (`user:…`, any case).
    Private(String),
    /// Empty, too long or holding control characters; the text says which.
    BadName(&'static str),
    TooMany,
}

impl Refused {
    /// The close code and reason (at most 123 bytes) for a subscription refused with `self`.
    pub fn close(&self) -> (u16, String) {
        match self {
            Refused::Private(name) => {
                // At most 40 bytes of the name, so the reason fits a close frame.
                let mut shown = String::new();
                for c in name.chars() {
                    if shown.len() + c.len_utf8() > 40 {
                        shown.push('…');
                        break;
                    }
                    shown.push(c);
                }
                (
                    CLOSE_FORBIDDEN,
                    format!("forbidden: channel \"{shown}\" is a private user topic"),
                )
            }
            Refused::BadName(why) => (CLOSE_BAD_REQUEST, format!("bad request: {why}")),
            Refused::TooMany => (
                CLOSE_BAD_REQUEST,
                format!("bad request: at most {MAX_CHANNELS} channels per socket"),
            ),
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.close().1)
    }
}

/// Whether `name` may be a hub channel: 1 to [`MAX_CHANNEL_CHARS`] characters, no control
/// characters, and not a user's private topic (any spelling `channels::route` sends to the
/// notifications channel).
pub fn hub_channel(name: &str) -> Result<(), Refused> {
    if name.is_empty() {
        return Err(Refused::BadName("empty channel name"));
    }
    if name.chars().count() > MAX_CHANNEL_CHARS {
        return Err(Refused::BadName("channel name longer than 200 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(Refused::BadName("control character in a channel name"));
    }
    if channels::route(name) == Some(Channel::Notifications) {
        return Err(Refused::Private(name.to_owned()));
    }
    Ok(())
}

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
    match channels(&params) {
        Ok(channels) => accept(ws, &state, peer, channels, HubCodec),
        Err(why) => {
            log!("hub websocket from {peer} refused: {why}");
            let (code, reason) = why.close();
            close_at_once(ws, &state, peer, code, reason)
        }
    }
}

/// The subscribed channels from the query parameters, in order, without duplicates.
pub fn channels(params: &[(String, String)]) -> Result<Vec<String>, Refused> {
    let mut out: Vec<String> = Vec::new();
    for (key, value) in params {
        if key != "c" || out.contains(value) {
            continue;
        }
        hub_channel(value)?;
        if out.len() == MAX_CHANNELS {
            return Err(Refused::TooMany);
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
        match to_broadcast(&channel, content) {
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
        Some(Value::String(c)) => match hub_channel(&c) {
            Ok(()) => c,
            Err(Refused::Private(_)) => return Err("channel is a private user topic"),
            Err(_) => return Err("channel name is empty, too long or has control characters"),
        },
        _ => return Err("channel is not a string"),
    };
    let Some(content) = params.remove("content") else {
        return Err("content is missing");
    };
    Ok((channel, content))
}

/// The Phoenix broadcast (event, payload) for `content` published on `channel`: a chat
/// message on a `room:*` channel becomes a `new_msg`; anything else is delivered as published.
pub fn to_broadcast(
    channel: &str,
    content: Value,
) -> Result<(&'static str, Map<String, Value>), &'static str> {
    let room = channels::route(channel) == Some(Channel::Room);
    if let (true, Value::Object(c)) = (room, &content) {
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
        // Created on demand: any name within the rules, as the seed's `?c=updates&c=notifications`.
        assert_eq!(
            channels(&pairs(&[("c", "updates"), ("c", "notifications")])),
            Ok(vec!["updates".to_string(), "notifications".to_string()])
        );
        let longest = "é".repeat(MAX_CHANNEL_CHARS);
        assert!(hub_channel(&longest).is_ok());
        for private in ["user:x:notifications", "USER:x:notifications", "User:"] {
            assert_eq!(
                channels(&pairs(&[("c", "room:a"), ("c", private)])),
                Err(Refused::Private(private.to_string()))
            );
        }
        for bad in ["", "a\nb", "\u{7f}", &"x".repeat(MAX_CHANNEL_CHARS + 1)] {
            assert!(
                matches!(channels(&pairs(&[("c", bad)])), Err(Refused::BadName(_))),
                "{bad:?}"
            );
        }
        let many: Vec<(String, String)> = (0..=MAX_CHANNELS)
            .map(|i| ("c".to_string(), format!("ch{i}")))
            .collect();
        assert_eq!(channels(&many), Err(Refused::TooMany));
        assert_eq!(
            channels(&many[..MAX_CHANNELS]).map(|c| c.len()),
            Ok(MAX_CHANNELS)
        );
    }

    #[test]
    fn refusals_close_with_a_code_and_a_reason_that_fits() {
        let long_private = format!("user:{}", "😀".repeat(100));
        for (refused, code) in [
            (
                Refused::Private("user:u1:notifications".into()),
                CLOSE_FORBIDDEN,
            ),
            (Refused::Private(long_private), CLOSE_FORBIDDEN),
            (Refused::TooMany, CLOSE_BAD_REQUEST),
            (Refused::BadName("empty channel name"), CLOSE_BAD_REQUEST),
        ] {
            let (c, reason) = refused.close();
            assert_eq!(c, code);
            assert!(reason.len() <= 123, "{reason}");
        }
        assert_eq!(
            Refused::Private("user:u1:notifications".into()).close().1,
            "forbidden: channel \"user:u1:notifications\" is a private user topic"
        );
        assert_eq!(
            Refused::TooMany.close().1,
            format!("bad request: at most {MAX_CHANNELS} channels per socket")
        );
        let too_long = "x".repeat(MAX_CHANNEL_CHARS + 1);
        let Err(Refused::BadName(why)) = hub_channel(&too_long) else {
            panic!("too long accepted");
        };
        assert!(why.contains(&MAX_CHANNEL_CHARS.to_string()), "{why}");
    }

    #[test]
    fn pub_frames() {
        let ok = decode_pub(r#"{"method":"pub","params":{"channel":"room:a","content":[1]}}"#);
        assert_eq!(ok, Ok(("room:a".to_string(), json!([1]))));
        let ok = decode_pub(r#"{"method":"pub","params":{"channel":"updates","content":1}}"#);
        assert_eq!(ok, Ok(("updates".to_string(), json!(1))));
        for bad in [
            "nope",
            "[]",
            r#"{"method":"sub","params":{"channel":"room:a","content":1}}"#,
            r#"{"method":"pub"}"#,
            r#"{"method":"pub","params":{"channel":5,"content":1}}"#,
            r#"{"method":"pub","params":{"channel":"user:x:notifications","content":1}}"#,
            r#"{"method":"pub","params":{"channel":"uSeR:x:notifications","content":1}}"#,
            r#"{"method":"pub","params":{"channel":"","content":1}}"#,
            r#"{"method":"pub","params":{"channel":"room:a"}}"#,
        ] {
            assert!(decode_pub(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn broadcasts_and_back() {
        let (event, p) =
            to_broadcast("room:a", json!({"body": "hi", "name": " ada ", "x": 1})).unwrap();
        assert_eq!(event, "new_msg");
        assert_eq!(p["body"], "hi");
        assert_eq!(p["name"], "ada");
        assert!(p["at"].is_i64());
        assert!(p.get("x").is_none());
        let (_, p) = to_broadcast("room:a", json!({"body": "hi", "name": 3})).unwrap();
        assert_eq!(p["name"], DEFAULT_NAME);
        assert!(to_broadcast(
            "room:a",
            json!({"body": "x".repeat(room::MAX_BODY_CHARS + 1)})
        )
        .is_err());

        // Outside the Phoenix rooms a chat-shaped content is delivered as published.
        let (event, p) = to_broadcast("updates", json!({"body": "hi"})).unwrap();
        assert_eq!(event, PUB_EVENT);
        assert_eq!(p["content"], json!({"body": "hi"}));

        let (event, p) = to_broadcast("room:a", json!("plain")).unwrap();
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
