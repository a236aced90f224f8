//! Sends that wait for the socket or their channel's join: order, overflow, expiry, leave.

use tether::core::Value;
use tether::core::{ChannelId, ChannelState, Config, DropReason, Event, PushId, PushOutcome};

use crate::harness::{exact_config, phx_reply, Harness};

fn joined(h: &mut Harness, topic: &str) -> ChannelId {
    let ch = h.channel(topic);
    h.join(ch);
    h.reply_last("phx_join", "ok", json!({}));
    ch
}

fn dropped(h: &Harness) -> Vec<(ChannelId, String, DropReason)> {
    h.events
        .iter()
        .filter_map(|e| match e {
            Event::SendDropped {
                channel,
                event,
                reason,
            } => Some((*channel, event.clone(), *reason)),
            _ => None,
        })
        .collect()
}

fn index_of(h: &Harness, pred: impl Fn(&Value) -> bool) -> usize {
    h.sent.iter().position(pred).expect("frame not sent")
}

#[test]
fn sends_while_down_go_out_in_order_after_the_rejoin() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = joined(&mut h, "room:buf");
    h.server_close();
    assert_eq!(h.ch_state(ch), ChannelState::Errored);
    let pushes: Vec<PushId> = (0..5).map(|i| h.push(ch, "m", json!({"i": i}))).collect();
    assert_eq!(h.client.buffered(), 5);
    let (_, d) = h.waiting();
    h.advance(d);
    h.open();
    // Only the rejoin went out; the sends wait for its reply.
    assert_eq!(h.count_sent("m"), 0, "sent before the rejoin succeeded");
    let join = h.last_sent("phx_join");
    h.recv(phx_reply(&join, "ok", json!({})));
    assert_eq!(h.client.buffered(), 0);
    let ms = h.sent_events("m");
    assert_eq!(
        ms.iter()
            .map(|f| f[4]["i"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    assert!(
        ms.iter().all(|f| f[0] == join[0]),
        "buffered sends must carry the new join_ref"
    );
    // Right after the join: nothing else in between.
    let first = index_of(&h, |f| f[3] == "m");
    assert_eq!(first, h.sent.len() - 5);
    for (p, f) in pushes.iter().zip(&ms) {
        h.recv(phx_reply(f, "ok", f[4].clone()));
        assert_eq!(h.outcome(*p), PushOutcome::Ok(f[4].clone()));
    }
}

#[test]
fn sends_on_an_errored_channel_wait_for_its_rejoin_even_when_the_socket_is_open() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = joined(&mut h, "room:err");
    let jr = h.last_sent("phx_join")[0].clone();
    h.recv(json!([jr, jr, "room:err", "phx_error", {}]));
    let p = h.push(ch, "later", json!({}));
    assert_eq!(h.count_sent("later"), 0);
    h.advance(1_000);
    assert_eq!(h.count_sent("later"), 0, "sent before the rejoin reply");
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.count_sent("later"), 1);
    h.reply_last("later", "ok", json!({}));
    assert_eq!(h.outcome(p), PushOutcome::Ok(json!({})));
}

#[test]
fn sends_while_joining_wait_for_the_join_reply() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.channel("room:j");
    h.join(ch);
    h.push(ch, "early", json!({}));
    assert_eq!(h.count_sent("early"), 0);
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.count_sent("early"), 1);
    assert_eq!(h.sent.last().unwrap()[3], "early");
}

#[test]
fn overflow_drops_the_oldest() {
    let cfg = Config {
        send_buffer_max: 3,
        ..exact_config()
    };
    let mut h = Harness::new(cfg);
    h.connected();
    let ch = joined(&mut h, "room:full");
    h.server_close();
    let pushes: Vec<PushId> = (0..5)
        .map(|i| h.push(ch, &format!("m{i}"), json!({})))
        .collect();
    assert_eq!(h.client.buffered(), 3);
    assert_eq!(
        dropped(&h),
        vec![
            (ch, "m0".to_string(), DropReason::Overflow),
            (ch, "m1".to_string(), DropReason::Overflow)
        ]
    );
    assert_eq!(
        h.outcome(pushes[0]),
        PushOutcome::Dropped(DropReason::Overflow)
    );
    assert_eq!(
        h.outcome(pushes[1]),
        PushOutcome::Dropped(DropReason::Overflow)
    );
    assert!(h.outcomes(pushes[2]).is_empty());
    let (_, d) = h.waiting();
    h.advance(d);
    h.open();
    h.reply_last("phx_join", "ok", json!({}));
    let sent: Vec<String> = h
        .sent
        .iter()
        .filter_map(|f| f[3].as_str())
        .filter(|e| e.starts_with('m'))
        .map(String::from)
        .collect();
    assert_eq!(sent, vec!["m2", "m3", "m4"]);
}

#[test]
fn overflow_is_shared_across_channels() {
    let cfg = Config {
        send_buffer_max: 2,
        ..exact_config()
    };
    let mut h = Harness::new(cfg);
    h.connected();
    let a = joined(&mut h, "room:a");
    let b = joined(&mut h, "room:b");
    h.server_close();
    h.push(a, "a1", json!({}));
    h.push(b, "b1", json!({}));
    h.push(b, "b2", json!({}));
    assert_eq!(
        dropped(&h),
        vec![(a, "a1".to_string(), DropReason::Overflow)]
    );
}

#[test]
fn sends_expire_at_exactly_their_ttl() {
    let mut h = Harness::new(exact_config()); // ttl 30 s
    h.connected();
    let ch = joined(&mut h, "room:ttl");
    h.set_online(false);
    h.server_close();
    let t0 = h.now;
    let a = h.push(ch, "a", json!({}));
    h.advance(1_000);
    let b = h.push(ch, "b", json!({}));
    h.advance_to(t0 + 29_999);
    assert!(dropped(&h).is_empty());
    assert_eq!(h.client.buffered(), 2);
    h.advance(1);
    assert_eq!(
        dropped(&h),
        vec![(ch, "a".to_string(), DropReason::Expired)]
    );
    assert_eq!(h.outcome(a), PushOutcome::Dropped(DropReason::Expired));
    assert!(h.outcomes(b).is_empty());
    h.advance(999);
    assert_eq!(h.client.buffered(), 1);
    h.advance(1);
    assert_eq!(h.outcome(b), PushOutcome::Dropped(DropReason::Expired));
    assert_eq!(h.client.buffered(), 0);
    // Nothing expired is sent after the rejoin.
    h.set_online(true);
    h.open();
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.count_sent("a") + h.count_sent("b"), 0);
    assert_eq!(h.outcomes(a).len(), 1);
}

#[test]
fn custom_ttl_is_honoured() {
    let cfg = Config {
        send_buffer_ttl_ms: 500,
        ..exact_config()
    };
    let mut h = Harness::new(cfg);
    let ch = h.channel("room:t");
    h.join(ch);
    let p = h.push(ch, "x", json!({}));
    h.advance(499);
    assert!(h.outcomes(p).is_empty());
    h.advance(1);
    assert_eq!(h.outcome(p), PushOutcome::Dropped(DropReason::Expired));
}

#[test]
fn sent_pushes_use_their_own_timeout_not_the_ttl() {
    let cfg = Config {
        send_buffer_ttl_ms: 500,
        ..exact_config()
    };
    let mut h = Harness::new(cfg);
    h.connected();
    let ch = h.channel("room:t");
    h.join(ch);
    let p = h.push_timeout(ch, "x", json!({}), 2_000);
    h.advance(100);
    h.reply_last("phx_join", "ok", json!({}));
    h.advance(1_000);
    assert!(
        h.outcomes(p).is_empty(),
        "a sent push expired from the buffer"
    );
    h.advance(1_000);
    assert_eq!(h.outcome(p), PushOutcome::Timeout);
}

#[test]
fn leave_drops_waiting_sends() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let a = joined(&mut h, "room:a");
    let b = joined(&mut h, "room:b");
    h.server_close();
    let pa = h.push(a, "pa", json!({}));
    let pb = h.push(b, "pb", json!({}));
    let l = h.leave(a);
    assert_eq!(h.outcome(l), PushOutcome::Ok(json!({})));
    assert_eq!(dropped(&h), vec![(a, "pa".to_string(), DropReason::Left)]);
    assert_eq!(h.outcome(pa), PushOutcome::Dropped(DropReason::Left));
    assert!(h.outcomes(pb).is_empty());
    assert_eq!(h.client.buffered(), 1);
    // The other channel's send still goes out after its rejoin.
    let (_, d) = h.waiting();
    h.advance(d);
    h.open();
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.count_sent("pb"), 1);
    assert_eq!(h.count_sent("pa"), 0);
}

#[test]
fn leave_while_joining_drops_sends_and_the_join_request() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.channel("room:j");
    let j = h.join(ch);
    let p = h.push(ch, "x", json!({}));
    let l = h.leave(ch);
    assert_eq!(h.outcome(p), PushOutcome::Dropped(DropReason::Left));
    assert_eq!(h.outcome(j), PushOutcome::Dropped(DropReason::Left));
    // The half-made join is left on the server.
    let leave = h.last_sent("phx_leave");
    assert_eq!(leave[0], h.last_sent("phx_join")[0]);
    h.reply_last("phx_leave", "ok", json!({}));
    assert_eq!(h.outcome(l), PushOutcome::Ok(json!({})));
    assert_eq!(h.ch_state(ch), ChannelState::Closed);
    // A late join reply does not revive it.
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.ch_state(ch), ChannelState::Closed);
    assert!(h.joined_events(ch).is_empty());
}

#[test]
fn phx_close_and_remove_channel_drop_waiting_sends() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let a = joined(&mut h, "room:a");
    let jr = h.last_sent("phx_join")[0].clone();
    h.recv(json!([jr, jr, "room:a", "phx_error", {}]));
    let p = h.push(a, "x", json!({}));
    // phx_error keeps the old join_ref until the rejoin, so a phx_close for it still applies.
    h.recv(json!([jr, jr, "room:a", "phx_close", {}]));
    assert_eq!(h.ch_state(a), ChannelState::Closed);
    assert_eq!(h.outcome(p), PushOutcome::Dropped(DropReason::Left));

    let b = joined(&mut h, "room:b");
    h.server_close();
    let q = h.push(b, "y", json!({}));
    h.client.remove_channel(b);
    h.pump();
    assert_eq!(h.outcome(q), PushOutcome::Dropped(DropReason::Left));
    assert_eq!(h.client.buffered(), 0);
    assert_eq!(h.client.channel_state(b), None);
    let (_, d) = h.waiting();
    h.advance(d);
    h.open();
    assert_eq!(
        h.count_sent("phx_join"),
        2,
        "a removed channel was rejoined"
    );
}
