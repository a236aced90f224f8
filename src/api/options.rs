//! Reads the JavaScript option objects into the core's [`Config`]. Every object is checked for
//! names it does not know (`validate::known_keys`, over the known names joined by commas: a typo
//! is an `invalid_option` error that suggests the known name) and every value for its type and
//! range.

use crate::prelude::*;

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::validate::{invalid_option, known_keys};
use crate::core::util::text::decimal;
use crate::core::{round, Backoff, Config, Schedule};

/// The options of `new Socket(url, options)`.
const SOCKET: &str =
    "protocol,params,authToken,reconnect,rejoin,heartbeatMs,timeoutMs,sendBuffer,maxFrameBytes";
/// `reconnect: {...}` (`onClose` is the socket's close-code policy).
const RECONNECT: &str = "minMs,maxMs,jitter,maxAttempts,resetAfterMs,schedule,onClose";
/// `rejoin: {...}`.
const REJOIN: &str = "minMs,maxMs,jitter,maxAttempts,resetAfterMs,schedule";
const SEND_BUFFER: &str = "max,ttlMs";
const PUSH: &str = "timeoutMs";
const PRESENCE: &str = "leaveGraceMs";
const STORE: &str = "cap,persist";

fn get(obj: &JsValue, key: &str) -> JsValue {
    if obj.is_object() {
        Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

fn invalid(path: &str, want: &str) -> JsValue {
    invalid_option(path, want)
}

/// An option object (or nothing), checked for unknown names.
fn object(obj: &JsValue, call: &str, path: &str, known: &str) -> Result<(), JsValue> {
    if obj.is_undefined() || obj.is_null() {
        return Ok(());
    }
    if !obj.is_object() || obj.is_function() || js_sys::Array::is_array(obj) {
        let name = if path.is_empty() {
            "options"
        } else {
            path.trim_end_matches('.')
        };
        return Err(invalid(name, "an object"));
    }
    known_keys(obj, call, path, known)
}

/// A non-negative finite number, if present.
fn number(obj: &JsValue, key: &str, path: &str) -> Result<Option<f64>, JsValue> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
        _ => Err(invalid(path, "a non-negative number")),
    }
}

fn ms(obj: &JsValue, key: &str, path: &str) -> Result<Option<u64>, JsValue> {
    Ok(number(obj, key, path)?.map(round))
}

/// A duration that must be at least 1 ms, if present.
fn positive_ms(obj: &JsValue, key: &str, path: &str) -> Result<Option<u64>, JsValue> {
    match ms(obj, key, path)? {
        Some(0) => Err(invalid(path, "at least 1 (ms)")),
        other => Ok(other),
    }
}

/// Reads `{minMs, maxMs, jitter, maxAttempts, resetAfterMs, schedule}` (names in `known`) over
/// `defaults`.
fn backoff(obj: &JsValue, name: &str, known: &str, defaults: Backoff) -> Result<Backoff, JsValue> {
    if obj.is_undefined() || obj.is_null() {
        return Ok(defaults);
    }
    object(
        obj,
        "new Socket(url, options)",
        &[name, "."].concat(),
        known,
    )?;
    let mut out = defaults;
    let schedule = get(obj, "schedule");
    if let Some(f) = schedule.dyn_ref::<Function>() {
        let f = f.clone();
        out.schedule = Schedule::Custom(Box::new(move |attempt| {
            f.call1(&JsValue::UNDEFINED, &JsValue::from_f64(attempt as f64))
                .ok()
                .and_then(|v| v.as_f64())
                .filter(|n| n.is_finite() && *n >= 0.0)
                .map(round)
                .unwrap_or(1_000)
        }));
    } else if !schedule.is_undefined() && !schedule.is_null() {
        return Err(invalid(
            &[name, ".schedule"].concat(),
            "a function (attempt) => ms",
        ));
    } else if let Schedule::Exponential {
        min_ms,
        max_ms,
        jitter,
    } = &mut out.schedule
    {
        if let Some(v) = ms(obj, "minMs", &[name, ".minMs"].concat())? {
            *min_ms = v;
        }
        if let Some(v) = ms(obj, "maxMs", &[name, ".maxMs"].concat())? {
            *max_ms = v;
        }
        if let Some(v) = number(obj, "jitter", &[name, ".jitter"].concat())? {
            if v > 1.0 {
                return Err(invalid(&[name, ".jitter"].concat(), "between 0 and 1"));
            }
            *jitter = v;
        }
        if *min_ms > *max_ms {
            let given = |key: &str| {
                if get(obj, key).is_undefined() {
                    ", the default"
                } else {
                    ""
                }
            };
            return Err(invalid_option_text(
                &[
                    "option ",
                    name,
                    ".minMs (",
                    &decimal(*min_ms),
                    given("minMs"),
                    ") must not be above ",
                    name,
                    ".maxMs (",
                    &decimal(*max_ms),
                    given("maxMs"),
                    ")",
                ]
                .concat(),
            ));
        }
    }
    if let Some(v) = number(obj, "maxAttempts", &[name, ".maxAttempts"].concat())? {
        out.max_attempts = Some(round(v).min(u32::MAX as u64) as u32);
    }
    if let Some(v) = ms(obj, "resetAfterMs", &[name, ".resetAfterMs"].concat())? {
        out.reset_after_ms = v;
    }
    Ok(out)
}

/// `reconnect.onClose(code, reason)`: the app's rule per close code ("retry", "soon", "slow",
/// "stop"); anything else it returns (undefined, a throw) leaves the decision to the defaults.
fn close_policy(reconnect: &JsValue) -> Result<crate::core::ClosePolicy, JsValue> {
    let on_close = get(reconnect, "onClose");
    if let Some(f) = on_close.dyn_ref::<Function>() {
        let f = f.clone();
        return Ok(crate::core::ClosePolicy::custom(Box::new(
            move |code, reason| {
                f.call2(
                    &JsValue::UNDEFINED,
                    &JsValue::from_f64(f64::from(code)),
                    &JsValue::from_str(reason),
                )
                .ok()
                .and_then(|v| v.as_string())
                .and_then(|name| crate::core::CloseAction::parse(&name))
            },
        )));
    }
    if on_close.is_undefined() || on_close.is_null() {
        return Ok(crate::core::ClosePolicy::default());
    }
    Err(invalid(
        "reconnect.onClose",
        "a function (code, reason) => \"retry\" | \"soon\" | \"slow\" | \"stop\" | undefined",
    ))
}

/// Everything `new Socket(url, options)` takes.
pub struct SocketOptions {
    pub config: Config,
    pub params: JsValue,
    pub auth_token: JsValue,
}

pub fn socket_options(opts: &JsValue) -> Result<SocketOptions, JsValue> {
    object(opts, "new Socket(url, options)", "", SOCKET)?;
    let defaults = Config::default();
    let mut config = Config {
        reconnect: backoff(
            &get(opts, "reconnect"),
            "reconnect",
            RECONNECT,
            defaults.reconnect,
        )?,
        rejoin: backoff(&get(opts, "rejoin"), "rejoin", REJOIN, defaults.rejoin)?,
        close_policy: close_policy(&get(opts, "reconnect"))?,
        ..defaults
    };
    let protocol = get(opts, "protocol");
    if let Some(name) = protocol.as_string() {
        config.protocol = crate::core::Protocol::parse(&name)
            .ok_or_else(|| invalid("protocol", "\"phoenix\", \"hub\" or \"nova\""))?;
    } else if !protocol.is_undefined() && !protocol.is_null() {
        return Err(invalid("protocol", "\"phoenix\", \"hub\" or \"nova\""));
    }
    if let Some(v) = positive_ms(opts, "heartbeatMs", "heartbeatMs")? {
        config.heartbeat_ms = v;
    }
    if let Some(v) = positive_ms(opts, "timeoutMs", "timeoutMs")? {
        config.timeout_ms = v;
    }
    if let Some(v) = number(opts, "maxFrameBytes", "maxFrameBytes")? {
        if v < 1.0 {
            return Err(invalid("maxFrameBytes", "at least 1"));
        }
        config.max_frame_bytes = v as usize;
    }
    let buffer = get(opts, "sendBuffer");
    object(
        &buffer,
        "new Socket(url, options)",
        "sendBuffer.",
        SEND_BUFFER,
    )?;
    if let Some(v) = number(&buffer, "max", "sendBuffer.max")? {
        config.send_buffer_max = v as usize;
    }
    if let Some(v) = ms(&buffer, "ttlMs", "sendBuffer.ttlMs")? {
        config.send_buffer_ttl_ms = v;
    }
    let params = get(opts, "params");
    if !(params.is_undefined() || params.is_null() || params.is_object() || params.is_function()) {
        return Err(invalid("params", "an object or a function returning one"));
    }
    let auth_token = get(opts, "authToken");
    if !(auth_token.is_undefined()
        || auth_token.is_null()
        || auth_token.is_string()
        || auth_token.is_function())
    {
        return Err(invalid("authToken", "a string or a function returning one"));
    }
    Ok(SocketOptions {
        config,
        params,
        auth_token,
    })
}

/// `{timeoutMs}` of a push.
pub fn push_timeout(opts: &JsValue) -> Result<Option<u64>, JsValue> {
    object(opts, "channel.push(event, payload, options)", "", PUSH)?;
    positive_ms(opts, "timeoutMs", "timeoutMs")
}

/// `{leaveGraceMs}` of `channel.presence(...)`, if given.
pub fn leave_grace(opts: &JsValue) -> Result<Option<u64>, JsValue> {
    object(opts, "channel.presence(options)", "", PRESENCE)?;
    ms(opts, "leaveGraceMs", "leaveGraceMs")
}

/// `{cap, persist}` of `socket.notifications(...)`: at most `cap` held (default 50); unconfirmed
/// reads kept in localStorage unless `persist` is false.
pub fn store_options(opts: &JsValue) -> Result<(usize, bool), JsValue> {
    object(opts, "socket.notifications(userId, options)", "", STORE)?;
    let cap = match number(opts, "cap", "cap")? {
        Some(n) if n < 1.0 => return Err(invalid("cap", "at least 1")),
        Some(n) => n as usize,
        None => 50,
    };
    let persist = get(opts, "persist");
    if !(persist.is_undefined() || persist.is_null() || persist.as_bool().is_some()) {
        return Err(invalid("persist", "true or false"));
    }
    Ok((cap, persist.as_bool().unwrap_or(true)))
}

/// `invalid_option` with a whole message.
fn invalid_option_text(message: &str) -> JsValue {
    super::convert::tether_error("invalid_option", message)
}
