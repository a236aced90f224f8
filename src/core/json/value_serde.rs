//! `serde::Serialize` for [`Value`] (the `serde` feature): a value written by any serde
//! serializer as the JSON it holds.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::core::json::value::{Map, Number, Value};

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => n.serialize(s),
            Value::String(text) => s.serialize_str(text),
            Value::Array(items) => items.serialize(s),
            Value::Object(map) => map.serialize(s),
        }
    }
}

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (self.as_u64(), self.as_i64(), self.as_f64()) {
            (Some(n), _, _) => s.serialize_u64(n),
            (None, Some(n), _) => s.serialize_i64(n),
            (None, None, f) => s.serialize_f64(f.unwrap_or(f64::NAN)),
        }
    }
}

impl Serialize for Map {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}
