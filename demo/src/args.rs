//! Command-line arguments, read by clap (`tether-demo --help` lists them).

use crate::pubsub::{self, ClusterConfig};
use crate::security::{Origins, PushRate, Security};
use crate::store::StoreConfig;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub host: String,
    pub port: u16,
    pub static_dir: PathBuf,
    pub data_dir: PathBuf,
    pub security: Security,
    pub cluster: ClusterConfig,
    pub store: StoreConfig,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            host: "127.0.0.1".into(),
            port: 4000,
            static_dir: PathBuf::from("demo/static"),
            data_dir: PathBuf::from(crate::DEFAULT_DATA_DIR),
            security: Security::default(),
            cluster: ClusterConfig::default(),
            store: StoreConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgsError {
    /// `--help`: the text to print (then exit 0).
    Help(String),
    /// A bad argument: clap's message, with usage (then exit 2).
    Invalid(String),
}

/// `--idle-timeout-ms`: `None` for `off`.
#[derive(Debug, Clone)]
struct IdleTimeout(Option<Duration>);

fn idle_timeout(v: &str) -> Result<IdleTimeout, String> {
    match v {
        "off" => Ok(IdleTimeout(None)),
        ms => match ms.parse::<u64>() {
            Ok(ms) if ms >= 10 => Ok(IdleTimeout(Some(Duration::from_millis(ms)))),
            _ => Err("milliseconds, at least 10, or off".into()),
        },
    }
}

fn node_id(v: &str) -> Result<String, String> {
    if pubsub::is_valid_node_id(v) {
        Ok(v.to_owned())
    } else {
        Err("1-64 of A-Z a-z 0-9 _ . -".into())
    }
}

/// The command line, as clap reads it.
#[derive(Parser, Debug)]
#[command(
    name = "tether-demo",
    about = "Phoenix Channels V2 (JSON) demo server for tether: rooms, presence, notifications",
    after_help = "environment:\n  TETHER_DEMO_SECRET  key for signing tokens (default: random, made once per data dir, or kept in PostgreSQL with --store postgres://…)"
)]
struct Cli {
    /// address to bind
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    host: String,
    /// port to bind; 0 picks a free one
    #[arg(long, value_name = "PORT", default_value_t = 4000)]
    port: u16,
    /// files served at /
    #[arg(long, value_name = "DIR", default_value = "demo/static")]
    static_dir: PathBuf,
    /// where tether-demo.sqlite3 is kept; created if missing
    #[arg(long, value_name = "DIR", default_value = crate::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// comma-separated Origins that may open a WebSocket and call /api from a page (CORS): `*`,
    /// `self` (the request's Host), `scheme://host[:port]`, `scheme://host:*`; an upgrade or CORS
    /// preflight with another Origin gets 403, a request without Origin is allowed
    /// [default: self,http://127.0.0.1:*,http://localhost:*]
    #[arg(long, value_name = "LIST", value_parser = Origins::parse)]
    allowed_origins: Option<Origins>,
    /// pushes per second per socket, bursts of BURST (default 50/100; `off`: no limit); pushes
    /// over it get the error reply "rate limited"
    #[arg(long, value_name = "RATE[/BURST]", value_parser = PushRate::parse)]
    push_rate: Option<PushRate>,
    /// close a socket that sent nothing (no frame, no pong) for MS ms; it is pinged after MS/2
    /// (default 60000; `off`: never)
    #[arg(long, value_name = "MS", value_parser = idle_timeout)]
    idle_timeout_ms: Option<IdleTimeout>,
    /// where notifications (and the token secret) are kept: `sqlite` (default, in --data-dir) or
    /// `postgres://user[:password]@host[:port]/db` (tables made at start; the server exits if
    /// PostgreSQL cannot be reached then)
    #[arg(long, value_name = "STORE", value_parser = StoreConfig::parse)]
    store: Option<StoreConfig>,
    /// one adapter or a comma-separated fallback chain, tried in order at start and whenever the
    /// active one is lost: `redis://host[:port][/db]`, `postgres://user@host[:port]/db`
    /// (LISTEN/NOTIFY), `local` (this node only; must come last). Broadcasts, notifications and
    /// presence fan out to every node on the active adapter; /api/health names it. Default
    /// `local`; `auto` is `redis://127.0.0.1:6379,local`. Nodes of one cluster share
    /// notifications through --store postgres://… or one --data-dir
    #[arg(long, value_name = "CHAIN", value_parser = pubsub::Mode::parse)]
    pubsub: Option<pubsub::Mode>,
    /// this node's name in the cluster, 1-64 of A-Z a-z 0-9 _ . - (default: random)
    #[arg(long, value_name = "ID", value_parser = node_id)]
    node_id: Option<String>,
}

/// The help text.
pub fn usage() -> String {
    Cli::command().render_help().to_string()
}

/// Parse arguments (without the program name). Accepts `--flag value` and `--flag=value`.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Args, ArgsError> {
    let argv = std::iter::once("tether-demo".to_owned()).chain(args);
    let cli = Cli::try_parse_from(argv).map_err(|e| match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ArgsError::Help(e.to_string()),
        _ => ArgsError::Invalid(e.to_string()),
    })?;
    let mut security = Security::default();
    if let Some(origins) = cli.allowed_origins {
        security.origins = origins;
    }
    if let Some(rate) = cli.push_rate {
        security.push_rate = rate;
    }
    if let Some(idle) = cli.idle_timeout_ms {
        security.idle_timeout = idle.0;
    }
    Ok(Args {
        host: cli.host,
        port: cli.port,
        static_dir: cli.static_dir,
        data_dir: cli.data_dir,
        security,
        cluster: ClusterConfig {
            mode: cli.pubsub.unwrap_or_default(),
            node_id: cli.node_id,
        },
        store: cli.store.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Result<Args, ArgsError> {
        parse(v.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_flags() {
        assert_eq!(p(&[]), Ok(Args::default()));
        let a = p(&[
            "--host",
            "0.0.0.0",
            "--port=0",
            "--static-dir",
            "x",
            "--data-dir=d",
        ])
        .expect("valid");
        assert_eq!(a.data_dir, PathBuf::from("d"));
        assert_eq!(Args::default().data_dir, PathBuf::from("demo/data"));
        assert_eq!(a.host, "0.0.0.0");
        assert_eq!(a.port, 0);
        assert_eq!(a.static_dir, PathBuf::from("x"));
    }

    #[test]
    fn errors() {
        assert!(
            matches!(p(&["--help"]), Err(ArgsError::Help(h)) if h.contains("--pubsub <CHAIN>"))
        );
        assert!(usage().contains("TETHER_DEMO_SECRET"));
        assert!(matches!(p(&["--port"]), Err(ArgsError::Invalid(_))));
        assert!(matches!(
            p(&["--port", "99999"]),
            Err(ArgsError::Invalid(_))
        ));
        assert!(matches!(p(&["--nope"]), Err(ArgsError::Invalid(_))));
        assert!(matches!(
            p(&["--allowed-origins", "ftp://x"]),
            Err(ArgsError::Invalid(_))
        ));
        assert!(matches!(
            p(&["--push-rate=fast"]),
            Err(ArgsError::Invalid(_))
        ));
    }

    #[test]
    fn cluster_flags() {
        use crate::pubsub::Adapter;
        use crate::pubsub::Mode;
        assert_eq!(Args::default().cluster.mode, Mode(vec![Adapter::Local]));
        let a = p(&["--pubsub", "redis://127.0.0.1:7000", "--node-id=n1"]).expect("valid");
        assert_eq!(
            a.cluster.mode,
            Mode(vec![Adapter::Redis("redis://127.0.0.1:7000".into())])
        );
        assert_eq!(a.cluster.node_id.as_deref(), Some("n1"));
        assert_eq!(
            p(&["--pubsub=auto"]).map(|a| a.cluster.mode),
            Mode::parse("redis://127.0.0.1:6379,local").map_err(ArgsError::Invalid)
        );
        let a = p(&["--pubsub", "redis://r,postgres://u@db/app,local"]).expect("valid");
        assert_eq!(a.cluster.mode.0.len(), 3);
        let a = p(&["--store", "postgres://u@db:5433/app"]).expect("valid");
        assert_eq!(
            a.store,
            StoreConfig::Postgres("postgres://u@db:5433/app".into())
        );
        assert_eq!(Args::default().store, StoreConfig::Sqlite);
        assert!(matches!(
            p(&["--store", "mysql://x"]),
            Err(ArgsError::Invalid(_))
        ));
        assert!(matches!(
            p(&["--pubsub", "nats://x"]),
            Err(ArgsError::Invalid(_))
        ));
        assert!(matches!(
            p(&["--node-id", "a b"]),
            Err(ArgsError::Invalid(_))
        ));
    }

    #[test]
    fn security_flags() {
        let a = p(&[
            "--allowed-origins=https://app.example,self",
            "--push-rate",
            "5/7",
        ])
        .expect("valid");
        assert!(a.security.origins.allows(Some("https://app.example"), None));
        assert!(!a
            .security
            .origins
            .allows(Some("http://localhost:1"), Some("x")));
        assert_eq!(
            a.security.push_rate,
            PushRate {
                per_sec: 5,
                burst: 7
            }
        );
        assert_eq!(Args::default().security, Security::default());
    }

    #[test]
    fn idle_timeout_flag() {
        assert_eq!(
            Args::default().security.idle_timeout,
            Some(Duration::from_secs(60))
        );
        let a = p(&["--idle-timeout-ms", "1500"]).expect("valid");
        assert_eq!(a.security.idle_timeout, Some(Duration::from_millis(1500)));
        let a = p(&["--idle-timeout-ms=off"]).expect("valid");
        assert_eq!(a.security.idle_timeout, None);
        for bad in ["0", "9", "-1", "1s", ""] {
            assert!(
                matches!(p(&["--idle-timeout-ms", bad]), Err(ArgsError::Invalid(_))),
                "{bad:?}"
            );
        }
    }
}
