//! The driver loop: every input goes to the core, then [`pump`] drains the core's outputs —
//! socket actions and the timer inside the borrow, user callbacks only after it is released.

use crate::prelude::*;

use crate::core::util::small_map::SmallMap;
use ::core::cell::RefCell;
use alloc::collections::VecDeque;
use alloc::rc::{Rc, Weak};

use js_sys::Function;
use wasm_bindgen::{JsCast, JsValue};

use super::clock::Clock;
use super::listeners::Listeners;
use super::presence_mirror::{catch_up, PresenceMirror};
use super::routes::Routes;
use super::stores::StoreViews;
use super::timer::DriverTimer;
use super::websocket::{SocketSignal, WsConn};
use super::window::{is_online, is_visible, PageListeners, PageSignal};
use crate::api::convert::{
    json_to_js, presence_to_js, reply_error, set, state_to_js, tether_error,
};
use crate::core::{ChannelId, Client, Event, Output, PresenceChange, PushId, PushOutcome};

pub type Shared = Rc<RefCell<Driver>>;

/// What reaches the driver from outside the pump: browser events, answers to its requests, and
/// the calls the API makes that must not be lost.
pub(crate) enum Input {
    Timer,
    Page(PageSignal),
    Socket(u64, SocketSignal),
    /// A channel's params function answered request `u64`.
    Params(ChannelId, u64, Result<crate::core::Value, String>),
    /// Connect `u64` could not open a socket.
    ConnectFailed(u64, String),
    Unsubscribe(u32),
    /// A promise to settle when the push's reply comes.
    Pending(PushId, Resolvers),
}

/// An input, or a step of the driver's own, that found the driver borrowed.
enum Step {
    Input(Input),
    Pump,
    CloseForGood,
    TearDown,
    NotifyStore(ChannelId),
    NotifyPresence(ChannelId),
    OpenSocket(u64),
    FinishOpen(u64, JsValue, JsValue),
    AdoptSocket(u64, Result<WsConn, JsValue>, String),
}

/// Steps that found their driver borrowed. By design that does not happen (no user code runs
/// inside a borrow, and browser events arrive as tasks, never inside one), but if it ever does
/// the step waits here instead of being lost, and a microtask scheduled when the first one was
/// queued runs them in order once the borrow is over.
struct Inbox(RefCell<VecDeque<(Weak<RefCell<Driver>>, Step)>>);

// SAFETY: wasm32 without the atomics feature has one thread (as the allocator in lib.rs relies
// on too): the inbox is never touched from two threads.
unsafe impl Sync for Inbox {}

static INBOX: Inbox = Inbox(RefCell::new(VecDeque::new()));

/// Applies `input` to the driver now, or, when the driver is borrowed, as soon as it is released
/// (then pumps). Never drops it. (Reads that must answer now report `busy` instead.)
pub(crate) fn deliver(shared: &Shared, input: Input) {
    match shared.try_borrow_mut() {
        Ok(mut d) => apply(&mut d, input),
        Err(_) => later(shared, Step::Input(input)),
    }
}

fn apply(d: &mut Driver, input: Input) {
    let now = d.now();
    match input {
        Input::Timer => {
            if let Some(t) = d.timer.as_mut() {
                t.fired();
            }
            d.core.handle_timeout(now);
        }
        Input::Page(signal) => match signal {
            PageSignal::Online(on) => d.core.set_online(now, on),
            PageSignal::Visible(v) => d.core.set_visible(now, v),
            PageSignal::Shown(true) => d.core.page_shown(now),
            PageSignal::Shown(false) => d.core.page_hidden(now),
        },
        Input::Socket(generation, signal) => {
            if d.generation != generation || d.ws.is_none() {
                return;
            }
            match signal {
                SocketSignal::Open => d.core.handle_open(now),
                SocketSignal::Text(text) => d.core.handle_text(now, &text),
                SocketSignal::Binary(bytes) => d.core.handle_binary(now, &bytes),
                SocketSignal::Close { code, reason } => {
                    d.ws = None;
                    d.core.handle_close(now, code, &reason);
                }
            }
        }
        Input::Params(channel, request, answer) => {
            d.core.supply_join_params(now, channel, request, answer);
        }
        Input::ConnectFailed(generation, message) => {
            if d.generation == generation && d.core.state() == crate::core::SocketState::Connecting
            {
                d.core.handle_connect_error(now, &message);
            }
        }
        Input::Unsubscribe(id) => {
            d.listeners.remove(id);
            d.sync_routes();
        }
        Input::Pending(push, resolvers) => {
            d.pending.insert(push, resolvers);
        }
    }
}

/// Queues a step for when the driver is released; the first one queued schedules the run.
fn later(shared: &Shared, step: Step) {
    let first = {
        let mut inbox = INBOX.0.borrow_mut();
        inbox.push_back((Rc::downgrade(shared), step));
        inbox.len() == 1
    };
    if first {
        if let Some(window) = web_sys::window() {
            let run = wasm_bindgen::closure::Closure::once_into_js(run_queued);
            window.queue_microtask(run.unchecked_ref());
        }
    }
}

/// Runs the steps queued so far, in order (each borrows its own driver, or queues itself again).
fn run_queued() {
    let steps = ::core::mem::take(&mut *INBOX.0.borrow_mut());
    for (weak, step) in steps {
        let Some(shared) = weak.upgrade() else {
            continue;
        };
        let shared = &shared;
        match step {
            Step::Input(input) => {
                deliver(shared, input);
                pump(shared);
            }
            Step::Pump => pump(shared),
            Step::CloseForGood => close_for_good(shared),
            Step::TearDown => tear_down(shared),
            Step::NotifyStore(channel) => notify_store(shared, channel),
            Step::NotifyPresence(channel) => notify_presence(shared, channel),
            Step::OpenSocket(generation) => open_socket(shared, generation),
            Step::FinishOpen(generation, params, token) => {
                finish_open(shared, generation, &params, &token)
            }
            Step::AdoptSocket(generation, opened, url) => {
                adopt_socket(shared, generation, opened, url)
            }
        }
    }
}

/// `supply(channel, request, ok, value)`, the closure a params function answers through.
type ParamsAnswer = wasm_bindgen::closure::Closure<dyn FnMut(u32, f64, bool, JsValue)>;
/// `answer(generation, ok, params_or_message, token)`, the closure a connect's params and token
/// arrive through.
type ConnectAnswer = wasm_bindgen::closure::Closure<dyn FnMut(f64, bool, JsValue, JsValue)>;

#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/web/glue.js")]
extern "C" {
    /// Reports an exception a user callback threw (window `error`, console) without stopping
    /// the callbacks after it.
    fn report(error: &JsValue);
    /// The socket's URL from the endpoint, the params, whether it is Phoenix and the dialect's
    /// query as JSON pairs.
    fn socket_url(endpoint: &str, params: &JsValue, phoenix: bool, query_text: &str) -> String;
    /// Calls a params function; `supply(channel, request, ok, value)` gets its answer, at once
    /// or when a returned promise settles.
    #[wasm_bindgen(js_name = callParams)]
    fn call_params(f: &Function, channel: u32, request: f64, supply: &Function);
    /// The socket's params and token for one connect (values, functions, or promises from
    /// them): `answer(generation, ok, params_or_message, token)`, at once or once they settle.
    #[wasm_bindgen(js_name = connectArgs)]
    fn connect_args(params: &JsValue, token: &JsValue, generation: f64, answer: &Function);
}

/// Reports what a user callback threw, if it threw.
pub(crate) fn reported(result: Result<JsValue, JsValue>) {
    if let Err(e) = result {
        report(&e);
    }
}

/// How to settle the promise of a request.
pub struct Resolvers {
    pub resolve: Function,
    pub reject: Function,
    pub what: &'static str,
}

/// How many presence changes a channel's `list()` mirror may fall behind before the pump brings
/// it up to date; below that it catches up when read.
const MIRROR_BACKLOG: usize = 1024;

pub struct Driver {
    pub core: Client,
    pub clock: Clock,
    pub endpoint: String,
    /// An object, a function returning one, or undefined.
    pub params: JsValue,
    /// A string, a function returning one, or undefined.
    pub auth_token: JsValue,
    pub listeners: Listeners,
    pub pending: SmallMap<PushId, Resolvers>,
    pub stores: StoreViews,
    /// Parsed `presence.list()` pairs per channel, until the presence changes.
    pub presence_lists: SmallMap<u32, (JsValue, JsValue)>,
    /// Presence lists kept up to date per change (rooms without array-index keys).
    pub presence_mirrors: SmallMap<u32, PresenceMirror>,
    /// Channels whose params an app's function gives at each join, by channel.
    pub channel_params: SmallMap<u32, Function>,
    /// `supply(channel, request, ok, value)`: a params function's answer, to the core.
    params_answer: Option<ParamsAnswer>,
    connect_answer: Option<ConnectAnswer>,
    /// The JS mirror of the message routing the socket's inbound path delivers with.
    routes: Routes,
    ws: Option<WsConn>,
    generation: u64,
    timer: Option<DriverTimer>,
    page: Option<PageListeners>,
    /// The `Socket` was freed: nothing connects again, and every call is refused with
    /// `closed_socket`.
    pub closed: bool,
}

/// Work to do once the driver is released.
enum Dispatch {
    Call(Function, JsValue),
    Call3(Function, JsValue, JsValue, JsValue),
    Call0(Function),
    /// A notification store changed: give its subscribers the new snapshot.
    StoreChanged(ChannelId),
    /// A presence changed: give its store subscribers the new list.
    PresenceChanged(ChannelId),
    Reject(Function, JsValue),
    Connect(u64),
    /// Call a channel's params function (request id; the driver's `supply` function).
    JoinParams(ChannelId, u64, Function, Function),
}

impl Driver {
    pub fn new(mut core: Client, endpoint: String, params: JsValue, auth_token: JsValue) -> Shared {
        // Built with its listeners in place (they hold only a weak handle): no borrow needed.
        Rc::new_cyclic(|weak: &Weak<RefCell<Driver>>| {
            let timer = {
                let weak = weak.clone();
                DriverTimer::new(move || on_timer(&weak))
            };
            let page = {
                let weak = weak.clone();
                PageListeners::register(move |s| on_page(&weak, s))
            };
            let params_answer = {
                let weak = weak.clone();
                wasm_bindgen::closure::Closure::new(
                    move |channel: u32, request: f64, ok: bool, value: JsValue| {
                        on_params(&weak, ChannelId(channel), request as u64, ok, value)
                    },
                )
            };
            let connect_answer = {
                let weak = weak.clone();
                wasm_bindgen::closure::Closure::new(
                    move |generation: f64, ok: bool, params: JsValue, token: JsValue| {
                        let Some(shared) = weak.upgrade() else { return };
                        let generation = generation as u64;
                        match ok {
                            true => finish_open(&shared, generation, &params, &token),
                            false => {
                                let why = params.as_string().unwrap_or_default();
                                let message =
                                    ["the socket's params or token failed: ", &why].concat();
                                connect_failed(&shared, generation, &message);
                            }
                        }
                    },
                )
            };
            let clock = Clock::default();
            let now = clock.now();
            core.set_online(now, is_online());
            core.set_visible(now, is_visible());
            RefCell::new(Driver {
                core,
                clock,
                endpoint,
                params,
                auth_token,
                listeners: Listeners::default(),
                pending: SmallMap::new(),
                stores: StoreViews::default(),
                presence_lists: SmallMap::new(),
                presence_mirrors: SmallMap::new(),
                channel_params: SmallMap::new(),
                params_answer: Some(params_answer),
                connect_answer: Some(connect_answer),
                routes: Routes::default(),
                ws: None,
                generation: 0,
                timer: Some(timer),
                page: Some(page),
                closed: false,
            })
        })
    }

    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Brings the JS routes mirror up to date (after channels or message listeners changed).
    pub fn sync_routes(&mut self) {
        let Driver {
            routes,
            core,
            listeners,
            ..
        } = self;
        routes.sync(core, listeners);
    }
}

/// The error of any call made after the `Socket` was freed.
pub fn closed_socket() -> JsValue {
    tether_error(
        "closed_socket",
        "this Socket was freed (socket.free()); create a new Socket to connect again",
    )
}

/// The `Socket` was freed while channels or stores of it may live on: the connection closes,
/// the timer and page listeners go, every pending request rejects with `closed_socket`, and
/// every later call is refused with it.
pub fn close_for_good(shared: &Shared) {
    {
        let Ok(mut d) = shared.try_borrow_mut() else {
            return later(shared, Step::CloseForGood);
        };
        if d.closed {
            return;
        }
        d.closed = true;
        let now = d.now();
        d.core.disconnect(now);
    }
    // The close goes out and state listeners hear "closed".
    pump(shared);
    tear_down(shared);
}

/// After a freed `Socket`'s close went out: its socket, timer and listeners go, and every
/// pending request rejects with `closed_socket`.
fn tear_down(shared: &Shared) {
    let rejects: Vec<Function> = {
        let Ok(mut d) = shared.try_borrow_mut() else {
            return later(shared, Step::TearDown);
        };
        d.ws = None;
        d.timer = None;
        d.page = None;
        d.channel_params = SmallMap::new();
        d.listeners = Listeners::default();
        d.sync_routes();
        let rejects = d.pending.values().map(|r| r.reject.clone()).collect();
        d.pending.clear();
        rejects
    };
    let err = closed_socket();
    for reject in rejects {
        reported(reject.call1(&JsValue::UNDEFINED, &err));
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Fields drop in order; make the socket go first so it closes before listeners vanish.
        self.ws.take();
    }
}

fn on_timer(weak: &Weak<RefCell<Driver>>) {
    let Some(shared) = weak.upgrade() else { return };
    deliver(&shared, Input::Timer);
    pump(&shared);
}

fn on_page(weak: &Weak<RefCell<Driver>>, signal: PageSignal) {
    let Some(shared) = weak.upgrade() else { return };
    deliver(&shared, Input::Page(signal));
    pump(&shared);
}

fn on_socket(weak: &Weak<RefCell<Driver>>, generation: u64, signal: SocketSignal) {
    let Some(shared) = weak.upgrade() else { return };
    deliver(&shared, Input::Socket(generation, signal));
    pump(&shared);
}

/// The open socket's inbound function, `receive(data)`.
pub fn receiver(shared: &Shared) -> Option<Function> {
    let d = shared.try_borrow().ok()?;
    d.ws.as_ref().map(WsConn::receiver)
}

/// Drains the core and dispatches. Safe to call re-entrantly from user callbacks.
pub fn pump(shared: &Shared) {
    loop {
        let mut work: Vec<Dispatch> = Vec::new();
        {
            let Ok(mut d) = shared.try_borrow_mut() else {
                return later(shared, Step::Pump);
            };
            while let Some(out) = d.core.poll_output() {
                match out {
                    Output::Connect => {
                        d.ws = None;
                        d.generation += 1;
                        work.push(Dispatch::Connect(d.generation));
                    }
                    Output::Send(text) => {
                        if let Some(ws) = d.ws.as_ref() {
                            let _ = ws.send(&text);
                        }
                    }
                    Output::SendBinary(bytes) => {
                        if let Some(ws) = d.ws.as_ref() {
                            let _ = ws.send_bytes(&bytes);
                        }
                    }
                    Output::Close { code, reason } => {
                        d.generation += 1;
                        if let Some(ws) = d.ws.take() {
                            ws.close(code, &reason);
                        }
                    }
                    Output::Event(event) => collect(&mut d, event, &mut work),
                }
            }
            d.sync_routes();
            let deadline = d.core.poll_timeout();
            let Driver { timer, clock, .. } = &mut *d;
            if let Some(t) = timer.as_mut() {
                t.arm(deadline, || clock.now());
            }
        }
        if work.is_empty() {
            return;
        }
        // One snapshot per store per drain, however many changes it saw.
        let mut seen_stores = Vec::new();
        work.retain(|job| match job {
            Dispatch::StoreChanged(c) if seen_stores.contains(c) => false,
            Dispatch::StoreChanged(c) => {
                seen_stores.push(*c);
                true
            }
            _ => true,
        });
        for job in work {
            match job {
                Dispatch::Call(f, arg) | Dispatch::Reject(f, arg) => {
                    reported(f.call1(&JsValue::UNDEFINED, &arg));
                }
                Dispatch::Call3(f, a, b, c) => {
                    reported(f.call3(&JsValue::UNDEFINED, &a, &b, &c));
                }
                Dispatch::Call0(f) => {
                    reported(f.call0(&JsValue::UNDEFINED));
                }
                Dispatch::Connect(generation) => open_socket(shared, generation),
                Dispatch::JoinParams(channel, request, f, supply) => {
                    call_params(&f, channel.0, request as f64, &supply)
                }
                Dispatch::StoreChanged(channel) => notify_store(shared, channel),
                Dispatch::PresenceChanged(channel) => notify_presence(shared, channel),
            }
        }
    }
}

/// Turns a core event into callbacks to run (cloned functions and converted arguments).
fn collect(d: &mut Driver, event: Event, work: &mut Vec<Dispatch>) {
    match event {
        Event::State(state) => {
            call_each(work, &d.listeners.state, &state_to_js(state));
        }
        // An error or telemetry object is made only when someone listens: a JS `Error` records
        // its stack, which costs more than the frame that caused it (a server sending stale
        // replies or malformed frames at full rate would otherwise pay it on every frame).
        Event::Error { .. }
        | Event::Connection(_)
        | Event::JoinRefused { .. }
        | Event::HeartbeatTimeout
        | Event::SendDropped { .. }
            if d.listeners.error.is_empty() => {}
        Event::Telemetry(_) if d.listeners.telemetry.is_empty() => {}
        Event::Error { code, message } => {
            call_each(work, &d.listeners.error, &tether_error(code, &message));
        }
        Event::Connection(e) => {
            let arg = tether_error(e.code, &e.message);
            let obj: &js_sys::Object = arg.unchecked_ref();
            set(obj, "attempt", &JsValue::from_f64(f64::from(e.attempt)));
            if let Some(code) = e.close_code {
                set(obj, "closeCode", &JsValue::from_f64(f64::from(code)));
                set(obj, "closeReason", &JsValue::from_str(&e.close_reason));
            }
            if let Some(ms) = e.retry_in_ms {
                set(obj, "retryInMs", &JsValue::from_f64(ms as f64));
            }
            call_each(work, &d.listeners.error, &arg);
        }
        Event::JoinRefused {
            channel,
            status,
            response,
            retry_in_ms,
            message,
        } => {
            let topic = d.core.channel_topic(channel).unwrap_or_default();
            let arg = tether_error("join_refused", &message);
            let obj: &js_sys::Object = arg.unchecked_ref();
            set(obj, "topic", &JsValue::from_str(topic));
            set(obj, "status", &JsValue::from_str(&status));
            set(obj, "response", &json_to_js(&response));
            if let Some(ms) = retry_in_ms {
                set(obj, "retryInMs", &JsValue::from_f64(ms as f64));
            }
            call_each(work, &d.listeners.error, &arg);
        }
        Event::HeartbeatTimeout => {
            let arg = tether_error(
                "heartbeat_timeout",
                "no heartbeat reply in time; reconnecting",
            );
            call_each(work, &d.listeners.error, &arg);
        }
        Event::SendDropped {
            channel,
            event,
            reason,
        } => {
            let topic = d
                .core
                .channel_topic(channel)
                .unwrap_or_default()
                .to_string();
            let arg = tether_error(
                "send_dropped",
                &[
                    "'",
                    &event,
                    "' on '",
                    &topic,
                    "' was dropped: ",
                    reason.name(),
                ]
                .concat(),
            );
            call_each(work, &d.listeners.error, &arg);
        }
        Event::ChannelState { channel, state } => {
            let list = &d.listeners.channel_states;
            if list.iter().any(|(_, c, _)| *c == channel) {
                call_each_on(work, list, channel, &JsValue::from_str(state.name()));
            }
        }
        Event::JoinParamsWanted { channel, request } => {
            let supply = d
                .params_answer
                .as_ref()
                .map(|c| c.as_ref().unchecked_ref::<Function>().clone());
            match (d.channel_params.get(&channel.0), supply) {
                (Some(f), Some(supply)) => {
                    work.push(Dispatch::JoinParams(channel, request, f.clone(), supply))
                }
                _ => {
                    let now = d.now();
                    d.core
                        .supply_join_params(now, channel, request, Err("it is gone".into()));
                }
            }
        }
        Event::Telemetry(t) => {
            let arg = crate::api::convert::telemetry_to_js(&t);
            call_each(work, &d.listeners.telemetry, &arg);
        }
        Event::Joined {
            channel,
            rejoin,
            response,
        } => {
            let arg = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&arg, &"rejoin".into(), &JsValue::from_bool(rejoin));
            let _ = js_sys::Reflect::set(&arg, &"response".into(), &json_to_js(&response));
            call_each_on(work, &d.listeners.joins, channel, &arg);
        }
        Event::Message {
            channel,
            event,
            payload,
        } => {
            let listeners: Vec<&Function> = d
                .listeners
                .messages()
                .iter()
                .filter(|(_, c, e, _)| *c == channel && *e == event)
                .map(|(.., f)| f)
                .collect();
            if listeners.is_empty() {
                return;
            }
            // The server's JSON text, parsed once by the browser.
            match js_sys::JSON::parse(payload.text()) {
                Ok(arg) => {
                    for f in listeners {
                        work.push(Dispatch::Call(f.clone(), arg.clone()));
                    }
                }
                Err(_) if d.listeners.error.is_empty() => {}
                Err(_) => {
                    let err = tether_error(
                        "malformed_frame",
                        &["the payload of '", &event, "' is not valid JSON"].concat(),
                    );
                    call_each(work, &d.listeners.error, &err);
                }
            }
        }
        Event::Presence { channel, changes } => {
            d.presence_lists.remove(&channel.0);
            let Driver {
                core,
                presence_mirrors,
                ..
            } = &mut *d;
            // The mirror catches up when it is read (`list()`, `getSnapshot()`); here only once
            // its backlog is long, which bounds the touches the core keeps for it.
            if core.presence_touch_count(channel) > MIRROR_BACKLOG {
                catch_up(presence_mirrors, core, channel);
            }
            collect_presence(d, channel, changes, work)
        }
        Event::Notification {
            channel,
            notification,
        } => {
            let list = &d.listeners.notifications;
            if list.iter().any(|(_, c, _)| *c == channel) {
                call_each_on(work, list, channel, &json_to_js(&notification));
            }
        }
        Event::NotificationsChanged { channel } => {
            d.stores.invalidate(channel);
            work.push(Dispatch::StoreChanged(channel));
        }
        Event::NotificationsPersist { channel, pending } => d.stores.persist(channel, &pending),
        Event::Reply { push, outcome } => {
            let Some(r) = d.pending.remove(&push) else {
                return;
            };
            match outcome {
                PushOutcome::Ok(response) => {
                    work.push(Dispatch::Call(r.resolve, json_to_js(&response)))
                }
                other => work.push(Dispatch::Reject(r.reject, reply_error(r.what, &other))),
            }
        }
    }
}

/// A params function's answer (at once, or when its promise settled): to the core, which sends
/// the join with it or fails the attempt; then the outputs are dispatched.
fn on_params(
    weak: &Weak<RefCell<Driver>>,
    channel: ChannelId,
    request: u64,
    ok: bool,
    value: JsValue,
) {
    let Some(shared) = weak.upgrade() else { return };
    let answer = match ok {
        true => crate::api::convert::js_to_json(&value)
            .map_err(|_| "it returned a value that is not JSON".to_string()),
        false => Err(value.as_string().unwrap_or_default()),
    };
    deliver(&shared, Input::Params(channel, request, answer));
    pump(&shared);
}

/// Queues a call of each listener in `list` with `arg`.
fn call_each(work: &mut Vec<Dispatch>, list: &[(u32, Function)], arg: &JsValue) {
    for (_, f) in list {
        work.push(Dispatch::Call(f.clone(), arg.clone()));
    }
}

/// Queues a call of each listener in `list` registered on `channel` with `arg`.
fn call_each_on(
    work: &mut Vec<Dispatch>,
    list: &[(u32, ChannelId, Function)],
    channel: ChannelId,
    arg: &JsValue,
) {
    for (_, c, f) in list {
        if *c == channel {
            work.push(Dispatch::Call(f.clone(), arg.clone()));
        }
    }
}

/// Calls a store's subscribers with its current snapshot.
fn notify_store(shared: &Shared, channel: ChannelId) {
    let (snapshot, subs) = {
        let Ok(mut d) = shared.try_borrow_mut() else {
            return later(shared, Step::NotifyStore(channel));
        };
        let now = d.now();
        let Driver {
            core,
            stores,
            listeners,
            ..
        } = &mut *d;
        let snapshot = stores.snapshot(core, channel, now);
        let subs: Vec<Function> = listeners
            .store_subs
            .iter()
            .filter(|(_, c, _)| *c == channel)
            .map(|(_, _, f)| f.clone())
            .collect();
        (snapshot, subs)
    };
    for f in subs {
        reported(f.call1(&JsValue::UNDEFINED, &snapshot));
    }
}

/// Calls a presence's store subscribers with its current list.
fn notify_presence(shared: &Shared, channel: ChannelId) {
    let (list, subs) = {
        let Ok(mut d) = shared.try_borrow_mut() else {
            return later(shared, Step::NotifyPresence(channel));
        };
        // The same frozen array `getSnapshot()` returns: from the list mirror, so a change
        // costs a copy of the list, not a rebuild of it.
        let Ok(list) = crate::api::presence::snapshot(&mut d, channel) else {
            return;
        };
        let subs: Vec<Function> = d
            .listeners
            .presence_subs
            .iter()
            .filter(|(_, c, _)| *c == channel)
            .map(|(_, _, f)| f.clone())
            .collect();
        (list, subs)
    };
    for f in subs {
        reported(f.call1(&JsValue::UNDEFINED, &list));
    }
}

/// Presence callbacks, as phoenix.js calls them: `onJoin(key, current | undefined, joined)` and
/// `onLeave(key, remaining, left)` per change, then `onSync()`. Presences are converted only when
/// someone listens.
fn collect_presence(
    d: &Driver,
    channel: ChannelId,
    changes: Vec<PresenceChange>,
    work: &mut Vec<Dispatch>,
) {
    let joins: Vec<&Function> = d
        .listeners
        .presence_join
        .iter()
        .filter(|(_, c, _)| *c == channel)
        .map(|(_, _, f)| f)
        .collect();
    let leaves: Vec<&Function> = d
        .listeners
        .presence_leave
        .iter()
        .filter(|(_, c, _)| *c == channel)
        .map(|(_, _, f)| f)
        .collect();
    if !joins.is_empty() || !leaves.is_empty() {
        for change in changes {
            match change {
                PresenceChange::Join {
                    key,
                    current,
                    joined,
                } if !joins.is_empty() => {
                    let key = JsValue::from_str(&key);
                    let current = current
                        .map(|p| presence_to_js(&p))
                        .unwrap_or(JsValue::UNDEFINED);
                    let joined = presence_to_js(&joined);
                    for f in &joins {
                        work.push(Dispatch::Call3(
                            (*f).clone(),
                            key.clone(),
                            current.clone(),
                            joined.clone(),
                        ));
                    }
                }
                PresenceChange::Leave {
                    key,
                    remaining,
                    left,
                } if !leaves.is_empty() => {
                    let key = JsValue::from_str(&key);
                    let remaining = presence_to_js(&remaining);
                    let left = presence_to_js(&left);
                    for f in &leaves {
                        work.push(Dispatch::Call3(
                            (*f).clone(),
                            key.clone(),
                            remaining.clone(),
                            left.clone(),
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    for (_, c, f) in &d.listeners.presence_sync {
        if *c == channel {
            work.push(Dispatch::Call0(f.clone()));
        }
    }
    if d.listeners
        .presence_subs
        .iter()
        .any(|(_, c, _)| *c == channel)
    {
        work.push(Dispatch::PresenceChanged(channel));
    }
}

/// Opens the socket once its params and token are known: the user's functions are called
/// outside the borrow, and a promise from either is waited for (the core's connect timeout
/// bounds the wait).
fn open_socket(shared: &Shared, generation: u64) {
    let (params, token, answer) = {
        let Ok(d) = shared.try_borrow() else {
            return later(shared, Step::OpenSocket(generation));
        };
        let answer = d
            .connect_answer
            .as_ref()
            .map(|c| c.as_ref().unchecked_ref::<Function>().clone());
        (d.params.clone(), d.auth_token.clone(), answer)
    };
    if let Some(answer) = answer {
        connect_args(&params, &token, generation as f64, &answer);
    }
}

/// Builds the URL and opens the socket, unless something newer happened meanwhile (a params or
/// token promise can settle long after its connect timed out or was replaced).
fn finish_open(shared: &Shared, generation: u64, params: &JsValue, token: &JsValue) {
    let (endpoint, protocol, query, routes, max_units) = {
        let Ok(d) = shared.try_borrow() else {
            let step = Step::FinishOpen(generation, params.clone(), token.clone());
            return later(shared, step);
        };
        if d.generation != generation || d.core.state() != crate::core::SocketState::Connecting {
            return;
        }
        let phoenix = d.core.protocol() == crate::core::Protocol::Phoenix;
        (
            d.endpoint.clone(),
            d.core.protocol(),
            d.core.connect_query(),
            // Only Phoenix frames are parsed in JS; other dialects go to the core whole.
            if phoenix {
                d.routes.js().clone()
            } else {
                JsValue::NULL
            },
            u32::try_from(d.core.parsed_frame_limit()).unwrap_or(u32::MAX),
        )
    };
    // `[[key, value], …]` written directly: building `Value`s for it costs the wasm 0.4 KB.
    let mut query_text = String::from("[");
    for (i, (key, value)) in query.iter().enumerate() {
        query_text.push_str(if i == 0 { "[" } else { ",[" });
        crate::core::json::write_string(&mut query_text, key);
        query_text.push(',');
        crate::core::json::write_string(&mut query_text, value);
        query_text.push(']');
    }
    query_text.push(']');
    let url = socket_url(
        &endpoint,
        params,
        protocol == crate::core::Protocol::Phoenix,
        &query_text,
    );
    let protocols = crate::api::url::token_protocols(token.as_string().as_deref());
    let weak = Rc::downgrade(shared);
    let opened = WsConn::open(&url, &protocols, &routes, max_units, move |s| {
        on_socket(&weak, generation, s)
    });
    adopt_socket(shared, generation, opened, url);
}

/// Keeps the socket just opened, unless something newer happened meanwhile.
fn adopt_socket(shared: &Shared, generation: u64, opened: Result<WsConn, JsValue>, url: String) {
    let failed = {
        let Ok(mut d) = shared.try_borrow_mut() else {
            return later(shared, Step::AdoptSocket(generation, opened, url));
        };
        if d.generation != generation || d.core.state() != crate::core::SocketState::Connecting {
            return; // Disconnected or superseded while building the URL; `opened` drops and closes.
        }
        match opened {
            Ok(ws) => {
                d.ws = Some(ws);
                None
            }
            Err(e) => Some(
                e.as_string()
                    .unwrap_or_else(|| ["cannot open ", &url].concat()),
            ),
        }
    };
    match failed {
        Some(message) => connect_failed(shared, generation, &message),
        None => pump(shared),
    }
}

/// A connect that could not open a socket (its params or token failed, or the browser refused
/// the URL): the core reports `connect_failed` and retries after its backoff. Nothing when
/// something newer happened meanwhile.
fn connect_failed(shared: &Shared, generation: u64, message: &str) {
    deliver(
        shared,
        Input::ConnectFailed(generation, message.to_string()),
    );
    pump(shared);
}
