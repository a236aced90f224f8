//! nova_pubsub: the endpoint path is the channel; `{event, data}` in; `ping` / `pong`.

use crate::prelude::*;

use crate::core::json::value::Value;

use super::wire::{as_object, Inbound, Protocol, WireDialect};
use crate::core::dialect::codec::DecodeError;

pub struct Nova;

impl WireDialect for Nova {
    fn protocol(&self) -> Protocol {
        Protocol::Nova
    }

    fn decode<'a>(&self, text: &'a str, max_bytes: usize) -> Result<Inbound<'a>, DecodeError> {
        if text == "pong" {
            return Ok(Inbound::HeartbeatReply);
        }
        if text.len() > max_bytes {
            return Err(DecodeError::TooLarge {
                bytes: text.len(),
                max: max_bytes,
            });
        }
        let v: Value =
            crate::core::json::parse(text).map_err(|e| DecodeError::NotJson(e.message()))?;
        let Value::Object(mut map) = v else {
            return Err(DecodeError::PayloadNotObject);
        };
        let Some(Value::String(event)) = map.remove("event") else {
            return Err(DecodeError::BadEvent);
        };
        let data = map.remove("data").unwrap_or(Value::Null);
        Ok(Inbound::Message {
            topic: None,
            event,
            payload: as_object(data),
        })
    }

    fn heartbeat(&self, _reference: &str) -> Option<String> {
        Some("ping".to_string())
    }

    fn acknowledged(&self) -> bool {
        false
    }

    fn encode_push(
        &self,
        _join_ref: Option<&str>,
        _reference: &str,
        _topic: &str,
        _event: &str,
        _payload: &Value,
    ) -> Option<String> {
        None
    }

    fn connect_query(&self, _topics: &[String]) -> Vec<(String, String)> {
        Vec::new()
    }
}
