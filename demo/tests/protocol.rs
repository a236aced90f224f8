//! Phoenix V2 protocol behaviour of the demo server, driven by a raw WebSocket client.

mod common;

use common::TestServer;
use futures_util::SinkExt;
use serde_json::json;
use std::time::Duration;

fn ok(jr: Option<&str>, r: &str, topic: &str, response: serde_json::Value) -> serde_json::Value {
    json!([jr, r, topic, "phx_reply", {"status": "ok", "response": response}])
}

fn error(jr: Option<&str>, r: &str, topic: &str, reason: &str) -> serde_json::Value {
    json!([jr, r, topic, "phx_reply", {"status": "error", "response": {"reason": reason}}])
}

#[tokio::test]
async fn heartbeat_is_answered() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    c.send(json!([null, "5", "phoenix", "heartbeat", {}])).await;
    assert_eq!(c.recv().await, ok(None, "5", "phoenix", json!({})));
    server.stop().await;
}

#[tokio::test]
async fn join_room_ok_and_unknown_topic_error() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    let joined = c.join_room("room:lobby", "3", json!({"name": "ada"})).await;
    assert_eq!(joined.reply, ok(Some("3"), "3", "room:lobby", json!({})));
    let reply = c.join("secret:x", "4", json!({})).await;
    assert_eq!(reply, error(None, "4", "secret:x", "unmatched topic"));
    server.stop().await;
}

#[tokio::test]
async fn echo_push_gets_its_payload_back() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    c.join_room("room:lobby", "1", json!({})).await;
    let payload = json!({"n": 7, "nested": {"a": [1, "b", null]}, "s": "héllo"});
    c.send(json!(["1", "2", "room:lobby", "echo", payload]))
        .await;
    assert_eq!(c.recv().await, ok(Some("1"), "2", "room:lobby", payload));
    server.stop().await;
}

#[tokio::test]
async fn noreply_and_unknown_events() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    c.join_room("room:lobby", "1", json!({})).await;
    c.send(json!(["1", "2", "room:lobby", "noreply", {}])).await;
    c.recv_none(Duration::from_millis(300)).await;
    c.send(json!(["1", "3", "room:lobby", "nope", {}])).await;
    assert_eq!(
        c.recv().await,
        error(Some("1"), "3", "room:lobby", "unknown event")
    );
    server.stop().await;
}

#[tokio::test]
async fn new_msg_is_broadcast_with_the_senders_name() {
    let server = TestServer::start().await;
    let mut ada = server.client().await;
    let mut bob = server.client().await;
    ada.join_room("room:lobby", "1", json!({"name": "ada"}))
        .await;
    bob.join_room("room:lobby", "9", json!({"name": "bob"}))
        .await;
    ada.recv_diff("room:lobby").await; // bob joined
    let mut other = server.client().await;
    other.join_room("room:other", "1", json!({})).await;

    ada.send(json!(["1", "2", "room:lobby", "new_msg", {"body": "hi"}]))
        .await;
    // The sender gets its reply and the broadcast (the reply first).
    assert_eq!(
        ada.recv().await,
        ok(Some("1"), "2", "room:lobby", json!({}))
    );
    let mine = ada.recv().await;
    let theirs = bob.recv().await;
    assert_eq!(mine, theirs);
    assert_eq!(theirs[0], json!(null));
    assert_eq!(theirs[1], json!(null));
    assert_eq!(theirs[2], json!("room:lobby"));
    assert_eq!(theirs[3], json!("new_msg"));
    assert_eq!(theirs[4]["body"], json!("hi"));
    assert_eq!(theirs[4]["name"], json!("ada"));
    assert!(theirs[4]["at"]
        .as_u64()
        .is_some_and(|t| t > 1_600_000_000_000));
    other.recv_none(Duration::from_millis(200)).await;

    // Anonymous by default; bad bodies are refused and not broadcast.
    let mut anon = server.client().await;
    anon.join_room("room:lobby", "1", json!({})).await;
    bob.recv_diff("room:lobby").await; // anonymous joined
    anon.send(json!(["1", "2", "room:lobby", "new_msg", {"body": "yo"}]))
        .await;
    anon.recv().await; // reply
    anon.recv().await; // its own broadcast
    assert_eq!(bob.recv().await[4]["name"], json!("anonymous"));
    let long = "x".repeat(2001);
    anon.send(json!(["1", "3", "room:lobby", "new_msg", {"body": long}]))
        .await;
    assert_eq!(
        anon.recv().await,
        error(Some("1"), "3", "room:lobby", "invalid body")
    );
    anon.send(json!(["1", "4", "room:lobby", "new_msg", {"body": 1}]))
        .await;
    assert_eq!(
        anon.recv().await,
        error(Some("1"), "4", "room:lobby", "invalid body")
    );
    bob.recv_none(Duration::from_millis(200)).await;
    server.stop().await;
}

#[tokio::test]
async fn malformed_frames_are_ignored() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    for bad in [
        "not json",
        "{}",
        "[]",
        r#"[null,"1","phoenix","heartbeat"]"#,
        r#"[null,"1","phoenix","heartbeat",{},1]"#,
        r#"[1,"1","phoenix","heartbeat",{}]"#,
        r#"[null,2,"phoenix","heartbeat",{}]"#,
        r#"[null,"1",5,"heartbeat",{}]"#,
        r#"[null,"1","phoenix",null,{}]"#,
        r#"[null,"1","phoenix","heartbeat",[]]"#,
        r#"[null,"1","phoenix","heartbeat","x"]"#,
        "[\"\u{0}\"",
    ] {
        c.send_text(bad).await;
    }
    c.ws.send(tokio_tungstenite::tungstenite::Message::Binary(
        vec![0u8, 1, 2, 3].into(),
    ))
    .await
    .expect("send binary");
    c.send(json!([null, "9", "phoenix", "heartbeat", {}])).await;
    assert_eq!(c.recv().await, ok(None, "9", "phoenix", json!({})));
    server.stop().await;
}

#[tokio::test]
async fn push_on_unjoined_topic_is_an_error() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    c.send(json!(["1", "2", "room:lobby", "echo", {}])).await;
    assert_eq!(
        c.recv().await,
        error(None, "2", "room:lobby", "unmatched topic")
    );
    c.send(json!(["1", "3", "room:lobby", "phx_leave", {}]))
        .await;
    assert_eq!(
        c.recv().await,
        error(None, "3", "room:lobby", "unmatched topic")
    );
    server.stop().await;
}

#[tokio::test]
async fn leave_removes_membership() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    a.join_room("room:lobby", "1", json!({})).await;
    b.join_room("room:lobby", "1", json!({})).await;
    a.recv_diff("room:lobby").await; // b joined
    a.send(json!(["1", "2", "room:lobby", "phx_leave", {}]))
        .await;
    assert_eq!(a.recv().await, ok(Some("1"), "2", "room:lobby", json!({})));
    assert_eq!(
        a.recv().await,
        json!(["1", "1", "room:lobby", "phx_close", {}])
    );
    b.recv_diff("room:lobby").await; // a left
                                     // No longer a member: no broadcasts, and pushes are unmatched.
    b.send(json!(["1", "2", "room:lobby", "new_msg", {"body": "x"}]))
        .await;
    b.recv().await;
    b.recv().await;
    a.recv_none(Duration::from_millis(200)).await;
    a.send(json!(["1", "3", "room:lobby", "echo", {}])).await;
    assert_eq!(
        a.recv().await,
        error(None, "3", "room:lobby", "unmatched topic")
    );
    server.stop().await;
}

#[tokio::test]
async fn rejoin_closes_the_old_join_first() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    c.join_room("room:lobby", "1", json!({"name": "old"})).await;
    c.send(json!(["4", "4", "room:lobby", "phx_join", {"name": "new"}]))
        .await;
    assert_eq!(
        c.recv().await,
        json!(["1", "1", "room:lobby", "phx_close", {}])
    );
    assert_eq!(c.recv().await, ok(Some("4"), "4", "room:lobby", json!({})));
    assert_eq!(
        c.recv_diff("room:lobby").await["joins"]["new"]["metas"][0]["name"],
        json!("new")
    );
    let state = c.recv().await;
    assert_eq!(state[3], json!("presence_state"));
    assert_eq!(state[4]["new"]["metas"].as_array().map(Vec::len), Some(1));
    assert!(state[4].get("old").is_none());
    // Replies now carry the new join ref, and the new name is used.
    c.send(json!(["4", "5", "room:lobby", "new_msg", {"body": "b"}]))
        .await;
    assert_eq!(c.recv().await, ok(Some("4"), "5", "room:lobby", json!({})));
    assert_eq!(c.recv().await[4]["name"], json!("new"));
    server.stop().await;
}

#[tokio::test]
async fn dropped_connection_leaves_its_topics() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    a.join_room("room:lobby", "1", json!({})).await;
    b.join_room("room:lobby", "1", json!({})).await;
    drop(a);
    b.recv_diff("room:lobby").await; // a left
    b.send(json!(["1", "2", "room:lobby", "new_msg", {"body": "x"}]))
        .await;
    b.recv().await;
    b.recv().await;
    server.stop().await;
}

/// A Phoenix V2 binary push: `[0][join_ref len][ref len][topic len][event len]` fields, bytes.
fn binary_push(jr: &str, r: &str, topic: &str, event: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![
        0,
        jr.len() as u8,
        r.len() as u8,
        topic.len() as u8,
        event.len() as u8,
    ];
    for f in [jr, r, topic, event] {
        out.extend_from_slice(f.as_bytes());
    }
    out.extend_from_slice(payload);
    out
}

#[tokio::test]
async fn a_binary_push_is_echoed_as_a_binary_reply_and_others_are_refused() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let server = TestServer::start().await;
    let mut c = server.client().await;
    c.join_room("room:bytes", "3", json!({"name": "ada"})).await;
    let payload: Vec<u8> = (0..=255).rev().collect();
    c.ws.send(Message::Binary(
        binary_push("3", "4", "room:bytes", "binary_echo", &payload).into(),
    ))
    .await
    .expect("send");
    let reply = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match c.ws.next().await {
                Some(Ok(Message::Binary(b))) => return b.to_vec(),
                Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a binary reply, got {other:?}"),
            }
        }
    })
    .await
    .expect("a reply within 5 s");
    let mut want = vec![1, 1, 1, 10, 2];
    want.extend_from_slice(b"34room:bytesok");
    want.extend_from_slice(&payload);
    assert_eq!(reply, want);

    // Another event, and a topic not joined: text error replies; a malformed frame: nothing.
    c.ws.send(Message::Binary(
        binary_push("3", "5", "room:bytes", "upload", &[1]).into(),
    ))
    .await
    .expect("send");
    assert_eq!(
        c.recv().await,
        error(Some("3"), "5", "room:bytes", "unknown event")
    );
    c.ws.send(Message::Binary(
        binary_push("", "6", "room:other", "binary_echo", &[1]).into(),
    ))
    .await
    .expect("send");
    assert_eq!(
        c.recv().await,
        error(None, "6", "room:other", "unmatched topic")
    );
    c.ws.send(Message::Binary(vec![0, 9, 9].into()))
        .await
        .expect("send");
    c.send(json!([null, "7", "phoenix", "heartbeat", {}])).await;
    assert_eq!(c.recv().await, ok(None, "7", "phoenix", json!({})));
    server.stop().await;
}
