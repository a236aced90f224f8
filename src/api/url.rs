//! The socket URL and the token subprotocols. Phoenix: `<endpoint>/websocket?<params>&vsn=2.0.0`;
//! the other dialects use the endpoint as given, plus their own query (`hub`: `c=<channel>`).

use crate::prelude::*;

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// Appends the transport (Phoenix), the params and the dialect's query to the endpoint.
/// `http(s)://` endpoints become `ws(s)://`; a path-only endpoint uses the page's host.
pub fn socket_url(
    endpoint: &str,
    params: &JsValue,
    phoenix: bool,
    dialect_query: &[(String, String)],
) -> String {
    let mut base = endpoint.trim_end_matches('/').to_string();
    if let Some(rest) = base.strip_prefix("http://") {
        base = ["ws://", rest].concat();
    } else if let Some(rest) = base.strip_prefix("https://") {
        base = ["wss://", rest].concat();
    } else if base.starts_with('/') {
        if let Some(loc) = web_sys::window().map(|w| w.location()) {
            let scheme = if loc.protocol().ok().as_deref() == Some("https:") {
                "wss"
            } else {
                "ws"
            };
            base = [scheme, "://", &loc.host().unwrap_or_default(), &base].concat();
        }
    }
    if phoenix && !base.ends_with("/websocket") {
        base.push_str("/websocket");
    }
    let mut query = String::new();
    if let Some(obj) = params.dyn_ref::<Object>() {
        for entry in Object::entries(obj).iter() {
            let key = Reflect::get(&entry, &JsValue::from_f64(0.0)).unwrap_or_default();
            let value = Reflect::get(&entry, &JsValue::from_f64(1.0)).unwrap_or_default();
            let (Some(key), Some(value)) = (key.as_string(), scalar(&value)) else {
                continue;
            };
            if dialect_query.iter().any(|(k, _)| *k == key) {
                continue;
            }
            query.push_str(&encode(&key));
            query.push('=');
            query.push_str(&encode(&value));
            query.push('&');
        }
    }
    for (key, value) in dialect_query {
        query.push_str(&encode(key));
        query.push('=');
        query.push_str(&encode(value));
        query.push('&');
    }
    query.pop();
    if query.is_empty() {
        base
    } else {
        let sep = if base.contains('?') { "&" } else { "?" };
        [&base, sep, &query].concat()
    }
}

fn scalar(v: &JsValue) -> Option<String> {
    if let Some(s) = v.as_string() {
        Some(s)
    } else if v.as_f64().is_some() {
        // JavaScript's own number formatting (and no float formatter in the module).
        js_sys::Number::from(v.clone())
            .to_string_with_radix(10)
            .ok()
            .map(String::from)
    } else if let Some(b) = v.as_bool() {
        Some(b.to_string())
    } else if v.is_null() || v.is_undefined() {
        None
    } else {
        js_sys::JSON::stringify(v).ok().map(String::from)
    }
}

fn encode(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

/// `["phoenix", "base64url.bearer.phx.<token>"]` when there is a token, as Phoenix expects.
pub fn token_protocols(token: Option<&str>) -> Vec<String> {
    match token {
        Some(t) if !t.is_empty() => vec![
            "phoenix".into(),
            ["base64url.bearer.phx.", &base64url(t.as_bytes())].concat(),
        ],
        _ => Vec::new(),
    }
}

/// Base64url without padding.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
