//! The key store: a data key per account, wrapped under the master key, in a file
//! apart from the data; shredded with the account, so an older data backup
//! cannot bring the account back; a wrong master key stops the start; rotation.

use std::collections::HashMap;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::{json, Value};
use serene::config::Config;
use serene::startup::Application;

use crate::helpers::{note, spawn_app, spawn_app_in, test_vars, PASSWORD};

fn copy_sqlite(source: &Path, target: &Path) {
    let conn = rusqlite::Connection::open(source).expect("open source");
    conn.backup(rusqlite::MAIN_DB, target, None)
        .expect("backup");
}

fn key_rows(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let conn = rusqlite::Connection::open(dir.join("serene.keys.db")).expect("key store");
    let mut statement = conn
        .prepare("SELECT user_id, wrapped FROM data_keys ORDER BY user_id")
        .expect("query");
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn file_bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn every_account_gets_a_wrapped_data_key_in_a_private_store_apart_from_the_data() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("keyed@example.com").await;
    let id = app.user_id(&cookie).await;
    let rows = key_rows(app.dir.path());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, id);
    assert!(rows[0].1.len() > 32, "stored wrapped, not raw");
    let data = rusqlite::Connection::open(app.db_path()).expect("data");
    let tables: i64 = data
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'data_keys'",
            [],
            |r| r.get(0),
        )
        .expect("query");
    assert_eq!(tables, 0, "no key in the data file");
    #[cfg(unix)]
    {
        assert_eq!(mode(&app.dir.path().join("serene.keys.db")), 0o600);
        assert_eq!(mode(&app.dir.path().join("master.key")), 0o600);
    }
}

#[tokio::test]
async fn deleting_an_account_shreds_its_key_from_the_store_and_its_wal() {
    let app = spawn_app().await;
    let leaving = app.signed_up_user("leaving@example.com").await;
    let staying = app.signed_up_user("staying@example.com").await;
    let leaving_id = app.user_id(&leaving).await;
    let wrapped = key_rows(app.dir.path())
        .into_iter()
        .find(|(user, _)| *user == leaving_id)
        .expect("the key")
        .1;
    let deleted = app
        .send_json(
            reqwest::Method::DELETE,
            "/api/auth/me",
            &json!({ "password": PASSWORD }),
            Some(&leaving),
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let rows = key_rows(app.dir.path());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, app.user_id(&staying).await);
    for file in ["serene.keys.db", "serene.keys.db-wal"] {
        let bytes = file_bytes(&app.dir.path().join(file));
        assert!(
            !bytes
                .windows(wrapped.len())
                .any(|w| w == wrapped.as_slice()),
            "the wrapped key is still in {file}"
        );
    }
}

/// The backup scenario: a data backup taken before a deletion, started with the
/// key store of after it, has no way into the deleted account.
#[tokio::test]
async fn an_old_data_backup_with_todays_key_store_cannot_sign_in_a_deleted_account() {
    let app = spawn_app().await;
    let leaving = app.signed_up_user("gone@example.com").await;
    let staying = app.signed_up_user("here@example.com").await;
    for cookie in [&leaving, &staying] {
        app.create_entry(
            cookie,
            &json!({ "mood": "calm", "note": note("Written before the backup.") }),
        )
        .await;
    }
    app.create_entry(
        &leaving,
        &json!({ "mood": "calm", "note": note("Only Platypusmarker knows this."), "tags": ["Platypustag"] }),
    )
    .await;
    let backup_dir = tempfile::tempdir().expect("dir");
    copy_sqlite(&app.db_path(), &backup_dir.path().join("serene.db"));
    // The backup holds the account's entries sealed: nothing of them reads in clear.
    let backup = file_bytes(&backup_dir.path().join("serene.db"));
    for marker in [
        "Platypusmarker",
        "platypusmarker",
        "Platypustag",
        "platypustag",
    ] {
        assert!(
            !backup.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "{marker} in the backup"
        );
    }

    let deleted = app
        .send_json(
            reqwest::Method::DELETE,
            "/api/auth/me",
            &json!({ "password": PASSWORD }),
            Some(&leaving),
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    // The old data, today's key store and the same secrets.
    copy_sqlite(
        &app.dir.path().join("serene.keys.db"),
        &backup_dir.path().join("serene.keys.db"),
    );
    std::fs::copy(
        app.dir.path().join("master.key"),
        backup_dir.path().join("master.key"),
    )
    .expect("copy");
    let restored = spawn_app_in(backup_dir).await;
    let gone = restored.login("gone@example.com", PASSWORD).await;
    let unknown = restored.login("never@example.com", PASSWORD).await;
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);
    let gone: Value = gone.json().await.expect("JSON");
    let unknown: Value = unknown.json().await.expect("JSON");
    assert_eq!(gone, unknown, "answers like an unknown email");

    let here = restored.login("here@example.com", PASSWORD).await;
    assert_eq!(here.status(), StatusCode::OK);
    let here = crate::helpers::session_cookie(&here).expect("cookie");
    let page: Value = restored
        .get("/api/entries", Some(&here))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(1));
    assert!(page["entries"][0]["ai_response"].is_string());

    // The deleted account's old cookie (its session row is in the old backup) is no session.
    let session: Value = restored
        .get("/api/auth/session", Some(&leaving))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(session, json!({ "user": null }));
    assert_eq!(
        restored.get("/api/auth/me", Some(&leaving)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Its email is free again: the account is gone from this data too.
    assert_eq!(
        restored
            .register("gone@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::CREATED
    );
}

/// A deletion cut short after the key was marked: the next start finishes it.
#[tokio::test]
async fn a_deletion_cut_short_is_finished_at_the_next_start() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("halfway@example.com").await;
    app.create_entry(
        &cookie,
        &json!({ "mood": "calm", "note": note("Almost gone.") }),
    )
    .await;
    let id = app.user_id(&cookie).await;
    app.state.accounts.keys().doom(&id).await.expect("doomed");
    let app = app.restart().await;
    assert_eq!(
        app.login("halfway@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(key_rows(app.dir.path()).is_empty());
    let data = rusqlite::Connection::open(app.db_path()).expect("data");
    let left: i64 = data
        .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))
        .expect("count");
    assert_eq!(left, 0);
}

/// The key store and the data file carry the same pairing id: a new or missing
/// key store (or a missing generated master key) stops the start.
#[tokio::test]
async fn a_missing_key_store_or_master_key_stops_the_start_instead_of_new_keys() {
    let dir = tempfile::tempdir().expect("dir");
    let vars = vars_with(dir.path(), &[]);
    {
        let config = Config::from_vars(&vars).expect("config");
        let app = Application::build(config).await.expect("first start");
        let state = app.state();
        let email = serene::domain::Email::parse("paired@example.com").expect("email");
        let password = serene::domain::Password::parse(PASSWORD).expect("password");
        state
            .accounts
            .register(
                state
                    .accounts
                    .admit_registration([127, 0, 0, 1].into())
                    .expect("place"),
                [127, 0, 0, 1].into(),
                &email,
                &password,
            )
            .await
            .expect("registered");
    }
    let master = dir.path().join("master.key");
    let kept = dir.path().join("kept.key");
    std::fs::rename(&master, &kept).expect("move the key away");
    let message = start_error(&vars).await;
    assert!(message.contains("master key file"), "{message}");
    assert!(!master.exists(), "no new master key was made");
    std::fs::rename(&kept, &master).expect("restore the key");

    for file in ["serene.keys.db", "serene.keys.db-wal", "serene.keys.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(file));
    }
    let message = start_error(&vars).await;
    assert!(message.contains("KEYS_DATABASE_URL"), "{message}");
}

fn vars_with(dir: &Path, extra: &[(&str, String)]) -> HashMap<String, String> {
    let temp = tempfile::TempDir::new_in(dir).expect("dir");
    let mut vars = test_vars(&temp);
    vars.insert(
        "DATABASE_URL".into(),
        dir.join("serene.db").display().to_string(),
    );
    for (name, value) in extra {
        vars.insert((*name).into(), value.clone());
    }
    vars
}

async fn start_error(vars: &HashMap<String, String>) -> String {
    let config = Config::from_vars(vars).expect("valid configuration");
    match Application::build(config).await {
        Ok(_) => panic!("started with the wrong key"),
        Err(err) => err.to_string(),
    }
}

fn key_text() -> String {
    serene::crypto::Key::generate()
        .expect("random")
        .to_base64()
        .to_string()
}

#[tokio::test]
async fn a_wrong_master_key_stops_the_start_and_names_the_variable() {
    let dir = tempfile::tempdir().expect("dir");
    let right = key_text();
    let vars = vars_with(dir.path(), &[("MASTER_KEY", right.clone())]);
    let config = Config::from_vars(&vars).expect("config");
    drop(Application::build(config).await.expect("first start"));

    let wrong = vars_with(dir.path(), &[("MASTER_KEY", key_text())]);
    let message = start_error(&wrong).await;
    assert!(message.contains("MASTER_KEY"), "{message}");
    assert!(
        !message.contains(&right),
        "the key is never printed: {message}"
    );
}

#[tokio::test]
async fn rotation_rewraps_every_key_and_only_the_new_key_starts() {
    let dir = tempfile::tempdir().expect("dir");
    let old_file = dir.path().join("old.key");
    std::fs::write(&old_file, key_text()).expect("key file");
    let old_vars = vars_with(
        dir.path(),
        &[("MASTER_KEY_FILE", old_file.display().to_string())],
    );
    {
        let config = Config::from_vars(&old_vars).expect("config");
        let app = Application::build(config).await.expect("start");
        let state = app.state();
        for email in ["one@example.com", "two@example.com"] {
            let email = serene::domain::Email::parse(email).expect("email");
            let password = serene::domain::Password::parse(PASSWORD).expect("password");
            state
                .accounts
                .register(
                    state
                        .accounts
                        .admit_registration([127, 0, 0, 1].into())
                        .expect("place"),
                    [127, 0, 0, 1].into(),
                    &email,
                    &password,
                )
                .await
                .expect("registered");
        }
    }
    let new_file = dir.path().join("new.key");
    let config = Config::from_vars(&old_vars).expect("config");
    {
        let running = Application::build(Config::from_vars(&old_vars).expect("config"))
            .await
            .expect("a running server");
        let refused = serene::cli::rotate_master_key(&config, &new_file).await;
        assert!(
            matches!(&refused, Err(message) if message.contains("in use")),
            "{refused:?}"
        );
        drop(running);
    }
    let _ = std::fs::remove_file(&new_file);
    let said = serene::cli::rotate_master_key(&config, &new_file)
        .await
        .expect("rotated");
    assert!(said.contains("re-wrapped 2 data keys"), "{said}");

    let message = start_error(&old_vars).await;
    assert!(message.contains("MASTER_KEY"), "{message}");
    let new_vars = vars_with(
        dir.path(),
        &[("MASTER_KEY_FILE", new_file.display().to_string())],
    );
    let config = Config::from_vars(&new_vars).expect("config");
    let app = Application::build(config)
        .await
        .expect("starts with the new key");
    let state = app.state();
    for email in ["one@example.com", "two@example.com"] {
        state
            .accounts
            .login([127, 0, 0, 1].into(), email, PASSWORD)
            .await
            .expect("every account still signs in");
    }
}
