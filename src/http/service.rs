//! The way of every request: route, CSRF, handler (panics caught), error
//! mapping, security and CORS headers, one log line.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use hyper::body::Incoming;

use super::request::RequestCtx;
use super::response::{add_security_headers, error_response, Response};
use super::router::Router;
use crate::auth::{cors, csrf};
use crate::error::ApiError;
use crate::state::AppState;

pub async fn handle(
    state: Arc<AppState>,
    router: Arc<Router>,
    peer: SocketAddr,
    request: http::Request<Incoming>,
) -> Result<Response, Infallible> {
    let started = Instant::now();
    let request_id = next_request_id();
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    let origin = parts.headers.get(http::header::ORIGIN).cloned();
    // The handler takes `state`; this handle keeps the configuration for the answer.
    let shared = Arc::clone(&state);
    let allowed_origins = &shared.config.allowed_origins;

    let (route, result) = if cors::is_preflight(&parts.method, &parts.headers) {
        let methods = router.methods_for(parts.uri.path());
        let response = match methods {
            Some(methods) => Ok(cors::preflight(origin.as_ref(), allowed_origins, &methods)),
            None => Err(ApiError::NotFound),
        };
        ("preflight", response)
    } else {
        match router.find(&parts.method, parts.uri.path()) {
            Err(err) => ("-", Err(err)),
            Ok(found) => {
                let result = match csrf::check(&parts.method, &parts.headers, allowed_origins) {
                    Err(err) => Err(err),
                    Ok(()) => {
                        let client_ip = client_ip(&state, &parts.headers, peer);
                        let ctx = RequestCtx::new(
                            state,
                            parts,
                            body,
                            found.params,
                            client_ip,
                            request_id.clone(),
                        );
                        run_handler(found.handler, ctx).await
                    }
                };
                (found.pattern, result)
            }
        }
    };

    let mut response = match result {
        Ok(response) => response,
        Err(err) => {
            if let Some(chain) = err.cause_chain() {
                tracing::error!(request_id = %request_id, route, error = %chain, "request failed");
            }
            error_response(&err)
        }
    };
    add_security_headers(response.headers_mut(), &request_id);
    cors::add_headers(origin.as_ref(), response.headers_mut(), allowed_origins);
    tracing::info!(
        method = %method,
        route,
        status = response.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        request_id = %request_id,
        "request"
    );
    Ok(response)
}

/// A request id unique to this process run: a random prefix chosen at start and
/// a counter (cheaper than a random UUID per request, and still unguessable across runs).
fn next_request_id() -> String {
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

/// Runs the handler on its own task so that a panic becomes a 500 and the
/// connection (and server) carry on.
async fn run_handler(
    handler: super::router::Handler,
    ctx: RequestCtx,
) -> Result<Response, ApiError> {
    match tokio::spawn(handler(ctx)).await {
        Ok(result) => result,
        Err(join_error) if join_error.is_panic() => Err(ApiError::internal("handler panicked")),
        Err(join_error) => Err(ApiError::internal(join_error)),
    }
}

/// The socket peer, or with `TRUST_PROXY=true` the address our proxy saw: the last
/// entry of `X-Forwarded-For` (earlier entries are the client's own claims).
fn client_ip(state: &AppState, headers: &http::HeaderMap, peer: SocketAddr) -> IpAddr {
    if !state.config.trust_proxy {
        return peer.ip();
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
        .next_back()
        .unwrap_or_else(|| peer.ip())
}
