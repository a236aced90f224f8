//! Phoenix V2 binary frames (sent by a server when a payload is binary). Every length field is
//! one byte; fields follow the header, the payload is the rest of the frame:
//!
//! - kind 0 push (server → client, no ref): `[0][join_ref len][topic len][event len]`
//!   join_ref, topic, event, payload;
//! - kind 1 reply: `[1][join_ref len][ref len][topic len][status len]` join_ref, ref, topic,
//!   status, payload — read as `phx_reply` with `{status, response: <payload>}`;
//! - kind 2 broadcast: `[2][topic len][event len]` topic, event, payload.
//!
//! Binary payloads reach the user as a JSON object, `{"byteLength": n, "base64": "<standard
//! base64 with padding>"}` (see [`binary_payload`]): the same channel routing as text frames, with
//! a payload every listener can read.
//!
//! Decoding never panics: an empty frame, an unknown kind, a header or field running past the end,
//! or a join_ref/ref/topic/event/status that is not UTF-8 is a [`BinaryError`] (`malformed_frame`);
//! a frame over the size limit is `frame_too_large`, rejected before anything is read.

use crate::prelude::*;

use crate::core::json;
use crate::core::json::value::Value;
use ::core::fmt;

/// Frame kinds of the Phoenix V2 binary serializer.
pub const KIND_PUSH: u8 = 0;
pub const KIND_REPLY: u8 = 1;
pub const KIND_BROADCAST: u8 = 2;

/// One decoded binary frame: the envelope of a text frame with the payload still bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryFrame<'a> {
    pub join_ref: Option<String>,
    pub reference: Option<String>,
    pub topic: String,
    /// The event; `phx_reply` for a reply.
    pub event: String,
    /// A reply's status (`None` for pushes and broadcasts).
    pub status: Option<String>,
    pub payload: &'a [u8],
}

/// Encodes a push as phoenix.js does when its payload is an `ArrayBuffer`:
/// `[0][join_ref len][ref len][topic len][event len]` join_ref, ref, topic, event, payload (the
/// fields as UTF-8). `None` when a field is longer than its one-byte length allows (255 bytes).
pub fn encode_push(
    join_ref: Option<&str>,
    reference: &str,
    topic: &str,
    event: &str,
    payload: &[u8],
) -> Option<Vec<u8>> {
    let fields = [join_ref.unwrap_or_default(), reference, topic, event];
    let mut out =
        Vec::with_capacity(5 + fields.iter().map(|f| f.len()).sum::<usize>() + payload.len());
    out.push(KIND_PUSH);
    for f in fields {
        out.push(u8::try_from(f.len()).ok()?);
    }
    for f in fields {
        out.extend_from_slice(f.as_bytes());
    }
    out.extend_from_slice(payload);
    Some(out)
}

/// Why an inbound binary frame was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinaryError {
    TooLarge {
        bytes: usize,
        max: usize,
    },
    Empty,
    UnknownKind(u8),
    /// The header or a field runs past the end of the frame.
    Truncated {
        needed: usize,
        len: usize,
    },
    /// A field (join_ref, ref, topic, event, status) is not valid UTF-8.
    NotUtf8(&'static str),
}

impl BinaryError {
    /// A stable machine-readable code, the same as for text frames.
    pub fn code(&self) -> &'static str {
        match self {
            BinaryError::TooLarge { .. } => "frame_too_large",
            _ => "malformed_frame",
        }
    }
}

impl BinaryError {
    /// What is wrong, in a sentence.
    pub fn message(&self) -> String {
        let n = |v: usize| crate::core::util::text::decimal(v as u64);
        match self {
            BinaryError::TooLarge { bytes, max } => [
                "binary frame of ",
                &n(*bytes),
                " bytes exceeds the limit of ",
                &n(*max),
                " bytes",
            ]
            .concat(),
            BinaryError::Empty => "empty binary frame".into(),
            BinaryError::UnknownKind(k) => {
                ["binary frame of unknown kind ", &n(usize::from(*k))].concat()
            }
            BinaryError::Truncated { needed, len } => [
                "binary frame truncated: ",
                &n(*needed),
                " bytes needed, ",
                &n(*len),
                " received",
            ]
            .concat(),
            BinaryError::NotUtf8(field) => ["binary frame ", field, " is not valid UTF-8"].concat(),
        }
    }
}

impl fmt::Display for BinaryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Reads `N` fields named `names`, whose one-byte lengths follow the kind byte, and returns them
/// with the payload (the rest of the frame).
fn fields<'a, const N: usize>(
    bytes: &'a [u8],
    names: [&'static str; N],
) -> Result<([&'a str; N], &'a [u8]), BinaryError> {
    let header = 1 + N;
    if bytes.len() < header {
        return Err(BinaryError::Truncated {
            needed: header,
            len: bytes.len(),
        });
    }
    let needed = header + bytes[1..header].iter().map(|&l| l as usize).sum::<usize>();
    if bytes.len() < needed {
        return Err(BinaryError::Truncated {
            needed,
            len: bytes.len(),
        });
    }
    let mut out = [""; N];
    let mut at = header;
    for (i, name) in names.iter().enumerate() {
        let len = bytes[1 + i] as usize;
        out[i] =
            ::core::str::from_utf8(&bytes[at..at + len]).map_err(|_| BinaryError::NotUtf8(name))?;
        at += len;
    }
    Ok((out, &bytes[at..]))
}

/// An empty ref field means "no ref" (phoenix.js writes `null` refs as empty strings).
fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Decodes one binary frame. `max_bytes` bounds the input before it is read.
pub fn decode_binary(bytes: &[u8], max_bytes: usize) -> Result<BinaryFrame<'_>, BinaryError> {
    if bytes.len() > max_bytes {
        return Err(BinaryError::TooLarge {
            bytes: bytes.len(),
            max: max_bytes,
        });
    }
    let Some(&kind) = bytes.first() else {
        return Err(BinaryError::Empty);
    };
    match kind {
        KIND_PUSH => {
            let ([join_ref, topic, event], payload) =
                fields(bytes, ["join_ref", "topic", "event"])?;
            Ok(BinaryFrame {
                join_ref: opt(join_ref),
                reference: None,
                topic: topic.to_string(),
                event: event.to_string(),
                status: None,
                payload,
            })
        }
        KIND_REPLY => {
            let ([join_ref, reference, topic, status], payload) =
                fields(bytes, ["join_ref", "ref", "topic", "status"])?;
            Ok(BinaryFrame {
                join_ref: opt(join_ref),
                reference: opt(reference),
                topic: topic.to_string(),
                event: "phx_reply".to_string(),
                status: Some(status.to_string()),
                payload,
            })
        }
        KIND_BROADCAST => {
            let ([topic, event], payload) = fields(bytes, ["topic", "event"])?;
            Ok(BinaryFrame {
                join_ref: None,
                reference: None,
                topic: topic.to_string(),
                event: event.to_string(),
                status: None,
                payload,
            })
        }
        other => Err(BinaryError::UnknownKind(other)),
    }
}

impl BinaryFrame<'_> {
    /// The frame's payload as a text frame would carry it: `phx_reply` gets
    /// `{"status", "response": <binary payload>}`, other events the binary payload itself.
    pub fn json_payload(&self) -> Value {
        let payload = binary_payload(self.payload);
        match &self.status {
            Some(status) => json::object([
                ("status", Value::from(status.as_str())),
                ("response", payload),
            ]),
            None => payload,
        }
    }
}

/// How binary payload bytes are handed to the user: `{"byteLength": n, "base64": "..."}`.
pub fn binary_payload(bytes: &[u8]) -> Value {
    json::object([
        ("byteLength", Value::from(bytes.len())),
        ("base64", Value::String(base64(bytes))),
    ])
}

/// Standard base64 (RFC 4648, with padding).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Encodes a server → client binary frame (for tests and fake servers). Fields longer than 255
/// bytes cannot be represented: `None`.
pub fn encode_binary(
    kind: u8,
    join_ref: &str,
    reference: &str,
    topic: &str,
    event_or_status: &str,
    payload: &[u8],
) -> Option<Vec<u8>> {
    let fields: Vec<&str> = match kind {
        KIND_PUSH => vec![join_ref, topic, event_or_status],
        KIND_REPLY => vec![join_ref, reference, topic, event_or_status],
        KIND_BROADCAST => vec![topic, event_or_status],
        _ => return None,
    };
    let mut out = vec![kind];
    for f in &fields {
        out.push(u8::try_from(f.len()).ok()?);
    }
    for f in &fields {
        out.extend_from_slice(f.as_bytes());
    }
    out.extend_from_slice(payload);
    Some(out)
}
