//! The results: a table on stdout, JSON files in `target/bench/`, and each figure
//! against its target.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use crate::client::Measured;

pub struct ScenarioResult {
    name: String,
    requests: usize,
    errors: u64,
    seconds: f64,
    rps: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    peak_rss_kib: u64,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index] as f64 / 1000.0
}

impl ScenarioResult {
    pub fn new(name: &str, mut measured: Measured, peak_rss_kib: u64) -> Self {
        measured.latencies_us.sort_unstable();
        let sorted = &measured.latencies_us;
        let seconds = measured.elapsed.as_secs_f64();
        Self {
            name: name.to_owned(),
            requests: sorted.len(),
            errors: measured.errors,
            seconds,
            rps: sorted.len() as f64 / seconds.max(f64::EPSILON),
            p50_ms: percentile(sorted, 0.50),
            p95_ms: percentile(sorted, 0.95),
            p99_ms: percentile(sorted, 0.99),
            max_ms: percentile(sorted, 1.0),
            peak_rss_kib,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "scenario": self.name, "connections": crate::connections(), "requests": self.requests,
            "errors": self.errors, "seconds": self.seconds, "requests_per_second": self.rps,
            "latency_ms": {"p50": self.p50_ms, "p95": self.p95_ms, "p99": self.p99_ms, "max": self.max_ms},
            "peak_rss_mib": self.peak_rss_kib as f64 / 1024.0,
        })
    }
}

#[derive(Default)]
pub struct Report {
    cold_starts: Vec<(String, Vec<Duration>)>,
    scenarios: Vec<ScenarioResult>,
    pub idle_rss_kib: u64,
    pub peak_rss_kib: u64,
    notes: Vec<(bool, String)>,
}

fn median_ms(times: &[Duration]) -> f64 {
    let mut ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    ms.get(ms.len() / 2).copied().unwrap_or(0.0)
}

impl Report {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cold_start(&mut self, name: &str, times: &[Duration]) {
        self.cold_starts.push((name.to_owned(), times.to_vec()));
    }

    /// A figure outside the table, with whether it met its target.
    pub fn note(&mut self, met: bool, text: String) {
        self.notes.push((met, text));
    }

    pub fn push(&mut self, result: ScenarioResult) {
        self.peak_rss_kib = self.peak_rss_kib.max(result.peak_rss_kib);
        self.scenarios.push(result);
    }

    fn find(&self, prefix: &str) -> Option<&ScenarioResult> {
        self.scenarios.iter().find(|s| s.name.starts_with(prefix))
    }

    pub fn print(&self) {
        println!();
        println!(
            "Serene load benchmark: {} connections, {} cores",
            crate::connections(),
            cores()
        );
        println!();
        println!(
            "| {:<38} | {:>9} | {:>8} | {:>8} | {:>8} | {:>8} | {:>8} | {:>6} | {:>9} |",
            "scenario",
            "requests",
            "req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms",
            "errors",
            "peak RSS"
        );
        println!(
            "|{:-<40}|{:->11}|{:->10}|{:->10}|{:->10}|{:->10}|{:->10}|{:->8}|{:->11}|",
            "", "", "", "", "", "", "", "", ""
        );
        for s in &self.scenarios {
            println!(
                "| {:<38} | {:>9} | {:>8.0} | {:>8.2} | {:>8.2} | {:>8.2} | {:>8.2} | {:>6} | {:>5.1} MiB |",
                s.name, s.requests, s.rps, s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms, s.errors, s.peak_rss_kib as f64 / 1024.0
            );
        }
        println!();
        for (name, times) in &self.cold_starts {
            let all: Vec<String> = times
                .iter()
                .map(|t| format!("{:.1}", t.as_secs_f64() * 1000.0))
                .collect();
            println!(
                "cold start, {name}: median {:.1} ms (runs: {} ms)",
                median_ms(times),
                all.join(", ")
            );
        }
        println!(
            "server RSS idle: {:.1} MiB, peak: {:.1} MiB",
            self.idle_rss_kib as f64 / 1024.0,
            self.peak_rss_kib as f64 / 1024.0
        );
        println!();
        println!("Targets:");
        for (met, text) in self.targets() {
            println!("  [{}] {text}", if met { "met" } else { "MISSED" });
        }
    }

    fn targets(&self) -> Vec<(bool, String)> {
        let mut out = Vec::new();
        for (name, times) in &self.cold_starts {
            let ms = median_ms(times);
            out.push((
                ms < 50.0,
                format!("cold start under 50 ms ({name}): {ms:.1} ms"),
            ));
        }
        if let Some(r) = self.find("reads") {
            out.push((
                r.p99_ms < 10.0,
                format!("reads p99 under 10 ms: {:.2} ms", r.p99_ms),
            ));
            out.push((
                r.rps >= 10_000.0,
                format!("reads at least 10,000 req/s: {:.0}", r.rps),
            ));
        }
        if let Some(w) = self.find("writes") {
            out.push((
                w.rps >= 1_000.0,
                format!("writes at least 1,000 req/s: {:.0}", w.rps),
            ));
        }
        if let Some(s) = self.find("reads during login storm") {
            out.push((
                s.p99_ms < 50.0,
                format!(
                    "reads p99 during the login storm under 50 ms: {:.2} ms",
                    s.p99_ms
                ),
            ));
        }
        let idle = self.idle_rss_kib as f64 / 1024.0;
        let peak = self.peak_rss_kib as f64 / 1024.0;
        out.push((idle < 30.0, format!("RSS idle under 30 MiB: {idle:.1} MiB")));
        out.push((
            peak < 100.0,
            format!("RSS peak under 100 MiB: {peak:.1} MiB"),
        ));
        for kind in ["list", "weekly"] {
            let flat: Vec<&ScenarioResult> = self
                .scenarios
                .iter()
                .filter(|s| s.name.starts_with(&format!("{kind} at ")))
                .collect();
            if let [small, large] = flat.as_slice() {
                let ratio = large.p50_ms / small.p50_ms.max(0.001);
                out.push((
                    ratio < 1.5,
                    format!(
                        "{kind} as fast with a long history: p50 {:.2} ms ({}) vs {:.2} ms ({}), x{ratio:.2}",
                        large.p50_ms, large.name, small.p50_ms, small.name
                    ),
                ));
            }
        }
        // Search and insights at a long history (20,000 entries per user).
        for (prefix, target_ms) in [
            ("search one word", 20.0),
            ("tag filter", 10.0),
            ("tags", 20.0),
            ("summary", 20.0),
            ("moods 12 months by week", 20.0),
        ] {
            let long = self.scenarios.iter().find(|s| {
                s.name.starts_with(&format!("{prefix} at ")) && !s.name.contains(" at 20 ")
            });
            if let Some(s) = long {
                out.push((
                    s.p99_ms < target_ms,
                    format!("{} p99 under {target_ms} ms: {:.2} ms", s.name, s.p99_ms),
                ));
            }
        }
        out.extend(self.notes.iter().cloned());
        for s in &self.scenarios {
            if s.errors > 0 {
                out.push((
                    false,
                    format!("no errors in {}: {} errors", s.name, s.errors),
                ));
            }
        }
        out
    }

    pub fn write_json(&self) {
        let dir = target_dir().join("bench");
        if std::fs::create_dir_all(&dir).is_err() {
            return;
        }
        for s in &self.scenarios {
            let slug: String = s
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .collect::<String>()
                .split('-')
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join("-");
            let _ = std::fs::write(
                dir.join(format!("{slug}.json")),
                serde_json::to_string_pretty(&s.to_json()).unwrap_or_default(),
            );
        }
        let summary = json!({
            "cores": cores(),
            "connections": crate::connections(),
            "cold_start_ms": self.cold_starts.iter().map(|(n, t)| json!({"case": n, "median": median_ms(t), "runs": t.iter().map(|d| d.as_secs_f64() * 1000.0).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "rss_mib": {"idle": self.idle_rss_kib as f64 / 1024.0, "peak": self.peak_rss_kib as f64 / 1024.0},
            "scenarios": self.scenarios.iter().map(ScenarioResult::to_json).collect::<Vec<_>>(),
            "targets": self.targets().into_iter().map(|(met, text)| json!({"met": met, "target": text})).collect::<Vec<_>>(),
        });
        let path = dir.join("summary.json");
        if std::fs::write(
            &path,
            serde_json::to_string_pretty(&summary).unwrap_or_default(),
        )
        .is_ok()
        {
            println!("\nJSON: {}", path.display());
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}
