//! Search, tag and mood filters, tags, mood buckets and the summary.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, note, session_cookie, spawn_app, spawn_app_in, test_vars, TestApp, PASSWORD,
};

async fn write(app: &TestApp, cookie: &str, mood: &str, tags: &[&str], text: &str) -> String {
    let entry = app
        .create_entry(
            cookie,
            &json!({"mood": mood, "tags": tags, "note": note(text)}),
        )
        .await;
    entry["id"].as_str().unwrap().to_owned()
}

async fn get_json(app: &TestApp, cookie: &str, path: &str) -> Value {
    let response = app.get(path, Some(cookie)).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

/// The ids a list request finds, following every page.
async fn found(app: &TestApp, cookie: &str, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/entries?{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = get_json(app, cookie, &path).await;
        for entry in page["entries"].as_array().unwrap() {
            ids.push(entry["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

/// Each search (`q`, the ids it finds newest first, why) finds exactly those ids.
async fn assert_searches(app: &TestApp, cookie: &str, cases: Vec<(&str, Vec<&String>, &str)>) {
    for (query, expected, why) in cases {
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(
            found(app, cookie, &q(query)).await,
            expected,
            "{query}: {why}"
        );
    }
}

fn q(text: &str) -> String {
    format!("q={}", urlencode(text))
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn search_ands_words_matches_prefixes_phrases_case_and_diacritics() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    // `note()` adds a sentence with "long walk" to every note, so other words here.
    let cafe = write(
        &app,
        &cookie,
        "calm",
        &["coffee"],
        "Met Lena at the Café by the river.",
    )
    .await;
    let stroll = write(
        &app,
        &cookie,
        "happy",
        &[],
        "A strolling tour through the old town.",
    )
    .await;
    let both = write(
        &app,
        &cookie,
        "tired",
        &["river"],
        "Slow stroll by the river after work.",
    )
    .await;
    let cases: Vec<(&str, Vec<&String>, &str)> = vec![
        ("cafe", vec![&cafe], "diacritics"),
        ("CAFÉ", vec![&cafe], "case"),
        (
            "stroll",
            vec![&both, &stroll],
            "the last word is also a prefix",
        ),
        ("stroll river", vec![&both], "words are ANDed"),
        ("stroll zebra", vec![], "every word must match"),
        ("river", vec![&both, &cafe], "note or tags"),
        ("coffee", vec![&cafe], "tags are searched"),
        ("\"slow stroll\"", vec![&both], "a phrase"),
        ("\"stroll slow\"", vec![], "a phrase keeps its order"),
        ("\"strol\"", vec![], "a phrase is never a prefix"),
        ("\"slow stroll\" zebra", vec![], "phrase and word"),
        // The index holds prefixes only; the opened text decides.
        (
            "strolling the",
            vec![&stroll],
            "a whole word, not another with its prefix",
        ),
        ("\"by the\"", vec![&both, &cafe], "a phrase of short words"),
        ("at the", vec![&cafe], "a word of two letters"),
    ];
    assert_searches(&app, &cookie, cases).await;
    assert_eq!(
        found(&app, &cookie, &q("  ")).await.len(),
        3,
        "blank q is no filter"
    );
}

/// The index holds prefixes cut by characters, so words of other scripts (two and
/// three bytes a character) are found whole, by prefix, and folded like Latin ones.
#[tokio::test]
async fn search_finds_words_of_other_scripts_whole_by_prefix_and_folded() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let walk = write(&app, &cookie, "calm", &[], "Прогулка у реки.").await;
    let greeting = write(&app, &cookie, "happy", &["日本語"], "Καλημέρα, θάλασσα!").await;
    let cases: Vec<(&str, Vec<&String>, &str)> = vec![
        ("ПРОГУЛКА", vec![&walk], "case"),
        ("прог", vec![&walk], "a prefix"),
        ("прогулкой", vec![], "a longer word with the same prefix"),
        (
            "καλημερα θαλασσα",
            vec![&greeting],
            "diacritics, words ANDed",
        ),
        ("日本", vec![&greeting], "a prefix of a tag"),
        ("\"у реки\"", vec![&walk], "a phrase"),
    ];
    assert_searches(&app, &cookie, cases).await;
    // The 200-character limit counts characters, not bytes (two bytes each here).
    let search = |chars: usize| format!("/api/entries?{}", q(&"п".repeat(chars)));
    assert_eq!(
        app.get(&search(200), Some(&cookie)).await.status(),
        StatusCode::OK
    );
    let long = app.get(&search(201), Some(&cookie)).await;
    let error = assert_error(long, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR").await;
    assert!(error["fields"]["q"].is_string());
}

#[tokio::test]
async fn search_syntax_is_taken_as_plain_words_and_never_errs() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let id = write(
        &app,
        &cookie,
        "calm",
        &[],
        "Near the river AND the old mill, notes: fine.",
    )
    .await;
    for query in [
        "river*",
        "-river",
        "note:",
        "NEAR(river mill)",
        "river AND",
        "AND",
        "OR river",
        "NOT",
        "(river",
        "river)",
        "\"",
        "\"\"",
        "'",
        "^river",
        "{river}",
        "river +mill",
        "%",
        "\\",
        "col:river",
        "* * *",
        "NEAR",
        "river NOT mill",
    ] {
        let response = app
            .get(&format!("/api/entries?{}", q(query)), Some(&cookie))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{query}");
    }
    assert_eq!(
        found(&app, &cookie, &q("NEAR(river mill)")).await,
        vec![id.clone()]
    );
    assert_eq!(
        found(&app, &cookie, &q("river AND")).await,
        vec![id.clone()],
        "AND is a word here"
    );
    assert!(
        found(&app, &cookie, &q("river NOT zebra")).await.is_empty(),
        "NOT is a word, not negation"
    );
    let long = app
        .get(
            &format!("/api/entries?{}", q(&"a".repeat(201))),
            Some(&cookie),
        )
        .await;
    let error = assert_error(long, StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_ERROR").await;
    assert!(error["fields"]["q"].is_string());
    assert_eq!(
        app.get(
            &format!("/api/entries?{}", q(&"a".repeat(200))),
            Some(&cookie)
        )
        .await
        .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn tag_and_mood_filters_combine_with_dates_and_page_without_gaps() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let user_id = app.user_id(&cookie).await;
    // 30 entries sharing three timestamps, alternating tags and moods.
    let base = 1_795_000_000_000_i64;
    for i in 0..30 {
        let tags = if i % 2 == 0 {
            json!(["Work", "sleep"])
        } else {
            json!(["work"])
        };
        let mood = ["calm", "sad", "happy"][i % 3];
        let entry = serene::domain::NewEntry::parse(
            json!({"mood": mood, "tags": tags, "note": note(&format!("Shared time entry {i}, river walk."))})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        app.state
            .db
            .entries()
            .insert(
                &app.entry_keys(&user_id).await,
                &entry,
                None,
                base + (i as i64 % 3),
            )
            .await
            .unwrap();
    }
    let all_work = found(&app, &cookie, "tag=WORK&limit=4").await;
    assert_eq!(all_work.len(), 30, "tags compare without case");
    assert_eq!(
        all_work,
        found(&app, &cookie, "limit=7").await,
        "a tag filter pages in the list's own order"
    );
    let mut unique = all_work.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 30, "no entry repeated across pages");
    assert_eq!(
        found(&app, &cookie, "tag=work&tag=sleep&limit=4")
            .await
            .len(),
        15,
        "every tag"
    );
    assert_eq!(
        found(&app, &cookie, "mood=calm&mood=SAD&limit=4")
            .await
            .len(),
        20,
        "any mood"
    );
    assert_eq!(
        found(
            &app,
            &cookie,
            &format!("tag=sleep&mood=calm&{}&limit=2", q("walk"))
        )
        .await
        .len(),
        5
    );
    let day = chrono::DateTime::from_timestamp_millis(base)
        .unwrap()
        .format("%Y-%m-%d");
    assert_eq!(
        found(
            &app,
            &cookie,
            &format!("tag=sleep&from={day}&to={day}&limit=3")
        )
        .await
        .len(),
        15
    );
    assert!(
        found(&app, &cookie, "tag=sleep&from=2020-01-01&to=2020-01-02")
            .await
            .is_empty()
    );
    assert_error(
        app.get("/api/entries?tag=%20%20", Some(&cookie)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    )
    .await;
}

#[tokio::test]
async fn nobody_finds_or_counts_another_users_words_tags_or_moods() {
    let app = spawn_app().await;
    let ada = app.signed_up_user("ada@example.com").await;
    let bob = app.signed_up_user("bob@example.com").await;
    write(
        &app,
        &bob,
        "angry",
        &["secretproject"],
        "Only Bob writes about the zeppelin.",
    )
    .await;
    write(
        &app,
        &ada,
        "calm",
        &["garden"],
        "Ada writes about her garden.",
    )
    .await;
    assert!(found(&app, &ada, &q("zeppelin")).await.is_empty());
    assert!(found(&app, &ada, "tag=secretproject").await.is_empty());
    assert!(found(&app, &ada, "mood=angry").await.is_empty());
    let tags = get_json(&app, &ada, "/api/tags").await;
    assert_eq!(tags, json!({"tags": [{"tag": "garden", "count": 1}]}));
    let summary = get_json(&app, &ada, "/api/analytics/summary").await;
    assert_eq!(summary["entries_total"], 1);
    assert_eq!(summary["most_common_mood"], "calm");
}

#[tokio::test]
async fn edited_and_deleted_entries_leave_the_index_at_once() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let id = write(
        &app,
        &cookie,
        "calm",
        &["  Old "],
        "An afternoon with the violin.",
    )
    .await;
    let response = app
        .put_json(
            &format!("/api/entries/{id}"),
            &json!({"note": note("An afternoon with the cello."), "tags": ["new"]}),
            Some(&cookie),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(found(&app, &cookie, &q("violin")).await.is_empty());
    assert!(found(&app, &cookie, "tag=old").await.is_empty());
    assert_eq!(found(&app, &cookie, &q("cello")).await, vec![id.clone()]);
    assert_eq!(found(&app, &cookie, "tag=new").await, vec![id.clone()]);
    let response = app
        .put_json(
            &format!("/api/entries/{id}"),
            &json!({"mood": "happy"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(found(&app, &cookie, &q("cello")).await, vec![id.clone()]);
    assert_eq!(found(&app, &cookie, "tag=NEW").await, vec![id.clone()]);
    let response = app
        .delete(&format!("/api/entries/{id}"), Some(&cookie))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(found(&app, &cookie, &q("cello")).await.is_empty());
    assert_eq!(
        get_json(&app, &cookie, "/api/tags").await,
        json!({"tags": []})
    );
    assert_eq!(live_index_terms(&app), 0, "the index finds nothing left");
    assert_eq!(index_rows_without_entry(&app), 0);
}

/// Search rows whose entry is gone. A new entry's row is written without looking
/// for an older one at its seq, so none may outlive its entry.
fn index_rows_without_entry(app: &TestApp) -> i64 {
    app.open_db()
        .query_row(
            "SELECT count(*) FROM entries_search_docsize
             WHERE id NOT IN (SELECT seq FROM entries)",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// Keyed terms the search index still finds a document for (deleted rows and
/// replaced tokens excluded, merged or not).
fn live_index_terms(app: &TestApp) -> i64 {
    let conn = app.open_db();
    conn.execute_batch(
        "CREATE VIRTUAL TABLE temp.terms USING fts5vocab(main, entries_search, 'row')",
    )
    .unwrap();
    conn.query_row("SELECT count(*) FROM temp.terms WHERE doc > 0", [], |r| {
        r.get(0)
    })
    .unwrap()
}

/// An edit takes out exactly the tokens the entry was written with: what is left
/// is what a fresh entry with the new text holds (the count of terms does not
/// depend on the key, so another user's copy of it holds as many).
#[tokio::test]
async fn an_edit_leaves_only_the_new_texts_tokens_in_the_index() {
    let app = spawn_app().await;
    let ada = app.signed_up_user("ada@example.com").await;
    let id = write(
        &app,
        &ada,
        "calm",
        &["Violin"],
        "Practising scales before breakfast.",
    )
    .await;
    let (new_note, new_tags) = ("Walking the dog along the harbour.", ["dog", "Harbour"]);
    let response = app
        .put_json(
            &format!("/api/entries/{id}"),
            &json!({"note": note(new_note), "tags": new_tags}),
            Some(&ada),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let edited = live_index_terms(&app);
    assert!(edited > 0);
    let grace = app.signed_up_user("grace@example.com").await;
    write(&app, &grace, "calm", &new_tags, new_note).await;
    assert_eq!(live_index_terms(&app), 2 * edited);
    assert!(found(&app, &ada, &q("scales")).await.is_empty());
    assert!(found(&app, &ada, &q("violin")).await.is_empty());
    assert_eq!(found(&app, &ada, &q("harbour dog")).await, vec![id]);
}

#[tokio::test]
async fn tags_are_counted_most_used_first_then_by_name() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    write(&app, &cookie, "calm", &["Work", "sleep"], "One.").await;
    write(&app, &cookie, "calm", &["work", "art"], "Two.").await;
    write(&app, &cookie, "calm", &["zen"], "Three.").await;
    let tags = get_json(&app, &cookie, "/api/tags").await;
    assert_eq!(
        tags,
        json!({"tags": [
            {"tag": "Work", "count": 2},
            {"tag": "art", "count": 1},
            {"tag": "sleep", "count": 1},
            {"tag": "zen", "count": 1}
        ]})
    );
}

async fn insert_at(app: &TestApp, cookie: &str, rfc3339: &str, mood: &str) {
    let at = chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis();
    app.insert_entry_at(cookie, at, mood).await;
}

#[tokio::test]
async fn mood_buckets_follow_local_days_across_dst_and_month_ends() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    // Berlin: 29 March 2026 has 23 hours. 22:30 UTC on the 29th is 00:30 on the 30th there.
    insert_at(&app, &cookie, "2026-03-29T21:30:00Z", "calm").await;
    insert_at(&app, &cookie, "2026-03-29T22:30:00Z", "sad").await;
    insert_at(&app, &cookie, "2026-03-31T21:59:00Z", "calm").await;
    let days = get_json(
        &app,
        &cookie,
        "/api/analytics/moods?from=2026-03-29&to=2026-04-01&bucket=day&tz=Europe/Berlin",
    )
    .await;
    assert_eq!(
        days,
        json!({"buckets": [
            {"start": "2026-03-29", "counts": {"calm": 1}},
            {"start": "2026-03-30", "counts": {"sad": 1}},
            {"start": "2026-03-31", "counts": {"calm": 1}},
            {"start": "2026-04-01", "counts": {}}
        ]})
    );
    let months = get_json(
        &app,
        &cookie,
        "/api/analytics/moods?from=2026-02-15&to=2026-04-30&bucket=month&tz=UTC",
    )
    .await;
    assert_eq!(
        months,
        json!({"buckets": [
            {"start": "2026-02-01", "counts": {}},
            {"start": "2026-03-01", "counts": {"calm": 2, "sad": 1}},
            {"start": "2026-04-01", "counts": {}}
        ]})
    );
    for bad in [
        "from=2026-01-01&to=2027-02-01&bucket=day",
        "from=2026-02-01&to=2026-01-01",
        "from=2026-1-1&to=2026-02-01",
        "from=2026-01-01&to=2026-02-01&bucket=year",
        "from=2026-01-01&to=2026-02-01&tz=Nowhere/Else",
    ] {
        assert_error(
            app.get(&format!("/api/analytics/moods?{bad}"), Some(&cookie))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        )
        .await;
    }
}

#[tokio::test]
async fn streaks_cross_midnight_in_far_east_and_far_west_zones() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let now = chrono::Utc::now();
    // Three entries one UTC day apart at 11:30 UTC, ending today.
    for days_ago in [2, 1, 0] {
        let at = (now - chrono::Duration::days(days_ago))
            .date_naive()
            .and_hms_opt(11, 30, 0)
            .unwrap()
            .and_utc();
        if at <= now {
            app.insert_entry_at(&cookie, at.timestamp_millis(), "calm")
                .await;
        }
    }
    let utc = get_json(&app, &cookie, "/api/analytics/summary?tz=UTC").await;
    let count = utc["entries_total"].as_u64().unwrap();
    assert_eq!(utc["days_journaled"].as_u64(), Some(count));
    assert_eq!(utc["longest_streak_days"].as_u64(), Some(count));
    for zone in ["Pacific/Kiritimati", "Pacific/Pago_Pago"] {
        let local = get_json(&app, &cookie, &format!("/api/analytics/summary?tz={zone}")).await;
        // 11:30 UTC is on one local day in both zones, so the run stays whole there too.
        assert_eq!(local["longest_streak_days"].as_u64(), Some(count), "{zone}");
        assert!(
            local["current_streak_days"].as_u64().unwrap() >= 1,
            "{zone}: {local}"
        );
    }
}

#[tokio::test]
async fn an_empty_journal_has_an_empty_summary_tags_and_buckets() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    assert_eq!(
        get_json(&app, &cookie, "/api/analytics/summary?tz=Asia/Tokyo").await,
        json!({
            "entries_total": 0,
            "days_journaled": 0,
            "current_streak_days": 0,
            "longest_streak_days": 0,
            "most_common_mood": null,
            "top_tags": []
        })
    );
    assert_eq!(
        get_json(&app, &cookie, "/api/tags").await,
        json!({"tags": []})
    );
    let weeks = get_json(
        &app,
        &cookie,
        "/api/analytics/moods?from=2026-11-16&to=2026-11-29",
    )
    .await;
    assert_eq!(
        weeks,
        json!({"buckets": [{"start": "2026-11-16", "counts": {}}, {"start": "2026-11-23", "counts": {}}]})
    );
    assert_error(
        app.get("/api/tags", None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
}

#[tokio::test]
async fn the_summary_follows_every_write_at_once() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let total = |summary: &Value| summary["entries_total"].as_u64().unwrap();
    let path = "/api/analytics/summary?tz=Europe/Berlin";
    assert_eq!(total(&get_json(&app, &cookie, path).await), 0);
    let id = write(&app, &cookie, "calm", &["a"], "First.").await;
    assert_eq!(total(&get_json(&app, &cookie, path).await), 1);
    let response = app
        .put_json(
            &format!("/api/entries/{id}"),
            &json!({"mood": "sad"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        get_json(&app, &cookie, path).await["most_common_mood"],
        "sad"
    );
    app.delete(&format!("/api/entries/{id}"), Some(&cookie))
        .await;
    assert_eq!(total(&get_json(&app, &cookie, path).await), 0);
}

#[tokio::test]
async fn entries_written_by_older_schemas_are_found_after_the_upgrade() {
    // 3: before search existed; 5: the first, shared search index.
    for version in [3, 5] {
        let dir = tempfile::tempdir().unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("serene.db")).unwrap();
        serene::db::register_functions(&conn).unwrap();
        // The schema as older Serenes left it: the first `version` migrations.
        for sql in &serene::db::MIGRATIONS[..version] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", version as i64)
            .unwrap();
        let hash = bcrypt::hash(PASSWORD, 4).unwrap();
        let (ada, bob) = (
            "0b5e7f6a-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
            "1c6f8a7b-2d3e-4f5a-9b8c-1d2e3f4a5b6c",
        );
        for (id, email) in [(ada, "ada@example.com"), (bob, "bob@example.com")] {
            conn.execute(
                "INSERT INTO users (id, email, password_hash, created_at) VALUES (?1, ?2, ?3, 1)",
                rusqlite::params![id, email, hash],
            )
            .unwrap();
        }
        let rows = [
            (
                "7d1e0c52-41c5-4d6b-9a3e-2f0b8c6d4e11",
                ada,
                r#"["Work"]"#,
                "Café by the river, then home.",
                3,
            ),
            (
                "8e2f1d63-52d6-4e7c-8b4f-3a1c9d7e5f22",
                ada,
                r#"["garden"]"#,
                "Weeding the garden beds.",
                2,
            ),
            (
                "9f3a2e74-63e7-4f8d-9c5a-4b2d0e8f6a33",
                bob,
                r#"["work"]"#,
                "Café with the team.",
                1,
            ),
        ];
        for (id, owner, tags, text, at) in rows {
            conn.execute(
                "INSERT INTO entries (id, user_id, mood, tags, note, created_at, updated_at)
                 VALUES (?1, ?2, 'calm', ?3, ?4, ?5, ?5)",
                rusqlite::params![id, owner, tags, note(text), at],
            )
            .unwrap();
        }
        drop(conn);

        let app = spawn_app_in(dir).await;
        let login = app.login("ada@example.com", PASSWORD).await;
        let cookie = session_cookie(&login).unwrap();
        let ada_cafe = rows[0].0.to_owned();
        assert_eq!(
            found(&app, &cookie, &q("cafe")).await,
            vec![ada_cafe.clone()],
            "v{version}"
        );
        assert_eq!(
            found(&app, &cookie, &q("gard")).await,
            vec![rows[1].0.to_owned()],
            "v{version}"
        );
        assert_eq!(
            found(&app, &cookie, "tag=work").await,
            vec![ada_cafe],
            "v{version}"
        );
        let tags = get_json(&app, &cookie, "/api/tags").await;
        assert_eq!(
            tags["tags"].as_array().unwrap().len(),
            2,
            "v{version}: {tags}"
        );
    }
}

#[tokio::test]
async fn mood_buckets_follow_every_write_at_once() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let today = chrono::Utc::now().date_naive();
    let path = format!(
        "/api/analytics/moods?from={}&to={}&bucket=month&tz=UTC",
        today - chrono::Duration::days(40),
        today
    );
    let this_month =
        |answer: Value| answer["buckets"].as_array().unwrap().last().unwrap()["counts"].clone();
    assert_eq!(this_month(get_json(&app, &cookie, &path).await), json!({}));
    let id = write(&app, &cookie, "calm", &[], "First.").await;
    assert_eq!(
        this_month(get_json(&app, &cookie, &path).await),
        json!({"calm": 1})
    );
    let response = app
        .put_json(
            &format!("/api/entries/{id}"),
            &json!({"mood": "sad"}),
            Some(&cookie),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        this_month(get_json(&app, &cookie, &path).await),
        json!({"sad": 1})
    );
    let other = app.signed_up_user("bob@example.com").await;
    write(&app, &other, "happy", &[], "Bob's.").await;
    assert_eq!(
        this_month(get_json(&app, &cookie, &path).await),
        json!({"sad": 1}),
        "another user's write changes nothing"
    );
    app.delete(&format!("/api/entries/{id}"), Some(&cookie))
        .await;
    assert_eq!(this_month(get_json(&app, &cookie, &path).await), json!({}));
}

/// Stores `entry` straight through the database layer at `created_at`; its id.
async fn store_at(
    app: &TestApp,
    keys: &serene::db::EntryKeys,
    entry: Value,
    created_at: i64,
) -> String {
    let entry = serene::domain::NewEntry::parse(entry.as_object().unwrap()).unwrap();
    app.state
        .db
        .entries()
        .insert(keys, &entry, None, created_at)
        .await
        .unwrap()
        .id
}

/// A search walks its candidates in seq order, which follows time but not the
/// order of ids within one millisecond: every page is still in the list's own
/// order, with no gap or repeat, whatever order the entries were written in.
#[tokio::test]
async fn a_search_pages_in_the_lists_order_through_shared_timestamps() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let user_id = app.user_id(&cookie).await;
    let keys = app.entry_keys(&user_id).await;
    let base = 1_795_000_000_000_i64;
    // 40 entries over four milliseconds, written out of time order; every third
    // one without the word searched for.
    for i in 0..40_i64 {
        let text = if i % 3 == 0 {
            format!("Entry {i}, a swim in the lake.")
        } else {
            format!("Entry {i}, a walk by the river.")
        };
        store_at(
            &app,
            &keys,
            json!({"mood": "calm", "tags": ["walk"], "note": note(&text)}),
            base + (i * 7) % 4,
        )
        .await;
    }
    let all = get_json(&app, &cookie, "/api/entries?limit=100").await;
    let expected: Vec<String> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["note"].as_str().unwrap().contains("river"))
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(expected.len(), 26);
    let day = chrono::DateTime::from_timestamp_millis(base)
        .unwrap()
        .format("%Y-%m-%d");
    for limit in [1, 3, 4, 7, 26, 27] {
        // `by` has no token: the entries themselves are walked and checked.
        let tokenless = [q("by"), format!("{}&tag=walk", q("by"))];
        for query in [q("river"), q("riv"), q("walk by the")]
            .into_iter()
            .chain(tokenless)
        {
            assert_eq!(
                found(&app, &cookie, &format!("{query}&limit={limit}")).await,
                expected,
                "{query} at limit {limit}"
            );
        }
        assert_eq!(
            found(
                &app,
                &cookie,
                &format!("{}&from={day}&to={day}&limit={limit}", q("river"))
            )
            .await,
            expected,
            "within dates, at limit {limit}"
        );
    }
    assert!(
        found(&app, &cookie, &format!("{}&to=2026-01-01", q("river")))
            .await
            .is_empty(),
        "before the entries"
    );
}

/// A database from the version whose seqs did not follow time (schema 9; a fixture
/// made by that version): the migration orders the seqs by time and empties the
/// keyed index, which only the owners' keys can write again; the start writes it a
/// batch per transaction, and a start stopped half-way resumes at the next.
#[tokio::test]
async fn a_schema_9_search_index_is_written_again_and_the_rewrite_resumes() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["serene.db", "serene.keys.db", "master.key"] {
        std::fs::copy(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/schema9")
                .join(file),
            dir.path().join(file),
        )
        .unwrap();
    }
    let waiting = |dir: &std::path::Path| -> i64 {
        rusqlite::Connection::open(dir.join("serene.db"))
            .unwrap()
            .query_row("SELECT count(*) FROM search_backlog", [], |r| r.get(0))
            .unwrap()
    };
    let mut config = serene::config::Config::from_vars(&test_vars(&dir)).unwrap();
    config.upgrade_batch_rows = 2;
    config.upgrade_batches_before_stop = Some(1);
    let stopped = serene::startup::Application::build(config).await;
    assert!(
        matches!(&stopped, Err(err) if err.to_string().contains("stopped after 1 batches")),
        "{:?}",
        stopped.err().map(|e| e.to_string())
    );
    drop(stopped);
    assert_eq!(
        waiting(dir.path()),
        8,
        "ten entries, one batch of two written"
    );

    let app = spawn_app_in(dir).await;
    assert_eq!(waiting(app.dir.path()), 0);
    let ada = session_cookie(&app.login("ada@example.com", PASSWORD).await).unwrap();
    let grace = session_cookie(&app.login("grace@example.com", PASSWORD).await).unwrap();
    let list = get_json(&app, &ada, "/api/entries?limit=100").await;
    let newest_first: Vec<(String, String)> = list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                e["note"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(newest_first.len(), 7, "eight written, one deleted");
    let with = |word: &str| -> Vec<String> {
        newest_first
            .iter()
            .filter(|(_, note)| note.to_lowercase().contains(word))
            .map(|(id, _)| id.clone())
            .collect()
    };
    assert_eq!(with("river").len(), 3);
    for (query, expected) in [
        (q("river"), with("river")),
        (q("riv"), with("river")),
        (q("cafe"), with("café")),
        (q("\"the river was\""), with("the river was")),
        (q("summer"), with("summer")),
        (q("deadline"), Vec::new()),
    ] {
        for limit in [1, 2, 20] {
            assert_eq!(
                found(&app, &ada, &format!("{query}&limit={limit}")).await,
                expected,
                "{query} at limit {limit}"
            );
        }
    }
    assert_eq!(found(&app, &ada, "tag=garden").await.len(), 2);
    assert_eq!(found(&app, &grace, &q("riv")).await.len(), 1, "riverside");
    assert_eq!(
        get_json(&app, &ada, "/api/tags").await["tags"][0],
        json!({"tag": "Garden", "count": 2})
    );
    // A new entry takes its place in time after the renumbered ones.
    let newest = write(
        &app,
        &ada,
        "calm",
        &[],
        "Back to the river after a month away.",
    )
    .await;
    assert_eq!(found(&app, &ada, &q("river")).await[0], newest);
}

/// `from` and `to` bound a search to the millisecond, inclusive at both ends.
#[tokio::test]
async fn a_search_within_dates_keeps_both_bounds_to_the_millisecond() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let user_id = app.user_id(&cookie).await;
    let keys = app.entry_keys(&user_id).await;
    let (from, to) = (1_795_132_800_000_i64, 1_795_219_199_999_i64);
    let mut ids = std::collections::HashMap::new();
    for at in [from - 1, from, to, to + 1] {
        let id = store_at(
            &app,
            &keys,
            json!({"mood": "calm", "note": note("A walk by the river.")}),
            at,
        )
        .await;
        ids.insert(at, id);
    }
    let rfc3339 = |at: i64| {
        urlencode(
            &chrono::DateTime::from_timestamp_millis(at)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        )
    };
    assert_eq!(
        found(
            &app,
            &cookie,
            &format!("{}&from={}&to={}", q("river"), rfc3339(from), rfc3339(to))
        )
        .await,
        vec![ids[&to].clone(), ids[&from].clone()]
    );
    assert_eq!(
        found(
            &app,
            &cookie,
            &format!("{}&from=2026-11-20&to=2026-11-20", q("river"))
        )
        .await,
        vec![ids[&to].clone(), ids[&from].clone()],
        "a date is the whole UTC day"
    );
    assert_eq!(
        found(&app, &cookie, &format!("{}&from=9999-12-31", q("river"))).await,
        Vec::<String>::new(),
        "a bound far beyond any seq"
    );
}

/// An entry's seq is its millisecond and a count within it: a millisecond with no
/// room left refuses the write (503 with Retry-After over HTTP) and stores nothing.
#[tokio::test]
async fn a_millisecond_without_room_refuses_the_write() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let user_id = app.user_id(&cookie).await;
    let keys = app.entry_keys(&user_id).await;
    let at = 1_795_000_000_000_i64;
    let conn = app.open_db();
    conn.execute(
        "INSERT INTO entries (seq, id, user_id, mood, created_at, updated_at, note, tags)
         VALUES (?1, 'planted', ?2, 'calm', ?3, ?3, x'00', x'00')",
        rusqlite::params![at * 65_536 + 65_535, user_id, at],
    )
    .unwrap();
    drop(conn);
    let entry = serene::domain::NewEntry::parse(
        json!({"mood": "calm", "note": note("One entry too many.")})
            .as_object()
            .unwrap(),
    )
    .unwrap();
    let refused = app.state.db.entries().insert(&keys, &entry, None, at).await;
    assert!(
        matches!(refused, Err(serene::db::StoreError::Busy)),
        "{refused:?}"
    );
    app.state
        .db
        .entries()
        .insert(&keys, &entry, None, at + 1)
        .await
        .expect("the next millisecond has room");
}
