//! The shared PostgreSQL inbox: several receivers and workers, on many machines, one database.
//!
//! [`PostgresInbox`] keeps the promises of the [`Inbox`] trait across processes and machines:
//!
//! - [`Inbox::store`] returns only after the transaction holding its row has committed
//!   (PostgreSQL's `synchronous_commit`, `on` by default, decides what "committed" means: keep it on);
//! - copies of one event that reach different receivers at the same moment are stored once:
//!   `INSERT .. ON CONFLICT (event_id) DO UPDATE SET deliveries = deliveries + n`, so exactly one copy is
//!   reported [`Stored::New`] and the others [`Stored::Duplicate`];
//! - a copy whose body differs from the stored one (by SHA-256 digest) is kept in the `conflicts` table, once
//!   per distinct body with its own delivery count, and reported [`Stored::Conflict`]; the first body stored
//!   stays the one processed;
//! - a body without a usable envelope is kept in `rejections` once per digest, its deliveries counted;
//! - workers on many machines claim with `FOR UPDATE SKIP LOCKED` under a lease, so an event is handed to
//!   one worker at a time, and to another worker once the lease of a worker that died runs out;
//! - after each group of stores the inbox announces it with `pg_notify`, and every inbox on the same schema
//!   listens on a connection of its own ([`Inbox::wake_signal`]), so workers
//!   wake at once whichever receiver stored the event.
//!
//! # Group commit
//!
//! Stores that wait at the same moment go to the database together, as one `INSERT` of many rows in one
//! transaction (one commit, one WAL flush); each caller is answered when that transaction commits.
//! A group in which some copy carries a conflicting body takes a second transaction that keeps those bodies.
//! Up to four such transactions (a quarter of the pool) run at once, each on its own connection; the stores
//! that arrive meanwhile wait for the next one.
//! Under many concurrent deliveries this multiplies the rate of stores several times over (on a small
//! machine, 64 at once: about 26 000 stores/s grouped against 7 000 one by one); with few it changes nothing.
//! [`PostgresInboxBuilder::max_batch`] sets how many stores one transaction carries; `1` turns grouping off,
//! and then every connection of the pool may store.
//!
//! # Claims and completions
//!
//! Every lease and due time is measured on the database's clock (`statement_timestamp()`), never on a
//! worker's: workers whose clocks disagree still agree on when a lease runs out.
//! A claim takes up to `limit` events (4096 at most) that are `pending` and due, or `processing` with a lease that has
//! run out (and `quarantined` ones when asked), oldest first; it counts an attempt on each, sets the lease,
//! and gives each claimed event a fresh random [`ClaimToken`], stored in its row and returned in its
//! [`Claimed`].
//! Renewals, completions and releases change the row only while it is `processing` under that very token,
//! in the same statement (`WHERE status = 'processing' AND claim_token = $2`), and say whether they did.
//! So a completion never brings back an event that was completed, dead-lettered or replayed since, and a
//! worker whose lease ran out while another worker took the event cannot overwrite the newer claim's outcome,
//! whichever handle or process it runs in.
//! A completion that does not apply is ignored (logged), and [`Inbox::complete`] returns `Ok(false)`.
//! A release or a retry puts an event claimed from quarantine back in quarantine.
//!
//! # Transactional handlers
//!
//! [`PostgresInbox::process_in_transaction`] runs a [`PostgresHandler`] inside a transaction that also marks
//! the event processed, fenced by its claim token: the handler's writes and the mark commit together, and a
//! worker that lost its lease commits nothing.
//! For a ledger in another database, see [`idempotency`](crate::idempotency).
//!
//! # Errors
//!
//! Every [`InboxError`] has a kind: [`InboxErrorKind::Unavailable`] when the database cannot be reached, a
//! connection breaks, no connection comes free in time, a statement runs out of time, or the server lacks
//! resources (try again later); [`InboxErrorKind::Refused`] when the database refuses a value or a constraint
//! (an event id holding a NUL character is refused before the database is asked: PostgreSQL text cannot
//! hold one); [`InboxErrorKind::NotAnInbox`] when the schema was upgraded by a newer version.
//!
//! # Schema and migrations
//!
//! Everything lives in one schema (`cxtn` unless [`PostgresInboxBuilder::schema`] says otherwise):
//! the tables `events`, `conflicts` and `rejections`, and `cxtn_inbox_migrations (version, applied_at)`.
//! [`PostgresInbox::connect`] creates the schema if it is missing and applies the migrations this version
//! knows and the database lacks, each in its own transaction under `pg_advisory_xact_lock`, so receivers
//! that start together do not race.
//! A database migrated by a newer version is refused rather than used.
//! Shipped migrations are never edited; version 2 (body digests, conflicts, quarantine, rejections kept once
//! per body, merging existing copies) needs PostgreSQL 11 or later.
//! Connecting waits up to two minutes for the upgrade (another receiver may hold the lock while it upgrades).
//!
//! # Connection loss
//!
//! Waiting for a free connection, and opening a new one, each take at most
//! [`PostgresInboxBuilder::connect_timeout`] (default 5 s), and a statement at most [`PostgresInboxBuilder::operation_timeout`] (default 10 s); past either, the operation
//! fails with an [`InboxError`], so the receiver answers 503 with `Retry-After` and CXTN sends the delivery
//! again.
//! Broken connections are dropped and replaced when the database answers again; nothing needs a restart.
//!
//! # TLS
//!
//! Connections (the pool's and the one that listens for wake-ups) speak TLS through rustls on the ring provider,
//! as the connection string's `sslmode` says, the way libpq reads it:
//!
//! - `disable`: no TLS;
//! - `prefer` (the default): TLS when the server offers it, without verifying its certificate;
//! - `require`: TLS or no connection; the certificate is verified as for `verify-ca` when root certificates are
//!   given, and not at all otherwise (encryption without authentication);
//! - `verify-ca`: TLS, with a certificate that chains to a trusted root;
//! - `verify-full`: as `verify-ca`, and the certificate names the host connected to (use this one across a
//!   network you do not control).
//!
//! The trusted roots are the PEM certificates in the file `sslrootcert=/path/ca.pem` names, and those given to
//! [`PostgresInboxBuilder::root_certificates`]; with neither (or `sslrootcert=system`), the Mozilla roots of
//! the `webpki-roots` crate.
//! A managed database whose certificate authority is its provider's own (as most are) needs that authority's
//! certificate: download it from the provider and name it in `sslrootcert`.
//!
//! ```text
//! postgres://cxtn@db.example.com:5432/payments?sslmode=verify-full&sslrootcert=/etc/cxtn/db-ca.pem
//! ```
//!
//! A certificate that is refused fails the connection with an error that says why
//! (`the server's certificate was refused (UnknownIssuer): ...`); once connected, such failures make stores
//! fail as [`InboxErrorKind::Unavailable`], so deliveries are answered 503 until the certificates are put right.
//!
//! # Testing against PostgreSQL
//!
//! The crate's PostgreSQL tests read the database URL from `CXTN_TEST_POSTGRES_URL`, and use the local server's
//! `postgres` database (`postgres://postgres@127.0.0.1:5432/postgres`) when it is unset; each test works in a schema
//! of its own and drops it.
//! `.ci/run` starts a server on loopback, creates a fresh database `cxtn_ci` and sets the variable.
//! For a local run against a server that trusts loopback connections:
//!
//! ```text
//! createdb -h 127.0.0.1 -U postgres cxtn_test
//! CXTN_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/cxtn_test cargo test -p cxtn-receiver --all-features
//! ```
//!
//! Each test works in a schema of its own and drops it when done.

mod group;
mod pool;
mod prune;
mod schema;
mod sql;
#[cfg(test)]
mod tests;
mod tls;
mod transact;
mod wake;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use deadpool_postgres::{Manager, Pool, Runtime};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};

use self::group::{MAX_STORE_TRANSACTIONS, PendingStore, STORE_QUEUE, dispatch};
use self::pool::{Inner, Target};
use self::schema::is_valid_schema;
use self::sql::{EVENT_COLUMNS, Sql, conflict_record, event_record, millis, rejection_record, storable, to_u32};
use self::tls::{SslMode, TlsParams};
pub use self::transact::PostgresHandler;
use self::wake::listen;
use super::{
    ArrivalBucket, BodyHash, ClaimToken, Claimed, Completion, ConflictRecord, EventFilter, EventId, EventRecord,
    EventStatus, Inbox, InboxError, InboxErrorKind, InboxStats, NewEvent, NewRejection, PrunePolicy, PruneReport,
    RejectionRecord, Stored, WriteStats,
};
use crate::inbox::group::GroupStats;

type PgError = tokio_postgres::Error;
use tokio_postgres::types::ToSql;

const DEFAULT_SCHEMA: &str = "cxtn";
const DEFAULT_POOL_SIZE: usize = 16;
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_MAX_BATCH: usize = 256;
/// The most events one claim takes, whatever limit it is given.
const MAX_CLAIM: usize = 4096;

/// The durable inbox shared by receivers and workers on many machines: one PostgreSQL database.
///
/// Cheap to clone: clones share the connection pool. See the [module docs](self) for the guarantees,
/// the claim and completion rules, the migrations and what happens when the database is unreachable.
///
/// ```no_run
/// use std::sync::Arc;
/// use cxtn_receiver::{PostgresInbox, Receiver};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let inbox = PostgresInbox::builder("postgres://cxtn@127.0.0.1:5432/payments")
///     .schema("cxtn")
///     .pool_size(16)
///     .connect()
///     .await?;
/// let receiver = Receiver::builder(Arc::new(inbox))
///     .path_token(std::env::var("CXTN_PATH_TOKEN")?)
///     .build()?;
/// # let _ = receiver;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PostgresInbox {
    inner: Arc<Inner>,
    wake: Arc<Notify>,
    stores: mpsc::Sender<PendingStore>,
    max_batch: usize,
    groups: Arc<GroupStats>,
}

/// Builds a [`PostgresInbox`]; problems surface at [`PostgresInboxBuilder::connect`].
#[must_use]
pub struct PostgresInboxBuilder {
    url: String,
    schema: String,
    pool_size: usize,
    connect_timeout: Duration,
    operation_timeout: Duration,
    max_batch: usize,
    root_certificates: Vec<Vec<u8>>,
}

impl PostgresInbox {
    /// Connects to the database at `url` with the default options, creating or upgrading the schema `cxtn`.
    ///
    /// `url` is a PostgreSQL connection string: `postgres://user:password@host:port/dbname` or
    /// `host=.. port=.. user=.. dbname=..`.
    ///
    /// # Errors
    ///
    /// When the connection string is not valid, the database cannot be reached, or its schema cannot be
    /// upgraded (or was upgraded by a newer version).
    pub async fn connect(url: &str) -> Result<Self, InboxError> {
        Self::builder(url).connect().await
    }

    /// A builder for an inbox in the database at `url`, for options.
    pub fn builder(url: impl Into<String>) -> PostgresInboxBuilder {
        PostgresInboxBuilder {
            url: url.into(),
            schema: DEFAULT_SCHEMA.to_owned(),
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            max_batch: DEFAULT_MAX_BATCH,
            root_certificates: Vec::new(),
        }
    }

    /// The schema the inbox's tables live in.
    #[must_use]
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }
}

impl fmt::Debug for PostgresInbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.inner.pool.status();
        f.debug_struct("PostgresInbox")
            .field("target", &self.inner.target.to_string())
            .field("schema", &self.inner.schema)
            .field("pool_size", &status.max_size)
            .field("connections", &status.size)
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for PostgresInboxBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = TlsParams::split(&self.url)
            .ok()
            .and_then(|params| tokio_postgres::Config::from_str(&params.rest).ok())
            .map_or_else(
                || "<not a valid connection string>".to_owned(),
                |config| Target::of(&config).to_string(),
            );
        f.debug_struct("PostgresInboxBuilder")
            .field("target", &target)
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("max_batch", &self.max_batch)
            .field("root_certificates", &self.root_certificates.len())
            .finish()
    }
}

impl PostgresInboxBuilder {
    /// The schema that holds the inbox's tables (default `cxtn`), created if missing.
    /// Letters, digits and `_`, starting with a letter or `_`, at most 63 bytes.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The most connections the inbox opens (default 16).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// How long an operation waits for a free connection, and then for a new one to open (default 5 s each).
    /// Past it the operation fails, and a delivery is answered 503.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one statement may take once connected (default 10 s).
    /// Past it the operation fails and its connection is closed.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// The most stores one transaction carries (default 256); `1` commits each store on its own,
    /// on any connection of the pool.
    pub fn max_batch(mut self, stores: usize) -> Self {
        self.max_batch = stores;
        self
    }

    /// PEM certificates of the authorities that sign the server's certificate, trusted by `sslmode=verify-ca`
    /// and `verify-full` (and by `require`, which then verifies as `verify-ca`), beside any the connection
    /// string's `sslrootcert` names. Call it once per PEM text; a text may hold several certificates.
    /// Read when connecting: text that holds no PEM certificate fails [`connect`](Self::connect).
    ///
    /// ```no_run
    /// use cxtn_receiver::PostgresInbox;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let inbox = PostgresInbox::builder("postgres://cxtn@db.example.com/payments?sslmode=verify-full")
    ///     .root_certificates(std::fs::read("/etc/cxtn/db-ca.pem")?)
    ///     .connect()
    ///     .await?;
    /// # let _ = inbox;
    /// # Ok(())
    /// # }
    /// ```
    pub fn root_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates.push(pem.into());
        self
    }

    /// Connects, creates the schema if it is missing and applies the migrations it lacks.
    ///
    /// # Errors
    ///
    /// When an option or the connection string is not valid, the database cannot be reached,
    /// or its schema cannot be upgraded (or was upgraded by a newer version).
    pub async fn connect(self) -> Result<PostgresInbox, InboxError> {
        let tls_params = TlsParams::split(&self.url)?;
        let mut config = tokio_postgres::Config::from_str(&tls_params.rest).map_err(|_| {
            InboxError::new(
                "the PostgreSQL connection string is not valid: use postgres://user@host:port/dbname \
                 or `host=.. port=.. user=.. dbname=..`",
                None,
            )
        })?;
        if !is_valid_schema(&self.schema) {
            return Err(InboxError::new(
                format!(
                    "`{}` cannot be the inbox's schema: use letters, digits and `_`, start with a letter or `_`, \
                     at most 63 bytes, not `pg_`",
                    self.schema.escape_debug()
                ),
                None,
            ));
        }
        if self.pool_size == 0 || self.max_batch == 0 {
            return Err(InboxError::new(
                "the PostgreSQL inbox's pool size and batch size must be above zero",
                None,
            ));
        }
        let mode = tls_params.mode.unwrap_or(SslMode::Prefer);
        config.ssl_mode(mode.for_tokio_postgres());
        let tls = tls::connector(mode, tls_params.root_cert.as_ref(), &self.root_certificates)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(self.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("cxtn-receiver");
        }
        let target = Target::of(&config);
        let listen_config = config.clone();
        let pool = Pool::builder(Manager::new(config, tls.clone()))
            .max_size(self.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.connect_timeout))
            .create_timeout(Some(self.connect_timeout))
            .recycle_timeout(Some(self.connect_timeout))
            .build()
            .map_err(|e| InboxError::new("cannot set up the PostgreSQL connection pool", Some(e.into())))?;
        let quoted = format!("\"{}\"", self.schema);
        let inner = Arc::new(Inner {
            pool,
            sql: Sql::new(&quoted),
            target,
            schema: self.schema,
            connect_timeout: self.connect_timeout,
            operation_timeout: self.operation_timeout,
        });
        inner.migrate(&quoted).await?;
        let (stores, queue) = mpsc::channel(STORE_QUEUE);
        let transactions = if self.max_batch == 1 {
            self.pool_size
        } else {
            self.pool_size.div_ceil(4).min(MAX_STORE_TRANSACTIONS)
        };
        let slots = Arc::new(Semaphore::new(transactions));
        let groups = Arc::new(GroupStats::default());
        tokio::spawn(dispatch(inner.clone(), queue, slots, self.max_batch, groups.clone()));
        let wake = Arc::new(Notify::new());
        tokio::spawn(listen(listen_config, tls, inner.schema.clone(), Arc::downgrade(&wake)));
        Ok(PostgresInbox {
            inner,
            wake,
            stores,
            max_batch: self.max_batch,
            groups,
        })
    }
}

/// A value of a listing's statement.
#[derive(Debug)]
enum Param {
    Text(String),
    Int(i64),
}

impl Param {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Self::Text(text) => text,
            Self::Int(n) => n,
        }
    }
}

/// The statement that lists what `filter` asks for from `events` (the qualified table), and its values.
///
/// Ids are compared and ordered in byte order (`COLLATE "C"`), as the indexes of migration 4 hold them: each
/// filter's index ends with `(received_at_ms, event_id)`, so a page reads the rows it returns and few more.
/// Text PostgreSQL cannot hold (a NUL character) matches no event.
fn listing(events: &str, filter: &EventFilter) -> (String, Vec<Param>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<Param> = Vec::new();
    let bind = |value: Param, values: &mut Vec<Param>| {
        values.push(value);
        format!("${}", values.len())
    };
    let text = |value: &str, values: &mut Vec<Param>| bind(Param::Text(storable(value).into_owned()), values);
    let impossible = [
        filter.event.as_deref(),
        filter.subscription.as_deref(),
        filter.search_text(),
    ]
    .into_iter()
    .flatten()
    .chain(filter.after.as_ref().map(|after| after.event_id.as_str()))
    .any(|value| value.contains('\0'));
    if impossible {
        conditions.push("FALSE".to_owned());
    }
    if let Some(status) = filter.status {
        let p = text(status.as_str(), &mut values);
        conditions.push(format!("status = {p}"));
    }
    if let Some(name) = &filter.event {
        let p = text(name, &mut values);
        conditions.push(format!("event = {p}"));
    }
    if let Some(subscription) = &filter.subscription {
        let p = text(subscription, &mut values);
        conditions.push(format!("subscription = {p}"));
    }
    if let Some(from) = filter.received_from_ms {
        let p = bind(Param::Int(from), &mut values);
        conditions.push(format!("received_at_ms >= {p}"));
    }
    if let Some(until) = filter.received_until_ms {
        let p = bind(Param::Int(until), &mut values);
        conditions.push(format!("received_at_ms < {p}"));
    }
    if filter.conflicts_only {
        conditions.push("conflicts > 0".to_owned());
    }
    if let Some(search) = filter.search_text() {
        let start = text(search, &mut values);
        let by_id = match super::query::prefix_end(search) {
            Some(end) => {
                let end = text(&end, &mut values);
                format!("(event_id COLLATE \"C\" >= {start} AND event_id COLLATE \"C\" < {end})")
            }
            None => format!("event_id COLLATE \"C\" >= {start}"),
        };
        conditions.push(format!("({by_id} OR object_id = {start})"));
    }
    if let Some(after) = &filter.after {
        let at = bind(Param::Int(after.received_at_ms), &mut values);
        let id = text(after.event_id.as_str(), &mut values);
        let (strict, beyond) = if filter.oldest_first { (">", ">=") } else { ("<", "<=") };
        conditions.push(format!(
            "received_at_ms {beyond} {at} AND (received_at_ms {strict} {at} OR event_id COLLATE \"C\" {strict} {id})"
        ));
    }
    let limit = bind(
        Param::Int(i64::try_from(filter.effective_limit()).unwrap_or(i64::MAX)),
        &mut values,
    );
    let order = if filter.oldest_first { "ASC" } else { "DESC" };
    let conditions = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    (
        format!(
            "SELECT {EVENT_COLUMNS} FROM {events} {conditions}
             ORDER BY received_at_ms {order}, event_id COLLATE \"C\" {order} LIMIT {limit}"
        ),
        values,
    )
}

/// Refuses text PostgreSQL cannot hold in a `TEXT` column: a NUL character.
fn refuse_nul(event: &NewEvent) -> Result<(), InboxError> {
    let refused = |what: &str| {
        Err(InboxError::of_kind(
            InboxErrorKind::Refused,
            format!("the event's {what} holds a NUL character, which PostgreSQL cannot store: keep it as a rejection"),
            None,
        ))
    };
    if event.event_id.as_str().contains('\0') {
        return refused("id");
    }
    if event.event.contains('\0') {
        return refused("name");
    }
    if event.subscription.as_deref().is_some_and(|s| s.contains('\0')) {
        return refused("subscription");
    }
    Ok(())
}

#[async_trait]
impl Inbox for PostgresInbox {
    /// Raised when a receiver on the same schema, in this process or another, stored events.
    fn wake_signal(&self) -> Option<Arc<Notify>> {
        Some(self.wake.clone())
    }

    /// Runs `SELECT 1` on a connection of the pool, within the connect and operation timeouts.
    async fn check(&self) -> Result<(), InboxError> {
        let inner = &self.inner;
        let client = inner.client().await?;
        let outcome = inner.timed(client.simple_query("SELECT 1")).await;
        inner.settle(client, "check the connection", outcome).map(drop)
    }

    fn write_stats(&self) -> Option<WriteStats> {
        Some(self.groups.snapshot())
    }

    async fn store(&self, event: NewEvent) -> Result<Stored, InboxError> {
        refuse_nul(&event)?;
        let (reply, answer) = oneshot::channel();
        self.stores
            .send(PendingStore { event, reply })
            .await
            .map_err(|_| InboxError::new("the PostgreSQL inbox's store task has stopped", None))?;
        answer
            .await
            .map_err(|_| InboxError::new("the PostgreSQL inbox's store task stopped before answering", None))?
    }

    async fn reject(&self, rejection: NewRejection) -> Result<i64, InboxError> {
        let inner = &self.inner;
        let client = inner.client().await?;
        let body: &[u8] = &rejection.body;
        let hash: &[u8] = rejection.body_hash.as_bytes();
        let reason = storable(&rejection.reason);
        let kind = storable(&rejection.kind);
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(&inner.sql.reject).await?;
                client
                    .query_one(&statement, &[&rejection.received_at_ms, &body, &hash, &reason, &kind])
                    .await?
                    .try_get::<_, i64>(0)
            })
            .await;
        inner.settle(client, "store a rejection", outcome)
    }

    async fn claim(&self, lease: Duration, limit: usize, quarantined: bool) -> Result<Vec<Claimed>, InboxError> {
        let inner = &self.inner;
        let lease_ms = millis(lease);
        let limit = limit.min(MAX_CLAIM);
        let tokens: Vec<i64> = (0..limit).map(|_| ClaimToken::random().as_i64()).collect();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(&inner.sql.claim).await?;
                let rows = client
                    .query(&statement, &[&limit, &lease_ms, &quarantined, &tokens])
                    .await?;
                let mut claimed = Vec::with_capacity(rows.len());
                for row in rows {
                    let body: Vec<u8> = row.try_get(1)?;
                    let seq: i64 = row.try_get(4)?;
                    claimed.push((
                        seq,
                        Claimed {
                            event_id: EventId::new(row.try_get::<_, String>(0)?),
                            body: Bytes::from(body),
                            attempt: to_u32(row.try_get(2)?),
                            received_at_ms: row.try_get(3)?,
                            token: ClaimToken::from_i64(row.try_get(5)?),
                            conflicts: to_u32(row.try_get(6)?),
                            quarantine_reason: row.try_get(7)?,
                        },
                    ));
                }
                Ok(claimed)
            })
            .await;
        let mut claimed = inner.settle(client, "claim events", outcome)?;
        claimed.sort_by_key(|(seq, c)| (c.received_at_ms, *seq));
        Ok(claimed.into_iter().map(|(_, c)| c).collect())
    }

    async fn renew(&self, event_id: &EventId, token: ClaimToken, lease: Duration) -> Result<bool, InboxError> {
        let (id, token, lease_ms) = (event_id.as_str(), token.as_i64(), millis(lease));
        let changed = self
            .execute("renew a lease", |sql| &sql.renew, &[&id, &token, &lease_ms])
            .await?;
        Ok(changed == 1)
    }

    async fn complete(
        &self,
        event_id: &EventId,
        token: ClaimToken,
        completion: Completion,
    ) -> Result<bool, InboxError> {
        let (id, token) = (event_id.as_str(), token.as_i64());
        let what = "record a completion";
        let changed = match &completion {
            Completion::Processed => self.execute(what, |sql| &sql.processed, &[&id, &token]).await?,
            Completion::Retry { error, after } => {
                let (error, after_ms) = (storable(error), millis(*after));
                self.execute(what, |sql| &sql.retry, &[&id, &token, &error, &after_ms])
                    .await?
            }
            Completion::Dead { error } => {
                let error = storable(error);
                self.execute(what, |sql| &sql.dead, &[&id, &token, &error]).await?
            }
        };
        if changed == 0 {
            tracing::warn!(
                event_id = %event_id,
                "a completion was ignored: the event is no longer claimed under this lease (it ran out and another worker took the event, or the event was replayed)"
            );
        }
        Ok(changed == 1)
    }

    async fn release(&self, event_id: &EventId, token: ClaimToken) -> Result<bool, InboxError> {
        let (id, token) = (event_id.as_str(), token.as_i64());
        let changed = self
            .execute("release a claim", |sql| &sql.release, &[&id, &token])
            .await?;
        Ok(changed == 1)
    }

    async fn replay_event(&self, event_id: &EventId) -> Result<bool, InboxError> {
        if event_id.as_str().contains('\0') {
            return Ok(false);
        }
        let id = event_id.as_str();
        Ok(self.execute("replay an event", |sql| &sql.replay, &[&id]).await? == 1)
    }

    async fn resolve_rejection(&self, id: i64, event_id: &EventId) -> Result<bool, InboxError> {
        let event_id = storable(event_id.as_str());
        let changed = self
            .execute("resolve a rejection", |sql| &sql.resolve, &[&id, &event_id])
            .await?;
        Ok(changed == 1)
    }

    async fn event(&self, event_id: &EventId) -> Result<Option<EventRecord>, InboxError> {
        if event_id.as_str().contains('\0') {
            return Ok(None);
        }
        let inner = &self.inner;
        let id = event_id.as_str();
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(&inner.sql.event).await?;
                client
                    .query_opt(&statement, &[&id])
                    .await?
                    .as_ref()
                    .map(event_record)
                    .transpose()
            })
            .await;
        inner.settle(client, "read an event", outcome)
    }

    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>, InboxError> {
        let inner = &self.inner;
        let (sql, values) = listing(&inner.sql.events_table, &filter);
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(Param::as_sql).collect();
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(&sql).await?;
                client
                    .query(&statement, &params)
                    .await?
                    .iter()
                    .map(event_record)
                    .collect()
            })
            .await;
        inner.settle(client, "list events", outcome)
    }

    async fn arrivals(&self, since_ms: i64, bucket_ms: i64) -> Result<Vec<ArrivalBucket>, InboxError> {
        super::check_bucket(bucket_ms)?;
        let inner = &self.inner;
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(&inner.sql.arrivals).await?;
                client
                    .query(&statement, &[&since_ms, &bucket_ms])
                    .await?
                    .iter()
                    .map(|row| {
                        let count: i64 = row.try_get(1)?;
                        Ok(ArrivalBucket::new(row.try_get(0)?, u64::try_from(count).unwrap_or(0)))
                    })
                    .collect()
            })
            .await;
        inner.settle(client, "count arrivals", outcome)
    }

    async fn conflicts(&self, event_id: &EventId) -> Result<Vec<ConflictRecord>, InboxError> {
        if event_id.as_str().contains('\0') {
            return Ok(Vec::new());
        }
        let inner = &self.inner;
        let id = event_id.as_str();
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(&inner.sql.conflicts).await?;
                client
                    .query(&statement, &[&id])
                    .await?
                    .iter()
                    .map(conflict_record)
                    .collect()
            })
            .await;
        inner.settle(client, "list conflicting versions", outcome)
    }

    async fn rejection(&self, id: i64) -> Result<Option<RejectionRecord>, InboxError> {
        let inner = &self.inner;
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(&inner.sql.rejection).await?;
                client
                    .query_opt(&statement, &[&id])
                    .await?
                    .as_ref()
                    .map(rejection_record)
                    .transpose()
            })
            .await;
        inner.settle(client, "read a rejection", outcome)
    }

    async fn rejections(&self, limit: usize) -> Result<Vec<RejectionRecord>, InboxError> {
        let inner = &self.inner;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(&inner.sql.rejections).await?;
                client
                    .query(&statement, &[&limit])
                    .await?
                    .iter()
                    .map(rejection_record)
                    .collect()
            })
            .await;
        inner.settle(client, "list rejections", outcome)
    }

    async fn rejections_page(&self, limit: usize, before_id: Option<i64>) -> Result<Vec<RejectionRecord>, InboxError> {
        let inner = &self.inner;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(&inner.sql.rejections_page).await?;
                client
                    .query(&statement, &[&limit, &before_id])
                    .await?
                    .iter()
                    .map(rejection_record)
                    .collect()
            })
            .await;
        inner.settle(client, "list rejections", outcome)
    }

    async fn prune(&self, policy: &PrunePolicy) -> Result<PruneReport, InboxError> {
        self.prune_batches(policy).await
    }

    async fn stats(&self) -> Result<InboxStats, InboxError> {
        let inner = &self.inner;
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(&inner.sql.stats).await?;
                let mut stats = InboxStats::default();
                for row in client.query(&statement, &[]).await? {
                    let status: String = row.try_get(0)?;
                    let count = u64::try_from(row.try_get::<_, i64>(1)?).unwrap_or(0);
                    let duplicates = u64::try_from(row.try_get::<_, i64>(2)?).unwrap_or(0);
                    stats.duplicates = stats.duplicates.saturating_add(duplicates);
                    let slot = match EventStatus::from_name(&status) {
                        Some(EventStatus::Pending) => {
                            stats.oldest_pending_at_ms = row.try_get(3)?;
                            &mut stats.pending
                        }
                        Some(EventStatus::Processing) => &mut stats.processing,
                        Some(EventStatus::Processed) => &mut stats.processed,
                        Some(EventStatus::Dead) => &mut stats.dead,
                        Some(EventStatus::Quarantined) => &mut stats.quarantined,
                        _ if status == "rejected" => &mut stats.rejected,
                        _ if status == "conflicts" => &mut stats.conflicts,
                        _ => continue,
                    };
                    *slot = slot.saturating_add(count);
                }
                Ok(stats)
            })
            .await;
        inner.settle(client, "count events", outcome)
    }
}

impl PostgresInbox {
    /// Runs one of the inbox's statements that change rows; returns how many it changed.
    async fn execute(
        &self,
        what: &str,
        statement: impl FnOnce(&Sql) -> &String,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, InboxError> {
        let inner = &self.inner;
        let sql = statement(&inner.sql);
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(sql).await?;
                client.execute(&statement, params).await
            })
            .await;
        inner.settle(client, what, outcome)
    }
}
