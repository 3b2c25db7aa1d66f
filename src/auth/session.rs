//! The session cookie: issuing it, reading it into an [`AuthUser`], and
//! revoking tokens so a logged-out cookie is dead even after a restart.

use std::collections::HashMap;
use std::sync::RwLock;

use http::HeaderValue;

use crate::clock::now_millis;
use crate::db::Database;
use crate::error::ApiError;
use crate::http::RequestCtx;

pub const COOKIE_NAME: &str = "serene_token";

/// The caller of a protected route.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub jti: String,
    pub expires_at_secs: i64,
}

/// Token ids revoked before they expire, mirrored from the database so the check
/// on every request is a memory look-up.
#[derive(Default)]
pub struct RevocationList {
    revoked: RwLock<HashMap<String, i64>>,
}

impl RevocationList {
    /// Loads the unexpired revocations from the database.
    ///
    /// # Errors
    /// The database cannot be read.
    pub async fn load(db: &Database) -> Result<Self, tokio_rusqlite::Error> {
        let now_secs = now_millis() / 1000;
        let rows = db.revocations().load_unexpired(now_secs).await?;
        Ok(Self {
            revoked: RwLock::new(rows.into_iter().collect()),
        })
    }

    pub fn is_revoked(&self, jti: &str) -> bool {
        self.revoked
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(jti)
    }

    /// Records a revocation durably, then in memory.
    ///
    /// # Errors
    /// The database write failed; the token is then not revoked.
    pub async fn revoke(
        &self,
        db: &Database,
        jti: &str,
        expires_at_secs: i64,
    ) -> Result<(), ApiError> {
        let now_secs = now_millis() / 1000;
        db.revocations()
            .insert(jti, expires_at_secs, now_secs)
            .await?;
        let mut revoked = self.revoked.write().unwrap_or_else(|p| p.into_inner());
        revoked.retain(|_, exp| *exp >= now_secs);
        revoked.insert(jti.to_owned(), expires_at_secs);
        Ok(())
    }
}

/// The caller, from a valid, unexpired and unrevoked session cookie.
///
/// # Errors
/// `Unauthenticated` otherwise.
pub fn require_user(ctx: &RequestCtx) -> Result<AuthUser, ApiError> {
    let token = ctx.cookie(COOKIE_NAME).ok_or(ApiError::Unauthenticated)?;
    let claims = ctx
        .state
        .tokens
        .verify(token)
        .map_err(|_| ApiError::Unauthenticated)?;
    if ctx.state.revocations.is_revoked(&claims.jti) {
        return Err(ApiError::Unauthenticated);
    }
    Ok(AuthUser {
        id: claims.sub,
        jti: claims.jti,
        expires_at_secs: claims.exp,
    })
}

/// `Set-Cookie` for a new session.
pub fn session_cookie(token: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    cookie_header(token, max_age_secs, secure)
}

/// `Set-Cookie` that makes the browser forget the session.
pub fn clearing_cookie(secure: bool) -> HeaderValue {
    cookie_header("", 0, secure)
}

fn cookie_header(value: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{COOKIE_NAME}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age_secs}{secure}"
    );
    // A JWT is base64url and dots, always a valid header value.
    HeaderValue::from_str(&text)
        .unwrap_or_else(|_| HeaderValue::from_static("serene_token=; Max-Age=0"))
}
