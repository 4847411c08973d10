//! Running in production: a flood of idle connections does not keep deliveries out, and a SQLite inbox whose
//! file was deleted or replaced refuses deliveries (503) rather than acknowledging what it would lose.

use std::sync::Arc;
use std::time::Duration;

use cxtn_receiver::{ErrorKind, EventId, Inbox, InboxErrorKind, MemoryInbox, NewEvent, Receiver, SqliteInbox};
use tokio::net::TcpStream;

use crate::{TOKEN, post};

fn body(id: &str) -> String {
    format!(
        r#"{{"eventId": "{id}", "event": "payment_completed", "data": {{"objectId": 7, "userId": "C1", "amount": 10.00, "currency": "GBP"}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_answered_during_a_flood_of_idle_connections() {
    let inbox = Arc::new(MemoryInbox::new());
    let receiver = Receiver::builder(inbox.clone())
        .path_token(TOKEN)
        .max_connections(16)
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let addr = running.addr();

    // Four times the cap in connections that never send a byte, held open for the whole test.
    let mut flood = Vec::new();
    for _ in 0..64 {
        flood.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    for i in 0..15 {
        let id = format!("wh_flood_{i:02}");
        let (status, answer) = tokio::time::timeout(Duration::from_secs(10), post(addr, body(&id)))
            .await
            .unwrap_or_else(|_| panic!("delivery {i} was not answered during the flood"));
        assert_eq!(status, 200, "delivery {i}: {answer}");
        assert!(answer.contains("\"stored\""), "{answer}");
        assert!(inbox.event(&EventId::new(id)).await.unwrap().is_some());
    }
    drop(flood);
    running.shutdown().await;
}

#[test]
fn a_connection_cap_of_zero_is_refused() {
    let error = Receiver::builder(Arc::new(MemoryInbox::new()))
        .path_token(TOKEN)
        .max_connections(0)
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("above zero"), "{error}");
}

/// Removes the inbox's file and its WAL and shared-memory files, as `rm cxtn-inbox.sqlite*` would.
fn delete_inbox_files(path: &std::path::Path) {
    std::fs::remove_file(path).unwrap();
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(side);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_to_a_deleted_inbox_file_get_503_and_are_never_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.sqlite");
    let inbox = Arc::new(SqliteInbox::open(&path).unwrap());
    let receiver = Receiver::builder(inbox.clone()).path_token(TOKEN).build().unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let addr = running.addr();

    let (status, answer) = post(addr, body("wh_before")).await;
    assert_eq!(status, 200, "{answer}");
    inbox.check().await.unwrap();

    delete_inbox_files(&path);
    for i in 0..5 {
        let (status, answer) = post(addr, body(&format!("wh_after_{i}"))).await;
        assert_eq!(status, 503, "delivery {i} after the file was deleted: {answer}");
        assert!(!answer.contains("\"stored\""), "{answer}");
    }
    let error = inbox.check().await.unwrap_err();
    assert_eq!(error.kind(), InboxErrorKind::Unavailable);
    assert!(error.to_string().contains("deleted or replaced"), "{error}");
    let error = inbox.claim(Duration::from_secs(30), 10, false).await.unwrap_err();
    assert_eq!(error.kind(), InboxErrorKind::Unavailable);
    running.shutdown().await;
    drop(receiver);
    drop(inbox);

    // Nothing answered 503 was written anywhere it could be found.
    assert!(!path.exists(), "the deleted inbox file came back");
}

#[tokio::test]
async fn a_replaced_inbox_file_refuses_stores() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.sqlite");
    let aside = dir.path().join("aside.sqlite");
    let inbox = SqliteInbox::open(&path).unwrap();
    inbox.store(event("wh_first")).await.unwrap();

    // Another inbox file moved over the inbox's path.
    std::fs::rename(&path, &aside).unwrap();
    drop(SqliteInbox::open(&path).unwrap());
    let error = inbox.store(event("wh_second")).await.unwrap_err();
    assert_eq!(error.kind(), InboxErrorKind::Unavailable);
    assert!(error.to_string().contains(&path.display().to_string()), "{error}");
    assert_eq!(inbox.check().await.unwrap_err().kind(), InboxErrorKind::Unavailable);
    let other = SqliteInbox::open_read_only(&path).unwrap();
    assert!(other.event(&EventId::new("wh_second")).await.unwrap().is_none());
}

#[tokio::test]
async fn an_inbox_file_moved_away_and_back_takes_stores_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.sqlite");
    let aside = dir.path().join("aside.sqlite");
    let inbox = SqliteInbox::open(&path).unwrap();
    inbox.store(event("wh_first")).await.unwrap();

    std::fs::rename(&path, &aside).unwrap();
    let error = inbox.store(event("wh_second")).await.unwrap_err();
    assert_eq!(error.kind(), InboxErrorKind::Unavailable);

    std::fs::rename(&aside, &path).unwrap();
    inbox.check().await.unwrap();
    inbox.store(event("wh_third")).await.unwrap();
    assert!(inbox.event(&EventId::new("wh_first")).await.unwrap().is_some());
    assert!(inbox.event(&EventId::new("wh_second")).await.unwrap().is_none());
    assert!(inbox.event(&EventId::new("wh_third")).await.unwrap().is_some());
}

fn event(id: &str) -> NewEvent {
    NewEvent::new(id, "payment_completed", None, 1, body(id).into())
}
