//! Phoenix Channels V2 JSON.

use crate::prelude::*;

use crate::core::json::value::Value;

use super::wire::{Inbound, Protocol, WireDialect};
use crate::core::dialect::codec::{decode_raw, empty_object, encode, DecodeError};

pub struct Phoenix;

impl WireDialect for Phoenix {
    fn protocol(&self) -> Protocol {
        Protocol::Phoenix
    }

    fn decode<'a>(&self, text: &'a str, max_bytes: usize) -> Result<Inbound<'a>, DecodeError> {
        decode_raw(text, max_bytes).map(Inbound::Phoenix)
    }

    fn heartbeat(&self, reference: &str) -> Option<String> {
        Some(encode(
            None,
            Some(reference),
            "phoenix",
            "heartbeat",
            &empty_object(),
        ))
    }

    fn acknowledged(&self) -> bool {
        true
    }

    fn encode_push(
        &self,
        join_ref: Option<&str>,
        reference: &str,
        topic: &str,
        event: &str,
        payload: &Value,
    ) -> Option<String> {
        Some(encode(join_ref, Some(reference), topic, event, payload))
    }

    fn connect_query(&self, _topics: &[String]) -> Vec<(String, String)> {
        vec![("vsn".into(), "2.0.0".into())]
    }
}
