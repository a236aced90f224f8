//! Notifications persisted in SQLite (`<data dir>/tether-demo.sqlite3`, WAL mode; the default)
//! or in PostgreSQL (`--store postgres://…`, see `postgres`), behind one trait
//! (`NotificationStore`) with the same schema and behaviour.
//!
//! `Db` is the synchronous SQLite store; `SqliteStore` shares one `Db` behind a mutex and runs
//! every call on tokio's blocking pool, so the async runtime never waits on the disk. `Store`
//! is what the server holds: a backend and a lock (`Store::lock`); pushes that announce a
//! change are sent while the lock is held, so the counts they carry are in the same order as
//! the changes.
//!
//! Ids are time-ordered text: 13 digits of Unix milliseconds, `-`, 5 digits of a counter within
//! that millisecond (`1795432454123-00000`); comparing ids as text compares creation order.
//! Timestamps are ISO-8601 UTC with milliseconds (see `clock`).

use crate::clock::{iso_ms, now_ms};
use crate::log;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use serde_json::{Map, Value};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub mod postgres;

pub const DB_FILE: &str = "tether-demo.sqlite3";
/// How many notifications a `sync` returns when it does not say (`limit`).
pub const SYNC_LIMIT: usize = 50;
/// The most a `sync` returns whatever its `limit` (a client holding more asks for as many).
pub const MAX_SYNC_LIMIT: usize = 1000;
/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest body, in characters.
pub const MAX_BODY_CHARS: usize = 2000;
/// Largest `data` object, as JSON text.
pub const MAX_DATA_BYTES: usize = 8 * 1024;
/// Longest accepted `expires_in_ms` (ten years).
pub const MAX_EXPIRES_IN_MS: i64 = 10 * 365 * 24 * 60 * 60 * 1000;
/// Most ids one `mark_read` may name.
pub const MAX_MARK_IDS: usize = 500;
/// Longest id accepted from a client.
pub const MAX_ID_CHARS: usize = 64;

const MAX_SEQ: u32 = 99_999;

/// The five kinds of notification (see the issue's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Pushed only; neither stored nor counted ("User is typing").
    Transient,
    /// Pushed only; neither stored nor counted ("Message sent").
    Toast,
    /// Pushed and stored; counted in the badge.
    Activity,
    /// Pushed and stored; counted in the badge.
    Alert,
    /// Stored (and pushed); never counted in the badge.
    System,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Transient,
        Kind::Toast,
        Kind::Activity,
        Kind::Alert,
        Kind::System,
    ];

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Transient => "transient",
            Kind::Toast => "toast",
            Kind::Activity => "activity",
            Kind::Alert => "alert",
            Kind::System => "system",
        }
    }

    pub fn is_stored(self) -> bool {
        !matches!(self, Kind::Transient | Kind::Toast)
    }

    pub fn is_counted(self) -> bool {
        matches!(self, Kind::Activity | Kind::Alert)
    }
}

/// What `POST /api/notify` asks for (already validated).
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    pub user_id: String,
    pub kind: Kind,
    pub title: String,
    pub body: Option<String>,
    pub data: Map<String, Value>,
    pub expires_in_ms: Option<i64>,
}

impl NewNotification {
    /// The notification it makes at `now`, with `id` (unread, expiring `expires_in_ms` later).
    pub fn at(self, id: String, now: i64) -> Notification {
        Notification {
            id,
            user_id: self.user_id,
            kind: self.kind,
            title: self.title,
            body: self.body,
            data: self.data,
            read_at: None,
            inserted_at: iso_ms(now),
            expires_at: self.expires_in_ms.map(|ms| iso_ms(now.saturating_add(ms))),
        }
    }
}

/// One notification as stored and sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: String,
    pub user_id: String,
    pub kind: Kind,
    pub title: String,
    pub body: Option<String>,
    pub data: Map<String, Value>,
    pub read_at: Option<String>,
    pub inserted_at: String,
    pub expires_at: Option<String>,
}

impl Notification {
    /// The wire form: `{id, kind, title, body?, data, read_at, inserted_at, expires_at?}`
    /// (`body` and `expires_at` left out when absent; `read_at` is `null` while unread).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert("kind".into(), Value::String(self.kind.as_str().into()));
        m.insert("title".into(), Value::String(self.title.clone()));
        if let Some(body) = &self.body {
            m.insert("body".into(), Value::String(body.clone()));
        }
        m.insert("data".into(), Value::Object(self.data.clone()));
        m.insert(
            "read_at".into(),
            self.read_at.clone().map_or(Value::Null, Value::String),
        );
        m.insert(
            "inserted_at".into(),
            Value::String(self.inserted_at.clone()),
        );
        if let Some(expires_at) = &self.expires_at {
            m.insert("expires_at".into(), Value::String(expires_at.clone()));
        }
        Value::Object(m)
    }

    fn from_row(row: &Row<'_>) -> rusqlite::Result<Notification> {
        let kind: String = row.get("kind")?;
        let data: String = row.get("data")?;
        Ok(Notification {
            id: row.get("id")?,
            user_id: row.get("user_id")?,
            // The table's CHECK constraint keeps kinds valid; fall back rather than fail.
            kind: Kind::parse(&kind).unwrap_or(Kind::System),
            title: row.get("title")?,
            body: row.get("body")?,
            data: match serde_json::from_str(&data) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            },
            read_at: row.get("read_at")?,
            inserted_at: row.get("inserted_at")?,
            expires_at: row.get("expires_at")?,
        })
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notifications (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('activity', 'alert', 'system', 'transient', 'toast')),
    title TEXT NOT NULL,
    body TEXT NULL,
    data TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data)),
    read_at TEXT NULL,
    inserted_at TEXT NOT NULL,
    expires_at TEXT NULL
);
CREATE INDEX IF NOT EXISTS notifications_user_id ON notifications (user_id, id);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);
";

const COLUMNS: &str = "id, user_id, kind, title, body, data, read_at, inserted_at, expires_at";
/// Not expired at `?2` (an ISO timestamp).
const LIVE: &str = "(expires_at IS NULL OR expires_at > ?2)";

/// The synchronous store over one SQLite connection.
pub struct Db {
    conn: Connection,
    /// The last id handed out: (milliseconds, counter).
    last_id: (i64, u32),
}

impl Db {
    /// Open (creating if needed) the database file `path`.
    pub fn open(path: &Path) -> rusqlite::Result<Db> {
        let conn = Connection::open(path)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            log!("sqlite: journal mode is {mode}, not WAL");
        }
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
        )?;
        conn.execute_batch(SCHEMA)?;
        let newest: Option<String> =
            conn.query_row("SELECT max(id) FROM notifications", [], |r| r.get(0))?;
        let last_id = newest.as_deref().and_then(parse_id).unwrap_or((0, 0));
        Ok(Db { conn, last_id })
    }

    /// The HMAC secret kept in the database: 32 random bytes made on first use.
    pub fn secret(&mut self) -> rusqlite::Result<Vec<u8>> {
        let get = |conn: &Connection| {
            conn.query_row(
                "SELECT value FROM settings WHERE key = 'token_secret'",
                [],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()
        };
        if let Some(secret) = get(&self.conn)?.filter(|s| s.len() >= 32) {
            return Ok(secret);
        }
        let mut secret = vec![0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| {
            rusqlite::Error::ToSqlConversionFailure(format!("no randomness: {e}").into())
        })?;
        // Two nodes may share the data directory and start together: the first secret
        // written wins, and both use it.
        self.conn.execute(
            "DELETE FROM settings WHERE key = 'token_secret' AND length(value) < 32",
            [],
        )?;
        self.conn.execute(
            "INSERT OR IGNORE INTO settings (key, value) VALUES ('token_secret', ?1)",
            params![secret],
        )?;
        Ok(get(&self.conn)?.unwrap_or(secret))
    }

    /// A fresh id at `now` (never smaller than one handed out before, even if the clock goes
    /// back).
    pub fn next_id(&mut self, now: i64) -> String {
        let (last_ms, last_seq) = self.last_id;
        let next = if now > last_ms {
            (now, 0)
        } else if last_seq < MAX_SEQ {
            (last_ms, last_seq + 1)
        } else {
            (last_ms + 1, 0)
        };
        self.last_id = next;
        format_id(next)
    }

    /// Make a notification at `now`; stored unless its kind is push-only.
    pub fn create(&mut self, new: NewNotification, now: i64) -> rusqlite::Result<Notification> {
        let mut n = new.at(self.next_id(now), now);
        if n.kind.is_stored() {
            self.insert(&mut n)?;
        }
        Ok(n)
    }

    /// Insert `n`; if another process sharing the database (a second node) took its id, move
    /// on to an id after the newest stored one.
    fn insert(&mut self, n: &mut Notification) -> rusqlite::Result<()> {
        let mut attempts = 0;
        loop {
            match self.insert_once(n) {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                        && attempts < 5 =>
                {
                    attempts += 1;
                    let newest: Option<String> =
                        self.conn
                            .query_row("SELECT max(id) FROM notifications", [], |r| r.get(0))?;
                    if let Some(newest) = newest.as_deref().and_then(parse_id) {
                        self.last_id = self.last_id.max(newest);
                    }
                    let (ms, _) = self.last_id;
                    n.id = self.next_id(ms);
                }
                other => return other,
            }
        }
    }

    fn insert_once(&mut self, n: &Notification) -> rusqlite::Result<()> {
        self.conn.execute(
            &format!(
                "INSERT INTO notifications ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            params![
                n.id,
                n.user_id,
                n.kind.as_str(),
                n.title,
                n.body,
                Value::Object(n.data.clone()).to_string(),
                n.read_at,
                n.inserted_at,
                n.expires_at,
            ],
        )?;
        Ok(())
    }

    /// Unread, unexpired notifications of a counted kind (activity, alert).
    pub fn unread_count(&self, user_id: &str, now: i64) -> rusqlite::Result<i64> {
        self.conn.query_row(
            &format!(
                "SELECT count(*) FROM notifications WHERE user_id = ?1 AND read_at IS NULL \
                 AND kind IN ('activity', 'alert') AND {LIVE}"
            ),
            params![user_id, iso_ms(now)],
            |r| r.get(0),
        )
    }

    /// At most `limit` unexpired notifications, newest first; only those newer than `since`
    /// (an id) when given.
    pub fn recent(
        &self,
        user_id: &str,
        since: Option<&str>,
        limit: usize,
        now: i64,
    ) -> rusqlite::Result<Vec<Notification>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM notifications WHERE user_id = ?1 AND {LIVE} \
             AND (?3 IS NULL OR id > ?3) ORDER BY id DESC LIMIT ?4"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            params![user_id, iso_ms(now), since, limit],
            Notification::from_row,
        )?;
        rows.collect()
    }

    /// The newest unexpired id of the user.
    pub fn newest_id(&self, user_id: &str, now: i64) -> rusqlite::Result<Option<String>> {
        self.conn.query_row(
            &format!("SELECT max(id) FROM notifications WHERE user_id = ?1 AND {LIVE}"),
            params![user_id, iso_ms(now)],
            |r| r.get(0),
        )
    }

    /// Mark the user's notifications among `ids` read (those already read keep their
    /// `read_at`). Returns the ids among `ids` that are the user's stored notifications, in the
    /// order given, without repeats.
    pub fn mark_read(
        &mut self,
        user_id: &str,
        ids: &[String],
        now: i64,
    ) -> rusqlite::Result<Vec<String>> {
        let mut unique: Vec<&String> = Vec::with_capacity(ids.len());
        for id in ids {
            if !unique.contains(&id) {
                unique.push(id);
            }
        }
        if unique.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; unique.len()].join(", ");
        let tx = self.conn.transaction()?;
        let found: Vec<String> = {
            let mut stmt = tx.prepare(&format!(
                "SELECT id FROM notifications WHERE user_id = ? AND id IN ({marks})"
            ))?;
            let args = std::iter::once(user_id).chain(unique.iter().map(|s| s.as_str()));
            let rows = stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        {
            let args = [iso_ms(now), user_id.to_owned()]
                .into_iter()
                .chain(unique.iter().map(|s| (*s).clone()));
            tx.execute(
                &format!(
                    "UPDATE notifications SET read_at = ? WHERE user_id = ? \
                     AND read_at IS NULL AND id IN ({marks})"
                ),
                params_from_iter(args),
            )?;
        }
        tx.commit()?;
        Ok(unique
            .into_iter()
            .filter(|id| found.contains(id))
            .cloned()
            .collect())
    }

    /// Mark every unread notification of the user read (only those with an id up to `until`,
    /// when given); returns how many changed.
    pub fn mark_all_read(
        &mut self,
        user_id: &str,
        until: Option<&str>,
        now: i64,
    ) -> rusqlite::Result<usize> {
        self.conn.execute(
            "UPDATE notifications SET read_at = ?2 WHERE user_id = ?1 AND read_at IS NULL \
             AND (?3 IS NULL OR id <= ?3)",
            params![user_id, iso_ms(now), until],
        )
    }

    /// Every stored notification of the user (expired ones too), newest first.
    pub fn all(&self, user_id: &str) -> rusqlite::Result<Vec<Notification>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM notifications WHERE user_id = ?1 ORDER BY id DESC"
        ))?;
        let rows = stmt.query_map(params![user_id], Notification::from_row)?;
        rows.collect()
    }
}

fn format_id((ms, seq): (i64, u32)) -> String {
    format!("{ms:013}-{seq:05}")
}

fn parse_id(id: &str) -> Option<(i64, u32)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// Why a store call failed.
#[derive(Debug)]
pub enum StoreError {
    Db(rusqlite::Error),
    /// PostgreSQL refused the call or could not be reached (the pool reconnects on the next
    /// call; the caller answers 503 / "storage error").
    Postgres(String),
    /// The blocking task panicked or was cancelled.
    Task,
    /// Calls ahead of this one held the store for `LOCK_WAIT`.
    Busy,
}

/// Longest wait for a turn at the store (`Store::lock`).
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(6);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Db(e) => write!(f, "sqlite: {e}"),
            StoreError::Postgres(e) => write!(f, "postgres: {e}"),
            StoreError::Task => write!(f, "store task failed"),
            StoreError::Busy => write!(f, "store busy"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Db(e)
    }
}

/// What a notification store does; SQLite (`SqliteStore`) and PostgreSQL
/// (`postgres::PgStore`) behave the same way (the store suite runs against both). `now` is
/// Unix milliseconds.
pub trait NotificationStore: Send + Sync {
    /// The HMAC secret for tokens: 32 random bytes made on first use, kept in the store.
    fn secret(&self) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;
    /// Make a notification at `now` (stored unless its kind is push-only), with an id greater
    /// than every id handed out before by this store (and, for PostgreSQL, by any node).
    fn create(
        &self,
        new: NewNotification,
        now: i64,
    ) -> impl Future<Output = Result<Notification, StoreError>> + Send;
    /// Unread, unexpired notifications of a counted kind (activity, alert).
    fn unread_count(
        &self,
        user_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// At most `limit` unexpired notifications, newest first; only those newer than `since`.
    fn recent(
        &self,
        user_id: &str,
        since: Option<&str>,
        limit: usize,
        now: i64,
    ) -> impl Future<Output = Result<Vec<Notification>, StoreError>> + Send;
    /// The newest unexpired id of the user.
    fn newest_id(
        &self,
        user_id: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Mark the user's notifications among `ids` read; returns the ids among `ids` that are the
    /// user's stored notifications, in the order given, without repeats.
    fn mark_read(
        &self,
        user_id: &str,
        ids: &[String],
        now: i64,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
    /// Mark every unread notification of the user (up to `until`) read; returns how many.
    fn mark_all_read(
        &self,
        user_id: &str,
        until: Option<&str>,
        now: i64,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
    /// Every stored notification of the user (expired ones too), newest first.
    fn all(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Vec<Notification>, StoreError>> + Send;
}

/// The SQLite store: one `Db`, used from tokio's blocking pool.
#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<Mutex<Db>>,
}

impl SqliteStore {
    /// Create `dir` if missing and open `dir/tether-demo.sqlite3`.
    pub async fn open(dir: PathBuf) -> std::io::Result<(SqliteStore, PathBuf)> {
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            let path = dir.join(DB_FILE);
            let db = Db::open(&path).map_err(|e| {
                std::io::Error::other(format!("cannot open {}: {e}", path.display()))
            })?;
            Ok((
                SqliteStore {
                    db: Arc::new(Mutex::new(db)),
                },
                path,
            ))
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// Run `f` with the database on the blocking pool.
    async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> rusqlite::Result<R> + Send + 'static,
    {
        let db = self.db.clone();
        let result = tokio::task::spawn_blocking(move || {
            // A panic inside a call leaves SQLite consistent (statements are atomic), so a
            // poisoned lock is recovered rather than propagated.
            let mut db = db.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut db)
        })
        .await;
        match result {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(StoreError::Db(e)),
            Err(_) => Err(StoreError::Task),
        }
    }
}

impl NotificationStore for SqliteStore {
    async fn secret(&self) -> Result<Vec<u8>, StoreError> {
        self.call(|db| db.secret()).await
    }
    async fn create(&self, new: NewNotification, now: i64) -> Result<Notification, StoreError> {
        self.call(move |db| db.create(new, now)).await
    }
    async fn unread_count(&self, user_id: &str, now: i64) -> Result<i64, StoreError> {
        let user = user_id.to_owned();
        self.call(move |db| db.unread_count(&user, now)).await
    }
    async fn recent(
        &self,
        user_id: &str,
        since: Option<&str>,
        limit: usize,
        now: i64,
    ) -> Result<Vec<Notification>, StoreError> {
        let (user, since) = (user_id.to_owned(), since.map(str::to_owned));
        self.call(move |db| db.recent(&user, since.as_deref(), limit, now))
            .await
    }
    async fn newest_id(&self, user_id: &str, now: i64) -> Result<Option<String>, StoreError> {
        let user = user_id.to_owned();
        self.call(move |db| db.newest_id(&user, now)).await
    }
    async fn mark_read(
        &self,
        user_id: &str,
        ids: &[String],
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let (user, ids) = (user_id.to_owned(), ids.to_vec());
        self.call(move |db| db.mark_read(&user, &ids, now)).await
    }
    async fn mark_all_read(
        &self,
        user_id: &str,
        until: Option<&str>,
        now: i64,
    ) -> Result<usize, StoreError> {
        let (user, until) = (user_id.to_owned(), until.map(str::to_owned));
        self.call(move |db| db.mark_all_read(&user, until.as_deref(), now))
            .await
    }
    async fn all(&self, user_id: &str) -> Result<Vec<Notification>, StoreError> {
        let user = user_id.to_owned();
        self.call(move |db| db.all(&user)).await
    }
}

/// Where notifications are kept: `--store sqlite` (the default, in `--data-dir`) or
/// `--store postgres://…`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StoreConfig {
    #[default]
    Sqlite,
    Postgres(String),
}

impl StoreConfig {
    pub fn parse(s: &str) -> Result<StoreConfig, String> {
        if s == "sqlite" {
            return Ok(StoreConfig::Sqlite);
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            s.parse::<tokio_postgres::Config>()
                .map_err(|e| format!("bad --store URL: {e}"))?;
            return Ok(StoreConfig::Postgres(s.to_owned()));
        }
        Err(format!(
            "bad --store {s:?} (want sqlite or postgres://user[:password]@host[:port]/db)"
        ))
    }
}

#[derive(Clone)]
enum Backend {
    Sqlite(SqliteStore),
    Postgres(postgres::PgStore),
}

/// The server's store: a backend plus the lock that keeps changes and the pushes announcing
/// them in one order (see `lock`).
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    order: Arc<tokio::sync::Mutex<()>>,
    /// Where the notifications are, for the start-up log (never a password).
    pub location: String,
}

/// A held store lock: `now` read under it, so times follow the order of the calls.
pub struct Locked<'a> {
    _guard: tokio::sync::MutexGuard<'a, ()>,
    store: &'a Store,
    pub now: i64,
}

macro_rules! dispatch {
    ($self:expr, $s:ident => $call:expr) => {{
        let result = match &$self.backend {
            Backend::Sqlite($s) => $call.await,
            Backend::Postgres($s) => $call.await,
        };
        if let Err(e) = &result {
            log!("store error: {e}");
        }
        result
    }};
}

impl Store {
    /// SQLite in `dir` (created if missing).
    pub async fn open(dir: PathBuf) -> std::io::Result<Store> {
        let (sqlite, path) = SqliteStore::open(dir).await?;
        Ok(Store::new(
            Backend::Sqlite(sqlite),
            path.display().to_string(),
        ))
    }

    /// The store `config` names: SQLite in `dir`, or PostgreSQL (connected, migrations applied;
    /// an error when it cannot be reached).
    pub async fn open_config(config: &StoreConfig, dir: PathBuf) -> std::io::Result<Store> {
        match config {
            StoreConfig::Sqlite => Store::open(dir).await,
            StoreConfig::Postgres(url) => {
                let pg = postgres::PgStore::connect(url).await?;
                let location = pg.display();
                Ok(Store::new(Backend::Postgres(pg), location))
            }
        }
    }

    fn new(backend: Backend, location: String) -> Store {
        Store {
            backend,
            order: Arc::new(tokio::sync::Mutex::new(())),
            location,
        }
    }

    /// Take the store lock. Pushes that announce a change are sent while it is held, so the
    /// counts they carry go out in the order of the changes.
    /// Waits at most `LOCK_WAIT` (calls queued behind a store that does not answer fail
    /// rather than pile up).
    pub async fn lock(&self) -> Result<Locked<'_>, StoreError> {
        let guard = tokio::time::timeout(LOCK_WAIT, self.order.lock())
            .await
            .map_err(|_| {
                log!("store busy: no turn within {LOCK_WAIT:?}");
                StoreError::Busy
            })?;
        Ok(Locked {
            _guard: guard,
            store: self,
            now: now_ms(),
        })
    }

    pub async fn secret(&self) -> Result<Vec<u8>, StoreError> {
        dispatch!(self, s => s.secret())
    }
}

impl Locked<'_> {
    pub async fn create(&self, new: NewNotification) -> Result<Notification, StoreError> {
        dispatch!(self.store, s => s.create(new, self.now))
    }
    pub async fn unread_count(&self, user_id: &str) -> Result<i64, StoreError> {
        dispatch!(self.store, s => s.unread_count(user_id, self.now))
    }
    pub async fn recent(
        &self,
        user_id: &str,
        since: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError> {
        dispatch!(self.store, s => s.recent(user_id, since, limit, self.now))
    }
    pub async fn newest_id(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        dispatch!(self.store, s => s.newest_id(user_id, self.now))
    }
    pub async fn mark_read(
        &self,
        user_id: &str,
        ids: &[String],
    ) -> Result<Vec<String>, StoreError> {
        dispatch!(self.store, s => s.mark_read(user_id, ids, self.now))
    }
    pub async fn mark_all_read(
        &self,
        user_id: &str,
        until: Option<&str>,
    ) -> Result<usize, StoreError> {
        dispatch!(self.store, s => s.mark_all_read(user_id, until, self.now))
    }
    pub async fn all(&self, user_id: &str) -> Result<Vec<Notification>, StoreError> {
        dispatch!(self.store, s => s.all(user_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn temp_db() -> (Db, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "tether-demo-store-{}-{}",
            std::process::id(),
            crate::presence::new_phx_ref()
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let db = Db::open(&dir.join(DB_FILE)).expect("open");
        (db, dir)
    }

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

    const T: i64 = 1_795_432_454_123;

    #[test]
    fn ids_are_ordered_even_when_the_clock_stalls_or_goes_back() {
        let (mut db, dir) = temp_db();
        let ids: Vec<String> = [T, T, T - 5, T + 1, T + 1]
            .into_iter()
            .map(|t| db.next_id(t))
            .collect();
        assert_eq!(ids[0], "1795432454123-00000");
        for w in ids.windows(2) {
            assert!(w[0] < w[1], "{ids:?}");
        }
        db.last_id = (T, MAX_SEQ);
        assert_eq!(db.next_id(T), "1795432454124-00000");
        assert_eq!(parse_id("1795432454124-00007"), Some((T + 1, 7)));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn counts_kinds_expiry_and_reads() {
        let (mut db, dir) = temp_db();
        let a = db.create(new("u", Kind::Activity, None), T).expect("a");
        db.create(new("u", Kind::Alert, None), T).expect("b");
        db.create(new("u", Kind::System, None), T).expect("c");
        let toast = db.create(new("u", Kind::Toast, None), T).expect("d");
        db.create(new("u", Kind::Transient, None), T).expect("e");
        db.create(new("u", Kind::Alert, Some(10)), T).expect("f");
        db.create(new("v", Kind::Alert, None), T).expect("g");
        assert_eq!(db.unread_count("u", T).expect("count"), 3);
        assert_eq!(db.unread_count("u", T + 10).expect("count"), 2);
        assert_eq!(db.all("u").expect("all").len(), 4);
        let recent = db.recent("u", None, 50, T + 10).expect("recent");
        assert_eq!(recent.len(), 3);
        assert!(recent.windows(2).all(|w| w[0].id > w[1].id));
        assert_eq!(
            db.recent("u", Some(&a.id), 50, T).expect("since").len(),
            3,
            "b, c and f are newer than a"
        );

        let ids = vec![a.id.clone(), a.id.clone(), toast.id, "nope".into()];
        assert_eq!(
            db.mark_read("v", &ids, T + 1).expect("other user"),
            Vec::<String>::new()
        );
        assert_eq!(
            db.mark_read("u", &ids, T + 1).expect("mark"),
            vec![a.id.clone()]
        );
        assert_eq!(db.unread_count("u", T + 10).expect("count"), 1);
        let first_read = db.all("u").expect("all").into_iter().find(|n| n.id == a.id);
        db.mark_read("u", std::slice::from_ref(&a.id), T + 99)
            .expect("again");
        let again = db.all("u").expect("all").into_iter().find(|n| n.id == a.id);
        assert_eq!(first_read, again, "read_at kept");
        assert_eq!(
            again.and_then(|n| n.read_at).as_deref(),
            Some("2026-11-23T11:14:14.124Z")
        );

        let newer = db
            .create(new("u", Kind::Activity, None), T + 20)
            .expect("h");
        let until = db.recent("u", None, 50, T + 20).expect("r")[1].id.clone();
        // Newest first, the expired f left out: [h, c, b, a]; b and c are unread up to c.
        assert_eq!(db.mark_all_read("u", Some(&until), T + 21).expect("all"), 2);
        assert_eq!(db.unread_count("u", T + 21).expect("count"), 1);
        // h, and the expired f.
        assert_eq!(db.mark_all_read("u", None, T + 21).expect("all"), 2);
        assert_eq!(db.unread_count("u", T + 21).expect("count"), 0);
        assert_eq!(db.unread_count("v", T + 21).expect("count"), 1);
        assert_eq!(db.newest_id("u", T + 21).expect("newest"), Some(newer.id));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn reopen_keeps_rows_secret_and_id_order() {
        let (mut db, dir) = temp_db();
        let mut n = new("u", Kind::Alert, None);
        n.body = Some("b".into());
        n.data = json!({"k": [1, "x"]})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let made = db.create(n, T).expect("create");
        let secret = db.secret().expect("secret");
        assert_eq!(secret.len(), 32);
        drop(db);
        let mut db = Db::open(&dir.join(DB_FILE)).expect("reopen");
        assert_eq!(db.secret().expect("secret"), secret);
        assert_eq!(db.all("u").expect("all"), vec![made.clone()]);
        assert!(db.next_id(T - 1000) > made.id);
        assert_eq!(
            made.to_json(),
            json!({"id": made.id, "kind": "alert", "title": "alert title", "body": "b",
                   "data": {"k": [1, "x"]}, "read_at": null,
                   "inserted_at": "2026-11-23T11:14:14.123Z"})
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn two_processes_can_share_one_database() {
        // Two nodes on one data directory: one secret, and no id taken twice.
        let (mut a, dir) = temp_db();
        let mut b = Db::open(&dir.join(DB_FILE)).expect("second connection");
        assert_eq!(b.secret().expect("secret"), a.secret().expect("secret"));
        let x = a
            .create(new("u", Kind::Alert, None), T)
            .expect("create on a");
        let y = b
            .create(new("u", Kind::Alert, None), T)
            .expect("create on b");
        assert!(y.id > x.id, "{} then {}", x.id, y.id);
        assert_eq!(a.all("u").expect("all").len(), 2);
        let _ = std::fs::remove_dir_all(dir);
    }
}
