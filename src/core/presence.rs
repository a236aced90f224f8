//! Phoenix presence: a state of key → presence (`{metas: [...]}` plus any other fields), merged
//! with `presence_state` and `presence_diff` exactly as phoenix.js's `syncState` / `syncDiff` do —
//! including JavaScript's property order (array-index keys first, ascending, then insertion order).
//!
//! A diff costs in proportion to the diff; a state is reconciled in one pass without copying the
//! state. Keys are plain strings: `__proto__` and `constructor` are keys like any other.

use crate::prelude::*;

use ::core::cmp::Reverse;
use alloc::borrow::Cow;
use alloc::collections::BinaryHeap;

use super::value::{Map, Value};

use super::fxhash::FxMap;
use super::json;
use super::json_scan;
use super::presence_touches::{TouchKind, Touches};

/// One meta: its JSON text exactly as the server sent it, and its `phx_ref`. Keeping the text
/// (one allocation) instead of a parsed object makes states cheap to read, keep and hand to JS.
#[derive(Debug, Clone)]
pub struct Meta {
    raw: Box<str>,
    phx_ref: OwnedRef,
}

impl PartialEq for Meta {
    fn eq(&self, other: &Meta) -> bool {
        self.raw == other.raw
    }
}

impl Meta {
    /// A meta from its JSON text, read once: checked whole, its `phx_ref` taken on the way.
    /// `None` when the text is not JSON.
    pub fn from_text(text: &str) -> Option<Meta> {
        let mut r = json::Reader::new(text);
        let meta = read_meta(&mut r).ok()?;
        r.end().ok()?;
        Some(meta)
    }

    pub fn from_value(v: &Value) -> Meta {
        Meta::from_text(&json::text(v)).unwrap_or(Meta {
            raw: "null".into(),
            phx_ref: OwnedRef::Missing,
        })
    }

    /// The meta's JSON text.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    pub fn to_value(&self) -> Value {
        json::parse(&self.raw).unwrap_or(Value::Null)
    }

    fn key(&self) -> RefKey<'_> {
        match &self.phx_ref {
            OwnedRef::Span { at, end } => RefKey::Str(
                self.raw
                    .get(*at as usize..*end as usize)
                    .unwrap_or_default(),
            ),
            OwnedRef::Str(s) => RefKey::Str(s),
            OwnedRef::Num(n) => RefKey::Num(*n),
            OwnedRef::Bool(b) => RefKey::Bool(*b),
            OwnedRef::Null => RefKey::Null,
            OwnedRef::Missing => RefKey::Missing,
            OwnedRef::Unique => RefKey::Unique,
        }
    }
}

/// One key's presence: its metas and any other fields the server sent beside them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Presence {
    pub metas: Vec<Meta>,
    pub fields: Map,
}

impl Presence {
    /// Reads `{metas: [...], ...}`; anything else is `None`.
    pub fn from_value(v: Value) -> Option<Presence> {
        let Value::Object(mut fields) = v else {
            return None;
        };
        let Some(Value::Array(metas)) = fields.remove("metas") else {
            return None;
        };
        Some(Presence {
            metas: metas.iter().map(Meta::from_value).collect(),
            fields,
        })
    }

    /// `{metas: [...], ...fields}`.
    pub fn to_value(&self) -> Value {
        json::parse(&self.to_json()).unwrap_or(Value::Null)
    }

    /// `{"metas":[...],...fields}` as JSON text, built from the metas' own text.
    pub fn write_json(&self, out: &mut String) {
        out.push_str("{\"metas\":[");
        for (i, m) in self.metas.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(m.raw());
        }
        out.push(']');
        for (k, v) in &self.fields {
            if k != "metas" {
                out.push(',');
                json::write_string(out, k);
                out.push(':');
                out.push_str(&json::text(v));
            }
        }
        out.push('}');
    }

    pub fn to_json(&self) -> String {
        let mut out =
            String::with_capacity(16 + self.metas.iter().map(|m| m.raw().len() + 1).sum::<usize>());
        self.write_json(&mut out);
        out
    }

    fn with_metas(&self, metas: Vec<Meta>) -> Presence {
        Presence {
            metas,
            fields: self.fields.clone(),
        }
    }
}

/// A `phx_ref` as read from a meta.
#[derive(Debug, Clone)]
enum OwnedRef {
    /// A string written without escapes: the meta's text at `at..end` (no allocation of its
    /// own, and none when the meta is cloned).
    Span {
        at: u32,
        end: u32,
    },
    Str(Box<str>),
    Num(f64),
    Bool(bool),
    Null,
    Missing,
    Unique,
}

/// A meta's `phx_ref`, compared as JavaScript's `===` would: strings, numbers, booleans and null
/// by value, a missing ref equal to another missing ref, objects and arrays never equal.
#[derive(Debug, Clone, PartialEq)]
enum RefKey<'a> {
    Str(&'a str),
    Num(f64),
    Bool(bool),
    Null,
    Missing,
    Unique,
}

fn same_ref(a: &RefKey<'_>, b: &RefKey<'_>) -> bool {
    !matches!(a, RefKey::Unique) && a == b
}

fn contains_ref(metas: &[Meta], r: &RefKey<'_>) -> bool {
    metas.iter().any(|m| same_ref(&m.key(), r))
}

// ---- reading presences straight from JSON text -----------------------------------------------

/// When `text` starts with exactly how `p` is written (`{"metas":[…]}` with the metas' own
/// text), that many bytes: a whole JSON value equal to what is held, so nothing about the key
/// can have changed and the value needs no scan.
fn held_text_len(p: &Presence, text: &str) -> Option<usize> {
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
fn parse_presence_text(text: &str) -> Option<Presence> {
    let mut r = json::Reader::new(text);
    let p = read_presence(&mut r).ok()?;
    r.end().ok()?;
    p
}

// The readers below take a presence map, a presence and a meta in one pass over the text, each
// value checked as it is read (`JSON.parse`'s rules: a repeated key keeps its first position and
// its last value, and every value must be JSON, replaced or not).

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
fn read_meta(r: &mut json::Reader<'_>) -> Result<Meta, json::Error> {
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

/// What applying a state or diff did, in the order phoenix.js calls `onJoin` / `onLeave`.
#[derive(Debug, Clone, PartialEq)]
pub enum PresenceChange {
    /// `current` is the key's presence before the join (if any); `joined` the joined presence.
    Join {
        key: String,
        current: Option<Presence>,
        joined: Presence,
    },
    /// `remaining` is the key's presence after the leave (its metas may be empty); `left` what left.
    Leave {
        key: String,
        remaining: Presence,
        left: Presence,
    },
}

/// The array-index value of a key, as JavaScript orders own properties: canonical decimal
/// integers below 2^32 - 1 come first, ascending.
pub fn array_index(key: &str) -> Option<u32> {
    if key.is_empty() || key.len() > 10 || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = super::text::digits(key)?;
    (n < u32::MAX as u64).then_some(n as u32)
}

/// Orders entries of a JSON object as JavaScript iterates it.
pub fn js_order<K: AsRef<str>, T>(entries: Vec<(K, T)>) -> Vec<(K, T)> {
    let mut ints: Vec<(u32, usize)> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, (k, _))| Some((array_index(k.as_ref())?, i)))
        .collect();
    if ints.is_empty() {
        return entries;
    }
    sort_index_keys(&mut ints);
    let mut slots: Vec<Option<(K, T)>> = entries.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(slots.len());
    for &(_, i) in &ints {
        if let Some(entry) = slots.get_mut(i).and_then(Option::take) {
            out.push(entry);
        }
    }
    out.extend(slots.into_iter().flatten());
    out
}

/// Sorts `(array index, position)` pairs, given in position order, by index; equal indexes keep
/// their order. A least-significant-digit radix sort, a byte per pass (a pass whose byte is the
/// same in every key is skipped): linear time, and a few hundred bytes of wasm where the
/// standard library's sort costs over 4 KB.
fn sort_index_keys(keys: &mut Vec<(u32, usize)>) {
    let mut other = vec![(0u32, 0usize); keys.len()];
    for shift in [0u32, 8, 16, 24] {
        let digit = |k: u32| ((k >> shift) & 0xff) as usize;
        let mut starts = [0usize; 256];
        for &(k, _) in keys.iter() {
            starts[digit(k)] += 1;
        }
        if starts.contains(&keys.len()) {
            continue;
        }
        let mut sum = 0;
        for slot in starts.iter_mut() {
            let n = *slot;
            *slot = sum;
            sum += n;
        }
        for &entry in keys.iter() {
            let d = digit(entry.0);
            if let Some(to) = other.get_mut(starts[d]) {
                *to = entry;
            }
            starts[d] += 1;
        }
        ::core::mem::swap(keys, &mut other);
    }
}

/// One key of a `presence_state` being read (see [`PresenceState::apply_state_text`]).
struct Entry<'a> {
    key: Cow<'a, str>,
    raw: &'a str,
    /// The key's slot in the state, if it has one.
    slot: Option<usize>,
    /// The value is exactly the held presence's text.
    unchanged: bool,
}

#[derive(Debug, Clone)]
struct Slot {
    key: String,
    presence: Presence,
    /// Set while the key is held in a leave grace window: shown, but absent for merging.
    held_until: Option<u64>,
}

/// A change to one key of the state, for keeping a copy of the list up to date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touch {
    /// The key's presence was set; `fresh` when the key was not in the state before (it goes
    /// to the end of the order).
    Set {
        key: String,
        fresh: bool,
    },
    Removed(String),
}

/// Key → presence with JavaScript's iteration order, O(1) lookup, insert and remove.
#[derive(Debug, Default, Clone)]
pub struct PresenceState {
    /// (Every map in presence is an `FxMap<Cow<str>, usize>`: one copy of the hash table's code.)
    index: FxMap<Cow<'static, str>, usize>,
    slots: Vec<Option<Slot>>,
    /// How many live keys are array indexes (listed first, ascending).
    int_keys: usize,
    live: usize,
    /// Grace deadlines, earliest on top. An entry whose key has since been set, held again or
    /// removed is stale: it is dropped when it reaches the top (`prune`), and the heap is rebuilt
    /// when stale entries outnumber the live ones.
    holds: BinaryHeap<Reverse<(u64, String)>>,
    /// How many keys are held.
    held: usize,
    /// Held keys that joined again since the last `clear_returned`, with how many times (a key
    /// can return, be held and return again within one batch).
    returned: FxMap<Cow<'static, str>, usize>,
    /// When recording: the keys set or removed, for a mirror kept elsewhere.
    touches: Option<Touches>,
}

impl PresenceState {
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The presence of `key`, including a key held in a grace window.
    pub fn get(&self, key: &str) -> Option<&Presence> {
        let slot = self.slots.get(*self.index.get(key)?)?.as_ref()?;
        Some(&slot.presence)
    }

    /// The presence of `key` for merging: a held key counts as absent.
    fn current(&self, key: &str) -> Option<&Presence> {
        let slot = self.slots.get(*self.index.get(key)?)?.as_ref()?;
        if slot.held_until.is_some() {
            None
        } else {
            Some(&slot.presence)
        }
    }

    fn current_mut(&mut self, key: &str) -> Option<&mut Presence> {
        let i = *self.index.get(key)?;
        let slot = self.slots.get_mut(i)?.as_mut()?;
        if slot.held_until.is_some() {
            None
        } else {
            Some(&mut slot.presence)
        }
    }

    pub fn is_held(&self, key: &str) -> bool {
        self.index
            .get(key)
            .and_then(|i| self.slots.get(*i))
            .and_then(|s| s.as_ref())
            .is_some_and(|s| s.held_until.is_some())
    }

    /// Sets `key` (keeping its position if present, else appending) and clears any hold.
    fn set(&mut self, key: &str, presence: Presence) {
        if let Some(&i) = self.index.get(key) {
            if let Some(Some(slot)) = self.slots.get_mut(i) {
                slot.presence = presence;
                if let Some(touches) = self.touches.as_mut() {
                    touches.touch(key, TouchKind::SetInPlace);
                }
                if slot.held_until.take().is_some() {
                    self.held -= 1;
                    *self
                        .returned
                        .entry(Cow::Owned(key.to_string()))
                        .or_insert(0) += 1;
                    self.prune();
                }
                return;
            }
        }
        let i = self.slots.len();
        self.slots.push(Some(Slot {
            key: key.to_string(),
            presence,
            held_until: None,
        }));
        self.index.insert(Cow::Owned(key.to_string()), i);
        if array_index(key).is_some() {
            self.int_keys += 1;
        }
        self.live += 1;
        if let Some(touches) = self.touches.as_mut() {
            touches.touch(key, TouchKind::SetFresh);
        }
    }

    /// Keeps `key` listed with `shown` until `until`, while counting it as absent for merging.
    fn hold(&mut self, key: &str, shown: Presence, until: u64) {
        if let Some(&i) = self.index.get(key) {
            if let Some(Some(slot)) = self.slots.get_mut(i) {
                if slot.held_until.replace(until).is_none() {
                    self.held += 1;
                }
                slot.presence = shown;
                self.holds.push(Reverse((until, key.to_string())));
                if let Some(touches) = self.touches.as_mut() {
                    touches.touch(key, TouchKind::SetInPlace);
                }
                self.prune();
            }
        }
    }

    /// Starts (or stops) recording touches.
    pub fn record_touches(&mut self, on: bool) {
        self.touches = on.then(Touches::default);
    }

    /// What to replay onto a copy of the list taken at the last call to bring it up to date: at
    /// most one touch per key, in order.
    pub fn take_touches(&mut self) -> Vec<Touch> {
        self.touches.as_mut().map(Touches::take).unwrap_or_default()
    }

    /// How many touches are kept until the next [`PresenceState::take_touches`] (see
    /// [`Touches::len`]).
    pub fn touch_count(&self) -> usize {
        self.touches.as_ref().map_or(0, Touches::len)
    }

    /// Whether some key is an array index (such keys are listed first, out of insertion order).
    pub fn has_index_keys(&self) -> bool {
        self.int_keys > 0
    }

    /// True once for each time a held key has joined again.
    pub(crate) fn take_returned(&mut self, key: &str) -> bool {
        match self.returned.get_mut(key) {
            Some(n) if *n > 1 => {
                *n -= 1;
                true
            }
            Some(_) => self.returned.remove(key).is_some(),
            None => false,
        }
    }

    pub(crate) fn clear_returned(&mut self) {
        self.returned.clear();
    }

    pub fn remove(&mut self, key: &str) -> Option<Presence> {
        let i = self.index.remove(key)?;
        let slot = self.slots.get_mut(i)?.take()?;
        if slot.held_until.is_some() {
            self.held -= 1;
            self.prune();
        }
        if array_index(key).is_some() {
            self.int_keys -= 1;
        }
        self.live -= 1;
        if let Some(touches) = self.touches.as_mut() {
            touches.touch(key, TouchKind::Removed);
        }
        if self.slots.len() > 32 && self.slots.len() > 2 * self.live {
            self.compact();
        }
        Some(slot.presence)
    }

    fn compact(&mut self) {
        let old = ::core::mem::take(&mut self.slots);
        self.index.clear();
        for slot in old.into_iter().flatten() {
            let i = self.slots.len();
            self.index.insert(Cow::Owned(slot.key.clone()), i);
            self.slots.push(Some(slot));
        }
    }

    /// Every key with its presence, in JavaScript property order (held keys included).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Presence)> + '_ {
        self.iter_slots()
            .map(|(_, s)| (s.key.as_str(), &s.presence))
    }

    /// The live slots with their indexes, in JavaScript's order.
    fn iter_slots(&self) -> impl Iterator<Item = (usize, &Slot)> + '_ {
        // Array-index keys are rare: found and sorted when listed, not indexed on every change.
        let mut ints: Vec<(u32, usize)> = Vec::new();
        if self.int_keys > 0 {
            for (i, slot) in self.slots.iter().enumerate() {
                if let Some(n) = slot.as_ref().and_then(|s| array_index(&s.key)) {
                    ints.push((n, i));
                }
            }
            sort_index_keys(&mut ints);
        }
        let ints = ints
            .into_iter()
            .filter_map(move |(_, i)| Some((i, self.slots.get(i)?.as_ref()?)));
        let rest = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i, s.as_ref()?)))
            .filter(|(_, s)| array_index(&s.key).is_none());
        ints.chain(rest)
    }

    /// The earliest grace deadline, if a key is held.
    pub(crate) fn next_hold(&self) -> Option<u64> {
        self.holds.peek().map(|Reverse((t, _))| *t)
    }

    /// The keys whose grace window ends at or before `now`, earliest first; they stay listed
    /// until removed.
    pub(crate) fn take_due(&mut self, now: u64) -> Vec<String> {
        let mut due = Vec::new();
        while let Some(Reverse((t, _))) = self.holds.peek() {
            if *t > now {
                break;
            }
            if let Some(Reverse((t, key))) = self.holds.pop() {
                // The same hold can be in the heap twice (held, removed and held again with
                // the same deadline); equal entries come out one after the other.
                if self.holds_until(&key, t) && due.last() != Some(&key) {
                    due.push(key);
                }
            }
        }
        self.prune();
        due
    }

    fn holds_until(&self, key: &str, t: u64) -> bool {
        self.index
            .get(key)
            .and_then(|i| self.slots.get(*i))
            .and_then(|s| s.as_ref())
            .is_some_and(|s| s.held_until == Some(t))
    }

    /// Drops stale entries from the top of `holds` (so its top is the earliest live deadline),
    /// and rebuilds it once most of it is stale.
    fn prune(&mut self) {
        while let Some(Reverse((t, key))) = self.holds.peek() {
            if self.holds_until(key, *t) {
                break;
            }
            self.holds.pop();
        }
        if self.holds.len() > 2 * self.held + 32 {
            let live: Vec<Reverse<(u64, String)>> = self
                .slots
                .iter()
                .flatten()
                .filter_map(|s| Some(Reverse((s.held_until?, s.key.clone()))))
                .collect();
            self.holds = BinaryHeap::from(live);
        }
    }

    /// phoenix.js `syncDiff`: joins first (a join keeps the key's metas whose phx_ref is not in
    /// the join, old first, then the joined), then leaves (metas removed by phx_ref; the key goes
    /// when none remain; unknown keys ignored).
    ///
    /// With `hold_until`, a key whose last meta leaves is held (listed with the metas that left,
    /// absent for merging) until that time instead of removed; the Leave is still returned.
    pub fn apply_diff(
        &mut self,
        joins: Vec<(String, Presence)>,
        leaves: Vec<(String, Presence)>,
        hold_until: Option<u64>,
    ) -> Vec<PresenceChange> {
        let mut changes = Vec::with_capacity(joins.len() + leaves.len());
        for (key, joined) in js_order(joins) {
            let current = self.current(&key).cloned();
            let mut next = joined.clone();
            if let Some(cur) = &current {
                let mut metas: Vec<Meta> = cur
                    .metas
                    .iter()
                    .filter(|m| !contains_ref(&joined.metas, &m.key()))
                    .cloned()
                    .collect();
                metas.extend(next.metas);
                next.metas = metas;
            }
            self.set(&key, next);
            changes.push(PresenceChange::Join {
                key,
                current,
                joined,
            });
        }
        for (key, left) in js_order(leaves) {
            let Some(cur) = self.current_mut(&key) else {
                continue;
            };
            cur.metas.retain(|m| !contains_ref(&left.metas, &m.key()));
            let remaining = cur.clone();
            if remaining.metas.is_empty() {
                match hold_until {
                    Some(until) => self.hold(&key, left.clone(), until),
                    None => {
                        self.remove(&key);
                    }
                }
            } else if let Some(touches) = self.touches.as_mut() {
                touches.touch(&key, TouchKind::SetInPlace);
            }
            changes.push(PresenceChange::Leave {
                key,
                remaining,
                left,
            });
        }
        changes
    }

    /// phoenix.js `syncState`: keys missing from `next` leave; new keys join; for keys in both,
    /// new metas join and vanished metas leave — applied as one diff, so only real changes are
    /// reported. One pass over the state and one over `next`; the state is not copied.
    pub fn apply_state(
        &mut self,
        next: Vec<(String, Presence)>,
        hold_until: Option<u64>,
    ) -> Vec<PresenceChange> {
        self.reconcile(
            next.into_iter()
                .map(|(k, p)| (Cow::Owned(k), Some(p)))
                .collect(),
            hold_until,
            None,
        )
    }

    /// [`PresenceState::apply_state`] from the state's JSON text. A key whose presence text is
    /// exactly what the state holds is not parsed at all, so a rejoin costs in proportion to
    /// what changed, plus one scan of the text. A text that is not a JSON object changes
    /// nothing and is an error.
    pub fn apply_state_text(
        &mut self,
        text: &str,
        hold_until: Option<u64>,
    ) -> Result<Vec<PresenceChange>, String> {
        // The top level is scanned, not parsed. A value that starts with exactly the held text
        // is taken by length: not scanned, not parsed (it was checked when it arrived). Any
        // other value is scanned to its end, then parsed, and so checked. Each key is looked up
        // once — first at the slot after the previous key's, since a server sends a room's
        // state in much the same order each time — and the slots it names are marked instead
        // of indexing the new state's keys a second time.
        let mut scan = json_scan::ObjectScan::new(text)?;
        const UNSEEN: usize = usize::MAX;
        // Slot → position in `merged` of the entry naming it (a repeated key keeps its first
        // position and its last value, as `JSON.parse` does); keys not held yet go in `fresh`.
        let mut slot_pos: Vec<usize> = vec![UNSEEN; self.slots.len()];
        let mut fresh: FxMap<Cow<'_, str>, usize> = FxMap::default();
        let mut merged: Vec<Entry<'_>> = Vec::new();
        let mut hint = 0;
        while let Some(key) = scan.next_key()? {
            let slot = match self.slots.get(hint) {
                Some(Some(s)) if s.key == key.as_ref() => Some(hint),
                _ => self.index.get(key.as_ref()).copied(),
            };
            if let Some(i) = slot {
                hint = i + 1;
            }
            // A held key counts as absent for merging (see `current`).
            let held = slot
                .and_then(|i| self.slots.get(i)?.as_ref())
                .filter(|s| s.held_until.is_none())
                .and_then(|s| held_text_len(&s.presence, scan.rest()));
            let raw = scan.value(held)?;
            let repeat = match slot {
                Some(i) => slot_pos.get(i).copied().filter(|p| *p != UNSEEN),
                None => fresh.get(&key).copied(),
            };
            match repeat.and_then(|p| merged.get_mut(p)) {
                Some(entry) => {
                    // The value replaced must still be JSON (`JSON.parse` checks it).
                    json_scan::check(entry.raw)?;
                    entry.raw = raw;
                    entry.unchanged = held.is_some();
                }
                None => {
                    match slot {
                        Some(i) => {
                            if let Some(p) = slot_pos.get_mut(i) {
                                *p = merged.len();
                            }
                        }
                        None => {
                            fresh.insert(key.clone(), merged.len());
                        }
                    }
                    merged.push(Entry {
                        key,
                        raw,
                        slot,
                        unchanged: held.is_some(),
                    });
                }
            }
        }
        let mut wanted = vec![false; self.slots.len()];
        let mut next: Vec<(Cow<'_, str>, Option<Presence>)> = Vec::with_capacity(merged.len());
        for entry in merged {
            let presence = if entry.unchanged {
                None
            } else {
                match parse_presence_text(entry.raw) {
                    Some(p) => Some(p),
                    None => {
                        // Not a presence is skipped; not JSON at all fails the state.
                        json_scan::check(entry.raw)?;
                        continue;
                    }
                }
            };
            if let Some(w) = entry.slot.and_then(|i| wanted.get_mut(i)) {
                *w = true;
            }
            next.push((entry.key, presence));
        }
        Ok(self.reconcile(next, hold_until, Some(wanted)))
    }

    /// The reconciliation of `syncState`; `None` marks a key known to be unchanged. `wanted`,
    /// when given, marks the slots whose keys `next` names (else they are looked up by key).
    fn reconcile(
        &mut self,
        next: Vec<(Cow<'_, str>, Option<Presence>)>,
        hold_until: Option<u64>,
        wanted: Option<Vec<bool>>,
    ) -> Vec<PresenceChange> {
        let next = js_order(next);
        let wanted_keys: Option<FxMap<Cow<'_, str>, usize>> = match wanted {
            Some(_) => None,
            None => Some(
                next.iter()
                    .map(|(k, _)| (Cow::Borrowed(k.as_ref()), 0))
                    .collect(),
            ),
        };
        let mut leaves: Vec<(String, Presence)> = Vec::new();
        for (i, slot) in self.iter_slots() {
            let kept = match (&wanted, &wanted_keys) {
                (Some(w), _) => w.get(i).copied().unwrap_or(false),
                (None, Some(keys)) => keys.contains_key(slot.key.as_str()),
                (None, None) => false,
            };
            if !kept && slot.held_until.is_none() {
                leaves.push((slot.key.clone(), slot.presence.clone()));
            }
        }
        let mut joins: Vec<(String, Presence)> = Vec::new();
        let mut both_leaves: Vec<(String, Presence)> = Vec::new();
        for (key, new_presence) in &next {
            let Some(new_presence) = new_presence else {
                continue;
            };
            match self.current(key) {
                Some(cur) => {
                    let joined: Vec<Meta> = new_presence
                        .metas
                        .iter()
                        .filter(|m| !contains_ref(&cur.metas, &m.key()))
                        .cloned()
                        .collect();
                    let left: Vec<Meta> = cur
                        .metas
                        .iter()
                        .filter(|m| !contains_ref(&new_presence.metas, &m.key()))
                        .cloned()
                        .collect();
                    if !joined.is_empty() {
                        joins.push((key.to_string(), new_presence.with_metas(joined)));
                    }
                    if !left.is_empty() {
                        both_leaves.push((key.to_string(), cur.with_metas(left)));
                    }
                }
                None => joins.push((key.to_string(), new_presence.clone())),
            }
        }
        leaves.extend(both_leaves);
        self.apply_diff(joins, leaves, hold_until)
    }
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
    use super::{js_order, sort_index_keys, strip_prefix};
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

    /// The radix sort against the standard sort, on index sets that exercise every byte pass
    /// (and the skipped ones): small, byte-spanning, up to u32::MAX - 1, with duplicates.
    #[test]
    fn index_keys_sort_like_a_stable_sort() {
        let mut seed = 0x9e37_79b9_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for (len, bound) in [
            (0, 1),
            (1, 9),
            (50, 10),
            (300, 256),
            (2_000, 70_000),
            (5_000, 1 << 25),
            (5_000, u32::MAX as u64 - 1),
        ] {
            let mut keys: Vec<(u32, usize)> =
                (0..len).map(|i| ((next() % bound) as u32, i)).collect();
            let mut want = keys.clone();
            want.sort_by_key(|&(k, _)| k);
            sort_index_keys(&mut keys);
            assert_eq!(keys, want, "{len} keys below {bound}");
        }
    }

    #[test]
    fn entries_come_in_javascript_property_order() {
        let entries = vec![
            ("b", 1),
            ("10", 2),
            ("a", 3),
            ("2", 4),
            ("01", 5),
            ("4294967295", 6),
            ("0", 7),
            ("300", 8),
        ];
        let keys: Vec<&str> = js_order(entries).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["0", "2", "10", "300", "b", "a", "01", "4294967295"]);
    }
}
