//! Reading presences straight from JSON text: a presence map, a presence and a meta in one pass
//! over the text, each value checked as it is read (`JSON.parse`'s rules: a repeated key keeps
//! its first position and its last value, and every value must be JSON, replaced or not).

use crate::prelude::*;

use alloc::borrow::Cow;

use super::{Meta, OwnedRef, Presence};
use crate::core::json;
use crate::core::json::value::{Map, Value};
use crate::core::util::FxMap;

/// When `text` starts with exactly how `p` is written (`{"metas":[…]}` with the metas' own
/// text), that many bytes: a whole JSON value equal to what is held, so nothing about the key
/// can have changed and the value needs no scan.
pub(super) fn held_text_len(p: &Presence, text: &str) -> Option<usize> {
    if !p.fields.is_empty() {
        return None;
    }
    const OPEN: &[u8] = b"{\"metas\":[";
    let mut rest = strip_prefix(text.as_bytes(), OPEN)?;
    for (i, m) in p.metas.iter().enumerate() {
        if i > 0 {
            rest = strip_prefix(rest, b",")?;
        }
        rest = strip_prefix(rest, m.raw().as_bytes())?;
    }
    strip_prefix(rest, b"]}")?;
    Some(text.len() - rest.len() + 2)
}

/// `hay` after `prefix`, if it starts with it. Compared eight bytes at a time: in wasm a slice
/// comparison is a byte-by-byte loop, and this comparison is most of a rejoin's work.
fn strip_prefix<'a>(hay: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let n = prefix.len();
    if hay.len() < n {
        return None;
    }
    let words = n / 8;
    let (h, p) = (hay.as_ptr(), prefix.as_ptr());
    for i in 0..words {
        // SAFETY: (i + 1) * 8 <= n, and both slices are at least n bytes long; the reads are
        // unaligned reads of plain bytes.
        let (x, y) = unsafe {
            (
                h.add(i * 8).cast::<u64>().read_unaligned(),
                p.add(i * 8).cast::<u64>().read_unaligned(),
            )
        };
        if x != y {
            return None;
        }
    }
    let tail = words * 8;
    (hay.get(tail..n)? == prefix.get(tail..)?).then(|| hay.get(n..).unwrap_or_default())
}

/// Reads one presence (`{metas: [...], ...}`) from JSON text; `None` when it is not one (or not
/// JSON).
pub(super) fn parse_presence_text(text: &str) -> Option<Presence> {
    let mut r = json::Reader::new(text);
    let p = read_presence(&mut r).ok()?;
    r.end().ok()?;
    p
}

/// The presence at the reader: `Ok(None)` when the value is JSON but not a presence.
fn read_presence(r: &mut json::Reader<'_>) -> Result<Option<Presence>, json::Error> {
    let mut metas: Option<Option<Vec<Meta>>> = None;
    let mut fields = Map::new();
    let mut bad_field = false;
    let object = r.object(|key, r| {
        if key == "metas" {
            let mut list = Vec::new();
            let array = r.array(|r| {
                list.push(read_meta(r)?);
                Ok(())
            })?;
            metas = Some(array.then_some(list));
        } else {
            // A field is kept as a value, read on its own (as it was sent).
            match json::parse(r.raw()?) {
                Ok(v) => {
                    fields.insert(key.into_owned(), v);
                }
                Err(_) => bad_field = true,
            }
        }
        Ok(())
    })?;
    Ok(match metas {
        Some(Some(metas)) if object && !bad_field => Some(Presence { metas, fields }),
        _ => None,
    })
}

/// The meta at the reader, its `phx_ref` taken on the way.
pub(super) fn read_meta(r: &mut json::Reader<'_>) -> Result<Meta, json::Error> {
    let start = r.pos();
    if let Ok(phx_ref) = probe_ref(r) {
        let raw = r.text_between(start, r.pos()).trim_start();
        return Ok(Meta {
            phx_ref: phx_ref.within(raw),
            raw: raw.into(),
        });
    }
    // Not JSON, or a ref Rust cannot hold (a lone surrogate escape, or nested past the limit):
    // checked as a whole, then probed on its own; a ref that still cannot be read is missing.
    r.rewind(start);
    let raw = r.raw()?;
    let phx_ref =
        probe_ref(&mut json::Reader::new(raw)).map_or(OwnedRef::Missing, |p| p.within(raw));
    Ok(Meta {
        raw: raw.into(),
        phx_ref,
    })
}

/// A `phx_ref` as read, a plain string still borrowed from the text.
enum ReadRef<'a> {
    Text(Cow<'a, str>),
    Other(OwnedRef),
}

impl ReadRef<'_> {
    /// The ref of the meta whose text is `raw` (the text it was read from): a plain string
    /// becomes its place in `raw`.
    fn within(self, raw: &str) -> OwnedRef {
        match self {
            ReadRef::Text(Cow::Borrowed(s)) => {
                span_in(raw, s).unwrap_or_else(|| OwnedRef::Str(s.into()))
            }
            ReadRef::Text(Cow::Owned(s)) => OwnedRef::Str(s.into_boxed_str()),
            ReadRef::Other(r) => r,
        }
    }
}

/// Where `part`, a slice of `whole`, lies in it.
fn span_in(whole: &str, part: &str) -> Option<OwnedRef> {
    let at = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = at
        .checked_add(part.len())
        .filter(|&end| end <= whole.len())?;
    Some(OwnedRef::Span {
        at: u32::try_from(at).ok()?,
        end: u32::try_from(end).ok()?,
    })
}

/// The `phx_ref` of the value at the reader (missing unless it is an object that has one).
fn probe_ref<'a>(r: &mut json::Reader<'a>) -> Result<ReadRef<'a>, json::Error> {
    let mut phx_ref = ReadRef::Other(OwnedRef::Missing);
    r.object(|key, r| {
        if key != "phx_ref" {
            return r.skip();
        }
        phx_ref = match r.string_ahead()? {
            Some(s) => ReadRef::Text(s),
            None => ReadRef::Other(owned_ref(r.value()?)),
        };
        Ok(())
    })?;
    Ok(phx_ref)
}

/// A `phx_ref` value as it is compared.
fn owned_ref(v: Value) -> OwnedRef {
    match v {
        Value::String(s) => OwnedRef::Str(s.into_boxed_str()),
        Value::Number(n) => OwnedRef::Num(n.as_f64().unwrap_or(f64::NAN)),
        Value::Bool(b) => OwnedRef::Bool(b),
        Value::Null => OwnedRef::Null,
        _ => OwnedRef::Unique,
    }
}

/// The presence map at the reader, and how many entries were not presences; `Ok(None)` when
/// the value is JSON but not an object.
fn read_presence_map(r: &mut json::Reader<'_>) -> Result<Option<(Entries, usize)>, json::Error> {
    let mut entries: Vec<(Cow<'_, str>, Option<Presence>)> = Vec::new();
    let mut index: Option<FxMap<Cow<'_, str>, usize>> = None;
    let object = r.object(|key, r| {
        let p = read_presence(r)?;
        // Repeats are rare: a short map is searched, a long one indexed.
        let at = if entries.len() < 16 {
            entries.iter().position(|(k, _)| *k == key)
        } else {
            let index = index.get_or_insert_with(|| {
                entries
                    .iter()
                    .enumerate()
                    .map(|(i, (k, _))| (k.clone(), i))
                    .collect()
            });
            let at = index.get(&key).copied();
            if at.is_none() {
                index.insert(key.clone(), entries.len());
            }
            at
        };
        match at.and_then(|i| entries.get_mut(i)) {
            Some(slot) => slot.1 = p,
            None => entries.push((key, p)),
        }
        Ok(())
    })?;
    if !object {
        return Ok(None);
    }
    let mut skipped = 0;
    // Collected in place: the two element types have the same layout, so `entries`' buffer is
    // reused rather than a second one allocated.
    let out = entries
        .into_iter()
        .filter_map(|(key, p)| match p {
            Some(p) => Some((key.into_owned(), p)),
            None => {
                skipped += 1;
                None
            }
        })
        .collect();
    Ok(Some((out, skipped)))
}

/// A presence map's entries, or `None` when the text is not a JSON object.
fn presence_map(text: &str) -> Option<(Entries, usize)> {
    let mut r = json::Reader::new(text);
    let map = read_presence_map(&mut r).ok()?;
    r.end().ok()?;
    map
}

/// Reads a presence map (`{key: {metas: [...]}, ...}`) from JSON text in the server's order,
/// skipping entries that are not presences. Returns the entries and how many were skipped
/// (nothing at all when the text is not JSON).
pub fn parse_presence_map(text: &str) -> (Vec<(String, Presence)>, usize) {
    presence_map(text).unwrap_or_default()
}

/// Keys with their presences, in order.
pub type Entries = Vec<(String, Presence)>;

/// Reads a `presence_diff` payload's `joins` and `leaves` (a missing side is empty; a payload
/// that is not JSON is an empty diff).
pub fn parse_diff_text(text: &str) -> (Entries, Entries) {
    read_diff_text(text).unwrap_or_default()
}

/// A diff's joins and leaves; `None` when the text is not a diff (or not JSON). Read in one pass.
pub fn read_diff_text(text: &str) -> Option<(Entries, Entries)> {
    let mut r = json::Reader::new(text);
    // Per side: untouched, or the last value's presences (`None`: not a presence map).
    let mut joins: Option<Option<Entries>> = None;
    let mut leaves: Option<Option<Entries>> = None;
    let object = r
        .object(|key, r| {
            match &*key {
                "joins" => joins = Some(read_presence_map(r)?.map(|(e, _)| e)),
                "leaves" => leaves = Some(read_presence_map(r)?.map(|(e, _)| e)),
                _ => r.skip()?,
            }
            Ok(())
        })
        .ok()?;
    r.end().ok()?;
    if !object {
        return None;
    }
    Some((
        joins.unwrap_or(Some(Vec::new()))?,
        leaves.unwrap_or(Some(Vec::new()))?,
    ))
}

/// Reads a presence map given as a JSON value (see [`parse_presence_map`]).
pub fn parse_presences(v: Value) -> (Vec<(String, Presence)>, usize) {
    if !v.is_object() {
        return (Vec::new(), 0);
    }
    parse_presence_map(&v.to_string())
}

#[cfg(test)]
mod tests {
    use super::strip_prefix;
    use crate::prelude::*;

    #[test]
    fn strip_prefix_compares_every_byte_at_every_length() {
        let hay: Vec<u8> = (0u8..40).collect();
        for n in 0..=hay.len() {
            assert_eq!(strip_prefix(&hay, &hay[..n]), Some(&hay[n..]), "length {n}");
            for at in 0..n {
                let mut other = hay[..n].to_vec();
                other[at] ^= 1;
                assert_eq!(strip_prefix(&hay, &other), None, "length {n}, byte {at}");
            }
        }
        assert_eq!(strip_prefix(b"short", b"shorter"), None);
    }
}
