//! `--nodes`: the fan-out through two demo-server nodes. For `redis` it starts a redis-server of
//! its own, for `postgres` a PostgreSQL cluster of its own (Debian's binaries, `initdb` in a
//! scratch directory, as the `postgres` user when run as root), each on a free loopback port;
//! then two nodes with `--pubsub` on it, and waits until both report it active and see each
//! other. Everything it starts is stopped by PID at the end.

use crate::server::Server;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What the clients are spread over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// One node (the P6 figures above).
    One,
    /// Two nodes through Redis.
    Redis,
    /// Two nodes through PostgreSQL LISTEN/NOTIFY.
    Postgres,
}

impl Topology {
    pub fn parse(s: &str) -> Result<Topology, String> {
        match s {
            "one" => Ok(Topology::One),
            "redis" => Ok(Topology::Redis),
            "postgres" => Ok(Topology::Postgres),
            _ => Err(format!(
                "bad --nodes entry {s:?} (want one, redis, postgres)"
            )),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Topology::One => "one node",
            Topology::Redis => "two nodes, Redis",
            Topology::Postgres => "two nodes, PostgreSQL",
        }
    }
}

/// A backing service started here (redis-server or postgres), killed by PID on drop.
pub struct Service {
    child: Child,
    dir: PathBuf,
    pub url: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The servers of one topology, and what backs them.
pub struct Nodes {
    pub servers: Vec<Server>,
    _service: Option<Service>,
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn scratch(label: &str) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("tether-loadgen-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while !ready() {
        if Instant::now() > deadline {
            return Err(format!("{what} not ready within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn start_redis() -> Result<Service, String> {
    let port = free_port()?;
    let dir = scratch("redis")?;
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no", "--dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start redis-server (run tests/setup): {e}"))?;
    let service = Service {
        child,
        dir,
        url: format!("redis://127.0.0.1:{port}"),
    };
    wait_for("redis-server", Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    })?;
    Ok(service)
}

fn pg_bin() -> Result<PathBuf, String> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    found.retain(|p| p.join("postgres").is_file());
    found.sort();
    found
        .pop()
        .ok_or("no PostgreSQL under /usr/lib/postgresql (run tests/setup)".into())
}

fn as_postgres(program: &Path) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn start_postgres() -> Result<Service, String> {
    let bin = pg_bin()?;
    let port = free_port()?;
    let dir = scratch("pg")?;
    let _ = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(&dir)
        .status();
    let data = dir.join("data");
    let ok = as_postgres(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("initdb: {e}"))?;
    if !ok.success() {
        return Err("initdb failed".into());
    }
    let child = as_postgres(&bin.join("postgres"))
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(&dir)
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start postgres: {e}"))?;
    let service = Service {
        child,
        dir,
        url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
    };
    // Accepting TCP is not yet accepting logins; the nodes retry their adapter with backoff.
    wait_for("postgres", Duration::from_secs(20), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    })?;
    Ok(service)
}

/// `GET path` on `addr` (HTTP/1.1, Connection: close); the body.
fn http_get(addr: &str, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())
}

/// Start the servers of `topology` (`binary` is the demo server).
pub fn start(binary: &Path, topology: Topology) -> Result<Nodes, String> {
    let (service, adapter) = match topology {
        Topology::One => {
            return Ok(Nodes {
                servers: vec![Server::start(binary, &[])?],
                _service: None,
            })
        }
        Topology::Redis => (start_redis()?, "redis"),
        Topology::Postgres => (start_postgres()?, "postgres"),
    };
    let args = |id: &str| {
        vec![
            "--pubsub".to_owned(),
            service.url.clone(),
            "--node-id".to_owned(),
            id.to_owned(),
        ]
    };
    let servers = vec![
        Server::start(binary, &args("node-a"))?,
        Server::start(binary, &args("node-b"))?,
    ];
    wait_for(
        &format!("both nodes on {adapter}"),
        Duration::from_secs(20),
        || {
            servers.iter().all(|s| {
                http_get(&s.addr, "/api/health")
                    .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
                    .is_some_and(|h| {
                        h["pubsub"] == adapter
                            && h["peers"].as_array().is_some_and(|p| p.len() == 1)
                    })
            })
        },
    )?;
    Ok(Nodes {
        servers,
        _service: Some(service),
    })
}
