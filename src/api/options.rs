//! Reads the JavaScript option objects into the core's [`Config`].

use crate::prelude::*;

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use super::convert::tether_error;
use crate::core::{round, Backoff, Config, Schedule};

fn get(obj: &JsValue, key: &str) -> JsValue {
    if obj.is_object() {
        Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

fn invalid(path: &str, want: &str) -> JsValue {
    tether_error(
        "invalid_option",
        &["option ", path, " must be ", want].concat(),
    )
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

/// Reads `{minMs, maxMs, jitter, maxAttempts, resetAfterMs, schedule}` over `defaults`.
fn backoff(obj: &JsValue, name: &str, defaults: Backoff) -> Result<Backoff, JsValue> {
    if obj.is_undefined() || obj.is_null() {
        return Ok(defaults);
    }
    if !obj.is_object() {
        return Err(invalid(name, "an object"));
    }
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
        "a function (code, reason) => \"retry\" | \"soon\" | \"slow\" | \"stop\"",
    ))
}

/// Everything `new Socket(url, options)` takes.
pub struct SocketOptions {
    pub config: Config,
    pub params: JsValue,
    pub auth_token: JsValue,
}

pub fn socket_options(opts: &JsValue) -> Result<SocketOptions, JsValue> {
    if !(opts.is_undefined() || opts.is_null() || opts.is_object()) {
        return Err(invalid("options", "an object"));
    }
    let defaults = Config::default();
    let mut config = Config {
        reconnect: backoff(&get(opts, "reconnect"), "reconnect", defaults.reconnect)?,
        rejoin: backoff(&get(opts, "rejoin"), "rejoin", defaults.rejoin)?,
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
    if let Some(v) = ms(opts, "heartbeatMs", "heartbeatMs")? {
        config.heartbeat_ms = v.max(1);
    }
    if let Some(v) = ms(opts, "timeoutMs", "timeoutMs")? {
        config.timeout_ms = v.max(1);
    }
    if let Some(v) = number(opts, "maxFrameBytes", "maxFrameBytes")? {
        config.max_frame_bytes = v as usize;
    }
    let buffer = get(opts, "sendBuffer");
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
    ms(opts, "timeoutMs", "timeoutMs")
}

/// `{leaveGraceMs}` of `channel.presence(...)`.
pub fn leave_grace(opts: &JsValue) -> Result<u64, JsValue> {
    Ok(ms(opts, "leaveGraceMs", "leaveGraceMs")?.unwrap_or(0))
}

/// `{cap, persist}` of `socket.notifications(...)`: at most `cap` held (default 50); unconfirmed
/// reads kept in localStorage unless `persist` is false.
pub fn store_options(opts: &JsValue) -> Result<(usize, bool), JsValue> {
    let cap = number(opts, "cap", "cap")?
        .map(|n| n as usize)
        .unwrap_or(50)
        .max(1);
    let persist = get(opts, "persist").as_bool().unwrap_or(true);
    Ok((cap, persist))
}
