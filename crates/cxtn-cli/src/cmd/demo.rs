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

use cxtn::receiver::{Arrival, ArrivalOutcome, Event, HandlerError, Inbox, Receiver, WorkerPolicy, handler_fn};
use cxtn::sandbox::{Arrivals, Held, Management, Progress, Recorded, RecordedEvent, Report, Role, Sandbox, Scenario};
use cxtn::{EndpointStatus, WebhookEventType};
use serde::Serialize;

use crate::cli::DemoArgs;
use crate::error::CliError;
use crate::store::{self, Access};
use crate::ui::{BAD, BOLD, Cell, DIM, GOOD, ID, Render, Spinner, Ui};

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
    let mut steps = Steps { ui, waiting: None };
    ui.human(ui.paint(BOLD, "The CXTN webhook loop, on this machine:"));

    let sandbox = Sandbox::builder()
        .retry_schedule(RETRY_SCHEDULE)
        .delivery_timeout(Duration::from_secs(2))
        .start()
        .await?;
    steps.check(true, "the local simulator stands in for CXTN", &sandbox.base_url());

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
    let arrivals = ArrivalCounter::collect(&receiver);
    let running = receiver.bind("127.0.0.1:0").await?;
    steps.check(
        true,
        "a receiver stores each delivery in a SQLite inbox",
        &format!("http://{}/cxtn/<token>", running.addr()),
    );

    let client = cxtn::Client::builder()
        .configure(|webhooks| {
            webhooks
                .base_url(sandbox.base_url())
                .access_token(sandbox.token().expose_secret())
        })
        .build()?;
    let report = Scenario::new(format!("http://{}/cxtn/{token}", running.addr()))
        .wait(WAIT)
        .run(&sandbox, &ThroughClient(client.webhooks()), &mut |p| steps.progress(p))
        .await?;

    wait_handled(&handled, &report, ui).await;
    let mut recorded = record(&report, inbox.as_ref(), &handled).await?;
    running.shutdown().await;
    drop(receiver);
    recorded.arrivals = arrivals.finish().await;
    let verdict = report.check(&sandbox, &recorded);
    sandbox.shutdown().await;

    let ok = verdict.is_ok();
    let hint = format!("The inbox at {db_text} holds what did arrive.");
    ui.render(&Outcome {
        ok,
        dir: dir.display().to_string(),
        inbox: db_text,
        events: verdict
            .events
            .iter()
            .map(|checked| Row {
                event_id: checked.sent.event_id.as_str().to_owned(),
                event: checked.sent.event.clone(),
                sample: checked.sent.sample,
                encoding: checked.sent.encoding.as_str(),
                deliveries: checked.deliveries,
                handled: checked.handled,
                status: checked.status.clone(),
                note: note(checked.sent.role),
                ok: checked.is_ok(),
            })
            .collect(),
        arrivals: recorded.arrivals,
        duplicates: recorded.duplicates,
        rejected: recorded.rejected,
        held: &report.held,
        problems: &verdict.problems,
        repeated: report
            .sent
            .iter()
            .filter(|s| s.copies > 1)
            .map(|s| (s.event_id.as_str().to_owned(), s.copies))
            .collect(),
    })?;
    if ok {
        Ok(())
    } else {
        Err(CliError::failed(verdict.problems.join("; ")).hint(hint))
    }
}

/// The scenario's management calls, made by the real client over loopback HTTP.
struct ThroughClient<'a>(&'a cxtn::webhooks::Client);

impl Management for ThroughClient<'_> {
    type Error = CliError;

    async fn enable(&self) -> Result<(), CliError> {
        Ok(self.0.enable().await.map(drop)?)
    }

    async fn create(&self, event_type: WebhookEventType, url: &str) -> Result<(), CliError> {
        Ok(self.0.create(event_type, url).await.map(drop)?)
    }

    async fn set_status(&self, event_type: WebhookEventType, status: EndpointStatus) -> Result<(), CliError> {
        Ok(self.0.set_status(event_type, status).await.map(drop)?)
    }
}

/// The words a row gives for why the scenario sent its event.
fn note(role: Role) -> &'static str {
    match role {
        Role::Duplicate => "sent twice",
        Role::HeldWhilePaused => "held while paused",
        _ => "",
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

/// Waits until the handler has seen every event sent, or the wait runs out.
async fn wait_handled(handled: &Handled, report: &Report, ui: &Ui) {
    let spinner = ui.spinner("waiting for the handler");
    let started = Instant::now();
    loop {
        let seen = report
            .sent
            .iter()
            .filter(|s| handled.count(s.event_id.as_str()) > 0)
            .count();
        spinner.set(format!("waiting for the handler ({seen}/{})", report.sent.len()));
        if seen == report.sent.len() || started.elapsed() > WAIT {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the inbox and the handler hold of every event sent, and the inbox's counts.
async fn record(report: &Report, inbox: &dyn Inbox, handled: &Handled) -> Result<Recorded, CliError> {
    let mut recorded = Recorded::default();
    for sent in &report.sent {
        if let Some(record) = inbox.event(&sent.event_id).await? {
            recorded.events.insert(
                sent.event_id.clone(),
                RecordedEvent {
                    deliveries: record.deliveries,
                    status: record.status.as_str().to_owned(),
                    handled: handled.count(sent.event_id.as_str()),
                },
            );
        }
    }
    let stats = inbox.stats().await?;
    recorded.duplicates = stats.duplicates;
    recorded.rejected = stats.rejected;
    recorded.dead = stats.dead;
    Ok(recorded)
}

/// The step lines people see, and a spinner while the scenario waits; nothing in `--json`.
struct Steps<'a> {
    ui: &'a Ui,
    waiting: Option<Spinner>,
}

impl Steps<'_> {
    fn progress(&mut self, progress: Progress<'_>) {
        match progress {
            Progress::Registered(types) => {
                let types: Vec<String> = types.iter().map(ToString::to_string).collect();
                self.check(
                    true,
                    "the management client enabled webhooks and created two endpoints",
                    &types.join(", "),
                );
            }
            Progress::SamplesSent { samples, notifications } => self.check(
                true,
                &format!("{notifications} guide samples sent as objects and as strings, shuffled"),
                &format!("{samples} samples x 2 encodings"),
            ),
            Progress::DuplicateSent(event_id) => self.check(
                true,
                "one payment_completed sent twice with the same eventId",
                event_id.as_str(),
            ),
            Progress::Paused { event_id, held } => self.check(
                held,
                "AccountTransaction paused: an account_credit is held, not delivered",
                event_id.as_str(),
            ),
            Progress::Resumed { event_id, delivered } => self.check(
                delivered,
                "AccountTransaction resumed: the held account_credit is delivered",
                event_id.as_str(),
            ),
            Progress::Waiting => self.waiting = Some(self.ui.spinner("waiting for the simulator's deliveries")),
            _ => self.waiting = None,
        }
    }

    fn check(&self, ok: bool, what: &str, detail: &str) {
        let mark = if ok {
            self.ui.paint(GOOD, "✓")
        } else {
            self.ui.paint(BAD, "✗")
        };
        let pad = " ".repeat(STEP_WIDTH.saturating_sub(what.chars().count()));
        self.ui
            .human(format!("  {mark} {what}{pad}  {}", self.ui.paint(DIM, detail)));
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

/// Counts what the receiver reports as deliveries arrive.
#[derive(Debug)]
struct ArrivalCounter {
    counts: Arc<Mutex<Arrivals>>,
    task: tokio::task::JoinHandle<()>,
}

impl ArrivalCounter {
    fn collect(receiver: &Receiver) -> Self {
        let counts = Arc::new(Mutex::new(Arrivals::default()));
        let mut subscription = receiver.subscribe();
        let task_counts = counts.clone();
        let task = tokio::spawn(async move {
            while let Ok(arrival) = subscription.recv().await {
                let Arrival { outcome, .. } = arrival;
                let mut counts = task_counts.lock().unwrap_or_else(PoisonError::into_inner);
                match outcome {
                    ArrivalOutcome::Stored | ArrivalOutcome::Quarantined { .. } => counts.stored += 1,
                    ArrivalOutcome::Duplicate | ArrivalOutcome::Conflict => counts.duplicates += 1,
                    _ => counts.rejected += 1,
                }
            }
        });
        Self { counts, task }
    }

    /// The counts once the receiver is gone and every arrival was read.
    async fn finish(self) -> Arrivals {
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
    status: String,
    note: &'static str,
    #[serde(skip)]
    ok: bool,
}

/// What the demo found.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Outcome<'a> {
    ok: bool,
    dir: String,
    inbox: String,
    events: Vec<Row>,
    arrivals: Arrivals,
    duplicates: u64,
    rejected: u64,
    held: &'a Held,
    problems: &'a [String],
    /// The events sent more than once, and how many times.
    #[serde(skip)]
    repeated: Vec<(String, u32)>,
}

impl Render for Outcome<'_> {
    fn human(&self, ui: &Ui) {
        ui.out("");
        let cells: Vec<Vec<Cell>> = self
            .events
            .iter()
            .map(|r| {
                vec![
                    Cell::styled(&r.event_id, ID),
                    Cell::new(&r.event),
                    Cell::new(r.sample),
                    Cell::new(r.encoding),
                    Cell::new(r.deliveries),
                    Cell::new(r.handled),
                    Cell::styled(&r.status, if r.ok { GOOD } else { BAD }),
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
        ui.out("");
        if self.ok {
            ui.out(ui.paint(
                GOOD,
                format!(
                    "{} events arrived; each was stored and handled exactly once.",
                    self.events.len()
                ),
            ));
            for (event_id, copies) in &self.repeated {
                let times = match copies {
                    2 => "twice".to_owned(),
                    n => format!("{n} times"),
                };
                ui.out(format!(
                    "Deduplicated: {} arrived {times} and was stored and handled once.",
                    ui.paint(ID, event_id)
                ));
            }
            ui.out("Nothing was rejected or dead-lettered.");
        }
        ui.out(format!("The inbox is kept at {}", self.inbox));
        ui.out(ui.paint(DIM, format!("Look inside: cxtn inbox --db {} list", self.inbox)));
    }
}
