//! The one sender: a plain OS thread with a blocking socket, so its send times are not at the
//! mercy of the async runtime that reads the 1,000 client sockets (and its lag between the
//! intended and the actual send time is the thread's own scheduling delay, not a timer
//! granularity). WebSocket framing is written by hand: masked text frames only. A second
//! thread drains what the server sends back (replies, and the sender's own copy of every
//! broadcast) so the server never blocks writing to it.

use crate::clock::since_epoch;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HEARTBEAT: Duration = Duration::from_secs(30);

pub struct Sender {
    stream: TcpStream,
    topic: String,
    next_ref: u64,
    mask_state: u32,
    last_heartbeat: Instant,
    /// Bytes the drain thread has read back.
    pub drained: Arc<AtomicU64>,
}

/// What one phase of sending measured.
pub struct Sent {
    pub count: u64,
    /// Actual − intended send time of each message, ns.
    pub lag_ns: Vec<u32>,
}

impl Sender {
    /// Connect to `addr` (`host:port`), upgrade to a WebSocket and join `topic` as "sender".
    pub fn connect(addr: &str, topic: &str) -> Result<Sender, String> {
        let mut stream = TcpStream::connect(addr).map_err(|e| format!("sender connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        write!(
            stream,
            "GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        )
        .map_err(|e| e.to_string())?;
        let head = read_until(&mut stream, b"\r\n\r\n")?;
        if !head.starts_with(b"HTTP/1.1 101") {
            return Err(format!(
                "sender upgrade refused: {}",
                String::from_utf8_lossy(&head[..head.len().min(80)])
            ));
        }
        let mut sender = Sender {
            stream,
            topic: topic.to_owned(),
            next_ref: 1,
            mask_state: 0x9E37_79B9,
            last_heartbeat: Instant::now(),
            drained: Arc::new(AtomicU64::new(0)),
        };
        let join = format!(
            r#"["1","1",{:?},"phx_join",{{"name":"sender"}}]"#,
            sender.topic
        );
        sender.write_text(&join)?;
        // The join's reply comes first (nothing else is queued for a socket before it joins).
        read_until(&mut sender.stream, b"phx_reply")?;
        let mut drain = sender.stream.try_clone().map_err(|e| e.to_string())?;
        let drained = sender.drained.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = drain.read(&mut buf) {
                if n == 0 {
                    break;
                }
                drained.fetch_add(n as u64, Ordering::Relaxed);
            }
        });
        Ok(sender)
    }

    /// Push `count` `new_msg`s, one every `interval`, each body `lg PHASE SEQ SEND_NS`.
    pub fn run_phase(
        &mut self,
        phase: usize,
        interval: Duration,
        count: u64,
    ) -> Result<Sent, String> {
        let mut lag_ns = Vec::with_capacity(count as usize);
        let start = Instant::now() + Duration::from_millis(5);
        for seq in 0..count {
            let intended = start + interval * u32::try_from(seq).unwrap_or(u32::MAX);
            loop {
                let now = Instant::now();
                if now >= intended {
                    break;
                }
                std::thread::sleep(intended - now);
            }
            if self.last_heartbeat.elapsed() >= HEARTBEAT {
                self.heartbeat()?;
            }
            let sent_at = Instant::now();
            lag_ns.push(sat32(sent_at.duration_since(intended).as_nanos()));
            let r = self.take_ref();
            let frame = format!(
                r#"["1","{r}",{:?},"new_msg",{{"body":"lg {phase} {seq} {}"}}]"#,
                self.topic,
                since_epoch(sent_at)
            );
            self.write_text(&frame)?;
        }
        Ok(Sent { count, lag_ns })
    }

    fn heartbeat(&mut self) -> Result<(), String> {
        self.last_heartbeat = Instant::now();
        let r = self.take_ref();
        self.write_text(&format!(r#"[null,"{r}","phoenix","heartbeat",{{}}]"#))
    }

    fn take_ref(&mut self) -> u64 {
        self.next_ref += 1;
        self.next_ref
    }

    /// One masked text frame.
    fn write_text(&mut self, text: &str) -> Result<(), String> {
        let payload = text.as_bytes();
        let mut frame = Vec::with_capacity(payload.len() + 14);
        frame.push(0x81);
        match payload.len() {
            n @ 0..=125 => frame.push(0x80 | n as u8),
            n @ 126..=65_535 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        // xorshift32: a different mask per frame.
        let mut x = self.mask_state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.mask_state = x;
        let mask = x.to_be_bytes();
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream
            .write_all(&frame)
            .map_err(|e| format!("sender write: {e}"))
    }

    /// Close the socket (the drain thread then ends).
    pub fn close(self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// Read from `stream` until `needle` has been seen; returns what was read.
fn read_until(stream: &mut TcpStream, needle: &[u8]) -> Result<Vec<u8>, String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(needle.len()).any(|w| w == needle) {
        let n = stream
            .read(&mut buf)
            .map_err(|e| format!("sender read: {e}"))?;
        if n == 0 {
            return Err("sender: connection closed during setup".into());
        }
        got.extend_from_slice(&buf[..n]);
    }
    stream.set_read_timeout(None).map_err(|e| e.to_string())?;
    Ok(got)
}

fn sat32(v: u128) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}
