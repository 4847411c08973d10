//! The shared PostgreSQL inbox: several receivers and workers, on many machines, one database.
//!
//! [`PostgresInbox`] keeps the promises of the [`Inbox`] trait across processes and machines:
//!
//! - [`Inbox::store`] returns only after the transaction holding its row has committed
//!   (PostgreSQL's `synchronous_commit`, `on` by default, decides what "committed" means: keep it on);
//! - copies of one event that reach different receivers at the same moment are stored once:
//!   `INSERT .. ON CONFLICT (event_id) DO UPDATE SET deliveries = deliveries + n`, so exactly one copy is
//!   reported [`Stored::New`] and the others [`Stored::Duplicate`];
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
//! Up to four such transactions (a quarter of the pool) run at once, each on its own connection; the stores
//! that arrive meanwhile wait for the next one.
//! Under many concurrent deliveries this multiplies the rate of stores several times over (on a small
//! machine, 64 at once: about 26 000 stores/s grouped against 7 000 one by one); with few it changes nothing.
//! [`PostgresInboxBuilder::max_batch`] sets how many stores one transaction carries; `1` turns grouping off,
//! and then every connection of the pool may store.
//!
//! # Claims and completions
//!
//! A claim takes up to `limit` events that are `pending` and due, or `processing` with a lease that has
//! run out, oldest first; it counts an attempt on each, sets the lease, and marks the claim with a random
//! token that the inbox handle remembers.
//! A completion applies only to an event that is still `processing` and, when this handle claimed it,
//! still carries this handle's token.
//! So a completion never brings back an event that was completed, dead-lettered or replayed since, and a
//! worker whose lease ran out while another worker took the event cannot overwrite the newer claim's outcome.
//! A completion that does not apply is ignored (logged), and [`Inbox::complete`] still returns `Ok`.
//! Within one handle a claim is known by its event id: two workers sharing one handle are told apart
//! only by the status check.
//!
//! # Schema and migrations
//!
//! Everything lives in one schema (`cxtn` unless [`PostgresInboxBuilder::schema`] says otherwise):
//! the tables `events` and `rejections`, and `cxtn_inbox_migrations (version, applied_at)`.
//! [`PostgresInbox::connect`] creates the schema if it is missing and applies the migrations this version
//! knows and the database lacks, each in its own transaction under `pg_advisory_xact_lock`, so receivers
//! that start together do not race.
//! A database migrated by a newer version is refused rather than used.
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
//! # Out of scope: TLS
//!
//! The inbox connects without TLS, and refuses a connection string that asks for it (`sslmode=require`).
//! Connect over loopback or a private network, or through a TLS-terminating sidecar
//! (a local PgBouncer or stunnel, for instance) when the database is remote.
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

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use deadpool_postgres::{Manager, Object, Pool, PoolError, Runtime, TimeoutType};
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};
use tokio::time::error::Elapsed;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{NoTls, Row};

use super::{
    Claimed, Completion, EventFilter, EventRecord, EventStatus, Inbox, InboxError, InboxStats, NewEvent, NewRejection,
    RejectionRecord, Stored,
};

type PgError = tokio_postgres::Error;

const DEFAULT_SCHEMA: &str = "cxtn";
const DEFAULT_POOL_SIZE: usize = 16;
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_MAX_BATCH: usize = 256;
/// The most body bytes one group-commit transaction carries.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Group-commit transactions in flight at once, each on its own connection (and a quarter of the pool at most).
const MAX_STORE_TRANSACTIONS: usize = 4;
/// Stores waiting for a transaction before callers wait to queue.
const STORE_QUEUE: usize = 4096;
/// How long the schema upgrade at connect may take.
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(120);
/// Remembered claims are forgotten this long after their lease ran out.
const FORGET_AFTER_MS: i64 = 60 * 60 * 1000;
/// Remembered claims kept before old ones are looked for.
const LEASES_BEFORE_PRUNING: usize = 4096;

/// The schema, one migration per version; `{schema}` is the quoted schema name.
const MIGRATIONS: &[&str] = &[
    // 1: events and rejections.
    "CREATE TABLE {schema}.events (
        event_id TEXT PRIMARY KEY,
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        event TEXT NOT NULL,
        subscription TEXT,
        received_at_ms BIGINT NOT NULL,
        body BYTEA NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'processing', 'processed', 'dead')),
        attempts BIGINT NOT NULL DEFAULT 0,
        last_error TEXT,
        deliveries BIGINT NOT NULL DEFAULT 1,
        next_attempt_at_ms BIGINT NOT NULL,
        claimed_until_ms BIGINT,
        claim_token BIGINT
    );
    CREATE INDEX events_due ON {schema}.events (received_at_ms, seq) WHERE status IN ('pending', 'processing');
    CREATE INDEX events_received ON {schema}.events (received_at_ms DESC, seq DESC);
    CREATE INDEX events_status ON {schema}.events (status, received_at_ms DESC, seq DESC);
    CREATE TABLE {schema}.rejections (
        id BIGSERIAL PRIMARY KEY,
        received_at_ms BIGINT NOT NULL,
        body BYTEA NOT NULL,
        reason TEXT NOT NULL,
        kind TEXT NOT NULL,
        replayed_as TEXT
    );",
];

const EVENT_COLUMNS: &str =
    "event_id, event, subscription, received_at_ms, body, status, attempts, last_error, deliveries, next_attempt_at_ms";
const REJECTION_COLUMNS: &str = "id, received_at_ms, body, reason, kind, replayed_as";

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
    leases: Arc<Mutex<HashMap<String, Lease>>>,
    max_batch: usize,
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
}

struct Inner {
    pool: Pool,
    sql: Sql,
    target: Target,
    schema: String,
    connect_timeout: Duration,
    operation_timeout: Duration,
}

/// Where the inbox connects, without the password: safe to print.
#[derive(Debug, Clone)]
struct Target {
    user: String,
    hosts: String,
    dbname: String,
}

/// A claim this handle made, to check its completion against.
#[derive(Debug, Clone, Copy)]
struct Lease {
    token: i64,
    until_ms: i64,
}

struct PendingStore {
    event: NewEvent,
    reply: oneshot::Sender<Result<Stored, InboxError>>,
}

/// Why a group of stores failed.
struct BatchFailure {
    message: String,
    /// The database refused the statement (rather than the connection failing): the stores may succeed alone.
    refused: bool,
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
        }
    }

    /// The schema the inbox's tables live in.
    #[must_use]
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    fn leases(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lease>> {
        self.leases.lock().unwrap_or_else(PoisonError::into_inner)
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
        let target = tokio_postgres::Config::from_str(&self.url)
            .map(|config| Target::of(&config).to_string())
            .unwrap_or_else(|_| "<not a valid connection string>".to_owned());
        f.debug_struct("PostgresInboxBuilder")
            .field("target", &target)
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("max_batch", &self.max_batch)
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

    /// Connects, creates the schema if it is missing and applies the migrations it lacks.
    ///
    /// # Errors
    ///
    /// When an option or the connection string is not valid, the database cannot be reached,
    /// or its schema cannot be upgraded (or was upgraded by a newer version).
    pub async fn connect(self) -> Result<PostgresInbox, InboxError> {
        let mut config = tokio_postgres::Config::from_str(&self.url).map_err(|_| {
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
        if !matches!(config.get_ssl_mode(), SslMode::Disable | SslMode::Prefer) {
            return Err(InboxError::new(
                "the connection string requires TLS, which the PostgreSQL inbox does not speak: connect over \
                 loopback or a private network, or through a TLS-terminating sidecar, with sslmode=disable or prefer",
                None,
            ));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(self.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("cxtn-receiver");
        }
        let target = Target::of(&config);
        let listen_config = config.clone();
        let pool = Pool::builder(Manager::new(config, NoTls))
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
        tokio::spawn(dispatch(inner.clone(), queue, slots, self.max_batch));
        let wake = Arc::new(Notify::new());
        tokio::spawn(listen(listen_config, inner.schema.clone(), Arc::downgrade(&wake)));
        Ok(PostgresInbox {
            inner,
            wake,
            stores,
            leases: Arc::default(),
            max_batch: self.max_batch,
        })
    }
}

fn is_valid_schema(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    name.len() <= 63
        && (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.to_ascii_lowercase().starts_with("pg_")
}

impl Target {
    fn of(config: &tokio_postgres::Config) -> Self {
        let ports = config.get_ports();
        let hosts = config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let port = ports.get(i).or_else(|| ports.first()).copied().unwrap_or(5432);
                match host {
                    Host::Tcp(name) => format!("{name}:{port}"),
                    Host::Unix(path) => format!("{}:{port}", path.display()),
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        let user = config.get_user().unwrap_or("?").to_owned();
        Self {
            dbname: config.get_dbname().map_or_else(|| user.clone(), str::to_owned),
            hosts: if hosts.is_empty() {
                "localhost".to_owned()
            } else {
                hosts
            },
            user,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}/{}", self.user, self.hosts, self.dbname)
    }
}

/// Every statement, written for one schema.
struct Sql {
    store: String,
    reject: String,
    claim: String,
    processed: String,
    retry: String,
    dead: String,
    replay: String,
    resolve: String,
    event: String,
    events: String,
    rejection: String,
    rejections: String,
    stats: String,
}

impl Sql {
    fn new(schema: &str) -> Self {
        let events = format!("{schema}.events");
        let rejections = format!("{schema}.rejections");
        let still_ours = "event_id = $1 AND status = 'processing' AND ($2::int8 IS NULL OR claim_token = $2)";
        Self {
            store: format!(
                "INSERT INTO {events} AS e (event_id, event, subscription, received_at_ms, body, next_attempt_at_ms, deliveries)
                 SELECT i.event_id, i.event, i.subscription, i.received_at_ms, i.body, i.received_at_ms, i.deliveries
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::bytea[], $6::int8[])
                     AS i (event_id, event, subscription, received_at_ms, body, deliveries)
                 ORDER BY i.event_id
                 ON CONFLICT (event_id) DO UPDATE SET deliveries = e.deliveries + EXCLUDED.deliveries
                 RETURNING e.event_id, e.deliveries"
            ),
            reject: format!(
                "INSERT INTO {rejections} (received_at_ms, body, reason, kind) VALUES ($1, $2, $3, $4) RETURNING id"
            ),
            claim: format!(
                "WITH due AS (
                     SELECT event_id FROM {events}
                     WHERE (status = 'pending' AND next_attempt_at_ms <= $1)
                        OR (status = 'processing' AND claimed_until_ms <= $1)
                     ORDER BY received_at_ms, seq
                     LIMIT $3
                     FOR UPDATE SKIP LOCKED
                 )
                 UPDATE {events} AS e
                 SET status = 'processing', attempts = e.attempts + 1, claimed_until_ms = $2, claim_token = $4
                 FROM due WHERE e.event_id = due.event_id
                 RETURNING e.event_id, e.body, e.attempts, e.received_at_ms, e.seq"
            ),
            processed: format!(
                "UPDATE {events} SET status = 'processed', last_error = NULL, claimed_until_ms = NULL, claim_token = NULL
                 WHERE {still_ours}"
            ),
            retry: format!(
                "UPDATE {events} SET status = 'pending', last_error = $3, next_attempt_at_ms = $4,
                     claimed_until_ms = NULL, claim_token = NULL
                 WHERE {still_ours}"
            ),
            dead: format!(
                "UPDATE {events} SET status = 'dead', last_error = $3, claimed_until_ms = NULL, claim_token = NULL
                 WHERE {still_ours}"
            ),
            replay: format!(
                "UPDATE {events} SET status = 'pending', attempts = 0, next_attempt_at_ms = $2,
                     claimed_until_ms = NULL, claim_token = NULL
                 WHERE event_id = $1"
            ),
            resolve: format!("UPDATE {rejections} SET replayed_as = $2 WHERE id = $1"),
            event: format!("SELECT {EVENT_COLUMNS} FROM {events} WHERE event_id = $1"),
            events: format!(
                "SELECT {EVENT_COLUMNS} FROM {events} WHERE $1::text IS NULL OR status = $1
                 ORDER BY received_at_ms DESC, seq DESC LIMIT $2"
            ),
            rejection: format!("SELECT {REJECTION_COLUMNS} FROM {rejections} WHERE id = $1"),
            rejections: format!("SELECT {REJECTION_COLUMNS} FROM {rejections} ORDER BY id DESC LIMIT $1"),
            stats: format!(
                "SELECT status, COUNT(*)::int8, COALESCE(SUM(deliveries - 1), 0)::int8 FROM {events} GROUP BY status
                 UNION ALL
                 SELECT 'rejected', COUNT(*)::int8, 0::int8 FROM {rejections}"
            ),
        }
    }
}

/// A key for `pg_advisory_xact_lock`, the same for every receiver using `schema`.
fn migration_lock_key(schema: &str) -> i64 {
    // FNV-1a: stable across versions and platforms.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in "cxtn-inbox-migrations:".bytes().chain(schema.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// What the schema upgrade found.
enum Upgrade {
    Done,
    Newer(i32),
}

async fn upgrade(client: &mut Object, schema: &str, quoted: &str) -> Result<Upgrade, PgError> {
    let key = migration_lock_key(schema);
    let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    let table = format!("{quoted}.cxtn_inbox_migrations");
    let current_sql = format!("SELECT COALESCE(MAX(version), 0) FROM {table}");

    let txn = client.transaction().await?;
    txn.execute("SELECT pg_advisory_xact_lock($1)", &[&key]).await?;
    let schema_exists: bool = txn
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&schema],
        )
        .await?
        .try_get(0)?;
    if !schema_exists {
        txn.batch_execute(&format!("CREATE SCHEMA {quoted}")).await?;
    }
    let table_exists: bool = txn
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await?
        .try_get(0)?;
    if !table_exists {
        txn.batch_execute(&format!(
            "CREATE TABLE {table} (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        ))
        .await?;
    }
    let mut current: i32 = txn.query_one(&current_sql, &[]).await?.try_get(0)?;
    txn.commit().await?;

    for (version, sql) in (1..).zip(MIGRATIONS) {
        if current >= version {
            continue;
        }
        let txn = client.transaction().await?;
        txn.execute("SELECT pg_advisory_xact_lock($1)", &[&key]).await?;
        current = txn.query_one(&current_sql, &[]).await?.try_get(0)?;
        if current < version {
            txn.batch_execute(&sql.replace("{schema}", quoted)).await?;
            txn.execute(&format!("INSERT INTO {table} (version) VALUES ($1)"), &[&version])
                .await?;
            current = version;
        }
        txn.commit().await?;
    }
    Ok(if current > known {
        Upgrade::Newer(current)
    } else {
        Upgrade::Done
    })
}

impl Inner {
    async fn migrate(&self, quoted: &str) -> Result<(), InboxError> {
        let mut client = self.client().await?;
        let outcome = tokio::time::timeout(MIGRATION_TIMEOUT, upgrade(&mut client, &self.schema, quoted)).await;
        match self.settle(client, "upgrade its schema", outcome)? {
            Upgrade::Done => Ok(()),
            Upgrade::Newer(version) => Err(InboxError::new(
                format!(
                    "the inbox schema `{}` in {} is at version {version}, newer than this cxtn-receiver knows ({}); \
                     upgrade cxtn-receiver",
                    self.schema,
                    self.target,
                    MIGRATIONS.len()
                ),
                None,
            )),
        }
    }

    /// A connection from the pool, within the connect timeout.
    async fn client(&self) -> Result<Object, InboxError> {
        // The pool's own timeouts (waiting for a free connection, then opening one) name the cause;
        // this one only bounds the sum.
        match tokio::time::timeout(self.connect_timeout.saturating_mul(2), self.pool.get()).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => {
                let message = match &e {
                    PoolError::Backend(pg) => format!(
                        "cannot reach PostgreSQL at {}: {}; is the database up?",
                        self.target,
                        describe(pg)
                    ),
                    PoolError::Timeout(TimeoutType::Wait) => format!(
                        "no PostgreSQL connection to {} came free within {:?}: the database is slow or the pool is \
                         too small for the load",
                        self.target, self.connect_timeout
                    ),
                    PoolError::Timeout(_) => format!(
                        "cannot reach PostgreSQL at {} within {:?}; is the database up?",
                        self.target, self.connect_timeout
                    ),
                    other => format!("cannot get a PostgreSQL connection to {}: {other}", self.target),
                };
                Err(InboxError::new(message, Some(e.into())))
            }
            Err(_) => Err(InboxError::new(
                format!(
                    "cannot reach PostgreSQL at {} within {:?}; is the database up?",
                    self.target, self.connect_timeout
                ),
                None,
            )),
        }
    }

    /// Runs `work` within the operation timeout.
    async fn timed<T>(&self, work: impl Future<Output = Result<T, PgError>>) -> Result<Result<T, PgError>, Elapsed> {
        tokio::time::timeout(self.operation_timeout, work).await
    }

    /// Turns an operation's outcome into the inbox's result; a connection that timed out is closed,
    /// as its state is unknown.
    fn settle<T>(
        &self,
        client: Object,
        what: &str,
        outcome: Result<Result<T, PgError>, Elapsed>,
    ) -> Result<T, InboxError> {
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.failed(what, e)),
            Err(_) => {
                drop(Object::take(client));
                Err(InboxError::new(
                    format!(
                        "PostgreSQL at {} did not answer within {:?} when the inbox tried to {what}",
                        self.target, self.operation_timeout
                    ),
                    None,
                ))
            }
        }
    }

    fn failed(&self, what: &str, e: PgError) -> InboxError {
        InboxError::new(
            format!(
                "the inbox could not {what} in PostgreSQL at {}: {}",
                self.target,
                describe(&e)
            ),
            Some(e.into()),
        )
    }

    /// Stores a group of deliveries in one statement (one transaction) and answers each caller.
    async fn store_batch(&self, batch: Vec<PendingStore>) {
        match self.insert(&batch).await {
            Ok(deliveries) => {
                answer(batch, &deliveries);
                self.announce().await;
            }
            Err(failure) if failure.refused && batch.len() > 1 => {
                tracing::warn!(error = %failure.message, stores = batch.len(), "a group of stores was refused; storing them one by one");
                for pending in batch {
                    let single = vec![pending];
                    match self.insert(&single).await {
                        Ok(deliveries) => answer(single, &deliveries),
                        Err(failure) => fail(single, &failure.message),
                    }
                }
            }
            Err(failure) => fail(batch, &failure.message),
        }
    }

    /// Inserts (or counts again) the batch's events; returns each event id's delivery count after the statement.
    async fn insert(&self, batch: &[PendingStore]) -> Result<HashMap<String, i64>, BatchFailure> {
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(batch.len());
        let mut ids: Vec<&str> = Vec::with_capacity(batch.len());
        let mut names: Vec<&str> = Vec::with_capacity(batch.len());
        let mut subscriptions: Vec<Option<&str>> = Vec::with_capacity(batch.len());
        let mut received: Vec<i64> = Vec::with_capacity(batch.len());
        let mut bodies: Vec<&[u8]> = Vec::with_capacity(batch.len());
        let mut counts: Vec<i64> = Vec::with_capacity(batch.len());
        for pending in batch {
            let event = &pending.event;
            if let Some(count) = index.get(event.event_id.as_str()).and_then(|&i| counts.get_mut(i)) {
                *count = count.saturating_add(1);
                continue;
            }
            index.insert(&event.event_id, ids.len());
            ids.push(&event.event_id);
            names.push(&event.event);
            subscriptions.push(event.subscription.as_deref());
            received.push(event.received_at_ms);
            bodies.push(&event.body);
            counts.push(1);
        }
        let client = self.client().await.map_err(|e| BatchFailure {
            message: e.to_string(),
            refused: false,
        })?;
        let outcome = self
            .timed(async {
                let statement = client.prepare_cached(&self.sql.store).await?;
                client
                    .query(&statement, &[&ids, &names, &subscriptions, &received, &bodies, &counts])
                    .await
            })
            .await;
        let refused = matches!(&outcome, Ok(Err(e)) if e.as_db_error().is_some());
        let rows = self
            .settle(client, "store deliveries", outcome)
            .map_err(|e| BatchFailure {
                message: e.to_string(),
                refused,
            })?;
        let mut deliveries = HashMap::with_capacity(rows.len());
        for row in rows {
            let parsed = row
                .try_get::<_, String>(0)
                .and_then(|id| Ok((id, row.try_get::<_, i64>(1)?)));
            match parsed {
                Ok((id, count)) => {
                    deliveries.insert(id, count);
                }
                Err(e) => {
                    return Err(BatchFailure {
                        message: self.failed("read what it stored", e).to_string(),
                        refused: false,
                    });
                }
            }
        }
        Ok(deliveries)
    }
}

/// The channel every PostgreSQL inbox announces its stores on; the payload names the schema.
const WAKE_CHANNEL: &str = "cxtn_inbox_stored";

impl Inner {
    /// Tells the workers of every receiver on this schema that events were stored. Best effort: a worker
    /// that misses it finds the events at its next poll.
    async fn announce(&self) {
        let Ok(client) = self.client().await else { return };
        let sent = self
            .timed(client.execute("SELECT pg_notify($1, $2)", &[&WAKE_CHANNEL, &self.schema]))
            .await;
        if !matches!(sent, Ok(Ok(_))) {
            tracing::debug!("could not announce stored events; workers will find them at their next poll");
        }
    }
}

/// Listens for the stores other receivers announce on this schema and raises `wake` for each,
/// reconnecting after a failure, until every handle on `wake` is gone.
async fn listen(config: tokio_postgres::Config, schema: String, wake: std::sync::Weak<Notify>) {
    const CHECK: Duration = Duration::from_secs(5);
    while wake.strong_count() > 0 {
        let Ok((client, mut connection)) = config.connect(NoTls).await else {
            tokio::time::sleep(CHECK).await;
            continue;
        };
        let (heard, mut notifications) = mpsc::unbounded_channel::<String>();
        let driver = tokio::spawn(async move {
            while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                if let tokio_postgres::AsyncMessage::Notification(note) = message
                    && heard.send(note.payload().to_owned()).is_err()
                {
                    return;
                }
            }
        });
        if client.batch_execute(&format!("LISTEN {WAKE_CHANNEL}")).await.is_ok() {
            loop {
                tokio::select! {
                    note = notifications.recv() => match (note, wake.upgrade()) {
                        (Some(payload), Some(wake)) => {
                            if payload == schema {
                                wake.notify_one();
                            }
                        }
                        _ => break,
                    },
                    () = tokio::time::sleep(CHECK) => {
                        if wake.strong_count() == 0 {
                            break;
                        }
                    }
                }
            }
        }
        driver.abort();
        if wake.strong_count() > 0 {
            tokio::time::sleep(CHECK).await;
        }
    }
}

/// Answers each store of a committed batch: the first copy of an id that the statement inserted is new,
/// every other copy a duplicate.
fn answer(batch: Vec<PendingStore>, deliveries: &HashMap<String, i64>) {
    let mut copies: HashMap<&str, i64> = HashMap::new();
    for pending in &batch {
        *copies.entry(pending.event.event_id.as_str()).or_default() += 1;
    }
    let mut answered: HashSet<&str> = HashSet::new();
    let mut outcomes = Vec::with_capacity(batch.len());
    for pending in &batch {
        let id = pending.event.event_id.as_str();
        let outcome = match deliveries.get(id) {
            None => Err(InboxError::new(
                format!("PostgreSQL did not confirm storing the event `{}`", id.escape_debug()),
                None,
            )),
            Some(&count) => {
                let first = answered.insert(id);
                if first && copies.get(id).is_some_and(|&sent| sent == count) {
                    Ok(Stored::New)
                } else {
                    Ok(Stored::Duplicate)
                }
            }
        };
        outcomes.push(outcome);
    }
    for (pending, outcome) in batch.into_iter().zip(outcomes) {
        let _ = pending.reply.send(outcome);
    }
}

fn fail(batch: Vec<PendingStore>, message: &str) {
    for pending in batch {
        let _ = pending.reply.send(Err(InboxError::new(message.to_owned(), None)));
    }
}

/// Gathers the stores waiting at the moment a transaction slot is free into one batch, and runs it.
async fn dispatch(inner: Arc<Inner>, mut queue: mpsc::Receiver<PendingStore>, slots: Arc<Semaphore>, max_batch: usize) {
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = queue.recv().await else {
            return;
        };
        let mut bytes = first.event.body.len();
        let mut batch = vec![first];
        while batch.len() < max_batch && bytes < MAX_BATCH_BYTES {
            let Ok(next) = queue.try_recv() else { break };
            bytes = bytes.saturating_add(next.event.body.len());
            batch.push(next);
        }
        let inner = inner.clone();
        tokio::spawn(async move {
            inner.store_batch(batch).await;
            drop(slot);
        });
    }
}

/// A message of a PostgreSQL error with its cause (the server's message, or the I/O error).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(e), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// Text PostgreSQL can store: NUL characters become U+FFFD.
fn storable(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{fffd}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn to_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

fn event_record(row: &Row) -> Result<EventRecord, PgError> {
    let status: String = row.try_get("status")?;
    let body: Vec<u8> = row.try_get("body")?;
    Ok(EventRecord {
        event_id: row.try_get("event_id")?,
        event: row.try_get("event")?,
        subscription: row.try_get("subscription")?,
        received_at_ms: row.try_get("received_at_ms")?,
        body: Bytes::from(body),
        status: EventStatus::from_name(&status).unwrap_or(EventStatus::Pending),
        attempts: to_u32(row.try_get("attempts")?),
        last_error: row.try_get("last_error")?,
        deliveries: to_u32(row.try_get("deliveries")?),
        next_attempt_at_ms: row.try_get("next_attempt_at_ms")?,
    })
}

fn rejection_record(row: &Row) -> Result<RejectionRecord, PgError> {
    let body: Vec<u8> = row.try_get("body")?;
    Ok(RejectionRecord {
        id: row.try_get("id")?,
        received_at_ms: row.try_get("received_at_ms")?,
        body: Bytes::from(body),
        reason: row.try_get("reason")?,
        kind: row.try_get("kind")?,
        replayed_as: row.try_get("replayed_as")?,
    })
}

#[async_trait]
impl Inbox for PostgresInbox {
    /// Raised when a receiver on the same schema, in this process or another, stored events.
    fn wake_signal(&self) -> Option<Arc<Notify>> {
        Some(self.wake.clone())
    }

    async fn store(&self, event: NewEvent) -> Result<Stored, InboxError> {
        if [
            Some(event.event_id.as_str()),
            Some(event.event.as_str()),
            event.subscription.as_deref(),
        ]
        .into_iter()
        .flatten()
        .any(|text| text.contains('\0'))
        {
            return Err(InboxError::new(
                "the event's id, name or subscription contains a NUL character, which PostgreSQL cannot store",
                None,
            ));
        }
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
        let reason = storable(&rejection.reason);
        let kind = storable(&rejection.kind);
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(&inner.sql.reject).await?;
                client
                    .query_one(&statement, &[&rejection.received_at_ms, &body, &reason, &kind])
                    .await?
                    .try_get::<_, i64>(0)
            })
            .await;
        inner.settle(client, "store a rejection", outcome)
    }

    async fn claim(&self, now_ms: i64, lease: Duration, limit: usize) -> Result<Vec<Claimed>, InboxError> {
        let inner = &self.inner;
        let until_ms = now_ms.saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let token = fastrand::i64(..);
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(&inner.sql.claim).await?;
                let rows = client.query(&statement, &[&now_ms, &until_ms, &limit, &token]).await?;
                let mut claimed = Vec::with_capacity(rows.len());
                for row in rows {
                    let body: Vec<u8> = row.try_get(1)?;
                    let seq: i64 = row.try_get(4)?;
                    claimed.push((
                        seq,
                        Claimed {
                            event_id: row.try_get(0)?,
                            body: Bytes::from(body),
                            attempt: to_u32(row.try_get(2)?),
                            received_at_ms: row.try_get(3)?,
                        },
                    ));
                }
                Ok(claimed)
            })
            .await;
        let mut claimed = inner.settle(client, "claim events", outcome)?;
        claimed.sort_by_key(|(seq, c)| (c.received_at_ms, *seq));
        let claimed: Vec<Claimed> = claimed.into_iter().map(|(_, c)| c).collect();
        if !claimed.is_empty() {
            let mut leases = self.leases();
            for c in &claimed {
                leases.insert(c.event_id.clone(), Lease { token, until_ms });
            }
            if leases.len() > LEASES_BEFORE_PRUNING {
                let horizon = now_ms.saturating_sub(FORGET_AFTER_MS);
                leases.retain(|_, lease| lease.until_ms > horizon);
            }
        }
        Ok(claimed)
    }

    async fn complete(&self, event_id: &str, completion: Completion) -> Result<(), InboxError> {
        let inner = &self.inner;
        let token = self.leases().get(event_id).map(|lease| lease.token);
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                match &completion {
                    Completion::Processed => {
                        let statement = client.prepare_cached(&inner.sql.processed).await?;
                        client.execute(&statement, &[&event_id, &token]).await
                    }
                    Completion::Retry { error, at_ms } => {
                        let statement = client.prepare_cached(&inner.sql.retry).await?;
                        client
                            .execute(&statement, &[&event_id, &token, &storable(error), at_ms])
                            .await
                    }
                    Completion::Dead { error } => {
                        let statement = client.prepare_cached(&inner.sql.dead).await?;
                        client.execute(&statement, &[&event_id, &token, &storable(error)]).await
                    }
                }
            })
            .await;
        let changed = inner.settle(client, "record a completion", outcome)?;
        {
            let mut leases = self.leases();
            if token.is_some() && leases.get(event_id).map(|lease| lease.token) == token {
                leases.remove(event_id);
            }
        }
        if changed == 0 {
            tracing::warn!(
                event_id = %event_id,
                "a completion was ignored: the event is no longer claimed by this worker (its lease ran out and another worker took it, or it was completed or replayed)"
            );
        }
        Ok(())
    }

    async fn replay_event(&self, event_id: &str, now_ms: i64) -> Result<bool, InboxError> {
        let inner = &self.inner;
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(&inner.sql.replay).await?;
                client.execute(&statement, &[&event_id, &now_ms]).await
            })
            .await;
        Ok(inner.settle(client, "replay an event", outcome)? == 1)
    }

    async fn resolve_rejection(&self, id: i64, event_id: &str) -> Result<bool, InboxError> {
        let inner = &self.inner;
        let client = inner.client().await?;
        let event_id = storable(event_id);
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(&inner.sql.resolve).await?;
                client.execute(&statement, &[&id, &event_id]).await
            })
            .await;
        Ok(inner.settle(client, "resolve a rejection", outcome)? == 1)
    }

    async fn event(&self, event_id: &str) -> Result<Option<EventRecord>, InboxError> {
        if event_id.contains('\0') {
            return Ok(None);
        }
        let inner = &self.inner;
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(&inner.sql.event).await?;
                client
                    .query_opt(&statement, &[&event_id])
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
        let status = filter.status.map(EventStatus::as_str);
        let limit = i64::try_from(filter.limit.unwrap_or(100)).unwrap_or(i64::MAX);
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(&inner.sql.events).await?;
                client
                    .query(&statement, &[&status, &limit])
                    .await?
                    .iter()
                    .map(event_record)
                    .collect()
            })
            .await;
        inner.settle(client, "list events", outcome)
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
                        Some(EventStatus::Pending) => &mut stats.pending,
                        Some(EventStatus::Processing) => &mut stats.processing,
                        Some(EventStatus::Processed) => &mut stats.processed,
                        Some(EventStatus::Dead) => &mut stats.dead,
                        _ if status == "rejected" => &mut stats.rejected,
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
