//! Percentiles, number formatting, the machine line, and rewriting a marked section of
//! BENCHMARKS.md (`<!-- NAME:begin -->` … `<!-- NAME:end -->`).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// p50 / p99 / max (and the count) of a set of nanosecond samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub n: usize,
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

/// Nearest-rank percentile of sorted samples (`q` in 0..=1).
fn rank(sorted: &[u32], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    u64::from(sorted[i])
}

/// Sorts `samples` in place and summarises them.
pub fn summarize(samples: &mut [u32]) -> Summary {
    samples.sort_unstable();
    Summary {
        n: samples.len(),
        p50: rank(samples, 0.50),
        p99: rank(samples, 0.99),
        p999: rank(samples, 0.999),
        max: samples.last().map_or(0, |&m| u64::from(m)),
    }
}

/// A duration in nanoseconds, three significant figures: `850 ns`, `41.2 µs`, `1.35 ms`, `2.10 s`.
pub fn dur(ns: u64) -> String {
    let ns = ns as f64;
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    format!("{} {unit}", sig3(v))
}

/// Three significant figures, no exponent.
pub fn sig3(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `2 × AMD EPYC, Linux 6.1, 2026-11-23`.
pub fn machine_line() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| format!(", Linux {}", k.trim()))
        .unwrap_or_default();
    format!("{cpus} × {model}{kernel}, {}", today())
}

/// Today's UTC date as `YYYY-MM-DD`.
pub fn today() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `text` with everything between `<!-- name:begin -->` and `<!-- name:end -->` replaced by
/// `body`; when the markers are missing, `heading` and a marked section are appended.
pub fn replace_section(text: &str, name: &str, heading: &str, body: &str) -> String {
    let begin = format!("<!-- {name}:begin -->");
    let end = format!("<!-- {name}:end -->");
    let body = body.trim_end_matches('\n');
    if let Some(b) = text.find(&begin) {
        let after = b + begin.len();
        if let Some(e) = text[after..].find(&end) {
            let e = after + e;
            return format!("{}\n{body}\n{}", &text[..after], &text[e..]);
        }
    }
    let mut out = text.trim_end_matches('\n').to_owned();
    out.push_str(&format!("\n\n{heading}\n\n{begin}\n{body}\n{end}\n"));
    out
}

/// Rewrite one marked section of the Markdown file at `path`.
pub fn write_section(path: &Path, name: &str, heading: &str, body: &str) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path)?;
    std::fs::write(path, replace_section(&text, name, heading, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let mut v: Vec<u32> = (1..=1000).rev().collect();
        let s = summarize(&mut v);
        assert_eq!(
            (s.n, s.p50, s.p99, s.p999, s.max),
            (1000, 500, 990, 999, 1000)
        );
        assert_eq!(summarize(&mut []), Summary::default());
        assert_eq!(summarize(&mut [7]).p99, 7);
    }

    #[test]
    fn formatting() {
        assert_eq!(dur(850), "850 ns");
        assert_eq!(dur(41_234), "41.2 µs");
        assert_eq!(dur(1_350_000), "1.35 ms");
        assert_eq!(dur(2_100_000_000), "2.10 s");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_415), (2025, 11, 23));
    }

    #[test]
    fn sections() {
        let t = "# B\n\n<!-- x:begin -->\nold\n<!-- x:end -->\n\nafter\n";
        assert_eq!(
            replace_section(t, "x", "## X", "new\nlines\n"),
            "# B\n\n<!-- x:begin -->\nnew\nlines\n<!-- x:end -->\n\nafter\n"
        );
        assert_eq!(
            replace_section("# B\n", "y", "## Y", "t"),
            "# B\n\n## Y\n\n<!-- y:begin -->\nt\n<!-- y:end -->\n"
        );
    }
}
