//! Phoenix-style presence on `room:*`: frame order for the joiner, diffs to the others,
//! several tabs under one key, leaves on phx_leave / rejoin / dropped connection, and
//! `GET /api/presence/<topic>`.

mod common;

use common::{http_get, TestServer};
use serde_json::{json, Value};
use std::time::Duration;

const LOBBY: &str = "room:lobby";

/// The single meta of `key` in a diff's `joins` or `leaves`.
fn only_meta(diff: &Value, side: &str, key: &str) -> Value {
    let other = if side == "joins" { "leaves" } else { "joins" };
    assert_eq!(diff[other], json!({}), "{diff}");
    let sides = diff[side].as_object().expect("object");
    assert_eq!(sides.len(), 1, "{diff}");
    let metas = diff[side][key]["metas"].as_array().expect("metas");
    assert_eq!(metas.len(), 1, "{diff}");
    metas[0].clone()
}

fn phx_ref(meta: &Value) -> String {
    meta["phx_ref"].as_str().expect("phx_ref").to_owned()
}

async fn presence_text(server: &TestServer, topic: &str) -> String {
    let (status, body) = http_get(server.addr, &format!("/api/presence/{topic}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn presence(server: &TestServer, topic: &str) -> Value {
    serde_json::from_str(&presence_text(server, topic).await).expect("JSON body")
}

#[tokio::test]
async fn joiner_gets_reply_then_own_diff_then_state() {
    let server = TestServer::start().await;
    let mut ada = server.client().await;
    let joined = ada.join_room(LOBBY, "3", json!({"name": "ada"})).await;
    assert_eq!(
        joined.reply,
        json!(["3", "3", LOBBY, "phx_reply", {"status": "ok", "response": {}}])
    );
    let meta = only_meta(&joined.diff, "joins", "ada");
    assert_eq!(meta["name"], json!("ada"));
    assert!(meta["online_at"]
        .as_u64()
        .is_some_and(|t| t > 1_600_000_000_000));
    assert!(!phx_ref(&meta).is_empty());
    assert_eq!(meta.as_object().map(|m| m.len()), Some(3), "{meta}");
    assert_eq!(joined.state, json!({"ada": {"metas": [meta]}}));
    assert_eq!(presence(&server, LOBBY).await, joined.state);
    ada.recv_none(Duration::from_millis(150)).await;
    server.stop().await;
}

#[tokio::test]
async fn second_join_is_a_diff_for_the_first_and_state_has_both_in_join_order() {
    let server = TestServer::start().await;
    let mut zoe = server.client().await;
    let mut adam = server.client().await;
    let z = zoe.join_room(LOBBY, "1", json!({"name": "zoe"})).await;
    let a = adam.join_room(LOBBY, "7", json!({"name": "adam"})).await;
    let adam_meta = only_meta(&a.diff, "joins", "adam");
    assert_eq!(
        only_meta(&zoe.recv_diff(LOBBY).await, "joins", "adam"),
        adam_meta
    );
    let zoe_meta = only_meta(&z.diff, "joins", "zoe");
    assert_eq!(
        a.state,
        json!({"zoe": {"metas": [zoe_meta]}, "adam": {"metas": [adam_meta]}})
    );
    // Keys in join order (not sorted) in the HTTP view.
    let text = presence_text(&server, LOBBY).await;
    assert!(text.starts_with(r#"{"zoe":"#), "{text}");
    assert_eq!(serde_json::from_str::<Value>(&text).expect("json"), a.state);
    // Other rooms are separate.
    assert_eq!(presence(&server, "room:other").await, json!({}));
    zoe.recv_none(Duration::from_millis(150)).await;
    adam.recv_none(Duration::from_millis(50)).await;
    server.stop().await;
}

#[tokio::test]
async fn two_tabs_of_one_name_are_one_key_with_two_metas() {
    let server = TestServer::start().await;
    let mut tab1 = server.client().await;
    let mut tab2 = server.client().await;
    let mut bob = server.client().await;
    let t1 = tab1.join_room(LOBBY, "1", json!({"name": "ada"})).await;
    let b = bob.join_room(LOBBY, "1", json!({"name": "bob"})).await;
    tab1.recv_diff(LOBBY).await;
    let t2 = tab2.join_room(LOBBY, "1", json!({"name": "ada"})).await;
    let m1 = only_meta(&t1.diff, "joins", "ada");
    let m2 = only_meta(&t2.diff, "joins", "ada");
    assert_ne!(phx_ref(&m1), phx_ref(&m2));
    // The others hear about the second tab as a join of one more meta under the same key.
    assert_eq!(only_meta(&tab1.recv_diff(LOBBY).await, "joins", "ada"), m2);
    assert_eq!(only_meta(&bob.recv_diff(LOBBY).await, "joins", "ada"), m2);
    let bob_meta = only_meta(&b.diff, "joins", "bob");
    let expected = json!({
        "ada": {"metas": [m1.clone(), m2.clone()]},
        "bob": {"metas": [bob_meta]},
    });
    assert_eq!(t2.state, expected);
    assert_eq!(presence(&server, LOBBY).await, expected);

    // One tab leaves: the key stays with the other meta.
    tab1.send(json!(["1", "2", LOBBY, "phx_leave", {}])).await;
    assert_eq!(tab1.recv().await[3], json!("phx_reply"));
    assert_eq!(tab1.recv().await[3], json!("phx_close"));
    assert_eq!(only_meta(&tab2.recv_diff(LOBBY).await, "leaves", "ada"), m1);
    assert_eq!(only_meta(&bob.recv_diff(LOBBY).await, "leaves", "ada"), m1);
    tab1.recv_none(Duration::from_millis(150)).await;
    let now = presence(&server, LOBBY).await;
    assert_eq!(now["ada"], json!({"metas": [m2.clone()]}));

    // The last tab drops: the key goes.
    drop(tab2);
    assert_eq!(only_meta(&bob.recv_diff(LOBBY).await, "leaves", "ada"), m2);
    let now = presence(&server, LOBBY).await;
    assert!(now.get("ada").is_none(), "{now}");
    assert_eq!(now.as_object().map(|m| m.len()), Some(1));
    server.stop().await;
}

#[tokio::test]
async fn leave_and_dropped_connection_send_leaves_to_the_others() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    let mut c = server.client().await;
    let ja = a.join_room(LOBBY, "1", json!({"name": "a"})).await;
    b.join_room(LOBBY, "1", json!({"name": "b"})).await;
    a.recv_diff(LOBBY).await;
    let jc = c.join_room(LOBBY, "1", json!({"name": "c"})).await;
    a.recv_diff(LOBBY).await;
    b.recv_diff(LOBBY).await;

    a.send(json!(["1", "2", LOBBY, "phx_leave", {}])).await;
    assert_eq!(
        a.recv().await,
        json!(["1", "2", LOBBY, "phx_reply", {"status": "ok", "response": {}}])
    );
    assert_eq!(a.recv().await, json!(["1", "1", LOBBY, "phx_close", {}]));
    let a_meta = only_meta(&ja.diff, "joins", "a");
    assert_eq!(only_meta(&b.recv_diff(LOBBY).await, "leaves", "a"), a_meta);
    assert_eq!(only_meta(&c.recv_diff(LOBBY).await, "leaves", "a"), a_meta);
    a.recv_none(Duration::from_millis(150)).await;

    drop(c);
    let c_meta = only_meta(&jc.diff, "joins", "c");
    assert_eq!(only_meta(&b.recv_diff(LOBBY).await, "leaves", "c"), c_meta);
    let now = presence(&server, LOBBY).await;
    let keys: Vec<&String> = now.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["b"]);

    // Everyone gone: the topic's state is empty.
    drop(b);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut empty = false;
    for _ in 0..50 {
        if presence(&server, LOBBY).await == json!({}) {
            empty = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(empty, "presence empties once everyone is gone");
    server.stop().await;
}

#[tokio::test]
async fn rejoin_leaves_the_old_meta_and_joins_a_new_one() {
    let server = TestServer::start().await;
    let mut a = server.client().await;
    let mut b = server.client().await;
    let first = a.join_room(LOBBY, "1", json!({"name": "ada"})).await;
    b.join_room(LOBBY, "1", json!({"name": "bob"})).await;
    a.recv_diff(LOBBY).await;

    a.send(json!(["5", "5", LOBBY, "phx_join", {"name": "ada"}]))
        .await;
    assert_eq!(a.recv().await, json!(["1", "1", LOBBY, "phx_close", {}]));
    assert_eq!(
        a.recv().await,
        json!(["5", "5", LOBBY, "phx_reply", {"status": "ok", "response": {}}])
    );
    let own = a.recv_diff(LOBBY).await;
    let new_meta = only_meta(&own, "joins", "ada");
    let state = a.recv().await;
    assert_eq!(state[0], json!("5"));
    assert_eq!(state[3], json!("presence_state"));
    assert_eq!(state[4]["ada"], json!({"metas": [new_meta.clone()]}));

    let old_meta = only_meta(&first.diff, "joins", "ada");
    assert_ne!(phx_ref(&old_meta), phx_ref(&new_meta));
    assert_eq!(
        only_meta(&b.recv_diff(LOBBY).await, "leaves", "ada"),
        old_meta
    );
    assert_eq!(
        only_meta(&b.recv_diff(LOBBY).await, "joins", "ada"),
        new_meta
    );
    assert_eq!(presence(&server, LOBBY).await, state[4]);
    a.recv_none(Duration::from_millis(150)).await;
    server.stop().await;
}

#[tokio::test]
async fn odd_names_are_plain_keys() {
    let server = TestServer::start().await;
    let names = [
        "__proto__",
        "constructor",
        "émile 😀 \"quoted\" \\ </script>",
        "hasOwnProperty",
        "0",
    ];
    let mut clients = Vec::new();
    let mut last_state = Value::Null;
    for name in names {
        let mut c = server.client().await;
        let j = c.join_room(LOBBY, "1", json!({ "name": name })).await;
        assert_eq!(only_meta(&j.diff, "joins", name)["name"], json!(name));
        last_state = j.state;
        clients.push(c);
    }
    let text = presence_text(&server, LOBBY).await;
    let parsed: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(parsed, last_state);
    let obj = parsed.as_object().expect("object");
    assert_eq!(obj.len(), names.len());
    // Join order in the text.
    let mut at = 0;
    for name in names {
        let quoted = Value::from(name).to_string();
        let pos = text[at..]
            .find(&format!("{quoted}:"))
            .unwrap_or_else(|| panic!("{quoted} after {at} in {text}"));
        at += pos + quoted.len();
    }
    // Unknown / non-room topics are empty, odd paths do not break the route.
    assert_eq!(presence(&server, "room:nobody").await, json!({}));
    assert_eq!(presence(&server, "secret:x").await, json!({}));
    assert_eq!(presence(&server, "room:a/b").await, json!({}));
    let (status, _) = http_get(server.addr, "/api/presence/room:%FF").await;
    assert!(status == 200 || status == 400, "{status}");
    server.stop().await;
}
