//! The server under test: the release binary cargo built for this benchmark.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const JWT_SECRET: &str = "bench-secret-bench-secret-bench-secret!!";
const BINARY: &str = env!("CARGO_BIN_EXE_serene");

/// The server binary: this build's, or `SERENE_BENCH_BINARY` to measure another
/// build with the same load in the same sitting. The seed writes this build's
/// schema (sealed and indexed entries), so another build must share it; to compare
/// with an earlier schema, run that commit's own bench binary in the same sitting.
fn binary() -> String {
    std::env::var("SERENE_BENCH_BINARY").unwrap_or_else(|_| BINARY.to_owned())
}

pub struct Server {
    child: Child,
    pub port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn spawn(dir: &Path, port: u16) -> Child {
    Command::new(binary())
        .env_clear()
        .env("PORT", port.to_string())
        .env("DATABASE_URL", dir.join("serene.db"))
        .env("JWT_SECRET", JWT_SECRET)
        .env("BCRYPT_COST", "12")
        .env("VIBE_BACKEND", "mock")
        // The flood scenarios name their client addresses in X-Forwarded-For.
        .env("TRUST_PROXY", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("server.log")).expect("log file"),
        ))
        .spawn()
        .expect("the server starts")
}

/// Polls `/api/health` until it answers 200; returns the time since `since`.
async fn wait_healthy(port: u16, since: Instant) -> Duration {
    loop {
        if crate::client::health(port).await {
            return since.elapsed();
        }
        if since.elapsed() > Duration::from_secs(30) {
            panic!("the server did not become healthy");
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

/// Process exec to first healthy answer, `runs` times; the server is stopped after each.
pub async fn cold_start(dir: &Path, runs: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let port = free_port();
        let started = Instant::now();
        let mut child = spawn(dir, port);
        times.push(wait_healthy(port, started).await);
        stop(&mut child);
    }
    times
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

impl Server {
    pub async fn start(dir: &Path) -> Self {
        let port = free_port();
        let child = spawn(dir, port);
        wait_healthy(port, Instant::now()).await;
        eprintln!("   server pid {} on port {port}", child.id());
        Self { child, port }
    }

    fn status_field_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0)
    }

    pub fn rss_kib(&self) -> u64 {
        self.status_field_kib("VmRSS:")
    }

    pub fn peak_rss_kib(&self) -> u64 {
        self.status_field_kib("VmHWM:")
    }

    /// Resets the kernel's peak-RSS mark so the next reading covers one scenario.
    pub fn reset_peak_rss(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
