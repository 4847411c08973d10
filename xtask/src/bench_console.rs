//! `cargo xtask bench-console`: how fast the console's queries answer on a large SQLite inbox.
//!
//! Fills a SQLite inbox with `events` events (default 1 000 000): the file is created by `SqliteInbox::open`,
//! the events (each built by `NewEvent::new`, so with its digest and `objectId`) are written straight into its
//! table in transactions of many rows, as a receiver and its workers would have left them: a mix of event
//! names and subscriptions, arrival times spread over the last 7 days, mostly processed, some pending, dead,
//! quarantined or in processing.
//! One event in a thousand then gets a conflicting version through `Inbox::store`.
//! Then times each console query over repeated runs, through the `Inbox` trait as the console calls it, and
//! prints p50 and p99 per query.
//!
//! Each query is a named [`Case`]: another one is one more entry in [`cases`].
//! The console's pages over loopback HTTP (`http::cases`) follow the queries beneath them.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use cxtn_receiver::inbox::EventCursor;
use cxtn_receiver::{EventFilter, EventStatus, Inbox, NewEvent, SqliteInbox, Stored};

mod http;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const HOUR_MS: i64 = 60 * 60 * 1000;
/// A page of the console's events table.
const PAGE: usize = 50;

/// What to measure.
pub(crate) struct Selection {
    /// Events in the inbox.
    pub(crate) events: usize,
    /// Timed runs of each query.
    pub(crate) runs: usize,
    /// Where the inbox lives: filled when missing, reused when it holds events already.
    pub(crate) db: Option<PathBuf>,
}

/// The event names stored, with their subscription and their share of the traffic (per thousand).
const NAMES: [(&str, Option<&str>, u32); 6] = [
    ("account_credit", Some("AccountTransaction"), 350),
    ("account_debit", Some("AccountTransaction"), 300),
    ("payment_completed", Some("Payment"), 200),
    ("trade_settled", Some("Payment"), 100),
    ("card_authorised", None, 40),
    ("beneficiary_added", None, 10),
];

/// What a query needs to know of the inbox: values that exist in it, and a cursor deep into the listing.
#[derive(Clone)]
pub(crate) struct Known {
    /// Now, as the fill saw it (milliseconds since the Unix epoch).
    pub(crate) now_ms: i64,
    /// An event id stored in the inbox.
    pub(crate) event_id: String,
    /// That event's `objectId`.
    pub(crate) object_id: String,
    /// Where page 99 of the unfiltered listing ends: page 100 starts after it.
    pub(crate) page_99_end: EventCursor,
}

/// What a case runs: one query, returning how many rows or buckets it read.
pub(crate) type Query = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result<usize>> + Send>> + Send + Sync>;

/// One named query, timed on its own.
pub(crate) struct Case {
    pub(crate) name: &'static str,
    pub(crate) query: Query,
}

/// A case that lists events with `filter`.
fn listing(name: &'static str, inbox: &Arc<dyn Inbox>, filter: EventFilter) -> Case {
    let inbox = inbox.clone();
    Case {
        name,
        query: Box::new(move || {
            let inbox = inbox.clone();
            let filter = filter.clone();
            Box::pin(async move { Ok(inbox.events(filter).await?.len()) })
        }),
    }
}

/// The console's queries, in the order the table shows them.
pub(crate) fn cases(inbox: &Arc<dyn Inbox>, known: &Known) -> Vec<Case> {
    let page = || EventFilter::all().limit(PAGE);
    let day_ago = known.now_ms - DAY_MS;
    let stats = {
        let inbox = inbox.clone();
        Case {
            name: "stats (counts by status)",
            query: Box::new(move || {
                let inbox = inbox.clone();
                Box::pin(async move {
                    let stats = inbox.stats().await?;
                    Ok(usize::try_from(stats.pending + stats.processed + stats.dead).unwrap_or(usize::MAX))
                })
            }),
        }
    };
    let arrivals = {
        let inbox = inbox.clone();
        let since = known.now_ms - 6 * HOUR_MS;
        Case {
            name: "arrivals per minute, last 6 hours",
            query: Box::new(move || {
                let inbox = inbox.clone();
                Box::pin(async move { Ok(inbox.arrivals(since, 60_000).await?.len()) })
            }),
        }
    };
    let rejections = {
        let inbox = inbox.clone();
        Case {
            name: "rejections, first page",
            query: Box::new(move || {
                let inbox = inbox.clone();
                Box::pin(async move { Ok(inbox.rejections_page(PAGE, None).await?.len()) })
            }),
        }
    };
    let prefix: String = known.event_id.chars().take(8).collect();
    vec![
        listing("first page", inbox, page()),
        listing("status = dead", inbox, page().status(EventStatus::Dead)),
        listing("status = pending", inbox, page().status(EventStatus::Pending)),
        listing("event = trade_settled", inbox, page().event("trade_settled")),
        listing(
            "event = beneficiary_added (1%)",
            inbox,
            page().event("beneficiary_added"),
        ),
        listing("subscription = Payment", inbox, page().subscription("Payment")),
        listing(
            "time range (one day, a day ago)",
            inbox,
            page().received_from(day_ago - DAY_MS).received_until(day_ago),
        ),
        listing(
            "status = dead, event = payment_completed, last 3 days",
            inbox,
            page()
                .status(EventStatus::Dead)
                .event("payment_completed")
                .received_from(known.now_ms - 3 * DAY_MS),
        ),
        listing("search: an eventId", inbox, page().search(known.event_id.clone())),
        listing("search: an eventId prefix of 8", inbox, page().search(prefix)),
        listing("search: an objectId", inbox, page().search(known.object_id.clone())),
        listing("search: `wh_` (every event)", inbox, page().search("wh_")),
        listing(
            "page 100 (after a cursor)",
            inbox,
            page().after(known.page_99_end.clone()),
        ),
        listing(
            "page 100 of status = processed",
            inbox,
            page().status(EventStatus::Processed).after(known.page_99_end.clone()),
        ),
        listing("oldest first", inbox, page().oldest_first()),
        stats,
        arrivals,
        rejections,
    ]
}

pub(crate) fn run(selection: &Selection) -> Result<()> {
    if selection.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let temp = tempfile::tempdir().context("creating a temporary directory")?;
        let path = selection
            .db
            .clone()
            .unwrap_or_else(|| temp.path().join("bench-console.sqlite"));
        let inbox = SqliteInbox::open(&path)?;
        let held = inbox.stats().await?;
        let held = held.pending + held.processing + held.processed + held.dead + held.quarantined;
        let now_ms = if held == 0 {
            let started = Instant::now();
            let now_ms = fill(&inbox, &path, selection.events).await?;
            println!(
                "filled {} events in {:.1} s; file {:.0} MiB",
                selection.events,
                started.elapsed().as_secs_f64(),
                file_mib(&path)
            );
            now_ms
        } else {
            println!("reusing {} events in {}", held, path.display());
            let newest = inbox.events(EventFilter::all().limit(1)).await?;
            newest.first().map_or_else(now_ms, |r| r.received_at_ms)
        };
        let inbox: Arc<dyn Inbox> = Arc::new(inbox);
        let known = known(&inbox, now_ms).await?;
        let pages = http::serve(Arc::clone(&inbox)).await?;
        let mut all = cases(&inbox, &known);
        all.extend(http::cases(&pages, &known)?);
        measure(&all, selection.runs).await
    })
}

/// What the queries look for: an event half-way through the week, and where page 99 ends.
async fn known(inbox: &Arc<dyn Inbox>, now_ms: i64) -> Result<Known> {
    let middle = inbox
        .events(EventFilter::all().received_until(now_ms - 3 * DAY_MS).limit(1))
        .await?;
    let middle = middle.first().context("the inbox holds no event older than 3 days")?;
    let mut cursor = None;
    for _ in 0..99 {
        let mut filter = EventFilter::all().limit(PAGE);
        if let Some(after) = cursor.take() {
            filter = filter.after(after);
        }
        let page = inbox.events(filter).await?;
        cursor = Some(page.last().context("the inbox holds fewer than 100 pages")?.cursor());
    }
    Ok(Known {
        now_ms,
        event_id: middle.event_id.to_string(),
        object_id: middle.object_id.clone().context("the events stored have an objectId")?,
        page_99_end: cursor.context("page 99 has an end")?,
    })
}

/// Runs each case `runs` times after one warm-up run; prints a table of p50, p99 and rows.
async fn measure(cases: &[Case], runs: usize) -> Result<()> {
    println!();
    println!("| query | rows | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    for case in cases {
        let rows = (case.query)()
            .await
            .with_context(|| format!("running `{}`", case.name))?;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            (case.query)().await?;
            times.push(started.elapsed());
        }
        times.sort_unstable();
        println!(
            "| {} | {rows} | {:.2} | {:.2} | {:.2} |",
            case.name,
            ms(percentile(&times, 50)),
            ms(percentile(&times, 99)),
            ms(times.last().copied().unwrap_or_default()),
        );
    }
    Ok(())
}

/// The `p`th percentile of sorted `times` (nearest rank).
fn percentile(times: &[Duration], p: usize) -> Duration {
    let rank = (times.len() * p).div_ceil(100).max(1);
    times.get(rank - 1).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

fn file_mib(path: &Path) -> f64 {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let wal = path.with_extension("sqlite-wal");
    (size(path) + size(&wal)) as f64 / (1024.0 * 1024.0)
}

/// One generated event: its name, subscription, arrival and body.
fn generated(i: usize, now_ms: i64, rng: &mut fastrand::Rng) -> NewEvent {
    let mut pick = rng.u32(0..1000);
    let (name, subscription) = NAMES
        .iter()
        .find(|(_, _, share)| {
            let hit = pick < *share;
            pick = pick.saturating_sub(*share);
            hit
        })
        .map_or(("account_credit", Some("AccountTransaction")), |(n, s, _)| (*n, *s));
    // Spread over 7 days, some in the same millisecond: ties are ordered by event id.
    let at = now_ms - rng.i64(0..7 * DAY_MS) / 10 * 10;
    let id = format!("wh_{:032x}", rng.u128(..));
    let object_id = 100_000 + i;
    let data = match name {
        "payment_completed" => format!(
            r#"{{"objectId":{object_id},"userId":"C{:08}","amount":{}.{:02},"currency":"GBP"}}"#,
            rng.u32(0..100_000),
            rng.u32(1..5000),
            rng.u32(0..100)
        ),
        "trade_settled" => format!(
            r#"{{"objectId":{object_id},"userId":"C{:08}","sellCurrency":"GBP","sellAmount":{}.{:02},"buyCurrency":"EUR","buyAmount":{}.00}}"#,
            rng.u32(0..100_000),
            rng.u32(1..5000),
            rng.u32(0..100),
            rng.u32(1..5000)
        ),
        _ => format!(
            r#"{{"objectId":{object_id},"userId":"C{:08}","source":"deposit","origin":"Automatic Allocation","amount":{}.{:02},"baseCcyCode":"GBP","ccyCode":"GBP","transactionDateTime":"2026-11-30T16:28:28.3027309"}}"#,
            rng.u32(0..100_000),
            rng.u32(1..5000),
            rng.u32(0..100)
        ),
    };
    let body = format!(r#"{{"eventId":"{id}","event":"{name}","data":{data}}}"#);
    NewEvent::new(id, name, subscription.map(str::to_owned), at, Bytes::from(body))
}

/// The status a worker would have left an event in: 94% processed, 2% pending, 1.5% dead, 1% quarantined,
/// 1% in processing, 0.5% pending again after a failed attempt.
fn status_of(rng: &mut fastrand::Rng) -> (EventStatus, u32, Option<&'static str>) {
    match rng.u32(0..1000) {
        0..940 => (EventStatus::Processed, 1, None),
        940..960 => (EventStatus::Pending, 0, None),
        960..975 => (
            EventStatus::Dead,
            5,
            Some("the ledger answered 503 Service Unavailable"),
        ),
        975..985 => (EventStatus::Quarantined, 0, None),
        985..995 => (EventStatus::Processing, 1, None),
        _ => (EventStatus::Pending, 1, Some("the ledger timed out")),
    }
}

/// Writes `events` generated events into the inbox file in transactions of many rows, each with the fields
/// [`NewEvent::new`] gives it and a status; then stores a conflicting version of one event in a thousand
/// through the inbox. Returns the time the events were generated against.
async fn fill(inbox: &SqliteInbox, path: &Path, events: usize) -> Result<i64> {
    use cxtn_receiver::rusqlite::{Connection, params};
    const STEP: usize = 50_000;
    let now_ms = now_ms();
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let mut rng = fastrand::Rng::with_seed(7);
    let mut conflicting = Vec::new();
    let mut written = 0;
    while written < events {
        let txn = conn.transaction()?;
        {
            let mut insert = txn.prepare(
                "INSERT INTO events (event_id, event, subscription, received_at_ms, body, status, attempts,
                     last_error, next_attempt_at_ms, body_hash, quarantine_reason, object_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?4, ?9, ?10, ?11)",
            )?;
            for i in written..(written + STEP).min(events) {
                let event = generated(i, now_ms, &mut rng);
                let (status, attempts, error) = status_of(&mut rng);
                let reason = (status == EventStatus::Quarantined).then_some("`data.amount` is not a decimal number");
                insert.execute(params![
                    event.event_id.as_str(),
                    event.event,
                    event.subscription,
                    event.received_at_ms,
                    event.body.as_ref(),
                    status.as_str(),
                    attempts,
                    error,
                    event.body_hash.as_bytes(),
                    reason,
                    event.object_id,
                ])?;
                if i % 1000 == 999 {
                    conflicting.push(event);
                }
            }
        }
        txn.commit()?;
        written = (written + STEP).min(events);
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    drop(conn);
    for event in conflicting {
        let changed = String::from_utf8_lossy(&event.body).replace("\"userId\":\"C", "\"userId\":\"D");
        let other = NewEvent::new(
            event.event_id,
            event.event,
            event.subscription,
            event.received_at_ms + 1000,
            Bytes::from(changed),
        );
        if inbox.store(other).await? != Stored::Conflict {
            bail!("a changed body was not stored as a conflicting version");
        }
    }
    Ok(now_ms)
}
