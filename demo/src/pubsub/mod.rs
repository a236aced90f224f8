//! Multi-node fan-out: the pub/sub adapters a node may use, the fallback chain over them, and
//! the link between the hub and the adapter task.
//!
//! `--pubsub` takes one adapter or a comma-separated fallback chain, tried in order:
//! - `redis://[[user]:password@]host[:port][/db]` (see `redis`);
//! - `postgres://user[:password]@host[:port]/db` (PostgreSQL `LISTEN`/`NOTIFY`, see
//!   `postgres`);
//! - `local`: this node alone; the hub's own fan-out is all there is (the default).
//!
//! Every broadcast (room messages, presence diffs, notification events) goes through the active
//! adapter to every other node using it; presence is replicated through per-node snapshots with
//! an expiry that each node refreshes (see `node`). The chain is tried in order at start; while
//! an adapter other than the first is active, the ones before it are probed every `PROBE`, and
//! the first that answers takes over; when the active one is lost, the chain is tried again
//! from the start. So all nodes of a cluster settle on the first adapter they can all reach.
//! A chain without `local` whose adapters are all down serves the node's own clients only and
//! keeps retrying. `auto` is `redis://127.0.0.1:6379,local`.
//!
//! Nodes that store notifications in SQLite should share one `--data-dir` (SQLite in WAL mode
//! copes with several processes) or set the same `TETHER_DEMO_SECRET`; with `--store
//! postgres://…` nodes share the notifications and the token secret through PostgreSQL and
//! need nothing else in common. `delivered` in the `POST /api/notify` response counts the
//! receiving node's connections only.
//!
//! The hub sends every change it fans out locally (`Event`) down the link, in the order the
//! changes happened (sent under the hub lock); the adapter task publishes them and applies what
//! other nodes publish through `Hub::remote_*`.

pub mod node;
pub mod postgres;
pub mod redis;

use crate::log;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// What `--pubsub auto` means.
pub const AUTO_CHAIN: &str = "redis://127.0.0.1:6379,local";
/// How often the adapters before the active one are probed.
pub const PROBE: Duration = Duration::from_secs(1);

/// One adapter of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adapter {
    /// A Redis URL (checked by the `redis` crate).
    Redis(String),
    /// A PostgreSQL URL.
    Postgres(String),
    Local,
}

impl Adapter {
    pub fn parse(s: &str) -> Result<Adapter, String> {
        match s {
            "local" => Ok(Adapter::Local),
            url if url.starts_with("redis://") => {
                let client = ::redis::Client::open(url)
                    .map_err(|e| format!("bad Redis URL {url:?} ({e}); want redis://host[:port][/db]"))?;
                match client.get_connection_info().addr() {
                    ::redis::ConnectionAddr::Tcp(host, _) if !host.is_empty() => {}
                    _ => return Err(format!("bad Redis URL {url:?} (want redis://host[:port][/db])")),
                }
                Ok(Adapter::Redis(url.to_owned()))
            }
            url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                url.parse::<tokio_postgres::Config>().map_err(|e| {
                    format!("bad PostgreSQL URL {url:?} ({e}); want postgres://user@host[:port]/db")
                })?;
                Ok(Adapter::Postgres(url.to_owned()))
            }
            _ => Err(format!(
                "bad --pubsub adapter {s:?} (want local, redis://host[:port] or postgres://user@host[:port]/db)"
            )),
        }
    }

    /// `redis`, `postgres` or `local`: what `/api/health` and the logs call it.
    pub fn name(&self) -> &'static str {
        match self {
            Adapter::Redis(_) => "redis",
            Adapter::Postgres(_) => "postgres",
            Adapter::Local => "local",
        }
    }

    /// Where it is, for logs (never a password).
    pub fn display(&self) -> String {
        match self {
            Adapter::Redis(url) => match ::redis::Client::open(url.as_str()) {
                Ok(c) => format!("redis {}", c.get_connection_info().addr()),
                Err(_) => "redis".into(),
            },
            Adapter::Postgres(url) => match url.parse::<tokio_postgres::Config>() {
                Ok(c) => crate::store::postgres::display_url(&c),
                Err(_) => "postgres".into(),
            },
            Adapter::Local => "local".into(),
        }
    }
}

/// `--pubsub`: the fallback chain, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mode(pub Vec<Adapter>);

impl Default for Mode {
    fn default() -> Self {
        Mode(vec![Adapter::Local])
    }
}

impl Mode {
    pub fn parse(s: &str) -> Result<Mode, String> {
        let s = if s == "auto" { AUTO_CHAIN } else { s };
        let chain = s
            .split(',')
            .map(|part| Adapter::parse(part.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(i) = chain.iter().position(|a| *a == Adapter::Local) {
            if i + 1 != chain.len() {
                return Err(format!(
                    "bad --pubsub {s:?}: local must come last (nothing after it is ever tried)"
                ));
            }
        }
        Ok(Mode(chain))
    }

    pub fn is_local(&self) -> bool {
        self.0 == [Adapter::Local]
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

/// What the adapter task needs from the hub: where the other nodes' broadcasts and presence
/// changes go, and where the link is set. The hub implements it (so `hub` uses `pubsub`, never
/// the other way round).
pub trait Remote: Send + Sync + 'static {
    /// Take the link to the adapter task (once, at start).
    fn set_link(&self, link: Link);
    /// An encoded frame another node broadcast on `topic`, for the local members; how many.
    fn remote_broadcast(&self, topic: &str, text: &str) -> usize;
    /// Another node's presence meta (with its `phx_ref`) joined `topic` under `key`.
    fn remote_join(&self, node: &str, topic: &str, key: &str, meta: Map<String, Value>);
    /// Another node's presence meta left.
    fn remote_leave(&self, node: &str, topic: &str, phx_ref: &str);
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
    /// The chain's adapter names, in order.
    chain: Vec<&'static str>,
    /// Index in `chain` of the active adapter; `None` while every adapter is down.
    active: Mutex<Option<usize>>,
    peers: Mutex<Vec<String>>,
    /// Events over the PostgreSQL payload limit, sent by reference (see `postgres`).
    pub large_payloads: AtomicU64,
}

impl Status {
    pub fn new(node: String, chain: Vec<&'static str>) -> Status {
        let local = chain == ["local"];
        Status {
            node,
            chain,
            active: Mutex::new(local.then_some(0)),
            peers: Mutex::new(Vec::new()),
            large_payloads: AtomicU64::new(0),
        }
    }

    /// The active adapter's name (`local` when a chain without `local` is all down: the node
    /// serves its own clients only).
    pub fn active(&self) -> &'static str {
        match *self.active.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(i) => self.chain[i],
            None => "local",
        }
    }

    pub fn is_connected(&self) -> bool {
        !matches!(self.active(), "local")
    }

    pub(crate) fn set_active(&self, index: Option<usize>) {
        *self.active.lock().unwrap_or_else(|p| p.into_inner()) = index;
    }

    pub(crate) fn set_peers(&self, mut peers: Vec<String>) {
        peers.sort();
        *self.peers.lock().unwrap_or_else(|p| p.into_inner()) = peers;
    }

    /// `{"status":"ok","pubsub":<active: "redis"|"postgres"|"local">,"chain":[…],
    /// "redis":"connected"|"down"|null,"postgres":"connected"|"down"|null,"node":…,
    /// "peers":[other live node ids],"large_payloads":n}` (`redis`/`postgres` null when not in
    /// the chain).
    pub fn health(&self) -> Value {
        let peers = self.peers.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let active = self.active();
        let state = |name: &str| {
            if !self.chain.contains(&name) {
                Value::Null
            } else if active == name {
                json!("connected")
            } else {
                json!("down")
            }
        };
        json!({
            "status": "ok",
            "pubsub": active,
            "chain": self.chain,
            "redis": state("redis"),
            "postgres": state("postgres"),
            "node": self.node,
            "peers": peers,
            "large_payloads": self.large_payloads.load(Ordering::Relaxed),
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
            status: Arc::new(Status::new(node, vec!["local"])),
            tx: None,
        }
    }

    /// A link whose events go to the returned receiver, reported with `chain`: for the adapter
    /// task, and for tests.
    pub fn channel(
        node: String,
        chain: Vec<&'static str>,
    ) -> (Link, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let link = Link {
            status: Arc::new(Status::new(node, chain)),
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

/// Start the adapter task for `config` and connect `hub` to it.
pub async fn start<H: Remote>(config: &ClusterConfig, hub: &Arc<H>) -> Cluster {
    let node = config.node_id.clone().unwrap_or_else(random_node_id);
    if config.mode.is_local() {
        log!("pubsub: local (single node), node id {node}");
        hub.set_link(Link::local(node));
        return Cluster { task: None };
    }
    let chain = config.mode.0.clone();
    let names: Vec<String> = chain.iter().map(Adapter::display).collect();
    log!(
        "pubsub: fallback chain {} (tried in order), node id {node}",
        names.join(" → ")
    );
    let (link, rx) = Link::channel(node, chain.iter().map(Adapter::name).collect());
    let status = link.status.clone();
    hub.set_link(link);
    let (stop, stopped) = oneshot::channel();
    let hub: Arc<dyn Remote> = hub.clone();
    let task = tokio::spawn(node::run(chain, Arc::downgrade(&hub), rx, status, stopped));
    Cluster {
        task: Some((task, stop)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_urls() {
        assert_eq!(Mode::parse("local"), Ok(Mode(vec![Adapter::Local])));
        assert_eq!(
            Mode::parse("auto"),
            Ok(Mode(vec![
                Adapter::Redis("redis://127.0.0.1:6379".into()),
                Adapter::Local
            ]))
        );
        assert!(Mode::parse("redis").is_err());
        assert!(Mode::parse("redis://").is_err());
        assert!(Mode::parse("redis://h:x").is_err());
        assert!(
            Mode::parse("local,redis://h").is_err(),
            "local must come last"
        );
        assert!(Mode::parse("nats://x").is_err());
        let m = Mode::parse("redis://:secret@h:7000/2, postgres://u:pw@db:5433/app,local")
            .expect("valid");
        let names: Vec<_> = m.0.iter().map(Adapter::name).collect();
        assert_eq!(names, ["redis", "postgres", "local"]);
        let shown: Vec<_> = m.0.iter().map(Adapter::display).collect();
        assert_eq!(shown, ["redis h:7000", "postgres db:5433/app", "local"]);
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
        let h = local.status.health();
        assert_eq!(
            (h["pubsub"].clone(), h["redis"].clone()),
            (json!("local"), Value::Null)
        );
        assert_eq!(h["peers"], json!([]));
        let s = Status::new("n2".into(), vec!["redis", "postgres", "local"]);
        assert_eq!(s.health()["pubsub"], "local");
        assert_eq!(s.health()["redis"], "down");
        s.set_active(Some(1));
        assert_eq!(s.health()["pubsub"], "postgres");
        assert_eq!(s.health()["postgres"], "connected");
        s.set_active(Some(0));
        s.set_peers(vec!["z".into(), "a".into()]);
        assert_eq!(s.health()["redis"], "connected");
        assert_eq!(s.health()["postgres"], "down");
        assert_eq!(s.health()["peers"], json!(["a", "z"]));
    }
}
