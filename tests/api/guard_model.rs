//! `GUARD_MODEL`: a classifier's second opinion after the local crisis list, with
//! recorded answers of the OpenAI moderation endpoint and of Llama Guard.

use std::time::Duration;

use reqwest::header;
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::{note, spawn_app_with_openai, TestApp};

const DISCLAIMER: &str =
    "If you're feeling unsafe or overwhelmed, please consider reaching out to someone you trust or a local support service.";
const MODERATIONS: &str = "/v1/moderations";
const COMPLETIONS: &str = "/v1/chat/completions";
const REPLY_MODEL: &str = "gpt-test";
const GUARD_MODEL: &str = "llama-guard3:1b";

fn fixture(name: &str) -> ResponseTemplate {
    let body = std::fs::read_to_string(format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR")))
        .expect("fixture");
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

/// A note the local list passes, but a classifier may judge.
fn quiet_note() -> String {
    note("Everything feels heavy and far away and I keep going through the motions.")
}

async fn with_guard(kind: &str) -> TestApp {
    let kind = kind.to_owned();
    spawn_app_with_openai(move |vars| {
        vars.insert("GUARD_MODEL".into(), kind);
    })
    .await
}

async fn vibe(app: &TestApp, text: &str) -> Value {
    let cookie = app.signed_up_user("ada@example.com").await;
    app.client
        .post(app.url("/api/ai/vibe-check"))
        .header(header::COOKIE, cookie)
        .json(&json!({ "note": text }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn expect_moderation(app: &TestApp, answer: ResponseTemplate, calls: u64) {
    Mock::given(method("POST"))
        .and(path(MODERATIONS))
        .and(body_partial_json(
            json!({"model": "omni-moderation-latest"}),
        ))
        .respond_with(answer)
        .expect(calls)
        .mount(app.openai())
        .await;
}

async fn expect_llama_guard(app: &TestApp, answer: ResponseTemplate, calls: u64) {
    Mock::given(method("POST"))
        .and(path(COMPLETIONS))
        .and(body_partial_json(json!({"model": GUARD_MODEL})))
        .respond_with(answer)
        .expect(calls)
        .mount(app.openai())
        .await;
}

async fn expect_reply(app: &TestApp, calls: u64) {
    Mock::given(method("POST"))
        .and(path(COMPLETIONS))
        .and(body_partial_json(json!({"model": REPLY_MODEL})))
        .respond_with(fixture("openai_ok.json"))
        .expect(calls)
        .mount(app.openai())
        .await;
}

fn assert_guardrail(answer: &Value) {
    assert_eq!(
        answer,
        &json!({"status": "guardrail", "response": DISCLAIMER})
    );
}

fn assert_replied(answer: &Value) {
    assert_eq!(answer["status"], "ok", "{answer}");
    assert_ne!(answer["response"], DISCLAIMER);
}

#[tokio::test]
async fn moderation_flagging_self_harm_gives_the_disclaimer_and_the_reply_model_is_never_called() {
    let app = with_guard("moderation").await;
    expect_moderation(&app, fixture("moderation_self_harm_intent.json"), 1).await;
    expect_reply(&app, 0).await;
    assert_guardrail(&vibe(&app, &quiet_note()).await);
}

#[tokio::test]
async fn moderation_sends_the_model_and_the_note_with_the_key() {
    let app = with_guard("moderation").await;
    let text = quiet_note();
    Mock::given(method("POST"))
        .and(path(MODERATIONS))
        .and(wiremock::matchers::bearer_token("sk-test-key"))
        .and(body_partial_json(
            json!({"model": "omni-moderation-latest", "input": text.trim()}),
        ))
        .respond_with(fixture("moderation_not_flagged.json"))
        .expect(1)
        .mount(app.openai())
        .await;
    expect_reply(&app, 1).await;
    assert_replied(&vibe(&app, &text).await);
}

#[tokio::test]
async fn moderation_passing_the_note_or_flagging_other_harms_lets_the_reply_through() {
    for answer in [
        "moderation_not_flagged.json",
        "moderation_violence_only.json",
    ] {
        let app = with_guard("moderation").await;
        expect_moderation(&app, fixture(answer), 1).await;
        expect_reply(&app, 1).await;
        assert_replied(&vibe(&app, &quiet_note()).await);
    }
}

#[tokio::test]
async fn a_failing_moderation_endpoint_never_blocks_the_note() {
    let answers = [
        fixture("moderation_malformed.json"),
        ResponseTemplate::new(500),
        fixture("moderation_not_flagged.json").set_delay(Duration::from_millis(1_500)),
    ];
    for answer in answers {
        let app = with_guard("moderation").await;
        expect_moderation(&app, answer, 1).await;
        expect_reply(&app, 1).await;
        assert_replied(&vibe(&app, &quiet_note()).await);
    }
}

#[tokio::test]
async fn llama_guard_unsafe_s11_gives_the_disclaimer() {
    let app = with_guard("llama-guard").await;
    expect_llama_guard(&app, fixture("llama_guard_unsafe_s11.json"), 1).await;
    expect_reply(&app, 0).await;
    assert_guardrail(&vibe(&app, &quiet_note()).await);
}

#[tokio::test]
async fn llama_guard_safe_or_other_categories_let_the_reply_through() {
    for answer in ["llama_guard_safe.json", "llama_guard_unsafe_s1.json"] {
        let app = with_guard("llama-guard").await;
        expect_llama_guard(&app, fixture(answer), 1).await;
        expect_reply(&app, 1).await;
        assert_replied(&vibe(&app, &quiet_note()).await);
    }
}

#[tokio::test]
async fn a_failing_llama_guard_never_blocks_the_note() {
    let answers = [
        fixture("llama_guard_malformed.json"),
        ResponseTemplate::new(500),
        fixture("llama_guard_safe.json").set_delay(Duration::from_millis(1_500)),
    ];
    for answer in answers {
        let app = with_guard("llama-guard").await;
        expect_llama_guard(&app, answer, 1).await;
        expect_reply(&app, 1).await;
        assert_replied(&vibe(&app, &quiet_note()).await);
    }
}

#[tokio::test]
async fn notes_the_local_list_catches_never_reach_the_classifier() {
    for kind in ["moderation", "llama-guard"] {
        let app = with_guard(kind).await;
        expect_moderation(&app, fixture("moderation_not_flagged.json"), 0).await;
        expect_llama_guard(&app, fixture("llama_guard_safe.json"), 0).await;
        expect_reply(&app, 0).await;
        let crisis = note("They would all be better off without me, I keep thinking it.");
        assert_guardrail(&vibe(&app, &crisis).await);
    }
}

#[tokio::test]
async fn the_mock_and_rules_backends_never_call_a_classifier() {
    for backend in ["mock", "rules"] {
        let backend = backend.to_owned();
        let app = spawn_app_with_openai(move |vars| {
            vars.insert("VIBE_BACKEND".into(), backend);
            vars.insert("GUARD_MODEL".into(), "moderation".into());
        })
        .await;
        expect_moderation(&app, fixture("moderation_self_harm_intent.json"), 0).await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(app.openai())
            .await;
        assert_replied(&vibe(&app, &quiet_note()).await);
    }
}
