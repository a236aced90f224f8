//! The Redis adapter, through the `redis` crate: a multiplexed command connection and a
//! subscriber on `CHANNEL`. Envelopes are published on `CHANNEL`; the node's presence snapshot
//! is the key `KEY_PREFIX<node>` with an expiry of `TTL` (see `node`).

use super::node::{within, Subscription, COMMAND_TIMEOUT, CONNECT_TIMEOUT, INBOX, TTL};
use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use std::io;
use tokio::sync::mpsc;

/// The channel every node publishes on and subscribes to.
pub const CHANNEL: &str = "tether:fanout";
/// Prefix of the per-node presence snapshot keys.
pub const KEY_PREFIX: &str = "tether:presence:";

fn io_err(e: redis::RedisError) -> io::Error {
    io::Error::other(e.to_string())
}

pub(crate) struct Conn {
    cmd: MultiplexedConnection,
    key: String,
}

impl Conn {
    pub(crate) async fn connect(url: &str, node: &str) -> io::Result<(Conn, Subscription)> {
        let client = redis::Client::open(url).map_err(io_err)?;
        let cmd = within(CONNECT_TIMEOUT, "redis", async {
            // The crate's own 500 ms response timeout would cut a busy node off Redis; calls
            // are bounded by COMMAND_TIMEOUT here instead.
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(None);
            client
                .get_multiplexed_async_connection_with_config(&config)
                .await
                .map_err(io_err)
        })
        .await?;
        let mut pubsub = within(CONNECT_TIMEOUT, "redis", async {
            client.get_async_pubsub().await.map_err(io_err)
        })
        .await?;
        within(COMMAND_TIMEOUT, "redis", async {
            pubsub.subscribe(CHANNEL).await.map_err(io_err)
        })
        .await?;
        let (tx, inbox) = mpsc::channel(INBOX);
        let reader = tokio::spawn(async move {
            let mut messages = pubsub.into_on_message();
            while let Some(msg) = messages.next().await {
                if tx.send(msg.get_payload_bytes().to_vec()).await.is_err() {
                    break;
                }
            }
            // The stream ends when the connection does: dropping `tx` ends the session.
        });
        Ok((
            Conn {
                cmd,
                key: format!("{KEY_PREFIX}{node}"),
            },
            Subscription { inbox, reader },
        ))
    }

    fn set_snapshot(&self, pipe: &mut redis::Pipeline, snapshot: String) {
        pipe.cmd("SET")
            .arg(&self.key)
            .arg(snapshot)
            .arg("PX")
            .arg(TTL.as_millis() as u64)
            .ignore();
    }

    pub(crate) async fn publish(
        &mut self,
        snapshot: Option<String>,
        envelopes: Vec<String>,
    ) -> io::Result<()> {
        let mut pipe = redis::pipe();
        if let Some(snapshot) = snapshot {
            self.set_snapshot(&mut pipe, snapshot);
        }
        for e in envelopes {
            pipe.cmd("PUBLISH").arg(CHANNEL).arg(e).ignore();
        }
        let cmd = &mut self.cmd;
        within(COMMAND_TIMEOUT, "redis", async {
            pipe.query_async::<()>(cmd).await.map_err(io_err)
        })
        .await
    }

    pub(crate) async fn heartbeat(&mut self, snapshot: String) -> io::Result<Vec<Vec<u8>>> {
        let mut pipe = redis::pipe();
        self.set_snapshot(&mut pipe, snapshot);
        let cmd = &mut self.cmd;
        within(COMMAND_TIMEOUT, "redis", async {
            pipe.query_async::<()>(&mut *cmd).await.map_err(io_err)
        })
        .await?;
        let pattern = format!("{KEY_PREFIX}*");
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, page): (u64, Vec<String>) = within(COMMAND_TIMEOUT, "redis", async {
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut *cmd)
                    .await
                    .map_err(io_err)
            })
            .await?;
            for k in page {
                if k != self.key && !keys.contains(&k) {
                    keys.push(k);
                }
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> = within(COMMAND_TIMEOUT, "redis", async {
            redis::cmd("MGET")
                .arg(&keys)
                .query_async(&mut *cmd)
                .await
                .map_err(io_err)
        })
        .await?;
        Ok(values.into_iter().flatten().collect())
    }

    pub(crate) async fn goodbye(&mut self, bye: String) -> io::Result<()> {
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(&self.key).ignore();
        pipe.cmd("PUBLISH").arg(CHANNEL).arg(bye).ignore();
        pipe.query_async::<()>(&mut self.cmd).await.map_err(io_err)
    }
}
