//! `user:{id}:notifications`: one user's notifications. Only a connection authenticated as that
//! user may join (the topic must be exactly `user:{its user_id}:notifications`).
//!
//! Client → server (each answered with a reply):
//! - `sync` `{since?, limit?}` → `{unread_count, recent: [≤ limit, newest first, unexpired],
//!   cursor, complete}` (`limit` 1–1000, 50 when absent, so a client holding more than 50 gets
//!   the read state of all it holds; `recent` only holds ids newer than `since` when it is
//!   given; `cursor` is the user's newest unexpired id or `null`; `complete` is true when
//!   `recent` is every unexpired notification the user has — no `since`, not cut by `limit` —
//!   so a client may drop what it holds and the reply does not list);
//! - `mark_read` `{ids}` → `notification:read` `{ids, unread_count}` to every connection on the
//!   topic (the ids among those sent that are the user's; none when no id is), then the reply
//!   `{unread_count}`;
//! - `mark_all_read` `{until?}` → `notification:all_read` `{unread_count, until}` to every
//!   connection on the topic (`until` null when none was given; with `until`, only ids up to
//!   it are marked), then the reply `{unread_count}`.
//!
//! The pusher gets the broadcast before its reply, as from a Phoenix channel written the usual
//! way (`broadcast!(socket, …)` then `{:reply, {:ok, …}, socket}`): both travel from the
//! channel process to the socket's transport process, the broadcast first, and Erlang keeps
//! the order of messages between two processes.
//!
//! Server → client: `notification:new` `{notification}` (from `POST /api/notify`).

use super::{Reply, ReplyTo};
use crate::auth::{self, Identity};
use crate::hub::Hub;
use crate::store::{
    Locked, Notification, Store, StoreError, MAX_ID_CHARS, MAX_MARK_IDS, MAX_SYNC_LIMIT, SYNC_LIMIT,
};
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub const NEW: &str = "notification:new";
pub const READ: &str = "notification:read";
pub const ALL_READ: &str = "notification:all_read";

pub const UNAUTHORIZED: &str = "unauthorized";

/// Whether `identity` may join `topic` (exact match of its own topic).
pub fn may_join(identity: Option<&Identity>, topic: &str) -> bool {
    identity
        .is_some_and(|id| auth::is_valid_user_id(&id.user_id) && id.notifications_topic() == topic)
}

/// Handle a push from `user_id`'s connection on its notifications topic.
pub async fn handle_in(
    store: &Store,
    hub: &Arc<Hub>,
    user_id: &str,
    topic: &str,
    event: &str,
    payload: Map<String, Value>,
    reply_to: ReplyTo,
) -> Reply {
    let user = user_id.to_owned();
    let topic = topic.to_owned();
    let hub = hub.clone();
    let result = match event {
        "sync" => {
            let since = match optional_id(&payload, "since") {
                Ok(since) => since,
                Err(()) => return Reply::Error("invalid since"),
            };
            let limit = match payload.get("limit") {
                None | Some(Value::Null) => SYNC_LIMIT,
                Some(v) => match v.as_u64() {
                    Some(n @ 1..) => {
                        usize::try_from(n).map_or(MAX_SYNC_LIMIT, |n| n.min(MAX_SYNC_LIMIT))
                    }
                    _ => return Reply::Error("invalid limit"),
                },
            };
            let db = match store.lock().await {
                Ok(db) => db,
                Err(_) => return Reply::Error("storage error"),
            };
            match sync(&db, &user, since.as_deref(), limit).await {
                Ok(response) => {
                    reply_to.ok(response);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        "mark_read" => {
            let Some(ids) = ids(&payload) else {
                return Reply::Error("invalid ids");
            };
            let db = match store.lock().await {
                Ok(db) => db,
                Err(_) => return Reply::Error("storage error"),
            };
            match db.mark_read(&user, &ids).await {
                Ok(marked) => match db.unread_count(&user).await {
                    Ok(count) => {
                        // Sent under the store lock, so counts go out in the order they change;
                        // the broadcast first, then the reply: a Phoenix channel's order for
                        // the pusher (`broadcast!` then `{:reply, …}`, see the module docs).
                        if !marked.is_empty() {
                            hub.broadcast(
                                &topic,
                                READ,
                                obj(json!({"ids": marked, "unread_count": count})),
                            );
                        }
                        reply_to.ok(json!({ "unread_count": count }));
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            }
        }
        "mark_all_read" => {
            let until = match optional_id(&payload, "until") {
                Ok(until) => until,
                Err(()) => return Reply::Error("invalid until"),
            };
            let db = match store.lock().await {
                Ok(db) => db,
                Err(_) => return Reply::Error("storage error"),
            };
            let result = match db.mark_all_read(&user, until.as_deref()).await {
                Ok(_) => db.unread_count(&user).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(count) => {
                    // `until` too: another tab must not mark one that arrived meanwhile. The
                    // broadcast first, then the reply, as for `mark_read`.
                    hub.broadcast(
                        &topic,
                        ALL_READ,
                        obj(json!({ "unread_count": count, "until": until })),
                    );
                    reply_to.ok(json!({ "unread_count": count }));
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        _ => return Reply::Error("unknown event"),
    };
    match result {
        // Queued under the store lock (see `ReplyTo`).
        Ok(()) => Reply::None,
        Err(_) => Reply::Error("storage error"),
    }
}

/// The `sync` reply: at most `limit` of the newest, and whether that is all of them.
pub async fn sync(
    db: &Locked<'_>,
    user: &str,
    since: Option<&str>,
    limit: usize,
) -> Result<Value, StoreError> {
    let count = db.unread_count(user).await?;
    // One more than asked tells whether `limit` cut the list.
    let mut recent = db.recent(user, since, limit.saturating_add(1)).await?;
    let cut = recent.len() > limit;
    recent.truncate(limit);
    let recent: Vec<Value> = recent.iter().map(Notification::to_json).collect();
    let cursor = db.newest_id(user).await?;
    let complete = since.is_none() && !cut;
    Ok(json!({
        "unread_count": count,
        "recent": recent,
        "cursor": cursor,
        "complete": complete,
    }))
}

/// `notification:new` to every connection on the user's topic; returns how many took it.
pub fn push_new(hub: &Hub, n: &Notification) -> usize {
    hub.broadcast(
        &auth::notifications_topic(&n.user_id),
        NEW,
        obj(json!({ "notification": n.to_json() })),
    )
}

/// An optional id field: absent or null → `None`; a string of at most `MAX_ID_CHARS` → it.
fn optional_id(payload: &Map<String, Value>, key: &str) -> Result<Option<String>, ()> {
    match payload.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= MAX_ID_CHARS => Ok(Some(s.clone())),
        Some(_) => Err(()),
    }
}

/// `ids`: an array of at most `MAX_MARK_IDS` strings of at most `MAX_ID_CHARS`.
fn ids(payload: &Map<String, Value>) -> Option<Vec<String>> {
    let Some(Value::Array(items)) = payload.get("ids") else {
        return None;
    };
    if items.len() > MAX_MARK_IDS {
        return None;
    }
    items
        .iter()
        .map(|v| match v {
            Value::String(s) if s.chars().count() <= MAX_ID_CHARS => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Frame;
    use crate::hub::Member;
    use crate::store::{Kind, NewNotification};
    use tokio::sync::mpsc;

    /// The order the client sees: every earlier broadcast (here a `notification:new` queued just
    /// before the request is handled), then the request's own broadcast, then the reply — a
    /// Phoenix channel's order — so the count the client ends with is the last one the server
    /// computed.
    #[tokio::test]
    async fn a_reply_keeps_its_place_among_the_broadcasts_of_its_socket() {
        let dir = std::env::temp_dir().join(format!(
            "tether-demo-order-{}-{}",
            std::process::id(),
            crate::presence::new_phx_ref()
        ));
        let store = Store::open(dir.clone()).await.expect("store");
        let hub = Hub::new();
        let ada = ident("ada");
        let topic = ada.notifications_topic();
        let (tx, mut rx) = mpsc::channel(16);
        let member = Member {
            conn: 1,
            join_ref: Some("1".into()),
            name: "ada".into(),
            tx: tx.clone(),
        };
        hub.join(&topic, member);
        let created = {
            let db = store.lock().await.expect("lock");
            let n = db
                .create(NewNotification {
                    user_id: ada.user_id.clone(),
                    kind: Kind::Activity,
                    title: "t".into(),
                    body: None,
                    data: Map::new(),
                    expires_in_ms: None,
                })
                .await
                .expect("created");
            push_new(&hub, &n);
            n
        };
        let push = Frame::decode(&format!(
            r#"["1","7","{topic}","mark_read",{{"ids":["{}"]}}]"#,
            created.id
        ))
        .expect("frame");
        let reply = handle_in(
            &store,
            &hub,
            &ada.user_id,
            &topic,
            "mark_read",
            push.payload.clone(),
            ReplyTo::new(tx.clone(), Some("1".into()), &push),
        )
        .await;
        assert_eq!(reply, Reply::None, "the reply went through the outbox");
        let mut seen = Vec::new();
        while let Ok(text) = rx.try_recv() {
            let frame = Frame::decode(&text).expect("a frame");
            let count = frame
                .payload
                .get("response")
                .unwrap_or(&Value::Object(frame.payload.clone()))
                .get("unread_count")
                .cloned();
            seen.push((frame.event, count));
        }
        assert_eq!(
            seen,
            vec![
                (NEW.to_string(), None),
                (READ.to_string(), Some(json!(0))),
                ("phx_reply".to_string(), Some(json!(0))),
            ]
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    fn ident(name: &str) -> Identity {
        Identity {
            user_id: auth::user_id_for(name),
            name: name.into(),
        }
    }

    #[test]
    fn only_the_exact_own_topic_may_be_joined() {
        let ada = ident("ada");
        let own = format!("user:{}:notifications", ada.user_id);
        assert!(may_join(Some(&ada), &own));
        assert!(!may_join(None, &own));
        let bob = ident("bob");
        for topic in [
            format!("user:{}:notifications", bob.user_id),
            own.to_uppercase(),
            format!("user:{}:notifications:", ada.user_id),
            format!("user::{}:notifications", ada.user_id),
            format!("user:{}::notifications", ada.user_id),
            format!("user:{} :notifications", ada.user_id),
            format!("user:{}:Notifications", ada.user_id),
            format!("user:{}:notifications ", ada.user_id),
            "user:*:notifications".into(),
            "user::notifications".into(),
        ] {
            assert!(!may_join(Some(&ada), &topic), "{topic}");
        }
        // A forged identity with an unsafe id never matches anything.
        let odd = Identity {
            user_id: "a:b".into(),
            name: "x".into(),
        };
        assert!(!may_join(Some(&odd), "user:a:b:notifications"));
    }

    #[test]
    fn payload_rules() {
        let p = |v: Value| obj(v);
        assert_eq!(optional_id(&p(json!({})), "since"), Ok(None));
        assert_eq!(optional_id(&p(json!({"since": null})), "since"), Ok(None));
        assert_eq!(
            optional_id(&p(json!({"since": "x"})), "since"),
            Ok(Some("x".into()))
        );
        assert!(optional_id(&p(json!({"since": 5})), "since").is_err());
        assert!(optional_id(&p(json!({"since": "x".repeat(65)})), "since").is_err());
        assert_eq!(
            ids(&p(json!({"ids": ["a", "b"]}))),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(ids(&p(json!({"ids": []}))), Some(vec![]));
        assert_eq!(ids(&p(json!({"ids": "a"}))), None);
        assert_eq!(ids(&p(json!({"ids": [1]}))), None);
        assert_eq!(ids(&p(json!({}))), None);
        assert_eq!(ids(&p(json!({"ids": vec!["a"; MAX_MARK_IDS + 1]}))), None);
    }
}
