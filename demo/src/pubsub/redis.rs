//! The Redis adapter: one task per node holding two connections (commands, and a subscriber on
//! `CHANNEL`), reconnecting with backoff whenever Redis goes away.
//!
//! - Every hub event is published on `CHANNEL` as a JSON envelope carrying this node's id and
//!   boot id; every node applies the envelopes of the *other* nodes (its own are skipped, so
//!   nothing is delivered twice): broadcasts go to its local members, presence diffs update its
//!   replica of the other nodes' presences (and are announced to its local members).
//! - Presence: the node's own presences live in `KEY_PREFIX<node>` as a snapshot (see
//!   `cluster_presence`) written before each published diff and rewritten every `HEARTBEAT`
//!   with an expiry of `TTL`. Every heartbeat the node also reads all the snapshots: a node whose
//!   key has expired (it died, or lost Redis) is dropped and its users leave, so a dead node's
//!   users are gone from everyone's presence within `TTL + HEARTBEAT` (3.5 s).
//! - Redis down: local delivery goes on (the hub never waits for this task); events are not
//!   queued for later (broadcasts made meanwhile reach local members only), but the node's
//!   presence snapshot is kept up to date and published again on reconnect. After `TTL` without
//!   Redis the other nodes' presences are dropped too (they cannot be vouched for), and come back
//!   from their snapshots once Redis is back.

use super::resp::{Conn, Value as Resp};
use super::{Event, RedisAddr, Status};
use crate::cluster_presence::{Change, Entry, Replica, Snapshot};
use crate::hub::Hub;
use crate::log;
use serde_json::{json, Value};
use std::future::Future;
use std::io;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// The channel every node publishes on and subscribes to.
pub const CHANNEL: &str = "tether:fanout";
/// Prefix of the per-node presence snapshot keys.
pub const KEY_PREFIX: &str = "tether:presence:";
/// How often a node refreshes its snapshot and reads the others' (so a dead node is noticed
/// at most `TTL + HEARTBEAT` after its last heartbeat).
pub const HEARTBEAT: Duration = Duration::from_millis(500);
/// Expiry of a node's snapshot: a node silent this long is taken for dead.
pub const TTL: Duration = Duration::from_secs(3);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
const GOODBYE_TIMEOUT: Duration = Duration::from_millis(300);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Most events published in one pipeline.
const BATCH: usize = 256;
/// Messages from the subscriber connection waiting to be applied.
const INBOX: usize = 4096;

struct Node {
    addr: RedisAddr,
    hub: Weak<Hub>,
    status: Arc<Status>,
    rx: mpsc::UnboundedReceiver<Event>,
    stop: oneshot::Receiver<()>,
    /// This node's own presences, as published.
    mine: Snapshot,
    /// The other nodes' presences.
    others: Replica,
    key: Vec<u8>,
}

/// Why a session or a wait ended.
enum End {
    /// Shutdown: the task is done.
    Stopped,
    /// Redis went away (or misbehaved).
    Lost(io::Error),
}

pub(crate) async fn run(
    addr: RedisAddr,
    hub: Weak<Hub>,
    rx: mpsc::UnboundedReceiver<Event>,
    status: Arc<Status>,
    stop: oneshot::Receiver<()>,
) {
    let node_id = status.node.clone();
    let mut boot = [0u8; 8];
    let _ = getrandom::fill(&mut boot);
    let boot = boot.iter().map(|b| format!("{b:02x}")).collect();
    let mut node = Node {
        key: format!("{KEY_PREFIX}{node_id}").into_bytes(),
        mine: Snapshot::new(node_id, boot),
        others: Replica::default(),
        addr,
        hub,
        status,
        rx,
        stop,
    };
    let mut backoff = BACKOFF_MIN;
    let mut down_since = Instant::now();
    let mut said_down = false;
    loop {
        match node.connect().await {
            Ok((mut cmd, inbox, reader)) => {
                log!("redis: connected to {}", node.addr.display());
                node.status.set_connected(true);
                backoff = BACKOFF_MIN;
                let end = node.session(&mut cmd, inbox).await;
                reader.abort();
                node.status.set_connected(false);
                match end {
                    End::Stopped => return,
                    End::Lost(e) => log!(
                        "redis: connection lost ({e}); serving local clients only, reconnecting"
                    ),
                }
                down_since = Instant::now();
                said_down = true;
            }
            Err(e) if !said_down => {
                log!(
                    "redis: cannot reach {} ({e}); serving local clients only, retrying",
                    node.addr.display()
                );
                said_down = true;
            }
            Err(_) => {}
        }
        if !node.idle(backoff).await {
            return;
        }
        if down_since.elapsed() >= TTL && !node.others.nodes().is_empty() {
            log!("redis: down for {TTL:?}; dropping the other nodes' presences until it is back");
            let changes = node.others.retain(&[]);
            node.apply(changes);
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

impl Node {
    /// Open the command connection and the subscriber (its messages forwarded to the inbox by
    /// a reader task).
    async fn connect(
        &self,
    ) -> io::Result<(Conn, mpsc::Receiver<Vec<u8>>, tokio::task::JoinHandle<()>)> {
        let cmd = Conn::connect(&self.addr, CONNECT_TIMEOUT).await?;
        let mut sub = Conn::connect(&self.addr, CONNECT_TIMEOUT).await?;
        within(
            COMMAND_TIMEOUT,
            sub.cmd(&[b"SUBSCRIBE", CHANNEL.as_bytes()]),
        )
        .await?;
        let (tx, inbox) = mpsc::channel(INBOX);
        let reader = tokio::spawn(async move {
            while let Ok(msg) = sub.read().await {
                let items = msg.items();
                if items.len() == 3 && items[0].bytes() == Some(b"message") {
                    if let Some(payload) = items[2].bytes() {
                        if tx.send(payload.to_vec()).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Ok((cmd, inbox, reader))
    }

    async fn session(&mut self, cmd: &mut Conn, mut inbox: mpsc::Receiver<Vec<u8>>) -> End {
        if let Err(e) = self.heartbeat(cmd).await {
            return End::Lost(e);
        }
        let mut tick = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let result = tokio::select! {
                event = self.rx.recv() => match event {
                    Some(event) => self.publish(cmd, event).await,
                    None => return self.goodbye(cmd).await,
                },
                msg = inbox.recv() => match msg {
                    Some(payload) => {
                        self.inbound(&payload);
                        Ok(())
                    }
                    None => Err(io::Error::other("subscription closed")),
                },
                _ = tick.tick() => self.heartbeat(cmd).await,
                _ = &mut self.stop => {
                    // Publish what is still queued (the leaves of closing sockets), then go.
                    while let Ok(event) = self.rx.try_recv() {
                        if self.publish(cmd, event).await.is_err() {
                            return End::Stopped;
                        }
                    }
                    return self.goodbye(cmd).await;
                }
            };
            if let Err(e) = result {
                return End::Lost(e);
            }
        }
    }

    /// Wait `wait` without Redis, keeping the own snapshot up to date; false once stopped.
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
    fn envelope(&mut self, event: Event) -> (bool, Vec<u8>) {
        let (presence, v) = match event {
            Event::Broadcast { topic, text } => (
                false,
                json!({"node": self.mine.node, "boot": self.mine.boot, "type": "bcast",
                    "topic": topic, "frame": text}),
            ),
            Event::Join { topic, key, meta } => self.presence_envelope(true, topic, key, meta),
            Event::Leave { topic, key, meta } => self.presence_envelope(false, topic, key, meta),
        };
        (presence, v.to_string().into_bytes())
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
    async fn publish(&mut self, cmd: &mut Conn, first: Event) -> io::Result<()> {
        let mut events = vec![first];
        while events.len() < BATCH {
            match self.rx.try_recv() {
                Ok(e) => events.push(e),
                Err(_) => break,
            }
        }
        let mut presence = false;
        let mut cmds = vec![Vec::new()];
        for event in events {
            let (p, envelope) = self.envelope(event);
            presence |= p;
            cmds.push(vec![b"PUBLISH".to_vec(), CHANNEL.into(), envelope]);
        }
        if presence {
            cmds[0] = self.set_snapshot();
        } else {
            cmds.remove(0);
        }
        let replies = within(COMMAND_TIMEOUT, cmd.pipeline(&cmds)).await?;
        for r in replies {
            if let Resp::Error(e) = r {
                log!("redis: publish failed: {e}");
            }
        }
        Ok(())
    }

    fn set_snapshot(&self) -> Vec<Vec<u8>> {
        vec![
            b"SET".to_vec(),
            self.key.clone(),
            self.mine.to_json().to_string().into_bytes(),
            b"PX".to_vec(),
            TTL.as_millis().to_string().into_bytes(),
        ]
    }

    /// Refresh the own snapshot, read everyone's, drop the nodes whose key is gone.
    async fn heartbeat(&mut self, cmd: &mut Conn) -> io::Result<()> {
        let set = self.set_snapshot();
        let set: Vec<&[u8]> = set.iter().map(Vec::as_slice).collect();
        within(COMMAND_TIMEOUT, cmd.cmd(&set)).await?;
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut cursor = b"0".to_vec();
        loop {
            let pattern = format!("{KEY_PREFIX}*");
            let page = within(
                COMMAND_TIMEOUT,
                cmd.cmd(&[
                    b"SCAN",
                    &cursor,
                    b"MATCH",
                    pattern.as_bytes(),
                    b"COUNT",
                    b"1000",
                ]),
            )
            .await?;
            let items = page.items();
            cursor = items.first().and_then(Resp::bytes).unwrap_or(b"0").to_vec();
            for k in items.get(1).map(Resp::items).unwrap_or_default() {
                if let Some(k) = k.bytes() {
                    if k != self.key.as_slice() && !keys.iter().any(|x| x == k) {
                        keys.push(k.to_vec());
                    }
                }
            }
            if cursor == b"0" {
                break;
            }
        }
        let mut snapshots = Vec::new();
        if !keys.is_empty() {
            let mut mget: Vec<&[u8]> = vec![b"MGET"];
            mget.extend(keys.iter().map(Vec::as_slice));
            let values = within(COMMAND_TIMEOUT, cmd.cmd(&mget)).await?;
            for v in values.items() {
                let Some(bytes) = v.bytes() else { continue };
                match serde_json::from_slice::<Value>(bytes)
                    .ok()
                    .as_ref()
                    .and_then(Snapshot::from_json)
                {
                    Some(s) if s.node != self.mine.node => snapshots.push(s),
                    Some(_) => {}
                    None => log!("redis: ignoring a malformed presence snapshot"),
                }
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
    async fn goodbye(&mut self, cmd: &mut Conn) -> End {
        let bye = json!({"node": self.mine.node, "boot": self.mine.boot, "type": "bye"});
        let cmds = vec![
            vec![b"DEL".to_vec(), self.key.clone()],
            vec![
                b"PUBLISH".to_vec(),
                CHANNEL.into(),
                bye.to_string().into_bytes(),
            ],
        ];
        let _ = within(GOODBYE_TIMEOUT, cmd.pipeline(&cmds)).await;
        End::Stopped
    }

    /// Apply an envelope from the subscription.
    fn inbound(&mut self, payload: &[u8]) {
        let Ok(v) = serde_json::from_slice::<Value>(payload) else {
            log!("redis: ignoring a malformed message");
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

async fn within<T>(limit: Duration, f: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    tokio::time::timeout(limit, f)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "redis did not answer in time"))?
}
