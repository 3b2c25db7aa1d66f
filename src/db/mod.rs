//! SQLite storage: one writer connection (writes are serialised anyway) and a
//! few read-only connections so reads never queue behind a write.

mod checkpointer;
mod entries;
mod error;
pub mod files;
mod group_commit;
pub mod keystore;
mod migrations;
mod sealing;
mod search_index;
mod sessions;
mod users;

pub use entries::{insert_sealed, EntryStore, Page, SealedEntry, Update};
pub use error::{StoreError, StoreResult};
pub use keystore::{KeyStore, KeyStoreError};
pub use migrations::MIGRATIONS;
pub use sealing::{EntryKeys, Field};
pub use search_index::tidy_step as tidy_search_index_step;
pub use sessions::{SessionRow, SessionStore, MAX_SESSIONS_PER_USER};
pub use users::UserStore;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use rusqlite::{OpenFlags, OptionalExtension};
use tokio_rusqlite::Connection;

/// Errors of opening the database, phrased for the operator.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the database file {path}: {source}")]
    CreateFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot start the checkpoint thread for {path}: {source}")]
    Checkpointer {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot prepare the database {path}: {source}")]
    Setup {
        path: PathBuf,
        source: tokio_rusqlite::Error,
    },
}

#[derive(Clone)]
pub struct Database {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Connection,
    checkpointer: checkpointer::Checkpointer,
    entry_writes: group_commit::GroupCommit,
    readers: Vec<Connection>,
    reads_in_flight: Vec<AtomicUsize>,
    next_reader: AtomicUsize,
    created: bool,
    /// Write generations in stripes by user: any write to a user's entries moves
    /// the user's stripe on, so what was computed from them can tell it is stale.
    /// Fixed size, so it never grows with the number of users.
    generations: Vec<AtomicU64>,
    stripe_hasher: std::hash::RandomState,
    clear_text_allowed: std::sync::atomic::AtomicBool,
}

const GENERATION_STRIPES: usize = 4096;

/// `PRAGMA wal_checkpoint(TRUNCATE)`, retried while readers keep it busy (or
/// another checkpoint; on the data file, call it through
/// [`checkpointer::Checkpointer::truncate`], which keeps the background one out): SQLite
/// reports a busy checkpoint as a result, not an error, and a checkpoint that did
/// not finish would leave overwritten text in the WAL.
///
/// # Errors
/// Still busy after about a second, or the checkpoint fails.
pub(crate) fn checkpoint_truncate(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    for _ in 0..50 {
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy == 0 {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Err(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
        Some("the WAL checkpoint stayed busy".into()),
    ))
}
/// Reads in flight counted for a reader whose connection has closed.
const DEAD_READER: usize = 1 << 32;

impl Database {
    /// Opens (creating if needed) the database, applies migrations and opens the readers.
    ///
    /// # Errors
    /// The directory or file cannot be created or opened, or a migration fails.
    pub async fn open(path: &Path, readers: usize) -> Result<Self, OpenError> {
        let dir = crate::config::data_dir(path);
        files::create_private_dir(&dir).map_err(|source| OpenError::CreateDir {
            path: dir.clone(),
            source,
        })?;
        let open_err = |source: rusqlite::Error| OpenError::Open {
            path: path.to_path_buf(),
            source,
        };
        let setup_err = |source: tokio_rusqlite::Error| OpenError::Setup {
            path: path.to_path_buf(),
            source,
        };
        let created = !path.exists();
        if created {
            files::create_private_file(path).map_err(|source| OpenError::CreateFile {
                path: path.to_path_buf(),
                source,
            })?;
        } else if files::is_open_to_others(path) {
            tracing::warn!(
                database = %path.display(),
                "the database file is readable by other users; run: chmod 600 on it and its -wal and -shm files"
            );
        }
        let writer = Connection::open(path).await.map_err(open_err)?;
        writer
            .call(|conn| {
                conn.pragma_update(None, "journal_mode", "WAL")?;
                configure(conn)?;
                // Deleted journal text is overwritten, not left in free pages.
                conn.pragma_update(None, "secure_delete", "ON")?;
                conn.pragma_update(
                    None,
                    "wal_autocheckpoint",
                    checkpointer::WRITER_BACKSTOP_PAGES,
                )?;
                migrations::apply(conn)
            })
            .await
            .map_err(setup_err)?;
        let checkpointer =
            checkpointer::Checkpointer::start(path).map_err(|source| OpenError::Checkpointer {
                path: path.to_path_buf(),
                source,
            })?;

        let mut reader_connections = Vec::with_capacity(readers.max(1));
        for _ in 0..readers.max(1) {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let reader = Connection::open_with_flags(path, flags)
                .await
                .map_err(open_err)?;
            reader
                .call(|conn| {
                    configure(conn)?;
                    // Each reader keeps its own page cache; 8 MiB (instead of SQLite's
                    // 2 MiB) holds the recent pages of many journals.
                    conn.pragma_update(None, "cache_size", -8192)
                })
                .await
                .map_err(setup_err)?;
            reader_connections.push(reader);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                entry_writes: group_commit::GroupCommit::start(
                    writer.clone(),
                    Some(search_index::tidy_step),
                    {
                        let checkpointer = checkpointer.clone();
                        move || checkpointer.nudge()
                    },
                ),
                checkpointer,
                writer,
                reads_in_flight: reader_connections
                    .iter()
                    .map(|_| AtomicUsize::new(0))
                    .collect(),
                readers: reader_connections,
                next_reader: AtomicUsize::new(0),
                created,
                generations: (0..GENERATION_STRIPES).map(|_| AtomicU64::new(0)).collect(),
                stripe_hasher: std::hash::RandomState::new(),
                clear_text_allowed: std::sync::atomic::AtomicBool::new(true),
            }),
        })
    }

    /// Whether this start created the database file rather than opening one: after
    /// the first start, a new empty database usually means a mistyped `DATABASE_URL`.
    pub fn was_created(&self) -> bool {
        self.inner.created
    }

    /// The write generation of a user's entries (shared with the few users whose
    /// ids fall in the same stripe): it changes whenever they are written.
    pub fn write_generation(&self, user_id: &str) -> u64 {
        self.stripe(user_id).load(Ordering::Acquire)
    }

    /// What moves the user's write generation once an entry write is committed.
    pub(crate) fn after_entries_written(&self, user_id: &str) -> impl FnOnce() + Send + 'static {
        let (db, user_id) = (self.clone(), user_id.to_owned());
        move || db.entries_written(&user_id)
    }

    pub(crate) fn entries_written(&self, user_id: &str) {
        self.stripe(user_id).fetch_add(1, Ordering::AcqRel);
    }

    fn stripe(&self, user_id: &str) -> &AtomicU64 {
        use std::hash::BuildHasher;
        let hash = self.inner.stripe_hasher.hash_one(user_id);
        &self.inner.generations[(hash % GENERATION_STRIPES as u64) as usize]
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub(crate) fn writer(&self) -> &Connection {
        &self.inner.writer
    }

    /// Entry writes, committed in groups (see [`group_commit`]).
    pub(crate) fn entry_writes(&self) -> &group_commit::GroupCommit {
        &self.inner.entry_writes
    }

    /// Runs `work` on the reader with the fewest reads in flight. Each reader is a
    /// thread with its own queue: dealt out in turn, a read can wait behind a slow
    /// one while another reader idles, which is what long tails are made of.
    pub(crate) async fn read<R, F>(&self, work: F) -> Result<R, tokio_rusqlite::Error>
    where
        F: FnOnce(&mut rusqlite::Connection) -> rusqlite::Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let inner = &self.inner;
        let count = inner.readers.len();
        let start = inner.next_reader.fetch_add(1, Ordering::Relaxed);
        let index = (0..count)
            .map(|offset| (start + offset) % count)
            .min_by_key(|&i| inner.reads_in_flight[i].load(Ordering::Relaxed))
            .unwrap_or(0);
        let in_flight = &inner.reads_in_flight[index];
        in_flight.fetch_add(1, Ordering::Relaxed);
        let _finished = Finished(in_flight);
        let result = inner.readers[index].call(work).await;
        if matches!(result, Err(tokio_rusqlite::Error::ConnectionClosed)) {
            // A reader whose thread is gone answers at once and would look the
            // least busy forever: count it as busy for good.
            in_flight.fetch_add(DEAD_READER, Ordering::Relaxed);
        }
        result
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction on the writer connection,
    /// committed when `work` succeeds and rolled back when it fails.
    ///
    /// # Errors
    /// Whatever `work` or the commit returns.
    pub(crate) async fn write_transaction<T, F>(&self, work: F) -> Result<T, tokio_rusqlite::Error>
    where
        F: FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let value = self
            .writer()
            .call(move |conn| {
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let value = work(&tx)?;
                tx.commit()?;
                Ok(value)
            })
            .await?;
        self.inner.checkpointer.nudge();
        Ok(value)
    }

    /// Moves every page of the WAL into the database file and empties the WAL, so
    /// text that was overwritten (with `secure_delete` on) is in neither file.
    ///
    /// # Errors
    /// The checkpoint cannot run.
    pub async fn checkpoint(&self) -> Result<(), tokio_rusqlite::Error> {
        let checkpointer = self.inner.checkpointer.clone();
        self.writer()
            .call(move |conn| checkpointer.truncate(conn))
            .await
    }

    pub(crate) fn checkpointer(&self) -> &checkpointer::Checkpointer {
        &self.inner.checkpointer
    }

    /// Tidies the search index to the end (see [`search_index::tidy_step`]), for
    /// after a bulk rewrite, where the writer's idle-time upkeep would leave it
    /// until after the next write.
    ///
    /// # Errors
    /// A merge step fails.
    pub async fn tidy_search_index(&self) -> Result<(), tokio_rusqlite::Error> {
        self.writer()
            .call(|conn| {
                while search_index::tidy_step(conn)? {}
                Ok(())
            })
            .await
    }

    /// Rewrites the file from its live pages (`VACUUM`) and empties the WAL, so no
    /// page that once held deleted or overwritten text survives in either file.
    ///
    /// # Errors
    /// The rewrite or the checkpoint fails.
    pub async fn vacuum(&self) -> Result<(), tokio_rusqlite::Error> {
        let checkpointer = self.inner.checkpointer.clone();
        self.writer()
            .call(move |conn| {
                conn.execute_batch("VACUUM")?;
                checkpointer.truncate(conn)
            })
            .await
    }

    /// A fact about this file (`serene_meta`).
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn meta(&self, name: &'static str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .writer()
            .call(move |conn| {
                conn.query_row(
                    "SELECT value FROM serene_meta WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()
            })
            .await?)
    }

    /// # Errors
    /// The write fails.
    pub async fn set_meta(&self, name: &'static str, value: Vec<u8>) -> StoreResult<()> {
        self.writer()
            .call(move |conn| {
                conn.execute(
                    "INSERT INTO serene_meta (name, value) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    rusqlite::params![name, value],
                )
            })
            .await?;
        Ok(())
    }

    /// Whether a private field may still be read in clear (written before
    /// encryption); false once the upgrade has sealed them all.
    pub fn clear_text_allowed(&self) -> bool {
        self.inner.clear_text_allowed.load(Ordering::Relaxed)
    }

    pub fn forbid_clear_text(&self) {
        self.inner
            .clear_text_allowed
            .store(false, Ordering::Relaxed);
    }

    pub fn users(&self) -> UserStore<'_> {
        UserStore::new(self)
    }

    pub fn entries(&self) -> EntryStore<'_> {
        EntryStore::new(self)
    }

    pub fn sessions(&self) -> SessionStore<'_> {
        SessionStore::new(self)
    }

    /// A real round trip through a reader, for the health check.
    ///
    /// # Errors
    /// The database does not answer.
    pub async fn ping(&self) -> StoreResult<()> {
        Ok(self
            .read(|conn| conn.query_row("SELECT count(*) FROM users WHERE 0", [], |_| Ok(())))
            .await?)
    }

    /// The SQLite library version linked in.
    pub fn sqlite_version() -> &'static str {
        rusqlite::version()
    }
}

/// Counts a read as finished when it is dropped, so a cancelled request counts too.
struct Finished<'a>(&'a AtomicUsize);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Settings every connection needs; PRAGMAs are per connection, not per file.
/// SQL functions Serene's schema uses (the tag triggers fold tags with
/// `serene_fold`, the search index reads `serene_search_terms`, migration 0012
/// lays entries out by `serene_entry_slot`); every connection that writes or
/// searches entries needs them.
///
/// # Errors
/// SQLite refuses the registration.
pub fn register_functions(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("serene_fold", 1, flags, |ctx| {
        let text: String = ctx.get(0)?;
        Ok(crate::domain::fold_tag(&text))
    })?;
    conn.create_scalar_function("serene_search_terms", 2, flags, |ctx| {
        let owner: String = ctx.get(0)?;
        let text: String = ctx.get(1)?;
        Ok(crate::domain::owned_terms(&owner, &text))
    })?;
    conn.create_scalar_function("serene_entry_slot", 1, flags, |ctx| {
        let user_id: String = ctx.get(0)?;
        Ok(entries::entry_slot(&user_id))
    })
}

fn configure(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    register_functions(conn)?;
    // FULL: an acknowledged write survives power loss, not just a crash.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    // The image has no /tmp; sorts and temporary indexes stay in memory.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
    // The query planner's stability guarantee: without it SQLite reads a bound
    // LIMIT's value while planning and marks the statement to be planned again
    // whenever that parameter is bound, so every cached list query was compiled
    // anew on each run (7% of the reads benchmark's server time in perf).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, StatementStatus};

    /// How often a cached `LIMIT ?1` query was compiled again over ten runs.
    fn recompilations(conn: &Connection) -> i32 {
        conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);")
            .expect("table");
        for limit in 1..=10 {
            let mut statement = conn
                .prepare_cached("SELECT x FROM t ORDER BY x LIMIT ?1")
                .expect("prepare");
            let rows: Vec<i64> = statement
                .query_map([limit], |r| r.get(0))
                .expect("query")
                .collect::<rusqlite::Result<_>>()
                .expect("rows");
            assert_eq!(rows.len(), (limit as usize).min(3));
        }
        let statement = conn
            .prepare_cached("SELECT x FROM t ORDER BY x LIMIT ?1")
            .expect("prepare");
        statement.get_status(StatementStatus::RePrepare)
    }

    #[test]
    fn a_cached_query_with_a_bound_limit_is_compiled_once() {
        let plain = Connection::open_in_memory().expect("db");
        assert!(recompilations(&plain) > 0, "SQLite's default plans again");
        let configured = Connection::open_in_memory().expect("db");
        super::configure(&configured).expect("settings");
        assert_eq!(recompilations(&configured), 0);
    }

    /// Entry writes reach the database file through the checkpoint thread, long
    /// before the writer's own backstop (10,000 pages) would copy them.
    #[tokio::test]
    async fn entry_writes_are_copied_into_the_file_without_an_explicit_checkpoint() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("serene.db");
        let db = super::Database::open(&path, 1).await.expect("open");
        db.writer()
            .call(|c| c.execute_batch("CREATE TABLE filler (x BLOB)"))
            .await
            .expect("table");
        db.checkpoint().await.expect("an empty WAL to start from");
        let pages = || {
            std::fs::metadata(&path)
                .map(|m| m.len() / 4096)
                .unwrap_or(0)
        };
        let before = pages();
        for _ in 0..300 {
            db.entry_writes()
                .write(
                    super::group_commit::Place::At(0),
                    |c| c.execute("INSERT INTO filler (x) VALUES (zeroblob(4000))", []),
                    || {},
                )
                .await
                .expect("write");
        }
        // The filler takes 300 pages; the migrations leave a few free pages behind
        // (tables rebuilt and dropped), which it takes first.
        let grown = before + 290;
        let mut after = pages();
        for _ in 0..300 {
            if after >= grown {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            after = pages();
        }
        assert!(
            after >= grown,
            "the file grew from {before} to {after} pages"
        );
    }
}
