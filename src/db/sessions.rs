use rusqlite::{params, Transaction};

use super::error::StoreResult;
use super::Database;
use crate::domain::time::now_millis;

/// Signed-in devices per user; a new login beyond this ends the oldest session, so
/// logins in a loop cannot grow the session table (and its mirror in memory) without end.
pub const MAX_SESSIONS_PER_USER: i64 = 20;

/// A session row: one signed-in token.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub jti: String,
    pub user_id: String,
    pub expires_at: i64,
}

pub struct SessionStore<'a> {
    db: &'a Database,
}

impl<'a> SessionStore<'a> {
    pub(super) fn new(db: &'a Database) -> Self {
        Self { db }
    }

    /// Records a new session and forgets expired ones; returns the ids of the user's
    /// oldest sessions dropped to keep at most [`MAX_SESSIONS_PER_USER`].
    ///
    /// # Errors
    /// The write fails (for example, the user was deleted meanwhile).
    pub async fn insert(&self, row: SessionRow, now_secs: i64) -> StoreResult<Vec<String>> {
        Ok(self
            .db
            .write_transaction(move |tx| insert_in(tx, &row, now_secs))
            .await?)
    }

    /// # Errors
    /// The write fails.
    pub async fn delete(&self, jti: &str) -> StoreResult<()> {
        let jti = jti.to_owned();
        Ok(self
            .db
            .writer()
            .call(move |conn| {
                conn.prepare_cached("DELETE FROM sessions WHERE jti = ?1")?
                    .execute([jti])?;
                Ok(())
            })
            .await?)
    }

    /// Deletes every session of a user; returns how many there were.
    ///
    /// # Errors
    /// The write fails.
    pub async fn delete_all(&self, user_id: &str) -> StoreResult<usize> {
        let user_id = user_id.to_owned();
        Ok(self
            .db
            .writer()
            .call(move |conn| {
                conn.prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?
                    .execute([user_id])
            })
            .await?)
    }

    /// Sets the user's new password hash and replaces every session of the user by
    /// `session`, in one transaction (a password change ends every other device). `Ok(false)` when the user no longer exists.
    ///
    /// # Errors
    /// The write fails; nothing changed then.
    pub async fn replace_all_with_new_password(
        &self,
        session: SessionRow,
        password_hash: String,
    ) -> StoreResult<bool> {
        let id = session.user_id.clone();
        let now_secs = now_millis() / 1000;
        Ok(self
            .db
            .write_transaction(move |tx| {
                let changed = tx
                    .prepare_cached("UPDATE users SET password_hash = ?1 WHERE id = ?2")?
                    .execute(params![password_hash, id])?;
                if changed > 0 {
                    tx.prepare_cached("DELETE FROM sessions WHERE user_id = ?1")?
                        .execute([&id])?;
                    // The user's other sessions were just deleted, so nothing is evicted.
                    insert_in(tx, &session, now_secs)?;
                }
                Ok(changed > 0)
            })
            .await?)
    }

    /// # Errors
    /// The read fails.
    pub async fn load_unexpired(&self, now_secs: i64) -> StoreResult<Vec<SessionRow>> {
        Ok(self
            .db
            .read(move |conn| {
                conn.prepare(
                    "SELECT jti, user_id, expires_at FROM sessions WHERE expires_at >= ?1",
                )?
                .query_map([now_secs], |row| {
                    Ok(SessionRow {
                        jti: row.get(0)?,
                        user_id: row.get(1)?,
                        expires_at: row.get(2)?,
                    })
                })?
                .collect()
            })
            .await?)
    }
}

/// Inserts a session inside the caller's transaction, pruning expired rows and the
/// user's oldest sessions beyond the cap; returns the ids it dropped for that cap.
fn insert_in(
    tx: &Transaction<'_>,
    row: &SessionRow,
    now_secs: i64,
) -> rusqlite::Result<Vec<String>> {
    tx.prepare_cached("DELETE FROM sessions WHERE expires_at < ?1")?
        .execute([now_secs])?;
    tx.prepare_cached("INSERT INTO sessions (jti, user_id, expires_at) VALUES (?1, ?2, ?3)")?
        .execute(params![row.jti, row.user_id, row.expires_at])?;
    tx.prepare_cached(
        "DELETE FROM sessions WHERE user_id = ?1 AND jti NOT IN (
             SELECT jti FROM sessions WHERE user_id = ?1
             ORDER BY expires_at DESC, rowid DESC LIMIT ?2)
         RETURNING jti",
    )?
    .query_map(params![row.user_id, MAX_SESSIONS_PER_USER], |r| r.get(0))?
    .collect()
}
