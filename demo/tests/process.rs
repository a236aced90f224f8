//! The built binary: startup line, HTTP routes, subprotocol, and SIGTERM → close 1012 + exit 0.

mod common;

use common::{spawn_binary, Client, STEP};
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

async fn spawn(static_dir: &std::path::Path, data_dir: &std::path::Path) -> (Child, u16) {
    let args = [
        "--static-dir".as_ref(),
        static_dir.as_os_str(),
        "--data-dir".as_ref(),
        data_dir.as_os_str(),
    ];
    spawn_binary(&args, None).await
}

async fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.expect("tcp");
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    tokio::time::timeout(STEP, s.read_to_string(&mut out))
        .await
        .expect("response in time")
        .expect("read");
    out
}

#[tokio::test]
async fn binary_serves_and_shuts_down_with_1012() {
    let dir = std::env::temp_dir().join(format!("tether-demo-static-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("index.html"), "<h1>tether demo</h1>").expect("write");
    let data_dir = dir.join("data");
    let (mut child, port) = spawn(&dir, &data_dir).await;
    assert!(data_dir.join("tether-demo.sqlite3").is_file());

    let health = http_get(port, "/api/health").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#""status":"ok""#), "{health}");
    assert!(health.contains(r#""pubsub":"local""#), "{health}");
    let index = http_get(port, "/").await;
    assert!(index.starts_with("HTTP/1.1 200"), "{index}");
    assert!(index.contains("<h1>tether demo</h1>"), "{index}");
    assert!(http_get(port, "/missing.js")
        .await
        .starts_with("HTTP/1.1 404"));

    // Offering the phoenix subprotocol (and a valid token) gets `phoenix` back.
    let session = http_post(port, "/api/session", r#"{"name":"proc"}"#).await;
    assert!(session.starts_with("HTTP/1.1 200"), "{session}");
    let token = session
        .split_once(r#""token":""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(token, _)| token.to_owned())
        .expect("token in the sign-in response");
    let url = format!("ws://127.0.0.1:{port}/socket/websocket?vsn=2.0.0&x=1");
    let bearer = |token: &str| {
        let mut req = url.as_str().into_client_request().expect("request");
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            format!("phoenix, base64url.bearer.phx.{}", base64url(token))
                .parse()
                .expect("header"),
        );
        req
    };
    // A token that is there but not ours: the upgrade is accepted (with `phoenix`, so a
    // browser that offered it opens the socket) and the socket closed at once with 4401.
    let (mut refused, resp) = tokio::time::timeout(
        STEP,
        tokio_tungstenite::connect_async(bearer("c2VjcmV0.c2VjcmV0")),
    )
    .await
    .expect("upgrade answered in time")
    .expect("upgrade accepted");
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("phoenix")
    );
    match tokio::time::timeout(STEP, refused.next()).await {
        Ok(Some(Ok(Message::Close(Some(frame))))) => {
            assert_eq!(frame.code, CloseCode::from(4401));
            assert!(frame.reason.starts_with("unauthorized: "), "{frame:?}");
        }
        other => panic!("expected a 4401 close, got {other:?}"),
    }
    let req = bearer(&token);
    let (ws, resp) = tokio::time::timeout(STEP, tokio_tungstenite::connect_async(req))
        .await
        .expect("connect in time")
        .expect("connect");
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("phoenix")
    );
    let mut a = Client { ws };
    let mut b = Client::connect(&url).await;
    b.join("room:lobby", "1", serde_json::json!({})).await;

    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().expect("pid").to_string()])
        .status()
        .await
        .expect("kill");
    assert!(status.success());
    for client in [&mut a, &mut b] {
        let close = tokio::time::timeout(STEP, async {
            loop {
                match client.ws.next().await {
                    Some(Ok(Message::Close(frame))) => return frame,
                    Some(Ok(_)) => continue,
                    other => panic!("expected a close frame, got {other:?}"),
                }
            }
        })
        .await
        .expect("close frame in time");
        let close = close.expect("close frame has a code");
        assert_eq!(close.code, CloseCode::Restart);
        assert_eq!(u16::from(close.code), 1012);
    }
    let exit = tokio::time::timeout(Duration::from_secs(3), child.wait())
        .await
        .expect("exits in time")
        .expect("wait");
    assert!(exit.success(), "{exit:?}");
    assert!(started.elapsed() < Duration::from_millis(1500));
    let _ = std::fs::remove_dir_all(&dir);
}

async fn http_post(port: u16, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.expect("tcp");
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    tokio::time::timeout(STEP, s.read_to_string(&mut out))
        .await
        .expect("response in time")
        .expect("read");
    out
}

/// base64url without padding.
fn base64url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}
