//! Group commit for entry writes. Each commit pays for a durable sync and for
//! flushing the search index's pending terms into a new segment; writes that
//! arrive while the writer is busy share one transaction, and so one sync and one
//! flush. No caller hears of success before the shared commit is durable. A lone
//! write is committed at once: nothing ever waits for company.
//!
//! The writes of a batch run without savepoints between them, because releasing a
//! savepoint makes FTS5 flush its pending terms, which is the cost this saves.
//! When one write fails, the whole batch is rolled back and each write runs again
//! in a transaction of its own, so a failing write never takes others with it.
//!
//! The writes of a batch run in the order of the entries they index (see
//! [`Place`]), not in the order they came: they are concurrent, so any order is
//! theirs to have, and this one lets the search index take the whole batch as one
//! segment.
//!
//! When no write has come for a moment after a commit, the writer does upkeep
//! (tidying the search index) a bounded step at a time, until it is done or a
//! write waits: a write never waits for more than one step. Under a steady
//! stream of writes, one step follows every few commits.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_rusqlite::Connection;

use super::error::{StoreError, StoreResult};
use crate::domain::time::Millis;

/// At most this many writes share a transaction, which bounds how long one
/// commit holds the writer.
const MAX_BATCH: usize = 64;
/// Writes waiting for the writer; a caller beyond this waits to enqueue.
const QUEUE_DEPTH: usize = 1024;
/// How long the writer waits for another write before it does upkeep.
const IDLE_BEFORE_UPKEEP: Duration = Duration::from_millis(50);
/// Under a stream of writes that never leaves the writer idle, one step of
/// upkeep follows every this many commits, so that merging goes on in small
/// steps instead of piling up into FTS5's large crisis merges. Every 8 commits
/// merged the index two segments at a time, over and over, and cost a tenth of
/// the entry write rate (alternating runs: 4,421 against 4,914 req/s at 32, with
/// the same p99); with no busy step at all, the crisis merges raised p99 by a fifth.
const COMMITS_PER_BUSY_UPKEEP: u32 = 32;

/// One bounded step of upkeep on the writer's connection; `true` while more is left.
pub(crate) type Upkeep = fn(&rusqlite::Connection) -> rusqlite::Result<bool>;

/// Where a write runs within its batch. FTS5 keeps pending rows in memory only
/// while their rowids ascend: a row before the last one flushes them to a segment
/// of their own, and so does any statement journal (a statement with a trigger).
/// Seqs follow time, so writes run in the time order of the entries they index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Place {
    /// Before the rest: a write whose trigger opens a statement journal (deleting
    /// an entry), while nothing is pending yet.
    First,
    /// At the creation time of the entry the write changes.
    At(Millis),
}

/// A write waiting in the queue: it may run more than once (each run in a
/// transaction that is rolled back if it does not commit), and answers once.
trait PendingWrite: Send {
    fn place(&self) -> Place;
    /// Runs the write; `false` when it failed.
    fn run(&mut self, conn: &rusqlite::Connection) -> bool;
    /// Tells the caller the outcome, given the outcome of the commit.
    fn answer(self: Box<Self>, committed: Result<(), &rusqlite::Error>);
}

struct Write<T, F> {
    place: Place,
    work: F,
    outcome: Option<rusqlite::Result<T>>,
    caller: oneshot::Sender<rusqlite::Result<T>>,
    /// Runs once the write is committed, whether or not the caller still waits.
    committed: Box<dyn FnOnce() + Send>,
}

impl<T, F> PendingWrite for Write<T, F>
where
    F: Fn(&rusqlite::Connection) -> rusqlite::Result<T> + Send,
    T: Send,
{
    fn place(&self) -> Place {
        self.place
    }

    fn run(&mut self, conn: &rusqlite::Connection) -> bool {
        let outcome = (self.work)(conn);
        let succeeded = outcome.is_ok();
        self.outcome = Some(outcome);
        succeeded
    }

    fn answer(self: Box<Self>, committed: Result<(), &rusqlite::Error>) {
        let result = match (self.outcome, committed) {
            (Some(Err(err)), _) => Err(err),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(err)) => Err(copy_error(err)),
            (None, Ok(())) => Err(rusqlite::Error::InvalidQuery),
        };
        if result.is_ok() {
            (self.committed)();
        }
        let _ = self.caller.send(result);
    }
}

type Queued = Box<dyn PendingWrite>;

#[derive(Clone)]
pub(crate) struct GroupCommit {
    queue: mpsc::Sender<Queued>,
}

impl GroupCommit {
    /// Starts the task that batches writes onto `writer`, does `upkeep` when
    /// idle, and calls `after_commit` after each commit (of writes or of upkeep).
    pub(crate) fn start(
        writer: Connection,
        upkeep: Option<Upkeep>,
        after_commit: impl Fn() + Send + 'static,
    ) -> Self {
        let (queue, writes) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(writer, writes, upkeep, after_commit));
        Self { queue }
    }

    /// Runs `work` in a transaction shared with the writes queued beside it, at
    /// its `place` among them; the result arrives after that transaction is
    /// committed. `work` may run twice
    /// (the first run rolled back), so it must not keep state between runs.
    /// `committed` runs right after the commit, even if the caller has gone away
    /// meanwhile (a client that hangs up does not undo its write).
    ///
    /// # Errors
    /// `work` fails (nothing of it is kept), or the commit fails.
    pub(crate) async fn write<T, F>(
        &self,
        place: Place,
        work: F,
        committed: impl FnOnce() + Send + 'static,
    ) -> StoreResult<T>
    where
        F: Fn(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (caller, answered) = oneshot::channel::<rusqlite::Result<T>>();
        let write: Queued = Box::new(Write {
            place,
            work,
            outcome: None,
            caller,
            committed: Box::new(committed),
        });
        let closed = || StoreError::Database(tokio_rusqlite::Error::ConnectionClosed);
        self.queue.send(write).await.map_err(|_| closed())?;
        Ok(answered.await.map_err(|_| closed())??)
    }
}

async fn run(
    writer: Connection,
    mut writes: mpsc::Receiver<Queued>,
    upkeep: Option<Upkeep>,
    after_commit: impl Fn(),
) {
    // Upkeep is owed at start (the file may come from a bulk load or a busy
    // writer) and after every commit.
    let mut owed = upkeep.is_some();
    let mut commits_since_upkeep = 0;
    loop {
        let first = match (owed, upkeep) {
            (true, Some(step)) => {
                match tokio::time::timeout(IDLE_BEFORE_UPKEEP, writes.recv()).await {
                    Ok(Some(write)) => write,
                    Ok(None) => return,
                    Err(_idle) => {
                        match upkeep_while_idle(&writer, &writes, step).await {
                            Some(more) => owed = more,
                            None => return,
                        }
                        // Upkeep commits too: what it wrote is copied like any write.
                        after_commit();
                        commits_since_upkeep = 0;
                        continue;
                    }
                }
            }
            _ => match writes.recv().await {
                Some(write) => write,
                None => return,
            },
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match writes.try_recv() {
                Ok(write) => batch.push(write),
                Err(_) => break,
            }
        }
        // Stable: writes at one place keep the order they came in.
        batch.sort_by_key(|write| write.place());
        let outcome = writer.call_raw(move |conn| commit_batch(conn, batch)).await;
        if outcome.is_err() {
            // The connection is gone (shutdown): the dropped writes tell each
            // waiting caller that its write was not made.
            return;
        }
        after_commit();
        owed = upkeep.is_some();
        commits_since_upkeep += 1;
        if let Some(step) = upkeep.filter(|_| commits_since_upkeep >= COMMITS_PER_BUSY_UPKEEP) {
            commits_since_upkeep = 0;
            if upkeep_step(&writer, step).await.is_none() {
                return;
            }
            after_commit();
        }
    }
}

/// One step of upkeep: whether more is left (`false` after a failure, which is
/// tried again later). `None` when the connection is gone.
async fn upkeep_step(writer: &Connection, step: Upkeep) -> Option<bool> {
    match writer.call_raw(move |conn| step(conn)).await {
        Err(_) => None,
        Ok(Ok(more)) => Some(more),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "index upkeep failed; it is tried again after the next write");
            Some(false)
        }
    }
}

/// Upkeep steps until there is no more or a write waits; whether more is owed.
/// `None` when the connection is gone.
async fn upkeep_while_idle(
    writer: &Connection,
    writes: &mpsc::Receiver<Queued>,
    step: Upkeep,
) -> Option<bool> {
    loop {
        let more = upkeep_step(writer, step).await?;
        if !more {
            return Some(false);
        }
        if !writes.is_empty() {
            return Some(true);
        }
    }
}

enum Together {
    Committed,
    CommitFailed(rusqlite::Error),
    AWriteFailed,
}

fn commit_batch(conn: &mut rusqlite::Connection, mut batch: Vec<Queued>) {
    match together(conn, &mut batch) {
        Ok(Together::Committed) => {
            for write in batch {
                write.answer(Ok(()));
            }
        }
        Err(err) => {
            tracing::error!(error = %err, writes = batch.len(), "cannot begin a write transaction");
            for write in batch {
                write.answer(Err(&err));
            }
        }
        Ok(Together::CommitFailed(err)) => {
            // Nothing was committed; each write gets its own chance, so one write
            // (or a passing error) does not fail the others.
            tracing::warn!(error = %err, writes = batch.len(), "a group commit failed; writing one by one");
            for mut write in batch {
                let committed = alone(conn, write.as_mut());
                write.answer(committed.as_ref().map(|_| ()));
            }
        }
        Ok(Together::AWriteFailed) => {
            for mut write in batch {
                let committed = alone(conn, write.as_mut());
                write.answer(committed.as_ref().map(|_| ()));
            }
        }
    }
}

/// Every write of the batch in one transaction, rolled back if any fails.
fn together(conn: &mut rusqlite::Connection, batch: &mut [Queued]) -> rusqlite::Result<Together> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for write in batch.iter_mut() {
        if !write.run(&tx) {
            return Ok(Together::AWriteFailed);
        }
    }
    Ok(match tx.commit() {
        Ok(()) => Together::Committed,
        Err(err) => Together::CommitFailed(err),
    })
}

/// One write in a transaction of its own; its own error stays in its outcome.
fn alone(conn: &mut rusqlite::Connection, write: &mut dyn PendingWrite) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    if write.run(&tx) {
        tx.commit()
    } else {
        Ok(())
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

    async fn writer_with(schema: &'static str) -> (Connection, GroupCommit) {
        let writer = Connection::open_in_memory().await.unwrap();
        writer.call(move |c| c.execute_batch(schema)).await.unwrap();
        let group = GroupCommit::start(writer.clone(), None, || {});
        (writer, group)
    }

    /// Inserts `x` into table `t` through the group commit.
    async fn insert(group: &GroupCommit, x: i64) -> StoreResult<usize> {
        group
            .write(
                Place::At(0),
                move |c| c.execute("INSERT INTO t (x) VALUES (?1)", [x]),
                || {},
            )
            .await
    }

    #[tokio::test]
    async fn after_commit_runs_after_each_batch_is_committed() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let writer = Connection::open(&path).await.unwrap();
        writer
            .call(|c| {
                c.pragma_update(None, "journal_mode", "WAL")?;
                c.execute_batch("CREATE TABLE t (x INTEGER NOT NULL)")
            })
            .await
            .unwrap();
        // Each call counts the rows another connection sees: a hook run before
        // its commit would see one row fewer than the batches made so far.
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let calls = Arc::new(AtomicUsize::new(0));
        let (seen_in_hook, calls_in_hook) = (Arc::clone(&seen), Arc::clone(&calls));
        let group = GroupCommit::start(writer.clone(), None, move || {
            let rows: i64 = rusqlite::Connection::open(&path)
                .and_then(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)))
                .unwrap_or(-1);
            if let Ok(mut seen) = seen_in_hook.lock() {
                seen.push(rows);
            }
            calls_in_hook.fetch_add(1, Ordering::SeqCst);
        });
        for x in 0..3 {
            insert(&group, x).await.unwrap();
        }
        let failed = group
            .write(
                Place::At(0),
                |c| c.execute("INSERT INTO t (x) VALUES (NULL)", []),
                || {},
            )
            .await;
        assert!(failed.is_err());
        // The callers hear of their commit before the hook runs: wait for it.
        for _ in 0..100 {
            if calls.load(Ordering::SeqCst) >= 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Four batches; the last one's write failed and committed nothing (a
        // checkpoint asked for then finds nothing to copy, which is harmless).
        assert_eq!(*seen.lock().unwrap(), vec![1, 2, 3, 3]);
    }

    /// Keeps the writer busy for `time`, so writes sent meanwhile queue up and
    /// share one transaction; returns once the writer is busy.
    async fn hold_writer(
        writer: &Connection,
        time: Duration,
    ) -> tokio::task::JoinHandle<Result<(), tokio_rusqlite::Error>> {
        let writer = writer.clone();
        let hold = tokio::spawn(async move {
            writer
                .call(move |_| {
                    std::thread::sleep(time);
                    Ok::<_, rusqlite::Error>(())
                })
                .await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        hold
    }

    #[tokio::test]
    async fn writes_queued_together_commit_together_and_a_failing_one_rolls_back_alone() {
        let (writer, group) = writer_with("CREATE TABLE t (x INTEGER UNIQUE)").await;
        let hold = hold_writer(&writer, Duration::from_millis(200)).await;
        let mut writes = tokio::task::JoinSet::new();
        for x in [1, 2, 3, 2, 4] {
            let group = group.clone();
            writes.spawn(async move { insert(&group, x).await });
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

    #[tokio::test]
    async fn a_batch_runs_its_writes_in_the_order_of_their_places() {
        let (writer, group) =
            writer_with("CREATE TABLE t (n INTEGER PRIMARY KEY, label TEXT)").await;
        let hold = hold_writer(&writer, Duration::from_millis(200)).await;
        // The writer takes the first write alone while it is held; the rest queue.
        let places = [
            ("taken alone", Place::At(0)),
            ("at 40", Place::At(40)),
            ("at 30", Place::At(30)),
            ("at 10", Place::At(10)),
            ("first", Place::First),
            ("at 20 a", Place::At(20)),
            ("at 20 b", Place::At(20)),
        ];
        let mut writes = Vec::new();
        for (label, place) in places {
            let group = group.clone();
            writes.push(tokio::spawn(async move {
                group
                    .write(
                        place,
                        move |c| c.execute("INSERT INTO t (label) VALUES (?1)", [label]),
                        || {},
                    )
                    .await
            }));
            // Each in the queue before the next, so arrival order is known.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for write in writes {
            write.await.unwrap().unwrap();
        }
        hold.await.unwrap().unwrap();
        let order: Vec<String> = writer
            .call(|c| {
                c.prepare("SELECT label FROM t ORDER BY n")?
                    .query_map([], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .await
            .unwrap();
        assert_eq!(
            order,
            [
                "taken alone",
                "first",
                "at 10",
                "at 20 a",
                "at 20 b",
                "at 30",
                "at 40"
            ]
        );
    }

    #[tokio::test]
    async fn a_write_whose_caller_went_away_still_runs_its_after_commit_step() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;

        let (writer, group) = writer_with("CREATE TABLE t (x INTEGER)").await;
        let hold = hold_writer(&writer, Duration::from_millis(150)).await;
        let ran = Arc::new(AtomicBool::new(false));
        let caller = tokio::spawn({
            let (group, ran) = (group.clone(), Arc::clone(&ran));
            async move {
                group
                    .write(
                        Place::At(0),
                        |c| c.execute("INSERT INTO t (x) VALUES (1)", []),
                        move || ran.store(true, Ordering::SeqCst),
                    )
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        caller.abort();
        hold.await.unwrap().unwrap();
        let stored: i64 = writer
            .call(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)))
            .await
            .unwrap();
        assert_eq!(stored, 1, "the write was made");
        assert!(ran.load(Ordering::SeqCst), "and what follows a commit ran");
    }

    /// Upkeep that records each step in `steps` and is done after every fourth.
    fn counted_upkeep(conn: &rusqlite::Connection) -> rusqlite::Result<bool> {
        conn.execute("INSERT INTO steps DEFAULT VALUES", [])?;
        let n: i64 = conn.query_row("SELECT count(*) FROM steps", [], |r| r.get(0))?;
        Ok(n % 4 != 0)
    }

    async fn steps(writer: &Connection) -> i64 {
        writer
            .call(|c| c.query_row("SELECT count(*) FROM steps", [], |r| r.get(0)))
            .await
            .unwrap()
    }

    /// A writer with [`counted_upkeep`], once it has run the upkeep owed at start.
    async fn writer_with_counted_upkeep() -> (Connection, GroupCommit) {
        let (writer, _) =
            writer_with("CREATE TABLE t (x INTEGER); CREATE TABLE steps (n INTEGER PRIMARY KEY);")
                .await;
        let group = GroupCommit::start(writer.clone(), Some(counted_upkeep), || {});
        tokio::time::sleep(IDLE_BEFORE_UPKEEP * 6).await;
        assert_eq!(steps(&writer).await, 4, "owed at start, run until done");
        (writer, group)
    }

    #[tokio::test]
    async fn upkeep_runs_when_idle_until_done_and_again_after_each_commit() {
        let (writer, group) = writer_with_counted_upkeep().await;
        tokio::time::sleep(IDLE_BEFORE_UPKEEP * 3).await;
        assert_eq!(
            steps(&writer).await,
            4,
            "nothing more is owed until a commit"
        );
        insert(&group, 1).await.unwrap();
        tokio::time::sleep(IDLE_BEFORE_UPKEEP * 6).await;
        assert_eq!(steps(&writer).await, 8, "owed again after the commit");
    }

    fn endless_upkeep(_: &rusqlite::Connection) -> rusqlite::Result<bool> {
        std::thread::sleep(Duration::from_millis(5));
        Ok(true)
    }

    #[tokio::test]
    async fn upkeep_goes_on_in_steps_under_writes_that_never_pause() {
        let (writer, group) = writer_with_counted_upkeep().await;
        // One more than two rounds: a step runs after the answer to the commit
        // before it, and so is done once the next write is answered.
        let commits = COMMITS_PER_BUSY_UPKEEP * 2 + 1;
        for x in 0..commits {
            insert(&group, i64::from(x)).await.unwrap();
        }
        // Each write waited for its commit, so the writer was never idle for long
        // (a stall here only adds idle steps, which this does not count on).
        let steps = steps(&writer).await;
        assert!(steps >= 6, "a step after every few commits: {steps}");
    }

    #[tokio::test]
    async fn a_write_waits_for_at_most_one_step_of_upkeep_that_never_ends() {
        let (writer, _) = writer_with("CREATE TABLE t (x INTEGER)").await;
        let group = GroupCommit::start(writer.clone(), Some(endless_upkeep), || {});
        tokio::time::sleep(IDLE_BEFORE_UPKEEP * 3).await;
        for x in 0..3 {
            tokio::time::timeout(Duration::from_secs(10), insert(&group, x))
                .await
                .expect("the write is not starved by upkeep")
                .unwrap();
            tokio::time::sleep(IDLE_BEFORE_UPKEEP * 2).await;
        }
    }
}
