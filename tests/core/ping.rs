//! `ping()`: a heartbeat of its own, answered with the round trip; refused when not open; times
//! out like a push; does not stand in for the socket's own heartbeat.

use tether::core::{PushOutcome, Value};

use crate::harness::{exact_config, phx_reply, Harness};

#[test]
fn a_ping_ends_with_the_round_trip_and_leaves_the_heartbeat_alone() {
    let mut h = Harness::new(exact_config());
    assert_eq!(
        h.client.ping(h.now).map_err(|e| e.code),
        Err("not_connected")
    );
    h.connected();
    let p = h.client.ping(h.now).expect("ping");
    h.pump();
    let frame = h.sent.last().cloned().expect("sent");
    assert_eq!(frame[2], "phoenix");
    assert_eq!(frame[3], "heartbeat");
    h.advance(37);
    h.recv(phx_reply(&frame, "ok", json!({})));
    assert_eq!(h.outcome(p), PushOutcome::Ok(Value::from(37u64)));

    // The socket's heartbeat still runs on its own schedule and is still required: a ping reply
    // does not answer it.
    let beats = h.count_sent("heartbeat");
    h.advance(30_000);
    assert_eq!(
        h.count_sent("heartbeat"),
        beats + 1,
        "the interval heartbeat goes out"
    );
    let beat = h.sent.last().cloned().expect("sent");
    let p2 = h.client.ping(h.now).expect("ping");
    h.pump();
    let ping = h.sent.last().cloned().expect("sent");
    assert_ne!(ping[1], beat[1], "refs of their own");
    h.recv(phx_reply(&ping, "ok", json!({})));
    assert_eq!(h.outcome(p2), PushOutcome::Ok(Value::from(0u64)));
    h.recv(phx_reply(&beat, "ok", json!({})));
    h.advance(30_000);
    assert_eq!(h.count_sent("heartbeat"), beats + 3, "no heartbeat timeout");
}

#[test]
fn an_unanswered_ping_times_out() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let p = h.client.ping(h.now).expect("ping");
    h.pump();
    h.advance(9_999);
    assert!(h.outcomes(p).is_empty());
    h.advance(1);
    assert_eq!(h.outcome(p), PushOutcome::Timeout);
    // A late answer is a heartbeat reply like any other, not a second outcome.
    let frame = h
        .sent
        .iter()
        .rev()
        .find(|f| f[3] == "heartbeat")
        .cloned()
        .expect("sent");
    h.recv(phx_reply(&frame, "ok", json!({})));
    assert_eq!(h.outcomes(p).len(), 1);
}
