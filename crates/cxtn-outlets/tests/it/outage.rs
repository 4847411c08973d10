//! The broker goes away, then comes back, without stopping the shared server: a TCP proxy stands between the
//! outlet and the broker. "The broker goes away": the proxy drops every connection and refuses new ones;
//! "it comes back": the proxy accepts again. Events stay pending in the inbox meanwhile, a worker retries them,
//! and all of them arrive once the broker is back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cxtn_model::EventId;
use cxtn_outlets::Publish;
use cxtn_receiver::{EventFilter, EventStatus, Inbox, MemoryInbox, NewEvent, Worker, WorkerPolicy};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

struct Proxy {
    addr: SocketAddr,
    links: Arc<Mutex<Links>>,
    accept: JoinHandle<()>,
}

struct Links {
    up: bool,
    open: Vec<JoinHandle<()>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let links = Arc::new(Mutex::new(Links {
            up: true,
            open: Vec::new(),
        }));
        let accept = tokio::spawn({
            let links = links.clone();
            async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    let mut links = links.lock().unwrap();
                    if !links.up {
                        drop(inbound);
                        continue;
                    }
                    links.open.retain(|link| !link.is_finished());
                    links.open.push(tokio::spawn(async move {
                        let Ok(mut outbound) = TcpStream::connect(target).await else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }));
                }
            }
        });
        Self { addr, links, accept }
    }

    /// Drops every connection, and refuses new ones until [`Proxy::up`].
    async fn down(&self) {
        let open = {
            let mut links = self.links.lock().unwrap();
            links.up = false;
            std::mem::take(&mut links.open)
        };
        for link in open {
            link.abort();
            let _ = link.await;
        }
    }

    fn up(&self) {
        self.links.lock().unwrap().up = true;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for link in self.links.lock().unwrap().open.drain(..) {
            link.abort();
        }
    }
}

/// A name no other test uses.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}x{nanos}", std::process::id())
}

/// Stores the guide's samples; returns each event id with its body.
async fn store_samples(inbox: &MemoryInbox) -> HashMap<EventId, Bytes> {
    let mut stored = HashMap::new();
    for (n, sample) in cxtn_events::samples::GUIDE.iter().enumerate() {
        let notification = cxtn_events::parse(sample.body.as_bytes()).unwrap();
        let body = Bytes::from_static(sample.body.as_bytes());
        let event = NewEvent::new(
            notification.event_id().clone(),
            notification.event_name(),
            None,
            1_700_000_000_000 + i64::try_from(n).unwrap(),
            body.clone(),
        );
        inbox.store(event).await.unwrap();
        stored.insert(notification.event_id().clone(), body);
    }
    stored
}

fn worker(inbox: Arc<MemoryInbox>, publish: Publish) -> Worker {
    let policy = WorkerPolicy::default()
        .max_attempts(1_000)
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .handler_timeout(Duration::from_secs(20))
        .concurrency(4);
    Worker::new(inbox, Arc::new(publish), policy)
}

/// With the broker away, several rounds of the worker fail every event and leave it pending, with its attempts
/// and last error recorded.
async fn fails_while_away(worker: &Worker, inbox: &MemoryInbox, events: usize) {
    for _ in 0..3 {
        worker.run_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let stats = inbox.stats().await.unwrap();
    assert_eq!(stats.pending, events as u64, "{stats:?}");
    assert_eq!(stats.processed, 0, "{stats:?}");
    assert_eq!(stats.dead, 0, "{stats:?}");
    for record in inbox.events(EventFilter::all()).await.unwrap() {
        assert_eq!(record.status, EventStatus::Pending, "{}", record.event_id);
        assert!(
            record.attempts >= 2,
            "{}: retried, {} attempts",
            record.event_id,
            record.attempts
        );
        assert!(
            record.last_error.is_some(),
            "{}: the failure is recorded",
            record.event_id
        );
    }
}

/// Once the broker is back, the worker processes every event within a few retries.
async fn recovers(worker: &Worker, inbox: &MemoryInbox, events: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        worker.run_once().await.unwrap();
        let stats = inbox.stats().await.unwrap();
        if stats.processed == events as u64 {
            assert_eq!(stats.pending + stats.processing + stats.dead, 0, "{stats:?}");
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "not all processed: {stats:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_away_then_back_every_event_arrives_once() {
    use redis::AsyncCommands;
    use redis::streams::StreamRangeReply;

    let stream = unique("cxtn:test:outage:");
    let proxy = Proxy::start("127.0.0.1:6379".parse().unwrap()).await;
    let outlet = cxtn_outlets::connect(&format!("redis://{}/0?stream={stream}&dedupe_ttl=1h", proxy.addr))
        .await
        .unwrap();
    let inbox = Arc::new(MemoryInbox::new());
    let worker = worker(inbox.clone(), Publish::to(vec![outlet]));

    proxy.down().await;
    let stored = store_samples(&inbox).await;
    fails_while_away(&worker, &inbox, stored.len()).await;
    proxy.up();
    recovers(&worker, &inbox, stored.len()).await;

    let client = redis::Client::open("redis://127.0.0.1:6379/0").unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let reply: StreamRangeReply = connection.xrange_all(&stream).await.unwrap();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for entry in &reply.ids {
        let id: String = redis::from_redis_value(entry.map["cxtn-event-id"].clone()).unwrap();
        let body: Vec<u8> = redis::from_redis_value(entry.map["body"].clone()).unwrap();
        assert_eq!(body, stored[&EventId::new(id.clone())], "{id}: byte for byte");
        *seen.entry(id).or_default() += 1;
    }
    assert_eq!(seen.len(), stored.len(), "every event arrived: {seen:?}");
    assert!(seen.values().all(|&count| count == 1), "each once: {seen:?}");

    let mut keys: Vec<String> = connection.keys(format!("{stream}*")).await.unwrap();
    keys.push(stream.clone());
    let _: () = connection.del(keys).await.unwrap();
}

#[cfg(feature = "rabbitmq")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_away_then_back_every_event_arrives_at_least_once() {
    use lapin::options::{
        BasicGetOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
    };
    use lapin::types::{AMQPValue, FieldTable};
    use lapin::{Connection, ConnectionProperties};

    let exchange = unique("cxtn-outage-");
    let proxy = Proxy::start("127.0.0.1:5672".parse().unwrap()).await;
    let outlet = cxtn_outlets::connect(&format!(
        "amqp://guest:guest@{}/%2f?exchange={exchange}&routing_key={{event}}&declare=true&exchange_type=topic",
        proxy.addr
    ))
    .await
    .unwrap();

    let connection = Connection::connect("amqp://guest:guest@127.0.0.1:5672/%2f", ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let queue = queue.name().clone();
    channel
        .queue_bind(
            queue.clone(),
            exchange.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    let inbox = Arc::new(MemoryInbox::new());
    let worker = worker(inbox.clone(), Publish::to(vec![outlet]));
    proxy.down().await;
    let stored = store_samples(&inbox).await;
    fails_while_away(&worker, &inbox, stored.len()).await;
    proxy.up();
    recovers(&worker, &inbox, stored.len()).await;

    let mut seen: HashMap<EventId, usize> = HashMap::new();
    while let Some(got) = channel
        .basic_get(queue.clone(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        let delivery = got.delivery;
        let id = EventId::new(delivery.properties.message_id().as_ref().unwrap().as_str());
        assert_eq!(delivery.data, stored[&id].as_ref(), "{id}: byte for byte");
        let headers = delivery.properties.headers().as_ref().unwrap();
        match headers.inner().get("cxtn-event-id") {
            Some(AMQPValue::LongString(value)) => assert_eq!(value.as_bytes(), id.as_str().as_bytes()),
            other => panic!("{id}: cxtn-event-id is {other:?}"),
        }
        *seen.entry(id).or_default() += 1;
    }
    assert_eq!(seen.len(), stored.len(), "every event arrived at least once: {seen:?}");

    channel
        .queue_delete(queue, QueueDeleteOptions::default())
        .await
        .unwrap();
    channel
        .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
        .await
        .unwrap();
}
