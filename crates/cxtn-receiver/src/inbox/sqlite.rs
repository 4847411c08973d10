//! The durable SQLite inbox, with group commit.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::oneshot;

use super::{
    Claimed, Completion, EventFilter, EventRecord, EventStatus, Inbox, InboxError, InboxStats, NewEvent, NewRejection,
    RejectionRecord, Stored,
};

/// The most operations one transaction (one fsync) carries.
const MAX_BATCH: usize = 512;

/// The schema, one migration per `user_version`.
const MIGRATIONS: &[&str] = &[
    // 1: events and rejections.
    "CREATE TABLE events (
        event_id TEXT PRIMARY KEY NOT NULL,
        event TEXT NOT NULL,
        subscription TEXT,
        received_at_ms INTEGER NOT NULL,
        body BLOB NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        deliveries INTEGER NOT NULL DEFAULT 1,
        next_attempt_at_ms INTEGER NOT NULL,
        claimed_until_ms INTEGER
    ) STRICT;
    CREATE INDEX events_due ON events (status, next_attempt_at_ms);
    CREATE INDEX events_received ON events (received_at_ms);
    CREATE TABLE rejections (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        received_at_ms INTEGER NOT NULL,
        body BLOB NOT NULL,
        reason TEXT NOT NULL,
        kind TEXT NOT NULL,
        replayed_as TEXT
    ) STRICT;",
];

type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;
/// An operation for the writer: run in the batch's transaction, or told why there is none.
type Job = Box<dyn FnOnce(Result<&Transaction<'_>, &str>) -> Reply + Send>;

/// The durable inbox: one SQLite file in WAL mode with `synchronous=FULL`.
///
/// Writes go through one thread that commits them in groups: deliveries that arrive together share
/// one transaction and one fsync, and each is answered when the transaction holding it commits.
/// Several processes may open the same file (the CLI reads it while a receiver runs).
#[derive(Debug, Clone)]
pub struct SqliteInbox {
    jobs: mpsc::Sender<Job>,
    path: PathBuf,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    transactions: AtomicU64,
    operations: AtomicU64,
}

/// How the writer grouped operations into transactions since the inbox was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteStats {
    /// Transactions committed (one fsync each).
    pub transactions: u64,
    /// Operations (stores, claims, reads...) they carried.
    pub operations: u64,
}

impl WriteStats {
    /// Operations per transaction: how much group commit saved.
    #[must_use]
    pub fn mean_batch(&self) -> f64 {
        if self.transactions == 0 {
            0.0
        } else {
            self.operations as f64 / self.transactions as f64
        }
    }
}

impl SqliteInbox {
    /// Opens (or creates) the inbox at `path`, upgrading its schema.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or is not an inbox this version can upgrade.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, InboxError> {
        let path = path.as_ref().to_path_buf();
        let display = path.display().to_string();
        let mut conn = Connection::open(&path).map_err(|e| {
            InboxError::new(
                format!("cannot open the inbox {display}: check the path and permissions"),
                Some(e.into()),
            )
        })?;
        configure(&conn)
            .map_err(|e| InboxError::new(format!("cannot configure the inbox {display}"), Some(e.into())))?;
        migrate(&mut conn).map_err(|e| {
            InboxError::new(
                format!("cannot upgrade the inbox {display}; is it a cxtn inbox?"),
                Some(e.into()),
            )
        })?;
        let (jobs, rx) = mpsc::channel::<Job>();
        let counters = Arc::new(Counters::default());
        let writer_counters = counters.clone();
        thread::Builder::new()
            .name("cxtn-inbox-writer".into())
            .spawn(move || writer(conn, &rx, &writer_counters))
            .map_err(|e| InboxError::new("cannot start the inbox writer thread", Some(e.into())))?;
        Ok(Self { jobs, path, counters })
    }

    /// How the writer grouped operations into transactions so far.
    #[must_use]
    pub fn write_stats(&self) -> WriteStats {
        WriteStats {
            transactions: self.counters.transactions.load(Ordering::Relaxed),
            operations: self.counters.operations.load(Ordering::Relaxed),
        }
    }

    /// The file the inbox lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in the writer's next transaction, inside a savepoint so that a failure undoes only
    /// its own statements, and returns its result once that transaction commits.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, InboxError> {
        self.run_with(true, f).await
    }

    /// As [`Self::run`], without the savepoint: for a job whose first statement either succeeds or
    /// changes nothing, and whose second runs only when the first changed nothing.
    async fn run_single<T: Send + 'static>(
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
        let job: Job = Box::new(move |txn: Result<&Transaction<'_>, &str>| {
            let txn = match txn {
                Ok(txn) => txn,
                Err(reason) => {
                    let error = InboxError::new(format!("the inbox could not start a transaction: {reason}"), None);
                    return Box::new(move |_| {
                        let _ = tx.send(Err(error));
                    });
                }
            };
            let result = if savepoint { run_in_savepoint(txn, f) } else { f(txn) };
            Box::new(move |committed: Result<(), String>| {
                let outcome = match (result, committed) {
                    (Ok(value), Ok(())) => Ok(value),
                    (Err(e), _) => Err(InboxError::new("the inbox refused the operation", Some(e.into()))),
                    (Ok(_), Err(e)) => Err(InboxError::new(format!("the inbox could not commit: {e}"), None)),
                };
                let _ = tx.send(outcome);
            })
        });
        self.jobs
            .send(job)
            .map_err(|_| InboxError::new("the inbox writer has stopped", None))?;
        rx.await
            .map_err(|_| InboxError::new("the inbox writer stopped before answering", None))?
    }
}

fn run_in_savepoint<T>(
    txn: &Transaction<'_>,
    f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    txn.prepare_cached("SAVEPOINT job")?.execute([])?;
    match f(txn) {
        Ok(value) => {
            txn.prepare_cached("RELEASE job")?.execute([])?;
            Ok(value)
        }
        Err(e) => {
            let _ = txn.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(e)
        }
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    if version > known {
        return Err(rusqlite::Error::InvalidQuery);
    }
    let txn = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = txn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        txn.execute_batch(sql)?;
        txn.pragma_update(None, "user_version", index + 1)?;
    }
    txn.commit()
}

/// The writer thread: waits for a job, takes every job already queued (up to a limit),
/// runs them all in one transaction, commits once, then answers each.
fn writer(mut conn: Connection, rx: &mpsc::Receiver<Job>, counters: &Counters) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let txn = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
            Ok(txn) => txn,
            Err(e) => {
                let message = e.to_string();
                tracing::error!(error = %message, "inbox transaction could not start");
                for job in batch {
                    job(Err(&message))(Err(message.clone()));
                }
                continue;
            }
        };
        let replies: Vec<Reply> = batch.into_iter().map(|job| job(Ok(&txn))).collect();
        let committed = txn.commit().map_err(|e| e.to_string());
        counters.transactions.fetch_add(1, Ordering::Relaxed);
        counters.operations.fetch_add(replies.len() as u64, Ordering::Relaxed);
        if let Err(e) = &committed {
            tracing::error!(error = %e, "inbox commit failed");
        }
        for reply in replies {
            reply(committed.clone());
        }
    }
}

fn status_of(name: &str) -> EventStatus {
    EventStatus::from_name(name).unwrap_or(EventStatus::Pending)
}

fn event_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<EventRecord> {
    let status: String = row.get("status")?;
    let body: Vec<u8> = row.get("body")?;
    Ok(EventRecord {
        event_id: row.get("event_id")?,
        event: row.get("event")?,
        subscription: row.get("subscription")?,
        received_at_ms: row.get("received_at_ms")?,
        body: Bytes::from(body),
        status: status_of(&status),
        attempts: row.get("attempts")?,
        last_error: row.get("last_error")?,
        deliveries: row.get("deliveries")?,
        next_attempt_at_ms: row.get("next_attempt_at_ms")?,
    })
}

fn rejection_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RejectionRecord> {
    let body: Vec<u8> = row.get("body")?;
    Ok(RejectionRecord {
        id: row.get("id")?,
        received_at_ms: row.get("received_at_ms")?,
        body: Bytes::from(body),
        reason: row.get("reason")?,
        kind: row.get("kind")?,
        replayed_as: row.get("replayed_as")?,
    })
}

#[async_trait]
impl Inbox for SqliteInbox {
    async fn store(&self, event: NewEvent) -> Result<Stored, InboxError> {
        self.run_single(move |txn| {
            let inserted = txn
                .prepare_cached(
                    "INSERT INTO events (event_id, event, subscription, received_at_ms, body, next_attempt_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?4) ON CONFLICT (event_id) DO NOTHING",
                )?
                .execute(params![
                    event.event_id,
                    event.event,
                    event.subscription,
                    event.received_at_ms,
                    event.body.as_ref()
                ])?;
            if inserted == 1 {
                return Ok(Stored::New);
            }
            txn.prepare_cached("UPDATE events SET deliveries = deliveries + 1 WHERE event_id = ?1")?
                .execute(params![event.event_id])?;
            Ok(Stored::Duplicate)
        })
        .await
    }

    async fn reject(&self, rejection: NewRejection) -> Result<i64, InboxError> {
        self.run(move |txn| {
            txn.execute(
                "INSERT INTO rejections (received_at_ms, body, reason, kind) VALUES (?1, ?2, ?3, ?4)",
                params![
                    rejection.received_at_ms,
                    rejection.body.as_ref(),
                    rejection.reason,
                    rejection.kind
                ],
            )?;
            Ok(txn.last_insert_rowid())
        })
        .await
    }

    async fn claim(&self, now_ms: i64, lease: Duration, limit: usize) -> Result<Vec<Claimed>, InboxError> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |txn| {
            let mut select = txn.prepare_cached(
                "SELECT event_id, body, attempts, received_at_ms FROM events
                 WHERE (status = 'pending' AND next_attempt_at_ms <= ?1)
                    OR (status = 'processing' AND claimed_until_ms <= ?1)
                 ORDER BY received_at_ms LIMIT ?2",
            )?;
            let rows = select
                .query_map(params![now_ms, limit], |row| {
                    let body: Vec<u8> = row.get(1)?;
                    let attempts: u32 = row.get(2)?;
                    Ok(Claimed {
                        event_id: row.get(0)?,
                        body: Bytes::from(body),
                        attempt: attempts.saturating_add(1),
                        received_at_ms: row.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut update = txn.prepare_cached(
                "UPDATE events SET status = 'processing', attempts = attempts + 1, claimed_until_ms = ?2 WHERE event_id = ?1",
            )?;
            for claimed in &rows {
                update.execute(params![claimed.event_id, now_ms.saturating_add(lease_ms)])?;
            }
            Ok(rows)
        })
        .await
    }

    async fn complete(&self, event_id: &str, completion: Completion) -> Result<(), InboxError> {
        let event_id = event_id.to_owned();
        self.run(move |txn| {
            match completion {
                Completion::Processed => txn.execute(
                    "UPDATE events SET status = 'processed', last_error = NULL, claimed_until_ms = NULL WHERE event_id = ?1",
                    params![event_id],
                )?,
                Completion::Retry { error, at_ms } => txn.execute(
                    "UPDATE events SET status = 'pending', last_error = ?2, next_attempt_at_ms = ?3, claimed_until_ms = NULL
                     WHERE event_id = ?1",
                    params![event_id, error, at_ms],
                )?,
                Completion::Dead { error } => txn.execute(
                    "UPDATE events SET status = 'dead', last_error = ?2, claimed_until_ms = NULL WHERE event_id = ?1",
                    params![event_id, error],
                )?,
            };
            Ok(())
        })
        .await
    }

    async fn replay_event(&self, event_id: &str, now_ms: i64) -> Result<bool, InboxError> {
        let event_id = event_id.to_owned();
        self.run(move |txn| {
            let changed = txn.execute(
                "UPDATE events SET status = 'pending', attempts = 0, next_attempt_at_ms = ?2, claimed_until_ms = NULL
                 WHERE event_id = ?1",
                params![event_id, now_ms],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn resolve_rejection(&self, id: i64, event_id: &str) -> Result<bool, InboxError> {
        let event_id = event_id.to_owned();
        self.run(move |txn| {
            let changed = txn.execute(
                "UPDATE rejections SET replayed_as = ?2 WHERE id = ?1",
                params![id, event_id],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn event(&self, event_id: &str) -> Result<Option<EventRecord>, InboxError> {
        let event_id = event_id.to_owned();
        self.run(move |txn| {
            txn.query_row("SELECT * FROM events WHERE event_id = ?1", params![event_id], event_row)
                .optional()
        })
        .await
    }

    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>, InboxError> {
        let limit = i64::try_from(filter.limit.unwrap_or(100)).unwrap_or(i64::MAX);
        let status = filter.status.map(EventStatus::as_str);
        self.run(move |txn| {
            let mut select = txn.prepare_cached(
                "SELECT * FROM events WHERE ?1 IS NULL OR status = ?1 ORDER BY received_at_ms DESC, rowid DESC LIMIT ?2",
            )?;
            select.query_map(params![status, limit], event_row)?.collect()
        })
        .await
    }

    async fn rejection(&self, id: i64) -> Result<Option<RejectionRecord>, InboxError> {
        self.run(move |txn| {
            txn.query_row("SELECT * FROM rejections WHERE id = ?1", params![id], rejection_row)
                .optional()
        })
        .await
    }

    async fn rejections(&self, limit: usize) -> Result<Vec<RejectionRecord>, InboxError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |txn| {
            let mut select = txn.prepare_cached("SELECT * FROM rejections ORDER BY id DESC LIMIT ?1")?;
            select.query_map(params![limit], rejection_row)?.collect()
        })
        .await
    }

    async fn stats(&self) -> Result<InboxStats, InboxError> {
        self.run(move |txn| {
            let mut stats = InboxStats::default();
            let mut select =
                txn.prepare_cached("SELECT status, COUNT(*), SUM(deliveries - 1) FROM events GROUP BY status")?;
            let rows = select.query_map([], |row| {
                let status: String = row.get(0)?;
                let count: i64 = row.get(1)?;
                let duplicates: Option<i64> = row.get(2)?;
                Ok((status, count, duplicates.unwrap_or(0)))
            })?;
            for row in rows {
                let (status, count, duplicates) = row?;
                let count = u64::try_from(count).unwrap_or(0);
                stats.duplicates += u64::try_from(duplicates).unwrap_or(0);
                match status_of(&status) {
                    EventStatus::Pending => stats.pending += count,
                    EventStatus::Processing => stats.processing += count,
                    EventStatus::Processed => stats.processed += count,
                    EventStatus::Dead => stats.dead += count,
                }
            }
            let rejected: i64 = txn.query_row("SELECT COUNT(*) FROM rejections", [], |row| row.get(0))?;
            stats.rejected = u64::try_from(rejected).unwrap_or(0);
            Ok(stats)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_stores_share_transactions() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = SqliteInbox::open(dir.path().join("inbox.sqlite")).unwrap();
        let mut tasks = Vec::new();
        for i in 0..256 {
            let inbox = inbox.clone();
            tasks.push(tokio::spawn(async move {
                let body = Bytes::from(format!("{{\"eventId\":\"e{i}\"}}"));
                inbox.store(NewEvent::new(format!("e{i}"), "ping", None, i, body)).await
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap(), Stored::New);
        }
        let stats = inbox.write_stats();
        assert_eq!(stats.operations, 256);
        assert!(stats.transactions < 256, "group commit shares transactions: {stats:?}");
        assert_eq!(inbox.stats().await.unwrap().pending, 256);
    }

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox.sqlite");
        drop(SqliteInbox::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let e = SqliteInbox::open(&path).unwrap_err();
        assert!(e.to_string().contains("cannot upgrade the inbox"), "{e}");
    }
}
