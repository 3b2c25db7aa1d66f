//! The `/api` routes and their handlers, named verb_noun; the request pipeline;
//! and the one place where errors become statuses and codes.

mod analytics;
mod answer_cache;
mod auth;
mod context;
mod cookie;
mod entries;
mod error;
mod export;
mod health;
mod openapi;
pub mod service;
mod state;
mod vibe;
mod views;

use std::future::Future;
use std::pin::Pin;

use http::Method;

pub use context::Ctx;
pub use error::ApiError;
pub use openapi::OPENAPI_DOCUMENT;
pub use state::AppState;

use crate::http::Response;

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;
pub type Handler = fn(Ctx) -> HandlerFuture;
pub type Router = crate::http::router::Router<Handler>;

/// Wraps an `async fn(Ctx) -> Result<Response, ApiError>` as a [`Handler`].
#[macro_export]
macro_rules! handler {
    ($f:path) => {
        |ctx| Box::pin($f(ctx))
    };
}

/// The route table of the contract.
pub fn router() -> Router {
    Router::new()
        .route(Method::GET, "/api/health", handler!(health::health))
        .route(
            Method::GET,
            "/api/openapi.json",
            handler!(openapi::openapi_document),
        )
        .route(Method::POST, "/api/auth/register", handler!(auth::register))
        .route(Method::POST, "/api/auth/login", handler!(auth::login))
        .route(Method::POST, "/api/auth/logout", handler!(auth::logout))
        .route(Method::GET, "/api/auth/me", handler!(auth::me))
        .route(Method::GET, "/api/auth/session", handler!(auth::session))
        .route(
            Method::DELETE,
            "/api/auth/me",
            handler!(auth::delete_account),
        )
        .route(
            Method::POST,
            "/api/auth/password",
            handler!(auth::change_password),
        )
        .route(
            Method::POST,
            "/api/entries",
            handler!(entries::create_entry),
        )
        .route(Method::GET, "/api/entries", handler!(entries::list_entries))
        .route(
            Method::GET,
            "/api/entries/{id}",
            handler!(entries::get_entry),
        )
        .route(
            Method::PUT,
            "/api/entries/{id}",
            handler!(entries::update_entry),
        )
        .route(
            Method::DELETE,
            "/api/entries/{id}",
            handler!(entries::delete_entry),
        )
        .route(
            Method::GET,
            "/api/analytics/weekly",
            handler!(analytics::weekly_moods),
        )
        .route(
            Method::GET,
            "/api/analytics/moods",
            handler!(analytics::mood_buckets),
        )
        .route(
            Method::GET,
            "/api/analytics/summary",
            handler!(analytics::journal_summary),
        )
        .route(Method::GET, "/api/tags", handler!(analytics::list_tags))
        .route(Method::GET, "/api/export", handler!(export::export_journal))
        .route(
            Method::POST,
            "/api/ai/vibe-check",
            handler!(vibe::vibe_check),
        )
        .route(
            Method::POST,
            "/api/ai/vibe-check/stream",
            handler!(vibe::vibe_check_stream),
        )
}
