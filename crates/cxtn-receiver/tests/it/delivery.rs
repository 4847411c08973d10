//! Deliveries end to end: posted, stored, handed to the handler once.

use std::sync::Arc;

use cxtn_model::DataEncoding;
use cxtn_receiver::{EventStatus, MemoryInbox, Receiver};

use crate::{Kind, Recorder, TOKEN, eventually, inbox, post, start};

async fn guide_samples_reach_the_handler_once(kind: Kind) {
    let store = inbox(&kind);
    let started = start(store.inbox.clone(), Recorder::default()).await;
    let mut expected = Vec::new();
    for sample in &cxtn_events::samples::GUIDE {
        let notification = cxtn_events::parse(sample.body.as_bytes()).unwrap();
        for encoding in [DataEncoding::Object, DataEncoding::String] {
            // Each encoding under its own id, so both reach the handler.
            let mut n = notification.clone();
            n.event_id = cxtn_model::EventId::new(format!("{}_{encoding}", n.event_id));
            let body = n.to_json_with(encoding).unwrap();
            let (status, answer) = post(started.addr(), body.clone()).await;
            assert_eq!(status, 200, "{answer}");
            assert!(answer.contains("\"stored\""), "{answer}");
            // Stored exactly as received.
            let record = started.inbox.event(&n.event_id).await.unwrap().unwrap();
            assert_eq!(record.body, body.as_bytes());
            assert_eq!(record.subscription, n.subscription().map(|s| s.to_string()));
            expected.push(n.event_id.to_string());
        }
    }
    let recorder = started.recorder.clone();
    eventually("every sample handled", || recorder.ids().len() >= expected.len()).await;
    let mut seen = recorder.ids();
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected, "each sample reached the handler exactly once");
    // The outcome is recorded just after the handler returns.
    let mut stats = started.inbox.stats().await.unwrap();
    for _ in 0..2000 {
        if stats.processed >= 14 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        stats = started.inbox.stats().await.unwrap();
    }
    assert_eq!(stats.processed, 14);
    started.running.shutdown().await;
}

#[tokio::test]
async fn guide_samples_reach_the_handler_once_memory() {
    guide_samples_reach_the_handler_once(Kind::Memory).await;
}

#[tokio::test]
async fn guide_samples_reach_the_handler_once_sqlite() {
    guide_samples_reach_the_handler_once(Kind::Sqlite).await;
}

async fn concurrent_copies_are_stored_and_handled_once(kind: Kind) {
    let store = inbox(&kind);
    let started = start(store.inbox.clone(), Recorder::default()).await;
    let body = cxtn_events::samples::GUIDE[1].body;
    let addr = started.addr();
    // A thousand copies, 200 connections at a time: well under the server's connection cap, so the test is
    // about the inbox's deduplication, not about which connections the cap closes.
    let slots = Arc::new(tokio::sync::Semaphore::new(200));
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let slots = Arc::clone(&slots);
        tasks.push(tokio::spawn(async move {
            let _slot = slots.acquire_owned().await.unwrap();
            post(addr, body).await.0
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let stats = started.inbox.stats().await.unwrap();
    assert_eq!(
        stats.pending + stats.processing + stats.processed,
        1,
        "stored once: {stats:?}"
    );
    assert_eq!(stats.duplicates, 999);
    let recorder = started.recorder.clone();
    eventually("the event handled", || !recorder.ids().is_empty()).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(recorder.ids().len(), 1, "handled once");
    let record = started
        .inbox
        .event(&"wh_4d9373d27e4e4c24bbb39c00b6dcd3e7".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.deliveries, 1000);
    assert_eq!(record.status, EventStatus::Processed);
    started.running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_copies_are_stored_and_handled_once_memory() {
    concurrent_copies_are_stored_and_handled_once(Kind::Memory).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_copies_are_stored_and_handled_once_sqlite() {
    concurrent_copies_are_stored_and_handled_once(Kind::Sqlite).await;
}

#[tokio::test]
async fn an_unknown_event_is_stored_like_a_known_one() {
    let store = inbox(&Kind::Sqlite);
    let started = start(store.inbox.clone(), Recorder::default()).await;
    let body = r#"{"eventId": "wh_new", "event": "card_frozen", "data": {"cardId": 99, "limit": 100.50}}"#;
    let (status, _) = post(started.addr(), body).await;
    assert_eq!(status, 200);
    let record = started.inbox.event(&"wh_new".into()).await.unwrap().unwrap();
    assert_eq!(record.event, "card_frozen");
    assert_eq!(record.subscription, None);
    let recorder = started.recorder.clone();
    eventually("the unknown event handled", || recorder.ids() == ["wh_new"]).await;
    started.running.shutdown().await;
}

#[tokio::test]
async fn arrivals_are_published() {
    let receiver = Receiver::builder(std::sync::Arc::new(MemoryInbox::new()))
        .path_token(TOKEN)
        .build()
        .unwrap();
    let mut arrivals = receiver.subscribe();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let body = cxtn_events::samples::GUIDE[0].body;
    post(running.addr(), body).await;
    post(running.addr(), body).await;
    post(running.addr(), "{nope").await;
    let first = arrivals.recv().await.unwrap();
    assert_eq!(first.event.as_deref(), Some("account_credit"));
    assert_eq!(first.outcome, cxtn_receiver::ArrivalOutcome::Stored);
    assert_eq!(
        arrivals.recv().await.unwrap().outcome,
        cxtn_receiver::ArrivalOutcome::Duplicate
    );
    assert!(matches!(
        arrivals.recv().await.unwrap().outcome,
        cxtn_receiver::ArrivalOutcome::Rejected { .. }
    ));
    running.shutdown().await;
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight() {
    let store = inbox(&Kind::Sqlite);
    let started = start(store.inbox.clone(), Recorder::default()).await;
    let addr = started.addr();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let body = format!(r#"{{"eventId": "wh_{i}", "event": "ping"}}"#);
        tasks.push(tokio::spawn(async move { post(addr, body).await.0 }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let inbox = started.inbox.clone();
    started.running.shutdown().await;
    let mut acknowledged = 0;
    for task in tasks {
        // A request either completed with 200 (then it is stored) or never got in (connection refused).
        if let Ok(200) = task.await {
            acknowledged += 1;
        }
    }
    let stats = inbox.stats().await.unwrap();
    assert!(
        stats.pending + stats.processing + stats.processed >= acknowledged,
        "{stats:?} vs {acknowledged}"
    );
}
