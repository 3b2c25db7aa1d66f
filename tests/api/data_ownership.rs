use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, assert_signed_in, assert_signed_out, note, session_cookie, set_cookie, spawn_app,
    TestApp, PASSWORD,
};

/// Notes that break naive exporters: quotes, commas, newlines, emoji, formulas.
fn tricky_notes() -> Vec<String> {
    vec![
        note("She said \"hello\", then left; it stung a little."),
        note("First line\nsecond line, with a comma\r\nthird line"),
        note("A sunny day 😊🌞 with cookies 🍪 and a long nap."),
        format!(
            "=cmd|' /C calc'!A0 {}",
            note("Formula-looking text at the start.")
        ),
        format!("@SUM(A1:A9) {}", note("Another formula-looking start.")),
    ]
}

async fn write_tricky_entries(app: &TestApp, cookie: &str) -> Vec<Value> {
    let mut written = Vec::new();
    for (i, text) in tricky_notes().into_iter().enumerate() {
        let body =
            json!({"mood": format!("mood{i}"), "tags": ["a,b", "quote\"d", "plain"], "note": text});
        written.push(app.create_entry(cookie, &body).await);
    }
    written
}

/// Entries in export order: oldest first by (created_at, id). Entries written within
/// one millisecond share a created_at, and the id decides between them.
fn oldest_first(mut entries: Vec<Value>) -> Vec<Value> {
    entries.sort_by(|a, b| {
        let key = |e: &Value| {
            (
                e["created_at"].as_str().map(str::to_owned),
                e["id"].as_str().map(str::to_owned),
            )
        };
        key(a).cmp(&key(b))
    });
    entries
}

async fn export(app: &TestApp, cookie: &str, format: &str) -> (reqwest::header::HeaderMap, String) {
    let response = app
        .get(&format!("/api/export?format={format}"), Some(cookie))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{format}");
    let headers = response.headers().clone();
    (headers, response.text().await.unwrap())
}

/// A small RFC 4180 reader, enough to check what we write.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

#[tokio::test]
async fn the_json_export_holds_every_entry_oldest_first_with_every_field() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let written = write_tricky_entries(&app, &cookie).await;
    let (headers, body) = export(&app, &cookie, "json").await;
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let disposition = headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"serene-export-20")
            && disposition.ends_with(".json\""),
        "{disposition}"
    );
    let exported: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(exported["user"]["email"], "ada@example.com");
    assert!(exported["exported_at"].as_str().unwrap().ends_with('Z'));
    // Oldest first means by (created_at, id): entries written within one
    // millisecond share a created_at, and the id decides between them.
    assert_eq!(exported["entries"], json!(oldest_first(written)));
}

#[tokio::test]
async fn the_csv_export_round_trips_quotes_commas_newlines_and_emoji_and_defuses_formulas() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let written = write_tricky_entries(&app, &cookie).await;
    let (headers, body) = export(&app, &cookie, "csv").await;
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let rows = parse_csv(&body);
    assert_eq!(
        rows[0],
        [
            "id",
            "created_at",
            "updated_at",
            "mood",
            "tags",
            "note",
            "ai_response"
        ]
    );
    assert_eq!(rows.len(), written.len() + 1);
    for (row, entry) in rows[1..].iter().zip(&oldest_first(written.clone())) {
        assert_eq!(row[0], entry["id"].as_str().unwrap());
        assert_eq!(row[1], entry["created_at"].as_str().unwrap());
        assert_eq!(row[3], entry["mood"].as_str().unwrap());
        assert_eq!(
            serde_json::from_str::<Value>(&row[4]).unwrap(),
            entry["tags"]
        );
        let note = entry["note"].as_str().unwrap();
        if note.starts_with(['=', '@']) {
            assert_eq!(row[5], format!("'{note}"));
        } else {
            assert_eq!(row[5], note);
        }
        assert_eq!(row[6], entry["ai_response"].as_str().unwrap_or(""));
    }
}

#[tokio::test]
async fn the_markdown_export_is_one_document_with_a_heading_per_day() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let written = write_tricky_entries(&app, &cookie).await;
    let (headers, body) = export(&app, &cookie, "markdown").await;
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "text/markdown; charset=utf-8"
    );
    assert!(body.starts_with("# Serene journal"));
    assert_eq!(
        body.matches("\n## ").count(),
        1,
        "all written today: {body}"
    );
    for entry in &written {
        assert!(
            body.contains(entry["note"].as_str().unwrap().trim_end()),
            "note missing"
        );
        assert!(body.contains(&format!("· {}", entry["mood"].as_str().unwrap())));
    }
}

#[tokio::test]
async fn an_export_never_contains_another_users_data() {
    let app = spawn_app().await;
    let ada = app.signed_up_user("ada@example.com").await;
    let bob = app.signed_up_user("bob@example.com").await;
    app.create_entry(
        &ada,
        &json!({"mood": "secret", "note": note("Ada's private thought number one.")}),
    )
    .await;
    for format in ["json", "csv", "markdown"] {
        let (_, body) = export(&app, &bob, format).await;
        assert!(
            !body.contains("Ada's private") && !body.contains("secret") && !body.contains("ada@"),
            "{format}: {body}"
        );
    }
}

#[tokio::test]
async fn an_unknown_export_format_is_422_and_no_session_is_401() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    assert_error(
        app.get("/api/export?format=xml", Some(&cookie)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    )
    .await;
    assert_error(
        app.get("/api/export", None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
}

#[tokio::test]
async fn an_export_of_many_entries_streams_completely() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let me: Value = app.get_json("/api/auth/me", Some(&cookie)).await;
    let entry = serene::domain::NewEntry::parse(
        json!({"mood": "calm", "note": note("Bulk entry for the export.")})
            .as_object()
            .unwrap(),
    )
    .unwrap();
    let keys = app.entry_keys(me["id"].as_str().unwrap()).await;
    for i in 0..1_234 {
        app.state
            .db
            .entries()
            .insert(&keys, &entry, None, 1_795_000_000_000 + i)
            .await
            .unwrap();
    }
    let (_, body) = export(&app, &cookie, "json").await;
    let exported: Value = serde_json::from_str(&body).unwrap();
    let entries = exported["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1_234);
    let times: Vec<&str> = entries
        .iter()
        .map(|e| e["created_at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions_and_keeps_the_caller_signed_in() {
    let app = spawn_app().await;
    let first = app.signed_up_user("ada@example.com").await;
    let other = session_cookie(&app.login("ada@example.com", PASSWORD).await).unwrap();
    let response = app
        .post_json(
            "/api/auth/password",
            &json!({"current_password": PASSWORD, "new_password": "a brand new secret"}),
            Some(&first),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let fresh = session_cookie(&response).expect("a fresh cookie");
    assert_signed_in(&app, &fresh).await;
    assert_signed_out(&app, &other).await;
    assert_signed_out(&app, &first).await;
    assert_eq!(
        app.login("ada@example.com", "a brand new secret")
            .await
            .status(),
        StatusCode::OK
    );
    assert_error(
        app.login("ada@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    )
    .await;
    // The revocation is durable.
    let app = app.restart().await;
    assert_signed_out(&app, &other).await;
    assert_signed_in(&app, &fresh).await;
}

#[tokio::test]
async fn a_new_password_must_follow_the_registration_rules() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    for new_password in [json!("short"), json!("a".repeat(73)), json!(12345678)] {
        let response = app
            .post_json(
                "/api/auth/password",
                &json!({"current_password": PASSWORD, "new_password": new_password}),
                Some(&cookie),
            )
            .await;
        let error = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        )
        .await;
        assert!(error["fields"]["new_password"].is_string());
    }
    assert_signed_in(&app, &cookie).await;
}

#[tokio::test]
async fn a_wrong_current_password_is_401_and_counts_towards_the_login_limit() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    for _ in 0..5 {
        let response = app
            .post_json(
                "/api/auth/password",
                &json!({"current_password": "not it at all", "new_password": "a brand new secret"}),
                Some(&cookie),
            )
            .await;
        assert_error(response, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;
    }
    assert_error(
        app.login("ada@example.com", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
    )
    .await;
    let response = app
        .post_json(
            "/api/auth/password",
            &json!({"current_password": PASSWORD, "new_password": "a brand new secret"}),
            Some(&cookie),
        )
        .await;
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
}

#[tokio::test]
async fn deleting_the_account_removes_every_trace_and_frees_the_email() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let marker = "zebra-marker-7f3a9c";
    for i in 0..20 {
        app.create_entry(&cookie, &json!({"mood": "calm", "tags": [marker], "note": note(&format!("{marker} entry {i} of a long diary."))})).await;
    }
    let other = app.signed_up_user("bob@example.com").await;
    app.create_entry(&other, &json!({"mood": "calm", "note": note("Bob stays.")}))
        .await;

    // The note's text, and any word of it (`7f3a9c` is one of the words search
    // splits the marker into): sealed and keyed, neither is ever on disk.
    let holds_marker = |app: &TestApp| {
        ["serene.db", "serene.db-wal"].iter().any(|file| {
            std::fs::read(app.dir.path().join(file)).is_ok_and(|bytes| {
                [marker, "7f3a9c"]
                    .iter()
                    .any(|needle| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
            })
        })
    };
    assert!(
        !holds_marker(&app),
        "the marker is sealed, even before the deletion"
    );
    let ada_id = app.user_id(&cookie).await;
    // Documents per search token (Ada's 20 entries share words, so some token is
    // in 20 of them), and index rows by owner.
    let index_rows = |conn: &rusqlite::Connection| -> (i64, i64, i64) {
        conn.execute_batch(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_tokens USING fts5vocab(main, entries_search, 'row')",
        )
        .unwrap();
        (
            conn.query_row("SELECT max(doc) FROM temp.search_tokens", [], |r| r.get(0))
                .unwrap(),
            conn.query_row(
                "SELECT count(*) FROM entry_tags WHERE user_id = ?1",
                [&ada_id],
                |r| r.get(0),
            )
            .unwrap(),
            conn.query_row(
                "SELECT count(*) FROM tag_counts WHERE user_id = ?1",
                [&ada_id],
                |r| r.get(0),
            )
            .unwrap(),
        )
    };
    let (most_documents, tag_rows, tag_counts) =
        index_rows(&rusqlite::Connection::open(app.db_path()).unwrap());
    assert!(most_documents >= 20, "{most_documents}");
    assert_eq!((tag_rows, tag_counts), (20, 1));

    let wrong = app
        .send_json(
            reqwest::Method::DELETE,
            "/api/auth/me",
            &json!({"password": "not my password"}),
            Some(&cookie),
        )
        .await;
    assert_error(wrong, StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS").await;

    let response = app
        .send_json(
            reqwest::Method::DELETE,
            "/api/auth/me",
            &json!({"password": PASSWORD}),
            Some(&cookie),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(set_cookie(&response).unwrap().contains("Max-Age=0"));
    assert_signed_out(&app, &cookie).await;
    assert_error(
        app.get("/api/entries", Some(&cookie)).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;

    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(
        count("SELECT count(*) FROM users WHERE email = 'ada@example.com'"),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM entries"),
        1,
        "only Bob's entry is left"
    );
    assert_eq!(count("SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = 'ada@example.com'"), 0);
    assert_eq!(
        index_rows(&conn),
        (1, 0, 0),
        "the search index keeps only Bob's entry, the tag rows none of Ada's"
    );
    drop(conn);
    assert!(
        !holds_marker(&app),
        "the database files still hold the deleted text"
    );
    assert_eq!(
        app.register("ada@example.com", PASSWORD).await.status(),
        StatusCode::CREATED
    );
}
