//! Load benchmark: `cargo bench --bench load` (or `just bench`).
//!
//! Starts the release server on a temporary database, seeds it, and runs fixed-
//! duration scenarios at 64 connections, each user with its own session cookie.
//! Prints a table and writes JSON to `target/bench/`. Targets are reported, never
//! asserted: this is a measurement, not a test.
//!
//! Options: `--duration SECS` per scenario (default 10), `--quick` (3 s, smaller
//! seeds), `--connections N` (default 64, the load the targets are stated at; fewer
//! show a request's own latency without the queue 64 clients on two cores build).

mod client;
mod report;
mod seed;
mod server;

use std::time::{Duration, Instant};

use report::{Report, ScenarioResult};
use seed::{Seed, SeedSize};
use server::Server;

/// Client connections of every scenario and flood (`--connections`, set once at start).
static CONNECTIONS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// The load every target in the README is stated at.
const DEFAULT_CONNECTIONS: usize = 64;

pub fn connections() -> usize {
    *CONNECTIONS.get().unwrap_or(&DEFAULT_CONNECTIONS)
}

struct Options {
    duration: Duration,
    quick: bool,
    /// Run only the parts whose name contains this (guardrail, cold, reads, writes, mixed, storm, flood, flat).
    only: Option<String>,
}

impl Options {
    fn runs(&self, part: &str) -> bool {
        self.only.as_deref().is_none_or(|only| part.contains(only))
    }
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
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let connections = args
        .iter()
        .position(|a| a == "--connections")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or(DEFAULT_CONNECTIONS);
    let _ = CONNECTIONS.set(connections);
    Options {
        duration,
        quick,
        only,
    }
}

/// `serene::vibe::guardrail::is_crisis` over every note of `fixtures/guardrail/`,
/// many times: mean and slowest time per note.
fn guardrail_time_per_note() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/guardrail");
    let notes: Vec<String> = ["crisis.tsv", "everyday.tsv"]
        .iter()
        .flat_map(|file| {
            std::fs::read_to_string(format!("{dir}/{file}"))
                .expect("corpus")
                .lines()
                .filter_map(|line| line.splitn(3, '\t').nth(2).map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect();
    let rounds = 50;
    // The patterns are compiled on first use; that is start-up, not a note's cost.
    let _ = serene::vibe::guardrail::is_crisis("warm up");
    let mut per_note: Vec<Duration> = Vec::with_capacity(rounds * notes.len());
    let started = Instant::now();
    let mut fired = 0;
    for _ in 0..rounds {
        for note in &notes {
            let one = Instant::now();
            fired += usize::from(serene::vibe::guardrail::is_crisis(std::hint::black_box(
                note,
            )));
            per_note.push(one.elapsed());
        }
    }
    let mean = started.elapsed() / (rounds * notes.len()) as u32;
    per_note.sort();
    let p99 = per_note[per_note.len() * 99 / 100];
    let slowest = per_note.last().copied().unwrap_or_default();
    let long_note: String = notes.join(" ").chars().take(10_000).collect();
    let long_started = Instant::now();
    let _ = serene::vibe::guardrail::is_crisis(std::hint::black_box(&long_note));
    let long = long_started.elapsed();
    format!(
        "guardrail per note over {} corpus notes x {rounds}: mean {:.1} us, p99 {:.1} us, slowest {:.1} us; a 10,000-character note {:.1} us (target well under 1 ms; {} fired)",
        notes.len(),
        mean.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        slowest.as_secs_f64() * 1e6,
        long.as_secs_f64() * 1e6,
        fired / rounds,
    )
}

#[tokio::main]
async fn main() {
    let options = options();
    let mut report = Report::new();
    let main_size = if options.quick {
        SeedSize {
            users: 200,
            entries_per_user: 200,
        }
    } else {
        SeedSize {
            users: 1_000,
            entries_per_user: 200,
        }
    };

    if options.runs("guardrail") {
        eprintln!("== guardrail time per note over the labelled corpus");
        report.note(true, guardrail_time_per_note());
    }

    let dir = tempfile::tempdir().expect("temp dir");
    eprintln!("== cold start on a fresh database");
    let fresh = server::cold_start(dir.path(), 5).await;
    report.cold_start("fresh database (migrations included)", &fresh);

    eprintln!(
        "== seeding {} users x {} entries",
        main_size.users, main_size.entries_per_user
    );
    let started = Instant::now();
    let seed = Seed::create(dir.path(), main_size);
    eprintln!("   seeded in {:.1} s", started.elapsed().as_secs_f64());

    eprintln!("== cold start on the seeded database");
    let seeded = server::cold_start(dir.path(), 5).await;
    report.cold_start(
        &format!(
            "seeded database ({} entries)",
            main_size.users * main_size.entries_per_user
        ),
        &seeded,
    );

    let server = Server::start(dir.path()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    report.idle_rss_kib = server.rss_kib();

    for scenario in [
        client::Scenario::Reads,
        client::Scenario::Writes,
        client::Scenario::Mixed,
    ] {
        if !options.runs(scenario.name()) {
            continue;
        }
        eprintln!("== {}", scenario.name());
        server.reset_peak_rss();
        let result = client::run(&server, &seed, scenario, options.duration).await;
        report.push(ScenarioResult::new(
            scenario.name(),
            result,
            server.peak_rss_kib(),
        ));
    }

    if options.runs("storm") {
        eprintln!("== login storm (50 logins at bcrypt cost 12) during reads");
        server.reset_peak_rss();
        let (reads, logins, busy) = client::login_storm(&server, &seed).await;
        let peak = server.peak_rss_kib();
        report.push(ScenarioResult::new("reads during login storm", reads, peak));
        report.push(ScenarioResult::new("logins (storm, cost 12)", logins, peak));
        report.note(
            true,
            format!("login storm: {busy} of 50 logins answered 503 with Retry-After at once (bcrypt queue full)"),
        );
    }
    if options.runs("flood") {
        eprintln!("== a correct login during a flood of 150 failed logins from another address");
        let quiet = client::quiet_login(server.port, &seed).await;
        let mut latencies = Vec::new();
        for _ in 0..3 {
            let (latency, statuses) =
                client::innocent_login_during_flood(server.port, &seed, 150).await;
            eprintln!(
                "   {:.0} ms; flood answers {statuses:?}",
                latency.as_secs_f64() * 1000.0
            );
            latencies.push(latency);
            // Let the flooding address's window and the queue drain between rounds.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        latencies.sort();
        let worst = latencies.last().copied().unwrap_or_default().as_secs_f64() * 1000.0;
        report.note(
            worst < 1000.0,
            format!(
                "innocent login at cost 12 during a 150-login flood from another address: {} ms (worst {worst:.0} ms, target < 1,000 ms; alone: {:.0} ms)",
                latencies
                    .iter()
                    .map(|l| format!("{:.0}", l.as_secs_f64() * 1000.0))
                    .collect::<Vec<_>>()
                    .join(", "),
                quiet.as_secs_f64() * 1000.0
            ),
        );
    }
    drop(server);

    if options.runs("flood") {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = Server::start(dir.path()).await;
        let mib = |kib: u64| kib as f64 / 1024.0;
        let before = server.rss_kib();
        let mut after = Vec::new();
        for step in 0..4 {
            eprintln!(
                "== registrations from distinct addresses: {}..{}",
                step * 50_000,
                (step + 1) * 50_000
            );
            let statuses = client::registration_flood(server.port, 50_000).await;
            eprintln!("   answers {statuses:?}");
            after.push(server.rss_kib());
        }
        let last = after.last().copied().unwrap_or(before);
        report.note(
            mib(last) < 64.0,
            format!(
                "RSS over 200,000 registrations from distinct addresses: {:.1} MiB before, {} MiB after each 50,000 (target < 64 MiB, flat)",
                mib(before),
                after.iter().map(|k| format!("{:.1}", mib(*k))).collect::<Vec<_>>().join(" / ")
            ),
        );
        eprintln!("== 10,000 failed logins with 250-byte emails from distinct addresses");
        let before = server.rss_kib();
        let statuses = client::failed_login_flood(server.port, 10_000).await;
        let after = server.rss_kib();
        eprintln!("   answers {statuses:?}");
        report.note(
            mib(after) < 64.0,
            format!(
                "RSS over 10,000 failed logins with 250-byte emails: {:.1} MiB before, {:.1} MiB after (target < 64 MiB)",
                mib(before),
                mib(after)
            ),
        );
    }

    eprintln!("== flat cost: 20 and 20,000 entries per user at a steady 25 entries a week");
    let large = if options.quick { 5_000 } else { 20_000 };
    let sizes = if options.runs("flat") {
        vec![20, large]
    } else {
        Vec::new()
    };
    for entries_per_user in sizes {
        let size = SeedSize {
            users: 50,
            entries_per_user,
        };
        let dir = tempfile::tempdir().expect("temp dir");
        server::cold_start(dir.path(), 1).await;
        let seed = Seed::create_with_density(dir.path(), size, seed::STEADY_ENTRIES_PER_WEEK);
        let server = Server::start(dir.path()).await;
        for scenario in [
            client::Scenario::List,
            client::Scenario::Weekly,
            client::Scenario::Search,
            client::Scenario::TagFilter,
            client::Scenario::Tags,
            client::Scenario::Summary,
            client::Scenario::MoodsYear,
        ] {
            server.reset_peak_rss();
            let result = client::run(&server, &seed, scenario, options.duration).await;
            let name = format!("{} at {entries_per_user} entries/user", scenario.name());
            report.push(ScenarioResult::new(&name, result, server.peak_rss_kib()));
        }
    }

    report.print();
    report.write_json();
}
