use rusqlite::{params, ErrorCode, OptionalExtension};

use super::error::{StoreError, StoreResult};
use super::Database;
use crate::domain::time::now_millis;
use crate::domain::{Account, Credentials, Email};

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
    /// `EmailTaken` when the (lower-cased) email exists; `Database` otherwise.
    pub async fn create(&self, email: &Email, password_hash: String) -> StoreResult<Account> {
        self.create_with_id(&uuid::Uuid::new_v4().to_string(), email, password_hash)
            .await
    }

    /// Creates an account with an id chosen by the caller (whose data key exists
    /// already, so no account is ever without one).
    ///
    /// # Errors
    /// `EmailTaken` when the (lower-cased) email exists; `Database` otherwise.
    pub async fn create_with_id(
        &self,
        id: &str,
        email: &Email,
        password_hash: String,
    ) -> StoreResult<Account> {
        let user = Account {
            id: id.to_owned(),
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
                Err(StoreError::EmailTaken)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// The credentials of an account, by (lower-cased) email.
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn credentials_by_email(&self, email: &str) -> StoreResult<Option<Credentials>> {
        self.credentials(
            "SELECT id, email, password_hash FROM users WHERE email = ?1",
            email,
        )
        .await
    }

    /// Every account's id, for the key store's checks at start.
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn all_ids(&self) -> StoreResult<Vec<String>> {
        Ok(self
            .db
            .read(|conn| {
                conn.prepare("SELECT id FROM users")?
                    .query_map([], |row| row.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .await?)
    }

    /// # Errors
    /// The database does not answer.
    pub async fn find(&self, id: &str) -> StoreResult<Option<Account>> {
        let id = id.to_owned();
        Ok(self
            .db
            .read(move |conn| {
                conn.prepare_cached("SELECT id, email, created_at FROM users WHERE id = ?1")?
                    .query_row([id], |row| {
                        Ok(Account {
                            id: row.get(0)?,
                            email: row.get(1)?,
                            created_at: row.get(2)?,
                        })
                    })
                    .optional()
            })
            .await?)
    }

    /// The credentials of an account, by id.
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn credentials_by_id(&self, id: &str) -> StoreResult<Option<Credentials>> {
        self.credentials(
            "SELECT id, email, password_hash FROM users WHERE id = ?1",
            id,
        )
        .await
    }

    /// The `(id, email, password_hash)` row selected by one key, if it exists.
    async fn credentials(&self, sql: &'static str, key: &str) -> StoreResult<Option<Credentials>> {
        let key = key.to_owned();
        Ok(self
            .db
            .read(move |conn| {
                conn.prepare_cached(sql)?
                    .query_row([key], |row| {
                        Ok(Credentials {
                            user_id: row.get(0)?,
                            email: row.get(1)?,
                            password_hash: row.get(2)?,
                        })
                    })
                    .optional()
            })
            .await?)
    }

    /// Deletes the account; its entries and sessions go with it (foreign keys cascade).
    /// With `secure_delete` on, freed pages are zeroed; the WAL is then checkpointed
    /// and truncated so no copy of the old pages stays behind in it either.
    ///
    /// # Errors
    /// The delete fails; nothing changed then.
    pub async fn delete(&self, id: &str) -> StoreResult<bool> {
        let owner = id.to_owned();
        let id = id.to_owned();
        let deleted = self
            .db
            .write_transaction(move |tx| {
                tx.prepare_cached("DELETE FROM users WHERE id = ?1")?
                    .execute([id])
            })
            .await?;
        self.db.entries_written(&owner);
        Ok(deleted > 0)
    }

    /// After deletions: the search index keeps deleted words in its segments until
    /// they merge, so they are merged now (FTS5 'optimize'), freeing pages that
    /// secure_delete zeroes; then the WAL is emptied into the file.
    ///
    /// # Errors
    /// The merge fails, or readers keep the checkpoint from finishing.
    pub async fn scrub_deleted(&self) -> StoreResult<()> {
        let checkpointer = self.db.checkpointer().clone();
        self.db
            .writer()
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO entries_search (entries_search) VALUES ('optimize')",
                    [],
                )?;
                checkpointer.truncate(conn)
            })
            .await?;
        Ok(())
    }
}
