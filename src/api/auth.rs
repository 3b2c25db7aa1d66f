use std::sync::Arc;

use http::{header, StatusCode};
use serde_json::json;

use super::cookie::{clearing_cookie, session_cookie};
use super::views::AccountJson;
use super::{ApiError, Ctx};
use crate::domain::{parse_registration, required_field, Password, ValidationError};
use crate::http::response::{json, no_content, Response};

/// The place taken before the body is read counts a malformed registration too;
/// only an attempt refused for load (in flight, queue full) gives it back.
pub async fn register(mut ctx: Ctx) -> Result<Response, ApiError> {
    let state = Arc::clone(&ctx.state);
    let place = state.accounts.admit_registration(ctx.client_ip())?;
    let parsed = match ctx.json_object().await {
        Ok(body) => parse_registration(&body).map_err(ApiError::from),
        Err(err) => Err(err),
    };
    let (email, password) = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            place.keep();
            return Err(err);
        }
    };
    let token = state
        .accounts
        .register(place, ctx.client_ip(), &email, &password)
        .await?;
    Ok(signed_in(&ctx, &token, StatusCode::CREATED))
}

pub async fn login(mut ctx: Ctx) -> Result<Response, ApiError> {
    ctx.state.accounts.admit_login(ctx.client_ip())?;
    let body = ctx.json_object().await?;
    let email = required_field(&body, "email")?;
    let password = required_field(&body, "password")?;
    let token = ctx
        .state
        .accounts
        .login(ctx.client_ip(), email, password)
        .await?;
    Ok(signed_in(&ctx, &token, StatusCode::OK))
}

/// Ends the session if there is a valid one, and always clears the cookie.
pub async fn logout(ctx: Ctx) -> Result<Response, ApiError> {
    if let Ok(user) = ctx.user() {
        ctx.state.accounts.sessions().end(&user.jti).await?;
    }
    let mut response = json(StatusCode::OK, &json!({ "success": true }));
    response.headers_mut().insert(
        header::SET_COOKIE,
        clearing_cookie(ctx.state.config.cookie_secure),
    );
    Ok(response)
}

pub async fn me(ctx: Ctx) -> Result<Response, ApiError> {
    let user = ctx.user()?;
    let account = ctx.state.accounts.account(&user).await?;
    Ok(json(StatusCode::OK, &AccountJson::from(&account)))
}

/// Who is signed in, without an error when nobody is: the web app asks this on
/// every load, and a signed-out visitor is not a failure (a 401 would be one in
/// the browser's console).
pub async fn session(ctx: Ctx) -> Result<Response, ApiError> {
    let user = match ctx.user() {
        Ok(user) => user,
        Err(ApiError::Unauthenticated) => {
            return Ok(json(StatusCode::OK, &json!({ "user": null })));
        }
        Err(err) => return Err(err),
    };
    let account = ctx.state.accounts.account(&user).await?;
    Ok(json(
        StatusCode::OK,
        &json!({ "user": AccountJson::from(&account) }),
    ))
}

/// Changes the password: every other session ends, the caller gets a fresh cookie.
pub async fn change_password(mut ctx: Ctx) -> Result<Response, ApiError> {
    let user = ctx.user()?;
    let body = ctx.json_object().await?;
    let current = required_field(&body, "current_password")?;
    let new_password = Password::parse(required_field(&body, "new_password")?)
        .map_err(|message| ValidationError::field("new_password", message))?;
    let token = ctx
        .state
        .accounts
        .change_password(&user, ctx.client_ip(), current, &new_password)
        .await?;
    Ok(signed_in(&ctx, &token, StatusCode::OK))
}

/// Deletes the account and everything in it, after the password is confirmed.
pub async fn delete_account(mut ctx: Ctx) -> Result<Response, ApiError> {
    let user = ctx.user()?;
    let body = ctx.json_object().await?;
    let password = required_field(&body, "password")?;
    ctx.state
        .accounts
        .delete(&user, ctx.client_ip(), password)
        .await?;
    let mut response = no_content();
    response.headers_mut().insert(
        header::SET_COOKIE,
        clearing_cookie(ctx.state.config.cookie_secure),
    );
    Ok(response)
}

/// `{"success": true}` with the cookie of the session whose token is given.
fn signed_in(ctx: &Ctx, token: &str, status: StatusCode) -> Response {
    let mut response = json(status, &json!({ "success": true }));
    let max_age = ctx.state.accounts.sessions().ttl().as_secs();
    let cookie = session_cookie(token, max_age, ctx.state.config.cookie_secure);
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}
