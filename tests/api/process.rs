//! The binary as an operator runs it: start-up errors, signals, CLI commands.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{note, PASSWORD, TEST_SECRET};

const BIN: &str = env!("CARGO_BIN_EXE_serene");

fn serene(dir: &Path, envs: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", dir.join("serene.db"))
        .env("BCRYPT_COST", "10")
        .env("JWT_SECRET", TEST_SECRET)
        .envs(envs.iter().copied());
    command
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(dir: &Path, envs: &[(&str, &str)]) -> (Child, String) {
    let port = free_port();
    let port_text = port.to_string();
    let mut all: Vec<(&str, &str)> = vec![("PORT", &port_text)];
    all.extend_from_slice(envs);
    let child = serene(dir, &all)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let address = format!("http://127.0.0.1:{port}");
    (child, address)
}

async fn wait_healthy(address: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(response) = reqwest::get(format!("{address}/api/health")).await {
            if response.status() == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("server at {address} never became healthy");
}

/// Registers a user on a running binary; returns its `Cookie` header value.
async fn register(address: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{address}/api/auth/register"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    crate::helpers::session_cookie(&response).expect("session cookie")
}

/// Sends SIGTERM, as a container runtime stops the server.
fn terminate(child: &Child) {
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bad_configuration_stops_the_start_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    for (name, value) in [
        ("JWT_SECRET", "too-short"),
        ("PORT", "http"),
        ("BCRYPT_COST", "4"),
        ("COOKIE_SECURE", "perhaps"),
        ("DATABASE_URL", "postgres://db/serene"),
        ("VIBE_BACKEND", "gpt"),
        ("OPENAI_TIMEOUT_MS", "soon"),
        ("RUST_LOG", "serene=loud[["),
        ("ALLOWED_ORIGINS", "https://*.example.com"),
        ("ALLOWED_ORIGINS", "https://app.example.com/"),
    ] {
        let output = serene(dir.path(), &[(name, value)]).output().unwrap();
        assert!(
            !output.status.success(),
            "{name}={value} must stop the start"
        );
        let stderr = stderr_of(&output);
        assert_eq!(stderr.trim().lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(name), "{name}: {stderr}");
    }
}

#[test]
fn version_and_help_answer_without_starting() {
    let dir = tempfile::tempdir().unwrap();
    let version = serene(dir.path(), &[]).arg("--version").output().unwrap();
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("serene "));
    let help = serene(dir.path(), &[]).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("healthcheck"));
    let unknown = serene(dir.path(), &[])
        .arg("--frobnicate")
        .output()
        .unwrap();
    assert!(!unknown.status.success());
}

#[tokio::test]
async fn the_default_start_creates_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let mut child = serene(dir.path(), &[("PORT", &port)])
        .env_remove("DATABASE_URL")
        .env_remove("JWT_SECRET")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(&format!("http://127.0.0.1:{port}")).await;
    assert!(dir.path().join("data/serene.db").exists());
    assert!(dir.path().join("data/jwt_secret").exists());
    let _ = child.kill();
    let _ = child.wait();
}

/// The binary started under `umask 000`, the loosest an operator could leave.
#[cfg(unix)]
fn with_open_umask(command: &Command) -> Command {
    let mut wrapped = Command::new("sh");
    wrapped
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(command.get_program())
        .args(command.get_args())
        .current_dir(command.get_current_dir().unwrap_or(Path::new(".")))
        .env_clear();
    for (key, value) in command.get_envs() {
        if let Some(value) = value {
            wrapped.env(key, value);
        }
    }
    wrapped
}

#[cfg(unix)]
#[tokio::test]
async fn journal_files_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data/nested");
    let port = free_port().to_string();
    let database = data.join("serene.db");
    let database_text = database.display().to_string();
    let envs = [
        ("PORT", port.as_str()),
        ("DATABASE_URL", database_text.as_str()),
    ];
    let mut child = with_open_umask(&serene(dir.path(), &envs))
        .env_remove("JWT_SECRET")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let address = format!("http://127.0.0.1:{port}");
    wait_healthy(&address).await;
    register(&address).await;

    assert_eq!(mode(&dir.path().join("data")), 0o700);
    assert_eq!(mode(&data), 0o700);
    for name in ["serene.db", "serene.db-wal", "serene.db-shm", "jwt_secret"] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name}");
    }
    let backup = dir.path().join("backup.db");
    let output = with_open_umask(&serene(dir.path(), &envs))
        .arg("backup")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(mode(&backup), 0o600, "backup");
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(unix)]
#[tokio::test]
async fn an_existing_database_open_to_others_is_named_in_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (mut first, address) = start(dir.path(), &[]);
    wait_healthy(&address).await;
    let _ = first.kill();
    let _ = first.wait();
    let database = dir.path().join("serene.db");
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).unwrap();

    let (mut second, address) = start(dir.path(), &[]);
    wait_healthy(&address).await;
    let _ = second.kill();
    let output = second.wait_with_output().unwrap();
    let log = stderr_of(&output);
    assert!(
        log.contains("readable by other users") && log.contains("serene.db"),
        "{log}"
    );
}

#[tokio::test]
async fn healthcheck_exits_zero_for_a_healthy_server_and_non_zero_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, address) = start(dir.path(), &[]);
    wait_healthy(&address).await;
    let port = address.rsplit(':').next().unwrap().to_owned();
    let ok = serene(dir.path(), &[("PORT", &port)])
        .arg("healthcheck")
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", stderr_of(&ok));
    let _ = child.kill();
    let _ = child.wait();
    let started = Instant::now();
    let down = serene(dir.path(), &[("PORT", &port)])
        .arg("healthcheck")
        .output()
        .unwrap();
    assert!(!down.status.success());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn backup_copies_the_live_database_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, address) = start(dir.path(), &[]);
    wait_healthy(&address).await;
    register(&address).await;

    let target = dir.path().join("backup.db");
    let output = serene(dir.path(), &[])
        .arg("backup")
        .arg(&target)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    let copy = rusqlite::Connection::open(&target).unwrap();
    let users: i64 = copy
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(users, 1);
    let check: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");

    let again = serene(dir.path(), &[])
        .arg("backup")
        .arg(&target)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(stderr_of(&again).contains("exists"));
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_lets_a_slow_request_finish_then_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, address) = start(dir.path(), &[("MOCK_DELAY_MS", "1500")]);
    wait_healthy(&address).await;
    let client = reqwest::Client::new();
    let cookie = register(&address).await;

    let slow = tokio::spawn({
        let client = client.clone();
        let address = address.clone();
        let cookie = cookie.clone();
        async move {
            client
                .post(format!("{address}/api/entries"))
                .header("cookie", cookie)
                .json(&json!({"mood": "calm", "note": note("A slow entry written just before the shutdown.")}))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    terminate(&child);

    let response = slow
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status(), 201);
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status:?}");

    let conn = rusqlite::Connection::open(dir.path().join("serene.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let entries: i64 = conn
        .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(entries, 1);
}

/// A sealed note moved to another entry does not open: the request is an opaque
/// 500 and the log names the entry and the field, so an operator can find it.
#[cfg(unix)]
#[tokio::test]
async fn an_integrity_error_is_logged_with_the_entry_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (child, address) = start(dir.path(), &[]);
    wait_healthy(&address).await;
    let client = reqwest::Client::new();
    let cookie = register(&address).await;
    let mut ids = Vec::new();
    for text in ["First entry.", "Second entry."] {
        let created: serde_json::Value = client
            .post(format!("{address}/api/entries"))
            .header("cookie", &cookie)
            .json(&json!({"mood": "calm", "note": note(text)}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let conn = rusqlite::Connection::open(dir.path().join("serene.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.execute(
        "UPDATE entries SET note = (SELECT note FROM entries WHERE id = ?1) WHERE id = ?2",
        [&ids[0], &ids[1]],
    )
    .unwrap();
    drop(conn);
    let answer = client
        .get(format!("{address}/api/entries/{}", ids[1]))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 500);
    let body = answer.text().await.unwrap();
    assert!(!body.contains(&ids[1]) && !body.contains("note"), "{body}");

    terminate(&child);
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let log = stderr_of(&output);
    let line = log
        .lines()
        .find(|line| line.contains("integrity error"))
        .unwrap_or_else(|| panic!("no integrity error in the log:\n{log}"));
    assert!(line.contains(&ids[1]) && line.contains("note"), "{line}");
    assert!(line.contains("ERROR"), "{line}");
}
