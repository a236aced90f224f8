//! Phoenix-style presence state of one topic: key → metas, keys in join order.
//!
//! Every tracked connection contributes one meta under its key; each meta carries a unique
//! `phx_ref`. The hub owns one `Presences` per topic and keeps it in step with the membership,
//! so `presence_state`/`presence_diff` frames are produced under the same lock as the change.

use serde_json::{Map, Value};
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Identifies one WebSocket connection for the life of the server.
pub type ConnId = u64;

/// One tracked connection under a key.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracked {
    pub conn: ConnId,
    /// The meta as sent on the wire, `phx_ref` included.
    pub meta: Map<String, Value>,
}

/// The presences of one topic. Keys keep the order in which they first joined (a key that
/// leaves completely and comes back goes to the end, like a fresh join).
#[derive(Debug, Clone, Default)]
pub struct Presences {
    entries: Vec<(String, Vec<Tracked>)>,
}

impl Presences {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Add `meta` for `conn` under `key` (after that key's existing metas). The caller makes sure
    /// `conn` holds no other meta on this topic (`untrack` first).
    pub fn track(&mut self, key: &str, conn: ConnId, meta: Map<String, Value>) {
        let tracked = Tracked { conn, meta };
        match self.entries.iter_mut().find(|(k, _)| k == key) {
            Some((_, metas)) => metas.push(tracked),
            None => self.entries.push((key.to_owned(), vec![tracked])),
        }
    }

    /// Remove the meta of `conn`; returns its key and meta. A key goes with its last meta.
    pub fn untrack(&mut self, conn: ConnId) -> Option<(String, Map<String, Value>)> {
        let (i, j) = self
            .entries
            .iter()
            .enumerate()
            .find_map(|(i, (_, metas))| {
                metas.iter().position(|t| t.conn == conn).map(|j| (i, j))
            })?;
        let removed = self.entries[i].1.remove(j);
        let key = if self.entries[i].1.is_empty() {
            self.entries.remove(i).0
        } else {
            self.entries[i].0.clone()
        };
        Some((key, removed.meta))
    }

    /// `(key, metas)` in join order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, Vec<&Map<String, Value>>)> {
        self.entries
            .iter()
            .map(|(k, metas)| (k.as_str(), metas.iter().map(|t| &t.meta).collect()))
    }

    /// The JSON object a `presence_state` carries, keys in join order:
    /// `{"key": {"metas": [meta, …]}, …}`.
    ///
    /// Rendered by hand because `serde_json::Map` (without `preserve_order`) sorts its keys.
    pub fn state_json(&self) -> String {
        let mut out = String::from("{");
        for (i, (key, metas)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&Value::String(key.clone()).to_string());
            out.push(':');
            let metas: Vec<Value> = metas
                .iter()
                .map(|t| Value::Object(t.meta.clone()))
                .collect();
            out.push_str(&entry(metas).to_string());
        }
        out.push('}');
        out
    }
}

/// `{"metas": metas}`
fn entry(metas: Vec<Value>) -> Value {
    let mut e = Map::new();
    e.insert("metas".into(), Value::Array(metas));
    Value::Object(e)
}

/// `{"joins": {key: {"metas": [meta]}}, "leaves": {}}` (or the other way round).
pub fn diff(key: &str, meta: &Map<String, Value>, join: bool) -> Map<String, Value> {
    let mut one = Map::new();
    one.insert(key.to_owned(), entry(vec![Value::Object(meta.clone())]));
    let (joins, leaves) = if join {
        (one, Map::new())
    } else {
        (Map::new(), one)
    };
    let mut payload = Map::new();
    payload.insert("joins".into(), Value::Object(joins));
    payload.insert("leaves".into(), Value::Object(leaves));
    payload
}

/// A fresh `phx_ref`: unique for the life of the process (a counter) and hard to guess across
/// restarts (random bits), base64url without padding like the refs of a real server.
pub fn new_phx_ref() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    static SEED: OnceLock<RandomState> = OnceLock::new();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut hasher = SEED.get_or_init(RandomState::new).build_hasher();
    hasher.write_u64(n);
    let random = hasher.finish();
    let mut bytes = [0u8; 12];
    bytes[..8].copy_from_slice(&random.to_be_bytes());
    // The low 32 bits of the counter keep refs distinct even if the random part collides.
    bytes[8..].copy_from_slice(&(n as u32).to_be_bytes());
    base64url(&bytes)
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashSet;

    fn meta(name: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("name".into(), json!(name));
        m.insert("phx_ref".into(), json!(new_phx_ref()));
        m
    }

    #[test]
    fn keys_in_join_order_and_last_meta_removes_key() {
        let mut p = Presences::default();
        p.track("zed", 1, meta("zed"));
        p.track("__proto__", 2, meta("__proto__"));
        p.track("zed", 3, meta("zed"));
        p.track("émile 😀", 4, meta("émile 😀"));
        let keys: Vec<&str> = p.entries().map(|(k, _)| k).collect();
        assert_eq!(keys, ["zed", "__proto__", "émile 😀"]);
        let state: Value = serde_json::from_str(&p.state_json()).expect("valid JSON");
        assert_eq!(state["zed"]["metas"].as_array().map(Vec::len), Some(2));
        assert_eq!(state["__proto__"]["metas"][0]["name"], json!("__proto__"));
        assert!(p.state_json().starts_with(r#"{"zed":"#));

        let (key, m) = p.untrack(1).expect("tracked");
        assert_eq!((key.as_str(), &m["name"]), ("zed", &json!("zed")));
        assert_eq!(p.entries().next().map(|(_, m)| m.len()), Some(1));
        assert_eq!(p.untrack(1), None);
        p.untrack(3);
        let keys: Vec<&str> = p.entries().map(|(k, _)| k).collect();
        assert_eq!(keys, ["__proto__", "émile 😀"]);
        p.untrack(2);
        p.untrack(4);
        assert!(p.is_empty());
        assert_eq!(p.state_json(), "{}");
    }

    #[test]
    fn diff_shapes() {
        let m = meta("ada");
        assert_eq!(
            Value::Object(diff("ada", &m, true)),
            json!({"joins": {"ada": {"metas": [m.clone()]}}, "leaves": {}})
        );
        assert_eq!(
            Value::Object(diff("ada", &m, false)),
            json!({"joins": {}, "leaves": {"ada": {"metas": [m]}}})
        );
    }

    #[test]
    fn phx_refs_are_unique_base64url() {
        let refs: HashSet<String> = (0..10_000).map(|_| new_phx_ref()).collect();
        assert_eq!(refs.len(), 10_000);
        assert!(refs.iter().all(|r| r.len() == 16
            && r.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')));
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
        assert_eq!(base64url(b"Man"), "TWFu");
    }
}
