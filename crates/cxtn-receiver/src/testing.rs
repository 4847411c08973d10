//! Test helpers for handlers (feature `test-util`): events made from the guide's samples or any body, and
//! [`run`], which takes a body through a receiver and its worker and says what the worker did.
//!
//! A [`Harness`] builds a real [`Receiver`] with its default limits on a
//! [`MemoryInbox`], posts the body to its [`service`](crate::Receiver::service), runs its
//! [`Worker`](crate::Worker) once, and reports the outcome the worker recorded: the same parsing, storing,
//! time limit, panic handling, retry schedule and dead-lettering as in production, with no socket and no file.
//!
//! ```
//! use cxtn_receiver::testing::{self, Outcome};
//! use cxtn_receiver::{Event, HandlerError, handler_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let handler = handler_fn(|event: Event| async move {
//!     match event.notification.amount() {
//!         Some(_) => Ok(()),
//!         None => Err::<(), HandlerError>("no amount".into()),
//!     }
//! });
//! let body = cxtn_events::samples::GUIDE[1].body;
//! assert_eq!(testing::run(handler, body).await?, Outcome::Processed);
//! # Ok(())
//! # }
//! ```

use std::any::Any;
use std::convert::Infallible;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use cxtn_model::EventKind;
use futures_util::FutureExt as _;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use tower_service::Service as _;

use crate::inbox::{ClaimToken, Claimed, Completion, EventFilter, EventId, Inbox, InboxError, Intercept, Intercepted};
use crate::{Error, ErrorKind, Event, Handler, HandlerError, MemoryInbox, QuarantinedEvent, Receiver, WorkerPolicy};

/// An event as a worker hands it over on its first attempt, from any body.
///
/// ```
/// let event = cxtn_receiver::testing::event(br#"{"eventId": "wh_1", "event": "payment_completed",
///     "data": {"objectId": 1, "userId": "C1", "amount": 12.50, "currency": "GBP"}}"#)?;
/// assert_eq!(event.notification.amount().map(|a| a.as_str()), Some("12.50"));
/// assert_eq!(&event.body[..13], br#"{"eventId": ""#);
/// # Ok::<(), cxtn_events::Error>(())
/// ```
///
/// # Errors
///
/// The parser's error when the body is not a notification this version reads.
pub fn event(body: impl AsRef<[u8]>) -> Result<Event, cxtn_events::Error> {
    let body = body.as_ref();
    let notification = cxtn_events::parse(body)?;
    let mut event = Event::new(notification);
    event.body = Bytes::copy_from_slice(body);
    Ok(event)
}

/// The first sample of CXTN's guide for an event, as a worker hands it over on its first attempt.
///
/// ```
/// use cxtn_model::EventKind;
///
/// let event = cxtn_receiver::testing::sample(EventKind::TradeSettled);
/// assert_eq!(event.notification.event_name(), "trade_settled");
/// ```
#[must_use]
pub fn sample(kind: EventKind) -> Event {
    let parsed = cxtn_events::samples::GUIDE
        .iter()
        .find(|sample| sample.event == kind.name())
        .map(|sample| event(sample.body));
    match parsed {
        Some(Ok(event)) => event,
        // Every event this version knows has a sample in the guide, and every sample parses (both tested); a
        // kind added later without one still gets an event of its name, without data.
        _ => Event::new(unsampled(kind)),
    }
}

/// Every sample of CXTN's guide (seven: three `account_credit`, two `account_debit`, one of each payment event),
/// in the guide's order, as a worker hands them over on their first attempt.
pub fn samples() -> impl Iterator<Item = Event> {
    cxtn_events::samples::GUIDE
        .iter()
        .filter_map(|sample| event(sample.body).ok())
}

/// A notification named after `kind` without `data`, read as an event this version does not know.
fn unsampled(kind: EventKind) -> cxtn_model::Notification {
    let data = cxtn_model::UnknownEvent::new(kind.name(), cxtn_model::UnknownData::Absent);
    cxtn_model::Notification::new(
        EventId::new(format!("wh_test_{}", kind.name())),
        cxtn_model::EventData::Unknown(data),
    )
}

/// Runs `handler` on `body` as a receiver with the default settings would: see [`Harness::run`].
///
/// # Errors
///
/// As [`Harness::run`].
pub async fn run(handler: impl Handler, body: impl Into<Bytes>) -> Result<Outcome, Error> {
    Harness::new(handler).run(body).await
}

/// What happened to a body: what the receiver answered, and what the worker recorded after the handler ran.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The handler succeeded: the event is marked processed and never handed out again.
    Processed,
    /// The handler failed: the event is handed out again after `after`.
    Retry {
        /// What the inbox records as the event's last error.
        error: String,
        /// How the handler failed.
        cause: Cause,
        /// The wait before the next attempt (the worker's backoff, with its jitter).
        after: Duration,
    },
    /// The handler failed on the last attempt ([`WorkerPolicy::max_attempts`]): the event is a dead letter.
    Dead {
        /// What the inbox records as the event's last error.
        error: String,
        /// How the handler failed.
        cause: Cause,
    },
    /// The envelope is usable but `data` does not fit the typed model: the receiver answered 200 and stored the
    /// event as quarantined, and the worker does not hand it over unless told to
    /// ([`WorkerPolicy::quarantined`]).
    Quarantined {
        /// The parser's reason.
        reason: String,
    },
    /// The receiver answered 200 and stored nothing new: the event id was stored before, with this body or (kept
    /// beside it as a conflict) another; the handler was not called for it. Only a run on an inbox that outlives
    /// it ([`run_sqlite`]) can see one.
    Duplicate,
    /// The receiver did not store the body as an event: it answered `status` (400 for a body without a usable
    /// envelope, which it keeps as a rejection; 413 for one over the size limit), and the handler never ran.
    Refused {
        /// The HTTP status the receiver answered.
        status: u16,
        /// The receiver's message.
        message: String,
    },
}

impl Outcome {
    /// Whether the handler succeeded.
    #[must_use]
    pub fn is_processed(&self) -> bool {
        matches!(self, Self::Processed)
    }

    /// The error the inbox records, for a failed attempt.
    #[must_use]
    pub fn error(&self) -> Option<&str> {
        match self {
            Self::Retry { error, .. } | Self::Dead { error, .. } => Some(error),
            _ => None,
        }
    }

    /// How the handler failed, for a failed attempt.
    #[must_use]
    pub fn cause(&self) -> Option<&Cause> {
        match self {
            Self::Retry { cause, .. } | Self::Dead { cause, .. } => Some(cause),
            _ => None,
        }
    }
}

/// How a handler failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// It returned an error.
    Returned,
    /// It panicked, with this message (empty when the panic carried no text).
    Panicked(String),
    /// It ran past the worker's time limit ([`WorkerPolicy::handler_timeout`]).
    TimedOut,
    /// It was not called: the stored body no longer parses.
    NotCalled,
}

/// Runs a handler the way a receiver and its worker do, one body at a time, and reports the [`Outcome`].
///
/// ```
/// use std::time::Duration;
/// use cxtn_receiver::testing::{Cause, Harness, Outcome};
/// use cxtn_receiver::{Event, HandlerError, WorkerPolicy, handler_fn};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let failing = handler_fn(|_: Event| async { Err::<(), HandlerError>("the ledger is down".into()) });
/// let harness = Harness::new(failing).policy(WorkerPolicy::default().max_attempts(3));
/// let body = cxtn_events::samples::GUIDE[0].body;
///
/// let first = harness.run(body).await?;
/// assert!(matches!(first, Outcome::Retry { cause: Cause::Returned, .. }));
/// assert_eq!(first.error(), Some("the ledger is down"));
///
/// let last = harness.attempt(3).run(body).await?;
/// assert!(matches!(last, Outcome::Dead { .. }));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Harness {
    handler: Arc<dyn Handler>,
    policy: WorkerPolicy,
    attempt: u32,
}

impl Harness {
    /// A harness for `handler`, with the default [`WorkerPolicy`], on the first attempt.
    pub fn new(handler: impl Handler) -> Self {
        Self::shared(Arc::new(handler))
    }

    /// A harness for a handler the test keeps a handle on, to look at what it did afterwards.
    pub fn shared(handler: Arc<dyn Handler>) -> Self {
        Self {
            handler,
            policy: WorkerPolicy::default(),
            attempt: 1,
        }
    }

    /// The worker's policy: attempts, backoff, time limit, whether quarantined events are handed over.
    pub fn policy(mut self, policy: WorkerPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Which attempt the run is (from 1): the worker dead-letters a failure on attempt
    /// [`WorkerPolicy::max_attempts`], and the handler sees it in [`Event::attempt`].
    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt.max(1);
        self
    }

    /// Posts `body` to a fresh receiver (authentication off, every other setting the default) and runs its worker
    /// until nothing is due; the handler is called at most once.
    ///
    /// # Errors
    ///
    /// Never for anything the handler or the body does (those are outcomes); only if the receiver cannot be set
    /// up, or the in-memory inbox fails.
    pub async fn run(&self, body: impl Into<Bytes>) -> Result<Outcome, Error> {
        let inbox = Arc::new(Recording::inbox(self.attempt));
        let seen = Arc::new(Mutex::new(Seen::NotCalled));
        let observed = Observed {
            inner: self.handler.clone(),
            seen: seen.clone(),
        };
        let receiver = Receiver::builder(inbox.clone())
            .allow_unauthenticated(true)
            .handler(observed)
            .worker_policy(self.policy.clone())
            .build()?;
        let (status, answer) = post(&receiver, body.into()).await?;
        if status != StatusCode::OK {
            return Ok(Outcome::Refused {
                status: status.as_u16(),
                message: message_of(&answer),
            });
        }
        if let Some(worker) = receiver.worker() {
            worker.run_once().await?;
        }
        let completion = inbox.intercept().completion();
        let seen = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
        Ok(match completion {
            Some(Completion::Processed) => Outcome::Processed,
            Some(Completion::Retry { error, after }) => Outcome::Retry {
                cause: seen.cause(),
                error,
                after,
            },
            Some(Completion::Dead { error }) => Outcome::Dead {
                cause: seen.cause(),
                error,
            },
            None => Outcome::Quarantined {
                reason: quarantine_reason(inbox.as_ref()).await?.unwrap_or_default(),
            },
        })
    }
}

/// Runs a transactional handler on `body` as a receiver with the default settings and [`Worker::sqlite`](crate::Worker::sqlite) would,
/// on `inbox`: open one on a temporary file and create the handler's tables in it first.
///
/// The handler's writes and the event's `processed` mark commit together, so after a `Processed` outcome the
/// test reads the handler's rows from the file, and after a failure finds none.
/// The inbox keeps what the run stored: a second run of the same body is a [`Outcome::Duplicate`], and the
/// `after` of a retry is read from the stored event (to the millisecond, from now).
/// The worker takes every event due in the inbox, as in production: an event an earlier run left to retry is
/// handed to the handler again by the first run after its `after` has passed.
///
/// ```
/// use cxtn_receiver::testing::{self, Outcome};
/// use cxtn_receiver::{Event, HandlerError, SqliteHandler, SqliteInbox, rusqlite};
///
/// #[derive(Debug)]
/// struct Ledger;
///
/// impl SqliteHandler for Ledger {
///     fn handle(&self, event: &Event, txn: &rusqlite::Transaction<'_>) -> Result<(), HandlerError> {
///         txn.execute("INSERT INTO ledger (event_id) VALUES (?1)", [event.notification.event_id().as_str()])?;
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = std::env::temp_dir().join(format!("cxtn-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("inbox.sqlite");
/// let inbox = SqliteInbox::open(&path)?;
/// rusqlite::Connection::open(&path)?.execute_batch("CREATE TABLE ledger (event_id TEXT PRIMARY KEY)")?;
///
/// let body = cxtn_events::samples::GUIDE[1].body;
/// assert_eq!(testing::run_sqlite(&inbox, Ledger, body).await?, Outcome::Processed);
/// assert_eq!(testing::run_sqlite(&inbox, Ledger, body).await?, Outcome::Duplicate);
/// let rows: i64 = rusqlite::Connection::open(&path)?.query_row("SELECT count(*) FROM ledger", [], |r| r.get(0))?;
/// assert_eq!(rows, 1);
/// # drop(inbox);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// As [`Harness::run`], and when the inbox fails.
#[cfg(feature = "sqlite")]
pub async fn run_sqlite(
    inbox: &crate::SqliteInbox,
    handler: impl crate::SqliteHandler,
    body: impl Into<Bytes>,
) -> Result<Outcome, Error> {
    let seen = Arc::new(Mutex::new(Seen::NotCalled));
    let observed = ObservedSqlite {
        inner: handler,
        seen: seen.clone(),
    };
    let worker = crate::Worker::sqlite(inbox.clone(), observed, WorkerPolicy::default());
    let receiver = Receiver::builder(Arc::new(inbox.clone()))
        .allow_unauthenticated(true)
        .worker(worker)
        .build()?;
    let (status, answer) = post(&receiver, body.into()).await?;
    if status != StatusCode::OK {
        return Ok(Outcome::Refused {
            status: status.as_u16(),
            message: message_of(&answer),
        });
    }
    let stored = serde_json::from_slice::<Answered>(&answer).map_err(|e| {
        Error::new(
            ErrorKind::Inbox,
            format!("the receiver's answer could not be read: {e}"),
        )
    })?;
    if stored.status == "duplicate" || stored.status == "conflict" {
        return Ok(Outcome::Duplicate);
    }
    if let Some(worker) = receiver.worker() {
        worker.run_once().await?;
    }
    let event_id = EventId::new(stored.event_id);
    let record = inbox.event(&event_id).await?.ok_or_else(|| {
        Error::new(
            ErrorKind::NotFound,
            format!("event `{event_id}` was stored but is no longer in the inbox"),
        )
    })?;
    let cause = seen.lock().unwrap_or_else(PoisonError::into_inner).cause();
    let error = record.last_error.unwrap_or_default();
    Ok(match record.status {
        crate::EventStatus::Processed => Outcome::Processed,
        crate::EventStatus::Dead => Outcome::Dead { error, cause },
        crate::EventStatus::Quarantined => Outcome::Quarantined {
            reason: record.quarantine_reason.unwrap_or_default(),
        },
        _ => Outcome::Retry {
            error,
            cause,
            after: Duration::from_millis(
                u64::try_from(record.next_attempt_at_ms.saturating_sub(crate::now_ms())).unwrap_or(0),
            ),
        },
    })
}

/// The receiver's answer to a stored delivery.
#[cfg(feature = "sqlite")]
#[derive(serde::Deserialize)]
struct Answered {
    status: String,
    #[serde(rename = "eventId")]
    event_id: String,
}

/// A transactional handler, watched as [`Observed`] watches a plain one.
#[cfg(feature = "sqlite")]
#[derive(Debug)]
struct ObservedSqlite<H> {
    inner: H,
    seen: Arc<Mutex<Seen>>,
}

#[cfg(feature = "sqlite")]
impl<H: crate::SqliteHandler> crate::SqliteHandler for ObservedSqlite<H> {
    fn handle(&self, event: &Event, txn: &crate::rusqlite::Transaction<'_>) -> Result<(), HandlerError> {
        let set = |seen: Seen| *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = seen;
        set(Seen::Running);
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.handle(event, txn))) {
            Ok(result) => {
                set(Seen::Returned);
                result
            }
            Err(payload) => {
                set(Seen::Panicked(panic_message(payload.as_ref())));
                std::panic::resume_unwind(payload)
            }
        }
    }
}

/// Posts `body` to the receiver's service as CXTN would; its status and body.
async fn post(receiver: &Receiver, body: Bytes) -> Result<(StatusCode, Bytes), Error> {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))
        .map_err(|e| Error::new(ErrorKind::Config, format!("the test request could not be built: {e}")))?;
    let response = match receiver.service().call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let answer = response
        .into_body()
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_else(|never: Infallible| match never {});
    Ok((status, answer))
}

/// The receiver's `{"error": "..."}` message, or the answer's text.
fn message_of(answer: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Answer {
        error: String,
    }
    serde_json::from_slice::<Answer>(answer)
        .map(|a| a.error)
        .unwrap_or_else(|_| String::from_utf8_lossy(answer).into_owned())
}

/// What the handler did, as seen from around it.
#[derive(Debug, Clone)]
enum Seen {
    NotCalled,
    Running,
    Returned,
    Panicked(String),
}

impl Seen {
    fn cause(&self) -> Cause {
        match self {
            Self::NotCalled => Cause::NotCalled,
            // Called and never back: the worker's time limit dropped it.
            Self::Running => Cause::TimedOut,
            Self::Returned => Cause::Returned,
            Self::Panicked(message) => Cause::Panicked(message.clone()),
        }
    }
}

/// The handler under test, watched: a panic is noted and then passed on unchanged to the worker.
struct Observed {
    inner: Arc<dyn Handler>,
    seen: Arc<Mutex<Seen>>,
}

impl fmt::Debug for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Observed").field(&self.inner).finish()
    }
}

impl Observed {
    fn set(&self, seen: Seen) {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = seen;
    }

    async fn watch(&self, handling: impl Future<Output = Result<(), HandlerError>>) -> Result<(), HandlerError> {
        self.set(Seen::Running);
        match AssertUnwindSafe(handling).catch_unwind().await {
            Ok(result) => {
                self.set(Seen::Returned);
                result
            }
            Err(payload) => {
                self.set(Seen::Panicked(panic_message(payload.as_ref())));
                std::panic::resume_unwind(payload)
            }
        }
    }
}

#[async_trait]
impl Handler for Observed {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.watch(self.inner.handle(event)).await
    }

    async fn handle_quarantined(&self, event: &QuarantinedEvent) -> Result<(), HandlerError> {
        self.watch(self.inner.handle_quarantined(event)).await
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// In front of a memory inbox: hands events out on a chosen attempt and remembers the outcome the worker recorded.
#[derive(Debug)]
struct Recording {
    attempt: u32,
    completion: Mutex<Option<Completion>>,
}

impl Recording {
    /// A memory inbox behind a new recording.
    fn inbox(attempt: u32) -> Intercepted<Self> {
        let recording = Self {
            attempt,
            completion: Mutex::new(None),
        };
        Intercepted::new(Arc::new(MemoryInbox::new()), recording)
    }

    fn completion(&self) -> Option<Completion> {
        self.completion.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[async_trait]
impl Intercept for Recording {
    async fn claim(
        &self,
        inner: &dyn Inbox,
        lease: Duration,
        limit: usize,
        quarantined: bool,
    ) -> Result<Vec<Claimed>, InboxError> {
        let mut claimed = inner.claim(lease, limit, quarantined).await?;
        for event in &mut claimed {
            event.attempt = self.attempt;
        }
        Ok(claimed)
    }

    async fn complete(
        &self,
        inner: &dyn Inbox,
        event_id: &EventId,
        token: ClaimToken,
        completion: Completion,
    ) -> Result<bool, InboxError> {
        let recorded = inner.complete(event_id, token, completion.clone()).await?;
        if recorded {
            *self.completion.lock().unwrap_or_else(PoisonError::into_inner) = Some(completion);
        }
        Ok(recorded)
    }
}

/// The reason the event in `inbox` is quarantined, if it is.
async fn quarantine_reason(inbox: &dyn Inbox) -> Result<Option<String>, InboxError> {
    let events = inbox.events(EventFilter::all()).await?;
    Ok(events.into_iter().find_map(|record| record.quarantine_reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_event_has_a_sample() {
        for kind in EventKind::ALL {
            let event = sample(kind);
            assert_eq!(event.notification.data().kind(), Some(kind), "{kind}");
        }
        assert_eq!(samples().count(), cxtn_events::samples::GUIDE.len());
    }
}
