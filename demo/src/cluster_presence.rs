//! Presence across nodes: what each node publishes about its own presences, and the replica of
//! the other nodes' presences that a node keeps (and turns into joins and leaves for the hub).
//!
//! Every node keeps a `Snapshot` of its local presences: its node id, a boot id (new at every
//! start), a sequence number bumped by every change, and the entries in join order. It writes
//! the snapshot to the pub/sub adapter (Redis or PostgreSQL, with an expiry its heartbeats
//! refresh) *before* it publishes the diff
//! carrying the same sequence number. So a reader may take a snapshot as the truth about a node
//! whenever the snapshot's number is not older than the last diff applied from that node, and
//! must ignore diffs not newer than what it holds. A node whose snapshot key has expired (or
//! that said goodbye) is dropped: all its entries leave.

use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// One presence meta of one node on one topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub topic: String,
    pub key: String,
    /// The meta as sent on the wire, `phx_ref` included.
    pub meta: Map<String, Value>,
}

impl Entry {
    pub fn phx_ref(&self) -> &str {
        self.meta
            .get("phx_ref")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    fn same(&self, other: &Entry) -> bool {
        self.topic == other.topic && self.phx_ref() == other.phx_ref()
    }

    pub fn to_json(&self) -> Value {
        json!({"topic": self.topic, "key": self.key, "meta": self.meta})
    }

    pub fn from_json(v: &Value) -> Option<Entry> {
        Some(Entry {
            topic: v.get("topic")?.as_str()?.to_owned(),
            key: v.get("key")?.as_str()?.to_owned(),
            meta: v.get("meta")?.as_object()?.clone(),
        })
    }
}

/// The presences of one node.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub node: String,
    pub boot: String,
    pub seq: u64,
    pub entries: Vec<Entry>,
}

impl Snapshot {
    pub fn new(node: String, boot: String) -> Snapshot {
        Snapshot {
            node,
            boot,
            seq: 0,
            entries: Vec::new(),
        }
    }

    /// Apply a local join or leave; returns the new sequence number.
    pub fn apply(&mut self, join: bool, entry: Entry) -> u64 {
        self.seq += 1;
        if join {
            self.entries.push(entry);
        } else {
            self.entries.retain(|e| !e.same(&entry));
        }
        self.seq
    }

    pub fn to_json(&self) -> Value {
        let entries: Vec<Value> = self.entries.iter().map(Entry::to_json).collect();
        json!({"node": self.node, "boot": self.boot, "seq": self.seq, "entries": entries})
    }

    pub fn from_json(v: &Value) -> Option<Snapshot> {
        Some(Snapshot {
            node: v.get("node")?.as_str()?.to_owned(),
            boot: v.get("boot")?.as_str()?.to_owned(),
            seq: v.get("seq")?.as_u64()?,
            entries: v
                .get("entries")?
                .as_array()?
                .iter()
                .map(Entry::from_json)
                .collect::<Option<Vec<Entry>>>()?,
        })
    }
}

/// A change the hub must announce to its local members.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Join { node: String, entry: Entry },
    Leave { node: String, entry: Entry },
}

#[derive(Debug)]
struct View {
    boot: String,
    seq: u64,
    entries: Vec<Entry>,
}

/// The other nodes' presences as this node knows them.
#[derive(Debug, Default)]
pub struct Replica {
    nodes: HashMap<String, View>,
}

impl Replica {
    /// The nodes known, sorted.
    pub fn nodes(&self) -> Vec<String> {
        let mut nodes: Vec<String> = self.nodes.keys().cloned().collect();
        nodes.sort();
        nodes
    }

    /// The view of `node` for `boot`: a node known under another boot restarted, so its old
    /// entries leave first.
    fn view(&mut self, node: &str, boot: &str, out: &mut Vec<Change>) -> &mut View {
        if self.nodes.get(node).is_some_and(|v| v.boot != boot) {
            out.extend(self.drop_node(node));
        }
        self.nodes.entry(node.to_owned()).or_insert_with(|| View {
            boot: boot.to_owned(),
            seq: 0,
            entries: Vec::new(),
        })
    }

    /// A diff published by `node`: applied only when newer than what is known.
    pub fn diff(
        &mut self,
        node: &str,
        boot: &str,
        seq: u64,
        join: bool,
        entry: Entry,
    ) -> Vec<Change> {
        let mut out = Vec::new();
        let view = self.view(node, boot, &mut out);
        if seq <= view.seq {
            return out;
        }
        view.seq = seq;
        let at = view.entries.iter().position(|e| e.same(&entry));
        match (join, at) {
            (true, None) => {
                view.entries.push(entry.clone());
                out.push(Change::Join {
                    node: node.to_owned(),
                    entry,
                });
            }
            (false, Some(i)) => {
                let entry = view.entries.remove(i);
                out.push(Change::Leave {
                    node: node.to_owned(),
                    entry,
                });
            }
            _ => {}
        }
        out
    }

    /// A snapshot read from Redis: the truth about its node unless older than what is known.
    pub fn snapshot(&mut self, snap: Snapshot) -> Vec<Change> {
        let mut out = Vec::new();
        let node = snap.node.clone();
        let view = self.view(&node, &snap.boot, &mut out);
        if snap.seq < view.seq {
            return out;
        }
        view.seq = snap.seq;
        let old = std::mem::take(&mut view.entries);
        for e in &old {
            if !snap.entries.iter().any(|n| n.same(e)) {
                out.push(Change::Leave {
                    node: node.clone(),
                    entry: e.clone(),
                });
            }
        }
        for e in &snap.entries {
            if !old.iter().any(|o| o.same(e)) {
                out.push(Change::Join {
                    node: node.clone(),
                    entry: e.clone(),
                });
            }
        }
        view.entries = snap.entries;
        out
    }

    /// Forget `node` (dead or gone): all its entries leave.
    pub fn drop_node(&mut self, node: &str) -> Vec<Change> {
        self.nodes
            .remove(node)
            .map(|v| {
                v.entries
                    .into_iter()
                    .map(|entry| Change::Leave {
                        node: node.to_owned(),
                        entry,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `node` said goodbye: dropped if it is the boot known.
    pub fn bye(&mut self, node: &str, boot: &str) -> Vec<Change> {
        if self.nodes.get(node).is_some_and(|v| v.boot == boot) {
            self.drop_node(node)
        } else {
            Vec::new()
        }
    }

    /// Drop every node not in `alive`.
    pub fn retain(&mut self, alive: &[String]) -> Vec<Change> {
        let gone: Vec<String> = self
            .nodes
            .keys()
            .filter(|n| !alive.contains(n))
            .cloned()
            .collect();
        gone.iter().flat_map(|n| self.drop_node(n)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(topic: &str, key: &str, phx_ref: &str) -> Entry {
        let mut meta = Map::new();
        meta.insert("name".into(), json!(key));
        meta.insert("phx_ref".into(), json!(phx_ref));
        Entry {
            topic: topic.into(),
            key: key.into(),
            meta,
        }
    }

    fn joins(changes: &[Change]) -> Vec<&str> {
        changes
            .iter()
            .filter_map(|c| match c {
                Change::Join { entry, .. } => Some(entry.phx_ref()),
                Change::Leave { .. } => None,
            })
            .collect()
    }

    fn leaves(changes: &[Change]) -> Vec<&str> {
        changes
            .iter()
            .filter_map(|c| match c {
                Change::Leave { entry, .. } => Some(entry.phx_ref()),
                Change::Join { .. } => None,
            })
            .collect()
    }

    #[test]
    fn snapshot_round_trip() {
        let mut s = Snapshot::new("a".into(), "boot1".into());
        assert_eq!(s.apply(true, entry("room:x", "ada", "r1")), 1);
        assert_eq!(s.apply(true, entry("room:x", "bob", "r2")), 2);
        assert_eq!(s.apply(false, entry("room:x", "ada", "r1")), 3);
        let back = Snapshot::from_json(&s.to_json()).expect("parses");
        assert_eq!(back, s);
        assert_eq!(back.entries.len(), 1);
        assert!(Snapshot::from_json(&json!({"node": "a"})).is_none());
    }

    #[test]
    fn diffs_apply_once_and_in_order() {
        let mut r = Replica::default();
        let c = r.diff("b", "x", 1, true, entry("room:x", "ada", "r1"));
        assert_eq!(joins(&c), ["r1"]);
        // A replay (or an older diff) changes nothing.
        assert!(r
            .diff("b", "x", 1, true, entry("room:x", "ada", "r1"))
            .is_empty());
        assert!(r
            .diff("b", "x", 1, false, entry("room:x", "ada", "r1"))
            .is_empty());
        let c = r.diff("b", "x", 2, false, entry("room:x", "ada", "r1"));
        assert_eq!(leaves(&c), ["r1"]);
        assert_eq!(r.nodes(), ["b"]);
    }

    #[test]
    fn snapshots_reconcile_unless_stale() {
        let mut r = Replica::default();
        r.diff("b", "x", 3, true, entry("room:x", "ada", "r1"));
        // Older than the diff applied: ignored.
        let stale = Snapshot {
            node: "b".into(),
            boot: "x".into(),
            seq: 2,
            entries: vec![],
        };
        assert!(r.snapshot(stale).is_empty());
        let fresh = Snapshot {
            node: "b".into(),
            boot: "x".into(),
            seq: 5,
            entries: vec![entry("room:x", "bob", "r2"), entry("room:y", "cy", "r3")],
        };
        let c = r.snapshot(fresh.clone());
        assert_eq!(leaves(&c), ["r1"]);
        assert_eq!(joins(&c), ["r2", "r3"]);
        assert!(r.snapshot(fresh).is_empty());
        // Diffs the snapshot already covers are ignored.
        assert!(r
            .diff("b", "x", 5, false, entry("room:x", "bob", "r2"))
            .is_empty());
        // A restart (new boot) drops the old entries first.
        let c = r.diff("b", "y", 1, true, entry("room:x", "bob", "r9"));
        assert_eq!(leaves(&c), ["r2", "r3"]);
        assert_eq!(joins(&c), ["r9"]);
        assert!(r.bye("b", "x").is_empty());
        assert_eq!(leaves(&r.retain(&["c".into()])), ["r9"]);
        assert!(r.nodes().is_empty());
        r.diff("c", "z", 1, true, entry("room:x", "cy", "r4"));
        assert_eq!(leaves(&r.bye("c", "z")), ["r4"]);
    }
}
