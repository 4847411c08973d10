//! The writer thread: group commit of every change to the SQLite inbox.

use std::sync::{Arc, mpsc};
use std::thread;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use super::identity::FileIdentity;
use super::schema::{failed, kind_of};
use crate::inbox::group::{GroupStats, gather};
use crate::inbox::{InboxError, InboxErrorKind, WriteStats};

/// The most operations one transaction (one fsync) carries.
const MAX_BATCH: usize = 512;

/// Why a batch's transaction did not start or commit, told to each of its operations.
#[derive(Debug, Clone)]
struct Failure {
    kind: InboxErrorKind,
    message: String,
}

impl Failure {
    fn of(e: &rusqlite::Error) -> Self {
        Self {
            kind: kind_of(e),
            message: e.to_string(),
        }
    }
}

type Reply = Box<dyn FnOnce(Result<(), Failure>) + Send>;
/// An operation for the writer: run in the batch's transaction, or told why there is none.
type Job = Box<dyn FnOnce(Result<&Transaction<'_>, &Failure>) -> Reply + Send>;

/// The handle to the writer thread; the thread ends when every handle is dropped.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
    counters: Arc<GroupStats>,
}

impl Writer {
    /// Starts the writer thread on `conn`; with `identity`, each group of writes first checks that the file at
    /// the inbox's path is still the one `conn` writes to.
    pub(super) fn start(conn: Connection, identity: Option<FileIdentity>) -> Result<Self, InboxError> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let counters = Arc::new(GroupStats::default());
        let writer_counters = counters.clone();
        thread::Builder::new()
            .name("cxtn-inbox-writer".into())
            .spawn(move || write(conn, identity.as_ref(), &rx, &writer_counters))
            .map_err(|e| InboxError::new("cannot start the inbox writer thread", Some(e.into())))?;
        Ok(Self { jobs, counters })
    }

    /// How the writer grouped operations into transactions so far.
    pub(super) fn stats(&self) -> WriteStats {
        self.counters.snapshot()
    }

    /// Runs `f` in the writer's next transaction, inside a savepoint so that a failure undoes only
    /// its own statements, and returns its result once that transaction commits.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, InboxError> {
        self.run_with(true, f).await
    }

    /// As [`Self::run`], without the savepoint: for a job whose every path either runs one statement or
    /// takes its own savepoint (see [`in_savepoint`]).
    pub(super) async fn run_single<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, InboxError> {
        self.run_with(false, f).await
    }

    async fn run_with<T: Send + 'static>(
        &self,
        savepoint: bool,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, InboxError> {
        let (tx, rx) = oneshot::channel::<Result<T, InboxError>>();
        let job: Job = Box::new(move |txn: Result<&Transaction<'_>, &Failure>| {
            let txn = match txn {
                Ok(txn) => txn,
                Err(failure) => {
                    let error = InboxError::of_kind(
                        failure.kind,
                        format!("the inbox could not start a transaction: {}", failure.message),
                        None,
                    );
                    return Box::new(move |_| {
                        let _ = tx.send(Err(error));
                    });
                }
            };
            let result = if savepoint { in_savepoint(txn, f) } else { f(txn) };
            Box::new(move |committed: Result<(), Failure>| {
                let outcome = match (result, committed) {
                    (Ok(value), Ok(())) => Ok(value),
                    (Err(e), _) => Err(failed(e)),
                    (Ok(_), Err(failure)) => Err(InboxError::of_kind(
                        failure.kind,
                        format!("the inbox could not commit: {}", failure.message),
                        None,
                    )),
                };
                let _ = tx.send(outcome);
            })
        });
        self.jobs.send(job).map_err(|_| {
            InboxError::of_kind(
                InboxErrorKind::Unavailable,
                "the inbox writer has stopped: open the inbox again",
                None,
            )
        })?;
        rx.await.map_err(|_| {
            InboxError::of_kind(
                InboxErrorKind::Unavailable,
                "the inbox writer stopped before answering: open the inbox again",
                None,
            )
        })?
    }
}

/// Runs `f` inside a savepoint: on failure its statements are undone and the rest of the batch is kept.
pub(super) fn in_savepoint<T>(
    txn: &Transaction<'_>,
    f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    txn.prepare_cached("SAVEPOINT cxtn_job")?.execute([])?;
    match f(txn) {
        Ok(value) => {
            txn.prepare_cached("RELEASE cxtn_job")?.execute([])?;
            Ok(value)
        }
        Err(e) => {
            let _ = txn.execute_batch("ROLLBACK TO cxtn_job; RELEASE cxtn_job");
            Err(e)
        }
    }
}

/// The writer thread: waits for a job, takes every job already queued (up to a limit),
/// runs them all in one transaction, commits once, then answers each.
/// When the inbox's file was deleted or replaced, it refuses every job instead, with kind `Unavailable`.
fn write(mut conn: Connection, identity: Option<&FileIdentity>, rx: &mpsc::Receiver<Job>, counters: &GroupStats) {
    let mut lost = false;
    while let Ok(first) = rx.recv() {
        let batch = gather(first, || rx.try_recv().ok(), MAX_BATCH, usize::MAX, |_| 0);
        if let Some(identity) = identity {
            let intact = identity.is_intact();
            if !intact {
                let failure = Failure {
                    kind: InboxErrorKind::Unavailable,
                    message: format!(
                        "the inbox file {} was deleted or replaced while the inbox was open, so nothing more is \
                         written to it: restore the file, or restart to open a new one",
                        identity.path().display()
                    ),
                };
                if !lost {
                    tracing::error!(error = %failure.message, "the inbox refuses every write");
                }
                lost = true;
                for job in batch {
                    job(Err(&failure))(Err(failure.clone()));
                }
                continue;
            }
            if lost {
                tracing::warn!(path = %identity.path().display(), "the inbox file is back; writes resume");
                lost = false;
            }
        }
        let txn = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(txn) => txn,
            Err(e) => {
                let failure = Failure::of(&e);
                tracing::error!(error = %failure.message, "inbox transaction could not start");
                for job in batch {
                    job(Err(&failure))(Err(failure.clone()));
                }
                continue;
            }
        };
        let replies: Vec<Reply> = batch.into_iter().map(|job| job(Ok(&txn))).collect();
        let committed = txn.commit().map_err(|e| Failure::of(&e));
        counters.record(replies.len());
        if let Err(failure) = &committed {
            tracing::error!(error = %failure.message, "inbox commit failed");
        }
        for reply in replies {
            reply(committed.clone());
        }
    }
}
