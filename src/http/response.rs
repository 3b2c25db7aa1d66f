//! Response builders, streamed bodies and the headers every answer carries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::StatusCode;
use http_body::Frame;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Empty, Full, StreamBody};
use serde::Serialize;
use tokio_stream::{Stream, StreamExt};

use super::BoxError;

/// A response body; streamed bodies may fail, which aborts the connection.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;
pub type Response = http::Response<Body>;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The answer when even an answer cannot be serialised.
const INTERNAL_ERROR_BODY: &[u8] = br#"{"error":"Internal server error","code":"INTERNAL_ERROR"}"#;

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
        Err(err) => {
            tracing::error!(error = %err, "response could not be serialised");
            with_content_type(
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/json",
                full(INTERNAL_ERROR_BODY),
            )
        }
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

/// A body fed from a stream of chunks. The stream is polled only as fast as the
/// client reads, so memory stays flat however large the body; an `Err` chunk
/// aborts the transfer, so the client sees a broken download rather than a
/// complete-looking but truncated one. Dropping the response (the client left)
/// drops the stream, which is how its producer learns to stop.
pub fn streamed<S, B>(stream: S) -> Body
where
    S: Stream<Item = Result<B, BoxError>> + Send + 'static,
    B: Into<Bytes>,
{
    StreamBody::new(stream.map(|chunk| chunk.map(|bytes| Frame::data(bytes.into())))).boxed_unsync()
}

/// `Content-Disposition: attachment` naming the file a download is saved as.
pub fn attachment(response: &mut Response, filename: &str) {
    let value = format!("attachment; filename=\"{filename}\"");
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
}

/// The contract's security headers, added to every answer. `Cache-Control` is
/// `no-store` unless the answer chose its own (the web app's assets are revalidated).
pub fn add_security_headers(headers: &mut HeaderMap, request_id: &str) {
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
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

/// A request id unique to this process run: a random prefix chosen at start and
/// a counter (cheaper than a random UUID per request, and still unguessable across runs).
pub fn next_request_id() -> String {
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 4];
        let _ = getrandom::fill(&mut bytes);
        u32::from_le_bytes(bytes)
    });
    format!(
        "{prefix:08x}-{:010}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
