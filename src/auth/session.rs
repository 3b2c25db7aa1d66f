//! Sessions: a token is valid while its session exists. The table is mirrored in
//! memory, so the check on every request is a look-up, and survives restarts.

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use http::HeaderValue;

use crate::clock::now_millis;
use crate::db::{Database, SessionRow};
use crate::error::ApiError;
use crate::http::RequestCtx;

pub const COOKIE_NAME: &str = "serene_token";

/// The caller of a protected route.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub jti: String,
}

/// A new session's token and row.
pub struct NewSession {
    pub token: String,
    pub row: SessionRow,
}

#[derive(Default)]
pub struct Sessions {
    /// jti -> (user id, expiry in seconds)
    active: RwLock<HashMap<String, (String, i64)>>,
}

impl Sessions {
    /// Loads the unexpired sessions from the database.
    ///
    /// # Errors
    /// The database cannot be read.
    pub async fn load(db: &Database) -> Result<Self, tokio_rusqlite::Error> {
        let rows = db.sessions().load_unexpired(now_millis() / 1000).await?;
        Ok(Self {
            active: RwLock::new(
                rows.into_iter()
                    .map(|r| (r.jti, (r.user_id, r.expires_at)))
                    .collect(),
            ),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, (String, i64)>> {
        self.active.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, (String, i64)>> {
        self.active.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_active(&self, jti: &str, user_id: &str) -> bool {
        self.read()
            .get(jti)
            .is_some_and(|(owner, _)| owner == user_id)
    }

    /// Issues a token for a user without storing it yet (see [`Sessions::remember`]).
    ///
    /// # Errors
    /// Signing fails (it does not for HS256 with an in-memory key).
    pub fn issue(ctx: &RequestCtx, user_id: &str) -> Result<NewSession, ApiError> {
        let (token, claims) = ctx
            .state
            .tokens
            .issue(user_id)
            .map_err(ApiError::internal)?;
        Ok(NewSession {
            token,
            row: SessionRow {
                jti: claims.jti,
                user_id: claims.sub,
                expires_at: claims.exp,
            },
        })
    }

    /// Stores a new session durably, then in memory.
    ///
    /// # Errors
    /// The database write failed; the session does not exist then.
    pub async fn start(&self, db: &Database, session: &NewSession) -> Result<(), ApiError> {
        let evicted = db
            .sessions()
            .insert(session.row.clone(), now_millis() / 1000)
            .await?;
        let mut active = self.write();
        for jti in &evicted {
            active.remove(jti);
        }
        drop(active);
        self.remember(&session.row);
        Ok(())
    }

    /// Adds a session that is already in the database.
    pub fn remember(&self, row: &SessionRow) {
        let now_secs = now_millis() / 1000;
        let mut active = self.write();
        active.retain(|_, (_, exp)| *exp >= now_secs);
        active.insert(row.jti.clone(), (row.user_id.clone(), row.expires_at));
    }

    /// Ends one session, durably.
    ///
    /// # Errors
    /// The database write failed; the session still exists then.
    pub async fn end(&self, db: &Database, jti: &str) -> Result<(), ApiError> {
        db.sessions().delete(jti).await?;
        self.write().remove(jti);
        Ok(())
    }

    /// Forgets every session of a user whose rows the database already dropped.
    pub fn forget_user(&self, user_id: &str) {
        self.write().retain(|_, (owner, _)| owner != user_id);
    }
}

/// The caller, from a valid, unexpired session cookie whose session still exists.
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
    if !ctx.state.sessions.is_active(&claims.jti, &claims.sub) {
        return Err(ApiError::Unauthenticated);
    }
    Ok(AuthUser {
        id: claims.sub,
        jti: claims.jti,
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
