use reqwest::{header, StatusCode};
use serde_json::json;

use crate::helpers::{assert_error, assert_security_headers, spawn_app, spawn_app_with_config};

#[tokio::test]
async fn health_answers_ok_after_a_database_round_trip() {
    let app = spawn_app().await;
    let response = app.get("/api/health", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_security_headers(&response);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({"status": "ok"})
    );
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let app = spawn_app().await;
    assert_error(
        app.get("/api/nope", None).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    // `/` is the web app now (issue 13); a path that is neither app nor API is still 404.
    assert_error(
        app.get("/nope", None).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn a_wrong_method_is_a_405_with_an_allow_header() {
    let app = spawn_app().await;
    let response = app
        .client
        .put(app.url("/api/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[header::ALLOW], "GET, DELETE");
    assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
    )
    .await;

    let response = app
        .client
        .patch(app.url("/api/entries/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[header::ALLOW], "GET, PUT, DELETE");
    assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
    )
    .await;
}

#[tokio::test]
async fn malformed_json_and_non_objects_are_400() {
    let app = spawn_app().await;
    for body in ["{not json", "[1,2,3]", "\"text\"", "", "null"] {
        let response = app
            .client
            .post(app.url("/api/auth/login"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_error(response, StatusCode::BAD_REQUEST, "INVALID_JSON").await;
    }
}

#[tokio::test]
async fn a_body_without_a_json_content_type_is_415() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/auth/register"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(r#"{"email":"a@example.com","password":"12345678"}"#)
        .send()
        .await
        .unwrap();
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
}

#[tokio::test]
async fn a_json_content_type_with_parameters_is_accepted() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/auth/register"))
        .header(header::CONTENT_TYPE, "Application/JSON; charset=utf-8")
        .body(r#"{"email":"a@example.com","password":"12345678"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_70_kib_body_is_413() {
    let app = spawn_app().await;
    let big = json!({"email": "a@example.com", "password": "x".repeat(70 * 1024)});
    let response = app.post_json("/api/auth/register", &big, None).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
}

#[tokio::test]
async fn a_chunked_body_over_64_kib_is_413_without_a_content_length() {
    let app = spawn_app().await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..80).map(|_| Ok(vec![b' '; 1024])).collect();
    let response = app
        .client
        .post(app.url("/api/auth/register"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(reqwest::Body::wrap_stream(futures_stream(chunks)))
        .send()
        .await
        .unwrap();
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
}

fn futures_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    tokio_stream::iter(chunks)
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let body = assert_error(
        app.get("/api/test/panic", None).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_ERROR",
    )
    .await;
    assert!(
        !body.to_string().contains("handler bug"),
        "no internals leak: {body}"
    );
    assert_eq!(app.get("/api/health", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_broken_database_is_an_opaque_500() {
    let app = spawn_app().await;
    let cookie = app.signed_up_user("ada@example.com").await;
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    conn.execute_batch("DROP TABLE entries").unwrap();
    let body = assert_error(
        app.get("/api/entries", Some(&cookie)).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_ERROR",
    )
    .await;
    let text = body.to_string();
    assert!(
        !text.contains("entries") && !text.contains("SQL") && !text.contains("serene.db"),
        "{text}"
    );
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in [
        "/api/health",
        "/api/openapi.json",
        "/api/auth/me",
        "/api/missing",
    ] {
        assert_security_headers(&app.get(path, None).await);
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_request_head_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with_config(|config| {
        config.header_read_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buffer = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        slow.read_to_end(&mut buffer),
    )
    .await;
    assert!(closed.is_ok(), "the server closed the connection");
    // Others are still served.
    assert_eq!(app.get("/api/health", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_body_that_never_arrives_is_408_in_time() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with_config(|config| {
        config.body_read_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\"";
    slow.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        slow.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "the server answered and closed in time");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.contains("REQUEST_TIMEOUT") && text.contains("x-content-type-options: nosniff"),
        "{text}"
    );
}
