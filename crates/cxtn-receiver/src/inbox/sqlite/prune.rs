//! Pruning the SQLite inbox: deletes in batches on the writer thread, pruned ids remembered, freed pages
//! given back with incremental vacuum.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension as _, params};

use super::SqliteInbox;
use super::schema::{self, AutoVacuum, Schema, failed};
use crate::inbox::{EventStatus, InboxError, InboxErrorKind, PrunePolicy, PruneReport, retention};

#[cfg(test)]
mod tests;

/// Where a scan of old events stopped: the last `(received_at_ms, event_id)` it saw (no id before the first).
type Cursor = (i64, Option<String>);

/// Pages one incremental-vacuum step gives back (1 MiB of 4 KiB pages): each step moves pages from the end of
/// the file into free ones, about half a millisecond a page, and stores wait for it, so steps stay short.
const VACUUM_STEP_PAGES: i64 = 256;

/// What [`SqliteInbox::vacuum`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Vacuumed {
    /// Whether the file was rewritten to switch it to incremental vacuum (once per file).
    pub switched: bool,
    /// The file's size before, its write-ahead log aside.
    pub bytes_before: u64,
    /// The file's size after.
    pub bytes_after: u64,
}

/// One batch of events: what it pruned, and where the next batch starts (`None` after the last).
struct Batch {
    report: PruneReport,
    next: Option<Cursor>,
}

/// One row of the scan.
struct Old {
    event_id: String,
    status: String,
    received_at_ms: i64,
    conflicts: i64,
}

/// Scans up to a batch of events that arrived before the policy's latest cut-off, after `cursor`, and deletes
/// (`apply`) or only counts those the policy prunes. The scan walks `events_received`, so each batch reads
/// a batch of rows whatever their status.
fn events_batch(
    conn: &Connection,
    schema: Schema,
    policy: &PrunePolicy,
    now_ms: i64,
    cursor: Cursor,
    apply: bool,
) -> rusqlite::Result<Batch> {
    let mut report = PruneReport::default();
    let Some(newest) = policy
        .classes()
        .into_iter()
        .map(|(_, age)| retention::before(now_ms, age))
        .max()
    else {
        return Ok(Batch { report, next: None });
    };
    let remember_since = retention::before(now_ms, policy.dedupe_window);
    let limit = policy.batch_rows();
    let conflicts = match schema {
        Schema::First => "0",
        Schema::Digests | Schema::Current => "conflicts",
    };
    let rows = conn
        .prepare_cached(&format!(
            "SELECT event_id, status, received_at_ms, {conflicts} FROM events
             WHERE received_at_ms >= ?1 AND received_at_ms < ?3 AND (received_at_ms > ?1 OR ?2 IS NULL OR event_id > ?2)
             ORDER BY received_at_ms, event_id LIMIT ?4"
        ))?
        .query_map(
            params![cursor.0, cursor.1, newest, i64::try_from(limit).unwrap_or(i64::MAX)],
            |row| {
                Ok(Old {
                    event_id: row.get(0)?,
                    status: row.get(1)?,
                    received_at_ms: row.get(2)?,
                    conflicts: row.get(3)?,
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let next = if rows.len() >= limit {
        rows.last().map(|row| (row.received_at_ms, Some(row.event_id.clone())))
    } else {
        None
    };
    for row in &rows {
        let Some(status) = EventStatus::from_name(&row.status) else {
            continue;
        };
        let versions = u32::try_from(row.conflicts).unwrap_or(u32::MAX);
        if !policy.prunes(status, row.received_at_ms, versions, now_ms) {
            continue;
        }
        let remembered = row.received_at_ms >= remember_since;
        report.count(status, u64::from(versions), remembered);
        if !apply {
            continue;
        }
        if versions > 0 {
            conn.prepare_cached("DELETE FROM conflicts WHERE event_id = ?1")?
                .execute(params![row.event_id])?;
        }
        conn.prepare_cached("DELETE FROM events WHERE event_id = ?1")?
            .execute(params![row.event_id])?;
        if remembered {
            conn.prepare_cached(
                "INSERT INTO pruned (event_id, received_at_ms, pruned_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (event_id) DO NOTHING",
            )?
            .execute(params![row.event_id, row.received_at_ms, now_ms])?;
        }
    }
    Ok(Batch { report, next })
}

/// Whether the file has the table of pruned ids (schema 3 and later).
fn has_pruned(conn: &Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pruned'")?
        .query_row([], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
}

/// Deletes (`apply`) or counts up to `limit` rows of `table` whose `received_at_ms` is before `cut_off`;
/// returns how many.
fn old_rows(
    conn: &Connection,
    table: &str,
    key: &str,
    cut_off: i64,
    limit: usize,
    apply: bool,
) -> rusqlite::Result<u64> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let n = if apply {
        conn.prepare_cached(&format!(
            "DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE received_at_ms < ?1 LIMIT ?2)"
        ))?
        .execute(params![cut_off, limit])?
    } else {
        conn.prepare_cached(&format!("SELECT COUNT(*) FROM {table} WHERE received_at_ms < ?1"))?
            .query_row(params![cut_off], |row| row.get::<_, i64>(0))
            .map(|n| usize::try_from(n).unwrap_or(0))?
    };
    Ok(n as u64)
}

impl SqliteInbox {
    /// [`Inbox::prune`](crate::Inbox::prune) for SQLite: a dry run reads on the read connection; a prune runs
    /// each batch as one job of the writer, in a group commit beside the stores waiting then.
    pub(super) async fn prune_batches(&self, policy: &PrunePolicy) -> Result<PruneReport, InboxError> {
        let now_ms = crate::now_ms();
        let mut report = PruneReport {
            dry_run: policy.dry_run,
            ..PruneReport::default()
        };
        if policy.dry_run {
            let policy = policy.clone();
            let counted = self
                .reader
                .read(move |txn, schema| {
                    let mut report = PruneReport::default();
                    let mut cursor = Some((i64::MIN, None));
                    while let Some(at) = cursor {
                        let batch = events_batch(txn, schema, &policy, now_ms, at, false)?;
                        report.add(&batch.report);
                        cursor = batch.next;
                    }
                    if let Some(age) = policy.rejections_older_than {
                        let cut_off = retention::before(now_ms, age);
                        report.rejections = old_rows(txn, "rejections", "id", cut_off, 0, false)?;
                    }
                    if has_pruned(txn)? {
                        let cut_off = retention::before(now_ms, policy.dedupe_window);
                        report.forgotten = old_rows(txn, "pruned", "event_id", cut_off, 0, false)?;
                    }
                    Ok(report)
                })
                .await?;
            report.add(&counted);
            return Ok(report);
        }

        let writer = self.writer()?;
        let rows = policy.batch_rows();
        let mut cursor = Some((i64::MIN, None));
        while let Some(at) = cursor {
            let policy = policy.clone();
            let batch = writer
                .run(move |txn| events_batch(txn, Schema::Current, &policy, now_ms, at, true))
                .await?;
            report.add(&batch.report);
            cursor = batch.next;
        }
        let mut tables = vec![("pruned", "event_id", retention::before(now_ms, policy.dedupe_window))];
        if let Some(age) = policy.rejections_older_than {
            tables.push(("rejections", "id", retention::before(now_ms, age)));
        }
        for (table, key, cut_off) in tables {
            loop {
                let deleted = writer
                    .run(move |txn| old_rows(txn, table, key, cut_off, rows, true))
                    .await?;
                match table {
                    "pruned" => report.forgotten = report.forgotten.saturating_add(deleted),
                    _ => report.rejections = report.rejections.saturating_add(deleted),
                }
                if deleted < rows as u64 {
                    break;
                }
            }
        }
        report.reclaimed_bytes = self.give_back_freed_pages().await?;
        Ok(report)
    }

    /// Gives the file's free pages back to the file system in steps, when the file uses incremental vacuum;
    /// returns the bytes given back.
    async fn give_back_freed_pages(&self) -> Result<u64, InboxError> {
        let writer = self.writer()?;
        let mut reclaimed: u64 = 0;
        loop {
            let step = writer
                .run(|txn| {
                    if schema::auto_vacuum(txn)? != AutoVacuum::Incremental {
                        return Ok(0);
                    }
                    let free = |txn: &Connection| -> rusqlite::Result<i64> {
                        txn.pragma_query_value(None, "freelist_count", |row| row.get(0))
                    };
                    let before = free(txn)?;
                    if before == 0 {
                        return Ok(0);
                    }
                    txn.execute_batch(&format!("PRAGMA incremental_vacuum({VACUUM_STEP_PAGES})"))?;
                    let page_size: i64 = txn.pragma_query_value(None, "page_size", |row| row.get(0))?;
                    Ok(before.saturating_sub(free(txn)?).saturating_mul(page_size))
                })
                .await?;
            if step <= 0 {
                return Ok(reclaimed);
            }
            reclaimed = reclaimed.saturating_add(u64::try_from(step).unwrap_or(0));
        }
    }

    /// Gives the file's free space back to the file system, and switches a file made before incremental
    /// vacuum to it with one `VACUUM`, which rewrites the whole file.
    ///
    /// Files created by this version (and files of 64 MiB or less when first opened by it) use incremental
    /// vacuum already, and [`Inbox::prune`](crate::Inbox::prune) gives space back after each prune.
    /// A larger, older file needs this once; run it while no receiver writes to the file (stores wait for
    /// the rewrite, and fail as unavailable past 10 s), and with free disk space about the file's size.
    ///
    /// # Errors
    ///
    /// When the inbox was opened read-only, or the file cannot be rewritten (locked by another process,
    /// the disk full).
    pub async fn vacuum(&self) -> Result<Vacuumed, InboxError> {
        self.writer()?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || vacuum_file(&path))
            .await
            .map_err(|e| InboxError::new("the inbox vacuum stopped before answering", Some(e.into())))?
    }
}

fn vacuum_file(path: &Path) -> Result<Vacuumed, InboxError> {
    let display = path.display().to_string();
    let conn = Connection::open(path).map_err(|e| schema::opening(&display, e))?;
    conn.busy_timeout(schema::BUSY_TIMEOUT)
        .map_err(|e| schema::opening(&display, e))?;
    let size = |conn: &Connection| schema::file_bytes(conn).map(|bytes| u64::try_from(bytes).unwrap_or(0));
    let bytes_before = size(&conn).map_err(failed)?;
    let switched = schema::switch_to_incremental_vacuum(&conn).map_err(|e| {
        InboxError::of_kind(
            schema::kind_of(&e),
            format!(
                "cannot vacuum the inbox {display}: stop the receivers writing to it, check the free disk space, and try again"
            ),
            Some(e.into()),
        )
    })?;
    if !switched && schema::auto_vacuum(&conn).map_err(failed)? == AutoVacuum::Incremental {
        conn.execute_batch("PRAGMA incremental_vacuum").map_err(failed)?;
    }
    // The rewrite went to the write-ahead log: copy it back so that the file itself shrinks.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::warn!(inbox = path.display().to_string(), error = %e, "the inbox vacuum could not truncate the write-ahead log yet");
    }
    let bytes_after = size(&conn).map_err(failed)?;
    if schema::auto_vacuum(&conn).map_err(failed)? == AutoVacuum::None {
        return Err(InboxError::of_kind(
            InboxErrorKind::Other,
            format!("the inbox {display} still does not use incremental vacuum: run the vacuum again"),
            None,
        ));
    }
    Ok(Vacuumed {
        switched,
        bytes_before,
        bytes_after,
    })
}
