use std::time::Duration;

use bytes::Bytes;
use rusqlite::{Connection, ffi};

use super::*;
use crate::inbox::{BodyHash, InboxErrorKind};

/// A lease long enough that it never runs out during a test.
const LONG: Duration = Duration::from_secs(600);

fn temp() -> (tempfile::TempDir, SqliteInbox) {
    let dir = tempfile::tempdir().unwrap();
    let inbox = SqliteInbox::open(dir.path().join("inbox.sqlite")).unwrap();
    (dir, inbox)
}

fn new_event(id: &str, at: i64, body: &'static str) -> NewEvent {
    NewEvent::new(id, "ping", None, at, Bytes::from_static(body.as_bytes()))
}

fn id(text: &str) -> EventId {
    EventId::new(text)
}

/// A guide sample that parses, stored and claimed, with the event a worker would hand to a handler.
async fn claimed_sample(inbox: &SqliteInbox) -> (crate::Event, ClaimToken) {
    let body = cxtn_events::samples::GUIDE[0].body;
    let notification = cxtn_events::parse(body.as_bytes()).unwrap();
    let event_id = notification.event_id().clone();
    inbox
        .store(NewEvent::new(
            event_id.clone(),
            notification.event_name(),
            None,
            1,
            Bytes::from_static(body.as_bytes()),
        ))
        .await
        .unwrap();
    let claimed = inbox.claim(LONG, 1, false).await.unwrap();
    assert_eq!(claimed[0].event_id, event_id);
    let mut event = crate::Event::new(notification);
    event.attempt = claimed[0].attempt;
    (event, claimed[0].token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_stores_share_transactions() {
    let (_dir, inbox) = temp();
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
    assert_eq!(e.kind(), InboxErrorKind::NotAnInbox);
    let e = SqliteInbox::open_read_only(&path).unwrap_err();
    assert!(e.to_string().contains("newer cxtn"), "{e}");
    assert_eq!(e.kind(), InboxErrorKind::NotAnInbox);
}

#[tokio::test]
async fn a_changed_body_is_kept_beside_the_first_and_counted() {
    let (_dir, inbox) = temp();
    assert_eq!(inbox.store(new_event("c", 1, "10.00")).await.unwrap(), Stored::New);
    assert_eq!(
        inbox.store(new_event("c", 2, "99999.00")).await.unwrap(),
        Stored::Conflict
    );
    assert_eq!(
        inbox.store(new_event("c", 3, "99999.00")).await.unwrap(),
        Stored::Conflict
    );
    assert_eq!(
        inbox.store(new_event("c", 4, "10.00")).await.unwrap(),
        Stored::Duplicate
    );

    let record = inbox.event(&id("c")).await.unwrap().unwrap();
    assert_eq!(record.body.as_ref(), b"10.00", "the first body stays");
    assert_eq!((record.conflicts, record.deliveries), (1, 2));
    let versions = inbox.conflicts(&id("c")).await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].body.as_ref(), b"99999.00");
    assert_eq!(versions[0].body_hash, BodyHash::of(b"99999.00"));
    assert_eq!((versions[0].received_at_ms, versions[0].deliveries), (2, 2));
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.conflicts, stats.duplicates, stats.pending), (1, 1, 1));
    let listed = inbox.events(EventFilter::all().with_conflicts()).await.unwrap();
    assert_eq!(listed.len(), 1);
    let claimed = inbox.claim(LONG, 10, false).await.unwrap();
    assert_eq!((claimed[0].body.as_ref(), claimed[0].conflicts), (&b"10.00"[..], 1));
}

#[tokio::test]
async fn quarantined_events_are_claimed_only_when_asked() {
    let (_dir, inbox) = temp();
    let odd = new_event("q", 1, "odd").quarantined("`data` is not an object");
    assert_eq!(inbox.store(odd.clone()).await.unwrap(), Stored::New);
    assert_eq!(inbox.store(odd).await.unwrap(), Stored::Duplicate);
    assert_eq!(inbox.stats().await.unwrap().quarantined, 1);
    assert!(inbox.claim(LONG, 10, false).await.unwrap().is_empty());

    // An opted-in worker's lease runs out: a typed worker still does not take the event over.
    let first = inbox.claim(Duration::ZERO, 10, true).await.unwrap();
    assert_eq!(first[0].quarantine_reason.as_deref(), Some("`data` is not an object"));
    assert!(inbox.claim(LONG, 10, false).await.unwrap().is_empty());
    let second = inbox.claim(LONG, 10, true).await.unwrap();
    assert_eq!((second.len(), second[0].attempt), (1, 2));

    // A retry puts it back in quarantine, due later.
    let retry = Completion::Retry {
        error: "still odd".into(),
        after: Duration::ZERO,
    };
    assert!(inbox.complete(&id("q"), second[0].token, retry).await.unwrap());
    let record = inbox.event(&id("q")).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.last_error.as_deref()),
        (EventStatus::Quarantined, Some("still odd"))
    );
    assert!(inbox.claim(LONG, 10, false).await.unwrap().is_empty());

    // After a replay it is an ordinary pending event, handed out without the reason.
    assert!(inbox.replay_event(&id("q")).await.unwrap());
    let typed = inbox.claim(LONG, 10, false).await.unwrap();
    assert_eq!((typed.len(), typed[0].quarantine_reason.as_deref()), (1, None));
    let record = inbox.event(&id("q")).await.unwrap().unwrap();
    assert_eq!(record.quarantine_reason.as_deref(), Some("`data` is not an object"));
}

#[tokio::test]
async fn the_same_rejected_body_is_kept_once() {
    let (_dir, inbox) = temp();
    let first = inbox
        .reject(NewRejection::new(1, Bytes::from_static(b"{bad"), "not JSON", "syntax"))
        .await
        .unwrap();
    for at in 2..5 {
        let again = inbox
            .reject(NewRejection::new(at, Bytes::from_static(b"{bad"), "not JSON", "syntax"))
            .await
            .unwrap();
        assert_eq!(again, first);
    }
    let other = inbox
        .reject(NewRejection::new(
            5,
            Bytes::from_static(b"[]"),
            "not an object",
            "syntax",
        ))
        .await
        .unwrap();
    assert_ne!(other, first);
    let record = inbox.rejection(first).await.unwrap().unwrap();
    assert_eq!((record.deliveries, record.received_at_ms), (4, 1));
    assert_eq!(record.body_hash, BodyHash::of(b"{bad"));
    assert_eq!(inbox.rejections(10).await.unwrap().len(), 2);
    assert_eq!(inbox.stats().await.unwrap().rejected, 2);
}

#[tokio::test]
async fn a_stale_token_changes_nothing_and_a_held_one_renews_and_releases() {
    let (_dir, inbox) = temp();
    inbox.store(new_event("f", 1, "f")).await.unwrap();
    let lost = inbox.claim(Duration::ZERO, 1, false).await.unwrap();
    let held = inbox.claim(Duration::from_millis(200), 1, false).await.unwrap();
    assert_eq!(
        (held.len(), held[0].attempt),
        (1, 2),
        "an expired lease is claimed again"
    );
    let stale = lost[0].token;
    assert!(!inbox.complete(&id("f"), stale, Completion::Processed).await.unwrap());
    let dead = Completion::Dead { error: "late".into() };
    assert!(!inbox.complete(&id("f"), stale, dead).await.unwrap());
    assert!(!inbox.renew(&id("f"), stale, LONG).await.unwrap());
    assert!(!inbox.release(&id("f"), stale).await.unwrap());
    let record = inbox.event(&id("f")).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.attempts, record.last_error),
        (EventStatus::Processing, 2, None)
    );

    assert!(inbox.renew(&id("f"), held[0].token, LONG).await.unwrap());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        inbox.claim(LONG, 1, false).await.unwrap().is_empty(),
        "the renewed lease holds"
    );
    assert!(inbox.release(&id("f"), held[0].token).await.unwrap());
    let record = inbox.event(&id("f")).await.unwrap().unwrap();
    assert_eq!((record.status, record.attempts), (EventStatus::Pending, 1));
    assert!(
        !inbox.release(&id("f"), held[0].token).await.unwrap(),
        "a released token is spent"
    );
    let again = inbox.claim(LONG, 1, false).await.unwrap();
    assert_eq!(again[0].attempt, 2);
    assert!(
        inbox
            .complete(&id("f"), again[0].token, Completion::Processed)
            .await
            .unwrap()
    );
    assert_eq!(inbox.stats().await.unwrap().processed, 1);
}

#[tokio::test]
async fn a_retry_is_due_after_its_wait_on_the_process_clock() {
    let (_dir, inbox) = temp();
    inbox.store(new_event("r", 1, "r")).await.unwrap();
    let claimed = inbox.claim(LONG, 1, false).await.unwrap();
    let before = crate::now_ms();
    let retry = Completion::Retry {
        error: "boom".into(),
        after: Duration::from_millis(300),
    };
    assert!(inbox.complete(&id("r"), claimed[0].token, retry).await.unwrap());
    let record = inbox.event(&id("r")).await.unwrap().unwrap();
    assert_eq!(record.status, EventStatus::Pending);
    assert!(
        record.next_attempt_at_ms >= before + 300,
        "{}",
        record.next_attempt_at_ms - before
    );
    assert!(inbox.claim(LONG, 1, false).await.unwrap().is_empty(), "not due yet");
    tokio::time::sleep(Duration::from_millis(350)).await;
    let again = inbox.claim(LONG, 1, false).await.unwrap();
    assert_eq!(again[0].attempt, 2);
}

/// Every file in `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn open_read_only_refuses_another_database_and_leaves_it_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('a');",
    )
    .unwrap();
    drop(conn);
    let before = snapshot(dir.path());

    let e = SqliteInbox::open_read_only(&path).unwrap_err();
    assert_eq!(e.kind(), InboxErrorKind::NotAnInbox);
    assert!(e.to_string().contains("is not a cxtn inbox"), "{e}");
    assert_eq!(
        snapshot(dir.path()),
        before,
        "the file is byte-identical and nothing was added beside it"
    );

    let versioned = Connection::open(&path).unwrap();
    versioned.pragma_update(None, "user_version", 1).unwrap();
    drop(versioned);
    let before = snapshot(dir.path());
    assert_eq!(
        SqliteInbox::open_read_only(&path).unwrap_err().kind(),
        InboxErrorKind::NotAnInbox
    );
    assert_eq!(
        SqliteInbox::open(&path).unwrap_err().kind(),
        InboxErrorKind::NotAnInbox,
        "another application's versioned schema is not upgraded"
    );
    assert_eq!(snapshot(dir.path()), before);

    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        b"this is not a database, just some text that is long enough to look like a header",
    )
    .unwrap();
    let e = SqliteInbox::open_read_only(&text).unwrap_err();
    assert_eq!(e.kind(), InboxErrorKind::NotAnInbox, "{e}");

    let missing = dir.path().join("missing.sqlite");
    let e = SqliteInbox::open_read_only(&missing).unwrap_err();
    assert_eq!(e.kind(), InboxErrorKind::NotAnInbox);
    assert!(!missing.exists(), "never created");
}

#[tokio::test]
async fn a_read_only_inbox_reads_and_refuses_writes() {
    let (dir, inbox) = temp();
    inbox.store(new_event("a", 1, "a")).await.unwrap();
    let path = dir.path().join("inbox.sqlite");
    let reading = SqliteInbox::open_read_only(&path).unwrap();
    assert!(reading.is_read_only() && !inbox.is_read_only());
    assert_eq!(reading.stats().await.unwrap().pending, 1);
    assert_eq!(reading.events(EventFilter::all()).await.unwrap().len(), 1);
    let e = reading.store(new_event("b", 2, "b")).await.unwrap_err();
    assert_eq!(e.kind(), InboxErrorKind::Refused);
    assert!(e.to_string().contains("read-only"), "{e}");
    assert!(reading.claim(LONG, 1, false).await.is_err());
    assert!(reading.replay_event(&id("a")).await.is_err());
    assert_eq!(reading.write_stats().transactions, 0);
    inbox.store(new_event("c", 3, "c")).await.unwrap();
    assert_eq!(
        reading.stats().await.unwrap().pending,
        2,
        "it sees the writer's commits"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_read_does_not_hold_up_a_store() {
    let (_dir, inbox) = temp();
    inbox.store(new_event("a", 1, "a")).await.unwrap();
    let count = |conn: &Connection| -> i64 { conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).unwrap() };
    {
        let conn = inbox.reader.conn.lock().unwrap();
        conn.execute_batch("BEGIN DEFERRED").unwrap();
        assert_eq!(count(&conn), 1, "the read transaction holds its snapshot from here");
    }
    let stored = tokio::time::timeout(Duration::from_secs(5), inbox.store(new_event("b", 2, "b"))).await;
    assert_eq!(
        stored.unwrap().unwrap(),
        Stored::New,
        "the store committed while the read was open"
    );
    {
        let conn = inbox.reader.conn.lock().unwrap();
        assert_eq!(count(&conn), 1, "the open read still sees its snapshot");
        conn.execute_batch("COMMIT").unwrap();
    }
    assert_eq!(inbox.stats().await.unwrap().pending, 2);
}

#[derive(Debug)]
struct Ledger {
    fail: bool,
}

impl SqliteHandler for Ledger {
    fn handle(&self, event: &crate::Event, txn: &Transaction<'_>) -> Result<(), crate::HandlerError> {
        txn.execute(
            "INSERT INTO ledger (event_id) VALUES (?1)",
            [event.notification.event_id().as_str()],
        )?;
        if self.fail {
            return Err("the ledger refused".into());
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Panics;

impl SqliteHandler for Panics {
    fn handle(&self, _: &crate::Event, txn: &Transaction<'_>) -> Result<(), crate::HandlerError> {
        txn.execute("INSERT INTO ledger (event_id) VALUES ('half')", [])?;
        panic!("handler bug");
    }
}

fn ledger_rows(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM ledger", [], |row| row.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_transactional_handler_commits_with_the_processed_mark() {
    let (dir, inbox) = temp();
    let path = dir.path().join("inbox.sqlite");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE ledger (event_id TEXT PRIMARY KEY)")
        .unwrap();
    let (event, token) = claimed_sample(&inbox).await;
    let event_id = event.notification.event_id().clone();

    let failing = Arc::new(Ledger { fail: true });
    let outcome = inbox
        .process_in_transaction(event.clone(), token, failing)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        Transacted::Failed {
            error: "the ledger refused".into()
        }
    );
    assert_eq!(ledger_rows(&path), 0, "the handler's write was rolled back");
    assert_eq!(
        inbox.event(&event_id).await.unwrap().unwrap().status,
        EventStatus::Processing
    );

    let outcome = inbox
        .process_in_transaction(event.clone(), token, Arc::new(Panics))
        .await
        .unwrap();
    assert!(matches!(outcome, Transacted::Failed { .. }), "{outcome:?}");
    assert_eq!(ledger_rows(&path), 0, "a panic rolls back too");

    let ledger = Arc::new(Ledger { fail: false });
    let outcome = inbox
        .process_in_transaction(event.clone(), token, ledger.clone())
        .await
        .unwrap();
    assert_eq!(outcome, Transacted::Processed);
    assert_eq!(ledger_rows(&path), 1);
    let record = inbox.event(&event_id).await.unwrap().unwrap();
    assert_eq!(record.status, EventStatus::Processed);

    // The token is spent: a second run commits nothing.
    let outcome = inbox.process_in_transaction(event, token, ledger).await.unwrap();
    assert_eq!(outcome, Transacted::LeaseLost);
    assert_eq!(ledger_rows(&path), 1);
}

#[tokio::test]
async fn a_transactional_handler_with_a_stale_token_commits_nothing() {
    let (dir, inbox) = temp();
    let path = dir.path().join("inbox.sqlite");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE ledger (event_id TEXT PRIMARY KEY)")
        .unwrap();
    let (event, stale) = claimed_sample(&inbox).await;
    // The lease runs out and another worker claims the event.
    assert!(inbox.release(event.notification.event_id(), stale).await.unwrap());
    let current = inbox.claim(LONG, 1, false).await.unwrap();
    let ledger = Arc::new(Ledger { fail: false });
    let outcome = inbox
        .process_in_transaction(event.clone(), stale, ledger.clone())
        .await
        .unwrap();
    assert_eq!(outcome, Transacted::LeaseLost);
    assert_eq!(ledger_rows(&path), 0);
    let outcome = inbox
        .process_in_transaction(event, current[0].token, ledger)
        .await
        .unwrap();
    assert_eq!(outcome, Transacted::Processed);
    assert_eq!(ledger_rows(&path), 1);
}

#[tokio::test]
async fn an_inbox_of_the_first_schema_is_read_as_is_then_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(schema::FIRST_SCHEMA).unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    conn.execute_batch(
        "INSERT INTO events (event_id, event, received_at_ms, body, next_attempt_at_ms) VALUES ('old', 'ping', 1, X'6f6c64', 1);
         INSERT INTO rejections (received_at_ms, body, reason, kind) VALUES (1, X'7b', 'bad', 'syntax');
         INSERT INTO rejections (received_at_ms, body, reason, kind) VALUES (2, X'7b', 'bad', 'syntax');
         INSERT INTO rejections (received_at_ms, body, reason, kind) VALUES (3, X'5b', 'bad', 'syntax');",
    )
    .unwrap();
    drop(conn);

    let reading = SqliteInbox::open_read_only(&path).unwrap();
    let old = reading.event(&id("old")).await.unwrap().unwrap();
    assert_eq!((old.body_hash, old.conflicts), (BodyHash::of(b"old"), 0));
    let stats = reading.stats().await.unwrap();
    assert_eq!((stats.pending, stats.rejected, stats.conflicts), (1, 2, 0));
    assert!(reading.conflicts(&id("old")).await.unwrap().is_empty());
    drop(reading);

    let inbox = SqliteInbox::open(&path).unwrap();
    let stored_hash: Vec<u8> = Connection::open(&path)
        .unwrap()
        .query_row("SELECT body_hash FROM events WHERE event_id = 'old'", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(stored_hash, BodyHash::of(b"old").as_bytes(), "digests are filled in");
    assert_eq!(
        inbox.store(new_event("old", 2, "old")).await.unwrap(),
        Stored::Duplicate
    );
    assert_eq!(inbox.store(new_event("old", 3, "new")).await.unwrap(), Stored::Conflict);
    assert_eq!(inbox.rejections(10).await.unwrap().len(), 3, "earlier copies are kept");
    let first = inbox.rejection(1).await.unwrap().unwrap();
    assert_eq!(first.deliveries, 2, "the oldest row counts its copies");
    let again = inbox
        .reject(NewRejection::new(4, Bytes::from_static(b"{"), "bad", "syntax"))
        .await
        .unwrap();
    assert_eq!(again, 1, "a new copy joins the oldest row");
    assert_eq!(inbox.stats().await.unwrap().rejected, 2);
}

#[tokio::test]
async fn an_inbox_of_the_third_schema_gets_object_ids_and_the_listing_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("third.sqlite");
    let mut conn = Connection::open(&path).unwrap();
    schema::create_at_version(&mut conn, 3).unwrap();
    let rows: [(&str, i64, &[u8]); 5] = [
        ("obj", 1, br#"{"eventId":"obj","data":{"objectId":654254}}"#),
        ("str", 2, br#"{"eventId":"str","data":"{\"objectId\":162953}"}"#),
        ("none", 3, br#"{"eventId":"none","data":{"userId":"C1"}}"#),
        ("text", 4, b"not json"),
        ("bytes", 5, &[0xff, 0xfe, 0x00, 0x7b]),
    ];
    for (id, at, body) in rows {
        conn.execute(
            "INSERT INTO events (event_id, event, received_at_ms, body, next_attempt_at_ms, body_hash)
             VALUES (?1, 'ping', ?2, ?3, ?2, ?4)",
            params![id, at, body, BodyHash::of(body).as_bytes()],
        )
        .unwrap();
    }
    drop(conn);
    let object_ids = |records: &[EventRecord]| -> Vec<(String, Option<String>)> {
        records
            .iter()
            .map(|r| (r.event_id.to_string(), r.object_id.clone()))
            .collect()
    };
    let expected = vec![
        ("bytes".to_owned(), None),
        ("text".to_owned(), None),
        ("none".to_owned(), None),
        ("str".to_owned(), Some("162953".to_owned())),
        ("obj".to_owned(), Some("654254".to_owned())),
    ];

    // Read as it is: the objectId is read from the body, the search finds event ids only.
    let reading = SqliteInbox::open_read_only(&path).unwrap();
    assert_eq!(object_ids(&reading.events(EventFilter::all()).await.unwrap()), expected);
    let found = reading.events(EventFilter::all().search("st")).await.unwrap();
    assert_eq!(object_ids(&found), [("str".to_owned(), Some("162953".to_owned()))]);
    assert!(
        reading
            .events(EventFilter::all().search("162953"))
            .await
            .unwrap()
            .is_empty()
    );
    drop(reading);

    let inbox = SqliteInbox::open(&path).unwrap();
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
    assert_eq!(version, 4);
    let stored: Vec<(String, Option<String>)> = conn
        .prepare("SELECT event_id, object_id FROM events ORDER BY received_at_ms DESC")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        stored, expected,
        "objectIds filled in; bodies without one, or not JSON, left empty"
    );
    let indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'events_%' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        indexes,
        [
            "events_conflicted",
            "events_due",
            "events_duplicated",
            "events_name",
            "events_object",
            "events_received",
            "events_status",
            "events_subscription"
        ]
    );
    let found = inbox.events(EventFilter::all().search("162953")).await.unwrap();
    assert_eq!(object_ids(&found), [("str".to_owned(), Some("162953".to_owned()))]);
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.oldest_pending_at_ms), (5, Some(1)));
}

#[test]
fn listings_read_the_index_of_their_filter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plans.sqlite");
    drop(SqliteInbox::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    let plan = |sql: &str| -> String {
        conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map([], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
            .join("; ")
    };
    let order = "ORDER BY received_at_ms DESC, event_id DESC LIMIT 50";
    let cases = [
        (format!("SELECT * FROM events {order}"), "events_received"),
        (
            format!("SELECT * FROM events WHERE status = 'dead' {order}"),
            "events_status",
        ),
        (format!("SELECT * FROM events WHERE event = 'x' {order}"), "events_name"),
        (
            format!("SELECT * FROM events WHERE subscription = 'x' {order}"),
            "events_subscription",
        ),
        (
            format!("SELECT * FROM events WHERE received_at_ms >= 1 AND received_at_ms < 9 {order}"),
            "events_received",
        ),
        (
            format!(
                "SELECT * FROM events WHERE received_at_ms <= 5 AND (received_at_ms < 5 OR event_id < 'x') {order}"
            ),
            "events_received",
        ),
        (
            format!("SELECT * FROM events WHERE object_id = 'x' {order}"),
            "events_object",
        ),
        (
            format!("SELECT * FROM events WHERE conflicts > 0 {order}"),
            "events_conflicted",
        ),
        (
            "SELECT COALESCE(SUM(deliveries - 1), 0) FROM events WHERE deliveries > 1".to_owned(),
            "events_duplicated",
        ),
    ];
    for (sql, index) in cases {
        let plan = plan(&sql);
        assert!(plan.contains(index), "{sql}: {plan}");
        // The few events of one objectId are sorted; every other listing reads its index in order.
        if index != "events_object" {
            assert!(!plan.contains("TEMP B-TREE"), "{sql} sorts: {plan}");
        }
    }
}

#[test]
fn a_claim_reads_the_due_index_and_never_the_whole_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("claim.sqlite");
    drop(SqliteInbox::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    let plan = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", super::CLAIM))
        .unwrap()
        .query_map(params![1_i64, 10_i64, true], |row| row.get::<_, String>(3))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap();
    let text = plan.join("; ");
    assert_eq!(
        plan.iter().filter(|step| step.contains("INDEX events_due")).count(),
        3,
        "{text}"
    );
    // A scan of `events` without an index would read every processed event kept.
    assert!(
        !plan
            .iter()
            .any(|step| step.starts_with("SCAN events") && !step.contains("USING")),
        "{text}"
    );
}

#[test]
fn sqlite_errors_have_kinds() {
    let failure = |code| rusqlite::Error::SqliteFailure(ffi::Error::new(code), None);
    for code in [
        ffi::SQLITE_BUSY,
        ffi::SQLITE_LOCKED,
        ffi::SQLITE_FULL,
        ffi::SQLITE_IOERR,
    ] {
        assert_eq!(
            schema::failed(failure(code)).kind(),
            InboxErrorKind::Unavailable,
            "{code}"
        );
    }
    assert_eq!(
        schema::failed(failure(ffi::SQLITE_CONSTRAINT)).kind(),
        InboxErrorKind::Refused
    );
    assert_eq!(
        schema::failed(failure(ffi::SQLITE_NOTADB)).kind(),
        InboxErrorKind::NotAnInbox
    );
    assert_eq!(
        schema::failed(rusqlite::Error::InvalidQuery).kind(),
        InboxErrorKind::Other
    );
}
