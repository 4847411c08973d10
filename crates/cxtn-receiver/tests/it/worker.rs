//! The worker: retries with backoff, dead letters, panics, replays.

use cxtn_receiver::{EventId, EventStatus, ReplayTarget};

use crate::{Kind, Recorder, eventually, inbox, post, start};

#[tokio::test]
async fn a_failing_handler_is_retried_until_it_succeeds() {
    let store = inbox(&Kind::Sqlite);
    let started = start(
        store.inbox.clone(),
        Recorder {
            failures: 2,
            ..Recorder::default()
        },
    )
    .await;
    let body = cxtn_events::samples::GUIDE[2].body;
    assert_eq!(post(started.addr(), body).await.0, 200);
    let recorder = started.recorder.clone();
    eventually("three attempts", || recorder.seen.lock().unwrap().len() >= 3).await;
    let inbox = started.inbox.clone();
    let id = &EventId::from("wh_b5bc5ac1b6734f18b9701db5cd153a4e");
    for _ in 0..1000 {
        if inbox.event(id).await.unwrap().unwrap().status == EventStatus::Processed {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let record = inbox.event(id).await.unwrap().unwrap();
    assert_eq!((record.status, record.attempts), (EventStatus::Processed, 3));
    let attempts: Vec<u32> = recorder.seen.lock().unwrap().iter().map(|(_, a)| *a).collect();
    assert_eq!(attempts, [1, 2, 3]);
    started.running.shutdown().await;
}

#[tokio::test]
async fn an_always_failing_handler_dead_letters_and_a_replay_runs_it_again() {
    let store = inbox(&Kind::Sqlite);
    let started = start(
        store.inbox.clone(),
        Recorder {
            failures: u32::MAX,
            ..Recorder::default()
        },
    )
    .await;
    let id = &EventId::from("wh_4d9373d27e4e4c24bbb39c00b6dcd3e7");
    assert_eq!(post(started.addr(), cxtn_events::samples::GUIDE[1].body).await.0, 200);
    let inbox = started.inbox.clone();
    let mut record = None;
    for _ in 0..1000 {
        let current = inbox.event(id).await.unwrap().unwrap();
        if current.status == EventStatus::Dead {
            record = Some(current);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let record = record.expect("dead-lettered");
    assert_eq!(record.attempts, 3, "max_attempts in these tests");
    assert_eq!(record.last_error.as_deref(), Some("attempt 3 failed"));
    assert_eq!(inbox.stats().await.unwrap().dead, 1);

    cxtn_receiver::replay(&*inbox, ReplayTarget::Event(id.clone()))
        .await
        .unwrap();
    let recorder = started.recorder.clone();
    eventually("the replay reaches the handler", || {
        recorder.seen.lock().unwrap().len() >= 4
    })
    .await;
    assert_eq!(
        recorder.seen.lock().unwrap()[3].1,
        1,
        "a replay starts again from attempt 1"
    );
    started.running.shutdown().await;
}

#[tokio::test]
async fn a_panicking_handler_counts_as_a_failed_attempt() {
    let store = inbox(&Kind::Memory);
    let started = start(
        store.inbox.clone(),
        Recorder {
            panic: true,
            ..Recorder::default()
        },
    )
    .await;
    assert_eq!(post(started.addr(), cxtn_events::samples::GUIDE[0].body).await.0, 200);
    let recorder = started.recorder.clone();
    eventually("the second attempt", || recorder.seen.lock().unwrap().len() >= 2).await;
    let inbox = started.inbox.clone();
    for _ in 0..1000 {
        if inbox.stats().await.unwrap().processed == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let record = inbox
        .event(&"wh_f79f07d55bcd4cb893c41575b7c1b8f6".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((record.status, record.attempts), (EventStatus::Processed, 2));
    started.running.shutdown().await;
}
