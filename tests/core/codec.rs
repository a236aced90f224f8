//! Phoenix V2 text frames: every shape of PROTOCOL.md round-trips; bad input is an error, never a
//! panic, and a live client survives it.

use tether::core::Value;
use tether::core::{decode, encode, DecodeError, Event, Frame, PushOutcome, Reply};

use crate::harness::Harness;

const MAX: usize = 8 * 1024 * 1024;

/// Every frame shape listed in PROTOCOL.md.
const SHAPES: &[&str] = &[
    r#"["3","3","room:lobby","phx_join",{"name":"ada"}]"#,
    r#"["3","3","room:lobby","phx_reply",{"status":"ok","response":{}}]"#,
    r#"[null,"3","room:lobby","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]"#,
    r#"[null,"5","phoenix","heartbeat",{}]"#,
    r#"[null,"5","phoenix","phx_reply",{"status":"ok","response":{}}]"#,
    r#"["3","7","room:lobby","new_msg",{"body":"hi"}]"#,
    r#"["3",null,"room:lobby","presence_state",{"ada":{"metas":[{"phx_ref":"F1"}]}}]"#,
    r#"[null,null,"room:lobby","new_msg",{"body":"all"}]"#,
    r#"["3","6","room:lobby","phx_leave",{}]"#,
    r#"["3","3","room:lobby","phx_close",{}]"#,
    r#"["3","3","room:lobby","phx_error",{}]"#,
    r#"["3","3","room:lobby","phx_error",{"reason":"crash"}]"#,
];

fn opt(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

#[test]
fn every_protocol_shape_roundtrips() {
    for text in SHAPES {
        let wire: Value = tether::core::json::parse(text).unwrap();
        let frame = decode(text, MAX).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(frame.join_ref, opt(&wire[0]), "{text}");
        assert_eq!(frame.reference, opt(&wire[1]), "{text}");
        assert_eq!(frame.topic, wire[2], "{text}");
        assert_eq!(frame.event, wire[3], "{text}");
        assert_eq!(frame.payload, wire[4], "{text}");
        let encoded = encode(
            frame.join_ref.as_deref(),
            frame.reference.as_deref(),
            &frame.topic,
            &frame.event,
            &frame.payload,
        );
        let again: Value = tether::core::json::parse(&encoded).unwrap();
        assert_eq!(again, wire, "encode(decode(x)) != x for {text}");
        assert_eq!(decode(&encoded, MAX).unwrap(), frame);
    }
}

#[test]
fn encode_uses_null_for_missing_refs_and_keeps_payload() {
    let payload = json!({"body": "hi", "n": [1, 2, {"deep": null}], "u": "ünï\"\\"});
    let text = encode(None, None, "room:lobby", "new_msg", &payload);
    let v: Value = tether::core::json::parse(&text).unwrap();
    assert_eq!(v, json!([null, null, "room:lobby", "new_msg", payload]));
    let text = encode(Some("3"), Some("3"), "room:lobby", "phx_join", &json!({}));
    assert_eq!(text, r#"["3","3","room:lobby","phx_join",{}]"#);
}

#[test]
fn reply_payloads_parse() {
    let f = decode(SHAPES[1], MAX).unwrap();
    let r = Reply::from_payload(f.payload);
    assert!(r.is_ok());
    assert_eq!(r.response, json!({}));
    let f = decode(SHAPES[2], MAX).unwrap();
    let r = Reply::from_payload(f.payload);
    assert!(!r.is_ok());
    assert_eq!(r.status, "error");
    assert_eq!(r.response, json!({"reason": "unmatched topic"}));
    // Missing status is an error, missing response is {}.
    let r = Reply::from_payload(json!({"response": 1}));
    assert_eq!((r.status.as_str(), r.response), ("error", json!(1)));
    let r = Reply::from_payload(json!({"status": "ok"}));
    assert_eq!((r.status.as_str(), r.response), ("ok", json!({})));
    let r = Reply::from_payload(json!({"status": 5}));
    assert!(!r.is_ok());
}

/// (name, input, expected error check, code)
type BadInput = (&'static str, String, fn(&DecodeError) -> bool, &'static str);

fn bad_inputs() -> Vec<BadInput> {
    let nested_open = "[".repeat(10_000);
    let nested_balanced = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let nested_payload = format!(
        r#"[null,null,"t","e",{}{}]"#,
        r#"{"a":"#.repeat(10_000),
        "}".repeat(10_000)
    );
    vec![
        (
            "not json",
            "hello".to_string(),
            |e| matches!(e, DecodeError::NotJson(_)),
            "malformed_frame",
        ),
        (
            "empty",
            String::new(),
            |e| matches!(e, DecodeError::NotJson(_)),
            "malformed_frame",
        ),
        (
            "truncated",
            r#"["3","3","t","e",{"#.to_string(),
            |e| matches!(e, DecodeError::NotJson(_)),
            "malformed_frame",
        ),
        (
            "trailing garbage",
            r#"[null,null,"t","e",{}]x"#.to_string(),
            |e| matches!(e, DecodeError::NotJson(_)),
            "malformed_frame",
        ),
        (
            "lone surrogate",
            r#"[null,null,"t\ud800","e",{}]"#.to_string(),
            |e| matches!(e, DecodeError::NotJson(_)),
            "malformed_frame",
        ),
        (
            "object",
            r#"{"topic":"t"}"#.to_string(),
            |e| matches!(e, DecodeError::NotAnArray),
            "malformed_frame",
        ),
        (
            "string",
            r#""frame""#.to_string(),
            |e| matches!(e, DecodeError::NotAnArray),
            "malformed_frame",
        ),
        (
            "arity 0",
            "[]".to_string(),
            |e| matches!(e, DecodeError::WrongArity(0)),
            "malformed_frame",
        ),
        (
            "arity 4",
            r#"[null,"1","t","e"]"#.to_string(),
            |e| matches!(e, DecodeError::WrongArity(4)),
            "malformed_frame",
        ),
        (
            "arity 6",
            r#"[null,"1","t","e",{},{}]"#.to_string(),
            |e| matches!(e, DecodeError::WrongArity(6)),
            "malformed_frame",
        ),
        (
            "ref a number",
            r#"[null,3,"t","e",{}]"#.to_string(),
            |e| matches!(e, DecodeError::BadRef),
            "malformed_frame",
        ),
        (
            "join_ref a number",
            r#"[3,"3","t","e",{}]"#.to_string(),
            |e| matches!(e, DecodeError::BadRef),
            "malformed_frame",
        ),
        (
            "ref an object",
            r#"[null,{},"t","e",{}]"#.to_string(),
            |e| matches!(e, DecodeError::BadRef),
            "malformed_frame",
        ),
        (
            "topic null",
            r#"[null,null,null,"e",{}]"#.to_string(),
            |e| matches!(e, DecodeError::BadTopic),
            "malformed_frame",
        ),
        (
            "topic a number",
            r#"[null,null,1,"e",{}]"#.to_string(),
            |e| matches!(e, DecodeError::BadTopic),
            "malformed_frame",
        ),
        (
            "event a number",
            r#"[null,null,"t",7,{}]"#.to_string(),
            |e| matches!(e, DecodeError::BadEvent),
            "malformed_frame",
        ),
        (
            "event null",
            r#"[null,null,"t",null,{}]"#.to_string(),
            |e| matches!(e, DecodeError::BadEvent),
            "malformed_frame",
        ),
        (
            "payload array",
            r#"[null,null,"t","e",[1]]"#.to_string(),
            |e| matches!(e, DecodeError::PayloadNotObject),
            "malformed_frame",
        ),
        (
            "payload string",
            r#"[null,null,"t","e","x"]"#.to_string(),
            |e| matches!(e, DecodeError::PayloadNotObject),
            "malformed_frame",
        ),
        (
            "payload null",
            r#"[null,null,"t","e",null]"#.to_string(),
            |e| matches!(e, DecodeError::PayloadNotObject),
            "malformed_frame",
        ),
        (
            "nested 10k [",
            nested_open,
            |e| matches!(e, DecodeError::NotJson(_)),
            "malformed_frame",
        ),
        (
            "nested 10k [] balanced",
            nested_balanced,
            // The envelope is read without materializing elements: one element, wrong arity.
            |e| matches!(e, DecodeError::NotJson(_) | DecodeError::WrongArity(_)),
            "malformed_frame",
        ),
        (
            "nested 10k objects in payload",
            nested_payload,
            |e| matches!(e, DecodeError::NotJson(_)),
            "malformed_frame",
        ),
    ]
}

#[test]
fn bad_input_is_an_error_with_a_code() {
    for (name, input, check, code) in bad_inputs() {
        let err = decode(&input, MAX).expect_err(name);
        assert!(check(&err), "{name}: unexpected error {err:?}");
        assert_eq!(err.code(), code, "{name}");
        assert!(!err.to_string().is_empty(), "{name}");
    }
}

#[test]
fn frame_over_the_limit_is_rejected_before_parsing() {
    let text = format!(r#"[null,null,"t","e",{{"b":"{}"}}]"#, "x".repeat(100));
    let err = decode(&text, 50).unwrap_err();
    assert_eq!(
        err,
        DecodeError::TooLarge {
            bytes: text.len(),
            max: 50
        }
    );
    assert_eq!(err.code(), "frame_too_large");
    // At exactly the limit it is accepted.
    assert!(decode(&text, text.len()).is_ok());
    // Even garbage over the limit reports the size, not the syntax.
    assert_eq!(
        decode(&"[".repeat(100), 10).unwrap_err().code(),
        "frame_too_large"
    );
}

#[test]
fn live_client_reports_bad_frames_and_keeps_working() {
    let cfg = tether::core::Config {
        max_frame_bytes: 64 * 1024,
        ..tether::core::Config::default()
    };
    let mut h = Harness::auto(cfg);
    h.connect();
    let ch = h.channel("room:lobby");
    h.join(ch);
    let mut inputs: Vec<(String, &'static str)> = bad_inputs()
        .into_iter()
        .map(|(_, i, _, c)| (i, c))
        .collect();
    inputs.push((
        format!(
            r#"[null,null,"room:lobby","big",{{"b":"{}"}}]"#,
            "x".repeat(70_000)
        ),
        "frame_too_large",
    ));
    // A reply without a ref cannot be matched.
    inputs.push((
        r#"["1",null,"room:lobby","phx_reply",{"status":"ok","response":{}}]"#.into(),
        "malformed_frame",
    ));
    for (i, (input, code)) in inputs.iter().enumerate() {
        let before = h.events.len();
        h.recv_text(input);
        let new = &h.events[before..];
        assert!(
            matches!(new, [Event::Error { code: c, .. }] if c == code),
            "input #{i}: expected one Error {code}, got {new:?}"
        );
        // Still alive: a push gets its echo, a broadcast is delivered.
        let p = h.push(ch, "ping", json!({"i": i}));
        assert_eq!(h.outcome(p), PushOutcome::Ok(json!({"i": i})), "input #{i}");
        h.recv(json!([null, null, "room:lobby", "after", {"i": i}]));
        assert_eq!(
            h.messages(ch).last().unwrap(),
            &("after".to_string(), json!({"i": i}))
        );
    }
    assert_eq!(h.client.state(), tether::core::SocketState::Open);
    assert_eq!(h.ch_state(ch), tether::core::ChannelState::Joined);
    assert!(h.closes.is_empty());
    // Heartbeats still flow after all that garbage.
    h.advance(65_000);
    assert!(h.count_sent("heartbeat") >= 2);
    assert_eq!(h.count_events(|e| matches!(e, Event::HeartbeatTimeout)), 0);
}

#[test]
fn frame_struct_is_plain_data() {
    let f = Frame {
        join_ref: None,
        reference: Some("1".into()),
        topic: "phoenix".into(),
        event: "heartbeat".into(),
        payload: json!({}),
    };
    assert_eq!(
        decode(r#"[null,"1","phoenix","heartbeat",{}]"#, MAX).unwrap(),
        f.clone()
    );
    assert_eq!(f, f.clone());
}

/// `decode_raw` reads plain envelopes by hand and anything else with a parser. Over every
/// combination of well- and ill-formed pieces, it must agree with a JSON parser: a frame the
/// parser reads as a valid frame gives the same envelope and payload; any other frame is either
/// rejected or has a payload that is not one JSON value (which its reader then reports).
#[test]
fn envelope_reader_agrees_with_a_json_parser() {
    use tether::core::dialect::codec::decode_raw;
    let opens = ["[", "[ "];
    let refs = [
        "null",
        r#""1""#,
        r#""a\"b""#,
        r#""\u00e9t""#,
        "\"é\"",
        "1",
        "\"x\ny\"",
        "nul",
    ];
    let names = [
        r#""room:1""#,
        r#""r\\o""#,
        r#""t\ud800""#,
        "\"ü\"",
        "5",
        "\"tab\t\"",
    ];
    let seps = [",", " ,", ", "];
    let payloads = [
        "{}",
        r#"{"a":1}"#,
        r#"{"a":}"#,
        "{},{}",
        "[]",
        r#"{"a":"\ud800"}"#,
        r#"{"a":[1,{}]}"#,
        "{",
    ];
    let closes = ["]", "] ", "]x"];
    let (mut agreed, mut checked) = (0, 0);
    for open in opens {
        for jr in refs {
            for r in &refs[..4] {
                for topic in names {
                    for event in &names[..4] {
                        for sep in seps {
                            for payload in payloads {
                                for close in closes {
                                    let text = format!(
                                        "{open}{jr}{sep}{r}{sep}{topic}{sep}{event}{sep}{payload}{close}"
                                    );
                                    checked += 1;
                                    agreed += check_envelope(&text, decode_raw(&text, MAX));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        agreed > 1_000,
        "only {agreed} of {checked} frames were valid: the pieces are wrong"
    );
}

/// 1 when `text` is a valid frame (and `raw` read it the same), 0 when it is not (and `raw`
/// rejected it or holds a payload that does not parse).
fn check_envelope(
    text: &str,
    raw: Result<tether::core::dialect::codec::RawFrame<'_>, DecodeError>,
) -> u32 {
    let string_or_null = |v: &Value| match v {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        _ => None,
    };
    let oracle = match tether::core::json::parse(text) {
        Ok(Value::Array(items)) if items.len() == 5 => match (
            string_or_null(&items[0]),
            string_or_null(&items[1]),
            &items[2],
            &items[3],
            &items[4],
        ) {
            (Some(jr), Some(r), Value::String(t), Value::String(e), Value::Object(p)) => {
                Some((jr, r, t.clone(), e.clone(), Value::Object(p.clone())))
            }
            _ => None,
        },
        _ => None,
    };
    match (oracle, raw) {
        (Some((jr, r, topic, event, payload)), Ok(f)) => {
            assert_eq!(
                (
                    f.join_ref.map(|c| c.into_owned()),
                    f.reference.map(|c| c.into_owned()),
                    f.topic.into_owned(),
                    f.event.into_owned()
                ),
                (jr, r, topic, event),
                "{text:?}"
            );
            assert_eq!(
                tether::core::json::parse(f.payload).ok(),
                Some(payload),
                "{text:?}"
            );
            1
        }
        (Some(_), Err(e)) => panic!("{text:?} is a valid frame, read as {e:?}"),
        (None, Ok(f)) => {
            assert!(
                tether::core::json::parse(f.payload).is_err(),
                "{text:?} is not a valid frame, read as {f:?}"
            );
            0
        }
        (None, Err(_)) => 0,
    }
}
