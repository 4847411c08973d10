//! Workers wake when another receiver stores an event, without waiting for their next poll.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cxtn_receiver::{Receiver, WorkerPolicy};

use super::Schema;
use crate::{Recorder, SharedHandler, TOKEN, post};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_at_one_receiver_wakes_the_worker_of_another() {
    let schema = Schema::fresh();
    // Receiver A only receives; receiver B only works, and polls once a minute.
    let a = Receiver::builder(Arc::new(schema.inbox().await))
        .path_token(TOKEN)
        .build()
        .unwrap()
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let recorder = Arc::new(Recorder::default());
    let b = Receiver::builder(Arc::new(schema.inbox().await))
        .path_token(TOKEN)
        .handler(SharedHandler(recorder.clone()))
        .worker_policy(WorkerPolicy::default().poll_interval(Duration::from_secs(60)))
        .build()
        .unwrap()
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    // Let B's worker make its first (empty) pass and its listener subscribe.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = Instant::now();
    assert_eq!(post(a.addr(), cxtn_events::samples::GUIDE[1].body).await.0, 200);
    while recorder.ids().is_empty() && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(recorder.ids(), ["wh_4d9373d27e4e4c24bbb39c00b6dcd3e7"]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "woken by the announcement, not by the one-minute poll: {:?}",
        started.elapsed()
    );
    a.shutdown().await;
    b.shutdown().await;
}
