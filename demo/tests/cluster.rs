//! Two demo-server nodes (the built binary, one data directory) fanning out through a Redis
//! started here: room messages, presence and notifications produced on one node reach clients
//! on the other; a node that dies leaves everyone's presence within a few seconds; Redis
//! stopped → each node goes on serving its own clients and health says "down"; Redis back →
//! fan-out resumes without restarting the nodes.
//!
//! Needs Debian's `redis-server` at `/usr/bin/redis-server` (installed by `tests/setup`).

mod common;

use common::cluster::*;
use common::{http_get, http_post, temp_dir, STEP};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[tokio::test]
async fn two_nodes_share_rooms_presence_and_notifications_through_redis() {
    let started = Instant::now();
    let dir = temp_dir("cluster");
    let data_dir: PathBuf = dir.join("data");
    let redis_port = free_port();
    let mut redis = start_redis(redis_port, &dir).await;
    // One data directory for both nodes (SQLite in WAL mode): same token secret, same store.
    let a = Node::spawn("node-a", &data_dir, redis_port).await;
    let mut b = Node::spawn("node-b", &data_dir, redis_port).await;
    cluster_up(&a, &b).await;
    let health = a.health().await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["pubsub"], "redis");
    assert_eq!(health["node"], "node-a");

    // ada on node A: the lobby and her notifications.
    let ada = a.sign_in("ada").await;
    let ada_token = ada["token"].as_str().expect("token");
    let ada_topic = ada["topic"].as_str().expect("topic").to_owned();
    let mut ada_ws = a.client(Some(ada_token)).await;
    let joined = ada_ws.join_room(LOBBY, "1", json!({})).await;
    assert_eq!(keys(&joined.state), ["ada"]);
    let reply = ada_ws.join(&ada_topic, "2", json!({})).await;
    assert_eq!(reply[4]["status"], "ok", "{reply}");

    // Node B learns of ada; bob joins there and sees her in his presence_state.
    eventually(STEP, "ada in node B's presence", || async {
        keys(&b.presence(LOBBY).await) == ["ada"]
    })
    .await;
    let bob = b.sign_in("bob").await;
    let mut bob_ws = b.client(bob["token"].as_str()).await;
    let joined = bob_ws.join_room(LOBBY, "1", json!({})).await;
    let mut state_keys = keys(&joined.state);
    state_keys.sort();
    assert_eq!(state_keys, ["ada", "bob"], "{}", joined.state);
    // ada (on A) sees bob's join made on B.
    let d = diff_for(&mut ada_ws, LOBBY, "joins", "bob", STEP).await;
    assert_eq!(d["joins"]["bob"]["metas"][0]["name"], "bob");

    // A message said on B reaches ada on A, exactly once.
    say(&mut bob_ws, "2", "hello from B").await;
    let m = next_event(&mut ada_ws, LOBBY, "new_msg", STEP).await;
    assert_eq!(m[4]["body"], "hello from B");
    assert_eq!(m[4]["name"], "bob");
    let more = drain(&mut ada_ws, Duration::from_millis(300)).await;
    assert!(
        !more.iter().any(|f| f[3] == "new_msg"),
        "delivered twice: {more:?}"
    );
    let own = next_event(&mut bob_ws, LOBBY, "new_msg", STEP).await;
    assert_eq!(own[4]["body"], "hello from B");

    // A notification posted on B reaches ada on A; the shared store has it on A too.
    let (status, body) = http_post(
        b.addr,
        "/api/notify",
        &json!({"user": ada["user_id"], "kind": "activity", "title": "from B"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let n = next_event(&mut ada_ws, &ada_topic, "notification:new", STEP).await;
    assert_eq!(n[4]["notification"]["title"], "from B");
    let id = n[4]["notification"]["id"].clone();
    let (_, listed) = http_get(
        a.addr,
        &format!(
            "/api/notifications/{}",
            ada["user_id"].as_str().unwrap_or("")
        ),
    )
    .await;
    let listed: Value = serde_json::from_str(&listed).expect("JSON list");
    assert_eq!(listed["total"], 1, "{listed}");
    // ada's second tab, on B, hears that she read it on A.
    let mut ada_tab = b.client(Some(ada_token)).await;
    let reply = ada_tab.join(&ada_topic, "1", json!({})).await;
    assert_eq!(reply[4]["status"], "ok", "{reply}");
    ada_ws
        .send(json!(["2", "9", ada_topic, "mark_read", { "ids": [id] }]))
        .await;
    let r = next_event(&mut ada_tab, &ada_topic, "notification:read", STEP).await;
    assert_eq!(r[4], json!({"ids": [id], "unread_count": 0}));

    // bob's connection on B goes away: ada on A sees him leave.
    drop(bob_ws);
    diff_for(&mut ada_ws, LOBBY, "leaves", "bob", STEP).await;

    // Redis stopped: both nodes say so and keep serving their own clients.
    kill(&mut redis).await;
    eventually(STEP, "health redis down on both nodes", || async {
        redis_state(&a).await == "down" && redis_state(&b).await == "down"
    })
    .await;
    say(&mut ada_ws, "3", "A alone").await;
    let m = next_event(&mut ada_ws, LOBBY, "new_msg", STEP).await;
    assert_eq!(m[4]["body"], "A alone");
    let cy = b.sign_in("cy").await;
    let mut cy_ws = b.client(cy["token"].as_str()).await;
    cy_ws.join_room(LOBBY, "1", json!({})).await;
    say(&mut cy_ws, "2", "B alone").await;
    let m = next_event(&mut cy_ws, LOBBY, "new_msg", STEP).await;
    assert_eq!(m[4]["body"], "B alone");

    // Redis back on the same port: fan-out resumes, and presence catches up (cy joined while
    // Redis was down).
    let mut redis = start_redis(redis_port, &dir).await;
    cluster_up(&a, &b).await;
    diff_for(&mut ada_ws, LOBBY, "joins", "cy", STEP).await;
    say(&mut cy_ws, "3", "B again").await;
    let m = next_event(&mut ada_ws, LOBBY, "new_msg", STEP).await;
    assert_eq!(m[4]["body"], "B again");
    let mut both = keys(&b.presence(LOBBY).await);
    both.sort();
    assert_eq!(both, ["ada", "cy"]);

    // Node B killed: its users leave A's presence once its heartbeat key expires.
    let killed = Instant::now();
    kill(&mut b.child).await;
    diff_for(&mut ada_ws, LOBBY, "leaves", "cy", Duration::from_secs(6)).await;
    let took = killed.elapsed();
    assert!(took <= Duration::from_secs(5), "leave took {took:?}");
    println!("node B killed: its user left A's presence after {took:?}");
    assert_eq!(keys(&a.presence(LOBBY).await), ["ada"]);
    eventually(STEP, "node B gone from A's peers", || async {
        a.health().await["peers"] == json!([])
    })
    .await;

    drop(ada_ws);
    drop(ada_tab);
    drop(cy_ws);
    let mut a = a;
    kill(&mut a.child).await;
    kill(&mut redis).await;
    let _ = std::fs::remove_dir_all(&dir);
    println!("cluster test took {:?}", started.elapsed());
}
