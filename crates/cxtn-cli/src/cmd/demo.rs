//! `cxtn demo`: the whole webhook loop in one process, checked end to end.
//!
//! The sandbox stands in for CXTN, a receiver stores into a SQLite inbox, and the real management
//! client registers the endpoints over loopback HTTP. Every guide sample is sent in both encodings,
//! one notification twice, and one while its endpoint is paused; the demo passes only when the inbox
//! holds every expected event once and the handler saw each once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cxtn::events::samples;
use cxtn::model::DataEncoding;
use cxtn::receiver::{
    Arrival, ArrivalOutcome, Event, EventStatus, HandlerError, Inbox, Receiver, WorkerPolicy, handler_fn,
};
use cxtn::sandbox::{Outcome, Sandbox, Trigger, TriggerReport};
use cxtn::{EndpointStatus, Notification, WebhookEventType};
use serde::Serialize;

use crate::cli::DemoArgs;
use crate::error::CliError;
use crate::store::{self, Access};
use crate::ui::{BAD, BOLD, Cell, DIM, GOOD, ID, Ui};

/// The waits between the sandbox's delivery attempts: short, so a retry costs milliseconds.
const RETRY_SCHEDULE: [Duration; 3] = [
    Duration::from_millis(20),
    Duration::from_millis(50),
    Duration::from_millis(100),
];

/// The longest the demo waits for deliveries and the handler.
const WAIT: Duration = Duration::from_secs(10);

/// The width of a step's description, so the details line up.
const STEP_WIDTH: usize = 68;

/// The inbox file inside the demo's directory.
const INBOX_FILE: &str = "cxtn-inbox.sqlite";

pub(crate) async fn run(args: DemoArgs, ui: &Ui) -> Result<(), CliError> {
    let dir = directory(args.dir)?;
    let db = dir.join(INBOX_FILE);
    if db.exists() {
        return Err(
            CliError::usage(format!("{} already holds an inbox from an earlier run", dir.display()))
                .hint("Give --dir an empty directory, or leave --dir out to use a new temporary one."),
        );
    }
    let db_text = db.display().to_string();
    let step = Steps { ui };
    if !ui.json() {
        ui.out(ui.paint(BOLD, "The CXTN webhook loop, on this machine:"));
    }

    let sandbox = Sandbox::builder()
        .retry_schedule(RETRY_SCHEDULE)
        .delivery_timeout(Duration::from_secs(2))
        .start()
        .await?;
    step.done("a sandbox stands in for CXTN", &sandbox.base_url());

    let inbox = store::open(&db_text, crate::cli::DEFAULT_SCHEMA, Access::Create).await?;
    let handled = Handled::default();
    let token = format!("{:032x}", fastrand::u128(..));
    let receiver = Receiver::builder(inbox.clone())
        .path_token(&token)
        .handler(handled.handler())
        .worker_policy(
            WorkerPolicy::default()
                .poll_interval(Duration::from_millis(50))
                .backoff(Duration::from_millis(10), Duration::from_millis(100)),
        )
        .build()?;
    let arrivals = Arrivals::collect(&receiver);
    let running = receiver.bind("127.0.0.1:0").await?;
    let endpoint = format!("http://{}/cxtn/{token}", running.addr());
    step.done(
        "a receiver stores each delivery in a SQLite inbox",
        &format!("http://{}/cxtn/<token>", running.addr()),
    );

    let client = cxtn::Client::builder()
        .base_url(sandbox.base_url())
        .access_token(sandbox.token().expose_secret())
        .build()?;
    let webhooks = client.webhooks();
    webhooks.enable().await?;
    webhooks.create(WebhookEventType::Payment, &endpoint).await?;
    webhooks.create(WebhookEventType::AccountTransaction, &endpoint).await?;
    step.done(
        "the management client enabled webhooks and created two endpoints",
        "Payment, AccountTransaction",
    );

    let mut expected = Vec::new();
    let mut triggers = Vec::new();
    let mut sent = Vec::new();
    for sample in &samples::GUIDE {
        let (data, notification) = sample_data(sample)?;
        sent.push((sample.name, notification));
        for encoding in [DataEncoding::Object, DataEncoding::String] {
            triggers.push(Trigger::new(sample.event).data_json(data.clone()).encoding(encoding));
        }
    }
    for report in sandbox.trigger_batch(triggers).await? {
        let sample = cxtn::events::parse(report.body.as_bytes())
            .ok()
            .and_then(|n| sent.iter().find(|(_, s)| s.data() == n.data()))
            .map_or("?", |(name, _)| *name);
        expected.push(Expected::new(&report, sample, 1, ""));
    }
    expected.sort_by_key(|e| {
        let at = samples::GUIDE.iter().position(|s| s.name == e.sample);
        (at, e.encoding == DataEncoding::String)
    });
    step.done(
        &format!(
            "{} guide samples sent as objects and as strings, shuffled",
            expected.len()
        ),
        "7 samples x 2 encodings",
    );

    let duplicate = sandbox
        .trigger(Trigger::new("payment_completed").duplicate(true))
        .await?;
    expected.push(Expected::new(&duplicate, "payment_complete", 2, "sent twice"));
    step.done(
        "one payment_completed sent twice with the same eventId",
        duplicate.event_id.as_str(),
    );
    wait_settled(&sandbox, ui).await?;

    let mut problems = Vec::new();
    webhooks
        .set_status(WebhookEventType::AccountTransaction, EndpointStatus::Paused)
        .await?;
    let held = sandbox
        .trigger(Trigger::new("account_credit").set_json("amount", "250.50"))
        .await?;
    wait_settled(&sandbox, ui).await?;
    let held_while_paused = held.outcome == Outcome::Held && inbox.event(held.event_id.as_str()).await?.is_none();
    if !held_while_paused {
        problems.push(format!(
            "the account_credit {} sent while AccountTransaction was paused was not held (it was {})",
            held.event_id, held.outcome
        ));
    }
    step.check(
        held_while_paused,
        "AccountTransaction paused: an account_credit is held, not delivered",
        held.event_id.as_str(),
    );
    webhooks
        .set_status(WebhookEventType::AccountTransaction, EndpointStatus::Active)
        .await?;
    wait_settled(&sandbox, ui).await?;
    let delivered_after_resume = held
        .deliveries
        .iter()
        .all(|id| sandbox.delivery(*id).is_some_and(|d| d.outcome.is_delivered()));
    step.check(
        delivered_after_resume,
        "AccountTransaction resumed: the held account_credit is delivered",
        held.event_id.as_str(),
    );
    if !delivered_after_resume {
        problems.push(format!(
            "the held account_credit {} was not delivered after the endpoint was resumed",
            held.event_id
        ));
    }
    expected.push(Expected::new(&held, "funds_in", 1, "held while paused"));

    wait_handled(&handled, &expected, ui).await;
    let (rows, event_problems) = check(&expected, inbox.as_ref(), &handled, &sandbox).await?;
    problems.extend(event_problems);
    let stats = inbox.stats().await?;
    let redeliveries: u32 = expected.iter().map(|e| e.deliveries - 1).sum();
    if u64::from(redeliveries) != stats.duplicates {
        problems.push(format!(
            "the inbox counted {} duplicates, not the {redeliveries} sent",
            stats.duplicates
        ));
    }
    if stats.rejected > 0 || stats.dead > 0 {
        problems.push(format!(
            "the inbox holds {} rejected and {} dead-lettered deliveries; there should be none",
            stats.rejected, stats.dead
        ));
    }
    running.shutdown().await;
    drop(receiver);
    sandbox.shutdown().await;
    let arrived = arrivals.finish().await;
    if arrived.stored != expected.len() as u64 || arrived.duplicates != u64::from(redeliveries) || arrived.rejected > 0
    {
        problems.push(format!(
            "the receiver reported {} stored, {} duplicate and {} rejected deliveries; expected {}, {redeliveries} and 0",
            arrived.stored,
            arrived.duplicates,
            arrived.rejected,
            expected.len()
        ));
    }

    let ok = problems.is_empty();
    if ui.json() {
        ui.emit(&Report {
            ok,
            dir: dir.display().to_string(),
            inbox: db_text.clone(),
            events: rows,
            arrivals: arrived,
            duplicates: stats.duplicates,
            rejected: stats.rejected,
            held: Held {
                event_id: held.event_id.as_str(),
                held_while_paused,
                delivered_after_resume,
            },
            problems: &problems,
        })?;
    } else {
        print_rows(ui, &rows);
        ui.out("");
        if ok {
            ui.out(ui.paint(
                GOOD,
                format!(
                    "{} events arrived; each was stored and handled exactly once.",
                    expected.len()
                ),
            ));
            for twice in expected.iter().filter(|e| e.deliveries > 1) {
                let times = match twice.deliveries {
                    2 => "twice".to_owned(),
                    n => format!("{n} times"),
                };
                ui.out(format!(
                    "Deduplicated: {} arrived {times} and was stored and handled once.",
                    ui.paint(ID, &twice.event_id)
                ));
            }
            ui.out("Nothing was rejected or dead-lettered.");
        }
        ui.out(format!("The inbox is kept at {db_text}"));
        ui.out(ui.paint(DIM, format!("Look inside: cxtn inbox --db {db_text} list")));
    }
    if ok {
        Ok(())
    } else {
        Err(CliError::failed(problems.join("; ")).hint(format!("The inbox at {db_text} holds what did arrive.")))
    }
}

/// `--dir`, created when missing, or a new temporary directory that is kept.
fn directory(dir: Option<PathBuf>) -> Result<PathBuf, CliError> {
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| CliError::usage(format!("cannot create the directory {}: {e}", dir.display())))?;
            Ok(dir)
        }
        None => tempfile::Builder::new()
            .prefix("cxtn-demo-")
            .tempdir()
            .map(tempfile::TempDir::keep)
            .map_err(|e| {
                CliError::failed(format!("cannot create a temporary directory: {e}"))
                    .hint("Pass --dir PATH with a directory you can write to.")
            }),
    }
}

/// A guide sample's `data` as an object, with every digit kept, and the sample parsed.
fn sample_data(sample: &samples::Sample) -> Result<(String, Notification), CliError> {
    let notification = cxtn::events::parse(sample.body.as_bytes())
        .map_err(|e| CliError::failed(format!("the guide sample {} does not parse: {e}", sample.name)))?;
    let data = serde_json::to_string(notification.data())
        .map_err(|e| CliError::failed(format!("cannot write the data of the sample {}: {e}", sample.name)))?;
    Ok((data, notification))
}

async fn wait_settled(sandbox: &Sandbox, ui: &Ui) -> Result<(), CliError> {
    let _spinner = ui.spinner("waiting for the sandbox's deliveries");
    sandbox.wait_until_settled(WAIT).await?;
    Ok(())
}

/// Waits until the handler has seen every expected event, or the wait runs out.
async fn wait_handled(handled: &Handled, expected: &[Expected], ui: &Ui) {
    let spinner = ui.spinner("waiting for the handler");
    let started = Instant::now();
    loop {
        let seen = expected.iter().filter(|e| handled.count(&e.event_id) > 0).count();
        spinner.set(format!("waiting for the handler ({seen}/{})", expected.len()));
        if seen == expected.len() || started.elapsed() > WAIT {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Checks each expected event through the inbox and the handler; the rows to show and what is wrong.
async fn check(
    expected: &[Expected],
    inbox: &dyn Inbox,
    handled: &Handled,
    sandbox: &Sandbox,
) -> Result<(Vec<Row>, Vec<String>), CliError> {
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for e in expected {
        let record = inbox.event(&e.event_id).await?;
        let handled = handled.count(&e.event_id);
        let delivered = e
            .report_deliveries
            .iter()
            .all(|id| sandbox.delivery(*id).is_some_and(|d| d.outcome.is_delivered()));
        let (status, deliveries) = record
            .as_ref()
            .map_or(("missing", 0), |r| (r.status.as_str(), r.deliveries));
        match &record {
            None => problems.push(format!("{} ({}) never reached the inbox", e.event_id, e.sample)),
            Some(r) if r.deliveries != e.deliveries => problems.push(format!(
                "{} arrived {} times, not {}",
                e.event_id, r.deliveries, e.deliveries
            )),
            Some(r) if r.status != EventStatus::Processed => {
                problems.push(format!("{} is {}, not processed", e.event_id, r.status));
            }
            Some(_) => {}
        }
        if record.is_some() && handled != 1 {
            problems.push(format!("the handler saw {} {handled} times, not once", e.event_id));
        }
        if !delivered {
            problems.push(format!("the sandbox did not deliver {}", e.event_id));
        }
        rows.push(Row {
            event_id: e.event_id.clone(),
            event: e.event.clone(),
            sample: e.sample,
            encoding: e.encoding.as_str(),
            deliveries,
            handled,
            status,
            note: e.note,
        });
    }
    Ok((rows, problems))
}

fn print_rows(ui: &Ui, rows: &[Row]) {
    ui.out("");
    let cells: Vec<Vec<Cell>> = rows
        .iter()
        .map(|r| {
            let ok = r.status == "processed" && r.handled == 1;
            vec![
                Cell::styled(&r.event_id, ID),
                Cell::new(&r.event),
                Cell::new(r.sample),
                Cell::new(r.encoding),
                Cell::new(r.deliveries),
                Cell::new(r.handled),
                Cell::styled(r.status, if ok { GOOD } else { BAD }),
                Cell::styled(r.note, DIM),
            ]
        })
        .collect();
    ui.table(
        &[
            "EVENT ID", "EVENT", "SAMPLE", "DATA", "ARRIVED", "HANDLED", "STATUS", "",
        ],
        &cells,
    );
}

/// The step lines people see; nothing in `--json`.
struct Steps<'a> {
    ui: &'a Ui,
}

impl Steps<'_> {
    fn done(&self, what: &str, detail: &str) {
        self.check(true, what, detail);
    }

    fn check(&self, ok: bool, what: &str, detail: &str) {
        if self.ui.json() {
            return;
        }
        let mark = if ok {
            self.ui.paint(GOOD, "✓")
        } else {
            self.ui.paint(BAD, "✗")
        };
        let pad = " ".repeat(STEP_WIDTH.saturating_sub(what.chars().count()));
        self.ui
            .out(format!("  {mark} {what}{pad}  {}", self.ui.paint(DIM, detail)));
    }
}

/// An event the demo sent and expects in the inbox.
struct Expected {
    event_id: String,
    event: String,
    sample: &'static str,
    encoding: DataEncoding,
    deliveries: u32,
    note: &'static str,
    report_deliveries: Vec<cxtn::sandbox::DeliveryId>,
}

impl Expected {
    fn new(report: &TriggerReport, sample: &'static str, deliveries: u32, note: &'static str) -> Self {
        Self {
            event_id: report.event_id.as_str().to_owned(),
            event: report.event.clone(),
            sample,
            encoding: report.encoding,
            deliveries,
            note,
            report_deliveries: report.deliveries.clone(),
        }
    }
}

/// How many times the handler saw each event id.
#[derive(Debug, Clone, Default)]
struct Handled(Arc<Mutex<HashMap<String, u32>>>);

impl Handled {
    fn handler(&self) -> impl cxtn::receiver::Handler {
        let seen = self.0.clone();
        handler_fn(move |event: Event| {
            let seen = seen.clone();
            async move {
                let id = event.notification.event_id().as_str().to_owned();
                *seen
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(id)
                    .or_insert(0) += 1;
                Ok::<(), HandlerError>(())
            }
        })
    }

    fn count(&self, event_id: &str) -> u32 {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(event_id)
            .copied()
            .unwrap_or(0)
    }
}

/// What the receiver reported as deliveries arrived.
#[derive(Debug, Clone, Copy, Default, Serialize)]
struct Counts {
    stored: u64,
    duplicates: u64,
    rejected: u64,
}

#[derive(Debug)]
struct Arrivals {
    counts: Arc<Mutex<Counts>>,
    task: tokio::task::JoinHandle<()>,
}

impl Arrivals {
    fn collect(receiver: &Receiver) -> Self {
        let counts = Arc::new(Mutex::new(Counts::default()));
        let mut subscription = receiver.subscribe();
        let task_counts = counts.clone();
        let task = tokio::spawn(async move {
            while let Ok(arrival) = subscription.recv().await {
                let Arrival { outcome, .. } = arrival;
                let mut counts = task_counts.lock().unwrap_or_else(PoisonError::into_inner);
                match outcome {
                    ArrivalOutcome::Stored => counts.stored += 1,
                    ArrivalOutcome::Duplicate => counts.duplicates += 1,
                    _ => counts.rejected += 1,
                }
            }
        });
        Self { counts, task }
    }

    /// The counts once the receiver is gone and every arrival was read.
    async fn finish(self) -> Counts {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.task).await;
        *self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    event_id: String,
    event: String,
    sample: &'static str,
    encoding: &'static str,
    deliveries: u32,
    handled: u32,
    status: &'static str,
    note: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Held<'a> {
    event_id: &'a str,
    held_while_paused: bool,
    delivered_after_resume: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    ok: bool,
    dir: String,
    inbox: String,
    events: Vec<Row>,
    arrivals: Counts,
    duplicates: u64,
    rejected: u64,
    held: Held<'a>,
    problems: &'a [String],
}
