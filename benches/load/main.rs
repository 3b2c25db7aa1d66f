//! Load benchmark: `cargo bench --bench load` (or `just bench`).
//!
//! Starts the release server on a temporary database, seeds it, and runs fixed-
//! duration scenarios at 64 connections, each user with its own session cookie.
//! Prints a table and writes JSON to `target/bench/`. Targets are reported, never
//! asserted: this is a measurement, not a test.
//!
//! Options: `--duration SECS` per scenario (default 10), `--quick` (3 s, smaller seeds).

mod client;
mod report;
mod seed;
mod server;

use std::time::{Duration, Instant};

use report::{Report, ScenarioResult};
use seed::{Seed, SeedSize};
use server::Server;

pub const CONNECTIONS: usize = 64;

struct Options {
    duration: Duration,
    quick: bool,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let duration = args
        .iter()
        .position(|a| a == "--duration")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(if quick { 3 } else { 10 }));
    Options { duration, quick }
}

#[tokio::main]
async fn main() {
    let options = options();
    let mut report = Report::new();
    let main_size = if options.quick {
        SeedSize { users: 200, entries_per_user: 200 }
    } else {
        SeedSize { users: 1_000, entries_per_user: 200 }
    };

    eprintln!("== cold start on a fresh database");
    let dir = tempfile::tempdir().expect("temp dir");
    let fresh = server::cold_start(dir.path(), 5).await;
    report.cold_start("fresh database (migrations included)", &fresh);

    eprintln!("== seeding {} users x {} entries", main_size.users, main_size.entries_per_user);
    let started = Instant::now();
    let seed = Seed::create(dir.path(), main_size);
    eprintln!("   seeded in {:.1} s", started.elapsed().as_secs_f64());

    eprintln!("== cold start on the seeded database");
    let seeded = server::cold_start(dir.path(), 5).await;
    report.cold_start(&format!("seeded database ({} entries)", main_size.users * main_size.entries_per_user), &seeded);

    let server = Server::start(dir.path()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    report.idle_rss_kib = server.rss_kib();

    for scenario in [client::Scenario::Reads, client::Scenario::Writes, client::Scenario::Mixed] {
        eprintln!("== {}", scenario.name());
        server.reset_peak_rss();
        let result = client::run(&server, &seed, scenario, options.duration).await;
        report.push(ScenarioResult::new(scenario.name(), result, server.peak_rss_kib()));
    }

    eprintln!("== login storm (50 logins at bcrypt cost 12) during reads");
    server.reset_peak_rss();
    let (reads, logins) = client::login_storm(&server, &seed).await;
    let peak = server.peak_rss_kib();
    report.push(ScenarioResult::new("reads during login storm", reads, peak));
    report.push(ScenarioResult::new("logins (storm, cost 12)", logins, peak));
    report.peak_rss_kib = report.peak_rss_kib.max(server.peak_rss_kib());
    drop(server);

    eprintln!("== flat cost: list and weekly with 20 and with 20,000 entries per user");
    for size in [
        SeedSize { users: 50, entries_per_user: 20 },
        SeedSize { users: 50, entries_per_user: if options.quick { 5_000 } else { 20_000 } },
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        server::cold_start(dir.path(), 1).await;
        let seed = Seed::create(dir.path(), size);
        let server = Server::start(dir.path()).await;
        server.reset_peak_rss();
        let result = client::run(&server, &seed, client::Scenario::ListAndWeekly, options.duration).await;
        let name = format!("list+weekly at {} entries/user", size.entries_per_user);
        report.push(ScenarioResult::new(&name, result, server.peak_rss_kib()));
    }

    report.print();
    report.write_json();
}
