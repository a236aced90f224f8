//! The hub (MemoriesDB) and nova dialects: same client, other wire. Driven directly (the V2
//! harness checks Phoenix frames), with a virtual clock.

use tether::core::Value;
use tether::core::{
    Backoff, ChannelId, Client, Config, Event, Output, Protocol, PushOutcome, SocketState,
    SplitMix64,
};

struct Wire {
    client: Client,
    now: u64,
    sent: Vec<String>,
    events: Vec<Event>,
    connects: usize,
    closes: Vec<String>,
}

impl Wire {
    fn new(protocol: Protocol) -> Wire {
        let cfg = Config {
            protocol,
            reconnect: Backoff::exponential(1_000, 30_000, 0.0),
            ..Config::default()
        };
        Wire {
            client: Client::new(cfg, Box::new(SplitMix64::new(3))),
            now: 1_000,
            sent: vec![],
            events: vec![],
            connects: 0,
            closes: vec![],
        }
    }
    fn pump(&mut self) {
        while let Some(out) = self.client.poll_output() {
            match out {
                Output::Connect => self.connects += 1,
                Output::Send(t) => self.sent.push(t),
                Output::SendBinary(b) => panic!("a dialect client sent a binary frame: {b:?}"),
                Output::Close { reason, .. } => self.closes.push(reason),
                Output::Event(e) => self.events.push(e),
            }
        }
    }
    fn advance(&mut self, ms: u64) {
        let target = self.now + ms;
        while let Some(t) = self.client.poll_timeout().filter(|t| *t <= target) {
            self.now = t;
            self.client.handle_timeout(t);
            self.pump();
        }
        self.now = target;
    }
    fn open(&mut self) {
        self.client.handle_open(self.now);
        self.pump();
    }
    fn recv(&mut self, text: &str) {
        self.client.handle_text(self.now, text);
        self.pump();
    }
    fn messages(&self, ch: ChannelId) -> Vec<(String, Value)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Message {
                    channel,
                    event,
                    payload,
                } if *channel == ch => Some((event.clone(), payload.value())),
                _ => None,
            })
            .collect()
    }
    fn reply(&self, push: tether::core::PushId) -> Option<PushOutcome> {
        self.events.iter().find_map(|e| match e {
            Event::Reply { push: p, outcome } if *p == push => Some(outcome.clone()),
            _ => None,
        })
    }
}

#[test]
fn hub_subscribes_in_the_query_string_and_joins_on_open() {
    let mut w = Wire::new(Protocol::Hub);
    let a = w.client.channel("updates", json!({}));
    let b = w.client.channel("notifications", json!({}));
    let ja = w.client.join(w.now, a).unwrap();
    w.client.join(w.now, b).unwrap();
    w.client.connect(w.now);
    w.pump();
    assert_eq!(w.connects, 1);
    assert_eq!(
        w.client.connect_query(),
        vec![
            ("c".to_string(), "updates".to_string()),
            ("c".to_string(), "notifications".to_string())
        ]
    );
    w.open();
    assert!(
        w.sent.is_empty(),
        "no join frames in this dialect: {:?}",
        w.sent
    );
    assert_eq!(w.reply(ja), Some(PushOutcome::Ok(json!({}))));
    assert!(w
        .events
        .iter()
        .any(|e| matches!(e, Event::Joined { channel, rejoin: false, .. } if *channel == b)));
}

#[test]
fn hub_publishes_and_receives_by_channel() {
    let mut w = Wire::new(Protocol::Hub);
    let a = w.client.channel("room:lobby", json!({}));
    let other = w.client.channel("room:other", json!({}));
    w.client.join(w.now, a).unwrap();
    w.client.join(w.now, other).unwrap();
    w.client.connect(w.now);
    w.pump();
    w.open();
    let p = w
        .client
        .push(w.now, a, "message", json!({"body": "hi"}), None)
        .unwrap();
    w.pump();
    let frame: Value = tether::core::json::parse(&w.sent[0]).unwrap();
    assert_eq!(
        frame,
        json!({"method": "pub", "params": {"channel": "room:lobby", "content": {"body": "hi"}}})
    );
    assert_eq!(
        w.reply(p),
        Some(PushOutcome::Ok(json!({}))),
        "a publish has no reply to wait for"
    );
    // No ref comes back on this wire, so no ping can be timed.
    assert_eq!(w.client.ping(w.now).map_err(|e| e.code), Err("unsupported"));
    // Bytes have no place on this wire: refused, nothing sent.
    let bin = w
        .client
        .push_binary(w.now, a, "file", vec![1, 2], None)
        .unwrap();
    w.pump();
    assert_eq!(w.sent.len(), 1);
    assert!(matches!(w.reply(bin), Some(PushOutcome::Error { .. })));
    w.recv(r#"{"channel":"room:lobby","content":{"body":"yo"}}"#);
    w.recv(
        r#"{"channel":"room:lobby","content":{"event":"new_msg","payload":{"body":"bridged"}}}"#,
    );
    assert_eq!(
        w.messages(a),
        vec![
            ("message".into(), json!({"body": "yo"})),
            ("new_msg".into(), json!({"body": "bridged"}))
        ]
    );
    assert!(w.messages(other).is_empty());
    w.recv("not json");
    assert!(w.events.iter().any(|e| matches!(
        e,
        Event::Error {
            code: "malformed_frame",
            ..
        }
    )));
    w.recv(r#"{"channel":"room:lobby","content":3}"#);
    assert_eq!(
        w.messages(a).last(),
        Some(&("message".to_string(), json!({"value": 3})))
    );
}

#[test]
fn hub_joining_or_leaving_while_connected_reconnects_with_the_new_query() {
    let mut w = Wire::new(Protocol::Hub);
    let a = w.client.channel("a", json!({}));
    w.client.join(w.now, a).unwrap();
    w.client.connect(w.now);
    w.pump();
    w.open();
    let b = w.client.channel("b", json!({}));
    let jb = w.client.join(w.now, b).unwrap();
    w.pump();
    assert_eq!(w.closes, vec!["resubscribe".to_string()]);
    assert_eq!(w.connects, 2, "reconnected at once, no backoff");
    assert_eq!(w.client.connect_query().len(), 2);
    w.open();
    assert_eq!(w.reply(jb), Some(PushOutcome::Ok(json!({}))));
    w.client.leave(w.now, a).unwrap();
    w.pump();
    assert_eq!(w.connects, 3);
    assert_eq!(
        w.client.connect_query(),
        vec![("c".to_string(), "b".to_string())]
    );
}

#[test]
fn hub_schedule_from_the_seed_is_expressible() {
    // 1 s · 2ⁿ, capped at 30 s, give up after 5.
    let cfg = Config {
        protocol: Protocol::Hub,
        reconnect: Backoff {
            max_attempts: Some(5),
            ..Backoff::exponential(1_000, 30_000, 0.0)
        },
        ..Config::default()
    };
    let mut c = Client::new(cfg, Box::new(SplitMix64::new(1)));
    let mut now = 0;
    c.connect(now);
    let mut delays = vec![];
    loop {
        while let Some(out) = c.poll_output() {
            if let Output::Event(Event::State(SocketState::Waiting { retry_in_ms, .. })) = out {
                delays.push(retry_in_ms);
            }
        }
        c.handle_close(now, 1006, "");
        while let Some(out) = c.poll_output() {
            if let Output::Event(Event::State(SocketState::Waiting { retry_in_ms, .. })) = out {
                delays.push(retry_in_ms);
            }
        }
        match c.poll_timeout() {
            Some(t) if c.state() != SocketState::Closed => {
                now = t;
                c.handle_timeout(now);
            }
            _ => break,
        }
    }
    assert_eq!(delays, vec![1_000, 2_000, 4_000, 8_000, 16_000]);
    assert_eq!(c.state(), SocketState::Closed);
}

#[test]
fn nova_heartbeats_with_ping_and_pong() {
    let mut w = Wire::new(Protocol::Nova);
    let ch = w.client.channel("/notifications", json!({}));
    w.client.join(w.now, ch).unwrap();
    w.client.connect(w.now);
    w.pump();
    w.open();
    w.advance(30_000);
    assert_eq!(w.sent, vec!["ping".to_string()]);
    w.recv("pong");
    w.advance(30_000);
    assert_eq!(w.sent.len(), 2, "next ping scheduled from the pong");
    w.advance(30_000);
    assert!(
        w.events
            .iter()
            .any(|e| matches!(e, Event::HeartbeatTimeout)),
        "no pong → replaced"
    );
    assert_eq!(w.closes, vec!["heartbeat timeout".to_string()]);
}

#[test]
fn nova_delivers_event_and_data_to_the_endpoint_channel_and_cannot_send() {
    let mut w = Wire::new(Protocol::Nova);
    let ch = w.client.channel("/notifications", json!({}));
    w.client.join(w.now, ch).unwrap();
    w.client.connect(w.now);
    w.pump();
    assert!(w.client.connect_query().is_empty());
    w.open();
    w.recv(r#"{"event":"note_created","data":{"id":7}}"#);
    assert_eq!(
        w.messages(ch),
        vec![("note_created".into(), json!({"id": 7}))]
    );
    let p = w
        .client
        .push(w.now, ch, "anything", json!({}), None)
        .unwrap();
    w.pump();
    assert!(matches!(w.reply(p), Some(PushOutcome::Error { .. })));
    w.recv(r#"{"data":1}"#);
    assert!(w.events.iter().any(|e| matches!(
        e,
        Event::Error {
            code: "malformed_frame",
            ..
        }
    )));
}
