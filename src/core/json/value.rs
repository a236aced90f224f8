//! JSON values as the core holds them: payloads, replies, notifications, presence fields.
//!
//! tether's own type rather than `serde_json::Value`: serde_json's value brings its ordered map
//! (indexmap, a second hash table and its hasher), its number writer and its serializer into
//! the wasm: 8 % of the package's gzip size (docs/design.md, "`Value`"). The core only ever reads values
//! from JSON text ([`crate::core::json`]) and writes them back, so:
//! - an object is a vector of entries in the order the text gave them (as serde_json's
//!   `preserve_order` kept them; what reaches JavaScript is parsed there again, in its own
//!   order), looked up by a scan: the objects the core looks into are small, and a large one is
//!   looked into a few times, not per entry;
//! - a number that is not an integer keeps the text it was read from, and is written back as
//!   that text, so no float formatting is linked; its `f64` is read once, with it.
//!
//! The API follows serde_json's where the two overlap (`get`, `as_str`, `Value::Object`,
//! indexing that yields `null` for what is missing), so code reads the same.

use crate::prelude::*;

use ::core::fmt;
use ::core::ops::{Index, IndexMut};
use alloc::borrow::Cow;

use crate::core::util::FxMap;

/// A JSON value.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Map),
}

static NULL: Value = Value::Null;

/// A JSON number: an integer that fits `u64` or `i64`, or any other number with the text it was
/// read from.
#[derive(Clone, Debug)]
pub struct Number(N);

#[derive(Clone, Debug)]
enum N {
    Pos(u64),
    Neg(i64),
    Float(f64, Box<str>),
}

impl Number {
    /// A number that is not an integer of `u64` or `i64`, from its JSON text (which the reader
    /// has checked) and its value.
    pub(crate) fn float(value: f64, text: &str) -> Number {
        Number(N::Float(value, text.into()))
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self.0 {
            N::Pos(n) => Some(n),
            N::Neg(_) | N::Float(..) => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            N::Pos(n) => i64::try_from(n).ok(),
            N::Neg(n) => Some(n),
            N::Float(..) => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        Some(match self.0 {
            N::Pos(n) => n as f64,
            N::Neg(n) => n as f64,
            N::Float(f, _) => f,
        })
    }

    pub fn is_u64(&self) -> bool {
        matches!(self.0, N::Pos(_))
    }

    pub fn is_i64(&self) -> bool {
        self.as_i64().is_some()
    }

    pub fn is_f64(&self) -> bool {
        matches!(self.0, N::Float(..))
    }

    fn write(&self, out: &mut String) {
        match &self.0 {
            N::Pos(n) => out.push_str(&crate::core::util::text::decimal(*n)),
            N::Neg(n) => {
                out.push('-');
                out.push_str(&crate::core::util::text::decimal(n.unsigned_abs()));
            }
            N::Float(_, text) => out.push_str(text),
        }
    }
}

/// Integers equal integers and other numbers equal other numbers by value (as serde_json's
/// numbers compare: `1` is not `1.0`).
impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (&self.0, &other.0) {
            (N::Float(a, _), N::Float(b, _)) => a == b,
            (N::Float(..), _) | (_, N::Float(..)) => false,
            _ => self.as_i64() == other.as_i64() && self.as_u64() == other.as_u64(),
        }
    }
}

impl From<u64> for Number {
    fn from(n: u64) -> Number {
        Number(N::Pos(n))
    }
}

impl From<i64> for Number {
    fn from(n: i64) -> Number {
        Number(match u64::try_from(n) {
            Ok(n) => N::Pos(n),
            Err(_) => N::Neg(n),
        })
    }
}

/// A JSON object: its entries in the order they were read or inserted, each key once.
#[derive(Clone, Debug, Default)]
pub struct Map {
    entries: Vec<(String, Value)>,
}

/// Objects with more entries than this have duplicate keys found by hashing, not by a scan.
const SCAN_DUPLICATES_UP_TO: usize = 32;

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k == key)
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key` to `value`: a key already there keeps its place and gets the new value (the
    /// old one is returned); a new key goes last.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        match self.position(&key) {
            Some(i) => self
                .entries
                .get_mut(i)
                .map(|(_, v)| ::core::mem::replace(v, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Removes `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key)?;
        Some(self.entries.remove(i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Value)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut Value) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    /// The object of entries read from JSON text, in text order: a repeated key keeps the place
    /// of its first entry and the value of its last (as `JSON.parse` and serde_json read it).
    pub(crate) fn from_read(mut entries: Vec<(String, Value)>) -> Map {
        if entries.len() <= SCAN_DUPLICATES_UP_TO {
            let mut i = 1;
            while i < entries.len() {
                match entries[..i].iter().position(|(k, _)| *k == entries[i].0) {
                    Some(first) => {
                        let (_, v) = entries.remove(i);
                        entries[first].1 = v;
                    }
                    None => i += 1,
                }
            }
            return Map { entries };
        }
        // Hashing the keys; a repeated one is rare, so the vector is rebuilt only then.
        // (Keyed by `Cow` as presence's maps are: one copy of the hash table's code.)
        let first: Vec<usize> = {
            let mut seen: FxMap<Cow<'_, str>, usize> = FxMap::default();
            entries
                .iter()
                .enumerate()
                .map(|(i, (k, _))| *seen.entry(Cow::Borrowed(k.as_str())).or_insert(i))
                .collect()
        };
        if first.iter().enumerate().all(|(i, &f)| f == i) {
            return Map { entries };
        }
        let mut kept: Vec<Option<(String, Value)>> = Vec::with_capacity(entries.len());
        for (i, (k, v)) in entries.into_iter().enumerate() {
            match first.get(i).copied() {
                Some(f) if f != i => {
                    if let Some(Some((_, held))) = kept.get_mut(f) {
                        *held = v;
                    }
                    kept.push(None);
                }
                _ => kept.push(Some((k, v))),
            }
        }
        Map {
            entries: kept.into_iter().flatten().collect(),
        }
    }
}

/// The same keys with equal values, in any order (as JavaScript objects and serde_json's maps
/// compare). Entries in the same order are compared side by side; only maps whose order differs
/// are compared by lookup (a scan per key).
impl PartialEq for Map {
    fn eq(&self, other: &Map) -> bool {
        self.len() == other.len()
            && (self.entries == other.entries || self.iter().all(|(k, v)| other.get(k) == Some(v)))
    }
}

impl FromIterator<(String, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Map {
        let mut map = Map::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = alloc::vec::IntoIter<(String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a String, &'a Value);
    type IntoIter = ::core::iter::Map<
        ::core::slice::Iter<'a, (String, Value)>,
        fn(&'a (String, Value)) -> (&'a String, &'a Value),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_boolean(&self) -> bool {
        matches!(self, Value::Bool(_))
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Value::Number(_))
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(_))
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// An object's field (`None` for a missing one, or when this is not an object).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.as_object_mut()?.get_mut(key)
    }

    /// The value, leaving `null` in its place.
    pub fn take(&mut self) -> Value {
        ::core::mem::take(self)
    }

    /// Appends this value's JSON text to `out`.
    pub fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(true) => out.push_str("true"),
            Value::Bool(false) => out.push_str("false"),
            Value::Number(n) => n.write(out),
            Value::String(s) => crate::core::json::write::write_string(out, s),
            Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    crate::core::json::write::write_string(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// Compact JSON text (as serde_json writes it, but for non-integers: their text as read).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out);
        f.write_str(&out)
    }
}

/// `value["field"]`: the field, or `null` when it is missing or this is not an object.
impl Index<&str> for Value {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

/// `value[i]`: the element, or `null` when it is missing or this is not an array.
impl Index<usize> for Value {
    type Output = Value;
    fn index(&self, i: usize) -> &Value {
        self.as_array().and_then(|a| a.get(i)).unwrap_or(&NULL)
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<bool> for Value {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl PartialEq<u64> for Value {
    fn eq(&self, other: &u64) -> bool {
        self.as_u64() == Some(*other)
    }
}

impl PartialEq<i64> for Value {
    fn eq(&self, other: &i64) -> bool {
        self.as_i64() == Some(*other)
    }
}

impl PartialEq<i32> for Value {
    fn eq(&self, other: &i32) -> bool {
        self.as_i64() == Some(i64::from(*other))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Number(n.into())
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Value {
        Value::Number(u64::from(n).into())
    }
}

impl From<usize> for Value {
    fn from(n: usize) -> Value {
        Value::Number((n as u64).into())
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(n.into())
    }
}

impl From<i32> for Value {
    fn from(n: i32) -> Value {
        Value::Number(i64::from(n).into())
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Value {
        Value::Array(items.into_iter().map(Into::into).collect())
    }
}

impl From<Map> for Value {
    fn from(map: Map) -> Value {
        Value::Object(map)
    }
}

/// `value["field"] = v`: a value that is not an object becomes an empty one first, and a missing
/// field is added (as `null`) before it is assigned.
impl IndexMut<&str> for Value {
    fn index_mut(&mut self, key: &str) -> &mut Value {
        let Value::Object(map) = self else {
            *self = Value::Object(Map::new());
            return self.index_mut(key);
        };
        let i = match map.position(key) {
            Some(i) => i,
            None => {
                map.entries.push((key.into(), Value::Null));
                map.entries.len() - 1
            }
        };
        &mut map.entries[i].1
    }
}

/// `value[i] = v`: a value that is not an array becomes an empty one first, and one too short
/// is filled with `null` up to `i`.
impl IndexMut<usize> for Value {
    fn index_mut(&mut self, i: usize) -> &mut Value {
        let Value::Array(items) = self else {
            *self = Value::Array(Vec::new());
            return self.index_mut(i);
        };
        if items.len() <= i {
            items.resize(i + 1, Value::Null);
        }
        &mut items[i]
    }
}

/// `map["field"]`: the field, or `null` when it is missing.
impl Index<&str> for Map {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

impl PartialEq<Value> for str {
    fn eq(&self, other: &Value) -> bool {
        other == self
    }
}

impl PartialEq<Value> for &str {
    fn eq(&self, other: &Value) -> bool {
        other == self
    }
}

impl PartialEq<Value> for String {
    fn eq(&self, other: &Value) -> bool {
        other == self.as_str()
    }
}
