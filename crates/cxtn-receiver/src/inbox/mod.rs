//! Where deliveries are stored before anything else happens to them.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;

pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// A delivery that parsed, to be stored.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewEvent {
    /// `eventId`: the primary key.
    pub event_id: String,
    /// `event`.
    pub event: String,
    /// The subscription that produces the event (`Payment`, `AccountTransaction`), for a known event.
    pub subscription: Option<String>,
    /// When it arrived, in milliseconds since the Unix epoch.
    pub received_at_ms: i64,
    /// The body exactly as received.
    pub body: Bytes,
}

impl NewEvent {
    /// A delivery to store.
    #[must_use]
    pub fn new(
        event_id: impl Into<String>,
        event: impl Into<String>,
        subscription: Option<String>,
        received_at_ms: i64,
        body: Bytes,
    ) -> Self {
        Self {
            event_id: event_id.into(),
            event: event.into(),
            subscription,
            received_at_ms,
            body,
        }
    }
}

/// A delivery that did not parse, kept with the reason.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewRejection {
    /// When it arrived, in milliseconds since the Unix epoch.
    pub received_at_ms: i64,
    /// The body exactly as received.
    pub body: Bytes,
    /// Why it did not parse.
    pub reason: String,
    /// The parser's error kind (`missing_field`, `syntax`, ...).
    pub kind: String,
}

impl NewRejection {
    /// A rejection to store.
    #[must_use]
    pub fn new(received_at_ms: i64, body: Bytes, reason: impl Into<String>, kind: impl Into<String>) -> Self {
        Self {
            received_at_ms,
            body,
            reason: reason.into(),
            kind: kind.into(),
        }
    }
}

/// Whether a store added a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stored {
    /// The event is new and now stored.
    New,
    /// An event with this id was already stored; this copy only raised its delivery count.
    Duplicate,
}

/// Where an event is in its processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventStatus {
    /// Waiting for the handler (first time, or to retry).
    Pending,
    /// Claimed by a worker, under a lease.
    Processing,
    /// The handler succeeded.
    Processed,
    /// The handler failed on every attempt; kept for inspection and replay.
    Dead,
}

impl EventStatus {
    /// The name stored and shown: `pending`, `processing`, `processed`, `dead`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Processed => "processed",
            Self::Dead => "dead",
        }
    }

    /// The status with this name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "pending" => Self::Pending,
            "processing" => Self::Processing,
            "processed" => Self::Processed,
            "dead" => Self::Dead,
            _ => return None,
        })
    }
}

impl fmt::Display for EventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored event.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct EventRecord {
    /// `eventId`.
    pub event_id: String,
    /// `event`.
    pub event: String,
    /// The subscription that produces it, for a known event.
    pub subscription: Option<String>,
    /// When it first arrived (milliseconds since the Unix epoch).
    pub received_at_ms: i64,
    /// The body exactly as first received.
    #[serde(skip)]
    pub body: Bytes,
    /// Where it is in its processing.
    pub status: EventStatus,
    /// How many times the handler was called for it.
    pub attempts: u32,
    /// The handler's last error.
    pub last_error: Option<String>,
    /// How many times it arrived (more than 1 for redeliveries).
    pub deliveries: u32,
    /// When it may be claimed next (milliseconds since the Unix epoch).
    pub next_attempt_at_ms: i64,
}

/// A stored rejection.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RejectionRecord {
    /// Its id in the inbox.
    pub id: i64,
    /// When it arrived (milliseconds since the Unix epoch).
    pub received_at_ms: i64,
    /// The body exactly as received.
    #[serde(skip)]
    pub body: Bytes,
    /// Why it did not parse.
    pub reason: String,
    /// The parser's error kind.
    pub kind: String,
    /// The event id it was stored under after a successful replay.
    pub replayed_as: Option<String>,
}

/// An event a worker claimed: it is `processing` until completed or its lease runs out.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Claimed {
    /// `eventId`.
    pub event_id: String,
    /// The body exactly as received.
    pub body: Bytes,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// When it first arrived (milliseconds since the Unix epoch).
    pub received_at_ms: i64,
}

/// How a handler call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Completion {
    /// Done; never handed out again unless replayed.
    Processed,
    /// Failed; try again at the given time (milliseconds since the Unix epoch).
    Retry {
        /// The handler's error.
        error: String,
        /// When to try again.
        at_ms: i64,
    },
    /// Failed for the last time; kept as a dead letter.
    Dead {
        /// The handler's error.
        error: String,
    },
}

/// Counts of what the inbox holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct InboxStats {
    /// Events waiting for the handler.
    pub pending: u64,
    /// Events claimed by a worker.
    pub processing: u64,
    /// Events handled.
    pub processed: u64,
    /// Dead letters.
    pub dead: u64,
    /// Deliveries that did not parse.
    pub rejected: u64,
    /// Redeliveries of stored events, deduplicated.
    pub duplicates: u64,
}

/// What to list.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct EventFilter {
    /// Only events in this status.
    pub status: Option<EventStatus>,
    /// At most this many, newest first (default 100).
    pub limit: Option<usize>,
}

impl EventFilter {
    /// Every status, the default limit.
    #[must_use]
    pub fn all() -> Self {
        Self::default()
    }

    /// Only events in `status`.
    #[must_use]
    pub fn status(mut self, status: EventStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// At most `limit` events.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// An inbox that failed to read or write.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct InboxError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl InboxError {
    /// An error with a message and an optional cause.
    pub fn new(message: impl Into<String>, source: Option<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            message: message.into(),
            source,
        }
    }
}

/// Durable storage of deliveries: the receiver stores each one before it answers,
/// and workers claim stored events to hand them to the handler.
///
/// Implementations must make [`Inbox::store`] durable before returning, keep one row per `event_id`,
/// and hand an event to one worker at a time (a claim holds a lease).
/// [`SqliteInbox`](crate::SqliteInbox) is the durable default; [`MemoryInbox`](crate::MemoryInbox) is for tests.
#[async_trait]
pub trait Inbox: Send + Sync + fmt::Debug {
    /// Stores a parsed delivery, durably, once per event id.
    async fn store(&self, event: NewEvent) -> Result<Stored, InboxError>;

    /// Stores a delivery that did not parse, durably; returns its id.
    async fn reject(&self, rejection: NewRejection) -> Result<i64, InboxError>;

    /// Claims up to `limit` events due at `now_ms` (pending and due, or processing with an expired lease),
    /// counts an attempt on each, and leases them for `lease`.
    async fn claim(&self, now_ms: i64, lease: Duration, limit: usize) -> Result<Vec<Claimed>, InboxError>;

    /// Records how a claimed event's handler call ended.
    async fn complete(&self, event_id: &str, completion: Completion) -> Result<(), InboxError>;

    /// Makes a stored event pending again (whatever its status), with its attempts reset.
    /// Returns `false` when no event has this id.
    async fn replay_event(&self, event_id: &str, now_ms: i64) -> Result<bool, InboxError>;

    /// Records that a rejection was replayed and stored as `event_id`.
    async fn resolve_rejection(&self, id: i64, event_id: &str) -> Result<bool, InboxError>;

    /// One stored event.
    async fn event(&self, event_id: &str) -> Result<Option<EventRecord>, InboxError>;

    /// Stored events, newest first.
    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>, InboxError>;

    /// One stored rejection.
    async fn rejection(&self, id: i64) -> Result<Option<RejectionRecord>, InboxError>;

    /// Stored rejections, newest first.
    async fn rejections(&self, limit: usize) -> Result<Vec<RejectionRecord>, InboxError>;

    /// Counts of what the inbox holds.
    async fn stats(&self) -> Result<InboxStats, InboxError>;

    /// A signal the inbox raises when another process stored an event, so that workers wake at once
    /// instead of at their next poll. `None` (the default) when stores happen only in this process.
    fn wake_signal(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
}
