//! CORS on `/api/*`: a page on another origin that is on `--allowed-origins` (a Vite dev server
//! at http://localhost:5173 by default) may sign in and read the API; other origins get no CORS
//! headers (their preflight: 403), and requests without `Origin` are left alone.

mod common;

use common::{temp_dir, TestServer, STEP};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use tether_demo::security::{Origins, Security};
use tether_demo::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response: status, headers (names lowercase, in order), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// One HTTP/1.1 request with these headers (and a JSON body when given).
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Answer {
    let mut s = TcpStream::connect(addr).await.expect("tcp");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
        addr.port()
    );
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    match body {
        Some(body) => req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )),
        None => req.push_str("\r\n"),
    }
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    tokio::time::timeout(STEP, s.read_to_string(&mut out))
        .await
        .expect("response in time")
        .expect("read");
    let (head, body) = out.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn preflight(origin: &str) -> [(&str, &str); 3] {
    [
        ("Origin", origin),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "content-type"),
    ]
}

const SIGN_IN: &str = r#"{"name":"vite"}"#;

#[tokio::test]
async fn an_allowed_origin_gets_its_preflight_and_its_origin_back() {
    let server = TestServer::start().await;
    // The default list allows any local port: a Vite dev server's origin.
    let origin = "http://localhost:5173";
    let pre = send(
        server.addr,
        "OPTIONS",
        "/api/session",
        &preflight(origin),
        None,
    )
    .await;
    assert_eq!(pre.status, 204, "{}", pre.body);
    assert_eq!(pre.header("access-control-allow-origin"), Some(origin));
    let methods = pre.header("access-control-allow-methods").unwrap_or("");
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );
    assert_eq!(
        pre.header("access-control-allow-headers"),
        Some("content-type")
    );
    assert!(pre.header("vary").unwrap_or("").contains("Origin"));
    assert_eq!(
        pre.header("access-control-allow-credentials"),
        None,
        "no cookies: no credentials"
    );

    let post = send(
        server.addr,
        "POST",
        "/api/session",
        &[("Origin", origin)],
        Some(SIGN_IN),
    )
    .await;
    assert_eq!(post.status, 200, "{}", post.body);
    assert_eq!(post.header("access-control-allow-origin"), Some(origin));
    assert!(post.all("vary").iter().any(|v| v.contains("Origin")));
    let session: Value = serde_json::from_str(&post.body).expect("json");
    assert!(
        session["token"].as_str().is_some_and(|t| !t.is_empty()),
        "{session}"
    );

    // A GET and an error answer carry it too (the page can read the error's message).
    let health = send(
        server.addr,
        "GET",
        "/api/health",
        &[("Origin", origin)],
        None,
    )
    .await;
    assert_eq!(health.status, 200);
    assert_eq!(health.header("access-control-allow-origin"), Some(origin));
    let bad = send(
        server.addr,
        "POST",
        "/api/session",
        &[("Origin", origin)],
        Some("{}"),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.header("access-control-allow-origin"), Some(origin));
    server.stop().await;
}

#[tokio::test]
async fn another_origin_gets_no_cors_headers_and_its_preflight_is_refused() {
    let server = TestServer::start().await;
    for origin in [
        "https://evil.example",
        "http://localhost.evil.example:5173",
        "null",
    ] {
        let pre = send(
            server.addr,
            "OPTIONS",
            "/api/session",
            &preflight(origin),
            None,
        )
        .await;
        assert_eq!(pre.status, 403, "{origin}: {}", pre.body);
        assert_eq!(pre.header("access-control-allow-origin"), None, "{origin}");
        let post = send(
            server.addr,
            "POST",
            "/api/session",
            &[("Origin", origin)],
            Some(SIGN_IN),
        )
        .await;
        assert_eq!(post.header("access-control-allow-origin"), None, "{origin}");
    }
    server.stop().await;
}

#[tokio::test]
async fn requests_without_origin_and_other_paths_are_left_alone() {
    let server = TestServer::start().await;
    let post = send(server.addr, "POST", "/api/session", &[], Some(SIGN_IN)).await;
    assert_eq!(post.status, 200);
    assert_eq!(post.header("access-control-allow-origin"), None);
    // Only /api answers CORS: not the static files, not the socket's HTTP endpoint.
    let origin = "http://localhost:5173";
    let page = send(
        server.addr,
        "GET",
        "/index.html",
        &[("Origin", origin)],
        None,
    )
    .await;
    assert_eq!(page.header("access-control-allow-origin"), None);
    let pre = send(
        server.addr,
        "OPTIONS",
        "/socket/websocket",
        &preflight(origin),
        None,
    )
    .await;
    assert_eq!(pre.header("access-control-allow-origin"), None);
    server.stop().await;
}

#[tokio::test]
async fn the_list_is_the_one_given_to_allowed_origins() {
    let mut config = Config::new(PathBuf::from("no-static-dir"), temp_dir("cors"));
    config.security = Security {
        origins: Origins::parse("https://app.example,http://dev.example:*").expect("parses"),
        ..Security::default()
    };
    let server = TestServer::start_config(config, true).await;
    for origin in ["https://app.example", "http://dev.example:5173"] {
        let pre = send(
            server.addr,
            "OPTIONS",
            "/api/session",
            &preflight(origin),
            None,
        )
        .await;
        assert_eq!(pre.status, 204, "{origin}");
        assert_eq!(pre.header("access-control-allow-origin"), Some(origin));
    }
    // Not on this list: a local dev server (allowed by the default list) and the https twin.
    for origin in ["http://localhost:5173", "http://app.example"] {
        let pre = send(
            server.addr,
            "OPTIONS",
            "/api/session",
            &preflight(origin),
            None,
        )
        .await;
        assert_eq!(pre.status, 403, "{origin}");
        assert_eq!(pre.header("access-control-allow-origin"), None, "{origin}");
    }
    server.stop().await;
}
