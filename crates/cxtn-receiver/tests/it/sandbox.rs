//! The whole loop: the sandbox, managed through the real client, delivers into a receiver.

use std::time::Duration;

use cxtn::{EndpointStatus, WebhookEventType};
use cxtn_receiver::EventStatus;
use cxtn_sandbox::{Sandbox, Trigger};

use crate::{Kind, Recorder, TOKEN, eventually, inbox, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_delivers_every_guide_sample_once_in_both_encodings() {
    let store = inbox(&Kind::Sqlite);
    let started = start(store.inbox.clone(), Recorder::default()).await;
    let sandbox = Sandbox::builder()
        .token("loop-token")
        .retry_schedule([Duration::from_millis(20), Duration::from_millis(40)])
        .start()
        .await
        .unwrap();
    let client = cxtn::Client::builder()
        .base_url(sandbox.base_url())
        .access_token("loop-token")
        .build()
        .unwrap();
    let url = format!("http://{}/cxtn/{TOKEN}", started.addr());
    client.webhooks().enable().await.unwrap();
    for kind in [WebhookEventType::Payment, WebhookEventType::AccountTransaction] {
        client.webhooks().ensure(kind, &url).await.unwrap();
    }

    let mut ids = Vec::new();
    for sample in &cxtn::events::samples::GUIDE {
        for as_string in [false, true] {
            let report = sandbox
                .trigger(Trigger::new(sample.event).data_as_string(as_string))
                .await
                .unwrap();
            ids.push(report.event_id.to_string());
        }
    }
    // A redelivery of the last one, and an endpoint paused then resumed.
    let last = sandbox
        .trigger(Trigger::new("payment_completed").duplicate(true))
        .await
        .unwrap();
    ids.push(last.event_id.to_string());
    client
        .webhooks()
        .set_status(WebhookEventType::AccountTransaction, EndpointStatus::Paused)
        .await
        .unwrap();
    let held = sandbox.trigger(Trigger::new("account_credit")).await.unwrap();
    ids.push(held.event_id.to_string());
    client
        .webhooks()
        .set_status(WebhookEventType::AccountTransaction, EndpointStatus::Active)
        .await
        .unwrap();
    sandbox.wait_until_settled(Duration::from_secs(10)).await.unwrap();

    let recorder = started.recorder.clone();
    let expected = ids.len();
    eventually("every event handled", || recorder.ids().len() >= expected).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut seen = recorder.ids();
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids, "each event reached the handler exactly once");
    let stats = started.inbox.stats().await.unwrap();
    assert_eq!(stats.duplicates, 1, "the redelivery was deduplicated: {stats:?}");
    let record = started.inbox.event(held.event_id.as_str()).await.unwrap().unwrap();
    assert_eq!(record.status, EventStatus::Processed);
    // Every body stored parses, with its digits as the guide prints them.
    let funds_in = started
        .inbox
        .events(cxtn_receiver::EventFilter::all().limit(100))
        .await
        .unwrap();
    assert!(funds_in.iter().all(|r| cxtn::events::parse(&r.body).is_ok()));
    assert!(
        funds_in
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains("1000.00"))
    );
    sandbox.shutdown().await;
    started.running.shutdown().await;
}
