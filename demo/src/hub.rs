//! Topic registry: who is joined to which topic, fan-out of frames to them, and presence.
//!
//! Each member is one connection's membership of one topic: its connection id, the join ref of
//! its current join, a display name, and the sender of that connection's outbound text frames.
//! A membership may also be *tracked* for presence (`join_tracked`): it then holds one meta in
//! the topic's `Presences`, and every change is announced with `presence_diff` broadcasts.
//! Membership, presence and the frames announcing a change are all updated under one lock, so
//! every member sees presence changes in the order they happened, and a joiner's own
//! `presence_diff` is queued right before its `presence_state`.
//!
//! With a remote `pubsub::Link` (Redis or PostgreSQL), every broadcast and local presence change is also handed to the
//! link (under the same lock, so in order), and what other nodes publish comes back through
//! `remote_broadcast` / `remote_join` / `remote_leave`: remote metas sit in the topic's
//! `Presences` under connection ids of their own, so `presence_state` includes them.

use crate::frame::Frame;
use crate::log;
use crate::presence::{self, Presences};
use crate::pubsub::{Event, Link};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use tokio::sync::{mpsc, watch};

pub use crate::presence::ConnId;

/// Outbound text frames queued for one connection.
pub type Outbox = mpsc::Sender<String>;

/// Frames a connection may have queued before further broadcasts to it are dropped.
pub const OUTBOX_CAPACITY: usize = 1024;

pub const PRESENCE_DIFF: &str = "presence_diff";
pub const PRESENCE_STATE: &str = "presence_state";

#[derive(Debug, Clone)]
pub struct Member {
    pub conn: ConnId,
    pub join_ref: Option<String>,
    pub name: String,
    pub tx: Outbox,
}

#[derive(Debug, Default)]
struct Topic {
    members: HashMap<ConnId, Member>,
    presence: Presences,
    /// Metas of other nodes: (node, phx_ref) → the id they are tracked under here.
    remote: HashMap<(String, String), ConnId>,
}

impl Topic {
    /// Remove `conn`'s membership and its presence meta; the meta's leave is broadcast to the
    /// members that remain.
    fn remove(&mut self, topic: &str, conn: ConnId, link: Option<&Link>) -> Option<Member> {
        let removed = self.members.remove(&conn);
        self.untrack(topic, conn, link);
        removed
    }

    /// Drop `conn`'s presence meta (if any) and broadcast its leave to the other members (and
    /// to the other nodes through `link`).
    fn untrack(&mut self, topic: &str, conn: ConnId, link: Option<&Link>) {
        if let Some((key, meta)) = self.presence.untrack(conn) {
            let text =
                Frame::broadcast(topic, PRESENCE_DIFF, presence::diff(&key, &meta, false)).encode();
            fanout(&self.members, Some(conn), &text);
            if let Some(link) = link.filter(|l| l.is_remote()) {
                link.send(Event::Leave {
                    topic: topic.to_owned(),
                    key,
                    meta,
                });
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.members.is_empty() && self.presence.is_empty()
    }
}

type Topics = HashMap<String, Topic>;

#[derive(Debug)]
pub struct Hub {
    topics: Mutex<Topics>,
    next_conn: AtomicU64,
    /// Ids for other nodes' metas, from a range of their own (top bit set) so they never
    /// meet a connection's.
    next_remote: AtomicU64,
    shutdown: watch::Sender<bool>,
    /// The pub/sub adapter (set once at startup; unset means a lone local node).
    link: OnceLock<Link>,
}

impl Hub {
    pub fn new() -> Arc<Hub> {
        let (shutdown, _) = watch::channel(false);
        Arc::new(Hub {
            topics: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            next_remote: AtomicU64::new(1 << 63),
            shutdown,
            link: OnceLock::new(),
        })
    }

    /// Connect the hub to its pub/sub adapter (the first call wins).
    pub fn set_link(&self, link: Link) {
        let _ = self.link.set(link);
    }

    /// The link, when it leads to other nodes.
    fn remote_link(&self) -> Option<&Link> {
        self.link.get().filter(|l| l.is_remote())
    }

    /// What `GET /api/health` reports (see `pubsub::Status::health`).
    pub fn health(&self) -> Value {
        match self.link.get() {
            Some(link) => link.status.health(),
            None => serde_json::json!({"status": "ok", "pubsub": "local", "redis": null,
                "postgres": null}),
        }
    }

    fn topics(&self) -> MutexGuard<'_, Topics> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters here, so recover from poisoning instead of propagating it.
        self.topics.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Register `member` on `topic` without presence; returns the membership it replaced (same
    /// connection). A presence meta of the replaced membership leaves (announced to the others).
    pub fn join(&self, topic: &str, member: Member) -> Option<Member> {
        let mut topics = self.topics();
        let t = topics.entry(topic.to_owned()).or_default();
        t.untrack(topic, member.conn, self.remote_link());
        t.members.insert(member.conn, member)
    }

    /// Register `member` on `topic` and track it for presence under `key` with `meta`
    /// (a fresh `phx_ref` is added); returns the membership it replaced (same connection).
    ///
    /// Frames, queued in this order under the hub lock:
    /// 1. if the connection was already tracked here: `presence_diff` leaves of its old meta to
    ///    every other member;
    /// 2. `presence_diff` joins of the new meta to every member, the joiner included
    ///    (a broadcast: `[null, null, topic, "presence_diff", …]`);
    /// 3. `presence_state` (every key with all its metas, in join order) to the joiner alone as
    ///    a channel push: `[join_ref, null, topic, "presence_state", …]`.
    ///
    /// The join reply is sent by the caller straight to the socket, so it goes out before these.
    pub fn join_tracked(
        &self,
        topic: &str,
        member: Member,
        key: &str,
        mut meta: Map<String, Value>,
    ) -> Option<Member> {
        let mut topics = self.topics();
        let t = topics.entry(topic.to_owned()).or_default();
        let conn = member.conn;
        let link = self.remote_link();
        t.untrack(topic, conn, link);
        let joiner = member.clone();
        let old = t.members.insert(conn, member);

        meta.insert("phx_ref".into(), Value::String(presence::new_phx_ref()));
        let diff = presence::diff(key, &meta, true);
        if let Some(link) = link {
            link.send(Event::Join {
                topic: topic.to_owned(),
                key: key.to_owned(),
                meta: meta.clone(),
            });
        }
        t.presence.track(key, conn, meta);
        let text = Frame::broadcast(topic, PRESENCE_DIFF, diff).encode();
        fanout(&t.members, None, &text);
        let state = Frame::encode_raw(
            joiner.join_ref.as_deref(),
            None,
            topic,
            PRESENCE_STATE,
            &t.presence.state_json(),
        );
        deliver(&joiner, state);
        old
    }

    /// Remove `conn` from `topic`; returns the removed membership. Its presence meta (if any)
    /// leaves, announced to the remaining members.
    pub fn leave(&self, topic: &str, conn: ConnId) -> Option<Member> {
        let mut topics = self.topics();
        let t = topics.get_mut(topic)?;
        let removed = t.remove(topic, conn, self.remote_link());
        if t.is_empty() {
            topics.remove(topic);
        }
        removed
    }

    /// Remove every membership of `conn` (announcing presence leaves); returns the topics it
    /// was on.
    pub fn remove_conn(&self, conn: ConnId) -> Vec<String> {
        let mut topics = self.topics();
        let mut left = Vec::new();
        let link = self.remote_link();
        topics.retain(|topic, t| {
            if t.remove(topic, conn, link).is_some() {
                left.push(topic.clone());
            }
            !t.is_empty()
        });
        left
    }

    /// The membership of `conn` on `topic`, if any.
    pub fn member(&self, topic: &str, conn: ConnId) -> Option<Member> {
        self.topics().get(topic)?.members.get(&conn).cloned()
    }

    /// All memberships of `topic`.
    pub fn members(&self, topic: &str) -> Vec<Member> {
        self.topics()
            .get(topic)
            .map(|t| t.members.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The presence state of `topic` as a JSON object text, keys in join order — exactly the
    /// payload a `presence_state` sent now would carry (`{}` for an unknown topic).
    pub fn presence_json(&self, topic: &str) -> String {
        self.topics()
            .get(topic)
            .map(|t| t.presence.state_json())
            .unwrap_or_else(|| "{}".to_owned())
    }

    /// Send `[null, null, topic, event, payload]` to every member of `topic`.
    pub fn broadcast(&self, topic: &str, event: &str, payload: Map<String, Value>) -> usize {
        self.broadcast_from(None, topic, event, payload)
    }

    /// Like `broadcast`, but skipping the connection `except` (Phoenix's `broadcast_from`).
    pub fn broadcast_from(
        &self,
        except: Option<ConnId>,
        topic: &str,
        event: &str,
        payload: Map<String, Value>,
    ) -> usize {
        let text = Frame::broadcast(topic, event, payload).encode();
        let topics = self.topics();
        if let Some(link) = self.remote_link() {
            link.send(Event::Broadcast {
                topic: topic.to_owned(),
                text: text.clone(),
            });
        }
        topics
            .get(topic)
            .map_or(0, |t| fanout(&t.members, except, &text))
    }

    /// Deliver a broadcast frame another node published to every member of `topic` here.
    pub fn remote_broadcast(&self, topic: &str, text: &str) -> usize {
        self.topics()
            .get(topic)
            .map_or(0, |t| fanout(&t.members, None, text))
    }

    /// Another node's meta joined `topic` under `key`: track it and announce it to the members
    /// here (a meta already known is ignored).
    pub fn remote_join(&self, node: &str, topic: &str, key: &str, meta: Map<String, Value>) {
        let Some(phx_ref) = meta.get("phx_ref").and_then(Value::as_str) else {
            return;
        };
        let id = (node.to_owned(), phx_ref.to_owned());
        let mut topics = self.topics();
        let t = topics.entry(topic.to_owned()).or_default();
        if t.remote.contains_key(&id) {
            return;
        }
        let conn = self.next_remote.fetch_add(1, Ordering::Relaxed);
        t.remote.insert(id, conn);
        let text =
            Frame::broadcast(topic, PRESENCE_DIFF, presence::diff(key, &meta, true)).encode();
        t.presence.track(key, conn, meta);
        fanout(&t.members, None, &text);
    }

    /// Another node's meta left `topic`: untrack it and announce the leave here.
    pub fn remote_leave(&self, node: &str, topic: &str, phx_ref: &str) {
        let mut topics = self.topics();
        let Some(t) = topics.get_mut(topic) else {
            return;
        };
        if let Some(conn) = t.remote.remove(&(node.to_owned(), phx_ref.to_owned())) {
            t.untrack(topic, conn, None);
        }
        if t.is_empty() {
            topics.remove(topic);
        }
    }

    /// Push `[join_ref, null, topic, event, payload]` to one member (a channel push).
    pub fn push_to(&self, member: &Member, topic: &str, event: &str, payload: Map<String, Value>) {
        let frame = Frame {
            join_ref: member.join_ref.clone(),
            ref_: None,
            topic: topic.to_owned(),
            event: event.to_owned(),
            payload,
        };
        deliver(member, frame.encode());
    }

    /// A receiver that turns `true` once shutdown has begun.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// Queue `text` for every member but `except`; returns how many took it.
fn fanout(members: &HashMap<ConnId, Member>, except: Option<ConnId>, text: &str) -> usize {
    members
        .values()
        .filter(|m| Some(m.conn) != except)
        .filter(|m| deliver(m, text.to_owned()))
        .count()
}

/// Queue `text` for `member` without waiting; a full or closed outbox drops it.
fn deliver(member: &Member, text: String) -> bool {
    match member.tx.try_send(text) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            log!("conn {}: outbox full, dropping a frame", member.conn);
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

impl crate::pubsub::Remote for Hub {
    fn set_link(&self, link: Link) {
        Hub::set_link(self, link);
    }
    fn remote_broadcast(&self, topic: &str, text: &str) -> usize {
        Hub::remote_broadcast(self, topic, text)
    }
    fn remote_join(&self, node: &str, topic: &str, key: &str, meta: Map<String, Value>) {
        Hub::remote_join(self, node, topic, key, meta);
    }
    fn remote_leave(&self, node: &str, topic: &str, phx_ref: &str) {
        Hub::remote_leave(self, node, topic, phx_ref);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(conn: ConnId, tx: &Outbox) -> Member {
        Member {
            conn,
            join_ref: Some("1".into()),
            name: "n".into(),
            tx: tx.clone(),
        }
    }

    #[test]
    fn join_leave_and_remove_conn() {
        let hub = Hub::new();
        let (tx, mut rx) = mpsc::channel(8);
        assert!(hub.join("room:a", member(1, &tx)).is_none());
        assert!(hub.join("room:a", member(1, &tx)).is_some());
        hub.join("room:b", member(1, &tx));
        hub.join("room:b", member(2, &tx));
        assert_eq!(hub.broadcast("room:b", "e", Map::new()), 2);
        assert_eq!(hub.broadcast_from(Some(1), "room:b", "e", Map::new()), 1);
        assert!(rx.try_recv().is_ok());
        assert!(hub.leave("room:a", 1).is_some());
        assert!(hub.member("room:a", 1).is_none());
        let mut left = hub.remove_conn(1);
        left.sort();
        assert_eq!(left, vec!["room:b".to_string()]);
        assert_eq!(hub.members("room:b").len(), 1);
    }

    #[test]
    fn link_gets_every_change_and_remote_metas_join_the_state() {
        use crate::pubsub::{Event, Link};
        let hub = Hub::new();
        let (link, mut events) = Link::channel("a".into(), vec!["redis"]);
        hub.set_link(link);
        assert_eq!(hub.health()["chain"], serde_json::json!(["redis"]));
        let (tx1, mut rx1) = mpsc::channel(16);
        // A remote meta first: the local joiner's presence_state holds it too.
        let mut remote = meta("bob");
        remote.insert("phx_ref".into(), Value::String("R1".into()));
        hub.remote_join("b", "room:p", "bob", remote.clone());
        hub.remote_join("b", "room:p", "bob", remote.clone()); // known: ignored
        hub.join_tracked("room:p", member(1, &tx1), "ada", meta("ada"));
        assert_eq!(next(&mut rx1)[4]["joins"]["ada"]["metas"][0]["name"], "ada");
        let state = next(&mut rx1);
        assert_eq!(state[3], "presence_state");
        assert_eq!(state[4]["bob"]["metas"][0]["phx_ref"], "R1");
        assert!(matches!(
            events.try_recv(),
            Ok(Event::Join { ref topic, ref key, .. }) if topic == "room:p" && key == "ada"
        ));
        // Broadcasts go to the link even with no local member; remote ones stay local.
        hub.broadcast("room:nobody", "e", Map::new());
        assert!(
            matches!(events.try_recv(), Ok(Event::Broadcast { ref topic, .. }) if topic == "room:nobody")
        );
        assert_eq!(
            hub.remote_broadcast("room:p", r#"[null,null,"room:p","x",{}]"#),
            1
        );
        assert_eq!(next(&mut rx1)[3], "x");
        assert!(events.try_recv().is_err());
        // A remote leave is announced here, not sent back.
        hub.remote_leave("b", "room:p", "R1");
        assert_eq!(
            next(&mut rx1)[4]["leaves"]["bob"]["metas"][0]["phx_ref"],
            "R1"
        );
        assert!(events.try_recv().is_err());
        hub.remove_conn(1);
        assert!(matches!(events.try_recv(), Ok(Event::Leave { ref key, .. }) if key == "ada"));
        assert_eq!(hub.presence_json("room:p"), "{}");
    }

    fn next(rx: &mut mpsc::Receiver<String>) -> Value {
        let text = rx.try_recv().expect("a queued frame");
        serde_json::from_str(&text).expect("JSON frame")
    }

    fn meta(name: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("name".into(), Value::String(name.into()));
        m
    }

    #[test]
    fn tracked_join_queues_diff_then_state_and_leaves_are_announced() {
        let hub = Hub::new();
        let (tx1, mut rx1) = mpsc::channel(8);
        let (tx2, mut rx2) = mpsc::channel(8);
        hub.join_tracked("room:p", member(1, &tx1), "__proto__", meta("__proto__"));
        let d = next(&mut rx1);
        assert_eq!(d[0], Value::Null);
        assert_eq!(d[1], Value::Null);
        assert_eq!(d[3], "presence_diff");
        let r1 = d[4]["joins"]["__proto__"]["metas"][0]["phx_ref"].clone();
        assert!(r1.is_string());
        let s = next(&mut rx1);
        assert_eq!(s[0], "1");
        assert_eq!(s[1], Value::Null);
        assert_eq!(s[3], "presence_state");
        assert_eq!(s[4]["__proto__"]["metas"][0]["phx_ref"], r1);

        hub.join_tracked("room:p", member(2, &tx2), "b", meta("b"));
        assert_eq!(next(&mut rx1)[4]["joins"]["b"]["metas"][0]["name"], "b");
        assert_eq!(next(&mut rx2)[3], "presence_diff");
        assert_eq!(next(&mut rx2)[3], "presence_state");
        assert_eq!(hub.presence_json("room:p").find("__proto__"), Some(2));

        // Re-join: the old meta leaves (to the others), the new one joins.
        hub.join_tracked("room:p", member(2, &tx2), "b", meta("b"));
        let leave = next(&mut rx1);
        assert_eq!(
            leave[4]["leaves"]["b"]["metas"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(
            next(&mut rx1)[4]["joins"]["b"]["metas"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        assert_eq!(next(&mut rx2)[3], "presence_diff");
        assert_eq!(next(&mut rx2)[3], "presence_state");
        assert!(rx2.try_recv().is_err());

        hub.leave("room:p", 1);
        assert_eq!(
            next(&mut rx2)[4]["leaves"]["__proto__"]["metas"][0]["phx_ref"],
            r1
        );
        assert!(rx1.try_recv().is_err());
        hub.remove_conn(2);
        assert_eq!(hub.presence_json("room:p"), "{}");
        assert!(hub.members("room:p").is_empty());
    }
}
