//! Retries, timeouts and tracing over any [`Transport`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use http::{StatusCode, header};
use tokio::time::Instant;
use tracing::Instrument as _;
use tracing::field::Empty;

use crate::error::{Error, ErrorKind};
use crate::request::Request;
use crate::response::Response;
use crate::transport::Transport;

/// Statuses retried for idempotent requests: too many requests, and server errors that are usually transient.
const RETRYABLE_STATUSES: [StatusCode; 5] = [
    StatusCode::TOO_MANY_REQUESTS,
    StatusCode::INTERNAL_SERVER_ERROR,
    StatusCode::BAD_GATEWAY,
    StatusCode::SERVICE_UNAVAILABLE,
    StatusCode::GATEWAY_TIMEOUT,
];

/// When and how often [`Retry`] tries a request again.
///
/// - A failure of kind [`Connect`](ErrorKind::Connect) is retried for every request: it never reached the server.
/// - [`Timeout`](ErrorKind::Timeout) and [`Io`](ErrorKind::Io) failures and the statuses `429`, `500`, `502`,
///   `503` and `504` are retried only for idempotent requests ([`Request::is_idempotent`]).
/// - Between attempts the layer waits a random time between zero and `initial_backoff × 2^(retry − 1)`,
///   capped at `max_backoff` ("full jitter"), or what the response's `Retry-After` asks (seconds or an HTTP-date).
/// - Each attempt gets at most `attempt_timeout`, and the whole request, waits included, at most `deadline`.
///   When the next wait would reach past the deadline, the layer stops and returns what it has.
///
/// When the retries of a retryable status are used up, the last response is returned as `Ok`;
/// when those of a failure are, its error is returned with [`Error::attempts`] and [`Error::elapsed`] filled in.
///
/// ```
/// use std::time::Duration;
///
/// use cxtn_transport::RetryPolicy;
///
/// let default = RetryPolicy::default();
/// assert_eq!(default.max_attempts(), 3);
/// assert_eq!(default.attempt_timeout(), Duration::from_secs(30));
///
/// let patient = RetryPolicy::builder()
///     .max_attempts(5)
///     .max_backoff(Duration::from_secs(10))
///     .deadline(Duration::from_secs(120))
///     .build();
/// assert_eq!(patient.max_attempts(), 5);
/// assert_eq!(RetryPolicy::none().max_attempts(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    attempt_timeout: Duration,
    deadline: Duration,
}

impl RetryPolicy {
    /// Three attempts, backoff from 200 ms up to 5 s, 30 s per attempt, 60 s in all.
    pub const DEFAULT: Self = Self {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(5),
        attempt_timeout: Duration::from_secs(30),
        deadline: Duration::from_secs(60),
    };

    /// A policy to start from: the defaults of [`RetryPolicy::DEFAULT`].
    pub fn builder() -> RetryPolicyBuilder {
        RetryPolicyBuilder { policy: Self::DEFAULT }
    }

    /// One attempt and no retry, with the default attempt timeout and deadline.
    #[must_use]
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::DEFAULT
        }
    }

    /// The most attempts made for one request, the first included; at least 1.
    #[must_use]
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The cap on the wait before the first retry; later caps double.
    #[must_use]
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The largest cap on a wait between attempts, `Retry-After` aside.
    #[must_use]
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The longest one attempt may take.
    #[must_use]
    pub fn attempt_timeout(&self) -> Duration {
        self.attempt_timeout
    }

    /// The longest the whole request may take, attempts and waits included.
    #[must_use]
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The most the wait before retry number `retry` (1 for the first retry) may be.
    fn backoff_cap(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        self.initial_backoff
            .saturating_mul(1_u32 << doublings)
            .min(self.max_backoff)
    }

    /// A random wait before retry number `retry`: uniform between zero and [`Self::backoff_cap`].
    fn backoff(&self, retry: u32) -> Duration {
        const NANOS_PER_SECOND: u128 = 1_000_000_000;
        let nanos = fastrand::u128(0..=self.backoff_cap(retry).as_nanos());
        let seconds = u64::try_from(nanos / NANOS_PER_SECOND).unwrap_or(u64::MAX);
        let subsecond = u32::try_from(nanos % NANOS_PER_SECOND).unwrap_or(0);
        Duration::new(seconds, subsecond)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Builds a [`RetryPolicy`], starting from the defaults.
#[derive(Debug, Clone)]
#[must_use]
pub struct RetryPolicyBuilder {
    policy: RetryPolicy,
}

impl RetryPolicyBuilder {
    /// The most attempts for one request, the first included (default 3); 0 counts as 1.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.policy.max_attempts = max_attempts.max(1);
        self
    }

    /// The cap on the wait before the first retry (default 200 ms); each later cap doubles.
    pub fn initial_backoff(mut self, initial_backoff: Duration) -> Self {
        self.policy.initial_backoff = initial_backoff;
        self
    }

    /// The largest cap on a wait between attempts (default 5 s); `Retry-After` is bounded by the deadline instead.
    pub fn max_backoff(mut self, max_backoff: Duration) -> Self {
        self.policy.max_backoff = max_backoff;
        self
    }

    /// The longest one attempt may take (default 30 s).
    pub fn attempt_timeout(mut self, attempt_timeout: Duration) -> Self {
        self.policy.attempt_timeout = attempt_timeout;
        self
    }

    /// The longest the whole request may take, attempts and waits included (default 60 s).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.policy.deadline = deadline;
        self
    }

    /// The policy.
    #[must_use]
    pub fn build(self) -> RetryPolicy {
        self.policy
    }
}

/// A [`Transport`] that sends through another one, with retries, timeouts and tracing.
///
/// See [`RetryPolicy`] for what is retried and when. Each request is traced as a `cxtn.http.request` span
/// (`method`, `path`, `status`, `attempts`, `error`) holding one `cxtn.http.attempt` span per attempt
/// (`attempt`, `status`, `latency_ms`, `error`); the query string, header values and body are never recorded.
///
/// ```
/// use std::sync::Arc;
///
/// use cxtn_transport::{Method, Request, Response, Retry, RetryPolicy, StatusCode, Transport};
/// # #[derive(Debug)]
/// # struct Backend;
/// # #[cxtn_transport::async_trait]
/// # impl Transport for Backend {
/// #     async fn send(&self, _: Request) -> Result<Response, cxtn_transport::Error> { Ok(Response::new(StatusCode::OK)) }
/// # }
///
/// let transport = Retry::new(Backend, RetryPolicy::default());
/// let shared: Arc<dyn Transport> = Arc::new(transport);
/// # let _ = shared;
/// ```
#[derive(Debug, Clone)]
pub struct Retry<T> {
    inner: T,
    policy: RetryPolicy,
}

impl<T> Retry<T> {
    /// Sends through `inner` following `policy`.
    #[must_use]
    pub fn new(inner: T, policy: RetryPolicy) -> Self {
        Self { inner, policy }
    }

    /// The policy followed.
    #[must_use]
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The transport sent through.
    #[must_use]
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The transport sent through, taken back.
    #[must_use]
    pub fn into_inner(self) -> T {
        self.inner
    }
}

/// Wraps a shared transport in a [`Retry`] layer following `policy`.
///
/// ```
/// use std::sync::Arc;
///
/// use cxtn_transport::{RetryPolicy, Transport, with_retry};
///
/// fn resilient(backend: Arc<dyn Transport>) -> Arc<dyn Transport> {
///     with_retry(backend, RetryPolicy::default())
/// }
/// ```
#[must_use]
pub fn with_retry(transport: Arc<dyn Transport>, policy: RetryPolicy) -> Arc<dyn Transport> {
    Arc::new(Retry::new(transport, policy))
}

/// What to do after an attempt.
enum Next {
    /// Return the outcome.
    Stop,
    /// Try again, after what the server asked for when it did.
    Retry { retry_after: Option<Duration> },
}

impl<T: Transport> Retry<T> {
    fn next(&self, outcome: &Result<Response, Error>, idempotent: bool) -> Next {
        match outcome {
            Ok(response) if idempotent && RETRYABLE_STATUSES.contains(&response.status) => Next::Retry {
                retry_after: response
                    .headers
                    .get(header::RETRY_AFTER)
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| retry_after(value, SystemTime::now())),
            },
            Ok(_) => Next::Stop,
            Err(error) => match error.kind() {
                ErrorKind::Connect => Next::Retry { retry_after: None },
                ErrorKind::Timeout | ErrorKind::Io if idempotent => Next::Retry { retry_after: None },
                _ => Next::Stop,
            },
        }
    }

    /// One attempt, bounded by `budget`.
    async fn attempt(
        &self,
        request: &Request,
        number: u32,
        budget: Duration,
        at_deadline: bool,
    ) -> Result<Response, Error> {
        let span = tracing::debug_span!(
            "cxtn.http.attempt",
            attempt = number,
            status = Empty,
            latency_ms = Empty,
            error = Empty,
        );
        let started = Instant::now();
        let outcome = tokio::time::timeout(budget, self.inner.send(request.clone()))
            .instrument(span.clone())
            .await
            .unwrap_or_else(|_| Err(timeout_error(request, budget, at_deadline)));
        span.record(
            "latency_ms",
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        );
        match &outcome {
            Ok(response) => span.record("status", response.status.as_u16()),
            Err(error) => span.record("error", error.kind().as_str()),
        };
        outcome
    }

    async fn run(&self, request: Request, span: &tracing::Span) -> Result<Response, Error> {
        let started = Instant::now();
        let idempotent = request.is_idempotent();
        let max_attempts = self.policy.max_attempts.max(1);
        let mut number = 0_u32;
        let outcome = loop {
            number += 1;
            let remaining = self.policy.deadline.saturating_sub(started.elapsed());
            let budget = self.policy.attempt_timeout.min(remaining);
            let outcome = self
                .attempt(&request, number, budget, budget < self.policy.attempt_timeout)
                .await;
            let retry_after = match self.next(&outcome, idempotent) {
                Next::Retry { retry_after } if number < max_attempts => retry_after,
                _ => break outcome,
            };
            let wait = retry_after.unwrap_or_else(|| self.policy.backoff(number));
            let remaining = self.policy.deadline.saturating_sub(started.elapsed());
            if wait >= remaining {
                tracing::debug!(
                    wait_ms = millis(wait),
                    remaining_ms = millis(remaining),
                    "not retrying: the wait would reach past the deadline"
                );
                break outcome;
            }
            tracing::debug!(
                attempt = number,
                wait_ms = millis(wait),
                retry_after = retry_after.is_some(),
                "retrying"
            );
            tokio::time::sleep(wait).await;
        };
        span.record("attempts", number);
        match outcome {
            Ok(response) => {
                span.record("status", response.status.as_u16());
                Ok(response)
            }
            Err(error) => {
                span.record("error", error.kind().as_str());
                Err(error.with_attempts(number).with_elapsed(started.elapsed()))
            }
        }
    }
}

#[async_trait]
impl<T: Transport> Transport for Retry<T> {
    async fn send(&self, request: Request) -> Result<Response, Error> {
        let span = tracing::info_span!(
            "cxtn.http.request",
            method = %request.method,
            path = request.path(),
            status = Empty,
            attempts = Empty,
            error = Empty,
        );
        self.run(request, &span).instrument(span.clone()).await
    }
}

/// How long a `Retry-After` value asks to wait (RFC 9110, section 10.2.3): delay seconds, or an HTTP-date in any
/// of its three forms measured from `now`; `None` when the value is neither.
///
/// A date in the past asks for no wait.
fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        // More digits than a u64 holds is still "a very long time".
        return Some(Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn timeout_error(request: &Request, budget: Duration, at_deadline: bool) -> Error {
    let target = request.target();
    let message = if at_deadline {
        format!(
            "no response from {target} before the deadline of the request ran out; \
             raise RetryPolicy deadline if the server is slow"
        )
    } else {
        format!(
            "no response from {target} within the {budget:?} attempt timeout; \
             the server may be overloaded, or raise RetryPolicy attempt_timeout"
        )
    };
    Error::new(ErrorKind::Timeout, message)
}

#[cfg(test)]
mod tests;
