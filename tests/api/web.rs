//! The web app beside the API: the shell on every client route, assets with
//! validators, the content security policy, and `/api` untouched.

use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{note, spawn_app};

const CSP_PARTS: &[&str] = &[
    "default-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "connect-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
];

fn assert_page_headers(response: &reqwest::Response) {
    let headers = response.headers();
    let csp = headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("text");
    for part in CSP_PARTS {
        assert!(csp.contains(part), "{part} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    assert!(headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn the_shell_answers_the_root_and_every_client_route_uncached() {
    let app = spawn_app().await;
    for path in [
        "/", "/signin", "/journal", "/history", "/week", "/months", "/account",
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_page_headers(&response);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let body = response.text().await.expect("body");
        assert!(body.contains(r#"<script type="module" src="/assets/main.js">"#));
        assert!(!body.contains("<script>"), "no inline script");
        assert!(!body.contains("style="), "no inline style");
    }
}

#[tokio::test]
async fn an_asset_has_an_etag_and_revalidates_to_304() {
    let app = spawn_app().await;
    let first = app.get("/assets/main.js", None).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_page_headers(&first);
    assert_eq!(first.headers()[header::CACHE_CONTROL], "no-cache");
    assert_eq!(
        first.headers()[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    let etag = first.headers()[header::ETAG]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(!first.bytes().await.expect("body").is_empty());

    let again = app
        .client
        .get(app.url("/assets/main.js"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[header::ETAG], etag.as_str());
    assert!(again.bytes().await.expect("body").is_empty());

    let stale = app
        .client
        .get(app.url("/assets/main.js"))
        .header(header::IF_NONE_MATCH, "\"0000000000000000\"")
        .send()
        .await
        .expect("request");
    assert_eq!(stale.status(), StatusCode::OK);

    let css = app.get("/assets/app.css", None).await;
    assert_eq!(
        css.headers()[header::CONTENT_TYPE],
        "text/css; charset=utf-8"
    );
    assert_ne!(css.headers()[header::ETAG], etag.as_str());
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let app = spawn_app().await;
    let response = app
        .client
        .head(app.url("/assets/app.css"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key(header::ETAG));
    assert!(response.bytes().await.expect("body").is_empty());
}

async fn assert_json_error(response: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(body["code"], code);
}

#[tokio::test]
async fn api_paths_and_unknown_paths_keep_the_contracts_json_errors() {
    let app = spawn_app().await;
    for path in [
        "/api/nope",
        "/api",
        "/api/",
        "/nope",
        "/assets/nope.js",
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
        "/index.html",
        "/history/extra",
    ] {
        assert_json_error(
            app.get(path, None).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        )
        .await;
    }
    let posted = app.post_json("/history", &json!({}), None).await;
    assert_eq!(posted.headers()[header::ALLOW], "GET, HEAD");
    assert_json_error(posted, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
    let health = app.get("/api/health", None).await;
    assert_eq!(health.status(), StatusCode::OK);
    assert!(!health
        .headers()
        .contains_key(header::CONTENT_SECURITY_POLICY));
}

#[tokio::test]
async fn the_session_endpoint_says_who_is_signed_in_without_a_401() {
    let app = spawn_app().await;
    let nobody = app.get("/api/auth/session", None).await;
    assert_eq!(nobody.status(), StatusCode::OK);
    assert_eq!(
        nobody.json::<Value>().await.expect("JSON"),
        json!({ "user": null })
    );
    let forged = app
        .get("/api/auth/session", Some("serene_token=not.a.token"))
        .await;
    assert_eq!(
        forged.json::<Value>().await.expect("JSON"),
        json!({ "user": null })
    );

    let cookie = app.signed_up_user("someone@example.com").await;
    let me: Value = app
        .get("/api/auth/me", Some(&cookie))
        .await
        .json()
        .await
        .expect("JSON");
    let session: Value = app
        .get("/api/auth/session", Some(&cookie))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(session, json!({ "user": me }));

    app.post_json("/api/auth/logout", &json!({}), Some(&cookie))
        .await;
    let after: Value = app
        .get("/api/auth/session", Some(&cookie))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(after, json!({ "user": null }), "a revoked token is nobody");
}

#[tokio::test]
async fn the_vibe_check_takes_an_optional_mood_and_refuses_a_bad_one() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("moody@example.com").await;
    let text = note("Lunch in the sun was lovely.");
    let with_mood: Value = app
        .post_json(
            "/api/ai/vibe-check",
            &json!({ "note": text, "mood": "Grateful" }),
            Some(&cookie),
        )
        .await
        .json()
        .await
        .expect("JSON");
    let entry: Value = app
        .post_json(
            "/api/entries",
            &json!({ "note": text, "mood": "Grateful" }),
            Some(&cookie),
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        with_mood["response"], entry["ai_response"],
        "the same reply an entry with this mood gets"
    );
    for bad in [json!(""), json!(7), json!("x".repeat(33))] {
        let refused = app
            .post_json(
                "/api/ai/vibe-check/stream",
                &json!({ "note": text, "mood": bad }),
                Some(&cookie),
            )
            .await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let body: Value = refused.json().await.expect("JSON");
        assert!(body["fields"]["mood"].is_string(), "{body}");
    }
    let null_mood = app
        .post_json(
            "/api/ai/vibe-check",
            &json!({ "note": text, "mood": null }),
            Some(&cookie),
        )
        .await;
    assert_eq!(null_mood.status(), StatusCode::OK);
}
