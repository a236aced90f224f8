//! The touches a presence state records are enough to keep a copy of its list exactly in sync
//! (what the browser driver's JavaScript mirror relies on): replayed in order onto a copy, they
//! give the same keys, order and presences as the state itself, over random diffs and states.

use tether::core::presence::parse_presences;
use tether::core::Value;
use tether::core::{PresenceState, SplitMix64, Touch};

fn pick<'a>(rng: &mut SplitMix64, items: &'a [&'a str]) -> &'a str {
    items[(rng.next_u64() % items.len() as u64) as usize]
}

fn presences(rng: &mut SplitMix64, keys: &[&str]) -> Value {
    let mut map = tether::core::Map::new();
    for _ in 0..(rng.next_u64() % 4) {
        let key = pick(rng, keys);
        let metas: Vec<Value> = (0..1 + rng.next_u64() % 2)
            .map(|_| json!({"phx_ref": format!("r{}", rng.next_u64() % 6)}))
            .collect();
        map.insert(key.to_string(), json!({ "metas": metas }));
    }
    Value::Object(map)
}

/// Replays touches onto `copy` the way the browser's mirror does (a `Map`: `set` keeps a
/// key's place, a fresh set moves it to the end), reading each presence from the state.
fn replay(copy: &mut Vec<(String, Value)>, state: &PresenceState, touches: Vec<Touch>) {
    for touch in touches {
        match touch {
            Touch::Set { key, fresh } => {
                let Some(p) = state.get(&key) else { continue };
                let value = p.to_value();
                let at = copy.iter().position(|(k, _)| *k == key);
                match (fresh, at) {
                    (false, Some(i)) => copy[i].1 = value,
                    (_, at) => {
                        if let Some(i) = at {
                            copy.remove(i);
                        }
                        copy.push((key, value));
                    }
                }
            }
            Touch::Removed(key) => copy.retain(|(k, _)| *k != key),
        }
    }
}

fn listed(state: &PresenceState) -> Vec<(String, Value)> {
    state
        .iter()
        .map(|(k, p)| (k.to_string(), p.to_value()))
        .collect()
}

/// One random change: a state, a diff, or (as a grace window's end does) a key removed.
fn change(rng: &mut SplitMix64, state: &mut PresenceState, keys: &[&str], step: u64) {
    let hold = (rng.next_u64() % 3 == 0).then_some(step * 10 + 1_000);
    match rng.next_u64() % 8 {
        0 | 1 => {
            let (next, _) = parse_presences(presences(rng, keys));
            state.apply_state(next, hold);
        }
        2 => {
            state.remove(pick(rng, keys));
        }
        _ => {
            let (joins, _) = parse_presences(presences(rng, keys));
            let (leaves, _) = parse_presences(presences(rng, keys));
            state.apply_diff(joins, leaves, hold);
        }
    }
}

#[test]
fn replaying_touches_reproduces_the_list() {
    let keys = ["ada", "grace", "__proto__", "ü", "linus", "barbara"];
    for seed in 0..300u64 {
        let mut rng = SplitMix64::new(seed);
        let mut state = PresenceState::default();
        state.record_touches(true);
        let mut copy: Vec<(String, Value)> = Vec::new();
        for step in 0..60u64 {
            change(&mut rng, &mut state, &keys, step);
            let touches = state.take_touches();
            replay(&mut copy, &state, touches);
            assert_eq!(copy, listed(&state), "seed {seed}, step {step}");
        }
    }
}

/// The mirror is brought up to date only when read: many changes, some to the same keys, then
/// one replay. At most one touch per key is kept, and none for a key that came and went.
#[test]
fn touches_of_many_changes_replay_to_the_list_with_one_per_key() {
    let keys = [
        "ada",
        "grace",
        "__proto__",
        "ü",
        "linus",
        "barbara",
        "edsger",
    ];
    let mut batches = 0;
    let mut saved = 0;
    for seed in 0..1_000u64 {
        let mut rng = SplitMix64::new(seed ^ 0x5eed);
        let mut state = PresenceState::default();
        state.record_touches(true);
        let mut copy: Vec<(String, Value)> = Vec::new();
        let mut changes = 0;
        for step in 0..80u64 {
            let before: Vec<String> = copy.iter().map(|(k, _)| k.clone()).collect();
            change(&mut rng, &mut state, &keys, step);
            changes += 1;
            if rng.next_u64() % 5 != 0 {
                continue; // not read yet
            }
            let touches = state.take_touches();
            let mut seen: Vec<&str> = Vec::new();
            for t in &touches {
                let key = match t {
                    Touch::Set { key, .. } | Touch::Removed(key) => key.as_str(),
                };
                assert!(!seen.contains(&key), "seed {seed}: two touches for {key}");
                seen.push(key);
                if let Touch::Removed(key) = t {
                    assert!(
                        before.contains(key),
                        "seed {seed}: {key} removed but never listed"
                    );
                }
            }
            saved += changes;
            batches += 1;
            changes = 0;
            replay(&mut copy, &state, touches);
            assert_eq!(copy, listed(&state), "seed {seed}, step {step}");
        }
    }
    assert!(
        batches > 10_000 && saved > batches,
        "{batches} batches of {saved} changes"
    );
}
