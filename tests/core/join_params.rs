//! Channel params given by the owner at each join (`socket.channel(topic, () => params)` in JS):
//! the client asks when a join is due, sends the join once they come, takes a failure as a
//! failed attempt, and ignores answers to requests that are no longer current.

use tether::core::Value;
use tether::core::{ChannelId, ChannelState, Event, PushOutcome};

use crate::harness::{exact_config, Harness};

/// The requests for `channel`'s params so far, oldest first.
fn asked(h: &Harness, channel: ChannelId) -> Vec<u64> {
    h.events
        .iter()
        .filter_map(|e| match e {
            Event::JoinParamsWanted {
                channel: c,
                request,
            } if *c == channel => Some(*request),
            _ => None,
        })
        .collect()
}

fn supply(h: &mut Harness, channel: ChannelId, request: u64, params: Result<Value, String>) {
    h.client.supply_join_params(h.now, channel, request, params);
    h.pump();
}

fn errors(h: &Harness, code: &str) -> Vec<String> {
    h.events
        .iter()
        .filter_map(|e| match e {
            Event::Error { code: c, message } if *c == code => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn owned_params_channel(h: &mut Harness, topic: &str) -> ChannelId {
    let ch = h.client.channel(topic, json!({"fixed": true}));
    h.client.ask_params_on_join(ch);
    ch
}

#[test]
fn params_are_asked_for_at_every_join_and_rejoin_and_sent_with_it() {
    let mut h = Harness::new(exact_config());
    let ch = owned_params_channel(&mut h, "room:resume");
    let p = h.join(ch);
    assert!(
        asked(&h, ch).is_empty(),
        "no join is due before the socket opens"
    );
    h.connect();
    h.open();
    let first = asked(&h, ch);
    assert_eq!(first.len(), 1);
    assert_eq!(h.count_sent("phx_join"), 0, "the join waits for its params");
    assert_eq!(h.ch_state(ch), ChannelState::Joining);
    supply(&mut h, ch, first[0], Ok(json!({"last_seen": 1})));
    assert_eq!(h.last_sent("phx_join")[4], json!({"last_seen": 1}));
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.outcome(p), PushOutcome::Ok(json!({})));

    // The connection drops; the rejoin on the next socket asks again.
    h.server_close();
    h.advance(250);
    h.open();
    let second = asked(&h, ch);
    assert_eq!(second.len(), 2);
    assert_ne!(second[1], first[0]);
    // An answer to the old request is ignored; the current one sends the join.
    supply(&mut h, ch, first[0], Ok(json!({"last_seen": 1})));
    assert_eq!(h.count_sent("phx_join"), 1);
    supply(&mut h, ch, second[1], Ok(json!({"last_seen": 42})));
    assert_eq!(h.count_sent("phx_join"), 2);
    assert_eq!(h.last_sent("phx_join")[4], json!({"last_seen": 42}));
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.joined_events(ch), vec![false, true]);
    // Answering the same request twice sends one join.
    supply(&mut h, ch, second[1], Ok(json!({"last_seen": 43})));
    assert_eq!(h.count_sent("phx_join"), 2);
}

#[test]
fn a_failing_params_function_fails_the_attempt_and_is_asked_again_after_the_backoff() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = owned_params_channel(&mut h, "room:flaky");
    let p = h.join(ch);
    let r1 = asked(&h, ch)[0];
    supply(&mut h, ch, r1, Err("no token yet".into()));
    assert_eq!(h.ch_state(ch), ChannelState::Errored);
    assert_eq!(h.count_sent("phx_join"), 0);
    let reported = errors(&h, "invalid_params");
    assert_eq!(reported.len(), 1);
    assert!(reported[0].contains("no token yet"), "{reported:?}");
    match h.outcome(p) {
        PushOutcome::Error { status, response } => {
            assert_eq!(status, "error");
            assert!(response["reason"]
                .as_str()
                .is_some_and(|r| r.contains("no token yet")));
        }
        other => panic!("join() must fail with the params error, got {other:?}"),
    }
    // The rejoin backoff (1 s, then 2 s) applies, as after a refused join.
    h.advance(999);
    assert_eq!(asked(&h, ch).len(), 1);
    h.advance(1);
    let r2 = asked(&h, ch)[1];
    // Not an object this time.
    supply(&mut h, ch, r2, Ok(json!([1, 2])));
    assert_eq!(errors(&h, "invalid_params").len(), 2);
    assert_eq!(h.ch_state(ch), ChannelState::Errored);
    h.advance(2_000);
    let r3 = asked(&h, ch)[2];
    supply(&mut h, ch, r3, Ok(json!({"token": "t"})));
    assert_eq!(h.last_sent("phx_join")[4], json!({"token": "t"}));
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.ch_state(ch), ChannelState::Joined);
    assert_eq!(
        h.outcomes(p).len(),
        1,
        "join() ended once, with the first failure"
    );
}

#[test]
fn params_that_never_come_time_out_as_a_lost_join_would() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = owned_params_channel(&mut h, "room:silent");
    let p = h.join(ch);
    let r1 = asked(&h, ch)[0];
    h.advance(10_000);
    assert_eq!(h.outcome(p), PushOutcome::Timeout);
    assert_eq!(h.ch_state(ch), ChannelState::Errored);
    assert_eq!(
        h.count_sent("phx_leave"),
        0,
        "no join went out, so none is left"
    );
    supply(&mut h, ch, r1, Ok(json!({"late": true})));
    assert_eq!(h.count_sent("phx_join"), 0, "a late answer is ignored");
    h.advance(1_000);
    let r2 = asked(&h, ch)[1];
    supply(&mut h, ch, r2, Ok(json!({"n": 2})));
    assert_eq!(h.last_sent("phx_join")[4], json!({"n": 2}));
}

#[test]
fn an_answer_after_leave_or_a_lost_socket_sends_nothing() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = owned_params_channel(&mut h, "room:gone");
    h.join(ch);
    let r1 = asked(&h, ch)[0];
    h.client.leave(h.now, ch).expect("leave");
    h.pump();
    assert_eq!(h.ch_state(ch), ChannelState::Closed);
    supply(&mut h, ch, r1, Ok(json!({})));
    assert_eq!(h.count_sent("phx_join"), 0);

    h.join(ch);
    let r2 = asked(&h, ch)[1];
    h.server_close();
    supply(&mut h, ch, r2, Ok(json!({})));
    assert_eq!(h.count_sent("phx_join"), 0);
    // The next socket asks again.
    h.advance(250);
    h.open();
    assert_eq!(asked(&h, ch).len(), 3);
}

#[test]
fn a_channel_with_fixed_params_is_never_asked() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.client.channel("room:fixed", json!({"a": 1}));
    h.join(ch);
    assert!(asked(&h, ch).is_empty());
    assert_eq!(h.last_sent("phx_join")[4], json!({"a": 1}));
}
