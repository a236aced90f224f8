//! A seeded random walk over every input, garbage frames included, checking invariants after each
//! step and that the client heals once the world is friendly again.

use std::collections::HashMap;

use tether::core::Value;
use tether::core::{
    Backoff, ChannelId, ChannelState, Config, Event, PushId, Schedule, SocketState, SplitMix64,
};

use crate::harness::{exact_config, Harness, Server, Sock};

const SEQUENCES: u64 = 300;
const STEPS: usize = 200;

struct Dice(SplitMix64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n.max(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn config(variant: u64) -> Config {
    match variant % 4 {
        0 => Config::default(),
        1 => exact_config(),
        2 => Config {
            protocol: tether::core::Protocol::Phoenix,
            heartbeat_ms: 5_000,
            timeout_ms: 2_000,
            drift_ms: 1_000,
            suspect_timeout_ms: 500,
            send_buffer_max: 3,
            send_buffer_ttl_ms: 3_000,
            max_frame_bytes: 512,
            reconnect: Backoff {
                schedule: Schedule::Table(vec![0, 10, 100]),
                max_attempts: Some(4),
                reset_after_ms: 1_000,
            },
            rejoin: Backoff {
                schedule: Schedule::Table(vec![0, 50]),
                max_attempts: None,
                reset_after_ms: 0,
            },
            // Closes with 4000 stop reconnecting; the defaults decide the rest.
            close_policy: tether::core::ClosePolicy::custom(Box::new(|code, _| {
                (code == 4000).then_some(tether::core::CloseAction::Stop)
            })),
        },
        _ => Config {
            reconnect: Backoff {
                schedule: Schedule::Custom(Box::new(|a| u64::from(a) * u64::from(a) * 13)),
                max_attempts: None,
                reset_after_ms: 0,
            },
            ..Config::default()
        },
    }
}

const GARBAGE: &[&str] = &[
    "",
    "x",
    "[",
    "]",
    "{}",
    "[]",
    "null",
    "[null,null,null,null,null]",
    r#"[null,1,"t","e",{}]"#,
    r#"[null,null,"t","e",[]]"#,
    r#"[null,null,"t","e",{},{}]"#,
    r#"["1","1","room:0","phx_reply",{"status":5}]"#,
    r#"["1","1","room:0","phx_reply",{}]"#,
    r#"[null,null,"phoenix","phx_reply",{"status":"ok"}]"#,
    r#"[null,"1","phoenix","phx_reply",{"status":"ok","response":{}}]"#,
    r#"[null,null,"room:0","phx_close",{}]"#,
    r#"[null,null,"room:1","phx_error",{}]"#,
];

fn random_text(d: &mut Dice) -> String {
    let alphabet: Vec<char> = r#"[]{}",:nul0123456789 phx_reply\"#.chars().collect();
    let len = d.below(60) as usize;
    (0..len).map(|_| *d.pick(&alphabet)).collect()
}

struct Walk {
    h: Harness,
    d: Dice,
    channels: Vec<ChannelId>,
    topics: Vec<String>,
    max_buffer: usize,
    visible: bool,
}

impl Walk {
    fn step(&mut self) {
        let h = &mut self.h;
        let d = &mut self.d;
        match d.below(20) {
            0 => h.connect(),
            1 if d.chance(30) => h.disconnect(),
            2 | 3 if h.sock == Sock::Connecting => h.open(),
            4 if h.sock != Sock::None && d.chance(35) => h.server_close(),
            4 => {
                // The fake server changes its mood.
                let topic = d.pick(&self.topics).clone();
                let server = h.server_mut();
                match d.below(4) {
                    0 => server.no_heartbeat_reply = !server.no_heartbeat_reply,
                    1 => {
                        if !server.join_errors.remove(&topic) {
                            server.join_errors.insert(topic);
                        }
                    }
                    2 => {
                        if !server.join_silent.remove(&topic) {
                            server.join_silent.insert(topic);
                        }
                    }
                    _ => server.auto_open = !server.auto_open,
                }
            }
            5 => {
                let online = d.chance(70);
                h.set_online(online);
            }
            6 => {
                let visible = d.chance(70);
                h.set_visible(visible);
                self.visible = visible;
            }
            7..=9 => {
                let ms = match d.below(6) {
                    0 => 0,
                    1 => 1,
                    2 => d.below(300),
                    3 => d.below(3_000),
                    4 => d.below(15_000),
                    _ => d.below(70_000),
                };
                h.advance(ms);
            }
            10 if self.channels.len() < 6 => {
                let topic = d.pick(&self.topics).clone();
                let params = if d.chance(80) {
                    json!({"n": d.below(9)})
                } else {
                    json!("not an object")
                };
                self.channels.push(h.client.channel(&topic, params));
            }
            11 if !self.channels.is_empty() => {
                let ch = *d.pick(&self.channels);
                let _ = h.client.join(h.now, ch);
                h.pump();
            }
            12 if !self.channels.is_empty() => {
                let ch = *d.pick(&self.channels);
                let timeout = if d.chance(50) {
                    None
                } else {
                    Some(d.below(20_000))
                };
                let event = *d.pick(&["msg", "noreply", "other"]);
                let _ = h
                    .client
                    .push(h.now, ch, event, json!({"k": d.below(100)}), timeout);
                h.pump();
            }
            13 if !self.channels.is_empty() && d.chance(40) => {
                let ch = *d.pick(&self.channels);
                let _ = h.client.leave(h.now, ch);
                h.pump();
            }
            14 if !self.channels.is_empty() && d.chance(15) => {
                let i = d.below(self.channels.len() as u64) as usize;
                let ch = self.channels.remove(i);
                h.client.remove_channel(ch);
                h.pump();
            }
            15 | 16 if h.sock == Sock::Open && !h.sent.is_empty() => {
                // The server answers one of the recent frames (possibly twice, possibly late).
                let from = h.sent.len().saturating_sub(8);
                let i = from + d.below((h.sent.len() - from) as u64) as usize;
                let f = h.sent[i].clone();
                let status = *d.pick(&["ok", "ok", "ok", "error", "weird"]);
                h.recv(json!([f[0], f[1], f[2], "phx_reply", {"status": status, "response": {"r": i}}]));
            }
            17 if h.sock == Sock::Open => {
                let refs: Vec<Value> = h
                    .sent
                    .iter()
                    .rev()
                    .filter(|f| f[3] == "phx_join")
                    .take(4)
                    .map(|f| f[0].clone())
                    .collect();
                let join_ref = if refs.is_empty() || d.chance(30) {
                    Value::Null
                } else {
                    d.pick(&refs).clone()
                };
                let mut topics = self.topics.clone();
                topics.push("phoenix".into());
                let topic = d.pick(&topics).clone();
                let event = *d.pick(&[
                    "msg",
                    "msg",
                    "phx_close",
                    "phx_error",
                    "presence_diff",
                    "phx_reply",
                ]);
                let reference = if d.chance(50) {
                    Value::Null
                } else {
                    json!(d.below(50).to_string())
                };
                h.recv(json!([join_ref, reference, topic, event, {"x": 1}]));
            }
            18 => {
                let text = if d.chance(50) {
                    d.pick(GARBAGE).to_string()
                } else {
                    random_text(d)
                };
                h.client.handle_text(h.now, &text);
                h.pump();
            }
            19 => {
                // Extra timeout calls are harmless.
                h.client.handle_timeout(h.now);
                if let Some(t) = h.client.poll_timeout() {
                    assert!(t > h.now, "poll_timeout in the past after handle_timeout");
                }
                h.pump();
            }
            _ => h.advance(d.below(1_000)),
        }
    }

    fn check(&self, replies: &mut HashMap<PushId, usize>, seen: &mut usize) {
        let h = &self.h;
        let state = h.client.state();
        match h.sock {
            Sock::None => assert!(
                !matches!(state, SocketState::Connecting | SocketState::Open),
                "client says {state:?} but it has no socket"
            ),
            Sock::Connecting => assert_eq!(state, SocketState::Connecting),
            Sock::Open => assert_eq!(state, SocketState::Open),
        }
        if matches!(state, SocketState::Connecting | SocketState::Open) {
            assert!(
                h.client.poll_timeout().is_some(),
                "{state:?} without a timer"
            );
        }
        if let Some(t) = h.client.poll_timeout() {
            assert!(t >= h.now, "poll_timeout {t} in the past (now {})", h.now);
        }
        assert!(h.client.buffered() <= self.max_buffer);
        if matches!(state, SocketState::Waiting { .. }) && self.visible {
            assert!(
                h.client.poll_timeout().is_some(),
                "waiting to reconnect, visible, but no timer"
            );
        }
        for &ch in &self.channels {
            let s = h.ch_state(ch);
            if matches!(s, ChannelState::Joined | ChannelState::Leaving) {
                assert_eq!(
                    state,
                    SocketState::Open,
                    "channel {ch:?} {s:?} without an open socket"
                );
            }
        }
        for e in &h.events[*seen..] {
            if let Event::Reply { push, .. } = e {
                let n = replies.entry(*push).or_default();
                *n += 1;
                assert_eq!(*n, 1, "{push:?} ended twice");
            }
        }
        *seen = h.events.len();
    }

    /// The world becomes friendly: the client must end up connected with every wanted channel
    /// joined and nothing left waiting.
    fn heal(&mut self, replies: &mut HashMap<PushId, usize>, seen: &mut usize) {
        let h = &mut self.h;
        *h.server_mut() = Server {
            auto_open: true,
            ..Server::default()
        };
        h.set_online(true);
        h.set_visible(true);
        self.visible = true;
        h.connect();
        h.advance(120_000);
        self.check(replies, seen);
        let h = &self.h;
        assert_eq!(h.client.state(), SocketState::Open, "did not heal");
        for &ch in &self.channels {
            let s = h.ch_state(ch);
            assert!(
                matches!(s, ChannelState::Joined | ChannelState::Closed),
                "channel {ch:?} stuck in {s:?}"
            );
        }
        assert_eq!(h.client.buffered(), 0, "sends stuck in the buffer");
    }
}

fn walk(seed: u64) {
    let cfg = config(seed);
    let max_buffer = cfg.send_buffer_max;
    let mut h = Harness::with_seed(cfg, seed);
    h.server = Some(Default::default());
    let mut w = Walk {
        h,
        d: Dice(SplitMix64::new(
            seed.wrapping_mul(0x9E37_79B9).wrapping_add(1),
        )),
        channels: Vec::new(),
        topics: vec!["room:0".into(), "room:1".into(), "room:2".into()],
        max_buffer,
        visible: true,
    };
    let mut replies = HashMap::new();
    let mut seen = 0;
    for _ in 0..STEPS {
        w.step();
        w.check(&mut replies, &mut seen);
    }
    w.heal(&mut replies, &mut seen);
    if std::env::var("WALK_STATS").is_ok() {
        let h = &w.h;
        let joined = h.count_events(|e| matches!(e, Event::Joined { .. }));
        let rejoin = h.count_events(|e| matches!(e, Event::Joined { rejoin: true, .. }));
        let msgs = h.count_events(|e| matches!(e, Event::Message { .. }));
        let drops = h.count_events(|e| matches!(e, Event::SendDropped { .. }));
        let hbto = h.count_events(|e| matches!(e, Event::HeartbeatTimeout));
        let errs = h.errors();
        let gave = errs.iter().filter(|c| **c == "gave_up").count();
        let cto = h
            .connection_errors()
            .iter()
            .filter(|c| **c == "connect_failed")
            .count();
        let replies = h.count_events(|e| {
            matches!(
                e,
                Event::Reply {
                    outcome: tether::core::PushOutcome::Ok(_),
                    ..
                }
            )
        });
        eprintln!("seed {seed}: connects {} sent {} joined {joined} rejoin {rejoin} msgs {msgs} drops {drops} hbto {hbto} gave_up {gave} cto {cto} okreplies {replies} errs {}", h.connects.len(), h.sent.len(), errs.len());
    }
}

#[test]
fn random_walks_keep_the_invariants() {
    for seed in 0..SEQUENCES {
        let result = std::panic::catch_unwind(|| walk(seed));
        if result.is_err() {
            panic!("random walk failed for seed {seed} (rerun with walk({seed}))");
        }
    }
}
