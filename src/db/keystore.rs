//! The key store: each user's data key, wrapped under the master key, in its own
//! SQLite file beside (or away from) the data. Copies of the data never carry a
//! key, so deleting a key here makes the account unreadable in every data backup.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::OptionalExtension;
use tokio_rusqlite::Connection;

use super::files;
use super::sealing::EntryKeys;
use crate::crypto::{self, CryptoError, Key};

/// Sealed under the master key at creation; a key that does not open it is wrong.
const CHECK_CONTEXT: &[u8] = b"serene/master-check/v1";
const CHECK_PLAINTEXT: &[u8] = b"serene key store";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS data_keys (
    user_id TEXT PRIMARY KEY,
    wrapped BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    -- Set just before the account's rows are deleted; a doomed key whose user is
    -- gone is shredded at the next start if shredding was cut short.
    doomed INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
";

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("cannot create the key store {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the key store {path}: {source}")]
    Open {
        path: PathBuf,
        source: tokio_rusqlite::Error,
    },
    #[error(
        "the master key does not open the key store {path}: MASTER_KEY or MASTER_KEY_FILE \
         is not the key this store was made with"
    )]
    WrongMasterKey { path: PathBuf },
    #[error("the key of user {user_id} does not open: the key store was altered")]
    Integrity { user_id: String },
    #[error("key store: {0}")]
    Sqlite(#[from] tokio_rusqlite::Error),
    #[error("key store: {0}")]
    Crypto(#[from] CryptoError),
}

impl From<rusqlite::Error> for KeyStoreError {
    fn from(err: rusqlite::Error) -> Self {
        Self::Sqlite(err.into())
    }
}

/// Unwrapped data keys kept in memory, so a request does not queue on the key
/// store's one connection; bounded, and a shredded key leaves it at once.
const CACHED_KEYS: usize = 10_000;

#[derive(Clone)]
pub struct KeyStore {
    conn: Connection,
    master: Key,
    path: PathBuf,
    cache: Arc<Mutex<HashMap<String, Key>>>,
}

impl KeyStore {
    /// Opens or creates the store and checks the master key against it.
    ///
    /// # Errors
    /// The file cannot be opened, or the master key is not the store's.
    pub async fn open(path: &Path, master: Key) -> Result<Self, KeyStoreError> {
        let open_err = |source: tokio_rusqlite::Error| KeyStoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let file_err = |source: std::io::Error| KeyStoreError::File {
            path: path.to_path_buf(),
            source,
        };
        files::create_private_dir(&crate::config::data_dir(path)).map_err(file_err)?;
        files::create_private_file(path).map_err(file_err)?;
        let conn = Connection::open(path)
            .await
            .map_err(|e| open_err(e.into()))?;
        let check = crypto::seal(&master, CHECK_CONTEXT, CHECK_PLAINTEXT)?;
        let stored: Vec<u8> = conn
            .call(move |conn| {
                conn.pragma_update(None, "journal_mode", "WAL")?;
                conn.pragma_update(None, "synchronous", "FULL")?;
                conn.pragma_update(None, "secure_delete", "ON")?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                conn.execute_batch(SCHEMA)?;
                conn.execute(
                    "INSERT OR IGNORE INTO meta (name, value) VALUES ('master_check', ?1)",
                    [&check],
                )?;
                conn.query_row(
                    "SELECT value FROM meta WHERE name = 'master_check'",
                    [],
                    |r| r.get(0),
                )
            })
            .await
            .map_err(open_err)?;
        if crypto::open(&master, CHECK_CONTEXT, &stored).is_err() {
            return Err(KeyStoreError::WrongMasterKey {
                path: path.to_path_buf(),
            });
        }
        Ok(Self {
            conn,
            master,
            path: path.to_path_buf(),
            cache: Arc::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new random data key for a new user, stored wrapped.
    ///
    /// # Errors
    /// The store cannot be written, or the user has a key already.
    pub async fn issue(&self, user_id: &str) -> Result<Key, KeyStoreError> {
        let key = Key::generate()?;
        let wrapped = crypto::wrap(&self.master, user_id, &key)?;
        let user = user_id.to_owned();
        self.conn
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO data_keys (user_id, wrapped, created_at) VALUES (?1, ?2, ?3)",
                    rusqlite::params![user, wrapped, crate::domain::time::now_millis()],
                )
            })
            .await?;
        Ok(key)
    }

    /// The user's data key; `None` when the user has none (never had, or shredded).
    ///
    /// # Errors
    /// The store does not answer, or the wrapped key does not open.
    pub async fn data_key(&self, user_id: &str) -> Result<Option<Key>, KeyStoreError> {
        let user = user_id.to_owned();
        let wrapped: Option<Vec<u8>> = self
            .conn
            .call(move |conn| {
                conn.query_row(
                    "SELECT wrapped FROM data_keys WHERE user_id = ?1",
                    [&user],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?;
        wrapped
            .map(|wrapped| {
                crypto::unwrap(&self.master, user_id, &wrapped).map_err(|_| {
                    KeyStoreError::Integrity {
                        user_id: user_id.to_owned(),
                    }
                })
            })
            .transpose()
    }

    /// The user's keys for sealing and opening entry fields, from memory when
    /// possible; `None` when the user has no key (it was shredded).
    ///
    /// # Errors
    /// The store does not answer, or the wrapped key does not open.
    pub async fn entry_keys(&self, user_id: &str) -> Result<Option<EntryKeys>, KeyStoreError> {
        if let Some(key) = self.cached(user_id) {
            return Ok(Some(EntryKeys::new(user_id, key)));
        }
        let Some(key) = self.data_key(user_id).await? else {
            return Ok(None);
        };
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHED_KEYS {
                // Any one will do: a miss costs one read of the key store.
                if let Some(evicted) = cache.keys().next().cloned() {
                    cache.remove(&evicted);
                }
            }
            cache.insert(user_id.to_owned(), key.clone());
        }
        Ok(Some(EntryKeys::new(user_id, key)))
    }

    fn cached(&self, user_id: &str) -> Option<Key> {
        self.cache.lock().ok()?.get(user_id).cloned()
    }

    /// Marks the key for shredding before the account's rows are deleted.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn doom(&self, user_id: &str) -> Result<(), KeyStoreError> {
        let user = user_id.to_owned();
        self.conn
            .call(move |conn| {
                conn.execute(
                    "UPDATE data_keys SET doomed = 1 WHERE user_id = ?1",
                    [&user],
                )
            })
            .await?;
        Ok(())
    }

    /// Deletes the key for good: the freed page is overwritten (`secure_delete`)
    /// and the WAL is checkpointed and truncated, so no copy stays in either file.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn shred(&self, user_id: &str) -> Result<(), KeyStoreError> {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(user_id);
        }
        let user = user_id.to_owned();
        self.conn
            .call(move |conn| {
                conn.execute("DELETE FROM data_keys WHERE user_id = ?1", [&user])?;
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            })
            .await?;
        Ok(())
    }

    /// Finishes shredding cut short by a crash: doomed keys whose user is gone are
    /// shredded, doomed keys whose user remains (the deletion failed) are kept.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn settle_doomed(
        &self,
        user_exists: impl Fn(&str) -> bool + Send + 'static,
    ) -> Result<usize, KeyStoreError> {
        let doomed: Vec<String> = self
            .conn
            .call(|conn| {
                conn.prepare("SELECT user_id FROM data_keys WHERE doomed = 1")?
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .await?;
        let mut shredded = 0;
        for user in doomed {
            if user_exists(&user) {
                let keep = user.clone();
                self.conn
                    .call(move |conn| {
                        conn.execute(
                            "UPDATE data_keys SET doomed = 0 WHERE user_id = ?1",
                            [&keep],
                        )
                    })
                    .await?;
            } else {
                self.shred(&user).await?;
                shredded += 1;
            }
        }
        Ok(shredded)
    }

    /// Issues keys to the users given, once in the life of the store: the accounts
    /// that existed before keys did. Later, a user without a key is one whose key
    /// was shredded, and must stay without one.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn issue_to_existing_users_once(
        &self,
        user_ids: Vec<String>,
    ) -> Result<Option<usize>, KeyStoreError> {
        let master = self.master.clone();
        self.conn
            .call(move |conn| {
                let tx = conn.transaction()?;
                let done: bool = tx
                    .query_row(
                        "SELECT count(*) FROM meta WHERE name = 'existing_users_keyed'",
                        [],
                        |r| r.get::<_, i64>(0),
                    )
                    .map(|n| n > 0)?;
                if done {
                    return Ok(None);
                }
                let mut issued = 0;
                for user in &user_ids {
                    let key = Key::generate().map_err(crypto_to_sqlite)?;
                    let wrapped = crypto::wrap(&master, user, &key).map_err(crypto_to_sqlite)?;
                    issued += tx.execute(
                        "INSERT OR IGNORE INTO data_keys (user_id, wrapped, created_at) VALUES (?1, ?2, ?3)",
                        rusqlite::params![user, wrapped, crate::domain::time::now_millis()],
                    )?;
                }
                tx.execute(
                    "INSERT INTO meta (name, value) VALUES ('existing_users_keyed', x'01')",
                    [],
                )?;
                tx.commit()?;
                Ok(Some(issued))
            })
            .await
            .map_err(KeyStoreError::from)
    }

    /// Re-wraps every data key under a new master key, in one transaction.
    ///
    /// # Errors
    /// A key does not open under the current master key, or the store cannot be written.
    pub async fn rotate(&self, new_master: Key) -> Result<usize, KeyStoreError> {
        let old = self.master.clone();
        self.conn
            .call(move |conn| {
                let tx = conn.transaction()?;
                let rows: Vec<(String, Vec<u8>)> = tx
                    .prepare("SELECT user_id, wrapped FROM data_keys")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?;
                for (user, wrapped) in &rows {
                    let key = crypto::unwrap(&old, user, wrapped).map_err(crypto_to_sqlite)?;
                    let rewrapped =
                        crypto::wrap(&new_master, user, &key).map_err(crypto_to_sqlite)?;
                    tx.execute(
                        "UPDATE data_keys SET wrapped = ?1 WHERE user_id = ?2",
                        rusqlite::params![rewrapped, user],
                    )?;
                }
                let check = crypto::seal(&new_master, CHECK_CONTEXT, CHECK_PLAINTEXT)
                    .map_err(crypto_to_sqlite)?;
                tx.execute(
                    "UPDATE meta SET value = ?1 WHERE name = 'master_check'",
                    [&check],
                )?;
                tx.commit()?;
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
                Ok(rows.len())
            })
            .await
            .map_err(KeyStoreError::from)
    }

    /// How many keys the store holds.
    ///
    /// # Errors
    /// The store does not answer.
    pub async fn count(&self) -> Result<i64, KeyStoreError> {
        Ok(self
            .conn
            .call(|conn| conn.query_row("SELECT count(*) FROM data_keys", [], |r| r.get(0)))
            .await?)
    }
}

fn crypto_to_sqlite(err: CryptoError) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(Box::new(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store(dir: &tempfile::TempDir) -> KeyStore {
        KeyStore::open(&dir.path().join("keys.db"), Key::generate().expect("key"))
            .await
            .expect("opened")
    }

    #[tokio::test]
    async fn a_doomed_key_is_shredded_only_if_its_user_is_gone() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = store(&dir).await;
        for user in ["kept", "gone"] {
            keys.issue(user).await.expect("issued");
            keys.doom(user).await.expect("doomed");
        }
        let shredded = keys
            .settle_doomed(|user| user == "kept")
            .await
            .expect("settled");
        assert_eq!(shredded, 1);
        assert!(keys.data_key("kept").await.expect("read").is_some());
        assert!(keys.data_key("gone").await.expect("read").is_none());
        assert_eq!(
            keys.settle_doomed(|_| false).await.expect("settled"),
            0,
            "kept is undoomed"
        );
    }

    #[tokio::test]
    async fn existing_users_get_keys_once_in_the_life_of_the_store() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = store(&dir).await;
        let first = keys
            .issue_to_existing_users_once(vec!["a".into(), "b".into()])
            .await
            .expect("issued");
        assert_eq!(first, Some(2));
        keys.shred("a").await.expect("shredded");
        let again = keys
            .issue_to_existing_users_once(vec!["a".into(), "b".into()])
            .await
            .expect("checked");
        assert_eq!(again, None, "a shredded key is never issued again");
        assert!(keys.data_key("a").await.expect("read").is_none());
    }

    #[tokio::test]
    async fn a_key_swapped_to_another_user_does_not_open() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = store(&dir).await;
        keys.issue("alice").await.expect("issued");
        keys.issue("bob").await.expect("issued");
        keys.conn
            .call(|conn| {
                conn.execute(
                    "UPDATE data_keys SET wrapped = (SELECT wrapped FROM data_keys WHERE user_id = 'alice') WHERE user_id = 'bob'",
                    [],
                )
            })
            .await
            .expect("swapped");
        assert!(matches!(
            keys.data_key("bob").await,
            Err(KeyStoreError::Integrity { .. })
        ));
    }
}
