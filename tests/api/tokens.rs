use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_error, spawn_app, spawn_app_with, TEST_SECRET};

fn token_cookie(token: &str) -> String {
    format!("serene_token={token}")
}

fn signed(claims: &Value, secret: &[u8]) -> String {
    encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn a_tampered_token_is_401() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let token = cookie.trim_start_matches("serene_token=");
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    payload["sub"] = json!("00000000-0000-4000-8000-000000000000");
    parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
    let response = app
        .get("/api/auth/me", Some(&token_cookie(&parts.join("."))))
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

/// The claims of a real session, so only the signature differs from a valid token.
fn claims_of(cookie: &str) -> Value {
    let token = cookie.trim_start_matches("serene_token=");
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn a_token_signed_with_a_foreign_secret_is_401() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let claims = claims_of(&cookie);
    let forged = signed(&claims, b"some-other-secret-some-other-secret!");
    assert_error(
        app.get("/api/auth/me", Some(&token_cookie(&forged))).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
    // The same claims with our secret are accepted, so the secret is what was refused.
    let genuine = signed(&claims, TEST_SECRET.as_bytes());
    assert_eq!(
        app.get("/api/auth/me", Some(&token_cookie(&genuine)))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_well_signed_token_without_a_session_is_401() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let mut claims = claims_of(&cookie);
    claims["jti"] = json!("00000000-0000-4000-8000-000000000000");
    let token = signed(&claims, TEST_SECRET.as_bytes());
    assert_error(
        app.get("/api/auth/me", Some(&token_cookie(&token))).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
}

#[tokio::test]
async fn an_alg_none_token_is_401() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims_of(&cookie).to_string());
    let response = app
        .get(
            "/api/auth/me",
            Some(&token_cookie(&format!("{header}.{payload}."))),
        )
        .await;
    assert_error(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

#[tokio::test]
async fn an_hs512_token_with_our_secret_is_401_because_the_algorithm_is_pinned() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let claims = claims_of(&cookie);
    let token = encode(
        &Header::new(jsonwebtoken::Algorithm::HS512),
        &claims,
        &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .unwrap();
    assert_error(
        app.get("/api/auth/me", Some(&token_cookie(&token))).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
}

#[tokio::test]
async fn an_expired_token_is_401() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let mut claims = claims_of(&cookie);
    claims["iat"] = json!(now() - 7200);
    claims["exp"] = json!(now() - 60);
    let token = signed(&claims, TEST_SECRET.as_bytes());
    assert_error(
        app.get("/api/auth/me", Some(&token_cookie(&token))).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
}

#[tokio::test]
async fn garbage_in_the_cookie_is_401() {
    let app = spawn_app().await;
    for value in ["", "abc", "a.b.c", "serene"] {
        let response = app.get("/api/auth/me", Some(&token_cookie(value))).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    }
}

#[tokio::test]
async fn a_generated_secret_is_stored_with_mode_0600_and_reused_after_a_restart() {
    let mut app = spawn_app_with(|vars| {
        vars.remove("JWT_SECRET");
    })
    .await;
    let secret_file = app.dir.path().join("jwt_secret");
    let mode = std::fs::metadata(&secret_file)
        .expect("secret file")
        .permissions();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(mode.mode() & 0o777, 0o600);
    }
    let first_secret = std::fs::read_to_string(&secret_file).unwrap();
    assert!(first_secret.len() >= 64);
    let cookie = app.signed_up_user("ada@example.com").await;

    // `restart` keeps JWT_SECRET from the test defaults, so start one without it by hand.
    let dir = tempfile::tempdir().unwrap();
    app.stop().await;
    // The data, with its key store and master key (a data file alone does not start).
    for name in [
        "serene.db",
        "serene.db-wal",
        "serene.keys.db",
        "serene.keys.db-wal",
        "master.key",
    ] {
        let from = app.dir.path().join(name);
        if from.exists() {
            std::fs::copy(from, dir.path().join(name)).unwrap();
        }
    }
    std::fs::copy(&secret_file, dir.path().join("jwt_secret")).unwrap();
    let mut vars = crate::helpers::test_vars(&dir);
    vars.remove("JWT_SECRET");
    let config = serene::config::Config::from_vars(&vars).unwrap();
    let second = serene::startup::Application::build(config).await.unwrap();
    let address = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until(std::future::pending()));
    let response = reqwest::Client::new()
        .get(format!("{address}/api/auth/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("jwt_secret")).unwrap(),
        first_secret
    );
}
