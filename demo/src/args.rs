//! Command-line arguments.

use crate::pubsub::{self, ClusterConfig};
use crate::security::{Origins, PushRate, Security};
use std::path::PathBuf;

pub const USAGE: &str =
    "usage: tether-demo [--host HOST] [--port PORT] [--static-dir DIR] [--data-dir DIR] [OPTIONS]
  --host HOST        address to bind (default 127.0.0.1)
  --port PORT        port to bind; 0 picks a free one (default 4000)
  --static-dir DIR   files served at / (default demo/static)
  --data-dir DIR     where tether-demo.sqlite3 is kept; created if missing (default demo/data)
  --allowed-origins LIST
                     comma-separated Origins that may open a WebSocket and call /api from
                     a page (CORS): `*`, `self` (the request's Host), `scheme://host[:port]`,
                     `scheme://host:*`; an upgrade or CORS preflight with another Origin gets
                     403, a request without Origin is allowed
                     (default self,http://127.0.0.1:*,http://localhost:*)
  --push-rate RATE[/BURST]
                     pushes per second per socket, bursts of BURST (default 50/100; `off`: no
                     limit); pushes over it get the error reply \"rate limited\"
  --idle-timeout-ms MS
                     close a socket that sent nothing (no frame, no pong) for MS ms; it is
                     pinged after MS/2 (default 60000; `off`: never)
  --store STORE      where notifications (and the token secret) are kept: `sqlite` (default,
                     in --data-dir) or `postgres://user[:password]@host[:port]/db` (tables
                     made at start; the server exits if PostgreSQL cannot be reached then)
  --pubsub CHAIN     one adapter or a comma-separated fallback chain, tried in order at start
                     and whenever the active one is lost: `redis://host[:port][/db]`,
                     `postgres://user@host[:port]/db` (LISTEN/NOTIFY), `local` (this node
                     only; must come last). Broadcasts, notifications and presence fan out to
                     every node on the active adapter; /api/health names it. Default `local`;
                     `auto` is `redis://127.0.0.1:6379,local`. Nodes of one cluster share
                     notifications through --store postgres://… or one --data-dir
  --node-id ID       this node's name in the cluster, 1-64 of A-Z a-z 0-9 _ . -
                     (default: random)
environment:
  TETHER_DEMO_SECRET  key for signing tokens (default: random, made once per data dir)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub host: String,
    pub port: u16,
    pub static_dir: PathBuf,
    pub data_dir: PathBuf,
    pub security: Security,
    pub cluster: ClusterConfig,
    pub store: crate::store::StoreConfig,
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
            store: crate::store::StoreConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgsError {
    Help,
    Invalid(String),
}

/// Parse arguments (without the program name). Accepts `--flag value` and `--flag=value`.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Args, ArgsError> {
    let mut out = Args::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            return Err(ArgsError::Help);
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| ArgsError::Invalid(format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--host" => out.host = value()?,
            "--port" => {
                let v = value()?;
                out.port = v
                    .parse()
                    .map_err(|_| ArgsError::Invalid(format!("bad --port {v:?}")))?;
            }
            "--static-dir" => out.static_dir = PathBuf::from(value()?),
            "--data-dir" => out.data_dir = PathBuf::from(value()?),
            "--allowed-origins" => {
                out.security.origins = Origins::parse(&value()?).map_err(ArgsError::Invalid)?;
            }
            "--push-rate" => {
                out.security.push_rate = PushRate::parse(&value()?).map_err(ArgsError::Invalid)?;
            }
            "--idle-timeout-ms" => {
                let v = value()?;
                out.security.idle_timeout = match v.as_str() {
                    "off" => None,
                    ms => match ms.parse::<u64>() {
                        Ok(ms) if ms >= 10 => Some(std::time::Duration::from_millis(ms)),
                        _ => {
                            return Err(ArgsError::Invalid(format!(
                                "bad --idle-timeout-ms {v:?} (milliseconds, at least 10, or off)"
                            )))
                        }
                    },
                };
            }
            "--store" => {
                out.store =
                    crate::store::StoreConfig::parse(&value()?).map_err(ArgsError::Invalid)?;
            }
            "--pubsub" => {
                out.cluster.mode = pubsub::Mode::parse(&value()?).map_err(ArgsError::Invalid)?;
            }
            "--node-id" => {
                let v = value()?;
                if !pubsub::is_valid_node_id(&v) {
                    return Err(ArgsError::Invalid(format!("bad --node-id {v:?}")));
                }
                out.cluster.node_id = Some(v);
            }
            _ => return Err(ArgsError::Invalid(format!("unknown argument {arg:?}"))),
        }
    }
    Ok(out)
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
        assert_eq!(p(&["--help"]), Err(ArgsError::Help));
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
        use crate::pubsub::Mode;
        use crate::pubsub::Adapter;
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
            crate::store::StoreConfig::Postgres("postgres://u@db:5433/app".into())
        );
        assert_eq!(Args::default().store, crate::store::StoreConfig::Sqlite);
        assert!(matches!(p(&["--store", "mysql://x"]), Err(ArgsError::Invalid(_))));
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
        use std::time::Duration;
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
