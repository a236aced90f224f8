//! HTTP routes: health check, presence state, sign-in, notifications, the Phoenix WebSocket
//! endpoint, static files.
//!
//! - `POST /api/session` `{name}` → `{user_id, name, token, topic}`
//! - `POST /api/notify` `{user, kind, title, body?, data?, expires_in_ms?}` →
//!   `{notification, delivered}`; 400 `{error}` when invalid
//! - `GET /api/notifications/<user_id>` → `{unread_count, total, items}` (all stored, newest
//!   first; for tests and debugging, no auth)
//! - CORS on `/api/*` for the `--allowed-origins` list (see [`cors`]), so an app served from
//!   another origin (a Vite dev server) can sign in and post
//! - `GET /socket/websocket` — token from `?token=` or the `base64url.bearer.phx.<…>`
//!   subprotocol; a socket whose token is there but invalid (malformed, forged, expired, two
//!   different ones) is accepted and closed at once with 4401 and a reason
//!   `"unauthorized: <what is wrong>"` (no token at all is an anonymous socket: rooms only). An
//!   `Origin` that is present and not allowed gets 403 before the upgrade (see `security`).

use crate::auth;
use crate::channels::notifications;
use crate::clock::now_ms;
use crate::log;
use crate::socket;
use crate::store::{
    Kind, NewNotification, Notification, StoreError, MAX_BODY_CHARS, MAX_DATA_BYTES,
    MAX_EXPIRES_IN_MS, MAX_TITLE_CHARS,
};
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use tower_http::services::ServeDir;

pub use crate::state::{AppState, MAX_MESSAGE_BYTES};

pub fn router(state: AppState, static_dir: &std::path::Path) -> Router {
    let cors = axum::middleware::from_fn_with_state(state.clone(), cors);
    Router::new()
        .route("/api/health", get(health))
        .route("/api/presence/{*topic}", get(presence))
        .route("/api/session", post(sign_in))
        .route("/api/notify", post(notify))
        .route("/api/notifications/{user_id}", get(list_notifications))
        .route("/socket/websocket", get(websocket))
        .merge(crate::dialects::routes())
        .fallback_service(ServeDir::new(static_dir))
        .layer(cors)
        .with_state(state)
}

/// CORS for `/api/*`, from the same allow-list as the WebSocket's `Origin` check
/// (`--allowed-origins`): a request whose `Origin` is on it gets that origin back in
/// `Access-Control-Allow-Origin` (never `*`, never `null`); a preflight (`OPTIONS` with
/// `Access-Control-Request-Method`) from it is answered 204 for `GET`/`POST` with a
/// `Content-Type` header, one from another origin 403 with no CORS header. Requests without
/// `Origin` (curl, Node, same-origin `GET`s) are left as they are. No credentials are allowed:
/// the API uses no cookies (`/api/session` returns its token in the body).
async fn cors(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        return next.run(req).await;
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    let allowed = match origin.to_str() {
        Ok(o) => o != "null" && state.security.origins.allows(Some(o), host),
        Err(_) => false,
    };
    let preflight = req.method() == axum::http::Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        if !allowed {
            let shown: String = String::from_utf8_lossy(origin.as_bytes())
                .chars()
                .take(100)
                .collect();
            log!("CORS preflight from origin {shown:?} refused: not in --allowed-origins");
            return (
                StatusCode::FORBIDDEN,
                [(header::VARY, "Origin")],
                "origin not allowed (see the demo server's --allowed-origins)",
            )
                .into_response();
        }
        return (
            StatusCode::NO_CONTENT,
            [
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, origin),
                (
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    header::HeaderValue::from_static("GET, POST"),
                ),
                (
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    header::HeaderValue::from_static("content-type"),
                ),
                (
                    header::ACCESS_CONTROL_MAX_AGE,
                    header::HeaderValue::from_static("600"),
                ),
                (
                    header::VARY,
                    header::HeaderValue::from_static(
                        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
                    ),
                ),
            ],
        )
            .into_response();
    }
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    if allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    headers.append(header::VARY, header::HeaderValue::from_static("Origin"));
    response
}

/// `GET /api/health` → `{"status":"ok","pubsub":<the active adapter: "redis"|"postgres"|"local">,
/// "chain":[…],"redis":…,"postgres":…,"node":…,"peers":[…],"large_payloads":n}` (see
/// `pubsub::Status::health`).
async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.hub.health())
}

/// `GET /api/presence/<topic>`: the topic's presence state as a `presence_state` would carry it
/// (key → `{"metas": […]}`, keys in join order; `{}` when nobody is there).
async fn presence(State(state): State<AppState>, Path(topic): Path<String>) -> Response {
    let body = state.hub.presence_json(&topic);
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn websocket(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if state.hub.is_shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    let origin = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if !state.security.origins.allows(origin, host) {
        let shown: String = origin.unwrap_or("").chars().take(100).collect();
        log!("websocket from {peer} refused: origin {shown:?} not allowed");
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    // The token may come in the query or in the bearer subprotocol; it is never logged.
    let protocols = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let identity = match auth::token_from_upgrade(query.as_deref(), protocols)
        .and_then(|token| token.map(|t| state.auth.verify(&t, now_ms())).transpose())
    {
        Ok(identity) => identity,
        Err(err) => return unauthorized(ws, &state, peer, err),
    };
    // Other params are ignored; only the serializer version is checked.
    let vsn = query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("vsn="));
    if vsn != Some("2.0.0") {
        log!("websocket from {peer} without vsn=2.0.0; speaking V2 JSON anyway");
    }
    let hub = state.hub.clone();
    let store = state.store.clone();
    let sockets = state.sockets.clone();
    let push_rate = state.security.push_rate;
    let idle_timeout = state.security.idle_timeout;
    // Offering `phoenix` (plus `base64url.bearer.phx.<token>`) gets `phoenix` back; the token
    // protocol is never echoed.
    ws.protocols(["phoenix"])
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_failed_upgrade(move |err| log!("websocket upgrade from {peer} failed: {err}"))
        .on_upgrade(move |socket| {
            sockets.track_future(socket::run(
                socket,
                hub,
                store,
                identity,
                peer,
                push_rate,
                idle_timeout,
            ))
        })
}

/// A socket whose token is bad: upgraded, then closed at once with 4401 and a reason naming
/// what is wrong (a browser cannot read the status of a refused upgrade, only a close).
fn unauthorized(
    ws: WebSocketUpgrade,
    state: &AppState,
    peer: SocketAddr,
    err: auth::TokenError,
) -> Response {
    log!("websocket from {peer} closed with 4401: {err}");
    let sockets = state.sockets.clone();
    ws.protocols(["phoenix"])
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_failed_upgrade(move |e| log!("websocket upgrade from {peer} failed: {e}"))
        .on_upgrade(move |mut socket| {
            sockets.track_future(async move {
                socket::close_with(&mut socket, auth::CLOSE_UNAUTHORIZED, err.close_reason()).await;
            })
        })
}

fn bad_request(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
}

/// The store failed or cannot be reached (PostgreSQL down): 503, nothing was stored.
fn storage_error() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": "storage error: the notification store is unavailable; nothing was stored, try again"})),
    )
        .into_response()
}

/// The request body as a JSON object (any content type).
fn json_object(body: &[u8]) -> Result<Map<String, Value>, &'static str> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("body must be a JSON object"),
        Err(_) => Err("invalid JSON"),
    }
}

/// `POST /api/session` `{name}` → `{user_id, name, token, topic}`.
async fn sign_in(State(state): State<AppState>, body: Bytes) -> Response {
    let body = match json_object(&body) {
        Ok(b) => b,
        Err(e) => return bad_request(e),
    };
    let Some(name) = body
        .get("name")
        .and_then(Value::as_str)
        .and_then(auth::normalize_name)
    else {
        return bad_request("name must be a non-empty string");
    };
    let (identity, token) = state.auth.issue(&name, now_ms());
    log!("signed in user {}", identity.user_id);
    Json(json!({
        "user_id": identity.user_id,
        "name": identity.name,
        "token": token,
        "topic": identity.notifications_topic(),
    }))
    .into_response()
}

/// Validate a `POST /api/notify` body.
pub fn parse_notify(body: &Map<String, Value>) -> Result<NewNotification, &'static str> {
    let user_id = match body.get("user") {
        Some(Value::String(u)) if auth::is_valid_user_id(u) => u.clone(),
        _ => return Err("user must be a user id"),
    };
    let kind = match body.get("kind") {
        Some(Value::String(k)) => {
            Kind::parse(k).ok_or("kind must be transient, toast, activity, alert or system")?
        }
        _ => return Err("kind must be transient, toast, activity, alert or system"),
    };
    let title = match body.get("title") {
        Some(Value::String(t)) if !t.trim().is_empty() && t.chars().count() <= MAX_TITLE_CHARS => {
            t.clone()
        }
        _ => return Err("title must be a non-empty string of at most 200 characters"),
    };
    let body_text = match body.get("body") {
        None | Some(Value::Null) => None,
        Some(Value::String(b)) if b.chars().count() <= MAX_BODY_CHARS => Some(b.clone()),
        _ => return Err("body must be a string of at most 2000 characters"),
    };
    let data = match body.get("data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(d)) if Value::Object(d.clone()).to_string().len() <= MAX_DATA_BYTES => {
            d.clone()
        }
        _ => return Err("data must be a JSON object of at most 8 KiB"),
    };
    let expires_in_ms = match body.get("expires_in_ms") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(ms) if (0..=MAX_EXPIRES_IN_MS).contains(&ms) => Some(ms),
            _ => return Err("expires_in_ms must be an integer from 0 to ten years"),
        },
    };
    Ok(NewNotification {
        user_id,
        kind,
        title,
        body: body_text,
        data,
        expires_in_ms,
    })
}

/// `POST /api/notify`: create (store unless transient/toast) and push `notification:new`.
async fn notify(State(state): State<AppState>, body: Bytes) -> Response {
    let body = match json_object(&body) {
        Ok(b) => b,
        Err(e) => return bad_request(e),
    };
    let new = match parse_notify(&body) {
        Ok(n) => n,
        Err(e) => return bad_request(e),
    };
    let made = async {
        let db = state.store.lock().await?;
        match db.create(new).await {
            // Pushed under the store lock, in the order notifications are created; only once
            // the store has it (PostgreSQL: committed), so nothing acknowledged is lost.
            Ok(n) => {
                let delivered = notifications::push_new(&state.hub, &n);
                Ok((n, delivered))
            }
            Err(e) => Err(e),
        }
    }
    .await;
    match made {
        Ok((n, delivered)) => {
            log!(
                "notification {} ({}) for user {}: pushed to {delivered} connection(s)",
                n.id,
                n.kind.as_str(),
                n.user_id
            );
            Json(json!({"notification": n.to_json(), "delivered": delivered})).into_response()
        }
        Err(_) => storage_error(),
    }
}

/// `GET /api/notifications/<user_id>` → `{unread_count, total, items}`.
async fn list_notifications(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
) -> Response {
    if !auth::is_valid_user_id(&user_id) {
        return bad_request("not a user id");
    }
    let listed = async {
        let db = state.store.lock().await?;
        let unread = db.unread_count(&user_id).await?;
        Ok::<_, StoreError>((unread, db.all(&user_id).await?))
    }
    .await;
    match listed {
        Ok((unread, items)) => {
            let items: Vec<Value> = items.iter().map(Notification::to_json).collect();
            (
                [(header::CACHE_CONTROL, "no-store")],
                Json(json!({"unread_count": unread, "total": items.len(), "items": items})),
            )
                .into_response()
        }
        Err(_) => storage_error(),
    }
}
