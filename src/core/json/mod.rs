//! Reading JSON text: into a [`Value`], or only checking it. The grammar is RFC 8259's,
//! as strictly as serde_json reads it (the differential test `tests/core/json_reader.rs` holds
//! the two to the same answers): no trailing commas or comments, no leading zeros, no raw
//! control characters in strings, nothing after the value. [`parse`] builds values nested under
//! 128 levels; integers become `u64`/`i64` when they fit and `f64` otherwise (see
//! `json_float.rs`); a number too large for `f64` is an error; a string must be valid UTF-16 (no
//! lone surrogate escapes). [`check`] reads any depth on a stack of its own, requires only that
//! escapes are well formed and numbers match the grammar, as `JSON.parse` does.
//!
//! Why not serde_json's own reader: every error it can report is formatted through serde's
//! `Unexpected`, which links Rust's whole float formatting into the wasm. This reader's errors
//! are a static text and a byte offset. Writing: [`text`] and [`write_string`] (values are
//! tether's own, `src/core/value.rs`).

use crate::prelude::*;

use ::core::fmt;
use alloc::borrow::Cow;

pub(in crate::core) mod float;
pub(in crate::core) mod scan;
pub mod value;
mod write;

pub use write::write_string;
#[cfg(feature = "serde")]
mod value_serde;

pub use crate::core::json::value::{Map, Number, Value};

/// Why a text is not JSON, and the byte where that was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub what: &'static str,
    pub at: usize,
}

impl Error {
    /// "what at byte N".
    pub fn message(&self) -> String {
        [
            self.what,
            " at byte ",
            &crate::core::util::text::decimal(self.at as u64),
        ]
        .concat()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// What [`Reader::object`] calls at each entry, with its key.
type ReadEntry<'a, 'f> = dyn FnMut(Cow<'a, str>, &mut Reader<'a>) -> Result<(), Error> + 'f;

/// Nesting deeper than this is refused (serde_json's limit: the 128th level fails).
pub const MAX_DEPTH: usize = 127;

/// The [`Error::what`] of a text nested deeper than [`MAX_DEPTH`].
pub const NESTED_TOO_DEEPLY: &str = "nested too deeply";

/// An object of these fields, in this order.
pub fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// `v` as compact JSON text. Not `v.to_string()`, which goes through `fmt`.
pub fn text(v: &Value) -> String {
    let mut out = String::new();
    v.write(&mut out);
    out
}

/// The value `text` holds.
pub fn parse(text: &str) -> Result<Value, Error> {
    let mut r = Reader::new(text);
    let v = r.value()?;
    r.end()?;
    Ok(v)
}

/// Whether `text` is one JSON value, without building it.
pub fn check(text: &str) -> Result<(), Error> {
    let mut r = Reader::new(text);
    r.skip()?;
    r.end()
}

/// A JSON string literal's contents (`text` is the literal, quotes included).
pub fn parse_string(text: &str) -> Result<String, Error> {
    let mut r = Reader::new(text);
    r.ws();
    let s = r.string()?.into_owned();
    r.end()?;
    Ok(s)
}

/// The elements of a top-level array as text, each checked; `Ok(None)` when the text is JSON
/// but not an array.
pub fn array_elements(text: &str) -> Result<Option<Vec<&str>>, Error> {
    let mut r = Reader::new(text);
    let mut items = Vec::new();
    let array = r.array(|r| {
        items.push(r.raw()?);
        Ok(())
    })?;
    r.end()?;
    Ok(array.then_some(items))
}

/// A cursor over JSON text.
pub struct Reader<'a> {
    text: &'a str,
    b: &'a [u8],
    i: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`; [`Reader::end`] checks that nothing follows a value.
    pub fn new(text: &'a str) -> Reader<'a> {
        Reader {
            text,
            b: text.as_bytes(),
            i: 0,
            depth: 0,
        }
    }

    fn err(&self, what: &'static str) -> Error {
        Error { what, at: self.i }
    }

    fn err_before(&self, what: &'static str) -> Error {
        Error {
            what,
            at: self.i.saturating_sub(1),
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    #[inline(always)]
    fn ws(&mut self) {
        if let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.ws_run();
        }
    }

    #[inline(never)]
    fn ws_run(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Where the reader is: a byte offset into the text.
    pub fn pos(&self) -> usize {
        self.i
    }

    /// Moves back to an offset this reader was at (to read a value again another way).
    pub fn rewind(&mut self, pos: usize) {
        self.i = pos.min(self.i);
    }

    /// The text between two offsets this reader was at.
    pub fn text_between(&self, start: usize, end: usize) -> &'a str {
        self.slice(start, end)
    }

    /// Reads the object ahead (after any whitespace), calling `read(key, reader)` at each value,
    /// which must consume it. Anything but an object is checked and gives `Ok(false)`.
    pub fn object(
        &mut self,
        mut read: impl FnMut(Cow<'a, str>, &mut Reader<'a>) -> Result<(), Error>,
    ) -> Result<bool, Error> {
        self.object_with(&mut read)
    }

    /// [`Reader::object`]'s loop, once for every caller (a trait object instead of a copy of
    /// the loop per closure: the reader's callers cost the wasm a few bytes each).
    #[inline(never)]
    fn object_with(&mut self, read: &mut ReadEntry<'a, '_>) -> Result<bool, Error> {
        self.ws();
        if self.peek() != Some(b'{') {
            self.skip()?;
            return Ok(false);
        }
        self.enter()?;
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                self.ws();
                let key = self.string()?;
                self.colon()?;
                read(key, self)?;
                self.ws();
                match self.next() {
                    Some(b',') => continue,
                    Some(b'}') => break,
                    _ => return Err(self.err_before("expected ',' or '}'")),
                }
            }
        }
        self.depth -= 1;
        Ok(true)
    }

    /// Reads the array ahead (after any whitespace), calling `read(reader)` at each element,
    /// which must consume it. Anything but an array is checked and gives `Ok(false)`.
    pub fn array(
        &mut self,
        mut read: impl FnMut(&mut Reader<'a>) -> Result<(), Error>,
    ) -> Result<bool, Error> {
        self.array_with(&mut read)
    }

    /// [`Reader::array`]'s loop, once for every caller (see [`Reader::object_with`]).
    #[inline(never)]
    fn array_with(
        &mut self,
        read: &mut dyn FnMut(&mut Reader<'a>) -> Result<(), Error>,
    ) -> Result<bool, Error> {
        self.ws();
        if self.peek() != Some(b'[') {
            self.skip()?;
            return Ok(false);
        }
        self.enter()?;
        if self.peek() == Some(b']') {
            self.i += 1;
        } else {
            loop {
                read(self)?;
                self.ws();
                match self.next() {
                    Some(b',') => continue,
                    Some(b']') => break,
                    _ => return Err(self.err_before("expected ',' or ']'")),
                }
            }
        }
        self.depth -= 1;
        Ok(true)
    }

    /// Checks that only whitespace is left.
    pub fn end(&mut self) -> Result<(), Error> {
        self.ws();
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.err("trailing characters")),
        }
    }

    fn colon(&mut self) -> Result<(), Error> {
        self.ws();
        if self.next() != Some(b':') {
            return Err(self.err_before("expected ':'"));
        }
        self.ws();
        Ok(())
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), Error> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(self.err("expected a value"))
        }
    }

    fn enter(&mut self) -> Result<(), Error> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(NESTED_TOO_DEEPLY));
        }
        self.depth += 1;
        self.i += 1;
        self.ws();
        Ok(())
    }

    /// Reads the string ahead (after any whitespace), borrowed from the text when it has no
    /// escapes; `None`, with nothing but the whitespace read, when the value ahead is not one.
    pub fn string_ahead(&mut self) -> Result<Option<Cow<'a, str>>, Error> {
        self.ws();
        if self.peek() == Some(b'"') {
            self.string().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Reads one value (after any whitespace) and builds it.
    pub fn value(&mut self) -> Result<Value, Error> {
        self.ws();
        match self.peek() {
            Some(b'{') => {
                let mut entries = Vec::new();
                self.object(|key, r| {
                    let v = r.value()?;
                    entries.push((key.into_owned(), v));
                    Ok(())
                })?;
                Ok(Value::Object(Map::from_read(entries)))
            }
            Some(b'[') => {
                let mut list = Vec::new();
                self.array(|r| {
                    list.push(r.value()?);
                    Ok(())
                })?;
                Ok(Value::Array(list))
            }
            Some(b'"') => Ok(Value::String(self.string()?.into_owned())),
            Some(b't') => self.literal(b"true").map(|()| Value::Bool(true)),
            Some(b'f') => self.literal(b"false").map(|()| Value::Bool(false)),
            Some(b'n') => self.literal(b"null").map(|()| Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            Some(_) => Err(self.err("expected a value")),
            None => Err(self.err("unexpected end of text")),
        }
    }

    /// Reads one value (after any whitespace), checking it without building it. Nesting is
    /// followed on a stack of its own, so any depth is read (as serde_json checks, and as
    /// `JSON.parse` reads); numbers are checked against the grammar, not their range.
    pub fn skip(&mut self) -> Result<(), Error> {
        let mut open: Vec<u8> = Vec::new(); // the closing bracket of each open container
        loop {
            self.ws();
            match self.peek() {
                Some(c @ (b'{' | b'[')) => {
                    let close = if c == b'{' { b'}' } else { b']' };
                    self.i += 1;
                    self.ws();
                    if self.peek() == Some(close) {
                        self.i += 1;
                    } else {
                        if close == b'}' {
                            self.skip_string()?;
                            self.colon()?;
                        }
                        open.push(close);
                        continue;
                    }
                }
                Some(b'"') => self.skip_string()?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => {
                    self.number_text()?;
                }
                Some(_) => return Err(self.err("expected a value")),
                None => return Err(self.err("unexpected end of text")),
            }
            // A value ended: close what it ends, or go on to the next element.
            loop {
                let Some(&close) = open.last() else {
                    return Ok(());
                };
                self.ws();
                match self.next() {
                    Some(b',') => {
                        if close == b'}' {
                            self.ws();
                            self.skip_string()?;
                            self.colon()?;
                        }
                        break;
                    }
                    Some(x) if x == close => {
                        open.pop();
                    }
                    _ => return Err(self.err_before("expected ',' or a closing bracket")),
                }
            }
        }
    }

    /// The text of the value just ahead (after any whitespace), checked.
    pub fn raw(&mut self) -> Result<&'a str, Error> {
        self.ws();
        let start = self.i;
        self.skip()?;
        Ok(self.text.get(start..self.i).unwrap_or_default())
    }

    /// The number ahead: its text, checked against the grammar.
    fn number_text(&mut self) -> Result<(&'a str, bool), Error> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.next() {
            Some(b'0') => {}
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.err_before("invalid number")),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.i += 1;
            integer = false;
            if !matches!(self.next(), Some(b'0'..=b'9')) {
                return Err(self.err_before("invalid number"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            integer = false;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !matches!(self.next(), Some(b'0'..=b'9')) {
                return Err(self.err_before("invalid number"));
            }
            self.digits();
        }
        Ok((self.text.get(start..self.i).unwrap_or_default(), integer))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    fn number(&mut self) -> Result<Number, Error> {
        let start = self.i;
        let (text, integer) = self.number_text()?;
        // `-0` stays a float, as `JSON.parse` reads it.
        if integer && text != "-0" {
            let n = match text.strip_prefix('-') {
                // Down to -2^63: the magnitude negated in two's complement.
                Some(magnitude) => crate::core::util::text::digits(magnitude)
                    .filter(|m| *m <= 1 << 63)
                    .map(|m| Number::from(0i64.wrapping_sub(m as i64))),
                None => crate::core::util::text::digits(text).map(Number::from),
            };
            if let Some(n) = n {
                return Ok(n);
            }
        }
        crate::core::json::float::float(text)
            .map(|f| Number::float(f, text))
            .ok_or(Error {
                what: "number out of range",
                at: start,
            })
    }

    /// The string ahead: borrowed when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, Error> {
        if self.peek() != Some(b'"') {
            return Err(self.err("expected a string"));
        }
        self.i += 1;
        let start = self.i;
        self.i = plain_run(self.b, self.i);
        match self.peek() {
            Some(b'"') => {
                self.i += 1;
                return Ok(Cow::Borrowed(self.slice(start, self.i - 1)));
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.err("control character in a string")),
            None => return Err(self.err("unterminated string")),
        }
        let mut out = String::from(self.slice(start, self.i));
        loop {
            let run = self.i;
            self.i = plain_run(self.b, self.i);
            match self.peek() {
                Some(b'"' | b'\\') => {}
                Some(_) => return Err(self.err("control character in a string")),
                None => return Err(self.err("unterminated string")),
            }
            out.push_str(self.slice(run, self.i));
            if self.next() == Some(b'"') {
                return Ok(Cow::Owned(out));
            }
            let c = match self.next() {
                Some(b'"') => '"',
                Some(b'\\') => '\\',
                Some(b'/') => '/',
                Some(b'b') => '\u{8}',
                Some(b'f') => '\u{c}',
                Some(b'n') => '\n',
                Some(b'r') => '\r',
                Some(b't') => '\t',
                Some(b'u') => self.unicode_escape()?,
                _ => return Err(self.err_before("invalid escape")),
            };
            out.push(c);
        }
    }

    /// After `\u`: the character, pairing a surrogate escape with the one after it.
    fn unicode_escape(&mut self) -> Result<char, Error> {
        let at = self.i.saturating_sub(2);
        let lone = Error {
            what: "lone surrogate in an escape",
            at,
        };
        let hi = self.hex4()?;
        if !(0xD800..0xE000).contains(&hi) {
            return char::from_u32(hi).ok_or(lone);
        }
        if hi >= 0xDC00 || self.b.get(self.i..self.i + 2) != Some(b"\\u") {
            return Err(lone);
        }
        self.i += 2;
        let lo = self.hex4()?;
        if !(0xDC00..0xE000).contains(&lo) {
            return Err(lone);
        }
        char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).ok_or(lone)
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let mut n = 0;
        for _ in 0..4 {
            let d = match self.next() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.err_before("invalid \\u escape")),
            };
            n = n * 16 + u32::from(d);
        }
        Ok(n)
    }

    /// Checks the string ahead: escapes well formed, no raw control characters.
    fn skip_string(&mut self) -> Result<(), Error> {
        if self.peek() != Some(b'"') {
            return Err(self.err("expected a string"));
        }
        self.i += 1;
        loop {
            self.i = plain_run(self.b, self.i);
            match self.next() {
                Some(b'"') => return Ok(()),
                Some(b'\\') => match self.next() {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {}
                    Some(b'u') => {
                        self.hex4()?;
                    }
                    _ => return Err(self.err_before("invalid escape")),
                },
                Some(0..=0x1f) => return Err(self.err_before("control character in a string")),
                Some(_) => {}
                None => return Err(self.err("unterminated string")),
            }
        }
    }

    /// `text[start..end]`; both ends sit next to ASCII bytes this reader stopped at.
    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.text.get(start..end).unwrap_or_default()
    }
}

/// The index of the first `"`, `\\` or control character at or after `i` (or the end): eight
/// bytes at a time while there is none, as most string text has none.
fn plain_run(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    // `first_chunk` gives the eight bytes as an array: one 64-bit load (a `copy_from_slice`
    // into a local array stays a call to core's copy at opt-level "z").
    while let Some(&word) = b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let w = u64::from_le_bytes(word);
        let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
        if zero_byte(w ^ (ONES * u64::from(b'"')))
            | zero_byte(w ^ (ONES * u64::from(b'\\')))
            | below_space
            != 0
        {
            break;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
/// Values read and written back (here, not in `value.rs`, so that `value.rs` needs no reader).
mod value_tests {
    use super::value::{Map, Value};
    use super::{parse, text};
    use crate::prelude::*;

    fn read(t: &str) -> Value {
        parse(t).unwrap_or_else(|e| panic!("{t}: {}", e.message()))
    }

    /// A repeated key keeps its first place and its last value, in small objects (found by a
    /// scan) and large ones (found by hashing), as serde_json (and `JSON.parse`) read them.
    #[test]
    #[cfg(not(target_arch = "wasm32"))] // serde_json is a native dev-dependency
    fn repeated_keys_keep_the_first_place_and_the_last_value() {
        for n in [2usize, 5, 32, 33, 100] {
            let mut fields: Vec<String> = (0..n)
                .map(|i| ["\"k", &i.to_string(), "\":", &i.to_string()].concat())
                .collect();
            // Repeat the second key at the end and the first one in the middle.
            fields.push(["\"k1\":", &(1000 + n).to_string()].concat());
            fields.insert(n / 2, "\"k0\":\"again\"".to_string());
            let t = ["{", &fields.join(","), "}"].concat();
            let ours = text(&read(&t));
            let theirs =
                serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&t).unwrap())
                    .unwrap();
            assert_eq!(ours, theirs, "{n} keys");
            let v = read(&t);
            assert_eq!(v.as_object().map(Map::len), Some(n));
            assert_eq!(v["k1"], Value::from(1000 + n));
            assert_eq!(v["k0"], "again");
        }
    }

    /// With the `serde` feature a value serializes as the JSON it holds.
    #[test]
    #[cfg(all(feature = "serde", not(target_arch = "wasm32")))]
    fn values_serialize_as_the_json_they_hold() {
        let t = r#"{"s":"a\"b","n":[0,-7,18446744073709551615,2.5],"o":{"t":true,"f":false,"z":null},"e":{}}"#;
        let v = read(t);
        assert_eq!(serde_json::to_string(&v).unwrap(), t);
        assert_eq!(text(&v), t);
    }

    /// Integers are written as serde_json writes them; other numbers as they were read.
    #[test]
    fn numbers_are_written_back_as_read() {
        for t in [
            "0",
            "-1",
            "18446744073709551615",
            "-9223372036854775808",
            "1.5",
            "-0",
            "1e2",
            "2.50E-3",
            "18446744073709551616",
        ] {
            assert_eq!(text(&read(t)), t);
        }
        assert!(read("1").as_u64() == Some(1) && read("-1").as_i64() == Some(-1));
        assert_eq!(read("1e2").as_f64(), Some(100.0));
        assert_eq!(read("1e2").as_u64(), None);
        // As serde_json compares: an integer is not a float of the same value.
        assert_ne!(read("1"), read("1.0"));
        assert_eq!(read("1.0"), read("1e0"));
        assert_eq!(read("-1"), Value::from(-1i64));
        assert_eq!(Value::from(5u64), Value::from(5i64));
    }

    #[test]
    fn objects_compare_in_any_order_and_keep_their_own() {
        let a = read(r#"{"x":1,"y":[true,null,"s"]}"#);
        let b = read(r#"{"y":[true,null,"s"],"x":1}"#);
        assert_eq!(a, b);
        assert_ne!(a, read(r#"{"x":1,"y":[true,null]}"#));
        assert_ne!(a, read(r#"{"x":1,"y":[true,null,"s"],"z":0}"#));
        assert_eq!(text(&b), r#"{"y":[true,null,"s"],"x":1}"#);
    }

    #[test]
    fn maps_insert_in_place_and_remove_keeping_order() {
        let mut m: Map = [("a", 1u64), ("b", 2), ("c", 3)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::from(v)))
            .collect();
        assert_eq!(
            m.insert("b".into(), Value::from("two")),
            Some(Value::from(2u64))
        );
        assert_eq!(m.insert("d".into(), Value::Null), None);
        assert_eq!(m.remove("a"), Some(Value::from(1u64)));
        assert_eq!(m.remove("a"), None);
        assert_eq!(text(&Value::Object(m)), r#"{"b":"two","c":3,"d":null}"#);
    }

    /// Indexing what is missing (or of another kind) reads `null` and assigning through it
    /// makes the place: nothing panics.
    #[test]
    fn indexing_never_panics() {
        let mut v = read(r#"{"a":[1]}"#);
        assert!(v["missing"].is_null() && v["a"][5].is_null() && v["a"]["x"].is_null());
        assert!(v[0].is_null());
        v["b"] = Value::from("new");
        v["a"][2] = Value::from(true);
        assert_eq!(text(&v), r#"{"a":[1,null,true],"b":"new"}"#);
        let mut n = Value::Null;
        n["k"] = Value::from(1u64);
        assert_eq!(text(&n), r#"{"k":1}"#);
    }
}
