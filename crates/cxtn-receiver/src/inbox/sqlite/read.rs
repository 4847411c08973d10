//! Reads on their own read-only connection, in deferred transactions: a long scan never holds the write
//! lock, and stores go on while it runs (WAL lets readers and the writer work side by side).

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use super::schema::{self, Access, Schema, failed};
use crate::inbox::{BodyHash, ConflictRecord, EventId, EventRecord, EventStatus, InboxError, RejectionRecord};

/// The read-only connection, used from blocking tasks one read at a time.
#[derive(Debug)]
pub(super) struct Reader {
    pub(super) conn: Mutex<Connection>,
    schema: Schema,
}

impl Reader {
    /// Opens `path` read-only: never creates, converts or upgrades it; checks that it is an inbox.
    pub(super) fn open(path: &Path, display: &str) -> Result<Self, InboxError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(|e| schema::opening(display, e))?;
        conn.busy_timeout(schema::BUSY_TIMEOUT)
            .map_err(|e| schema::opening(display, e))?;
        let schema = schema::check(&conn, display, Access::Read)?;
        Ok(Self {
            conn: Mutex::new(conn),
            schema,
        })
    }

    /// Runs `f` in a deferred transaction on the read connection, on a blocking thread.
    pub(super) async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Transaction<'_>, Schema) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, InboxError> {
        let reader = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut conn = reader.conn.lock().unwrap_or_else(PoisonError::into_inner);
            let txn = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let value = f(&txn, reader.schema)?;
            txn.commit()?;
            Ok(value)
        })
        .await
        .map_err(|e| InboxError::new("the inbox read stopped before answering", Some(e.into())))?
        .map_err(failed)
    }
}

/// The stored digest, or the body's own when the row has none.
fn hash_of(stored: Option<Vec<u8>>, body: &[u8]) -> BodyHash {
    stored
        .as_deref()
        .and_then(BodyHash::from_slice)
        .unwrap_or_else(|| BodyHash::of(body))
}

fn status_of(name: &str) -> EventStatus {
    EventStatus::from_name(name).unwrap_or(EventStatus::Pending)
}

/// An event from a row of [`Schema::event_columns`].
pub(super) fn event_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<EventRecord> {
    let status: String = row.get("status")?;
    let body: Vec<u8> = row.get("body")?;
    let event_id: String = row.get("event_id")?;
    Ok(EventRecord {
        event_id: EventId::new(event_id),
        event: row.get("event")?,
        subscription: row.get("subscription")?,
        received_at_ms: row.get("received_at_ms")?,
        status: status_of(&status),
        attempts: row.get("attempts")?,
        last_error: row.get("last_error")?,
        deliveries: row.get("deliveries")?,
        next_attempt_at_ms: row.get("next_attempt_at_ms")?,
        body_hash: hash_of(row.get("body_hash")?, &body),
        conflicts: row.get("conflicts")?,
        quarantine_reason: row.get("quarantine_reason")?,
        object_id: row.get("object_id")?,
        body: Bytes::from(body),
    })
}

/// An event from a row of [`Schema::event_columns`], its `objectId` read from its body when the file
/// predates the column.
pub(super) fn event_row_of(schema: Schema) -> impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<EventRecord> {
    move |row| {
        let mut record = event_row(row)?;
        if schema != Schema::Current {
            record.object_id = crate::inbox::query::object_id_of(&record.body);
        }
        Ok(record)
    }
}

/// A rejection from a row of [`Schema::rejection_columns`].
pub(super) fn rejection_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RejectionRecord> {
    let body: Vec<u8> = row.get("body")?;
    let replayed_as: Option<String> = row.get("replayed_as")?;
    Ok(RejectionRecord {
        id: row.get("id")?,
        received_at_ms: row.get("received_at_ms")?,
        reason: row.get("reason")?,
        kind: row.get("kind")?,
        replayed_as: replayed_as.map(EventId::new),
        body_hash: hash_of(row.get("body_hash")?, &body),
        deliveries: row.get("deliveries")?,
        body: Bytes::from(body),
    })
}

/// A conflicting version from `SELECT event_id, body_hash, body, received_at_ms, deliveries FROM conflicts`.
pub(super) fn conflict_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ConflictRecord> {
    let body: Vec<u8> = row.get("body")?;
    let event_id: String = row.get("event_id")?;
    Ok(ConflictRecord {
        event_id: EventId::new(event_id),
        received_at_ms: row.get("received_at_ms")?,
        body_hash: hash_of(row.get("body_hash")?, &body),
        deliveries: row.get("deliveries")?,
        body: Bytes::from(body),
    })
}
