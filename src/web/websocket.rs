//! A browser WebSocket with its four handlers, owned together: dropping the wrapper detaches the
//! handlers (so a replaced socket can never deliver stale events) and closes the socket.
//! Inbound frames take the path in `glue.js`: parsed by the browser, envelope into wasm.

use crate::prelude::*;

use ::core::cell::RefCell;
use alloc::rc::Rc;

use js_sys::Function;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, CloseEvent, Event, WebSocket};

#[wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    /// A `receive(data)` function: plain messages parsed and delivered through `routes` (see
    /// `routes.rs`), every other text frame passed to `slow_text` and binary frames to
    /// `slow_binary`; `routes` null: nothing delivered in JS.
    fn inbound(
        routes: &JsValue,
        slow_text: &Function,
        slow_binary: &Function,
        max_units: u32,
        reserve: &Function,
        slow_utf8: &Function,
    ) -> Function;
    /// `ws.onmessage = (e) => receive(e.data)`.
    fn listen(ws: &WebSocket, receive: &Function);
}

/// What a socket reports.
pub enum SocketSignal {
    Open,
    Text(String),
    /// A binary message's bytes (the socket's binaryType is "arraybuffer").
    Binary(Vec<u8>),
    Close {
        code: u16,
        reason: String,
    },
}

pub struct WsConn {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _slow_text: Closure<dyn FnMut(String)>,
    _slow_binary: Closure<dyn FnMut(JsValue)>,
    _reserve: Closure<dyn FnMut(u32) -> js_sys::Uint8Array>,
    _slow_utf8: Closure<dyn FnMut(u32)>,
    receive: Function,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

impl WsConn {
    /// Opens `url` offering `protocols`; plain messages go straight to the listeners in
    /// `routes` (a JS routes map, or null for none) when at most `max_units` long, and `signal`
    /// receives everything else the socket reports.
    pub fn open(
        url: &str,
        protocols: &[String],
        routes: &JsValue,
        max_units: u32,
        signal: impl Fn(SocketSignal) + Clone + 'static,
    ) -> Result<WsConn, JsValue> {
        let ws = if protocols.is_empty() {
            WebSocket::new(url)?
        } else {
            let list = js_sys::Array::new();
            for p in protocols {
                list.push(&JsValue::from_str(p));
            }
            WebSocket::new_with_str_sequence(url, &list)?
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let s = signal.clone();
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_: Event| s(SocketSignal::Open));
        // A text frame comes in as the closure's `String` argument (copied into wasm on the way
        // in, with no call back out to JS to read it).
        let s = signal.clone();
        let slow_text =
            Closure::<dyn FnMut(String)>::new(move |text: String| s(SocketSignal::Text(text)));
        let s = signal.clone();
        let slow_binary = Closure::<dyn FnMut(JsValue)>::new(move |data: JsValue| {
            s(SocketSignal::Binary(
                js_sys::Uint8Array::new(&data).to_vec(),
            ))
        });
        // A large text frame arrives as UTF-8 that JS writes into `buffer` (see glue.js).
        let buffer: Rc<RefCell<Vec<u8>>> = Rc::default();
        let b = buffer.clone();
        let reserve = Closure::<dyn FnMut(u32) -> js_sys::Uint8Array>::new(move |n: u32| {
            let mut buf = b.borrow_mut();
            *buf = vec![0; n as usize];
            wasm_view(&buf)
        });
        let s = signal.clone();
        let slow_utf8 = Closure::<dyn FnMut(u32)>::new(move |written: u32| {
            let mut bytes = ::core::mem::take(&mut *buffer.borrow_mut());
            bytes.truncate(written as usize);
            // TextEncoder writes well-formed UTF-8 (a lone surrogate becomes U+FFFD, as in
            // wasm-bindgen's own string copy). Were it ever not, the bytes would go on as a
            // binary frame, which the core reports as malformed.
            match String::from_utf8(bytes) {
                Ok(text) => s(SocketSignal::Text(text)),
                Err(e) => s(SocketSignal::Binary(e.into_bytes())),
            }
        });
        let receive = inbound(
            routes,
            slow_text.as_ref().unchecked_ref(),
            slow_binary.as_ref().unchecked_ref(),
            max_units,
            reserve.as_ref().unchecked_ref(),
            slow_utf8.as_ref().unchecked_ref(),
        );
        let s = signal.clone();
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            s(SocketSignal::Close {
                code: e.code(),
                reason: e.reason(),
            })
        });
        // An error is always followed by a close event; the close is what the core acts on.
        let on_error = Closure::<dyn FnMut(Event)>::new(move |_: Event| {});
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        listen(&ws, &receive);
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(WsConn {
            ws,
            _on_open: on_open,
            _slow_text: slow_text,
            _slow_binary: slow_binary,
            _reserve: reserve,
            _slow_utf8: slow_utf8,
            receive,
            _on_close: on_close,
            _on_error: on_error,
        })
    }

    /// The socket's inbound function, `receive(data)` (the benchmarks' way in).
    pub fn receiver(&self) -> Function {
        self.receive.clone()
    }

    pub fn send(&self, text: &str) -> Result<(), JsValue> {
        self.ws.send_with_str(text)
    }

    pub fn send_bytes(&self, bytes: &[u8]) -> Result<(), JsValue> {
        self.ws.send_with_u8_array(bytes)
    }

    /// Closes with a code the browser accepts (1000 or 3000–4999).
    pub fn close(self, code: u16, reason: &str) {
        let code = if code == 1000 || (3000..=4999).contains(&code) {
            code
        } else {
            1000
        };
        let reason: String = reason.chars().take(60).collect();
        let _ = self.ws.close_with_code_and_reason(code, &reason);
    }
}

/// A Uint8Array over `buf`'s bytes inside wasm memory (valid until wasm allocates again).
fn wasm_view(buf: &[u8]) -> js_sys::Uint8Array {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    js_sys::Uint8Array::new_with_byte_offset_and_length(
        &memory.buffer(),
        buf.as_ptr() as u32,
        buf.len() as u32,
    )
}

impl Drop for WsConn {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        if self.ws.ready_state() == WebSocket::CONNECTING
            || self.ws.ready_state() == WebSocket::OPEN
        {
            let _ = self.ws.close_with_code(1000);
        }
    }
}
