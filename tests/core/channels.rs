//! Channels: join, errors and rejoin, timeouts, reconnect rejoin, stale messages, close, leave,
//! routing by topic, push replies and timeouts.

use tether::core::Value;
use tether::core::{ChannelState, Config, Event, PushOutcome, SocketState};

use crate::harness::{exact_config, phx_reply, Harness};

#[test]
fn join_frame_shape_and_ok_reply() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.client.channel("room:lobby", json!({"name": "ada"}));
    let p = h.join(ch);
    assert_eq!(h.ch_state(ch), ChannelState::Joining);
    let f = h.last_sent("phx_join");
    assert!(f[0].is_string());
    assert_eq!(f[0], f[1], "join_ref must equal ref");
    assert_eq!(f[2], "room:lobby");
    assert_eq!(f[4], json!({"name": "ada"}));
    h.recv(phx_reply(&f, "ok", json!({"welcome": true})));
    assert_eq!(h.ch_state(ch), ChannelState::Joined);
    assert_eq!(h.outcome(p), PushOutcome::Ok(json!({"welcome": true})));
    assert!(h.events.contains(&Event::Joined {
        channel: ch,
        rejoin: false,
        response: json!({"welcome": true})
    }));
    assert!(h.events.contains(&Event::ChannelState {
        channel: ch,
        state: ChannelState::Joined
    }));
    assert_eq!(h.client.channel_topic(ch), Some("room:lobby"));
}

#[test]
fn join_before_connect_is_sent_on_open() {
    let mut h = Harness::new(exact_config());
    let ch = h.channel("room:early");
    let p = h.join(ch);
    assert!(h.sent.is_empty());
    h.connect();
    h.open();
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.outcome(p), PushOutcome::Ok(json!({})));
    assert_eq!(h.joined_events(ch), vec![false]);
}

#[test]
fn non_object_params_become_an_empty_object() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.client.channel("room:x", json!([1, 2]));
    h.join(ch);
    assert_eq!(h.last_sent("phx_join")[4], json!({}));
}

#[test]
fn join_error_then_rejoin_after_backoff() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.channel("room:secret");
    let p = h.join(ch);
    h.reply_last("phx_join", "error", json!({"reason": "unauthorized"}));
    assert_eq!(h.ch_state(ch), ChannelState::Errored);
    assert_eq!(
        h.outcome(p),
        PushOutcome::Error {
            status: "error".into(),
            response: json!({"reason": "unauthorized"})
        }
    );
    assert!(h.joined_events(ch).is_empty());
    // Rejoin schedule (no jitter): 1 s, 2 s, 4 s...
    for delay in [1_000u64, 2_000, 4_000] {
        let n = h.count_sent("phx_join");
        h.advance(delay - 1);
        assert_eq!(h.count_sent("phx_join"), n, "rejoined before {delay} ms");
        h.advance(1);
        assert_eq!(
            h.count_sent("phx_join"),
            n + 1,
            "no rejoin after {delay} ms"
        );
        assert_eq!(h.ch_state(ch), ChannelState::Joining);
        h.reply_last("phx_join", "error", json!({"reason": "unauthorized"}));
    }
    // The first request already ended; later failures do not report again.
    assert_eq!(h.outcomes(p).len(), 1);
    h.advance(8_000);
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.ch_state(ch), ChannelState::Joined);
    assert_eq!(h.joined_events(ch), vec![false]);
    // Success resets the rejoin schedule.
    h.recv(json!([
        h.last_sent("phx_join")[0],
        null,
        "room:secret",
        "phx_error",
        {}
    ]));
    assert_eq!(h.ch_state(ch), ChannelState::Errored);
    let n = h.count_sent("phx_join");
    h.advance(1_000);
    assert_eq!(h.count_sent("phx_join"), n + 1);
}

#[test]
fn join_timeout_leaves_the_old_join_and_rejoins_later() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.channel("room:slow");
    let p = h.join(ch);
    let first = h.last_sent("phx_join");
    h.advance(9_999);
    assert!(h.outcomes(p).is_empty());
    h.advance(1);
    assert_eq!(h.outcome(p), PushOutcome::Timeout);
    assert_eq!(h.ch_state(ch), ChannelState::Errored);
    let leave = h.last_sent("phx_leave");
    assert_eq!(
        leave[0], first[0],
        "phx_leave must carry the timed-out join_ref"
    );
    assert_eq!(leave[2], "room:slow");
    assert!(leave[1].is_string() && leave[1] != first[1]);
    // A late reply to the abandoned join is ignored.
    h.recv(phx_reply(&first, "ok", json!({"late": true})));
    assert_eq!(h.ch_state(ch), ChannelState::Errored);
    assert!(h.joined_events(ch).is_empty());
    // Rejoin after the rejoin backoff with a new join_ref.
    h.advance(1_000);
    let second = h.last_sent("phx_join");
    assert_ne!(second[0], first[0]);
    h.recv(phx_reply(&second, "ok", json!({})));
    assert_eq!(h.ch_state(ch), ChannelState::Joined);
    assert_eq!(h.joined_events(ch), vec![false]);
    assert_eq!(h.outcomes(p).len(), 1);
}

#[test]
fn reconnect_rejoins_every_joined_channel_at_once() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let a = h.joined("room:a");
    let b = h.joined("room:b");
    let old_a = h.sent_events("phx_join")[0][0].clone();
    h.server_close();
    assert_eq!(h.ch_state(a), ChannelState::Errored);
    assert_eq!(h.ch_state(b), ChannelState::Errored);
    let (_, d) = h.waiting();
    h.advance(d);
    let n = h.count_sent("phx_join");
    h.open();
    let joins = h.sent_events("phx_join");
    assert_eq!(joins.len(), n + 2, "each channel rejoins on open");
    let new_a = joins
        .iter()
        .rev()
        .find(|f| f[2] == "room:a")
        .unwrap()
        .clone();
    assert_ne!(new_a[0], old_a);
    assert_eq!(new_a[0], new_a[1]);
    h.recv(phx_reply(&new_a, "ok", json!({})));
    let new_b = joins
        .iter()
        .rev()
        .find(|f| f[2] == "room:b")
        .unwrap()
        .clone();
    h.recv(phx_reply(&new_b, "ok", json!({})));
    assert_eq!(h.joined_events(a), vec![false, true]);
    assert_eq!(h.joined_events(b), vec![false, true]);
    // Stale message for the old join is dropped, current and broadcast ones are delivered.
    h.recv(json!([old_a, null, "room:a", "stale", {}]));
    h.recv(json!([new_a[0], null, "room:a", "current", {}]));
    h.recv(json!([null, null, "room:a", "broadcast", {}]));
    let got: Vec<String> = h.messages(a).into_iter().map(|m| m.0).collect();
    assert_eq!(got, vec!["current", "broadcast"]);
    // A late reply to the old join ref is ignored (reported as a stale_reply error only).
    let before = h.events.len();
    h.recv(json!([old_a, old_a, "room:a", "phx_reply", {"status": "ok", "response": {}}]));
    assert!(
        matches!(
            &h.events[before..],
            [Event::Error {
                code: "stale_reply",
                ..
            }]
        ),
        "{:?}",
        &h.events[before..]
    );
    // phx_error / phx_close with a stale join_ref do nothing.
    h.recv(json!([old_a, old_a, "room:a", "phx_error", {}]));
    h.recv(json!([old_a, old_a, "room:a", "phx_close", {}]));
    assert_eq!(h.ch_state(a), ChannelState::Joined);
}

#[test]
fn phx_error_errors_then_rejoins() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.joined("room:crashy");
    let jr = h.last_sent("phx_join")[0].clone();
    h.recv(json!([jr, jr, "room:crashy", "phx_error", {"reason": "boom"}]));
    assert_eq!(h.ch_state(ch), ChannelState::Errored);
    h.advance(999);
    assert_eq!(h.count_sent("phx_join"), 1);
    h.advance(1);
    assert_eq!(h.count_sent("phx_join"), 2);
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.ch_state(ch), ChannelState::Joined);
    assert_eq!(h.joined_events(ch), vec![false, true]);
    assert!(h.messages(ch).is_empty(), "phx_error is not a user message");
}

#[test]
fn phx_close_closes_for_good() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.joined("room:closing");
    let jr = h.last_sent("phx_join")[0].clone();
    h.recv(json!([jr, jr, "room:closing", "phx_close", {}]));
    assert_eq!(h.ch_state(ch), ChannelState::Closed);
    h.advance(20_000);
    h.server_close();
    let (_, d) = h.waiting();
    h.advance(d);
    h.open();
    assert_eq!(h.count_sent("phx_join"), 1, "a closed channel was rejoined");
    assert_eq!(h.ch_state(ch), ChannelState::Closed);
    // Messages to a closed channel are not delivered; it can be joined again.
    h.recv(json!([null, null, "room:closing", "late", {}]));
    assert!(h.messages(ch).is_empty());
    let p = h.join(ch);
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.outcome(p), PushOutcome::Ok(json!({})));
}

#[test]
fn leave_sends_phx_leave_and_closes_on_reply() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.joined("room:bye");
    let jr = h.last_sent("phx_join")[0].clone();
    let p = h.leave(ch);
    let f = h.last_sent("phx_leave");
    assert_eq!(f[0], jr);
    assert_eq!(f[2], "room:bye");
    assert_eq!(f[4], json!({}));
    assert_eq!(h.ch_state(ch), ChannelState::Leaving);
    assert!(h.outcomes(p).is_empty());
    h.recv(phx_reply(&f, "ok", json!({})));
    assert_eq!(h.ch_state(ch), ChannelState::Closed);
    assert_eq!(h.outcome(p), PushOutcome::Ok(json!({})));
    h.advance(60_000);
    assert_eq!(h.count_sent("phx_join"), 1);
    assert_eq!(h.outcomes(p).len(), 1);
}

#[test]
fn leave_without_reply_times_out_but_closes() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.joined("room:bye");
    let p = h.leave(ch);
    h.advance(10_000);
    assert_eq!(h.outcome(p), PushOutcome::Timeout);
    assert_eq!(h.ch_state(ch), ChannelState::Closed);
}

#[test]
fn leave_while_disconnected_closes_at_once() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.joined("room:bye");
    h.server_close();
    let p = h.leave(ch);
    assert_eq!(h.ch_state(ch), ChannelState::Closed);
    assert_eq!(h.outcome(p), PushOutcome::Ok(json!({})));
    let (_, d) = h.waiting();
    h.advance(d);
    h.open();
    assert_eq!(h.count_sent("phx_join"), 1);
    assert_eq!(h.count_sent("phx_leave"), 0);
}

#[test]
fn socket_loss_while_leaving_closes_the_channel() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.joined("room:bye");
    let p = h.leave(ch);
    h.server_close();
    assert_eq!(h.ch_state(ch), ChannelState::Closed);
    assert_eq!(h.outcome(p), PushOutcome::Ok(json!({})));
    h.advance(60_000);
    assert_eq!(h.outcomes(p).len(), 1);
}

#[test]
fn join_twice_and_push_before_join_are_refused() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.channel("room:once");
    assert_eq!(
        h.client
            .push(h.now, ch, "x", json!({}), None)
            .unwrap_err()
            .code,
        "not_joined"
    );
    h.join(ch);
    assert_eq!(h.client.join(h.now, ch).unwrap_err().code, "already_joined");
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.client.join(h.now, ch).unwrap_err().code, "already_joined");
    assert_eq!(h.count_sent("phx_join"), 1);
    let gone = tether::core::ChannelId(9_999);
    assert_eq!(
        h.client.join(h.now, gone).unwrap_err().code,
        "unknown_channel"
    );
    assert_eq!(
        h.client
            .push(h.now, gone, "x", json!({}), None)
            .unwrap_err()
            .code,
        "unknown_channel"
    );
    assert_eq!(
        h.client.leave(h.now, gone).unwrap_err().code,
        "unknown_channel"
    );
    h.client.remove_channel(gone);
    // Refused calls sent nothing.
    h.pump();
    assert_eq!(h.sent.len(), 1);
}

#[test]
fn many_channels_get_only_their_topics_messages() {
    let mut h = Harness::auto(exact_config());
    h.connect();
    let topics: Vec<String> = (0..20).map(|i| format!("room:{i}")).collect();
    let ids: Vec<_> = topics.iter().map(|t| h.channel(t)).collect();
    for &id in &ids {
        h.join(id);
    }
    assert!(ids.iter().all(|&id| h.ch_state(id) == ChannelState::Joined));
    let joins = h.sent_events("phx_join");
    for (i, t) in topics.iter().enumerate() {
        let jr = joins.iter().find(|f| f[2] == t.as_str()).unwrap()[0].clone();
        h.recv(json!([null, null, t, "bcast", {"to": i}]));
        h.recv(json!([jr, null, t, "direct", {"to": i}]));
    }
    h.recv(json!([null, null, "room:nobody", "bcast", {}]));
    for (i, &id) in ids.iter().enumerate() {
        let msgs = h.messages(id);
        assert_eq!(
            msgs,
            vec![
                ("bcast".to_string(), json!({"to": i})),
                ("direct".to_string(), json!({"to": i}))
            ],
            "channel {i}"
        );
    }
    // Push replies go to the right request.
    let pushes: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| h.push(id, "echo", json!({"n": i})))
        .collect();
    for (i, p) in pushes.iter().enumerate() {
        assert_eq!(h.outcome(*p), PushOutcome::Ok(json!({"n": i})));
    }
    // Every push frame carries its channel's join_ref and topic.
    for f in h.sent_events("echo") {
        let join = joins.iter().find(|j| j[2] == f[2]).unwrap();
        assert_eq!(f[0], join[0]);
    }
}

#[test]
fn reply_for_a_ref_on_another_topic_is_ignored() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let a = h.joined("room:a");
    let p = h.push(a, "ask", json!({}));
    let f = h.last_sent("ask");
    h.recv(json!([f[0], f[1], "room:other", "phx_reply", {"status": "ok", "response": {}}]));
    assert!(h.outcomes(p).is_empty());
    h.recv(phx_reply(&f, "ok", json!({"real": 1})));
    assert_eq!(h.outcome(p), PushOutcome::Ok(json!({"real": 1})));
}

#[test]
fn push_reply_ok_error_and_timeout() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.joined("room:p");
    let jr = h.last_sent("phx_join")[0].clone();

    let ok = h.push(ch, "new_msg", json!({"body": "hi"}));
    let f = h.last_sent("new_msg");
    assert_eq!(f[0], jr);
    assert!(f[1].is_string());
    assert_eq!(f[2], "room:p");
    assert_eq!(f[4], json!({"body": "hi"}));
    h.recv(phx_reply(&f, "ok", json!({"id": 1})));
    assert_eq!(h.outcome(ok), PushOutcome::Ok(json!({"id": 1})));

    let err = h.push(ch, "new_msg", json!({}));
    h.reply_last("new_msg", "error", json!({"reason": "nope"}));
    assert_eq!(
        h.outcome(err),
        PushOutcome::Error {
            status: "error".into(),
            response: json!({"reason": "nope"})
        }
    );

    // Default timeout 10 s.
    let slow = h.push(ch, "slow", json!({}));
    let slow_frame = h.last_sent("slow");
    h.advance(9_999);
    assert!(h.outcomes(slow).is_empty());
    h.advance(1);
    assert_eq!(h.outcome(slow), PushOutcome::Timeout);
    // A reply after the timeout is ignored: no second Reply, only a stale_reply error.
    let before = h.events.len();
    h.recv(phx_reply(&slow_frame, "ok", json!({})));
    assert_eq!(h.outcomes(slow).len(), 1);
    assert!(
        matches!(
            &h.events[before..],
            [Event::Error {
                code: "stale_reply",
                ..
            }]
        ),
        "{:?}",
        &h.events[before..]
    );

    // Custom timeout per push.
    let quick = h.push_timeout(ch, "quick", json!({}), 250);
    let long = h.push_timeout(ch, "long", json!({}), 60_000);
    h.advance(249);
    assert!(h.outcomes(quick).is_empty());
    h.advance(1);
    assert_eq!(h.outcome(quick), PushOutcome::Timeout);
    h.advance(20_000);
    h.reply_last("heartbeat", "ok", json!({}));
    h.advance(20_000);
    assert!(
        h.outcomes(long).is_empty(),
        "custom 60 s timeout fired early"
    );
    h.reply_last("long", "ok", json!({"done": true}));
    assert_eq!(h.outcome(long), PushOutcome::Ok(json!({"done": true})));
    assert_eq!(h.ch_state(ch), ChannelState::Joined);
}

#[test]
fn push_in_flight_when_the_socket_drops_times_out_once() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.joined("room:p");
    let p = h.push(ch, "lost", json!({}));
    h.server_close();
    h.advance(10_000);
    assert_eq!(h.outcome(p), PushOutcome::Timeout);
    h.advance(60_000);
    assert_eq!(h.outcomes(p).len(), 1);
}

#[test]
fn auto_server_join_errors_and_silence() {
    let mut h = Harness::auto(exact_config());
    h.server_mut().join_errors.insert("room:denied".into());
    h.server_mut().join_silent.insert("room:silent".into());
    h.connect();
    let ok = h.channel("room:ok");
    let denied = h.channel("room:denied");
    let silent = h.channel("room:silent");
    let p_ok = h.join(ok);
    let p_denied = h.join(denied);
    let p_silent = h.join(silent);
    assert!(matches!(h.outcome(p_ok), PushOutcome::Ok(_)));
    assert!(matches!(h.outcome(p_denied), PushOutcome::Error { .. }));
    h.advance(10_000);
    assert_eq!(h.outcome(p_silent), PushOutcome::Timeout);
    assert_eq!(h.ch_state(ok), ChannelState::Joined);
    assert_eq!(h.ch_state(denied), ChannelState::Errored);
    assert_eq!(h.ch_state(silent), ChannelState::Errored);
    // Server starts accepting: both recover on their own.
    h.server_mut().join_errors.clear();
    h.server_mut().join_silent.clear();
    h.advance(30_000);
    assert_eq!(h.ch_state(denied), ChannelState::Joined);
    assert_eq!(h.ch_state(silent), ChannelState::Joined);
    assert_eq!(h.client.state(), SocketState::Open);
}

#[test]
fn noreply_push_times_out_with_auto_server() {
    let mut h = Harness::auto(Config::default());
    h.connect();
    let ch = h.channel("room:n");
    h.join(ch);
    let p = h.push(ch, "noreply", json!({}));
    h.advance(10_000);
    assert_eq!(h.outcome(p), PushOutcome::Timeout);
    let q = h.push(ch, "echo", json!({"x": Value::Null}));
    assert_eq!(h.outcome(q), PushOutcome::Ok(json!({"x": null})));
}

#[test]
fn join_while_leaving_is_not_undone_by_the_leave_reply() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.joined("room:again");
    let l = h.leave(ch);
    let leave = h.last_sent("phx_leave");
    let j = h.join(ch);
    assert_eq!(h.ch_state(ch), ChannelState::Joining);
    let join = h.last_sent("phx_join");
    assert_ne!(join[0], leave[0]);
    h.recv(phx_reply(&leave, "ok", json!({})));
    assert_eq!(h.outcome(l), PushOutcome::Ok(json!({})));
    assert_eq!(
        h.ch_state(ch),
        ChannelState::Joining,
        "the old leave's reply undid the new join"
    );
    assert!(h.outcomes(j).is_empty());
    h.recv(phx_reply(&join, "ok", json!({})));
    assert_eq!(h.ch_state(ch), ChannelState::Joined);
    assert_eq!(h.outcome(j), PushOutcome::Ok(json!({})));
    assert_eq!(h.joined_events(ch), vec![false, true]);
    // Same when the leave times out instead.
    let l2 = h.leave(ch);
    let j2 = h.join(ch);
    h.advance(9_000);
    h.reply_last("phx_join", "ok", json!({}));
    h.advance(1_000);
    assert_eq!(h.outcome(l2), PushOutcome::Timeout);
    assert_eq!(h.outcome(j2), PushOutcome::Ok(json!({})));
    assert_eq!(h.ch_state(ch), ChannelState::Joined);
}
