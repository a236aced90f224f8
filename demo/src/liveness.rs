//! Dead-peer detection for one socket. A client silent for half the idle timeout (no frame of
//! any kind, not even a pong) is sent a WebSocket ping; one silent for the whole timeout is
//! closed with 1001. Phoenix clients send a heartbeat every 30 s and browsers answer pings by
//! themselves, so only a dead peer or a half-open link is ever closed — and its presence and
//! topics are released then rather than never. (Phoenix's own WebSocket transport also closes
//! after 60 s without data.)

use std::time::Duration;
use tokio::time::Instant;

/// What `--idle-timeout-ms` is when not given.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// WebSocket close code "going away", sent to a socket closed for silence.
pub const CLOSE_IDLE: u16 = 1001;

/// What to do when [`Liveness::deadline`] has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Ping,
    Close,
}

#[derive(Debug)]
pub struct Liveness {
    timeout: Option<Duration>,
    last_heard: Instant,
    pinged: bool,
}

impl Liveness {
    /// `None`: never ping, never close for silence.
    pub fn new(timeout: Option<Duration>, now: Instant) -> Liveness {
        Liveness {
            timeout,
            last_heard: now,
            pinged: false,
        }
    }

    /// The client sent something (any frame, a pong included).
    pub fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        self.pinged = false;
    }

    /// When to act next: the ping at half the timeout, then the close at the whole of it.
    pub fn deadline(&self) -> Option<Instant> {
        let t = self.timeout?;
        Some(self.last_heard + if self.pinged { t } else { t / 2 })
    }

    /// The deadline has passed: ping first, close if still silent.
    pub fn due(&mut self) -> Due {
        if self.pinged {
            Due::Close
        } else {
            self.pinged = true;
            Due::Ping
        }
    }
}

/// Sleeps until `deadline`, or forever when there is none.
pub async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_gets_a_ping_at_half_the_timeout_then_a_close() {
        let t0 = Instant::now();
        let mut l = Liveness::new(Some(Duration::from_secs(60)), t0);
        assert_eq!(l.deadline(), Some(t0 + Duration::from_secs(30)));
        assert_eq!(l.due(), Due::Ping);
        assert_eq!(l.deadline(), Some(t0 + Duration::from_secs(60)));
        assert_eq!(l.due(), Due::Close);
    }

    #[test]
    fn anything_heard_starts_the_count_again() {
        let t0 = Instant::now();
        let mut l = Liveness::new(Some(Duration::from_secs(60)), t0);
        assert_eq!(l.due(), Due::Ping);
        let t1 = t0 + Duration::from_secs(40);
        l.heard(t1);
        assert_eq!(l.deadline(), Some(t1 + Duration::from_secs(30)));
        assert_eq!(l.due(), Due::Ping);
    }

    #[test]
    fn off_never_pings_or_closes() {
        assert_eq!(Liveness::new(None, Instant::now()).deadline(), None);
    }
}
