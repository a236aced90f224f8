//! A structural scan of a JSON object's top level: its keys, and the text of each value, found
//! without parsing the values. A big `presence_state` is mostly unchanged keys whose text equals
//! what is already held (and was checked when it arrived), so finding where each value ends is
//! all the work they need; the values that did change are parsed, and so checked, by the caller.
//! The grammar around the values (braces, keys, colons, commas, whitespace) is checked here.

use crate::prelude::*;

use alloc::borrow::Cow;

/// A cursor over a JSON object's top level: keys one by one, each followed by taking its value.
/// A caller that already knows the text a value may have (see [`ObjectScan::rest`]) can take it
/// by length and skip scanning it.
pub struct ObjectScan<'a> {
    text: &'a str,
    i: usize,
    first: bool,
    finished: bool,
}

impl<'a> ObjectScan<'a> {
    pub fn new(text: &'a str) -> Result<ObjectScan<'a>, String> {
        let b = text.as_bytes();
        let i = skip_ws(b, 0);
        if b.get(i) != Some(&b'{') {
            return Err(at_byte("expected an object", i));
        }
        Ok(ObjectScan {
            text,
            i: skip_ws(b, i + 1),
            first: true,
            finished: false,
        })
    }

    /// The next key, the cursor left at its value; `None` after the closing brace (and nothing
    /// but whitespace after it). Each key must have its value taken before the next is asked for.
    pub fn next_key(&mut self) -> Result<Option<Cow<'a, str>>, String> {
        if self.finished {
            return Ok(None);
        }
        let b = self.text.as_bytes();
        let mut i = skip_ws(b, self.i);
        if self.first {
            self.first = false;
            if b.get(i) == Some(&b'}') {
                self.finished = true;
                return end(b, i + 1).map(|()| None);
            }
        } else {
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b'}') => {
                    self.finished = true;
                    return end(b, i + 1).map(|()| None);
                }
                _ => return Err(at_byte("expected ',' or '}'", i)),
            }
        }
        if b.get(i) != Some(&b'"') {
            return Err(at_byte("expected a key", i));
        }
        let key_end = string_end(b, i).ok_or_else(|| at_byte("unterminated key", i))?;
        let key = key_text(self.text, i, key_end)?;
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return Err(at_byte("expected ':'", i));
        }
        self.i = skip_ws(b, i + 1);
        Ok(Some(key))
    }

    /// The text from the cursor on: the current value and everything after it.
    pub fn rest(&self) -> &'a str {
        self.text.get(self.i..).unwrap_or("")
    }

    /// Takes the value at the cursor: its first `len` bytes when the caller knows that a whole
    /// JSON value starts there and how long it is, else as far as a scan finds it to end.
    pub fn value(&mut self, len: Option<usize>) -> Result<&'a str, String> {
        let i = self.i;
        let value_end = match len {
            Some(n) => i.checked_add(n),
            None => value_end(self.text.as_bytes(), i),
        }
        .ok_or_else(|| at_byte("bad value", i))?;
        let value = self
            .text
            .get(i..value_end)
            .ok_or_else(|| at_byte("bad value", i))?;
        self.i = value_end;
        Ok(value)
    }
}

/// Whether `text` is one JSON value (for values scanned past but not kept).
pub fn check(text: &str) -> Result<(), String> {
    crate::core::json::check(text).map_err(|e| e.message())
}

fn end(b: &[u8], i: usize) -> Result<(), String> {
    let i = skip_ws(b, i);
    if i == b.len() {
        Ok(())
    } else {
        Err(at_byte("trailing characters", i))
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The index just past the string starting with the quote at `start`.
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        match b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// A key's text: borrowed when it has nothing to unescape, else decoded (and so checked).
fn key_text(text: &str, start: usize, end: usize) -> Result<Cow<'_, str>, String> {
    let quoted = text.get(start..end).ok_or("bad key")?;
    let inner = quoted.get(1..quoted.len() - 1).ok_or("bad key")?;
    for c in inner.bytes() {
        if c == b'\\' {
            return crate::core::json::parse_string(quoted)
                .map(Cow::Owned)
                .map_err(|e| ["bad key: ", &e.message()].concat());
        }
        if c < 0x20 {
            return Err("control character in a key".into());
        }
    }
    Ok(Cow::Borrowed(inner))
}

/// The index just past the value starting at `start` (a string, an object or array with its
/// nesting balanced, or a bare scalar); `None` when the text ends first.
fn value_end(b: &[u8], start: usize) -> Option<usize> {
    match *b.get(start)? {
        b'"' => string_end(b, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            loop {
                match *b.get(i)? {
                    b'"' => {
                        i = string_end(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        b',' | b'}' | b']' | b':' => None,
        _ => {
            let mut i = start;
            while !matches!(
                b.get(i),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                i += 1;
            }
            Some(i)
        }
    }
}

/// "what at byte i", as the reader words its errors.
fn at_byte(what: &'static str, i: usize) -> String {
    crate::core::json::Error { what, at: i }.message()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The object's entries in order, values as text.
    fn object_entries(text: &str) -> Result<Vec<(Cow<'_, str>, &str)>, String> {
        let mut scan = ObjectScan::new(text)?;
        let mut out = Vec::new();
        while let Some(key) = scan.next_key()? {
            out.push((key, scan.value(None)?));
        }
        Ok(out)
    }

    #[test]
    fn entries_keys_and_value_texts() {
        let e = object_entries(
            r#" { "a" : {"metas":[{"x":"}]\"{"}]} , "b\u0041":1,"c":"s\"}","d":[[],{}] } "#,
        )
        .unwrap();
        let got: Vec<(&str, &str)> = e.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
        assert_eq!(
            got,
            vec![
                ("a", r#"{"metas":[{"x":"}]\"{"}]}"#),
                ("bA", "1"),
                ("c", r#""s\"}""#),
                ("d", "[[],{}]"),
            ]
        );
        assert!(object_entries("{}").unwrap().is_empty());
    }

    #[test]
    fn bad_grammar_is_an_error_never_a_panic() {
        for bad in [
            "",
            "[]",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":1} x",
            "{\"a\":{}",
            "{\"a\":\"x}",
            "{a:1}",
            "{\"a\":1 \"b\":2}",
            "{\"a\u{1}\":1}",
            "{\"\\q\":1}",
            "{\"a\":]}",
            "{\"a\":\"\\",
            "{\"a\":[}",
        ] {
            assert!(object_entries(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
