//! Sign-in tokens, the `user:{id}:notifications` channel, `POST /api/notify`, and persistence
//! across a restart. The tests of what the store keeps run on SQLite (one test each) and on
//! PostgreSQL (`the_store_tests_pass_on_postgres`: one server started here, a fresh database
//! per test).

mod common;

use common::pg::Pg;
use common::{http_get, http_post, temp_dir, Client, TestServer};
use std::path::PathBuf;
use tether_demo::store::StoreConfig;
use tether_demo::Config;

/// Where a test server keeps its notifications.
#[derive(Debug, Clone, PartialEq)]
enum Backend {
    Sqlite,
    /// A PostgreSQL database URL.
    Postgres(String),
}

impl Backend {
    /// A server on a fresh data directory (and this backend).
    async fn server(&self) -> TestServer {
        self.start(temp_dir("data"), true).await
    }

    /// A server on `dir` (left in place), and this backend.
    async fn server_in(&self, dir: PathBuf) -> TestServer {
        self.start(dir, false).await
    }

    async fn start(&self, dir: PathBuf, owns: bool) -> TestServer {
        let mut config = Config::new(PathBuf::from("static-dir-that-does-not-exist"), dir);
        if let Backend::Postgres(url) = self {
            config.store = StoreConfig::Postgres(url.clone());
        }
        TestServer::start_config(config, owns).await
    }
}

#[tokio::test]
async fn the_store_tests_pass_on_postgres() {
    let dir = temp_dir("notifications-pg");
    let pg = Pg::start(&dir).await;
    let on = |name: &'static str| {
        let pg = &pg;
        async move { Backend::Postgres(pg.database(name).await) }
    };
    notify_pushes_to_joined_connections_and_persists_on(&on("notify").await).await;
    sync_returns_the_50_newest_and_the_full_count_on(&on("sync").await).await;
    mark_read_and_mark_all_read_reply_and_broadcast_on(&on("marks").await).await;
    counts_ignore_system_transient_toast_and_expired_on(&on("counts").await).await;
    data_and_tokens_survive_a_restart_on(&on("restart").await).await;
    pg.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn ok(jr: &str, r: &str, topic: &str, response: Value) -> Value {
    json!([jr, r, topic, "phx_reply", {"status": "ok", "response": response}])
}

fn unauthorized(jr: &str, r: &str, topic: &str) -> Value {
    json!([jr, r, topic, "phx_reply", {"status": "error", "response": {"reason": "unauthorized"}}])
}

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// The ids of a `sync` reply's `recent`, in order.
fn recent_ids(reply: &Value) -> Vec<&str> {
    reply["recent"]
        .as_array()
        .map(|a| a.iter().map(|n| s(&n["id"])).collect())
        .unwrap_or_default()
}

/// A signed-in user: its sign-in response and an authenticated client joined to its topic.
struct User {
    id: String,
    topic: String,
    token: String,
    client: Client,
}

async fn sign_in_and_join(server: &TestServer, name: &str) -> User {
    let session = server.sign_in(name).await;
    let token = s(&session["token"]).to_owned();
    let id = s(&session["user_id"]).to_owned();
    let topic = format!("user:{id}:notifications");
    assert_eq!(session["topic"], json!(topic));
    let mut client = server.client_with_token(&token).await;
    let reply = client.join(&topic, "1", json!({})).await;
    assert_eq!(reply, ok("1", "1", &topic, json!({})));
    User {
        id,
        topic,
        token,
        client,
    }
}

/// Push `event` on `topic` (join ref "1") and return the reply's `[status, response]`.
async fn push(
    c: &mut Client,
    topic: &str,
    r: &str,
    event: &str,
    payload: Value,
) -> (String, Value) {
    c.send(json!(["1", r, topic, event, payload])).await;
    recv_reply(c, topic, r).await
}

/// The next frame, which must be the reply to `r` on `topic`; its `[status, response]`.
async fn recv_reply(c: &mut Client, topic: &str, r: &str) -> (String, Value) {
    let reply = c.recv().await;
    assert_eq!(
        (&reply[0], &reply[1], &reply[2], &reply[3]),
        (&json!("1"), &json!(r), &json!(topic), &json!("phx_reply")),
        "{reply}"
    );
    (
        s(&reply[4]["status"]).to_owned(),
        reply[4]["response"].clone(),
    )
}

/// Push a `mark_read` / `mark_all_read` that changes something (join ref "1"): the pusher gets
/// its `broadcast` first, then the reply — a Phoenix channel's order (`broadcast!` then
/// `{:reply, …}`). Returns the broadcast's payload and the reply's response.
async fn push_broadcast_first(
    c: &mut Client,
    topic: &str,
    r: &str,
    event: &str,
    payload: Value,
    broadcast: &str,
) -> (Value, Value) {
    c.send(json!(["1", r, topic, event, payload])).await;
    let seen = recv_event(c, topic, broadcast).await;
    let (status, response) = recv_reply(c, topic, r).await;
    assert_eq!(status, "ok", "{response}");
    (seen, response)
}

async fn notify(server: &TestServer, body: Value) -> Value {
    let (status, text) = http_post(server.addr, "/api/notify", &body).await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    v["notification"].clone()
}

async fn stored(server: &TestServer, user: &str) -> Value {
    let (status, body) = http_get(server.addr, &format!("/api/notifications/{user}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

/// The next frame, which must be a broadcast of `event` on `topic`; returns its payload.
async fn recv_event(c: &mut Client, topic: &str, event: &str) -> Value {
    let f = c.recv().await;
    assert_eq!(
        (&f[0], &f[1], &f[2], &f[3]),
        (&Value::Null, &Value::Null, &json!(topic), &json!(event)),
        "expected {event}: {f}"
    );
    f[4].clone()
}

fn is_iso_ms(v: &Value) -> bool {
    let t = s(v).as_bytes();
    t.len() == 24
        && t[4] == b'-'
        && t[10] == b'T'
        && t[19] == b'.'
        && t[23] == b'Z'
        && t.iter()
            .enumerate()
            .all(|(i, b)| [4, 7, 10, 13, 16, 19, 23].contains(&i) || b.is_ascii_digit())
}

#[tokio::test]
async fn session_tokens_round_trip() {
    let server = TestServer::start().await;
    let a = server.sign_in("  Ada Lovelace ").await;
    let b = server.sign_in("Ada Lovelace").await;
    assert_eq!(a["user_id"], b["user_id"], "same name, same user");
    assert_eq!(a["name"], json!("Ada Lovelace"));
    let id = s(&a["user_id"]);
    assert!(id.starts_with("ada-lovelace-"), "{id}");
    assert!(id
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_'));
    assert_ne!(server.sign_in("Bob").await["user_id"], a["user_id"]);

    for bad in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "  "}),
        json!({"name": 7}),
    ] {
        let (status, body) = http_post(server.addr, "/api/session", &bad).await;
        assert_eq!(status, 400, "{bad}");
        assert!(serde_json::from_str::<Value>(&body).expect("JSON")["error"].is_string());
    }

    // The token works in the query…
    let user = sign_in_and_join(&server, "Ada Lovelace").await;
    assert_eq!(user.id, id);
    // …and in phoenix.js's bearer subprotocol (standard base64 without padding, like btoa).
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&user.token);
    let mut req = server.ws_url().into_client_request().expect("request");
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        format!("phoenix, base64url.bearer.phx.{encoded}")
            .parse()
            .expect("header"),
    );
    let (ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("connect");
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("phoenix")
    );
    let mut c = Client { ws };
    assert_eq!(
        c.join(&user.topic, "5", json!({})).await,
        ok("5", "5", &user.topic, json!({}))
    );

    // An authenticated connection is named by its token, not by join params.
    let joined = c
        .join_room("room:lobby", "6", json!({"name": "mallory"}))
        .await;
    assert_eq!(
        joined.state["Ada Lovelace"]["metas"][0]["name"],
        json!("Ada Lovelace"),
        "{}",
        joined.state
    );
    assert!(joined.state.get("mallory").is_none());
    server.stop().await;
}

#[tokio::test]
async fn a_bad_token_closes_the_socket_with_4401_and_says_why() {
    let secret = b"a secret for the 4401 test, 32+ bytes".to_vec();
    let mut config = tether_demo::Config::new("no-static-dir", temp_dir("bad-token"));
    config.secret = Some(secret.clone());
    let server = TestServer::start_config(config, true).await;
    let other = TestServer::start().await;
    let token = s(&server.sign_in("ada").await["token"]).to_owned();
    let foreign = s(&other.sign_in("ada").await["token"]).to_owned();
    let (payload, sig) = token.split_once('.').expect("two parts");
    let tampered = format!("{payload}x.{sig}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let (_, expired) = tether_demo::auth::Auth::new(&secret)
        .issue("ada", now - tether_demo::auth::MAX_AGE_MS - 60_000);
    for (bad, why) in [
        ("garbage", "unauthorized: malformed token"),
        ("a.b", "unauthorized: malformed token"),
        ("%ZZ", "unauthorized: malformed token"),
        (
            foreign.as_str(),
            "unauthorized: token not signed by this server",
        ),
        (
            tampered.as_str(),
            "unauthorized: token not signed by this server",
        ),
        (expired.as_str(), "unauthorized: token expired"),
    ] {
        let url = format!("{}&token={bad}", server.ws_url());
        let req = url.into_client_request().expect("request");
        let (code, reason) = common::closed_at_once(req).await;
        assert_eq!(code, 4401, "token {bad}");
        assert!(reason.starts_with(why), "token {bad}: {reason:?}");
    }
    let mut req = server.ws_url().into_client_request().expect("request");
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "phoenix, base64url.bearer.phx.bm9wZQ"
            .parse()
            .expect("header"),
    );
    let (code, reason) = common::closed_at_once(req).await;
    assert_eq!(
        (code, reason.as_str()),
        (
            4401,
            tether_demo::auth::TokenError::Malformed.close_reason()
        )
    );
    // Two different tokens at once are refused too.
    let mut req = format!("{}&token={token}", server.ws_url())
        .into_client_request()
        .expect("request");
    use base64::Engine;
    let other_token = s(&server.sign_in("bob").await["token"]).to_owned();
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(other_token);
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        format!("phoenix, base64url.bearer.phx.{encoded}")
            .parse()
            .expect("header"),
    );
    let (code, reason) = common::closed_at_once(req).await;
    assert_eq!(code, 4401);
    assert!(
        reason.starts_with("unauthorized: two different tokens"),
        "{reason:?}"
    );

    // No token at all (or an empty one) is an anonymous connection.
    let mut anon = Client::connect(&format!("{}&token=", server.ws_url())).await;
    anon.join_room("room:lobby", "1", json!({"name": "guest"}))
        .await;
    let mut good = server.client_with_token(&token).await;
    good.send(json!([null, "1", "phoenix", "heartbeat", {}]))
        .await;
    assert_eq!(
        good.recv().await,
        json!([null, "1", "phoenix", "phx_reply", {"status": "ok", "response": {}}])
    );
    other.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn anonymous_connections_cannot_join_a_user_topic() {
    let server = TestServer::start().await;
    let id = s(&server.sign_in("ada").await["user_id"]).to_owned();
    let topic = format!("user:{id}:notifications");
    let mut anon = server.client().await;
    assert_eq!(
        anon.join(&topic, "3", json!({})).await,
        unauthorized("3", "3", &topic)
    );
    // Not a member, so pushes are unmatched.
    anon.send(json!(["3", "4", topic, "sync", {}])).await;
    assert_eq!(
        anon.recv().await,
        json!([null, "4", topic, "phx_reply", {"status": "error", "response": {"reason": "unmatched topic"}}])
    );
    // Nothing is pushed to it.
    notify(
        &server,
        json!({"user": id, "kind": "alert", "title": "secret"}),
    )
    .await;
    anon.recv_none(Duration::from_millis(200)).await;
    server.stop().await;
}

#[tokio::test]
async fn a_user_cannot_join_another_users_topic() {
    let server = TestServer::start().await;
    let mut ada = sign_in_and_join(&server, "ada").await;
    let bob = server.sign_in("bob").await;
    let bob_id = s(&bob["user_id"]);
    let spellings = [
        format!("user:{bob_id}:notifications"),
        format!("user:{}:notifications", ada.id.to_uppercase()),
        format!("USER:{}:notifications", ada.id),
        format!("user:{}:Notifications", ada.id),
        format!("user:{}:notifications:", ada.id),
        format!("user::{}:notifications", ada.id),
        format!("user:{}::notifications", ada.id),
        format!("user:{}:{}:notifications", ada.id, bob_id),
        format!("user:{}:notifications ", ada.id),
        format!("user: {}:notifications", ada.id),
        format!("user:{}", ada.id),
        "user:*:notifications".to_owned(),
        "user:".to_owned(),
    ];
    for (i, topic) in spellings.iter().enumerate() {
        let jr = (10 + i).to_string();
        let reply = ada.client.join(topic, &jr, json!({})).await;
        let expected = unauthorized(&jr, &jr, topic);
        assert_eq!(reply, expected, "{topic}");
    }
    // Bob's notifications never reach Ada.
    notify(
        &server,
        json!({"user": bob_id, "kind": "alert", "title": "for bob"}),
    )
    .await;
    ada.client.recv_none(Duration::from_millis(200)).await;
    server.stop().await;
}

#[tokio::test]
async fn notify_pushes_to_joined_connections_and_persists() {
    notify_pushes_to_joined_connections_and_persists_on(&Backend::Sqlite).await;
}

async fn notify_pushes_to_joined_connections_and_persists_on(b: &Backend) {
    let server = b.server().await;
    let mut ada = sign_in_and_join(&server, "ada").await;
    // A second tab of the same user.
    let mut tab = server.client_with_token(&ada.token).await;
    tab.join(&ada.topic, "1", json!({})).await;

    let body = json!({
        "user": ada.id, "kind": "activity", "title": "New message in #design",
        "body": "hello", "data": {"channel": "design", "n": [1, 2]}, "expires_in_ms": 60_000
    });
    let (status, text) = http_post(server.addr, "/api/notify", &body).await;
    assert_eq!(status, 200, "{text}");
    let response: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(response["delivered"], json!(2));
    let n = response["notification"].clone();
    assert_eq!(n["kind"], json!("activity"));
    assert_eq!(n["title"], json!("New message in #design"));
    assert_eq!(n["body"], json!("hello"));
    assert_eq!(n["data"], json!({"channel": "design", "n": [1, 2]}));
    assert_eq!(n["read_at"], Value::Null);
    assert!(is_iso_ms(&n["inserted_at"]), "{n}");
    assert!(is_iso_ms(&n["expires_at"]), "{n}");
    assert!(s(&n["expires_at"]) > s(&n["inserted_at"]));
    assert!(!s(&n["id"]).is_empty());

    for c in [&mut ada.client, &mut tab] {
        let pushed = recv_event(c, &ada.topic, "notification:new").await;
        assert_eq!(pushed, json!({ "notification": n }));
    }

    // Without body/data/expiry: body and expires_at are left out, data is {}.
    let plain = notify(
        &server,
        json!({"user": ada.id, "kind": "system", "title": "App updated"}),
    )
    .await;
    assert!(
        plain.get("body").is_none() && plain.get("expires_at").is_none(),
        "{plain}"
    );
    assert_eq!(plain["data"], json!({}));
    assert!(s(&plain["id"]) > s(&n["id"]), "ids are time-ordered");
    recv_event(&mut ada.client, &ada.topic, "notification:new").await;

    let list = stored(&server, &ada.id).await;
    assert_eq!(list["total"], json!(2));
    assert_eq!(list["unread_count"], json!(1));
    assert_eq!(list["items"], json!([plain, n]));

    // Validation.
    for bad in [
        json!({"kind": "alert", "title": "t"}),
        json!({"user": "Not An Id", "kind": "alert", "title": "t"}),
        json!({"user": ada.id, "kind": "loud", "title": "t"}),
        json!({"user": ada.id, "title": "t"}),
        json!({"user": ada.id, "kind": "alert"}),
        json!({"user": ada.id, "kind": "alert", "title": ""}),
        json!({"user": ada.id, "kind": "alert", "title": "é".repeat(201)}),
        json!({"user": ada.id, "kind": "alert", "title": "t", "body": "x".repeat(2001)}),
        json!({"user": ada.id, "kind": "alert", "title": "t", "body": 5}),
        json!({"user": ada.id, "kind": "alert", "title": "t", "data": [1]}),
        json!({"user": ada.id, "kind": "alert", "title": "t", "expires_in_ms": -1}),
        json!({"user": ada.id, "kind": "alert", "title": "t", "expires_in_ms": "soon"}),
        json!([1, 2]),
    ] {
        let (status, text) = http_post(server.addr, "/api/notify", &bad).await;
        assert_eq!(status, 400, "{bad} → {text}");
        let err: Value = serde_json::from_str(&text).expect("JSON error");
        assert!(err["error"].is_string(), "{text}");
    }
    let (status, _) = http_request_raw(&server, "not json").await;
    assert_eq!(status, 400);
    // Limits are inclusive.
    notify(
        &server,
        json!({"user": ada.id, "kind": "toast", "title": "é".repeat(200), "body": "b".repeat(2000)}),
    )
    .await;
    assert_eq!(stored(&server, &ada.id).await["total"], json!(2));
    let (status, _) = http_get(server.addr, "/api/notifications/Bad:Id").await;
    assert_eq!(status, 400);
    server.stop().await;
}

async fn http_request_raw(server: &TestServer, body: &str) -> (u16, String) {
    common::http_request(server.addr, "POST", "/api/notify", Some(body)).await
}

#[tokio::test]
async fn sync_returns_the_50_newest_and_the_full_count() {
    sync_returns_the_50_newest_and_the_full_count_on(&Backend::Sqlite).await;
}

async fn sync_returns_the_50_newest_and_the_full_count_on(b: &Backend) {
    let server = b.server().await;
    let mut ada = sign_in_and_join(&server, "ada").await;
    let (status, empty) = push(&mut ada.client, &ada.topic, "2", "sync", json!({})).await;
    assert_eq!(status, "ok");
    assert_eq!(
        empty,
        json!({"unread_count": 0, "recent": [], "cursor": null, "complete": true})
    );

    let mut ids = Vec::new();
    for i in 0..120 {
        let n = notify(
            &server,
            json!({"user": ada.id, "kind": if i % 2 == 0 { "activity" } else { "alert" }, "title": format!("n{i}")}),
        )
        .await;
        ids.push(s(&n["id"]).to_owned());
    }
    for _ in 0..120 {
        recv_event(&mut ada.client, &ada.topic, "notification:new").await;
    }
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, ids, "ids unique and increasing");

    let (status, reply) = push(&mut ada.client, &ada.topic, "3", "sync", json!({})).await;
    assert_eq!(status, "ok");
    assert_eq!(reply["unread_count"], json!(120));
    let recent = reply["recent"].as_array().expect("recent");
    assert_eq!(recent.len(), 50);
    let got: Vec<&str> = recent.iter().map(|n| s(&n["id"])).collect();
    let newest: Vec<&str> = ids.iter().rev().take(50).map(String::as_str).collect();
    assert_eq!(got, newest);
    assert_eq!(recent[0]["title"], json!("n119"));
    assert_eq!(reply["cursor"], json!(ids[119]));
    assert_eq!(reply["complete"], json!(false), "cut by the default limit");

    // `since` returns only newer ones.
    let (_, newer) = push(
        &mut ada.client,
        &ada.topic,
        "4",
        "sync",
        json!({"since": ids[116]}),
    )
    .await;
    let got = recent_ids(&newer);
    assert_eq!(got, [&ids[119], &ids[118], &ids[117]]);
    assert_eq!(newer["unread_count"], json!(120));
    assert_eq!(newer["cursor"], json!(ids[119]));
    assert_eq!(
        newer["complete"],
        json!(false),
        "older ones left out by since"
    );
    let (status, bad) = push(
        &mut ada.client,
        &ada.topic,
        "5",
        "sync",
        json!({"since": 3}),
    )
    .await;
    assert_eq!(
        (status.as_str(), bad),
        ("error", json!({"reason": "invalid since"}))
    );
    // `limit`: as many as asked (a client holding more than 50), never more than 1000.
    let (_, more) = push(
        &mut ada.client,
        &ada.topic,
        "7",
        "sync",
        json!({"limit": 100}),
    )
    .await;
    let got = recent_ids(&more);
    let newest: Vec<&str> = ids.iter().rev().take(100).map(String::as_str).collect();
    assert_eq!(got, newest);
    assert_eq!(more["complete"], json!(false));
    // `complete` only when the reply holds every one: exactly all, or a limit above them.
    for (r, limit, complete) in [("9", 119, false), ("10", 120, true), ("11", 121, true)] {
        let (_, reply) = push(
            &mut ada.client,
            &ada.topic,
            r,
            "sync",
            json!({ "limit": limit }),
        )
        .await;
        assert_eq!(
            reply["recent"].as_array().map(Vec::len),
            Some(limit.min(120)),
            "limit {limit}"
        );
        assert_eq!(reply["complete"], json!(complete), "limit {limit}");
    }
    let (_, all) = push(
        &mut ada.client,
        &ada.topic,
        "8",
        "sync",
        json!({"limit": 100_000}),
    )
    .await;
    assert_eq!(all["recent"].as_array().map(Vec::len), Some(120));
    assert_eq!(all["complete"], json!(true));
    for (n, bad) in [json!(0), json!(-1), json!(2.5), json!("50")]
        .into_iter()
        .enumerate()
    {
        let (status, reply) = push(
            &mut ada.client,
            &ada.topic,
            &format!("l{n}"),
            "sync",
            json!({ "limit": bad }),
        )
        .await;
        assert_eq!(
            (status.as_str(), reply),
            ("error", json!({"reason": "invalid limit"})),
            "limit {bad}"
        );
    }
    let (status, bad) = push(&mut ada.client, &ada.topic, "6", "nope", json!({})).await;
    assert_eq!(
        (status.as_str(), bad),
        ("error", json!({"reason": "unknown event"}))
    );

    let list = stored(&server, &ada.id).await;
    assert_eq!(
        (list["total"].clone(), list["unread_count"].clone()),
        (json!(120), json!(120))
    );
    server.stop().await;
}

#[tokio::test]
async fn mark_read_and_mark_all_read_reply_and_broadcast() {
    mark_read_and_mark_all_read_reply_and_broadcast_on(&Backend::Sqlite).await;
}

async fn mark_read_and_mark_all_read_reply_and_broadcast_on(b: &Backend) {
    let server = b.server().await;
    let mut ada = sign_in_and_join(&server, "ada").await;
    let mut tab = server.client_with_token(&ada.token).await;
    tab.join(&ada.topic, "1", json!({})).await;
    let bob = sign_in_and_join(&server, "bob").await;

    let mut ids = Vec::new();
    for i in 0..4 {
        let n = notify(
            &server,
            json!({"user": ada.id, "kind": "activity", "title": format!("a{i}")}),
        )
        .await;
        ids.push(s(&n["id"]).to_owned());
    }
    let bobs = notify(
        &server,
        json!({"user": bob.id, "kind": "alert", "title": "b"}),
    )
    .await;
    for c in [&mut ada.client, &mut tab] {
        for _ in 0..4 {
            recv_event(c, &ada.topic, "notification:new").await;
        }
    }

    // Marking one read (twice in the list, plus someone else's and an unknown id).
    let (seen, reply) = push_broadcast_first(
        &mut ada.client,
        &ada.topic,
        "2",
        "mark_read",
        json!({"ids": [ids[0], ids[0], bobs["id"], "nope"]}),
        "notification:read",
    )
    .await;
    assert_eq!(reply, json!({"unread_count": 3}));
    let expected = json!({"ids": [ids[0]], "unread_count": 3});
    assert_eq!(seen, expected);
    assert_eq!(
        recv_event(&mut tab, &ada.topic, "notification:read").await,
        expected
    );
    // Idempotent: the same count, and read_at kept.
    let before = stored(&server, &ada.id).await;
    let (_, reply) = push_broadcast_first(
        &mut tab,
        &ada.topic,
        "3",
        "mark_read",
        json!({"ids": [ids[0]]}),
        "notification:read",
    )
    .await;
    assert_eq!(reply, json!({"unread_count": 3}));
    recv_event(&mut ada.client, &ada.topic, "notification:read").await;
    assert_eq!(stored(&server, &ada.id).await, before);
    let read = before["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|n| n["id"] == json!(ids[0]))
        .cloned()
        .expect("stored");
    assert!(is_iso_ms(&read["read_at"]), "{read}");
    // Bob's notification was not touched.
    assert_eq!(stored(&server, &bob.id).await["unread_count"], json!(1));

    // Nothing of the user's: a reply and no broadcast.
    let (_, reply) = push(
        &mut ada.client,
        &ada.topic,
        "4",
        "mark_read",
        json!({"ids": []}),
    )
    .await;
    assert_eq!(reply, json!({"unread_count": 3}));
    for bad in [json!({}), json!({"ids": "x"}), json!({"ids": [1]})] {
        let (status, reply) = push(&mut ada.client, &ada.topic, "5", "mark_read", bad).await;
        assert_eq!(
            (status.as_str(), reply),
            ("error", json!({"reason": "invalid ids"}))
        );
    }
    ada.client.recv_none(Duration::from_millis(100)).await;
    tab.recv_none(Duration::from_millis(1)).await;

    // mark_all_read with `until`: only up to that id.
    let (seen, reply) = push_broadcast_first(
        &mut ada.client,
        &ada.topic,
        "6",
        "mark_all_read",
        json!({"until": ids[2]}),
        "notification:all_read",
    )
    .await;
    assert_eq!(reply, json!({"unread_count": 1}));
    let expected = json!({"unread_count": 1, "until": ids[2]});
    assert_eq!(seen, expected);
    assert_eq!(
        recv_event(&mut tab, &ada.topic, "notification:all_read").await,
        expected
    );

    let (seen, reply) = push_broadcast_first(
        &mut tab,
        &ada.topic,
        "7",
        "mark_all_read",
        json!({}),
        "notification:all_read",
    )
    .await;
    assert_eq!(reply, json!({"unread_count": 0}));
    let expected = json!({"unread_count": 0, "until": null});
    assert_eq!(seen, expected);
    assert_eq!(
        recv_event(&mut ada.client, &ada.topic, "notification:all_read").await,
        expected
    );
    let list = stored(&server, &ada.id).await;
    assert_eq!(list["unread_count"], json!(0));
    assert!(list["items"]
        .as_array()
        .expect("items")
        .iter()
        .all(|n| n["read_at"].is_string()));
    assert_eq!(stored(&server, &bob.id).await["unread_count"], json!(1));

    // Something newer arriving afterwards is unread and counted.
    notify(
        &server,
        json!({"user": ada.id, "kind": "alert", "title": "late"}),
    )
    .await;
    recv_event(&mut ada.client, &ada.topic, "notification:new").await;
    let (_, reply) = push(&mut ada.client, &ada.topic, "8", "sync", json!({})).await;
    assert_eq!(reply["unread_count"], json!(1));
    server.stop().await;
}

#[tokio::test]
async fn counts_ignore_system_transient_toast_and_expired() {
    counts_ignore_system_transient_toast_and_expired_on(&Backend::Sqlite).await;
}

async fn counts_ignore_system_transient_toast_and_expired_on(b: &Backend) {
    let server = b.server().await;
    let mut ada = sign_in_and_join(&server, "ada").await;
    let mut kinds = Vec::new();
    for kind in ["activity", "alert", "system", "transient", "toast"] {
        let n = notify(
            &server,
            json!({"user": ada.id, "kind": kind, "title": kind}),
        )
        .await;
        let pushed = recv_event(&mut ada.client, &ada.topic, "notification:new").await;
        assert_eq!(pushed["notification"], n, "every kind is pushed");
        kinds.push(n);
    }
    notify(
        &server,
        json!({"user": ada.id, "kind": "alert", "title": "soon gone", "expires_in_ms": 150}),
    )
    .await;
    recv_event(&mut ada.client, &ada.topic, "notification:new").await;
    let (_, reply) = push(&mut ada.client, &ada.topic, "2", "sync", json!({})).await;
    assert_eq!(reply["unread_count"], json!(3));
    assert_eq!(reply["recent"].as_array().map(Vec::len), Some(4));

    tokio::time::sleep(Duration::from_millis(250)).await;
    let (_, reply) = push(&mut ada.client, &ada.topic, "3", "sync", json!({})).await;
    assert_eq!(reply["unread_count"], json!(2), "expired no longer counted");
    let titles: Vec<&str> = reply["recent"]
        .as_array()
        .expect("recent")
        .iter()
        .map(|n| s(&n["title"]))
        .collect();
    assert_eq!(
        titles,
        ["system", "alert", "activity"],
        "transient/toast not stored, expired left out"
    );
    assert_eq!(reply["cursor"], kinds[2]["id"]);

    let list = stored(&server, &ada.id).await;
    assert_eq!(list["total"], json!(4), "expired ones stay stored");
    assert_eq!(list["unread_count"], json!(2));

    // Marking the transient one read changes nothing; mark_all_read leaves 0.
    let (_, reply) = push(
        &mut ada.client,
        &ada.topic,
        "4",
        "mark_read",
        json!({"ids": [kinds[3]["id"]]}),
    )
    .await;
    assert_eq!(reply, json!({"unread_count": 2}));
    let (_, reply) = push_broadcast_first(
        &mut ada.client,
        &ada.topic,
        "5",
        "mark_all_read",
        json!({}),
        "notification:all_read",
    )
    .await;
    assert_eq!(reply, json!({"unread_count": 0}));
    server.stop().await;
}

#[tokio::test]
async fn data_and_tokens_survive_a_restart_on_the_same_data_dir() {
    data_and_tokens_survive_a_restart_on(&Backend::Sqlite).await;
}

async fn data_and_tokens_survive_a_restart_on(b: &Backend) {
    let dir = temp_dir("restart");
    let server = b.server_in(dir.clone()).await;
    let mut ada = sign_in_and_join(&server, "ada").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let n = notify(
            &server,
            json!({"user": ada.id, "kind": "alert", "title": format!("n{i}")}),
        )
        .await;
        ids.push(s(&n["id"]).to_owned());
        recv_event(&mut ada.client, &ada.topic, "notification:new").await;
    }
    let (_, reply) = push_broadcast_first(
        &mut ada.client,
        &ada.topic,
        "2",
        "mark_read",
        json!({"ids": [ids[0]]}),
        "notification:read",
    )
    .await;
    assert_eq!(reply, json!({"unread_count": 4}));
    let before = stored(&server, &ada.id).await;
    let token = ada.token.clone();
    drop(ada);
    server.stop().await;
    if *b == Backend::Sqlite {
        assert!(dir.join("tether-demo.sqlite3").is_file());
    }

    let server = b.server_in(dir.clone()).await;
    assert_eq!(stored(&server, &ada_id(&server).await).await, before);
    // The old token still works: the secret is kept in the data directory.
    let mut c = server.client_with_token(&token).await;
    let id = s(&before["items"][0]["id"]).to_owned();
    let topic = format!("user:{}:notifications", ada_id(&server).await);
    assert_eq!(
        c.join(&topic, "1", json!({})).await,
        ok("1", "1", &topic, json!({}))
    );
    let (_, reply) = push(&mut c, &topic, "2", "sync", json!({})).await;
    assert_eq!(reply["unread_count"], json!(4));
    assert_eq!(reply["cursor"], json!(id));
    // New ids keep increasing after the restart.
    let n = notify(
        &server,
        json!({"user": ada_id(&server).await, "kind": "alert", "title": "after"}),
    )
    .await;
    assert!(s(&n["id"]) > id.as_str());
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn ada_id(server: &TestServer) -> String {
    s(&server.sign_in("ada").await["user_id"]).to_owned()
}
