//! tether-loadgen — P6 of BENCHMARKS.md: the demo server's fan-out to 1,000 WebSocket clients
//! on loopback, and (`native`) the writer of the native criterion section.
//!
//! ```text
//! tether-loadgen [--clients N] [--secs S] [--rates MS,MS] [--quick] [--write] [--md FILE]
//!                [--server BIN | --url HOST:PORT] [--topic room:NAME]
//!                [--nodes one,redis,postgres]
//! tether-loadgen native [--write] [--md FILE] [--criterion-dir DIR]
//! ```
//!
//! Without `--url` it starts the demo server itself (`target/demo/tether-demo`, else the
//! release or debug build) with `--port 0 --push-rate off` and a scratch data directory, and
//! kills it by PID at the end. N clients join one room, then one sender pushes `new_msg` every
//! RATE ms for S seconds per rate; each body carries the send time and a sequence number.
//!
//! `--nodes` runs the same load once per topology — one node, two nodes through a Redis it
//! starts, two through a PostgreSQL it starts (see `cluster`) — with the clients alternating
//! between the nodes and the sender on the first, and writes them side by side (section
//! `fanout-nodes`).

mod client;
mod clock;
mod cluster;
mod native;
mod probe;
mod report;
mod sender;
mod server;

use report::{dur, summarize, thousands, Summary};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USAGE: &str =
    "usage: tether-loadgen [--clients N] [--secs S] [--rates MS,MS] [--quick] [--write] [--md FILE]
                      [--server BIN | --url HOST:PORT] [--topic room:NAME]
       tether-loadgen native [--write] [--md FILE] [--criterion-dir DIR]
  --clients N     receiving WebSocket clients (default 1000; --quick: 100)
  --secs S        seconds of sending per rate (default 60; --quick: 5)
  --rates MS,MS   one broadcast every MS milliseconds, one phase per value (default 50,10)
  --write         replace the fanout (or native) section of BENCHMARKS.md with the table
  --md FILE       the Markdown file --write rewrites (default BENCHMARKS.md)
  --server BIN    the demo server to start (default target/demo/tether-demo, else release, debug)
  --url HOST:PORT use a running server instead (its --push-rate must allow 100 pushes/s)
  --topic TOPIC   the room (default room:loadgen)
  --nodes LIST    run once per topology, side by side: `one` (one node), `redis` (two nodes
                  through a redis-server started here), `postgres` (two nodes through a
                  PostgreSQL started here); --write then rewrites the fanout-nodes section";

struct Opts {
    clients: usize,
    secs: f64,
    rates: Vec<u64>,
    write: bool,
    md: PathBuf,
    server: Option<PathBuf>,
    url: Option<String>,
    topic: String,
    nodes: Vec<cluster::Topology>,
}

fn parse(args: Vec<String>) -> Result<Opts, String> {
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Opts {
        clients: if quick { 100 } else { 1000 },
        secs: if quick { 5.0 } else { 60.0 },
        rates: vec![50, 10],
        write: false,
        md: PathBuf::from("BENCHMARKS.md"),
        server: None,
        url: None,
        topic: "room:loadgen".into(),
        nodes: Vec::new(),
    };
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--quick" => {}
            "--write" => o.write = true,
            "--clients" => o.clients = num(&val()?)?,
            "--secs" => o.secs = num(&val()?)?,
            "--rates" => {
                o.rates = val()?.split(',').map(num).collect::<Result<_, _>>()?;
            }
            "--md" => o.md = PathBuf::from(val()?),
            "--server" => o.server = Some(PathBuf::from(val()?)),
            "--url" => o.url = Some(val()?),
            "--topic" => o.topic = val()?,
            "--nodes" => {
                o.nodes = val()?
                    .split(',')
                    .map(|t| cluster::Topology::parse(t.trim()))
                    .collect::<Result<_, _>>()?;
            }
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown argument {a:?}\n{USAGE}")),
        }
    }
    if o.clients == 0 || o.rates.is_empty() || o.rates.contains(&0) || o.secs <= 0.0 {
        return Err("--clients, --secs and every rate must be positive".into());
    }
    if !o.topic.starts_with("room:") {
        return Err("--topic must be a room:* topic".into());
    }
    if !o.nodes.is_empty() && o.url.is_some() {
        return Err("--nodes starts its own servers; it does not take --url".into());
    }
    Ok(o)
}

fn num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.trim().parse().map_err(|_| format!("not a number: {s:?}"))
}

fn main() {
    clock::start();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some("native") {
        native::main(args[1..].to_vec())
    } else {
        parse(args).and_then(|o| {
            if o.nodes.is_empty() {
                fanout(o)
            } else {
                fanout_nodes(o)
            }
        })
    };
    if let Err(e) = result {
        eprintln!("tether-loadgen: {e}");
        std::process::exit(2);
    }
}

/// One phase's figures.
struct PhaseResult {
    interval_ms: u64,
    sent: u64,
    expected: u64,
    received: u64,
    gaps: u64,
    out_of_order: u64,
    latency: Summary,
    record: Summary,
    read_delay: Summary,
    send_lag: Summary,
    /// CPU seconds per wall second (1.0 = one core) of the generator and of the server.
    cpu_gen: f64,
    cpu_server: Option<f64>,
    /// Generator CPU time per delivered frame, ns.
    gen_ns_per_delivery: f64,
}

fn fanout(o: Opts) -> Result<(), String> {
    let want = (o.clients as u64) * 2 + 512;
    let got = rlimit::increase_nofile_limit(want).map_err(|e| format!("open-files limit: {e}"))?;
    if got < o.clients as u64 + 64 {
        return Err(format!(
            "open-files limit {got} is too low for {} clients",
            o.clients
        ));
    }
    let (server, addr, server_label) = match &o.url {
        Some(url) => {
            let addr = url
                .trim_start_matches("ws://")
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let label = format!("a running server at {addr}");
            (None, addr, label)
        }
        None => {
            let bin =
                o.server.clone().or_else(server::default_binary).ok_or(
                    "no demo server binary: run `cargo build --profile demo -p tether-demo`",
                )?;
            let s = server::Server::start(&bin, &[])?;
            let addr = s.addr.clone();
            (Some(s), addr, format!("`{}`", bin.display()))
        }
    };
    let server_pids: Vec<u32> = server.iter().map(server::Server::pid).collect();
    eprintln!(
        "tether-loadgen: {} clients, {} s per rate, rates {:?} ms, server {addr}",
        o.clients, o.secs, o.rates
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let workers = rt.metrics().num_workers();
    let (results, idle) = rt.block_on(run(&o, std::slice::from_ref(&addr), &server_pids))?;
    drop(rt);
    drop(server);

    let table = markdown(&o, &results, &idle, &server_label, workers);
    println!("{table}");
    if o.write {
        report::write_section(&o.md, "fanout", "## P6 — server fan-out", &table)
            .map_err(|e| format!("{}: {e}", o.md.display()))?;
        eprintln!(
            "tether-loadgen: wrote the fanout section of {}",
            o.md.display()
        );
    }
    let lost: u64 = results
        .iter()
        .map(|r| r.expected - r.received.min(r.expected))
        .sum();
    if lost > 0 {
        eprintln!("tether-loadgen: {lost} deliveries lost");
    }
    Ok(())
}

/// CPU seconds so far of all `pids` (None when one cannot be read, or there are none).
fn servers_cpu(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| server::cpu_seconds(p)).sum()
}

/// `--nodes`: the load once per topology; the figures side by side.
fn fanout_nodes(o: Opts) -> Result<(), String> {
    let want = (o.clients as u64) * 2 + 512;
    let got = rlimit::increase_nofile_limit(want).map_err(|e| format!("open-files limit: {e}"))?;
    if got < o.clients as u64 + 64 {
        return Err(format!(
            "open-files limit {got} is too low for {} clients",
            o.clients
        ));
    }
    let bin = o
        .server
        .clone()
        .or_else(server::default_binary)
        .ok_or("no demo server binary: run `cargo build --profile demo -p tether-demo`")?;
    let mut all = Vec::new();
    for &topology in &o.nodes {
        let nodes = cluster::start(&bin, topology)?;
        let addrs: Vec<String> = nodes.servers.iter().map(|s| s.addr.clone()).collect();
        let pids: Vec<u32> = nodes.servers.iter().map(server::Server::pid).collect();
        eprintln!(
            "tether-loadgen: {}: {} clients over {addrs:?}, {} s per rate, rates {:?} ms",
            topology.label(),
            o.clients,
            o.secs,
            o.rates
        );
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let (results, _) = rt.block_on(run(&o, &addrs, &pids))?;
        drop(rt);
        // Let the drain threads read the last log lines.
        std::thread::sleep(Duration::from_millis(200));
        let dropped: u64 = nodes
            .servers
            .iter()
            .map(|s| s.dropped.load(Ordering::Relaxed))
            .sum();
        drop(nodes);
        all.push((topology, results, load_average(), dropped));
    }
    let table = markdown_nodes(&o, &all, &bin);
    println!("{table}");
    if o.write {
        report::write_section(&o.md, "fanout-nodes", "### P6 across nodes", &table)
            .map_err(|e| format!("{}: {e}", o.md.display()))?;
        eprintln!(
            "tether-loadgen: wrote the fanout-nodes section of {}",
            o.md.display()
        );
    }
    Ok(())
}

/// The 1-minute load average (Linux `/proc/loadavg`): how busy the machine was besides us.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn markdown_nodes(
    o: &Opts,
    all: &[(cluster::Topology, Vec<PhaseResult>, Option<f64>, u64)],
    bin: &std::path::Path,
) -> String {
    let names: Vec<&str> = all
        .iter()
        .map(|(t, _, _, _)| match t {
            cluster::Topology::One => "one",
            cluster::Topology::Redis => "redis",
            cluster::Topology::Postgres => "postgres",
        })
        .collect();
    let mut s = format!(
        "Machine: {}. Server: `{}`, `--push-rate off`; two nodes: `--pubsub` on a redis-server or \
         a PostgreSQL (Debian's, fsync off) started by the generator on loopback. {} clients in \
         one room (`{}`), alternating between the nodes; 1 sender on the first node, so half the \
         deliveries cross the adapter. {} s per rate. Latency = receive − send time on the \
         generator's clock, every delivery counted; *lost* = not received within 5 s of the \
         last send. *Load* = the machine's 1-minute load average after the topology's run \
         (2 cores: above 2, the runs waited for CPU). *Dropped* = frames the servers dropped over \
         the whole run (both rates) because a client's outbox (1,024 frames) was full. Command: `{} --nodes {}`.\n\n",
        report::machine_line(),
        bin.display(),
        thousands(o.clients as u64),
        o.topic,
        secs(o.secs),
        command_line(o),
        names.join(","),
    );
    s.push_str("| broadcast every | nodes | sent | deliveries expected | received | lost | gaps | p50 | p99 | p99.9 | max | server CPU (cores) | load | dropped |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (i, &ms) in o.rates.iter().enumerate() {
        for (topology, results, load, dropped) in all {
            let Some(r) = results.get(i) else { continue };
            s.push_str(&format!(
                "| {ms} ms | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                topology.label(),
                thousands(r.sent),
                thousands(r.expected),
                thousands(r.received),
                thousands(r.expected.saturating_sub(r.received)),
                r.gaps + r.out_of_order,
                dur(r.latency.p50),
                dur(r.latency.p99),
                dur(r.latency.p999),
                dur(r.latency.max),
                r.cpu_server.map_or("–".into(), |c| format!("{c:.2}")),
                load.map_or("–".into(), |l| format!("{l:.1}")),
                thousands(*dropped),
            ));
        }
    }
    s
}

async fn run(
    o: &Opts,
    addrs: &[String],
    server_pids: &[u32],
) -> Result<(Vec<PhaseResult>, Summary), String> {
    let phases = o.rates.len();
    let probe = probe::Probe::start(phases + 1)
        .await
        .map_err(|e| format!("probe: {e}"))?;
    // The read delay of an idle generator: the floor (kernel loopback + waking the runtime).
    probe.record_into(phases);
    tokio::time::sleep(Duration::from_millis(500)).await;
    probe.record_into(probe::NONE);
    let idle = summarize(&mut probe.take(phases));

    let counts: Vec<u64> = o
        .rates
        .iter()
        .map(|&ms| ((o.secs * 1000.0) / ms as f64).round().max(1.0) as u64)
        .collect();
    let capacity: Arc<Vec<usize>> = Arc::new(counts.iter().map(|&c| c as usize + 16).collect());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let shared = Arc::new(client::Shared {
        delivered: (0..phases).map(|_| AtomicU64::new(0)).collect(),
        frames: AtomicU64::new(0),
        stop: stop_rx,
    });

    // Connect and join, 64 handshakes at a time.
    let urls: Vec<String> = addrs
        .iter()
        .map(|addr| format!("ws://{addr}/socket/websocket?vsn=2.0.0"))
        .collect();
    let started = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    let (joined_tx, mut joined_rx) = tokio::sync::mpsc::channel::<Result<(), String>>(o.clients);
    let mut handles = Vec::with_capacity(o.clients);
    for i in 0..o.clients {
        let (url, topic, gate, shared, capacity) = (
            urls[i % urls.len()].clone(),
            o.topic.clone(),
            gate.clone(),
            shared.clone(),
            capacity.clone(),
        );
        let joined = joined_tx.clone();
        let n = o.clients;
        handles.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let ws = client::connect(&url, &topic, &format!("c{i}")).await;
            drop(permit);
            match ws {
                Ok(ws) => {
                    let _ = joined.send(Ok(())).await;
                    client::run(ws, shared, &capacity, i, n).await
                }
                Err(e) => {
                    let _ = joined.send(Err(e)).await;
                    Vec::new()
                }
            }
        }));
    }
    drop(joined_tx);
    for _ in 0..o.clients {
        match joined_rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(format!("a client failed: {e}")),
            None => return Err("clients ended before joining".into()),
        }
    }
    let topic = o.topic.clone();
    let addr2 = addrs[0].clone();
    let mut sender = tokio::task::spawn_blocking(move || sender::Sender::connect(&addr2, &topic))
        .await
        .map_err(|e| e.to_string())??;
    // Let the presence traffic of the joins (a diff to every member per join) die down.
    let mut last = u64::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = shared.frames.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
    }
    eprintln!(
        "tether-loadgen: {} clients joined and settled in {:.1} s",
        o.clients,
        started.elapsed().as_secs_f64()
    );

    let mut results = Vec::new();
    for (phase, (&ms, &count)) in o.rates.iter().zip(&counts).enumerate() {
        let expected = count * o.clients as u64;
        let cpu0 = (
            server::cpu_seconds(std::process::id()),
            servers_cpu(server_pids),
        );
        let wall0 = Instant::now();
        probe.record_into(phase);
        let (s, sent) = tokio::task::spawn_blocking(move || {
            let r = sender.run_phase(phase, Duration::from_millis(ms), count);
            (sender, r)
        })
        .await
        .map_err(|e| e.to_string())?;
        sender = s;
        let mut sent = sent?;
        // Wait for the last deliveries (at most 5 s).
        let deadline = Instant::now() + Duration::from_secs(5);
        while shared.delivered[phase].load(Ordering::Relaxed) < expected
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        probe.record_into(probe::NONE);
        let wall = wall0.elapsed().as_secs_f64();
        let cpu1 = (
            server::cpu_seconds(std::process::id()),
            servers_cpu(server_pids),
        );
        let cpu_gen = match (cpu0.0, cpu1.0) {
            (Some(a), Some(b)) => b - a,
            _ => f64::NAN,
        };
        let cpu_server = match (cpu0.1, cpu1.1) {
            (Some(a), Some(b)) => Some((b - a) / wall),
            _ => None,
        };
        let delivered = shared.delivered[phase].load(Ordering::Relaxed);
        eprintln!(
            "tether-loadgen: every {ms} ms: sent {}, delivered {delivered} of {expected}",
            sent.count
        );
        results.push(PhaseResult {
            interval_ms: ms,
            sent: sent.count,
            expected,
            received: 0,
            gaps: 0,
            out_of_order: 0,
            latency: Summary::default(),
            record: Summary::default(),
            read_delay: summarize(&mut probe.take(phase)),
            send_lag: summarize(&mut sent.lag_ns),
            cpu_gen: cpu_gen / wall,
            cpu_server,
            gen_ns_per_delivery: cpu_gen * 1e9 / delivered.max(1) as f64,
        });
    }

    let _ = stop_tx.send(true);
    let mut latency: Vec<Vec<u32>> = vec![Vec::new(); phases];
    let mut record: Vec<Vec<u32>> = vec![Vec::new(); phases];
    for h in handles {
        let recs = h.await.map_err(|e| e.to_string())?;
        for (p, rec) in recs.into_iter().enumerate() {
            let r = &mut results[p];
            r.received += rec.received;
            r.gaps += rec.gaps;
            r.out_of_order += rec.out_of_order;
            latency[p].extend_from_slice(&rec.latency_ns);
            record[p].extend_from_slice(&rec.record_ns);
        }
    }
    sender.close();
    for (p, r) in results.iter_mut().enumerate() {
        r.latency = summarize(&mut latency[p]);
        r.record = summarize(&mut record[p]);
    }
    Ok((results, idle))
}

fn markdown(
    o: &Opts,
    results: &[PhaseResult],
    idle: &Summary,
    server: &str,
    workers: usize,
) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "Machine: {}. Server: {server}, `--push-rate off`. {} clients and 1 sender in one room \
         (`{}`), {} s per rate; generator (tokio, {workers} worker threads) and server share the \
         machine. Latency = receive − send time on the generator's clock, every delivery \
         counted. Command: `{}`.\n\n",
        report::machine_line(),
        thousands(o.clients as u64),
        o.topic,
        secs(o.secs),
        command_line(o),
    ));
    s.push_str("| broadcast every | sent | deliveries expected | received | lost | gaps | p50 | p99 | p99.9 | max |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for r in results {
        s.push_str(&format!(
            "| {} ms | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.interval_ms,
            thousands(r.sent),
            thousands(r.expected),
            thousands(r.received),
            thousands(r.expected.saturating_sub(r.received)),
            r.gaps + r.out_of_order,
            dur(r.latency.p50),
            dur(r.latency.p99),
            dur(r.latency.p999),
            dur(r.latency.max),
        ));
    }
    s.push_str(&format!(
        "\nWhat the generator itself adds. *Read delay*: a byte written to a loopback socket every \
         1 ms by another thread, until the generator's runtime reads it (kernel hop + polling \
         delay; idle generator: p50 {} / p99 {}). *Frame → recorded*: from the WebSocket \
         reader handing over a frame to its latency being stored. *Send lag*: the sender \
         thread's actual − intended send time (not part of the latency: the body carries the \
         actual time). CPU in cores (1.0 = one core of {}).\n\n",
        dur(idle.p50),
        dur(idle.p99),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    ));
    s.push_str("| broadcast every | read delay p50 / p99 / max | frame → recorded p50 / p99 | send lag p50 / p99 / max | CPU generator / server | generator CPU per delivery |\n");
    s.push_str("|---|---|---|---|---|---|\n");
    for r in results {
        s.push_str(&format!(
            "| {} ms | {} / {} / {} | {} / {} | {} / {} / {} | {:.2} / {} | {} |\n",
            r.interval_ms,
            dur(r.read_delay.p50),
            dur(r.read_delay.p99),
            dur(r.read_delay.max),
            dur(r.record.p50),
            dur(r.record.p99),
            dur(r.send_lag.p50),
            dur(r.send_lag.p99),
            dur(r.send_lag.max),
            r.cpu_gen,
            r.cpu_server.map_or("–".into(), |c| format!("{c:.2}")),
            dur(r.gen_ns_per_delivery as u64),
        ));
    }
    s.push('\n');
    for r in results {
        let added50 = r.read_delay.p50 + r.record.p50;
        let added99 = r.read_delay.p99 + r.record.p99;
        let share = r
            .cpu_server
            .map(|srv| {
                format!(
                    "used {:.2} of the {:.2} cores busy ({:.0} %) and ",
                    r.cpu_gen,
                    r.cpu_gen + srv,
                    100.0 * r.cpu_gen / (r.cpu_gen + srv)
                )
            })
            .unwrap_or_default();
        s.push_str(&format!(
            "- Every {} ms: the generator {share}added at most about {} to the p50 of {} ({}) \
             and {} to the p99 of {} ({}): read delay + frame → recorded, an upper bound since \
             the read delay also holds the kernel's loopback hop and the time the server had \
             both cores.\n",
            r.interval_ms,
            dur(added50),
            dur(r.latency.p50),
            pct(added50, r.latency.p50),
            dur(added99),
            dur(r.latency.p99),
            pct(added99, r.latency.p99),
        ));
    }
    s
}

fn secs(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        format!("{s}")
    }
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.0} %", 100.0 * part as f64 / whole as f64)
    }
}

fn command_line(o: &Opts) -> String {
    let rates: Vec<String> = o.rates.iter().map(u64::to_string).collect();
    format!(
        "tether-loadgen --clients {} --secs {} --rates {}",
        o.clients,
        secs(o.secs),
        rates.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<Opts, String> {
        parse(a.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn flags() {
        let o = p(&[]).unwrap();
        assert_eq!(
            (o.clients, o.secs, o.rates.clone()),
            (1000, 60.0, vec![50, 10])
        );
        let q = p(&["--quick", "--secs", "3"]).unwrap();
        assert_eq!((q.clients, q.secs), (100, 3.0));
        let r = p(&["--rates", "20,5", "--clients", "7", "--write"]).unwrap();
        assert_eq!(
            (r.rates.clone(), r.clients, r.write),
            (vec![20, 5], 7, true)
        );
        assert!(p(&["--rates", "0"]).is_err());
        assert!(p(&["--clients"]).is_err());
        assert!(p(&["--topic", "user:x"]).is_err());
        assert!(p(&["--nope"]).is_err());
        assert_eq!(
            command_line(&p(&["--quick", "--secs", "3"]).unwrap()),
            "tether-loadgen --clients 100 --secs 3 --rates 50,10"
        );
    }
}
