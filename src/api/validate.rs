//! Argument checks of the JavaScript surface, in one place. A mistake in an argument is a
//! `TetherError` thrown (or, from a call that returns a promise, a promise rejected) at the call,
//! with a code and a message that names the argument, what it got and what it takes:
//!
//! | code | what |
//! |---|---|
//! | `invalid_callback` | a registration (`on…`, `subscribe`) given something that is not a function |
//! | `invalid_event` | an event name that is not a non-empty string |
//! | `invalid_url` | a socket URL that is empty or not a ws/wss/http/https URL or a path |
//! | `invalid_option` | an unknown option name (the closest known one is suggested), or a bad value |
//! | `invalid_payload` | a payload that is not a plain object, or that JSON cannot carry |

use crate::prelude::*;

use js_sys::{Array, Function, Object, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};

use super::convert::tether_error;

/// Strings quoted in a message are cut to this many characters.
const QUOTE_CHARS: usize = 40;

/// `callback`, checked to be a function, or `invalid_callback` naming the call. (A parameter
/// typed `Function` is not checked at the boundary: JavaScript may pass anything.)
///
/// `call` names the call and the argument, as a user wrote it: `"channel.on(event, callback)"`.
pub fn callback(callback: Function, call: &str) -> Result<Function, JsValue> {
    function(callback, call, "callback")
}

/// `value`, checked to be a function, or `invalid_callback` naming the call and the argument.
fn function(value: Function, call: &str, arg: &str) -> Result<Function, JsValue> {
    if value.is_function() {
        return Ok(value);
    }
    Err(tether_error(
        "invalid_callback",
        &[
            call,
            ": ",
            arg,
            " must be a function, got ",
            &describe(&value),
        ]
        .concat(),
    ))
}

/// An optional function argument `arg` (`undefined` or `null` arrive as `None`).
pub fn optional_function(
    value: Option<Function>,
    call: &str,
    arg: &str,
) -> Result<Option<Function>, JsValue> {
    value.map(|f| function(f, call, arg)).transpose()
}

/// An event name: a non-empty string, or `invalid_event` naming the call.
pub fn event(event: &JsValue, call: &str) -> Result<String, JsValue> {
    match event.as_string() {
        Some(name) if !name.is_empty() => Ok(name),
        _ => Err(tether_error(
            "invalid_event",
            &[
                call,
                ": event must be a non-empty string (the event's name), got ",
                &describe(event),
            ]
            .concat(),
        )),
    }
}

/// The socket URL: `ws://`, `wss://`, `http://` or `https://` with a host, or a path starting
/// with `/` (on the page's own host); anything else is `invalid_url`.
pub fn socket_url(url: &JsValue) -> Result<String, JsValue> {
    const TAKES: &str = "pass the endpoint as \"wss://example.com/socket\", \
                         \"ws://localhost:4000/socket\" or a path on this page's host (\"/socket\")";
    let Some(text) = url.as_string() else {
        return Err(tether_error(
            "invalid_url",
            &[
                "new Socket(url): url must be a string, got ",
                &describe(url),
                "; ",
                TAKES,
            ]
            .concat(),
        ));
    };
    let bad = |why: &str| {
        tether_error(
            "invalid_url",
            &["new Socket(url): ", why, "; ", TAKES].concat(),
        )
    };
    if text.is_empty() {
        return Err(bad("the URL is empty"));
    }
    let quoted = quote(&text);
    // Spaces and control characters (a URL has them percent-encoded), or `//host` without a
    // scheme: not a URL tether can open.
    if text.bytes().any(|b| b <= b' ' || b == 0x7f) || text.starts_with("//") {
        return Err(bad(
            &[&quoted, " is not a URL or a path starting with /"].concat()
        ));
    }
    if text.starts_with('/') {
        return Ok(text);
    }
    // Read as bytes with `position` and `get` only: no string searcher, and no slicing that
    // could panic (its message formatting would be linked into the wasm: ~6 KB gzip).
    let bytes = text.as_bytes();
    let colon = bytes.iter().position(|&b| b == b':');
    let scheme = colon.and_then(|at| text.get(..at));
    let rest = colon
        .filter(|&at| bytes.get(at..at + 3) == Some(b"://".as_slice()))
        .and_then(|at| bytes.get(at + 3..));
    let (Some(scheme), Some(rest)) = (scheme, rest) else {
        return Err(bad(
            &[&quoted, " is not a URL or a path starting with /"].concat()
        ));
    };
    let scheme_ok = ["ws", "wss", "http", "https"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s));
    if !scheme_ok {
        return Err(bad(&[
            &quoted,
            " has the scheme \"",
            scheme,
            "\": a socket URL takes ws, wss, http or https",
        ]
        .concat()));
    }
    // The host: after any `user@`, up to the path, query or fragment; it must not be empty.
    let authority = rest
        .split(|&b| b == b'/' || b == b'?' || b == b'#')
        .next()
        .unwrap_or_default();
    let host = authority.rsplit(|&b| b == b'@').next().unwrap_or_default();
    if host.is_empty() || host.first() == Some(&b':') {
        return Err(bad(&[&quoted, " has no host"].concat()));
    }
    Ok(text)
}

/// Checks that `obj` (an option object; anything else is left to the caller) has no key but
/// `known`; an unknown one is `invalid_option` naming the `call`, the option with its `path`
/// (`"reconnect."`), the closest known name when one is close, and every known name.
pub fn known_keys(obj: &JsValue, call: &str, path: &str, known: &[&str]) -> Result<(), JsValue> {
    if !obj.is_object() || obj.is_function() {
        return Ok(());
    }
    let keys = Object::keys(obj.unchecked_ref::<Object>());
    for key in keys.iter() {
        let Some(key) = key.as_string() else { continue };
        if known.contains(&key.as_str()) {
            continue;
        }
        let mut message = [call, ": unknown option ", path, &key].concat();
        if let Some(near) = closest(&key, known) {
            message.push_str(&[" (did you mean ", path, near, "?)"].concat());
        }
        let scope = path.trim_end_matches('.');
        message.push_str(
            &[
                "; the known ",
                scope,
                if scope.is_empty() { "" } else { " " },
                "options are: ",
                &known.join(", "),
            ]
            .concat(),
        );
        return Err(tether_error("invalid_option", &message));
    }
    Ok(())
}

/// The known name closest to `name` (case aside), if one is close: a few letters apart, or one
/// name inside the other with letters left out (`heartbeatIntervalMs` → `heartbeatMs`).
pub fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    known
        .iter()
        .filter_map(|k| {
            let low = k.to_ascii_lowercase();
            let d = distance(&name, &low);
            let near = d <= (low.len() / 3).max(1)
                || (low.len().min(name.len()) >= 3
                    && (subsequence(&low, &name) || subsequence(&name, &low)));
            near.then_some((d, *k))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over bytes. (Iterators, no indexing: nothing here can panic, so no
/// panic message formatting is linked into the wasm.)
fn distance(a: &str, b: &str) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut next = Vec::with_capacity(row.len());
        let (mut diagonal, mut left) = (i, i + 1);
        next.push(left);
        for (cb, &above) in b.bytes().zip(row.iter().skip(1)) {
            left = (above + 1)
                .min(left + 1)
                .min(diagonal + usize::from(ca != cb));
            next.push(left);
            diagonal = above;
        }
        row = next;
    }
    row.last().copied().unwrap_or_default()
}

/// Whether `short`'s bytes appear in `long` in order.
fn subsequence(short: &str, long: &str) -> bool {
    let mut rest = long.bytes();
    short.bytes().all(|c| rest.any(|l| l == c))
}

/// `invalid_option` for `path`, which must be `want`.
pub fn invalid_option(path: &str, want: &str) -> JsValue {
    tether_error(
        "invalid_option",
        &["option ", path, " must be ", want].concat(),
    )
}

/// Checks that a payload is a plain object (`{...}` or `Object.create(null)`), or says what it
/// is instead and how to send it. `undefined` and `null` pass (they are sent as `{}`).
pub fn plain_object(v: &JsValue) -> Result<(), JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(());
    }
    let why = if !v.is_object() || v.is_function() {
        [
            "the payload is ",
            &describe(v),
            ": a Phoenix payload is a plain object, e.g. {value: …}",
        ]
        .concat()
    } else if Array::is_array(v) {
        "the payload is an array: a Phoenix payload is a plain object; wrap it, e.g. {items: [...]}"
            .to_string()
    } else {
        let proto = Object::get_prototype_of(v);
        // A plain object's prototype is null or a realm's Object.prototype (whose own is null).
        if proto.is_null() || Object::get_prototype_of(&proto).is_null() {
            return Ok(());
        }
        let name = class_name(v).unwrap_or_default();
        let hint = match name.as_str() {
            "Map" => "convert it with Object.fromEntries(map)",
            "Set" => "send its values as an array, e.g. {items: [...set]}",
            "Date" => "send the time in an object, e.g. {at: date.toISOString()}",
            _ => "copy its fields into a plain object, e.g. {...value}",
        };
        [
            "the payload is ",
            &describe(v),
            ", not a plain object (JSON would not carry it as it is): ",
            hint,
        ]
        .concat()
    };
    Err(tether_error("invalid_payload", &why))
}

/// The name of `v`'s constructor, if it has one.
fn class_name(v: &JsValue) -> Option<String> {
    let ctor = Reflect::get(v, &JsValue::from_str("constructor")).ok()?;
    let name: String = ctor.dyn_ref::<Function>()?.name().into();
    (!name.is_empty()).then_some(name)
}

/// A short description of a value for a message: `undefined`, `null`, `the number 42`, `the
/// string "x"`, `an array`, `a Map`, `an object`, `a function`….
pub fn describe(v: &JsValue) -> String {
    if v.is_undefined() {
        return "undefined".into();
    }
    if v.is_null() {
        return "null".into();
    }
    if let Some(s) = v.as_string() {
        return ["the string ", &quote(&s)].concat();
    }
    if v.is_function() {
        return "a function".into();
    }
    if v.is_object() {
        if Array::is_array(v) {
            return "an array".into();
        }
        return match class_name(v).as_deref() {
            None | Some("Object") => "an object".into(),
            Some(name) => [article(name), " ", name].concat(),
        };
    }
    let kind: String = v.js_typeof().as_string().unwrap_or_default();
    match JSON::stringify(v).ok().and_then(|t| t.as_string()) {
        Some(text) if kind == "number" || kind == "boolean" => {
            // JSON writes NaN and infinities as null: name those by their type only.
            if text == "null" {
                ["a ", &kind, " that is not finite"].concat()
            } else {
                ["the ", &kind, " ", &text].concat()
            }
        }
        _ => [article(&kind), " ", &kind].concat(),
    }
}

fn article(word: &str) -> &'static str {
    match word.as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o' | b'u' | b'A' | b'E' | b'I' | b'O' | b'U') => "an",
        _ => "a",
    }
}

/// `"text"`, cut to [`QUOTE_CHARS`] characters.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    let mut chars = text.chars();
    out.extend(chars.by_ref().take(QUOTE_CHARS));
    if chars.next().is_some() {
        out.push('…');
    }
    out.push('"');
    out
}
