//! The presence parsers scan the JSON structure themselves and parse only the parts they keep.
//! Checked here against a plain `serde_json::Value` reading of the same text (the semantics of
//! `JSON.parse`: a repeated key keeps its first position and its last value) on valid texts and
//! on thousands of seeded mutations of them: the same presences, the same skips, and nothing at
//! all from a text that is not JSON.

use tether::core::presence::{parse_diff_text, parse_presence_map};
use tether::core::Value;
use tether::core::{Presence, PresenceState, SplitMix64};

type Json = serde_json::Value;

/// The reference reading: serde_json (with `preserve_order`, a repeated key keeps its first
/// position and its last value, as in `JSON.parse`), never tether's own reader.
fn reference(text: &str) -> Option<Json> {
    serde_json::from_str::<Json>(text).ok()
}

/// What a presence map means, read the plain way.
fn reference_map(text: &str) -> (Vec<(String, Json)>, usize) {
    let Some(Json::Object(map)) = reference(text) else {
        return (Vec::new(), 0);
    };
    let mut out = Vec::new();
    let mut skipped = 0;
    for (key, v) in map {
        match &v {
            Json::Object(o) if o.get("metas").is_some_and(Json::is_array) => out.push((key, v)),
            _ => skipped += 1,
        }
    }
    (out, skipped)
}

/// A value of tether's as serde_json's (through its `Serialize`), to compare with the reference.
fn as_json(v: &Value) -> Json {
    serde_json::to_value(v).expect("a tether value serializes")
}

fn ours_map(text: &str) -> (Vec<(String, Json)>, usize) {
    let (entries, skipped) = parse_presence_map(text);
    (
        entries
            .into_iter()
            .map(|(k, p)| (k, as_json(&p.to_value())))
            .collect(),
        skipped,
    )
}

fn sample_texts() -> Vec<String> {
    let a =
        json!({"metas": [{"phx_ref": "A1", "name": "ada \"the\" {first}", "n": [1, 2.5, -3e2]}]});
    let b = json!({"metas": [{"phx_ref": "B1"}, {"phx_ref": "B2", "x": {"y": [true, null]}}], "extra": {"k": "v"}});
    vec![
        json!({"ada": a, "bob": b}).to_string(),
        json!({"ada": a, "odd": {"no_metas": 1}, "num": 5, "arr": [1], "bob": b}).to_string(),
        // Repeated keys, escapes, unicode and whitespace the serializer would not write.
        format!(
            "{{ \"ada\" : {a} ,\n\"b\\u006fb\":{b}, \"ada\" :{b}, \"\\\"q\\\"\": {a}, \"é\\n\":{{\"metas\":[]}} }}"
        ),
        "{}".to_string(),
    ]
}

#[test]
fn presence_maps_read_like_json_parse_on_valid_texts() {
    for text in sample_texts() {
        assert_eq!(ours_map(&text), reference_map(&text), "{text}");
    }
}

#[test]
fn mutated_presence_maps_read_like_json_parse_or_not_at_all() {
    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\\",
        " ",
        "1",
        "a",
        "null",
        "\"metas\"",
        "\\u",
        "é",
    ];
    let mut rng = SplitMix64::new(0x5eed_cafe);
    let mut pick = |n: usize| (rng.next_u64() % n as u64) as usize;
    let texts = sample_texts();
    let mut valid = 0;
    for round in 0..6000 {
        let mut text = texts[pick(texts.len())].clone();
        for _ in 0..1 + pick(3) {
            let chars: Vec<char> = text.chars().collect();
            let at = pick(chars.len() + 1);
            let mut next: String = chars[..at].iter().collect();
            match pick(3) {
                0 => next.push_str(PIECES[pick(PIECES.len())]),
                1 if at < chars.len() => {
                    next.push_str(PIECES[pick(PIECES.len())]);
                    next.extend(&chars[at + 1..]);
                    text = next;
                    continue;
                }
                _ => {
                    next.extend(chars.get(at + 1..).unwrap_or_default());
                    text = next;
                    continue;
                }
            }
            next.extend(&chars[at..]);
            text = next;
        }
        let expected = reference_map(&text);
        if reference(&text).is_some() {
            valid += 1;
        }
        assert_eq!(ours_map(&text), expected, "round {round}: {text}");
        // A diff holding the same text on both sides reads the same way.
        let diff = format!("{{\"joins\":{text},\"leaves\":{{}}}}");
        let (joins, leaves) = parse_diff_text(&diff);
        let joins: Vec<(String, Json)> = joins
            .into_iter()
            .map(|(k, p)| (k, as_json(&p.to_value())))
            .collect();
        let want = if reference(&diff).is_some() {
            expected.0.clone()
        } else {
            Vec::new()
        };
        assert_eq!(joins, want, "round {round}: diff {diff}");
        assert!(leaves.is_empty());
        // As a presence_state over the unmutated one (so unchanged keys take the shortcut).
        let mut state = PresenceState::default();
        state
            .apply_state_text(&texts[round % texts.len()], None)
            .expect("a valid base");
        let mut by_value = state.clone();
        let before: Vec<(String, Value)> = state
            .iter()
            .map(|(k, p)| (k.to_string(), p.to_value()))
            .collect();
        match state.apply_state_text(&text, None) {
            Ok(_) => {
                assert!(
                    reference(&text).is_some_and(|v| v.is_object()),
                    "round {round}: accepted {text}"
                );
                // The same state applied from values (no text shortcut) ends the same.
                let next = expected
                    .0
                    .iter()
                    .map(|(k, v)| {
                        let v = crate::value_of(v.clone());
                        (k.clone(), Presence::from_value(v).expect("a presence"))
                    })
                    .collect();
                by_value.apply_state(next, None);
                let got: Vec<(String, Value)> = state
                    .iter()
                    .map(|(k, p)| (k.to_string(), p.to_value()))
                    .collect();
                let want: Vec<(String, Value)> = by_value
                    .iter()
                    .map(|(k, p)| (k.to_string(), p.to_value()))
                    .collect();
                assert_eq!(got, want, "round {round}: state from {text}");
            }
            Err(_) => {
                assert!(
                    !reference(&text).is_some_and(|v| v.is_object()),
                    "round {round}: refused {text}"
                );
                let after: Vec<(String, Value)> = state
                    .iter()
                    .map(|(k, p)| (k.to_string(), p.to_value()))
                    .collect();
                assert_eq!(
                    after, before,
                    "round {round}: a refused state changes nothing"
                );
            }
        }
    }
    assert!(
        valid > 300,
        "the mutations must leave enough valid texts to compare ({valid})"
    );
}
