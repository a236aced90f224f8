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
//!
//! The messages' text (value descriptions, the URL's and the payload's problems, the closest
//! known option name) is built in JS, section 3 of `src/web/glue.js`: the same text from less
//! wasm (~4 KB gzip of string formatting and the edit distance).

use crate::prelude::*;

use js_sys::Function;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use super::convert::tether_error;

#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    /// A short description of a value for a message: `undefined`, `null`, `the number 42`, `the
    /// string "x"`, `an array`, `a Map`, `an object`, `a function`….
    #[wasm_bindgen(js_name = describe_value)]
    pub fn describe(v: &JsValue) -> String;
    /// The message for the first unknown key of an option object, if any.
    fn unknown_option(obj: &JsValue, call: &str, path: &str, known: &str) -> Option<String>;
    /// Why a payload is not a plain object, if it is not one.
    fn payload_problem(v: &JsValue) -> Option<String>;
    /// What is wrong with a socket URL, if anything.
    fn url_problem(url: &JsValue) -> Option<String>;
}

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
/// with `/` (on the page's own host); anything else is `invalid_url` (`url_problem` in glue.js
/// says what is wrong and what it takes).
pub fn socket_url(url: &JsValue) -> Result<String, JsValue> {
    match (url_problem(url), url.as_string()) {
        (None, Some(text)) => Ok(text),
        (problem, _) => Err(tether_error("invalid_url", &problem.unwrap_or_default())),
    }
}

/// Checks that `obj` (an option object; anything else is left to the caller) has no key but
/// `known` (names joined by commas); an unknown one is `invalid_option` naming the `call`, the
/// option with its `path` (`"reconnect."`), the closest known name when one is close, and every
/// known name.
pub fn known_keys(obj: &JsValue, call: &str, path: &str, known: &str) -> Result<(), JsValue> {
    match unknown_option(obj, call, path, known) {
        None => Ok(()),
        Some(message) => Err(tether_error("invalid_option", &message)),
    }
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
    match payload_problem(v) {
        None => Ok(()),
        Some(why) => Err(tether_error("invalid_payload", &why)),
    }
}
