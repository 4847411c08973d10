//! `cargo xtask bench-receiver`: deliveries per second and latency of the receiver under load,
//! against a bare hyper server that answers 200 at once (the ceiling).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use cxtn_receiver::{Inbox, MemoryInbox, PostgresInbox, Receiver, SqliteInbox};
use cxtn_transport::server::Server;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

const TOKEN: &str = "benchbenchbenchbenchbenchbench00";

/// One measured run.
struct Figures {
    target: &'static str,
    connections: usize,
    deliveries: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
    latencies: Vec<Duration>,
}

/// Which targets and connection counts to measure.
pub(crate) struct Selection {
    pub(crate) seconds: u64,
    pub(crate) connections: Vec<usize>,
    pub(crate) targets: Vec<String>,
}

impl Selection {
    fn wants(&self, target: &str) -> bool {
        self.targets.is_empty() || self.targets.iter().any(|t| t == target)
    }
}

pub(crate) fn run(selection: &Selection) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let duration = Duration::from_secs(selection.seconds);
        let mut all = Vec::new();
        for &connections in &selection.connections {
            if selection.wants("bare") {
                let (addr, stop) = bare_server().await?;
                all.push(load("bare hyper (ceiling)", addr, connections, duration).await);
                let _ = stop.send(());
            }
            if selection.wants("memory") {
                let inbox: Arc<dyn Inbox> = Arc::new(MemoryInbox::new());
                let running = receiver(inbox).await?;
                all.push(load("receiver, memory inbox", running.addr(), connections, duration).await);
                running.shutdown().await;
            }
            if selection.wants("sqlite") {
                let dir = tempfile::tempdir().context("creating a temporary directory")?;
                let sqlite = SqliteInbox::open(dir.path().join("bench.sqlite"))?;
                let inbox: Arc<dyn Inbox> = Arc::new(sqlite.clone());
                let running = receiver(inbox).await?;
                all.push(load("receiver, SQLite inbox", running.addr(), connections, duration).await);
                running.shutdown().await;
                let stats = sqlite.write_stats();
                println!(
                    "SQLite inbox at {connections} connections: {} transactions for {} operations, {:.1} per fsync",
                    stats.transactions,
                    stats.operations,
                    stats.mean_batch()
                );
            }
        }
        if selection.wants("postgres") {
            let url = std::env::var("CXTN_BENCH_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
            for &connections in &selection.connections {
                for receivers in [1usize, 3] {
                    let schema = format!(
                        "cxtn_bench_{}",
                        std::iter::repeat_with(fastrand::lowercase).take(8).collect::<String>()
                    );
                    let mut running = Vec::new();
                    for _ in 0..receivers {
                        let inbox = PostgresInbox::builder(&url).schema(&schema).connect().await.context(
                            "connecting to PostgreSQL; start it on 127.0.0.1:5432 or set CXTN_BENCH_POSTGRES_URL",
                        )?;
                        running.push(receiver(Arc::new(inbox)).await?);
                    }
                    let addrs: Vec<SocketAddr> = running.iter().map(cxtn_receiver::Running::addr).collect();
                    let target = if receivers == 1 {
                        "receiver, PostgreSQL inbox"
                    } else {
                        "3 receivers, one PostgreSQL"
                    };
                    all.push(load_spread(target, &addrs, connections, duration).await);
                    for r in running {
                        r.shutdown().await;
                    }
                    drop_schema(&url, &schema).await;
                }
            }
        }
        print_table(&all);
        Ok(())
    })
}

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

async fn drop_schema(url: &str, schema: &str) {
    if let Ok((client, connection)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await {
        tokio::spawn(connection);
        let _ = client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .await;
    }
}

/// As [`load`], spreading the connections over several receivers.
async fn load_spread(target: &'static str, addrs: &[SocketAddr], connections: usize, duration: Duration) -> Figures {
    let mut parts = Vec::new();
    for (i, addr) in addrs.iter().enumerate() {
        let share = connections / addrs.len() + usize::from(i < connections % addrs.len());
        if share > 0 {
            parts.push(load(target, *addr, share, duration));
        }
    }
    let results = futures_join_all(parts).await;
    let mut merged = Figures {
        target,
        connections,
        deliveries: 0,
        per_second: 0.0,
        p50: Duration::ZERO,
        p99: Duration::ZERO,
        errors: 0,
        latencies: Vec::new(),
    };
    for mut f in results {
        merged.deliveries += f.deliveries;
        merged.per_second += f.per_second;
        merged.errors += f.errors;
        merged.latencies.append(&mut f.latencies);
    }
    merged.latencies.sort();
    merged.p50 = percentile(&merged.latencies, 0.50);
    merged.p99 = percentile(&merged.latencies, 0.99);
    merged
}

async fn futures_join_all<F: std::future::Future<Output = Figures> + Send + 'static>(futures: Vec<F>) -> Vec<Figures> {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        if let Ok(f) = handle.await {
            out.push(f);
        }
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(rank).copied().unwrap_or_default()
}

async fn receiver(inbox: Arc<dyn Inbox>) -> Result<cxtn_receiver::Running> {
    let receiver = Receiver::builder(inbox).path_token(TOKEN).build()?;
    Ok(receiver.bind("127.0.0.1:0").await?)
}

async fn bare_server() -> Result<(SocketAddr, tokio::sync::oneshot::Sender<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = service_fn(|request: hyper::Request<hyper::body::Incoming>| async move {
        let _ = request.into_body().collect().await;
        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
            b"{\"status\":\"stored\"}",
        ))))
    });
    tokio::spawn(Server::new().serve(listener, service, async move {
        let _ = stopped.await;
    }));
    Ok((addr, stop))
}

/// Drives `connections` keep-alive connections, each posting distinct notifications back to back.
async fn load(target: &'static str, addr: SocketAddr, connections: usize, duration: Duration) -> Figures {
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for connection in 0..connections {
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let Ok(stream) = TcpStream::connect(addr).await else {
                return (latencies, 1);
            };
            let _ = stream.set_nodelay(true);
            let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await else {
                return (latencies, 1);
            };
            tokio::spawn(conn);
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let body = format!(
                    r#"{{"eventId": "wh_{connection:04}_{n:012}", "event": "payment_completed", "data": {{"objectId": {n}, "userId": "C00081866", "amount": 10.00, "currency": "GBP"}}}}"#
                );
                let request = hyper::Request::post(format!("http://{addr}/cxtn/{TOKEN}"))
                    .header("content-type", "application/json")
                    .header("host", "bench")
                    .body(Full::new(Bytes::from(body)));
                let Ok(request) = request else {
                    errors += 1;
                    continue;
                };
                let started = Instant::now();
                match sender.send_request(request).await {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        let _ = response.into_body().collect().await;
                        if ok {
                            latencies.push(started.elapsed());
                        } else {
                            errors += 1;
                        }
                    }
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((mut l, e)) = task.await {
            latencies.append(&mut l);
            errors += e;
        }
    }
    latencies.sort();
    Figures {
        target,
        connections,
        deliveries: latencies.len(),
        per_second: latencies.len() as f64 / duration.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        errors,
        latencies,
    }
}

fn print_table(all: &[Figures]) {
    println!();
    println!("| target | connections | deliveries/s | p50 | p99 | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    for f in all {
        println!(
            "| {} | {} | {:.0} | {:.2} ms | {:.2} ms | {} |",
            f.target,
            f.connections,
            f.per_second,
            f.p50.as_secs_f64() * 1e3,
            f.p99.as_secs_f64() * 1e3,
            f.errors
        );
    }
    println!();
    let mut counts: Vec<usize> = all.iter().map(|f| f.connections).collect();
    counts.dedup();
    for connections in counts {
        let rate = |target: &str| {
            all.iter()
                .find(|f| f.target == target && f.connections == connections)
                .map_or(0.0, |f| f.per_second)
        };
        let ceiling = rate("bare hyper (ceiling)");
        if ceiling > 0.0 {
            println!(
                "{connections:>2} connections: memory inbox at {:.0}% of the ceiling, SQLite inbox at {:.0}% ({} deliveries in all)",
                100.0 * rate("receiver, memory inbox") / ceiling,
                100.0 * rate("receiver, SQLite inbox") / ceiling,
                all.iter()
                    .filter(|f| f.connections == connections)
                    .map(|f| f.deliveries)
                    .sum::<usize>()
            );
        }
    }
}
