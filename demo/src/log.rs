//! Line logging to stdout. Write errors (a closed pipe) are ignored, never a panic.

use std::io::Write;

/// Write one line to stdout and flush it.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(args);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// `log!("...", args)` — one line on stdout, prefixed with `[tether-demo]`.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log::line(format_args!("[tether-demo] {}", format_args!($($arg)*)))
    };
}
