//! The durable SQLite inbox: group commit for writes, a read-only connection for reads.

mod identity;
mod list;
mod prune;
mod read;
mod schema;
#[cfg(test)]
mod tests;
mod writer;

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::types::Value;
use rusqlite::{OptionalExtension as _, Transaction, params, params_from_iter};

use self::identity::FileIdentity;
pub use self::prune::Vacuumed;
use self::read::{Reader, conflict_row, event_row_of, rejection_row};
use self::schema::Schema;
use self::writer::{Writer, in_savepoint};
use super::{
    ArrivalBucket, ClaimToken, Claimed, Completion, ConflictRecord, EventFilter, EventId, EventRecord, EventStatus,
    Inbox, InboxError, InboxErrorKind, InboxStats, NewEvent, NewRejection, PrunePolicy, PruneReport, RejectionRecord,
    Stored, Transacted, WriteStats,
};

/// The durable inbox: one SQLite file in WAL mode with `synchronous=FULL`.
///
/// Writes go through one thread that commits them in groups: deliveries that arrive together share
/// one transaction and one fsync, and each is answered when the transaction holding it commits.
/// Reads go through their own read-only connection, so a long listing never holds up a store.
/// Several processes may open the same file (the CLI reads it while a receiver runs).
///
/// A handler whose effects live in the same file can make them exactly once with
/// [`SqliteInbox::process_in_transaction`].
#[derive(Debug, Clone)]
pub struct SqliteInbox {
    /// `None` for an inbox opened read-only.
    writer: Option<Writer>,
    reader: Arc<Reader>,
    path: PathBuf,
}

/// A handler whose writes commit in the same SQLite transaction that marks the event processed: either
/// both are kept or neither, so the effect happens exactly once even though the delivery to the handler is
/// at least once. Use it when the effects (a ledger, say) live in the inbox's own file.
///
/// It runs on the inbox's writer thread, inside the transaction of a group commit: keep it short, and do
/// only database work in it (an HTTP call belongs in a plain [`Handler`](crate::Handler)).
/// An `Err` or a panic rolls its writes back.
/// It must not end the transaction or release savepoints it did not open itself.
///
/// ```
/// use cxtn_receiver::{Event, HandlerError, SqliteHandler, rusqlite};
///
/// #[derive(Debug)]
/// struct Ledger;
///
/// impl SqliteHandler for Ledger {
///     fn handle(&self, event: &Event, txn: &rusqlite::Transaction<'_>) -> Result<(), HandlerError> {
///         txn.execute(
///             "INSERT INTO ledger (event_id) VALUES (?1)",
///             [event.notification.event_id().as_str()],
///         )?;
///         Ok(())
///     }
/// }
/// ```
pub trait SqliteHandler: Send + Sync + fmt::Debug + 'static {
    /// Handles one event with `txn`, the inbox's transaction.
    ///
    /// # Errors
    ///
    /// Any error: its writes are rolled back and the attempt counts as failed.
    fn handle(&self, event: &crate::Event, txn: &Transaction<'_>) -> Result<(), crate::HandlerError>;
}

/// Marks a claimed event processed when `token` still holds its lease.
const MARK_PROCESSED: &str = "UPDATE events SET status = 'processed', last_error = NULL, claimed_until_ms = NULL,
     claim_token = NULL WHERE event_id = ?1 AND status = 'processing' AND claim_token = ?2";

impl SqliteInbox {
    /// Opens (or creates) the inbox at `path`, upgrading its schema.
    ///
    /// The inbox may share its file with the application's own tables.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened, or is not an inbox this version can upgrade
    /// ([`InboxErrorKind::NotAnInbox`]: not a SQLite database, an inbox written by a newer version,
    /// or another application's versioned schema).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, InboxError> {
        let path = path.as_ref().to_path_buf();
        let display = path.display().to_string();
        let mut conn = rusqlite::Connection::open(&path).map_err(|e| schema::opening(&display, e))?;
        conn.busy_timeout(schema::BUSY_TIMEOUT)
            .map_err(|e| schema::opening(&display, e))?;
        schema::check(&conn, &display, schema::Access::Write)?;
        schema::configure(&conn, &display)?;
        schema::migrate(&mut conn, &display)?;
        schema::reclaim_on_open(&conn, &display);
        let reader = Reader::open(&path, &display)?;
        let identity = FileIdentity::of(&conn);
        let writer = Writer::start(conn, identity)?;
        Ok(Self {
            writer: Some(writer),
            reader: Arc::new(reader),
            path,
        })
    }

    /// Opens an existing inbox only to read it: never creates the file, never converts it to WAL,
    /// never upgrades its schema. Every writing method then fails with [`InboxErrorKind::Refused`].
    ///
    /// ```no_run
    /// use cxtn_receiver::{Inbox, SqliteInbox};
    ///
    /// # async fn run() -> Result<(), cxtn_receiver::InboxError> {
    /// let inbox = SqliteInbox::open_read_only("cxtn-inbox.sqlite")?;
    /// println!("{:?}", inbox.stats().await?);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`InboxErrorKind::NotAnInbox`] when no file is there, or it is not a cxtn inbox, or its schema is
    /// newer than this version knows; another kind when it cannot be read.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, InboxError> {
        let path = path.as_ref().to_path_buf();
        let display = path.display().to_string();
        if !path.is_file() {
            return Err(InboxError::of_kind(
                InboxErrorKind::NotAnInbox,
                format!("there is no inbox at {display}: check the path"),
                None,
            ));
        }
        let reader = Reader::open(&path, &display)?;
        Ok(Self {
            writer: None,
            reader: Arc::new(reader),
            path,
        })
    }

    /// Whether the inbox was opened with [`SqliteInbox::open_read_only`].
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.writer.is_none()
    }

    /// How the writer grouped operations into transactions so far (zero for a read-only inbox).
    #[must_use]
    pub fn write_stats(&self) -> WriteStats {
        self.writer.as_ref().map_or_else(WriteStats::default, Writer::stats)
    }

    /// The file the inbox lives in.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `handler` for a claimed event in the writer's transaction, and marks the event processed in
    /// that same transaction: the handler's writes and the mark commit together or not at all.
    ///
    /// The lease is checked inside the transaction: when `token` no longer holds it, nothing runs and the
    /// answer is [`Transacted::LeaseLost`]. A handler error (or panic) rolls its writes back and answers
    /// [`Transacted::Failed`]; complete the event with [`Inbox::complete`] as for any failure.
    /// The answer comes once the transaction committed.
    ///
    /// # Errors
    ///
    /// When the inbox is read-only or cannot write; nothing was committed then.
    pub async fn process_in_transaction(
        &self,
        event: crate::Event,
        token: ClaimToken,
        handler: Arc<dyn SqliteHandler>,
    ) -> Result<Transacted, InboxError> {
        self.writer()?
            .run(move |txn| {
                let event_id = event.notification.event_id().as_str().to_owned();
                let held = txn
                    .prepare_cached(
                        "SELECT 1 FROM events WHERE event_id = ?1 AND status = 'processing' AND claim_token = ?2",
                    )?
                    .query_row(params![event_id, token.as_i64()], |_| Ok(()))
                    .optional()?;
                if held.is_none() {
                    return Ok(Transacted::LeaseLost);
                }
                txn.prepare_cached("SAVEPOINT cxtn_handler")?.execute([])?;
                let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| handler.handle(&event, txn)));
                let error = match outcome {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(_) => Some("the handler panicked".to_owned()),
                };
                if let Some(error) = error {
                    txn.execute_batch("ROLLBACK TO cxtn_handler; RELEASE cxtn_handler")?;
                    return Ok(Transacted::Failed { error });
                }
                txn.prepare_cached("RELEASE cxtn_handler")?.execute([])?;
                txn.prepare_cached(MARK_PROCESSED)?
                    .execute(params![event_id, token.as_i64()])?;
                Ok(Transacted::Processed)
            })
            .await
    }

    fn writer(&self) -> Result<&Writer, InboxError> {
        self.writer.as_ref().ok_or_else(|| {
            InboxError::of_kind(
                InboxErrorKind::Refused,
                format!(
                    "the inbox {} was opened read-only: open it with `SqliteInbox::open` to change it",
                    self.path.display()
                ),
                None,
            )
        })
    }

    /// Runs a fenced update of one claimed event (`?1` its id, `?2` the token, then `values`);
    /// `true` when `token` held its lease.
    async fn fenced(
        &self,
        sql: &'static str,
        event_id: &EventId,
        token: ClaimToken,
        values: Vec<Value>,
    ) -> Result<bool, InboxError> {
        let mut all = vec![
            Value::Text(event_id.as_str().to_owned()),
            Value::Integer(token.as_i64()),
        ];
        all.extend(values);
        self.writer()?
            .run_single(move |txn| {
                let changed = txn.prepare_cached(sql)?.execute(params_from_iter(all))?;
                Ok(changed == 1)
            })
            .await
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The events a claim takes: `?1` now, `?2` the limit, `?3` whether quarantined events are claimed too.
///
/// Each of the three kinds of claimable event is read from the due index on its own, earliest due first, so a
/// claim costs the same however many processed events the inbox keeps; the oldest arrivals among them go first.
pub(super) const CLAIM: &str = "SELECT event_id, body, attempts, received_at_ms, conflicts, quarantine_reason,
    status = 'quarantined' OR (status = 'processing' AND claimed_quarantined) AS from_quarantine
 FROM events
 WHERE rowid IN (
     SELECT rowid FROM (SELECT rowid FROM events
         WHERE status = 'pending' AND next_attempt_at_ms <= ?1
         ORDER BY next_attempt_at_ms LIMIT ?2)
     UNION ALL
     SELECT rowid FROM (SELECT rowid FROM events
         WHERE ?3 AND status = 'quarantined' AND next_attempt_at_ms <= ?1
         ORDER BY next_attempt_at_ms LIMIT ?2)
     UNION ALL
     SELECT rowid FROM (SELECT rowid FROM events
         WHERE status = 'processing' AND claimed_until_ms <= ?1 AND (?3 OR NOT claimed_quarantined)
         LIMIT ?2)
 )
 ORDER BY received_at_ms LIMIT ?2";

#[async_trait]
impl Inbox for SqliteInbox {
    /// Takes the write lock in the writer's next transaction (reads the file, for a read-only inbox).
    async fn check(&self) -> Result<(), InboxError> {
        let probe = |txn: &Transaction<'_>| txn.prepare_cached("SELECT 1")?.query_row([], |_| Ok(()));
        match &self.writer {
            Some(writer) => writer.run_single(probe).await,
            None => self.reader.read(move |txn, _| probe(txn)).await,
        }
    }

    fn write_stats(&self) -> Option<WriteStats> {
        self.writer.as_ref().map(Writer::stats)
    }

    async fn store(&self, event: NewEvent) -> Result<Stored, InboxError> {
        let status = if event.quarantine.is_some() {
            EventStatus::Quarantined
        } else {
            EventStatus::Pending
        };
        self.writer()?
            .run_single(move |txn| {
                let event_id = event.event_id.as_str();
                let hash = event.body_hash.as_bytes();
                // A pruned event's redelivery: answered, never handled again.
                let pruned = txn
                    .prepare_cached("SELECT 1 FROM pruned WHERE event_id = ?1")?
                    .query_row(params![event_id], |_| Ok(()))
                    .optional()?;
                if pruned.is_some() {
                    return Ok(Stored::Duplicate);
                }
                let inserted = txn
                    .prepare_cached(
                        "INSERT INTO events (event_id, event, subscription, received_at_ms, body, next_attempt_at_ms,
                             body_hash, status, quarantine_reason, object_id)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?6, ?7, ?8, ?9) ON CONFLICT (event_id) DO NOTHING",
                    )?
                    .execute(params![
                        event_id,
                        event.event,
                        event.subscription,
                        event.received_at_ms,
                        event.body.as_ref(),
                        hash,
                        status.as_str(),
                        event.quarantine,
                        event.object_id,
                    ])?;
                if inserted == 1 {
                    return Ok(Stored::New);
                }
                // A row written without a digest compares equal: a redelivery, not a conflict.
                let same = txn
                    .prepare_cached(
                        "UPDATE events SET deliveries = deliveries + 1
                         WHERE event_id = ?1 AND (body_hash IS NULL OR body_hash = ?2)",
                    )?
                    .execute(params![event_id, hash])?;
                if same == 1 {
                    return Ok(Stored::Duplicate);
                }
                in_savepoint(txn, |txn| {
                    txn.prepare_cached(
                        "INSERT INTO conflicts (event_id, body_hash, body, received_at_ms) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (event_id, body_hash) DO UPDATE SET deliveries = deliveries + 1",
                    )?
                    .execute(params![
                        event_id,
                        hash,
                        event.body.as_ref(),
                        event.received_at_ms
                    ])?;
                    txn.prepare_cached(
                        "UPDATE events SET conflicts = (SELECT COUNT(*) FROM conflicts WHERE event_id = ?1)
                         WHERE event_id = ?1",
                    )?
                    .execute(params![event_id])?;
                    Ok(Stored::Conflict)
                })
            })
            .await
    }

    async fn reject(&self, rejection: NewRejection) -> Result<i64, InboxError> {
        self.writer()?
            .run_single(move |txn| {
                txn.prepare_cached(
                    "INSERT INTO rejections (received_at_ms, body, reason, kind, body_hash) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (body_hash) WHERE body_hash IS NOT NULL DO UPDATE SET deliveries = deliveries + 1
                     RETURNING id",
                )?
                .query_row(
                    params![
                        rejection.received_at_ms,
                        rejection.body.as_ref(),
                        rejection.reason,
                        rejection.kind,
                        rejection.body_hash.as_bytes(),
                    ],
                    |row| row.get(0),
                )
            })
            .await
    }

    async fn claim(&self, lease: Duration, limit: usize, quarantined: bool) -> Result<Vec<Claimed>, InboxError> {
        let lease_ms = millis(lease);
        let limit = sql_limit(limit);
        self.writer()?
            .run(move |txn| {
                let now_ms = crate::now_ms();
                let mut select = txn.prepare_cached(CLAIM)?;
                let rows = select
                    .query_map(params![now_ms, limit, quarantined], |row| {
                        let event_id: String = row.get("event_id")?;
                        let body: Vec<u8> = row.get("body")?;
                        let attempts: u32 = row.get("attempts")?;
                        let from_quarantine: bool = row.get("from_quarantine")?;
                        let reason: Option<String> = row.get("quarantine_reason")?;
                        Ok(Claimed {
                            event_id: EventId::new(event_id),
                            body: Bytes::from(body),
                            attempt: attempts.saturating_add(1),
                            received_at_ms: row.get("received_at_ms")?,
                            token: ClaimToken::random(),
                            conflicts: row.get("conflicts")?,
                            quarantine_reason: reason.filter(|_| from_quarantine),
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let mut update = txn.prepare_cached(
                    "UPDATE events SET status = 'processing', attempts = attempts + 1, claimed_until_ms = ?2,
                        claim_token = ?3,
                        claimed_quarantined = status = 'quarantined' OR (status = 'processing' AND claimed_quarantined)
                     WHERE event_id = ?1",
                )?;
                for claimed in &rows {
                    update.execute(params![
                        claimed.event_id.as_str(),
                        now_ms.saturating_add(lease_ms),
                        claimed.token.as_i64()
                    ])?;
                }
                Ok(rows)
            })
            .await
    }

    async fn renew(&self, event_id: &EventId, token: ClaimToken, lease: Duration) -> Result<bool, InboxError> {
        let until = crate::now_ms().saturating_add(millis(lease));
        self.fenced(
            "UPDATE events SET claimed_until_ms = ?3 WHERE event_id = ?1 AND status = 'processing' AND claim_token = ?2",
            event_id,
            token,
            vec![Value::Integer(until)],
        )
        .await
    }

    async fn complete(
        &self,
        event_id: &EventId,
        token: ClaimToken,
        completion: Completion,
    ) -> Result<bool, InboxError> {
        match completion {
            Completion::Processed => self.fenced(MARK_PROCESSED, event_id, token, Vec::new()).await,
            Completion::Retry { error, after } => {
                let at = crate::now_ms().saturating_add(millis(after));
                self.fenced(
                    "UPDATE events SET status = CASE WHEN claimed_quarantined THEN 'quarantined' ELSE 'pending' END,
                        last_error = ?3, next_attempt_at_ms = ?4, claimed_until_ms = NULL, claim_token = NULL
                     WHERE event_id = ?1 AND status = 'processing' AND claim_token = ?2",
                    event_id,
                    token,
                    vec![Value::Text(error), Value::Integer(at)],
                )
                .await
            }
            Completion::Dead { error } => {
                self.fenced(
                    "UPDATE events SET status = 'dead', last_error = ?3, claimed_until_ms = NULL, claim_token = NULL
                     WHERE event_id = ?1 AND status = 'processing' AND claim_token = ?2",
                    event_id,
                    token,
                    vec![Value::Text(error)],
                )
                .await
            }
        }
    }

    async fn release(&self, event_id: &EventId, token: ClaimToken) -> Result<bool, InboxError> {
        self.fenced(
            "UPDATE events SET status = CASE WHEN claimed_quarantined THEN 'quarantined' ELSE 'pending' END,
                attempts = MAX(attempts - 1, 0), next_attempt_at_ms = ?3, claimed_until_ms = NULL, claim_token = NULL
             WHERE event_id = ?1 AND status = 'processing' AND claim_token = ?2",
            event_id,
            token,
            vec![Value::Integer(crate::now_ms())],
        )
        .await
    }

    async fn replay_event(&self, event_id: &EventId) -> Result<bool, InboxError> {
        let event_id = event_id.as_str().to_owned();
        self.writer()?
            .run_single(move |txn| {
                let changed = txn
                    .prepare_cached(
                        "UPDATE events SET status = 'pending', attempts = 0, next_attempt_at_ms = ?2,
                            claimed_until_ms = NULL, claim_token = NULL, claimed_quarantined = 0
                         WHERE event_id = ?1",
                    )?
                    .execute(params![event_id, crate::now_ms()])?;
                Ok(changed == 1)
            })
            .await
    }

    async fn resolve_rejection(&self, id: i64, event_id: &EventId) -> Result<bool, InboxError> {
        let event_id = event_id.as_str().to_owned();
        self.writer()?
            .run_single(move |txn| {
                let changed = txn
                    .prepare_cached("UPDATE rejections SET replayed_as = ?2 WHERE id = ?1")?
                    .execute(params![id, event_id])?;
                Ok(changed == 1)
            })
            .await
    }

    async fn event(&self, event_id: &EventId) -> Result<Option<EventRecord>, InboxError> {
        let event_id = event_id.as_str().to_owned();
        self.reader
            .read(move |txn, schema| {
                txn.prepare_cached(&format!(
                    "SELECT {} FROM events WHERE event_id = ?1",
                    schema.event_columns()
                ))?
                .query_row(params![event_id], event_row_of(schema))
                .optional()
            })
            .await
    }

    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>, InboxError> {
        self.reader
            .read(move |txn, schema| {
                if filter.conflicts_only && schema == Schema::First {
                    return Ok(Vec::new());
                }
                list::events(txn, schema, &filter)
            })
            .await
    }

    async fn arrivals(&self, since_ms: i64, bucket_ms: i64) -> Result<Vec<ArrivalBucket>, InboxError> {
        super::check_bucket(bucket_ms)?;
        self.reader
            .read(move |txn, _| {
                txn.prepare_cached(
                    "SELECT received_at_ms - ((received_at_ms % ?2) + ?2) % ?2 AS start_ms, COUNT(*) FROM events
                     WHERE received_at_ms >= ?1 GROUP BY start_ms ORDER BY start_ms",
                )?
                .query_map(params![since_ms, bucket_ms], |row| {
                    let count: i64 = row.get(1)?;
                    Ok(ArrivalBucket::new(row.get(0)?, u64::try_from(count).unwrap_or(0)))
                })?
                .collect()
            })
            .await
    }

    async fn conflicts(&self, event_id: &EventId) -> Result<Vec<ConflictRecord>, InboxError> {
        let event_id = event_id.as_str().to_owned();
        self.reader
            .read(move |txn, schema| {
                if schema == Schema::First {
                    return Ok(Vec::new());
                }
                txn.prepare_cached(
                    "SELECT event_id, body_hash, body, received_at_ms, deliveries FROM conflicts
                     WHERE event_id = ?1 ORDER BY received_at_ms, rowid",
                )?
                .query_map(params![event_id], conflict_row)?
                .collect()
            })
            .await
    }

    async fn rejection(&self, id: i64) -> Result<Option<RejectionRecord>, InboxError> {
        self.reader
            .read(move |txn, schema| {
                txn.prepare_cached(&format!(
                    "SELECT {} FROM rejections WHERE id = ?1",
                    schema.rejection_columns()
                ))?
                .query_row(params![id], rejection_row)
                .optional()
            })
            .await
    }

    async fn rejections(&self, limit: usize) -> Result<Vec<RejectionRecord>, InboxError> {
        let limit = sql_limit(limit);
        self.reader
            .read(move |txn, schema| {
                txn.prepare_cached(&format!(
                    "SELECT {} FROM rejections ORDER BY id DESC LIMIT ?1",
                    schema.rejection_columns()
                ))?
                .query_map(params![limit], rejection_row)?
                .collect()
            })
            .await
    }

    async fn rejections_page(&self, limit: usize, before_id: Option<i64>) -> Result<Vec<RejectionRecord>, InboxError> {
        let limit = sql_limit(limit);
        self.reader
            .read(move |txn, schema| {
                txn.prepare_cached(&format!(
                    "SELECT {} FROM rejections WHERE ?2 IS NULL OR id < ?2 ORDER BY id DESC LIMIT ?1",
                    schema.rejection_columns()
                ))?
                .query_map(params![limit, before_id], rejection_row)?
                .collect()
            })
            .await
    }

    async fn prune(&self, policy: &PrunePolicy) -> Result<PruneReport, InboxError> {
        self.prune_batches(policy).await
    }

    async fn stats(&self) -> Result<InboxStats, InboxError> {
        self.reader
            .read(move |txn, schema| {
                let mut stats = InboxStats::default();
                // The current schema counts from indexes: the events that are not processed by their status,
                // the processed ones as the rest of the table (counting a million rows by status reads every
                // entry of an index; counting the table only walks its pages), the oldest pending event from
                // the start of its part of `events_status`, redeliveries from the duplicated events alone.
                let by_status = if schema == Schema::Current {
                    "SELECT status, COUNT(*), 0, NULL FROM events WHERE status < 'processed' GROUP BY status
                     UNION ALL
                     SELECT status, COUNT(*), 0, NULL FROM events WHERE status > 'processed' GROUP BY status"
                } else {
                    "SELECT status, COUNT(*), SUM(deliveries - 1), MIN(received_at_ms) FROM events GROUP BY status"
                };
                let mut total = None;
                if schema == Schema::Current {
                    let (all, duplicates, oldest): (i64, i64, Option<i64>) = txn
                        .prepare_cached(
                            "SELECT (SELECT COUNT(*) FROM events),
                                (SELECT COALESCE(SUM(deliveries - 1), 0) FROM events WHERE deliveries > 1),
                                (SELECT MIN(received_at_ms) FROM events WHERE status = 'pending')",
                        )?
                        .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
                    total = Some(u64::try_from(all).unwrap_or(0));
                    stats.duplicates = u64::try_from(duplicates).unwrap_or(0);
                    stats.oldest_pending_at_ms = oldest;
                }
                let mut select = txn.prepare_cached(by_status)?;
                let rows = select.query_map([], |row| {
                    let status: String = row.get(0)?;
                    let count: i64 = row.get(1)?;
                    let duplicates: Option<i64> = row.get(2)?;
                    let oldest: Option<i64> = row.get(3)?;
                    Ok((status, count, duplicates.unwrap_or(0), oldest))
                })?;
                for row in rows {
                    let (status, count, duplicates, oldest) = row?;
                    let count = u64::try_from(count).unwrap_or(0);
                    stats.duplicates += u64::try_from(duplicates).unwrap_or(0);
                    match EventStatus::from_name(&status) {
                        Some(EventStatus::Pending) | None => {
                            stats.pending += count;
                            stats.oldest_pending_at_ms = super::earliest(stats.oldest_pending_at_ms, oldest);
                        }
                        Some(EventStatus::Processing) => stats.processing += count,
                        Some(EventStatus::Processed) => stats.processed += count,
                        Some(EventStatus::Dead) => stats.dead += count,
                        Some(EventStatus::Quarantined) => stats.quarantined += count,
                    }
                }
                if let Some(total) = total {
                    let others = stats.pending + stats.processing + stats.dead + stats.quarantined;
                    stats.processed = total.saturating_sub(others);
                }
                let (rejected, conflicts) = match schema {
                    Schema::First => ("SELECT COUNT(DISTINCT body) FROM rejections", "SELECT 0"),
                    Schema::Digests | Schema::Current => (
                        "SELECT COUNT(*) FROM rejections WHERE body_hash IS NOT NULL",
                        "SELECT COUNT(*) FROM conflicts",
                    ),
                };
                let count = |sql: &str| -> rusqlite::Result<u64> {
                    let n: i64 = txn.prepare_cached(sql)?.query_row([], |row| row.get(0))?;
                    Ok(u64::try_from(n).unwrap_or(0))
                };
                stats.rejected = count(rejected)?;
                stats.conflicts = count(conflicts)?;
                Ok(stats)
            })
            .await
    }
}
