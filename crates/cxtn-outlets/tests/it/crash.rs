//! SIGKILL between publish and completion: a worker in a child process publishes 1,000 stored events to a broker
//! and is killed at random moments, then restarted, until the inbox says every event is processed.
//! Afterwards a consumer reads each `eventId` exactly once on JetStream and Redis, and at least once on RabbitMQ.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cxtn_outlets::Publish;
use cxtn_receiver::inbox::NewEvent;
use cxtn_receiver::{Inbox, SqliteInbox, Worker, WorkerPolicy};
use tokio::io::{AsyncBufReadExt, BufReader};

/// How many events each run publishes.
const EVENTS: usize = 1000;
/// Set in a child process: the inbox file.
const CHILD_INBOX: &str = "CXTN_OUTLET_CRASH_INBOX";
/// Set in a child process: the outlet URL.
const CHILD_URL: &str = "CXTN_OUTLET_CRASH_URL";
const MARKER: &str = "CXTN-OUTLET-CRASH-WORKING";

/// A name no other test uses.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}x{nanos}", std::process::id())
}

fn event_id(i: usize) -> String {
    format!("wh_crash_{i:05}")
}

fn body(i: usize) -> String {
    format!(
        r#"{{"eventId": "{}", "event": "payment_completed", "data": {{"objectId": {i}, "userId": "C1", "amount": 1.{:02}, "currency": "GBP"}}}}"#,
        event_id(i),
        i % 100
    )
}

fn policy() -> WorkerPolicy {
    WorkerPolicy::default()
        .concurrency(8)
        .lease(Duration::from_millis(800))
        .poll_interval(Duration::from_millis(20))
        .backoff(Duration::from_millis(5), Duration::from_millis(20))
        .max_attempts(1000)
}

/// An inbox file holding the events, none processed yet.
async fn filled_inbox(dir: &tempfile::TempDir) -> (SqliteInbox, std::path::PathBuf) {
    let path = dir.path().join("inbox.sqlite");
    let inbox = SqliteInbox::open(&path).unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..EVENTS {
        let inbox = inbox.clone();
        tasks.spawn(async move {
            let event = NewEvent::new(
                event_id(i),
                "payment_completed",
                Some("Payment".to_owned()),
                1,
                Bytes::from(body(i)),
            );
            inbox.store(event).await.unwrap();
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    (inbox, path)
}

/// Starts the publishing worker in a child process, lets it work for a random moment and kills it with SIGKILL,
/// again and again until the inbox says every event is processed. Returns how many children were killed while
/// events were still unprocessed.
async fn kill_until_done(broker: &str, inbox: &SqliteInbox, path: &std::path::Path, url: &str) -> u32 {
    let processed = || async { inbox.stats().await.unwrap().processed };
    let mut kills_mid_run = 0;
    for round in 0..400 {
        if processed().await == EVENTS as u64 {
            eprintln!("{broker}: {round} publishing workers started, {kills_mid_run} killed before the end");
            return kills_mid_run;
        }
        let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "crash::child_worker_process",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_INBOX, path)
            .env(CHILD_URL, url)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .expect("the child worker starts")
                .unwrap()
                .expect("the child says it is working");
            if line.contains(MARKER) {
                break;
            }
        }
        // Later rounds run longer, so that the run always ends even on a slow machine.
        let work = Duration::from_millis(fastrand::u64(30..250) + round * 20);
        tokio::time::sleep(work).await;
        child.start_kill().unwrap();
        let status = child.wait().await.unwrap();
        assert!(!status.success(), "the child was killed");
        if processed().await < EVENTS as u64 {
            kills_mid_run += 1;
        }
    }
    panic!("the inbox was not processed after 400 restarts");
}

/// In a child process (the environment variables set): publish the inbox's events until killed.
/// Otherwise: nothing to do; the tests below start it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_worker_process() {
    let (Ok(path), Ok(url)) = (std::env::var(CHILD_INBOX), std::env::var(CHILD_URL)) else {
        return;
    };
    let inbox = SqliteInbox::open(path).unwrap();
    let outlet = cxtn_outlets::connect(&url).await.unwrap();
    let worker = Worker::new(Arc::new(inbox), Arc::new(Publish::to(vec![outlet])), policy());
    println!("{MARKER}");
    worker.run(std::future::pending()).await;
}

/// How many times each event id was read, checked for every event.
fn counted(ids: impl IntoIterator<Item = String>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for id in ids {
        *counts.entry(id).or_insert(0) += 1;
    }
    for i in 0..EVENTS {
        assert!(counts.contains_key(&event_id(i)), "{} was never published", event_id(i));
    }
    assert_eq!(counts.len(), EVENTS, "no other event ids");
    counts
}

#[cfg(feature = "nats")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_holds_each_event_id_once_through_sigkills() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, path) = filled_inbox(&dir).await;
    let stream = unique("CXTN_CRASH_");
    let prefix = unique("cxtncrash");
    // A duplicate window of an hour covers the whole run.
    let url = format!(
        "nats://127.0.0.1:4222?subject={prefix}.{{event}}&stream={stream}&create_stream=true&duplicate_window=3600"
    );
    cxtn_outlets::connect(&url).await.unwrap();

    let kills = kill_until_done("nats", &inbox, &path, &url).await;
    assert!(kills >= 3, "killed mid-run only {kills} times");

    let js = async_nats::jetstream::new(async_nats::connect("127.0.0.1:4222").await.unwrap());
    let handle = js.get_stream(&stream).await.unwrap();
    let messages = handle.get_info().await.unwrap().state.messages;
    let mut ids = Vec::new();
    for sequence in 1..=messages {
        let stored = handle.get_raw_message(sequence).await.unwrap();
        ids.push(stored.headers.get("Nats-Msg-Id").unwrap().as_str().to_owned());
    }
    let counts = counted(ids);
    assert_eq!(messages, EVENTS as u64, "JetStream dropped every re-publish");
    assert!(counts.values().all(|&count| count == 1));
    js.delete_stream(&stream).await.unwrap();
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_each_event_id_once_through_sigkills() {
    use redis::AsyncCommands;
    use redis::streams::StreamRangeReply;

    let dir = tempfile::tempdir().unwrap();
    let (inbox, path) = filled_inbox(&dir).await;
    let stream = unique("cxtn:crash:");
    let url = format!("redis://127.0.0.1:6379/0?stream={stream}&dedupe_ttl=1h");

    let kills = kill_until_done("redis", &inbox, &path, &url).await;
    assert!(kills >= 3, "killed mid-run only {kills} times");

    let client = redis::Client::open("redis://127.0.0.1:6379/0").unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let reply: StreamRangeReply = connection.xrange_all(&stream).await.unwrap();
    let entries = reply.ids.len();
    let ids = reply.ids.into_iter().map(|entry| {
        let value = entry.map.get("cxtn-event-id").unwrap().clone();
        String::from_utf8(redis::from_redis_value::<Vec<u8>>(value).unwrap()).unwrap()
    });
    let counts = counted(ids);
    assert_eq!(entries, EVENTS, "the script appended each event once");
    assert!(counts.values().all(|&count| count == 1));

    let mut keys: Vec<String> = connection.keys(format!("{stream}*")).await.unwrap();
    keys.push(stream.clone());
    let _: () = connection.del(keys).await.unwrap();
}

#[cfg(feature = "rabbitmq")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_delivers_each_event_id_at_least_once_through_sigkills() {
    use lapin::options::{
        BasicGetOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
    };
    use lapin::types::FieldTable;
    use lapin::{Connection, ConnectionProperties};

    const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
    let dir = tempfile::tempdir().unwrap();
    let (inbox, path) = filled_inbox(&dir).await;
    let exchange = unique("cxtn-crash-");
    let queue = unique("cxtn-crash-queue-");
    let url = format!("{BROKER}?exchange={exchange}&routing_key=cxtn.{{event}}&declare=true&exchange_type=topic");
    cxtn_outlets::connect(&url).await.unwrap();
    let connection = Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    // A durable queue outlives the killed publishers' connections, so every copy stays until it is read.
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.as_str().into(),
            exchange.as_str().into(),
            "cxtn.*".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    let kills = kill_until_done("rabbitmq", &inbox, &path, &url).await;
    assert!(kills >= 3, "killed mid-run only {kills} times");

    let mut ids = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        ids.push(message.properties.message_id().as_ref().unwrap().to_string());
    }
    let messages = ids.len();
    let counts = counted(ids);
    let duplicates = messages - EVENTS;
    eprintln!("rabbitmq: {messages} messages for {EVENTS} events, {duplicates} duplicates");
    assert!(counts.values().all(|&count| count >= 1));

    channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    channel
        .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
        .await
        .unwrap();
}
