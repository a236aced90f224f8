//! Starting the demo server (`--port 0`, its own scratch data directory, no push rate limit),
//! reading the address it announces, and stopping it by its PID.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Server {
    child: Child,
    /// Frames the server dropped because a client's outbox was full (its log says so).
    pub dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
    data_dir: PathBuf,
    /// `127.0.0.1:PORT`
    pub addr: String,
}

impl Server {
    /// Spawn `binary` (with `extra` arguments) and wait (up to 20 s) for "tether-demo
    /// listening on http://ADDR".
    pub fn start(binary: &Path, extra: &[String]) -> Result<Server, String> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let data_dir = std::env::temp_dir().join(format!(
            "tether-loadgen-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        let mut child = Command::new(binary)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--push-rate",
                "off",
                "--data-dir",
            ])
            .arg(&data_dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let dropped2 = dropped.clone();
        // Read the announcement, then keep draining the per-connection log (a full pipe would
        // block the server).
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut me = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    me = addr.trim().to_owned();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(me.clone());
                    }
                } else if line.contains("outbox full, dropping a frame") {
                    dropped2.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                } else if line.contains("] pubsub:") {
                    // What the adapter did (connected, lost, switched) belongs with the figures.
                    eprintln!("tether-loadgen: server {me}: {line}");
                }
            }
        });
        let mut server = Server {
            child,
            dropped,
            data_dir,
            addr: String::new(),
        };
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(addr) => {
                server.addr = addr;
                Ok(server)
            }
            Err(_) => Err(format!("{} did not announce its address", binary.display())),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// The demo server binary: `target/demo/tether-demo` (the `demo` profile), else the release or
/// debug build, relative to the working directory (the repository root).
pub fn default_binary() -> Option<PathBuf> {
    [
        "target/demo/tether-demo",
        "target/release/tether-demo",
        "target/debug/tether-demo",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// User + system CPU time of a process so far, in seconds (Linux `/proc/PID/stat`).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks())
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}
