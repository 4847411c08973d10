//! The SQLite inbox's schema: its migrations, the checks made before a file is changed, and how SQLite's
//! errors map to an [`InboxErrorKind`].

use std::collections::HashMap;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior, params};

use crate::inbox::query::object_id_of;
use crate::inbox::{BodyHash, InboxError, InboxErrorKind};

/// One step of the schema; a shipped step never changes.
struct Migration {
    sql: &'static str,
    /// Fills the new columns of existing rows, after `sql`, in the same transaction.
    backfill: Option<fn(&Transaction<'_>) -> rusqlite::Result<()>>,
}

/// Migration 1: events and rejections.
pub(super) const FIRST_SCHEMA: &str = "CREATE TABLE events (
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
    ) STRICT;";

/// The schema, one migration per `user_version`.
const MIGRATIONS: [Migration; 4] = [
    Migration {
        sql: FIRST_SCHEMA,
        backfill: None,
    },
    Migration {
        // 2: body digests, conflicting versions, quarantine, fenced claims, rejections once per body.
        sql: "ALTER TABLE events ADD COLUMN body_hash BLOB;
    ALTER TABLE events ADD COLUMN conflicts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE events ADD COLUMN quarantine_reason TEXT;
    ALTER TABLE events ADD COLUMN claim_token INTEGER;
    ALTER TABLE events ADD COLUMN claimed_quarantined INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX events_conflicted ON events (received_at_ms) WHERE conflicts > 0;
    CREATE TABLE conflicts (
        event_id TEXT NOT NULL,
        body_hash BLOB NOT NULL,
        body BLOB NOT NULL,
        received_at_ms INTEGER NOT NULL,
        deliveries INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (event_id, body_hash)
    ) STRICT;
    ALTER TABLE rejections ADD COLUMN body_hash BLOB;
    ALTER TABLE rejections ADD COLUMN deliveries INTEGER NOT NULL DEFAULT 1;
    CREATE UNIQUE INDEX rejections_body_hash ON rejections (body_hash) WHERE body_hash IS NOT NULL;",
        backfill: Some(backfill_hashes),
    },
    Migration {
        // 3: pruned event ids, remembered so that their redeliveries stay duplicates; rejections by age.
        sql: "CREATE TABLE pruned (
        event_id TEXT PRIMARY KEY NOT NULL,
        received_at_ms INTEGER NOT NULL,
        pruned_at_ms INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX pruned_received ON pruned (received_at_ms);
    CREATE INDEX rejections_received ON rejections (received_at_ms);",
        backfill: None,
    },
    Migration {
        // 4: each event's `objectId`, and the indexes of the console's listings: every listing is ordered by
        // `(received_at_ms, event_id)`, so each filter's index goes on with both, then holds the other filters'
        // columns (see `list.rs`); duplicated events apart, so that counting redeliveries reads only them.
        // `events_received` holds the status too: a claim, which reads it oldest first, passes over the
        // processed events in the index without reading their rows.
        sql: "ALTER TABLE events ADD COLUMN object_id TEXT;
    DROP INDEX events_received;
    CREATE INDEX events_received ON events (received_at_ms, event_id, status);
    DROP INDEX events_conflicted;
    CREATE INDEX events_conflicted ON events (received_at_ms, event_id) WHERE conflicts > 0;
    CREATE INDEX events_status ON events (status, received_at_ms, event_id, event, subscription);
    CREATE INDEX events_name ON events (event, received_at_ms, event_id, status, subscription);
    CREATE INDEX events_subscription ON events (subscription, received_at_ms, event_id, status, event);
    CREATE INDEX events_duplicated ON events (deliveries) WHERE deliveries > 1;",
        backfill: Some(backfill_object_ids),
    },
];

/// The schema version this code reads and writes.
pub(super) const VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a statement waits for another connection's lock before it fails as unavailable.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest file switched to incremental vacuum when it is opened (one `VACUUM` rewrites it whole);
/// a larger one is switched by [`SqliteInbox::vacuum`](super::SqliteInbox::vacuum).
pub(super) const VACUUM_ON_OPEN_BYTES: i64 = 64 * 1024 * 1024;

/// Rows read per step while backfilling.
const BACKFILL_STEP: i64 = 500;

/// Which columns a file has: reads of a file opened read-only at an older version fill the newer ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Schema {
    /// Version 1: no digests, conflicts or quarantine.
    First,
    /// Versions 2 and 3: digests, conflicts and quarantine, no `object_id` column.
    Digests,
    /// The current version.
    Current,
}

impl Schema {
    /// The columns of an event, as named in [`EventRecord`](crate::inbox::EventRecord).
    pub(super) fn event_columns(self) -> &'static str {
        match self {
            Self::First => {
                "event_id, event, subscription, received_at_ms, body, status, attempts, last_error, deliveries,
                 next_attempt_at_ms, NULL AS body_hash, 0 AS conflicts, NULL AS quarantine_reason, NULL AS object_id"
            }
            Self::Digests => {
                "event_id, event, subscription, received_at_ms, body, status, attempts, last_error, deliveries,
                 next_attempt_at_ms, body_hash, conflicts, quarantine_reason, NULL AS object_id"
            }
            Self::Current => {
                "event_id, event, subscription, received_at_ms, body, status, attempts, last_error, deliveries,
                 next_attempt_at_ms, body_hash, conflicts, quarantine_reason, object_id"
            }
        }
    }

    /// The columns of a rejection, as named in [`RejectionRecord`](crate::inbox::RejectionRecord).
    pub(super) fn rejection_columns(self) -> &'static str {
        match self {
            Self::First => "id, received_at_ms, body, reason, kind, replayed_as, NULL AS body_hash, 1 AS deliveries",
            Self::Digests | Self::Current => {
                "id, received_at_ms, body, reason, kind, replayed_as, body_hash, deliveries"
            }
        }
    }
}

/// What the caller means to do with the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// Create the schema when the file has none, upgrade an older one.
    Write,
    /// Only read an inbox that exists.
    Read,
}

/// Checks that the file at `display` is an inbox this version can use, without changing it.
pub(super) fn check(conn: &Connection, display: &str, access: Access) -> Result<Schema, InboxError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| opening(display, e))?;
    let has_events: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events')",
            [],
            |row| row.get(0),
        )
        .map_err(|e| opening(display, e))?;
    let verb = match access {
        Access::Write => "cannot upgrade the inbox",
        Access::Read => "cannot read the inbox",
    };
    if version > VERSION {
        return Err(not_an_inbox(format!(
            "{verb} {display}: it was written by a newer cxtn (schema {version}, this version knows {VERSION}); use a newer cxtn"
        )));
    }
    if version == 0 && access == Access::Read {
        return Err(not_an_inbox(format!(
            "{display} is not a cxtn inbox: it has no inbox schema; check the path"
        )));
    }
    if version > 0 && !has_events {
        return Err(not_an_inbox(format!(
            "{display} is not a cxtn inbox: it holds another application's schema (user_version {version}); choose another file"
        )));
    }
    Ok(match version {
        v if v >= 4 => Schema::Current,
        2 | 3 => Schema::Digests,
        _ => Schema::First,
    })
}

/// Sets the writer's connection up: incremental vacuum for a new file, WAL, `synchronous=FULL`.
pub(super) fn configure(conn: &Connection, display: &str) -> Result<(), InboxError> {
    // Takes effect at once on a file without tables (so before WAL is set), at the next `VACUUM` otherwise.
    request_incremental_vacuum(conn)
        .and_then(|()| conn.pragma_update(None, "journal_mode", "WAL"))
        .and_then(|()| conn.pragma_update(None, "synchronous", "FULL"))
        .map_err(|e| {
            let kind = kind_of(&e);
            InboxError::of_kind(
                kind,
                format!("cannot configure the inbox {display}: check that its folder is writable"),
                Some(e.into()),
            )
        })
}

/// `auto_vacuum=INCREMENTAL` for a file that has none yet (a file the application set to `FULL` stays so).
fn request_incremental_vacuum(conn: &Connection) -> rusqlite::Result<()> {
    if auto_vacuum(conn)? == AutoVacuum::None {
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    }
    Ok(())
}

/// The file's `auto_vacuum` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AutoVacuum {
    /// Freed pages stay in the file for reuse.
    None,
    /// Freed pages go back to the file system at every commit.
    Full,
    /// Freed pages go back when asked (`PRAGMA incremental_vacuum`).
    Incremental,
}

pub(super) fn auto_vacuum(conn: &Connection) -> rusqlite::Result<AutoVacuum> {
    let mode: i64 = conn.pragma_query_value(None, "auto_vacuum", |row| row.get(0))?;
    Ok(match mode {
        1 => AutoVacuum::Full,
        2 => AutoVacuum::Incremental,
        _ => AutoVacuum::None,
    })
}

/// The file's size in bytes, its write-ahead log aside.
pub(super) fn file_bytes(conn: &Connection) -> rusqlite::Result<i64> {
    let pages: i64 = conn.pragma_query_value(None, "page_count", |row| row.get(0))?;
    let size: i64 = conn.pragma_query_value(None, "page_size", |row| row.get(0))?;
    Ok(pages.saturating_mul(size))
}

/// Rewrites the file once with `VACUUM` so that it gives freed pages back on request
/// (`auto_vacuum=INCREMENTAL`); nothing when it does already or the application chose `FULL`.
/// Returns whether the file was rewritten.
pub(super) fn switch_to_incremental_vacuum(conn: &Connection) -> rusqlite::Result<bool> {
    if auto_vacuum(conn)? != AutoVacuum::None {
        return Ok(false);
    }
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    conn.execute_batch("VACUUM")?;
    Ok(true)
}

/// After [`migrate`]: a file that predates incremental vacuum is switched now when it is small enough to
/// rewrite at once; a larger one keeps working as it is and is switched by `SqliteInbox::vacuum`.
/// A failure (another process holding the file) only postpones the switch.
pub(super) fn reclaim_on_open(conn: &Connection, inbox: &str) {
    let small = file_bytes(conn).is_ok_and(|bytes| bytes <= VACUUM_ON_OPEN_BYTES);
    if !small {
        if auto_vacuum(conn).is_ok_and(|mode| mode == AutoVacuum::None) {
            tracing::info!(
                inbox,
                "the inbox does not give freed space back to the file system: run `cxtn inbox vacuum` once, \
                 while no receiver writes to it"
            );
        }
        return;
    }
    if let Err(e) = switch_to_incremental_vacuum(conn) {
        tracing::warn!(inbox, error = %e, "the inbox could not switch to incremental vacuum; it will try again when next opened");
    }
}

/// Brings the schema to [`VERSION`], in one transaction.
pub(super) fn migrate(conn: &mut Connection, display: &str) -> Result<(), InboxError> {
    let upgrading = |e: rusqlite::Error| {
        InboxError::of_kind(
            kind_of(&e),
            format!("cannot upgrade the inbox {display}; is it a cxtn inbox?"),
            Some(e.into()),
        )
    };
    let txn = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(upgrading)?;
    // Another process may have upgraded the file since the check.
    check(&txn, display, Access::Write)?;
    let version: i64 = txn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(upgrading)?;
    for (index, migration) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        txn.execute_batch(migration.sql).map_err(upgrading)?;
        if let Some(backfill) = migration.backfill {
            backfill(&txn).map_err(upgrading)?;
        }
        txn.pragma_update(None, "user_version", index + 1).map_err(upgrading)?;
    }
    txn.commit().map_err(upgrading)
}

/// Brings a new file to `version` exactly, as that version's code left it: for tests of later upgrades.
#[cfg(test)]
pub(super) fn create_at_version(conn: &mut Connection, version: usize) -> rusqlite::Result<()> {
    let txn = conn.transaction()?;
    for migration in MIGRATIONS.iter().take(version) {
        txn.execute_batch(migration.sql)?;
    }
    txn.pragma_update(None, "user_version", version)?;
    txn.commit()
}

/// Migration 2's backfill: every event gets its body's digest; each distinct rejected body keeps one row
/// with the digest (the oldest), counting its copies, and the copies stay beside it without one.
fn backfill_hashes(txn: &Transaction<'_>) -> rusqlite::Result<()> {
    let mut after = i64::MIN;
    loop {
        let rows = rows_after(
            txn,
            "SELECT rowid, body FROM events WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
            after,
        )?;
        let Some((last, _)) = rows.last() else { break };
        after = *last;
        let mut update = txn.prepare_cached("UPDATE events SET body_hash = ?2 WHERE rowid = ?1")?;
        for (rowid, body) in &rows {
            update.execute(params![rowid, BodyHash::of(body).as_bytes()])?;
        }
    }
    let mut first: HashMap<BodyHash, i64> = HashMap::new();
    let mut after = i64::MIN;
    loop {
        let rows = rows_after(
            txn,
            "SELECT id, body FROM rejections WHERE id > ?1 ORDER BY id LIMIT ?2",
            after,
        )?;
        let Some((last, _)) = rows.last() else { break };
        after = *last;
        for (id, body) in &rows {
            let hash = BodyHash::of(body);
            match first.get(&hash) {
                Some(kept) => txn
                    .prepare_cached("UPDATE rejections SET deliveries = deliveries + 1 WHERE id = ?1")?
                    .execute(params![kept])?,
                None => {
                    first.insert(hash, *id);
                    txn.prepare_cached("UPDATE rejections SET body_hash = ?2 WHERE id = ?1")?
                        .execute(params![id, hash.as_bytes()])?
                }
            };
        }
    }
    Ok(())
}

/// Migration 4's backfill: every event gets the `objectId` of its body, read as a new event's is; a body
/// without one (or that is not JSON) leaves the column empty.
fn backfill_object_ids(txn: &Transaction<'_>) -> rusqlite::Result<()> {
    let mut after = i64::MIN;
    loop {
        let rows = rows_after(
            txn,
            "SELECT rowid, body FROM events WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
            after,
        )?;
        let Some((last, _)) = rows.last() else { break };
        after = *last;
        let mut update = txn.prepare_cached("UPDATE events SET object_id = ?2 WHERE rowid = ?1")?;
        for (rowid, body) in &rows {
            if let Some(object_id) = object_id_of(body) {
                update.execute(params![rowid, object_id])?;
            }
        }
    }
    txn.execute_batch("CREATE INDEX events_object ON events (object_id) WHERE object_id IS NOT NULL")
}

fn rows_after(txn: &Transaction<'_>, sql: &str, after: i64) -> rusqlite::Result<Vec<(i64, Vec<u8>)>> {
    txn.prepare_cached(sql)?
        .query_map(params![after, BACKFILL_STEP], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect()
}

/// What kind of failure a SQLite error is.
pub(super) fn kind_of(e: &rusqlite::Error) -> InboxErrorKind {
    match e.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::CannotOpen
            | ErrorCode::OutOfMemory
            | ErrorCode::FileLockingProtocolFailed
            | ErrorCode::NoLargeFileSupport,
        ) => InboxErrorKind::Unavailable,
        Some(ErrorCode::ConstraintViolation | ErrorCode::TooBig | ErrorCode::TypeMismatch | ErrorCode::ReadOnly) => {
            InboxErrorKind::Refused
        }
        Some(ErrorCode::NotADatabase) => InboxErrorKind::NotAnInbox,
        _ => InboxErrorKind::Other,
    }
}

/// An operation's error, with a message that says what to do for its kind.
pub(super) fn failed(e: rusqlite::Error) -> InboxError {
    let kind = kind_of(&e);
    let message = match kind {
        InboxErrorKind::Unavailable => {
            "the inbox is unavailable (locked by another process for too long, or its disk is full or failing): try again later"
        }
        InboxErrorKind::Refused => "the inbox refused the operation: check the value stored",
        InboxErrorKind::NotAnInbox => "the inbox file is not a SQLite database: check the path",
        _ => "the inbox failed: see the cause",
    };
    InboxError::of_kind(kind, message, Some(e.into()))
}

/// An error opening the file at `display`.
pub(super) fn opening(display: &str, e: rusqlite::Error) -> InboxError {
    let kind = kind_of(&e);
    let message = match kind {
        InboxErrorKind::NotAnInbox => {
            format!("cannot open the inbox {display}: it is not a SQLite database; check the path")
        }
        _ => format!("cannot open the inbox {display}: check the path and permissions"),
    };
    InboxError::of_kind(kind, message, Some(e.into()))
}

fn not_an_inbox(message: String) -> InboxError {
    InboxError::of_kind(InboxErrorKind::NotAnInbox, message, None)
}
