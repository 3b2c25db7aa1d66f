use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, note, spawn_app, TestApp};

async fn insert_at(app: &TestApp, cookie: &str, at: chrono::DateTime<Utc>, mood: &str) {
    app.insert_entry_at(cookie, at.timestamp_millis(), mood)
        .await;
}

async fn weekly(app: &TestApp, cookie: &str, query: &str) -> Value {
    let response = app
        .get(&format!("/api/analytics/weekly?{query}"), Some(cookie))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_current_week_counts_what_was_created() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    for mood in ["happy", "Happy", "anxious", "calm", "happy"] {
        app.create_entry(
            &cookie,
            &json!({"mood": mood, "note": note("Counting moods this week.")}),
        )
        .await;
    }
    assert_eq!(
        weekly(&app, &cookie, "").await,
        json!({"happy": 3, "anxious": 1, "calm": 1})
    );
}

#[tokio::test]
async fn sunday_evening_in_new_york_counts_in_that_week_not_the_next() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    // Sunday 2026-11-22 23:30 in New York (UTC-5) is Monday 04:30 UTC.
    insert_at(
        &app,
        &cookie,
        Utc.with_ymd_and_hms(2026, 11, 23, 4, 30, 0).unwrap(),
        "calm",
    )
    .await;
    // Monday 2026-11-16 00:00 in New York opens week 47.
    insert_at(
        &app,
        &cookie,
        Utc.with_ymd_and_hms(2026, 11, 16, 5, 0, 0).unwrap(),
        "happy",
    )
    .await;
    // Sunday 23:59 in New York before week 47: belongs to week 46.
    insert_at(
        &app,
        &cookie,
        Utc.with_ymd_and_hms(2026, 11, 16, 4, 59, 0).unwrap(),
        "sad",
    )
    .await;
    assert_eq!(
        weekly(&app, &cookie, "tz=America/New_York&week=2026-W47").await,
        json!({"calm": 1, "happy": 1})
    );
    assert_eq!(
        weekly(&app, &cookie, "tz=America/New_York&week=2026-W48").await,
        json!({})
    );
    assert_eq!(
        weekly(&app, &cookie, "tz=America/New_York&week=2026-W46").await,
        json!({"sad": 1})
    );
    // In UTC the Sunday-evening entry is already Monday, so it moves to week 48.
    assert_eq!(
        weekly(&app, &cookie, "week=2026-W48").await,
        json!({"calm": 1})
    );
}

#[tokio::test]
async fn a_week_with_a_daylight_saving_change_has_correct_bounds() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    // Berlin leaves summer time on Sunday 2026-10-25: week 43 runs from
    // Monday 2026-10-19 00:00 CEST (22:00 UTC on the 18th) to Monday 2026-10-26 00:00 CET (23:00 UTC on the 25th).
    insert_at(
        &app,
        &cookie,
        Utc.with_ymd_and_hms(2026, 10, 18, 22, 0, 0).unwrap(),
        "first",
    )
    .await;
    insert_at(
        &app,
        &cookie,
        Utc.with_ymd_and_hms(2026, 10, 25, 22, 30, 0).unwrap(),
        "last",
    )
    .await;
    insert_at(
        &app,
        &cookie,
        Utc.with_ymd_and_hms(2026, 10, 25, 23, 0, 0).unwrap(),
        "next",
    )
    .await;
    insert_at(
        &app,
        &cookie,
        Utc.with_ymd_and_hms(2026, 10, 18, 21, 59, 59).unwrap(),
        "before",
    )
    .await;
    assert_eq!(
        weekly(&app, &cookie, "tz=Europe/Berlin&week=2026-W43").await,
        json!({"first": 1, "last": 1})
    );
    assert_eq!(
        weekly(&app, &cookie, "tz=Europe/Berlin&week=2026-W44").await,
        json!({"next": 1})
    );
}

#[tokio::test]
async fn a_bad_time_zone_or_week_is_422() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    for (query, field) in [
        ("tz=Mars/Olympus", "tz"),
        ("tz=", "tz"),
        ("week=2021-W53", "week"),
        ("week=2026-W00", "week"),
        ("week=2026-47", "week"),
    ] {
        let response = app
            .get(&format!("/api/analytics/weekly?{query}"), Some(&cookie))
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
