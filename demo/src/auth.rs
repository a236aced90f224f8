//! Sign-in tokens: `base64url(payload) "." base64url(HMAC-SHA256(secret, base64url(payload)))`.
//!
//! The payload is JSON `{"v":1,"sub":user_id,"name":name,"iat":unix_ms}`. A user id is derived
//! from the name alone (`user_id_for`), so signing in twice with one name is the same user.
//! Tokens are never logged; `Auth`'s `Debug` hides the secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;

type HmacSha256 = Hmac<Sha256>;

/// Tokens older than this are refused.
pub const MAX_AGE_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Tolerated clock skew for an `iat` in the future.
const FUTURE_SKEW_MS: i64 = 60_000;
/// Longest display name kept, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest token accepted, in bytes (ours are far shorter).
pub const MAX_TOKEN_BYTES: usize = 2048;
/// The prefix of Phoenix's bearer-token WebSocket subprotocol.
pub const BEARER_PREFIX: &str = "base64url.bearer.phx.";
/// Longest slug part of a user id.
const MAX_SLUG_CHARS: usize = 24;

/// Who a valid token says the connection is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    pub name: String,
}

impl Identity {
    /// The one notifications topic this identity may join.
    pub fn notifications_topic(&self) -> String {
        notifications_topic(&self.user_id)
    }
}

/// `user:{user_id}:notifications`
pub fn notifications_topic(user_id: &str) -> String {
    format!("user:{user_id}:notifications")
}

/// Why a token was refused. The client learns which from the close reason (`close_reason`);
/// the token itself is never logged or echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    Expired,
    /// The query and the bearer subprotocol carry two different tokens.
    Conflicting,
}

/// The WebSocket close code of a socket whose token was refused: the upgrade is accepted and
/// the socket closed at once with it, since a browser cannot read the status of a refused
/// upgrade.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;

impl TokenError {
    /// The close reason sent with [`CLOSE_UNAUTHORIZED`]: what is wrong and what to do
    /// (at most 123 bytes, the limit of a close frame).
    pub fn close_reason(self) -> &'static str {
        match self {
            TokenError::Malformed => {
                "unauthorized: malformed token (pass the token from POST /api/session)"
            }
            TokenError::BadSignature => {
                "unauthorized: token not signed by this server (sign in again)"
            }
            TokenError::Expired => "unauthorized: token expired (sign in again for a new one)",
            TokenError::Conflicting => {
                "unauthorized: two different tokens (query and subprotocol); send one"
            }
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenError::Malformed => "malformed token",
            TokenError::BadSignature => "bad token signature",
            TokenError::Expired => "expired token",
            TokenError::Conflicting => "two different tokens",
        })
    }
}

impl std::error::Error for TokenError {}

/// Issues and verifies tokens with one secret.
#[derive(Clone)]
pub struct Auth {
    secret: Arc<[u8]>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Auth { secret: <hidden> }")
    }
}

impl Auth {
    /// HMAC accepts a key of any length; callers pass at least 32 random bytes or the
    /// operator's `TETHER_DEMO_SECRET`.
    pub fn new(secret: &[u8]) -> Auth {
        Auth {
            secret: Arc::from(secret),
        }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; this cannot fail.
        match HmacSha256::new_from_slice(&self.secret) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        }
    }

    /// A token for `name` (already normalized with `normalize_name`) issued at `now_ms`.
    pub fn issue(&self, name: &str, now_ms: i64) -> (Identity, String) {
        let identity = Identity {
            user_id: user_id_for(name),
            name: name.to_owned(),
        };
        let payload = json!({
            "v": 1,
            "sub": identity.user_id,
            "name": identity.name,
            "iat": now_ms,
        });
        let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        (identity, format!("{payload}.{signature}"))
    }

    /// The identity in `token` if its signature is ours (checked in constant time) and it is
    /// at most `MAX_AGE_MS` old at `now_ms`.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<Identity, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let (payload, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| TokenError::BadSignature)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Malformed)?;
        let payload: Value = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
        let (Some(1), Some(user_id), Some(name), Some(iat)) = (
            payload.get("v").and_then(Value::as_i64),
            payload.get("sub").and_then(Value::as_str),
            payload.get("name").and_then(Value::as_str),
            payload.get("iat").and_then(Value::as_i64),
        ) else {
            return Err(TokenError::Malformed);
        };
        if !is_valid_user_id(user_id) {
            return Err(TokenError::Malformed);
        }
        if iat > now_ms.saturating_add(FUTURE_SKEW_MS) || now_ms.saturating_sub(iat) > MAX_AGE_MS {
            return Err(TokenError::Expired);
        }
        Ok(Identity {
            user_id: user_id.to_owned(),
            name: name.to_owned(),
        })
    }
}

/// The display name to sign in with: trimmed, at most `MAX_NAME_CHARS` characters, no control
/// characters; `None` when nothing is left.
pub fn normalize_name(raw: &str) -> Option<String> {
    let name: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// The user id of `name`: a lowercase ASCII slug of it (at most 24 characters, `user` when
/// nothing is left) plus `-` and 8 hex digits of SHA-256(name). Only `[a-z0-9-]`, so it is safe
/// inside a topic.
pub fn user_id_for(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if slug.len() >= MAX_SLUG_CHARS {
            break;
        }
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "user" } else { slug };
    let digest = Sha256::digest(name.as_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{slug}-{hash}")
}

/// Whether `id` has the shape of a user id: 1–64 characters of `[a-z0-9_-]`.
pub fn is_valid_user_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The token a WebSocket upgrade carries, from the `token` query parameter or from a
/// `base64url.bearer.phx.<base64(token)>` subprotocol (phoenix.js `authToken`; its `btoa`
/// alphabet is accepted too). `Ok(None)` when there is none (an empty value counts as none);
/// `Err` when one is there but cannot be decoded, or the two places disagree.
pub fn token_from_upgrade<'a>(
    query: Option<&str>,
    protocol_headers: impl IntoIterator<Item = &'a str>,
) -> Result<Option<String>, TokenError> {
    let mut found: Option<String> = None;
    let mut add = |token: String| -> Result<(), TokenError> {
        if token.is_empty() {
            return Ok(());
        }
        match &found {
            Some(other) if *other != token => Err(TokenError::Conflicting),
            _ => {
                found = Some(token);
                Ok(())
            }
        }
    };
    for pair in query.unwrap_or("").split('&') {
        if let Some(value) = pair.strip_prefix("token=") {
            add(percent_decode(value).ok_or(TokenError::Malformed)?)?;
        }
    }
    for header in protocol_headers {
        for protocol in header.split(',').map(str::trim) {
            if let Some(encoded) = protocol.strip_prefix(BEARER_PREFIX) {
                add(decode_bearer(encoded).ok_or(TokenError::Malformed)?)?;
            }
        }
    }
    Ok(found)
}

/// base64url (or standard base64), padded or not → UTF-8 text.
fn decode_bearer(encoded: &str) -> Option<String> {
    if encoded.len() > MAX_TOKEN_BYTES * 2 {
        return None;
    }
    let normalized: String = encoded
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let bytes = URL_SAFE_NO_PAD.decode(normalized).ok()?;
    String::from_utf8(bytes).ok()
}

/// `%XX` escapes → bytes → UTF-8; `None` for a broken escape or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    if s.len() > MAX_TOKEN_BYTES * 3 {
        return None;
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_432_454_123;

    #[test]
    fn round_trip_and_tampering() {
        let auth = Auth::new(b"0123456789abcdef0123456789abcdef");
        let (id, token) = auth.issue("Ada Lovelace", NOW);
        assert_eq!(id.user_id, user_id_for("Ada Lovelace"));
        assert_eq!(auth.verify(&token, NOW + 1000), Ok(id.clone()));
        assert_eq!(
            id.notifications_topic(),
            format!("user:{}:notifications", id.user_id)
        );

        let other = Auth::new(b"another secret");
        assert_eq!(other.verify(&token, NOW), Err(TokenError::BadSignature));
        let (payload, sig) = token.split_once('.').expect("two parts");
        let forged = URL_SAFE_NO_PAD
            .encode(json!({"v": 1, "sub": "bob-00000000", "name": "bob", "iat": NOW}).to_string());
        assert_eq!(
            auth.verify(&format!("{forged}.{sig}"), NOW),
            Err(TokenError::BadSignature)
        );
        let mut flipped = sig.to_owned();
        flipped.replace_range(0..1, if sig.starts_with('A') { "B" } else { "A" });
        assert_eq!(
            auth.verify(&format!("{payload}.{flipped}"), NOW),
            Err(TokenError::BadSignature)
        );
        for bad in ["", ".", "x", "a.b", "a.!!", &"a".repeat(5000)] {
            assert!(auth.verify(bad, NOW).is_err(), "{bad:?}");
        }
        assert_eq!(
            auth.verify(&token, NOW + MAX_AGE_MS + 1),
            Err(TokenError::Expired)
        );
        assert_eq!(auth.verify(&token, NOW - 120_000), Err(TokenError::Expired));
        assert!(!format!("{auth:?}").contains("0123"));
    }

    #[test]
    fn user_ids_are_deterministic_and_topic_safe() {
        assert_eq!(user_id_for("ada"), user_id_for("ada"));
        assert_ne!(user_id_for("ada"), user_id_for("Ada"));
        assert!(user_id_for("Ada Lovelace").starts_with("ada-lovelace-"));
        assert!(user_id_for("😀").starts_with("user-"));
        assert!(user_id_for("--x--").starts_with("x-"));
        for name in ["ada", "Émile Zola", "a:b:c", "😀", &"long name ".repeat(10)] {
            let id = user_id_for(name);
            assert!(is_valid_user_id(&id), "{id}");
            assert!(id.len() <= 24 + 9, "{id}");
        }
        assert!(!is_valid_user_id("Ada"));
        assert!(!is_valid_user_id("a:b"));
        assert!(!is_valid_user_id(""));
    }

    #[test]
    fn names() {
        assert_eq!(normalize_name("  ada \n"), Some("ada".into()));
        assert_eq!(normalize_name(" \t "), None);
        assert_eq!(normalize_name("a\u{0}b"), Some("ab".into()));
        assert_eq!(
            normalize_name(&"é".repeat(100)).map(|n| n.chars().count()),
            Some(MAX_NAME_CHARS)
        );
    }

    #[test]
    fn tokens_from_query_and_subprotocol() {
        let none: [&str; 0] = [];
        assert_eq!(token_from_upgrade(None, none), Ok(None));
        assert_eq!(token_from_upgrade(Some("vsn=2.0.0&token="), none), Ok(None));
        assert_eq!(
            token_from_upgrade(Some("vsn=2.0.0&token=a.b%2Ec"), none),
            Ok(Some("a.b.c".into()))
        );
        assert!(token_from_upgrade(Some("token=%zz"), none).is_err());
        let proto = format!("phoenix, {BEARER_PREFIX}{}", URL_SAFE_NO_PAD.encode("x.y"));
        assert_eq!(
            token_from_upgrade(Some("vsn=2.0.0"), [proto.as_str()]),
            Ok(Some("x.y".into()))
        );
        // phoenix.js: btoa (standard alphabet) with the padding removed.
        let std = format!("{BEARER_PREFIX}Pz8/Pg");
        assert_eq!(
            token_from_upgrade(None, [std.as_str()]),
            Ok(Some("???>".into()))
        );
        assert_eq!(
            token_from_upgrade(Some("token=x.y"), [proto.as_str()]),
            Ok(Some("x.y".into()))
        );
        assert_eq!(
            token_from_upgrade(Some("token=z"), [proto.as_str()]),
            Err(TokenError::Conflicting)
        );
        let broken = format!("{BEARER_PREFIX}!!!");
        assert!(token_from_upgrade(None, [broken.as_str()]).is_err());
    }

    #[test]
    fn close_reasons_fit_a_close_frame_and_say_unauthorized() {
        for err in [
            TokenError::Malformed,
            TokenError::BadSignature,
            TokenError::Expired,
            TokenError::Conflicting,
        ] {
            let reason = err.close_reason();
            assert!(reason.len() <= 123, "{reason}");
            assert!(reason.starts_with("unauthorized: "), "{reason}");
        }
    }
}
