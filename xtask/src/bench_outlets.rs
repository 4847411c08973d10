//! `cargo xtask bench-outlets`: how fast stored events reach each broker, and how long one takes from its store
//! to the broker's confirmation.
//!
//! For each broker (the local NATS with JetStream, RabbitMQ and Redis): fill a SQLite inbox with `events`
//! events, then time a `Worker` running `Publish` to the broker until every event is processed (events per
//! second). Then, with the worker running, store `paced` more events one every 2 ms and time each from the call
//! to `Inbox::store` to the moment every outlet confirmed it (p50, p99): the durable store, the worker's pickup
//! (it polls every 5 ms) and the broker's acknowledgement.
//! Each run uses its own stream, exchange and queue, and removes them at the end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use cxtn_outlets::Publish;
use cxtn_receiver::{Event, HandlerError, Inbox, NewEvent, SqliteInbox, Worker, WorkerPolicy, handler_fn};

/// What to measure.
pub(crate) struct Selection {
    pub(crate) events: usize,
    pub(crate) paced: usize,
    pub(crate) targets: Vec<String>,
}

impl Selection {
    fn wants(&self, target: &str) -> bool {
        self.targets.is_empty() || self.targets.iter().any(|t| t == target)
    }
}

/// One broker's scratch destination.
enum Broker {
    Nats {
        stream: String,
    },
    RabbitMq {
        exchange: String,
        channel: lapin::Channel,
        queue: lapin::types::ShortString,
    },
    Redis {
        stream: String,
    },
}

const NATS: &str = "nats://127.0.0.1:4222";
const RABBITMQ: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const REDIS: &str = "redis://127.0.0.1:6379/0";

impl Broker {
    /// Connects an outlet to a fresh destination on `target`.
    async fn open(target: &str) -> Result<(Self, Box<dyn cxtn_outlets::Outlet>)> {
        let id = format!("{}x{}", std::process::id(), now_ms());
        match target {
            "nats" => {
                let stream = format!("CXTN_BENCH_{id}");
                let url = format!("{NATS}?subject=cxtn.bench.{id}.{{event}}&stream={stream}&create_stream=true");
                let outlet = cxtn_outlets::connect(&url).await?;
                Ok((Self::Nats { stream }, outlet))
            }
            "rabbitmq" => {
                use lapin::options::{QueueBindOptions, QueueDeclareOptions};
                use lapin::types::FieldTable;
                let exchange = format!("cxtn-bench-{id}");
                let url =
                    format!("{RABBITMQ}?exchange={exchange}&routing_key={{event}}&declare=true&exchange_type=topic");
                let outlet = cxtn_outlets::connect(&url).await?;
                let connection = lapin::Connection::connect(RABBITMQ, lapin::ConnectionProperties::default()).await?;
                let channel = connection.create_channel().await?;
                let queue = channel
                    .queue_declare(
                        "".into(),
                        QueueDeclareOptions {
                            exclusive: true,
                            ..QueueDeclareOptions::default()
                        },
                        FieldTable::default(),
                    )
                    .await?
                    .name()
                    .clone();
                channel
                    .queue_bind(
                        queue.clone(),
                        exchange.as_str().into(),
                        "#".into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
                Ok((
                    Self::RabbitMq {
                        exchange,
                        channel,
                        queue,
                    },
                    outlet,
                ))
            }
            "redis" => {
                let stream = format!("cxtn:bench:{id}");
                let outlet = cxtn_outlets::connect(&format!("{REDIS}?stream={stream}&dedupe_ttl=1h")).await?;
                Ok((Self::Redis { stream }, outlet))
            }
            other => bail!("unknown target {other}: use nats, rabbitmq or redis"),
        }
    }

    /// Removes the stream, exchange or queue.
    async fn remove(self) -> Result<()> {
        match self {
            Self::Nats { stream } => {
                let client = async_nats::connect(NATS).await?;
                async_nats::jetstream::new(client)
                    .delete_stream(&stream)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            Self::RabbitMq {
                exchange,
                channel,
                queue,
            } => {
                use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
                channel.queue_delete(queue, QueueDeleteOptions::default()).await?;
                channel
                    .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                    .await?;
            }
            Self::Redis { stream } => {
                use redis::AsyncCommands;
                let client = redis::Client::open(REDIS)?;
                let mut connection = client.get_multiplexed_async_connection().await?;
                let mut keys: Vec<String> = connection.keys(format!("{stream}*")).await?;
                keys.push(stream);
                for chunk in keys.chunks(1_000) {
                    let _: () = connection.del(chunk).await?;
                }
            }
        }
        Ok(())
    }
}

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

fn new_event(id: &str) -> NewEvent {
    let at = now_ms();
    let body = format!(
        r#"{{"eventId":"{id}","event":"account_credit","data":{{"objectId":{at},"userId":"C00081866","source":"deposit","origin":"Automatic Allocation","amount":10,"baseCcyCode":"GBP","ccyCode":"GBP","transactionDateTime":"2024-06-21T12:58:01.9953917+01:00"}}}}"#
    );
    NewEvent::new(
        id,
        "account_credit",
        Some("AccountTransaction".to_owned()),
        at,
        Bytes::from(body),
    )
}

/// When each paced event was handed to `Inbox::store`, and how long each took until every outlet confirmed it.
#[derive(Default)]
struct Clock {
    stored: HashMap<String, Instant>,
    latencies: Vec<Duration>,
}

pub(crate) fn run(selection: &Selection) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        println!("| broker | events drained | events/s | paced events | store to ack p50 | p99 | max |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for target in ["nats", "rabbitmq", "redis"] {
            if selection.wants(target) {
                measure(target, selection)
                    .await
                    .with_context(|| format!("{target}: is the local broker running?"))?;
            }
        }
        Ok(())
    })
}

async fn measure(target: &str, selection: &Selection) -> Result<()> {
    let (broker, outlet) = Broker::open(target).await?;
    let dir = tempfile::tempdir()?;
    let inbox = Arc::new(SqliteInbox::open(dir.path().join("inbox.db"))?);

    let fillers: Vec<_> = (0..32)
        .map(|task| {
            let inbox = inbox.clone();
            let events = selection.events;
            tokio::spawn(async move {
                for n in (task..events).step_by(32) {
                    inbox.store(new_event(&format!("wh_bench_{n}"))).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for filler in fillers {
        filler.await??;
    }

    let clock = Arc::new(Mutex::new(Clock::default()));
    let timing = clock.clone();
    let publish = Publish::to(vec![outlet]).then(handler_fn(move |event: Event| {
        let timing = timing.clone();
        async move {
            let mut clock = timing.lock().map_err(|_| HandlerError::from("the clock is poisoned"))?;
            if let Some(at) = clock.stored.get(event.notification.event_id().as_str()).copied() {
                clock.latencies.push(at.elapsed());
            }
            Ok(())
        }
    }));
    let policy = WorkerPolicy::default()
        .poll_interval(Duration::from_millis(5))
        .concurrency(16);
    let worker = Arc::new(Worker::new(inbox.clone(), Arc::new(publish), policy));

    let started = Instant::now();
    loop {
        worker.run_once().await?;
        let stats = inbox.stats().await?;
        if stats.processed as usize >= selection.events {
            break;
        }
        if stats.dead > 0 {
            let dead = inbox
                .events(
                    cxtn_receiver::EventFilter::all()
                        .status(cxtn_receiver::EventStatus::Dead)
                        .limit(1),
                )
                .await?;
            let why = dead
                .first()
                .and_then(|record| record.last_error.clone())
                .unwrap_or_default();
            bail!("{} events were dead-lettered: {why}", stats.dead);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drained = started.elapsed();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let worker = worker.clone();
        async move {
            worker
                .run(async {
                    let _ = stopped.await;
                })
                .await;
        }
    });
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    for n in 0..selection.paced {
        tick.tick().await;
        let id = format!("wh_paced_{n}");
        clock
            .lock()
            .map_err(|_| anyhow::anyhow!("the clock is poisoned"))?
            .stored
            .insert(id.clone(), Instant::now());
        inbox.store(new_event(&id)).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut latencies = loop {
        let done = clock
            .lock()
            .map_err(|_| anyhow::anyhow!("the clock is poisoned"))?
            .latencies
            .clone();
        if done.len() >= selection.paced {
            break done;
        }
        if Instant::now() > deadline {
            bail!("only {} of {} paced events were confirmed", done.len(), selection.paced);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let _ = stop.send(());
    running.await?;

    latencies.sort();
    let at = |p: f64| {
        let rank = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies.get(rank).copied().unwrap_or_default().as_secs_f64() * 1000.0
    };
    println!(
        "| {target} | {} | {:.0} | {} | {:.2} ms | {:.2} ms | {:.2} ms |",
        selection.events,
        selection.events as f64 / drained.as_secs_f64().max(f64::EPSILON),
        selection.paced,
        at(0.50),
        at(0.99),
        at(1.0),
    );
    broker.remove().await
}
