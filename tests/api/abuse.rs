//! An outsider's attacks: parallel guesses, floods, protocol garbage, hostile bytes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, note, spawn_app, spawn_app_with, TestApp, PASSWORD};

const ROUTE_LOGIN: &str = "/api/auth/login";

async fn login_from(app: &TestApp, address: &str, email: &str, password: &str) -> StatusCode {
    app.client
        .post(app.url(ROUTE_LOGIN))
        .header("x-forwarded-for", address)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("request sent")
        .status()
}

fn trusting_proxy(vars: &mut std::collections::HashMap<String, String>) {
    vars.insert("TRUST_PROXY".into(), "true".into());
}

#[tokio::test]
async fn sixty_parallel_guesses_from_sixty_addresses_reach_the_password_check_at_most_five_times() {
    let app = Arc::new(spawn_app_with(trusting_proxy).await);
    app.signed_up_user("ada@example.com").await;

    let guesses = (0..60).map(|i| {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            login_from(
                &app,
                &format!("198.51.100.{i}"),
                "ada@example.com",
                &format!("wrong guess {i}"),
            )
            .await
        })
    });
    let statuses: Vec<StatusCode> = futures_util_join(guesses).await;

    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(
        checked <= 5,
        "{checked} guesses reached bcrypt: {statuses:?}"
    );
    assert_eq!(checked + refused, 60, "{statuses:?}");
    assert_eq!(
        login_from(&app, "198.51.100.200", "ada@example.com", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "once five guesses failed, even the right password waits"
    );
}

#[tokio::test]
async fn parallel_guesses_from_one_address_with_the_right_password_last_never_sign_in() {
    let app = Arc::new(spawn_app().await);
    app.signed_up_user("ada@example.com").await;
    let mut attempts: Vec<_> = (0..59)
        .map(|i| (format!("wrong guess {i}"), false))
        .collect();
    attempts.push((PASSWORD.to_owned(), true));
    let tasks = attempts.into_iter().map(|(password, _)| {
        let app = Arc::clone(&app);
        tokio::spawn(async move { app.login("ada@example.com", &password).await.status() })
    });
    let statuses = futures_util_join(tasks).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert!(checked <= 5, "{checked} guesses reached bcrypt");
    assert!(
        statuses[..59].iter().all(|s| *s != StatusCode::OK),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_login_from_another_address_is_not_queued_behind_a_flood_from_one_address() {
    let app = Arc::new(spawn_app_with(trusting_proxy).await);
    app.signed_up_user("ada@example.com").await;
    app.signed_up_user("bob@example.com").await;

    // Completion order: every answer takes the next number.
    let finished = Arc::new(AtomicUsize::new(0));
    let flood: Vec<_> = (0..80)
        .map(|i| {
            let (app, finished) = (Arc::clone(&app), Arc::clone(&finished));
            tokio::spawn(async move {
                let status =
                    login_from(&app, "203.0.113.66", "ada@example.com", &format!("x{i}")).await;
                (status, finished.fetch_add(1, Ordering::SeqCst))
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let innocent = login_from(&app, "192.0.2.10", "bob@example.com", PASSWORD).await;
    let innocent_position = finished.fetch_add(1, Ordering::SeqCst);
    let flood = futures_util_join(flood).await;

    assert_eq!(innocent, StatusCode::OK);
    let checked_before_innocent = flood
        .iter()
        .filter(|(status, position)| {
            *status == StatusCode::UNAUTHORIZED && *position < innocent_position
        })
        .count();
    assert!(
        checked_before_innocent <= 3,
        "the innocent login waited for {checked_before_innocent} of the flood's password checks"
    );
    let checked = flood
        .iter()
        .filter(|(status, _)| *status == StatusCode::UNAUTHORIZED)
        .count();
    assert!(checked <= 5, "one email, {checked} checks");
}

/// Awaits spawned tasks in order.
async fn futures_util_join<T>(
    tasks: impl IntoIterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task finished"));
    }
    results
}

/// Sends raw bytes and reads the whole answer (the server closes the connection).
async fn raw_exchange(app: &TestApp, request: &[u8]) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.address.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let request = request.to_vec();
    // Written alongside the read: the server may answer before it has read it all.
    let write = tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
        writer
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut answer));
    let _ = read.await;
    drop(write.await);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn assert_contract_error(answer: (u16, String, String), status: u16, code: &str) {
    let (got, head, body) = answer;
    assert_eq!(got, status, "{code}: {head}\n{body}");
    for header in [
        "content-type: application/json",
        "cache-control: no-store",
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
        "x-frame-options: deny",
        "x-request-id: ",
    ] {
        assert!(head.contains(header), "{header} missing in:\n{head}");
    }
    let body: Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
}

#[tokio::test]
async fn protocol_errors_are_answered_as_contract_json_with_the_security_headers() {
    let app = spawn_app().await;
    let long_target = format!("/api/entries?q={}", "a".repeat(9_000));
    let huge_target = format!("/{}", "a".repeat(100_000));
    let many_headers: String = (0..150).map(|i| format!("x-h{i}: 1\r\n")).collect();
    let too_many_for_hyper: String = (0..1_500).map(|i| format!("x-h{i}: 1\r\n")).collect();
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            format!("GET {long_target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").into(),
            414,
            "URI_TOO_LONG",
        ),
        (
            format!("GET {huge_target} HTTP/1.1\r\nhost: x\r\n\r\n").into(),
            414,
            "URI_TOO_LONG",
        ),
        (
            format!("GET /api/health HTTP/1.1\r\nhost: x\r\n{many_headers}connection: close\r\n\r\n")
                .into(),
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            format!("GET /api/health HTTP/1.1\r\nhost: x\r\n{too_many_for_hyper}\r\n").into(),
            431,
            "HEADERS_TOO_LARGE",
        ),
        (
            b"POST /api/auth/login HTTP/1.1\r\nhost: x\r\ncontent-length: 18446744073709551615\r\n\r\n"
                .to_vec(),
            431,
            "HEADERS_TOO_LARGE",
        ),
        (b"GET /\r\n".to_vec(), 400, "BAD_REQUEST"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(), 400, "BAD_REQUEST"),
    ];
    for (request, status, code) in cases {
        assert_contract_error(raw_exchange(&app, &request).await, status, code);
    }
    // The server is still fine.
    assert_eq!(app.get("/api/health", None).await.status(), StatusCode::OK);
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_wal_and_shm_are_private_files() {
    use std::os::unix::fs::PermissionsExt;
    let app = spawn_app().await;
    app.signed_up_user("ada@example.com").await;
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", app.db_path().display());
        let mode = std::fs::metadata(&path).expect(&path).permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{path} is {mode:o}");
    }
}

async fn post_raw(
    app: &TestApp,
    path: &str,
    body: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.expect("request sent")
}

#[tokio::test]
async fn a_json_body_that_repeats_a_key_is_invalid_json() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let text = note("Repeated keys.");
    for body in [
        format!(r#"{{"mood":"calm","mood":"sad","note":"{text}"}}"#),
        format!(r#"{{"mood":"calm","note":"{text}","tags":["a"],"tags":["b"]}}"#),
        format!(r#"{{"mood":"calm","note":"{text}","x":{{"y":1,"y":2}}}}"#),
    ] {
        assert_error(
            post_raw(&app, "/api/entries", &body, Some(&cookie)).await,
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
        )
        .await;
    }
    let list: Value = app.get_json("/api/entries", Some(&cookie)).await;
    assert_eq!(list["entries"], json!([]), "nothing stored");
}

#[tokio::test]
async fn moods_tags_and_notes_refuse_invisible_only_and_control_characters() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let text = note("Hostile bytes.");
    let cases = [
        (json!({"mood": "\u{200B}", "note": text}), "mood"),
        (json!({"mood": "\u{FEFF}\u{2060}", "note": text}), "mood"),
        (json!({"mood": "ca\u{0}lm", "note": text}), "mood"),
        (json!({"mood": "calm\u{1b}[2J", "note": text}), "mood"),
        (
            json!({"mood": "calm", "tags": ["wo\u{7}rk"], "note": text}),
            "tags",
        ),
        (
            json!({"mood": "calm", "tags": ["\u{200B}"], "note": text}),
            "tags",
        ),
        (
            json!({"mood": "calm", "note": format!("{text}\u{0}")}),
            "note",
        ),
        (
            json!({"mood": "calm", "note": format!("{text}\u{1b}[31mred")}),
            "note",
        ),
    ];
    for (body, field) in cases {
        let response = app.post_json("/api/entries", &body, Some(&cookie)).await;
        let error = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        )
        .await;
        assert!(error["fields"][field].is_string(), "{body} -> {error}");
    }
    let fine = app
        .create_entry(
            &cookie,
            &json!({"mood": "calm", "note": format!("{text}\tand\r\nmore lines")}),
        )
        .await;
    assert!(fine["note"].as_str().unwrap().contains("\r\n"));
}

#[tokio::test]
async fn nfc_and_nfd_spellings_of_a_tag_or_mood_are_one() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let entry = app
        .create_entry(
            &cookie,
            &json!({"mood": "Gel\u{e9}e", "tags": ["caf\u{e9}", "cafe\u{301}"], "note": note("Spellings.")}),
        )
        .await;
    assert_eq!(entry["tags"], json!(["caf\u{e9}"]));
    let nfd = app
        .create_entry(
            &cookie,
            &json!({"mood": "Gele\u{301}e", "note": note("Spellings again.")}),
        )
        .await;
    assert_eq!(nfd["mood"], entry["mood"]);
    assert_eq!(nfd["mood"], "gel\u{e9}e");
}

#[tokio::test]
async fn query_dates_must_be_written_exactly() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    for query in [
        "from=2026-1-1",
        "to=2026-01-1",
        "from=20260101",
        "to=2026-01-01x",
    ] {
        let error = assert_error(
            app.get(&format!("/api/entries?{query}"), Some(&cookie))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        )
        .await;
        assert!(error["fields"].is_object(), "{query}: {error}");
    }
    assert_eq!(
        app.get("/api/entries?from=2026-01-01&to=2026-12-31", Some(&cookie))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn csv_cells_are_all_quoted_and_hidden_formulas_are_defused() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let base = note("Formula.");
    let notes = [
        format!("Nice day;=1+1 {base}"),
        format!("\u{200B}=HYPERLINK(\"http://evil\") {base}"),
        format!("\u{FF1D}1+1 {base}"),
        format!("\u{FEFF}@SUM(A1) {base}"),
    ];
    for text in &notes {
        app.create_entry(
            &cookie,
            &json!({"mood": "calm", "tags": ["a;b"], "note": text}),
        )
        .await;
    }
    let csv = app
        .get("/api/export?format=csv", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    let rows: Vec<&str> = csv.split("\r\n").filter(|r| !r.is_empty()).collect();
    assert_eq!(rows.len(), notes.len() + 1);
    for row in &rows {
        assert!(
            row.starts_with('"') && row.ends_with('"'),
            "every field quoted: {row}"
        );
    }
    assert!(rows[1].contains("\"Nice day;=1+1 "), "{}", rows[1]);
    assert!(rows[2].contains("\"'\u{200B}=HYPERLINK"), "{}", rows[2]);
    assert!(rows[3].contains("\"'\u{FF1D}1+1"), "{}", rows[3]);
    assert!(rows[4].contains("\"'\u{FEFF}@SUM"), "{}", rows[4]);
}
