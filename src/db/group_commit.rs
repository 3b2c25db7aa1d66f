//! Group commit for entry writes. Each commit pays for a durable sync and for
//! flushing the search index's pending terms into a new segment; writes that
//! arrive while the writer is busy share one transaction, and so one sync and one
//! flush. Each write runs in its own savepoint, so a failing write rolls back
//! alone, and no caller hears of success before the shared commit is durable.
//! A lone write is committed at once: nothing ever waits for company.

use tokio::sync::{mpsc, oneshot};
use tokio_rusqlite::Connection;

use super::error::{StoreError, StoreResult};

/// At most this many writes share a transaction, which bounds how long one
/// commit holds the writer.
const MAX_BATCH: usize = 64;
/// Writes waiting for the writer; a caller beyond this waits to enqueue.
const QUEUE_DEPTH: usize = 1024;

/// Runs one write in its savepoint and returns what tells its caller the outcome
/// once the shared commit has (or has not) happened.
type Job = Box<dyn FnOnce(&mut rusqlite::Transaction<'_>) -> Reply + Send>;
type Reply = Box<dyn FnOnce(Result<(), &rusqlite::Error>) + Send>;

#[derive(Clone)]
pub(crate) struct GroupCommit {
    queue: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the task that batches writes onto `writer`.
    pub(crate) fn start(writer: Connection) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(writer, jobs));
        Self { queue }
    }

    /// Runs `work` in a transaction shared with the writes queued beside it; the
    /// result arrives after that transaction is committed.
    ///
    /// # Errors
    /// `work` fails (only its own changes are rolled back), or the shared commit fails.
    pub(crate) async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        F: FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (answer, answered) = oneshot::channel::<rusqlite::Result<T>>();
        let job: Job = Box::new(move |tx| {
            let outcome = in_savepoint(tx, work);
            Box::new(move |committed| {
                let result = match (outcome, committed) {
                    (Ok(value), Ok(())) => Ok(value),
                    (Err(err), _) => Err(err),
                    (Ok(_), Err(err)) => Err(copy_error(err)),
                };
                let _ = answer.send(result);
            })
        });
        self.queue
            .send(job)
            .await
            .map_err(|_| StoreError::Database(tokio_rusqlite::Error::ConnectionClosed))?;
        match answered.await {
            Ok(result) => Ok(result?),
            Err(_) => Err(StoreError::Database(
                tokio_rusqlite::Error::ConnectionClosed,
            )),
        }
    }
}

fn in_savepoint<T>(
    tx: &mut rusqlite::Transaction<'_>,
    work: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let savepoint = tx.savepoint()?;
    let value = work(&savepoint)?;
    savepoint.commit()?;
    Ok(value)
}

async fn run(writer: Connection, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let outcome = writer.call_raw(move |conn| commit_batch(conn, batch)).await;
        if outcome.is_err() {
            // The connection is gone (shutdown): the dropped replies tell each
            // waiting caller that its write was not made.
            return;
        }
    }
}

fn commit_batch(conn: &mut rusqlite::Connection, batch: Vec<Job>) {
    let mut tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(err) => {
            tracing::error!(error = %err, "cannot begin a write transaction");
            return;
        }
    };
    let replies: Vec<Reply> = batch.into_iter().map(|job| job(&mut tx)).collect();
    let committed = tx.commit();
    if let Err(err) = &committed {
        tracing::error!(error = %err, writes = replies.len(), "a group commit failed");
    }
    for reply in replies {
        reply(committed.as_ref().map(|_| ()));
    }
}

/// The commit's error for each write of the batch (`rusqlite::Error` is not `Clone`).
fn copy_error(err: &rusqlite::Error) -> rusqlite::Error {
    match err {
        rusqlite::Error::SqliteFailure(code, message) => {
            rusqlite::Error::SqliteFailure(*code, message.clone())
        }
        other => rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(other.to_string()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn writes_queued_together_commit_together_and_a_failing_one_rolls_back_alone() {
        let writer = Connection::open_in_memory().await.unwrap();
        writer
            .call(|c| c.execute_batch("CREATE TABLE t (x INTEGER UNIQUE)"))
            .await
            .unwrap();
        let group = GroupCommit::start(writer.clone());
        // Hold the writer, so the writes below queue up and share one transaction.
        let hold = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .call(|_| {
                        std::thread::sleep(Duration::from_millis(200));
                        Ok::<_, rusqlite::Error>(())
                    })
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut writes = tokio::task::JoinSet::new();
        for x in [1, 2, 3, 2, 4] {
            let group = group.clone();
            writes.spawn(async move {
                group
                    .write(move |c| c.execute("INSERT INTO t (x) VALUES (?1)", [x]))
                    .await
            });
        }
        let outcomes = writes.join_all().await;
        hold.await.unwrap().unwrap();
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 4);
        assert_eq!(outcomes.iter().filter(|o| o.is_err()).count(), 1);
        let stored: Vec<i64> = writer
            .call(|c| {
                c.prepare("SELECT x FROM t ORDER BY x")?
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()
            })
            .await
            .unwrap();
        assert_eq!(stored, vec![1, 2, 3, 4]);
    }
}
