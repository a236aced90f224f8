//! Helpers for the integration tests: an in-process server and a small Phoenix V2 client.
#![allow(dead_code)]

pub mod cluster;
pub mod pg;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tether_demo::{serve, Config};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const STEP: Duration = Duration::from_secs(5);

/// Starts the built `tether-demo` binary on a free port with `args` (and no secret from the
/// environment); returns it and its port, read from its startup line. Its later output is
/// drained so logging never blocks it, and echoed under `label` when one is given (shown when
/// a test fails).
pub async fn spawn_binary(
    args: &[&std::ffi::OsStr],
    label: Option<&str>,
) -> (tokio::process::Child, u16) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tether-demo"))
        .args(["--port", "0"])
        .args(args)
        .env_remove("TETHER_DEMO_SECRET")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn tether-demo");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(STEP, lines.next_line())
        .await
        .expect("startup line in time")
        .expect("read")
        .expect("a line");
    let port: u16 = first
        .strip_prefix("tether-demo listening on http://127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    let label = label.map(str::to_owned);
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(label) = &label {
                println!("[{label}] {line}");
            }
        }
    });
    (child, port)
}

/// A fresh, empty, unique directory under the system temp dir.
pub fn temp_dir(label: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "tether-demo-{label}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Remove `data_dir` when the server is dropped (it was made for this server alone).
    owns_data_dir: bool,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.owns_data_dir {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

impl TestServer {
    /// A server with no static files and a fresh data directory of its own.
    pub async fn start() -> TestServer {
        Self::start_with(PathBuf::from("static-dir-that-does-not-exist")).await
    }

    pub async fn start_with(static_dir: PathBuf) -> TestServer {
        let data_dir = temp_dir("data");
        Self::start_config(Config::new(static_dir, data_dir), true).await
    }

    /// A server on an existing data directory, which is left in place afterwards.
    pub async fn start_in(data_dir: PathBuf) -> TestServer {
        let static_dir = PathBuf::from("static-dir-that-does-not-exist");
        Self::start_config(Config::new(static_dir, data_dir), false).await
    }

    pub async fn start_config(config: Config, owns_data_dir: bool) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let data_dir = config.data_dir.clone();
        let task = tokio::spawn(serve(listener, config, async move {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            data_dir,
            owns_data_dir,
            stop: Some(stop),
            task,
        }
    }

    /// `POST /api/session {name}`; returns the response body (`{user_id, name, token, topic}`).
    pub async fn sign_in(&self, name: &str) -> Value {
        let (status, body) = http_post(
            self.addr,
            "/api/session",
            &serde_json::json!({ "name": name }),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("JSON body")
    }

    /// A client authenticated with `token` (in the `token` query parameter).
    pub async fn client_with_token(&self, token: &str) -> Client {
        Client::connect(&format!("{}&token={token}", self.ws_url())).await
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/socket/websocket?vsn=2.0.0", self.addr)
    }

    pub async fn client(&self) -> Client {
        Client::connect(&self.ws_url()).await
    }

    /// Stop the server; returns once `serve` has returned.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = tokio::time::timeout(STEP, &mut self.task)
            .await
            .expect("server stops in time");
        result.expect("server task").expect("server result");
    }
}

/// What a `room:*` joiner receives: the reply, then payloads of its own diff and its state.
#[derive(Debug)]
pub struct Joined {
    pub reply: Value,
    pub diff: Value,
    pub state: Value,
}

/// `GET path` over plain HTTP/1.1; returns the status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_request(addr, "GET", path, None).await
}

/// `POST path` with a JSON body; returns the status code and the body.
pub async fn http_post(addr: SocketAddr, path: &str, body: &Value) -> (u16, String) {
    http_request(addr, "POST", path, Some(&body.to_string())).await
}

/// One request over plain HTTP/1.1; returns the status code and the body.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.expect("tcp");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(body) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    } else {
        req.push_str("\r\n");
    }
    s.write_all(req.as_bytes()).await.expect("write");
    let mut out = String::new();
    tokio::time::timeout(STEP, s.read_to_string(&mut out))
        .await
        .expect("response in time")
        .expect("read");
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {out:?}"));
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    // Small bodies only; undo chunked encoding if the server used it.
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut decoded = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
            if n == 0 {
                break;
            }
            decoded.push_str(&tail[..n]);
            rest = tail[n..].trim_start_matches("\r\n");
        }
        decoded
    } else {
        body.to_owned()
    };
    (status, body)
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// Opens `req` (the upgrade must succeed) and returns the code and reason of the Close frame
/// the server sends before any text; panics if a text frame comes first or nothing in 5 s.
pub async fn closed_at_once(
    req: tokio_tungstenite::tungstenite::handshake::client::Request,
) -> (u16, String) {
    let (mut ws, _) = tokio::time::timeout(STEP, tokio_tungstenite::connect_async(req))
        .await
        .expect("upgrade answered in time")
        .expect("the upgrade is accepted");
    tokio::time::timeout(STEP, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (u16::from(frame.code), frame.reason.as_str().to_owned())
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("a close frame within 5 s")
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        let (ws, _) = tokio::time::timeout(STEP, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("connect");
        Client { ws }
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(&frame.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    /// Next text frame as JSON (control frames skipped); panics after 5 s.
    pub async fn recv(&mut self) -> Value {
        tokio::time::timeout(STEP, self.next_text())
            .await
            .expect("a frame within 5 s")
    }

    /// Reads pings until a Close frame arrives (anything else fails the test); how many pings
    /// came first, and the close code.
    pub async fn pings_then_close(&mut self) -> (usize, u16) {
        let mut pings = 0;
        let code = tokio::time::timeout(STEP, async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Ping(_))) => pings += 1,
                    Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
                    other => panic!("expected pings then a close, got {other:?}"),
                }
            }
        })
        .await
        .expect("a close within 5 s");
        (pings, code)
    }

    /// Asserts no text frame arrives within `wait`.
    pub async fn recv_none(&mut self, wait: Duration) {
        if let Ok(v) = tokio::time::timeout(wait, self.next_text()).await {
            panic!("unexpected frame {v}");
        }
    }

    async fn next_text(&mut self) -> Value {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    return serde_json::from_str(t.as_str()).expect("server sends JSON")
                }
                Some(Ok(Message::Close(c))) => panic!("socket closed: {c:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("socket error: {e}"),
                None => panic!("socket ended"),
            }
        }
    }

    /// Join a `room:*` topic: returns the reply, the joiner's own `presence_diff` and its
    /// `presence_state`, asserting that they arrive in that order with the expected refs.
    pub async fn join_room(&mut self, topic: &str, jr: &str, payload: Value) -> Joined {
        let reply = self.join(topic, jr, payload).await;
        assert_eq!(reply[3], "phx_reply", "join reply first: {reply}");
        let diff = self.recv().await;
        assert_eq!(
            (&diff[0], &diff[1], &diff[2], &diff[3]),
            (
                &Value::Null,
                &Value::Null,
                &Value::from(topic),
                &Value::from("presence_diff")
            ),
            "own presence_diff second: {diff}"
        );
        let state = self.recv().await;
        assert_eq!(
            (&state[0], &state[1], &state[2], &state[3]),
            (
                &Value::from(jr),
                &Value::Null,
                &Value::from(topic),
                &Value::from("presence_state")
            ),
            "presence_state third: {state}"
        );
        Joined {
            reply,
            diff: diff[4].clone(),
            state: state[4].clone(),
        }
    }

    /// Next frame, which must be a `presence_diff` on `topic`; returns its payload.
    pub async fn recv_diff(&mut self, topic: &str) -> Value {
        let f = self.recv().await;
        assert_eq!(
            (&f[0], &f[1], &f[2], &f[3]),
            (
                &Value::Null,
                &Value::Null,
                &Value::from(topic),
                &Value::from("presence_diff")
            ),
            "expected a presence_diff broadcast: {f}"
        );
        f[4].clone()
    }

    /// Join `topic` with join_ref = ref = `jr` and return the reply.
    pub async fn join(&mut self, topic: &str, jr: &str, payload: Value) -> Value {
        self.send(serde_json::json!([jr, jr, topic, "phx_join", payload]))
            .await;
        self.recv().await
    }
}
