//! Phoenix V2 JSON frames: `[join_ref, ref, topic, event, payload]`.
//!
//! Decoding never panics: anything that is not exactly a five-element array with string-or-null
//! refs, string topic and event and an object payload becomes a [`DecodeError`].

use crate::prelude::*;

use crate::core::json;
use crate::core::json::value::{Map, Value};
use crate::core::util::text::decimal;
use ::core::fmt;
use alloc::borrow::Cow;

/// One Phoenix V2 message.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub join_ref: Option<String>,
    pub reference: Option<String>,
    pub topic: String,
    pub event: String,
    /// Always a JSON object on the wire.
    pub payload: Value,
}

/// Why an inbound text frame was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    TooLarge { bytes: usize, max: usize },
    NotJson(String),
    NotAnArray,
    WrongArity(usize),
    BadRef,
    BadTopic,
    BadEvent,
    PayloadNotObject,
}

impl DecodeError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => "frame_too_large",
            _ => "malformed_frame",
        }
    }
}

impl DecodeError {
    /// What is wrong, in a sentence.
    pub fn message(&self) -> String {
        let n = |v: usize| decimal(v as u64);
        match self {
            DecodeError::TooLarge { bytes, max } => [
                "frame of ",
                &n(*bytes),
                " bytes exceeds the limit of ",
                &n(*max),
                " bytes",
            ]
            .concat(),
            DecodeError::NotJson(e) => ["frame is not JSON: ", e].concat(),
            DecodeError::NotAnArray => "frame is not a JSON array".into(),
            DecodeError::WrongArity(k) => ["frame has ", &n(*k), " elements, expected 5"].concat(),
            DecodeError::BadRef => "frame ref or join_ref is neither a string nor null".into(),
            DecodeError::BadTopic => "frame topic is not a string".into(),
            DecodeError::BadEvent => "frame event is not a string".into(),
            DecodeError::PayloadNotObject => "frame payload is not a JSON object".into(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// A frame whose payload is still JSON text, borrowed from the input: only the envelope has
/// been read, and the payload only seen to be `{…}`. Payloads are checked and parsed by whoever
/// needs them, into what they need (`Client::route_frame` checks the ones nobody parses).
#[derive(Debug, Clone, PartialEq)]
pub struct RawFrame<'a> {
    // Borrowed from the frame's text when they have no escapes (the usual case).
    pub join_ref: Option<Cow<'a, str>>,
    pub reference: Option<Cow<'a, str>>,
    pub topic: Cow<'a, str>,
    pub event: Cow<'a, str>,
    /// A JSON object's text.
    pub payload: &'a str,
}

impl<'a> RawFrame<'a> {
    /// An envelope of owned strings (decoded from escapes, or from a binary frame).
    pub fn owned(
        join_ref: Option<String>,
        reference: Option<String>,
        topic: String,
        event: String,
        payload: &'a str,
    ) -> RawFrame<'a> {
        RawFrame {
            join_ref: join_ref.map(Cow::Owned),
            reference: reference.map(Cow::Owned),
            topic: Cow::Owned(topic),
            event: Cow::Owned(event),
            payload,
        }
    }
}

/// Reads a string element (its checked text); a string that does not decode (a lone surrogate
/// escape) is malformed JSON, anything else of the wrong type is `wrong`.
fn string_field(raw: &str, wrong: DecodeError) -> Result<String, DecodeError> {
    if !raw.starts_with('"') {
        return Err(wrong);
    }
    json::parse_string(raw).map_err(|e| DecodeError::NotJson(e.message()))
}

fn ref_field(raw: &str) -> Result<Option<String>, DecodeError> {
    if raw == "null" {
        return Ok(None);
    }
    string_field(raw, DecodeError::BadRef).map(Some)
}

/// Reads the envelope of one text frame; the payload stays text (checked to be an object).
/// `max_bytes` bounds the input before it is parsed.
pub fn decode_raw(text: &str, max_bytes: usize) -> Result<RawFrame<'_>, DecodeError> {
    if text.len() > max_bytes {
        return Err(DecodeError::TooLarge {
            bytes: text.len(),
            max: max_bytes,
        });
    }
    if let Some(frame) = plain_envelope(text) {
        return Ok(frame);
    }
    strict_raw(text)
}

/// [`decode_raw`] by a parser: a small frame is read whole, so its payload is checked too.
fn strict_raw(text: &str) -> Result<RawFrame<'_>, DecodeError> {
    if text.len() >= LARGE_FRAME_BYTES {
        if let Some(frame) = split_large(text) {
            return frame;
        }
    }
    let items = match json::array_elements(text) {
        Ok(Some(items)) => items,
        Ok(None) => return Err(DecodeError::NotAnArray),
        Err(e) => return Err(DecodeError::NotJson(e.message())),
    };
    let [join_ref, reference, topic, event, payload] = items.as_slice() else {
        return Err(DecodeError::WrongArity(items.len()));
    };
    let join_ref = ref_field(join_ref)?;
    let reference = ref_field(reference)?;
    let topic: String = string_field(topic, DecodeError::BadTopic)?;
    let event: String = string_field(event, DecodeError::BadEvent)?;
    if !payload.starts_with('{') {
        return Err(DecodeError::PayloadNotObject);
    }
    Ok(RawFrame::owned(join_ref, reference, topic, event, payload))
}

/// The envelope as servers write it, read without a parser: `[`, two refs (`null` or a string),
/// the topic and the event, every string free of escapes and control characters, no whitespace,
/// then the payload from `{` to the `}` before the final `]`. `None` for anything else, which the
/// strict reader then decides on (as it does on escapes, which need decoding).
fn plain_envelope(text: &str) -> Option<RawFrame<'_>> {
    let b = text.as_bytes();
    if b.first() != Some(&b'[') || b.last() != Some(&b']') {
        return None;
    }
    let mut at = 1;
    let join_ref = plain_ref(text, &mut at)?;
    let reference = plain_ref(text, &mut at)?;
    let topic = plain_string(text, &mut at)?;
    let event = plain_string(text, &mut at)?;
    let payload = text.get(at..text.len() - 1)?;
    if !payload.starts_with('{') || !payload.ends_with('}') {
        return None;
    }
    Some(RawFrame {
        join_ref: join_ref.map(Cow::Borrowed),
        reference: reference.map(Cow::Borrowed),
        topic: Cow::Borrowed(topic),
        event: Cow::Borrowed(event),
        payload,
    })
}

/// `null` or a plain string, then a comma; `at` moves past both.
fn plain_ref<'a>(text: &'a str, at: &mut usize) -> Option<Option<&'a str>> {
    if text.as_bytes().get(*at..*at + 5) == Some(b"null,") {
        *at += 5;
        return Some(None);
    }
    plain_string(text, at).map(Some)
}

/// A string without escapes or control characters, then a comma; `at` moves past both.
fn plain_string<'a>(text: &'a str, at: &mut usize) -> Option<&'a str> {
    let b = text.as_bytes();
    if b.get(*at) != Some(&b'"') {
        return None;
    }
    let start = *at + 1;
    let len = b
        .get(start..)?
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
    let end = start + len;
    if b.get(end..end + 2) != Some(b"\",") {
        return None;
    }
    *at = end + 2;
    text.get(start..end)
}

/// Frames at least this large have only their envelope checked by [`decode_raw`]: the payload is
/// validated by whoever parses it (presence states, which are the large ones, are read once,
/// not twice). A large frame addressed to no channel is dropped unparsed.
pub const LARGE_FRAME_BYTES: usize = 16 * 1024;

/// The envelope of a large frame read without scanning its payload: the first four elements are
/// parsed, the payload is the text between the fourth top-level comma and the closing bracket.
/// `None` when the text does not have that shape (the strict path then reports why).
fn split_large(text: &str) -> Option<Result<RawFrame<'_>, DecodeError>> {
    let body = text.trim();
    let inner = body.strip_prefix('[')?.strip_suffix(']')?;
    let bytes = inner.as_bytes();
    let (mut depth, mut in_string, mut escaped, mut commas) =
        (0i32, false, false, Vec::with_capacity(4));
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth -= 1,
            b',' if depth == 0 => {
                commas.push(i);
                if commas.len() == 4 {
                    break;
                }
            }
            _ => {}
        }
        // The first four elements are short; a long prefix is not a Phoenix envelope.
        if i > 4096 {
            return None;
        }
    }
    let &[a, b, c, d] = commas.as_slice() else {
        return None;
    };
    let field = |r: ::core::ops::Range<usize>| {
        let text = inner.get(r)?.trim();
        json::check(text).is_ok().then_some(text)
    };
    let (join_ref, reference, topic, event) = (
        field(0..a)?,
        field(a + 1..b)?,
        field(b + 1..c)?,
        field(c + 1..d)?,
    );
    let payload = inner.get(d + 1..)?.trim();
    Some((|| {
        let join_ref = ref_field(join_ref)?;
        let reference = ref_field(reference)?;
        let topic = string_field(topic, DecodeError::BadTopic)?;
        let event = string_field(event, DecodeError::BadEvent)?;
        if !payload.starts_with('{') || !payload.ends_with('}') {
            return Err(DecodeError::PayloadNotObject);
        }
        Ok(RawFrame::owned(join_ref, reference, topic, event, payload))
    })())
}

/// Decodes one text frame, payload included. `max_bytes` bounds the input before it is parsed.
pub fn decode(text: &str, max_bytes: usize) -> Result<Frame, DecodeError> {
    let raw = decode_raw(text, max_bytes)?;
    // A payload that does not parse may be more than one element (read as one by the plain
    // envelope reader): the strict reader says which.
    let payload: Value = json::parse(raw.payload).map_err(|e| {
        strict_raw(text)
            .err()
            .unwrap_or(DecodeError::NotJson(e.message()))
    })?;
    Ok(Frame {
        join_ref: raw.join_ref.map(Cow::into_owned),
        reference: raw.reference.map(Cow::into_owned),
        topic: raw.topic.into_owned(),
        event: raw.event.into_owned(),
        payload,
    })
}

/// Encodes a frame: `[join_ref, ref, topic, event, payload]`.
pub fn encode(
    join_ref: Option<&str>,
    reference: Option<&str>,
    topic: &str,
    event: &str,
    payload: &Value,
) -> String {
    let payload = json::text(payload);
    let mut out = String::with_capacity(payload.len() + topic.len() + event.len() + 32);
    out.push('[');
    for r in [join_ref, reference] {
        match r {
            Some(r) => json::write_string(&mut out, r),
            None => out.push_str("null"),
        }
        out.push(',');
    }
    json::write_string(&mut out, topic);
    out.push(',');
    json::write_string(&mut out, event);
    out.push(',');
    out.push_str(&payload);
    out.push(']');
    out
}

/// A `phx_reply` payload: `{"status": "...", "response": ...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: String,
    pub response: Value,
}

impl Reply {
    /// Reads a reply out of a payload; a missing status counts as "error", a missing response as `{}`.
    pub fn from_payload(payload: Value) -> Reply {
        let Value::Object(mut map) = payload else {
            return Reply {
                status: "error".into(),
                response: Value::Object(Map::new()),
            };
        };
        let status = match map.remove("status") {
            Some(Value::String(s)) => s,
            _ => "error".to_string(),
        };
        let response = map
            .remove("response")
            .unwrap_or_else(|| Value::Object(Map::new()));
        Reply { status, response }
    }

    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }
}

/// A payload kept as JSON text, exactly as the server sent it: handed to JavaScript to parse once,
/// never decoded into Rust values on the way. (Small frames are checked to be valid JSON when
/// read; a large frame's payload is checked by whoever parses it.)
#[derive(Debug, Clone, PartialEq)]
pub struct JsonText(Box<str>);

impl JsonText {
    pub fn new(text: &str) -> JsonText {
        JsonText(text.into())
    }

    pub fn from_value(v: &Value) -> JsonText {
        JsonText(json::text(v).into_boxed_str())
    }

    pub fn text(&self) -> &str {
        &self.0
    }

    /// The payload as a value (`null` if the text is not valid JSON).
    pub fn value(&self) -> Value {
        json::parse(&self.0).unwrap_or(Value::Null)
    }
}

/// How deep a payload handed on as text may nest (as `serde_json`'s own limit).
pub const MAX_DEPTH: usize = 128;

/// True when JSON text nests arrays and objects deeper than `max` (one pass over the bytes,
/// strings skipped).
pub fn nested_deeper_than(text: &str, max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in text.as_bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// An empty JSON object.
pub fn empty_object() -> Value {
    Value::Object(Map::new())
}
