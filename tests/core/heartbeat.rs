//! Heartbeats: timing from the reply, timeout handling, and no postponement by other traffic.

use tether::core::Value;
use tether::core::{Config, Event, SocketState};

use crate::harness::{exact_config, phx_reply, Harness};

const HB: u64 = 30_000;

fn heartbeat_times(h: &Harness) -> Vec<u64> {
    h.sent
        .iter()
        .zip(&h.sent_at)
        .filter(|(f, _)| f[3] == "heartbeat")
        .map(|(_, t)| *t)
        .collect()
}

#[test]
fn first_heartbeat_is_sent_one_interval_after_open() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let opened = h.now;
    h.advance(HB - 1);
    assert_eq!(h.count_sent("heartbeat"), 0);
    h.advance(1);
    let hb = h.last_sent("heartbeat");
    assert_eq!(hb[0], Value::Null);
    assert!(hb[1].is_string(), "heartbeat ref must be a string: {hb}");
    assert_eq!(hb[2], "phoenix");
    assert_eq!(hb[3], "heartbeat");
    assert_eq!(hb[4], json!({}));
    assert_eq!(heartbeat_times(&h), vec![opened + HB]);
}

#[test]
fn next_heartbeat_is_scheduled_from_the_reply() {
    let mut h = Harness::new(exact_config());
    h.connected();
    h.advance(HB);
    h.advance(400);
    let reply_at = h.now;
    h.reply_last("heartbeat", "ok", json!({}));
    h.advance(HB - 1);
    assert_eq!(
        h.count_sent("heartbeat"),
        1,
        "next heartbeat before reply + interval"
    );
    h.advance(1);
    assert_eq!(heartbeat_times(&h)[1], reply_at + HB);
    // Refs are unique per heartbeat.
    let hbs = h.sent_events("heartbeat");
    assert_ne!(hbs[0][1], hbs[1][1]);
    assert!(h.closes.is_empty());
    assert_eq!(h.count_events(|e| matches!(e, Event::HeartbeatTimeout)), 0);
}

#[test]
fn missing_reply_times_out_and_reconnects() {
    let mut h = Harness::new(exact_config());
    h.connected();
    h.advance(HB);
    let sent_at = h.now;
    h.advance(HB - 1);
    assert!(h.closes.is_empty());
    assert_eq!(h.client.state(), SocketState::Open);
    h.advance(1);
    assert_eq!(h.count_events(|e| matches!(e, Event::HeartbeatTimeout)), 1);
    assert_eq!(h.closes.len(), 1);
    assert_eq!(h.closes[0].1, "heartbeat timeout");
    assert_eq!(h.closes[0].2, sent_at + HB);
    assert_eq!(
        h.count_sent("heartbeat"),
        1,
        "no second heartbeat while one is unanswered"
    );
    let (attempt, d) = h.waiting();
    assert_eq!(attempt, 1, "a connection up 60 s resets the counter");
    h.advance(d);
    assert_eq!(h.connects.len(), 2);
}

#[test]
fn reply_with_the_wrong_ref_does_not_count() {
    let mut h = Harness::new(exact_config());
    h.connected();
    h.advance(HB);
    let hb = h.last_sent("heartbeat");
    let mut wrong = hb.clone();
    wrong[1] = json!("999999");
    h.recv(phx_reply(&wrong, "ok", json!({})));
    // A reply without a ref does not count either.
    h.recv(json!([null, null, "phoenix", "phx_reply", {"status": "ok", "response": {}}]));
    h.advance(HB);
    assert_eq!(h.count_events(|e| matches!(e, Event::HeartbeatTimeout)), 1);
}

#[test]
fn inbound_traffic_does_not_postpone_heartbeat_or_timeout() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let opened = h.now;
    let ch = h.channel("room:busy");
    h.join(ch);
    h.reply_last("phx_join", "ok", json!({}));
    // A message every second, and stray replies on the phoenix topic.
    for i in 0..(2 * HB / 1_000) {
        h.advance(1_000);
        if h.client.state() != SocketState::Open {
            break;
        }
        h.recv(json!([null, null, "room:busy", "tick", {"i": i}]));
        h.recv(json!([null, "424242", "phoenix", "phx_reply", {"status": "ok", "response": {}}]));
    }
    assert_eq!(heartbeat_times(&h), vec![opened + HB]);
    assert_eq!(h.count_events(|e| matches!(e, Event::HeartbeatTimeout)), 1);
    assert_eq!(
        h.closes[0].2,
        opened + 2 * HB,
        "traffic postponed the heartbeat timeout"
    );
    assert!(h.messages(ch).len() >= 59);
}

#[test]
fn answered_heartbeats_keep_a_connection_alive_for_hours() {
    let mut h = Harness::auto(Config::default());
    h.connect();
    h.advance(3 * 3_600_000);
    assert_eq!(h.connects.len(), 1);
    assert!(h.closes.is_empty());
    assert_eq!(h.count_sent("heartbeat") as u64, 3 * 3_600_000 / HB);
}

#[test]
fn unanswered_heartbeats_with_an_auto_server_cycle_connections() {
    let mut h = Harness::auto(exact_config());
    h.server_mut().no_heartbeat_reply = true;
    h.connect();
    h.advance(10 * 60_000);
    // Each connection lives 60 s then waits 250 ms (counter reset: up > 5 s).
    assert!(h.connects.len() >= 9, "connects: {:?}", h.connects);
    assert!(h.closes.iter().all(|c| c.1 == "heartbeat timeout"));
    for w in h.connects.windows(2) {
        assert_eq!(w[1] - w[0], 2 * HB + 250);
    }
}

#[test]
fn becoming_visible_checks_an_open_connection_with_a_heartbeat() {
    let mut h = Harness::new(exact_config());
    h.connected();
    h.advance(5_000);
    h.set_visible(false);
    h.advance(5_000);
    h.set_visible(true);
    assert_eq!(h.count_sent("heartbeat"), 1);
    let at = h.now;
    // Unanswered: times out one interval later.
    h.advance(HB);
    assert_eq!(h.closes.len(), 1);
    assert_eq!(h.closes[0].2, at + HB);
}
