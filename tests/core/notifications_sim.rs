//! The notification store against a simulated server and network, in seeded random schedules:
//! notifications created at any moment, reads and "mark all read" pressed at any moment, frames
//! in flight both ways, connections lost with whatever was in flight, pushes timing out, replies
//! arriving after their push gave up. The server keeps the demo server's one guarantee: a
//! connection's replies and broadcasts leave in the order its changes were made (one queue).
//!
//! After every schedule the network settles (everything delivered, the client rejoined and
//! synced, no read left pending) and the store must agree with the server: the unread count,
//! and which held notifications are read.

use std::collections::{HashSet, VecDeque};

use serde_json::{json, Value};
use tether::core::{ChannelId, Config, SplitMix64, StoreStatus};

use crate::harness::{exact_config, phx_reply, Harness, Sock};

const TOPIC: &str = "user:7:notifications";
const T0: u64 = 1_000_000;
/// What a `sync` returns at most (the demo server's `SYNC_LIMIT`).
const SYNC_LIMIT: usize = 50;

/// The server: every notification it created (oldest first) and which are read, plus who is
/// subscribed on the current connection.
#[derive(Default)]
struct Server {
    all: Vec<(String, &'static str, u64)>,
    read: HashSet<String>,
    /// The join_ref of the live connection's join of TOPIC.
    subscribed: Option<Value>,
}

impl Server {
    fn counted(kind: &str) -> bool {
        matches!(kind, "activity" | "alert")
    }

    fn unread(&self) -> u64 {
        self.all
            .iter()
            .filter(|(id, kind, _)| Self::counted(kind) && !self.read.contains(id))
            .count() as u64
    }

    fn wire(&self, (id, kind, at): &(String, &'static str, u64)) -> Value {
        let read_at = if self.read.contains(id) {
            json!("2026-01-01T00:00:00Z")
        } else {
            Value::Null
        };
        json!({"id": id, "kind": kind, "title": format!("t {id}"), "data": {},
               "read_at": read_at, "inserted_at": at})
    }

    fn broadcast(&self, down: &mut VecDeque<Value>, event: &str, payload: Value) {
        if let Some(join_ref) = &self.subscribed {
            down.push_back(json!([join_ref, null, TOPIC, event, payload]));
        }
    }

    /// Handles one client frame; its reply and broadcasts go to `down` in order.
    fn handle(&mut self, frame: &Value, down: &mut VecDeque<Value>) {
        let event = frame[3].as_str().unwrap_or_default();
        let reply = |down: &mut VecDeque<Value>, response: Value| {
            down.push_back(phx_reply(frame, "ok", response));
        };
        match event {
            "heartbeat" => reply(down, json!({})),
            "phx_join" if frame[2] == TOPIC => {
                self.subscribed = Some(frame[0].clone());
                reply(down, json!({}));
            }
            "phx_leave" if frame[2] == TOPIC => {
                reply(down, json!({}));
                self.subscribed = None;
            }
            "sync" => {
                let recent: Vec<Value> = self
                    .all
                    .iter()
                    .rev()
                    .take(SYNC_LIMIT)
                    .map(|n| self.wire(n))
                    .collect();
                let cursor = self.all.last().map(|n| n.0.clone());
                reply(
                    down,
                    json!({"unread_count": self.unread(), "recent": recent, "cursor": cursor}),
                );
            }
            "mark_read" => {
                let mine: HashSet<&str> = self.all.iter().map(|n| n.0.as_str()).collect();
                let marked: Vec<String> = frame[4]["ids"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .filter(|id| mine.contains(id))
                    .map(str::to_string)
                    .collect();
                self.read.extend(marked.iter().cloned());
                let count = self.unread();
                reply(down, json!({ "unread_count": count }));
                if !marked.is_empty() {
                    self.broadcast(
                        down,
                        "notification:read",
                        json!({"ids": marked, "unread_count": count}),
                    );
                }
            }
            "mark_all_read" => {
                let until = frame[4]["until"].as_str().map(str::to_string);
                let ids: Vec<String> = self
                    .all
                    .iter()
                    .map(|n| n.0.clone())
                    .filter(|id| until.as_ref().is_none_or(|u| id <= u))
                    .collect();
                self.read.extend(ids);
                let count = self.unread();
                reply(down, json!({ "unread_count": count }));
                self.broadcast(
                    down,
                    "notification:all_read",
                    json!({ "unread_count": count, "until": until }),
                );
            }
            _ => {}
        }
    }
}

struct Sim {
    h: Harness,
    ch: ChannelId,
    server: Server,
    rng: SplitMix64,
    /// Client frames on their way to the server.
    up: VecDeque<Value>,
    /// Server frames on their way to the client.
    down: VecDeque<Value>,
    /// Frames of `h.sent` already taken onto the network.
    taken: usize,
    created: u64,
    log: Vec<String>,
}

fn config() -> Config {
    Config {
        heartbeat_ms: 20_000,
        timeout_ms: 4_000,
        ..exact_config()
    }
}

impl Sim {
    fn new(seed: u64, cap: usize) -> Sim {
        let mut h = Harness::with_seed(config(), seed);
        let ch = h
            .client
            .notifications(h.now, TOPIC, cap, Vec::<tether::core::ReadOp>::new());
        h.pump();
        h.connect();
        let mut sim = Sim {
            h,
            ch,
            server: Server::default(),
            rng: SplitMix64::new(seed ^ 0x9e37_79b9),
            up: VecDeque::new(),
            down: VecDeque::new(),
            taken: 0,
            created: 0,
            log: Vec::new(),
        };
        sim.take_sent();
        sim
    }

    fn below(&mut self, n: u64) -> u64 {
        self.rng.next_u64() % n
    }

    /// Puts what the client sent onto the network; a socket that is not open loses it all.
    fn take_sent(&mut self) {
        if self.h.sock == Sock::Open {
            self.up.extend(self.h.sent[self.taken..].iter().cloned());
        } else {
            self.up.clear();
            self.down.clear();
            self.server.subscribed = None;
        }
        self.taken = self.h.sent.len();
    }

    fn create(&mut self) {
        self.created += 1;
        let kind = match self.below(10) {
            0 => "system",
            1..=5 => "alert",
            _ => "activity",
        };
        // Several in one millisecond: ids order them, `inserted_at` ties.
        let at = T0 + self.created / 3;
        let id = format!("n{:06}", self.created);
        self.log.push(["create ", &id].concat());
        let n = (id, kind, at);
        let wire = self.server.wire(&n);
        self.server.all.push(n);
        self.server.broadcast(
            &mut self.down,
            "notification:new",
            json!({ "notification": wire }),
        );
    }

    fn held_ids(&self) -> Vec<String> {
        let store = self.h.client.notification_store(self.ch).expect("store");
        store
            .items(self.h.now)
            .iter()
            .filter_map(|v| v["id"].as_str().map(str::to_string))
            .collect()
    }

    fn step(&mut self) {
        match self.below(100) {
            0..=19 => self.create(),
            20..=44 => {
                if let Some(frame) = self.up.pop_front() {
                    self.log
                        .push(["server handles ", &frame.to_string()].concat());
                    self.server.handle(&frame, &mut self.down);
                }
            }
            45..=74 => {
                if let Some(frame) = self.down.pop_front() {
                    self.log.push(["client gets ", &frame.to_string()].concat());
                    self.h.recv(frame);
                }
            }
            75..=82 => {
                let ids = self.held_ids();
                if !ids.is_empty() {
                    let id = ids[self.below(ids.len() as u64) as usize].clone();
                    self.log.push(["mark_read ", &id].concat());
                    self.h.client.mark_read(self.h.now, self.ch, &id);
                    self.h.pump();
                }
            }
            83..=84 => {
                self.log.push("mark_all_read".into());
                self.h.client.mark_all_read(self.h.now, self.ch);
                self.h.pump();
            }
            85..=92 => {
                let ms = 1 + self.below(2_500);
                self.log.push(["advance ", &ms.to_string()].concat());
                self.h.advance(ms);
            }
            93..=95 => {
                if self.h.sock != Sock::None {
                    self.log.push("connection lost".into());
                    self.h.server_close();
                }
            }
            _ => {
                if self.h.sock == Sock::Connecting {
                    self.take_sent();
                    self.log.push("socket opens".into());
                    self.h.open();
                }
            }
        }
        self.take_sent();
    }

    fn settled(&self) -> bool {
        let store = self.h.client.notification_store(self.ch).expect("store");
        self.h.sock == Sock::Open
            && self.up.is_empty()
            && self.down.is_empty()
            && store.status() == StoreStatus::Live
            && store.pending_ops().is_empty()
    }

    /// Delivers everything and lets the client reconnect, resync and retry whatever it retries
    /// (30 s of quiet network past the point where nothing is left in flight).
    fn settle(&mut self) {
        self.log.push("settle".into());
        let mut quiet_ms = 0;
        for _ in 0..100_000 {
            if self.h.sock == Sock::Connecting {
                self.take_sent();
                self.h.open();
            }
            self.take_sent();
            if let Some(frame) = self.up.pop_front() {
                self.log
                    .push(["server handles ", &frame.to_string()].concat());
                self.server.handle(&frame, &mut self.down);
            } else if let Some(frame) = self.down.pop_front() {
                self.log.push(["client gets ", &frame.to_string()].concat());
                self.h.recv(frame);
            } else if self.settled() && quiet_ms >= 30_000 {
                return;
            } else {
                self.h.advance(500);
                quiet_ms += 500;
            }
        }
        panic!("the network does not settle");
    }

    fn check(&self, seed: u64) {
        let store = self.h.client.notification_store(self.ch).expect("store");
        let keep = env_number("TETHER_SIM_LOG").unwrap_or(60) as usize;
        let tail = self.log[self.log.len().saturating_sub(keep)..].join("\n");
        assert_eq!(
            store.unread_count(),
            self.server.unread(),
            "seed {seed}: unread count; the schedule's end:\n{tail}"
        );
        for v in store.items(self.h.now) {
            let id = v["id"].as_str().unwrap_or_default();
            assert_eq!(
                !v["read_at"].is_null(),
                self.server.read.contains(id),
                "seed {seed}: {id} read here and on the server; the schedule's end:\n{tail}"
            );
        }
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Runs one schedule of `steps` random steps and checks the settled store. Even seeds hold 40
/// (fewer than a `sync` returns, so the cap evicts), odd ones 1,000.
fn run(seed: u64, steps: usize) {
    let cap = if seed % 2 == 0 { 40 } else { 1_000 };
    let mut sim = Sim::new(seed, cap);
    for _ in 0..steps {
        sim.step();
    }
    sim.settle();
    sim.check(seed);
}

/// 400 schedules of 400 steps. More: `TETHER_SIM_SEEDS=20000 cargo test --release --test core
/// notifications_sim`; one seed's last N steps: `TETHER_SIM_FROM=<seed> TETHER_SIM_SEEDS=1
/// TETHER_SIM_LOG=<N>`.
#[test]
fn after_any_schedule_the_store_agrees_with_the_server() {
    let from = env_number("TETHER_SIM_FROM").unwrap_or(0);
    let n = env_number("TETHER_SIM_SEEDS").unwrap_or(400);
    for seed in from..from + n {
        run(seed, 400);
    }
}
