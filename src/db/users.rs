use rusqlite::{params, ErrorCode, OptionalExtension};

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
        let email = email.to_owned();
        Ok(self
            .db
            .reader()
            .call(move |conn| {
                conn.prepare_cached("SELECT id, password_hash FROM users WHERE email = ?1")?
                    .query_row([email], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .await?)
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
}
