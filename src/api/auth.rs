use http::{header, StatusCode};
use serde_json::json;

use crate::auth::session::{self, clearing_cookie, session_cookie, AuthUser, Sessions};
use crate::db::User;
use crate::domain::{parse_registration, required_field, Password};
use crate::error::ApiError;
use crate::http::response::{json, no_content, Response};
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
    signed_in(&ctx, &user.id, StatusCode::CREATED).await
}

pub async fn login(mut ctx: RequestCtx) -> Result<Response, ApiError> {
    let state = ctx.state.clone();
    let limits = &state.limits;
    let address = ctx.client_ip.to_string();
    limits.failed_logins_by_address.check(&address)?;
    let body = ctx.json_object().await?;
    let email = required_field(&body, "email")?.trim().to_lowercase();
    let password = required_field(&body, "password")?;
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
            signed_in(&ctx, &user_id, StatusCode::OK).await
        }
        None => {
            record_failed_login(&ctx, &email);
            Err(ApiError::InvalidCredentials)
        }
    }
}

/// Ends the session if there is a valid one, and always clears the cookie.
pub async fn logout(ctx: RequestCtx) -> Result<Response, ApiError> {
    if let Ok(user) = session::require_user(&ctx) {
        ctx.state.sessions.end(&ctx.state.db, &user.jti).await?;
    }
    let mut response = json(StatusCode::OK, &json!({ "success": true }));
    response.headers_mut().insert(
        header::SET_COOKIE,
        clearing_cookie(ctx.state.config.cookie_secure),
    );
    Ok(response)
}

pub async fn me(ctx: RequestCtx) -> Result<Response, ApiError> {
    let account = signed_in_account(&ctx).await?;
    Ok(json(StatusCode::OK, &account.to_json()))
}

/// The caller's account. A token can outlive its account; that is a dead
/// session (401), not a missing page.
pub(super) async fn signed_in_account(ctx: &RequestCtx) -> Result<User, ApiError> {
    let user = session::require_user(ctx)?;
    ctx.state
        .db
        .users()
        .find(&user.id)
        .await?
        .ok_or(ApiError::Unauthenticated)
}

/// Changes the password: every other session ends, the caller gets a fresh cookie.
pub async fn change_password(mut ctx: RequestCtx) -> Result<Response, ApiError> {
    let user = session::require_user(&ctx)?;
    let body = ctx.json_object().await?;
    let current = required_field(&body, "current_password")?;
    let new_password = Password::parse(required_field(&body, "new_password")?)
        .map_err(|message| ApiError::field("new_password", message))?;
    confirm_password(&ctx, &user, current).await?;

    let state = &ctx.state;
    let hash = state.passwords.hash(&new_password).await?;
    let session = Sessions::issue(&ctx, &user.id)?;
    if !state
        .db
        .users()
        .change_password(&user.id, hash, session.row.clone())
        .await?
    {
        return Err(ApiError::Unauthenticated);
    }
    state.sessions.forget_user(&user.id);
    state.sessions.remember(&session.row);
    let mut response = json(StatusCode::OK, &json!({ "success": true }));
    let cookie = session_cookie(
        &session.token,
        state.tokens.ttl().as_secs(),
        state.config.cookie_secure,
    );
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Deletes the account and everything in it, after the password is confirmed.
pub async fn delete_account(mut ctx: RequestCtx) -> Result<Response, ApiError> {
    let user = session::require_user(&ctx)?;
    let body = ctx.json_object().await?;
    let password = required_field(&body, "password")?;
    confirm_password(&ctx, &user, password).await?;
    ctx.state.db.users().delete(&user.id).await?;
    ctx.state.sessions.forget_user(&user.id);
    let mut response = no_content();
    response.headers_mut().insert(
        header::SET_COOKIE,
        clearing_cookie(ctx.state.config.cookie_secure),
    );
    Ok(response)
}

/// Checks the signed-in user's password under the login rate limits; a wrong one
/// counts as a failed login for the account's email and the client address.
async fn confirm_password(
    ctx: &RequestCtx,
    user: &AuthUser,
    password: &str,
) -> Result<(), ApiError> {
    let state = &ctx.state;
    let (email, hash) = state
        .db
        .users()
        .credentials_by_id(&user.id)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    state
        .limits
        .failed_logins_by_address
        .check(&ctx.client_ip.to_string())?;
    state.limits.failed_logins_by_email.check(&email)?;
    if state.passwords.verify(password, Some(hash)).await? {
        Ok(())
    } else {
        record_failed_login(ctx, &email);
        Err(ApiError::InvalidCredentials)
    }
}

fn record_failed_login(ctx: &RequestCtx, email: &str) {
    let limits = &ctx.state.limits;
    limits.failed_logins_by_email.record(email);
    limits
        .failed_logins_by_address
        .record(&ctx.client_ip.to_string());
}

/// `{"success": true}` with the cookie of a new, stored session.
async fn signed_in(
    ctx: &RequestCtx,
    user_id: &str,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let session = Sessions::issue(ctx, user_id)?;
    ctx.state.sessions.start(&ctx.state.db, &session).await?;
    let mut response = json(status, &json!({ "success": true }));
    let cookie = session_cookie(
        &session.token,
        ctx.state.tokens.ttl().as_secs(),
        ctx.state.config.cookie_secure,
    );
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}
