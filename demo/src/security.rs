//! Hardening of the WebSocket endpoint: which pages may open a socket (the `Origin` check), the
//! largest frame a client may send, and how fast one socket may push (a token bucket).
//!
//! - Origin: a WebSocket upgrade whose `Origin` header is present and not allowed gets 403.
//!   Requests without `Origin` (non-browser clients) are allowed: the check stops other web
//!   pages from riding a user's browser, it is not authentication.
//! - Frames: a text or binary message over [`MAX_FRAME_BYTES`] closes the socket with 1009.
//! - Pushes: every client frame but a heartbeat takes a token from the socket's bucket; with
//!   none left the frame is answered `{"status":"error","response":{"reason":"rate limited"}}`
//!   and otherwise ignored (the socket stays open).
//! - Silence: a socket that sends nothing, not even a pong, for the idle timeout is closed
//!   (see `liveness`).

use std::time::Instant;

/// Largest WebSocket message (and frame) accepted from a client.
pub const MAX_FRAME_BYTES: usize = 1 << 20;
/// WebSocket close code "message too big".
pub const CLOSE_MESSAGE_TOO_BIG: u16 = 1009;
/// The reason in the error reply to a push over the rate.
pub const RATE_LIMITED: &str = "rate limited";

/// What `--allowed-origins` is when not given.
pub const DEFAULT_ALLOWED_ORIGINS: &str = "self,http://127.0.0.1:*,http://localhost:*";
/// What `--push-rate` is when not given: 50 pushes a second, bursts of 100.
pub const DEFAULT_PUSH_RATE: PushRate = PushRate {
    per_sec: 50,
    burst: 100,
};

/// The security settings of one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    pub origins: Origins,
    pub push_rate: PushRate,
    /// Silence after which a socket is closed (pinged at half of it); `None`: never.
    pub idle_timeout: Option<std::time::Duration>,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            origins: Origins::default(),
            push_rate: DEFAULT_PUSH_RATE,
            idle_timeout: Some(crate::liveness::DEFAULT_IDLE_TIMEOUT),
        }
    }
}

/// One entry of the Origin allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OriginRule {
    /// `*`: every origin.
    Any,
    /// `self`: `http` or `https` with exactly the request's `Host` (host and port).
    SameHost,
    /// `scheme://host[:port]` (lowercase, default port removed).
    Exact(String),
    /// `scheme://host:*`: that scheme and host with any port (or none).
    AnyPort(String),
}

/// The Origin allow-list (`--allowed-origins`, a comma-separated list of entries: `*`, `self`,
/// `scheme://host[:port]`, `scheme://host:*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origins {
    rules: Vec<OriginRule>,
}

impl Default for Origins {
    fn default() -> Self {
        match Origins::parse(DEFAULT_ALLOWED_ORIGINS) {
            Ok(o) => o,
            Err(_) => unreachable!("the default allow-list parses"),
        }
    }
}

impl Origins {
    /// Parse a comma-separated allow-list; an empty list allows no browser origin at all.
    pub fn parse(list: &str) -> Result<Origins, String> {
        let mut rules = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let rule = match entry {
                "*" => OriginRule::Any,
                "self" => OriginRule::SameHost,
                _ => {
                    let lower = entry.to_ascii_lowercase();
                    if let Some(base) = lower.strip_suffix(":*") {
                        let (scheme, host) = split_origin(base)
                            .filter(|(_, host)| !host.contains(':') || host.starts_with('['))
                            .ok_or_else(|| format!("bad origin {entry:?}"))?;
                        OriginRule::AnyPort(format!("{scheme}://{host}"))
                    } else {
                        OriginRule::Exact(
                            normalize_origin(&lower)
                                .ok_or_else(|| format!("bad origin {entry:?}"))?,
                        )
                    }
                }
            };
            rules.push(rule);
        }
        Ok(Origins { rules })
    }

    /// Whether an upgrade with this `Origin` header (if any) and `Host` header may proceed.
    pub fn allows(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else {
            return true;
        };
        let Some(origin) = normalize_origin(&origin.trim().to_ascii_lowercase()) else {
            // `null` (sandboxed frames, file pages) or garbage: only `*` lets it through.
            return self.rules.contains(&OriginRule::Any);
        };
        self.rules.iter().any(|rule| match rule {
            OriginRule::Any => true,
            OriginRule::Exact(o) => *o == origin,
            OriginRule::AnyPort(base) => origin
                .strip_prefix(base.as_str())
                .is_some_and(|rest| rest.is_empty() || is_port_suffix(rest)),
            OriginRule::SameHost => host.is_some_and(|host| {
                let host = host.trim().to_ascii_lowercase();
                ["http", "https"].iter().any(|scheme| {
                    normalize_origin(&format!("{scheme}://{host}")).as_deref() == Some(&origin)
                })
            }),
        })
    }
}

/// `:digits`
fn is_port_suffix(rest: &str) -> bool {
    rest.strip_prefix(':')
        .is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `scheme://authority` of an http(s) origin, already lowercase → (scheme, authority).
fn split_origin(origin: &str) -> Option<(&str, &str)> {
    let (scheme, authority) = origin.split_once("://")?;
    if !matches!(scheme, "http" | "https") || authority.is_empty() {
        return None;
    }
    let bad = |b: u8| matches!(b, b'/' | b'?' | b'#' | b'@' | b'\\' | b' ' | b',') || b < 0x21;
    if authority.bytes().any(bad) {
        return None;
    }
    Some((scheme, authority))
}

/// A lowercase `scheme://host[:port]` with the scheme's default port removed; `None` when it
/// is not an http(s) origin (no path, no user info).
fn normalize_origin(origin: &str) -> Option<String> {
    let (scheme, authority) = split_origin(origin)?;
    let default_port = if scheme == "http" { ":80" } else { ":443" };
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    // A port, if any, must be digits (IPv6 literals keep their colons inside brackets).
    let host_end = if authority.starts_with('[') {
        authority.find(']')? + 1
    } else {
        authority.find(':').unwrap_or(authority.len())
    };
    let (host, port) = authority.split_at(host_end);
    if host.is_empty() || !(port.is_empty() || is_port_suffix(port)) {
        return None;
    }
    Some(format!("{scheme}://{authority}"))
}

/// How fast one socket may push: `per_sec` tokens a second into a bucket of `burst`;
/// `per_sec == 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushRate {
    pub per_sec: u32,
    pub burst: u32,
}

impl PushRate {
    pub const UNLIMITED: PushRate = PushRate {
        per_sec: 0,
        burst: 0,
    };

    /// `RATE` (burst 2×RATE), `RATE/BURST`, or `0` / `off` for no limit.
    pub fn parse(s: &str) -> Result<PushRate, String> {
        let s = s.trim();
        if s == "off" || s == "0" {
            return Ok(PushRate::UNLIMITED);
        }
        let bad = || format!("bad push rate {s:?} (RATE or RATE/BURST, e.g. 50/100, or off)");
        let (rate, burst) = match s.split_once('/') {
            Some((r, b)) => (r, Some(b)),
            None => (s, None),
        };
        let per_sec: u32 = rate.trim().parse().map_err(|_| bad())?;
        let burst: u32 = match burst {
            Some(b) => b.trim().parse().map_err(|_| bad())?,
            None => per_sec.saturating_mul(2),
        };
        if per_sec == 0 || burst == 0 {
            return Err(bad());
        }
        Ok(PushRate { per_sec, burst })
    }

    pub fn is_unlimited(&self) -> bool {
        self.per_sec == 0
    }
}

/// A token bucket: starts full, refills `per_sec` tokens a second up to `burst`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: PushRate,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: PushRate, now: Instant) -> TokenBucket {
        TokenBucket {
            rate,
            tokens: f64::from(rate.burst),
            last: now,
        }
    }

    /// Take one token at `now`; false when the bucket is empty (the push is over the rate).
    pub fn take(&mut self, now: Instant) -> bool {
        if self.rate.is_unlimited() {
            return true;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens =
            (self.tokens + elapsed * f64::from(self.rate.per_sec)).min(f64::from(self.rate.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Whether a WebSocket read error means the client's message was over the size limit.
///
/// axum hides tungstenite's error type; its text is "Space limit exceeded: Message too long: …"
/// (`demo/tests/security.rs` checks the 1009 close end to end, so a change shows up there).
pub fn is_too_big(err: &dyn std::error::Error) -> bool {
    let text = err.to_string();
    text.contains("Space limit exceeded") || text.contains("Message too long")
}

/// The push rate limit of one socket, logging once per run of refused frames (so a flood cannot
/// flood the log either).
pub struct Limiter {
    bucket: TokenBucket,
    refused: u64,
}

impl Limiter {
    pub fn new(rate: PushRate) -> Limiter {
        Limiter {
            bucket: TokenBucket::new(rate, tokio::time::Instant::now().into_std()),
            refused: 0,
        }
    }

    /// Take a token for one client frame; false (and counted) when over the rate.
    pub fn allow(&mut self, conn: u64) -> bool {
        if self.bucket.take(tokio::time::Instant::now().into_std()) {
            self.report(conn);
            true
        } else {
            if self.refused == 0 {
                crate::log!("conn {conn}: over the push rate; refusing frames");
            }
            self.refused += 1;
            false
        }
    }

    /// Log how many frames a run of refusals refused, once it is over.
    pub fn report(&mut self, conn: u64) {
        if self.refused > 0 {
            crate::log!(
                "conn {conn}: refused {} frame(s) over the push rate",
                self.refused
            );
            self.refused = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn default_origins() {
        let o = Origins::default();
        let host = Some("127.0.0.1:4000");
        assert!(o.allows(None, host), "no Origin: not a browser, allowed");
        assert!(o.allows(Some("http://127.0.0.1:4000"), host));
        assert!(o.allows(Some("http://127.0.0.1:5173"), host));
        assert!(o.allows(Some("http://127.0.0.1"), host));
        assert!(o.allows(Some("http://localhost:3000"), host));
        assert!(o.allows(Some("HTTP://LocalHost:3000"), host));
        // The page's own host, whatever it is.
        let demo = Some("demo.example:8080");
        assert!(o.allows(Some("http://demo.example:8080"), demo));
        assert!(o.allows(Some("https://demo.example:8080"), demo));
        assert!(!o.allows(Some("http://demo.example:8081"), demo));
        assert!(o.allows(Some("https://demo.example"), Some("demo.example")));
        assert!(o.allows(Some("https://demo.example"), Some("demo.example:443")));
        for bad in [
            "https://evil.example",
            "null",
            "",
            "http://127.0.0.1.evil.example",
            "http://127.0.0.1:4000.evil.example",
            "http://localhost.evil.example:3000",
            "https://127.0.0.1:4001", // https is only allowed for the page's own host
            "http://127.0.0.1:4000/path",
            "http://user@127.0.0.1:4000",
            "ws://127.0.0.1:4000",
            "file://",
            "http://127.0.0.1:abc",
        ] {
            assert!(!o.allows(Some(bad), host), "{bad:?}");
        }
        assert!(!o.allows(Some("http://demo.example:8080"), None));
    }

    #[test]
    fn configured_origins() {
        let o = Origins::parse("https://app.example, http://dev.example:*").expect("parses");
        assert!(o.allows(Some("https://app.example"), Some("x")));
        assert!(o.allows(Some("https://app.example:443"), Some("x")));
        assert!(!o.allows(Some("https://app.example:444"), Some("x")));
        assert!(!o.allows(Some("http://app.example"), Some("x")));
        assert!(o.allows(Some("http://dev.example:1234"), Some("x")));
        assert!(!o.allows(Some("https://dev.example:1234"), Some("x")));
        // An explicit list replaces the defaults entirely.
        assert!(!o.allows(Some("http://127.0.0.1:4000"), Some("127.0.0.1:4000")));
        assert!(Origins::parse("*").expect("any").allows(Some("null"), None));
        let none = Origins::parse("").expect("empty");
        assert!(!none.allows(Some("http://127.0.0.1:1"), Some("127.0.0.1:1")));
        assert!(none.allows(None, None));
        for bad in [
            "example.com",
            "ftp://x",
            "http://a/b",
            "http://a:b",
            "http://a:1:*",
        ] {
            assert!(Origins::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn push_rates() {
        assert_eq!(PushRate::parse("50/100"), Ok(DEFAULT_PUSH_RATE));
        assert_eq!(PushRate::parse("50"), Ok(DEFAULT_PUSH_RATE));
        assert_eq!(PushRate::parse("off"), Ok(PushRate::UNLIMITED));
        assert_eq!(PushRate::parse("0"), Ok(PushRate::UNLIMITED));
        for bad in ["", "x", "5/0", "0/5", "-1", "1/2/3"] {
            assert!(PushRate::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn token_bucket() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(
            PushRate {
                per_sec: 10,
                burst: 5,
            },
            t0,
        );
        assert_eq!((0..10).filter(|_| b.take(t0)).count(), 5, "a full burst");
        assert!(!b.take(t0 + Duration::from_millis(50)));
        assert!(
            b.take(t0 + Duration::from_millis(100)),
            "10/s refills one in 100 ms"
        );
        assert!(!b.take(t0 + Duration::from_millis(100)));
        let later = t0 + Duration::from_secs(60);
        assert_eq!(
            (0..10).filter(|_| b.take(later)).count(),
            5,
            "never above burst"
        );
        // A clock that goes backwards takes nothing extra.
        assert!(!b.take(t0));
        let mut off = TokenBucket::new(PushRate::UNLIMITED, t0);
        assert!((0..10_000).all(|_| off.take(t0)));
    }
}
