//! Presence by hand: `PresenceState::apply_state` / `apply_diff` (the phoenix.js `syncState` /
//! `syncDiff` merge, JavaScript property order included) and presence through the `Client`
//! (diffs held until the current join's `presence_state`, rejoins, the leave grace window,
//! malformed payloads). Every test checks list order, metas and the reported changes.

use tether::core::presence::parse_presences;
use tether::core::Value;
use tether::core::{ChannelId, ChannelState, Event, Presence, PresenceChange, PresenceState};

use crate::harness::{exact_config, Harness};

// ---- helpers ---------------------------------------------------------------------------------

/// A meta with just a phx_ref.
fn m(r: &str) -> Value {
    json!({ "phx_ref": r })
}

/// A presence with these metas.
fn p(metas: Value) -> Presence {
    match Presence::from_value(json!({ "metas": metas })) {
        Some(p) => p,
        None => panic!("not a presence: {metas}"),
    }
}

/// `{key: {metas}}` entries in the JSON's order (as the server sent them).
fn entries(v: Value) -> Vec<(String, Presence)> {
    let (out, skipped) = parse_presences(v);
    assert_eq!(skipped, 0, "test input has malformed entries");
    out
}

fn join(key: &str, current: Option<Value>, joined: Value) -> PresenceChange {
    PresenceChange::Join {
        key: key.to_string(),
        current: current.map(p),
        joined: p(joined),
    }
}

fn leave(key: &str, remaining: Value, left: Value) -> PresenceChange {
    PresenceChange::Leave {
        key: key.to_string(),
        remaining: p(remaining),
        left: p(left),
    }
}

/// The state as `[key, {metas...}]` pairs in list order.
fn listed(s: &PresenceState) -> Vec<(String, Value)> {
    s.iter()
        .map(|(k, p)| (k.to_string(), p.to_value()))
        .collect()
}

fn keys(s: &PresenceState) -> Vec<String> {
    s.iter().map(|(k, _)| k.to_string()).collect()
}

fn diff(s: &mut PresenceState, joins: Value, leaves: Value) -> Vec<PresenceChange> {
    s.apply_diff(entries(joins), entries(leaves), None)
}

fn state(s: &mut PresenceState, next: Value) -> Vec<PresenceChange> {
    s.apply_state(entries(next), None)
}

fn l(key: &str, metas: Value) -> (String, Value) {
    (key.to_string(), json!({ "metas": metas }))
}

// ---- PresenceState ---------------------------------------------------------------------------

#[test]
fn state_into_empty_joins_every_key_in_order() {
    let mut s = PresenceState::default();
    let changes = state(
        &mut s,
        json!({"zed": {"metas": [m("1")]}, "ada": {"metas": [m("2"), m("3")]}}),
    );
    assert_eq!(
        changes,
        vec![
            join("zed", None, json!([m("1")])),
            join("ada", None, json!([m("2"), m("3")])),
        ]
    );
    assert_eq!(
        listed(&s),
        vec![l("zed", json!([m("1")])), l("ada", json!([m("2"), m("3")]))]
    );
    assert_eq!(s.len(), 2);
}

#[test]
fn joins_are_applied_before_leaves_within_one_diff() {
    let mut s = PresenceState::default();
    state(&mut s, json!({"a": {"metas": [m("1")]}}));
    // Leaves listed first in the payload: joins still go first.
    let changes = s.apply_diff(
        entries(json!({"b": {"metas": [m("2")]}})),
        entries(json!({"a": {"metas": [m("1")]}})),
        None,
    );
    assert_eq!(
        changes,
        vec![
            join("b", None, json!([m("2")])),
            leave("a", json!([]), json!([m("1")])),
        ]
    );
    assert_eq!(listed(&s), vec![l("b", json!([m("2")]))]);

    // A key that joins and leaves (same ref) in one diff: join first, so it ends up gone.
    let changes = diff(
        &mut s,
        json!({"c": {"metas": [m("3")]}}),
        json!({"c": {"metas": [m("3")]}}),
    );
    assert_eq!(
        changes,
        vec![
            join("c", None, json!([m("3")])),
            leave("c", json!([]), json!([m("3")])),
        ]
    );
    assert_eq!(listed(&s), vec![l("b", json!([m("2")]))]);
}

#[test]
fn join_for_existing_key_keeps_old_metas_first_and_appends_joined() {
    let mut s = PresenceState::default();
    state(
        &mut s,
        json!({"a": {"metas": [
            {"phx_ref": "1", "v": "old"},
            {"phx_ref": "2", "v": "old"},
            {"phx_ref": "3", "v": "old"}
        ]}}),
    );
    // "2" is in the join: its old meta is replaced by the joined one, appended after the rest.
    let changes = diff(
        &mut s,
        json!({"a": {"metas": [{"phx_ref": "2", "v": "new"}, {"phx_ref": "4", "v": "new"}]}}),
        json!({}),
    );
    assert_eq!(
        changes,
        vec![join(
            "a",
            Some(json!([
                {"phx_ref": "1", "v": "old"},
                {"phx_ref": "2", "v": "old"},
                {"phx_ref": "3", "v": "old"}
            ])),
            json!([{"phx_ref": "2", "v": "new"}, {"phx_ref": "4", "v": "new"}]),
        )]
    );
    assert_eq!(
        listed(&s),
        vec![l(
            "a",
            json!([
                {"phx_ref": "1", "v": "old"},
                {"phx_ref": "3", "v": "old"},
                {"phx_ref": "2", "v": "new"},
                {"phx_ref": "4", "v": "new"}
            ])
        )]
    );
}

#[test]
fn meta_update_keeps_the_key_and_its_position() {
    let mut s = PresenceState::default();
    state(
        &mut s,
        json!({"a": {"metas": [{"phx_ref": "1", "status": "away"}]}, "b": {"metas": [m("9")]}}),
    );
    let changes = diff(
        &mut s,
        json!({"a": {"metas": [{"phx_ref": "2", "status": "online"}]}}),
        json!({"a": {"metas": [{"phx_ref": "1", "status": "away"}]}}),
    );
    assert_eq!(
        changes,
        vec![
            join(
                "a",
                Some(json!([{"phx_ref": "1", "status": "away"}])),
                json!([{"phx_ref": "2", "status": "online"}]),
            ),
            leave(
                "a",
                json!([{"phx_ref": "2", "status": "online"}]),
                json!([{"phx_ref": "1", "status": "away"}]),
            ),
        ]
    );
    assert_eq!(
        listed(&s),
        vec![
            l("a", json!([{"phx_ref": "2", "status": "online"}])),
            l("b", json!([m("9")])),
        ]
    );
}

#[test]
fn refs_read_from_text_match_however_they_are_written() {
    // A ref is compared by its value, as `===` after `JSON.parse`: written with an escape, after
    // whitespace, or repeated in its meta (the last one counts). A `phx_ref` inside a field is
    // not the meta's ref.
    let mut s = PresenceState::default();
    let text = r#"{"a":{"metas":[ {"x":{"phx_ref":"r2"}, "phx_ref":"r\u0031"} , { "phx_ref" : "r2" },{"phx_ref":"r3","phx_ref":"r4"}]}}"#;
    s.apply_state_text(text, None).expect("a presence_state");
    let leave = |s: &mut PresenceState, refs: &str| {
        let text = format!(r#"{{"joins":{{}},"leaves":{{"a":{{"metas":[{refs}]}}}}}}"#);
        let (joins, leaves) = tether::core::presence::parse_diff_text(&text);
        s.apply_diff(joins, leaves, None);
    };
    let refs = |s: &PresenceState| -> Vec<Value> {
        listed(s)
            .into_iter()
            .flat_map(|(_, p)| p["metas"].as_array().cloned().unwrap_or_default())
            .map(|m| m["phx_ref"].clone())
            .collect()
    };
    assert_eq!(refs(&s), vec![json!("r1"), json!("r2"), json!("r4")]);
    // Neither the inner ref nor the overwritten one names a meta.
    leave(&mut s, r#"{"phx_ref":"r3"}"#);
    assert_eq!(refs(&s), vec![json!("r1"), json!("r2"), json!("r4")]);
    leave(&mut s, r#"{"phx_ref":"r1"}"#);
    assert_eq!(refs(&s), vec![json!("r2"), json!("r4")]);
    leave(&mut s, r#"{"phx_ref":"\u0072\u0034"}, {"phx_ref" :"r2"}"#);
    assert_eq!(refs(&s), Vec::<Value>::new());
    assert_eq!(keys(&s), Vec::<String>::new());
}

#[test]
fn leave_removes_metas_by_ref_and_drops_an_empty_key() {
    let mut s = PresenceState::default();
    state(
        &mut s,
        json!({"a": {"metas": [m("1"), m("2"), m("3")]}, "b": {"metas": [m("4")]}}),
    );
    // Matching is by phx_ref only: the left meta's other fields do not matter.
    let changes = diff(
        &mut s,
        json!({}),
        json!({"a": {"metas": [{"phx_ref": "2", "other": true}]}}),
    );
    assert_eq!(
        changes,
        vec![leave(
            "a",
            json!([m("1"), m("3")]),
            json!([{"phx_ref": "2", "other": true}])
        )]
    );
    assert_eq!(
        listed(&s),
        vec![l("a", json!([m("1"), m("3")])), l("b", json!([m("4")]))]
    );

    let changes = diff(&mut s, json!({}), json!({"a": {"metas": [m("3"), m("1")]}}));
    assert_eq!(
        changes,
        vec![leave("a", json!([]), json!([m("3"), m("1")]))]
    );
    assert_eq!(listed(&s), vec![l("b", json!([m("4")]))]);
    assert!(s.get("a").is_none());

    // A leave of a ref the key does not have is still reported; nothing changes.
    let changes = diff(&mut s, json!({}), json!({"b": {"metas": [m("nope")]}}));
    assert_eq!(
        changes,
        vec![leave("b", json!([m("4")]), json!([m("nope")]))]
    );
    assert_eq!(listed(&s), vec![l("b", json!([m("4")]))]);
}

#[test]
fn leave_for_unknown_key_does_nothing() {
    let mut s = PresenceState::default();
    state(&mut s, json!({"a": {"metas": [m("1")]}}));
    let before = listed(&s);
    let changes = diff(&mut s, json!({}), json!({"ghost": {"metas": [m("1")]}}));
    assert_eq!(changes, vec![]);
    assert_eq!(listed(&s), before);
    assert!(s.get("ghost").is_none());

    // Also in the same diff as real changes: only those are reported.
    let changes = diff(
        &mut s,
        json!({"b": {"metas": [m("2")]}}),
        json!({"ghost": {"metas": [m("7")]}, "a": {"metas": [m("1")]}}),
    );
    assert_eq!(
        changes,
        vec![
            join("b", None, json!([m("2")])),
            leave("a", json!([]), json!([m("1")])),
        ]
    );
    assert_eq!(listed(&s), vec![l("b", json!([m("2")]))]);
}

#[test]
fn reapplying_a_diff_leaves_the_state_unchanged() {
    let mut s = PresenceState::default();
    state(
        &mut s,
        json!({"a": {"metas": [m("1"), m("2")]}, "b": {"metas": [m("3")]}, "c": {"metas": [m("5")]}}),
    );
    let joins = json!({"a": {"metas": [m("4")]}, "d": {"metas": [m("6")]}});
    let leaves = json!({"a": {"metas": [m("1")]}, "b": {"metas": [m("3")]}});
    let first = diff(&mut s, joins.clone(), leaves.clone());
    assert_eq!(
        first,
        vec![
            join("a", Some(json!([m("1"), m("2")])), json!([m("4")])),
            join("d", None, json!([m("6")])),
            leave("a", json!([m("2"), m("4")]), json!([m("1")])),
            leave("b", json!([]), json!([m("3")])),
        ]
    );
    let after = listed(&s);
    assert_eq!(
        after,
        vec![
            l("a", json!([m("2"), m("4")])),
            l("c", json!([m("5")])),
            l("d", json!([m("6")])),
        ]
    );
    // Again: the same callbacks phoenix.js would make, and the same state.
    let second = diff(&mut s, joins, leaves);
    assert_eq!(
        second,
        vec![
            join("a", Some(json!([m("2"), m("4")])), json!([m("4")])),
            join("d", Some(json!([m("6")])), json!([m("6")])),
            leave("a", json!([m("2"), m("4")]), json!([m("1")])),
        ]
    );
    assert_eq!(listed(&s), after);
}

#[test]
fn array_index_keys_come_first_ascending() {
    let mut s = PresenceState::default();
    let changes = state(
        &mut s,
        json!({
            "b": {"metas": [m("b")]},
            "10": {"metas": [m("10")]},
            "01": {"metas": [m("01")]},
            "2": {"metas": [m("2")]},
            "-1": {"metas": [m("-1")]},
            "4294967295": {"metas": [m("max")]},
            "4294967294": {"metas": [m("max-1")]},
            "0": {"metas": [m("0")]},
            "a": {"metas": [m("a")]},
            "1.5": {"metas": [m("1.5")]}
        }),
    );
    let order = [
        "0",
        "2",
        "10",
        "4294967294",
        "b",
        "01",
        "-1",
        "4294967295",
        "a",
        "1.5",
    ];
    let reported: Vec<&str> = changes
        .iter()
        .map(|c| match c {
            PresenceChange::Join { key, .. } => key.as_str(),
            PresenceChange::Leave { key, .. } => key.as_str(),
        })
        .collect();
    assert_eq!(
        reported, order,
        "callbacks follow JavaScript property order"
    );
    assert_eq!(keys(&s), order);

    // A new array-index key joining later still lists before the string keys.
    let changes = diff(
        &mut s,
        json!({"z": {"metas": [m("z")]}, "5": {"metas": [m("5")]}, "1": {"metas": [m("1")]}}),
        json!({"10": {"metas": [m("10")]}, "b": {"metas": [m("b")]}}),
    );
    assert_eq!(
        changes,
        vec![
            join("1", None, json!([m("1")])),
            join("5", None, json!([m("5")])),
            join("z", None, json!([m("z")])),
            leave("10", json!([]), json!([m("10")])),
            leave("b", json!([]), json!([m("b")])),
        ]
    );
    assert_eq!(
        keys(&s),
        [
            "0",
            "1",
            "2",
            "5",
            "4294967294",
            "01",
            "-1",
            "4294967295",
            "a",
            "1.5",
            "z"
        ]
    );
    // A removed string key that joins again goes to the end.
    diff(&mut s, json!({"01": {"metas": [m("x")]}}), json!({}));
    diff(
        &mut s,
        json!({}),
        json!({"01": {"metas": [m("01"), m("x")]}}),
    );
    diff(&mut s, json!({"01": {"metas": [m("y")]}}), json!({}));
    assert_eq!(keys(&s).last().map(String::as_str), Some("01"));
}

#[test]
fn prototype_names_and_unicode_are_plain_keys() {
    let text = r#"{"__proto__": {"metas": [{"phx_ref": "p"}]},
        "constructor": {"metas": [{"phx_ref": "c"}]},
        "toString": {"metas": [{"phx_ref": "t"}]},
        "hasOwnProperty": {"metas": [{"phx_ref": "h"}]},
        "ü": {"metas": [{"phx_ref": "u"}]},
        "日本": {"metas": [{"phx_ref": "j"}]},
        "🦀": {"metas": [{"phx_ref": "e"}]}}"#;
    let v: Value = tether::core::json::parse(text).expect("valid json");
    let mut s = PresenceState::default();
    let changes = state(&mut s, v);
    let expected = [
        ("__proto__", "p"),
        ("constructor", "c"),
        ("toString", "t"),
        ("hasOwnProperty", "h"),
        ("ü", "u"),
        ("日本", "j"),
        ("🦀", "e"),
    ];
    assert_eq!(
        changes,
        expected
            .iter()
            .map(|(k, r)| join(k, None, json!([m(r)])))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        listed(&s),
        expected
            .iter()
            .map(|(k, r)| l(k, json!([m(r)])))
            .collect::<Vec<_>>()
    );

    let changes = diff(
        &mut s,
        json!({"__proto__": {"metas": [m("p2")]}, "日本": {"metas": [m("j2")]}}),
        json!({"constructor": {"metas": [m("c")]}, "🦀": {"metas": [m("e")]}}),
    );
    assert_eq!(
        changes,
        vec![
            join("__proto__", Some(json!([m("p")])), json!([m("p2")])),
            join("日本", Some(json!([m("j")])), json!([m("j2")])),
            leave("constructor", json!([]), json!([m("c")])),
            leave("🦀", json!([]), json!([m("e")])),
        ]
    );
    assert_eq!(
        listed(&s),
        vec![
            l("__proto__", json!([m("p"), m("p2")])),
            l("toString", json!([m("t")])),
            l("hasOwnProperty", json!([m("h")])),
            l("ü", json!([m("u")])),
            l("日本", json!([m("j"), m("j2")])),
        ]
    );
    assert!(s.get("constructor").is_none());
    assert!(s.get("valueOf").is_none());
}

#[test]
fn state_reconciliation_reports_only_real_changes() {
    let mut s = PresenceState::default();
    let full = json!({
        "a": {"metas": [m("1"), m("2")]},
        "b": {"metas": [m("3")]},
        "c": {"metas": [m("4")]}
    });
    state(&mut s, full.clone());
    let before = listed(&s);
    // The same state again (a rejoin with nothing changed): no joins, no leaves.
    assert_eq!(state(&mut s, full), vec![]);
    assert_eq!(listed(&s), before);

    // a lost "2" and gained "5"; b is gone; c unchanged; d is new.
    let changes = state(
        &mut s,
        json!({
            "d": {"metas": [m("6")]},
            "c": {"metas": [m("4")]},
            "a": {"metas": [m("1"), m("5")]}
        }),
    );
    assert_eq!(
        changes,
        vec![
            join("d", None, json!([m("6")])),
            join("a", Some(json!([m("1"), m("2")])), json!([m("5")])),
            leave("b", json!([]), json!([m("3")])),
            leave("a", json!([m("1"), m("5")]), json!([m("2")])),
        ]
    );
    // Keys keep their positions; new ones are appended.
    assert_eq!(
        listed(&s),
        vec![
            l("a", json!([m("1"), m("5")])),
            l("c", json!([m("4")])),
            l("d", json!([m("6")])),
        ]
    );
}

#[test]
fn many_keys_then_many_single_key_diffs() {
    // Correctness only, at a size where a quadratic merge would show; no timing assertions.
    const KEYS: usize = 10_000;
    const DIFFS: usize = 1_000;
    let mut s = PresenceState::default();
    let mut next = tether::core::Map::new();
    // A naive model: (key, refs) in list order, string keys only (no array-index reordering).
    let mut model: Vec<(String, Vec<String>)> = Vec::new();
    for i in 0..KEYS {
        let key = format!("user:{i}");
        next.insert(key.clone(), json!({"metas": [m(&format!("r{i}"))]}));
        model.push((key, vec![format!("r{i}")]));
    }
    let changes = state(&mut s, Value::Object(next));
    assert_eq!(changes.len(), KEYS);
    assert_eq!(s.len(), KEYS);

    for d in 0..DIFFS {
        let i = (d * 7_919) % (KEYS + 500); // some keys beyond the state: fresh joins
        let key = format!("user:{i}");
        let pos = model.iter().position(|(k, _)| *k == key);
        let changes = match (d % 4, pos) {
            // Leave the key's first meta.
            (0, Some(at)) => {
                let r = model[at].1[0].clone();
                let mut remaining = model[at].1.clone();
                remaining.remove(0);
                let rem: Vec<Value> = remaining.iter().map(|r| m(r)).collect();
                if remaining.is_empty() {
                    model.remove(at);
                } else {
                    model[at].1 = remaining;
                }
                let ch = diff(
                    &mut s,
                    json!({}),
                    json!({ key.clone(): {"metas": [m(&r)]} }),
                );
                assert_eq!(ch, vec![leave(&key, Value::Array(rem), json!([m(&r)]))]);
                ch
            }
            // Meta update: old first ref out, a new one in.
            (1, Some(at)) => {
                let old = model[at].1[0].clone();
                let new = format!("u{d}");
                let mut refs = model[at].1.clone();
                refs.retain(|r| *r != old);
                refs.push(new.clone());
                model[at].1 = refs;
                diff(
                    &mut s,
                    json!({ key.clone(): {"metas": [m(&new)]} }),
                    json!({ key.clone(): {"metas": [m(&old)]} }),
                )
            }
            // Join a new ref (a second tab, or a fresh key).
            _ => {
                let new = format!("j{d}");
                match pos {
                    Some(at) => model[at].1.push(new.clone()),
                    None => model.push((key.clone(), vec![new.clone()])),
                }
                diff(
                    &mut s,
                    json!({ key.clone(): {"metas": [m(&new)]} }),
                    json!({}),
                )
            }
        };
        assert!(!changes.is_empty());
    }
    assert_eq!(s.len(), model.len());
    let got: Vec<(String, Vec<String>)> = s
        .iter()
        .map(|(k, p)| {
            let refs = p
                .metas
                .iter()
                .map(|meta| {
                    meta.to_value()["phx_ref"]
                        .as_str()
                        .unwrap_or("?")
                        .to_string()
                })
                .collect();
            (k.to_string(), refs)
        })
        .collect();
    assert!(
        got == model,
        "state differs from the model after {DIFFS} diffs"
    );

    // And a full state on top that equals the current one reports nothing.
    let mut same = tether::core::Map::new();
    for (k, refs) in &model {
        same.insert(
            k.clone(),
            json!({"metas": refs.iter().map(|r| m(r)).collect::<Vec<_>>()}),
        );
    }
    assert_eq!(state(&mut s, Value::Object(same)), vec![]);
    assert_eq!(s.len(), model.len());
}

// ---- through the Client ----------------------------------------------------------------------

const TOPIC: &str = "room:presence";

/// A connected client with a joined channel tracking presence.
fn tracked(grace_ms: u64) -> (Harness, ChannelId) {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.channel(TOPIC);
    h.join(ch);
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.ch_state(ch), ChannelState::Joined);
    h.client.track_presence(ch, grace_ms);
    (h, ch)
}

fn send(h: &mut Harness, event: &str, payload: Value) {
    h.recv(json!([null, null, TOPIC, event, payload]));
}

fn send_diff(h: &mut Harness, joins: Value, leaves: Value) {
    send(
        h,
        "presence_diff",
        json!({"joins": joins, "leaves": leaves}),
    );
}

/// Every Event::Presence for the channel, in order.
fn presence_events(h: &Harness, ch: ChannelId) -> Vec<Vec<PresenceChange>> {
    h.events
        .iter()
        .filter_map(|e| match e {
            Event::Presence { channel, changes } if *channel == ch => Some(changes.clone()),
            _ => None,
        })
        .collect()
}

fn client_list(h: &Harness, ch: ChannelId) -> Vec<(String, Value)> {
    match h.client.presence(ch) {
        Some(t) => t
            .list()
            .map(|(k, p)| (k.to_string(), p.to_value()))
            .collect(),
        None => panic!("channel does not track presence"),
    }
}

/// Reconnects after a socket loss; returns the new join_ref (the channel is joined again).
fn rejoin(h: &mut Harness, ch: ChannelId) -> String {
    let old = h.last_sent("phx_join")[0].clone();
    h.server_close();
    let (_, d) = h.waiting();
    h.advance(d);
    h.open();
    let frame = h.last_sent("phx_join");
    assert_ne!(frame[0], old, "a rejoin has a new join_ref");
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.ch_state(ch), ChannelState::Joined);
    frame[0].as_str().unwrap_or_default().to_string()
}

#[test]
fn presence_frames_are_not_delivered_as_messages() {
    let (mut h, ch) = tracked(0);
    send(&mut h, "presence_state", json!({"a": {"metas": [m("1")]}}));
    send(&mut h, "other", json!({"x": 1}));
    assert_eq!(h.messages(ch), vec![("other".to_string(), json!({"x": 1}))]);
    assert_eq!(
        presence_events(&h, ch),
        vec![vec![join("a", None, json!([m("1")]))]]
    );
}

#[test]
fn diffs_before_the_state_are_held_then_applied_after_it() {
    let (mut h, ch) = tracked(0);
    // A real server sends the joiner's own diff before the state.
    send_diff(&mut h, json!({"me": {"metas": [m("m1")]}}), json!({}));
    send_diff(
        &mut h,
        json!({"b": {"metas": [m("b2")]}}),
        json!({"a": {"metas": [m("a1")]}}),
    );
    assert_eq!(presence_events(&h, ch), Vec::<Vec<PresenceChange>>::new());
    assert!(client_list(&h, ch).is_empty(), "held diffs are not applied");

    send(
        &mut h,
        "presence_state",
        json!({"a": {"metas": [m("a1")]}, "b": {"metas": [m("b1")]}, "me": {"metas": [m("m1")]}}),
    );
    assert_eq!(
        presence_events(&h, ch),
        vec![vec![
            join("a", None, json!([m("a1")])),
            join("b", None, json!([m("b1")])),
            join("me", None, json!([m("m1")])),
            // The held diffs, in arrival order.
            join("me", Some(json!([m("m1")])), json!([m("m1")])),
            join("b", Some(json!([m("b1")])), json!([m("b2")])),
            leave("a", json!([]), json!([m("a1")])),
        ]],
        "one Presence event for the state and the held diffs"
    );
    assert_eq!(
        client_list(&h, ch),
        vec![l("b", json!([m("b1"), m("b2")])), l("me", json!([m("m1")]))]
    );

    // Synced: a diff is applied at once.
    send_diff(&mut h, json!({}), json!({"b": {"metas": [m("b1")]}}));
    assert_eq!(presence_events(&h, ch).len(), 2);
    assert_eq!(
        presence_events(&h, ch)[1],
        vec![leave("b", json!([m("b2")]), json!([m("b1")]))]
    );
}

#[test]
fn after_a_rejoin_diffs_are_held_until_the_new_state() {
    let (mut h, ch) = tracked(0);
    send(
        &mut h,
        "presence_state",
        json!({"a": {"metas": [m("a1")]}, "b": {"metas": [m("b1")]}}),
    );
    assert_eq!(presence_events(&h, ch).len(), 1);

    let join_ref = rejoin(&mut h, ch);
    // The server's diffs for the new membership arrive before its state: held.
    send_diff(&mut h, json!({"me": {"metas": [m("m2")]}}), json!({}));
    assert_eq!(
        presence_events(&h, ch).len(),
        1,
        "diff held after the rejoin"
    );
    assert_eq!(
        client_list(&h, ch),
        vec![l("a", json!([m("a1")])), l("b", json!([m("b1")]))],
        "the old list stays until the new state"
    );

    // The state for the new join: a unchanged, b gone, c new; then the held diff.
    h.recv(json!([
        join_ref,
        null,
        TOPIC,
        "presence_state",
        {"a": {"metas": [m("a1")]}, "c": {"metas": [m("c1")]}}
    ]));
    let events = presence_events(&h, ch);
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1],
        vec![
            join("c", None, json!([m("c1")])),
            leave("b", json!([]), json!([m("b1")])),
            join("me", None, json!([m("m2")])),
        ]
    );
    assert_eq!(
        client_list(&h, ch),
        vec![
            l("a", json!([m("a1")])),
            l("c", json!([m("c1")])),
            l("me", json!([m("m2")])),
        ]
    );
}

#[test]
fn rejoin_with_the_same_refs_reports_no_changes() {
    let (mut h, ch) = tracked(0);
    let full = json!({"a": {"metas": [m("a1"), m("a2")]}, "7": {"metas": [m("s1")]}});
    send(&mut h, "presence_state", full.clone());
    let before = client_list(&h, ch);
    rejoin(&mut h, ch);
    send(&mut h, "presence_state", full);
    let events = presence_events(&h, ch);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1], vec![], "no clear-and-refill on rejoin");
    assert_eq!(client_list(&h, ch), before);
    assert_eq!(
        before,
        vec![l("7", json!([m("s1")])), l("a", json!([m("a1"), m("a2")]))]
    );
}

#[test]
fn grace_window_hides_a_leave_and_return() {
    let (mut h, ch) = tracked(1_000);
    send(
        &mut h,
        "presence_state",
        json!({"a": {"metas": [m("a1")]}, "b": {"metas": [m("b1")]}}),
    );
    assert_eq!(presence_events(&h, ch).len(), 1);

    // a leaves: not reported, still listed.
    send_diff(&mut h, json!({}), json!({"a": {"metas": [m("a1")]}}));
    assert_eq!(presence_events(&h, ch)[1], vec![]);
    assert_eq!(
        client_list(&h, ch),
        vec![l("a", json!([m("a1")])), l("b", json!([m("b1")]))]
    );
    h.advance(600);
    assert_eq!(presence_events(&h, ch).len(), 2);
    assert_eq!(
        client_list(&h, ch),
        vec![l("a", json!([m("a1")])), l("b", json!([m("b1")]))]
    );

    // a returns within the window (a reconnect: new ref): no join reported either.
    send_diff(&mut h, json!({"a": {"metas": [m("a2")]}}), json!({}));
    assert_eq!(presence_events(&h, ch)[2], vec![]);
    assert_eq!(
        client_list(&h, ch),
        vec![l("a", json!([m("a2")])), l("b", json!([m("b1")]))]
    );
    // The window would have ended: nothing happens.
    h.advance(2_000);
    assert_eq!(presence_events(&h, ch).len(), 3);
    assert_eq!(
        client_list(&h, ch),
        vec![l("a", json!([m("a2")])), l("b", json!([m("b1")]))]
    );

    // A non-final meta leave is reported as usual.
    send_diff(&mut h, json!({"b": {"metas": [m("b2")]}}), json!({}));
    send_diff(&mut h, json!({}), json!({"b": {"metas": [m("b1")]}}));
    let events = presence_events(&h, ch);
    assert_eq!(
        events[3],
        vec![join("b", Some(json!([m("b1")])), json!([m("b2")]))]
    );
    assert_eq!(
        events[4],
        vec![leave("b", json!([m("b2")]), json!([m("b1")]))]
    );
}

#[test]
fn grace_window_reports_the_leave_exactly_when_it_ends() {
    let (mut h, ch) = tracked(1_000);
    send(
        &mut h,
        "presence_state",
        json!({"a": {"metas": [m("a1")]}, "b": {"metas": [m("b1")]}}),
    );
    h.advance(100);
    let left_at = h.now;
    send_diff(&mut h, json!({}), json!({"b": {"metas": [m("b1")]}}));
    assert_eq!(presence_events(&h, ch).len(), 2);
    assert_eq!(presence_events(&h, ch)[1], vec![]);
    let deadline = left_at + 1_000;
    assert!(
        h.client.poll_timeout().is_some_and(|t| t <= deadline),
        "a timer is armed for the end of the window"
    );

    h.advance(999);
    assert_eq!(
        presence_events(&h, ch).len(),
        2,
        "no leave before the window ends"
    );
    assert_eq!(
        client_list(&h, ch),
        vec![l("a", json!([m("a1")])), l("b", json!([m("b1")]))]
    );
    h.advance(1);
    assert_eq!(h.now, deadline);
    let events = presence_events(&h, ch);
    assert_eq!(events.len(), 3, "the leave is reported at the deadline");
    assert_eq!(events[2], vec![leave("b", json!([]), json!([m("b1")]))]);
    assert_eq!(client_list(&h, ch), vec![l("a", json!([m("a1")]))]);

    // Nothing more later; the timer is gone.
    h.advance(10_000);
    assert_eq!(presence_events(&h, ch).len(), 3);
}

#[test]
fn grace_window_spans_a_rejoin_state() {
    let (mut h, ch) = tracked(1_000);
    send(
        &mut h,
        "presence_state",
        json!({"a": {"metas": [m("a1")]}, "b": {"metas": [m("b1")]}}),
    );
    // b leaves, then the client reconnects and b is back in the new state: nothing reported.
    send_diff(&mut h, json!({}), json!({"b": {"metas": [m("b1")]}}));
    rejoin(&mut h, ch);
    send(
        &mut h,
        "presence_state",
        json!({"a": {"metas": [m("a1")]}, "b": {"metas": [m("b2")]}}),
    );
    let events = presence_events(&h, ch);
    assert_eq!(events.len(), 3);
    assert_eq!(events[1], vec![]);
    assert_eq!(events[2], vec![]);
    h.advance(5_000);
    assert_eq!(presence_events(&h, ch).len(), 3);
    assert_eq!(
        client_list(&h, ch),
        vec![l("a", json!([m("a1")])), l("b", json!([m("b2")]))]
    );
}

#[test]
fn malformed_presence_payloads_are_skipped_without_panicking() {
    let (mut h, ch) = tracked(0);
    // Not objects at all.
    for payload in [json!([1, 2]), json!("x"), json!(null), json!(5)] {
        send(&mut h, "presence_state", payload.clone());
        send(&mut h, "presence_diff", payload);
    }
    assert!(client_list(&h, ch).is_empty());
    // Entries that are not presences are skipped, the rest applied.
    send(
        &mut h,
        "presence_state",
        json!({
            "bad1": {"metas": "not an array"},
            "bad2": 5,
            "bad3": {"no_metas": []},
            "bad4": null,
            "good": {"metas": [m("g1")]}
        }),
    );
    assert_eq!(client_list(&h, ch), vec![l("good", json!([m("g1")]))]);
    // Diffs with odd joins/leaves.
    for payload in [
        json!({"joins": [1], "leaves": "x"}),
        json!({"joins": null}),
        json!({}),
        json!({"joins": {"good": {"metas": {}}}, "leaves": {"good": {"metas": 1}}}),
        json!({"joins": {"x": {"metas": [1, "s", null, [], {"phx_ref": {"o": 1}}]}}}),
        json!({"leaves": {"x": {"metas": [null, 2, {"phx_ref": [1]}]}}}),
        json!({"leaves": {"good": {"metas": [{"phx_ref": 3}]}}}),
    ] {
        send(&mut h, "presence_diff", payload);
    }
    let list = client_list(&h, ch);
    assert_eq!(list[0], l("good", json!([m("g1")])));
    assert_eq!(list.len(), 2, "x joined with odd metas: {list:?}");
    // The non-object metas have no phx_ref (JavaScript: undefined), so `null`, 2 and
    // the object-ref meta in the leave remove: 1, "s", null, [] (missing refs all match) —
    // and the object ref never matches.
    assert_eq!(list[1], l("x", json!([{"phx_ref": {"o": 1}}])));
    // Still works afterwards.
    send_diff(&mut h, json!({"ok": {"metas": [m("o1")]}}), json!({}));
    assert_eq!(client_list(&h, ch).len(), 3);
}

#[test]
fn untracked_channels_get_presence_frames_as_messages() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.channel(TOPIC);
    h.join(ch);
    h.reply_last("phx_join", "ok", json!({}));
    send(&mut h, "presence_state", json!({"a": {"metas": [m("1")]}}));
    assert_eq!(h.messages(ch).len(), 1);
    assert!(h.client.presence(ch).is_none());
    assert_eq!(presence_events(&h, ch), Vec::<Vec<PresenceChange>>::new());
}

#[test]
fn grace_window_hides_a_return_leave_return_in_one_batch() {
    let (mut h, ch) = tracked(1_000);
    send(&mut h, "presence_state", json!({"a": {"metas": [m("a1")]}}));
    send_diff(&mut h, json!({}), json!({"a": {"metas": [m("a1")]}}));
    assert_eq!(presence_events(&h, ch)[1], vec![], "a held, not reported");
    rejoin(&mut h, ch);
    // Held until the new state, then applied with it in one batch: a is back (state), leaves
    // (first held diff) and is back again (second held diff) — all inside its window.
    send_diff(&mut h, json!({}), json!({"a": {"metas": [m("a2")]}}));
    send_diff(&mut h, json!({"a": {"metas": [m("a3")]}}), json!({}));
    send(&mut h, "presence_state", json!({"a": {"metas": [m("a2")]}}));
    let events = presence_events(&h, ch);
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[2],
        vec![],
        "a stayed listed throughout: nothing to report"
    );
    assert_eq!(client_list(&h, ch), vec![l("a", json!([m("a3")]))]);
    h.advance(5_000);
    assert_eq!(presence_events(&h, ch).len(), 3);
    assert_eq!(client_list(&h, ch), vec![l("a", json!([m("a3")]))]);
}

/// Presence frames skip the envelope reader's payload check (their own readers check what they
/// read), so a payload that is not JSON is reported from there: one error, nothing applied,
/// whether the diff is applied, held for the state, or handed on as a message.
#[test]
fn presence_payloads_that_are_not_json_are_reported_once() {
    let broken = [
        r#"{"joins":{"a":{"metas":[{"phx_ref":"1"}]}},"leaves":{}"#,
        r#"{"joins":{"a":{"metas":[{"phx_ref":"1",}]}},"leaves":{}}"#,
        r#"{"joins":{},"leaves":{}},{"joins":{}}"#,
        r#"{"joins":{"a":{"metas":[{"phx_ref":"1"}]}},"leaves":{"b":{"metas":[tru]}}}"#,
    ];
    let frame =
        |event: &str, payload: &str| format!(r#"[null,null,"{TOPIC}","{event}",{payload}]"#);
    let errors_after = |h: &mut Harness, text: &str| {
        let before = h.errors().len();
        h.recv_text(text);
        h.errors()[before..].to_vec()
    };

    // Held: diffs before the first state.
    let (mut h, ch) = tracked(0);
    for p in broken {
        assert_eq!(
            errors_after(&mut h, &frame("presence_diff", p)),
            ["malformed_frame"],
            "{p}"
        );
    }
    send(&mut h, "presence_state", json!({"b": {"metas": [m("2")]}}));
    assert_eq!(client_list(&h, ch), vec![l("b", json!([m("2")]))]);
    // Applied: diffs after it; and states.
    for p in broken {
        assert_eq!(
            errors_after(&mut h, &frame("presence_diff", p)),
            ["malformed_frame"],
            "{p}"
        );
        assert_eq!(
            errors_after(&mut h, &frame("presence_state", p)),
            ["malformed_frame"],
            "{p}"
        );
    }
    assert_eq!(client_list(&h, ch), vec![l("b", json!([m("2")]))]);
    assert_eq!(
        presence_events(&h, ch).len(),
        1,
        "only the good state was applied"
    );
    send_diff(&mut h, json!({"c": {"metas": [m("3")]}}), json!({}));
    assert_eq!(client_list(&h, ch).len(), 2, "still applies diffs");

    // Untracked: handed on as a message only when it is JSON.
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.channel(TOPIC);
    h.join(ch);
    h.reply_last("phx_join", "ok", json!({}));
    for p in broken {
        assert_eq!(
            errors_after(&mut h, &frame("presence_diff", p)),
            ["malformed_frame"],
            "{p}"
        );
    }
    assert!(h.messages(ch).is_empty());
    // And to a topic nobody joined.
    for p in broken {
        let text = format!(r#"[null,null,"room:nobody","presence_diff",{p}]"#);
        assert_eq!(errors_after(&mut h, &text), ["malformed_frame"], "{p}");
    }
}

/// Grace windows under churn: keys leave and return again and again, each leave starting a new
/// window. Every key still away when its window ends leaves exactly once, at that time; the
/// next deadline is always the earliest window still open; and the bookkeeping of windows that
/// ended early (a return) does not pile up.
#[test]
fn grace_windows_under_churn_end_exactly_once_at_their_time() {
    use std::collections::BTreeMap;
    use tether::core::PresenceTracker;
    const GRACE: u64 = 1_000;
    let mut t = PresenceTracker::new(GRACE);
    let meta = |k: usize, gen: usize| json!({"phx_ref": format!("r{k}-{gen}")});
    let state: tether::core::Map = (0..300)
        .map(|k| (format!("k{k}"), json!({"metas": [meta(k, 0)]})))
        .collect();
    let mut now = 0;
    t.handle_state(now, Some("1"), &Value::Object(state).to_string())
        .expect("state");
    // What the server says is present, and when each absent key's window ends.
    let mut refs: Vec<Option<usize>> = vec![Some(0); 300];
    let mut window: BTreeMap<usize, u64> = BTreeMap::new();
    let mut left: BTreeMap<usize, u64> = BTreeMap::new();
    let mut seed = 7u64;
    for round in 1..=400 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let k = (seed >> 33) as usize % 300;
        let diff = match refs[k] {
            Some(g) => {
                refs[k] = None;
                window.insert(k, now + GRACE);
                json!({"joins": {}, "leaves": {format!("k{k}"): {"metas": [meta(k, g)]}}})
            }
            None => {
                refs[k] = Some(round);
                window.remove(&k);
                left.remove(&k);
                json!({"joins": {format!("k{k}"): {"metas": [meta(k, round)]}}, "leaves": {}})
            }
        };
        t.handle_diff(now, Some("1"), &diff.to_string());
        now += 7;
        for change in t.expire(now) {
            let PresenceChange::Leave { key, .. } = change else {
                panic!("expiry only reports leaves: {change:?}");
            };
            let k: usize = key[1..].parse().expect("key");
            assert_eq!(
                window.remove(&k).filter(|&end| end <= now).map(|_| ()),
                Some(()),
                "k{k} left at {now}, its window was {:?}",
                window.get(&k)
            );
            assert!(left.insert(k, now).is_none(), "k{k} left twice");
        }
        assert_eq!(
            t.next_deadline(),
            window.values().min().copied(),
            "round {round}"
        );
    }
    assert!(
        left.len() > 20,
        "windows ended during the churn: {}",
        left.len()
    );
    now += GRACE;
    let last = t.expire(now);
    assert_eq!(last.len(), window.len(), "every open window ends");
    assert_eq!(t.next_deadline(), None);
    let listed: Vec<String> = t.list().map(|(k, _)| k.to_string()).collect();
    let present: Vec<String> = (0..300)
        .filter(|&k| refs[k].is_some())
        .map(|k| format!("k{k}"))
        .collect();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    let mut present_sorted = present;
    present_sorted.sort();
    assert_eq!(listed_sorted, present_sorted);
}

// ---- presence taken at any time --------------------------------------------------------------
//
// A channel whose presence nobody has asked for keeps its presence frames (and still delivers
// them as messages), so `track_presence` called after the join, or much later, starts from the
// current state: the same list as a channel that tracked from the start.

/// A connected client with a joined channel that does not track presence (yet).
fn untracked() -> (Harness, ChannelId) {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.channel(TOPIC);
    h.join(ch);
    h.reply_last("phx_join", "ok", json!({}));
    (h, ch)
}

#[test]
fn presence_taken_after_the_state_starts_from_it() {
    let (mut h, ch) = untracked();
    send(
        &mut h,
        "presence_state",
        json!({"ada": {"metas": [m("a1")]}, "bob": {"metas": [m("b1")]}}),
    );
    send_diff(&mut h, json!({"cy": {"metas": [m("c1")]}}), json!({}));
    send_diff(&mut h, json!({}), json!({"bob": {"metas": [m("b1")]}}));
    // Delivered as messages meanwhile, as before.
    let events: Vec<String> = h.messages(ch).into_iter().map(|(e, _)| e).collect();
    assert_eq!(events, ["presence_state", "presence_diff", "presence_diff"]);
    assert!(h.client.presence(ch).is_none(), "not tracking yet");

    h.client.track_presence(ch, 0);
    h.pump();
    assert_eq!(
        client_list(&h, ch),
        vec![l("ada", json!([m("a1")])), l("cy", json!([m("c1")]))],
        "the state and the diffs since"
    );
    assert_eq!(
        presence_events(&h, ch),
        Vec::<Vec<PresenceChange>>::new(),
        "what came before the view is not reported as changes"
    );
    assert_eq!(h.client.unread_presence_bytes(ch), None);

    // From now on it tracks as any channel does: changes reported, frames not messages.
    send_diff(&mut h, json!({"dee": {"metas": [m("d1")]}}), json!({}));
    assert_eq!(
        presence_events(&h, ch),
        vec![vec![join("dee", None, json!([m("d1")]))]]
    );
    assert_eq!(h.messages(ch).len(), 3);
}

#[test]
fn presence_taken_before_its_state_comes_gets_it() {
    let (mut h, ch) = untracked();
    // The joiner's own diff comes before the state (as a real server sends them).
    send_diff(&mut h, json!({"me": {"metas": [m("m1")]}}), json!({}));
    h.client.track_presence(ch, 0);
    assert!(
        client_list(&h, ch).is_empty(),
        "the diff waits for the state"
    );
    send(
        &mut h,
        "presence_state",
        json!({"ada": {"metas": [m("a1")]}, "me": {"metas": [m("m1")]}}),
    );
    assert_eq!(
        client_list(&h, ch),
        vec![l("ada", json!([m("a1")])), l("me", json!([m("m1")]))]
    );
}

#[test]
fn a_second_presence_call_shares_the_first_and_its_grace() {
    let (mut h, ch) = untracked();
    send(
        &mut h,
        "presence_state",
        json!({"ada": {"metas": [m("a1")]}}),
    );
    h.client.track_presence(ch, 0);
    h.client.track_presence(ch, 60_000);
    assert_eq!(client_list(&h, ch), vec![l("ada", json!([m("a1")]))]);
    send_diff(&mut h, json!({}), json!({"ada": {"metas": [m("a1")]}}));
    assert_eq!(
        presence_events(&h, ch),
        vec![vec![leave("ada", json!([]), json!([m("a1")]))]],
        "the first call's grace (none) holds"
    );
    assert!(client_list(&h, ch).is_empty());
}

#[test]
fn presence_taken_after_a_malformed_frame_skips_it_and_reports_it_once() {
    let (mut h, ch) = untracked();
    send(
        &mut h,
        "presence_state",
        json!({"ada": {"metas": [m("a1")]}}),
    );
    h.recv_text(&format!(
        r#"[null,null,"{TOPIC}","presence_diff",{{"joins":{{"x":{{"metas":[tru]}}}},"leaves":{{}}}}]"#
    ));
    assert_eq!(h.errors(), vec!["malformed_frame"]);
    send_diff(&mut h, json!({"bob": {"metas": [m("b1")]}}), json!({}));
    h.client.track_presence(ch, 0);
    h.pump();
    assert_eq!(h.errors(), vec!["malformed_frame"], "not reported again");
    assert_eq!(
        client_list(&h, ch),
        vec![l("ada", json!([m("a1")])), l("bob", json!([m("b1")]))]
    );
}

#[test]
fn a_channel_that_never_takes_presence_keeps_a_bounded_backlog() {
    use tether::core::presence::tracker::UNREAD_BYTES;
    let (mut h, ch) = untracked();
    let pad = "x".repeat(100);
    send(&mut h, "presence_state", json!({}));
    let mut most = 0;
    for i in 0..3_000 {
        let key = format!("u{}", i % 50);
        let r = format!("r{i}");
        if i % 2 == 0 {
            send_diff(
                &mut h,
                json!({ key: {"metas": [{"phx_ref": r, "pad": pad}]} }),
                json!({}),
            );
        } else {
            let prev = format!("r{}", i - 1);
            let key = format!("u{}", (i - 1) % 50);
            send_diff(
                &mut h,
                json!({}),
                json!({ key: {"metas": [{"phx_ref": prev, "pad": pad}]} }),
            );
        }
        most = most.max(h.client.unread_presence_bytes(ch).unwrap_or(0));
    }
    assert!(
        most < UNREAD_BYTES,
        "kept {most} bytes unmerged, more than {UNREAD_BYTES}"
    );
    assert_eq!(h.messages(ch).len(), 3_001);
    h.client.track_presence(ch, 0);
    assert!(
        client_list(&h, ch).is_empty(),
        "every join was followed by its leave"
    );
}

/// A script of presence frames and rejoins.
#[derive(Debug, Clone)]
enum Step {
    State(Value),
    Diff(Value, Value),
    Rejoin,
}

/// A random script: states and diffs over a few keys (array-index keys among them, which list
/// first), now and then a large state (past the backlog's limit) and a rejoin.
fn script(seed: u64, len: usize) -> Vec<Step> {
    let mut rng = tether::core::SplitMix64::new(seed);
    let mut below = move |n: u64| rng.next_u64() % n;
    let keys = ["ada", "bob", "7", "cy", "2", "__proto__", "dee"];
    let mut next_ref = 0u64;
    let mut fresh_ref = move || {
        next_ref += 1;
        format!("r{next_ref}")
    };
    let mut live: Vec<(String, String)> = Vec::new();
    let mut out = Vec::new();
    for _ in 0..len {
        match below(12) {
            0 => out.push(Step::Rejoin),
            1 | 2 => {
                let mut state = serde_json::Map::new();
                live.clear();
                let big = below(4) == 0;
                let n = if big {
                    700
                } else {
                    below(keys.len() as u64) as usize
                };
                for i in 0..n {
                    let key = if big {
                        format!("big{i}")
                    } else {
                        keys[below(keys.len() as u64) as usize].to_string()
                    };
                    let r = fresh_ref();
                    live.push((key.clone(), r.clone()));
                    state.insert(
                        key,
                        serde_json::json!({"metas": [{"phx_ref": r, "note": "x".repeat(150)}]}),
                    );
                }
                out.push(Step::State(crate::value_of(serde_json::Value::Object(
                    state,
                ))));
            }
            _ => {
                let mut joins = serde_json::Map::new();
                let mut leaves = serde_json::Map::new();
                for _ in 0..=below(2) {
                    let key = keys[below(keys.len() as u64) as usize].to_string();
                    let r = fresh_ref();
                    live.push((key.clone(), r.clone()));
                    joins.insert(key, serde_json::json!({"metas": [{"phx_ref": r}]}));
                }
                if !live.is_empty() && below(2) == 0 {
                    let (key, r) = live.remove(below(live.len() as u64) as usize);
                    leaves.insert(key, serde_json::json!({"metas": [{"phx_ref": r}]}));
                }
                out.push(Step::Diff(
                    crate::value_of(serde_json::Value::Object(joins)),
                    crate::value_of(serde_json::Value::Object(leaves)),
                ));
            }
        }
    }
    out
}

fn play(h: &mut Harness, ch: ChannelId, step: &Step) {
    match step {
        Step::State(state) => {
            let join_ref = h.last_sent("phx_join")[0].clone();
            h.recv(json!([join_ref, null, TOPIC, "presence_state", state]));
        }
        Step::Diff(joins, leaves) => send_diff(h, joins.clone(), leaves.clone()),
        Step::Rejoin => {
            rejoin(h, ch);
        }
    }
}

/// For many scripts and every step at which presence is first taken, the list is the same as
/// the one of a channel that tracked presence from its creation, at that step and every step
/// after it.
#[test]
fn presence_taken_at_any_step_matches_presence_tracked_from_the_start() {
    for seed in 0..10 {
        let steps = script(seed, 20);
        for take_at in 0..=steps.len() {
            let mut from_start = Harness::new(exact_config());
            let mut later = Harness::new(exact_config());
            let a = from_start.channel(TOPIC);
            let b = later.channel(TOPIC);
            from_start.client.track_presence(a, 0);
            for (h, ch) in [(&mut from_start, a), (&mut later, b)] {
                h.connected();
                h.join(ch);
                h.reply_last("phx_join", "ok", json!({}));
            }
            for (i, step) in steps.iter().enumerate() {
                if i == take_at {
                    later.client.track_presence(b, 0);
                }
                play(&mut from_start, a, step);
                play(&mut later, b, step);
                if i >= take_at {
                    assert_eq!(
                        client_list(&later, b),
                        client_list(&from_start, a),
                        "seed {seed}, taken at step {take_at}, after step {i}: {step:?}"
                    );
                }
            }
            if take_at == steps.len() {
                later.client.track_presence(b, 0);
            }
            assert_eq!(
                client_list(&later, b),
                client_list(&from_start, a),
                "seed {seed}, taken at step {take_at}, at the end"
            );
            assert_eq!(
                later.errors(),
                from_start.errors(),
                "seed {seed}: the same errors"
            );
        }
    }
}
