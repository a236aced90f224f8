//! The fast inbound path (`Client::route_parsed`, used when the browser has parsed a frame):
//! wherever it takes a frame it must route it exactly as `handle_text` would, and it must hand
//! back every frame whose payload the core reads itself.

use crate::harness::{exact_config, Harness};
use tether::core::Value;
use tether::core::{ChannelId, Event, ReadOp};

/// A connected client with: two joined channels on `room:a`, one on `room:b` still joining, a
/// presence-tracking channel on `room:p`, a notification store on `user:1:notifications`.
fn client() -> (Harness, Vec<(ChannelId, String)>) {
    let mut h = Harness::new(exact_config());
    h.connected();
    let mut chans = Vec::new();
    for topic in ["room:a", "room:a", "room:p"] {
        let ch = h.channel(topic);
        h.join(ch);
        h.reply_last("phx_join", "ok", json!({}));
        chans.push((ch, topic.to_string()));
    }
    let p = chans[2].0;
    h.client.track_presence(p, 0);
    let b = h.channel("room:b");
    h.join(b);
    chans.push((b, "room:b".into()));
    let n = h
        .client
        .notifications(h.now, "user:1:notifications", 50, Vec::<ReadOp>::new());
    h.pump();
    h.reply_last("phx_join", "ok", json!({}));
    chans.push((n, "user:1:notifications".into()));
    (h, chans)
}

/// The join refs in use, plus ones nobody uses.
fn join_refs(h: &Harness) -> Vec<Option<String>> {
    let mut refs: Vec<Option<String>> = h
        .sent_events("phx_join")
        .iter()
        .map(|f| f[0].as_str().map(str::to_string))
        .collect();
    refs.push(None);
    refs.push(Some("stale".into()));
    refs.sort();
    refs.dedup();
    refs
}

/// The channels `handle_text` delivered a message to, and whether anything else happened.
fn slow_route(h: &mut Harness, frame: &Value) -> (Vec<ChannelId>, usize) {
    let before = h.events.len();
    h.recv(frame.clone());
    let mut targets = Vec::new();
    let mut other = 0;
    for e in &h.events[before..] {
        match e {
            Event::Message { channel, .. } => targets.push(*channel),
            _ => other += 1,
        }
    }
    (targets, other)
}

#[test]
fn the_fast_path_routes_exactly_like_handle_text_and_declines_what_the_core_reads() {
    let (mut h, _chans) = client();
    let topics = [
        "room:a",
        "room:b",
        "room:p",
        "user:1:notifications",
        "room:none",
    ];
    let events = [
        "new_msg",
        "phx_reply",
        "phx_close",
        "phx_error",
        "phx_join",
        "presence_state",
        "presence_diff",
        "notification:new",
        "notification:read",
        "notification:whatever",
        "notificationnew",
        "phx",
    ];
    let mut fast = 0;
    let mut declined = 0;
    for join_ref in join_refs(&h) {
        for topic in topics {
            for event in events {
                let frame = json!([join_ref, null, topic, event, {"n": 1}]);
                let text = frame.to_string();
                let now = h.now;
                let routed = h.client.route_parsed(
                    now,
                    join_ref.as_deref(),
                    topic,
                    event,
                    text.encode_utf16().count(),
                );
                h.pump();
                let core_reads = event.starts_with("phx_")
                    || event.starts_with("presence_")
                    || event.starts_with("notification:");
                match routed {
                    Some(targets) => {
                        fast += 1;
                        assert!(!core_reads, "{text}: must be declined");
                        let (slow, other) = slow_route(&mut h, &frame);
                        assert_eq!(targets, slow, "{text}: same channels, same order");
                        assert_eq!(other, 0, "{text}: nothing but messages");
                    }
                    None => {
                        declined += 1;
                        assert!(
                            core_reads,
                            "{text}: a plain message must take the fast path"
                        );
                    }
                }
            }
        }
    }
    assert!(
        fast > 50 && declined > 50,
        "fast {fast}, declined {declined}"
    );
}

#[test]
fn frames_that_may_exceed_the_size_limit_are_declined() {
    let (mut h, chans) = client();
    let max = exact_config().max_frame_bytes;
    let now = h.now;
    assert_eq!(
        h.client
            .route_parsed(now, None, "room:a", "new_msg", max / 3),
        Some(vec![chans[0].0, chans[1].0])
    );
    assert_eq!(
        h.client
            .route_parsed(now, None, "room:a", "new_msg", max / 3 + 1),
        None
    );
}

#[test]
fn the_routes_version_moves_with_every_change_a_mirror_must_see() {
    let mut h = Harness::new(exact_config());
    let mut seen = h.client.routes_version();
    let mut moved = |h: &Harness, what: &str| {
        let v = h.client.routes_version();
        assert_ne!(v, seen, "{what}: the routes version must move");
        seen = v;
    };
    let ch = h.channel("room:a");
    moved(&h, "channel created");
    h.connected();
    h.join(ch);
    moved(&h, "join sent (a join ref)");
    let first_ref = h.client.channel_join_ref(ch).map(str::to_string);
    h.reply_last("phx_join", "ok", json!({}));
    moved(&h, "joined");
    let routable: Vec<_> = h
        .client
        .routable_channels()
        .map(|(id, t, jr)| (id, t.to_string(), jr.map(str::to_string)))
        .collect();
    assert_eq!(
        routable,
        vec![(ch, "room:a".to_string(), first_ref.clone())]
    );
    h.server_close();
    moved(&h, "connection lost (channel errored)");
    h.advance(250);
    h.open();
    h.pump();
    moved(&h, "rejoined with a new join ref");
    assert_ne!(h.client.channel_join_ref(ch).map(str::to_string), first_ref);
    h.client.leave(h.now, ch).ok();
    h.pump();
    h.reply_last("phx_leave", "ok", json!({}));
    moved(&h, "left");
    assert_eq!(
        h.client.routable_channels().count(),
        0,
        "a closed channel routes nothing"
    );
}
