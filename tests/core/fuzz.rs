//! Bounded, deterministic fuzzing of the sans-IO core (issue 8, "Never panic, on anything").
//!
//! Every target is driven by a seeded [`SplitMix64`], so a failure reproduces exactly; the counts
//! scale with `TETHER_FUZZ_ITERS` (default [`DEFAULT_ITERS`], a few seconds in a debug build).
//! Long run (minutes; prints how many inputs ran):
//!
//! ```text
//! TETHER_FUZZ_ITERS=1000000 cargo test --release -p tether --test core fuzz -- --nocapture
//! ```
//!
//! Targets:
//! - codec: random bytes and structure-aware mutations of valid text and binary frames into
//!   `decode` / `decode_raw` / `decode_binary` and into a live client's `handle_text` /
//!   `handle_binary`. No panic; every rejection is one `Error` event with a code; after every bad
//!   frame the client still answers heartbeats, gets its push replies and delivers a broadcast.
//! - notification store: random notify / markRead / markAllRead / replies (ok, error, timeout) /
//!   disconnect / reconnect / sync against a server-side reference model: the unread count never
//!   goes below 0 and equals the model once settled, optimistic reads move it by exactly one (or
//!   to 0), the cap holds and no id is held twice.
//! - connection state machine: random inputs at random times (time jumps, sleeps, late and early
//!   timer calls, inputs out of order): no panic, timers never in the past after `handle_timeout`,
//!   an open or connecting socket always has a timer.

use std::collections::{HashSet, VecDeque};

use tether::core::dialect::binary::{
    decode_binary, encode_binary, KIND_BROADCAST, KIND_PUSH, KIND_REPLY,
};
use tether::core::dialect::codec::decode_raw;
use tether::core::Value;
use tether::core::{
    decode, ChannelId, ChannelState, Client, Config, Event, Output, PushOutcome, SocketState,
    SplitMix64,
};

use crate::harness::{exact_config, phx_reply, Harness, Sock};

const DEFAULT_ITERS: u64 = 1_000;

fn iters() -> u64 {
    std::env::var("TETHER_FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_ITERS)
        .max(1)
}

struct Dice(SplitMix64);

impl Dice {
    fn new(seed: u64) -> Dice {
        Dice(SplitMix64::new(seed))
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n.max(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn bytes(&mut self, max: u64) -> Vec<u8> {
        let n = self.below(max + 1) as usize;
        (0..n).map(|_| self.0.next_u64() as u8).collect()
    }
}

// ---- (a) codec -------------------------------------------------------------------------------

const TOPIC: &str = "room:fuzz";
const PRESENCE_TOPIC: &str = "room:presence";
const STORE_TOPIC: &str = "user:1:notifications";

/// Valid frames a server could send to the live client, refs filled in by [`seeds`].
fn seeds(join_ref: &str, presence_ref: &str) -> Vec<String> {
    vec![
        format!(r#"[null,null,"{TOPIC}","new_msg",{{"body":"hi","n":[1,2.5,null,true]}}]"#),
        format!(r#"["{join_ref}",null,"{TOPIC}","direct",{{"x":{{"y":"z"}}}}]"#),
        format!(r#"["{join_ref}","999","{TOPIC}","phx_reply",{{"status":"ok","response":{{}}}}]"#),
        r#"[null,"1","phoenix","phx_reply",{"status":"ok","response":{}}]"#.to_string(),
        format!(
            r#"["{presence_ref}",null,"{PRESENCE_TOPIC}","presence_state",{{"ada":{{"metas":[{{"phx_ref":"A1","n":1}}]}},"bob":{{"metas":[{{"phx_ref":"B1"}}]}}}}]"#
        ),
        format!(
            r#"["{presence_ref}",null,"{PRESENCE_TOPIC}","presence_diff",{{"joins":{{"cy":{{"metas":[{{"phx_ref":"C1"}}]}}}},"leaves":{{"ada":{{"metas":[{{"phx_ref":"A1"}}]}}}}}}]"#
        ),
        format!(
            r#"[null,null,"{STORE_TOPIC}","notification:new",{{"notification":{{"id":"n1","kind":"alert","title":"t","data":{{}},"read_at":null,"inserted_at":1000}}}}]"#
        ),
        format!(
            r#"[null,null,"{STORE_TOPIC}","notification:read",{{"ids":["n1"],"unread_count":0}}]"#
        ),
        format!(r#"["{join_ref}","{join_ref}","{TOPIC}","phx_error",{{"reason":"crash"}}]"#),
        format!(r#"["{join_ref}","{join_ref}","{TOPIC}","phx_close",{{}}]"#),
        format!(r#"[null,null,"other:topic","new_msg",{{}}]"#),
    ]
}

/// A random JSON value of the kinds that trip decoders.
fn nasty_value(d: &mut Dice) -> String {
    match d.below(16) {
        0 => "null".into(),
        1 => "true".into(),
        2 => d.0.next_u64().to_string(),
        3 => "-0".into(),
        4 => "1e999999".into(),
        5 => "123456789012345678901234567890123456789012345678901234567890".into(),
        6 => "-9223372036854775809".into(),
        7 => r#""\ud800""#.into(),
        8 => r#""\udfff\ud800""#.into(),
        9 => r#"{"__proto__":{"polluted":true},"constructor":{"prototype":{}}}"#.into(),
        10 => format!(
            "{}{}",
            "[".repeat(d.below(300) as usize),
            "]".repeat(d.below(300) as usize)
        ),
        11 => r#""""#.into(),
        12 => format!(r#""{}""#, "é".repeat(d.below(40) as usize)),
        13 => "[]".into(),
        14 => "{}".into(),
        _ => r#"{"status":"ok","status":"error","response":1,"response":{}}"#.into(),
    }
}

/// Splits a top-level JSON array's text into its element texts (valid input only).
fn elements(text: &str) -> Option<Vec<String>> {
    let v: Vec<Box<serde_json::value::RawValue>> = serde_json::from_str(text).ok()?;
    Some(v.into_iter().map(|r| r.get().to_string()).collect())
}

fn char_boundary(s: &str, mut at: usize) -> usize {
    at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// One structure-aware mutation of a valid frame (or of an earlier mutation).
fn mutate(d: &mut Dice, text: &str) -> String {
    let parts = elements(text);
    match (d.below(12), parts) {
        (0, _) => {
            let at = char_boundary(text, d.below(text.len() as u64 + 1) as usize);
            text[..at].to_string()
        }
        (1, Some(mut p)) if !p.is_empty() => {
            let i = d.below(p.len() as u64) as usize;
            p[i] = nasty_value(d);
            format!("[{}]", p.join(","))
        }
        (2, Some(mut p)) => {
            if d.chance(50) && !p.is_empty() {
                p.remove(d.below(p.len() as u64) as usize);
            } else {
                p.push(nasty_value(d));
            }
            format!("[{}]", p.join(","))
        }
        (3, Some(mut p)) if p.len() == 5 => {
            // Deep nesting in the payload.
            let depth = match d.below(3) {
                0 => 100,
                1 => 129,
                _ => 1 + d.below(5_000) as usize,
            };
            p[4] = format!(r#"{}{{}}{}"#, r#"{"a":"#.repeat(depth), "}".repeat(depth));
            format!("[{}]", p.join(","))
        }
        (4, Some(mut p)) if p.len() == 5 => {
            // Duplicate keys and prototype keys inside the payload object.
            let body = p[4].trim_start_matches('{').to_string();
            let extra = format!(
                r#""__proto__":{},"{k}":{},"{k}":{},"constructor":{}"#,
                nasty_value(d),
                nasty_value(d),
                nasty_value(d),
                nasty_value(d),
                k = d.pick(&["status", "response", "joins", "leaves", "notification", "x"])
            );
            let sep = if body.trim_start().starts_with('}') {
                ""
            } else {
                ","
            };
            p[4] = format!("{{{extra}{sep}{body}");
            format!("[{}]", p.join(","))
        }
        (5, Some(mut p)) if p.len() >= 4 => {
            // Swap two elements (types end up in the wrong places).
            let i = d.below(p.len() as u64) as usize;
            let j = d.below(p.len() as u64) as usize;
            p.swap(i, j);
            format!("[{}]", p.join(","))
        }
        (6, Some(mut p)) if p.len() >= 4 => {
            // Events and topics that mean something to the client.
            let event = *d.pick(&[
                "phx_reply",
                "phx_close",
                "phx_error",
                "phx_join",
                "presence_state",
                "presence_diff",
                "notification:new",
                "notification:read",
                "notification:all_read",
                "heartbeat",
                "",
            ]);
            p[3] = format!("{event:?}");
            if d.chance(30) {
                let topic = *d.pick(&[TOPIC, PRESENCE_TOPIC, STORE_TOPIC, "phoenix", ""]);
                p[2] = format!("{topic:?}");
            }
            format!("[{}]", p.join(","))
        }
        (7, _) => {
            // A lone surrogate escape, or a raw control character, somewhere in a string.
            let at = char_boundary(text, d.below(text.len() as u64 + 1) as usize);
            let ins = *d.pick(&[r"\ud800", r"\udc00", "\u{0}", "\n", "\\", "\"", r"\u00"]);
            format!("{}{ins}{}", &text[..at], &text[at..])
        }
        (8, _) => {
            // Byte-level noise that stays UTF-8.
            let mut bytes = text.as_bytes().to_vec();
            for _ in 0..=d.below(4) {
                if bytes.is_empty() {
                    break;
                }
                let i = d.below(bytes.len() as u64) as usize;
                bytes[i] = *d.pick(b"[]{}\",:0-e.nul \\");
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        (9, _) => format!("{text}{}", nasty_value(d)),
        (10, Some(mut p)) if p.len() == 5 => {
            // Refs of every type.
            let i = d.below(2) as usize;
            p[i] = d
                .pick(&[
                    "null",
                    "\"\"",
                    "\"1\"",
                    "1",
                    "[]",
                    "{}",
                    "\"999999999999999999999\"",
                ])
                .to_string();
            format!("[{}]", p.join(","))
        }
        _ => format!(r#"[null,null,"{TOPIC}","e",{}]"#, nasty_value(d)),
    }
}

/// A valid binary frame, or a mutation of one.
fn binary_input(d: &mut Dice, join_ref: &str) -> Vec<u8> {
    let payload = d.bytes(64);
    let kind = *d.pick(&[KIND_PUSH, KIND_REPLY, KIND_BROADCAST]);
    let reference = d.pick(&["", "1", "999", join_ref]).to_string();
    let topic = *d.pick(&[TOPIC, PRESENCE_TOPIC, STORE_TOPIC, "phoenix", "x"]);
    let event = *d.pick(&[
        "new_msg",
        "ok",
        "error",
        "presence_diff",
        "notification:new",
    ]);
    let mut frame =
        encode_binary(kind, join_ref, &reference, topic, event, &payload).unwrap_or_default();
    if frame.is_empty() {
        return frame;
    }
    match d.below(8) {
        0 | 1 => {} // valid
        2 => {
            let at = d.below(frame.len() as u64) as usize;
            frame.truncate(at);
        }
        3 => {
            // Invalid UTF-8 in a header field (the bytes just after the header).
            let header = match frame[0] {
                KIND_PUSH => 4,
                KIND_REPLY => 5,
                _ => 3,
            };
            if frame.len() > header {
                let i = header + d.below((frame.len() - header).min(8) as u64) as usize;
                frame[i] = *d.pick(&[0xFF, 0xC0, 0x80, 0xED]);
            }
        }
        4 => {
            // A length byte that lies.
            let i = 1 + d.below(4) as usize;
            if i < frame.len() {
                frame[i] = d.0.next_u64() as u8;
            }
        }
        5 => frame[0] = d.0.next_u64() as u8,
        6 => frame = d.bytes(16),
        _ => {
            let i = d.below(frame.len() as u64) as usize;
            frame[i] ^= 1 << d.below(8);
        }
    }
    frame
}

/// The live client the codec fuzzer attacks: joined to a plain channel, a presence-tracking
/// channel and a notification store, with an auto-answering server.
struct Live {
    h: Harness,
    ch: ChannelId,
    presence: ChannelId,
    checks: u64,
}

impl Live {
    fn new() -> Live {
        let cfg = Config {
            heartbeat_ms: 1_000,
            timeout_ms: 1_000,
            max_frame_bytes: 64 * 1024,
            ..exact_config()
        };
        let mut h = Harness::auto(cfg);
        h.connect();
        let ch = h.channel(TOPIC);
        h.join(ch);
        let presence = h.channel(PRESENCE_TOPIC);
        h.client.track_presence(presence, 0);
        h.join(presence);
        h.client
            .notifications(h.now, STORE_TOPIC, 10, Vec::<tether::core::ReadOp>::new());
        h.pump();
        assert_eq!(h.ch_state(ch), ChannelState::Joined);
        Live {
            h,
            ch,
            presence,
            checks: 0,
        }
    }

    fn join_ref(&self, ch: ChannelId) -> String {
        self.h
            .client
            .channel_join_ref(ch)
            .unwrap_or("0")
            .to_string()
    }

    /// Feeds one input; `expected` is the decoder's verdict on it (an error code, or `None`).
    fn feed(&mut self, input: &Result<String, Vec<u8>>, expected: Option<&'static str>) {
        // The harness keeps every event and frame; forget old ones so long runs stay linear.
        if self.h.events.len() > 4_096 {
            self.h.events.clear();
            self.h.sent.clear();
            self.h.sent_at.clear();
        }
        let before = self.h.events.len();
        match input {
            Ok(text) => self.h.recv_text(text),
            Err(bytes) => {
                self.h.client.handle_binary(self.h.now, bytes);
                self.h.pump();
            }
        }
        let new = &self.h.events[before..];
        if let Some(code) = expected {
            assert!(
                matches!(new, [Event::Error { code: c, message }] if *c == code && !message.is_empty()),
                "rejected input {input:?}: expected one Error {code}, got {new:?}"
            );
        }
        for e in new {
            if let Event::Error { code, message } = e {
                assert!(
                    !code.is_empty() && !message.is_empty(),
                    "error without a code: {e:?}"
                );
            }
        }
        assert!(
            self.h.closes.is_empty(),
            "a frame closed the socket: {input:?}"
        );
        assert_eq!(self.h.client.state(), SocketState::Open, "after {input:?}");
    }

    /// The client still works: heartbeats are answered in time, the plain channel is (re)joined,
    /// a push gets its reply and a broadcast is delivered.
    fn still_alive(&mut self, i: u64) {
        let h = &mut self.h;
        let heartbeats = h.count_sent("heartbeat");
        let timeouts = h.count_events(|e| matches!(e, Event::HeartbeatTimeout));
        h.advance(2_100);
        assert!(
            h.count_sent("heartbeat") > heartbeats,
            "no heartbeat went out"
        );
        assert_eq!(
            h.count_events(|e| matches!(e, Event::HeartbeatTimeout)),
            timeouts,
            "a heartbeat went unanswered after a bad frame"
        );
        // A bad-but-valid frame may have closed or errored the channel: it must come back.
        for ch in [self.ch, self.presence] {
            if h.ch_state(ch) == ChannelState::Closed {
                h.join(ch);
            }
        }
        let mut waited = 0;
        while h.ch_state(self.ch) != ChannelState::Joined {
            h.advance(1_000);
            waited += 1;
            assert!(waited < 30, "channel stuck in {:?}", h.ch_state(self.ch));
        }
        let p = h.push(self.ch, "ping", json!({"i": i}));
        assert_eq!(h.outcome(p), PushOutcome::Ok(json!({"i": i})), "push #{i}");
        h.recv(json!([null, null, TOPIC, "good", {"i": i}]));
        assert_eq!(
            h.messages(self.ch).last(),
            Some(&("good".to_string(), json!({"i": i}))),
            "broadcast #{i}"
        );
        assert!(h.closes.is_empty());
        self.checks += 1;
    }
}

#[test]
fn fuzz_codec() {
    let n = iters();
    let mut d = Dice::new(0xC0DEC);
    let max = 64 * 1024;

    // Decoders alone: random bytes, random text, mutations.
    let mut decoded = 0u64;
    let mut rejected = 0u64;
    let base = seeds("3", "4");
    for _ in 0..n * 20 {
        let bytes = d.bytes(96);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let mutated = {
            let mut t = d.pick(&base).clone();
            for _ in 0..=d.below(3) {
                t = mutate(&mut d, &t);
            }
            t
        };
        for t in [&text, &mutated] {
            match decode(t, max) {
                Ok(_) => decoded += 1,
                Err(e) => {
                    rejected += 1;
                    assert!(!e.code().is_empty() && !e.to_string().is_empty());
                }
            }
            let _ = decode_raw(t, max).map_err(|e| e.code());
        }
        for b in [bytes, binary_input(&mut d, "3")] {
            match decode_binary(&b, max) {
                Ok(f) => {
                    decoded += 1;
                    let _ = f.json_payload();
                }
                Err(e) => {
                    rejected += 1;
                    assert!(!e.code().is_empty() && !e.to_string().is_empty());
                }
            }
        }
    }

    // A live client fed bad frames, checked after each one.
    let mut live = Live::new();
    let mut fed = 0u64;
    let mut live_rejected = 0u64;
    for i in 0..n {
        let jr = live.join_ref(live.ch);
        let pr = live.join_ref(live.presence);
        let input: Result<String, Vec<u8>> = if d.chance(30) {
            Err(binary_input(&mut d, &jr))
        } else if d.chance(10) {
            Ok(String::from_utf8_lossy(&d.bytes(64)).into_owned())
        } else {
            let mut t = d.pick(&seeds(&jr, &pr)).clone();
            for _ in 0..=d.below(2) {
                t = mutate(&mut d, &t);
            }
            Ok(t)
        };
        let max = live.h.client.config().max_frame_bytes;
        let expected = match &input {
            Ok(t) => decode_raw(t, max).err().map(|e| e.code()),
            Err(b) => decode_binary(b, max).err().map(|e| e.code()),
        };
        live_rejected += u64::from(expected.is_some());
        live.feed(&input, expected);
        fed += 1;
        if i % 4 == 0 || expected.is_some() {
            live.still_alive(i);
        }
    }
    eprintln!(
        "fuzz_codec: {} decoder inputs ({decoded} accepted, {rejected} rejected); {fed} frames \
         into a live client ({live_rejected} rejected), {} liveness checks",
        decoded + rejected,
        live.checks
    );
}

// ---- (b) notification store ------------------------------------------------------------------

const STORE: &str = "user:7:notifications";
const CAP: usize = 8;

/// The server: every notification it created, which are read, and the client frames it has not
/// answered yet.
#[derive(Default)]
struct StoreServer {
    all: Vec<Value>,
    read: HashSet<String>,
    queue: VecDeque<Value>,
    seen: usize,
    next: u64,
}

impl StoreServer {
    fn counted(n: &Value) -> bool {
        matches!(n["kind"].as_str(), Some("activity" | "alert"))
    }

    fn unread(&self) -> u64 {
        self.all
            .iter()
            .filter(|n| Self::counted(n) && !self.read.contains(n["id"].as_str().unwrap_or("")))
            .count() as u64
    }

    /// The reply to a client frame, applying it.
    fn answer(&mut self, frame: &Value) -> Value {
        let response = match frame[3].as_str().unwrap_or_default() {
            "sync" => {
                let recent: Vec<Value> = self
                    .all
                    .iter()
                    .rev()
                    .filter(|n| !matches!(n["kind"].as_str(), Some("toast" | "transient")))
                    .take(CAP)
                    .map(|n| {
                        let mut v = n.clone();
                        if self.read.contains(n["id"].as_str().unwrap_or("")) {
                            v["read_at"] = json!("2026-01-01T00:00:00Z");
                        }
                        v
                    })
                    .collect();
                json!({"unread_count": self.unread(), "recent": recent})
            }
            "mark_read" => {
                for id in frame[4]["ids"].as_array().into_iter().flatten() {
                    if let Some(id) = id.as_str() {
                        self.read.insert(id.to_string());
                    }
                }
                json!({"unread_count": self.unread()})
            }
            "mark_all_read" => {
                // Up to `until` (the newest the user saw) when given, else everything.
                let until = frame[4]["until"].as_str();
                let mut ids = Vec::new();
                for n in &self.all {
                    let id = n["id"].as_str().unwrap_or("").to_string();
                    ids.push(id.clone());
                    if Some(id.as_str()) == until {
                        break;
                    }
                }
                if until.is_some_and(|u| !ids.iter().any(|i| i == u)) {
                    ids.clear(); // Unknown `until`: the server reads nothing it cannot place.
                }
                self.read.extend(ids);
                json!({"unread_count": self.unread()})
            }
            _ => json!({}),
        };
        phx_reply(frame, "ok", response)
    }
}

struct StoreFuzz {
    h: Harness,
    s: StoreServer,
    ch: ChannelId,
    d: Dice,
    ops: u64,
    settles: u64,
}

impl StoreFuzz {
    fn new(seed: u64) -> StoreFuzz {
        let cfg = Config {
            heartbeat_ms: 3_600_000,
            ..exact_config()
        };
        let mut h = Harness::new(cfg);
        let ch = h
            .client
            .notifications(h.now, STORE, CAP, Vec::<tether::core::ReadOp>::new());
        h.pump();
        h.connected();
        let mut f = StoreFuzz {
            h,
            s: StoreServer::default(),
            ch,
            d: Dice::new(seed),
            ops: 0,
            settles: 0,
        };
        f.collect();
        f.answer_all();
        f
    }

    /// Moves frames the client sent into the server's queue; joins and heartbeats are answered
    /// at once.
    fn collect(&mut self) {
        while self.s.seen < self.h.sent.len() {
            let frame = self.h.sent[self.s.seen].clone();
            self.s.seen += 1;
            match frame[3].as_str().unwrap_or_default() {
                "phx_join" | "heartbeat" | "phx_leave" => {
                    if self.h.sock == Sock::Open {
                        self.h.recv(phx_reply(&frame, "ok", json!({})));
                    }
                }
                _ => self.s.queue.push_back(frame),
            }
        }
    }

    fn answer_all(&mut self) {
        self.collect();
        while let Some(frame) = self.s.queue.pop_front() {
            if self.h.sock == Sock::Open {
                let reply = self.s.answer(&frame);
                self.h.recv(reply);
            }
            self.collect();
        }
    }

    fn unread(&self) -> u64 {
        self.h
            .client
            .notification_store(self.ch)
            .expect("store")
            .unread_count()
    }

    fn held(&self) -> Vec<Value> {
        self.h
            .client
            .notification_store(self.ch)
            .expect("store")
            .items(self.h.now)
    }

    fn check(&self) {
        let items = self.held();
        assert!(items.len() <= CAP, "cap {CAP} exceeded: {}", items.len());
        let mut ids = HashSet::new();
        for n in &items {
            let id = n["id"].as_str().expect("id").to_string();
            assert!(ids.insert(id.clone()), "id {id} held twice");
            assert!(
                self.s.all.iter().any(|m| m["id"] == n["id"]),
                "{id} is not a server notification"
            );
            assert!(!matches!(n["kind"].as_str(), Some("toast" | "transient")));
        }
        // unread_count is a u64; make "never below 0" mean "never wrapped": it cannot exceed
        // everything the server ever counted.
        let counted = self
            .s
            .all
            .iter()
            .filter(|n| StoreServer::counted(n))
            .count() as u64;
        assert!(
            self.unread() <= counted,
            "unread {} > {counted}",
            self.unread()
        );
    }

    /// Reconnects if needed, answers everything ok, syncs: the count must equal the model's.
    fn settle(&mut self) {
        if self.h.client.state() != SocketState::Open {
            self.h.connect();
            let mut waited = 0;
            while self.h.sock != Sock::Connecting {
                self.h.advance(1_000);
                waited += 1;
                assert!(waited < 120, "no reconnect");
            }
            self.h.open();
        }
        self.answer_all();
        self.h.client.refresh_notifications(self.h.now, self.ch);
        self.h.pump();
        self.answer_all();
        let store = self.h.client.notification_store(self.ch).expect("store");
        assert!(store.pending_ops().is_empty(), "reads left unconfirmed");
        assert_eq!(
            self.unread(),
            self.s.unread(),
            "settled unread count differs from the model"
        );
        self.settles += 1;
    }

    fn step(&mut self) {
        self.ops += 1;
        let d = &mut self.d;
        match d.below(12) {
            0..=2 => {
                self.s.next += 1;
                let kind = *d.pick(&["activity", "alert", "alert", "system", "toast", "transient"]);
                let id = format!("n{}", self.s.next);
                let n = json!({"id": id, "kind": kind, "title": "t", "data": {},
                               "read_at": null, "inserted_at": 1_000 + self.s.next});
                self.s.all.push(n.clone());
                let joined = self.h.ch_state(self.ch) == ChannelState::Joined;
                if joined && self.h.sock == Sock::Open {
                    self.h
                        .recv(json!([null, null, STORE, "notification:new", {"notification": n}]));
                }
            }
            3 | 4 => {
                let items = self.held();
                let d = &mut self.d;
                let id = if !items.is_empty() && d.chance(85) {
                    d.pick(&items)["id"].as_str().unwrap_or("").to_string()
                } else {
                    "unknown".to_string()
                };
                let before = self.unread();
                let target = items.iter().find(|n| n["id"] == id.as_str());
                let counts =
                    target.is_some_and(|n| StoreServer::counted(n) && n["read_at"].is_null());
                self.h.client.mark_read(self.h.now, self.ch, &id);
                self.h.pump();
                if counts {
                    assert_eq!(self.unread(), before.saturating_sub(1), "markRead({id})");
                } else {
                    assert_eq!(
                        self.unread(),
                        before,
                        "markRead({id}) of a read or unknown id"
                    );
                }
            }
            5 => {
                self.h.client.mark_all_read(self.h.now, self.ch);
                self.h.pump();
                assert_eq!(self.unread(), 0, "markAllRead");
            }
            6 | 7 => {
                // The server answers the oldest frame it holds: ok, error, or never (timeout).
                self.collect();
                if let Some(frame) = self.s.queue.pop_front() {
                    match self.d.below(4) {
                        0 | 1 if self.h.sock == Sock::Open => {
                            let reply = self.s.answer(&frame);
                            self.h.recv(reply);
                        }
                        2 if self.h.sock == Sock::Open => {
                            self.h
                                .recv(phx_reply(&frame, "error", json!({"reason": "nope"})))
                        }
                        _ => self.h.advance(10_001),
                    }
                }
            }
            8 if self.h.sock != Sock::None => {
                self.h.server_close();
                self.s.queue.clear();
            }
            8 => {}
            9 => {
                if self.h.sock == Sock::Connecting {
                    self.h.open();
                } else {
                    let ms = self.d.below(2_000);
                    self.h.advance(ms);
                }
            }
            10 => {
                self.h.client.refresh_notifications(self.h.now, self.ch);
                self.h.pump();
            }
            _ => {
                if self.d.chance(50) {
                    self.h.disconnect();
                    self.s.queue.clear();
                } else {
                    self.h.connect();
                }
            }
        }
        self.collect();
        self.check();
    }
}

#[test]
fn fuzz_notification_store() {
    let sequences = (iters() / 20).max(5);
    let mut ops = 0;
    let mut settles = 0;
    for seed in 0..sequences {
        let mut f = StoreFuzz::new(seed.wrapping_mul(0x5851_F42D).wrapping_add(17));
        for i in 0..100 {
            f.step();
            if i % 25 == 24 {
                f.settle();
            }
        }
        f.settle();
        ops += f.ops;
        settles += f.settles;
    }
    eprintln!(
        "fuzz_notification_store: {sequences} sequences, {ops} operations, {settles} settled \
         comparisons with the model"
    );
}

// ---- (c) connection state machine ------------------------------------------------------------

struct Machine {
    c: Client,
    d: Dice,
    now: u64,
    channels: Vec<ChannelId>,
    sent: Vec<Value>,
    /// Requests for a join's params, the last few (some answered, some stale).
    asked: Vec<(ChannelId, u64)>,
    inputs: u64,
}

impl Machine {
    fn drain(&mut self) {
        while let Some(out) = self.c.poll_output() {
            match out {
                Output::Send(text) => {
                    if let Ok(v) = tether::core::json::parse(&text) {
                        self.sent.push(v);
                        if self.sent.len() > 32 {
                            self.sent.remove(0);
                        }
                    }
                }
                Output::Event(Event::Error { code, .. }) => assert!(!code.is_empty()),
                Output::Event(Event::JoinParamsWanted { channel, request }) => {
                    self.asked.push((channel, request));
                    if self.asked.len() > 8 {
                        self.asked.remove(0);
                    }
                }
                _ => {}
            }
        }
    }

    fn step(&mut self) {
        self.inputs += 1;
        let d = &mut self.d;
        // Random times: mostly forward, sometimes a sleep, sometimes an input from the past.
        self.now = match d.below(20) {
            0 => self.now.saturating_sub(d.below(5_000)),
            1 => self.now + 3_600_000 + d.below(100_000),
            2..=4 => self.now,
            _ => self.now + d.below(20_000),
        };
        let now = self.now;
        match d.below(25) {
            0 => self.c.connect(now),
            1 => self.c.disconnect(now),
            2 | 3 => self.c.handle_open(now),
            4 => {
                let code = *d.pick(&[1000, 1001, 1006, 1011, 1012, 4000, 0, u16::MAX]);
                self.c.handle_close(now, code, "x");
            }
            5 => self.c.set_online(now, d.chance(70)),
            6 => self.c.set_visible(now, d.chance(70)),
            22 => {
                let _ = self.c.ping(now);
            }
            23 => {
                if d.chance(50) {
                    self.c.page_hidden(now);
                } else {
                    self.c.page_shown(now);
                }
            }
            7..=10 => {
                // The timer, on time, late or early.
                let at = match (self.c.poll_timeout(), d.below(4)) {
                    (Some(t), 0) => t.saturating_sub(1),
                    (Some(t), 1) => t.saturating_add(d.below(60_000)),
                    (Some(t), _) => t,
                    (None, _) => now,
                };
                let at = at.max(now);
                self.now = at;
                self.c.handle_timeout(at);
                if let Some(next) = self.c.poll_timeout() {
                    assert!(next > at, "poll_timeout {next} not after now {at}");
                }
            }
            11 if self.channels.len() < 5 => {
                let topic = format!("room:{}", d.below(3));
                let ch = self.c.channel(&topic, json!({}));
                if d.chance(30) {
                    self.c.track_presence(ch, d.below(3) * 1_000);
                }
                if d.chance(30) {
                    self.c.ask_params_on_join(ch);
                }
                self.channels.push(ch);
            }
            12 if !self.channels.is_empty() => {
                let _ = self.c.join(now, *d.pick(&self.channels));
            }
            13 if !self.channels.is_empty() => {
                let timeout = d.chance(50).then(|| d.below(20_000));
                let ch = *d.pick(&self.channels);
                if d.chance(30) {
                    let bytes = d.bytes(16);
                    let _ = self.c.push_binary(now, ch, "bytes", bytes, timeout);
                } else {
                    let _ = self.c.push(now, ch, "msg", json!({}), timeout);
                }
            }
            14 if !self.channels.is_empty() => {
                let _ = self.c.leave(now, *d.pick(&self.channels));
            }
            15 if !self.channels.is_empty() && d.chance(20) => {
                let i = d.below(self.channels.len() as u64) as usize;
                self.c.remove_channel(self.channels.remove(i));
            }
            16..=18 if !self.sent.is_empty() => {
                // A reply to a recent frame (maybe late, maybe twice, maybe an error).
                let f = d.pick(&self.sent).clone();
                let status = *d.pick(&["ok", "ok", "error"]);
                let reply = phx_reply(&f, status, json!({}));
                self.c.handle_text(now, &reply.to_string());
            }
            19 => {
                let topic = format!("room:{}", d.below(3));
                let event = *d.pick(&["msg", "phx_error", "phx_close", "presence_diff"]);
                let jr = self
                    .channels
                    .first()
                    .and_then(|c| self.c.channel_join_ref(*c))
                    .map(str::to_string);
                let text = json!([jr, null, topic, event, {"joins": {}, "leaves": {}}]);
                self.c.handle_text(now, &text.to_string());
            }
            20 => {
                let bytes = binary_input(d, "1");
                self.c.handle_binary(now, &bytes);
            }
            21 if !self.asked.is_empty() => {
                // A join's params: the current request or a stale one; an object, not one, or a
                // failure.
                let (ch, request) = *d.pick(&self.asked);
                let params = match d.below(3) {
                    0 => Ok(json!({"token": "t"})),
                    1 => Ok(json!([1])),
                    _ => Err("threw".to_string()),
                };
                self.c.supply_join_params(now, ch, request, params);
            }
            _ => {
                let text = String::from_utf8_lossy(&d.bytes(32)).into_owned();
                self.c.handle_text(now, &text);
            }
        }
        self.drain();
        if matches!(self.c.state(), SocketState::Open | SocketState::Connecting) {
            assert!(
                self.c.poll_timeout().is_some(),
                "{:?} without a timer",
                self.c.state()
            );
        }
    }
}

#[test]
fn fuzz_connection_state_machine() {
    let walks = (iters() / 10).max(10);
    let mut inputs = 0;
    for seed in 0..walks {
        let cfg = match seed % 3 {
            0 => Config::default(),
            1 => exact_config(),
            _ => Config {
                heartbeat_ms: 500,
                timeout_ms: 300,
                drift_ms: 200,
                suspect_timeout_ms: 100,
                send_buffer_max: 2,
                send_buffer_ttl_ms: 400,
                ..exact_config()
            },
        };
        let mut m = Machine {
            c: Client::new(cfg, Box::new(SplitMix64::new(seed))),
            d: Dice::new(seed ^ 0xDEAD_BEEF),
            now: 1_000_000,
            channels: Vec::new(),
            sent: Vec::new(),
            asked: Vec::new(),
            inputs: 0,
        };
        for _ in 0..200 {
            m.step();
        }
        inputs += m.inputs;
    }
    eprintln!("fuzz_connection_state_machine: {walks} walks, {inputs} inputs at random times");
}

// ---- binary frames, deterministically ---------------------------------------------------------

#[test]
fn binary_frames_decode_route_and_reject() {
    use tether::core::dialect::binary::{base64, BinaryError};
    for (plain, b64) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(plain.as_bytes()), b64);
    }
    assert_eq!(base64(&[0, 1, 2, 253, 254, 255]), "AAEC/f7/");

    // Each kind decodes to the envelope of the equivalent text frame.
    let f = encode_binary(KIND_PUSH, "3", "", "room:a", "ev", b"xy").unwrap();
    let d = decode_binary(&f, 1024).unwrap();
    assert_eq!(
        (
            d.join_ref.as_deref(),
            d.reference,
            d.topic.as_str(),
            d.event.as_str(),
            d.payload
        ),
        (Some("3"), None, "room:a", "ev", &b"xy"[..])
    );
    let f = encode_binary(KIND_REPLY, "3", "7", "room:a", "ok", b"").unwrap();
    let d = decode_binary(&f, 1024).unwrap();
    assert_eq!(d.event, "phx_reply");
    assert_eq!(d.reference.as_deref(), Some("7"));
    assert_eq!(
        d.json_payload(),
        json!({"status": "ok", "response": {"byteLength": 0, "base64": ""}})
    );
    let f = encode_binary(KIND_BROADCAST, "", "", "room:a", "ev", &[255]).unwrap();
    let d = decode_binary(&f, 1024).unwrap();
    assert_eq!((&d.join_ref, &d.reference), (&None, &None));
    assert_eq!(d.json_payload(), json!({"byteLength": 1, "base64": "/w=="}));

    // Every rejection, with its code.
    let good = encode_binary(KIND_BROADCAST, "", "", "room:a", "ev", b"p").unwrap();
    let cases: Vec<(Vec<u8>, BinaryError)> = vec![
        (vec![], BinaryError::Empty),
        (vec![7, 0, 0], BinaryError::UnknownKind(7)),
        (vec![2, 1], BinaryError::Truncated { needed: 3, len: 2 }),
        (
            vec![1, 0, 0, 0],
            BinaryError::Truncated { needed: 5, len: 4 },
        ),
        (
            good[..6].to_vec(),
            BinaryError::Truncated { needed: 11, len: 6 },
        ),
        (vec![2, 1, 1, 0xFF, b'e'], BinaryError::NotUtf8("topic")),
        (vec![2, 1, 1, b't', 0xC0], BinaryError::NotUtf8("event")),
        (
            vec![0, 1, 1, 1, 0x80, b't', b'e'],
            BinaryError::NotUtf8("join_ref"),
        ),
        (
            vec![1, 0, 1, 1, 1, 0xED, b't', b'o'],
            BinaryError::NotUtf8("ref"),
        ),
        (
            vec![1, 0, 0, 1, 1, b't', 0xFF],
            BinaryError::NotUtf8("status"),
        ),
    ];
    for (bytes, want) in cases {
        let err = decode_binary(&bytes, 1024).unwrap_err();
        assert_eq!(err, want, "{bytes:?}");
        assert_eq!(err.code(), "malformed_frame");
        assert!(!err.to_string().is_empty());
    }
    let err = decode_binary(&good, good.len() - 1).unwrap_err();
    assert_eq!(err.code(), "frame_too_large");
    assert!(decode_binary(&good, good.len()).is_ok());

    // Through a live client: broadcast, a push's reply, a heartbeat reply, a stale join_ref.
    let mut live = Live::new();
    let h = &mut live.h;
    let jr = h.client.channel_join_ref(live.ch).unwrap().to_string();
    let bytes = encode_binary(KIND_BROADCAST, "", "", TOPIC, "bin", &[1, 2, 3]).unwrap();
    h.client.handle_binary(h.now, &bytes);
    h.pump();
    assert_eq!(
        h.messages(live.ch).last(),
        Some(&(
            "bin".to_string(),
            json!({"byteLength": 3, "base64": "AQID"})
        ))
    );
    let bytes = encode_binary(KIND_PUSH, "stale", "", TOPIC, "bin", &[9]).unwrap();
    h.client.handle_binary(h.now, &bytes);
    h.pump();
    assert_eq!(h.messages(live.ch).last().unwrap().1["base64"], "AQID");
    let p = h.push(live.ch, "noreply", json!({}));
    let f = h.last_sent("noreply");
    let bytes = encode_binary(KIND_REPLY, &jr, f[1].as_str().unwrap(), TOPIC, "ok", b"hi").unwrap();
    h.client.handle_binary(h.now, &bytes);
    h.pump();
    assert_eq!(
        h.outcome(p),
        PushOutcome::Ok(json!({"byteLength": 2, "base64": "aGk="}))
    );
    // Heartbeats answered by binary replies only: no timeout.
    h.server_mut().no_heartbeat_reply = true;
    for _ in 0..3 {
        h.advance(1_000);
        let hb = h.last_sent("heartbeat");
        let bytes = encode_binary(
            KIND_REPLY,
            "",
            hb[1].as_str().unwrap(),
            "phoenix",
            "ok",
            b"",
        )
        .unwrap();
        h.client.handle_binary(h.now, &bytes);
        h.pump();
    }
    assert_eq!(h.count_events(|e| matches!(e, Event::HeartbeatTimeout)), 0);
    assert!(h.errors().is_empty(), "{:?}", h.errors());

    // Dialects without binary frames say so.
    let mut hub = Harness::auto(Config {
        protocol: tether::core::Protocol::Hub,
        ..Config::default()
    });
    hub.connect();
    hub.client.handle_binary(hub.now, &[2, 0, 0]);
    hub.pump();
    assert_eq!(hub.errors(), vec!["unsupported_frame"]);
}
