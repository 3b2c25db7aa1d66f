//! CORS with credentials, answered only for `ALLOWED_ORIGINS`.

use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;

use super::csrf::is_allowed;
use super::response::{empty_body, Response};

const MAX_AGE_SECONDS: &str = "600";

/// Adds the CORS answer headers when the request's origin is allowed; always `Vary: Origin`.
pub fn add_headers(
    origin: Option<&HeaderValue>,
    response: &mut HeaderMap,
    allowed_origins: &[String],
) {
    response.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed_origin(origin, allowed_origins) {
        response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        response.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        response.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After, X-Request-Id"),
        );
    }
}

/// Whether a request is a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`).
pub fn is_preflight(method: &http::Method, headers: &HeaderMap) -> bool {
    method == http::Method::OPTIONS
        && headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// Answers a preflight: 204, with permission only for an allowed origin.
pub fn preflight(
    origin: Option<&HeaderValue>,
    allowed_origins: &[String],
    methods: &str,
) -> Response {
    let mut response = http::Response::new(empty_body());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    add_headers(origin, headers, allowed_origins);
    if headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        if let Ok(methods) = HeaderValue::from_str(methods) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Content-Type"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE_SECONDS),
        );
    }
    response
}

fn allowed_origin(origin: Option<&HeaderValue>, allowed_origins: &[String]) -> Option<HeaderValue> {
    let origin = origin?;
    let text = origin.to_str().ok()?;
    is_allowed(text, allowed_origins).then(|| origin.clone())
}
