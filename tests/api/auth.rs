use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    assert_error, assert_security_headers, assert_signed_in, assert_signed_out, session_cookie,
    set_cookie, spawn_app, spawn_app_with, PASSWORD,
};

#[tokio::test]
async fn register_answers_201_and_sets_a_secure_http_only_cookie() {
    let app = spawn_app().await;
    let response = app.register("ada@example.com", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_security_headers(&response);
    let cookie = set_cookie(&response).expect("cookie");
    for flag in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=604800",
        "Secure",
    ] {
        assert!(cookie.contains(flag), "{flag} missing in {cookie}");
    }
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"success": true})
    );
}

#[tokio::test]
async fn the_cookie_is_not_secure_when_cookie_secure_is_false() {
    let app = spawn_app_with(|vars| {
        vars.insert("COOKIE_SECURE".into(), "false".into());
        vars.insert("JWT_TTL_SECONDS".into(), "3600".into());
    })
    .await;
    let cookie = set_cookie(&app.register("ada@example.com", PASSWORD).await).unwrap();
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Max-Age=3600"),
        "{cookie}"
    );
}

#[tokio::test]
async fn me_returns_the_account_of_the_cookie() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("  Ada@Example.com ").await;
    let response = app.get("/api/auth/me", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["id"].as_str().unwrap().len(), 36);
    assert!(me["created_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn me_without_a_cookie_is_401() {
    let app = spawn_app().await;
    assert_error(
        app.get("/api/auth/me", None).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
    )
    .await;
}

#[tokio::test]
async fn a_duplicate_email_in_another_letter_case_is_409() {
    let app = spawn_app().await;
    app.signed_up_user("ada@example.com").await;
    let response = app.register("ADA@example.COM", PASSWORD).await;
    assert_error(response, StatusCode::CONFLICT, "EMAIL_TAKEN").await;
}

#[tokio::test]
async fn invalid_registrations_are_422_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            "email",
        ),
        (json!({"password": PASSWORD}), "email"),
        (
            json!({"email": "a@example.com", "password": "1234567"}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": "a".repeat(73)}),
            "password",
        ),
        (
            json!({"email": "a@example.com", "password": 12345678}),
            "password",
        ),
        (
            json!({"email": format!("{}@example.com", "a".repeat(250)), "password": PASSWORD}),
            "email",
        ),
    ];
    for (body, field) in cases {
        let response = app.post_json("/api/auth/register", &body, None).await;
        let error = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
        )
        .await;
        assert!(error["fields"][field].is_string(), "{error}");
    }
}

#[tokio::test]
async fn a_72_byte_multibyte_password_is_accepted_and_works_for_login() {
    let app = spawn_app().await;
    let password = "ü".repeat(36);
    assert_eq!(password.len(), 72);
    assert_eq!(
        app.register("ada@example.com", &password).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        app.login("ada@example.com", &password).await.status(),
        StatusCode::OK
    );
    // Nothing was silently truncated: a different 72-byte prefix does not log in.
    let other = format!("{}a", "ü".repeat(35));
    assert_error(
        app.login("ada@example.com", &other).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    )
    .await;
}

#[tokio::test]
async fn login_with_the_right_password_sets_a_working_cookie() {
    let app = spawn_app().await;
    app.signed_up_user("ada@example.com").await;
    let response = app.login("ADA@example.com ", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = session_cookie(&response).unwrap();
    assert_signed_in(&app, &cookie).await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_answer_alike() {
    let app = spawn_app().await;
    app.signed_up_user("ada@example.com").await;
    let wrong = assert_error(
        app.login("ada@example.com", "wrong password").await,
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    )
    .await;
    let unknown = assert_error(
        app.login("bob@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "INVALID_CREDENTIALS",
    )
    .await;
    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn the_sixth_failed_login_for_one_email_is_429_even_with_the_right_password() {
    let app = spawn_app().await;
    app.signed_up_user("ada@example.com").await;
    for _ in 0..5 {
        assert_eq!(
            app.login("ada@example.com", "wrong password")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let response = app.login("ada@example.com", PASSWORD).await;
    let retry_after: u64 = response.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_error(response, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    // Another account from the same address is not locked out by this email's failures.
    app.signed_up_user("bob@example.com").await;
    assert_eq!(
        app.login("bob@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn twenty_failed_logins_from_one_address_lock_that_address() {
    let app = spawn_app().await;
    app.signed_up_user("ada@example.com").await;
    for i in 0..20 {
        let response = app
            .login(&format!("nobody{i}@example.com"), "wrong password")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_error(
        app.login("ada@example.com", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
    )
    .await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_limited() {
    let app = spawn_app_with(|vars| {
        vars.insert("TRUST_PROXY".into(), "true".into());
    })
    .await;
    let login = |ip: &'static str| {
        app.client
            .post(app.url("/api/auth/login"))
            .header("x-forwarded-for", format!("203.0.113.99, {ip}"))
            .json(&json!({"email": format!("x{ip}@example.com"), "password": "wrong password"}))
            .send()
    };
    for _ in 0..20 {
        login("198.51.100.1").await.unwrap();
    }
    assert_eq!(
        login("198.51.100.1").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login("198.51.100.2").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn registration_is_limited_per_address() {
    let app = spawn_app().await;
    for i in 0..10 {
        app.signed_up_user(&format!("user{i}@example.com")).await;
    }
    assert_error(
        app.register("one-more@example.com", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
    )
    .await;
}

#[tokio::test]
async fn logout_clears_the_cookie_and_revokes_the_token() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let response = app
        .post_json("/api/auth/logout", &json!({}), Some(&cookie))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookie(&response).unwrap().contains("Max-Age=0"));
    assert_signed_out(&app, &cookie).await;
}

#[tokio::test]
async fn logout_without_a_session_still_answers_200() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookie(&response).unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn a_revoked_token_stays_revoked_after_a_restart() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let kept = session_cookie(&app.login("ada@example.com", PASSWORD).await).unwrap();
    app.post_json("/api/auth/logout", &json!({}), Some(&cookie))
        .await;
    let app = app.restart().await;
    assert_signed_out(&app, &cookie).await;
    assert_signed_in(&app, &kept).await;
}

#[tokio::test]
async fn a_foreign_origin_is_rejected_on_state_changing_requests() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/auth/register"))
        .header(header::ORIGIN, "https://evil.example")
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "CSRF_REJECTED").await;
}

#[tokio::test]
async fn cross_site_fetch_metadata_is_rejected_without_an_origin() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/auth/register"))
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::FORBIDDEN, "CSRF_REJECTED").await;
}

#[tokio::test]
async fn our_own_origin_and_allowed_origins_pass_with_cors_for_the_allowed_one() {
    let app = spawn_app_with(|vars| {
        vars.insert(
            "ALLOWED_ORIGINS".into(),
            "https://app.example, http://localhost:5173".into(),
        );
    })
    .await;
    let own_origin = app.address.clone();
    let response = app
        .client
        .post(app.url("/api/auth/register"))
        .header(header::ORIGIN, own_origin)
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    let response = app
        .client
        .post(app.url("/api/auth/register"))
        .header(header::ORIGIN, "https://app.example")
        .json(&json!({"email": "bob@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let h = response.headers();
    assert_eq!(
        h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example"
    );
    assert_eq!(h[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    assert_eq!(h[header::VARY], "Origin");
}

#[tokio::test]
async fn a_preflight_is_answered_only_for_allowed_origins() {
    let app = spawn_app_with(|vars| {
        vars.insert("ALLOWED_ORIGINS".into(), "https://app.example".into());
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/entries"))
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .send()
    };
    let allowed = preflight("https://app.example").await.unwrap();
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        allowed.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example"
    );
    assert!(allowed.headers()[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap()
        .contains("POST"));
    let foreign = preflight("https://evil.example").await.unwrap();
    assert!(!foreign
        .headers()
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

#[tokio::test]
async fn the_twenty_first_login_ends_the_oldest_session() {
    let app = spawn_app().await;
    let first = app.signed_up_user("ada@example.com").await;
    let mut cookies = Vec::new();
    for _ in 0..20 {
        cookies.push(session_cookie(&app.login("ada@example.com", PASSWORD).await).unwrap());
    }
    assert_signed_out(&app, &first).await;
    for cookie in &cookies {
        assert_signed_in(&app, cookie).await;
    }
    // The cap is durable: the same sessions hold after a restart.
    let app = app.restart().await;
    assert_signed_out(&app, &first).await;
    assert_signed_in(&app, &cookies[0]).await;
}
