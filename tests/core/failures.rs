//! Failures speak: every failed connection attempt is reported with its attempt number, close
//! code and retry delay; a close code picks the next step (the defaults, or the app's
//! `reconnect.onClose`); a refused join is reported with the server's response.

use tether::core::{
    Backoff, CloseAction, ClosePolicy, Config, Event, Schedule, SocketState, Telemetry,
};

use crate::harness::{exact_config, Harness, Sock};

fn cfg() -> Config {
    Config {
        heartbeat_ms: 3_600_000,
        ..exact_config()
    }
}

#[test]
fn every_failed_attempt_is_reported_with_its_number_code_and_delay() {
    let mut h = Harness::new(cfg());
    h.connect();
    let mut delays = Vec::new();
    for _ in 0..4 {
        h.server_close(); // closed before it opened: a refused upgrade, a dead server
        let (_, delay) = h.waiting();
        delays.push(delay);
        h.advance(delay);
    }
    let reports = h.connection_reports();
    assert_eq!(reports.len(), 4, "one report per failed attempt");
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(r.code, "connect_failed");
        assert_eq!(r.attempt, i as u32 + 1);
        assert_eq!(r.close_code, Some(1006));
        assert_eq!(r.retry_in_ms, Some(delays[i]), "the delay the state shows");
        assert!(
            r.message
                .starts_with(&format!("connect attempt {} failed", i + 1)),
            "{}",
            r.message
        );
        assert!(
            r.message.contains("check that the server is up"),
            "{}",
            r.message
        );
        assert!(
            r.message
                .ends_with(&format!("retrying in {} ms", delays[i])),
            "{}",
            r.message
        );
    }
    assert_eq!(delays, vec![250, 500, 1_000, 2_000]);
    // A connection that opens ends the run: nothing more is reported.
    h.open();
    h.advance(60_000);
    assert_eq!(h.connection_reports().len(), 4);
}

#[test]
fn an_open_failure_of_the_driver_is_a_failed_attempt() {
    let mut h = Harness::new(cfg());
    h.connect();
    h.sock = Sock::None; // the driver made no socket
    h.client
        .handle_connect_error(h.now, "the socket's params or token failed: no token");
    h.pump();
    let r = &h.connection_reports()[0];
    assert_eq!(
        (r.code, r.attempt, r.close_code),
        ("connect_failed", 1, None)
    );
    assert!(
        r.message
            .contains("failed: the socket's params or token failed: no token"),
        "{}",
        r.message
    );
    assert_eq!(h.waiting(), (1, 250));
    // Not while connected: the input is ignored.
    h.advance(250);
    h.open();
    h.client.handle_connect_error(h.now, "late");
    h.pump();
    assert_eq!(h.client.state(), SocketState::Open);
    assert_eq!(h.connection_reports().len(), 1);
}

#[test]
fn a_lost_connection_is_reported_but_a_clean_close_only_changes_the_state() {
    let mut h = Harness::new(cfg());
    h.connected();
    h.server_close(); // 1006: unclean
    assert_eq!(h.connection_errors(), vec!["connection_lost"]);
    let r = &h.connection_reports()[0];
    assert_eq!(
        (r.attempt, r.close_code, r.retry_in_ms),
        (1, Some(1006), Some(250))
    );
    h.advance(250);
    h.open();
    h.advance(10_000); // up long enough to reset the attempt counter
    h.server_close_with(1000, "bye");
    h.advance(250);
    h.open();
    h.advance(10_000);
    h.server_close_with(1012, "restarting");
    assert_eq!(
        h.connection_errors(),
        vec!["connection_lost"],
        "clean closes are not errors"
    );
}

#[test]
fn unauthorized_closes_are_reported_and_retried_only_at_the_slowest_step() {
    let mut h = Harness::new(cfg());
    h.connect();
    for (i, code) in [4401u16, 1008, 4401].into_iter().enumerate() {
        // The demo server accepts the upgrade and closes at once with 4401.
        h.open();
        h.server_close_with(code, "unauthorized: token expired");
        let r = h.connection_reports().pop().expect("a report");
        assert_eq!(r.code, "unauthorized");
        assert_eq!(r.attempt, i as u32 + 1, "the attempts keep counting");
        assert_eq!(r.close_code, Some(code));
        assert_eq!(r.close_reason, "unauthorized: token expired");
        assert_eq!(r.retry_in_ms, Some(30_000), "maxMs, however few attempts");
        assert!(
            r.message.contains("refused the connection as unauthorized"),
            "{}",
            r.message
        );
        assert!(r.message.contains("token expired"), "{}", r.message);
        assert_eq!(h.waiting(), (i as u32 + 1, 30_000));
        h.advance(29_999);
        assert_eq!(h.connects.len(), i + 1, "not before the slowest step");
        h.advance(1);
        assert_eq!(h.connects.len(), i + 2);
    }
}

#[test]
fn server_restart_codes_retry_soon_with_jitter() {
    for seed in 0..20 {
        let mut h = Harness::with_seed(
            Config {
                reconnect: Backoff::exponential(1_000, 30_000, 1.0),
                ..cfg()
            },
            seed,
        );
        h.connected();
        h.advance(10_000);
        h.server_close_with(1012, "service restart");
        let (attempt, delay) = h.waiting();
        assert_eq!(attempt, 1);
        assert!(delay <= 1_000, "within the first step: {delay}");
    }
}

#[test]
fn the_apps_rule_decides_and_the_defaults_fill_in() {
    let config = Config {
        close_policy: ClosePolicy::custom(Box::new(|code, reason| match code {
            4000 if reason == "banned" => Some(CloseAction::Stop),
            4001 => Some(CloseAction::Slow),
            _ => None,
        })),
        ..cfg()
    };
    let mut h = Harness::new(config);
    h.connected();
    h.server_close_with(4001, "");
    assert_eq!(h.waiting(), (1, 30_000));
    h.advance(30_000);
    h.open();
    h.advance(10_000);
    h.server_close_with(4401, "unauthorized"); // no answer from the rule: the default
    assert_eq!(h.waiting(), (1, 30_000));
    h.advance(30_000);
    h.open();
    h.server_close_with(4000, "banned");
    assert_eq!(h.client.state(), SocketState::Closed);
    let connects = h.connects.len();
    h.advance(3_600_000);
    assert_eq!(h.connects.len(), connects, "stopped: no reconnect");
    let r = h.connection_reports().pop().expect("the stop is reported");
    assert_eq!(r.retry_in_ms, None);
    assert!(r.message.contains("not retrying"), "{}", r.message);
    // connect() starts again.
    h.connect();
    assert_eq!(h.connects.len(), connects + 1);
}

#[test]
fn max_attempts_reports_each_failure_then_gives_up() {
    let mut h = Harness::new(Config {
        reconnect: Backoff {
            schedule: Schedule::Table(vec![100]),
            max_attempts: Some(2),
            reset_after_ms: 0,
        },
        ..cfg()
    });
    h.connect();
    h.server_close();
    h.advance(100);
    h.server_close();
    h.advance(100);
    h.server_close();
    assert_eq!(h.client.state(), SocketState::Closed);
    let reports = h.connection_reports();
    assert_eq!(
        reports.iter().map(|r| r.retry_in_ms).collect::<Vec<_>>(),
        vec![Some(100), Some(100), None]
    );
    assert!(
        reports[2].message.ends_with("not retrying"),
        "{}",
        reports[2].message
    );
    // The last failure comes before the `gave_up` that ends the run.
    let last_report = h
        .events
        .iter()
        .rposition(|e| matches!(e, Event::Connection(_)))
        .expect("reported");
    let gave_up = h
        .events
        .iter()
        .position(|e| {
            matches!(
                e,
                Event::Error {
                    code: "gave_up",
                    ..
                }
            )
        })
        .expect("gave up");
    assert!(last_report < gave_up);
}

#[test]
fn telemetry_calls_an_attempt_that_never_opened_a_failed_connect() {
    let mut h = Harness::new(cfg());
    h.client.set_telemetry(true);
    h.connect();
    h.advance(40);
    h.server_close();
    h.advance(250);
    h.open();
    h.advance(1_000);
    h.server_close();
    let t: Vec<Telemetry> = h
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Telemetry(t)
                if matches!(t.event, "connect" | "connect_failed" | "disconnect") =>
            {
                Some(t.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        t.iter().map(|t| t.event).collect::<Vec<_>>(),
        vec!["connect_failed", "connect", "disconnect"]
    );
    assert_eq!(t[0].attempt, Some(1));
    assert_eq!(t[0].code.as_deref(), Some("1006"));
    assert_eq!(t[0].duration_ms, Some(40));
    assert_eq!(t[2].duration_ms, Some(1_000), "time it was up");
}
