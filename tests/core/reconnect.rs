//! The reconnect schedule and the socket lifecycle: backoff, give-up, uptime reset, deliberate
//! disconnect, offline, hidden page, connect timeout.

use tether::core::{
    Backoff, ChannelState, Config, Event, RandomSource, Schedule, SocketState, SplitMix64,
};

use crate::harness::{exact_config, Harness};

fn cfg_with(reconnect: Backoff) -> Config {
    Config {
        reconnect,
        ..exact_config()
    }
}

/// Fails `n` connection attempts in a row (each socket closes before opening) and returns the
/// Waiting delays seen, checking each reconnect happens exactly at its delay.
fn fail_attempts(h: &mut Harness, n: usize) -> Vec<u64> {
    let mut delays = Vec::new();
    for _ in 0..n {
        h.server_close();
        if h.client.state() == SocketState::Closed {
            break;
        }
        let (_, d) = h.waiting();
        delays.push(d);
        let connects = h.connects.len();
        if d > 0 {
            h.advance(d - 1);
            assert_eq!(
                h.connects.len(),
                connects,
                "reconnected before its delay {d}"
            );
        }
        h.advance(if d > 0 { 1 } else { 0 });
        assert_eq!(
            h.connects.len(),
            connects + 1,
            "no reconnect exactly at its delay {d}"
        );
        assert_eq!(*h.connects.last().unwrap(), h.now);
    }
    delays
}

#[test]
fn exponential_jitter_stays_in_bounds() {
    let (min, max) = (250u64, 30_000u64);
    let mut below_ceiling = 0;
    for seed in 0..300u64 {
        let mut b = Backoff::exponential(min, max, 1.0);
        let mut rng = SplitMix64::new(seed);
        for attempt in 1..=60u32 {
            let ceiling = max.min(min.saturating_mul(1u64 << (attempt - 1).min(40)));
            let d = b.delay(attempt, &mut rng);
            assert!(
                d >= min && d <= ceiling,
                "seed {seed} attempt {attempt}: {d} not in [{min}, {ceiling}]"
            );
            if d < ceiling {
                below_ceiling += 1;
            }
        }
    }
    // Full jitter really spreads the delays.
    assert!(
        below_ceiling > 300 * 50,
        "jitter barely used: {below_ceiling}"
    );
}

#[test]
fn partial_jitter_stays_in_its_band() {
    for seed in 0..200u64 {
        let mut b = Backoff::exponential(1_000, 10_000, 0.5);
        let mut rng = SplitMix64::new(seed);
        for attempt in 1..=10u32 {
            let ceiling = 10_000u64.min(1_000 << (attempt - 1));
            let floor = ceiling - (ceiling - 1_000) / 2;
            let d = b.delay(attempt, &mut rng);
            assert!(
                d >= floor && d <= ceiling,
                "seed {seed} attempt {attempt}: {d} not in [{floor}, {ceiling}]"
            );
        }
    }
}

#[test]
fn client_waiting_delays_stay_in_bounds_for_many_seeds() {
    for seed in 0..40u64 {
        let mut h = Harness::with_seed(Config::default(), seed);
        h.connect();
        let delays = fail_attempts(&mut h, 12);
        for (i, d) in delays.iter().enumerate() {
            let ceiling = 30_000u64.min(250 << i);
            assert!(
                (250..=ceiling).contains(d),
                "seed {seed} attempt {}: {d}",
                i + 1
            );
        }
        let attempts: Vec<u32> = h
            .events
            .iter()
            .filter_map(|e| match e {
                Event::State(SocketState::Waiting { attempt, .. }) => Some(*attempt),
                _ => None,
            })
            .collect();
        assert_eq!(attempts, (1..=12).collect::<Vec<u32>>());
    }
}

#[test]
fn no_jitter_doubles_exactly_up_to_the_cap() {
    let mut h = Harness::new(exact_config());
    h.connect();
    let delays = fail_attempts(&mut h, 10);
    assert_eq!(
        delays,
        vec![250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]
    );
    // And the bare schedule agrees.
    let mut b = Backoff::exponential(250, 30_000, 0.0);
    let mut rng = SplitMix64::new(1);
    let direct: Vec<u64> = (1..=10).map(|a| b.delay(a, &mut rng)).collect();
    assert_eq!(direct, delays);
}

#[test]
fn odd_exponential_parameters_do_not_misbehave() {
    let mut rng = SplitMix64::new(3);
    // min above max: clamped to max.
    let mut b = Backoff::exponential(5_000, 1_000, 1.0);
    assert!((1..=100).all(|a| b.delay(a, &mut rng) == 1_000));
    // Non-finite or out-of-range jitter.
    for jitter in [f64::NAN, f64::INFINITY, -3.0, 7.0] {
        let mut b = Backoff::exponential(100, 10_000, jitter);
        for a in [0, 1, 2, 30, u32::MAX] {
            let d = b.delay(a, &mut rng);
            assert!(
                (100..=10_000).contains(&d),
                "jitter {jitter} attempt {a}: {d}"
            );
        }
    }
    // A huge max is capped to a day.
    let mut b = Backoff::exponential(u64::MAX / 2, u64::MAX, 0.0);
    assert_eq!(b.delay(64, &mut rng), 86_400_000);
    // A broken random source (outside [0,1)) is clamped.
    struct Bad(f64);
    impl RandomSource for Bad {
        fn next_f64(&mut self) -> f64 {
            self.0
        }
    }
    let mut b = Backoff::exponential(100, 1_000, 1.0);
    for r in [-5.0, 5.0, f64::NAN, f64::INFINITY] {
        let d = b.delay(8, &mut Bad(r));
        assert!((100..=1_000).contains(&d), "r {r}: {d}");
    }
}

#[test]
fn table_schedule_is_honoured() {
    let table = vec![10, 50, 100, 150, 200, 250, 500, 1_000, 2_000, 5_000];
    let mut h = Harness::new(cfg_with(Backoff {
        schedule: Schedule::Table(table.clone()),
        max_attempts: None,
        reset_after_ms: 0,
    }));
    h.connect();
    let delays = fail_attempts(&mut h, 13);
    let mut expected = table.clone();
    expected.extend([5_000, 5_000, 5_000]);
    assert_eq!(delays, expected);
    // An empty table retries at once.
    let mut b = Backoff {
        schedule: Schedule::Table(vec![]),
        max_attempts: None,
        reset_after_ms: 0,
    };
    assert_eq!(b.delay(3, &mut SplitMix64::new(0)), 0);
}

#[test]
fn custom_schedule_is_honoured() {
    let mut h = Harness::new(cfg_with(Backoff {
        schedule: Schedule::Custom(Box::new(|attempt| 1_000 + 7 * u64::from(attempt))),
        max_attempts: None,
        reset_after_ms: 0,
    }));
    h.connect();
    assert_eq!(fail_attempts(&mut h, 4), vec![1_007, 1_014, 1_021, 1_028]);
    // A custom schedule returning something absurd is capped to a day.
    let mut b = Backoff {
        schedule: Schedule::Custom(Box::new(|_| u64::MAX)),
        max_attempts: None,
        reset_after_ms: 0,
    };
    assert_eq!(b.delay(1, &mut SplitMix64::new(0)), 86_400_000);
}

#[test]
fn retry_with_zero_delay_connects_in_the_same_instant() {
    let mut h = Harness::new(cfg_with(Backoff {
        schedule: Schedule::Table(vec![0]),
        max_attempts: None,
        reset_after_ms: 0,
    }));
    h.connect();
    let t = h.now;
    assert_eq!(fail_attempts(&mut h, 3), vec![0, 0, 0]);
    assert_eq!(h.now, t);
    assert_eq!(h.connects.len(), 4);
}

#[test]
fn max_attempts_gives_up() {
    let mut h = Harness::new(cfg_with(Backoff {
        schedule: Schedule::Exponential {
            min_ms: 100,
            max_ms: 1_000,
            jitter: 0.0,
        },
        max_attempts: Some(3),
        reset_after_ms: 0,
    }));
    h.connect();
    let delays = fail_attempts(&mut h, 10);
    assert_eq!(delays, vec![100, 200, 400]);
    assert_eq!(h.client.state(), SocketState::Closed);
    assert_eq!(h.errors(), vec!["gave_up"]);
    assert!(matches!(
        h.events.last(),
        Some(Event::Error {
            code: "gave_up",
            ..
        })
    ));
    let connects = h.connects.len();
    assert_eq!(connects, 4);
    h.advance(3_600_000);
    h.set_online(false);
    h.set_online(true);
    h.set_visible(false);
    h.set_visible(true);
    h.advance(3_600_000);
    assert_eq!(h.connects.len(), connects, "reconnected after giving up");
    assert_eq!(h.client.state(), SocketState::Closed);
    // connect() starts over with a fresh budget.
    h.connect();
    assert_eq!(h.connects.len(), connects + 1);
    assert_eq!(fail_attempts(&mut h, 10), vec![100, 200, 400]);
}

#[test]
fn memoriesdb_hub_schedule() {
    // The hub's client: `min(1000 · 2^n, 30000)` for n = 0.., reset on open, give up after 5 tries.
    let hub = Backoff {
        schedule: Schedule::Exponential {
            min_ms: 1_000,
            max_ms: 30_000,
            jitter: 0.0,
        },
        max_attempts: Some(5),
        reset_after_ms: 0,
    };
    let mut h = Harness::new(cfg_with(hub));
    h.connect();
    h.open();
    // A connection that opened resets the counter, however briefly it was up.
    h.advance(10);
    h.server_close();
    assert_eq!(h.waiting(), (1, 1_000));
    h.advance(1_000);
    assert_eq!(fail_attempts(&mut h, 10), vec![2_000, 4_000, 8_000, 16_000]);
    assert_eq!(h.client.state(), SocketState::Closed);
    assert_eq!(h.errors(), vec!["gave_up"]);
    // From scratch: exactly the hub's five delays, then nothing.
    let mut h = Harness::new(cfg_with(Backoff {
        schedule: Schedule::Exponential {
            min_ms: 1_000,
            max_ms: 30_000,
            jitter: 0.0,
        },
        max_attempts: Some(5),
        reset_after_ms: 0,
    }));
    h.connect();
    assert_eq!(
        fail_attempts(&mut h, 10),
        vec![1_000, 2_000, 4_000, 8_000, 16_000]
    );
    assert_eq!(h.connects.len(), 6);
    h.advance(86_400_000);
    assert_eq!(h.connects.len(), 6);
}

#[test]
fn short_uptime_does_not_reset_the_attempt_counter_long_uptime_does() {
    let mut h = Harness::new(exact_config()); // reset_after_ms 5000
    h.connect();
    h.server_close();
    assert_eq!(h.waiting(), (1, 250));
    h.advance(250);
    h.open();
    h.advance(4_999);
    h.server_close();
    assert_eq!(
        h.waiting(),
        (2, 500),
        "a connection up 4999 ms must not reset the counter"
    );
    h.advance(500);
    h.open();
    h.advance(1_000);
    h.server_close();
    assert_eq!(h.waiting(), (3, 1_000));
    h.advance(1_000);
    h.open();
    h.advance(5_000);
    h.server_close();
    assert_eq!(
        h.waiting(),
        (1, 250),
        "a connection up 5000 ms resets the counter"
    );
}

#[test]
fn waiting_state_carries_the_delay_actually_used() {
    for seed in [1u64, 2, 3, 99, 12345] {
        let mut h = Harness::with_seed(Config::default(), seed);
        h.connect();
        h.open();
        h.advance(10_000);
        for _ in 0..6 {
            h.server_close();
            let (_, d) = h.waiting();
            // The State event carries the same.
            assert!(
                matches!(h.events.last(), Some(Event::State(SocketState::Waiting { retry_in_ms, .. })) if *retry_in_ms == d)
            );
            assert_eq!(h.client.poll_timeout(), Some(h.now + d));
            let n = h.connects.len();
            let at = h.now + d;
            h.advance(d.saturating_sub(1));
            assert_eq!(h.connects.len(), n);
            h.advance_to(at);
            assert_eq!(h.connects, [h.connects[..n].to_vec(), vec![at]].concat());
            h.open();
            h.advance(100);
        }
    }
}

#[test]
fn deliberate_disconnect_is_final() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.channel("room:a");
    h.join(ch);
    h.reply_last("phx_join", "ok", json!({}));
    h.disconnect();
    assert_eq!(h.closes.len(), 1);
    assert_eq!(h.closes[0].0, 1000);
    assert_eq!(h.client.state(), SocketState::Closed);
    // The socket's own close event arrives later and changes nothing.
    h.client.handle_close(h.now, 1000, "client disconnect");
    h.pump();
    assert_eq!(h.client.state(), SocketState::Closed);
    let sent = h.sent.len();
    for _ in 0..3 {
        h.set_online(false);
        h.advance(1_000);
        h.set_online(true);
        h.set_visible(false);
        h.advance(1_000);
        h.set_visible(true);
    }
    h.advance(86_400_000);
    assert_eq!(h.connects.len(), 1, "a deliberate disconnect was undone");
    assert_eq!(h.sent.len(), sent);
    assert_eq!(h.client.state(), SocketState::Closed);
    // connect() again works, and the channel rejoins.
    h.connect();
    assert_eq!(h.connects.len(), 2);
    h.open();
    assert_eq!(h.ch_state(ch), ChannelState::Joining);
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.joined_events(ch), vec![false, true]);
}

#[test]
fn disconnect_while_waiting_or_connecting_stops_retrying() {
    let mut h = Harness::new(exact_config());
    h.connect();
    h.server_close();
    assert!(matches!(h.client.state(), SocketState::Waiting { .. }));
    h.disconnect();
    assert_eq!(h.client.state(), SocketState::Closed);
    assert!(h.closes.is_empty(), "no socket to close while waiting");
    h.advance(3_600_000);
    assert_eq!(h.connects.len(), 1);

    h.connect();
    assert_eq!(h.client.state(), SocketState::Connecting);
    h.disconnect();
    assert_eq!(h.closes.len(), 1);
    h.advance(3_600_000);
    assert_eq!(h.connects.len(), 2);
    assert_eq!(
        h.errors(),
        Vec::<&str>::new(),
        "no connect_timeout for an abandoned socket"
    );
}

#[test]
fn connect_after_disconnect_starts_a_fresh_backoff() {
    let mut h = Harness::new(exact_config());
    h.connect();
    assert_eq!(fail_attempts(&mut h, 4), vec![250, 500, 1_000, 2_000]);
    h.disconnect();
    h.connect();
    h.server_close();
    assert_eq!(
        h.waiting(),
        (1, 250),
        "attempts of an earlier session counted against a new one"
    );
}

#[test]
fn offline_waits_for_the_network() {
    let mut h = Harness::new(exact_config());
    h.connected();
    h.server_close();
    assert!(matches!(h.client.state(), SocketState::Waiting { .. }));
    h.set_online(false);
    assert_eq!(h.client.state(), SocketState::Offline);
    h.advance(3_600_000);
    assert_eq!(h.connects.len(), 1, "connected while offline");
    assert_eq!(h.client.state(), SocketState::Offline);
    h.set_online(true);
    assert_eq!(h.connects.len(), 2);
    assert_eq!(
        *h.connects.last().unwrap(),
        h.now,
        "not at once when back online"
    );
    assert_eq!(h.client.state(), SocketState::Connecting);
    h.open();
    assert_eq!(h.client.state(), SocketState::Open);
}

#[test]
fn offline_while_open_then_close_goes_offline_and_connect_while_offline_waits() {
    let mut h = Harness::new(exact_config());
    h.connected();
    h.set_online(false);
    assert_eq!(
        h.client.state(),
        SocketState::Open,
        "the socket may still work"
    );
    h.server_close();
    assert_eq!(h.client.state(), SocketState::Offline);
    h.advance(600_000);
    assert_eq!(h.connects.len(), 1);
    h.set_online(true);
    assert_eq!(h.connects.len(), 2);

    let mut h = Harness::new(exact_config());
    h.set_online(false);
    h.connect();
    assert_eq!(h.client.state(), SocketState::Offline);
    h.advance(600_000);
    assert!(h.connects.is_empty());
    h.set_online(true);
    assert_eq!(h.connects, vec![h.now]);
}

#[test]
fn hidden_page_does_not_reconnect_until_visible() {
    let mut h = Harness::new(exact_config());
    h.connected();
    h.set_visible(false);
    h.server_close();
    let (_, d) = h.waiting();
    h.advance(d + 3_600_000);
    assert_eq!(h.connects.len(), 1, "a hidden page reconnected");
    h.set_visible(true);
    assert_eq!(h.connects.len(), 2);
    assert_eq!(*h.connects.last().unwrap(), h.now);
    h.open();
    assert_eq!(h.client.state(), SocketState::Open);
}

#[test]
fn becoming_visible_before_the_retry_connects_at_once() {
    let mut h = Harness::new(exact_config());
    h.connected();
    h.server_close();
    h.set_visible(false);
    h.advance(100);
    h.set_visible(true);
    assert_eq!(h.connects.len(), 2);
    // The old retry timer does not produce a second connect.
    h.advance(10_000);
    assert_eq!(h.connects.len(), 2);
}

#[test]
fn connect_timeout_abandons_the_socket() {
    let mut h = Harness::new(exact_config());
    h.connect();
    let t0 = h.now;
    h.advance(9_999);
    assert!(h.closes.is_empty());
    h.advance(1);
    assert_eq!(h.closes.len(), 1);
    assert_eq!(h.closes[0].2, t0 + 10_000);
    assert_eq!(h.closes[0].1, "connect timeout");
    assert_eq!(h.connection_errors(), vec!["connect_failed"]);
    let report = &h.connection_reports()[0];
    assert_eq!(
        (report.attempt, report.close_code, report.retry_in_ms),
        (1, None, Some(250))
    );
    assert!(
        report.message.contains("did not open in time"),
        "{}",
        report.message
    );
    assert_eq!(h.waiting(), (1, 250));
    h.advance(250);
    assert_eq!(h.connects.len(), 2);
    // A late open of the new socket works normally.
    h.open();
    assert_eq!(h.client.state(), SocketState::Open);
    h.advance(20_000);
    assert_eq!(h.closes.len(), 1);
}
