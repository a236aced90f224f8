//! Native criterion benches of the sans-IO core: codec, presence and the notification store.
//!
//!   cargo bench --bench core              # full run (medians in target/criterion/*/new/estimates.json)
//!   cargo bench --bench core -- --quick   # a short smoke run
//!   target/demo/tether-loadgen native --write   # medians → the native section of BENCHMARKS.md
//!
//! Not tests: nothing here has a threshold. A regression shows as a moved median.

// Native only: criterion is not a dependency on wasm32, where this file is an empty program.
#[cfg(not(target_arch = "wasm32"))]
criterion::criterion_main!(native::benches);

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use criterion::{criterion_group, BatchSize, Criterion};
    use std::hint::black_box;
    use tether::core::dialect::codec::{decode, decode_raw};
    use tether::core::notifications::store::{RequestTag, StoreRequest};
    use tether::core::presence::parse_diff_text;
    use tether::core::Value;
    use tether::core::{Client, Config, Output, SplitMix64};
    use tether::core::{NotificationStore, PresenceState, ReadOp};

    const MAX: usize = 1 << 20;

    /// `serde_json::json!`, as tether's own `Value`.
    macro_rules! json {
        ($($t:tt)+) => {
            tether::core::json::parse(&::serde_json::json!($($t)+).to_string())
                .expect("serde_json writes JSON tether reads")
        };
    }

    /// A `new_msg` broadcast frame whose body has `body_len` characters.
    fn broadcast(body_len: usize) -> String {
        let body: String = "lorem ipsum dolor sit amet "
            .chars()
            .cycle()
            .take(body_len)
            .collect();
        json!([null, null, "room:lobby", "new_msg",
               {"body": body, "name": "ada", "at": 1_763_900_000_000u64, "id": "m-8f2c1d"}])
        .to_string()
    }

    fn codec(c: &mut Criterion) {
        let small = broadcast(60);
        let large = broadcast(2000);
        let mut g = c.benchmark_group("codec");
        for (name, text) in [
            (format!("small {} B", small.len()), &small),
            (format!("2 KB ({} B)", large.len()), &large),
        ] {
            g.bench_function(format!("decode_raw broadcast, {name}"), |b| {
                b.iter(|| decode_raw(black_box(text), MAX).map(|f| f.payload.len()))
            });
            g.bench_function(format!("decode broadcast, {name}"), |b| {
                b.iter(|| decode(black_box(text), MAX))
            });
        }
        g.finish();
    }

    /// One presence per key, one meta each (as the P1 browser bench): `{"k":{"metas":[…]}, …}`.
    /// Every hundredth key carries `generation` in its `phx_ref`, so two generations differ in 1 %.
    fn presence_text(keys: usize, generation: u32) -> String {
        let mut s = String::from("{");
        for i in 0..keys {
            if i > 0 {
                s.push(',');
            }
            let gen = if i % 100 == 0 { generation } else { 0 };
            s.push_str(&format!(
                r#""user:{i}":{{"metas":[{{"phx_ref":"F{i}g{gen}","name":"User {i}","online_at":{},"device":"web"}}]}}"#,
                1_763_900_000_000u64 + i as u64
            ));
        }
        s.push('}');
        s
    }

    fn presence(c: &mut Criterion) {
        const KEYS: usize = 10_000;
        let first = presence_text(KEYS, 0);
        let rejoin = presence_text(KEYS, 1);
        let mut base = PresenceState::default();
        base.apply_state_text(&first, None).expect("state");
        assert_eq!(base.len(), KEYS);

        let mut g = c.benchmark_group("presence");
        g.bench_function("apply_state_text rejoin, 10k keys, 1 % changed", |b| {
            b.iter_batched(
                || base.clone(),
                |mut state| {
                    let changes = state.apply_state_text(black_box(&rejoin), None);
                    (state, changes)
                },
                BatchSize::LargeInput,
            )
        });

        // A second device of one user joins, then leaves: two single-key diffs, text to state.
        let join = r#"{"joins":{"user:4242":{"metas":[{"phx_ref":"X1","name":"User 4242","online_at":1,"device":"phone"}]}},"leaves":{}}"#;
        let leave = r#"{"joins":{},"leaves":{"user:4242":{"metas":[{"phx_ref":"X1","name":"User 4242","online_at":1,"device":"phone"}]}}}"#;
        let mut state = base.clone();
        g.bench_function("apply_diff join + leave of one key, 10k-key room", |b| {
            b.iter(|| {
                let (j, l) = parse_diff_text(black_box(join));
                let a = state.apply_diff(j, l, None);
                let (j, l) = parse_diff_text(black_box(leave));
                let b = state.apply_diff(j, l, None);
                (a.len(), b.len())
            })
        });
        assert_eq!(state.len(), KEYS);
        g.finish();
    }

    const NOW: u64 = 1_763_900_000_000;

    fn notification(i: u64) -> Value {
        json!({"id": format!("n{i}"), "kind": "activity", "title": format!("Comment {i}"),
               "body": "Ada replied to your comment", "data": {"thread": i % 7},
               "read_at": null, "inserted_at": NOW - 3_600_000 + i * 1000})
    }

    /// A joined, synced store holding 50 unread notifications `n0..n49`.
    fn store_of_50() -> NotificationStore {
        let mut store = NotificationStore::new(50, Vec::<ReadOp>::new());
        let _ = store.joined();
        let recent: Vec<Value> = (0..50).rev().map(notification).collect();
        let _ = store.reply(
            NOW,
            store.sync_tag(),
            Ok(&json!({"recent": recent, "unread_count": 50})),
        );
        assert_eq!(store.unread_count(), 50);
        store
    }

    fn store(c: &mut Criterion) {
        let mut g = c.benchmark_group("store");
        let mut s = store_of_50();
        let mut next = 1000u64;
        g.bench_function("notification:new + unread_count, 50 held", |b| {
            b.iter_batched(
                || {
                    next += 1;
                    json!({ "notification": notification(next) })
                },
                |payload| {
                    let fx = s.message(NOW, "notification:new", black_box(&payload));
                    (fx, s.unread_count(), payload)
                },
                BatchSize::SmallInput,
            )
        });

        g.bench_function("mark_read round trip (request + ok reply), 50 held", |b| {
            b.iter_batched(
                store_of_50,
                |mut store| {
                    let fx = store.mark_read(black_box("n17"));
                    let Some(StoreRequest::Push { tag, .. }) = fx.requests.first() else {
                        panic!("mark_read sent no request");
                    };
                    let done = store.reply(NOW, *tag, Ok(&json!({"unread_count": 49})));
                    let count = store.unread_count();
                    (store, fx, done, count)
                },
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }

    /// A client joined to `room:bench` with presence tracked and a `keys`-key room held, its
    /// outputs drained.
    fn client_in_room(keys: usize) -> Client {
        let mut c = Client::new(Config::default(), Box::new(SplitMix64::new(7)));
        c.connect(NOW);
        c.handle_open(NOW);
        let ch = c.channel("room:bench", json!({}));
        c.join(NOW, ch).expect("join");
        let mut join_frame = None;
        while let Some(out) = c.poll_output() {
            if let Output::Send(text) = out {
                if text.contains("phx_join") {
                    join_frame = Some(text);
                }
            }
        }
        let join: Value =
            tether::core::json::parse(&join_frame.expect("a phx_join frame")).expect("frame");
        let (Value::String(join_ref), Value::String(reference)) = (&join[0], &join[1]) else {
            panic!("phx_join without refs");
        };
        let reply = format!(
            r#"["{join_ref}","{reference}","room:bench","phx_reply",{{"status":"ok","response":{{}}}}]"#
        );
        c.handle_text(NOW, &reply);
        c.track_presence(ch, 0);
        let state = format!(
            r#"["{join_ref}",null,"room:bench","presence_state",{}]"#,
            presence_text(keys, 0)
        );
        c.handle_text(NOW, &state);
        while c.poll_output().is_some() {}
        assert_eq!(c.presence(ch).map(|t| t.state.len()), Some(keys));
        c
    }

    /// What the browser driver does per frame: the text in, every output drained.
    fn feed(c: &mut Client, text: &str) -> usize {
        c.handle_text(NOW, text);
        let mut n = 0;
        while let Some(out) = c.poll_output() {
            n += 1;
            black_box(out);
        }
        n
    }

    fn client(c: &mut Criterion) {
        let mut g = c.benchmark_group("client");
        let join = r#"[null,null,"room:bench","presence_diff",{"joins":{"user:4242":{"metas":[{"phx_ref":"X1","name":"User 4242","online_at":1,"device":"phone"}]}},"leaves":{}}]"#;
        let leave = r#"[null,null,"room:bench","presence_diff",{"joins":{},"leaves":{"user:4242":{"metas":[{"phx_ref":"X1","name":"User 4242","online_at":1,"device":"phone"}]}}}]"#;
        let empty = r#"[null,null,"room:bench","presence_diff",{"joins":{},"leaves":{}}]"#;
        let mut room = client_in_room(10_000);
        g.bench_function(
            "presence_diff frames in, join + leave of one key, 10k-key room",
            |b| b.iter(|| feed(&mut room, black_box(join)) + feed(&mut room, black_box(leave))),
        );
        g.bench_function("empty presence_diff frame in, 10k-key room", |b| {
            b.iter(|| feed(&mut room, black_box(empty)))
        });
        g.finish();
    }

    criterion_group!(benches, codec, presence, store, client);
}
