//! tether-demo: a Phoenix Channels V2 (JSON) server for exercising the tether client.

pub mod log;

pub mod args;
pub mod auth;
pub mod binary_frame;
pub mod channels;
pub mod clock;
pub mod cluster_presence;
pub mod dialects;
pub mod frame;
pub mod http;
pub mod hub;
pub mod liveness;
pub mod presence;
pub mod pubsub;
pub mod security;
pub mod session;
pub mod shutdown;
pub mod socket;
pub mod state;
pub mod store;

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

/// Upper bound for shutdown: sockets closed with 1012 and the HTTP server stopped.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_millis(900);

/// Where the data directory goes when `--data-dir` is not given.
pub const DEFAULT_DATA_DIR: &str = "demo/data";
/// The environment variable holding the token secret.
pub const SECRET_ENV: &str = "TETHER_DEMO_SECRET";

#[derive(Clone)]
pub struct Config {
    pub static_dir: PathBuf,
    /// Holds `tether-demo.sqlite3`; created if missing.
    pub data_dir: PathBuf,
    /// The HMAC key for tokens. `None`: a random one made on first start and kept in the
    /// database, so tokens stay valid across restarts on the same data directory.
    pub secret: Option<Vec<u8>>,
    /// The Origin allow-list and the push rate limit of sockets.
    pub security: security::Security,
    /// `--pubsub` and `--node-id`: a lone node (default) or fan-out through Redis.
    pub cluster: pubsub::ClusterConfig,
    /// `--store`: SQLite in `data_dir` (default) or PostgreSQL.
    pub store: store::StoreConfig,
}

impl Config {
    /// Static files from `static_dir`, data in `data_dir`, the secret kept in the database.
    pub fn new(static_dir: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Config {
        Config {
            static_dir: static_dir.into(),
            data_dir: data_dir.into(),
            secret: None,
            security: security::Security::default(),
            cluster: pubsub::ClusterConfig::default(),
            store: store::StoreConfig::default(),
        }
    }

    /// The secret from `TETHER_DEMO_SECRET` when it is set and not empty.
    pub fn secret_from_env() -> Option<Vec<u8>> {
        std::env::var_os(SECRET_ENV)
            .map(|v| v.into_encoded_bytes())
            .filter(|v| !v.is_empty())
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("static_dir", &self.static_dir)
            .field("data_dir", &self.data_dir)
            .field("secret", &self.secret.as_ref().map(|_| "<hidden>"))
            .field("security", &self.security)
            .field("cluster", &self.cluster)
            .field("store", &self.store)
            .finish()
    }
}

/// What `serve_ready` needs that may fail: the opened store and the token key.
pub struct Ready {
    config: Config,
    store: store::Store,
    db_path: String,
    auth: auth::Auth,
    secret_from_env: bool,
}

/// Open the data directory's database and settle the token secret (nothing is logged, so a
/// caller can announce its address first).
pub async fn open(config: Config) -> std::io::Result<Ready> {
    let store = store::Store::open_config(&config.store, config.data_dir.clone()).await?;
    let db_path = store.location.clone();
    let (secret, secret_from_env) = match config.secret.clone() {
        Some(secret) => (secret, true),
        None => (store.secret().await.map_err(std::io::Error::other)?, false),
    };
    Ok(Ready {
        config,
        store,
        db_path,
        auth: auth::Auth::new(&secret),
        secret_from_env,
    })
}

/// `open`, then `serve_ready`.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_ready(listener, open(config).await?, shutdown).await
}

/// Serve on `listener` until `shutdown` completes, then close every socket with 1012 and return
/// within `SHUTDOWN_BUDGET`.
pub async fn serve_ready(
    listener: TcpListener,
    ready: Ready,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Ready {
        config,
        store,
        db_path,
        auth,
        secret_from_env,
    } = ready;
    log!("notifications stored in {db_path}");
    if secret_from_env {
        log!("token secret from {SECRET_ENV}");
    } else {
        log!("token secret kept in the database");
    }
    let hub = hub::Hub::new();
    let cluster = pubsub::start(&config.cluster, &hub).await;
    let sockets = TaskTracker::new();
    let state = state::AppState {
        hub: hub.clone(),
        sockets: sockets.clone(),
        store,
        auth,
        security: std::sync::Arc::new(config.security.clone()),
    };
    if !config.static_dir.is_dir() {
        log!(
            "static dir {} does not exist; only the API and socket are served",
            config.static_dir.display()
        );
    }
    let app =
        http::router(state, &config.static_dir).into_make_service_with_connect_info::<SocketAddr>();
    let mut stop = hub.shutdown_signal();
    // Small frames go out at once: without TCP_NODELAY a reply can wait ~40 ms for a delayed ACK.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = stop.wait_for(|down| *down).await;
    });
    let mut server = tokio::spawn(server.into_future());

    tokio::select! {
        () = shutdown => {}
        result = &mut server => {
            return result.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        }
    }

    log!("shutting down: closing sockets with 1012");
    hub.begin_shutdown();
    sockets.close();
    let deadline = tokio::time::Instant::now() + SHUTDOWN_BUDGET;
    if tokio::time::timeout_at(deadline, sockets.wait())
        .await
        .is_err()
    {
        log!("shutdown: some sockets did not finish closing in time");
    }
    cluster.finish(deadline).await;
    match tokio::time::timeout_at(deadline, &mut server).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(std::io::Error::other(e)),
        Err(_) => {
            server.abort();
            Ok(())
        }
    }
}
