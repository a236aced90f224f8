//! The real SDK in headless Chromium against the real demo server (its URL arrives at compile
//! time in TETHER_TEST_WS_URL; `./tests/run` starts the server and sets it).
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use tether::api::{Channel, Socket};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn ws_url() -> &'static str {
    option_env!("TETHER_TEST_WS_URL").unwrap_or("ws://127.0.0.1:4000/socket")
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(p).await.unwrap();
}

/// Polls `cond` every 20 ms for at most `ms`.
async fn wait_for(ms: i32, what: &str, cond: impl Fn() -> bool) {
    let mut waited = 0;
    while !cond() {
        assert!(waited < ms, "timed out after {ms} ms waiting for {what}");
        sleep(20).await;
        waited += 20;
    }
}

fn socket(opts: &[(&str, JsValue)]) -> Socket {
    Socket::new(ws_url().into(), Some(obj(opts))).expect("socket options are valid")
}

async fn open_socket(name: &str) -> (Socket, Channel) {
    let s = socket(&[]);
    s.connect().unwrap();
    let ch = s
        .channel("room:lobby".into(), Some(obj(&[("name", name.into())])))
        .unwrap();
    let reply = JsFuture::from(ch.join())
        .await
        .expect("join room:lobby succeeds");
    assert!(reply.is_object());
    (s, ch)
}

/// Records every value a callback receives.
struct Recorder {
    seen: Rc<RefCell<Vec<JsValue>>>,
    _closure: Closure<dyn FnMut(JsValue)>,
}

impl Recorder {
    fn new() -> Recorder {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        let closure = Closure::<dyn FnMut(JsValue)>::new(move |v: JsValue| s.borrow_mut().push(v));
        Recorder {
            seen,
            _closure: closure,
        }
    }
    fn function(&self) -> Function {
        self._closure.as_ref().unchecked_ref::<Function>().clone()
    }
    fn len(&self) -> usize {
        self.seen.borrow().len()
    }
    fn states(&self) -> Vec<String> {
        self.seen
            .borrow()
            .iter()
            .filter_map(|v| get(v, "state").as_string())
            .collect()
    }
}

#[wasm_bindgen_test]
async fn connects_and_reports_open() {
    let s = socket(&[]);
    let states = Recorder::new();
    let _unsub = s.on_state(states.function()).unwrap();
    s.connect().unwrap();
    wait_for(5_000, "state open", || {
        states.states().contains(&"open".to_string())
    })
    .await;
    assert_eq!(
        states.states().first().map(String::as_str),
        Some("connecting")
    );
    assert_eq!(
        get(&s.state(), "state").as_string().as_deref(),
        Some("open")
    );
    s.disconnect().unwrap();
    assert_eq!(
        get(&s.state(), "state").as_string().as_deref(),
        Some("closed")
    );
}

#[wasm_bindgen_test]
async fn join_then_push_gets_the_reply() {
    let (s, ch) = open_socket("ada").await;
    assert_eq!(ch.state(), "joined");
    let payload = obj(&[("n", 42.into()), ("text", "héllo \"world\"".into())]);
    let reply = JsFuture::from(ch.push("echo".into(), payload, None))
        .await
        .expect("echo is answered ok");
    assert_eq!(get(&reply, "n").as_f64(), Some(42.0));
    assert_eq!(
        get(&reply, "text").as_string().as_deref(),
        Some("héllo \"world\"")
    );
    s.disconnect().unwrap();
}

#[wasm_bindgen_test]
async fn broadcast_reaches_every_member_with_the_sender_name() {
    let (s1, ch1) = open_socket("ada").await;
    let (s2, ch2) = open_socket("grace").await;
    let got1 = Recorder::new();
    let got2 = Recorder::new();
    let _u1 = ch1.on("new_msg".into(), got1.function()).unwrap();
    let _u2 = ch2.on("new_msg".into(), got2.function()).unwrap();
    JsFuture::from(ch2.push("new_msg".into(), obj(&[("body", "hi all".into())]), None))
        .await
        .expect("new_msg is accepted");
    wait_for(5_000, "both members receive the broadcast", || {
        got1.len() == 1 && got2.len() == 1
    })
    .await;
    let msg = got1.seen.borrow()[0].clone();
    assert_eq!(get(&msg, "body").as_string().as_deref(), Some("hi all"));
    assert_eq!(get(&msg, "name").as_string().as_deref(), Some("grace"));
    s1.disconnect().unwrap();
    s2.disconnect().unwrap();
}

#[wasm_bindgen_test]
async fn unsubscribe_stops_delivery() {
    let (s, ch) = open_socket("ada").await;
    let got = Recorder::new();
    let unsub = ch.on("new_msg".into(), got.function()).unwrap();
    JsFuture::from(ch.push("new_msg".into(), obj(&[("body", "one".into())]), None))
        .await
        .unwrap();
    wait_for(5_000, "first message", || got.len() == 1).await;
    unsub.call0(&JsValue::UNDEFINED).unwrap();
    unsub.call0(&JsValue::UNDEFINED).unwrap(); // a second call is harmless
    JsFuture::from(ch.push("new_msg".into(), obj(&[("body", "two".into())]), None))
        .await
        .unwrap();
    // The echo reply arrives after the broadcast on the same socket, so the broadcast is in.
    JsFuture::from(ch.push("echo".into(), obj(&[]), None))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    s.disconnect().unwrap();
}

#[wasm_bindgen_test]
async fn unknown_topic_rejects_with_the_server_reason() {
    let s = socket(&[]);
    s.connect().unwrap();
    let ch = s.channel("nowhere:1".into(), None).unwrap();
    let err = JsFuture::from(ch.join())
        .await
        .expect_err("joining an unknown topic fails");
    assert!(err.is_instance_of::<js_sys::Error>());
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("error"));
    assert_eq!(
        get(&get(&err, "response"), "reason").as_string().as_deref(),
        Some("unmatched topic")
    );
    assert_eq!(ch.state(), "errored");
    JsFuture::from(ch.leave()).await.unwrap();
    assert_eq!(ch.state(), "closed");
    s.disconnect().unwrap();
}

#[wasm_bindgen_test]
async fn push_without_reply_times_out() {
    let (s, ch) = open_socket("ada").await;
    let opts = obj(&[("timeoutMs", 300.into())]);
    let err = JsFuture::from(ch.push("noreply".into(), obj(&[]), Some(opts)))
        .await
        .expect_err("no reply comes");
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("timeout"));
    // The channel still works.
    JsFuture::from(ch.push("echo".into(), obj(&[]), None))
        .await
        .expect("channel still answers");
    s.disconnect().unwrap();
}

#[wasm_bindgen_test]
async fn on_join_reports_first_join() {
    let s = socket(&[]);
    let ch = s
        .channel("room:lobby".into(), Some(obj(&[("name", "ada".into())])))
        .unwrap();
    let joins = Recorder::new();
    let _u = ch.on_join(joins.function()).unwrap();
    let join = ch.join(); // before connect: waits for the socket
    s.connect().unwrap();
    JsFuture::from(join)
        .await
        .expect("join succeeds once connected");
    wait_for(2_000, "onJoin", || joins.len() == 1).await;
    assert_eq!(
        get(&joins.seen.borrow()[0], "rejoin").as_bool(),
        Some(false)
    );
    s.disconnect().unwrap();
}

#[wasm_bindgen_test]
async fn invalid_options_throw_errors_with_a_code() {
    let err = Socket::new(
        ws_url().into(),
        Some(obj(&[("heartbeatMs", "soon".into())])),
    )
    .err()
    .expect("rejected");
    assert!(err.is_instance_of::<js_sys::Error>());
    assert_eq!(
        get(&err, "code").as_string().as_deref(),
        Some("invalid_option")
    );
}

#[wasm_bindgen_test]
async fn push_before_join_rejects() {
    let s = socket(&[]);
    let ch = s.channel("room:lobby".into(), None).unwrap();
    let err = JsFuture::from(ch.push("echo".into(), obj(&[]), None))
        .await
        .expect_err("not joined");
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("not_joined"));
}

fn listed(p: &tether::api::presence::PresenceView) -> js_sys::Array {
    p.list(None).unwrap().unchecked_into()
}

fn keys(list: &js_sys::Array) -> Vec<String> {
    list.iter()
        .map(|p| {
            let metas: js_sys::Array = get(&p, "metas").unchecked_into();
            get(&metas.get(0), "name").as_string().unwrap_or_default()
        })
        .collect()
}

#[wasm_bindgen_test]
async fn presence_shows_both_members_and_a_closed_one_leaves_within_a_second() {
    let room = "room:presence-browser";
    let s1 = socket(&[]);
    s1.connect().unwrap();
    let ch1 = s1
        .channel(room.into(), Some(obj(&[("name", "ada".into())])))
        .unwrap();
    let p1 = ch1.presence_view(None).unwrap();
    let syncs = Recorder::new();
    let _u = p1.on_sync(syncs.function()).unwrap();
    JsFuture::from(ch1.join()).await.unwrap();
    wait_for(3_000, "own presence", || listed(&p1).length() == 1).await;

    let s2 = socket(&[]);
    s2.connect().unwrap();
    let ch2 = s2
        .channel(room.into(), Some(obj(&[("name", "grace".into())])))
        .unwrap();
    let p2 = ch2.presence_view(None).unwrap();
    JsFuture::from(ch2.join()).await.unwrap();
    wait_for(3_000, "both see two members", || {
        listed(&p1).length() == 2 && listed(&p2).length() == 2
    })
    .await;
    assert_eq!(keys(&listed(&p1)), vec!["ada", "grace"]);
    assert_eq!(keys(&listed(&p2)), vec!["ada", "grace"]);
    assert!(get(&p1.get("grace".into()), "metas").is_object());
    assert!(syncs.len() >= 2);

    let closed_at = js_sys::Date::now();
    s2.disconnect().unwrap();
    wait_for(1_000, "the leave within 1 s", || listed(&p1).length() == 1).await;
    assert!(js_sys::Date::now() - closed_at <= 1_000.0);
    assert!(p1.get("grace".into()).is_undefined());
    s1.disconnect().unwrap();
}

#[wasm_bindgen_test]
async fn presence_counts_tabs_as_metas_and_list_takes_a_chooser() {
    let room = "room:presence-tabs";
    let mut sockets = Vec::new();
    let mut channels = Vec::new();
    for _ in 0..2 {
        let s = socket(&[]);
        s.connect().unwrap();
        let ch = s
            .channel(room.into(), Some(obj(&[("name", "__proto__".into())])))
            .unwrap();
        JsFuture::from(ch.join()).await.unwrap();
        sockets.push(s);
        channels.push(ch);
    }
    let s = socket(&[]);
    s.connect().unwrap();
    let ch = s
        .channel(room.into(), Some(obj(&[("name", "watcher".into())])))
        .unwrap();
    let p = ch
        .presence_view(Some(obj(&[("leaveGraceMs", 0.into())])))
        .unwrap();
    JsFuture::from(ch.join()).await.unwrap();
    wait_for(3_000, "two keys", || listed(&p).length() == 2).await;
    let chooser =
        Closure::<dyn Fn(JsValue, JsValue) -> JsValue>::new(|key: JsValue, pres: JsValue| {
            let metas: js_sys::Array = get(&pres, "metas").unchecked_into();
            JsValue::from_str(&format!(
                "{}:{}",
                key.as_string().unwrap_or_default(),
                metas.length()
            ))
        });
    let chosen: js_sys::Array = p
        .list(Some(chooser.as_ref().unchecked_ref::<Function>().clone()))
        .unwrap()
        .unchecked_into();
    let chosen: Vec<String> = chosen.iter().filter_map(|v| v.as_string()).collect();
    assert_eq!(chosen, vec!["__proto__:2", "watcher:1"]);
    // A `__proto__` key is a plain key: nothing leaked onto Object.prototype.
    assert!(get(&Object::new().into(), "metas").is_undefined());
    for s in sockets {
        s.disconnect().unwrap();
    }
    s.disconnect().unwrap();
}

/// `ws://127.0.0.1:PORT` of the demo server.
fn ws_base() -> String {
    ws_url().trim_end_matches("/socket").to_string()
}

#[wasm_bindgen_test]
async fn hub_dialect_bridges_with_phoenix_clients() {
    let room = "room:hub-bridge";
    let hub = Socket::new(
        format!("{}/ws", ws_base()).into(),
        Some(obj(&[("protocol", "hub".into())])),
    )
    .unwrap();
    let hub_ch = hub.channel(room.into(), None).unwrap();
    let from_phoenix = Recorder::new();
    let _u = hub_ch
        .on("new_msg".into(), from_phoenix.function())
        .unwrap();
    let join = hub_ch.join();
    hub.connect().unwrap();
    JsFuture::from(join)
        .await
        .expect("a hub channel is joined when its socket opens");
    assert_eq!(hub_ch.state(), "joined");

    let (phx, phx_ch) = {
        let s = socket(&[]);
        s.connect().unwrap();
        let ch = s
            .channel(room.into(), Some(obj(&[("name", "ada".into())])))
            .unwrap();
        JsFuture::from(ch.join()).await.unwrap();
        (s, ch)
    };
    let from_hub = Recorder::new();
    let _u2 = phx_ch.on("new_msg".into(), from_hub.function()).unwrap();

    JsFuture::from(phx_ch.push(
        "new_msg".into(),
        obj(&[("body", "from phoenix".into())]),
        None,
    ))
    .await
    .unwrap();
    wait_for(3_000, "the hub client gets the Phoenix broadcast", || {
        from_phoenix.len() >= 1
    })
    .await;
    assert_eq!(
        get(&from_phoenix.seen.borrow()[0], "body")
            .as_string()
            .as_deref(),
        Some("from phoenix")
    );

    JsFuture::from(hub_ch.push(
        "message".into(),
        obj(&[("body", "from the hub".into())]),
        None,
    ))
    .await
    .expect("a hub publish resolves once sent");
    wait_for(3_000, "the Phoenix client gets the hub publish", || {
        from_hub
            .seen
            .borrow()
            .iter()
            .any(|m| get(m, "body").as_string().as_deref() == Some("from the hub"))
    })
    .await;
    hub.disconnect().unwrap();
    phx.disconnect().unwrap();
}

#[wasm_bindgen_test]
async fn nova_dialect_receives_events_and_keeps_its_heartbeat() {
    let room = "room:nova-bridge";
    let nova = Socket::new(
        format!("{}/nova/{room}", ws_base()).into(),
        Some(obj(&[
            ("protocol", "nova".into()),
            ("heartbeatMs", 200.into()),
        ])),
    )
    .unwrap();
    let errors = Recorder::new();
    let _e = nova.on_error(errors.function()).unwrap();
    let ch = nova.channel(room.into(), None).unwrap();
    let got = Recorder::new();
    let _u = ch.on("new_msg".into(), got.function()).unwrap();
    nova.connect().unwrap();
    JsFuture::from(ch.join()).await.unwrap();
    // A few heartbeat rounds: ping answered by pong, so the socket stays open.
    sleep(700).await;
    assert_eq!(
        get(&nova.state(), "state").as_string().as_deref(),
        Some("open")
    );
    assert!(errors.len() == 0, "no heartbeat timeout");

    let (phx, phx_ch) = open_socket_in(room, "grace").await;
    JsFuture::from(phx_ch.push("new_msg".into(), obj(&[("body", "to nova".into())]), None))
        .await
        .unwrap();
    wait_for(3_000, "the nova client gets the broadcast", || {
        got.len() >= 1
    })
    .await;
    assert_eq!(
        get(&got.seen.borrow()[0], "body").as_string().as_deref(),
        Some("to nova")
    );
    nova.disconnect().unwrap();
    phx.disconnect().unwrap();
}

async fn open_socket_in(room: &str, name: &str) -> (Socket, Channel) {
    let s = socket(&[]);
    s.connect().unwrap();
    let ch = s
        .channel(room.into(), Some(obj(&[("name", name.into())])))
        .unwrap();
    JsFuture::from(ch.join()).await.unwrap();
    (s, ch)
}

/// `socket.channel(topic, () => params)`: the function is called at every join and rejoin, as
/// phoenix.js does, so a rejoin carries what the app knows by then; one that throws fails that
/// attempt (the `join()` promise rejects, `onError` gets `invalid_params`). It may return a
/// promise (an async function fetching a fresh token): the join waits for it.
#[wasm_bindgen_test]
async fn params_function_is_called_at_every_join_and_a_throw_fails_the_join() {
    let room = "room:params-function";
    let s = socket(&[]);
    let errors = Recorder::new();
    let _e = s.on_error(errors.function()).unwrap();
    s.connect().unwrap();
    let calls = Rc::new(RefCell::new(0));
    let counted = calls.clone();
    let params = Closure::<dyn FnMut() -> JsValue>::new(move || {
        *counted.borrow_mut() += 1;
        obj(&[("name", format!("call {}", counted.borrow()).into())])
    });
    let ch = s
        .channel(room.into(), Some(params.as_ref().clone()))
        .unwrap();
    let p = ch.presence_view(None).unwrap();
    JsFuture::from(ch.join())
        .await
        .expect("the join with the function's params");
    wait_for(3_000, "own presence under the first params", || {
        keys(&listed(&p)) == vec!["call 1"]
    })
    .await;
    // A new connection rejoins with what the function returns now.
    s.disconnect().unwrap();
    s.connect().unwrap();
    wait_for(5_000, "own presence under the rejoin's params", || {
        keys(&listed(&p)) == vec!["call 2"]
    })
    .await;
    assert_eq!(*calls.borrow(), 2);
    assert_eq!(errors.len(), 0);

    let throwing = Closure::<dyn FnMut() -> Result<JsValue, JsValue>>::new(|| {
        Err(js_sys::Error::new("no token yet").into())
    });
    let bad = s
        .channel(room.into(), Some(throwing.as_ref().clone()))
        .unwrap();
    let err = JsFuture::from(bad.join())
        .await
        .expect_err("a throwing params function fails the join");
    let message = get(&err, "message").as_string().unwrap_or_default();
    assert!(message.contains("no token yet"), "{message}");
    wait_for(1_000, "the error event", || errors.len() == 1).await;
    let seen = errors.seen.borrow()[0].clone();
    assert_eq!(
        get(&seen, "code").as_string().as_deref(),
        Some("invalid_params")
    );
    JsFuture::from(bad.leave()).await.unwrap();

    // A promise (an async function): the join waits for it and goes with what it resolves to.
    let promised = Closure::<dyn FnMut() -> JsValue>::new(|| {
        Promise::new(&mut |resolve, _| {
            web_sys::window()
                .unwrap()
                .set_timeout_with_callback_and_timeout_and_arguments_1(
                    &resolve,
                    50,
                    &obj(&[("name", "promised".into())]),
                )
                .unwrap();
        })
        .into()
    });
    let later = s
        .channel(
            "room:params-promise".into(),
            Some(promised.as_ref().clone()),
        )
        .unwrap();
    let later_presence = later.presence_view(None).unwrap();
    JsFuture::from(later.join())
        .await
        .expect("the join with the promised params");
    wait_for(3_000, "presence under the promised params", || {
        keys(&listed(&later_presence)) == vec!["promised"]
    })
    .await;
    // A rejected promise fails the attempt as a throw does.
    let rejecting = Closure::<dyn FnMut() -> JsValue>::new(|| {
        Promise::reject(&js_sys::Error::new("token service down").into()).into()
    });
    let refused = s
        .channel(room.into(), Some(rejecting.as_ref().clone()))
        .unwrap();
    let err = JsFuture::from(refused.join())
        .await
        .expect_err("a rejected params promise fails the join");
    let message = get(&err, "message").as_string().unwrap_or_default();
    assert!(message.contains("token service down"), "{message}");
    JsFuture::from(refused.leave()).await.unwrap();
    s.disconnect().unwrap();
}

/// `channel.onState`: every change of a channel's state, with its name (phoenix.js's `onError`
/// and `onClose` in one): a join, a lost connection and the rejoin, a leave; a refused join.
#[wasm_bindgen_test]
async fn channel_on_state_reports_every_change() {
    let s = socket(&[]);
    s.connect().unwrap();
    let ch = s
        .channel(
            "room:channel-states".into(),
            Some(obj(&[("name", "ada".into())])),
        )
        .unwrap();
    let states = Recorder::new();
    let off = ch.on_state(states.function()).unwrap();
    let names = |r: &Recorder| -> Vec<String> {
        r.seen
            .borrow()
            .iter()
            .filter_map(JsValue::as_string)
            .collect()
    };
    JsFuture::from(ch.join()).await.unwrap();
    assert_eq!(names(&states), vec!["joining", "joined"]);
    s.disconnect().unwrap();
    assert_eq!(names(&states), vec!["joining", "joined", "errored"]);
    s.connect().unwrap();
    wait_for(5_000, "the rejoin", || names(&states).len() == 5).await;
    assert_eq!(
        names(&states),
        vec!["joining", "joined", "errored", "joining", "joined"]
    );
    JsFuture::from(ch.leave()).await.unwrap();
    assert_eq!(names(&states)[5..], ["leaving", "closed"]);

    // A refused join errors (and would rejoin later); after unsubscribing nothing more arrives.
    let refused = s.channel("nowhere:at-all".into(), None).unwrap();
    let refusals = Recorder::new();
    let _r = refused.on_state(refusals.function()).unwrap();
    let _ = JsFuture::from(refused.join()).await;
    assert_eq!(names(&refusals), vec!["joining", "errored"]);
    off.call0(&JsValue::UNDEFINED).unwrap();
    JsFuture::from(ch.join()).await.unwrap();
    assert_eq!(names(&states).len(), 7);
    s.disconnect().unwrap();
}

/// `push(event, ArrayBuffer | Uint8Array)` goes as a Phoenix binary frame (as phoenix.js sends
/// an ArrayBuffer; the same server check is made with phoenix.js in phoenix_interop.test.mjs);
/// the server's binary reply resolves it as `{byteLength, base64}`.
#[wasm_bindgen_test]
async fn binary_pushes_go_as_binary_frames_and_binary_replies_resolve_them() {
    let (s, ch) = open_socket_in("room:bytes-browser", "ada").await;
    let bytes: Vec<u8> = (0..300u32).map(|i| (i * 7 % 256) as u8).collect();
    let array = js_sys::Uint8Array::from(bytes.as_slice());
    let reply = JsFuture::from(ch.push("binary_echo".into(), array.clone().into(), None))
        .await
        .expect("the echo");
    assert_eq!(get(&reply, "byteLength").as_f64(), Some(300.0));
    let decoded = js_sys::Reflect::get(&js_sys::global(), &"atob".into())
        .unwrap()
        .unchecked_into::<Function>()
        .call1(&JsValue::UNDEFINED, &get(&reply, "base64"))
        .unwrap()
        .as_string()
        .unwrap();
    let round_trip: Vec<u8> = decoded.chars().map(|c| c as u32 as u8).collect();
    assert_eq!(round_trip, bytes);

    // An ArrayBuffer is sent the same way.
    let reply = JsFuture::from(ch.push("binary_echo".into(), array.buffer().into(), None))
        .await
        .expect("the echo of an ArrayBuffer");
    assert_eq!(get(&reply, "byteLength").as_f64(), Some(300.0));
    // Another event is refused by the server with a text reply.
    let err = JsFuture::from(ch.push("upload".into(), array.into(), None))
        .await
        .expect_err("refused");
    assert_eq!(get(&err, "code").as_string().as_deref(), Some("error"));
    s.disconnect().unwrap();
}

/// `pagehide` closes the live connection (so the page can enter the back-forward cache and the
/// server sees it leave at once); `pageshow` connects again and the channel rejoins.
#[wasm_bindgen_test]
async fn pagehide_disconnects_and_pageshow_reconnects_and_rejoins() {
    let (s, ch) = open_socket_in("room:bfcache", "ada").await;
    let states = Recorder::new();
    let _s = s.on_state(states.function()).unwrap();
    let window = web_sys::window().unwrap();
    let fire = |kind: &str| {
        let event = web_sys::Event::new(kind).unwrap();
        window.dispatch_event(&event).unwrap();
    };
    fire("pagehide");
    assert_eq!(
        get(&s.state(), "state").as_string().as_deref(),
        Some("closed")
    );
    assert_eq!(ch.state(), "errored");
    sleep(300).await;
    assert_eq!(
        states.states(),
        vec!["closed"],
        "nothing reconnects while the page is away"
    );
    fire("pageshow");
    wait_for(5_000, "reconnected and rejoined", || ch.state() == "joined").await;
    assert_eq!(
        get(&s.state(), "state").as_string().as_deref(),
        Some("open")
    );
    s.disconnect().unwrap();
    // The app's own disconnect wins over a later pageshow.
    fire("pageshow");
    sleep(200).await;
    assert_eq!(
        get(&s.state(), "state").as_string().as_deref(),
        Some("closed")
    );
}

/// `socket.ping()` resolves with the round trip to the demo server in ms; refused when closed.
#[wasm_bindgen_test]
async fn ping_measures_the_round_trip() {
    let s = socket(&[]);
    let err = JsFuture::from(s.ping())
        .await
        .expect_err("not connected yet");
    assert_eq!(
        get(&err, "code").as_string().as_deref(),
        Some("not_connected")
    );
    s.connect().unwrap();
    wait_for(5_000, "open", || {
        get(&s.state(), "state").as_string().as_deref() == Some("open")
    })
    .await;
    let rtt = JsFuture::from(s.ping()).await.expect("a round trip");
    let ms = rtt.as_f64().expect("a number");
    assert!((0.0..5_000.0).contains(&ms), "{ms}");
    s.disconnect().unwrap();
}
