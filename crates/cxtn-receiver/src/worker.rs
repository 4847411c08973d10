//! Handing stored events to the user's code.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cxtn_model::Notification;
use futures_util::FutureExt as _;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::inbox::{Claimed, Completion, Inbox, InboxError};
use crate::now_ms;

/// A stored event, handed to a [`Handler`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Event {
    /// The notification.
    pub notification: Notification,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// When it first arrived (milliseconds since the Unix epoch).
    pub received_at_ms: i64,
}

/// What a handler returns when it failed: the event is retried later, then dead-lettered.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Your code: called once per stored event until it succeeds (at least once; never twice for a
/// redelivered duplicate, which the inbox deduplicates).
///
/// CXTN documents no ordering, so events can arrive in any order: make the handler idempotent on
/// `notification.event_id()` and tolerant of an event that refers to something not yet seen.
///
/// ```
/// use cxtn_receiver::{Event, Handler, HandlerError};
///
/// #[derive(Debug)]
/// struct Ledger;
///
/// #[cxtn_receiver::async_trait]
/// impl Handler for Ledger {
///     async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
///         if let Some(amount) = event.notification.amount() {
///             println!("{} {}", event.notification.event_name(), amount);
///         }
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait Handler: Send + Sync + fmt::Debug + 'static {
    /// Handles one event. An `Err` (or a panic) counts as a failed attempt.
    async fn handle(&self, event: &Event) -> Result<(), HandlerError>;
}

/// A handler made from an async closure.
pub struct HandlerFn<F>(F);

impl<F> fmt::Debug for HandlerFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandlerFn")
    }
}

/// Makes a [`Handler`] from an async closure.
///
/// ```
/// let handler = cxtn_receiver::handler_fn(|event: cxtn_receiver::Event| async move {
///     println!("{}", event.notification.event_id());
///     Ok::<(), cxtn_receiver::HandlerError>(())
/// });
/// # let _ = handler;
/// ```
pub fn handler_fn<F, Fut>(f: F) -> HandlerFn<F>
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    HandlerFn(f)
}

#[async_trait]
impl<F, Fut> Handler for HandlerFn<F>
where
    F: Fn(Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        (self.0)(event.clone()).await
    }
}

/// How a worker retries a failing handler.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerPolicy {
    /// Attempts before an event is dead-lettered (default 8).
    pub max_attempts: u32,
    /// The wait after the first failure; doubled after each (default 1 s).
    pub initial_backoff: Duration,
    /// The longest wait between attempts (default 10 min).
    pub max_backoff: Duration,
    /// How long a claim lasts before another worker may take the event (default 5 min).
    pub lease: Duration,
    /// How often to look for due events when nothing new arrived (default 1 s).
    pub poll_interval: Duration,
    /// Events handled at once (default 16).
    pub concurrency: usize,
}

impl Default for WorkerPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(600),
            lease: Duration::from_secs(300),
            poll_interval: Duration::from_secs(1),
            concurrency: 16,
        }
    }
}

impl WorkerPolicy {
    /// Attempts before dead-lettering.
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The first wait and the longest wait between attempts.
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// How long a claim lasts.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How often to look for due events.
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Events handled at once.
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    #[cfg(test)]
    pub(crate) fn backoff_after_for_tests(&self, attempt: u32) -> Duration {
        self.backoff_after(attempt)
    }

    /// The wait before attempt `attempt + 1`, jittered between half and all of the exponential step.
    fn backoff_after(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(millis / 2..=millis.max(1)))
    }
}

/// Takes stored events from an inbox and hands them to a [`Handler`].
#[derive(Debug, Clone)]
pub struct Worker {
    inbox: Arc<dyn Inbox>,
    handler: Arc<dyn Handler>,
    policy: WorkerPolicy,
    wake: Arc<Notify>,
}

impl Worker {
    /// A worker over `inbox`.
    #[must_use]
    pub fn new(inbox: Arc<dyn Inbox>, handler: Arc<dyn Handler>, policy: WorkerPolicy) -> Self {
        let wake = inbox.wake_signal().unwrap_or_default();
        Self {
            inbox,
            handler,
            policy,
            wake,
        }
    }

    pub(crate) fn with_wake(mut self, wake: Arc<Notify>) -> Self {
        self.wake = wake;
        self
    }

    /// Handles every event due now, once; returns how many were handed to the handler.
    ///
    /// # Errors
    ///
    /// When the inbox fails.
    pub async fn run_once(&self) -> Result<usize, InboxError> {
        let limit = self.policy.concurrency.saturating_mul(4).max(1);
        let claimed = self.inbox.claim(now_ms(), self.policy.lease, limit).await?;
        let count = claimed.len();
        let mut tasks = JoinSet::new();
        let mut queue = claimed.into_iter();
        loop {
            while tasks.len() < self.policy.concurrency {
                let Some(claimed) = queue.next() else { break };
                let worker = self.clone();
                tasks.spawn(async move { worker.process(claimed).await });
            }
            match tasks.join_next().await {
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => return Err(e),
                Some(Err(e)) => tracing::error!(error = %e, "a worker task ended abnormally"),
                None => break,
            }
        }
        Ok(count)
    }

    /// Runs until `shutdown` completes, then finishes the events in hand.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.run_once().await {
                Ok(0) => {}
                Ok(_) => continue,
                Err(e) => tracing::error!(error = %e, "the worker could not read the inbox; retrying"),
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.policy.poll_interval) => {}
            }
        }
    }

    async fn process(&self, claimed: Claimed) -> Result<(), InboxError> {
        let Claimed {
            event_id,
            body,
            attempt,
            received_at_ms,
            ..
        } = claimed;
        let outcome = match cxtn_events::parse(&body) {
            Ok(notification) => {
                let event = Event {
                    notification,
                    attempt,
                    received_at_ms,
                };
                // A panicking handler is a failed attempt, not a dead worker.
                match AssertUnwindSafe(self.handler.handle(&event)).catch_unwind().await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("the handler panicked".to_owned()),
                }
            }
            Err(e) => Err(format!("the stored body no longer parses: {e}")),
        };
        let completion = match outcome {
            Ok(()) => Completion::Processed,
            Err(error) if attempt >= self.policy.max_attempts => {
                tracing::warn!(event_id = %event_id, attempt, error = %error, "dead-lettered after the last attempt");
                Completion::Dead { error }
            }
            Err(error) => {
                let wait = self.policy.backoff_after(attempt);
                let at_ms = now_ms().saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
                tracing::info!(event_id = %event_id, attempt, error = %error, retry_in_ms = wait.as_millis() as u64, "handler failed; will retry");
                Completion::Retry { error, at_ms }
            }
        };
        self.inbox.complete(&event_id, completion).await
    }
}
