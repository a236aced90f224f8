//! Multi-node fan-out: which pub/sub adapter a node uses, and the link between the hub and it.
//!
//! - `local` (default): one node; the hub's fan-out is all there is.
//! - `redis://[[user]:password@]host[:port][/db]`: every broadcast (room messages, presence
//!   diffs, notification events) is also published on Redis and delivered to the members on
//!   every other node; presence is replicated through per-node snapshots with an expiry that
//!   each node refreshes (see `redis`). Redis down: each node goes on serving its own clients,
//!   and reconnects with backoff.
//! - `auto`: Redis at `127.0.0.1:6379` if it answers within `AUTO_PROBE`, else local.
//!
//! Nodes of one cluster should share one `--data-dir` (SQLite in WAL mode copes with several
//! processes): they then share the token secret (a token from any node works on every node)
//! and the notifications (`sync` on any node sees what `POST /api/notify` stored on another).
//! With separate data directories, set the same `TETHER_DEMO_SECRET` on every node; each node
//! then stores the notifications posted to it, `notification:new` still reaches the user's
//! connections on every node, but `sync` only sees the node's own store. `delivered` in the
//! `POST /api/notify` response counts the receiving node's connections only.
//!
//! The hub sends every change it fans out locally (`Event`) down the link, in the order the
//! changes happened (sent under the hub lock); the Redis task publishes them and applies what
//! other nodes publish through `Hub::remote_*`.

pub mod redis;
pub mod resp;

use crate::hub::Hub;
use crate::log;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How long `--pubsub auto` waits for Redis before settling on local.
pub const AUTO_PROBE: Duration = Duration::from_millis(300);
/// Where `--pubsub auto` looks for Redis.
pub const AUTO_ADDR: &str = "redis://127.0.0.1:6379";

/// Where a Redis server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisAddr {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub db: u32,
}

impl RedisAddr {
    /// `redis://[[user]:password@]host[:port][/db]`
    pub fn parse(url: &str) -> Result<RedisAddr, String> {
        let bad = || format!("bad Redis URL {url:?} (want redis://host[:port][/db])");
        let rest = url.strip_prefix("redis://").ok_or_else(bad)?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => (
                    Some(user.to_owned()).filter(|u| !u.is_empty()),
                    Some(pass.to_owned()),
                ),
                None => (None, Some(u.to_owned())),
            },
        };
        let port_of = |p: &str| p.parse::<u16>().map_err(|_| bad());
        let (host, port) = if let Some(r) = hostport.strip_prefix('[') {
            let (h, after) = r.split_once(']').ok_or_else(bad)?;
            match after {
                "" => (h, 6379),
                p => (h, port_of(p.strip_prefix(':').ok_or_else(bad)?)?),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, port_of(p)?),
                None => (hostport, 6379),
            }
        };
        if host.is_empty() {
            return Err(bad());
        }
        let db = match path {
            "" => 0,
            p => p.parse().map_err(|_| bad())?,
        };
        Ok(RedisAddr {
            host: host.to_owned(),
            port,
            username,
            password,
            db,
        })
    }

    /// `host:port` (never the password), for logs.
    pub fn display(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// `--pubsub`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Local,
    Redis(RedisAddr),
    Auto,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode, String> {
        match s {
            "local" => Ok(Mode::Local),
            "auto" => Ok(Mode::Auto),
            url if url.starts_with("redis://") => Ok(Mode::Redis(RedisAddr::parse(url)?)),
            _ => Err(format!(
                "bad --pubsub {s:?} (want local, auto or redis://host[:port])"
            )),
        }
    }
}

/// The cluster part of the configuration: `--pubsub` and `--node-id`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterConfig {
    pub mode: Mode,
    /// `None`: a random one.
    pub node_id: Option<String>,
}

/// Whether `id` may name a node: 1–64 of `A-Z a-z 0-9 _ . -`.
pub fn is_valid_node_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A fresh random node id, `node-` and 8 hex digits.
pub fn random_node_id() -> String {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    format!("node-{:08x}", u32::from_be_bytes(b))
}

/// What the hub fans out locally, to be fanned out to the other nodes too.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An encoded `[null, null, topic, event, payload]` frame for every member of `topic`.
    Broadcast { topic: String, text: String },
    /// A local presence meta (with its `phx_ref`) joined `topic` under `key`.
    Join {
        topic: String,
        key: String,
        meta: Map<String, Value>,
    },
    /// A local presence meta left.
    Leave {
        topic: String,
        key: String,
        meta: Map<String, Value>,
    },
}

/// The state `GET /api/health` reports.
#[derive(Debug)]
pub struct Status {
    pub node: String,
    redis: bool,
    connected: AtomicBool,
    peers: Mutex<Vec<String>>,
}

impl Status {
    pub fn new(node: String, redis: bool) -> Status {
        Status {
            node,
            redis,
            connected: AtomicBool::new(false),
            peers: Mutex::new(Vec::new()),
        }
    }

    pub fn is_redis(&self) -> bool {
        self.redis
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub(crate) fn set_connected(&self, up: bool) {
        self.connected.store(up, Ordering::Relaxed);
    }

    pub(crate) fn set_peers(&self, mut peers: Vec<String>) {
        peers.sort();
        *self.peers.lock().unwrap_or_else(|p| p.into_inner()) = peers;
    }

    /// `{"status":"ok","pubsub":"local"|"redis","redis":"connected"|"down"|null,"node":…,
    /// "peers":[other live node ids]}`
    pub fn health(&self) -> Value {
        let peers = self.peers.lock().unwrap_or_else(|p| p.into_inner()).clone();
        json!({
            "status": "ok",
            "pubsub": if self.redis { "redis" } else { "local" },
            "redis": match (self.redis, self.is_connected()) {
                (false, _) => Value::Null,
                (true, true) => json!("connected"),
                (true, false) => json!("down"),
            },
            "node": self.node,
            "peers": peers,
        })
    }
}

/// The hub's end of the link: where its events go, and the status to report.
#[derive(Debug)]
pub struct Link {
    pub status: Arc<Status>,
    tx: Option<mpsc::UnboundedSender<Event>>,
}

impl Link {
    /// A single node: nothing leaves it.
    pub fn local(node: String) -> Link {
        Link {
            status: Arc::new(Status::new(node, false)),
            tx: None,
        }
    }

    /// A link whose events go to the returned receiver (reported as a Redis adapter): for an
    /// adapter of one's own, and for tests.
    pub fn channel(node: String) -> (Link, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let link = Link {
            status: Arc::new(Status::new(node, true)),
            tx: Some(tx),
        };
        (link, rx)
    }

    /// Hand `event` to the adapter (never blocks; dropped once the adapter has stopped).
    pub fn send(&self, event: Event) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(event);
        }
    }

    pub fn is_remote(&self) -> bool {
        self.tx.is_some()
    }
}

/// A running adapter: stop it with `finish` at shutdown.
pub struct Cluster {
    task: Option<(JoinHandle<()>, oneshot::Sender<()>)>,
}

impl Cluster {
    /// Let the adapter publish what is still queued and say goodbye, until `deadline`.
    pub async fn finish(self, deadline: tokio::time::Instant) {
        if let Some((mut task, stop)) = self.task {
            let _ = stop.send(());
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

/// Settle the adapter for `config` and connect `hub` to it (logging which one is active).
pub async fn start(config: &ClusterConfig, hub: &Arc<Hub>) -> Cluster {
    let node = config.node_id.clone().unwrap_or_else(random_node_id);
    let addr = match &config.mode {
        Mode::Local => None,
        Mode::Redis(addr) => Some(addr.clone()),
        Mode::Auto => {
            let addr = RedisAddr::parse(AUTO_ADDR).expect("valid built-in address");
            match resp::Conn::connect(&addr, AUTO_PROBE).await {
                Ok(_) => Some(addr),
                Err(e) => {
                    log!(
                        "pubsub auto: no Redis at {} ({e}); using local",
                        addr.display()
                    );
                    None
                }
            }
        }
    };
    let Some(addr) = addr else {
        log!("pubsub: local (single node), node id {node}");
        hub.set_link(Link::local(node));
        return Cluster { task: None };
    };
    log!(
        "pubsub: redis at {} (fan-out to every node), node id {node}",
        addr.display()
    );
    let (link, rx) = Link::channel(node);
    let status = link.status.clone();
    hub.set_link(link);
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(redis::run(addr, Arc::downgrade(hub), rx, status, stopped));
    Cluster {
        task: Some((task, stop)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_urls() {
        assert_eq!(Mode::parse("local"), Ok(Mode::Local));
        assert_eq!(Mode::parse("auto"), Ok(Mode::Auto));
        assert!(Mode::parse("redis").is_err());
        assert!(Mode::parse("redis://").is_err());
        assert!(Mode::parse("redis://h:x").is_err());
        let a = RedisAddr::parse("redis://127.0.0.1:6380").expect("valid");
        assert_eq!((a.host.as_str(), a.port, a.db), ("127.0.0.1", 6380, 0));
        assert_eq!(a.password, None);
        let a = RedisAddr::parse("redis://:secret@redis.internal/2").expect("valid");
        assert_eq!((a.host.as_str(), a.port, a.db), ("redis.internal", 6379, 2));
        assert_eq!((a.username, a.password.as_deref()), (None, Some("secret")));
        let a = RedisAddr::parse("redis://u:p@[::1]:7000").expect("valid");
        assert_eq!((a.host.as_str(), a.port), ("::1", 7000));
        assert_eq!(a.username.as_deref(), Some("u"));
        assert_eq!(a.display(), "::1:7000");
    }

    #[test]
    fn node_ids() {
        assert!(is_valid_node_id("node-a.1_B"));
        assert!(!is_valid_node_id(""));
        assert!(!is_valid_node_id("a b"));
        assert!(!is_valid_node_id(&"x".repeat(65)));
        let id = random_node_id();
        assert!(is_valid_node_id(&id) && id.starts_with("node-"), "{id}");
    }

    #[test]
    fn health_shapes() {
        let local = Link::local("n1".into());
        assert_eq!(
            local.status.health(),
            json!({"status": "ok", "pubsub": "local", "redis": null, "node": "n1", "peers": []})
        );
        let s = Status::new("n2".into(), true);
        assert_eq!(s.health()["redis"], "down");
        s.set_connected(true);
        s.set_peers(vec!["z".into(), "a".into()]);
        assert_eq!(s.health()["redis"], "connected");
        assert_eq!(s.health()["peers"], json!(["a", "z"]));
    }
}
