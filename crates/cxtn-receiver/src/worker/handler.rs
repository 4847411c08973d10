//! What the worker hands to your code, and the trait your code implements.

use std::fmt;
use std::future::Future;

use async_trait::async_trait;
use bytes::Bytes;
use cxtn_model::{EventId, Notification};

use crate::now_ms;

/// A stored event, handed to a [`Handler`] (or a transactional handler).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Event {
    /// The notification.
    pub notification: Notification,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// When it first arrived (milliseconds since the Unix epoch).
    pub received_at_ms: i64,
    /// How many other bodies arrived under this event id.
    /// Above 0, the sender changed the body after the first delivery: this event is the first body, the one
    /// processed, and the others are kept beside it (see [`Inbox::conflicts`](crate::Inbox::conflicts)).
    pub conflicts: u32,
    /// Why the event was quarantined, for one that was and parses now (after an upgrade and a replay).
    pub quarantine_reason: Option<String>,
    /// The body exactly as received, byte for byte (the first body, for an event with conflicts).
    pub body: Bytes,
}

impl Event {
    /// An event as a worker hands it over on its first attempt, received now: for tests of handlers.
    ///
    /// ```
    /// let notification = cxtn_events::parse(cxtn_events::samples::GUIDE[0].body.as_bytes())?;
    /// let mut event = cxtn_receiver::Event::new(notification);
    /// assert_eq!((event.attempt, event.conflicts), (1, 0));
    /// event.attempt = 3;
    /// # Ok::<(), cxtn_events::Error>(())
    /// ```
    #[must_use]
    ///
    /// Its [`body`](Self::body) is the notification's canonical form; a worker hands over the bytes as received.
    pub fn new(notification: Notification) -> Self {
        let body = notification.to_json().map(Bytes::from).unwrap_or_default();
        Self {
            notification,
            attempt: 1,
            received_at_ms: now_ms(),
            conflicts: 0,
            quarantine_reason: None,
            body,
        }
    }
}

/// A stored event whose envelope is usable but whose `data` does not fit this version's typed model.
///
/// A worker hands it to [`Handler::handle_quarantined`] only when told to
/// ([`WorkerPolicy::quarantined`](crate::WorkerPolicy::quarantined)).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QuarantinedEvent {
    /// `eventId`.
    pub event_id: EventId,
    /// `event`.
    pub event: String,
    /// The body exactly as received.
    pub body: Bytes,
    /// Why its `data` does not fit the typed model: the parser's error.
    pub reason: String,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// When it first arrived (milliseconds since the Unix epoch).
    pub received_at_ms: i64,
    /// How many other bodies arrived under this event id.
    pub conflicts: u32,
}

impl QuarantinedEvent {
    /// A quarantined event as a worker hands it over on its first attempt, received now: for tests of handlers.
    #[must_use]
    pub fn new(event_id: impl Into<EventId>, event: impl Into<String>, body: Bytes, reason: impl Into<String>) -> Self {
        Self {
            event_id: event_id.into(),
            event: event.into(),
            body,
            reason: reason.into(),
            attempt: 1,
            received_at_ms: now_ms(),
            conflicts: 0,
        }
    }
}

/// What a handler returns when it failed: the event is retried later, then dead-lettered.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Your code, called for each stored event until it succeeds: at least once, never at the same time by two
/// workers, and never for a redelivered duplicate, which the inbox stores once.
///
/// A process that dies after the handler's effect and before the outcome is recorded hands the event out
/// again, so make the effect idempotent on `notification.event_id()`.
/// For effects in a database, a transactional handler (`SqliteHandler`, `PostgresHandler`) or the
/// `idempotency` helper applies them exactly once instead; keep this trait for effects that cannot join a
/// transaction, such as HTTP calls.
///
/// CXTN documents no ordering, so events can arrive in any order: tolerate an event that refers to something
/// not yet seen.
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
    /// Handles one event. An `Err`, a panic, or running past the worker's time limit counts as a failed
    /// attempt.
    async fn handle(&self, event: &Event) -> Result<(), HandlerError>;

    /// Handles one quarantined event: its envelope is usable but its `data` does not fit the typed model.
    ///
    /// A worker calls it only when told to take quarantined events
    /// ([`WorkerPolicy::quarantined`](crate::WorkerPolicy::quarantined), off by default); otherwise they stay
    /// in the inbox, counted, until a replay after an upgrade parses them.
    /// The default fails the attempt with an error that says so: a worker told to take quarantined events by
    /// mistake retries and then dead-letters them, visibly, and never marks one processed unhandled.
    async fn handle_quarantined(&self, event: &QuarantinedEvent) -> Result<(), HandlerError> {
        let _ = event;
        Err("this handler does not take quarantined events: implement Handler::handle_quarantined, or leave WorkerPolicy::quarantined off".into())
    }
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
