//! The token subprotocols. (The socket URL is built in JS: `socket_url` in src/web/glue.js.)

use crate::prelude::*;

/// `["phoenix", "base64url.bearer.phx.<token>"]` when there is a token, as Phoenix expects.
pub fn token_protocols(token: Option<&str>) -> Vec<String> {
    match token {
        Some(t) if !t.is_empty() => vec![
            "phoenix".into(),
            ["base64url.bearer.phx.", &base64url(t.as_bytes())].concat(),
        ],
        _ => Vec::new(),
    }
}

/// Base64url without padding.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
