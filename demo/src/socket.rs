//! The loop of one WebSocket connection: read frames, write replies and queued broadcasts,
//! and close with 1012 when the server shuts down.
//!
//! Every client frame but a heartbeat takes a token from the socket's bucket (`--push-rate`);
//! a frame over the rate is answered with the error reply "rate limited" and not handled. A
//! message over `security::MAX_FRAME_BYTES` closes the socket with 1009. A socket silent for the
//! idle timeout is pinged, then closed (`liveness`).

use crate::auth::Identity;
use crate::binary_frame::BinaryPush;
use crate::frame::Frame;
use crate::hub::{Hub, OUTBOX_CAPACITY};
use crate::liveness::{self, Due, Liveness};
use crate::log;
use crate::security::{self, Limiter, PushRate};
use crate::session::{self, BinaryAnswer, Session};
use crate::store::Store;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// WebSocket close code "service restart", sent to every socket on shutdown.
pub const CLOSE_SERVICE_RESTART: u16 = 1012;
/// How long to wait for the client's answering Close frame on shutdown.
const CLOSE_GRACE: Duration = Duration::from_millis(300);

pub async fn run(
    mut socket: WebSocket,
    hub: Arc<Hub>,
    store: Store,
    identity: Option<Identity>,
    peer: SocketAddr,
    push_rate: PushRate,
    idle_timeout: Option<Duration>,
) {
    let conn = hub.next_conn_id();
    let (tx, mut rx) = mpsc::channel::<String>(OUTBOX_CAPACITY);
    match &identity {
        Some(id) => log!("conn {conn}: connected from {peer} as user {}", id.user_id),
        None => log!("conn {conn}: connected from {peer} (anonymous)"),
    }
    let session = Session::new(conn, hub.clone(), tx, store, identity);
    let mut shutdown = hub.shutdown_signal();
    let mut limit = Limiter::new(push_rate);
    let mut live = Liveness::new(idle_timeout, Instant::now());

    let reason = loop {
        tokio::select! {
            () = shutdown_requested(&mut shutdown) => {
                close_for_restart(&mut socket).await;
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
                        if !handle_text(&session, &mut socket, &mut limit, text.as_str()).await {
                            break "send failed";
                        }
                    }
                    Incoming::Binary(bytes) => {
                        if !handle_binary(&session, &mut socket, &mut limit, &bytes).await {
                            break "send failed";
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
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break "send failed";
                }
            }
        }
    };

    let left = session.close();
    limit.report(conn);
    log!(
        "conn {conn}: disconnected ({reason}), left {} topic(s)",
        left.len()
    );
}

/// Decode and handle one text frame; false when the socket can no longer be written.
async fn handle_text(
    session: &Session,
    socket: &mut WebSocket,
    limit: &mut Limiter,
    text: &str,
) -> bool {
    let decoded = Frame::decode(text);
    let heartbeat =
        matches!(&decoded, Ok(f) if f.topic == session::PHOENIX_TOPIC && f.event == "heartbeat");
    if !heartbeat && !limit.allow(session.conn()) {
        // Over the rate: an error reply (when the frame can be answered), nothing else.
        let Ok(frame) = decoded else {
            return true;
        };
        let Some(reply) = rate_limited(
            frame.join_ref.as_deref(),
            frame.ref_.as_deref(),
            &frame.topic,
        ) else {
            return true;
        };
        return socket.send(reply).await.is_ok();
    }
    let frame = match decoded {
        Ok(frame) => frame,
        Err(err) => {
            log!(
                "conn {}: ignoring malformed frame: {err} ({} bytes)",
                session.conn(),
                text.len()
            );
            return true;
        }
    };
    let outs = session.handle(frame).await;
    for out in outs {
        if socket
            .send(Message::Text(out.encode().into()))
            .await
            .is_err()
        {
            return false;
        }
    }
    true
}

/// Decode and handle one binary message (a push whose payload is bytes); false when the socket
/// can no longer be written. Over the rate it is answered as a text push would be.
async fn handle_binary(
    session: &Session,
    socket: &mut WebSocket,
    limit: &mut Limiter,
    bytes: &[u8],
) -> bool {
    let push = match BinaryPush::decode(bytes) {
        Ok(push) => push,
        Err(err) => {
            if limit.allow(session.conn()) {
                log!(
                    "conn {}: ignoring malformed binary frame: {err} ({} bytes)",
                    session.conn(),
                    bytes.len()
                );
            }
            return true;
        }
    };
    let out = if limit.allow(session.conn()) {
        match session.handle_binary(&push) {
            BinaryAnswer::Binary(reply) => Message::Binary(reply.into()),
            BinaryAnswer::Text(frame) => Message::Text(frame.encode().into()),
        }
    } else {
        match rate_limited(push.join_ref.as_deref(), push.ref_.as_deref(), &push.topic) {
            Some(reply) => reply,
            None => return true,
        }
    };
    socket.send(out).await.is_ok()
}

/// The error reply to a frame over the rate, when it has a ref to answer.
fn rate_limited(join_ref: Option<&str>, ref_: Option<&str>, topic: &str) -> Option<Message> {
    ref_?;
    let reply = Frame::reply(
        join_ref,
        ref_,
        topic,
        "error",
        serde_json::json!({ "reason": security::RATE_LIMITED }),
    );
    Some(Message::Text(reply.encode().into()))
}

/// Completes once shutdown has begun (or can no longer be signalled).
async fn shutdown_requested(shutdown: &mut watch::Receiver<bool>) {
    // Map the watch guard (not Send) away before the caller awaits anything else.
    let _ = shutdown.wait_for(|down| *down).await.map(|_| ());
}

async fn close_for_restart(socket: &mut WebSocket) {
    close_with(socket, CLOSE_SERVICE_RESTART, "service restart").await;
}

/// What one read from a client socket means for the socket's loop.
pub(crate) enum Incoming {
    Text(Utf8Bytes),
    /// A binary message (Phoenix binary pushes on `/socket`).
    Binary(axum::body::Bytes),
    /// A message over the size limit: the socket is closed with 1009.
    TooBig,
    /// The socket is done, for this reason.
    End(&'static str),
    /// A ping or a pong (pings are answered by the WebSocket layer itself).
    Control,
}

pub(crate) fn classify(read: Option<Result<Message, axum::Error>>) -> Incoming {
    match read {
        None => Incoming::End("closed"),
        Some(Err(err)) if security::is_too_big(&err) => Incoming::TooBig,
        Some(Err(_)) => Incoming::End("transport error"),
        Some(Ok(Message::Close(_))) => Incoming::End("closed by client"),
        Some(Ok(Message::Text(text))) => Incoming::Text(text),
        Some(Ok(Message::Binary(bytes))) => Incoming::Binary(bytes),
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Incoming::Control,
    }
}

/// Acts on a passed liveness deadline: pings the socket, or closes it for its silence. Returns
/// why the socket's loop must end, if it must.
pub(crate) async fn on_silence(
    socket: &mut WebSocket,
    live: &mut Liveness,
) -> Option<&'static str> {
    match live.due() {
        Due::Ping => socket
            .send(Message::Ping(Default::default()))
            .await
            .err()
            .map(|_| "send failed"),
        Due::Close => {
            close_with(socket, liveness::CLOSE_IDLE, "idle timeout").await;
            Some("idle timeout")
        }
    }
}

/// Sends a Close frame with `code` and waits briefly for the client's answer.
pub(crate) async fn close_with(socket: &mut WebSocket, code: u16, reason: &str) {
    let close = Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason.to_owned()),
    }));
    if socket.send(close).await.is_err() {
        return;
    }
    // Give the client a moment to answer the close handshake. After a read error (a message
    // over the limit keeps failing) just wait, so the client can read the Close frame before
    // the connection is dropped.
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        loop {
            match socket.recv().await {
                None | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
                Some(Err(_)) => std::future::pending::<()>().await,
            }
        }
    })
    .await;
}
