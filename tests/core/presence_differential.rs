//! Differential test of tether's presence merge against the official phoenix.js `Presence`.
//!
//! Thousands of seeded random event sequences (presence_state, presence_diff, duplicated and
//! reordered diffs, diffs before the state, rejoins with a new join_ref) go through a tether
//! `Client` tracking presence (grace 0) and, in one Node run, through phoenix.js with a stub
//! channel (tests/js/presence_oracle.mjs). Per sequence, the callbacks (onJoin / onLeave / onSync
//! with their arguments) and the final `list()` must be identical. On a mismatch the sequence is
//! shrunk and the failure prints the seed and the shortest failing sequence as JSON.
//!
//! The base seed is fixed; override it with TETHER_PRESENCE_SEED (decimal or 0x-hex).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tether::core::{ChannelId, Event, PresenceChange, SplitMix64};
use tether::core::{Map, Value};

use crate::harness::{exact_config, Harness};

const SEQUENCES: u64 = 3_000;
const BASE_SEED: u64 = 0x7E7E_5EED_0001;
const TOPIC: &str = "room:diff";

const KEYS: &[&str] = &[
    "a",
    "b",
    "user:1",
    "__proto__",
    "constructor",
    "toString",
    "hasOwnProperty",
    "valueOf",
    "ü",
    "日本",
    "🦀",
    "0",
    "7",
    "12",
    "01",
    "-1",
    "4294967295",
];
const REFS: &[&str] = &["r1", "r2", "r3", "r4", "1"];

struct Dice(SplitMix64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n.max(1)
    }
    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.index(i + 1);
            v.swap(i, j);
        }
    }
}

// ---- generation ------------------------------------------------------------------------------

/// A meta: mostly a string phx_ref from a small pool (so refs collide), sometimes a number, null
/// or no ref at all; a payload field tells apart metas with the same ref.
fn gen_meta(d: &mut Dice) -> Value {
    let mut meta = Map::new();
    match d.below(100) {
        0..=2 => {}
        3..=4 => {
            meta.insert("phx_ref".into(), json!(d.below(3)));
        }
        5 => {
            meta.insert("phx_ref".into(), Value::Null);
        }
        _ => {
            meta.insert("phx_ref".into(), json!(REFS[d.index(REFS.len())]));
        }
    }
    if d.chance(60) {
        meta.insert("n".into(), json!(d.below(4)));
    }
    Value::Object(meta)
}

fn gen_presence(d: &mut Dice) -> Value {
    let n = if d.chance(4) { 0 } else { 1 + d.below(3) };
    let metas: Vec<Value> = (0..n).map(|_| gen_meta(d)).collect();
    let mut p = Map::new();
    if d.chance(10) {
        // A field before metas (phoenix.js keeps the server's field order; tether puts metas
        // first — the comparison of presences is by field, not by field order).
        p.insert("user".into(), json!(format!("u{}", d.below(3))));
    }
    p.insert("metas".into(), Value::Array(metas));
    if d.chance(10) {
        p.insert("extra".into(), json!(d.below(3)));
    }
    Value::Object(p)
}

/// `{key: presence}` over a random subset of `keys`, in random order.
fn gen_map(d: &mut Dice, keys: &[&'static str], max: usize) -> Value {
    let mut ks = keys.to_vec();
    d.shuffle(&mut ks);
    let n = d.index(max.min(ks.len()) + 1);
    let mut m = Map::new();
    for k in &ks[..n] {
        m.insert((*k).to_string(), gen_presence(d));
    }
    Value::Object(m)
}

/// A server-side view used to make realistic diffs: key → refs (each meta unique).
struct Truth {
    users: Vec<(String, Vec<String>)>,
    next_ref: u64,
}

impl Truth {
    fn state(&self) -> Value {
        let mut m = Map::new();
        for (k, refs) in &self.users {
            let metas: Vec<Value> = refs.iter().map(|r| json!({"phx_ref": r})).collect();
            m.insert(k.clone(), json!({ "metas": metas }));
        }
        Value::Object(m)
    }

    /// A realistic diff: a new tab joins, a tab leaves, or a meta update.
    fn step(&mut self, d: &mut Dice, keys: &[&'static str]) -> Value {
        let mut joins = Map::new();
        let mut leaves = Map::new();
        for _ in 0..1 + d.below(2) {
            let key = keys[d.index(keys.len())].to_string();
            if joins.contains_key(&key) || leaves.contains_key(&key) {
                continue;
            }
            self.next_ref += 1;
            let fresh = if d.chance(20) {
                // Reuse a pooled ref now and then: collisions with old metas.
                REFS[d.index(REFS.len())].to_string()
            } else {
                format!("t{}", self.next_ref)
            };
            let at = self.users.iter().position(|(k, _)| *k == key);
            match (d.below(3), at) {
                (0, Some(i)) => {
                    let refs = &mut self.users[i].1;
                    let r = refs.remove(d.index(refs.len()));
                    leaves.insert(key.clone(), json!({"metas": [{"phx_ref": r}]}));
                    if refs.is_empty() {
                        self.users.remove(i);
                    }
                }
                (1, Some(i)) => {
                    let refs = &mut self.users[i].1;
                    let old = refs.remove(d.index(refs.len()));
                    refs.retain(|r| *r != fresh);
                    refs.push(fresh.clone());
                    leaves.insert(key.clone(), json!({"metas": [{"phx_ref": old}]}));
                    joins.insert(key.clone(), json!({"metas": [{"phx_ref": fresh}]}));
                }
                (_, at) => {
                    match at {
                        Some(i) => {
                            let refs = &mut self.users[i].1;
                            refs.retain(|r| *r != fresh);
                            refs.push(fresh.clone());
                        }
                        None => self.users.push((key.clone(), vec![fresh.clone()])),
                    }
                    joins.insert(key.clone(), json!({"metas": [{"phx_ref": fresh}]}));
                }
            }
        }
        json!({"joins": joins, "leaves": leaves})
    }
}

fn diff_event(p: Value) -> Value {
    json!({"t": "diff", "p": p})
}

/// One random sequence of presence events.
fn gen_sequence(d: &mut Dice) -> Vec<Value> {
    if d.chance(5) {
        return gen_churn(d);
    }
    // A few keys per sequence, so the same keys come up again and again.
    let mut pool = KEYS.to_vec();
    d.shuffle(&mut pool);
    let keys: Vec<&'static str> = pool[..2 + d.index(5)].to_vec();
    let realistic = d.chance(50);
    let len = 1 + d.index(14);
    let mut truth = Truth {
        users: Vec::new(),
        next_ref: 0,
    };
    let mut events: Vec<Value> = Vec::new();
    let mut last_diff: Option<Value> = None;
    for _ in 0..len {
        let roll = d.below(100);
        let ev = if roll < 18 {
            let state = if realistic && d.chance(85) {
                truth.state()
            } else {
                gen_map(d, &keys, keys.len())
            };
            json!({"t": "state", "p": state})
        } else if roll < 28 {
            json!({"t": "rejoin"})
        } else if roll < 38 && last_diff.is_some() {
            // A duplicated diff.
            diff_event(last_diff.clone().unwrap_or(Value::Null))
        } else {
            let p = if realistic && d.chance(90) {
                truth.step(d, &keys)
            } else {
                let mut p = Map::new();
                // Both sides are always present (phoenix.js throws on a missing one; the
                // server always sends both); sometimes leaves come first in the payload.
                let leaves_first = d.chance(30);
                if leaves_first {
                    p.insert("leaves".into(), gen_map(d, &keys, 3));
                }
                p.insert("joins".into(), gen_map(d, &keys, 3));
                if !leaves_first {
                    p.insert("leaves".into(), gen_map(d, &keys, 3));
                }
                Value::Object(p)
            };
            last_diff = Some(p.clone());
            diff_event(p)
        };
        events.push(ev);
    }
    // Reorder: swap a pair of adjacent events now and then.
    if events.len() > 1 && d.chance(30) {
        let i = d.index(events.len() - 1);
        events.swap(i, i + 1);
    }
    events
}

/// Many keys (string and array-index) joining and leaving in bulk: exercises tether's slot
/// compaction (more than 32 slots, fewer than half live) and key re-insertion order.
fn gen_churn(d: &mut Dice) -> Vec<Value> {
    let n = 34 + d.index(20);
    let names: Vec<String> = (0..n)
        .map(|i| {
            if i % 3 == 0 {
                format!("{}", i * 7 % 50)
            } else {
                format!("c{i}")
            }
        })
        .collect();
    let meta = |r: u64| json!({"phx_ref": format!("x{r}")});
    let mut present: Vec<(String, u64)> = Vec::new();
    let mut next_ref = 0u64;
    let mut state = Map::new();
    for k in &names {
        if d.chance(90) {
            next_ref += 1;
            present.push((k.clone(), next_ref));
            state.insert(k.clone(), json!({"metas": [meta(next_ref)]}));
        }
    }
    let mut events = vec![json!({"t": "state", "p": state})];
    for _ in 0..3 + d.index(6) {
        // Most present keys leave at once.
        let mut leaves = Map::new();
        present.retain(|(k, r)| {
            if d.chance(70) {
                leaves.insert(k.clone(), json!({"metas": [meta(*r)]}));
                false
            } else {
                true
            }
        });
        events.push(diff_event(json!({"joins": {}, "leaves": leaves})));
        // Some come back (appended again), some new refs for present keys.
        let mut joins = Map::new();
        for k in &names {
            if d.chance(25) {
                next_ref += 1;
                joins.insert(k.clone(), json!({"metas": [meta(next_ref)]}));
                match present.iter_mut().find(|(p, _)| p == k) {
                    Some(p) => p.1 = next_ref,
                    None => present.push((k.clone(), next_ref)),
                }
            }
        }
        events.push(diff_event(json!({"joins": joins, "leaves": {}})));
        if d.chance(15) {
            events.push(json!({"t": "rejoin"}));
            let mut state = Map::new();
            for (k, r) in &present {
                if d.chance(90) {
                    state.insert(k.clone(), json!({"metas": [meta(*r)]}));
                }
            }
            events.push(json!({"t": "state", "p": state}));
        }
    }
    events
}

// ---- tether ----------------------------------------------------------------------------------

fn change_json(c: &PresenceChange) -> Value {
    match c {
        PresenceChange::Join {
            key,
            current,
            joined,
        } => json!([
            "join",
            key,
            current.as_ref().map(|p| p.to_value()),
            joined.to_value()
        ]),
        PresenceChange::Leave {
            key,
            remaining,
            left,
        } => json!(["leave", key, remaining.to_value(), left.to_value()]),
    }
}

/// Runs a sequence through a tether Client; the result in the oracle's shape.
fn run_tether(events: &[Value]) -> Value {
    let mut h = Harness::auto(exact_config());
    h.connected();
    let ch = h.channel(TOPIC);
    h.join(ch);
    h.client.track_presence(ch, 0);
    let mut log: Vec<Value> = Vec::new();
    let mut seen = 0;
    for ev in events {
        match ev["t"].as_str() {
            Some("rejoin") => {
                h.server_close();
                let (_, delay) = h.waiting();
                h.advance(delay);
            }
            Some("state") => {
                // As a real server pushes it: with the current join_ref.
                let join_ref = h.last_sent("phx_join")[0].clone();
                h.recv(json!([join_ref, null, TOPIC, "presence_state", ev["p"]]));
            }
            Some("diff") => h.recv(json!([null, null, TOPIC, "presence_diff", ev["p"]])),
            other => panic!("unknown event {other:?}"),
        }
        collect(&h, ch, &mut seen, &mut log);
    }
    let list: Vec<Value> = match h.client.presence(ch) {
        Some(t) => t.list().map(|(k, p)| json!([k, p.to_value()])).collect(),
        None => panic!("presence not tracked"),
    };
    json!({"log": log, "list": list})
}

fn collect(h: &Harness, ch: ChannelId, seen: &mut usize, log: &mut Vec<Value>) {
    for e in &h.events[*seen..] {
        if let Event::Presence { channel, changes } = e {
            if *channel == ch {
                log.extend(changes.iter().map(change_json));
                log.push(json!(["sync"]));
            }
        }
    }
    *seen = h.events.len();
}

// ---- the oracle ------------------------------------------------------------------------------

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn check_node() -> PathBuf {
    let phoenix = root().join("tests/node_modules/phoenix/priv/static/phoenix.mjs");
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => panic!(
            "`node` was not found on PATH (needed for the phoenix.js presence oracle): run ./tests/setup"
        ),
    }
    assert!(
        phoenix.is_file(),
        "{} is missing (tests/node_modules not installed): run ./tests/setup",
        phoenix.display()
    );
    root().join("tests/js/presence_oracle.mjs")
}

/// Runs phoenix.js on every sequence, once.
fn run_oracle(script: &Path, sequences: &[Vec<Value>]) -> Vec<Value> {
    let input = json!({ "sequences": sequences }).to_string();
    let mut child = Command::new("node")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node: {e}; run ./tests/setup"));
    {
        let mut stdin = child.stdin.take().expect("stdin piped");
        stdin
            .write_all(input.as_bytes())
            .expect("write to the oracle");
    }
    let out = child.wait_with_output().expect("oracle output");
    assert!(
        out.status.success(),
        "the presence oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    let results: Vec<Value> = match tether::core::json::parse(&printed) {
        Ok(Value::Array(results)) => results,
        other => panic!("the oracle printed no JSON array ({other:?}): {printed}"),
    };
    assert_eq!(
        results.len(),
        sequences.len(),
        "one oracle result per sequence"
    );
    results
}

// ---- shrinking -------------------------------------------------------------------------------

/// Smaller variants of a sequence: prefixes, one event dropped, one key or meta dropped.
fn candidates(seq: &[Value]) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for n in 1..seq.len() {
        out.push(seq[..n].to_vec());
    }
    for i in 0..seq.len() {
        let mut s = seq.to_vec();
        s.remove(i);
        if !s.is_empty() {
            out.push(s);
        }
    }
    for i in 0..seq.len() {
        let maps: Vec<Vec<&str>> = match seq[i]["t"].as_str() {
            Some("state") => vec![vec!["p"]],
            Some("diff") => vec![vec!["p", "joins"], vec!["p", "leaves"]],
            _ => vec![],
        };
        for path in maps {
            let Some(map) = get_path(&seq[i], &path).and_then(Value::as_object) else {
                continue;
            };
            for key in map.keys() {
                let mut s = seq.to_vec();
                if let Some(Value::Object(m)) = get_path_mut(&mut s[i], &path) {
                    m.remove(key);
                }
                out.push(s);
                // Or drop one meta of that key.
                let n = map[key]["metas"].as_array().map_or(0, Vec::len);
                for j in 0..n {
                    let mut s = seq.to_vec();
                    if let Some(Value::Object(m)) = get_path_mut(&mut s[i], &path) {
                        if let Some(Value::Array(metas)) =
                            m.get_mut(key).and_then(|p| p.get_mut("metas"))
                        {
                            metas.remove(j);
                        }
                    }
                    out.push(s);
                }
            }
        }
    }
    out
}

fn get_path<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn get_path_mut<'a>(v: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, k| v.get_mut(k))
}

fn size(seq: &[Value]) -> (usize, usize) {
    (seq.len(), Value::Array(seq.to_vec()).to_string().len())
}

/// The shortest failing variant found, one oracle run per round.
fn shrink(script: &Path, mut seq: Vec<Value>) -> Vec<Value> {
    for _ in 0..40 {
        let cands = candidates(&seq);
        if cands.is_empty() {
            break;
        }
        let expected = run_oracle(script, &cands);
        let best = cands
            .into_iter()
            .zip(expected)
            .filter(|(c, want)| run_tether(c) != *want)
            .map(|(c, _)| c)
            .min_by_key(|c| size(c));
        match best {
            Some(c) if size(&c) < size(&seq) => seq = c,
            _ => break,
        }
    }
    seq
}

// ---- the test --------------------------------------------------------------------------------

/// How many sequences exercise each case (to keep the generator honest).
fn coverage(sequences: &[Vec<Value>]) -> Vec<(&'static str, usize)> {
    let has_key = |seq: &[Value], pred: &dyn Fn(&str) -> bool| {
        seq.iter().any(|ev| {
            let maps = [&ev["p"], &ev["p"]["joins"], &ev["p"]["leaves"]];
            maps.iter()
                .any(|m| m.as_object().is_some_and(|m| m.keys().any(|k| pred(k))))
        })
    };
    // Diffs held: before the first state, or after a rejoin and before the next state.
    let held = |seq: &[Value]| {
        let mut pending = true;
        let mut held = false;
        for ev in seq {
            match ev["t"].as_str() {
                Some("rejoin") => pending = true,
                Some("state") => {
                    if held {
                        return true;
                    }
                    pending = false;
                }
                _ => held |= pending,
            }
        }
        false
    };
    let held_after_rejoin = |seq: &[Value]| {
        let mut rejoined = false;
        let mut held = false;
        for ev in seq {
            match ev["t"].as_str() {
                Some("rejoin") => rejoined = true,
                Some("state") if rejoined && held => return true,
                Some("state") => {}
                _ => held |= rejoined,
            }
        }
        false
    };
    let duplicated = |seq: &[Value]| seq.windows(2).any(|w| w[0]["t"] == "diff" && w[0] == w[1]);
    let count = |f: &dyn Fn(&[Value]) -> bool| sequences.iter().filter(|s| f(s)).count();
    vec![
        (
            "prototype-name keys",
            count(&|s| has_key(s, &|k| k == "__proto__" || k == "constructor")),
        ),
        (
            "array-index keys",
            count(&|s| has_key(s, &|k| k == "0" || k == "7" || k == "12")),
        ),
        ("non-ASCII keys", count(&|s| has_key(s, &|k| !k.is_ascii()))),
        ("diffs held until a state", count(&held)),
        ("diffs held after a rejoin", count(&held_after_rejoin)),
        ("duplicated diffs", count(&duplicated)),
        (
            "bulk churn (> 32 keys)",
            count(&|s| {
                s.iter()
                    .any(|ev| ev["p"].as_object().is_some_and(|m| m.len() > 32))
            }),
        ),
    ]
}

fn base_seed() -> u64 {
    match std::env::var("TETHER_PRESENCE_SEED") {
        Ok(s) if !s.trim().is_empty() => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("TETHER_PRESENCE_SEED={s:?} is not a u64"))
        }
        _ => BASE_SEED,
    }
}

#[test]
fn presence_matches_phoenix_js() {
    let script = check_node();
    let seed = base_seed();
    let mut seeds = SplitMix64::new(seed);
    let sequences: Vec<Vec<Value>> = (0..SEQUENCES)
        .map(|_| gen_sequence(&mut Dice(SplitMix64::new(seeds.next_u64()))))
        .collect();
    let stats = coverage(&sequences);
    eprintln!("presence differential: {SEQUENCES} sequences, seed {seed:#x}, {stats:?}");
    for (what, n) in stats {
        assert!(
            n >= 100,
            "the generator made only {n} sequences with {what}"
        );
    }
    let expected = run_oracle(&script, &sequences);

    let mut failures = Vec::new();
    for (i, (seq, want)) in sequences.iter().zip(&expected).enumerate() {
        assert!(
            want.get("error").is_none(),
            "phoenix.js threw on sequence {i} (seed {seed:#x}): {}\nsequence: {}",
            want["error"],
            Value::Array(seq.clone())
        );
        if run_tether(seq) != *want {
            failures.push(i);
        }
    }
    if let Some(&first) = failures.iter().min_by_key(|&&i| size(&sequences[i])) {
        let shortest = shrink(&script, sequences[first].clone());
        let want = run_oracle(&script, std::slice::from_ref(&shortest)).remove(0);
        let got = run_tether(&shortest);
        panic!(
            "tether's presence differs from phoenix.js in {} of {SEQUENCES} sequences \
             (TETHER_PRESENCE_SEED={seed:#x}; first shrunk from sequence {first}).\n\
             shortest failing sequence:\n{}\nphoenix.js:\n{}\ntether:\n{}",
            failures.len(),
            Value::Array(shortest),
            want,
            got
        );
    }
}
