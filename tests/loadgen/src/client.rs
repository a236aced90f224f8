//! One receiving client: a WebSocket joined to the room, a heartbeat every 30 s, and for every
//! `new_msg` from the sender the delivery latency (receive − send time, one process clock) and
//! the sequence number checked against the last one.

use crate::clock::{now_ns, since_epoch};
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// Bytes read from a socket at a time (a broadcast frame is ~120 B).
const READ_BUFFER: usize = 4096;

/// What the clients share: per-phase delivery counters (for the wait at the end of a phase),
/// a count of every frame read (to tell when the join traffic has settled), and the stop signal.
pub struct Shared {
    pub delivered: Vec<AtomicU64>,
    pub frames: AtomicU64,
    pub stop: watch::Receiver<bool>,
}

/// One client's record of one phase.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PhaseRecord {
    /// Distinct messages received in order.
    pub received: u64,
    /// Runs of missing sequence numbers, and how many numbers they skipped.
    pub gaps: u64,
    pub skipped: u64,
    /// Messages at or below a sequence number already seen (duplicates, reordering).
    pub out_of_order: u64,
    /// The sequence number expected next.
    pub next: u64,
    /// Delivery latency of each message, ns.
    pub latency_ns: Vec<u32>,
    /// From the frame leaving the WebSocket reader to its latency being recorded, ns.
    pub record_ns: Vec<u32>,
}

impl PhaseRecord {
    /// Account for message `seq`.
    pub fn see(&mut self, seq: u64) -> bool {
        if seq < self.next {
            self.out_of_order += 1;
            return false;
        }
        if seq > self.next {
            self.gaps += 1;
            self.skipped += seq - self.next;
        }
        self.next = seq + 1;
        self.received += 1;
        true
    }
}

/// `(phase, seq, send_ns)` from a broadcast frame whose body is `lg PHASE SEQ SEND_NS`.
pub fn parse_marker(text: &str) -> Option<(usize, u64, u64)> {
    const MARK: &str = "\"body\":\"lg ";
    let start = text.find(MARK)? + MARK.len();
    let rest = &text[start..];
    let body = &rest[..rest.find('"')?];
    let mut it = body.split(' ');
    let phase = it.next()?.parse().ok()?;
    let seq = it.next()?.parse().ok()?;
    let sent = it.next()?.parse().ok()?;
    Some((phase, seq, sent))
}

/// Open a WebSocket to `url` and join `topic` as `name`; returns once the join is acknowledged.
pub async fn connect(url: &str, topic: &str, name: &str) -> Result<Ws, String> {
    // tungstenite zero-fills `read_buffer_size` bytes before every read (128 KiB by default):
    // with 1,000 sockets that memset was a third of the generator's CPU.
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let join = format!(r#"["1","1",{topic:?},"phx_join",{{"name":{name:?}}}]"#);
    ws.send(Message::text(join))
        .await
        .map_err(|e| format!("join: {e}"))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| "join: no reply in 30 s".to_string())?;
        let Some(Ok(Message::Text(text))) = msg else {
            if let Some(Ok(_)) = msg {
                continue;
            }
            return Err("join: socket closed".into());
        };
        let Ok(serde_json::Value::Array(f)) = serde_json::from_str(text.as_str()) else {
            continue;
        };
        if f.len() == 5 && f[1] == "1" && f[3] == "phx_reply" {
            return if f[4]["status"] == "ok" {
                Ok(ws)
            } else {
                Err(format!("join refused: {}", f[4]))
            };
        }
    }
}

/// Read until stopped; returns one record per phase. `index`/`of` spread the clients'
/// heartbeats over the 30 s period instead of sending them all at once.
pub async fn run(
    mut ws: Ws,
    shared: Arc<Shared>,
    capacity: &[usize],
    index: usize,
    of: usize,
) -> Vec<PhaseRecord> {
    let mut phases: Vec<PhaseRecord> = capacity
        .iter()
        .map(|&c| PhaseRecord {
            latency_ns: Vec::with_capacity(c),
            record_ns: Vec::with_capacity(c),
            ..PhaseRecord::default()
        })
        .collect();
    let offset = HEARTBEAT.mul_f64(index as f64 / of.max(1) as f64);
    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + offset + HEARTBEAT, HEARTBEAT);
    let mut stop = shared.stop.clone();
    let mut next_ref = 1u64;
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    let read = Instant::now();
                    shared.frames.fetch_add(1, Ordering::Relaxed);
                    let Some((phase, seq, sent)) = parse_marker(text.as_str()) else {
                        continue;
                    };
                    let Some(rec) = phases.get_mut(phase) else { continue };
                    if rec.see(seq) {
                        let latency = since_epoch(read).saturating_sub(sent);
                        rec.latency_ns.push(sat32(latency));
                        rec.record_ns.push(sat32(now_ns().saturating_sub(since_epoch(read))));
                        shared.delivered[phase].fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            _ = heartbeat.tick() => {
                next_ref += 1;
                let hb = format!(r#"[null,"{next_ref}","phoenix","heartbeat",{{}}]"#);
                if ws.send(Message::text(hb)).await.is_err() {
                    break;
                }
            }
            _ = stop.changed() => break,
        }
    }
    let _ = ws.close(None).await;
    phases
}

fn sat32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker() {
        let f =
            r#"[null,null,"room:b","new_msg",{"at":1,"body":"lg 1 42 123456","name":"sender"}]"#;
        assert_eq!(parse_marker(f), Some((1, 42, 123_456)));
        assert_eq!(
            parse_marker(r#"[null,null,"room:b","new_msg",{"body":"hi"}]"#),
            None
        );
        assert_eq!(parse_marker(r#"{"body":"lg x 1 2"}"#), None);
    }

    #[test]
    fn sequence() {
        let mut r = PhaseRecord::default();
        assert!(r.see(0));
        assert!(r.see(1));
        assert!(r.see(4));
        assert!(!r.see(2));
        assert!(r.see(5));
        assert_eq!(
            (r.received, r.gaps, r.skipped, r.out_of_order, r.next),
            (4, 1, 2, 1, 6)
        );
    }
}
