//! The PostgreSQL adapter: `LISTEN`/`NOTIFY` on `CHANNEL` ("use your existing database for
//! pub/sub"), through tokio-postgres, with two connections (commands, and a listener).
//!
//! - Envelopes are sent with `pg_notify(CHANNEL, …)`, in order, in one statement per batch.
//! - The payload limit: PostgreSQL refuses a `NOTIFY` payload of `PAYLOAD_LIMIT` bytes or more.
//!   Such an envelope is never truncated: it is stored in `tether_fanout_payloads` and the
//!   notification carries only `{"ref": id}`; listeners read the row (kept `PAYLOAD_KEEP`) and
//!   apply it in its place, so order is kept. Each one is logged and counted
//!   (`large_payloads` in `/api/health`).
//! - Presence snapshots are rows of `tether_presence` (`node`, `snapshot`, `expires_at`), kept
//!   fresh by the heartbeats of `node`; a row past its `expires_at` is a dead node.
//! - The tables are made at connect (`CREATE … IF NOT EXISTS` under an advisory lock).
//! - A lost connection (PostgreSQL restarted) ends the session; `node` reconnects with backoff
//!   and listens again (resubscription), then publishes the node's snapshot anew.

use super::node::{within, Subscription, COMMAND_TIMEOUT, CONNECT_TIMEOUT, INBOX, TTL};
use super::Status;
use crate::log;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, NoTls};

/// The notification channel every node listens on.
pub const CHANNEL: &str = "tether_fanout";
/// PostgreSQL's limit: a payload must be shorter than 8000 bytes.
pub const PAYLOAD_LIMIT: usize = 8000;
/// How long a large payload's row is kept for the listeners to read.
pub const PAYLOAD_KEEP: Duration = Duration::from_secs(60);
const LOCK_SCHEMA: i64 = 0x7465_7468_0003;
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tether_presence (
    node TEXT PRIMARY KEY NOT NULL,
    snapshot TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS tether_fanout_payloads (
    id BIGSERIAL PRIMARY KEY,
    body TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);";

fn io_err(e: tokio_postgres::Error) -> io::Error {
    io::Error::other(format!("postgres: {}", crate::store::postgres::chain(&e)))
}

async fn open(
    url: &str,
) -> io::Result<(
    Client,
    tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
)> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| io::Error::other(format!("bad PostgreSQL URL: {e}")))?;
    config.connect_timeout(CONNECT_TIMEOUT);
    within(CONNECT_TIMEOUT, "postgres", async {
        config.connect(NoTls).await.map_err(io_err)
    })
    .await
}

pub(crate) struct Conn {
    client: Client,
    node: String,
    status: Arc<Status>,
    beats: u32,
}

impl Conn {
    pub(crate) async fn connect(
        url: &str,
        node: &str,
        status: Arc<Status>,
    ) -> io::Result<(Conn, Subscription)> {
        let (mut client, connection) = open(url).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        within(COMMAND_TIMEOUT, "postgres", async {
            let tx = client.transaction().await.map_err(io_err)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_SCHEMA])
                .await
                .map_err(io_err)?;
            tx.batch_execute(SCHEMA).await.map_err(io_err)?;
            tx.commit().await.map_err(io_err)
        })
        .await?;

        // The listener: its connection's notifications go to `raw`; the reader resolves
        // references and hands the envelopes to the inbox.
        let (listener, mut lconn) = open(url).await?;
        let (raw_tx, mut raw) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            loop {
                match std::future::poll_fn(|cx| lconn.poll_message(cx)).await {
                    Some(Ok(AsyncMessage::Notification(n))) => {
                        if n.channel() == CHANNEL && raw_tx.send(n.payload().to_owned()).is_err() {
                            break;
                        }
                    }
                    Some(Ok(_)) => {}
                    // The connection is gone: dropping `raw_tx` ends the session.
                    Some(Err(_)) | None => break,
                }
            }
        });
        within(COMMAND_TIMEOUT, "postgres", async {
            listener
                .batch_execute(&format!("LISTEN {CHANNEL}"))
                .await
                .map_err(io_err)
        })
        .await?;
        let (tx, inbox) = mpsc::channel(INBOX);
        let reader = tokio::spawn(async move {
            while let Some(payload) = raw.recv().await {
                let body = match reference(&payload) {
                    None => payload,
                    Some(id) => {
                        let row = within(COMMAND_TIMEOUT, "postgres", async {
                            listener
                                .query_opt(
                                    "SELECT body FROM tether_fanout_payloads WHERE id = $1",
                                    &[&id],
                                )
                                .await
                                .map_err(io_err)
                        })
                        .await;
                        match row {
                            Ok(Some(row)) => row.get(0),
                            Ok(None) => {
                                log!("pubsub: postgres: large payload {id} is gone; skipped");
                                continue;
                            }
                            Err(e) => {
                                log!("pubsub: postgres: cannot read large payload {id}: {e}");
                                break;
                            }
                        }
                    }
                };
                if tx.send(body.into_bytes()).await.is_err() {
                    break;
                }
            }
        });
        Ok((
            Conn {
                client,
                node: node.to_owned(),
                status,
                beats: 0,
            },
            Subscription { inbox, reader },
        ))
    }

    async fn set_snapshot(&self, snapshot: String) -> io::Result<()> {
        let ttl = TTL.as_millis() as i64;
        within(COMMAND_TIMEOUT, "postgres", async {
            self.client
                .execute(
                    "INSERT INTO tether_presence (node, snapshot, expires_at) \
                     VALUES ($1, $2, now() + $3::bigint * interval '1 millisecond') \
                     ON CONFLICT (node) DO UPDATE \
                     SET snapshot = excluded.snapshot, expires_at = excluded.expires_at",
                    &[&self.node, &snapshot, &ttl],
                )
                .await
                .map_err(io_err)
        })
        .await?;
        Ok(())
    }

    /// An envelope as it can be sent: itself, or (over the limit) a reference to a stored copy.
    async fn sendable(&self, envelope: String) -> io::Result<String> {
        if envelope.len() < PAYLOAD_LIMIT {
            return Ok(envelope);
        }
        let size = envelope.len();
        let row = within(COMMAND_TIMEOUT, "postgres", async {
            self.client
                .query_one(
                    "INSERT INTO tether_fanout_payloads (body) VALUES ($1) RETURNING id",
                    &[&envelope],
                )
                .await
                .map_err(io_err)
        })
        .await?;
        let id: i64 = row.get(0);
        let n = self.status.large_payloads.fetch_add(1, Ordering::Relaxed) + 1;
        log!(
            "pubsub: postgres: an event of {size} bytes is over NOTIFY's {PAYLOAD_LIMIT}-byte limit; \
             stored as payload {id} and sent by reference ({n} so far)"
        );
        Ok(format!("{{\"ref\":{id}}}"))
    }

    pub(crate) async fn publish(
        &mut self,
        snapshot: Option<String>,
        envelopes: Vec<String>,
    ) -> io::Result<()> {
        if let Some(snapshot) = snapshot {
            self.set_snapshot(snapshot).await?;
        }
        let mut payloads = Vec::with_capacity(envelopes.len());
        for e in envelopes {
            payloads.push(self.sendable(e).await?);
        }
        within(COMMAND_TIMEOUT, "postgres", async {
            self.client
                .execute(
                    "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p",
                    &[&CHANNEL, &payloads],
                )
                .await
                .map_err(io_err)
        })
        .await?;
        Ok(())
    }

    pub(crate) async fn heartbeat(&mut self, snapshot: String) -> io::Result<Vec<Vec<u8>>> {
        self.set_snapshot(snapshot).await?;
        self.beats = self.beats.wrapping_add(1);
        if self.beats % 20 == 1 {
            let keep = PAYLOAD_KEEP.as_millis() as i64;
            within(COMMAND_TIMEOUT, "postgres", async {
                self.client
                    .execute(
                        "DELETE FROM tether_fanout_payloads \
                         WHERE created_at < now() - $1::bigint * interval '1 millisecond'",
                        &[&keep],
                    )
                    .await
                    .map_err(io_err)?;
                self.client
                    .execute(
                        "DELETE FROM tether_presence WHERE expires_at < now() - interval '1 minute'",
                        &[],
                    )
                    .await
                    .map_err(io_err)
            })
            .await?;
        }
        let rows = within(COMMAND_TIMEOUT, "postgres", async {
            self.client
                .query(
                    "SELECT snapshot FROM tether_presence WHERE node <> $1 AND expires_at > now()",
                    &[&self.node],
                )
                .await
                .map_err(io_err)
        })
        .await?;
        Ok(rows
            .iter()
            .map(|r| r.get::<_, String>(0).into_bytes())
            .collect())
    }

    pub(crate) async fn goodbye(&mut self, bye: String) -> io::Result<()> {
        self.client
            .execute("DELETE FROM tether_presence WHERE node = $1", &[&self.node])
            .await
            .map_err(io_err)?;
        self.client
            .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &bye])
            .await
            .map_err(io_err)?;
        Ok(())
    }
}

/// The payload id of a `{"ref": id}` notification.
fn reference(payload: &str) -> Option<i64> {
    if !payload.starts_with("{\"ref\":") {
        return None;
    }
    serde_json::from_str::<serde_json::Value>(payload)
        .ok()?
        .get("ref")?
        .as_i64()
}
