//! Helpers for the multi-node tests: nodes of the built binary, a Redis of the test's own,
//! and waiting for frames and states.

use super::{http_get, http_post, spawn_binary, Client, STEP};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

pub const REDIS_SERVER: &str = "/usr/bin/redis-server";
pub const LOBBY: &str = "room:lobby";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A redis-server of our own on `port`, answering PING.
pub async fn start_redis(port: u16, dir: &Path) -> Child {
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
pub async fn kill(child: &mut Child) {
    child.start_kill().expect("kill");
    let _ = tokio::time::timeout(STEP, child.wait()).await;
}

pub struct Node {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Node {
    pub async fn spawn(id: &str, data_dir: &Path, redis_port: u16) -> Node {
        let redis = format!("redis://127.0.0.1:{redis_port}");
        Node::spawn_with(id, data_dir, &["--pubsub", &redis]).await
    }

    /// A node with its own id and data directory, and `extra` arguments.
    pub async fn spawn_with(id: &str, data_dir: &Path, extra: &[&str]) -> Node {
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "--static-dir".as_ref(),
            "static-dir-that-does-not-exist".as_ref(),
            "--data-dir".as_ref(),
            data_dir.as_os_str(),
            "--node-id".as_ref(),
            id.as_ref(),
        ];
        args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
        let (child, port) = spawn_binary(&args, Some(id)).await;
        Node {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    pub async fn health(&self) -> Value {
        let (status, body) = http_get(self.addr, "/api/health").await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("JSON health")
    }

    pub async fn presence(&self, topic: &str) -> Value {
        let (status, body) = http_get(self.addr, &format!("/api/presence/{topic}")).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("JSON presence")
    }

    pub async fn sign_in(&self, name: &str) -> Value {
        let (status, body) = http_post(self.addr, "/api/session", &json!({ "name": name })).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("JSON session")
    }

    pub async fn client(&self, token: Option<&str>) -> Client {
        let mut url = format!("ws://{}/socket/websocket?vsn=2.0.0", self.addr);
        if let Some(token) = token {
            url.push_str("&token=");
            url.push_str(token);
        }
        Client::connect(&url).await
    }
}

/// Poll `check` every 50 ms until it holds; panics with `what` after `within`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
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

pub async fn redis_state(node: &Node) -> Value {
    node.health().await["redis"].clone()
}

/// Both nodes connected to Redis and seeing each other.
pub async fn cluster_up(a: &Node, b: &Node) {
    cluster_up_on(a, b, "redis").await;
}

/// Both nodes on `adapter` (as `/api/health` names it) and seeing each other.
pub async fn cluster_up_on(a: &Node, b: &Node, adapter: &str) {
    eventually(
        Duration::from_secs(8),
        &format!("both nodes on {adapter} and peered"),
        || async {
            let (ha, hb) = (a.health().await, b.health().await);
            ha["pubsub"] == adapter
                && hb["pubsub"] == adapter
                && ha["peers"] == json!([hb["node"]])
                && hb["peers"] == json!([ha["node"]])
        },
    )
    .await;
}

/// The next frame on `topic` with `event` (others skipped), within `within`.
pub async fn next_event(c: &mut Client, topic: &str, event: &str, within: Duration) -> Value {
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
pub async fn diff_for(
    c: &mut Client,
    topic: &str,
    side: &str,
    key: &str,
    within: Duration,
) -> Value {
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

pub async fn say(c: &mut Client, r: &str, body: &str) {
    c.send(json!([null, r, LOBBY, "new_msg", { "body": body }]))
        .await;
}

/// Every frame that arrives within `wait`.
pub async fn drain(c: &mut Client, wait: Duration) -> Vec<Value> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while let Ok(f) = tokio::time::timeout_at(deadline, c.recv()).await {
        out.push(f);
    }
    out
}

pub fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}
