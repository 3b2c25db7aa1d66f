//! WAL checkpoints on a thread of their own. A checkpoint copies the pages that
//! commits appended to the WAL into the database file and syncs that file; done by
//! the writer itself (SQLite's automatic checkpoint), it was a fifth of the writer
//! thread's time, and every entry write waits for that thread. Here the writer only
//! appends and syncs the WAL, and a second connection copies behind it.
//!
//! The writer keeps SQLite's automatic checkpoint as a backstop, at a larger size
//! ([`WRITER_BACKSTOP_PAGES`]): under a steady stream of commits the WAL is rarely
//! wholly copied between two of them, and it starts over from its beginning only
//! then. Past that size the writer tries after each commit to copy the few pages
//! left itself (this thread has copied the rest; a try made while this thread
//! holds the checkpoint is skipped), and the WAL starts over at the next commit
//! that finds it wholly copied and no reader on it. The `-wal` file keeps the
//! largest size it reached, about 40 MiB at most.
//!
//! A checkpoint that must finish (TRUNCATE, after deletions: see
//! [`Checkpointer::truncate`]) takes a lock this thread holds around each of its
//! own, so that it never finds the checkpoint taken by this thread.

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Commits that land while a checkpoint runs, or within this pause after it, are
/// copied by the next one together: a page written by several commits is copied
/// once, and the file is synced once.
const PAUSE: Duration = Duration::from_millis(10);

/// The WAL size (in pages, 40 MiB at 4 KiB) at which the writer checkpoints by
/// itself, copying whatever this thread has not copied yet.
pub(crate) const WRITER_BACKSTOP_PAGES: i64 = 10_000;

/// Wakes the checkpoint thread; cheap to call after every commit.
#[derive(Clone)]
pub(crate) struct Checkpointer {
    wake: SyncSender<()>,
    /// Held around every checkpoint of this thread and every TRUNCATE.
    exclusive: Arc<Mutex<()>>,
}

impl Checkpointer {
    /// Starts the thread, which opens its own connection to `path`. If it cannot,
    /// it says so and stops; the writer's own checkpoints then keep the WAL bounded.
    /// The thread ends once every `Checkpointer` is dropped.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub(crate) fn start(path: &Path) -> std::io::Result<Self> {
        Self::spawn(path).map(|(checkpointer, _thread)| checkpointer)
    }

    fn spawn(path: &Path) -> std::io::Result<(Self, std::thread::JoinHandle<()>)> {
        let (wake, woken) = sync_channel(1);
        let exclusive = Arc::new(Mutex::new(()));
        let (path, held) = (path.to_path_buf(), Arc::clone(&exclusive));
        let thread = std::thread::Builder::new()
            .name("serene-checkpoint".to_owned())
            .spawn(move || match open(&path) {
                Ok(conn) => run(&conn, &woken, &held),
                Err(err) => tracing::error!(
                    error = %err,
                    "cannot open the checkpoint connection; the writer checkpoints alone"
                ),
            })?;
        Ok((Self { wake, exclusive }, thread))
    }

    /// A checkpoint that copies everything and empties the WAL, on `conn` (the
    /// writer), while this thread's checkpoints wait: see [`super::checkpoint_truncate`].
    ///
    /// # Errors
    /// Readers keep it busy for about a second, or it fails.
    pub(crate) fn truncate(&self, conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        let _held = lock(&self.exclusive);
        super::checkpoint_truncate(conn)
    }

    /// Asks for a checkpoint soon. Never waits: a request already pending covers it.
    pub(crate) fn nudge(&self) {
        let _ = self.wake.try_send(());
    }
}

fn open(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // As every connection to the file: the same sync rules as the writer.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// The lock, even if a holder panicked: it guards no data, only turns.
fn lock(exclusive: &Mutex<()>) -> MutexGuard<'_, ()> {
    exclusive
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn run(conn: &rusqlite::Connection, woken: &Receiver<()>, exclusive: &Mutex<()>) {
    while woken.recv().is_ok() {
        let held = lock(exclusive);
        // PASSIVE never waits for the writer or readers: it copies what it may now.
        if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %err, "a background checkpoint failed; the next commit tries again");
        }
        drop(held);
        std::thread::sleep(PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_pages(path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len() / 4096).unwrap_or(0)
    }

    #[test]
    fn commits_reach_the_database_file_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c.db");
        let writer = rusqlite::Connection::open(&path).expect("open");
        writer
            .pragma_update(None, "journal_mode", "WAL")
            .expect("wal");
        // The writer never checkpoints by itself here: only the thread can.
        writer
            .pragma_update(None, "wal_autocheckpoint", 0)
            .expect("no autocheckpoint");
        writer
            .execute_batch("CREATE TABLE t (x BLOB)")
            .expect("table");
        let checkpointer = Checkpointer::start(&path).expect("thread");
        writer
            .execute_batch(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
                 INSERT INTO t (x) SELECT zeroblob(4000) FROM n",
            )
            .expect("rows");
        let before = file_pages(&path);
        assert!(
            before < 50,
            "the rows are in the WAL only ({before} pages in the file)"
        );
        checkpointer.nudge();
        let mut after = before;
        for _ in 0..200 {
            after = file_pages(&path);
            if after >= 200 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            after >= 200,
            "copied into the file: {before} -> {after} pages"
        );
    }

    #[test]
    fn the_thread_ends_when_the_last_handle_goes() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c.db");
        rusqlite::Connection::open(&path)
            .and_then(|c| c.pragma_update(None, "journal_mode", "WAL"))
            .expect("wal");
        let (checkpointer, thread) = Checkpointer::spawn(&path).expect("thread");
        let copy = checkpointer.clone();
        checkpointer.nudge();
        drop(checkpointer);
        std::thread::sleep(PAUSE * 3);
        assert!(!thread.is_finished(), "a handle is left");
        drop(copy);
        for _ in 0..100 {
            if thread.is_finished() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the thread still runs with no handle left");
    }
}
