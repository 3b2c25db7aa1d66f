use rusqlite::{params, Transaction};

use super::Database;

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
    pub async fn insert(
        &self,
        row: SessionRow,
        now_secs: i64,
    ) -> Result<Vec<String>, tokio_rusqlite::Error> {
        self.db
            .write_transaction(move |tx| insert_in(tx, &row, now_secs))
            .await
    }

    /// # Errors
    /// The write fails.
    pub async fn delete(&self, jti: &str) -> Result<(), tokio_rusqlite::Error> {
        let jti = jti.to_owned();
        self.db
            .writer()
            .call(move |conn| {
                conn.prepare_cached("DELETE FROM sessions WHERE jti = ?1")?
                    .execute([jti])?;
                Ok(())
            })
            .await
    }

    /// # Errors
    /// The read fails.
    pub async fn load_unexpired(
        &self,
        now_secs: i64,
    ) -> Result<Vec<SessionRow>, tokio_rusqlite::Error> {
        self.db
            .reader()
            .call(move |conn| {
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
            .await
    }
}

/// Inserts a session inside the caller's transaction, pruning expired rows and the
/// user's oldest sessions beyond the cap; returns the ids it dropped for that cap.
pub(super) fn insert_in(
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
