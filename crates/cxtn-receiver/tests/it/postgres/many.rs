//! Three receivers and three workers on one database: thousands of deliveries, copies of each event at
//! different receivers at once, and a worker killed while it holds claims.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cxtn_receiver::inbox::NewEvent;
use cxtn_receiver::{Event, EventFilter, EventStatus, Handler, HandlerError, Inbox, Receiver, Worker, WorkerPolicy};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::sync::Semaphore;

use super::{Schema, body};
use crate::{Recorder, SharedHandler, TOKEN, fast_policy};

const EVENTS: usize = 3000;
/// Stored before the receivers start, for the doomed worker to take.
const EARLY: usize = 40;

/// A handler that takes an event and never finishes it.
#[derive(Debug, Default)]
struct Stuck {
    taken: Mutex<Vec<String>>,
}

#[cxtn_receiver::async_trait]
impl Handler for Stuck {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.taken
            .lock()
            .unwrap()
            .push(event.notification.event_id().to_string());
        std::future::pending().await
    }
}

fn id(i: usize) -> String {
    format!("wh_many_{i:05}")
}

async fn deliver(client: &Client<HttpConnector, Full<Bytes>>, addr: SocketAddr, body: String) -> (u16, String) {
    let request = hyper::Request::post(format!("http://{addr}/cxtn/{TOKEN}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let answer = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&answer).into_owned())
}

async fn until(what: &str, seconds: u64, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_receivers_and_three_workers_share_one_database() {
    let schema = Schema::fresh();

    // Some events are already stored, and a worker takes them and never finishes.
    let early_inbox: Arc<dyn Inbox> = Arc::new(schema.inbox().await);
    for i in 0..EARLY {
        let event = NewEvent::new(id(i), "payment_completed", None, 0, Bytes::from(body(&id(i))));
        early_inbox.store(event).await.unwrap();
    }
    let stuck = Arc::new(Stuck::default());
    let doomed = Worker::new(
        early_inbox.clone(),
        stuck.clone(),
        WorkerPolicy::default()
            .lease(Duration::from_millis(500))
            .poll_interval(Duration::from_millis(20))
            .concurrency(8),
    );
    let doomed = tokio::spawn(async move { doomed.run(std::future::pending()).await });
    until("the doomed worker's claims", 10, async || {
        early_inbox.stats().await.unwrap().processing == 8
    })
    .await;
    let held: HashSet<String> = early_inbox
        .events(EventFilter::all().status(EventStatus::Processing))
        .await
        .unwrap()
        .into_iter()
        .map(|record| record.event_id.into_string())
        .collect();
    assert_eq!(held.len(), 8, "concurrency 8 claims only the 8 events it can start");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        early_inbox.stats().await.unwrap().processing,
        8,
        "its leases are renewed while its handlers run, and it claims nothing more"
    );

    // Three receivers, each with its own pool and worker, recording into one set.
    let recorder = Arc::new(Recorder::default());
    let mut receivers = Vec::new();
    for _ in 0..3 {
        let inbox = Arc::new(schema.builder().pool_size(6).connect().await.unwrap());
        let receiver = Receiver::builder(inbox)
            .path_token(TOKEN)
            .handler(SharedHandler(recorder.clone()))
            .worker_policy(fast_policy().lease(Duration::from_secs(60)).concurrency(16))
            .build()
            .unwrap();
        receivers.push(receiver.bind("127.0.0.1:0").await.unwrap());
    }
    let addrs: Vec<SocketAddr> = receivers.iter().map(|running| running.addr()).collect();

    // Every event goes to two receivers at once, every fourth to all three.
    let client = crate::http_client();
    let limit = Arc::new(Semaphore::new(48));
    let answers = Arc::new(Mutex::new(Vec::new()));
    let mut deliveries = 0;
    let mut tasks = Vec::new();
    for i in 0..EVENTS {
        let copies = if i % 4 == 0 { 3 } else { 2 };
        deliveries += copies;
        let targets: Vec<SocketAddr> = (0..copies).map(|c| addrs[(i + c) % addrs.len()]).collect();
        let (client, limit, answers) = (client.clone(), limit.clone(), answers.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            let sends: Vec<_> = targets
                .into_iter()
                .map(|addr| {
                    let client = client.clone();
                    tokio::spawn(async move { deliver(&client, addr, body(&id(i))).await })
                })
                .collect();
            for send in sends {
                let (status, answer) = send.await.unwrap();
                answers.lock().unwrap().push((i, status, answer));
            }
        }));
    }
    // The doomed worker dies mid-run, its claims in hand.
    let progress = answers.clone();
    until("the first acknowledgements", 30, async || {
        progress.lock().unwrap().len() >= 600
    })
    .await;
    doomed.abort();
    assert!(doomed.await.unwrap_err().is_cancelled());
    for task in tasks {
        task.await.unwrap();
    }

    // Every copy acknowledged; exactly one reported stored per event delivered for the first time.
    let answers = answers.lock().unwrap().clone();
    assert_eq!(answers.len(), deliveries);
    let mut stored: HashMap<usize, usize> = HashMap::new();
    for (i, status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
        if answer.contains("\"stored\"") {
            *stored.entry(*i).or_default() += 1;
        } else {
            assert!(answer.contains("\"duplicate\""), "{answer}");
        }
    }
    for i in 0..EVENTS {
        let expected = usize::from(i >= EARLY);
        assert_eq!(stored.get(&i).copied().unwrap_or(0), expected, "event {i}");
    }

    // Every event handled exactly once, the doomed worker's after its lease ran out.
    let checker = schema.inbox().await;
    until("every event handled", 60, async || {
        checker.stats().await.unwrap().processed == EVENTS as u64
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let seen = recorder.seen.lock().unwrap().clone();
    let unique: HashSet<&str> = seen.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(unique.len(), EVENTS, "every event reached the handler");
    assert_eq!(seen.len(), EVENTS, "no event reached the handler twice");
    for (event_id, attempt) in &seen {
        let expected = if held.contains(event_id) { 2 } else { 1 };
        assert_eq!(*attempt, expected, "{event_id}");
    }
    let taken = stuck.taken.lock().unwrap().clone();
    assert!(
        (1..=8).contains(&taken.len()),
        "the doomed worker's handler held {taken:?}"
    );
    assert!(taken.iter().all(|id| held.contains(id)));

    // Stored once each, every copy counted.
    assert_eq!(
        schema.numbers("SELECT COUNT(*) FROM {schema}.events").await,
        [EVENTS as i64]
    );
    assert_eq!(
        schema
            .numbers("SELECT SUM(deliveries)::int8 FROM {schema}.events")
            .await,
        [(deliveries + EARLY) as i64]
    );
    let stats = checker.stats().await.unwrap();
    assert_eq!(stats.duplicates, (deliveries + EARLY - EVENTS) as u64);
    for running in receivers {
        running.shutdown().await;
    }
}
