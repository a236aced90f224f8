//! Notifications in PostgreSQL (`--store postgres://user[:password]@host[:port]/db`), through
//! tokio-postgres and a deadpool pool. The tables are those of the SQLite store (`notifications`,
//! `settings`), made by the migrations in `MIGRATIONS`, applied at start under an advisory lock
//! (so nodes starting together do not race).
//!
//! Ids follow the SQLite rules (`<13 digits of ms>-<5 digits>`, text order = creation order),
//! and several nodes share one database: an insert takes a transaction-scoped advisory lock and
//! picks an id greater than the newest stored one, so ids stay unique and ordered across nodes.
//!
//! Faults: PostgreSQL down at start → `connect` fails (the server says so and exits). Lost
//! while running → each call fails within `CALL_TIMEOUT` (the HTTP API answers 503, a channel
//! push the error reply `storage error`), and the pool opens fresh connections once the server
//! is back. A notification is acknowledged only after its insert has committed.

use super::{
    format_id, parse_id, Kind, NewNotification, Notification, NotificationStore, StoreError,
    MAX_SEQ,
};
use crate::clock::iso_ms;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use serde_json::{Map, Value};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres::types::Json;
use tokio_postgres::{NoTls, Row};

/// How long one store call may take, connection included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const POOL_SIZE: usize = 8;
/// Key of the advisory locks taken by migrations and inserts.
const LOCK_MIGRATE: i64 = 0x7465_7468_0001;
const LOCK_INSERT: i64 = 0x7465_7468_0002;

/// The schema, one step per entry (ids and times compare as bytes, as in SQLite, whatever the
/// database's collation); `schema_migrations` records those applied.
pub const MIGRATIONS: &[(i32, &str)] = &[(
    1,
    "CREATE TABLE IF NOT EXISTS notifications (
        id TEXT COLLATE \"C\" PRIMARY KEY NOT NULL,
        user_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('activity', 'alert', 'system', 'transient', 'toast')),
        title TEXT NOT NULL,
        body TEXT NULL,
        data JSONB NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
        read_at TEXT NULL,
        inserted_at TEXT NOT NULL,
        expires_at TEXT COLLATE \"C\" NULL
    );
    CREATE INDEX IF NOT EXISTS notifications_user_id ON notifications (user_id, id);
    CREATE TABLE IF NOT EXISTS settings (
        key TEXT PRIMARY KEY NOT NULL,
        value BYTEA NOT NULL
    );",
)];

const COLUMNS: &str = "id, user_id, kind, title, body, data, read_at, inserted_at, expires_at";
/// Not expired at `$2` (an ISO timestamp, compared as text as in SQLite).
const LIVE: &str = "(expires_at IS NULL OR expires_at > $2)";

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    /// `host:port/db` for logs (never the password).
    where_: String,
    /// The last id handed out by this node (push-only kinds take ids without the database).
    last_id: Arc<Mutex<(i64, u32)>>,
}

/// The error with its causes ("error connecting to server: Connection refused").
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

fn pg_err(e: impl std::error::Error) -> StoreError {
    StoreError::Postgres(chain(&e))
}

async fn timed<T>(f: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    tokio::time::timeout(CALL_TIMEOUT, f)
        .await
        .map_err(|_| StoreError::Postgres(format!("no answer within {CALL_TIMEOUT:?}")))?
}

/// `host:port/db` of a PostgreSQL URL, for logs.
pub fn display_url(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().or(config.get_user()).unwrap_or("");
    format!("postgres {host}:{port}/{db}")
}

impl PgStore {
    /// Connect, apply the migrations; an error (naming the server) when it cannot be reached.
    pub async fn connect(url: &str) -> std::io::Result<PgStore> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| std::io::Error::other(format!("bad PostgreSQL URL: {e}")))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        let where_ = display_url(&config);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CALL_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(std::io::Error::other)?;
        let store = PgStore {
            pool,
            where_: where_.clone(),
            last_id: Arc::new(Mutex::new((0, 0))),
        };
        timed(store.migrate()).await.map_err(|e| {
            std::io::Error::other(format!(
                "cannot use {where_}: {e} (is PostgreSQL running there, and does the URL \
                     name a user and database it accepts?)"
            ))
        })?;
        Ok(store)
    }

    pub fn display(&self) -> String {
        self.where_.clone()
    }

    /// The first column of the one row `sql` returns, within the call bound.
    async fn one_value<T>(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<T, StoreError>
    where
        T: for<'a> tokio_postgres::types::FromSql<'a>,
    {
        timed(async {
            let row = self
                .client()
                .await?
                .query_one(sql, params)
                .await
                .map_err(pg_err)?;
            Ok(row.get(0))
        })
        .await
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pg_err)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_MIGRATE])
            .await
            .map_err(pg_err)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY NOT NULL)",
        )
        .await
        .map_err(pg_err)?;
        for (version, sql) in MIGRATIONS {
            let done = tx
                .query_opt(
                    "SELECT version FROM schema_migrations WHERE version = $1",
                    &[version],
                )
                .await
                .map_err(pg_err)?;
            if done.is_none() {
                tx.batch_execute(sql).await.map_err(pg_err)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version) VALUES ($1)",
                    &[version],
                )
                .await
                .map_err(pg_err)?;
            }
        }
        tx.commit().await.map_err(pg_err)
    }

    /// The next id after both this node's last and `stored` (the newest in the database).
    fn next_id(&self, now: i64, stored: Option<(i64, u32)>) -> String {
        let mut last = self.last_id.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(stored) = stored {
            *last = (*last).max(stored);
        }
        let (last_ms, last_seq) = *last;
        let next = if now > last_ms {
            (now, 0)
        } else if last_seq < MAX_SEQ {
            (last_ms, last_seq + 1)
        } else {
            (last_ms + 1, 0)
        };
        *last = next;
        format_id(next)
    }

    async fn insert(&self, n: &mut Notification, now: i64) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_INSERT])
            .await
            .map_err(pg_err)?;
        let newest: Option<String> = tx
            .query_one("SELECT max(id) FROM notifications", &[])
            .await
            .map_err(pg_err)?
            .get(0);
        n.id = self.next_id(now, newest.as_deref().and_then(parse_id));
        tx.execute(
            &format!(
                "INSERT INTO notifications ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            ),
            &[
                &n.id,
                &n.user_id,
                &n.kind.as_str(),
                &n.title,
                &n.body,
                &Json(Value::Object(n.data.clone())),
                &n.read_at,
                &n.inserted_at,
                &n.expires_at,
            ],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)
    }
}

fn from_row(row: &Row) -> Notification {
    let kind: String = row.get("kind");
    let data: Json<Value> = row.get("data");
    Notification {
        id: row.get("id"),
        user_id: row.get("user_id"),
        // The table's CHECK constraint keeps kinds valid; fall back rather than fail.
        kind: Kind::parse(&kind).unwrap_or(Kind::System),
        title: row.get("title"),
        body: row.get("body"),
        data: match data.0 {
            Value::Object(m) => m,
            _ => Map::new(),
        },
        read_at: row.get("read_at"),
        inserted_at: row.get("inserted_at"),
        expires_at: row.get("expires_at"),
    }
}

impl NotificationStore for PgStore {
    async fn secret(&self) -> Result<Vec<u8>, StoreError> {
        timed(async {
            let client = self.client().await?;
            let mut secret = vec![0u8; 32];
            getrandom::fill(&mut secret)
                .map_err(|e| StoreError::Postgres(format!("no randomness: {e}")))?;
            // Nodes starting together: the first secret written wins, and all use it.
            client
                .execute(
                    "DELETE FROM settings WHERE key = 'token_secret' AND length(value) < 32",
                    &[],
                )
                .await
                .map_err(pg_err)?;
            client
                .execute(
                    "INSERT INTO settings (key, value) VALUES ('token_secret', $1) \
                     ON CONFLICT (key) DO NOTHING",
                    &[&secret],
                )
                .await
                .map_err(pg_err)?;
            let row = client
                .query_one("SELECT value FROM settings WHERE key = 'token_secret'", &[])
                .await
                .map_err(pg_err)?;
            Ok(row.get(0))
        })
        .await
    }

    async fn create(&self, new: NewNotification, now: i64) -> Result<Notification, StoreError> {
        // The id of a stored one comes from the database's order (`insert`).
        let mut n = new.at(String::new(), now);
        if n.kind.is_stored() {
            timed(self.insert(&mut n, now)).await?;
        } else {
            n.id = self.next_id(now, None);
        }
        Ok(n)
    }

    async fn unread_count(&self, user_id: &str, now: i64) -> Result<i64, StoreError> {
        self.one_value(
            &format!(
                "SELECT count(*) FROM notifications WHERE user_id = $1 \
                 AND read_at IS NULL AND kind IN ('activity', 'alert') AND {LIVE}"
            ),
            &[&user_id, &iso_ms(now)],
        )
        .await
    }

    async fn recent(
        &self,
        user_id: &str,
        since: Option<&str>,
        limit: usize,
        now: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        timed(async {
            let rows = self
                .client()
                .await?
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM notifications WHERE user_id = $1 AND {LIVE} \
                         AND ($3::text IS NULL OR id > $3) ORDER BY id DESC LIMIT $4"
                    ),
                    &[&user_id, &iso_ms(now), &since, &limit],
                )
                .await
                .map_err(pg_err)?;
            Ok(rows.iter().map(from_row).collect())
        })
        .await
    }

    async fn newest_id(&self, user_id: &str, now: i64) -> Result<Option<String>, StoreError> {
        self.one_value(
            &format!("SELECT max(id) FROM notifications WHERE user_id = $1 AND {LIVE}"),
            &[&user_id, &iso_ms(now)],
        )
        .await
    }

    async fn mark_read(
        &self,
        user_id: &str,
        ids: &[String],
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut unique: Vec<String> = Vec::with_capacity(ids.len());
        for id in ids {
            if !unique.contains(id) {
                unique.push(id.clone());
            }
        }
        if unique.is_empty() {
            return Ok(Vec::new());
        }
        timed(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await.map_err(pg_err)?;
            let found: Vec<String> = tx
                .query(
                    "SELECT id FROM notifications WHERE user_id = $1 AND id = ANY($2)",
                    &[&user_id, &unique],
                )
                .await
                .map_err(pg_err)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            tx.execute(
                "UPDATE notifications SET read_at = $1 WHERE user_id = $2 \
                 AND read_at IS NULL AND id = ANY($3)",
                &[&iso_ms(now), &user_id, &unique],
            )
            .await
            .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
            Ok(unique
                .iter()
                .filter(|id| found.contains(id))
                .cloned()
                .collect())
        })
        .await
    }

    async fn mark_all_read(
        &self,
        user_id: &str,
        until: Option<&str>,
        now: i64,
    ) -> Result<usize, StoreError> {
        timed(async {
            let n = self
                .client()
                .await?
                .execute(
                    "UPDATE notifications SET read_at = $2 WHERE user_id = $1 \
                     AND read_at IS NULL AND ($3::text IS NULL OR id <= $3)",
                    &[&user_id, &iso_ms(now), &until],
                )
                .await
                .map_err(pg_err)?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
        .await
    }

    async fn all(&self, user_id: &str) -> Result<Vec<Notification>, StoreError> {
        timed(async {
            let rows = self
                .client()
                .await?
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM notifications WHERE user_id = $1 ORDER BY id DESC"
                    ),
                    &[&user_id],
                )
                .await
                .map_err(pg_err)?;
            Ok(rows.iter().map(from_row).collect())
        })
        .await
    }
}
