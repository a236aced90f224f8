//! Two extra WebSocket dialects bridged onto the Phoenix endpoint's topics.
//!
//! - `GET /ws?c=<channel>&c=…` — the MemoriesDB hub dialect (see [`hub_ws`]).
//! - `GET /nova/<topic>` and `GET /notifications` (= `/nova/room:lobby`) — the nova_pubsub
//!   dialect (see [`nova_ws`]).
//!
//! A dialect connection is a plain (untracked, presence-less) member of the [`Hub`] topics it
//! listens to, so it gets every broadcast on them through the very same fan-out as a Phoenix
//! client — exactly once — and only re-encodes the `[null, null, topic, event, payload]` text it
//! is handed. Publishing from the hub dialect goes through `Hub::broadcast` too, so Phoenix
//! clients, hub subscribers and nova clients of a topic all see one broadcast.
//!
//! Both dialects are anonymous. The hub creates channels on demand (any name within its rules,
//! never a user's private `user:…` topic; a refused list opens the socket and closes it at once
//! with a 4xxx code and a reason, see [`hub_ws`]); nova may only listen to `room:*` topics
//! (anything else gets 403 before the upgrade). The Origin allow-list and the push rate of
//! `--allowed-origins` / `--push-rate` apply as for `/socket/websocket`, and so does the 1 MiB
//! message limit.
//!
//! Subscriptions are registered *before* the 101 response goes out, so a broadcast made after the
//! client sees its socket open always reaches it.

pub mod hub_ws;
pub mod nova_ws;

use crate::channels::{self, Channel};
use crate::frame::Frame;
use crate::hub::{ConnId, Hub, Member, OUTBOX_CAPACITY};
use crate::liveness::{self, Liveness};
use crate::log;
use crate::security::{self, Limiter};
use crate::socket::{classify, close_with, on_silence, Incoming, CLOSE_SERVICE_RESTART};
use crate::state::{AppState, MAX_MESSAGE_BYTES};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// The dialect routes, merged into `http::router`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ws", get(hub_ws::upgrade))
        .route("/notifications", get(nova_ws::notifications_alias))
        .route("/nova/{*topic}", get(nova_ws::upgrade))
}

/// Whether an anonymous nova connection may listen on `topic` (the hub has its own rules:
/// [`hub_ws::hub_channel`]).
pub fn allowed_topic(topic: &str) -> bool {
    channels::route(topic) == Some(Channel::Room)
}

/// One dialect's wire format.
pub(crate) trait Codec: Send + 'static {
    /// `"hub"` or `"nova"`, for logs.
    const NAME: &'static str;

    /// This dialect's text for one hub frame (a Phoenix broadcast), or `None` to drop it.
    fn outbound(&self, frame: Frame) -> Option<String>;

    /// Handle one client text frame; returns a text to send straight back, if any.
    fn inbound(&mut self, ctx: &mut Ctx, text: &str) -> Option<String>;
}

/// What a codec may use while handling a client frame.
pub(crate) struct Ctx {
    pub conn: ConnId,
    pub hub: Arc<Hub>,
    limit: Limiter,
    /// See [`crate::liveness`].
    idle_timeout: Option<Duration>,
}

impl Ctx {
    /// Take a token for one client frame (false, logged once per run, when over the rate).
    pub fn allow(&mut self) -> bool {
        self.limit.allow(self.conn)
    }
}

/// Refuses an upgrade that the Phoenix endpoint would refuse too: shutdown in progress or an
/// `Origin` that is present and not allowed.
fn refuse(state: &AppState, headers: &HeaderMap, peer: SocketAddr, what: &str) -> Option<Response> {
    if state.hub.is_shutting_down() {
        return Some((StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response());
    }
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !state.security.origins.allows(origin, host) {
        let shown: String = origin.unwrap_or("").chars().take(100).collect();
        log!("{what} websocket from {peer} refused: origin {shown:?} not allowed");
        return Some((StatusCode::FORBIDDEN, "origin not allowed").into_response());
    }
    None
}

/// Accepts the upgrade and closes the socket at once with `code` and `reason` (a browser
/// cannot read the status of a refused upgrade, only a close).
fn close_at_once(
    ws: WebSocketUpgrade,
    state: &AppState,
    peer: SocketAddr,
    code: u16,
    reason: String,
) -> Response {
    let sockets = state.sockets.clone();
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_failed_upgrade(move |err| log!("upgrade from {peer} failed: {err}"))
        .on_upgrade(move |mut socket| {
            sockets.track_future(async move { close_with(&mut socket, code, &reason).await })
        })
}

/// Removes the connection's memberships when dropped (also when the upgrade never happens).
struct Membership {
    hub: Arc<Hub>,
    conn: ConnId,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.hub.remove_conn(self.conn);
    }
}

/// Join `topics` now (before the 101 goes out) and upgrade to a socket run by `codec`.
fn accept<C: Codec>(
    ws: WebSocketUpgrade,
    state: &AppState,
    peer: SocketAddr,
    topics: Vec<String>,
    codec: C,
) -> Response {
    let hub = state.hub.clone();
    let conn = hub.next_conn_id();
    let (tx, rx) = mpsc::channel::<String>(OUTBOX_CAPACITY);
    for topic in &topics {
        let member = Member {
            conn,
            join_ref: None,
            name: C::NAME.to_owned(),
            tx: tx.clone(),
        };
        hub.join(topic, member);
    }
    drop(tx);
    let membership = Membership {
        hub: hub.clone(),
        conn,
    };
    log!(
        "conn {conn}: {} websocket from {peer} on {:?}",
        C::NAME,
        topics
    );
    let ctx = Ctx {
        conn,
        hub,
        limit: Limiter::new(state.security.push_rate),
        idle_timeout: state.security.idle_timeout,
    };
    let sockets = state.sockets.clone();
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_failed_upgrade(move |err| {
            log!("conn {conn}: {} upgrade from {peer} failed: {err}", C::NAME)
        })
        .on_upgrade(move |socket| sockets.track_future(run(socket, ctx, codec, rx, membership)))
}

/// The loop of one dialect socket: client frames to the codec, hub frames re-encoded out.
async fn run<C: Codec>(
    mut socket: WebSocket,
    mut ctx: Ctx,
    mut codec: C,
    mut rx: mpsc::Receiver<String>,
    membership: Membership,
) {
    let conn = ctx.conn;
    let mut shutdown = ctx.hub.shutdown_signal();
    let mut live = Liveness::new(ctx.idle_timeout, Instant::now());
    let reason = loop {
        tokio::select! {
            () = shutdown_requested(&mut shutdown) => {
                close_with(&mut socket, CLOSE_SERVICE_RESTART, "service restart").await;
                break "server shutdown";
            }
            () = liveness::until(live.deadline()) => {
                if let Some(reason) = on_silence(&mut socket, &mut live).await {
                    break reason;
                }
            }
            incoming = socket.recv() => {
                live.heard(Instant::now());
                match classify(incoming) {
                    Incoming::Text(text) => {
                        if let Some(reply) = codec.inbound(&mut ctx, text.as_str()) {
                            if socket.send(Message::Text(reply.into())).await.is_err() {
                                break "send failed";
                            }
                        }
                    }
                    Incoming::Binary(bytes) => {
                        if ctx.allow() {
                            log!("conn {conn}: ignoring binary frame ({} bytes)", bytes.len());
                        }
                    }
                    Incoming::TooBig => {
                        close_with(&mut socket, security::CLOSE_MESSAGE_TOO_BIG, "message too big")
                            .await;
                        break "message too big";
                    }
                    Incoming::End(reason) => break reason,
                    Incoming::Control => {}
                }
            }
            Some(text) = rx.recv() => {
                let out = match Frame::decode(&text) {
                    Ok(frame) => codec.outbound(frame),
                    Err(err) => {
                        log!("conn {conn}: dropping undecodable hub frame: {err}");
                        None
                    }
                };
                if let Some(out) = out {
                    if socket.send(Message::Text(out.into())).await.is_err() {
                        break "send failed";
                    }
                }
            }
        }
    };
    drop(membership);
    ctx.limit.report(conn);
    log!("conn {conn}: {} websocket disconnected ({reason})", C::NAME);
}

/// Completes once shutdown has begun (or can no longer be signalled).
async fn shutdown_requested(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    // Map the watch guard (not Send) away before the caller awaits anything else.
    let _ = shutdown.wait_for(|down| *down).await.map(|_| ());
}
