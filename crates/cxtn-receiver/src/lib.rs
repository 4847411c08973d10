//! Receive CXTN webhook notifications: authenticated, durable, deduplicated, handed to your code.
//!
//! CXTN signs nothing and publishes no retry policy or ordering, so the receiver assumes
//! at-least-once, out-of-order, unsigned delivery, and loses nothing:
//!
//! - it authenticates the sender by what the endpoint URL carries: an unguessable path token
//!   (the last path segment, compared in constant time) and/or HTTP Basic credentials;
//! - it answers 2xx only after the delivery is durably stored in an [`Inbox`]
//!   ([`SqliteInbox`]: WAL, `synchronous=FULL`, group commit);
//! - a redelivered `eventId` is acknowledged and stored once; the same `eventId` with a different body is
//!   kept beside the first as a conflict, logged and counted, and the first body stays the one processed;
//! - a body whose envelope is usable but whose `data` does not fit the typed model is quarantined under its
//!   `eventId`, and a body without a usable envelope (an empty `eventId` included) is stored raw, once per
//!   body, with the reason and answered 400; an event this version does not know is stored like any other;
//! - a [`Worker`] hands stored events to your [`Handler`] (at least once) or to a transactional handler
//!   (effects exactly once), retries failures with backoff, and dead-letters an event after its last attempt;
//!   any event or rejection can be replayed.
//! - an admin address of its own, off by default, serves `/healthz`, `/readyz` and Prometheus `/metrics`
//!   ([`ReceiverBuilder::admin_addr`], [`metrics::Metrics`]).
//!
//! Most users reach it through the facade crate `cxtn`, as `cxtn::receiver` (feature `receiver`), or the
//! `cxtn listen` command.
//!
//! ```no_run
//! use std::sync::Arc;
//! use cxtn_receiver::{Receiver, SqliteInbox, handler_fn, Event, HandlerError};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let inbox = Arc::new(SqliteInbox::open("cxtn-inbox.sqlite")?);
//! let receiver = Receiver::builder(inbox)
//!     .path_token(std::env::var("CXTN_PATH_TOKEN")?) // the endpoint URL is https://you.example/cxtn/<token>
//!     .handler(handler_fn(|event: Event| async move {
//!         println!("{} {}", event.notification.event_name(), event.notification.event_id());
//!         Ok::<(), HandlerError>(())
//!     }))
//!     .build()?;
//! let running = receiver.bind("127.0.0.1:8080").await?;
//! tokio::signal::ctrl_c().await?;
//! running.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! - `sqlite` (default): the durable [`SqliteInbox`] and its transactional `SqliteHandler`; re-exports
//!   `rusqlite`.
//! - `postgres`: the `PostgresInbox`, one database shared by receivers and workers on many machines (TLS by rustls
//!   on the ring provider, as `sslmode` says),
//!   its transactional `PostgresHandler` and the `idempotency` helper; re-exports `tokio_postgres`.
//! - `test-util`: `testing`, to test a handler: events from the guide's samples or any body, and a run through a
//!   receiver and its worker that reports what the worker did.
#![deny(missing_docs)]

mod admin;
mod auth;
#[cfg(feature = "postgres")]
pub mod idempotency;
pub mod inbox;
pub mod metrics;
mod retain;
mod server;
mod service;
#[cfg(feature = "test-util")]
pub mod testing;
mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use admin::{AdminBody, AdminService, MountFuture};
pub use async_trait::async_trait;
pub use auth::{Keys, KeysHandle};
pub use inbox::memory::MemoryInbox;
#[cfg(feature = "postgres")]
pub use inbox::postgres::{PostgresHandler, PostgresInbox, PostgresInboxBuilder};
#[cfg(feature = "sqlite")]
pub use inbox::sqlite::{SqliteHandler, SqliteInbox, Vacuumed};
pub use inbox::{
    ArrivalBucket, BodyHash, ClaimToken, Claimed, Completion, ConflictRecord, EventCursor, EventFilter, EventId,
    EventRecord, EventStatus, Inbox, InboxError, InboxErrorKind, InboxStats, NewEvent, NewRejection, PrunePolicy,
    PruneReport, RejectionRecord, Stored, Transacted, WriteStats,
};
#[cfg(feature = "sqlite")]
pub use rusqlite;
pub use server::Running;
pub use service::{Arrival, ArrivalOutcome, ReceiverService};
#[cfg(feature = "postgres")]
pub use tokio_postgres;
pub use worker::{Event, Handler, HandlerError, HandlerFn, QuarantinedEvent, Worker, WorkerPolicy, handler_fn};

use auth::Auth;
use cxtn_model::Secret;
use metrics::Metrics;
use service::{Limits, Shared};
use tokio::sync::{Notify, Semaphore, broadcast};

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The receiver was configured wrongly.
    Config,
    /// A socket could not be bound or used.
    Io,
    /// The inbox failed.
    Inbox,
    /// Nothing with that id is stored.
    NotFound,
    /// A replayed rejection still does not parse.
    StillInvalid,
}

/// A receiver that could not start, or an operation on its inbox that failed.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(mut self, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// What kind of failure it is.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl From<InboxError> for Error {
    fn from(e: InboxError) -> Self {
        Self::new(ErrorKind::Inbox, e.to_string()).with_source(e)
    }
}

/// A webhook receiver: the HTTP handling, and the worker that calls your handler.
#[derive(Debug, Clone)]
pub struct Receiver {
    service: ReceiverService,
    worker: Option<Worker>,
    header_timeout: Duration,
    max_connections: usize,
    admin: AdminService,
    admin_addr: Option<SocketAddr>,
    /// Raised by [`Running::shutdown`]: `/readyz` answers 503 from then on.
    stopping: Arc<AtomicBool>,
    retention: Option<retain::Retention>,
}

/// Builds a [`Receiver`]; problems surface at [`ReceiverBuilder::build`].
#[derive(Debug)]
#[must_use]
pub struct ReceiverBuilder {
    inbox: Arc<dyn Inbox>,
    auth: Auth,
    max_body: usize,
    body_timeout: Duration,
    header_timeout: Duration,
    max_concurrent: usize,
    max_connections: usize,
    handler: Option<Arc<dyn Handler>>,
    worker: Option<Worker>,
    policy: WorkerPolicy,
    admin_addr: Option<SocketAddr>,
    admin_token: Option<Secret>,
    admin_mounts: Vec<admin::Mount>,
    metrics: Option<Metrics>,
    retention: Option<retain::Retention>,
}

impl Receiver {
    /// A builder storing deliveries in `inbox`.
    pub fn builder(inbox: Arc<dyn Inbox>) -> ReceiverBuilder {
        ReceiverBuilder {
            inbox,
            auth: Auth::default(),
            max_body: 1024 * 1024,
            body_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            max_concurrent: 1024,
            max_connections: cxtn_transport::server::DEFAULT_MAX_CONNECTIONS,
            handler: None,
            worker: None,
            policy: WorkerPolicy::default(),
            admin_addr: None,
            admin_token: None,
            admin_mounts: Vec::new(),
            metrics: None,
            retention: None,
        }
    }

    /// The request handling as a `tower::Service`, to mount in an axum or hyper application.
    #[must_use]
    pub fn service(&self) -> ReceiverService {
        self.service.clone()
    }

    /// The worker that calls the handler, when one was given; run it yourself when you mount the service.
    #[must_use]
    pub fn worker(&self) -> Option<Worker> {
        self.worker.clone()
    }

    /// The admin endpoints (`/healthz`, `/readyz`, `/metrics`) as a `tower::Service`, to mount on an address of
    /// your own when you mount [`service`](Self::service) in an application; see [`AdminService`].
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use cxtn_receiver::{MemoryInbox, Receiver};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let receiver = Receiver::builder(Arc::new(MemoryInbox::new())).path_token("a-long-random-token").build()?;
    /// let admin = axum::Router::new().fallback_service(receiver.admin());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:9090").await?;
    /// axum::serve(listener, admin).await?;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn admin(&self) -> AdminService {
        self.admin.clone()
    }

    /// The receiver's metrics: deliveries, store latency, its worker's handler, what the inbox holds; register
    /// counters of your own on it with [`Metrics::counter`].
    #[must_use]
    pub fn metrics(&self) -> Metrics {
        self.service.shared.metrics.clone()
    }

    /// The handle that replaces the path tokens and Basic credentials accepted, while the receiver serves:
    /// how `cxtn listen` reloads its token file on SIGHUP. See [`KeysHandle`].
    #[must_use]
    pub fn keys(&self) -> KeysHandle {
        self.service.shared.auth.handle()
    }

    /// The inbox.
    #[must_use]
    pub fn inbox(&self) -> Arc<dyn Inbox> {
        self.service.shared.inbox.clone()
    }

    /// Every delivery's outcome as it happens (for printing or metrics); lagging subscribers skip.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Arrival> {
        self.service.shared.arrivals.subscribe()
    }

    /// Binds `addr` and serves until [`Running::shutdown`], and the admin endpoints on
    /// [`admin_addr`](ReceiverBuilder::admin_addr) when one was set.
    ///
    /// # Errors
    ///
    /// When the address or the admin address cannot be bound.
    pub async fn bind(&self, addr: impl tokio::net::ToSocketAddrs) -> Result<Running, Error> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::new(ErrorKind::Io, format!("cannot listen: {e}; is the port free?")).with_source(e))?;
        self.serve(listener)
    }

    /// Serves on a bound listener until [`Running::shutdown`], and the admin endpoints on
    /// [`admin_addr`](ReceiverBuilder::admin_addr) when one was set.
    ///
    /// # Errors
    ///
    /// When the listener's address cannot be read, or the admin address cannot be bound.
    pub fn serve(&self, listener: tokio::net::TcpListener) -> Result<Running, Error> {
        server::serve(self.clone(), listener, self.header_timeout)
    }
}

impl ReceiverBuilder {
    /// The secret last path segment of the endpoint URL (`https://you.example/cxtn/<token>`).
    /// Use at least 32 random characters; an empty token, or one no URL path can end with (holding a `/`, say),
    /// is refused by [`build`](Self::build).
    ///
    /// Each call adds a token: a request carrying any of them is accepted, which is how a token is rotated
    /// without downtime (see [`Keys`], and [`Receiver::keys`] to change them while serving).
    pub fn path_token(mut self, token: impl Into<Secret>) -> Self {
        self.auth.add_path_token(token.into());
        self
    }

    /// Adds each of `tokens` as a path token ([`path_token`](Self::path_token)).
    pub fn path_tokens<T: Into<Secret>>(mut self, tokens: impl IntoIterator<Item = T>) -> Self {
        for token in tokens {
            self.auth.add_path_token(token.into());
        }
        self
    }

    /// HTTP Basic credentials the endpoint URL carries (`https://user:pass@you.example/cxtn`).
    /// An empty user or password is refused by [`build`](Self::build).
    ///
    /// Each call adds credentials: a request carrying any of them is accepted.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<Secret>) -> Self {
        self.auth.add_basic(user.into(), password.into());
        self
    }

    /// Adds every path token and Basic credentials of `keys` ([`path_token`](Self::path_token),
    /// [`basic_auth`](Self::basic_auth)); empty ones are refused by [`build`](Self::build).
    pub fn keys(mut self, keys: Keys) -> Self {
        self.auth.add_keys(keys);
        self
    }

    /// Runs without any authentication: anyone who finds the URL can inject events. Off by default.
    pub fn allow_unauthenticated(mut self, allow: bool) -> Self {
        self.auth.set_unauthenticated(allow);
        self
    }

    /// The largest body accepted (default 1 MiB); larger ones get 413.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// How long the body may take to arrive (default 10 s); slower ones get 408.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// How long the request headers may take to arrive (default 10 s); slower connections are closed.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// Requests handled at once (default 1024); more get 503 with `Retry-After`.
    pub fn max_concurrent_requests(mut self, max: usize) -> Self {
        self.max_concurrent = max;
        self
    }

    /// The most connections open at once when the receiver serves itself ([`Receiver::bind`],
    /// [`Receiver::serve`]); default 512.
    ///
    /// At the cap, the connection idle longest (no request in progress) is closed to admit a new one, so a flood
    /// of connections that never send a request cannot keep deliveries out; when every connection has a request
    /// in progress, new ones wait in the listen backlog. Keep it well below the process's limit of open files
    /// (`ulimit -n`), which the inbox and outgoing connections share.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// The code that handles each stored event, at least once (see [`Handler`]).
    pub fn handler(mut self, handler: impl Handler) -> Self {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// Retries, time limits, concurrency and shutdown of the worker that [`handler`](Self::handler) gets.
    pub fn worker_policy(mut self, policy: WorkerPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// A worker made beforehand, instead of [`handler`](Self::handler): the way to run a transactional
    /// handler ([`Worker::sqlite`], `Worker::postgres`) beside the receiver.
    /// It must work on the same inbox as the receiver; it wakes as soon as a delivery is stored, and it is
    /// run and stopped with the receiver like any other.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use cxtn_receiver::{Event, HandlerError, Receiver, SqliteHandler, SqliteInbox, Worker, WorkerPolicy, rusqlite};
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
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let inbox = SqliteInbox::open("app.sqlite")?;
    /// let receiver = Receiver::builder(Arc::new(inbox.clone()))
    ///     .path_token(std::env::var("CXTN_PATH_TOKEN")?)
    ///     .worker(Worker::sqlite(inbox, Ledger, WorkerPolicy::default()))
    ///     .build()?;
    /// # let _ = receiver;
    /// # Ok(())
    /// # }
    /// ```
    pub fn worker(mut self, worker: Worker) -> Self {
        self.worker = Some(worker);
        self
    }

    /// Serves the admin endpoints ([`AdminService`]: `/healthz`, `/readyz`, `/metrics`) on their own address
    /// when the receiver runs through [`Receiver::bind`] or [`Receiver::serve`]. Off by default.
    /// Keep it on loopback or a private network (`127.0.0.1:9090`), and see [`admin_token`](Self::admin_token).
    pub fn admin_addr(mut self, addr: SocketAddr) -> Self {
        self.admin_addr = Some(addr);
        self
    }

    /// A token `/readyz` and `/metrics` require, as `Authorization: Bearer <token>`; none by default.
    /// An empty token is refused by [`build`](Self::build).
    pub fn admin_token(mut self, token: impl Into<Secret>) -> Self {
        self.admin_token = Some(token.into());
        self
    }

    /// Serves `service` on the admin listener too, for every request whose path is `prefix` or starts with
    /// `prefix/` (such as the inbox console under `/console`); the request reaches it with its path unchanged.
    /// The admin token is not checked for it: give the mounted service the same token, so that it checks it in
    /// its own way (a console signs browsers in with it).
    /// A prefix that does not start with `/`, ends with `/`, or covers `/healthz`, `/readyz` or `/metrics` is
    /// refused by [`build`](Self::build).
    pub fn admin_mount<S, B>(mut self, prefix: impl Into<String>, service: S) -> Self
    where
        S: tower_service::Service<
                http::Request<AdminBody>,
                Response = http::Response<B>,
                Error = std::convert::Infallible,
                Future = admin::MountFuture<http::Response<B>>,
            > + Clone
            + Send
            + Sync
            + 'static,
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.admin_mounts.push(admin::Mount::new(prefix.into(), service));
        self
    }

    /// Prunes the inbox with `policy` when the receiver starts serving, then `every` (an hour, say), until it
    /// stops; see [`Inbox::prune`].
    /// A failed run is logged and counted (`cxtn_inbox_prune_failures_total`), and the next one tries again;
    /// the rows deleted are counted in `cxtn_inbox_pruned_rows_total`.
    /// A receiver mounted with [`Receiver::service`] runs no policy: call [`Inbox::prune`] on a schedule of
    /// your own.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use cxtn_receiver::{PrunePolicy, Receiver, SqliteInbox};
    ///
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// const DAY: Duration = Duration::from_secs(24 * 60 * 60);
    /// let receiver = Receiver::builder(Arc::new(SqliteInbox::open("cxtn-inbox.sqlite")?))
    ///     .path_token(std::env::var("CXTN_PATH_TOKEN")?)
    ///     .retention(PrunePolicy::default().processed_older_than(30 * DAY), Duration::from_secs(3600))
    ///     .build()?;
    /// # let _ = receiver;
    /// # Ok(())
    /// # }
    /// ```
    pub fn retention(mut self, policy: PrunePolicy, every: Duration) -> Self {
        self.retention = Some(retain::Retention { policy, every });
        self
    }

    /// Counts into `metrics` instead of a set of its own: for counters registered before the receiver is built
    /// (a handler's own, say) to be rendered with its metrics.
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Builds the receiver.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when no authentication is configured and
    /// [`allow_unauthenticated`](Self::allow_unauthenticated) was not set, the path token is empty, the Basic
    /// user or password is empty, or both a
    /// handler and a worker were given.
    pub fn build(self) -> Result<Receiver, Error> {
        if self.handler.is_some() && self.worker.is_some() {
            return Err(Error::new(
                ErrorKind::Config,
                "the receiver has both a handler and a worker: give one of handler(..) and worker(..)",
            ));
        }
        let auth = self.auth.build()?;
        if self.max_concurrent == 0 || self.max_body == 0 || self.max_connections == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "the connection, request and body limits must be above zero",
            ));
        }
        if self.admin_token.as_ref().is_some_and(Secret::is_empty) {
            return Err(Error::new(
                ErrorKind::Config,
                "the admin token is empty: give a long random one, or none",
            ));
        }
        let metrics = self.metrics.unwrap_or_default();
        metrics.watch(self.inbox.clone());
        let stopping = Arc::new(AtomicBool::new(false));
        if let Some(problem) = self.admin_mounts.iter().find_map(admin::Mount::problem) {
            return Err(Error::new(ErrorKind::Config, problem));
        }
        let admin = AdminService::new(
            self.inbox.clone(),
            metrics.clone(),
            self.admin_token,
            stopping.clone(),
            self.admin_mounts,
        );
        // One signal for stores here and, when the inbox raises one, stores by other receivers.
        let stored = self.inbox.wake_signal().unwrap_or_else(|| Arc::new(Notify::new()));
        let (arrivals, _) = broadcast::channel(1024);
        let shared = Arc::new(Shared {
            inbox: self.inbox.clone(),
            auth,
            limits: Limits {
                max_body: self.max_body,
                body_timeout: self.body_timeout,
            },
            permits: Arc::new(Semaphore::new(self.max_concurrent)),
            stored: stored.clone(),
            arrivals,
            metrics: metrics.clone(),
        });
        let worker = match (self.handler, self.worker) {
            (Some(handler), _) => Some(Worker::new(self.inbox, handler, self.policy)),
            (None, worker) => worker,
        };
        let worker = worker.map(|worker| worker.with_wake(stored).with_metrics(metrics));
        Ok(Receiver {
            service: ReceiverService { shared },
            worker,
            header_timeout: self.header_timeout,
            max_connections: self.max_connections,
            admin,
            admin_addr: self.admin_addr,
            stopping,
            retention: self.retention,
        })
    }
}

/// What to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayTarget {
    /// A stored event, by `eventId`, whatever its status; a quarantined one only if it parses now.
    Event(EventId),
    /// A stored rejection, by id: parsed again and stored as an event if it parses now.
    Rejection(i64),
}

/// Makes a stored event (processed, dead-lettered, anything) pending again, or parses a stored
/// rejection again and stores it as an event. Returns the event id now pending.
///
/// A quarantined event is parsed again first: after an upgrade that fits its `data`, it becomes pending;
/// otherwise it stays quarantined and the error says why.
/// A rejection that parses now under an event id already stored with another body is kept as a conflicting
/// version of that event, which stays as it is.
///
/// # Errors
///
/// [`ErrorKind::NotFound`] when nothing has that id, [`ErrorKind::StillInvalid`] when a quarantined event or
/// a rejection still does not parse (or a rejection's `eventId` is empty), [`ErrorKind::Inbox`] when the inbox
/// fails.
pub async fn replay(inbox: &dyn Inbox, target: ReplayTarget) -> Result<EventId, Error> {
    match target {
        ReplayTarget::Event(event_id) => {
            let record = inbox
                .event(&event_id)
                .await?
                .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no stored event has the id `{event_id}`")))?;
            if record.status == EventStatus::Quarantined
                && let Err(e) = cxtn_events::parse(&record.body)
            {
                return Err(Error::new(
                    ErrorKind::StillInvalid,
                    format!(
                        "event `{event_id}` still does not parse, so it stays quarantined: {e}; replay it after an upgrade that reads it"
                    ),
                )
                .with_source(e));
            }
            if inbox.replay_event(&event_id).await? {
                Ok(event_id)
            } else {
                Err(Error::new(
                    ErrorKind::NotFound,
                    format!("no stored event has the id `{event_id}`"),
                ))
            }
        }
        ReplayTarget::Rejection(id) => {
            let rejection = inbox
                .rejection(id)
                .await?
                .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no stored rejection has the id {id}")))?;
            let notification = cxtn_events::parse(&rejection.body).map_err(|e| {
                Error::new(
                    ErrorKind::StillInvalid,
                    format!("rejection {id} still does not parse: {e}"),
                )
                .with_source(e)
            })?;
            if service::is_blank(notification.event_id()) {
                return Err(Error::new(
                    ErrorKind::StillInvalid,
                    format!("rejection {id} has an empty `eventId`, so it cannot be stored as an event"),
                ));
            }
            let event_id = notification.event_id().clone();
            let new = inbox::NewEvent::new(
                event_id.clone(),
                notification.event_name(),
                notification.subscription().map(|s| s.to_string()),
                rejection.received_at_ms,
                rejection.body,
            );
            if inbox.store(new).await? == Stored::Duplicate {
                inbox.replay_event(&event_id).await?;
            }
            inbox.resolve_rejection(id, &event_id).await?;
            Ok(event_id)
        }
    }
}

#[cfg(test)]
mod tests;
