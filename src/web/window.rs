//! The page's `online` / `offline` / `pagehide` / `pageshow` (window) and `visibilitychange` /
//! `resume` (document) listeners, owned together and removed on drop.

use crate::prelude::*;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventTarget};

/// What the page reports.
#[derive(Debug, Clone, Copy)]
pub enum PageSignal {
    Online(bool),
    Visible(bool),
    /// `pagehide` (false) or `pageshow` (true).
    Shown(bool),
}

struct Listener {
    target: EventTarget,
    kind: &'static str,
    callback: Closure<dyn FnMut(Event)>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(self.kind, self.callback.as_ref().unchecked_ref());
    }
}

pub struct PageListeners {
    _listeners: Vec<Listener>,
}

/// Whether the browser currently reports a network.
pub fn is_online() -> bool {
    web_sys::window()
        .map(|w| w.navigator().on_line())
        .unwrap_or(true)
}

/// Whether the page is currently visible.
pub fn is_visible() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .map(|d| d.visibility_state() != web_sys::VisibilityState::Hidden)
        .unwrap_or(true)
}

impl PageListeners {
    /// Registers the listeners (none outside a window, e.g. in a worker).
    pub fn register(signal: impl Fn(PageSignal) + Clone + 'static) -> PageListeners {
        let mut listeners = Vec::new();
        let Some(window) = web_sys::window() else {
            return PageListeners {
                _listeners: listeners,
            };
        };
        let mut add =
            |target: EventTarget, kind: &'static str, callback: Closure<dyn FnMut(Event)>| {
                if target
                    .add_event_listener_with_callback(kind, callback.as_ref().unchecked_ref())
                    .is_ok()
                {
                    listeners.push(Listener {
                        target,
                        kind,
                        callback,
                    });
                }
            };
        let s = signal.clone();
        add(
            window.clone().into(),
            "online",
            Closure::new(move |_: Event| s(PageSignal::Online(true))),
        );
        let s = signal.clone();
        add(
            window.clone().into(),
            "offline",
            Closure::new(move |_: Event| s(PageSignal::Online(false))),
        );
        for (kind, shown) in [("pagehide", false), ("pageshow", true)] {
            let s = signal.clone();
            add(
                window.clone().into(),
                kind,
                Closure::new(move |_: Event| s(PageSignal::Shown(shown))),
            );
        }
        if let Some(document) = window.document() {
            // `resume` too: Chrome does not always fire `visibilitychange` after a frozen page
            // resumes (phoenix.js listens to both for that reason).
            for kind in ["visibilitychange", "resume"] {
                let s = signal.clone();
                add(
                    document.clone().into(),
                    kind,
                    Closure::new(move |_: Event| s(PageSignal::Visible(is_visible()))),
                );
            }
        }
        PageListeners {
            _listeners: listeners,
        }
    }
}
