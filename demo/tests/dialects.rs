//! The hub (`/ws?c=…`) and nova (`/nova/<topic>`, `/notifications`) dialects, bridged with the
//! Phoenix endpoint's topics.

mod common;

use common::{Client, TestServer, STEP};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::{self, Message};

const QUIET: Duration = Duration::from_millis(300);

async fn hub(server: &TestServer, channels: &[&str]) -> Client {
    let query: Vec<String> = channels.iter().map(|c| format!("c={c}")).collect();
    Client::connect(&format!("ws://{}/ws?{}", server.addr, query.join("&"))).await
}

async fn nova(server: &TestServer, path: &str) -> Client {
    Client::connect(&format!("ws://{}{path}", server.addr)).await
}

async fn publish(client: &mut Client, channel: &str, content: Value) {
    client
        .send(json!({"method": "pub", "params": {"channel": channel, "content": content}}))
        .await;
}

/// Next text frame as text (not parsed); panics after 5 s or on close.
async fn recv_text(client: &mut Client) -> String {
    tokio::time::timeout(STEP, async {
        loop {
            match client.ws.next().await {
                Some(Ok(Message::Text(t))) => return t.as_str().to_owned(),
                Some(Ok(Message::Close(c))) => panic!("socket closed: {c:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("socket error: {e}"),
                None => panic!("socket ended"),
            }
        }
    })
    .await
    .expect("a frame within 5 s")
}

/// The HTTP status an upgrade to `url` is refused with.
async fn refused_status(url: &str) -> u16 {
    match tokio::time::timeout(STEP, tokio_tungstenite::connect_async(url))
        .await
        .expect("answer in time")
    {
        Err(tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("upgrade to {url} was accepted"),
    }
}

fn assert_new_msg(payload: &Value, body: &str, name: &str) {
    assert_eq!(payload["body"], body, "{payload}");
    assert_eq!(payload["name"], name, "{payload}");
    assert!(payload["at"].is_i64(), "{payload}");
    assert_eq!(payload.as_object().map(|m| m.len()), Some(3), "{payload}");
}

#[tokio::test]
async fn hub_publish_reaches_hub_subscribers_and_phoenix_clients() {
    let server = TestServer::start().await;
    let mut phx = server.client().await;
    phx.join_room("room:lobby", "1", json!({"name": "ada"}))
        .await;
    let mut a = hub(&server, &["room:lobby"]).await;
    let mut b = hub(&server, &["room:lobby", "room:hubonly"]).await;

    publish(&mut a, "room:lobby", json!({"body": "hi"})).await;
    let f = phx.recv().await;
    assert_eq!(
        (&f[0], &f[1], &f[2], &f[3]),
        (
            &Value::Null,
            &Value::Null,
            &json!("room:lobby"),
            &json!("new_msg")
        ),
        "{f}"
    );
    assert_new_msg(&f[4], "hi", "hub");
    for client in [&mut a, &mut b] {
        let m = client.recv().await;
        assert_eq!(m["channel"], "room:lobby", "{m}");
        assert_eq!(m["content"]["event"], "new_msg", "{m}");
        assert_eq!(m["content"]["payload"], f[4], "same broadcast: {m}");
        assert_eq!(m.as_object().map(|o| o.len()), Some(2), "{m}");
    }

    // A `name` string in the content names the message.
    publish(&mut b, "room:lobby", json!({"body": "yo", "name": "bob"})).await;
    assert_new_msg(&phx.recv().await[4], "yo", "bob");
    assert_new_msg(&a.recv().await["content"]["payload"], "yo", "bob");
    assert_new_msg(&b.recv().await["content"]["payload"], "yo", "bob");

    // Other content on a channel only hub sockets use: delivered as published, to its
    // subscribers only (created on demand).
    publish(&mut a, "room:hubonly", json!([1, {"x": null}, "z"])).await;
    assert_eq!(
        b.recv().await,
        json!({"channel": "room:hubonly", "content": [1, {"x": null}, "z"]})
    );

    // Each broadcast arrived exactly once.
    a.recv_none(QUIET).await;
    b.recv_none(QUIET).await;
    phx.recv_none(QUIET).await;
    server.stop().await;
}

#[tokio::test]
async fn phoenix_broadcasts_reach_hub_subscribers() {
    let server = TestServer::start().await;
    let mut h = hub(&server, &["room:lobby"]).await;
    let mut other = hub(&server, &["room:elsewhere"]).await;
    let mut phx = server.client().await;
    phx.join_room("room:lobby", "1", json!({"name": "ada"}))
        .await;

    // The Phoenix join's presence_diff, in the {event, payload} shape.
    let m = h.recv().await;
    assert_eq!(m["channel"], "room:lobby", "{m}");
    assert_eq!(m["content"]["event"], "presence_diff", "{m}");
    assert!(m["content"]["payload"]["joins"]["ada"].is_object(), "{m}");

    phx.send(json!(["1", "2", "room:lobby", "new_msg", {"body": "hello"}]))
        .await;
    let reply = phx.recv().await;
    assert_eq!(reply[3], "phx_reply");
    let bcast = phx.recv().await;
    let m = h.recv().await;
    assert_eq!(
        m,
        json!({"channel": "room:lobby", "content": {"event": "new_msg", "payload": bcast[4]}})
    );
    assert_new_msg(&m["content"]["payload"], "hello", "ada");

    h.recv_none(QUIET).await;
    other.recv_none(QUIET).await;
    server.stop().await;
}

#[tokio::test]
async fn malformed_hub_frames_are_ignored() {
    let server = TestServer::start().await;
    let mut h = hub(&server, &["room:lobby"]).await;
    for bad in [
        "not json",
        "[]",
        "{}",
        r#"{"method":"sub","params":{"channel":"room:lobby","content":1}}"#,
        r#"{"method":"pub"}"#,
        r#"{"method":"pub","params":[]}"#,
        r#"{"method":"pub","params":{"channel":7,"content":1}}"#,
        r#"{"method":"pub","params":{"channel":"room:lobby"}}"#,
        r#"{"method":"pub","params":{"channel":"user:u1:notifications","content":{"body":"x"}}}"#,
        r#"{"method":"pub","params":{"channel":"room:lobby","content":{"body":5}}}"#,
    ] {
        h.send_text(bad).await;
    }
    h.ws.send(Message::Binary(vec![1u8, 2, 3].into()))
        .await
        .expect("send");
    // `{"body": 5}` is not a chat message, so it is published as plain content.
    assert_eq!(
        h.recv().await,
        json!({"channel": "room:lobby", "content": {"body": 5}})
    );
    publish(&mut h, "room:lobby", json!("still here")).await;
    assert_eq!(
        h.recv().await,
        json!({"channel": "room:lobby", "content": "still here"})
    );
    h.recv_none(QUIET).await;
    server.stop().await;
}

/// The MemoriesDB hub seed's own example, byte for byte: `new WebSocket(
/// 'ws://localhost:5002/ws?c=updates&c=notifications')` and its `publish(channel, content)`,
/// which sends `JSON.stringify({method: 'pub', params: {channel: channel, content: content}})`.
/// Channels are created on demand; `notifications` here is the hub's own channel of that name,
/// not anybody's private notifications.
#[tokio::test]
async fn the_seed_hub_example_works_as_written() {
    let server = TestServer::start().await;
    let url = format!("ws://{}/ws?c=updates&c=notifications", server.addr);
    let mut a = Client::connect(&url).await;
    let mut b = Client::connect(&url).await;
    let mut only_updates = hub(&server, &["updates"]).await;

    // The seed's publish frame, as JSON.stringify writes it (key order included).
    a.send_text(
        r#"{"method":"pub","params":{"channel":"updates","content":{"status":"saved","id":7}}}"#,
    )
    .await;
    let expected = json!({"channel": "updates", "content": {"status": "saved", "id": 7}});
    for c in [&mut a, &mut b, &mut only_updates] {
        assert_eq!(c.recv().await, expected);
    }
    // Content is delivered as published on a hub channel, even one shaped like a chat message.
    publish(&mut b, "notifications", json!({"body": "hi"})).await;
    let expected = json!({"channel": "notifications", "content": {"body": "hi"}});
    assert_eq!(a.recv().await, expected);
    assert_eq!(b.recv().await, expected);
    only_updates.recv_none(QUIET).await;

    // A user's notifications never reach the hub's `notifications` channel.
    let user = server.sign_in("ada").await;
    let (status, body) = common::http_post(
        server.addr,
        "/api/notify",
        &json!({"user": user["user_id"], "kind": "alert", "title": "private"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // A Phoenix client cannot join a hub-only channel (nothing serves it there).
    let mut phx = server.client().await;
    let reply = phx.join("updates", "1", json!({})).await;
    assert_eq!(reply[4]["status"], "error", "{reply}");
    publish(&mut a, "updates", json!(1)).await;
    phx.recv_none(QUIET).await;
    for c in [&mut a, &mut b, &mut only_updates] {
        assert_eq!(c.recv().await, json!({"channel": "updates", "content": 1}));
        c.recv_none(QUIET).await;
    }
    server.stop().await;
}

/// A channel list that breaks the rules opens the socket and closes it at once, with a code
/// and a reason a browser can read; a user's private topic is never reachable from the hub.
#[tokio::test]
async fn refused_hub_channels_close_the_socket_with_a_reason() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let server = TestServer::start().await;
    let a = server.addr;
    let user = server.sign_in("ada").await;
    let topic = user["topic"].as_str().expect("topic").to_owned();
    let many: Vec<String> = (0..=32).map(|i| format!("c=ch{i}")).collect();
    let cases = [
        (
            format!("/ws?c=updates&c={topic}"),
            4403,
            format!("forbidden: channel \"{topic}\" is a private user topic"),
        ),
        (
            "/ws?c=USER:x:notifications".to_owned(),
            4403,
            "forbidden: channel \"USER:x:notifications\" is a private user topic".to_owned(),
        ),
        (
            format!("/ws?{}", many.join("&")),
            4400,
            "bad request: at most 32 channels per socket".to_owned(),
        ),
        (
            format!("/ws?c={}", "x".repeat(201)),
            4400,
            "bad request: channel name longer than 200 characters".to_owned(),
        ),
        (
            "/ws?c=".to_owned(),
            4400,
            "bad request: empty channel name".to_owned(),
        ),
        (
            "/ws?c=a%0Ab".to_owned(),
            4400,
            "bad request: control character in a channel name".to_owned(),
        ),
    ];
    for (path, code, reason) in cases {
        let req = format!("ws://{a}{path}")
            .into_client_request()
            .expect("request");
        assert_eq!(common::closed_at_once(req).await, (code, reason), "{path}");
    }
    // The longest name and the most channels allowed are fine.
    let mut edge = Client::connect(&format!("ws://{a}/ws?{}", many[..32].join("&"))).await;
    publish(&mut edge, "ch31", json!(1)).await;
    assert_eq!(edge.recv().await, json!({"channel": "ch31", "content": 1}));
    let longest = "x".repeat(200);
    let mut long = Client::connect(&format!("ws://{a}/ws?c={longest}")).await;
    publish(&mut long, &longest, json!(2)).await;
    assert_eq!(long.recv().await, json!({"channel": longest, "content": 2}));

    // Publishing to the user's topic from the hub reaches nobody there.
    let mut owner = server
        .client_with_token(user["token"].as_str().expect("token"))
        .await;
    let reply = owner.join(&topic, "1", json!({})).await;
    assert_eq!(reply[4]["status"], "ok", "{reply}");
    publish(&mut edge, &topic, json!({"body": "spoof"})).await;
    publish(&mut edge, &topic.to_uppercase(), json!({"body": "spoof"})).await;
    owner.recv_none(QUIET).await;
    edge.recv_none(QUIET).await;

    // nova keeps to the Phoenix rooms: anything else is refused before the upgrade.
    assert_eq!(
        refused_status(&format!("ws://{a}/nova/user:u1:notifications")).await,
        403
    );
    assert_eq!(refused_status(&format!("ws://{a}/nova/updates")).await, 403);
    // Percent-encoded names are decoded.
    let mut h = Client::connect(&format!("ws://{a}/ws?c=room%3Aenc")).await;
    publish(&mut h, "room:enc", json!(1)).await;
    assert_eq!(h.recv().await, json!({"channel": "room:enc", "content": 1}));
    server.stop().await;
}

#[tokio::test]
async fn nova_ping_is_answered_with_pong() {
    let server = TestServer::start().await;
    for path in ["/notifications", "/nova/room:lobby", "/nova/room%3Aother"] {
        let mut n = nova(&server, path).await;
        n.send_text("hello").await;
        n.send_text(r#"{"event":"x"}"#).await;
        n.send_text("ping").await;
        assert_eq!(recv_text(&mut n).await, "pong", "{path}");
        n.send_text("ping").await;
        assert_eq!(recv_text(&mut n).await, "pong", "{path}");
        n.recv_none(QUIET).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn phoenix_and_hub_broadcasts_reach_nova_clients() {
    let server = TestServer::start().await;
    let mut alias = nova(&server, "/notifications").await;
    let mut direct = nova(&server, "/nova/room:lobby").await;
    let mut elsewhere = nova(&server, "/nova/room:elsewhere").await;
    let mut phx = server.client().await;
    phx.join_room("room:lobby", "1", json!({"name": "ada"}))
        .await;

    for n in [&mut alias, &mut direct] {
        let m = n.recv().await;
        assert_eq!(m["event"], "presence_diff", "{m}");
        assert!(m["data"]["joins"]["ada"].is_object(), "{m}");
    }

    phx.send(json!(["1", "2", "room:lobby", "new_msg", {"body": "hello"}]))
        .await;
    assert_eq!(phx.recv().await[3], "phx_reply");
    let bcast = phx.recv().await;
    for n in [&mut alias, &mut direct] {
        let m = n.recv().await;
        assert_eq!(m, json!({"event": "new_msg", "data": bcast[4]}));
        assert_new_msg(&m["data"], "hello", "ada");
    }

    let mut h = hub(&server, &[]).await;
    publish(&mut h, "room:lobby", json!({"body": "from hub"})).await;
    publish(&mut h, "room:lobby", json!({"k": [1, 2]})).await;
    for n in [&mut alias, &mut direct] {
        let m = n.recv().await;
        assert_eq!(m["event"], "new_msg", "{m}");
        assert_new_msg(&m["data"], "from hub", "hub");
        assert_eq!(
            n.recv().await,
            json!({"event": "pub", "data": {"k": [1, 2]}})
        );
        n.recv_none(QUIET).await;
    }
    elsewhere.recv_none(QUIET).await;
    h.recv_none(QUIET).await;
    server.stop().await;
}

/// A hub socket has no heartbeat: while it answers pings it stays open past the idle timeout;
/// once it stops reading it is pinged, then closed with 1001.
#[tokio::test]
async fn a_hub_socket_lives_on_pongs_and_is_closed_when_silent() {
    let idle = Duration::from_millis(300);
    let mut config = tether_demo::Config::new(
        std::path::PathBuf::from("no-static-dir"),
        common::temp_dir("dialect-idle"),
    );
    config.security.idle_timeout = Some(idle);
    let server = TestServer::start_config(config, true).await;
    let mut h = hub(&server, &["room:idle"]).await;
    // Reading answers the server's pings: no text, no close, for three idle timeouts.
    let quiet = tokio::time::timeout(idle * 3, async {
        loop {
            match h.ws.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => return other,
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "expected silence, got {quiet:?}");
    // Not read any more: pinged once, then closed.
    tokio::time::sleep(idle * 2).await;
    let (pings, code) = h.pings_then_close().await;
    // (A ping read just as the first phase ended may have gone unanswered: at most one here.)
    assert!(pings <= 1, "{pings} pings");
    assert_eq!(code, 1001);
    server.stop().await;
}
