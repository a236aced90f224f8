//! Nodes of the built binary on PostgreSQL (a server started here, see `common::pg`):
//! - two nodes with separate `--data-dir`s sharing nothing but PostgreSQL (`--store` and
//!   `--pubsub` both on it): rooms, presence and notifications cross between them, an event
//!   over NOTIFY's payload limit arrives whole, a dead node's users leave;
//! - the fallback chain `redis,postgres,local`: Redis down at start → PostgreSQL; PostgreSQL
//!   down too → local; each back → fan-out resumes without restarting the nodes;
//! - PostgreSQL restarted under traffic: every notification acknowledged to a sender is there
//!   afterwards, the others were refused with 503.

mod common;

use common::cluster::*;
use common::pg::Pg;
use common::{http_get, http_post, temp_dir, STEP};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

async fn notifications_of(node: &Node, user: &str) -> Value {
    let (status, body) = http_get(node.addr, &format!("/api/notifications/{user}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON list")
}

#[tokio::test]
async fn two_nodes_share_only_postgres() {
    let dir = temp_dir("cluster-pg");
    let pg = Pg::start(&dir).await;
    let url = pg.url();
    let args = ["--store", url.as_str(), "--pubsub", url.as_str()];
    // Separate data directories: tokens, notifications and fan-out all go through PostgreSQL.
    let a = Node::spawn_with("node-a", &dir.join("a"), &args).await;
    let mut b = Node::spawn_with("node-b", &dir.join("b"), &args).await;
    cluster_up_on(&a, &b, "postgres").await;
    assert_eq!(a.health().await["postgres"], "connected");

    // A token made on A works on B (one secret, kept in PostgreSQL).
    let ada = a.sign_in("ada").await;
    let ada_token = ada["token"].as_str().expect("token");
    let ada_user = ada["user_id"].as_str().expect("user").to_owned();
    let ada_topic = ada["topic"].as_str().expect("topic").to_owned();
    let mut ada_ws = a.client(Some(ada_token)).await;
    ada_ws.join_room(LOBBY, "1", json!({})).await;
    let reply = ada_ws.join(&ada_topic, "2", json!({})).await;
    assert_eq!(reply[4]["status"], "ok", "{reply}");
    let mut ada_tab = b.client(Some(ada_token)).await;
    let reply = ada_tab.join(&ada_topic, "1", json!({})).await;
    assert_eq!(reply[4]["status"], "ok", "ada's token from A on B: {reply}");

    // bob joins on B once B knows of ada: ada on A sees the join; his message reaches her once.
    eventually(STEP, "ada in node B's presence", || async {
        keys(&b.presence(LOBBY).await) == ["ada"]
    })
    .await;
    let bob = b.sign_in("bob").await;
    let mut bob_ws = b.client(bob["token"].as_str()).await;
    let joined = bob_ws.join_room(LOBBY, "1", json!({})).await;
    let mut state = keys(&joined.state);
    state.sort();
    assert_eq!(state, ["ada", "bob"], "{}", joined.state);
    diff_for(&mut ada_ws, LOBBY, "joins", "bob", STEP).await;
    say(&mut bob_ws, "2", "hello from B").await;
    let m = next_event(&mut ada_ws, LOBBY, "new_msg", STEP).await;
    assert_eq!(m[4]["body"], "hello from B");
    let more = drain(&mut ada_ws, Duration::from_millis(300)).await;
    assert!(
        !more.iter().any(|f| f[3] == "new_msg"),
        "delivered twice: {more:?}"
    );

    // Identical messages in a row all arrive (PostgreSQL folds identical notifications of one
    // transaction; every envelope is numbered).
    for r in ["3", "4", "5"] {
        say(&mut bob_ws, r, "same").await;
    }
    for _ in 0..3 {
        let m = next_event(&mut ada_ws, LOBBY, "new_msg", STEP).await;
        assert_eq!(m[4]["body"], "same");
    }

    // A message over NOTIFY's 8000-byte payload limit arrives whole, sent by reference.
    // 2000 characters (the room's limit) of 4 bytes each: over 8000 bytes as JSON.
    let big: String = (0..2000u32)
        .map(|i| char::from_u32(0x1F600 + i % 64).unwrap_or('?'))
        .collect();
    say(&mut bob_ws, "6", &big).await;
    let m = next_event(&mut ada_ws, LOBBY, "new_msg", STEP).await;
    assert_eq!(m[4]["body"].as_str().map(str::len), Some(big.len()));
    assert_eq!(m[4]["body"], big.as_str(), "not truncated");
    assert!(b.health().await["large_payloads"].as_u64() >= Some(1));

    // A notification posted on B reaches ada on A; A's list has it (one store).
    let (status, body) = http_post(
        b.addr,
        "/api/notify",
        &json!({"user": ada_user, "kind": "activity", "title": "from B"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let n = next_event(&mut ada_ws, &ada_topic, "notification:new", STEP).await;
    assert_eq!(n[4]["notification"]["title"], "from B");
    let id = n[4]["notification"]["id"].clone();
    let listed = notifications_of(&a, &ada_user).await;
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["items"][0]["id"], id);
    // Read on A: her tab on B hears it, and B's list shows it read.
    ada_ws
        .send(json!(["2", "9", ada_topic, "mark_read", { "ids": [id] }]))
        .await;
    let r = next_event(&mut ada_tab, &ada_topic, "notification:read", STEP).await;
    assert_eq!(r[4], json!({"ids": [id], "unread_count": 0}));
    let listed = notifications_of(&b, &ada_user).await;
    assert_eq!(listed["unread_count"], 0, "{listed}");
    assert!(listed["items"][0]["read_at"].is_string(), "{listed}");

    // Node B killed: bob leaves A's presence once B's snapshot row expires.
    drop(ada_tab);
    let killed = Instant::now();
    kill(&mut b.child).await;
    diff_for(&mut ada_ws, LOBBY, "leaves", "bob", Duration::from_secs(6)).await;
    println!(
        "node B killed: bob left A's presence after {:?}",
        killed.elapsed()
    );
    assert_eq!(keys(&a.presence(LOBBY).await), ["ada"]);

    drop(ada_ws);
    drop(bob_ws);
    let mut a = a;
    kill(&mut a.child).await;
    pg.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The next lobby message with `body` (earlier ones skipped).
async fn message(c: &mut common::Client, body: &str) {
    let deadline = Instant::now() + STEP;
    loop {
        let m = next_event(c, LOBBY, "new_msg", STEP).await;
        if m[4]["body"] == body {
            return;
        }
        assert!(Instant::now() < deadline, "no message {body:?}");
    }
}

/// A message said by `from` reaches `to`.
async fn crosses(from: &mut common::Client, to: &mut common::Client, r: &str, body: &str) {
    say(from, r, body).await;
    message(to, body).await;
}

async fn both_on(a: &Node, b: &Node, adapter: &str) {
    eventually(
        Duration::from_secs(8),
        &format!("both nodes on {adapter}"),
        || async { a.health().await["pubsub"] == adapter && b.health().await["pubsub"] == adapter },
    )
    .await;
}

#[tokio::test]
async fn the_fallback_chain_follows_what_is_up() {
    let dir = temp_dir("chain");
    let mut pg = Pg::start(&dir).await;
    let redis_port = free_port();
    let chain = format!("redis://127.0.0.1:{redis_port},{},local", pg.url());
    // One data directory (SQLite) for both nodes: the store is not what this test is about.
    let data = dir.join("data");
    let args = ["--pubsub", chain.as_str()];
    let a = Node::spawn_with("node-a", &data, &args).await;
    let b = Node::spawn_with("node-b", &data, &args).await;

    // Redis down at start: PostgreSQL.
    cluster_up_on(&a, &b, "postgres").await;
    let h = a.health().await;
    assert_eq!(h["chain"], json!(["redis", "postgres", "local"]));
    assert_eq!(h["redis"], "down");
    let ada = a.sign_in("ada").await;
    let mut ada_ws = a.client(ada["token"].as_str()).await;
    ada_ws.join_room(LOBBY, "1", json!({})).await;
    let bob = b.sign_in("bob").await;
    let mut bob_ws = b.client(bob["token"].as_str()).await;
    bob_ws.join_room(LOBBY, "1", json!({})).await;
    crosses(&mut bob_ws, &mut ada_ws, "2", "over postgres").await;

    // PostgreSQL down too: local; each node serves its own clients.
    pg.crash().await;
    both_on(&a, &b, "local").await;
    say(&mut bob_ws, "3", "B alone").await;
    message(&mut bob_ws, "B alone").await;
    let seen = drain(&mut ada_ws, Duration::from_millis(300)).await;
    assert!(
        !seen.iter().any(|f| f[4]["body"] == "B alone"),
        "crossed without an adapter"
    );

    // PostgreSQL back: fan-out resumes, no restart of the nodes.
    pg.restart().await;
    cluster_up_on(&a, &b, "postgres").await;
    crosses(&mut bob_ws, &mut ada_ws, "4", "postgres again").await;

    // Redis back: both move up the chain to it.
    let mut redis = start_redis(redis_port, &dir).await;
    cluster_up_on(&a, &b, "redis").await;
    assert_eq!(
        b.health().await["postgres"],
        "down",
        "only the active one is connected"
    );
    crosses(&mut bob_ws, &mut ada_ws, "5", "over redis").await;
    crosses(&mut ada_ws, &mut bob_ws, "2", "back over redis").await;

    // Redis lost again: down the chain to PostgreSQL.
    kill(&mut redis).await;
    cluster_up_on(&a, &b, "postgres").await;
    crosses(&mut bob_ws, &mut ada_ws, "6", "postgres after redis").await;

    drop(ada_ws);
    drop(bob_ws);
    let (mut a, mut b) = (a, b);
    kill(&mut a.child).await;
    kill(&mut b.child).await;
    pg.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn postgres_restarted_under_traffic_loses_no_acknowledged_notification() {
    let dir = temp_dir("pg-restart");
    let mut pg = Pg::start(&dir).await;
    let url = pg.url();
    let args = ["--store", url.as_str(), "--pubsub", url.as_str()];
    let a = Node::spawn_with("node-a", &dir.join("a"), &args).await;
    let b = Node::spawn_with("node-b", &dir.join("b"), &args).await;
    cluster_up_on(&a, &b, "postgres").await;
    let user = a.sign_in("ada").await["user_id"]
        .as_str()
        .expect("user")
        .to_owned();

    // Two senders (one per node) post notifications one after another; each records what was
    // acknowledged (200, with its id) and what was refused (503).
    #[derive(Default)]
    struct Tally {
        acked: Vec<String>,
        refused: usize,
    }
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut senders = Vec::new();
    for (k, addr) in [a.addr, b.addr].into_iter().enumerate() {
        let (tally, stop, user) = (tally.clone(), stop.clone(), user.clone());
        senders.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let body = json!({"user": user, "kind": "alert", "title": format!("n{k}-{i}")});
                let (status, reply) = http_post(addr, "/api/notify", &body).await;
                {
                    let mut t = tally.lock().expect("tally");
                    match status {
                        200 => {
                            let v: Value = serde_json::from_str(&reply).expect("JSON");
                            t.acked
                                .push(v["notification"]["id"].as_str().expect("id").to_owned());
                        }
                        503 => t.refused += 1,
                        other => panic!("POST /api/notify answered {other}: {reply}"),
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    let count = |f: fn(&Tally) -> usize| {
        let tally = tally.clone();
        move || {
            let n = f(&tally.lock().expect("tally"));
            async move { n }
        }
    };
    let acked = count(|t| t.acked.len());
    let refused = count(|t| t.refused);
    eventually(STEP, "20 acknowledged", || {
        let f = acked();
        async move { f.await >= 20 }
    })
    .await;
    pg.crash().await;
    eventually(STEP * 2, "a refusal while PostgreSQL is down", || {
        let f = refused();
        async move { f.await >= 1 }
    })
    .await;
    let before = tally.lock().expect("tally").acked.len();
    pg.restart().await;
    eventually(STEP * 3, "acknowledgements again after the restart", || {
        let f = acked();
        async move { f.await >= before + 20 }
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for s in senders {
        s.await.expect("sender");
    }

    let listed = notifications_of(&a, &user).await;
    let t = std::mem::take(&mut *tally.lock().expect("tally"));
    let stored: Vec<&str> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    let missing: Vec<&String> = t
        .acked
        .iter()
        .filter(|id| !stored.contains(&id.as_str()))
        .collect();
    assert!(missing.is_empty(), "acknowledged but missing: {missing:?}");
    println!(
        "{} acknowledged (all stored), {} refused with 503 while PostgreSQL was down",
        t.acked.len(),
        t.refused
    );

    let (mut a, mut b) = (a, b);
    kill(&mut a.child).await;
    kill(&mut b.child).await;
    pg.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn postgres_down_at_start_is_a_clear_error_and_exit() {
    let dir = temp_dir("pg-down");
    let port = free_port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let out = tokio::time::timeout(
        STEP * 2,
        tokio::process::Command::new(env!("CARGO_BIN_EXE_tether-demo"))
            .args(["--port", "0", "--store", &url, "--data-dir"])
            .arg(&dir)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("exits in time")
    .expect("run tether-demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot use postgres 127.0.0.1:{port}/postgres"))
            && stderr.contains("Connection refused"),
        "{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "never announced"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
