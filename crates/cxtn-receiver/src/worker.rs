//! Handing stored events to the user's code: claims sized to the free slots, leases renewed while handlers
//! run, time limits, outcomes recorded until they stick, and a shutdown with a deadline.

mod handler;
mod policy;

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use cxtn_model::EventId;
use futures_util::FutureExt as _;
use tokio::sync::{Notify, watch};
use tokio::task::{JoinError, JoinSet};

pub use self::handler::{Event, Handler, HandlerError, HandlerFn, QuarantinedEvent, handler_fn};
pub use self::policy::WorkerPolicy;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use crate::inbox::Transacted;
use crate::inbox::{ClaimToken, Claimed, Completion, Inbox, InboxError};
use crate::metrics::Metrics;

/// The longest wait between two tries to record an outcome.
const MAX_RECORD_WAIT: Duration = Duration::from_secs(5);

/// How long, after the shutdown deadline, the events in hand have to be given back before the worker stops.
const RELEASE_GRACE: Duration = Duration::from_secs(5);

/// What the worker hands events to.
#[derive(Clone)]
enum Handling {
    /// At least once, through [`Handler`].
    Plain(Arc<dyn Handler>),
    /// Exactly once, in the SQLite inbox's own transaction.
    #[cfg(feature = "sqlite")]
    Sqlite(crate::SqliteInbox, Arc<dyn crate::SqliteHandler>),
    /// Exactly once, in a PostgreSQL transaction that also marks the event processed.
    #[cfg(feature = "postgres")]
    Postgres(crate::PostgresInbox, Arc<dyn crate::PostgresHandler>),
}

impl fmt::Debug for Handling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain(handler) => f.debug_tuple("Plain").field(handler).finish(),
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_, handler) => f.debug_tuple("Sqlite").field(handler).finish(),
            #[cfg(feature = "postgres")]
            Self::Postgres(_, handler) => f.debug_tuple("Postgres").field(handler).finish(),
        }
    }
}

/// Takes stored events from an inbox and hands them to a handler.
///
/// It claims only as many events as it has free slots ([`WorkerPolicy::concurrency`]) and claims again as
/// slots free up, renews each lease while its handler runs, gives each handler a time limit, and records each
/// outcome, retrying until the inbox takes it or the lease turns out lost.
/// Each event is looked after on its own: one that fails, panics or cannot be recorded never holds up or
/// cancels the others.
#[derive(Debug, Clone)]
pub struct Worker {
    inbox: Arc<dyn Inbox>,
    handling: Handling,
    policy: WorkerPolicy,
    wake: Arc<Notify>,
    /// Where handler durations, outcomes and dead letters are counted: the receiver's, when it runs the worker.
    metrics: Option<Metrics>,
}

/// How one attempt ended, before its outcome is recorded.
enum Attempt {
    /// Record this outcome.
    Record(Completion),
    /// A transactional handler committed its effects and the `processed` mark together.
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    Committed,
    /// The lease was lost: another worker has the event, and nothing may be recorded.
    LeaseLost,
    /// The shutdown deadline passed: give the event back.
    Abandoned,
}

impl Worker {
    /// A worker over `inbox`, calling `handler` at least once per event.
    #[must_use]
    pub fn new(inbox: Arc<dyn Inbox>, handler: Arc<dyn Handler>, policy: WorkerPolicy) -> Self {
        Self::with_handling(inbox, Handling::Plain(handler), policy)
    }

    /// A worker over a SQLite inbox whose handler writes in the inbox's own transaction, for an application
    /// that keeps its data in the inbox's file: the handler's writes and the event's `processed` mark commit
    /// together or not at all, so each event's effect lands exactly once, even through crashes.
    ///
    /// ```no_run
    /// use cxtn_receiver::{Event, HandlerError, SqliteHandler, SqliteInbox, Worker, WorkerPolicy, rusqlite};
    ///
    /// #[derive(Debug)]
    /// struct Ledger;
    ///
    /// impl SqliteHandler for Ledger {
    ///     fn handle(&self, event: &Event, txn: &rusqlite::Transaction<'_>) -> Result<(), HandlerError> {
    ///         let amount = event.notification.amount().map(|a| a.as_str().to_owned());
    ///         txn.execute(
    ///             "INSERT INTO ledger (event_id, amount) VALUES (?1, ?2)",
    ///             rusqlite::params![event.notification.event_id().as_str(), amount],
    ///         )?;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let inbox = SqliteInbox::open("cxtn-inbox.sqlite")?;
    /// let worker = Worker::sqlite(inbox, Ledger, WorkerPolicy::default());
    /// worker.run(async { let _ = tokio::signal::ctrl_c().await; }).await;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "sqlite")]
    #[must_use]
    pub fn sqlite(inbox: crate::SqliteInbox, handler: impl crate::SqliteHandler, policy: WorkerPolicy) -> Self {
        let shared: Arc<dyn Inbox> = Arc::new(inbox.clone());
        Self::with_handling(shared, Handling::Sqlite(inbox, Arc::new(handler)), policy)
    }

    /// A worker over a PostgreSQL inbox whose handler writes in the transaction that marks the event
    /// processed, for an application whose data is in the inbox's database: both commit or neither does, and a
    /// worker whose lease was taken over cannot commit at all.
    #[cfg(feature = "postgres")]
    #[must_use]
    pub fn postgres(inbox: crate::PostgresInbox, handler: impl crate::PostgresHandler, policy: WorkerPolicy) -> Self {
        let shared: Arc<dyn Inbox> = Arc::new(inbox.clone());
        Self::with_handling(shared, Handling::Postgres(inbox, Arc::new(handler)), policy)
    }

    fn with_handling(inbox: Arc<dyn Inbox>, handling: Handling, policy: WorkerPolicy) -> Self {
        let wake = inbox.wake_signal().unwrap_or_default();
        Self {
            inbox,
            handling,
            policy,
            wake,
            metrics: None,
        }
    }

    pub(crate) fn with_wake(mut self, wake: Arc<Notify>) -> Self {
        self.wake = wake;
        self
    }

    pub(crate) fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The inbox it claims from.
    #[must_use]
    pub fn inbox(&self) -> Arc<dyn Inbox> {
        self.inbox.clone()
    }

    /// Whether claims include quarantined events: only for a plain handler that asked for them.
    fn claims_quarantined(&self) -> bool {
        self.policy.quarantined && matches!(self.handling, Handling::Plain(_))
    }

    /// Handles every event due now, claiming as slots free up, until none is due; returns how many were
    /// handed to the handler.
    ///
    /// # Errors
    ///
    /// When the inbox fails to claim; the events already claimed are finished first.
    pub async fn run_once(&self) -> Result<usize, InboxError> {
        let mut flight = Flight::new();
        let mut handed = 0;
        loop {
            let free = self.policy.concurrency.saturating_sub(flight.tasks.len());
            if free > 0 {
                let claimed = match self
                    .inbox
                    .claim(self.policy.lease, free, self.claims_quarantined())
                    .await
                {
                    Ok(claimed) => claimed,
                    Err(e) => {
                        flight.finish().await;
                        return Err(e);
                    }
                };
                let all = claimed.len() == free;
                handed += claimed.len();
                for claimed in claimed {
                    flight.spawn(self, claimed);
                }
                if !all {
                    flight.finish().await;
                    return Ok(handed);
                }
            }
            if let Some(done) = flight.tasks.join_next().await {
                log_task_end(done);
            }
        }
    }

    /// Runs until `shutdown` completes, then lets the handlers in progress finish for up to
    /// [`WorkerPolicy::shutdown_deadline`]; events still in hand then are given back to the inbox
    /// (unhandled, their attempt not counted) and it returns.
    ///
    /// `shutdown` is checked before every claim, so a backlog never delays a stop.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut flight = Flight::new();
        // Whether the last claim filled every free slot, so that more may be due as soon as one frees up.
        let mut more_due = true;
        loop {
            if (&mut shutdown).now_or_never().is_some() {
                break;
            }
            while let Some(done) = flight.tasks.try_join_next() {
                log_task_end(done);
            }
            let free = self.policy.concurrency.saturating_sub(flight.tasks.len());
            if free > 0 && more_due {
                match self
                    .inbox
                    .claim(self.policy.lease, free, self.claims_quarantined())
                    .await
                {
                    Ok(claimed) => {
                        more_due = claimed.len() == free;
                        for claimed in claimed {
                            flight.spawn(self, claimed);
                        }
                    }
                    Err(e) => {
                        more_due = false;
                        tracing::error!(error = %e, "the worker could not claim events from the inbox; retrying");
                    }
                }
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = self.wake.notified() => more_due = true,
                () = tokio::time::sleep(self.policy.poll_interval) => more_due = true,
                Some(done) = flight.tasks.join_next(), if !flight.tasks.is_empty() => log_task_end(done),
            }
        }
        flight.stop(self.policy.shutdown_deadline).await;
    }

    /// Looks after one claimed event: the attempt with its lease renewed, then its outcome recorded.
    async fn look_after(self, claimed: Claimed, mut abandon: watch::Receiver<bool>) {
        let event_id = claimed.event_id.clone();
        let token = claimed.token;
        let started = std::time::Instant::now();
        let attempt = {
            let work = self.attempt(claimed);
            tokio::pin!(work);
            let every = self.policy.renew_every();
            let mut renewal = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            renewal.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    attempt = &mut work => break attempt,
                    _ = renewal.tick(), if self.policy.renew_leases => {
                        match self.inbox.renew(&event_id, token, self.policy.lease).await {
                            Ok(true) => {}
                            Ok(false) => break Attempt::LeaseLost,
                            Err(e) => tracing::warn!(event_id = %event_id, error = %e, "could not renew a lease; trying again"),
                        }
                    }
                    () = abandoned(&mut abandon) => break Attempt::Abandoned,
                }
            }
        };
        if let Some(metrics) = &self.metrics {
            let outcome = match &attempt {
                Attempt::Record(Completion::Processed) | Attempt::Committed => "processed",
                Attempt::Record(Completion::Retry { .. }) => "retry",
                Attempt::Record(Completion::Dead { .. }) => "dead",
                Attempt::LeaseLost => "lease_lost",
                Attempt::Abandoned => "abandoned",
            };
            metrics.handled(outcome, started.elapsed());
        }
        match attempt {
            Attempt::Record(completion) => self.record(&event_id, token, completion, &mut abandon).await,
            Attempt::Committed => {}
            Attempt::LeaseLost => tracing::warn!(
                event_id = %event_id,
                "the lease was lost (it ran out, or the event was replayed); another worker has the event and this attempt records nothing"
            ),
            Attempt::Abandoned => match self.inbox.release(&event_id, token).await {
                Ok(_) => {
                    tracing::info!(event_id = %event_id, "the shutdown deadline passed; the event was given back unhandled")
                }
                Err(e) => tracing::warn!(
                    event_id = %event_id,
                    error = %e,
                    "the shutdown deadline passed and the event could not be given back; it is handed out again when its lease runs out"
                ),
            },
        }
    }

    /// One attempt: the handler called with a time limit, a failure or panic turned into an outcome.
    async fn attempt(&self, claimed: Claimed) -> Attempt {
        let limit = self.policy.handler_limit();
        let notification = cxtn_events::parse(&claimed.body);
        match &self.handling {
            Handling::Plain(handler) => {
                let result = match notification {
                    Ok(notification) => {
                        let event = event_of(notification, &claimed);
                        guarded(limit, handler.handle(&event)).await
                    }
                    Err(e) if self.policy.quarantined => {
                        let quarantined = quarantined_of(&claimed, e.to_string());
                        guarded(limit, handler.handle_quarantined(&quarantined)).await
                    }
                    Err(e) => Err(format!("the stored body no longer parses: {e}")),
                };
                Attempt::Record(self.completion(&claimed.event_id, claimed.attempt, result))
            }
            #[cfg(feature = "sqlite")]
            Handling::Sqlite(inbox, handler) => {
                let event = match notification {
                    Ok(notification) => event_of(notification, &claimed),
                    Err(e) => {
                        let error = format!("the stored body no longer parses: {e}");
                        return Attempt::Record(self.completion(&claimed.event_id, claimed.attempt, Err(error)));
                    }
                };
                let transacted = inbox.process_in_transaction(event, claimed.token, handler.clone());
                self.transacted(&claimed, limit, transacted).await
            }
            #[cfg(feature = "postgres")]
            Handling::Postgres(inbox, handler) => {
                let event = match notification {
                    Ok(notification) => event_of(notification, &claimed),
                    Err(e) => {
                        let error = format!("the stored body no longer parses: {e}");
                        return Attempt::Record(self.completion(&claimed.event_id, claimed.attempt, Err(error)));
                    }
                };
                let transacted = inbox.process_in_transaction(event, claimed.token, handler.clone());
                self.transacted(&claimed, limit, transacted).await
            }
        }
    }

    /// How a transactional attempt ended.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    async fn transacted(
        &self,
        claimed: &Claimed,
        limit: Duration,
        transacted: impl Future<Output = Result<Transacted, InboxError>>,
    ) -> Attempt {
        let outcome = tokio::time::timeout(limit, AssertUnwindSafe(transacted).catch_unwind()).await;
        let result = match outcome {
            Ok(Ok(Ok(Transacted::Processed))) => return Attempt::Committed,
            Ok(Ok(Ok(Transacted::LeaseLost))) => return Attempt::LeaseLost,
            Ok(Ok(Ok(Transacted::Failed { error }))) => Err(error),
            Ok(Ok(Err(e))) => {
                // The inbox failed, not the handler: try again later without spending an attempt on it.
                let after = self.policy.backoff_after(claimed.attempt);
                tracing::warn!(event_id = %claimed.event_id, error = %e, "the handler's transaction failed in the inbox; will retry");
                return Attempt::Record(Completion::Retry {
                    error: format!("the inbox failed: {e}"),
                    after,
                });
            }
            Ok(Err(_)) => Err("the handler panicked".to_owned()),
            Err(_) => Err(timed_out(limit)),
        };
        Attempt::Record(self.completion(&claimed.event_id, claimed.attempt, result))
    }

    /// The outcome to record for an attempt's result.
    fn completion(&self, event_id: &EventId, attempt: u32, result: Result<(), String>) -> Completion {
        match result {
            Ok(()) => Completion::Processed,
            Err(error) if attempt >= self.policy.max_attempts => {
                tracing::warn!(event_id = %event_id, attempt, error = %error, "dead-lettered after the last attempt");
                Completion::Dead { error }
            }
            Err(error) => {
                let after = self.policy.backoff_after(attempt);
                tracing::info!(
                    event_id = %event_id,
                    attempt,
                    error = %error,
                    retry_in_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
                    "handler failed; will retry"
                );
                Completion::Retry { error, after }
            }
        }
    }

    /// Records an outcome, trying again with backoff until the inbox takes it or the lease turns out lost.
    async fn record(
        &self,
        event_id: &EventId,
        token: ClaimToken,
        completion: Completion,
        abandon: &mut watch::Receiver<bool>,
    ) {
        let mut wait = Duration::from_millis(50);
        loop {
            match self.inbox.complete(event_id, token, completion.clone()).await {
                Ok(true) => {
                    if let (Completion::Dead { .. }, Some(metrics)) = (&completion, &self.metrics) {
                        metrics.dead_letter();
                    }
                    return;
                }
                Ok(false) => {
                    tracing::warn!(event_id = %event_id, "the lease was lost before the outcome was recorded; another worker has the event");
                    return;
                }
                Err(e) => tracing::warn!(
                    event_id = %event_id,
                    error = %e,
                    retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "could not record a handler's outcome; retrying"
                ),
            }
            tokio::select! {
                () = tokio::time::sleep(jitter(wait)) => {}
                () = abandoned(abandon) => {
                    tracing::error!(
                        event_id = %event_id,
                        "the shutdown deadline passed before the outcome could be recorded; the event is handed out again when its lease runs out"
                    );
                    return;
                }
            }
            wait = wait.saturating_mul(2).min(MAX_RECORD_WAIT);
            // Hold the lease while trying, and stop when it is gone.
            if let Ok(false) = self.inbox.renew(event_id, token, self.policy.lease).await {
                tracing::warn!(event_id = %event_id, "the lease was lost before the outcome was recorded; another worker has the event");
                return;
            }
        }
    }
}

/// The events a worker has in hand, each looked after by its own task.
struct Flight {
    // Declared first, so that dropping a worker's run aborts its tasks before they can see the signal go.
    tasks: JoinSet<()>,
    abandon: watch::Sender<bool>,
}

impl Flight {
    fn new() -> Self {
        Self {
            tasks: JoinSet::new(),
            abandon: watch::Sender::new(false),
        }
    }

    fn spawn(&mut self, worker: &Worker, claimed: Claimed) {
        let worker = worker.clone();
        let abandon = self.abandon.subscribe();
        self.tasks.spawn(worker.look_after(claimed, abandon));
    }

    /// Waits for every event in hand.
    async fn finish(&mut self) {
        while let Some(done) = self.tasks.join_next().await {
            log_task_end(done);
        }
    }

    /// Waits for the events in hand up to `deadline`, then gives back those still in hand.
    async fn stop(mut self, deadline: Duration) {
        if tokio::time::timeout(deadline, self.finish()).await.is_ok() {
            return;
        }
        tracing::warn!(
            in_hand = self.tasks.len(),
            "the shutdown deadline passed; giving the events in hand back to the inbox"
        );
        let _ = self.abandon.send(true);
        if tokio::time::timeout(RELEASE_GRACE, self.finish()).await.is_err() {
            tracing::error!(
                in_hand = self.tasks.len(),
                "some events could not be given back in time; they are handed out again when their leases run out"
            );
        }
    }
}

/// Resolves once the shutdown deadline passed; never when the signal is gone with its worker.
async fn abandoned(abandon: &mut watch::Receiver<bool>) {
    if abandon.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn log_task_end(done: Result<(), JoinError>) {
    if let Err(e) = done
        && !e.is_cancelled()
    {
        tracing::error!(error = %e, "a worker task ended abnormally");
    }
}

/// Runs a handler's future with a time limit, a panic or timeout turned into a failure.
async fn guarded(limit: Duration, handling: impl Future<Output = Result<(), HandlerError>>) -> Result<(), String> {
    // A panicking handler is a failed attempt, not a dead worker.
    match tokio::time::timeout(limit, AssertUnwindSafe(handling).catch_unwind()).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(e.to_string()),
        Ok(Err(_)) => Err("the handler panicked".to_owned()),
        Err(_) => Err(timed_out(limit)),
    }
}

fn timed_out(limit: Duration) -> String {
    format!(
        "the handler did not finish within its time limit of {} ms",
        limit.as_millis()
    )
}

fn event_of(notification: cxtn_model::Notification, claimed: &Claimed) -> Event {
    let mut event = Event::new(notification);
    event.attempt = claimed.attempt;
    event.received_at_ms = claimed.received_at_ms;
    event.conflicts = claimed.conflicts;
    event.quarantine_reason.clone_from(&claimed.quarantine_reason);
    event.body = claimed.body.clone();
    event
}

fn quarantined_of(claimed: &Claimed, reason: String) -> QuarantinedEvent {
    let name = cxtn_events::parse_envelope(&claimed.body)
        .map(|envelope| envelope.event)
        .unwrap_or_default();
    let mut event = QuarantinedEvent::new(claimed.event_id.clone(), name, claimed.body.clone(), reason);
    event.attempt = claimed.attempt;
    event.received_at_ms = claimed.received_at_ms;
    event.conflicts = claimed.conflicts;
    event
}

/// `wait`, give or take a quarter, so that many workers do not retry in step.
fn jitter(wait: Duration) -> Duration {
    let millis = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(fastrand::u64(millis - millis / 4..=millis + millis / 4))
}
