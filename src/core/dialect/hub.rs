//! MemoriesDB hub: subscriptions in the query string, `pub` frames out, `{channel, content}` in.

use crate::prelude::*;

use crate::core::json;
use crate::core::json::value::Value;

use super::wire::{as_object, Inbound, Protocol, WireDialect};
use crate::core::dialect::codec::DecodeError;

pub struct Hub;

impl WireDialect for Hub {
    fn protocol(&self) -> Protocol {
        Protocol::Hub
    }

    fn decode<'a>(&self, text: &'a str, max_bytes: usize) -> Result<Inbound<'a>, DecodeError> {
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
        let Some(Value::String(channel)) = map.remove("channel") else {
            return Err(DecodeError::BadTopic);
        };
        let content = map.remove("content").unwrap_or(Value::Null);
        // Bridged Phoenix broadcasts arrive as {"event", "payload"}; plain publishes as content.
        let (event, payload) = match content {
            Value::Object(mut c)
                if c.get("event").is_some_and(Value::is_string) && c.contains_key("payload") =>
            {
                let event = c
                    .remove("event")
                    .and_then(|e| e.as_str().map(str::to_string))
                    .unwrap_or_default();
                (event, as_object(c.remove("payload").unwrap_or(Value::Null)))
            }
            other => ("message".to_string(), as_object(other)),
        };
        Ok(Inbound::Message {
            topic: Some(channel),
            event,
            payload,
        })
    }

    fn heartbeat(&self, _reference: &str) -> Option<String> {
        None
    }

    fn acknowledged(&self) -> bool {
        false
    }

    fn encode_push(
        &self,
        _join_ref: Option<&str>,
        _reference: &str,
        topic: &str,
        event: &str,
        payload: &Value,
    ) -> Option<String> {
        // `channel.push("message", content)` publishes the content as it is; any other event is
        // published as {"event", "payload"} so the receivers can tell events apart.
        let content = if event == "message" {
            payload.clone()
        } else {
            json::object([("event", Value::from(event)), ("payload", payload.clone())])
        };
        Some(json::text(&json::object([
            ("method", Value::from("pub")),
            (
                "params",
                json::object([("channel", Value::from(topic)), ("content", content)]),
            ),
        ])))
    }

    fn connect_query(&self, topics: &[String]) -> Vec<(String, String)> {
        topics
            .iter()
            .map(|t| ("c".to_string(), t.clone()))
            .collect()
    }

    fn membership_in_url(&self) -> bool {
        true
    }
}
