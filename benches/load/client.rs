//! Load generation: one keep-alive HTTP/1.1 connection per worker, hyper's client.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::json;

use crate::connections;
use crate::seed::{Seed, STORM_PASSWORD};
use crate::server::Server;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Reads,
    Writes,
    Mixed,
    List,
    Weekly,
    Search,
    TagFilter,
    Tags,
    Summary,
    MoodsYear,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Self::Reads => "reads",
            Self::Writes => "writes (synchronous=FULL, mock AI)",
            Self::Mixed => "mixed (90% reads, 10% writes)",
            Self::List => "list",
            Self::Weekly => "weekly",
            Self::Search => "search one word",
            Self::TagFilter => "tag filter",
            Self::Tags => "tags",
            Self::Summary => "summary",
            Self::MoodsYear => "moods 12 months by week",
        }
    }
}

/// Latencies in microseconds, errors, and the wall time they were measured over.
#[derive(Default)]
pub struct Measured {
    pub latencies_us: Vec<u64>,
    pub errors: u64,
    pub elapsed: Duration,
}

struct Connection {
    sender: SendRequest<Full<Bytes>>,
    port: u16,
}

impl Connection {
    async fn open(port: u16) -> Self {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        Self { sender, port }
    }

    /// Sends one request and reads the whole answer; returns whether it succeeded.
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        body: Option<String>,
    ) -> bool {
        self.send_from(method, path, cookie, body, None)
            .await
            .is_some_and(|status| (200..300).contains(&status))
    }

    /// As `send`, from a client address given in `X-Forwarded-For` (the bench
    /// server trusts its proxy); returns the status, or `None` when the exchange failed.
    async fn send_from(
        &mut self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        body: Option<String>,
        forwarded_for: Option<&str>,
    ) -> Option<u16> {
        if self.sender.ready().await.is_err() {
            *self = Connection::open(self.port).await;
        }
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, format!("127.0.0.1:{}", self.port));
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        if let Some(address) = forwarded_for {
            request = request.header("x-forwarded-for", address);
        }
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(json))
            }
            None => Full::new(Bytes::new()),
        };
        let request = request.body(body).ok()?;
        let response = self.sender.send_request(request).await.ok()?;
        let status = response.status().as_u16();
        response.into_body().collect().await.ok()?;
        Some(status)
    }
}

/// The `n`th of many distinct client addresses (10.0.0.0/8 holds 16 million).
fn address(n: usize) -> String {
    let n = n as u32 & 0x00ff_ffff;
    format!("10.{}.{}.{}", n >> 16, (n >> 8) & 0xff, n & 0xff)
}

/// Answers by status, for the flood scenarios.
#[derive(Default, Debug)]
pub struct Statuses {
    pub by_status: std::collections::BTreeMap<u16, u64>,
    pub failed: u64,
}

impl Statuses {
    fn add(&mut self, status: Option<u16>) {
        match status {
            Some(status) => *self.by_status.entry(status).or_default() += 1,
            None => self.failed += 1,
        }
    }

    fn merge(&mut self, other: Statuses) {
        for (status, count) in other.by_status {
            *self.by_status.entry(status).or_default() += count;
        }
        self.failed += other.failed;
    }
}

/// `count` requests built by `request(n)` over the bench's connections, each from its own
/// client address; returns the answers by status.
async fn flood(port: u16, count: usize, request: fn(usize) -> (&'static str, String)) -> Statuses {
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..connections())
        .map(|_| {
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut conn = Connection::open(port).await;
                let mut statuses = Statuses::default();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= count {
                        return statuses;
                    }
                    let (path, body) = request(n);
                    let status = conn
                        .send_from(Method::POST, path, None, Some(body), Some(&address(n)))
                        .await;
                    statuses.add(status);
                }
            })
        })
        .collect();
    let mut total = Statuses::default();
    for worker in workers {
        total.merge(worker.await.expect("flood worker"));
    }
    total
}

/// Registrations from `count` distinct addresses; each takes a place in the
/// per-address registration window (the body is then refused, before bcrypt).
pub async fn registration_flood(port: u16, count: usize) -> Statuses {
    flood(port, count, |_| {
        (
            "/api/auth/register",
            json!({"email": "not an email", "password": "x"}).to_string(),
        )
    })
    .await
}

/// Failed logins with distinct, valid 250-byte emails from distinct addresses.
pub async fn failed_login_flood(port: u16, count: usize) -> Statuses {
    flood(port, count, |n| {
        let local = format!("flood{n:0>59}");
        let domain = format!("{}.example.com", "d".repeat(250 - local.len() - 1 - 12));
        let email = format!("{local}@{domain}");
        debug_assert_eq!(email.len(), 250);
        (
            "/api/auth/login",
            json!({"email": email, "password": "wrong password"}).to_string(),
        )
    })
    .await
}

/// One correct login with nothing else going on, for comparison.
pub async fn quiet_login(port: u16, seed: &Seed) -> Duration {
    timed_correct_login(port, &seed.storm_emails[1], "198.51.100.8").await
}

/// A login with the right password from `address`, on a new connection: its
/// latency and status.
async fn timed_login(port: u16, email: &str, address: &str) -> (Duration, Option<u16>) {
    let mut conn = Connection::open(port).await;
    let body = json!({"email": email, "password": STORM_PASSWORD}).to_string();
    let sent = Instant::now();
    let status = conn
        .send_from(
            Method::POST,
            "/api/auth/login",
            None,
            Some(body),
            Some(address),
        )
        .await;
    (sent.elapsed(), status)
}

/// As [`timed_login`], for a login that must succeed.
async fn timed_correct_login(port: u16, email: &str, address: &str) -> Duration {
    let (latency, status) = timed_login(port, email, address).await;
    assert_eq!(status, Some(200), "the correct login succeeds");
    latency
}

/// One correct login from one address while `flood_size` failed logins from
/// another are in flight; returns its latency and the flood's answers.
pub async fn innocent_login_during_flood(
    port: u16,
    seed: &Seed,
    flood_size: usize,
) -> (Duration, Statuses) {
    let flood_email = seed.storm_emails[0].clone();
    let innocent_email = seed.storm_emails[1].clone();
    let flood: Vec<_> = (0..flood_size)
        .map(|i| {
            let email = flood_email.clone();
            tokio::spawn(async move {
                let mut conn = Connection::open(port).await;
                let body = json!({"email": email, "password": format!("guess {i}")}).to_string();
                conn.send_from(
                    Method::POST,
                    "/api/auth/login",
                    None,
                    Some(body),
                    Some("192.0.2.66"),
                )
                .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let latency = timed_correct_login(port, &innocent_email, "198.51.100.7").await;
    let mut statuses = Statuses::default();
    for attempt in flood {
        statuses.add(attempt.await.expect("flood task"));
    }
    (latency, statuses)
}

pub async fn health(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    matches!(serene::cli::health_status(addr).await, Ok(200))
}

fn note(n: u64) -> String {
    format!("Benchmark note {n}: a quiet morning, a busy afternoon at work, and a slow walk home in the rain.")
}

/// One request of a scenario, chosen by a counter shared by all workers.
async fn one_request(conn: &mut Connection, seed: &Seed, scenario: Scenario, n: u64) -> bool {
    let user = &seed.users[(n as usize) % seed.users.len()];
    let cookie = Some(user.cookie.as_str());
    let entry = &user.entry_ids[(n as usize / seed.users.len()) % user.entry_ids.len().max(1)];
    let write = match scenario {
        Scenario::Reads
        | Scenario::List
        | Scenario::Weekly
        | Scenario::Search
        | Scenario::TagFilter
        | Scenario::Tags
        | Scenario::Summary
        | Scenario::MoodsYear => false,
        Scenario::Writes => true,
        Scenario::Mixed => n.is_multiple_of(10),
    };
    if write {
        return if (n / 10).is_multiple_of(2) {
            let body = json!({"mood": "calm", "tags": ["bench"], "note": note(n)}).to_string();
            conn.send(Method::POST, "/api/entries", cookie, Some(body))
                .await
        } else {
            let body = json!({"note": note(n)}).to_string();
            conn.send(
                Method::PUT,
                &format!("/api/entries/{entry}"),
                cookie,
                Some(body),
            )
            .await
        };
    }
    // Search and insights: one word out of 20, one tag out of 12, a year by week.
    let insight = match scenario {
        Scenario::Search => Some(format!(
            "/api/entries?limit=20&q={}",
            ["yoga", "picnic", "concert", "ferry", "pottery"][(n % 5) as usize]
        )),
        Scenario::TagFilter => Some(format!(
            "/api/entries?limit=20&tag={}",
            crate::seed::TAGS[(n % crate::seed::TAGS.len() as u64) as usize]
        )),
        Scenario::Tags => Some("/api/tags".to_owned()),
        Scenario::Summary => Some("/api/analytics/summary?tz=Europe/Berlin".to_owned()),
        Scenario::MoodsYear => {
            let today = chrono::Utc::now().date_naive();
            let year_ago = today - chrono::Duration::days(364);
            Some(format!(
                "/api/analytics/moods?from={year_ago}&to={today}&bucket=week&tz=Europe/Berlin"
            ))
        }
        _ => None,
    };
    if let Some(path) = insight {
        return conn.send(Method::GET, &path, cookie, None).await;
    }
    let pick = match scenario {
        Scenario::List => 0,
        Scenario::Weekly => 3,
        _ => n % 4,
    };
    match pick {
        // The flat-cost runs compare equal pages (20 entries) at both history sizes.
        0 if scenario == Scenario::List => {
            conn.send(Method::GET, "/api/entries?limit=20", cookie, None)
                .await
        }
        0 => conn.send(Method::GET, "/api/entries", cookie, None).await,
        1 => {
            conn.send(Method::GET, &format!("/api/entries/{entry}"), cookie, None)
                .await
        }
        2 => conn.send(Method::GET, "/api/auth/me", cookie, None).await,
        _ => {
            conn.send(
                Method::GET,
                "/api/analytics/weekly?tz=Europe/Berlin",
                cookie,
                None,
            )
            .await
        }
    }
}

/// Runs a scenario on the bench's connections for `duration`.
pub async fn run(server: &Server, seed: &Seed, scenario: Scenario, duration: Duration) -> Measured {
    let stop = Arc::new(AtomicBool::new(false));
    let stopper = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let measured = run_until_stopped(server.port, Arc::new(seed.clone()), scenario, stop).await;
    let _ = stopper.await;
    measured
}

async fn run_until_stopped(
    port: u16,
    seed: Arc<Seed>,
    scenario: Scenario,
    stop: Arc<AtomicBool>,
) -> Measured {
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(connections());
    for _ in 0..connections() {
        let (seed, counter, stop) = (Arc::clone(&seed), Arc::clone(&counter), Arc::clone(&stop));
        workers.push(tokio::spawn(async move {
            let mut conn = Connection::open(port).await;
            let mut measured = Measured::default();
            while !stop.load(Ordering::Relaxed) {
                let n = counter.fetch_add(1, Ordering::Relaxed) as u64;
                let sent = Instant::now();
                let ok = one_request(&mut conn, &seed, scenario, n).await;
                measured
                    .latencies_us
                    .push(sent.elapsed().as_micros() as u64);
                measured.errors += u64::from(!ok);
            }
            measured
        }));
    }
    let mut total = Measured::default();
    for worker in workers {
        let measured = worker.await.expect("worker");
        total.latencies_us.extend(measured.latencies_us);
        total.errors += measured.errors;
    }
    total.elapsed = started.elapsed();
    total
}

/// 50 concurrent logins at cost 12 while the read scenario runs for exactly as
/// long as the storm lasts; returns those reads and the logins.
/// Logins refused at once because the bcrypt queue was full are counted apart.
pub async fn login_storm(server: &Server, seed: &Seed) -> (Measured, Measured, u64) {
    let port = server.port;
    let stop = Arc::new(AtomicBool::new(false));
    let reads = tokio::spawn(run_until_stopped(
        port,
        Arc::new(seed.clone()),
        Scenario::Reads,
        Arc::clone(&stop),
    ));
    let started = Instant::now();
    let logins: Vec<_> = seed
        .storm_emails
        .iter()
        .cloned()
        .enumerate()
        .map(|(n, email)| {
            tokio::spawn(async move {
                let (latency, status) = timed_login(port, &email, &format!("172.16.0.{n}")).await;
                (latency.as_micros() as u64, status)
            })
        })
        .collect();
    let mut login_measured = Measured::default();
    let mut busy = 0;
    for login in logins {
        let (latency, status) = login.await.expect("login task");
        // 503 with Retry-After is the bounded bcrypt queue doing its job, not a failure.
        if status == Some(503) {
            busy += 1;
            continue;
        }
        login_measured.latencies_us.push(latency);
        login_measured.errors += u64::from(status != Some(200));
    }
    login_measured.elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let reads = reads.await.expect("readers");
    (reads, login_measured, busy)
}
