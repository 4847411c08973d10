//! Where deliveries are stored before anything else happens to them.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
pub use cxtn_model::EventId;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

mod group;
mod intercept;
pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
pub(crate) mod query;
mod retention;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use self::intercept::{Intercept, Intercepted};
pub use self::query::{ArrivalBucket, DEFAULT_LIMIT, EventCursor, EventFilter};
pub use self::retention::{DEFAULT_DEDUPE_WINDOW, DEFAULT_PRUNE_BATCH, PrunePolicy, PruneReport};

/// The SHA-256 digest of a body exactly as received: how a redelivery is told apart from a changed body.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BodyHash([u8; 32]);

impl BodyHash {
    /// The digest of `body`.
    #[must_use]
    pub fn of(body: &[u8]) -> Self {
        Self(Sha256::digest(body).into())
    }

    /// The digest's 32 bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A digest from its 32 bytes, as a store keeps it; `None` for any other length.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    /// The digest as 64 lowercase hexadecimal digits.
    #[must_use]
    pub fn to_hex(&self) -> String {
        use std::fmt::Write as _;
        self.0.iter().fold(String::with_capacity(64), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
    }
}

impl fmt::Display for BodyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for BodyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BodyHash({})", self.to_hex())
    }
}

impl Serialize for BodyHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

/// A delivery with a usable envelope, to be stored: one that parsed, or one quarantined because its `data`
/// does not fit the typed model.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewEvent {
    /// `eventId`: the primary key.
    pub event_id: EventId,
    /// `event`.
    pub event: String,
    /// The subscription that produces the event (`Payment`, `AccountTransaction`), for a known event.
    pub subscription: Option<String>,
    /// When it arrived, in milliseconds since the Unix epoch.
    pub received_at_ms: i64,
    /// The body exactly as received.
    pub body: Bytes,
    /// The digest of `body`.
    pub body_hash: BodyHash,
    /// Why the event is quarantined: its envelope is usable but its `data` does not fit the typed model.
    /// `None` for an event that parsed.
    pub quarantine: Option<String>,
    /// The notification's `objectId`, as text, when its `data` has one: read from `body` by
    /// [`NewEvent::new`], or set with [`NewEvent::object_id`].
    pub object_id: Option<String>,
}

impl NewEvent {
    /// A delivery that parsed, to store; its `objectId` is read from `body` (the `data` object's, or the one
    /// inside a `data` string's).
    #[must_use]
    pub fn new(
        event_id: impl Into<EventId>,
        event: impl Into<String>,
        subscription: Option<String>,
        received_at_ms: i64,
        body: Bytes,
    ) -> Self {
        Self::with_parsed_object_id(event_id, event, subscription, received_at_ms, body, None)
    }

    /// [`NewEvent::new`] for a body whose `objectId` the exact parse already read (its text as
    /// [`ObjectId`](cxtn_model::ObjectId)'s `Display` writes it, which is the JSON integer as written):
    /// the body is read again for it only when `object_id` is `None`.
    pub(crate) fn with_parsed_object_id(
        event_id: impl Into<EventId>,
        event: impl Into<String>,
        subscription: Option<String>,
        received_at_ms: i64,
        body: Bytes,
        object_id: Option<String>,
    ) -> Self {
        Self {
            event_id: event_id.into(),
            event: event.into(),
            subscription,
            received_at_ms,
            body_hash: BodyHash::of(&body),
            object_id: object_id.or_else(|| query::object_id_of(&body)),
            body,
            quarantine: None,
        }
    }

    /// Stores the event with this `objectId` (as text), instead of the one read from the body.
    #[must_use]
    pub fn object_id(mut self, object_id: impl Into<String>) -> Self {
        self.object_id = Some(object_id.into());
        self
    }

    /// Stores the event as quarantined, with the reason its `data` does not fit.
    #[must_use]
    pub fn quarantined(mut self, reason: impl Into<String>) -> Self {
        self.quarantine = Some(reason.into());
        self
    }
}

/// A delivery without a usable envelope, kept with the reason; the same body twice is kept once.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewRejection {
    /// When it arrived, in milliseconds since the Unix epoch.
    pub received_at_ms: i64,
    /// The body exactly as received.
    pub body: Bytes,
    /// The digest of `body`: a rejection is stored once per digest.
    pub body_hash: BodyHash,
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
            body_hash: BodyHash::of(&body),
            body,
            reason: reason.into(),
            kind: kind.into(),
        }
    }
}

/// What a store did with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stored {
    /// The event is new and now stored (pending, or quarantined when it was stored as such).
    New,
    /// An event with this id and this very body was already stored; this copy only raised its delivery count.
    Duplicate,
    /// An event with this id but a different body was already stored: this body is kept beside it as a
    /// conflicting version (once per distinct body), and the first body stays the one processed.
    Conflict,
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
    /// Its envelope is usable but its `data` does not fit the typed model: kept, deduplicated, and not handed
    /// to the typed handler unless the worker opts in; a replay after an upgrade parses it again.
    Quarantined,
}

impl EventStatus {
    /// The name stored and shown: `pending`, `processing`, `processed`, `dead`, `quarantined`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Processed => "processed",
            Self::Dead => "dead",
            Self::Quarantined => "quarantined",
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
            "quarantined" => Self::Quarantined,
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
    pub event_id: EventId,
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
    /// The digest of the body.
    pub body_hash: BodyHash,
    /// How many other bodies arrived under this event id (see [`Inbox::conflicts`]).
    pub conflicts: u32,
    /// Why it was quarantined, when it was; kept after a replay or an opted-in handler processed it.
    pub quarantine_reason: Option<String>,
    /// The notification's `objectId`, as text, when its `data` has one.
    pub object_id: Option<String>,
}

/// A body that arrived under an event id already stored with a different body.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ConflictRecord {
    /// `eventId`.
    pub event_id: EventId,
    /// When this body first arrived (milliseconds since the Unix epoch).
    pub received_at_ms: i64,
    /// The body exactly as received.
    #[serde(skip)]
    pub body: Bytes,
    /// The digest of `body`.
    pub body_hash: BodyHash,
    /// How many times this body arrived.
    pub deliveries: u32,
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
    pub replayed_as: Option<EventId>,
    /// The digest of the body.
    pub body_hash: BodyHash,
    /// How many times this very body arrived.
    pub deliveries: u32,
}

/// Proof that a worker holds an event's lease: completions, renewals and releases carrying another token
/// (the lease ran out and someone else claimed the event) change nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClaimToken(i64);

impl ClaimToken {
    /// A fresh random token.
    #[must_use]
    pub fn random() -> Self {
        Self(fastrand::i64(..))
    }

    /// A token as a store keeps it.
    #[must_use]
    pub fn from_i64(value: i64) -> Self {
        Self(value)
    }

    /// The token as a store keeps it.
    #[must_use]
    pub fn as_i64(self) -> i64 {
        self.0
    }
}

/// An event a worker claimed: it is `processing` until completed or its lease runs out.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Claimed {
    /// `eventId`.
    pub event_id: EventId,
    /// The body exactly as received.
    pub body: Bytes,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// When it first arrived (milliseconds since the Unix epoch).
    pub received_at_ms: i64,
    /// The lease's token: pass it to [`Inbox::complete`], [`Inbox::renew`] and [`Inbox::release`].
    pub token: ClaimToken,
    /// How many other bodies arrived under this event id.
    pub conflicts: u32,
    /// Why it was quarantined, for an event claimed with `quarantined` on.
    pub quarantine_reason: Option<String>,
}

/// How a handler call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Completion {
    /// Done; never handed out again unless replayed.
    Processed,
    /// Failed; try again after a wait, measured on the store's clock.
    Retry {
        /// The handler's error.
        error: String,
        /// How long to wait before the next attempt.
        after: Duration,
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
    /// Events whose `data` does not fit the typed model, not yet replayed or handled.
    pub quarantined: u64,
    /// Distinct bodies without a usable envelope.
    pub rejected: u64,
    /// Redeliveries of stored events, deduplicated.
    pub duplicates: u64,
    /// Conflicting versions: bodies that arrived under a stored event id with different content.
    pub conflicts: u64,
    /// When the oldest event waiting for the handler (`pending`) arrived, in milliseconds since the Unix epoch;
    /// `None` when none waits.
    pub oldest_pending_at_ms: Option<i64>,
}

/// How a store grouped its writes into transactions (group commit) since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteStats {
    /// Transactions committed (one fsync each).
    pub transactions: u64,
    /// Operations (stores, rejections, claims, completions...) they carried.
    pub operations: u64,
    /// Transactions by how many operations they carried: `groups[i]` counts those that carried at most
    /// [`WriteStats::GROUP_BOUNDS`]`[i]` operations and more than the bound before it; the last counts those
    /// that carried more than the last bound.
    pub groups: [u64; 12],
}

impl WriteStats {
    /// The upper bounds of [`WriteStats::groups`], in operations per transaction.
    pub const GROUP_BOUNDS: [u64; 11] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

    /// Operations per transaction: how much group commit saved.
    #[must_use]
    pub fn mean_batch(&self) -> f64 {
        if self.transactions == 0 {
            0.0
        } else {
            self.operations as f64 / self.transactions as f64
        }
    }
}

/// The earlier of two optional times.
pub(crate) fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Refuses an arrivals interval that is not above zero.
pub(crate) fn check_bucket(bucket_ms: i64) -> Result<(), InboxError> {
    if bucket_ms > 0 {
        Ok(())
    } else {
        Err(InboxError::of_kind(
            InboxErrorKind::Refused,
            format!("an arrivals interval must be above zero milliseconds, not {bucket_ms}: give one such as 60000"),
            None,
        ))
    }
}

/// What kind of failure an [`InboxError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InboxErrorKind {
    /// The store could not be reached or did not answer in time (a database down, a lock held too long,
    /// a disk full): trying again later may succeed.
    Unavailable,
    /// The store refused the operation or its input (a constraint, a value it cannot hold).
    Refused,
    /// The file or schema is not an inbox this version can open or upgrade.
    NotAnInbox,
    /// Anything else.
    Other,
}

impl InboxErrorKind {
    /// A short lowercase name: `unavailable`, `refused`, `not an inbox` or `other`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unavailable => "unavailable",
            Self::Refused => "refused",
            Self::NotAnInbox => "not an inbox",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for InboxErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An inbox that failed to read or write.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct InboxError {
    kind: InboxErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl InboxError {
    /// An error of kind [`InboxErrorKind::Other`] with a message and an optional cause.
    pub fn new(message: impl Into<String>, source: Option<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::of_kind(InboxErrorKind::Other, message, source)
    }

    /// An error of a kind, with a message and an optional cause.
    pub fn of_kind(
        kind: InboxErrorKind,
        message: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            kind,
            message: message.into(),
            source,
        }
    }

    /// What kind of failure this is.
    #[must_use]
    pub fn kind(&self) -> InboxErrorKind {
        self.kind
    }
}

/// How a transactional handler's attempt ended (see `SqliteInbox::process_in_transaction` and
/// `PostgresInbox::process_in_transaction`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transacted {
    /// The handler's writes and the event's `processed` mark committed together.
    Processed,
    /// The handler failed; its writes were rolled back and nothing was marked. Complete the event as usual.
    Failed {
        /// The handler's error.
        error: String,
    },
    /// The lease was lost (it ran out and another worker claimed the event): nothing was committed.
    LeaseLost,
}

/// Durable storage of deliveries: the receiver stores each one before it answers,
/// and workers claim stored events to hand them to the handler.
///
/// Implementations must make [`Inbox::store`] durable before returning, keep one row per `event_id`,
/// and hand an event to one worker at a time (a claim holds a lease).
/// [`SqliteInbox`](crate::SqliteInbox) is the durable default; [`MemoryInbox`](crate::MemoryInbox) is for tests.
#[async_trait]
pub trait Inbox: Send + Sync + fmt::Debug {
    /// Stores a delivery with a usable envelope, durably, once per event id: the same body again is a
    /// [`Stored::Duplicate`], a different body a [`Stored::Conflict`] kept beside the first.
    async fn store(&self, event: NewEvent) -> Result<Stored, InboxError>;

    /// Stores a delivery without a usable envelope, durably, once per body digest; returns its id
    /// (the existing one, with its delivery count raised, for a body already rejected).
    async fn reject(&self, rejection: NewRejection) -> Result<i64, InboxError>;

    /// Claims up to `limit` events due now on the store's clock (pending and due, or processing with an
    /// expired lease; quarantined ones too when `quarantined` is on), counts an attempt on each, and leases
    /// them for `lease` under a fresh [`ClaimToken`].
    async fn claim(&self, lease: Duration, limit: usize, quarantined: bool) -> Result<Vec<Claimed>, InboxError>;

    /// Extends a lease to `lease` from now; `false` when the lease was lost (nothing changed).
    async fn renew(&self, event_id: &EventId, token: ClaimToken, lease: Duration) -> Result<bool, InboxError>;

    /// Records how a claimed event's handler call ended; `false` when the lease was lost (nothing changed).
    async fn complete(&self, event_id: &EventId, token: ClaimToken, completion: Completion)
    -> Result<bool, InboxError>;

    /// Gives a claimed event back unhandled: due now, this attempt not counted. `false` when the lease was lost.
    async fn release(&self, event_id: &EventId, token: ClaimToken) -> Result<bool, InboxError>;

    /// Makes a stored event pending again (whatever its status, quarantined included), due now, with its
    /// attempts reset. Returns `false` when no event has this id.
    async fn replay_event(&self, event_id: &EventId) -> Result<bool, InboxError>;

    /// Records that a rejection was replayed and stored as `event_id`.
    async fn resolve_rejection(&self, id: i64, event_id: &EventId) -> Result<bool, InboxError>;

    /// One stored event.
    async fn event(&self, event_id: &EventId) -> Result<Option<EventRecord>, InboxError>;

    /// Stored events that meet `filter`, ordered by `(received_at_ms, event_id)`: newest first, or oldest
    /// first when it says so; at most its limit, and only those strictly beyond its `after` cursor.
    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>, InboxError>;

    /// How many stored events first arrived at or after `since_ms`, per interval of `bucket_ms` milliseconds:
    /// intervals start at multiples of `bucket_ms` since the Unix epoch (so the first may hold only its part
    /// after `since_ms`); only intervals with arrivals, oldest first.
    ///
    /// The default pages through [`Inbox::events`]; stores count in their query language.
    ///
    /// # Errors
    ///
    /// [`InboxErrorKind::Refused`] when `bucket_ms` is not above zero; the store's errors otherwise.
    async fn arrivals(&self, since_ms: i64, bucket_ms: i64) -> Result<Vec<ArrivalBucket>, InboxError> {
        check_bucket(bucket_ms)?;
        let mut buckets: Vec<ArrivalBucket> = Vec::new();
        let mut filter = EventFilter::all().received_from(since_ms).oldest_first().limit(1000);
        loop {
            let page = self.events(filter.clone()).await?;
            let Some(last) = page.last() else { break };
            filter = filter.after(last.cursor());
            for record in &page {
                let start_ms = query::bucket_start(record.received_at_ms, bucket_ms);
                match buckets.last_mut() {
                    Some(bucket) if bucket.start_ms == start_ms => bucket.events = bucket.events.saturating_add(1),
                    _ => buckets.push(ArrivalBucket::new(start_ms, 1)),
                }
            }
        }
        Ok(buckets)
    }

    /// The conflicting versions of an event, oldest first; empty when it has none.
    async fn conflicts(&self, event_id: &EventId) -> Result<Vec<ConflictRecord>, InboxError>;

    /// One stored rejection.
    async fn rejection(&self, id: i64) -> Result<Option<RejectionRecord>, InboxError>;

    /// Stored rejections, newest first.
    async fn rejections(&self, limit: usize) -> Result<Vec<RejectionRecord>, InboxError>;

    /// Stored rejections, newest first, at most `limit`, only those with an id below `before_id` when given:
    /// pass the last id of a page for the next one.
    ///
    /// The default reads every rejection through [`Inbox::rejections`]; stores read only the page.
    async fn rejections_page(&self, limit: usize, before_id: Option<i64>) -> Result<Vec<RejectionRecord>, InboxError> {
        let all = self.rejections(usize::MAX).await?;
        Ok(all
            .into_iter()
            .filter(|r| before_id.is_none_or(|before| r.id < before))
            .take(limit)
            .collect())
    }

    /// Counts of what the inbox holds.
    async fn stats(&self) -> Result<InboxStats, InboxError>;

    /// Deletes what `policy` names, in batches of [`PrunePolicy::batch`] rows per transaction so that stores go
    /// on meanwhile, or only counts it for a [dry run](PrunePolicy::dry_run).
    ///
    /// A pruned event's id is remembered for the policy's dedupe window: [`Inbox::store`] answers
    /// [`Stored::Duplicate`] for it, whatever the body, and no handler sees it again.
    /// Remembered ids older than the window are forgotten.
    /// The default refuses: an inbox that keeps everything.
    async fn prune(&self, policy: &PrunePolicy) -> Result<PruneReport, InboxError> {
        let _ = policy;
        Err(InboxError::of_kind(
            InboxErrorKind::Refused,
            "this inbox does not prune: delete its rows with the store's own tools",
            None,
        ))
    }

    /// A signal the inbox raises when another process stored an event, so that workers wake at once
    /// instead of at their next poll. `None` (the default) when stores happen only in this process.
    fn wake_signal(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }

    /// Whether the inbox can take deliveries now: a SQLite file still writable, a database reachable.
    /// The admin listener's `/readyz` answers 503 while it fails. The default says yes.
    ///
    /// # Errors
    ///
    /// Why the inbox cannot take deliveries now.
    async fn check(&self) -> Result<(), InboxError> {
        Ok(())
    }

    /// How the inbox grouped its writes into transactions so far, for a store with group commit;
    /// `None` (the default) for one without.
    fn write_stats(&self) -> Option<WriteStats> {
        None
    }
}
