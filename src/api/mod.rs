//! The `/api` routes and their handlers, named verb_noun.

mod analytics;
mod auth;
mod entries;
mod export;
mod health;
mod openapi;
mod vibe;

use http::Method;

use crate::handler;
use crate::http::router::Router;

pub use openapi::OPENAPI_DOCUMENT;

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
