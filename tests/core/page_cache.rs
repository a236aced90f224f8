//! `pagehide` / `pageshow` (the back-forward cache), as phoenix.js handles them: a live
//! connection is closed when the page goes away and opened again when it comes back, unless the
//! app connected or disconnected in between.

use tether::core::{ChannelState, SocketState};

use crate::harness::{exact_config, Harness};

#[test]
fn pagehide_closes_a_live_connection_and_pageshow_reconnects_and_rejoins() {
    let mut h = Harness::new(exact_config());
    h.connected();
    let ch = h.channel("room:bfcache");
    h.join(ch);
    h.reply_last("phx_join", "ok", json!({}));

    h.client.page_hidden(h.now);
    h.pump();
    assert_eq!(
        h.closes.last().map(|c| (c.0, c.1.as_str())),
        Some((1000, "page hidden"))
    );
    assert_eq!(h.client.state(), SocketState::Closed);
    assert_eq!(
        h.ch_state(ch),
        ChannelState::Errored,
        "rejoined when the page returns"
    );
    // Nothing happens while the page is in the cache, however long.
    let connects = h.connects.len();
    h.advance(600_000);
    assert_eq!(h.connects.len(), connects);

    h.client.page_shown(h.now);
    h.pump();
    assert_eq!(h.connects.len(), connects + 1, "connects at once");
    h.open();
    let joins = h.count_sent("phx_join");
    assert!(joins >= 2, "the channel rejoins on the new connection");
    h.reply_last("phx_join", "ok", json!({}));
    assert_eq!(h.joined_events(ch), vec![false, true]);
    // A second pageshow does nothing more.
    h.client.page_shown(h.now);
    h.pump();
    assert_eq!(h.connects.len(), connects + 1);
}

#[test]
fn pagehide_while_waiting_to_retry_stops_the_retries_until_pageshow() {
    let mut h = Harness::new(exact_config());
    h.connected();
    h.server_close();
    assert!(matches!(h.client.state(), SocketState::Waiting { .. }));
    h.client.page_hidden(h.now);
    h.pump();
    assert_eq!(h.client.state(), SocketState::Closed);
    let connects = h.connects.len();
    h.advance(60_000);
    assert_eq!(
        h.connects.len(),
        connects,
        "no retry while the page is away"
    );
    h.client.page_shown(h.now);
    h.pump();
    assert_eq!(h.connects.len(), connects + 1);
}

#[test]
fn the_apps_own_connect_or_disconnect_wins_over_pageshow() {
    // Disconnected by the app after pagehide: pageshow leaves it disconnected.
    let mut h = Harness::new(exact_config());
    h.connected();
    h.client.page_hidden(h.now);
    h.client.disconnect(h.now);
    h.pump();
    let connects = h.connects.len();
    h.client.page_shown(h.now);
    h.pump();
    assert_eq!(h.connects.len(), connects);
    assert_eq!(h.client.state(), SocketState::Closed);

    // Never connected, or disconnected before: pagehide and pageshow change nothing.
    let mut idle = Harness::new(exact_config());
    idle.client.page_hidden(idle.now);
    idle.client.page_shown(idle.now);
    idle.pump();
    assert!(idle.connects.is_empty());
    assert!(idle.closes.is_empty());

    // Connected again by the app meanwhile: pageshow adds nothing.
    let mut again = Harness::new(exact_config());
    again.connected();
    again.client.page_hidden(again.now);
    again.pump();
    again.connect();
    let connects = again.connects.len();
    again.client.page_shown(again.now);
    again.pump();
    assert_eq!(again.connects.len(), connects);
}
