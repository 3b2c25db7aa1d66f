use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, note, spawn_app, spawn_app_with_openai, TestApp};

fn entry_body(mood: &str, text: &str) -> Value {
    json!({"mood": mood, "tags": ["work", "sleep"], "note": note(text)})
}

async fn two_users(app: &TestApp) -> (String, String) {
    (
        app.signed_up_user("ada@example.com").await,
        app.signed_up_user("bob@example.com").await,
    )
}

#[tokio::test]
async fn creating_an_entry_answers_201_with_the_stored_entry() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let body = json!({"mood": "  Happy ", "tags": [" work ", "sleep", "work"], "note": note("  A good day.")});
    let entry = app.create_entry(&cookie, &body).await;
    assert_eq!(entry["mood"], "happy");
    assert_eq!(entry["tags"], json!(["work", "sleep"]));
    assert!(entry["note"].as_str().unwrap().starts_with("A good day."));
    assert!(entry["ai_response"].as_str().is_some_and(|r| !r.is_empty()));
    let created = entry["created_at"].as_str().unwrap();
    assert_eq!(created.len(), "2026-11-25T09:30:00.123Z".len());
    assert!(created.ends_with('Z'));
    assert_eq!(entry["created_at"], entry["updated_at"]);
    uuid::Uuid::parse_str(entry["id"].as_str().unwrap()).unwrap();

    let fetched: Value = app
        .get(
            &format!("/api/entries/{}", entry["id"].as_str().unwrap()),
            Some(&cookie),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, entry);
}

#[tokio::test]
async fn every_entry_route_requires_a_session() {
    let app = spawn_app().await;
    let id = "6f9619ff-8b86-4011-b42d-00c04fc964ff";
    assert_error(
        app.get("/api/entries", None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
    assert_error(
        app.get(&format!("/api/entries/{id}"), None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
    assert_error(
        app.post_json("/api/entries", &entry_body("calm", "x"), None)
            .await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
    assert_error(
        app.put_json(&format!("/api/entries/{id}"), &json!({"mood": "x"}), None)
            .await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
    assert_error(
        app.delete(&format!("/api/entries/{id}"), None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
    assert_error(
        app.get("/api/analytics/weekly", None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
}

#[tokio::test]
async fn another_user_never_sees_changes_or_deletes_an_entry() {
    let app = spawn_app().await;
    let (ada, bob) = two_users(&app).await;
    let entry = app
        .create_entry(&ada, &entry_body("calm", "Ada's private thoughts."))
        .await;
    let path = format!("/api/entries/{}", entry["id"].as_str().unwrap());

    let unknown = assert_error(
        app.get(
            "/api/entries/6f9619ff-8b86-4011-b42d-00c04fc964ff",
            Some(&bob),
        )
        .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let foreign = assert_error(
        app.get(&path, Some(&bob)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let malformed = assert_error(
        app.get("/api/entries/not-a-uuid", Some(&bob)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_eq!(foreign, unknown);
    assert_eq!(malformed, unknown);
    assert_error(
        app.put_json(&path, &json!({"mood": "hacked"}), Some(&bob))
            .await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.delete(&path, Some(&bob)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    let listed: Value = app.get_json("/api/entries", Some(&bob)).await;
    assert_eq!(listed["entries"], json!([]));
    let weekly: Value = app.get_json("/api/analytics/weekly", Some(&bob)).await;
    assert_eq!(weekly, json!({}));

    let still: Value = app.get(&path, Some(&ada)).await.json().await.unwrap();
    assert_eq!(still, entry);
}

#[tokio::test]
async fn each_validation_rule_is_checked_at_its_boundary() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let ok_note = "n".repeat(50);
    let cases = [
        (json!({"mood": "calm", "note": "n".repeat(49)}), "note"),
        (
            json!({"mood": "calm", "note": format!("  {}  ", "n".repeat(49))}),
            "note",
        ),
        (json!({"mood": "calm", "note": "n".repeat(10_001)}), "note"),
        (json!({"mood": "calm", "note": 42}), "note"),
        (json!({"mood": "calm"}), "note"),
        (json!({"mood": "   ", "note": ok_note}), "mood"),
        (json!({"mood": "m".repeat(33), "note": ok_note}), "mood"),
        (json!({"note": ok_note}), "mood"),
        (
            json!({"mood": "calm", "note": ok_note, "tags": "work"}),
            "tags",
        ),
        (
            json!({"mood": "calm", "note": ok_note, "tags": [1]}),
            "tags",
        ),
        (
            json!({"mood": "calm", "note": ok_note, "tags": ["t".repeat(33)]}),
            "tags",
        ),
        (
            json!({"mood": "calm", "note": ok_note, "tags": (0..11).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
            "tags",
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
        assert!(error["fields"][field].is_string(), "{field}: {error}");
    }
    for body in [
        json!({"mood": "calm", "note": "n".repeat(50)}),
        json!({"mood": "calm", "note": "é".repeat(50)}),
        json!({"mood": "calm", "note": "n".repeat(10_000)}),
        json!({"mood": "m".repeat(32), "note": ok_note, "tags": (0..10).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
        json!({"mood": "calm", "note": ok_note, "tags": null}),
    ] {
        assert_eq!(
            app.post_json("/api/entries", &body, Some(&cookie))
                .await
                .status(),
            StatusCode::CREATED,
            "{body}"
        );
    }
}

#[tokio::test]
async fn fields_a_client_must_not_set_are_ignored() {
    let app = spawn_app().await;
    let (ada, bob) = two_users(&app).await;
    let bob_id: Value = app.get_json("/api/auth/me", Some(&bob)).await;
    let body = json!({
        "mood": "calm", "note": note("Trying to set fields."),
        "id": "6f9619ff-8b86-4011-b42d-00c04fc964ff", "user_id": bob_id["id"],
        "ai_response": "injected", "created_at": "2000-01-01T00:00:00.000Z", "updated_at": "2000-01-01T00:00:00.000Z"
    });
    let entry = app.create_entry(&ada, &body).await;
    assert_ne!(entry["id"], "6f9619ff-8b86-4011-b42d-00c04fc964ff");
    assert_ne!(entry["ai_response"], "injected");
    assert!(!entry["created_at"].as_str().unwrap().starts_with("2000"));
    let bobs: Value = app.get_json("/api/entries", Some(&bob)).await;
    assert_eq!(bobs["entries"], json!([]));

    let path = format!("/api/entries/{}", entry["id"].as_str().unwrap());
    let updated: Value = app
        .put_json(&path, &json!({"mood": "sad", "user_id": bob_id["id"], "ai_response": "x", "created_at": "2000-01-01T00:00:00.000Z"}), Some(&ada))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(updated["mood"], "sad");
    assert_eq!(updated["ai_response"], entry["ai_response"]);
    assert_eq!(updated["created_at"], entry["created_at"]);
}

#[tokio::test]
async fn paging_visits_every_entry_once_in_order_even_with_shared_timestamps() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let base = 1_795_000_000_000;
    for i in 0..90 {
        app.insert_entry_at(&cookie, base + i * 1000, "calm").await;
    }
    for _ in 0..30 {
        app.insert_entry_at(&cookie, base + 45_000, "happy").await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/entries?limit=7&cursor={c}"),
            None => "/api/entries?limit=7".to_string(),
        };
        let page: Value = app.get(&path, Some(&cookie)).await.json().await.unwrap();
        pages += 1;
        for entry in page["entries"].as_array().unwrap() {
            seen.push((
                entry["created_at"].as_str().unwrap().to_owned(),
                entry["id"].as_str().unwrap().to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 120);
    assert_eq!(
        seen.iter().map(|(_, id)| id).collect::<HashSet<_>>().len(),
        120
    );
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first, ties by id");
    assert_eq!(pages, 18);
}

#[tokio::test]
async fn the_default_page_holds_fifty_entries() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    for i in 0..55 {
        app.insert_entry_at(&cookie, 1_795_000_000_000 + i, "calm")
            .await;
    }
    let page: Value = app.get_json("/api/entries", Some(&cookie)).await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 50);
    assert!(page["next_cursor"].is_string());
}

#[tokio::test]
async fn from_and_to_accept_dates_and_datetimes_and_are_inclusive() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    // 2026-11-19T23:59:59.999Z, 2026-11-20T00:00:00.000Z, 2026-11-20T12:00:00.000Z, 2026-11-21T00:00:00.000Z
    let day = 1_795_132_800_000_i64;
    for at in [day - 1, day, day + 43_200_000, day + 86_400_000] {
        app.insert_entry_at(&cookie, at, "calm").await;
    }
    let count = |query: &'static str| {
        let app = &app;
        let cookie = cookie.clone();
        async move {
            let response = app
                .get(&format!("/api/entries?{query}"), Some(&cookie))
                .await;
            assert_eq!(response.status(), StatusCode::OK, "{query}");
            let page: Value = response.json().await.unwrap();
            page["entries"].as_array().unwrap().len()
        }
    };
    assert_eq!(count("from=2026-11-20&to=2026-11-20").await, 2);
    assert_eq!(count("from=2026-11-20").await, 3);
    assert_eq!(count("to=2026-11-20").await, 3);
    assert_eq!(
        count("from=2026-11-20T00:00:00.000Z&to=2026-11-20T12:00:00.000Z").await,
        2
    );
    assert_eq!(
        count("from=2026-11-20T13:00:00%2B01:00&to=2026-11-20T13:00:00%2B01:00").await,
        1
    );
    assert_eq!(
        count("from=2026-11-19T23:59:59.999Z&to=2026-11-19T23:59:59.999Z").await,
        1
    );
}

#[tokio::test]
async fn bad_list_parameters_are_422() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=abc", "limit"),
        ("cursor=garbage", "cursor"),
        ("from=2026-13-01", "from"),
        ("from=2026-11-20T10:00:00", "from"),
        ("to=yesterday", "to"),
        ("from=2026-11-21&to=2026-11-20", "from"),
    ] {
        let response = app
            .get(&format!("/api/entries?{query}"), Some(&cookie))
            .await;
        let error = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        )
        .await;
        assert!(error["fields"][field].is_string(), "{query}: {error}");
    }
}

#[tokio::test]
async fn an_update_changes_only_the_given_fields_and_moves_updated_at_forward() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let entry = app
        .create_entry(&cookie, &entry_body("calm", "Before the update."))
        .await;
    let path = format!("/api/entries/{}", entry["id"].as_str().unwrap());
    let first: Value = app
        .put_json(&path, &json!({"tags": ["new"]}), Some(&cookie))
        .await
        .json()
        .await
        .unwrap();
    let second: Value = app
        .put_json(&path, &json!({"mood": "Sad"}), Some(&cookie))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["tags"], json!(["new"]));
    assert_eq!(second["mood"], "sad");
    assert_eq!(second["note"], entry["note"]);
    assert_eq!(second["ai_response"], entry["ai_response"]);
    let times = [
        &entry["updated_at"],
        &first["updated_at"],
        &second["updated_at"],
    ]
    .map(|t| t.as_str().unwrap().to_owned());
    assert!(times[0] < times[1] && times[1] < times[2], "{times:?}");
    let cleared: Value = app
        .put_json(&path, &json!({"tags": null}), Some(&cookie))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["tags"], json!([]));
}

#[tokio::test]
async fn an_update_without_known_fields_or_with_bad_values_is_422() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let entry = app
        .create_entry(&cookie, &entry_body("calm", "Stays as it is."))
        .await;
    let path = format!("/api/entries/{}", entry["id"].as_str().unwrap());
    for body in [
        json!({}),
        json!({"id": "x"}),
        json!({"note": "short"}),
        json!({"mood": null}),
        json!({"tags": "x"}),
    ] {
        assert_error(
            app.put_json(&path, &body, Some(&cookie)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        )
        .await;
    }
    let unchanged: Value = app.get(&path, Some(&cookie)).await.json().await.unwrap();
    assert_eq!(unchanged, entry);
}

#[tokio::test]
async fn deleting_an_entry_answers_204_and_then_it_is_gone() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let entry = app
        .create_entry(&cookie, &entry_body("calm", "To be deleted."))
        .await;
    let path = format!("/api/entries/{}", entry["id"].as_str().unwrap());
    let response = app.delete(&path, Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());
    assert_error(
        app.get(&path, Some(&cookie)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_error(
        app.delete(&path, Some(&cookie)).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

mod with_openai {
    use super::*;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    fn completion(content: &str) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-1", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null}, "finish_reason": "stop"}]
        }))
    }

    #[tokio::test]
    async fn put_keeps_ai_response_for_the_same_note_and_replaces_it_for_a_new_one() {
        let app = spawn_app_with_openai(|_| {}).await;
        let cookie = app.signed_up_user("ada@example.com").await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(completion(
                "That sounds like a full day. Rest well tonight.",
            ))
            .up_to_n_times(1)
            .expect(1)
            .mount(app.openai())
            .await;
        let entry = app
            .create_entry(&cookie, &entry_body("calm", "The first version."))
            .await;
        assert_eq!(
            entry["ai_response"],
            "That sounds like a full day. Rest well tonight."
        );
        let path_ = format!("/api/entries/{}", entry["id"].as_str().unwrap());

        let same: Value = app
            .put_json(
                &path_,
                &json!({"note": entry["note"], "mood": "tired"}),
                Some(&cookie),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(same["ai_response"], entry["ai_response"]);
        app.openai().verify().await;

        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(completion("What a change of pace. Enjoy the quiet."))
            .expect(1)
            .mount(app.openai())
            .await;
        let changed: Value = app
            .put_json(
                &path_,
                &json!({"note": note("The second version.")}),
                Some(&cookie),
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            changed["ai_response"],
            "What a change of pace. Enjoy the quiet."
        );
    }

    #[tokio::test]
    async fn an_entry_is_saved_with_a_null_reply_when_the_ai_fails() {
        let app = spawn_app_with_openai(|_| {}).await;
        let cookie = app.signed_up_user("ada@example.com").await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500))
            .mount(app.openai())
            .await;
        let entry = app
            .create_entry(&cookie, &entry_body("calm", "The AI is down today."))
            .await;
        assert_eq!(entry["ai_response"], Value::Null);
        let listed: Value = app.get_json("/api/entries", Some(&cookie)).await;
        assert_eq!(listed["entries"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn an_entrys_own_created_at_as_from_and_to_includes_it() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let entry = app
        .create_entry(&cookie, &entry_body("calm", "Exact bounds."))
        .await;
    let id = entry["id"].as_str().unwrap();
    assert_eq!(id, id.to_lowercase(), "ids are lower-case");
    let at = entry["created_at"].as_str().unwrap();
    let page: Value = app
        .get_json(&format!("/api/entries?from={at}&to={at}"), Some(&cookie))
        .await;
    assert_eq!(page["entries"], json!([entry]));
}

#[tokio::test]
async fn updated_at_moves_forward_even_for_writes_in_the_same_millisecond() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let entry = app
        .create_entry(&cookie, &entry_body("calm", "Many quick edits."))
        .await;
    let id = serene::domain::EntryId::parse(entry["id"].as_str().unwrap()).unwrap();
    let user_id = app.user_id(&cookie).await;
    let keys = app.entry_keys(&user_id).await;
    // Every update starts from the entry as first read: from the second on, the
    // entry has changed under it, and the change is applied to what it became.
    let first_read = app
        .state
        .db
        .entries()
        .get(&keys, &id)
        .await
        .unwrap()
        .unwrap();
    let mut previous = 0;
    for i in 0..20 {
        let changes = serene::domain::EntryChanges::parse(
            json!({"mood": format!("m{i}")}).as_object().unwrap(),
        )
        .unwrap();
        let update = serene::db::Update {
            changes,
            ai_response: None,
            current: first_read.clone(),
        };
        let updated = app
            .state
            .db
            .entries()
            .update(&keys, &id, update)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(updated.mood, format!("m{i}"));
        assert_eq!(updated.note, entry["note"].as_str().unwrap());
        assert!(
            updated.updated_at > previous,
            "write {i}: {} after {previous}",
            updated.updated_at
        );
        previous = updated.updated_at;
    }
}

/// A millisecond holds at most 65,536 entries (an entry's seq is its time times
/// 65,536 plus its place in that millisecond). With the last place of every
/// millisecond of the next ten seconds taken, a new entry has no seq: the
/// answer is `503` with `Retry-After`, nothing is stored, and once the places
/// are free again the same request is stored.
#[tokio::test]
async fn a_new_entry_in_a_full_millisecond_is_503_with_retry_after_and_nothing_stored() {
    const SEQS_PER_MILLI: i64 = 65_536;
    let app = spawn_app().await;
    let (ada, bob) = two_users(&app).await;
    let bob_id = app.user_id(&bob).await;
    let now = serene::domain::time::now_millis();
    let mut conn = app.open_db();
    let fill = conn.transaction().unwrap();
    for at in now..now + 10_000 {
        fill.execute(
            "INSERT INTO entries (seq, id, user_id, mood, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'calm', ?4, ?4)",
            rusqlite::params![
                (at + 1) * SEQS_PER_MILLI - 1,
                format!("filler-{at}"),
                bob_id,
                at
            ],
        )
        .unwrap();
    }
    fill.commit().unwrap();

    let body = entry_body("calm", "A millisecond too many.");
    let refused = app.post_json("/api/entries", &body, Some(&ada)).await;
    let retry_after = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|secs| secs >= 1), "{retry_after:?}");
    assert_error(
        refused,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    )
    .await;
    let page: Value = app.get_json("/api/entries", Some(&ada)).await;
    assert_eq!(page["entries"], json!([]), "{page}");

    conn.execute("DELETE FROM entries WHERE id LIKE 'filler-%'", [])
        .unwrap();
    let stored = app.post_json("/api/entries", &body, Some(&ada)).await;
    assert_eq!(stored.status(), StatusCode::CREATED);
}
