//! The adapter task of a node: the fallback chain, and what every adapter does the same way.
//!
//! - Every hub event is published as a JSON envelope carrying this node's id and boot id; every
//!   node applies the envelopes of the *other* nodes (its own are skipped, so nothing is
//!   delivered twice): broadcasts go to its local members, presence diffs update its replica of
//!   the other nodes' presences (and are announced to its local members).
//! - Presence: the node's own presences are kept by the adapter as a snapshot (see
//!   `cluster_presence`) written before each published diff and rewritten every `HEARTBEAT`
//!   with an expiry of `TTL` (Redis: a key with an expiry; PostgreSQL: a row with an
//!   `expires_at`). Every heartbeat the node also reads all the snapshots: a node whose snapshot
//!   has expired (it died, or lost the adapter) is dropped and its users leave, so a dead node's
//!   users are gone from everyone's presence within `TTL + HEARTBEAT` (3.5 s).
//! - Adapter lost: local delivery goes on (the hub never waits for this task); events are not
//!   queued for later (broadcasts made meanwhile reach local members only), but the node's
//!   presence snapshot is kept up to date and published again on reconnect. The chain is tried
//!   again from the start with backoff (`BACKOFF_MIN` doubling to `BACKOFF_MAX`); after `TTL`
//!   without any adapter the other nodes' presences are dropped (they cannot be vouched for),
//!   and come back from their snapshots once an adapter is back.
//!
//! Telemetry (the OmPubSub seed's events) goes to the log as structured events:
//! `adapter.connected` / `adapter.disconnected` (info), and per published batch
//! `broadcast.start` / `broadcast.stop` with `duration_us`, per subscription
//! `subscribe.start` / `subscribe.stop` with `duration_us` (debug: shown with
//! `RUST_LOG=tether_demo::telemetry=debug`).

use super::{postgres, redis, Adapter, Event, Remote, Status, PROBE};
use crate::cluster_presence::{Change, Entry, Replica, Snapshot};
use crate::log;
use serde_json::{json, Value};
use std::io;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How often a node refreshes its snapshot and reads the others' (so a dead node is noticed
/// at most `TTL + HEARTBEAT` after its last heartbeat).
pub const HEARTBEAT: Duration = Duration::from_millis(500);
/// Expiry of a node's snapshot: a node silent this long is taken for dead.
pub const TTL: Duration = Duration::from_secs(3);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Longest wait for one adapter call (less than `TTL`, so a node that cannot write its
/// snapshot in time is taken for lost, by itself as by the others).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
pub const GOODBYE_TIMEOUT: Duration = Duration::from_millis(300);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Most events published in one batch.
const BATCH: usize = 256;
/// Messages from the subscription waiting to be applied.
pub const INBOX: usize = 4096;

/// A connection to one adapter: publishes, keeps the snapshot, reads the others'.
pub(crate) enum Conn {
    Redis(redis::Conn),
    Postgres(postgres::Conn),
}

/// A live subscription: its messages arrive on `inbox`; `reader` is stopped with the session.
pub(crate) struct Subscription {
    pub inbox: mpsc::Receiver<Vec<u8>>,
    pub reader: JoinHandle<()>,
}

impl Drop for Subscription {
    /// The reader (and the connection it holds) goes with the subscription.
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Conn {
    async fn connect(
        adapter: &Adapter,
        node: &str,
        status: &Arc<Status>,
    ) -> io::Result<(Conn, Subscription)> {
        let started = Instant::now();
        tracing::debug!(target: "tether_demo::telemetry", event = "subscribe.start",
            adapter = adapter.name(), topic = "*", "[tether-demo] telemetry");
        let result = match adapter {
            Adapter::Redis(url) => redis::Conn::connect(url, node)
                .await
                .map(|(c, s)| (Conn::Redis(c), s)),
            Adapter::Postgres(url) => postgres::Conn::connect(url, node, status.clone())
                .await
                .map(|(c, s)| (Conn::Postgres(c), s)),
            Adapter::Local => Err(io::Error::other("local is not a connection")),
        };
        if result.is_ok() {
            tracing::debug!(target: "tether_demo::telemetry", event = "subscribe.stop",
                adapter = adapter.name(), topic = "*",
                duration_us = started.elapsed().as_micros() as u64, "[tether-demo] telemetry");
        }
        result
    }

    /// Write `snapshot` (when given) then publish `envelopes`, in order.
    async fn publish(
        &mut self,
        snapshot: Option<String>,
        envelopes: Vec<String>,
    ) -> io::Result<()> {
        match self {
            Conn::Redis(c) => c.publish(snapshot, envelopes).await,
            Conn::Postgres(c) => c.publish(snapshot, envelopes).await,
        }
    }

    /// Refresh the own snapshot; the other nodes' live snapshots.
    async fn heartbeat(&mut self, snapshot: String) -> io::Result<Vec<Vec<u8>>> {
        match self {
            Conn::Redis(c) => c.heartbeat(snapshot).await,
            Conn::Postgres(c) => c.heartbeat(snapshot).await,
        }
    }

    /// Delete the own snapshot and publish `bye` (best effort, bounded).
    async fn goodbye(&mut self, bye: String) {
        let _ = tokio::time::timeout(GOODBYE_TIMEOUT, async {
            match self {
                Conn::Redis(c) => c.goodbye(bye).await,
                Conn::Postgres(c) => c.goodbye(bye).await,
            }
        })
        .await;
    }
}

struct Node {
    chain: Vec<Adapter>,
    hub: Weak<dyn Remote>,
    status: Arc<Status>,
    rx: mpsc::UnboundedReceiver<Event>,
    stop: oneshot::Receiver<()>,
    /// This node's own presences, as published.
    mine: Snapshot,
    /// The other nodes' presences.
    others: Replica,
    /// Envelopes made so far: each carries its number (`n`), so no two are identical
    /// (PostgreSQL folds identical notifications of one transaction into one).
    made: u64,
}

/// Why a session or a wait ended.
enum End {
    /// Shutdown: the task is done.
    Stopped,
    /// The adapter went away (or misbehaved).
    Lost(io::Error),
    /// An adapter earlier in the chain answered: switch to it.
    Preempted(usize, Box<Conn>, Subscription),
}

pub(crate) async fn run(
    chain: Vec<Adapter>,
    hub: Weak<dyn Remote>,
    rx: mpsc::UnboundedReceiver<Event>,
    status: Arc<Status>,
    stop: oneshot::Receiver<()>,
) {
    let node_id = status.node.clone();
    let mut boot = [0u8; 8];
    let _ = getrandom::fill(&mut boot);
    let boot = boot.iter().map(|b| format!("{b:02x}")).collect();
    let mut node = Node {
        mine: Snapshot::new(node_id, boot),
        others: Replica::default(),
        made: 0,
        chain,
        hub,
        status,
        rx,
        stop,
    };
    let mut backoff = BACKOFF_MIN;
    let mut down_since = Instant::now();
    // Which adapters have been reported unreachable since they were last up.
    let mut said_down = vec![false; node.chain.len()];
    let mut next: Option<(usize, Conn, Subscription)> = None;
    loop {
        // Try the chain in order (or take the adapter that preempted the last one).
        let found = match next.take() {
            Some(found) => Some(found),
            None => node.first_reachable(node.chain.len(), &mut said_down).await,
        };
        match found {
            Some((i, mut conn, sub)) => {
                let adapter = node.chain[i].clone();
                log!("pubsub: {} active", adapter.display());
                tracing::info!(target: "tether_demo::telemetry", event = "adapter.connected",
                    adapter = adapter.name(), address = %adapter.display(), "[tether-demo] telemetry");
                node.status.set_active(Some(i));
                said_down[i] = false;
                backoff = BACKOFF_MIN;
                let end = node.session(i, &mut conn, sub, &mut said_down).await;
                node.status.set_active(None);
                match end {
                    End::Stopped => return,
                    End::Lost(e) => {
                        log!(
                            "pubsub: {} lost ({e}); serving local clients only, trying the chain again",
                            adapter.display()
                        );
                        tracing::info!(target: "tether_demo::telemetry",
                            event = "adapter.disconnected", adapter = adapter.name(),
                            address = %adapter.display(), reason = %e, "[tether-demo] telemetry");
                        said_down[i] = true;
                        down_since = Instant::now();
                    }
                    End::Preempted(j, conn, sub) => {
                        let conn = *conn;
                        log!(
                            "pubsub: {} answers again; switching to it from {}",
                            node.chain[j].display(),
                            adapter.display()
                        );
                        tracing::info!(target: "tether_demo::telemetry",
                            event = "adapter.disconnected", adapter = adapter.name(),
                            address = %adapter.display(), reason = "preempted", "[tether-demo] telemetry");
                        // The old adapter's snapshot is not deleted: it expires within `TTL`,
                        // and nodes still on it keep this node's presences until they switch.
                        next = Some((j, conn, sub));
                        continue;
                    }
                }
            }
            None => {
                if node.chain.last() == Some(&Adapter::Local) {
                    let local = node.chain.len() - 1;
                    node.status.set_active(Some(local));
                    match node.local(local, &mut said_down).await {
                        End::Stopped => return,
                        End::Preempted(j, conn, sub) => {
                            next = Some((j, *conn, sub));
                            continue;
                        }
                        End::Lost(_) => {}
                    }
                }
            }
        }
        if !node.idle(backoff).await {
            return;
        }
        if down_since.elapsed() >= TTL && !node.others.nodes().is_empty() {
            log!("pubsub: no adapter for {TTL:?}; dropping the other nodes' presences until one is back");
            let changes = node.others.retain(&[]);
            node.apply(changes);
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

impl Node {
    /// The first adapter among `chain[..before]` (local excluded) that connects.
    async fn first_reachable(
        &mut self,
        before: usize,
        said_down: &mut [bool],
    ) -> Option<(usize, Conn, Subscription)> {
        for (i, adapter) in self.chain.iter().take(before).cloned().enumerate() {
            if adapter == Adapter::Local {
                break;
            }
            match Conn::connect(&adapter, &self.mine.node, &self.status).await {
                Ok((conn, sub)) => return Some((i, conn, sub)),
                Err(e) if !said_down[i] => {
                    log!(
                        "pubsub: cannot reach {} ({e}); trying the next",
                        adapter.display()
                    );
                    said_down[i] = true;
                }
                Err(_) => {}
            }
        }
        None
    }

    /// `local` is active (every adapter before it is down): serve local clients only, keep the
    /// own snapshot up to date, probe the chain every `PROBE`.
    async fn local(&mut self, index: usize, said_down: &mut [bool]) -> End {
        log!("pubsub: local active (this node's clients only); probing the chain every {PROBE:?}");
        let down_since = Instant::now();
        loop {
            if !self.idle(PROBE).await {
                return End::Stopped;
            }
            if down_since.elapsed() >= TTL && !self.others.nodes().is_empty() {
                log!("pubsub: no adapter for {TTL:?}; dropping the other nodes' presences until one is back");
                let changes = self.others.retain(&[]);
                self.apply(changes);
            }
            if let Some((j, conn, sub)) = self.first_reachable(index, said_down).await {
                return End::Preempted(j, Box::new(conn), sub);
            }
        }
    }

    async fn session(
        &mut self,
        index: usize,
        conn: &mut Conn,
        mut sub: Subscription,
        said_down: &mut [bool],
    ) -> End {
        let end = self.session_inner(index, conn, &mut sub, said_down).await;
        sub.reader.abort();
        end
    }

    async fn session_inner(
        &mut self,
        index: usize,
        conn: &mut Conn,
        sub: &mut Subscription,
        said_down: &mut [bool],
    ) -> End {
        if let Err(e) = self.heartbeat(conn).await {
            return End::Lost(e);
        }
        let mut tick = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut probe = tokio::time::interval_at(Instant::now() + PROBE, PROBE);
        probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut probing: Option<JoinHandle<Option<(usize, Conn, Subscription)>>> = None;
        loop {
            let result = tokio::select! {
                event = self.rx.recv() => match event {
                    Some(event) => self.publish(conn, event).await,
                    None => return self.goodbye(conn).await,
                },
                msg = sub.inbox.recv() => match msg {
                    Some(payload) => {
                        self.inbound(&payload);
                        Ok(())
                    }
                    None => Err(io::Error::other("subscription closed")),
                },
                _ = tick.tick() => self.heartbeat(conn).await,
                // The adapters before this one are probed off the session's task, so a
                // connect that hangs (a blackholed Redis) never holds up the fan-out.
                _ = probe.tick(), if index > 0 && probing.is_none() => {
                    let (chain, node, status) =
                        (self.chain[..index].to_vec(), self.mine.node.clone(), self.status.clone());
                    probing = Some(tokio::spawn(async move {
                        for (i, adapter) in chain.iter().enumerate() {
                            if *adapter == Adapter::Local {
                                break;
                            }
                            if let Ok((c, s)) = Conn::connect(adapter, &node, &status).await {
                                return Some((i, c, s));
                            }
                        }
                        None
                    }));
                    Ok(())
                }
                found = async { probing.as_mut().expect("guarded").await }, if probing.is_some() => {
                    probing = None;
                    if let Ok(Some((j, c, s))) = found {
                        said_down[j] = false;
                        // Publish what is queued on the old adapter first.
                        while let Ok(event) = self.rx.try_recv() {
                            if self.publish(conn, event).await.is_err() {
                                break;
                            }
                        }
                        return End::Preempted(j, Box::new(c), s);
                    }
                    Ok(())
                }
                _ = &mut self.stop => {
                    // Publish what is still queued (the leaves of closing sockets), then go.
                    while let Ok(event) = self.rx.try_recv() {
                        if self.publish(conn, event).await.is_err() {
                            return End::Stopped;
                        }
                    }
                    return self.goodbye(conn).await;
                }
            };
            if let Err(e) = result {
                return End::Lost(e);
            }
        }
    }

    /// Wait `wait` without an adapter, keeping the own snapshot up to date; false once stopped.
    async fn idle(&mut self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        loop {
            tokio::select! {
                event = self.rx.recv() => match event {
                    Some(event) => {
                        self.envelope(event);
                    }
                    None => return false,
                },
                () = tokio::time::sleep_until(until) => return true,
                _ = &mut self.stop => return false,
            }
        }
    }

    /// Record `event` (presence changes go into the own snapshot) and make its envelope.
    fn envelope(&mut self, event: Event) -> (bool, String) {
        self.made += 1;
        let (presence, mut v) = match event {
            Event::Broadcast { topic, text } => (
                false,
                json!({"node": self.mine.node, "boot": self.mine.boot, "type": "bcast",
                    "topic": topic, "frame": text}),
            ),
            Event::Join { topic, key, meta } => self.presence_envelope(true, topic, key, meta),
            Event::Leave { topic, key, meta } => self.presence_envelope(false, topic, key, meta),
        };
        v["n"] = json!(self.made);
        (presence, v.to_string())
    }

    fn presence_envelope(
        &mut self,
        join: bool,
        topic: String,
        key: String,
        meta: serde_json::Map<String, Value>,
    ) -> (bool, Value) {
        let entry = Entry { topic, key, meta };
        let json_entry = entry.to_json();
        let seq = self.mine.apply(join, entry);
        let v = json!({
            "node": self.mine.node,
            "boot": self.mine.boot,
            "type": if join { "join" } else { "leave" },
            "seq": seq,
            "entry": json_entry,
        });
        (true, v)
    }

    /// Publish `first` and whatever else is queued, in order; the own snapshot is written first
    /// when presence changed, so a reader never sees a diff newer than the snapshot.
    async fn publish(&mut self, conn: &mut Conn, first: Event) -> io::Result<()> {
        let started = Instant::now();
        let mut events = vec![first];
        while events.len() < BATCH {
            match self.rx.try_recv() {
                Ok(e) => events.push(e),
                Err(_) => break,
            }
        }
        let count = events.len();
        tracing::debug!(target: "tether_demo::telemetry", event = "broadcast.start",
            adapter = self.status.active(), events = count, "[tether-demo] telemetry");
        let mut presence = false;
        let mut envelopes = Vec::with_capacity(events.len());
        for event in events {
            let (p, envelope) = self.envelope(event);
            presence |= p;
            envelopes.push(envelope);
        }
        let snapshot = presence.then(|| self.mine.to_json().to_string());
        let result = conn.publish(snapshot, envelopes).await;
        tracing::debug!(target: "tether_demo::telemetry", event = "broadcast.stop",
            adapter = self.status.active(), events = count, ok = result.is_ok(),
            duration_us = started.elapsed().as_micros() as u64, "[tether-demo] telemetry");
        result
    }

    /// Refresh the own snapshot, read everyone's, drop the nodes whose snapshot is gone.
    async fn heartbeat(&mut self, conn: &mut Conn) -> io::Result<()> {
        let raw = conn.heartbeat(self.mine.to_json().to_string()).await?;
        let mut snapshots = Vec::new();
        for bytes in raw {
            match serde_json::from_slice::<Value>(&bytes)
                .ok()
                .as_ref()
                .and_then(Snapshot::from_json)
            {
                Some(s) if s.node != self.mine.node => snapshots.push(s),
                Some(_) => {}
                None => log!("pubsub: ignoring a malformed presence snapshot"),
            }
        }
        let alive: Vec<String> = snapshots.iter().map(|s| s.node.clone()).collect();
        let mut changes = self.others.retain(&alive);
        for s in snapshots {
            changes.extend(self.others.snapshot(s));
        }
        self.apply(changes);
        Ok(())
    }

    /// Delete the own snapshot and tell the others, so they drop this node's presences now.
    async fn goodbye(&mut self, conn: &mut Conn) -> End {
        let bye = json!({"node": self.mine.node, "boot": self.mine.boot, "type": "bye"});
        conn.goodbye(bye.to_string()).await;
        End::Stopped
    }

    /// Apply an envelope from the subscription.
    fn inbound(&mut self, payload: &[u8]) {
        let Ok(v) = serde_json::from_slice::<Value>(payload) else {
            log!("pubsub: ignoring a malformed message");
            return;
        };
        let str_of = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
        let (node, boot) = (str_of("node"), str_of("boot"));
        if node.is_empty() || node == self.mine.node {
            return;
        }
        match str_of("type") {
            "bcast" => {
                if let Some(hub) = self.hub.upgrade() {
                    hub.remote_broadcast(str_of("topic"), str_of("frame"));
                }
            }
            kind @ ("join" | "leave") => {
                let seq = v.get("seq").and_then(Value::as_u64).unwrap_or(0);
                let Some(entry) = v.get("entry").and_then(Entry::from_json) else {
                    return;
                };
                let changes = self.others.diff(node, boot, seq, kind == "join", entry);
                self.apply(changes);
            }
            "bye" => {
                let changes = self.others.bye(node, boot);
                self.apply(changes);
            }
            _ => {}
        }
    }

    /// Announce replica changes to the local members.
    fn apply(&self, changes: Vec<Change>) {
        self.status.set_peers(self.others.nodes());
        let Some(hub) = self.hub.upgrade() else {
            return;
        };
        for change in changes {
            match change {
                Change::Join { node, entry } => {
                    hub.remote_join(&node, &entry.topic, &entry.key, entry.meta)
                }
                Change::Leave { node, entry } => {
                    hub.remote_leave(&node, &entry.topic, entry.phx_ref())
                }
            }
        }
    }
}

/// `f` within `limit`, else a timed-out error naming `what`.
pub(crate) async fn within<T>(
    limit: Duration,
    what: &str,
    f: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    tokio::time::timeout(limit, f).await.map_err(|_| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{what} did not answer in time"),
        )
    })?
}
