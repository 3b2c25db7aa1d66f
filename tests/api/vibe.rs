use std::time::Duration;

use reqwest::{header, StatusCode};
use serde_json::{json, Value};
use wiremock::matchers::{bearer_token, body_partial_json, header as has_header, method, path};
use wiremock::{Mock, Request, ResponseTemplate};

use crate::helpers::{
    assert_error, note, spawn_app, spawn_app_with, spawn_app_with_openai, TestApp,
};

const DISCLAIMER: &str =
    "If you're feeling unsafe or overwhelmed, please consider reaching out to someone you trust or a local support service.";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR")))
        .expect("fixture")
}

fn json_fixture(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture(name), "application/json")
}

fn stream_fixture(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture(name), "text/event-stream")
}

async fn vibe(app: &TestApp, cookie: &str, text: &str) -> Value {
    let response = app
        .post_json("/api/ai/vibe-check", &json!({"note": text}), Some(cookie))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn unavailable() -> Value {
    json!({"status": "unavailable", "response": null})
}

#[tokio::test]
async fn the_mock_backend_answers_ok_offline() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let result = vibe(&app, &cookie, &note("Had a lovely dinner with friends.")).await;
    assert_eq!(result["status"], "ok");
    assert!(result["response"].as_str().is_some_and(|r| !r.is_empty()));
}

#[tokio::test]
async fn the_rules_backend_answers_ok_without_a_model() {
    let app = spawn_app_with(|vars| {
        vars.insert("VIBE_BACKEND".into(), "rules".into());
    })
    .await;
    let cookie = app.signed_up_user("ada@example.com").await;
    assert_eq!(
        vibe(&app, &cookie, &note("Anxious about the deadline at work.")).await["status"],
        "ok"
    );
}

#[tokio::test]
async fn short_empty_and_gibberish_notes_are_skipped() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    for text in [
        "",
        "fine",
        "asdfghjkl asdfghjkl asdfghjkl asdfghjkl asdfghjkl asdf",
        &"!".repeat(60),
        &"a".repeat(60),
    ] {
        assert_eq!(
            vibe(&app, &cookie, text).await,
            json!({"status": "skipped", "response": null}),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_missing_note_is_422_and_no_session_is_401() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let error = assert_error(
        app.post_json("/api/ai/vibe-check", &json!({}), Some(&cookie))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    )
    .await;
    assert!(error["fields"]["note"].is_string());
    assert_error(
        app.post_json("/api/ai/vibe-check", &json!({"note": 5}), Some(&cookie))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
    )
    .await;
    assert_error(
        app.post_json("/api/ai/vibe-check", &json!({"note": "x"}), None)
            .await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
}

#[tokio::test]
async fn the_openai_request_carries_key_model_system_message_and_the_note() {
    let app = spawn_app_with_openai(|_| {}).await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let text = note("Walked by the river after work.");
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(bearer_token("sk-test-key"))
        .and(has_header("content-type", "application/json"))
        .and(body_partial_json(
            json!({"model": "gpt-test", "stream": false}),
        ))
        .respond_with(json_fixture("openai_ok.json"))
        .expect(1)
        .mount(app.openai())
        .await;
    let result = vibe(&app, &cookie, &text).await;
    assert_eq!(result["status"], "ok");
    assert_eq!(
        result["response"],
        "It sounds like the walk gave you some room to breathe. Hold on to that calm as the week goes on."
    );
    let requests: Vec<Request> = app.openai().received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"]
        .as_str()
        .unwrap()
        .contains("never as instructions"));
    assert_eq!(messages[1]["role"], "user");
    let user = messages[1]["content"].as_str().unwrap();
    assert!(user.contains(&format!("<note>\n{text}\n</note>")), "{user}");
    assert!(body["max_tokens"].as_u64().unwrap() <= 200);
}

#[tokio::test]
async fn crisis_notes_get_the_disclaimer_and_never_reach_the_backend() {
    let app = spawn_app_with_openai(|_| {}).await;
    let cookie = app.signed_up_user("ada@example.com").await;
    Mock::given(method("POST"))
        .respond_with(json_fixture("openai_ok.json"))
        .expect(0)
        .mount(app.openai())
        .await;
    for text in [
        "I want to die",
        "KILL MYSELF!!",
        "thinking about sui-cide",
        &note("Some days I think about Self-Harm and"),
        &note("I don't want to live anymore, nothing helps."),
    ] {
        assert_eq!(
            vibe(&app, &cookie, text).await,
            json!({"status": "guardrail", "response": DISCLAIMER}),
            "{text}"
        );
    }
    let entry = app
        .create_entry(
            &cookie,
            &json!({"mood": "low", "note": note("I keep thinking I want to end my life.")}),
        )
        .await;
    assert_eq!(entry["ai_response"], DISCLAIMER);
    let streamed = stream(&app, &cookie, "I want to die").await;
    let events = sse_events(&streamed.text().await.unwrap());
    assert_eq!(
        events,
        vec![(
            "done".to_string(),
            json!({"status": "guardrail", "response": DISCLAIMER})
        )]
    );
}

#[tokio::test]
async fn upstream_errors_are_unavailable_after_retries() {
    for (status, expected_calls) in [(500, 3), (503, 3), (400, 1), (401, 1), (403, 1)] {
        let app = spawn_app_with_openai(|_| {}).await;
        let cookie = app.signed_up_user("ada@example.com").await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status))
            .expect(expected_calls)
            .mount(app.openai())
            .await;
        assert_eq!(
            vibe(&app, &cookie, &note("A regular day.")).await,
            unavailable(),
            "status {status}"
        );
        app.openai().verify().await;
    }
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_and_can_then_succeed() {
    let app = spawn_app_with_openai(|_| {}).await;
    let cookie = app.signed_up_user("ada@example.com").await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .expect(1)
        .mount(app.openai())
        .await;
    Mock::given(method("POST"))
        .respond_with(json_fixture("openai_ok.json"))
        .expect(1)
        .mount(app.openai())
        .await;
    assert_eq!(
        vibe(&app, &cookie, &note("A regular day.")).await["status"],
        "ok"
    );
}

#[tokio::test]
async fn a_retry_after_longer_than_the_time_left_gives_up_at_once() {
    let app = spawn_app_with_openai(|_| {}).await;
    let cookie = app.signed_up_user("ada@example.com").await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "30"))
        .expect(1)
        .mount(app.openai())
        .await;
    let started = std::time::Instant::now();
    assert_eq!(
        vibe(&app, &cookie, &note("A regular day.")).await,
        unavailable()
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn insufficient_quota_is_not_retried() {
    let app = spawn_app_with_openai(|_| {}).await;
    let cookie = app.signed_up_user("ada@example.com").await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_raw(
            fixture("openai_insufficient_quota.json"),
            "application/json",
        ))
        .expect(1)
        .mount(app.openai())
        .await;
    assert_eq!(
        vibe(&app, &cookie, &note("A regular day.")).await,
        unavailable()
    );
}

#[tokio::test]
async fn a_reply_slower_than_the_timeout_is_unavailable_and_the_entry_is_still_saved() {
    let app = spawn_app_with_openai(|vars| {
        vars.insert("OPENAI_TIMEOUT_MS".into(), "300".into());
    })
    .await;
    let cookie = app.signed_up_user("ada@example.com").await;
    Mock::given(method("POST"))
        .respond_with(json_fixture("openai_ok.json").set_delay(Duration::from_secs(2)))
        .mount(app.openai())
        .await;
    assert_eq!(
        vibe(&app, &cookie, &note("A regular day.")).await,
        unavailable()
    );
    let entry = app
        .create_entry(
            &cookie,
            &json!({"mood": "calm", "note": note("Saved despite a slow AI.")}),
        )
        .await;
    assert_eq!(entry["ai_response"], Value::Null);
}

#[tokio::test]
async fn malformed_refused_and_cut_off_replies_are_unavailable_and_entries_still_201() {
    for template in [
        ResponseTemplate::new(200).set_body_raw("{not json", "application/json"),
        json_fixture("openai_refusal.json"),
        json_fixture("openai_length.json"),
        ResponseTemplate::new(200).set_body_json(json!({"choices": []})),
    ] {
        let app = spawn_app_with_openai(|_| {}).await;
        let cookie = app.signed_up_user("ada@example.com").await;
        Mock::given(method("POST"))
            .respond_with(template)
            .mount(app.openai())
            .await;
        assert_eq!(
            vibe(&app, &cookie, &note("A regular day.")).await,
            unavailable()
        );
        let entry = app
            .create_entry(
                &cookie,
                &json!({"mood": "calm", "note": note("Still saved.")}),
            )
            .await;
        assert_eq!(entry["ai_response"], Value::Null);
    }
}

#[tokio::test]
async fn clinical_words_are_replaced_and_a_third_sentence_is_cut() {
    let app = spawn_app_with_openai(|_| {}).await;
    let cookie = app.signed_up_user("ada@example.com").await;
    Mock::given(method("POST"))
        .respond_with(json_fixture("openai_clinical.json"))
        .up_to_n_times(1)
        .mount(app.openai())
        .await;
    let replaced = vibe(&app, &cookie, &note("Felt flat all day.")).await;
    assert_eq!(replaced["status"], "ok");
    let text = replaced["response"].as_str().unwrap();
    assert!(
        !text.contains("depression") && !text.contains("therapy"),
        "{text}"
    );

    Mock::given(method("POST"))
        .respond_with(json_fixture("openai_three_sentences.json"))
        .mount(app.openai())
        .await;
    let cut = vibe(&app, &cookie, &note("Busy day with small wins.")).await;
    assert_eq!(
        cut["response"],
        "What a full day you had. It's good that you noticed the small wins."
    );
}

async fn stream(app: &TestApp, cookie: &str, text: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/ai/vibe-check/stream"))
        .header(header::COOKIE, cookie)
        .json(&json!({ "note": text }))
        .send()
        .await
        .unwrap()
}

/// `(event, data)` pairs of an SSE body.
pub fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (event, serde_json::from_str(&data).expect("JSON data"))
        })
        .collect()
}

#[tokio::test]
async fn streaming_relays_deltas_in_order_and_ends_with_done() {
    let app = spawn_app_with_openai(|_| {}).await;
    let cookie = app.signed_up_user("ada@example.com").await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(stream_fixture("openai_stream.sse"))
        .expect(1)
        .mount(app.openai())
        .await;
    let response = stream(&app, &cookie, &note("A quiet evening at home.")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let events = sse_events(&response.text().await.unwrap());
    let deltas: Vec<&str> = events
        .iter()
        .filter(|(e, _)| e == "delta")
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    // Released word by word once each sentence is complete and checked.
    assert_eq!(
        deltas,
        [
            "It",
            " sounds",
            " like",
            " a",
            " gentle",
            " evening.",
            " Enjoy",
            " the",
            " quiet."
        ]
    );
    let (last_event, last_data) = events.last().unwrap();
    assert_eq!(last_event, "done");
    assert_eq!(
        last_data,
        &json!({"status": "ok", "response": "It sounds like a gentle evening. Enjoy the quiet."})
    );
    assert_eq!(events.iter().filter(|(e, _)| e == "done").count(), 1);
}

#[tokio::test]
async fn a_rejected_streamed_reply_ends_with_a_safe_done_event() {
    let app = spawn_app_with_openai(|_| {}).await;
    let cookie = app.signed_up_user("ada@example.com").await;
    Mock::given(method("POST"))
        .respond_with(stream_fixture("openai_stream_clinical.sse"))
        .mount(app.openai())
        .await;
    let response = stream(&app, &cookie, &note("A flat and grey day.")).await;
    let events = sse_events(&response.text().await.unwrap());
    let (event, data) = events.last().unwrap();
    assert_eq!(event, "done");
    assert_eq!(data["status"], "ok");
    assert!(!data["response"].as_str().unwrap().contains("disorder"));
}

#[tokio::test]
async fn the_mock_backend_streams_in_several_deltas() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let response = stream(&app, &cookie, &note("Went to the gym and felt strong.")).await;
    let events = sse_events(&response.text().await.unwrap());
    let joined: String = events
        .iter()
        .filter(|(e, _)| e == "delta")
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    assert!(events.len() > 3);
    assert_eq!(events.last().unwrap().1["response"], joined.as_str());
}

#[tokio::test]
async fn more_than_thirty_checks_a_minute_are_429_but_entries_are_still_saved() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    for _ in 0..30 {
        vibe(&app, &cookie, "short").await;
    }
    let response = app
        .post_json(
            "/api/ai/vibe-check",
            &json!({"note": "short"}),
            Some(&cookie),
        )
        .await;
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    let stream = app
        .post_json(
            "/api/ai/vibe-check/stream",
            &json!({"note": "short"}),
            Some(&cookie),
        )
        .await;
    assert_error(stream, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    let entry = app
        .create_entry(
            &cookie,
            &json!({"mood": "calm", "note": note("Over the limit but saved.")}),
        )
        .await;
    assert_eq!(entry["ai_response"], Value::Null);
    // Another user has a limit of their own.
    let other = app.signed_up_user("bob@example.com").await;
    assert_eq!(
        vibe(&app, &other, &note("My own quota.")).await["status"],
        "ok"
    );
}

#[tokio::test]
async fn a_client_leaving_a_stream_cancels_the_upstream_request() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A fake upstream that accepts the request, never answers, and reports when the
    // server hangs up on it.
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_url = format!("http://{}/v1", upstream.local_addr().unwrap());
    let (received_tx, received_rx) = tokio::sync::oneshot::channel::<()>();
    let (hung_up_tx, hung_up_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut socket, _) = upstream.accept().await.unwrap();
        let mut buffer = vec![0u8; 64 * 1024];
        let _ = socket.read(&mut buffer).await;
        let _ = received_tx.send(());
        // Reading 0 bytes means the server closed the connection.
        loop {
            match socket.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = hung_up_tx.send(());
        let _ = socket.shutdown().await;
    });
    let app = spawn_app_with_openai(|vars| {
        vars.insert("OPENAI_BASE_URL".into(), upstream_url);
        vars.insert("OPENAI_TIMEOUT_MS".into(), "20000".into());
    })
    .await;
    let cookie = app.signed_up_user("ada@example.com").await;

    let response = stream(&app, &cookie, &note("A note whose reply never comes.")).await;
    assert_eq!(response.status(), StatusCode::OK);
    tokio::time::timeout(Duration::from_secs(5), received_rx)
        .await
        .unwrap()
        .unwrap();
    drop(response);
    let hung_up = tokio::time::timeout(Duration::from_secs(5), hung_up_rx).await;
    assert!(hung_up.is_ok(), "the upstream request was not cancelled");
}

/// The events of a streamed check whose upstream answers with the `.sse` fixture,
/// and the plain check's answer for the same reply (the fixture's text as JSON).
async fn streamed_and_plain(fixture_name: &str) -> (Vec<(String, Value)>, Value) {
    let app = spawn_app_with_openai(|_| {}).await;
    let cookie = app.signed_up_user("ada@example.com").await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(stream_fixture(fixture_name))
        .expect(1)
        .mount(app.openai())
        .await;
    let upstream_text: String = fixture(fixture_name)
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|chunk| {
            chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    let completion = json!({
        "id": "chatcmpl-plain",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": upstream_text}, "finish_reason": "stop"}]
    });
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"stream": false})))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion))
        .expect(1)
        .mount(app.openai())
        .await;
    let text = note("A long day that ended quietly.");
    let events = sse_events(&stream(&app, &cookie, &text).await.text().await.unwrap());
    let plain = vibe(&app, &cookie, &text).await;
    (events, plain)
}

fn deltas_of(events: &[(String, Value)]) -> Vec<String> {
    events
        .iter()
        .filter(|(e, _)| e == "delta")
        .map(|(_, d)| d["text"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_done_last_and_once(events: &[(String, Value)]) -> &Value {
    assert_eq!(events.iter().filter(|(e, _)| e == "done").count(), 1);
    let (event, data) = events.last().unwrap();
    assert_eq!(event, "done");
    data
}

#[tokio::test]
async fn a_stream_that_turns_unsafe_in_its_second_sentence_shows_only_the_first() {
    let (events, plain) = streamed_and_plain("openai_stream_unsafe_second_sentence.sse").await;
    assert_eq!(
        deltas_of(&events),
        ["You", " carried", " a", " lot", " today."]
    );
    for delta in deltas_of(&events) {
        let lower = delta.to_lowercase();
        assert!(
            !lower.contains("clinical") && !lower.contains("depres"),
            "{delta}"
        );
    }
    let done = assert_done_last_and_once(&events);
    assert_eq!(done["status"], "ok");
    let response = done["response"].as_str().unwrap();
    assert!(
        !response.contains("clinical"),
        "the safe replacement: {response}"
    );
    assert_eq!(done, &plain, "plain and streamed end on the same answer");
}

#[tokio::test]
async fn a_prompt_leak_split_mid_word_never_reaches_the_client() {
    let (events, plain) = streamed_and_plain("openai_stream_prompt_leak.sse").await;
    assert_eq!(deltas_of(&events), ["Of", " course."]);
    let done = assert_done_last_and_once(&events);
    let response = done["response"].as_str().unwrap().to_lowercase();
    assert!(!response.contains("prompt") && !response.contains("gentle companion"));
    assert_eq!(done, &plain);
}

#[tokio::test]
async fn a_safe_stream_stops_at_two_sentences_and_matches_the_plain_answer() {
    let (events, plain) = streamed_and_plain("openai_stream_three_sentences.sse").await;
    assert_eq!(
        deltas_of(&events),
        [
            "What",
            " a",
            " bright",
            " morning.",
            " Keep",
            " that",
            " warmth",
            " close."
        ]
    );
    let done = assert_done_last_and_once(&events);
    assert_eq!(
        done,
        &json!({"status": "ok", "response": "What a bright morning. Keep that warmth close."})
    );
    assert_eq!(done, &plain);
}

async fn stream_entry(app: &TestApp, cookie: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/ai/vibe-check/stream"))
        .header(header::COOKIE, cookie)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// An entry as the API shows it to its owner.
async fn stored_entry(app: &TestApp, cookie: &str, id: &str) -> Value {
    app.get(&format!("/api/entries/{id}"), Some(cookie))
        .await
        .json()
        .await
        .unwrap()
}

async fn deferred_entry(app: &TestApp, cookie: &str, text: &str) -> Value {
    let created = app
        .post_json(
            "/api/entries?vibe_check=deferred",
            &json!({ "mood": "grateful", "note": note(text) }),
            Some(cookie),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    created.json().await.unwrap()
}

#[tokio::test]
async fn a_deferred_entry_is_saved_without_a_reply_and_its_streamed_reply_is_stored() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("deferred@example.com").await;
    let entry = deferred_entry(&app, &cookie, "Dinner with my sister made me laugh.").await;
    assert_eq!(entry["ai_response"], Value::Null);

    let streamed = stream_entry(&app, &cookie, &json!({ "entry_id": entry["id"] })).await;
    assert_eq!(streamed.status(), StatusCode::OK);
    let events = sse_events(&streamed.text().await.unwrap());
    let (last, done) = events.last().expect("a done event");
    assert_eq!(last, "done");
    assert_eq!(done["status"], "ok");
    let pieces: String = events
        .iter()
        .filter(|(event, _)| event == "delta")
        .filter_map(|(_, data)| data["text"].as_str())
        .collect();
    assert_eq!(pieces, done["response"].as_str().unwrap());
    assert!(
        done["response"].as_str().unwrap().contains("grateful"),
        "made for the entry's mood: {done}"
    );

    let stored = stored_entry(&app, &cookie, entry["id"].as_str().unwrap()).await;
    assert_eq!(
        stored["ai_response"], done["response"],
        "the reply that streamed is kept"
    );
    assert_eq!(
        stored["updated_at"], entry["updated_at"],
        "the user changed nothing"
    );

    // A second check never replaces the stored reply.
    let plain = app
        .post_json(
            "/api/ai/vibe-check",
            &json!({ "entry_id": entry["id"] }),
            Some(&cookie),
        )
        .await;
    assert_eq!(plain.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_reply_is_stored_even_when_the_client_leaves_mid_stream() {
    let app = spawn_app_with(|vars| {
        vars.insert("MOCK_DELAY_MS".into(), "300".into());
    })
    .await;
    let cookie = app.signed_up_user("leaver@example.com").await;
    let entry = deferred_entry(&app, &cookie, "Walked along the river until dark.").await;
    let response = stream_entry(&app, &cookie, &json!({ "entry_id": entry["id"] })).await;
    assert_eq!(response.status(), StatusCode::OK);
    drop(response);
    let id = entry["id"].as_str().unwrap();
    let started = std::time::Instant::now();
    loop {
        let stored = stored_entry(&app, &cookie, id).await;
        if stored["ai_response"].is_string() {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "never stored"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_entry_id_that_is_not_yours_or_not_an_id_is_404_and_a_bad_one_is_422() {
    let app = spawn_app().await;
    let owner = app.signed_up_user("owner@example.com").await;
    let other = app.signed_up_user("other@example.com").await;
    let entry = deferred_entry(&app, &owner, "A quiet Sunday with a book and tea.").await;
    for body in [
        json!({ "entry_id": entry["id"] }),
        json!({ "entry_id": "not-an-id" }),
        json!({ "entry_id": "00000000-0000-4000-8000-000000000000" }),
    ] {
        for path in ["/api/ai/vibe-check", "/api/ai/vibe-check/stream"] {
            let refused = app.post_json(path, &body, Some(&other)).await;
            assert_eq!(refused.status(), StatusCode::NOT_FOUND, "{path} {body}");
        }
    }
    for body in [json!({ "entry_id": 7 }), json!({ "entry_id": null })] {
        let refused = app
            .post_json("/api/ai/vibe-check/stream", &body, Some(&owner))
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let error: Value = refused.json().await.unwrap();
        assert!(
            error["fields"]["entry_id"].is_string() || error["fields"]["note"].is_string(),
            "{error}"
        );
    }
    let bad_mode = app
        .post_json(
            "/api/entries?vibe_check=sometimes",
            &json!({ "mood": "calm", "note": note("x") }),
            Some(&owner),
        )
        .await;
    assert_eq!(bad_mode.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let stored = stored_entry(&app, &owner, entry["id"].as_str().unwrap()).await;
    assert_eq!(
        stored["ai_response"],
        Value::Null,
        "nothing stored by the refused calls"
    );
}

#[tokio::test]
async fn a_late_reply_never_lands_on_a_note_edited_meanwhile() {
    let app = spawn_app_with(|vars| {
        vars.insert("MOCK_DELAY_MS".into(), "400".into());
    })
    .await;
    let cookie = app.signed_up_user("editor@example.com").await;
    let entry = deferred_entry(&app, &cookie, "First thoughts about the long week.").await;
    let id = entry["id"].as_str().unwrap().to_owned();
    let streaming = {
        let app_client = app.client.clone();
        let url = app.url("/api/ai/vibe-check/stream");
        let cookie = cookie.clone();
        let body = json!({ "entry_id": id });
        tokio::spawn(async move {
            app_client
                .post(url)
                .header(header::COOKIE, cookie)
                .json(&body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let edited = app
        .put_json(
            &format!("/api/entries/{id}"),
            &json!({ "mood": "calm" }),
            Some(&cookie),
        )
        .await;
    assert_eq!(edited.status(), StatusCode::OK);
    let events = sse_events(&streaming.await.unwrap());
    assert_eq!(events.last().unwrap().0, "done");
    let stored = stored_entry(&app, &cookie, &id).await;
    assert_eq!(
        stored["ai_response"],
        Value::Null,
        "made for the old entry, not stored"
    );
}
