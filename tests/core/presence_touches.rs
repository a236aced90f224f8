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

#[test]
fn replaying_touches_reproduces_the_list() {
    let keys = ["ada", "grace", "__proto__", "ü", "linus", "barbara"];
    for seed in 0..300u64 {
        let mut rng = SplitMix64::new(seed);
        let mut state = PresenceState::default();
        state.record_touches(true);
        let mut copy: Vec<(String, Value)> = Vec::new();
        for step in 0..60u64 {
            let hold = (rng.next_u64() % 3 == 0).then_some(step * 10 + 1_000);
            if rng.next_u64() % 4 == 0 {
                let (next, _) = parse_presences(presences(&mut rng, &keys));
                state.apply_state(next, hold);
            } else {
                let (joins, _) = parse_presences(presences(&mut rng, &keys));
                let (leaves, _) = parse_presences(presences(&mut rng, &keys));
                state.apply_diff(joins, leaves, hold);
            }
            for touch in state.take_touches() {
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
            let listed: Vec<(String, Value)> = state
                .iter()
                .map(|(k, p)| (k.to_string(), p.to_value()))
                .collect();
            assert_eq!(copy, listed, "seed {seed}, step {step}");
        }
    }
}
