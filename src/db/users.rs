use rusqlite::{params, ErrorCode, OptionalExtension};

use super::sessions::{insert_in, SessionRow};
use super::Database;
use crate::clock::{now_millis, Millis};
use crate::domain::Email;
use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub created_at: Millis,
}

/// The contract's account object: `{"id", "email", "created_at"}` in that order.
#[derive(serde::Serialize)]
pub struct UserJson<'a> {
    id: &'a str,
    email: &'a str,
    created_at: String,
}

impl User {
    pub fn to_json(&self) -> UserJson<'_> {
        UserJson {
            id: &self.id,
            email: &self.email,
            created_at: crate::clock::format_millis(self.created_at),
        }
    }
}

pub struct UserStore<'a> {
    db: &'a Database,
}

impl<'a> UserStore<'a> {
    pub(super) fn new(db: &'a Database) -> Self {
        Self { db }
    }

    /// Creates an account.
    ///
    /// # Errors
    /// `EmailTaken` when the (lower-cased) email exists; `Internal` otherwise.
    pub async fn create(&self, email: &Email, password_hash: String) -> Result<User, ApiError> {
        let user = User {
            id: uuid::Uuid::new_v4().to_string(),
            email: email.as_str().to_owned(),
            created_at: now_millis(),
        };
        let row = user.clone();
        let inserted = self
            .db
            .writer()
            .call(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO users (id, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![row.id, row.email, password_hash, row.created_at])
            })
            .await;
        match inserted {
            Ok(_) => Ok(user),
            Err(tokio_rusqlite::Error::Error(rusqlite::Error::SqliteFailure(e, _)))
                if e.code == ErrorCode::ConstraintViolation =>
            {
                Err(ApiError::EmailTaken)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// The id and password hash of an account, by email.
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn credentials(&self, email: &str) -> Result<Option<(String, String)>, ApiError> {
        self.two_columns(
            "SELECT id, password_hash FROM users WHERE email = ?1",
            email,
        )
        .await
    }

    /// # Errors
    /// The database does not answer.
    pub async fn find(&self, id: &str) -> Result<Option<User>, ApiError> {
        let id = id.to_owned();
        Ok(self
            .db
            .reader()
            .call(move |conn| {
                conn.prepare_cached("SELECT id, email, created_at FROM users WHERE id = ?1")?
                    .query_row([id], |row| {
                        Ok(User {
                            id: row.get(0)?,
                            email: row.get(1)?,
                            created_at: row.get(2)?,
                        })
                    })
                    .optional()
            })
            .await?)
    }

    /// The email and password hash of an account, by id.
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn credentials_by_id(&self, id: &str) -> Result<Option<(String, String)>, ApiError> {
        self.two_columns("SELECT email, password_hash FROM users WHERE id = ?1", id)
            .await
    }

    /// One row of two text columns selected by one key, if it exists.
    async fn two_columns(
        &self,
        sql: &'static str,
        key: &str,
    ) -> Result<Option<(String, String)>, ApiError> {
        let key = key.to_owned();
        Ok(self
            .db
            .reader()
            .call(move |conn| {
                conn.prepare_cached(sql)?
                    .query_row([key], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .await?)
    }

    /// Sets a new password hash and replaces every session of the user by `session`,
    /// in one transaction. `Ok(false)` when the user no longer exists.
    ///
    /// # Errors
    /// The write fails; nothing changed then.
    pub async fn change_password(
        &self,
        id: &str,
        password_hash: String,
        session: SessionRow,
    ) -> Result<bool, ApiError> {
        let id = id.to_owned();
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

    /// Deletes the account; its entries and sessions go with it (foreign keys cascade).
    /// With `secure_delete` on, freed pages are zeroed; the WAL is then checkpointed
    /// and truncated so no copy of the old pages stays behind in it either.
    ///
    /// # Errors
    /// The delete fails; nothing changed then.
    pub async fn delete(&self, id: &str) -> Result<bool, ApiError> {
        let id = id.to_owned();
        let deleted = self
            .db
            .write_transaction(move |tx| {
                tx.prepare_cached("DELETE FROM users WHERE id = ?1")?
                    .execute([id])
            })
            .await?;
        // Busy readers can keep a checkpoint from finishing; the deletion stands regardless.
        let _ = self
            .db
            .writer()
            .call(|conn| conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())))
            .await;
        Ok(deleted > 0)
    }
}
