//! Reads the user made that the server has not confirmed yet: as the store queues them
//! ([`ReadOp`]) and as the driver keeps them in storage across a page reload ([`StoredRead`]).

use crate::prelude::*;

use crate::core::json;
use crate::core::json::value::Value;

/// A read the user made that the server has not confirmed yet. Persisted by the driver so no read
/// is lost across a page reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadOp {
    Ids(Vec<String>),
    All,
}

impl ReadOp {
    pub fn to_value(&self) -> Value {
        match self {
            ReadOp::Ids(ids) => json::object([("ids", Value::from(ids.clone()))]),
            ReadOp::All => json::object([("all", Value::Bool(true))]),
        }
    }

    pub fn from_value(v: &Value) -> Option<ReadOp> {
        if v.get("all").and_then(Value::as_bool) == Some(true) {
            return Some(ReadOp::All);
        }
        let ids: Vec<String> = v
            .get("ids")?
            .as_array()?
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect();
        (!ids.is_empty()).then_some(ReadOp::Ids(ids))
    }
}

/// A read as kept in storage: for "mark all read", also the newest notification the user had
/// seen, so that a read carried across a page reload never covers what came later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRead {
    pub op: ReadOp,
    pub until: Option<String>,
}

impl From<ReadOp> for StoredRead {
    fn from(op: ReadOp) -> StoredRead {
        StoredRead { op, until: None }
    }
}

impl StoredRead {
    pub fn to_value(&self) -> Value {
        match (&self.op, &self.until) {
            (ReadOp::All, Some(until)) => json::object([
                ("all", Value::Bool(true)),
                ("until", Value::from(until.as_str())),
            ]),
            (op, _) => op.to_value(),
        }
    }

    pub fn from_value(v: &Value) -> Option<StoredRead> {
        let op = ReadOp::from_value(v)?;
        let until = match op {
            ReadOp::All => v.get("until").and_then(Value::as_str).map(str::to_string),
            ReadOp::Ids(_) => None,
        };
        Some(StoredRead { op, until })
    }
}
