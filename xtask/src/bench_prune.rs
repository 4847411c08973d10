//! `cargo xtask bench-prune`: how long pruning a large inbox takes, and what it does to the latency of the
//! stores that go on meanwhile.
//!
//! For each store: fill an inbox with `rows` processed events that arrived 40 days ago (written straight
//! into its tables), measure stores alone for a few seconds, then prune the old events
//! (`processed_older_than(30 days)`) while the same stores go on, and measure again.
//! Stores go through `Inbox::store` from `writers` tasks, each storing one new event after another, so the
//! latency is the inbox's own (no HTTP).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use bytes::Bytes;
use cxtn_receiver::{BodyHash, Inbox, NewEvent, PostgresInbox, PrunePolicy, PruneReport, SqliteInbox, Stored};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Rows written per transaction while filling.
const FILL_STEP: usize = 50_000;

/// What to measure.
pub(crate) struct Selection {
    pub(crate) rows: usize,
    pub(crate) writers: usize,
    pub(crate) seconds: u64,
    pub(crate) targets: Vec<String>,
}

impl Selection {
    fn wants(&self, target: &str) -> bool {
        self.targets.is_empty() || self.targets.iter().any(|t| t == target)
    }
}

/// Store latencies over one stretch of time.
struct Latencies {
    stores: usize,
    errors: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Latencies {
    fn line(&self, label: &str) -> String {
        format!(
            "| {label} | {} | {:.0} | {:.2} | {:.2} | {:.1} | {} |",
            self.stores,
            self.stores as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON),
            ms(self.p50),
            ms(self.p99),
            ms(self.max),
            self.errors
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

fn body(id: &str, at: i64) -> String {
    format!(
        r#"{{"eventId":"{id}","event":"account_credit","data":{{"objectId":{at},"userId":"C1234567","amount":"1250.00","currency":"GBP","accountId":"A-0042","transactionId":"T-{at}","reference":"invoice 2024-0042 for services rendered"}}}}"#
    )
}

pub(crate) fn run(selection: &Selection) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        if selection.wants("sqlite") {
            let dir = tempfile::tempdir().context("creating a temporary directory")?;
            let path = dir.path().join("bench-prune.sqlite");
            let inbox = SqliteInbox::open(&path)?;
            let started = Instant::now();
            fill_sqlite(&path, selection.rows)?;
            println!(
                "SQLite: {} processed rows written in {:.1} s; file {:.0} MiB",
                selection.rows,
                started.elapsed().as_secs_f64(),
                file_mib(&path)
            );
            measure("SQLite", Arc::new(inbox), selection).await?;
            println!("SQLite file after the prune: {:.0} MiB", file_mib(&path));
        }
        if selection.wants("postgres") {
            let url = std::env::var("CXTN_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
            let schema = format!("cxtn_bench_prune_{}", std::process::id());
            let inbox = PostgresInbox::builder(url.as_str()).schema(&schema).connect().await?;
            let started = Instant::now();
            let outcome = async {
                fill_postgres(&url, &schema, selection.rows).await?;
                println!(
                    "PostgreSQL: {} processed rows written in {:.1} s",
                    selection.rows,
                    started.elapsed().as_secs_f64()
                );
                measure("PostgreSQL", Arc::new(inbox), selection).await
            }
            .await;
            drop_schema(&url, &schema).await;
            outcome?;
        }
        Ok(())
    })
}

fn file_mib(path: &std::path::Path) -> f64 {
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let wal = path.with_extension("sqlite-wal");
    (size(path) + size(&wal)) as f64 / (1024.0 * 1024.0)
}

/// Writes `rows` processed events, 40 days old, straight into the inbox's table.
fn fill_sqlite(path: &std::path::Path, rows: usize) -> Result<()> {
    use cxtn_receiver::rusqlite::{Connection, params};
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let old = now_ms() - 40 * DAY_MS;
    let mut written = 0;
    while written < rows {
        let txn = conn.transaction()?;
        {
            let mut insert = txn.prepare(
                "INSERT INTO events (event_id, event, subscription, received_at_ms, body, status, attempts,
                     next_attempt_at_ms, body_hash)
                 VALUES (?1, 'account_credit', 'AccountTransaction', ?2, ?3, 'processed', 1, ?2, ?4)",
            )?;
            for i in written..(written + FILL_STEP).min(rows) {
                let id = format!("wh_old_{i:08}");
                let at = old + i64::try_from(i).unwrap_or(0);
                let body = body(&id, at);
                insert.execute(params![
                    id,
                    at,
                    body.as_bytes(),
                    BodyHash::of(body.as_bytes()).as_bytes()
                ])?;
            }
        }
        txn.commit()?;
        written = (written + FILL_STEP).min(rows);
    }
    Ok(())
}

/// Writes `rows` processed events, 40 days old, with one statement.
async fn fill_postgres(url: &str, schema: &str, rows: usize) -> Result<()> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let old = now_ms() - 40 * DAY_MS;
    let rows = i64::try_from(rows).unwrap_or(i64::MAX);
    let sample = body("wh_old_00000000", old);
    let sql = format!(
        "INSERT INTO \"{schema}\".events (event_id, event, subscription, received_at_ms, body, body_hash, status,
             attempts, next_attempt_at_ms)
         SELECT 'wh_old_' || lpad(i::text, 8, '0'), 'account_credit', 'AccountTransaction', $1::int8 + i,
             convert_to(replace($3::text, 'wh_old_00000000', 'wh_old_' || lpad(i::text, 8, '0')), 'UTF8'),
             sha256(convert_to(replace($3::text, 'wh_old_00000000', 'wh_old_' || lpad(i::text, 8, '0')), 'UTF8')),
             'processed', 1, $1::int8 + i
         FROM generate_series(0, $2::int8 - 1) AS i"
    );
    client.execute(&sql, &[&old, &rows, &sample]).await?;
    client
        .batch_execute(&format!("VACUUM ANALYZE \"{schema}\".events"))
        .await?;
    Ok(())
}

async fn drop_schema(url: &str, schema: &str) {
    if let Ok((client, connection)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await {
        tokio::spawn(connection);
        let _ = client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .await;
    }
}

/// Stores alone, then the prune with stores going on; prints a table.
async fn measure(name: &str, inbox: Arc<dyn Inbox>, selection: &Selection) -> Result<()> {
    let (quiet, _) = stores_during(&inbox, selection.writers, "before", async {
        tokio::time::sleep(Duration::from_secs(selection.seconds)).await;
        Ok(PruneReport::default())
    })
    .await?;
    let policy = PrunePolicy::default().processed_older_than(30 * DAY);
    let started = Instant::now();
    let pruning = inbox.clone();
    let (during, report) = stores_during(&inbox, selection.writers, "during", async move {
        pruning.prune(&policy).await.map_err(anyhow::Error::from)
    })
    .await?;
    let took = started.elapsed();
    println!();
    println!(
        "{name}: pruned {} events in {:.1} s ({:.0} rows/s), {} ids remembered, {:.0} MiB given back",
        report.events(),
        took.as_secs_f64(),
        report.events() as f64 / took.as_secs_f64().max(f64::EPSILON),
        report.remembered,
        report.reclaimed_bytes as f64 / (1024.0 * 1024.0)
    );
    println!();
    println!(
        "| {name}, {} writers | stores | stores/s | p50 ms | p99 ms | max ms | errors |",
        selection.writers
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    println!("{}", quiet.line("no prune"));
    println!("{}", during.line("during the prune"));
    Ok(())
}

/// Runs `writers` tasks storing new events while `work` runs; their latencies, and what `work` returned.
async fn stores_during(
    inbox: &Arc<dyn Inbox>,
    writers: usize,
    label: &'static str,
    work: impl std::future::Future<Output = Result<PruneReport>>,
) -> Result<(Latencies, PruneReport)> {
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (inbox, stop) = (inbox.clone(), stop.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("wh_{label}_{w}_{n}");
                    n += 1;
                    let event = NewEvent::new(
                        id.as_str(),
                        "account_credit",
                        Some("AccountTransaction".to_owned()),
                        now_ms(),
                        Bytes::from(body(&id, now_ms())),
                    );
                    let began = Instant::now();
                    match inbox.store(event).await {
                        Ok(Stored::New) => latencies.push(began.elapsed()),
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let started = Instant::now();
    let outcome = work.await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (latencies, failed) = task.await.context("a writer task failed")?;
        all.extend(latencies);
        errors += failed;
    }
    all.sort();
    let at = |p: f64| {
        let rank = ((all.len() as f64 - 1.0) * p).round() as usize;
        all.get(rank).copied().unwrap_or_default()
    };
    let latencies = Latencies {
        stores: all.len(),
        errors,
        elapsed,
        p50: at(0.50),
        p99: at(0.99),
        max: all.last().copied().unwrap_or_default(),
    };
    Ok((latencies, outcome?))
}
