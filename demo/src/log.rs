//! Logging through `tracing`: `log!` lines (`[tether-demo] …`, level info) and the structured
//! telemetry events of the pub/sub adapters (target `tether_demo::telemetry`, see
//! `pubsub::node`). `init` installs the subscriber the binary uses: one line per event on
//! stdout, no timestamps, fields as `key=value`; `RUST_LOG` filters (default `info`; the
//! per-broadcast telemetry is `debug`). Write errors (a closed pipe) are ignored, never a
//! panic.

/// Install the stdout subscriber (once; later calls do nothing).
pub fn init() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .without_time()
        .with_target(false)
        .with_level(false)
        .with_ansi(false)
        .with_writer(std::io::stdout)
        .try_init();
}

/// `log!("...", args)` — one info event, shown as a line on stdout prefixed with
/// `[tether-demo]`.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        ::tracing::info!(target: "tether_demo", "[tether-demo] {}", format_args!($($arg)*))
    };
}
