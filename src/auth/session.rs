//! Sessions: a token is valid while its session exists. `Sessions` owns the whole
//! lifecycle (start, verify, end one, end all others, end all): each method writes
//! the database first and then keeps its in-memory mirror in step, so the check
//! on every request is a look-up and revocation survives restarts.

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use super::token::TokenKeys;
use super::AuthError;
use crate::db::{Database, SessionRow, StoreResult};
use crate::domain::time::now_millis;

/// The caller of a protected route.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub jti: String,
}

/// jti -> (user id, expiry in seconds)
type Mirror = HashMap<String, (String, i64)>;

pub struct Sessions {
    db: Database,
    tokens: TokenKeys,
    active: RwLock<Mirror>,
    /// Held across each lifecycle write and its mirror update, so a login that
    /// commits just before a password change cannot put its session back into
    /// memory after the change removed it.
    writes: tokio::sync::Mutex<()>,
}

impl Sessions {
    /// Loads the unexpired sessions from the database.
    ///
    /// # Errors
    /// The database cannot be read.
    pub async fn load(db: Database, tokens: TokenKeys) -> StoreResult<Self> {
        let rows = db.sessions().load_unexpired(now_secs()).await?;
        let active = rows
            .into_iter()
            .map(|r| (r.jti, (r.user_id, r.expires_at)))
            .collect();
        Ok(Self {
            db,
            tokens,
            active: RwLock::new(active),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    /// How long a new session lasts.
    pub fn ttl(&self) -> Duration {
        self.tokens.ttl()
    }

    /// Starts a session for a user; returns its token.
    ///
    /// # Errors
    /// The database write failed; the session does not exist then.
    pub async fn start(&self, user_id: &str) -> Result<String, AuthError> {
        let (token, row) = self.issue(user_id)?;
        let _writing = self.writes.lock().await;
        let evicted = self.db.sessions().insert(row.clone(), now_secs()).await?;
        let mut active = self.write();
        for jti in &evicted {
            active.remove(jti);
        }
        remember(&mut active, &row);
        Ok(token)
    }

    /// The caller, from a valid, unexpired token whose session still exists.
    ///
    /// # Errors
    /// `Unauthenticated` otherwise.
    pub fn verify(&self, token: Option<&str>) -> Result<AuthUser, AuthError> {
        let token = token.ok_or(AuthError::Unauthenticated)?;
        let claims = self
            .tokens
            .verify(token)
            .map_err(|_| AuthError::Unauthenticated)?;
        let active = self
            .read()
            .get(&claims.jti)
            .is_some_and(|(owner, _)| *owner == claims.sub);
        if !active {
            return Err(AuthError::Unauthenticated);
        }
        Ok(AuthUser {
            id: claims.sub,
            jti: claims.jti,
        })
    }

    /// Ends one session.
    ///
    /// # Errors
    /// The database write failed; the session still exists then.
    pub async fn end(&self, jti: &str) -> Result<(), AuthError> {
        let _writing = self.writes.lock().await;
        self.db.sessions().delete(jti).await?;
        self.write().remove(jti);
        Ok(())
    }

    /// Sets a new password hash and, in the same transaction, ends every session
    /// of the user and starts the one whose token is returned (the caller's device
    /// stays signed in, every other one is signed out).
    ///
    /// # Errors
    /// `Unauthenticated` when the account no longer exists; a failed write changes nothing.
    pub async fn restart_with_new_password(
        &self,
        user_id: &str,
        password_hash: String,
    ) -> Result<String, AuthError> {
        let (token, row) = self.issue(user_id)?;
        let _writing = self.writes.lock().await;
        let changed = self
            .db
            .sessions()
            .replace_all_with_new_password(row.clone(), password_hash)
            .await?;
        if !changed {
            return Err(AuthError::Unauthenticated);
        }
        let mut active = self.write();
        active.retain(|_, (owner, _)| owner != user_id);
        remember(&mut active, &row);
        Ok(token)
    }

    /// Ends every session of a user (an account being deleted). Memory is cleared
    /// whatever the database answers, so no token of the user passes from now on.
    ///
    /// # Errors
    /// The database write failed (the rows go with the account anyway).
    pub async fn end_all(&self, user_id: &str) -> Result<(), AuthError> {
        let _writing = self.writes.lock().await;
        self.write().retain(|_, (owner, _)| owner != user_id);
        self.db.sessions().delete_all(user_id).await?;
        Ok(())
    }

    fn issue(&self, user_id: &str) -> Result<(String, SessionRow), AuthError> {
        let (token, claims) = self.tokens.issue(user_id).map_err(AuthError::internal)?;
        let row = SessionRow {
            jti: claims.jti,
            user_id: claims.sub,
            expires_at: claims.exp,
        };
        Ok((token, row))
    }

    fn read(&self) -> RwLockReadGuard<'_, Mirror> {
        self.active.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Mirror> {
        self.active.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// Adds a session that is in the database, dropping expired ones from memory.
fn remember(active: &mut Mirror, row: &SessionRow) {
    let now = now_secs();
    active.retain(|_, (_, exp)| *exp >= now);
    active.insert(row.jti.clone(), (row.user_id.clone(), row.expires_at));
}

fn now_secs() -> i64 {
    now_millis() / 1000
}
