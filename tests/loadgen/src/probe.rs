//! The generator's own read delay: an OS thread writes its send time (8 bytes) to a loopback
//! TCP socket every millisecond, and a task on the same async runtime as the clients reads it.
//! The lag from write to read is what any client socket pays before the generator even looks
//! at a frame: the kernel's loopback hop plus the runtime's delay in polling a ready socket
//! (its I/O driver and run queue, shared with the 1,000 client tasks on the same 2 cores).

use crate::clock::now_ns;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Samples are recorded into `samples[slot]` while `slot` is in range; `NONE` pauses.
pub struct Probe {
    slot: Arc<AtomicUsize>,
    samples: Arc<Mutex<Vec<Vec<u32>>>>,
}

pub const NONE: usize = usize::MAX;

impl Probe {
    pub async fn start(slots: usize) -> std::io::Result<Probe> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        std::thread::spawn(move || {
            let Ok(mut s) = std::net::TcpStream::connect(addr) else {
                return;
            };
            let _ = s.set_nodelay(true);
            loop {
                std::thread::sleep(Duration::from_millis(1));
                if s.write_all(&now_ns().to_le_bytes()).is_err() {
                    return;
                }
            }
        });
        let (mut stream, _) = listener.accept().await?;
        let probe = Probe {
            slot: Arc::new(AtomicUsize::new(NONE)),
            samples: Arc::new(Mutex::new(vec![Vec::new(); slots])),
        };
        let (slot, samples) = (probe.slot.clone(), probe.samples.clone());
        tokio::spawn(async move {
            let mut buf = [0u8; 8];
            while stream.read_exact(&mut buf).await.is_ok() {
                let lag = now_ns().saturating_sub(u64::from_le_bytes(buf));
                let i = slot.load(Ordering::Relaxed);
                if let Some(v) = samples.lock().ok().as_mut().and_then(|s| s.get_mut(i)) {
                    v.push(u32::try_from(lag).unwrap_or(u32::MAX));
                }
            }
        });
        Ok(probe)
    }

    /// Record into `slot` from now on (`NONE`: stop recording).
    pub fn record_into(&self, slot: usize) {
        self.slot.store(slot, Ordering::Relaxed);
    }

    /// Take the samples of `slot`.
    pub fn take(&self, slot: usize) -> Vec<u32> {
        self.samples
            .lock()
            .ok()
            .and_then(|mut s| s.get_mut(slot).map(std::mem::take))
            .unwrap_or_default()
    }
}
