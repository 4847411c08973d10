use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use rusqlite::Connection;

use super::super::schema::{self, AutoVacuum};
use super::*;
use crate::inbox::{Completion, Inbox, NewEvent};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn mode(path: &Path) -> AutoVacuum {
    schema::auto_vacuum(&Connection::open(path).unwrap()).unwrap()
}

/// Stores `n` events of 4 KiB, 40 days old, and marks them processed.
async fn old_processed(inbox: &SqliteInbox, n: usize) {
    let old = crate::now_ms() - 40 * DAY_MS;
    for i in 0..n {
        let body = Bytes::from(format!("{i:04}").repeat(1024));
        let event = NewEvent::new(format!("e{i}"), "ping", None, old, body);
        inbox.store(event).await.unwrap();
    }
    for claimed in inbox.claim(Duration::from_secs(600), n, false).await.unwrap() {
        let done = inbox.complete(&claimed.event_id, claimed.token, Completion::Processed);
        assert!(done.await.unwrap());
    }
}

#[tokio::test]
async fn a_new_file_gives_the_space_of_pruned_rows_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.sqlite");
    let inbox = SqliteInbox::open(&path).unwrap();
    assert_eq!(mode(&path), AutoVacuum::Incremental);
    old_processed(&inbox, 300).await;
    let size = |inbox: &SqliteInbox| schema::file_bytes(&Connection::open(inbox.path()).unwrap()).unwrap();
    let before = size(&inbox);
    let report = inbox
        .prune(&PrunePolicy::default().processed_older_than(30 * DAY).batch(64))
        .await
        .unwrap();
    assert_eq!(report.processed, 300);
    assert!(report.reclaimed_bytes >= 300 * 4096, "{report:?}");
    assert!(
        size(&inbox) < before - 1024 * 1024,
        "the file shrank: {} -> {}",
        before,
        size(&inbox)
    );
}

#[tokio::test]
async fn an_older_small_file_switches_to_incremental_vacuum_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch(schema::FIRST_SCHEMA).unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    drop(conn);
    assert_eq!(mode(&path), AutoVacuum::None);

    let inbox = SqliteInbox::open(&path).unwrap();
    assert_eq!(mode(&path), AutoVacuum::Incremental);
    let version: i64 = Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, schema::VERSION);
    old_processed(&inbox, 3).await;
    let report = inbox
        .prune(&PrunePolicy::default().processed_older_than(30 * DAY))
        .await
        .unwrap();
    assert_eq!((report.processed, report.remembered), (3, 3));
}

#[tokio::test]
async fn vacuum_switches_a_file_that_does_not_use_incremental_vacuum() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.sqlite");
    let inbox = SqliteInbox::open(&path).unwrap();
    old_processed(&inbox, 50).await;
    // As a file too large to switch when it was opened would be.
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "auto_vacuum", "NONE").unwrap();
    conn.execute_batch("VACUUM").unwrap();
    drop(conn);
    assert_eq!(mode(&path), AutoVacuum::None);
    let report = inbox
        .prune(&PrunePolicy::default().processed_older_than(30 * DAY))
        .await
        .unwrap();
    assert_eq!(
        (report.processed, report.reclaimed_bytes),
        (50, 0),
        "freed pages stay in the file"
    );

    let vacuumed = inbox.vacuum().await.unwrap();
    assert!(vacuumed.switched);
    assert!(vacuumed.bytes_after < vacuumed.bytes_before, "{vacuumed:?}");
    assert_eq!(mode(&path), AutoVacuum::Incremental);
    let again = inbox.vacuum().await.unwrap();
    assert!(!again.switched, "once is enough");

    let read_only = SqliteInbox::open_read_only(&path).unwrap();
    assert_eq!(read_only.vacuum().await.unwrap_err().kind(), InboxErrorKind::Refused);
}

#[tokio::test]
async fn a_read_only_file_of_the_first_schema_answers_a_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(schema::FIRST_SCHEMA).unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    let old = crate::now_ms() - 40 * DAY_MS;
    conn.execute(
        "INSERT INTO events (event_id, event, received_at_ms, body, status, next_attempt_at_ms)
         VALUES ('done', 'ping', ?1, X'7b7d', 'processed', ?1)",
        [old],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO rejections (received_at_ms, body, reason, kind) VALUES (?1, X'7b', 'bad', 'syntax')",
        [old],
    )
    .unwrap();
    drop(conn);

    let inbox = SqliteInbox::open_read_only(&path).unwrap();
    let policy = PrunePolicy::default()
        .processed_older_than(30 * DAY)
        .rejections_older_than(30 * DAY);
    let dry = inbox.prune(&policy.clone().dry_run(true)).await.unwrap();
    assert_eq!((dry.processed, dry.rejections, dry.forgotten), (1, 1, 0), "{dry:?}");
    let refused = inbox.prune(&policy).await.unwrap_err();
    assert_eq!(refused.kind(), InboxErrorKind::Refused);
}
