//! Notes, tags and AI replies sealed at rest: none of their text in any database
//! file, a sealed value moved to another row or field does not open (500, never
//! shown), and entries written before encryption are sealed at start, resumably.

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
async fn a_note_a_tag_and_a_reply_are_in_no_database_file_after_writes_updates_and_a_restart() {
    let app = spawn_app_with_openai(|_| {}).await;
    let cookie = app.signed_up_user("sealed@example.com").await;
    let (note_marker, tag_marker) = ("Wombatnotemarker", "Numbattagmarker");
    reply_with(
        &app,
        &format!("That sounds {MARKER}ful. Rest well tonight."),
    )
    .await;
    let entry = app
        .create_entry(
            &cookie,
            &json!({
                "mood": "calm",
                "note": note(&format!("A walk by the sea with {note_marker}.")),
                "tags": [tag_marker, "sea"]
            }),
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
            &json!({
                "note": note(&format!("A walk by the sea, then rain, {note_marker}2.")),
                "tags": [format!("{tag_marker}2")]
            }),
            Some(&cookie),
        )
        .await;
    assert_eq!(updated.status(), StatusCode::OK);
    for marker in [MARKER, note_marker, tag_marker] {
        assert_nowhere(app.dir.path(), marker);
    }

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
    assert!(read["note"]
        .as_str()
        .unwrap_or_default()
        .contains(&format!("{note_marker}2")));
    assert_eq!(read["tags"], json!([format!("{tag_marker}2")]));
    // Found by its words and tags, through the keyed index only.
    for query in [
        format!("q={}2", note_marker.to_lowercase()),
        "q=wombatnote".to_owned(),
        format!("tag={tag_marker}2"),
    ] {
        let page: Value = app
            .get(&format!("/api/entries?{query}"), Some(&cookie))
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(page["entries"].as_array().map(Vec::len), Some(1), "{query}");
    }
    let tags: Value = app
        .get("/api/tags", Some(&cookie))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        tags["tags"],
        json!([{"tag": format!("{tag_marker}2"), "count": 1}])
    );
    for marker in [MARKER, note_marker, tag_marker] {
        assert_nowhere(app.dir.path(), marker);
        assert_nowhere(app.dir.path(), &marker.to_lowercase());
    }
}

/// Copies the sealed `column` of the entry `from` over `column` of the entry `to`,
/// as someone with the database file but no key could.
fn move_sealed(app: &crate::helpers::TestApp, from: (&str, &str), to: (&str, &str)) {
    let ((source, from_id), (target, to_id)) = (from, to);
    app.open_db()
        .execute(
            &format!(
                "UPDATE entries SET {target} = (SELECT {source} FROM entries WHERE id = ?1) WHERE id = ?2"
            ),
            [from_id, to_id],
        )
        .expect("moved");
}

#[tokio::test]
async fn a_sealed_value_moved_to_another_entry_or_field_is_an_opaque_500_never_shown() {
    // Each swap: (column written, the column and row its value comes from).
    let swaps = [
        ("ai_response", "ai_response", "first"),
        ("note", "note", "first"),
        ("tags", "tags", "first"),
        ("note", "tags", "second"),
        ("tags", "note", "second"),
    ];
    for (target, source, from_row) in swaps {
        let app = spawn_app().await;
        let cookie = app.signed_up_user("moved@example.com").await;
        let first = app
            .create_entry(
                &cookie,
                &json!({ "mood": "happy", "note": note("First secretword."), "tags": ["alpha"] }),
            )
            .await;
        let second = app
            .create_entry(
                &cookie,
                &json!({ "mood": "calm", "note": note("Second."), "tags": ["beta"] }),
            )
            .await;
        let source_id = if from_row == "first" { &first } else { &second };
        move_sealed(
            &app,
            (source, source_id["id"].as_str().expect("id")),
            (target, second["id"].as_str().expect("id")),
        );
        let path = format!("/api/entries/{}", second["id"].as_str().expect("id"));
        // An export has begun its answer when it reaches the entry: the transfer
        // breaks there, so no client takes it for a whole file.
        // The break may come before the answer's head is flushed, or after.
        let export = app
            .client
            .get(format!("{}/api/export?format=json", app.address))
            .header(reqwest::header::COOKIE, &cookie)
            .send()
            .await;
        match export.map(reqwest::Response::text) {
            Err(_) => {}
            Ok(body) => match body.await {
                Err(_) => {}
                Ok(body) => {
                    assert!(
                        serde_json::from_str::<Value>(&body).is_err() && !body.contains("Second"),
                        "{body}"
                    );
                }
            },
        }
        for path in [path.as_str(), "/api/entries"] {
            let answer = app.get(path, Some(&cookie)).await;
            assert_eq!(
                answer.status(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "{target} from {source} of {from_row}: {path}"
            );
            let body = answer.text().await.expect("body");
            assert!(
                !body.contains("lovely") && !body.contains("secretword") && !body.contains("alpha"),
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
}

/// A page opens only its own entries: the row read past its end, which only
/// tells that another page follows, is never opened. A damaged older entry
/// therefore breaks the page that shows it, not the pages before it.
#[tokio::test]
async fn a_page_does_not_open_the_entry_past_its_end() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("past@example.com").await;
    let mut ids = Vec::new();
    for text in ["Oldest.", "Middle.", "Newest."] {
        let created = app
            .create_entry(
                &cookie,
                &json!({ "mood": "calm", "note": note(text), "tags": ["walk"] }),
            )
            .await;
        ids.push(created["id"].as_str().expect("id").to_owned());
        // Each in its own millisecond, so their order is their time, not their ids.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    move_sealed(&app, ("note", &ids[1]), ("note", &ids[0]));
    for filter in ["", "&tag=walk", "&mood=calm"] {
        let answer = app
            .get(&format!("/api/entries?limit=2{filter}"), Some(&cookie))
            .await;
        assert_eq!(answer.status(), StatusCode::OK, "{filter}");
        let page: Value = answer.json().await.expect("json");
        let shown: Vec<&str> = page["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["id"].as_str().expect("id"))
            .collect();
        assert_eq!(shown, [ids[2].as_str(), ids[1].as_str()], "{filter}");
        let cursor = page["next_cursor"].as_str().expect("a next page");
        let next = app
            .get(
                &format!("/api/entries?limit=2{filter}&cursor={cursor}"),
                Some(&cookie),
            )
            .await;
        assert_eq!(next.status(), StatusCode::INTERNAL_SERVER_ERROR, "{filter}");
    }
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
    const OLD_NOTE: &str = "wrote down what I noticed";
    let clear_left = |dir: &Path| -> i64 {
        let conn = rusqlite::Connection::open(dir.join("serene.db")).expect("open");
        conn.query_row(
            "SELECT count(*) FROM entries
             WHERE clear_note IS NOT NULL OR clear_tags IS NOT NULL OR clear_reply IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .expect("count")
    };
    let before: i64 = rusqlite::Connection::open(dir.path().join("serene.db"))
        .expect("open")
        .query_row(
            "SELECT count(*) FROM entries WHERE ai_response IS NOT NULL AND note LIKE '%noticed%'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(before, 6);

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
        "the first account's three entries sealed (batches of two and one)"
    );

    // A key that does not open stops the start: no account is served unsealed.
    let pending_user: String = rusqlite::Connection::open(dir.path().join("serene.db"))
        .expect("open")
        .query_row(
            "SELECT user_id FROM entries WHERE clear_note IS NOT NULL LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("an account still in clear");
    let keys_db = dir.path().join("serene.keys.db");
    let keys_conn = rusqlite::Connection::open(&keys_db).expect("key store");
    let grace_key: Vec<u8> = keys_conn
        .query_row(
            "SELECT wrapped FROM data_keys WHERE user_id = ?1",
            [&pending_user],
            |r| r.get(0),
        )
        .expect("a key");
    let mut broken = grace_key.clone();
    let last = broken.len() - 1;
    broken[last] ^= 1;
    keys_conn
        .execute(
            "UPDATE data_keys SET wrapped = ?1 WHERE wrapped = ?2",
            rusqlite::params![broken, grace_key],
        )
        .expect("broken");
    drop(keys_conn);
    let refused = Application::build(Config::from_vars(&test_vars(&dir)).expect("config")).await;
    assert!(refused.is_err(), "a key that does not open stops the start");
    drop(refused);
    let keys_conn = rusqlite::Connection::open(&keys_db).expect("key store");
    keys_conn
        .execute(
            "UPDATE data_keys SET wrapped = ?1 WHERE wrapped = ?2",
            rusqlite::params![grace_key, broken],
        )
        .expect("mended");
    drop(keys_conn);

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
            assert!(
                entry["note"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(OLD_NOTE),
                "{entry}"
            );
        }
        // The old entries are found through the keyed index the upgrade built.
        for (query, found) in [
            ("q=river", 3),
            ("q=notic", 3),
            ("q=%22long%20walk%22", 3),
            ("tag=T2", 1),
            ("q=t3", 1),
        ] {
            let page: Value = app
                .get(&format!("/api/entries?{query}"), Some(&cookie))
                .await
                .json()
                .await
                .expect("JSON");
            assert_eq!(
                page["entries"].as_array().map(Vec::len),
                Some(found),
                "{query}"
            );
        }
        let tags: Value = app
            .get("/api/tags", Some(&cookie))
            .await
            .json()
            .await
            .expect("JSON");
        assert_eq!(
            tags["tags"],
            json!([{"tag": "t1", "count": 1}, {"tag": "t2", "count": 1}, {"tag": "t3", "count": 1}])
        );
    }
    // The old text is gone from every file, not only from the live rows.
    assert_nowhere(app.dir.path(), OLD_REPLY);
    assert_nowhere(app.dir.path(), OLD_NOTE);
    assert_nowhere(app.dir.path(), "Evening number");
}

/// Plants text in clear in one entry with `planting` (its `?1` is the entry id)
/// and reads `path` (`{id}` is replaced): after the upgrade, text in clear can
/// only have been planted, so it is a 500 and never shown.
async fn planted_text_is_not_shown(planting: &str, path: &str) {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("planted@example.com").await;
    let entry = app
        .create_entry(&cookie, &json!({ "mood": "calm", "note": note("Quiet.") }))
        .await;
    let id = entry["id"].as_str().expect("id");
    app.open_db().execute(planting, [id]).expect("planted");
    let read = app.get(&path.replace("{id}", id), Some(&cookie)).await;
    assert_eq!(read.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!read.text().await.expect("body").contains("planted"));
}

#[tokio::test]
async fn a_reply_planted_in_clear_after_the_upgrade_is_not_shown() {
    planted_text_is_not_shown(
        "UPDATE entries SET clear_reply = 'planted words', ai_response = NULL WHERE id = ?1",
        "/api/entries/{id}",
    )
    .await;
}

#[tokio::test]
async fn a_note_planted_in_clear_after_the_upgrade_is_not_shown() {
    planted_text_is_not_shown(
        "UPDATE entries SET clear_note = 'planted words', note = NULL WHERE id = ?1",
        "/api/entries",
    )
    .await;
}
