//! The notification store suite, run against both backends through `NotificationStore`:
//! SQLite (a temporary data directory) and PostgreSQL (a server started here, see
//! `common::pg`). Same ids, ordering, unread counts, mark read / mark all read `until`,
//! expiry and secret; for PostgreSQL also two stores on one database (two nodes) and a
//! restart of the server under a live store.

mod common;

use common::pg::Pg;
use common::temp_dir;
use serde_json::{json, Map};
use tether_demo::store::postgres::PgStore;
use tether_demo::store::{Kind, NewNotification, NotificationStore, SqliteStore, StoreError};

const T: i64 = 1_795_432_454_123;

fn new(user: &str, kind: Kind, expires_in_ms: Option<i64>) -> NewNotification {
    NewNotification {
        user_id: user.into(),
        kind,
        title: format!("{} title", kind.as_str()),
        body: None,
        data: Map::new(),
        expires_in_ms,
    }
}

/// What every backend must do (the same steps as the SQLite unit tests, through the trait).
async fn suite(db: &impl NotificationStore, label: &str) {
    let a = db
        .create(new("u", Kind::Activity, None), T)
        .await
        .expect("a");
    let b = db.create(new("u", Kind::Alert, None), T).await.expect("b");
    assert!(b.id > a.id, "{label}: ids ordered within one millisecond");
    assert_eq!(a.id, "1795432454123-00000", "{label}");
    db.create(new("u", Kind::System, None), T).await.expect("c");
    let toast = db.create(new("u", Kind::Toast, None), T).await.expect("d");
    db.create(new("u", Kind::Transient, None), T)
        .await
        .expect("e");
    db.create(new("u", Kind::Alert, Some(10)), T)
        .await
        .expect("f");
    db.create(new("v", Kind::Alert, None), T).await.expect("g");
    assert_eq!(db.unread_count("u", T).await.expect("count"), 3, "{label}");
    assert_eq!(
        db.unread_count("u", T + 10).await.expect("count"),
        2,
        "{label}: expiry"
    );
    assert_eq!(
        db.all("u").await.expect("all").len(),
        4,
        "{label}: toast/transient not stored"
    );
    let recent = db.recent("u", None, 50, T + 10).await.expect("recent");
    assert_eq!(recent.len(), 3, "{label}");
    assert!(
        recent.windows(2).all(|w| w[0].id > w[1].id),
        "{label}: newest first"
    );
    assert_eq!(
        db.recent("u", Some(&a.id), 50, T)
            .await
            .expect("since")
            .len(),
        3,
        "{label}"
    );
    assert_eq!(
        db.recent("u", None, 2, T).await.expect("limit").len(),
        2,
        "{label}"
    );

    let ids = vec![a.id.clone(), a.id.clone(), toast.id, "nope".into()];
    assert!(
        db.mark_read("v", &ids, T + 1)
            .await
            .expect("other user")
            .is_empty(),
        "{label}"
    );
    assert_eq!(
        db.mark_read("u", &ids, T + 1).await.expect("mark"),
        vec![a.id.clone()],
        "{label}"
    );
    assert_eq!(
        db.unread_count("u", T + 10).await.expect("count"),
        1,
        "{label}"
    );
    db.mark_read("u", std::slice::from_ref(&a.id), T + 99)
        .await
        .expect("again");
    let read = db
        .all("u")
        .await
        .expect("all")
        .into_iter()
        .find(|n| n.id == a.id);
    assert_eq!(
        read.and_then(|n| n.read_at).as_deref(),
        Some("2026-11-23T11:14:14.124Z"),
        "{label}: the first read_at is kept"
    );

    let newer = db
        .create(new("u", Kind::Activity, None), T + 20)
        .await
        .expect("h");
    let until = db.recent("u", None, 50, T + 20).await.expect("r")[1]
        .id
        .clone();
    assert_eq!(
        db.mark_all_read("u", Some(&until), T + 21)
            .await
            .expect("until"),
        2,
        "{label}"
    );
    assert_eq!(
        db.unread_count("u", T + 21).await.expect("count"),
        1,
        "{label}"
    );
    assert_eq!(
        db.mark_all_read("u", None, T + 21).await.expect("all"),
        2,
        "{label}"
    );
    assert_eq!(
        db.unread_count("u", T + 21).await.expect("count"),
        0,
        "{label}"
    );
    assert_eq!(
        db.unread_count("v", T + 21).await.expect("count"),
        1,
        "{label}"
    );
    assert_eq!(
        db.newest_id("u", T + 21).await.expect("newest"),
        Some(newer.id.clone()),
        "{label}"
    );
    assert_eq!(
        db.newest_id("nobody", T).await.expect("none"),
        None,
        "{label}"
    );

    // The clock going back never reuses or reorders ids.
    let back = db
        .create(new("w", Kind::Alert, None), T - 5_000)
        .await
        .expect("back");
    assert!(
        back.id > newer.id,
        "{label}: {} after {}",
        back.id,
        newer.id
    );

    // Data, body and expiry round-trip in the wire form.
    let mut n = new("x", Kind::Alert, Some(60_000));
    n.body = Some("b".into());
    n.data = json!({"k": [1, "x"], "nested": {"a": null}})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let made = db.create(n, T + 30).await.expect("create");
    let stored = db.all("x").await.expect("all");
    assert_eq!(stored, vec![made.clone()], "{label}");
    assert_eq!(
        made.to_json(),
        json!({"id": made.id, "kind": "alert", "title": "alert title", "body": "b",
               "data": {"k": [1, "x"], "nested": {"a": null}}, "read_at": null,
               "inserted_at": "2026-11-23T11:14:14.153Z",
               "expires_at": "2026-11-23T11:15:14.153Z"}),
        "{label}"
    );

    let secret = db.secret().await.expect("secret");
    assert_eq!(secret.len(), 32, "{label}");
    assert_eq!(
        db.secret().await.expect("secret again"),
        secret,
        "{label}: kept"
    );
}

#[tokio::test]
async fn the_store_suite_passes_on_sqlite() {
    let dir = temp_dir("store-sqlite");
    let (db, _) = SqliteStore::open(dir.clone()).await.expect("open sqlite");
    suite(&db, "sqlite").await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_store_suite_passes_on_postgres_shared_by_two_nodes_and_across_a_restart() {
    let dir = temp_dir("store-pg");
    let mut pg = Pg::start(&dir).await;

    let url = pg.database("suite").await;
    let db = PgStore::connect(&url).await.expect("connect");
    suite(&db, "postgres").await;

    // Two nodes on one database: migrations run once, one secret, ids unique and ordered
    // across both even at the same millisecond.
    let url = pg.database("shared").await;
    let (a, b) = tokio::join!(PgStore::connect(&url), PgStore::connect(&url));
    let (a, b) = (a.expect("node a"), b.expect("node b"));
    assert_eq!(a.secret().await.expect("a"), b.secret().await.expect("b"));
    let mut ids = Vec::new();
    for i in 0..10 {
        let on = if i % 2 == 0 { &a } else { &b };
        ids.push(
            on.create(new("u", Kind::Alert, None), T)
                .await
                .expect("create")
                .id,
        );
    }
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, ids, "unique, in creation order across nodes");
    assert_eq!(a.all("u").await.expect("all").len(), 10);

    // The server restarted under a live store: calls fail with an error (never hang), then
    // work again without reconnecting by hand; what was stored is still there.
    pg.crash().await;
    match a.create(new("u", Kind::Alert, None), T + 1).await {
        Err(StoreError::Postgres(_)) => {}
        other => panic!("a store call with PostgreSQL down: {other:?}"),
    }
    pg.restart().await;
    let mut after = None;
    for _ in 0..50 {
        match a.create(new("u", Kind::Alert, None), T + 2).await {
            Ok(n) => {
                after = Some(n);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    let after = after.expect("the store works again after the restart");
    assert!(after.id > *ids.last().expect("ids"));
    assert_eq!(b.all("u").await.expect("all").len(), 11);

    // PostgreSQL down at start: connect fails with an error that names the server.
    pg.crash().await;
    let err = PgStore::connect(&url)
        .await
        .err()
        .expect("no server, no store");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{}", pg.port)),
        "{err}"
    );
    pg.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
