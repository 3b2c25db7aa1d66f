//! WAL checkpoints on a thread of their own. A checkpoint copies the pages that
//! commits appended to the WAL into the database file and syncs that file; done by
//! the writer itself (SQLite's automatic checkpoint), it was a fifth of the writer
//! thread's time, and every entry write waits for that thread. Here the writer only
//! appends and syncs the WAL, and a second connection copies behind it.
//!
//! The writer keeps SQLite's automatic checkpoint as a backstop, at a larger size
//! ([`WRITER_BACKSTOP_PAGES`]): under a steady stream of commits the WAL is never
//! wholly copied between two of them, so it could not start over from its
//! beginning; when it reaches that size the writer copies the few pages left
//! (this thread has copied the rest), and the WAL starts over at its next commit.

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
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
}

impl Checkpointer {
    /// Starts the thread, which opens its own connection to `path`. If it cannot,
    /// it says so and stops; the writer's own checkpoints then keep the WAL bounded.
    /// The thread ends once every `Checkpointer` is dropped.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub(crate) fn start(path: &Path) -> std::io::Result<Self> {
        let (wake, woken) = sync_channel(1);
        let path = path.to_path_buf();
        std::thread::Builder::new()
            .name("serene-checkpoint".to_owned())
            .spawn(move || match open(&path) {
                Ok(conn) => run(&conn, &woken),
                Err(err) => tracing::error!(
                    error = %err,
                    "cannot open the checkpoint connection; the writer checkpoints alone"
                ),
            })?;
        Ok(Self { wake })
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
    // FULL: the copied pages are synced to the file before the WAL may start over.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

fn run(conn: &rusqlite::Connection, woken: &Receiver<()>) {
    while woken.recv().is_ok() {
        // PASSIVE never waits for the writer or readers: it copies what it may now.
        if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %err, "a background checkpoint failed; the next commit tries again");
        }
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
}
