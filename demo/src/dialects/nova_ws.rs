//! The nova_pubsub dialect: `GET /nova/<topic>` (the path names the topic, e.g.
//! `/nova/room:lobby`; percent-encoding is decoded) and `GET /notifications`, an alias of
//! `/nova/room:lobby`.
//!
//! - Only `room:*` topics (anything else: 403 before the upgrade).
//! - Client → server: the text frame `ping` is answered with the text frame `pong` (not JSON;
//!   exempt from the push rate). Every other client frame is ignored.
//! - Server → client: `{"event": <event>, "data": <payload>}` for every broadcast on the topic
//!   (`new_msg`, `presence_diff`, …). A hub-dialect publish of non-chat content (Phoenix event
//!   `pub` `{"content": C}`) arrives as `{"event": "pub", "data": C}`.

use super::hub_ws::PUB_EVENT;
use super::{accept, allowed_topic, refuse, Codec, Ctx};
use crate::frame::Frame;
use crate::log;
use crate::state::AppState;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::net::SocketAddr;

/// The topic `GET /notifications` listens to.
pub const NOTIFICATIONS_TOPIC: &str = "room:lobby";

pub(super) async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(topic): Path<String>,
    headers: HeaderMap,
) -> Response {
    open(ws, state, peer, topic, headers)
}

pub(super) async fn notifications_alias(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    open(ws, state, peer, NOTIFICATIONS_TOPIC.to_owned(), headers)
}

fn open(
    ws: WebSocketUpgrade,
    state: AppState,
    peer: SocketAddr,
    topic: String,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refuse(&state, &headers, peer, "nova") {
        return refused;
    }
    if !allowed_topic(&topic) {
        let shown: String = topic.chars().take(100).collect();
        log!("nova websocket from {peer} refused: topic {shown:?} not allowed");
        return (
            StatusCode::FORBIDDEN,
            "topic not allowed (only room:* topics)",
        )
            .into_response();
    }
    accept(ws, &state, peer, vec![topic], NovaCodec)
}

pub(super) struct NovaCodec;

impl Codec for NovaCodec {
    const NAME: &'static str = "nova";

    fn outbound(&self, frame: Frame) -> Option<String> {
        Some(encode_outbound(frame).to_string())
    }

    fn inbound(&mut self, _ctx: &mut Ctx, text: &str) -> Option<String> {
        (text == "ping").then(|| "pong".to_owned())
    }
}

/// `{"event": event, "data": payload}` for one hub frame.
pub fn encode_outbound(frame: Frame) -> Value {
    let Frame {
        event, mut payload, ..
    } = frame;
    let data = match payload.remove("content") {
        Some(content) if event == PUB_EVENT => content,
        other => {
            if let Some(c) = other {
                payload.insert("content".into(), c);
            }
            Value::Object(payload)
        }
    };
    json!({"event": event, "data": data})
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    #[test]
    fn frames() {
        let mut p = Map::new();
        p.insert("body".into(), json!("hi"));
        assert_eq!(
            encode_outbound(Frame::broadcast("room:a", "new_msg", p)),
            json!({"event": "new_msg", "data": {"body": "hi"}})
        );
        let mut p = Map::new();
        p.insert("content".into(), json!([1, 2]));
        assert_eq!(
            encode_outbound(Frame::broadcast("room:a", PUB_EVENT, p)),
            json!({"event": "pub", "data": [1, 2]})
        );
    }
}
