//! Pushes with bytes for a payload, sent as Phoenix V2 binary frames (kind 0 with a ref), as
//! phoenix.js sends an `ArrayBuffer`: the frame's bytes, the reply (text or binary) settling
//! the push, the buffer before a join, and the limits of the one-byte field lengths.

use tether::core::PushOutcome;

use crate::harness::{exact_config, phx_reply, Harness};

/// `[0][jr len][ref len][topic len][event len]` join_ref, ref, topic, event, payload.
fn split(frame: &[u8]) -> (Vec<String>, Vec<u8>) {
    assert_eq!(frame[0], 0, "kind push");
    let lens: Vec<usize> = frame[1..5].iter().map(|&l| l as usize).collect();
    let mut at = 5;
    let mut fields = Vec::new();
    for len in lens {
        fields.push(String::from_utf8(frame[at..at + len].to_vec()).expect("utf-8 field"));
        at += len;
    }
    (fields, frame[at..].to_vec())
}

#[test]
fn a_binary_push_is_a_kind_0_frame_with_its_refs_and_the_bytes_as_they_are() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.joined("room:files");
    let join_ref = h.last_sent("phx_join")[0].as_str().unwrap().to_string();
    let bytes: Vec<u8> = (0..=255).collect();
    let p = h
        .client
        .push_binary(h.now, ch, "upload", bytes.clone(), None)
        .expect("push");
    h.pump();
    assert_eq!(h.sent_binary.len(), 1);
    let (fields, payload) = split(&h.sent_binary[0]);
    assert_eq!(fields[0], join_ref);
    assert!(
        !fields[1].is_empty() && fields[1] != join_ref,
        "a ref of its own"
    );
    assert_eq!(fields[2], "room:files");
    assert_eq!(fields[3], "upload");
    assert_eq!(payload, bytes);
    assert!(h.outcomes(p).is_empty(), "awaits its reply");

    // A text reply settles it.
    let reply_to = json!([fields[0], fields[1], "room:files", "upload", {}]);
    h.recv(phx_reply(&reply_to, "ok", json!({"stored": 256})));
    assert_eq!(h.outcome(p), PushOutcome::Ok(json!({"stored": 256})));

    // So does a binary reply: kind 1, its response as {byteLength, base64}.
    let p2 = h
        .client
        .push_binary(h.now, ch, "echo", vec![1, 2, 3], None)
        .expect("push");
    h.pump();
    let (f, _) = split(&h.sent_binary[1]);
    let mut reply = vec![1u8, f[0].len() as u8, f[1].len() as u8, 10, 2];
    for part in [&f[0], &f[1], "room:files", "ok"] {
        reply.extend_from_slice(part.as_bytes());
    }
    reply.extend_from_slice(&[1, 2, 3]);
    h.client.handle_binary(h.now, &reply);
    h.pump();
    assert_eq!(
        h.outcome(p2),
        PushOutcome::Ok(json!({"byteLength": 3, "base64": "AQID"}))
    );
}

#[test]
fn a_binary_push_waits_for_the_join_and_times_out_like_any_push() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.channel("room:later");
    h.join(ch);
    let p = h
        .client
        .push_binary(h.now, ch, "upload", vec![9; 4], Some(500))
        .expect("buffered");
    h.pump();
    assert!(h.sent_binary.is_empty(), "not before the join");
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.sent_binary.len(), 1);
    assert_eq!(split(&h.sent_binary[0]).1, vec![9; 4]);
    h.advance(500);
    assert_eq!(h.outcome(p), PushOutcome::Timeout);
}

#[test]
fn a_topic_or_event_longer_than_255_bytes_is_refused_and_nothing_is_sent() {
    let mut h = Harness::new(exact_config());
    let long_topic = format!("room:{}", "x".repeat(251));
    assert_eq!(long_topic.len(), 256);
    h.connected();
    let ch = h.joined(&long_topic);
    let p = h
        .client
        .push_binary(h.now, ch, "upload", vec![1], None)
        .expect("push");
    h.pump();
    assert!(h.sent_binary.is_empty());
    match h.outcome(p) {
        PushOutcome::Error { response, .. } => {
            assert!(response["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("255 bytes"))
        }
        other => panic!("refused, got {other:?}"),
    }
    // 255 bytes fit.
    let fits = h.joined(&"y".repeat(255));
    let p = h
        .client
        .push_binary(h.now, fits, &"e".repeat(255), vec![], None)
        .expect("push");
    h.pump();
    assert_eq!(h.sent_binary.len(), 1);
    assert!(h.outcomes(p).is_empty());
}
