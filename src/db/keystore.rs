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
    #[error(
        "the key store {path} is in use by another process (a running server?); stop it first"
    )]
    InUse { path: PathBuf },
    #[error("the new master key is the current one")]
    SameKey,
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
/// Tries for the lock, 100 ms apart.
const LOCK_ATTEMPTS: usize = 30;

/// A data key and the entry keys derived from it, so a request derives nothing.
#[derive(Clone)]
struct CachedKey {
    data: Key,
    entries: EntryKeys,
}

#[derive(Clone)]
pub struct KeyStore {
    conn: Connection,
    master: Key,
    path: PathBuf,
    created: bool,
    cache: Arc<Mutex<HashMap<String, CachedKey>>>,
    /// Held for the life of the store: one process at a time (a second server, or
    /// a rotation while the server runs, is refused).
    _lock: Arc<std::fs::File>,
}

/// Whether a store made with this master key already exists at `path` (so that a
/// missing generated master key is an error, not a new key).
pub fn exists(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.len() > 0)
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl KeyStore {
    /// Opens or creates the store, takes its lock and checks the master key.
    ///
    /// # Errors
    /// The file cannot be opened, another process holds it, or the master key is
    /// not the store's.
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
        let lock_file = lock_path(path);
        files::create_private_file(&lock_file).map_err(file_err)?;
        let lock = std::fs::OpenOptions::new()
            .write(true)
            .open(&lock_file)
            .map_err(file_err)?;
        // A process that is ending (a restart) gets a moment to let go.
        let mut attempts = 0;
        while lock.try_lock().is_err() {
            attempts += 1;
            if attempts >= LOCK_ATTEMPTS {
                return Err(KeyStoreError::InUse {
                    path: path.to_path_buf(),
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let created = !exists(path);
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
            created,
            cache: Arc::default(),
            _lock: Arc::new(lock),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this open created the store (a new, empty one).
    pub fn was_created(&self) -> bool {
        self.created
    }

    /// The id this store shares with its data file, and whether the pairing was
    /// finished (keys issued to the accounts of before, the data file told).
    ///
    /// # Errors
    /// The store does not answer.
    pub async fn pairing(&self) -> Result<Option<(Vec<u8>, bool)>, KeyStoreError> {
        Ok(self
            .conn
            .call(|conn| {
                let id: Option<Vec<u8>> = conn
                    .query_row("SELECT value FROM meta WHERE name = 'pairing'", [], |r| {
                        r.get(0)
                    })
                    .optional()?;
                let done: bool = conn
                    .query_row("SELECT count(*) FROM meta WHERE name = 'paired'", [], |r| {
                        r.get::<_, i64>(0)
                    })
                    .map(|n| n > 0)?;
                Ok(id.map(|id| (id, done)))
            })
            .await?)
    }

    /// Starts pairing with a data file: a random id, not yet confirmed.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn begin_pairing(&self) -> Result<Vec<u8>, KeyStoreError> {
        let id = Key::generate()?.as_bytes()[..16].to_vec();
        let stored = id.clone();
        self.conn
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO meta (name, value) VALUES ('pairing', ?1)",
                    [&stored],
                )
            })
            .await?;
        Ok(id)
    }

    /// # Errors
    /// The store cannot be written.
    pub async fn confirm_pairing(&self) -> Result<(), KeyStoreError> {
        self.conn
            .call(|conn| {
                conn.execute(
                    "INSERT OR IGNORE INTO meta (name, value) VALUES ('paired', x'01')",
                    [],
                )
            })
            .await?;
        Ok(())
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

    /// Keys for every user given that has none (the accounts of before keys), in
    /// one transaction; returns how many were issued.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn issue_missing(&self, user_ids: Vec<String>) -> Result<usize, KeyStoreError> {
        let master = self.master.clone();
        self.conn
            .call(move |conn| {
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let mut issued = 0;
                for user in &user_ids {
                    let key = Key::generate().map_err(crypto_to_sqlite)?;
                    let wrapped = crypto::wrap(&master, user, &key).map_err(crypto_to_sqlite)?;
                    issued += tx.execute(
                        "INSERT OR IGNORE INTO data_keys (user_id, wrapped, created_at) VALUES (?1, ?2, ?3)",
                        rusqlite::params![user, wrapped, crate::domain::time::now_millis()],
                    )?;
                }
                tx.commit()?;
                Ok(issued)
            })
            .await
            .map_err(KeyStoreError::from)
    }

    /// The user's data key; `None` when the user has none (never had, or shredded).
    ///
    /// # Errors
    /// The store does not answer, or the wrapped key does not open.
    pub async fn data_key(&self, user_id: &str) -> Result<Option<Key>, KeyStoreError> {
        Ok(self.cached_key(user_id).await?.map(|cached| cached.data))
    }

    async fn cached_key(&self, user_id: &str) -> Result<Option<CachedKey>, KeyStoreError> {
        if let Some(cached) = self.cache.lock().ok().and_then(|c| c.get(user_id).cloned()) {
            return Ok(Some(cached));
        }
        let user = user_id.to_owned();
        let master = self.master.clone();
        let cache = Arc::clone(&self.cache);
        // Read, unwrap and cache on the store's one thread, so a shred (which
        // leaves the cache on that same thread) can never be undone by a read
        // that started before it.
        let found = self
            .conn
            .call(move |conn| {
                let wrapped: Option<Vec<u8>> = conn
                    .query_row(
                        "SELECT wrapped FROM data_keys WHERE user_id = ?1 AND doomed = 0",
                        [&user],
                        |r| r.get(0),
                    )
                    .optional()?;
                let Some(wrapped) = wrapped else {
                    return Ok(Ok(None));
                };
                let Ok(data) = crypto::unwrap(&master, &user, &wrapped) else {
                    return Ok(Err(()));
                };
                let key = CachedKey {
                    entries: EntryKeys::new(&user, &data),
                    data,
                };
                if let Ok(mut cache) = cache.lock() {
                    if cache.len() >= CACHED_KEYS {
                        // Any one will do: a miss costs one read of the store.
                        if let Some(evicted) = cache.keys().next().cloned() {
                            cache.remove(&evicted);
                        }
                    }
                    cache.insert(user.clone(), key.clone());
                }
                Ok(Ok(Some(key)))
            })
            .await?;
        found.map_err(|()| KeyStoreError::Integrity {
            user_id: user_id.to_owned(),
        })
    }

    /// The user's keys for sealing and opening entry fields; `None` when the user
    /// has no key (it was shredded).
    ///
    /// # Errors
    /// The store does not answer, or the wrapped key does not open.
    pub async fn entry_keys(&self, user_id: &str) -> Result<Option<EntryKeys>, KeyStoreError> {
        Ok(self.cached_key(user_id).await?.map(|cached| cached.entries))
    }

    /// Every user that has a key.
    ///
    /// # Errors
    /// The store does not answer.
    pub async fn keyed_users(&self) -> Result<Vec<String>, KeyStoreError> {
        self.users_doomed(false).await
    }

    /// Users whose deletion began: their keys are final, whatever the data says.
    ///
    /// # Errors
    /// The store does not answer.
    pub async fn doomed_users(&self) -> Result<Vec<String>, KeyStoreError> {
        self.users_doomed(true).await
    }

    async fn users_doomed(&self, doomed: bool) -> Result<Vec<String>, KeyStoreError> {
        Ok(self
            .conn
            .call(move |conn| {
                conn.prepare("SELECT user_id FROM data_keys WHERE doomed = ?1")?
                    .query_map([doomed], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .await?)
    }

    /// Marks the key for shredding before the account's rows are deleted; from
    /// then on the key no longer opens anything.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn doom(&self, user_id: &str) -> Result<(), KeyStoreError> {
        self.set_doomed(user_id, true).await
    }

    /// Takes the mark back, when the account's rows could not be deleted.
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn undoom(&self, user_id: &str) -> Result<(), KeyStoreError> {
        self.set_doomed(user_id, false).await
    }

    async fn set_doomed(&self, user_id: &str, doomed: bool) -> Result<(), KeyStoreError> {
        let user = user_id.to_owned();
        let cache = Arc::clone(&self.cache);
        self.conn
            .call(move |conn| {
                if let Ok(mut cache) = cache.lock() {
                    cache.remove(&user);
                }
                conn.execute(
                    "UPDATE data_keys SET doomed = ?2 WHERE user_id = ?1",
                    rusqlite::params![user, doomed],
                )
            })
            .await?;
        Ok(())
    }

    /// Deletes the key for good: the freed page is overwritten (`secure_delete`)
    /// and the WAL is checkpointed and truncated, so no copy stays in either file.
    ///
    /// # Errors
    /// The store cannot be written, or the checkpoint stays busy.
    pub async fn shred(&self, user_id: &str) -> Result<(), KeyStoreError> {
        let user = user_id.to_owned();
        let cache = Arc::clone(&self.cache);
        self.conn
            .call(move |conn| {
                if let Ok(mut cache) = cache.lock() {
                    cache.remove(&user);
                }
                conn.execute("DELETE FROM data_keys WHERE user_id = ?1", [&user])?;
                super::checkpoint_truncate(conn)
            })
            .await?;
        Ok(())
    }

    /// Empties the WAL into the file (at start, in case a shred was cut short
    /// between its delete and its checkpoint).
    ///
    /// # Errors
    /// The checkpoint stays busy or fails.
    pub async fn checkpoint(&self) -> Result<(), KeyStoreError> {
        self.conn
            .call(|conn| super::checkpoint_truncate(conn))
            .await?;
        Ok(())
    }

    /// Re-wraps every data key under a new master key, in one transaction; doomed
    /// keys are shredded instead of re-wrapped.
    ///
    /// # Errors
    /// The new key is the current one, a key does not open under the current
    /// master key, or the store cannot be written.
    pub async fn rotate(&self, new_master: Key) -> Result<usize, KeyStoreError> {
        if new_master.as_bytes() == self.master.as_bytes() {
            return Err(KeyStoreError::SameKey);
        }
        let old = self.master.clone();
        self.conn
            .call(move |conn| {
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                tx.execute("DELETE FROM data_keys WHERE doomed = 1", [])?;
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
                super::checkpoint_truncate(conn)?;
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
    async fn a_doomed_key_opens_nothing_and_a_shredded_one_is_gone() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = store(&dir).await;
        keys.issue("alice").await.expect("issued");
        assert!(keys.data_key("alice").await.expect("read").is_some());
        keys.doom("alice").await.expect("doomed");
        assert!(
            keys.data_key("alice").await.expect("read").is_none(),
            "not from the cache either"
        );
        assert_eq!(keys.doomed_users().await.expect("read"), ["alice"]);
        keys.undoom("alice").await.expect("undoomed");
        assert!(keys.data_key("alice").await.expect("read").is_some());
        keys.shred("alice").await.expect("shredded");
        assert!(keys.data_key("alice").await.expect("read").is_none());
        assert_eq!(keys.count().await.expect("count"), 0);
    }

    #[tokio::test]
    async fn missing_keys_are_issued_once_per_user() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = store(&dir).await;
        keys.issue("a").await.expect("issued");
        let before = keys.data_key("a").await.expect("read").expect("key");
        let issued = keys
            .issue_missing(vec!["a".into(), "b".into()])
            .await
            .expect("issued");
        assert_eq!(issued, 1);
        let after = keys.data_key("a").await.expect("read").expect("key");
        assert_eq!(
            before.as_bytes(),
            after.as_bytes(),
            "an existing key is kept"
        );
    }

    #[tokio::test]
    async fn a_second_process_cannot_open_the_same_store() {
        let dir = tempfile::tempdir().expect("dir");
        let master = Key::generate().expect("key");
        let path = dir.path().join("keys.db");
        let first = KeyStore::open(&path, master.clone()).await.expect("opened");
        assert!(matches!(
            KeyStore::open(&path, master.clone()).await,
            Err(KeyStoreError::InUse { .. })
        ));
        drop(first);
        KeyStore::open(&path, master).await.expect("free again");
    }

    #[tokio::test]
    async fn rotation_refuses_the_same_key_and_drops_doomed_keys() {
        let dir = tempfile::tempdir().expect("dir");
        let keys = store(&dir).await;
        keys.issue("kept").await.expect("issued");
        keys.issue("going").await.expect("issued");
        keys.doom("going").await.expect("doomed");
        assert!(matches!(
            keys.rotate(keys.master.clone()).await,
            Err(KeyStoreError::SameKey)
        ));
        assert_eq!(
            keys.rotate(Key::generate().expect("key"))
                .await
                .expect("rotated"),
            1
        );
        assert_eq!(keys.count().await.expect("count"), 1);
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
