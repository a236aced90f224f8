//! `tether-loadgen native`: the medians of the criterion benches (`cargo bench --bench core`)
//! from `target/criterion/**/new/{benchmark,estimates}.json`, as a Markdown table for the
//! native section of BENCHMARKS.md.

use crate::report::{self, dur};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// One benchmark's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub id: String,
    pub median_ns: f64,
    pub low_ns: f64,
    pub high_ns: f64,
    modified: SystemTime,
}

pub fn main(args: Vec<String>) -> Result<(), String> {
    let mut write = false;
    let mut md = PathBuf::from("BENCHMARKS.md");
    let mut dir = PathBuf::from("target/criterion");
    let mut note = String::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--write" => write = true,
            "--md" => md = PathBuf::from(val()?),
            "--criterion-dir" => dir = PathBuf::from(val()?),
            "--note" => note = val()?,
            _ => return Err(format!("native: unknown argument {a:?}")),
        }
    }
    let found = collect(&dir);
    if found.is_empty() {
        return Err(format!(
            "no criterion results under {} (run `cargo bench --bench core` first)",
            dir.display()
        ));
    }
    let table = markdown(&found, &note);
    println!("{table}");
    if write {
        report::write_section(&md, "native", "## Native core benches (criterion)", &table)
            .map_err(|e| format!("{}: {e}", md.display()))?;
        eprintln!(
            "tether-loadgen: wrote the native section of {}",
            md.display()
        );
    }
    Ok(())
}

/// Every benchmark under `dir`, minus leftovers of benchmarks not run with the newest ones
/// (estimates more than an hour older than the newest), in the order they ran.
pub fn collect(dir: &Path) -> Vec<Estimate> {
    let mut out = Vec::new();
    walk(dir, &mut out);
    let newest = out.iter().map(|e| e.modified).max();
    if let Some(newest) = newest {
        let cutoff = newest - Duration::from_secs(3600);
        out.retain(|e| e.modified >= cutoff);
    }
    out.sort_by(|a, b| a.modified.cmp(&b.modified).then_with(|| a.id.cmp(&b.id)));
    out
}

fn walk(dir: &Path, out: &mut Vec<Estimate>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            if let Some(e) = read(&path) {
                out.push(e);
            }
        } else if path.file_name().is_some_and(|n| n != "report") {
            walk(&path, out);
        }
    }
}

fn read(new: &Path) -> Option<Estimate> {
    let bench: Value =
        serde_json::from_str(&std::fs::read_to_string(new.join("benchmark.json")).ok()?).ok()?;
    let est_path = new.join("estimates.json");
    let est: Value = serde_json::from_str(&std::fs::read_to_string(&est_path).ok()?).ok()?;
    let median = &est["median"];
    Some(Estimate {
        id: bench["full_id"].as_str()?.to_owned(),
        median_ns: median["point_estimate"].as_f64()?,
        low_ns: median["confidence_interval"]["lower_bound"].as_f64()?,
        high_ns: median["confidence_interval"]["upper_bound"].as_f64()?,
        modified: std::fs::metadata(&est_path).ok()?.modified().ok()?,
    })
}

pub fn markdown(found: &[Estimate], note: &str) -> String {
    let mut s = format!(
        "Machine: {}. `cargo bench --bench core`{}; median time per iteration and the 95 % \
         confidence interval of the median, from criterion's `estimates.json`.\n\n",
        report::machine_line(),
        if note.is_empty() {
            String::new()
        } else {
            format!(" ({note})")
        }
    );
    s.push_str("| benchmark | median | 95 % CI |\n|---|---|---|\n");
    for e in found {
        s.push_str(&format!(
            "| {} | {} | {} – {} |\n",
            e.id,
            dur(e.median_ns.round() as u64),
            dur(e.low_ns.round() as u64),
            dur(e.high_ns.round() as u64)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_criterion_output() {
        let dir =
            std::env::temp_dir().join(format!("tether-loadgen-native-{}", std::process::id()));
        let new = dir.join("codec").join("decode").join("new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(new.join("benchmark.json"), r#"{"full_id":"codec/decode"}"#).unwrap();
        std::fs::write(
            new.join("estimates.json"),
            r#"{"median":{"point_estimate":1234.0,"confidence_interval":{"lower_bound":1200.0,"upper_bound":1300.0}}}"#,
        )
        .unwrap();
        let found = collect(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, "codec/decode");
        assert!(markdown(&found, "").contains("| codec/decode | 1.23 µs | 1.20 µs – 1.30 µs |"));
    }
}
