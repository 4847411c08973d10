//! The whole loop: the sandbox, managed through the real client, delivers into a receiver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cxtn::receiver::{Event, EventStatus, Handler, HandlerError, Inbox, Receiver, Running, SqliteInbox, WorkerPolicy};
use cxtn::sandbox::{Sandbox, Trigger};
use cxtn::{EndpointStatus, WebhookEventType};

const TOKEN: &str = "k4Jx9sQ2pLm7Vw3Zt8Yb1Nc6Rf0Hd5Ga";

/// A handler that records the id of every event it is given.
#[derive(Debug, Default)]
struct Recorder {
    seen: Mutex<Vec<String>>,
}

impl Recorder {
    fn ids(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

#[derive(Debug)]
struct Shared(Arc<Recorder>);

#[cxtn::receiver::async_trait]
impl Handler for Shared {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.0
            .seen
            .lock()
            .unwrap()
            .push(event.notification.event_id().to_string());
        Ok(())
    }
}

struct Started {
    running: Running,
    recorder: Arc<Recorder>,
    inbox: Arc<dyn Inbox>,
    _dir: tempfile::TempDir,
}

impl Started {
    fn addr(&self) -> std::net::SocketAddr {
        self.running.addr()
    }
}

/// A receiver on 127.0.0.1:0 with a SQLite inbox in a temporary directory and a fast worker.
async fn start() -> Started {
    let dir = tempfile::tempdir().unwrap();
    let inbox: Arc<dyn Inbox> = Arc::new(SqliteInbox::open(dir.path().join("inbox.sqlite")).unwrap());
    let recorder = Arc::new(Recorder::default());
    let running = Receiver::builder(inbox.clone())
        .path_token(TOKEN)
        .handler(Shared(recorder.clone()))
        .worker_policy(
            WorkerPolicy::default()
                .backoff(Duration::from_millis(10), Duration::from_millis(40))
                .poll_interval(Duration::from_millis(20))
                .max_attempts(3),
        )
        .build()
        .unwrap()
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    Started {
        running,
        recorder,
        inbox,
        _dir: dir,
    }
}

/// Waits until `check` holds, up to 20 seconds.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_delivers_every_guide_sample_once_in_both_encodings() {
    let started = start().await;
    let sandbox = Sandbox::builder()
        .token("loop-token")
        .retry_schedule([Duration::from_millis(20), Duration::from_millis(40)])
        .start()
        .await
        .unwrap();
    let client = cxtn::Client::builder()
        .configure(|webhooks| webhooks.base_url(sandbox.base_url()).access_token("loop-token"))
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
    let record = started.inbox.event(&held.event_id).await.unwrap().unwrap();
    assert_eq!(record.status, EventStatus::Processed);
    // Every body stored parses, with its digits as the guide prints them.
    let funds_in = started
        .inbox
        .events(cxtn::receiver::EventFilter::all().limit(100))
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
