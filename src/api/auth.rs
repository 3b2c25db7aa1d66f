use http::{header, StatusCode};
use serde_json::json;

use crate::auth::session::{self, clearing_cookie, session_cookie};
use crate::domain::parse_registration;
use crate::error::ApiError;
use crate::http::response::{json, Response};
use crate::http::RequestCtx;

pub async fn register(mut ctx: RequestCtx) -> Result<Response, ApiError> {
    let state = ctx.state.clone();
    state
        .limits
        .registrations_by_address
        .hit(&ctx.client_ip.to_string())?;
    let body = ctx.json_object().await?;
    let (email, password) = parse_registration(&body)?;
    let hash = state.passwords.hash(&password).await?;
    let user = state.db.users().create(&email, hash).await?;
    signed_in(&ctx, &user.id, StatusCode::CREATED)
}

pub async fn login(mut ctx: RequestCtx) -> Result<Response, ApiError> {
    let state = ctx.state.clone();
    let limits = &state.limits;
    let address = ctx.client_ip.to_string();
    limits.failed_logins_by_address.check(&address)?;
    let body = ctx.json_object().await?;
    let field = |name: &'static str| match body.get(name) {
        Some(serde_json::Value::String(s)) => Ok(s.as_str()),
        Some(_) => Err(ApiError::field(name, "must be a string")),
        None => Err(ApiError::field(name, "is required")),
    };
    let email = field("email")?.trim().to_lowercase();
    let password = field("password")?;
    limits.failed_logins_by_email.check(&email)?;

    let account = state.db.users().credentials(&email).await?;
    let (user_id, stored_hash) = match account {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    let verified = state.passwords.verify(password, stored_hash).await?;
    match user_id.filter(|_| verified) {
        Some(user_id) => {
            limits.failed_logins_by_email.clear(&email);
            signed_in(&ctx, &user_id, StatusCode::OK)
        }
        None => {
            limits.failed_logins_by_email.record(&email);
            limits.failed_logins_by_address.record(&address);
            Err(ApiError::InvalidCredentials)
        }
    }
}

/// Revokes the session if there is a valid one, and always clears the cookie.
pub async fn logout(ctx: RequestCtx) -> Result<Response, ApiError> {
    if let Ok(user) = session::require_user(&ctx) {
        ctx.state
            .revocations
            .revoke(&ctx.state.db, &user.jti, user.expires_at_secs)
            .await?;
    }
    let mut response = json(StatusCode::OK, &json!({ "success": true }));
    response.headers_mut().insert(
        header::SET_COOKIE,
        clearing_cookie(ctx.state.config.cookie_secure),
    );
    Ok(response)
}

pub async fn me(ctx: RequestCtx) -> Result<Response, ApiError> {
    let user = session::require_user(&ctx)?;
    // A token can outlive its account; that is a dead session, not a missing page.
    let account = ctx
        .state
        .db
        .users()
        .find(&user.id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    Ok(json(
        StatusCode::OK,
        &json!({
            "id": account.id,
            "email": account.email,
            "created_at": crate::clock::format_millis(account.created_at),
        }),
    ))
}

/// `{"success": true}` with a fresh session cookie.
fn signed_in(ctx: &RequestCtx, user_id: &str, status: StatusCode) -> Result<Response, ApiError> {
    let (token, _) = ctx
        .state
        .tokens
        .issue(user_id)
        .map_err(ApiError::internal)?;
    let mut response = json(status, &json!({ "success": true }));
    let cookie = session_cookie(
        &token,
        ctx.state.tokens.ttl().as_secs(),
        ctx.state.config.cookie_secure,
    );
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}
