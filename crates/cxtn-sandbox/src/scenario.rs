//! The whole webhook loop as one script: endpoints registered, every guide sample sent, a duplicate,
//! a pause and a resume; then a check of what a receiver recorded.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use cxtn_events::samples;
use cxtn_model::{DataEncoding, EndpointStatus, EndpointUrl, EventId, Notification, WebhookEventType};
use serde::Serialize;

use crate::{DeliveryId, Error, Outcome, Sandbox, Trigger, TriggerReport};

/// The management calls a [`Scenario`] makes: enable webhooks, create an endpoint, set its status.
///
/// [`Sandbox`] makes them in-process. Implement it over the `cxtn` management client to make them
/// over HTTP, as CXTN's own API would be called.
pub trait Management {
    /// What a call fails with; the scenario's own failures convert into it.
    type Error: From<Error>;

    /// Enables webhooks.
    fn enable(&self) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Creates the endpoint of an event type.
    fn create(&self, event_type: WebhookEventType, url: &str) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Sets the status of the endpoint of an event type.
    fn set_status(
        &self,
        event_type: WebhookEventType,
        status: EndpointStatus,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

impl Management for Sandbox {
    type Error = Error;

    fn enable(&self) -> impl Future<Output = Result<(), Error>> + Send {
        std::future::ready(self.enable_webhooks())
    }

    fn create(&self, event_type: WebhookEventType, url: &str) -> impl Future<Output = Result<(), Error>> + Send {
        std::future::ready(self.create_endpoint(event_type, url))
    }

    fn set_status(
        &self,
        event_type: WebhookEventType,
        status: EndpointStatus,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        std::future::ready(self.set_endpoint_status(event_type, status))
    }
}

/// What a running [`Scenario`] reports as it goes, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// Webhooks are enabled, and the endpoints of these event types created.
    Registered(&'a [WebhookEventType]),
    /// The guide's samples went out in one shuffled batch, each as an object and as a string.
    SamplesSent {
        /// How many samples.
        samples: usize,
        /// How many notifications.
        notifications: usize,
    },
    /// One notification went out twice with the same `eventId`.
    DuplicateSent(&'a EventId),
    /// A notification was triggered while `AccountTransaction` was paused; `held` when it was held and not sent.
    Paused {
        /// The notification's `eventId`.
        event_id: &'a EventId,
        /// Whether it was held, with no attempt made.
        held: bool,
    },
    /// `AccountTransaction` is active again; `delivered` when the held notification was delivered.
    Resumed {
        /// The held notification's `eventId`.
        event_id: &'a EventId,
        /// Whether it was delivered.
        delivered: bool,
    },
    /// The scenario waits for the sandbox's deliveries to settle.
    Waiting,
    /// The wait is over.
    Settled,
}

/// Why a [`Scenario`] sent a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// One of the guide's samples, in one encoding.
    Sample,
    /// Sent twice with the same `eventId`: a receiver must store and handle it once.
    Duplicate,
    /// Held while its endpoint was paused, and delivered once it was active again.
    HeldWhilePaused,
}

/// One notification a [`Scenario`] sent, and how many times it goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sent {
    /// Its `eventId`.
    pub event_id: EventId,
    /// The event's wire name.
    pub event: String,
    /// The name of the guide sample its `data` came from (`?` when none matches).
    pub sample: &'static str,
    /// How `data` was sent.
    pub encoding: DataEncoding,
    /// Why it was sent.
    pub role: Role,
    /// How many deliveries of it go out: 2 for the duplicate, else 1.
    pub copies: u32,
    /// Its entries in the sandbox's delivery log.
    pub deliveries: Vec<DeliveryId>,
}

impl Sent {
    fn new(report: TriggerReport, sample: &'static str, role: Role) -> Self {
        Self {
            copies: u32::try_from(report.deliveries.len()).unwrap_or(u32::MAX),
            event_id: report.event_id,
            event: report.event,
            sample,
            encoding: report.encoding,
            role,
            deliveries: report.deliveries,
        }
    }
}

/// The notification held while `AccountTransaction` was paused, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Held {
    /// Its `eventId`.
    pub event_id: EventId,
    /// What happened to it at once when it was triggered: [`Outcome::Held`] when the pause worked.
    #[serde(skip)]
    pub outcome: Outcome,
    /// Whether it was held, with no attempt made, while the endpoint was paused.
    pub held_while_paused: bool,
    /// Whether it was delivered once the endpoint was active again.
    pub delivered_after_resume: bool,
}

/// What a [`Scenario`] did: what it sent, and what the sandbox did with the paused endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Everything sent: the samples in the guide's order (object, then string), the duplicate, the held one.
    pub sent: Vec<Sent>,
    /// The held notification.
    pub held: Held,
}

/// What a receiver recorded during a [`Scenario`], as plain data: the scenario knows no receiver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// What the receiver holds of each event it stored, by `eventId`; a missing id never arrived.
    pub events: HashMap<EventId, RecordedEvent>,
    /// How many deliveries its store counted as duplicates of an event already stored.
    pub duplicates: u64,
    /// How many deliveries its store set aside as not parsing.
    pub rejected: u64,
    /// How many events its store dead-lettered.
    pub dead: u64,
    /// What the receiver reported as the deliveries arrived.
    pub arrivals: Arrivals,
}

/// What a receiver holds of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// How many deliveries of it arrived.
    pub deliveries: u32,
    /// Its status in the receiver's words; `processed` once the handler is done with it.
    pub status: String,
    /// How many times the handler saw it.
    pub handled: u32,
}

/// How a receiver answered the deliveries as they arrived.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Arrivals {
    /// Stored as new events.
    pub stored: u64,
    /// Recognised as an event already stored.
    pub duplicates: u64,
    /// Refused or set aside.
    pub rejected: u64,
}

/// One sent notification, checked against what the receiver recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Checked {
    /// What was sent.
    pub sent: Sent,
    /// How many deliveries of it the receiver holds (0 when it never arrived).
    pub deliveries: u32,
    /// How many times the handler saw it.
    pub handled: u32,
    /// Its status at the receiver, or `missing`.
    pub status: String,
}

impl Checked {
    /// Whether it was processed and handled exactly once.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.status == PROCESSED && self.handled == 1
    }
}

/// The check of a [`Report`] against what a receiver recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verdict {
    /// Every sent notification, checked, in the order of [`Report::sent`].
    pub events: Vec<Checked>,
    /// Everything that is not as it should be, one sentence each; empty when the loop works.
    pub problems: Vec<String>,
}

impl Verdict {
    /// Whether nothing is wrong.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The status a receiver records for an event its handler is done with.
const PROCESSED: &str = "processed";

/// The whole webhook loop against one endpoint URL, scripted.
///
/// [`run`](Self::run) enables webhooks and registers the URL for `Payment` and `AccountTransaction`,
/// sends every guide sample as an object and as a string in one shuffled batch, one `payment_completed`
/// twice with the same `eventId`, and one `account_credit` while `AccountTransaction` is paused (held),
/// then resumes it (delivered). [`Report::check`] then compares what the receiver at that URL recorded:
/// every event stored and handled exactly once, the duplicate deduplicated, nothing rejected or dead.
///
/// ```no_run
/// use cxtn_sandbox::{Recorded, Sandbox, Scenario};
///
/// # async fn run() -> Result<(), cxtn_sandbox::Error> {
/// let sandbox = Sandbox::builder().start().await?;
/// let scenario = Scenario::new("http://127.0.0.1:8080/cxtn/9f1c2e"); // your receiver
/// let report = scenario.run(&sandbox, &sandbox, &mut |progress| println!("{progress:?}")).await?;
/// let recorded = Recorded::default(); // ... filled from what your receiver stored
/// let verdict = report.check(&sandbox, &recorded);
/// assert!(verdict.is_ok(), "{:?}", verdict.problems);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Scenario {
    endpoint_url: EndpointUrl,
    wait: Duration,
}

impl Scenario {
    /// How long the scenario waits for the sandbox's deliveries to settle unless told otherwise: 10 seconds.
    pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

    /// The scenario against the receiver at `endpoint_url`.
    pub fn new(endpoint_url: impl Into<EndpointUrl>) -> Self {
        Self {
            endpoint_url: endpoint_url.into(),
            wait: Self::DEFAULT_WAIT,
        }
    }

    /// How long each wait for the sandbox's deliveries may take (default: [`DEFAULT_WAIT`](Self::DEFAULT_WAIT)).
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Runs the script on `sandbox`, making its management calls through `management`
    /// (the sandbox itself, or a client of its management routes), and reports each step to `progress`.
    ///
    /// # Errors
    ///
    /// What a management call fails with, or the sandbox's [`Error`] when a wait for its deliveries runs out.
    pub async fn run<M: Management>(
        &self,
        sandbox: &Sandbox,
        management: &M,
        progress: &mut (dyn FnMut(Progress<'_>) + Send),
    ) -> Result<Report, M::Error> {
        let url = self.endpoint_url.as_str();
        let types = [WebhookEventType::Payment, WebhookEventType::AccountTransaction];
        management.enable().await?;
        for event_type in &types {
            management.create(*event_type, url).await?;
        }
        progress(Progress::Registered(&types));

        let triggers = samples::GUIDE.iter().flat_map(|sample| {
            [DataEncoding::Object, DataEncoding::String].map(|encoding| Trigger::from(sample).encoding(encoding))
        });
        let guide: Vec<(&'static str, Notification)> = samples::GUIDE
            .iter()
            .filter_map(|sample| Some((sample.name, cxtn_events::parse(sample.body.as_bytes()).ok()?)))
            .collect();
        let mut sent: Vec<Sent> = sandbox
            .trigger_batch(triggers)
            .await?
            .into_iter()
            .map(|report| {
                let sample = cxtn_events::parse(report.body.as_bytes())
                    .ok()
                    .and_then(|n| guide.iter().find(|(_, s)| s.data() == n.data()))
                    .map_or("?", |(name, _)| *name);
                Sent::new(report, sample, Role::Sample)
            })
            .collect();
        sent.sort_by_key(|s| {
            let at = samples::GUIDE.iter().position(|sample| sample.name == s.sample);
            (at, s.encoding == DataEncoding::String)
        });
        progress(Progress::SamplesSent {
            samples: samples::GUIDE.len(),
            notifications: sent.len(),
        });

        let duplicate = sandbox
            .trigger(Trigger::new("payment_completed").duplicate(true))
            .await?;
        progress(Progress::DuplicateSent(&duplicate.event_id));
        sent.push(Sent::new(duplicate, first_sample("payment_completed"), Role::Duplicate));
        self.settle(sandbox, progress).await?;

        management
            .set_status(WebhookEventType::AccountTransaction, EndpointStatus::Paused)
            .await?;
        let held = sandbox
            .trigger(Trigger::new("account_credit").set_json("amount", "250.50"))
            .await?;
        self.settle(sandbox, progress).await?;
        let held_while_paused = held.outcome == Outcome::Held
            && held.deliveries.iter().all(|id| {
                sandbox
                    .delivery(*id)
                    .is_some_and(|d| d.outcome == Outcome::Held && d.attempts == 0)
            });
        progress(Progress::Paused {
            event_id: &held.event_id,
            held: held_while_paused,
        });
        management
            .set_status(WebhookEventType::AccountTransaction, EndpointStatus::Active)
            .await?;
        self.settle(sandbox, progress).await?;
        let delivered_after_resume = delivered(sandbox, &held.deliveries);
        progress(Progress::Resumed {
            event_id: &held.event_id,
            delivered: delivered_after_resume,
        });
        let held_report = Held {
            event_id: held.event_id.clone(),
            outcome: held.outcome.clone(),
            held_while_paused,
            delivered_after_resume,
        };
        sent.push(Sent::new(held, first_sample("account_credit"), Role::HeldWhilePaused));
        Ok(Report {
            sent,
            held: held_report,
        })
    }

    async fn settle(&self, sandbox: &Sandbox, progress: &mut (dyn FnMut(Progress<'_>) + Send)) -> Result<(), Error> {
        progress(Progress::Waiting);
        let settled = sandbox.wait_until_settled(self.wait).await;
        progress(Progress::Settled);
        settled
    }
}

impl Report {
    /// How many deliveries repeat an event already sent: what a receiver should count as duplicates.
    #[must_use]
    pub fn redeliveries(&self) -> u32 {
        self.sent.iter().map(|s| s.copies.saturating_sub(1)).sum()
    }

    /// Checks what a receiver recorded against what was sent, and the sandbox's log.
    ///
    /// Every sent event must be delivered by the sandbox, and stored, processed and handled exactly once
    /// by the receiver, however many times it arrived; the receiver must count the redeliveries as duplicates
    /// and hold nothing rejected or dead.
    #[must_use]
    pub fn check(&self, sandbox: &Sandbox, recorded: &Recorded) -> Verdict {
        let mut problems = Vec::new();
        if !self.held.held_while_paused {
            problems.push(format!(
                "the account_credit {} sent while AccountTransaction was paused was not held (it was {})",
                self.held.event_id, self.held.outcome
            ));
        }
        if !self.held.delivered_after_resume {
            problems.push(format!(
                "the held account_credit {} was not delivered after the endpoint was resumed",
                self.held.event_id
            ));
        }
        let mut events = Vec::with_capacity(self.sent.len());
        for sent in &self.sent {
            let record = recorded.events.get(&sent.event_id);
            let handled = record.map_or(0, |r| r.handled);
            match record {
                None => problems.push(format!("{} ({}) never reached the inbox", sent.event_id, sent.sample)),
                Some(r) if r.deliveries != sent.copies => problems.push(format!(
                    "{} arrived {} times, not {}",
                    sent.event_id, r.deliveries, sent.copies
                )),
                Some(r) if r.status != PROCESSED => {
                    problems.push(format!("{} is {}, not processed", sent.event_id, r.status));
                }
                Some(_) => {}
            }
            if record.is_some() && handled != 1 {
                problems.push(format!("the handler saw {} {handled} times, not once", sent.event_id));
            }
            if !delivered(sandbox, &sent.deliveries) {
                problems.push(format!("the sandbox did not deliver {}", sent.event_id));
            }
            events.push(Checked {
                sent: sent.clone(),
                deliveries: record.map_or(0, |r| r.deliveries),
                handled,
                status: record.map_or_else(|| "missing".to_owned(), |r| r.status.clone()),
            });
        }
        let redeliveries = self.redeliveries();
        if u64::from(redeliveries) != recorded.duplicates {
            problems.push(format!(
                "the inbox counted {} duplicates, not the {redeliveries} sent",
                recorded.duplicates
            ));
        }
        if recorded.rejected > 0 || recorded.dead > 0 {
            problems.push(format!(
                "the inbox holds {} rejected and {} dead-lettered deliveries; there should be none",
                recorded.rejected, recorded.dead
            ));
        }
        let arrived = recorded.arrivals;
        if arrived.stored != self.sent.len() as u64
            || arrived.duplicates != u64::from(redeliveries)
            || arrived.rejected > 0
        {
            problems.push(format!(
                "the receiver reported {} stored, {} duplicate and {} rejected deliveries; expected {}, {redeliveries} and 0",
                arrived.stored,
                arrived.duplicates,
                arrived.rejected,
                self.sent.len()
            ));
        }
        Verdict { events, problems }
    }
}

/// Whether every one of these deliveries was delivered.
fn delivered(sandbox: &Sandbox, deliveries: &[DeliveryId]) -> bool {
    deliveries
        .iter()
        .all(|id| sandbox.delivery(*id).is_some_and(|d| d.outcome.is_delivered()))
}

/// The name of the first guide sample of an event: the one a [`Trigger`] of it starts from.
fn first_sample(event: &str) -> &'static str {
    samples::GUIDE
        .iter()
        .find(|sample| sample.event == event)
        .map_or("?", |sample| sample.name)
}
