//! How a worker claims, retries, times and stops.

use std::time::Duration;

/// How a worker claims events, retries a failing handler, limits its time, and stops.
///
/// Leases and time limits work together: a claim holds an event for [`lease`](Self::lease), and while its
/// handler runs the worker renews the lease every third of it ([`renew_leases`](Self::renew_leases), on by
/// default), so a slow handler keeps its event and a crashed worker's events are free again one lease later.
/// A handler gets at most [`handler_timeout`](Self::handler_timeout); with renewal off, the limit is never
/// above the lease either, so that no other worker takes an event whose handler still runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WorkerPolicy {
    /// Attempts before an event is dead-lettered (default 8).
    pub max_attempts: u32,
    /// The wait after the first failure; doubled after each (default 1 s).
    pub initial_backoff: Duration,
    /// The longest wait between attempts (default 10 min).
    pub max_backoff: Duration,
    /// How long a claim lasts before another worker may take the event, unless renewed (default 60 s).
    pub lease: Duration,
    /// Whether a claim is renewed every third of the lease while its handler runs (default on).
    pub renew_leases: bool,
    /// The longest a handler may run for one attempt; past it, the attempt counts as failed (default 5 min;
    /// with renewal off, at most the lease).
    pub handler_timeout: Duration,
    /// How often to look for due events when nothing new arrived (default 1 s).
    pub poll_interval: Duration,
    /// Events handled at once (default 16); the worker claims only as many as it can start.
    pub concurrency: usize,
    /// How long a shutdown waits for the handlers in progress (default 30 s); then their events are given
    /// back to the inbox, unhandled and their attempt not counted, and the worker stops.
    pub shutdown_deadline: Duration,
    /// Whether quarantined events are claimed and handed to
    /// [`Handler::handle_quarantined`](crate::Handler::handle_quarantined) (default off).
    /// A transactional handler never receives them.
    pub quarantined: bool,
}

impl Default for WorkerPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(600),
            lease: Duration::from_secs(60),
            renew_leases: true,
            handler_timeout: Duration::from_secs(300),
            poll_interval: Duration::from_secs(1),
            concurrency: 16,
            shutdown_deadline: Duration::from_secs(30),
            quarantined: false,
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

    /// How long a claim lasts unless renewed.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(3));
        self
    }

    /// Whether claims are renewed while their handlers run.
    #[must_use]
    pub fn renew_leases(mut self, renew: bool) -> Self {
        self.renew_leases = renew;
        self
    }

    /// The longest a handler may run for one attempt.
    #[must_use]
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = timeout;
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

    /// How long a shutdown waits for the handlers in progress before giving their events back.
    #[must_use]
    pub fn shutdown_deadline(mut self, deadline: Duration) -> Self {
        self.shutdown_deadline = deadline;
        self
    }

    /// Whether quarantined events are claimed and handed to
    /// [`Handler::handle_quarantined`](crate::Handler::handle_quarantined).
    #[must_use]
    pub fn quarantined(mut self, take: bool) -> Self {
        self.quarantined = take;
        self
    }

    #[cfg(test)]
    pub(crate) fn backoff_after_for_tests(&self, attempt: u32) -> Duration {
        self.backoff_after(attempt)
    }

    /// The time one attempt may take: the handler timeout, and without renewal at most the lease.
    pub(crate) fn handler_limit(&self) -> Duration {
        if self.renew_leases {
            self.handler_timeout
        } else {
            self.handler_timeout.min(self.lease)
        }
    }

    /// How often a lease is renewed while its handler runs.
    pub(crate) fn renew_every(&self) -> Duration {
        (self.lease / 3).max(Duration::from_millis(1))
    }

    /// The wait before attempt `attempt + 1`, jittered between half and all of the exponential step.
    pub(crate) fn backoff_after(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(millis / 2..=millis.max(1)))
    }
}
