//! Conversions between the core's values and JavaScript, and the `Error` objects JS receives.

use crate::core::Value;
use js_sys::{Object, Reflect, JSON};
use wasm_bindgen::JsValue;

use crate::core::{PushOutcome, SocketState};

/// A JSON value as a JS value (the core only holds valid JSON).
pub fn json_to_js(v: &Value) -> JsValue {
    match v {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::String(s) => JsValue::from_str(s),
        _ => JSON::parse(&crate::core::json::text(v))
            .ok()
            .unwrap_or(JsValue::NULL),
    }
}

/// A JS value as JSON. `undefined` and `null` become `{}`; values JSON cannot carry (BigInt,
/// cycles, functions at the top) are an `invalid_payload` error that says what is wrong.
pub fn js_to_json(v: &JsValue) -> Result<Value, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(Value::Object(Default::default()));
    }
    let text = JSON::stringify(v).map_err(|e| {
        // JSON.stringify's own reason: a BigInt, a cycle, a throwing toJSON.
        let reason = Reflect::get(&e, &JsValue::from_str("message"))
            .ok()
            .and_then(|m| m.as_string())
            .unwrap_or_default();
        tether_error(
            "invalid_payload",
            &["the payload cannot be written as JSON: ", &reason].concat(),
        )
    })?;
    let Some(text) = text.as_string() else {
        // JSON.stringify gives undefined for a function, a symbol or undefined itself.
        return Err(tether_error(
            "invalid_payload",
            &[
                "the payload is ",
                &super::validate::describe(v),
                ", which JSON cannot carry",
            ]
            .concat(),
        ));
    };
    crate::core::json::parse(&text).map_err(|e| {
        let message = if e.what == crate::core::json::NESTED_TOO_DEEPLY {
            [
                "the payload is nested deeper than ",
                &crate::core::util::text::decimal(crate::core::json::MAX_DEPTH as u64),
                " levels of objects and arrays (the most tether reads); flatten it",
            ]
            .concat()
        } else {
            ["the payload is not JSON: ", &e.message()].concat()
        };
        tether_error("invalid_payload", &message)
    })
}

/// Like [`js_to_json`], but the value must be a plain object (Phoenix payloads always are):
/// a `Map`, `Set`, `Date`, class instance, array or primitive is an `invalid_payload` error
/// that says what it is and how to send it.
pub fn js_to_json_object(v: &JsValue) -> Result<Value, JsValue> {
    super::validate::plain_object(v)?;
    let value = js_to_json(v)?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(tether_error(
            "invalid_payload",
            "the payload must be a plain object",
        ))
    }
}

/// `obj[key] = value` (a property set on a plain object or an `Error` cannot fail).
pub(crate) fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// `new Error(message)` with a `code` property.
pub fn tether_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("TetherError");
    set(&err, "code", &JsValue::from_str(code));
    err.into()
}

/// The rejection of a request's promise.
pub fn reply_error(what: &str, outcome: &PushOutcome) -> JsValue {
    match outcome {
        PushOutcome::Ok(_) => JsValue::UNDEFINED,
        PushOutcome::Error { status, response } => {
            let reason = response
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or(status);
            let err = tether_error("error", &[what, " failed: ", reason].concat());
            set(err.unchecked_ref(), "status", &JsValue::from_str(status));
            set(err.unchecked_ref(), "response", &json_to_js(response));
            err
        }
        PushOutcome::Timeout => tether_error("timeout", &[what, " timed out"].concat()),
        PushOutcome::Dropped(reason) => {
            let err = tether_error(
                "dropped",
                &[what, " was dropped before it was sent: ", reason.name()].concat(),
            );
            set(
                err.unchecked_ref(),
                "reason",
                &JsValue::from_str(reason.name()),
            );
            err
        }
    }
}

/// A presence as phoenix.js shows it: `{metas: [...], ...other fields}`.
pub fn presence_to_js(p: &crate::core::Presence) -> JsValue {
    JSON::parse(&p.to_json()).unwrap_or(JsValue::UNDEFINED)
}

/// `{event, durationMs?, attempt?, topic?, code?}`.
pub fn telemetry_to_js(t: &crate::core::Telemetry) -> JsValue {
    let obj = Object::new();
    set(&obj, "event", &JsValue::from_str(t.event));
    if let Some(ms) = t.duration_ms {
        set(&obj, "durationMs", &JsValue::from_f64(ms as f64));
    }
    if let Some(a) = t.attempt {
        set(&obj, "attempt", &JsValue::from_f64(f64::from(a)));
    }
    if let Some(topic) = &t.topic {
        set(&obj, "topic", &JsValue::from_str(topic));
    }
    if let Some(code) = &t.code {
        set(&obj, "code", &JsValue::from_str(code));
    }
    obj.into()
}

/// `{state, attempt?, retryInMs?}`.
pub fn state_to_js(state: SocketState) -> JsValue {
    let obj = Object::new();
    set(&obj, "state", &JsValue::from_str(state.name()));
    if let SocketState::Waiting {
        attempt,
        retry_in_ms,
    } = state
    {
        set(&obj, "attempt", &JsValue::from_f64(attempt as f64));
        set(&obj, "retryInMs", &JsValue::from_f64(retry_in_ms as f64));
    }
    obj.into()
}

use wasm_bindgen::JsCast;
