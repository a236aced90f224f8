//! Telemetry: off by default; once on, every connect, disconnect, scheduled reconnect, join,
//! push reply and dropped send is reported with its duration.

use tether::core::{Event, Telemetry};

use crate::harness::{exact_config, Harness};

fn telemetry(h: &Harness) -> Vec<Telemetry> {
    h.events
        .iter()
        .filter_map(|e| {
            if let Event::Telemetry(t) = e {
                Some(t.clone())
            } else {
                None
            }
        })
        .collect()
}

fn named(h: &Harness, event: &str) -> Vec<Telemetry> {
    telemetry(h)
        .into_iter()
        .filter(|t| t.event == event)
        .collect()
}

#[test]
fn off_by_default() {
    let mut h = Harness::auto(exact_config());
    h.connected();
    let ch = h.channel("room:a");
    h.join(ch);
    h.server_close();
    h.advance(60_000);
    assert!(telemetry(&h).is_empty());
}

#[test]
fn connect_join_push_and_disconnect_carry_their_durations() {
    let mut h = Harness::new(exact_config());
    h.client.set_telemetry(true);
    h.connect();
    h.advance(30);
    h.open();
    let connect = named(&h, "connect");
    assert_eq!(connect.len(), 1);
    assert_eq!(connect[0].duration_ms, Some(30));
    assert_eq!(connect[0].attempt, Some(0));

    let ch = h.channel("room:a");
    h.join(ch);
    h.advance(15);
    h.reply_last("phx_join", "ok", json!({}));
    let join = named(&h, "join");
    assert_eq!(join.len(), 1);
    assert_eq!(
        (
            join[0].duration_ms,
            join[0].topic.as_deref(),
            join[0].code.as_deref()
        ),
        (Some(15), Some("room:a"), Some("ok"))
    );

    h.push(ch, "echo", json!({}));
    h.advance(7);
    h.reply_last("echo", "error", json!({"reason": "nope"}));
    h.push(ch, "slow", json!({}));
    h.advance(10_000);
    let replies = named(&h, "push_reply");
    assert_eq!(replies.len(), 2);
    assert_eq!(
        (replies[0].duration_ms, replies[0].code.as_deref()),
        (Some(7), Some("error"))
    );
    assert_eq!(
        (replies[1].duration_ms, replies[1].code.as_deref()),
        (Some(10_000), Some("timeout"))
    );

    h.server_close();
    let gone = named(&h, "disconnect");
    assert_eq!(gone.len(), 1);
    assert_eq!(
        gone[0].duration_ms,
        Some(10_022),
        "time the connection was up"
    );
    let scheduled = named(&h, "reconnect_scheduled");
    assert_eq!(scheduled.len(), 1);
    assert_eq!(scheduled[0].attempt, Some(1));
    assert_eq!(scheduled[0].duration_ms, Some(h.waiting().1));
}

#[test]
fn dropped_sends_and_heartbeat_timeouts_are_reported() {
    let mut h = Harness::new(tether::core::Config {
        send_buffer_max: 1,
        ..exact_config()
    });
    h.client.set_telemetry(true);
    h.connected();
    let ch = h.channel("room:a");
    h.join(ch);
    h.push(ch, "a", json!({}));
    h.push(ch, "b", json!({}));
    let dropped = named(&h, "send_dropped");
    assert_eq!(dropped.len(), 1);
    assert_eq!(
        (dropped[0].topic.as_deref(), dropped[0].code.as_deref()),
        (Some("room:a"), Some("overflow"))
    );
    h.advance(60_000);
    assert_eq!(named(&h, "heartbeat_timeout").len(), 1);
}
