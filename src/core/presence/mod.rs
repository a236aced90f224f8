//! Phoenix presence: a state of key → presence (`{metas: [...]}` plus any other fields), merged
//! with `presence_state` and `presence_diff` exactly as phoenix.js's `syncState` / `syncDiff` do —
//! including JavaScript's property order (array-index keys first, ascending, then insertion order).
//!
//! A diff costs in proportion to the diff; a state is reconciled in one pass without copying the
//! state. Keys are plain strings: `__proto__` and `constructor` are keys like any other.
//!
//! Here: the types and the state with its merge rules. Reading presences from a frame's JSON text
//! is in `text.rs`, JavaScript's key order in `order.rs`.

use crate::prelude::*;

use ::core::cmp::Reverse;
use alloc::borrow::Cow;
use alloc::collections::BinaryHeap;

use crate::core::json::value::{Map, Value};

use crate::core::json;
use crate::core::json::scan;
pub use crate::core::presence::touches::Touch;
use crate::core::presence::touches::{TouchKind, Touches};
use crate::core::util::FxMap;

mod order;
mod text;
pub(in crate::core) mod touches;
pub mod tracker;

use order::sort_index_keys;
pub use order::{array_index, js_order};
use text::{held_text_len, parse_presence_text, read_meta};
pub use text::{parse_diff_text, parse_presence_map, parse_presences, read_diff_text, Entries};

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
        let mut scan = scan::ObjectScan::new(text)?;
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
                    scan::check(entry.raw)?;
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
                        scan::check(entry.raw)?;
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
