//! Security of the demo server: the Origin check, the frame size limit (1009), the push rate
//! limit, tokens kept out of the log, and per-user topic authorization under every spelling.

mod common;

use common::{closed_at_once, http_get, http_post, temp_dir, Client, TestServer, STEP};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tether_demo::security::{Origins, PushRate, Security, MAX_FRAME_BYTES};
use tether_demo::Config;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

async fn start_with(security: Security) -> TestServer {
    let mut config = Config::new(PathBuf::from("no-static-dir"), temp_dir("security"));
    config.security = security;
    TestServer::start_config(config, true).await
}

fn request(url: &str, headers: &[(&str, &str)]) -> Request {
    let mut req = url.into_client_request().expect("request");
    for (name, value) in headers {
        let name: tokio_tungstenite::tungstenite::http::HeaderName =
            name.parse().expect("header name");
        req.headers_mut()
            .insert(name, value.parse().expect("header value"));
    }
    req
}

/// The HTTP status of a WebSocket upgrade (101 when it succeeded).
async fn upgrade_status(req: Request) -> u16 {
    match tokio::time::timeout(STEP, tokio_tungstenite::connect_async(req))
        .await
        .expect("answer in time")
    {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// The next Close frame's code; other frames are skipped.
async fn close_code(c: &mut Client) -> u16 {
    tokio::time::timeout(STEP, async {
        loop {
            match c.ws.next().await {
                Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                Some(Ok(Message::Close(None))) => panic!("close without a code"),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("close frame in time")
}

#[tokio::test]
async fn origins_other_than_the_allowed_get_403() {
    let server = TestServer::start().await;
    let url = server.ws_url();
    let port = server.addr.port();
    let own = format!("http://127.0.0.1:{port}");
    // No Origin (a non-browser client), the page's own origin, any local dev server.
    assert_eq!(upgrade_status(request(&url, &[])).await, 101);
    for origin in [
        own.as_str(),
        "http://127.0.0.1:5173",
        "http://localhost:3000",
        "http://localhost",
    ] {
        assert_eq!(
            upgrade_status(request(&url, &[("Origin", origin)])).await,
            101,
            "{origin}"
        );
    }
    // The same host as the request's Host header, whatever it is (the demo behind a name).
    assert_eq!(
        upgrade_status(request(
            &url,
            &[
                ("Host", "chat.example:8443"),
                ("Origin", "https://chat.example:8443")
            ]
        ))
        .await,
        101
    );
    for origin in [
        "https://evil.example",
        "http://127.0.0.1.evil.example",
        "http://localhost.evil.example:3000",
        "null",
        "http://127.0.0.1:4000/x",
        "https://chat.example:8443",
    ] {
        assert_eq!(
            upgrade_status(request(&url, &[("Origin", origin)])).await,
            403,
            "{origin}"
        );
    }
    // Even a valid token does not get a foreign page in.
    let ada = server.sign_in("ada").await;
    let with_token = format!("{url}&token={}", ada["token"].as_str().expect("token"));
    assert_eq!(
        upgrade_status(request(&with_token, &[("Origin", "https://evil.example")])).await,
        403
    );
    server.stop().await;
}

#[tokio::test]
async fn a_configured_allow_list_replaces_the_default() {
    let server = start_with(Security {
        origins: Origins::parse("https://app.example, http://dev.example:*").expect("list"),
        ..Security::default()
    })
    .await;
    let url = server.ws_url();
    let own = format!("http://127.0.0.1:{}", server.addr.port());
    for (origin, status) in [
        ("https://app.example", 101),
        ("http://dev.example:8080", 101),
        ("http://app.example", 403),
        (own.as_str(), 403),
        ("http://localhost:3000", 403),
    ] {
        assert_eq!(
            upgrade_status(request(&url, &[("Origin", origin)])).await,
            status,
            "{origin}"
        );
    }
    assert_eq!(upgrade_status(request(&url, &[])).await, 101);
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_message_closes_the_socket_with_1009() {
    let server = TestServer::start().await;
    // Just under the limit: handled as usual.
    let mut c = server.client().await;
    c.join("room:big", "1", json!({})).await;
    let _ = (c.recv().await, c.recv().await); // own presence_diff, presence_state
    let filler = "x".repeat(MAX_FRAME_BYTES - 200);
    c.send(json!(["1", "2", "room:big", "echo", {"f": filler}]))
        .await;
    let reply = c.recv().await;
    assert_eq!(reply[4]["status"], "ok");
    assert_eq!(
        reply[4]["response"]["f"].as_str().map(str::len),
        Some(filler.len())
    );

    // Over it, as text and as binary: closed with 1009 "message too big".
    let over = "y".repeat(MAX_FRAME_BYTES + 1);
    c.ws.send(Message::Text(over.as_str().into()))
        .await
        .expect("send");
    assert_eq!(close_code(&mut c).await, 1009);
    let mut b = server.client().await;
    b.ws.send(Message::Binary(vec![0u8; MAX_FRAME_BYTES + 1].into()))
        .await
        .expect("send");
    assert_eq!(close_code(&mut b).await, u16::from(CloseCode::Size));

    // The server carries on.
    let mut after = server.client().await;
    after
        .send(json!([null, "1", "phoenix", "heartbeat", {}]))
        .await;
    assert_eq!(after.recv().await[4]["status"], "ok");
    server.stop().await;
}

/// A client that stops answering is pinged at half the idle timeout and closed with 1001 at
/// the whole of it, and its presence leaves the room; a client that only answers pings (a hub
/// or nova socket has no heartbeat of its own) stays connected.
#[tokio::test]
async fn a_silent_client_is_pinged_then_closed_and_leaves_presence() {
    let idle = Duration::from_millis(400);
    let server = start_with(Security {
        idle_timeout: Some(idle),
        ..Security::default()
    })
    .await;
    let mut watcher = server.client().await;
    watcher
        .join_room("room:idle", "1", json!({"name": "watcher"}))
        .await;
    let mut silent = server.client().await;
    silent
        .join_room("room:idle", "1", json!({"name": "silent"}))
        .await;
    let started = std::time::Instant::now();
    let joined = watcher.recv_diff("room:idle").await;
    assert!(joined["joins"].get("silent").is_some(), "{joined}");
    // `silent` is no longer read, so its pings go unanswered; `watcher` reads, and answers.
    let left = watcher.recv_diff("room:idle").await;
    assert!(left["leaves"].get("silent").is_some(), "{left}");
    assert!(
        started.elapsed() >= idle,
        "left after {:?}",
        started.elapsed()
    );
    let (pings, code) = silent.pings_then_close().await;
    assert_eq!((pings, code), (1, 1001));

    // Three idle timeouts later the reading client is still connected.
    watcher.recv_none(idle * 3).await;
    watcher
        .send(json!([null, "9", "phoenix", "heartbeat", {}]))
        .await;
    assert_eq!(watcher.recv().await[4]["status"], "ok");
    server.stop().await;
}

/// Send `n` echo pushes at once, then read their `n` replies; returns how many were refused.
async fn burst(c: &mut Client, topic: &str, n: usize, first_ref: usize) -> usize {
    for i in 0..n {
        let r = (first_ref + i).to_string();
        c.send(json!(["1", r, topic, "echo", {"i": i}])).await;
    }
    let mut refused = 0;
    for i in 0..n {
        let reply = c.recv().await;
        assert_eq!(reply[1], json!((first_ref + i).to_string()), "{reply}");
        match reply[4]["status"].as_str() {
            Some("ok") => assert_eq!(reply[4]["response"], json!({"i": i})),
            Some("error") => {
                assert_eq!(reply[4]["response"], json!({"reason": "rate limited"}));
                assert_eq!(reply[0], "1", "the reply carries the push's join ref");
                refused += 1;
            }
            _ => panic!("unexpected reply {reply}"),
        }
    }
    refused
}

#[tokio::test]
async fn pushes_over_the_rate_get_an_error_reply_and_the_socket_stays_open() {
    let server = start_with(Security {
        push_rate: PushRate {
            per_sec: 5,
            burst: 10,
        },
        ..Security::default()
    })
    .await;
    let mut c = server.client().await;
    c.join("room:rate", "1", json!({})).await; // one token
    let _ = (c.recv().await, c.recv().await);
    // 9 tokens left (the join took one); a few more may trickle in meanwhile.
    let refused = burst(&mut c, "room:rate", 30, 100).await;
    assert!((19..=21).contains(&refused), "refused {refused} of 30");
    // Heartbeats are never limited, even with the bucket empty.
    for i in 0..20 {
        c.send(json!([null, format!("hb{i}"), "phoenix", "heartbeat", {}]))
            .await;
        let reply = c.recv().await;
        assert_eq!(reply[4]["status"], "ok", "{reply}");
    }
    // Malformed frames count too, and are not answered.
    for _ in 0..5 {
        c.send_text("not json").await;
    }
    c.recv_none(Duration::from_millis(100)).await;
    // The bucket refills: 5 a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refused = burst(&mut c, "room:rate", 5, 200).await;
    assert!(refused <= 1, "refused {refused} of 5 after a second");
    // Another socket has a bucket of its own.
    let mut other = server.client().await;
    other.join("room:rate", "1", json!({})).await;
    let _ = (other.recv().await, other.recv().await);
    let refused = burst(&mut other, "room:rate", 9, 10).await;
    assert_eq!(refused, 0);
    server.stop().await;
}

#[tokio::test]
async fn the_default_rate_allows_a_burst_of_100() {
    let server = TestServer::start().await;
    let mut c = server.client().await;
    c.join("room:rate", "1", json!({})).await;
    let _ = (c.recv().await, c.recv().await);
    let refused = burst(&mut c, "room:rate", 150, 1000).await;
    // 99 tokens after the join, plus what 50/s adds while the burst goes through.
    assert!((30..=51).contains(&refused), "refused {refused} of 150");
    server.stop().await;
}

/// Collect every line of `pipe` into `lines`.
fn drain(pipe: impl AsyncRead + Unpin + Send + 'static, lines: Arc<Mutex<Vec<String>>>) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            lines.lock().expect("lines").push(line);
        }
    });
}

fn base64url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

#[tokio::test]
async fn tokens_are_never_written_to_the_log() {
    let dir = temp_dir("token-log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tether-demo"))
        .args(["--port", "0", "--static-dir", "no-static-dir", "--data-dir"])
        .arg(&dir)
        .env_remove("TETHER_DEMO_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn tether-demo");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    drain(child.stderr.take().expect("stderr"), lines.clone());
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(STEP, stdout.next_line())
        .await
        .expect("startup line in time")
        .expect("read")
        .expect("a line");
    let port: u16 = first
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    lines.lock().expect("lines").push(first);
    drain(stdout.into_inner(), lines.clone());
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();

    // Sign in, connect with the token in the query and in the bearer subprotocol, use it.
    let (status, body) = http_post(addr, "/api/session", &json!({"name": "Token Holder"})).await;
    assert_eq!(status, 200, "{body}");
    let session: Value = serde_json::from_str(&body).expect("JSON");
    let token = session["token"].as_str().expect("token").to_owned();
    let user = session["user_id"].as_str().expect("user").to_owned();
    let topic = session["topic"].as_str().expect("topic").to_owned();
    let url = format!("ws://{addr}/socket/websocket?vsn=2.0.0");
    let mut by_query = Client::connect(&format!("{url}&token={token}")).await;
    let bearer = format!("phoenix, base64url.bearer.phx.{}", base64url(&token));
    let (ws, _) = tokio_tungstenite::connect_async(request(
        &url,
        &[("Sec-WebSocket-Protocol", bearer.as_str())],
    ))
    .await
    .expect("connect with the bearer subprotocol");
    let mut by_protocol = Client { ws };
    for c in [&mut by_query, &mut by_protocol] {
        let reply = c.join(&topic, "1", json!({"token": token})).await;
        assert_eq!(reply[4]["status"], "ok", "{reply}");
        c.send(json!(["1", "2", topic, "sync", {"since": token}]))
            .await;
        c.recv().await;
        // A refused join with the token in its params, and a malformed frame holding it.
        c.join(
            "user:someone-else:notifications",
            "3",
            json!({"token": token}),
        )
        .await;
        c.send_text(&format!("[\"{token}\"")).await;
        c.join("room:lobby", "4", json!({"name": "tok", "token": token}))
            .await;
    }
    let (status, _) = http_post(
        addr,
        "/api/notify",
        &json!({"user": user, "kind": "alert", "title": "hello"}),
    )
    .await;
    assert_eq!(status, 200);
    // Refused sockets: a token from a foreign origin (403), a tampered token and a token in
    // both places disagreeing (closed with 4401).
    let tampered = format!("{token}x");
    let foreign = request(
        &format!("{url}&token={token}"),
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(upgrade_status(foreign).await, 403);
    let unauthorized = [
        request(&format!("{url}&token={tampered}"), &[]),
        request(
            &format!("{url}&token={token}"),
            &[(
                "Sec-WebSocket-Protocol",
                format!("phoenix, base64url.bearer.phx.{}", base64url(&tampered)).as_str(),
            )],
        ),
    ];
    for req in unauthorized {
        let (code, reason) = closed_at_once(req).await;
        assert_eq!(code, 4401);
        assert!(!reason.contains(&tampered), "{reason}");
    }
    http_get(addr, &format!("/api/notifications/{token}")).await;
    http_get(addr, &format!("/{token}")).await;
    drop((by_query, by_protocol));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().expect("pid").to_string()])
        .status()
        .await
        .expect("kill");
    assert!(status.success());
    let exit = tokio::time::timeout(STEP, child.wait())
        .await
        .expect("exits in time")
        .expect("wait");
    assert!(exit.success(), "{exit:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;

    let log = lines.lock().expect("lines").join("\n");
    assert!(
        log.contains("connected from") && log.contains("refused"),
        "the log was captured:\n{log}"
    );
    let (payload, signature) = token.split_once('.').expect("two parts");
    for secret in [token.as_str(), payload, signature, &base64url(&token)] {
        assert!(
            !log.contains(secret),
            "the log holds (part of) the token {secret:?}:\n{log}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn s(v: &Value) -> &str {
    v.as_str().expect("a string")
}

#[tokio::test]
async fn a_user_cannot_read_another_users_notifications_by_any_topic_spelling() {
    // Three frames per spelling: more than the default push rate allows at once.
    let server = start_with(Security {
        push_rate: PushRate::UNLIMITED,
        ..Security::default()
    })
    .await;
    let ada = server.sign_in("ada").await;
    let bob = server.sign_in("bob").await;
    let (ada_id, bob_id) = (s(&ada["user_id"]), s(&bob["user_id"]));
    let bob_topic = s(&bob["topic"]).to_owned();
    let mut spy = server.client_with_token(s(&ada["token"])).await;
    let up = bob_id.to_uppercase();
    // Every spelling that could be taken for Bob's topic, or for a pattern covering it.
    let mut spellings: Vec<String> = vec![
        bob_topic.clone(),
        // case
        format!("USER:{bob_id}:notifications"),
        format!("User:{bob_id}:Notifications"),
        format!("user:{up}:notifications"),
        format!("user:{bob_id}:NOTIFICATIONS"),
        // whitespace
        format!(" user:{bob_id}:notifications"),
        format!("user:{bob_id}:notifications "),
        format!("user: {bob_id}:notifications"),
        format!("user:{bob_id} :notifications"),
        format!("user:\t{bob_id}:notifications"),
        format!("user:{bob_id}:notifications\n"),
        format!("user:{bob_id}\u{00a0}:notifications"),
        // extra or missing colons and segments
        format!("user::{bob_id}:notifications"),
        format!("user:{bob_id}::notifications"),
        format!("user:{bob_id}:notifications:"),
        format!(":user:{bob_id}:notifications"),
        format!("user:{ada_id}:{bob_id}:notifications"),
        format!("user:{bob_id}:{ada_id}:notifications"),
        format!("user:{bob_id}:notifications:{ada_id}"),
        format!("user:{bob_id}"),
        format!("user:{bob_id}:"),
        format!("user:{bob_id}:*"),
        "user:*:notifications".to_owned(),
        "user:*".to_owned(),
        "user::notifications".to_owned(),
        "user:".to_owned(),
        // unicode lookalikes: fullwidth, Cyrillic, ratio/modifier colons, zero-width and
        // combining characters, compatibility forms that normalize to Bob's topic
        format!("\u{ff55}\u{ff53}\u{ff45}\u{ff52}:{bob_id}:notifications"),
        format!("user\u{ff1a}{bob_id}\u{ff1a}notifications"),
        format!("user\u{2236}{bob_id}\u{2236}notifications"),
        format!("user\u{a789}{bob_id}\u{a789}notifications"),
        format!("us\u{0435}r:{bob_id}:notifications"),
        format!("user:{bob_id}:n\u{043e}tifications"),
        format!("user:\u{200b}{bob_id}:notifications"),
        format!("user:{bob_id}\u{200d}:notifications"),
        format!("user:{bob_id}\u{0301}:notifications"),
        format!("\u{feff}user:{bob_id}:notifications"),
        format!("user:{bob_id}:notifications\u{0000}"),
        format!("user:{}:notifications", bob_id.replace('-', "\u{2010}")),
        format!("user:{}:notifications", bob_id.replace('b', "\u{0431}")),
        // URL- and other encodings
        format!("user%3A{bob_id}%3Anotifications"),
        format!("user%3a{bob_id}%3anotifications"),
        format!("user:{bob_id}%3Anotifications"),
        format!("user:{}:notifications", bob_id.replace('-', "%2D")),
        format!("user%253A{bob_id}%253Anotifications"),
        format!("user:{bob_id}:notifications%00"),
        format!("user:{bob_id}:notifications%20"),
        format!("user&#58;{bob_id}&#58;notifications"),
        format!("user\\u003a{bob_id}\\u003anotifications"),
        format!("user:{bob_id}:notifications/../{ada_id}"),
        format!("user:{ada_id}:notifications/../../user:{bob_id}:notifications"),
    ];
    // Ada's own topic respelled is refused too (only the exact topic is hers).
    spellings.push(format!("USER:{ada_id}:notifications"));
    spellings.push(format!("user%3A{ada_id}%3Anotifications"));
    for (i, topic) in spellings.iter().enumerate() {
        let jr = (10 + i).to_string();
        let reply = spy.join(topic, &jr, json!({})).await;
        assert_eq!(reply[2], json!(topic), "{reply}");
        assert_eq!(reply[3], "phx_reply", "{reply}");
        assert_eq!(reply[4]["status"], "error", "{topic:?} was joined: {reply}");
        let reason = s(&reply[4]["response"]["reason"]);
        assert!(
            reason == "unauthorized" || reason == "unmatched topic",
            "{topic:?}: {reason}"
        );
        // And no push on it reads anything.
        for (n, event) in ["sync", "mark_all_read"].iter().enumerate() {
            let r = format!("{jr}.{n}");
            spy.send(json!([jr, r, topic, event, {}])).await;
            let reply = spy.recv().await;
            assert_eq!(reply[4]["status"], "error", "{topic:?} {event}: {reply}");
            assert_eq!(reply[4]["response"]["reason"], "unmatched topic");
            assert!(reply[4]["response"].get("recent").is_none());
        }
    }
    // Bob's notifications reach Bob, never Ada's socket.
    let mut bob_client = server.client_with_token(s(&bob["token"])).await;
    assert_eq!(
        bob_client.join(&bob_topic, "1", json!({})).await[4]["status"],
        "ok"
    );
    let (status, body) = http_post(
        server.addr,
        "/api/notify",
        &json!({"user": bob_id, "kind": "alert", "title": "for bob only"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let pushed = bob_client.recv().await;
    assert_eq!(pushed[3], "notification:new");
    spy.recv_none(Duration::from_millis(300)).await;
    // Ada's own topic still works on the same socket after all the refusals.
    let reply = spy.join(s(&ada["topic"]), "900", json!({})).await;
    assert_eq!(reply[4]["status"], "ok", "{reply}");
    server.stop().await;
}
