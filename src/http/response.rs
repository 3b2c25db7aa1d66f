//! Response builders and the headers every answer carries.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Empty, Full};
use serde::Serialize;

use crate::error::{ApiError, BoxError};

/// A response body; streamed bodies may fail, which aborts the connection.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;
pub type Response = http::Response<Body>;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub fn empty_body() -> Body {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A JSON answer. Serialising our own types cannot fail in practice; if it ever
/// does, the caller gets an opaque 500 instead of a half-written body.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => with_content_type(status, "application/json", full(bytes)),
        Err(err) => error_response(&ApiError::internal(err)),
    }
}

pub fn with_content_type(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub fn no_content() -> Response {
    let mut response = http::Response::new(empty_body());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

pub fn error_response(err: &ApiError) -> Response {
    let body = serde_json::to_vec(&err.body()).unwrap_or_else(|_| {
        br#"{"error":"Internal server error","code":"INTERNAL_ERROR"}"#.to_vec()
    });
    let mut response = with_content_type(err.status(), "application/json", full(body));
    let headers = response.headers_mut();
    match err {
        ApiError::MethodNotAllowed { allow } => {
            if let Ok(value) = HeaderValue::from_str(allow) {
                headers.insert(header::ALLOW, value);
            }
        }
        ApiError::RateLimited { retry_after_secs } => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        _ => {}
    }
    response
}

/// The contract's security headers, added to every answer.
pub fn add_security_headers(headers: &mut HeaderMap, request_id: &str) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID, value);
    }
}
