//! AI replies sealed at rest: no reply text in any database file, a reply moved
//! to another row does not open (500, never shown), and replies written before
//! encryption are sealed at start, resumably.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{json, Value};
use serene::config::Config;
use serene::startup::Application;
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{note, spawn_app, spawn_app_in, spawn_app_with_openai, test_vars};

const MARKER: &str = "Quokkamarker";

fn database_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    [
        "serene.db",
        "serene.db-wal",
        "serene.keys.db",
        "serene.keys.db-wal",
    ]
    .iter()
    .map(|name| {
        (
            (*name).to_owned(),
            std::fs::read(dir.join(name)).unwrap_or_default(),
        )
    })
    .collect()
}

fn assert_nowhere(dir: &Path, marker: &str) {
    for (name, bytes) in database_files(dir) {
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "{marker} is readable in {name}"
        );
    }
}

async fn reply_with(app: &crate::helpers::TestApp, text: &str) {
    app.openai().reset().await;
    let completion = json!({
        "id": "chatcmpl-marker",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]
    });
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion))
        .mount(app.openai())
        .await;
}

#[tokio::test]
async fn an_ai_reply_is_in_no_database_file_after_writes_updates_and_a_restart() {
    let app = spawn_app_with_openai(|_| {}).await;
    let cookie = app.signed_up_user("sealed@example.com").await;
    reply_with(
        &app,
        &format!("That sounds {MARKER}ful. Rest well tonight."),
    )
    .await;
    let entry = app
        .create_entry(
            &cookie,
            &json!({ "mood": "calm", "note": note("A walk by the sea.") }),
        )
        .await;
    assert!(
        entry["ai_response"]
            .as_str()
            .unwrap_or_default()
            .contains(MARKER),
        "{entry}"
    );
    let id = entry["id"].as_str().expect("id").to_owned();
    reply_with(
        &app,
        &format!("A second {MARKER}ish thought. Be kind to yourself."),
    )
    .await;
    let updated = app
        .put_json(
            &format!("/api/entries/{id}"),
            &json!({ "note": note("A walk by the sea, and then rain.") }),
            Some(&cookie),
        )
        .await;
    assert_eq!(updated.status(), StatusCode::OK);
    assert_nowhere(app.dir.path(), MARKER);

    let app = app.restart().await;
    let read: Value = app
        .get(&format!("/api/entries/{id}"), Some(&cookie))
        .await
        .json()
        .await
        .expect("JSON");
    assert!(read["ai_response"]
        .as_str()
        .unwrap_or_default()
        .contains(&format!("second {MARKER}ish")));
    assert_nowhere(app.dir.path(), MARKER);
}

#[tokio::test]
async fn a_reply_moved_to_another_entry_is_an_opaque_500_never_shown() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("moved@example.com").await;
    let first = app
        .create_entry(&cookie, &json!({ "mood": "happy", "note": note("First.") }))
        .await;
    let second = app
        .create_entry(&cookie, &json!({ "mood": "calm", "note": note("Second.") }))
        .await;
    let conn = rusqlite::Connection::open(app.db_path()).expect("open");
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .expect("timeout");
    conn.execute(
        "UPDATE entries SET ai_response_sealed = (SELECT ai_response_sealed FROM entries WHERE id = ?1) WHERE id = ?2",
        [first["id"].as_str().expect("id"), second["id"].as_str().expect("id")],
    )
    .expect("moved");
    drop(conn);
    let path = format!("/api/entries/{}", second["id"].as_str().expect("id"));
    for path in [path.as_str(), "/api/entries"] {
        let answer = app.get(path, Some(&cookie)).await;
        assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        let body = answer.text().await.expect("body");
        assert!(
            !body.contains("lovely") && !body.contains("Thanks"),
            "{body}"
        );
        assert!(body.contains("INTERNAL_ERROR"), "{body}");
    }
    let untouched = format!("/api/entries/{}", first["id"].as_str().expect("id"));
    assert_eq!(
        app.get(&untouched, Some(&cookie)).await.status(),
        StatusCode::OK
    );
}

/// A database written before encryption (a fixture made by the previous
/// version): its accounts get keys, its replies are sealed at start a batch per
/// transaction, and a start stopped half-way resumes at the next.
#[tokio::test]
async fn a_database_from_before_encryption_is_upgraded_and_the_upgrade_resumes() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pre_encryption/serene.db"),
        dir.path().join("serene.db"),
    )
    .expect("fixture");
    const OLD_REPLY: &str = "lovely way to look after yourself";
    let clear_left = |dir: &Path| -> i64 {
        let conn = rusqlite::Connection::open(dir.join("serene.db")).expect("open");
        conn.query_row(
            "SELECT count(*) FROM entries WHERE ai_response IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .expect("count")
    };
    assert_eq!(clear_left(dir.path()), 6);

    // A start that stops after two batches of two, as a crash would.
    let mut config = Config::from_vars(&test_vars(&dir)).expect("config");
    config.upgrade_batch_rows = 2;
    config.upgrade_batches_before_stop = Some(2);
    let stopped = Application::build(config).await;
    assert!(
        matches!(&stopped, Err(err) if err.to_string().contains("stopped after 2 batches")),
        "{:?}",
        stopped.err().map(|e| e.to_string())
    );
    drop(stopped);
    assert_eq!(
        clear_left(dir.path()),
        3,
        "the first account's three replies sealed (batches of two and one)"
    );

    let app = spawn_app_in(dir).await;
    assert_eq!(clear_left(app.dir.path()), 0);
    for email in ["ada@example.com", "grace@example.com"] {
        let login = app.login(email, "correct horse battery").await;
        assert_eq!(
            login.status(),
            StatusCode::OK,
            "{email} signs in after the upgrade"
        );
        let cookie = crate::helpers::session_cookie(&login).expect("a session cookie");
        let page: Value = app
            .get("/api/entries", Some(&cookie))
            .await
            .json()
            .await
            .expect("JSON");
        let entries = page["entries"].as_array().expect("entries");
        assert_eq!(entries.len(), 3);
        for entry in entries {
            assert!(
                entry["ai_response"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(OLD_REPLY),
                "{entry}"
            );
        }
    }
    assert_nowhere(app.dir.path(), OLD_REPLY);
}

/// After the upgrade, a reply in clear can only have been planted: it is not shown.
#[tokio::test]
async fn a_reply_planted_in_clear_after_the_upgrade_is_not_shown() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("planted@example.com").await;
    let entry = app
        .create_entry(&cookie, &json!({ "mood": "calm", "note": note("Quiet.") }))
        .await;
    let conn = rusqlite::Connection::open(app.db_path()).expect("open");
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .expect("timeout");
    conn.execute(
        "UPDATE entries SET ai_response = 'planted words', ai_response_sealed = NULL WHERE id = ?1",
        [entry["id"].as_str().expect("id")],
    )
    .expect("planted");
    drop(conn);
    let read = app
        .get(
            &format!("/api/entries/{}", entry["id"].as_str().expect("id")),
            Some(&cookie),
        )
        .await;
    assert_eq!(read.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!read.text().await.expect("body").contains("planted"));
}
