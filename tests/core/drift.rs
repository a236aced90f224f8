//! Sleep and frozen tabs: a timer that fires far too late makes the open connection suspect; it
//! is probed with a heartbeat at once and replaced if that goes unanswered for a short window.

use tether::core::{Config, Event, SocketState};

use crate::harness::Harness;

fn open_harness() -> Harness {
    let mut h = Harness::new(Config::default());
    h.connected();
    h
}

/// The machine sleeps: nothing runs until `ms` later, when the overdue timers fire at once.
fn sleep_and_wake(h: &mut Harness, ms: u64) {
    h.now += ms;
    h.client.handle_timeout(h.now);
    h.pump();
}

fn drift_reported(h: &Harness) -> bool {
    h.events.iter().any(|e| {
        matches!(
            e,
            Event::Error {
                code: "clock_drift",
                ..
            }
        )
    })
}

#[test]
fn a_late_timer_probes_the_connection_at_once() {
    let mut h = open_harness();
    // The heartbeat was due 30 s after open; the timer fires 95 s after open.
    sleep_and_wake(&mut h, 95_000);
    assert!(
        drift_reported(&h),
        "a clock drift is reported: {:?}",
        h.events
    );
    assert_eq!(
        h.count_sent("heartbeat"),
        1,
        "exactly one heartbeat probes the connection"
    );
    assert_eq!(
        h.client.poll_timeout(),
        Some(h.now + 5_000),
        "the probe must be answered within 5 s"
    );
}

#[test]
fn an_unanswered_probe_replaces_the_connection_within_the_suspect_window() {
    let mut h = open_harness();
    sleep_and_wake(&mut h, 95_000);
    let woke_at = h.now;
    h.advance(5_000);
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, Event::HeartbeatTimeout)));
    let (_, reason, at) = h
        .closes
        .last()
        .cloned()
        .expect("the suspect socket was closed");
    assert_eq!(reason, "heartbeat timeout");
    assert_eq!(
        at,
        woke_at + 5_000,
        "replaced exactly when the suspect window ended"
    );
    assert!(matches!(h.client.state(), SocketState::Waiting { .. }));
}

#[test]
fn an_answered_probe_keeps_the_connection() {
    let mut h = open_harness();
    sleep_and_wake(&mut h, 95_000);
    h.reply_last("heartbeat", "ok", json!({}));
    h.advance(20_000);
    assert_eq!(h.client.state(), SocketState::Open);
    assert!(!h
        .events
        .iter()
        .any(|e| matches!(e, Event::HeartbeatTimeout)));
}

#[test]
fn a_pending_heartbeat_gets_the_shorter_deadline_not_a_second_probe() {
    let mut h = open_harness();
    h.advance(30_000); // the regular heartbeat goes out; its reply is due 30 s later
    assert_eq!(h.count_sent("heartbeat"), 1);
    // A join's 10 s timer is pending; it fires 12 s late.
    let ch = h.channel("room:a");
    h.join(ch);
    sleep_and_wake(&mut h, 22_000);
    assert!(drift_reported(&h));
    assert_eq!(
        h.count_sent("heartbeat"),
        1,
        "no second heartbeat while one is unanswered"
    );
    // The unanswered heartbeat now has until wake + 5 s, not the regular 30 s.
    h.advance(4_999);
    assert!(!h
        .events
        .iter()
        .any(|e| matches!(e, Event::HeartbeatTimeout)));
    h.advance(1);
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, Event::HeartbeatTimeout)));
}

#[test]
fn timers_on_time_do_not_probe() {
    let mut h = open_harness();
    h.advance(29_999);
    h.advance(1);
    assert!(!drift_reported(&h));
    assert_eq!(h.count_sent("heartbeat"), 1, "just the scheduled heartbeat");
}

#[test]
fn going_offline_under_an_open_socket_probes_it_and_waits_for_the_network() {
    let mut h = open_harness();
    h.set_online(false);
    assert_eq!(h.count_sent("heartbeat"), 1, "probed at once");
    h.advance(5_000);
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, Event::HeartbeatTimeout)));
    assert_eq!(
        h.client.state(),
        SocketState::Offline,
        "no attempts while offline"
    );
    let connects = h.connects.len();
    h.advance(600_000);
    assert_eq!(h.connects.len(), connects);
    h.set_online(true);
    assert_eq!(
        h.connects.len(),
        connects + 1,
        "an attempt at once when the network returns"
    );
}
