//! Two demo-server nodes (the built binary, one data directory) fanning out through a Redis
//! started here: room messages, presence and notifications produced on one node reach clients
//! on the other; a node that dies leaves everyone's presence within a few seconds; Redis
//! stopped → each node goes on serving its own clients and health says "down"; Redis back →
//! fan-out resumes without restarting the nodes.
//!
//! Needs Debian's `redis-server` at `/usr/bin/redis-server` (installed by `tests/setup`).

mod common;

use common::{http_get, http_post, spawn_binary, temp_dir, Client, STEP};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

const REDIS_SERVER: &str = "/usr/bin/redis-server";
const LOBBY: &str = "room:lobby";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A redis-server of our own on `port`, answering PING.
async fn start_redis(port: u16, dir: &Path) -> Child {
    assert!(
        Path::new(REDIS_SERVER).is_file(),
        "{REDIS_SERVER} is missing: run ./tests/setup (it installs Debian's redis-server)"
    );
    let child = Command::new(REDIS_SERVER)
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn redis-server");
    let deadline = Instant::now() + STEP;
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await {
            let mut buf = [0u8; 7];
            if s.write_all(b"PING\r\n").await.is_ok()
                && tokio::time::timeout(Duration::from_millis(500), s.read_exact(&mut buf))
                    .await
                    .is_ok_and(|r| r.is_ok())
                && &buf == b"+PONG\r\n"
            {
                return child;
            }
        }
        assert!(Instant::now() < deadline, "redis-server did not start");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Stop a child by its PID (SIGKILL) and reap it.
async fn kill(child: &mut Child) {
    child.start_kill().expect("kill");
    let _ = tokio::time::timeout(STEP, child.wait()).await;
}

struct Node {
    child: Child,
    addr: SocketAddr,
}

impl Node {
    async fn spawn(id: &str, data_dir: &Path, redis_port: u16) -> Node {
        let redis = format!("redis://127.0.0.1:{redis_port}");
        let args = [
            "--static-dir".as_ref(),
            "static-dir-that-does-not-exist".as_ref(),
            "--data-dir".as_ref(),
            data_dir.as_os_str(),
            "--node-id".as_ref(),
            id.as_ref(),
            "--pubsub".as_ref(),
            redis.as_ref(),
        ];
        let (child, port) = spawn_binary(&args, Some(id)).await;
        Node {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    async fn health(&self) -> Value {
        let (status, body) = http_get(self.addr, "/api/health").await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("JSON health")
    }

    async fn presence(&self, topic: &str) -> Value {
        let (status, body) = http_get(self.addr, &format!("/api/presence/{topic}")).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("JSON presence")
    }

    async fn sign_in(&self, name: &str) -> Value {
        let (status, body) = http_post(self.addr, "/api/session", &json!({ "name": name })).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("JSON session")
    }

    async fn client(&self, token: Option<&str>) -> Client {
        let mut url = format!("ws://{}/socket/websocket?vsn=2.0.0", self.addr);
        if let Some(token) = token {
            url.push_str("&token=");
            url.push_str(token);
        }
        Client::connect(&url).await
    }
}

/// Poll `check` every 50 ms until it holds; panics with `what` after `within`.
async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn redis_state(node: &Node) -> Value {
    node.health().await["redis"].clone()
}

/// Both nodes connected to Redis and seeing each other.
async fn cluster_up(a: &Node, b: &Node) {
    eventually(
        Duration::from_secs(6),
        "both nodes connected and peered",
        || async {
            let (ha, hb) = (a.health().await, b.health().await);
            ha["redis"] == "connected"
                && hb["redis"] == "connected"
                && ha["peers"] == json!([hb["node"]])
                && hb["peers"] == json!([ha["node"]])
        },
    )
    .await;
}

/// The next frame on `topic` with `event` (others skipped), within `within`.
async fn next_event(c: &mut Client, topic: &str, event: &str, within: Duration) -> Value {
    tokio::time::timeout(within, async {
        loop {
            let f = c.recv().await;
            if f[2] == topic && f[3] == event {
                return f;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {event} on {topic} within {within:?}"))
}

/// The next presence_diff on `topic` that joins (or leaves) `key`.
async fn diff_for(c: &mut Client, topic: &str, side: &str, key: &str, within: Duration) -> Value {
    tokio::time::timeout(within, async {
        loop {
            let f = next_event(c, topic, "presence_diff", within).await;
            if f[4][side].get(key).is_some() {
                return f[4].clone();
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no presence_diff {side} of {key:?} within {within:?}"))
}

async fn say(c: &mut Client, r: &str, body: &str) {
    c.send(json!([null, r, LOBBY, "new_msg", { "body": body }]))
        .await;
}

/// Every frame that arrives within `wait`.
async fn drain(c: &mut Client, wait: Duration) -> Vec<Value> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(f) = tokio::time::timeout_at(deadline, c.recv()).await {
        out.push(f);
    }
    out
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

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
