//! tether-demo: parse arguments, bind, announce the address, serve until SIGTERM/Ctrl-C.

use std::io::Write;
use std::process::ExitCode;
use tether_demo::args::{self, ArgsError};
use tether_demo::{log, open, serve_ready, shutdown, Config};

#[tokio::main]
async fn main() -> ExitCode {
    tether_demo::log::init();
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(ArgsError::Help(help)) => {
            print!("{help}");
            return ExitCode::SUCCESS;
        }
        Err(ArgsError::Invalid(msg)) => {
            eprint!("tether-demo: {msg}");
            return ExitCode::from(2);
        }
    };
    let config = Config {
        static_dir: args.static_dir,
        data_dir: args.data_dir,
        secret: Config::secret_from_env(),
        security: args.security,
        cluster: args.cluster,
        store: args.store,
    };
    // Open the database before announcing the address, so "listening" means ready.
    let ready = match open(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tether-demo: cannot open the notification store: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tether-demo: cannot bind {}:{}: {e}", args.host, args.port);
            return ExitCode::FAILURE;
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tether-demo: no local address: {e}");
            return ExitCode::FAILURE;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "tether-demo listening on http://{addr}");
        let _ = out.flush();
    }
    match serve_ready(listener, ready, shutdown::signal()).await {
        Ok(()) => {
            log!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tether-demo: server error: {e}");
            ExitCode::FAILURE
        }
    }
}
