//! The way of every request: route, CSRF, handler (panics caught), error
//! mapping, security and CORS headers, one log line. Every line a request
//! causes, in its handler or in tasks it starts, carries its request id.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::StatusCode;
use hyper::body::Incoming;
use tracing::Instrument;

use super::context::Ctx;
use super::state::AppState;
use super::{ApiError, Handler, Router};
use crate::http::response::{add_security_headers, next_request_id};
use crate::http::{cors, csrf, request, Request, Response};
use crate::web;

/// Longest request target (path and query) we read; longer is `414 URI_TOO_LONG`.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most request headers we read; more is `431 HEADERS_TOO_LARGE`.
pub const MAX_HEADERS: usize = 100;
/// hyper's own header limit, set above ours so that ours answers first.
pub const HYPER_MAX_HEADERS: usize = 1_000;

pub async fn handle(
    state: Arc<AppState>,
    router: Arc<Router>,
    peer: SocketAddr,
    request: http::Request<Incoming>,
) -> Result<Response, Infallible> {
    let started = Instant::now();
    let request_id = next_request_id();
    let span = tracing::info_span!("request", request_id = %request_id);
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    let origin = parts.headers.get(http::header::ORIGIN).cloned();
    // The handler takes `state`; this handle keeps the configuration for the answer.
    let shared = Arc::clone(&state);
    let allowed_origins = &shared.config.allowed_origins;

    let (route, result) = if let Err(err) = within_limits(&parts) {
        ("-", Err(err))
    } else if !web::is_api_path(parts.uri.path()) {
        let answer = web::answer(&parts.method, parts.uri.path(), &parts.headers);
        ("web", answer.map_err(ApiError::from))
    } else if cors::is_preflight(&parts.method, &parts.headers) {
        let response = match router.methods_for(parts.uri.path()) {
            Some(methods) => Ok(cors::preflight(origin.as_ref(), allowed_origins, &methods)),
            None => Err(ApiError::NotFound),
        };
        ("preflight", response)
    } else {
        match router.find(&parts.method, parts.uri.path()) {
            Err(err) => ("-", Err(err.into())),
            Ok(found) => {
                let result = match csrf::check(&parts.method, &parts.headers, allowed_origins) {
                    Err(err) => Err(err.into()),
                    Ok(()) => {
                        let client_ip =
                            request::client_ip(state.config.trust_proxy, &parts.headers, peer);
                        let body_timeout = state.config.body_read_timeout;
                        let request =
                            Request::new(parts, body, found.params, client_ip, body_timeout);
                        let ctx = Ctx { state, request };
                        run_handler(found.handler, ctx, span.clone()).await
                    }
                };
                (found.pattern, result)
            }
        }
    };

    let _entered = span.enter();
    let mut response = match result {
        Ok(response) => response,
        Err(err) => {
            if let Some(chain) = err.cause_chain() {
                tracing::error!(route, error = %chain, "request failed");
            }
            err.to_response()
        }
    };
    add_security_headers(response.headers_mut(), &request_id);
    cors::add_headers(origin.as_ref(), response.headers_mut(), allowed_origins);
    tracing::info!(
        method = %method,
        route,
        status = response.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    Ok(response)
}

fn within_limits(parts: &http::request::Parts) -> Result<(), ApiError> {
    let target_len = parts.uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if target_len > MAX_URI_BYTES {
        return Err(ApiError::UriTooLong);
    }
    if parts.headers.len() > MAX_HEADERS {
        return Err(ApiError::HeadersTooLarge);
    }
    Ok(())
}

/// The raw answer that replaces one hyper writes by itself for a request it cannot
/// parse: the contract's JSON and headers, and the end of the connection.
pub fn protocol_error_answer(status: StatusCode) -> Bytes {
    let error = match status {
        StatusCode::URI_TOO_LONG => ApiError::UriTooLong,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ApiError::HeadersTooLarge,
        _ => ApiError::BadRequest,
    };
    let body = serde_json::to_string(&error.body()).unwrap_or_default();
    let mut headers = http::HeaderMap::new();
    add_security_headers(&mut headers, &next_request_id());
    let mut head = format!(
        "HTTP/1.1 {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nvary: Origin\r\n",
        error.status(),
        body.len()
    );
    for (name, value) in &headers {
        if let Ok(value) = value.to_str() {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    tracing::info!(
        status = error.status().as_u16(),
        "request refused before parsing"
    );
    Bytes::from(format!("{head}\r\n{body}"))
}

/// Runs the handler on its own task so that a panic becomes a 500 and the
/// connection (and server) carry on.
async fn run_handler(
    handler: Handler,
    ctx: Ctx,
    span: tracing::Span,
) -> Result<Response, ApiError> {
    match tokio::spawn(handler(ctx).instrument(span)).await {
        Ok(result) => result,
        Err(join_error) if join_error.is_panic() => Err(ApiError::internal("handler panicked")),
        Err(join_error) => Err(ApiError::internal(join_error)),
    }
}
