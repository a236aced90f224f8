//! Phoenix V2 binary frames on the demo server: a client's push whose payload is bytes (what
//! phoenix.js sends for an `ArrayBuffer`), and the binary reply a channel answers it with
//! (Phoenix: `{:reply, {:ok, {:binary, data}}, socket}`). Every length field is one byte.
//!
//! - push, client → server: `[0][join_ref len][ref len][topic len][event len]` join_ref, ref,
//!   topic, event, payload;
//! - reply, server → client: `[1][join_ref len][ref len][topic len][status len]` join_ref, ref,
//!   topic, status, payload.

use std::fmt;

const KIND_PUSH: u8 = 0;
const KIND_REPLY: u8 = 1;

/// A decoded binary push. Empty refs mean none (phoenix.js writes a missing ref as "").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryPush {
    pub join_ref: Option<String>,
    pub ref_: Option<String>,
    pub topic: String,
    pub event: String,
    pub payload: Vec<u8>,
}

/// Why a binary message is not a push this server can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinaryFrameError {
    Empty,
    /// Not kind 0 (push): clients send nothing else.
    Kind(u8),
    /// The header or a field runs past the end.
    Truncated,
    NotUtf8(&'static str),
    /// An empty topic or event.
    Blank(&'static str),
}

impl fmt::Display for BinaryFrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BinaryFrameError::Empty => write!(f, "empty binary frame"),
            BinaryFrameError::Kind(k) => write!(f, "binary frame of kind {k}, expected a push (0)"),
            BinaryFrameError::Truncated => write!(f, "binary frame shorter than its header says"),
            BinaryFrameError::NotUtf8(field) => write!(f, "{field} is not UTF-8"),
            BinaryFrameError::Blank(field) => write!(f, "{field} is empty"),
        }
    }
}

impl std::error::Error for BinaryFrameError {}

impl BinaryPush {
    /// Decodes a client's binary message. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<BinaryPush, BinaryFrameError> {
        let (&kind, rest) = bytes.split_first().ok_or(BinaryFrameError::Empty)?;
        if kind != KIND_PUSH {
            return Err(BinaryFrameError::Kind(kind));
        }
        let lens = rest.get(..4).ok_or(BinaryFrameError::Truncated)?;
        let mut at = 5;
        let mut fields = Vec::with_capacity(4);
        for (len, name) in lens.iter().zip(["join_ref", "ref", "topic", "event"]) {
            let end = at + usize::from(*len);
            let raw = bytes.get(at..end).ok_or(BinaryFrameError::Truncated)?;
            let text = std::str::from_utf8(raw).map_err(|_| BinaryFrameError::NotUtf8(name))?;
            fields.push(text.to_owned());
            at = end;
        }
        let [join_ref, ref_, topic, event] =
            <[String; 4]>::try_from(fields).map_err(|_| BinaryFrameError::Truncated)?;
        if topic.is_empty() {
            return Err(BinaryFrameError::Blank("topic"));
        }
        if event.is_empty() {
            return Err(BinaryFrameError::Blank("event"));
        }
        let some = |s: String| (!s.is_empty()).then_some(s);
        Ok(BinaryPush {
            join_ref: some(join_ref),
            ref_: some(ref_),
            topic,
            event,
            payload: bytes[at..].to_vec(),
        })
    }

    /// The binary reply to this push with `status` and `payload` (the push's refs and topic
    /// came in one-byte lengths, so they fit again).
    pub fn reply(&self, status: &str, payload: &[u8]) -> Vec<u8> {
        let fields = [
            self.join_ref.as_deref().unwrap_or_default(),
            self.ref_.as_deref().unwrap_or_default(),
            self.topic.as_str(),
            status,
        ];
        let mut out =
            Vec::with_capacity(5 + fields.iter().map(|f| f.len()).sum::<usize>() + payload.len());
        out.push(KIND_REPLY);
        for f in fields {
            out.push(u8::try_from(f.len()).unwrap_or(u8::MAX));
        }
        for f in fields {
            out.extend_from_slice(&f.as_bytes()[..f.len().min(255)]);
        }
        out.extend_from_slice(payload);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(fields: [&str; 4], payload: &[u8]) -> Vec<u8> {
        let mut out = vec![KIND_PUSH];
        out.extend(fields.iter().map(|f| f.len() as u8));
        for f in fields {
            out.extend_from_slice(f.as_bytes());
        }
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn a_push_decodes_and_its_reply_carries_its_refs() {
        let bytes = push(["3", "7", "room:lobby", "binary_echo"], &[0, 255, 1]);
        let p = BinaryPush::decode(&bytes).expect("a push");
        assert_eq!(p.join_ref.as_deref(), Some("3"));
        assert_eq!(p.ref_.as_deref(), Some("7"));
        assert_eq!(p.topic, "room:lobby");
        assert_eq!(p.event, "binary_echo");
        assert_eq!(p.payload, vec![0, 255, 1]);
        let mut want = vec![KIND_REPLY, 1, 1, 10, 2];
        want.extend_from_slice(b"37room:lobbyok");
        want.extend_from_slice(&[0, 255, 1]);
        assert_eq!(p.reply("ok", &p.payload), want);
    }

    #[test]
    fn malformed_binary_frames_are_errors_not_panics() {
        assert_eq!(BinaryPush::decode(&[]), Err(BinaryFrameError::Empty));
        assert_eq!(
            BinaryPush::decode(&[2, 1, 1]),
            Err(BinaryFrameError::Kind(2))
        );
        assert_eq!(
            BinaryPush::decode(&[0, 1, 1]),
            Err(BinaryFrameError::Truncated)
        );
        assert_eq!(
            BinaryPush::decode(&[0, 0, 0, 9, 1, b'x']),
            Err(BinaryFrameError::Truncated)
        );
        assert_eq!(
            BinaryPush::decode(&push(["", "1", "", "e"], b"")),
            Err(BinaryFrameError::Blank("topic"))
        );
        let mut bad = push(["", "1", "t", "e"], b"");
        bad[6] = 0xff;
        assert_eq!(
            BinaryPush::decode(&bad),
            Err(BinaryFrameError::NotUtf8("topic"))
        );
        // Every prefix of a good frame decodes or fails; none panics.
        let good = push(["12", "34", "room:x", "ev"], &[1, 2, 3]);
        for n in 0..good.len() {
            let _ = BinaryPush::decode(&good[..n]);
        }
    }
}
