//! The connection pool, and how an operation's outcome becomes the inbox's result.

use std::fmt;
use std::time::Duration;

use deadpool_postgres::{Object, Pool, PoolError, TimeoutType};
use tokio::time::error::Elapsed;
use tokio_postgres::config::Host;

use super::sql::Sql;
use super::{InboxError, InboxErrorKind, PgError};

/// What every handle of one inbox shares: the pool, the statements, and the limits.
pub(super) struct Inner {
    pub(super) pool: Pool,
    pub(super) sql: Sql,
    pub(super) target: Target,
    pub(super) schema: String,
    pub(super) connect_timeout: Duration,
    pub(super) operation_timeout: Duration,
}

/// Where the inbox connects, without the password: safe to print.
#[derive(Debug, Clone)]
pub(super) struct Target {
    user: String,
    hosts: String,
    dbname: String,
}

impl Target {
    pub(super) fn of(config: &tokio_postgres::Config) -> Self {
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
impl Inner {
    /// A connection from the pool, within the connect timeout.
    pub(super) async fn client(&self) -> Result<Object, InboxError> {
        // The pool's own timeouts (waiting for a free connection, then opening one) name the cause;
        // this one only bounds the sum.
        match tokio::time::timeout(self.connect_timeout.saturating_mul(2), self.pool.get()).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => {
                let message = match &e {
                    PoolError::Backend(pg) => match super::tls::tls_failure(pg) {
                        Some(why) => format!("cannot connect to PostgreSQL at {}: {why}", self.target),
                        None => format!(
                            "cannot reach PostgreSQL at {}: {}; is the database up?",
                            self.target,
                            describe(pg)
                        ),
                    },
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
                Err(InboxError::of_kind(
                    InboxErrorKind::Unavailable,
                    message,
                    Some(e.into()),
                ))
            }
            Err(_) => Err(InboxError::of_kind(
                InboxErrorKind::Unavailable,
                format!(
                    "cannot reach PostgreSQL at {} within {:?}; is the database up?",
                    self.target, self.connect_timeout
                ),
                None,
            )),
        }
    }

    /// Runs `work` within the operation timeout.
    pub(super) async fn timed<T>(
        &self,
        work: impl Future<Output = Result<T, PgError>>,
    ) -> Result<Result<T, PgError>, Elapsed> {
        tokio::time::timeout(self.operation_timeout, work).await
    }

    /// Turns an operation's outcome into the inbox's result; a connection that timed out is closed,
    /// as its state is unknown.
    pub(super) fn settle<T>(
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
                Err(self.timed_out(what))
            }
        }
    }

    /// An operation that took longer than the operation timeout.
    pub(super) fn timed_out(&self, what: &str) -> InboxError {
        InboxError::of_kind(
            InboxErrorKind::Unavailable,
            format!(
                "PostgreSQL at {} did not answer within {:?} when the inbox tried to {what}",
                self.target, self.operation_timeout
            ),
            None,
        )
    }

    /// A statement that failed, with the kind its cause tells.
    pub(super) fn failed(&self, what: &str, e: PgError) -> InboxError {
        InboxError::of_kind(
            kind_of(&e),
            format!(
                "the inbox could not {what} in PostgreSQL at {}: {}",
                self.target,
                describe(&e)
            ),
            Some(e.into()),
        )
    }
}

/// A message of a PostgreSQL error with its cause (the server's message, or the I/O error).
pub(super) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(e), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// What kind of failure a PostgreSQL error is: the connection or the server's resources (try again later),
/// a value or constraint the database refuses, or anything else.
pub(super) fn kind_of(e: &PgError) -> InboxErrorKind {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        return match code.get(..2) {
            // Connection exceptions, insufficient resources (disk full, too many connections), operator
            // intervention (shutdown, a statement timeout), serialization failures and deadlocks.
            Some("08" | "53" | "57" | "58" | "40") => InboxErrorKind::Unavailable,
            // A lock not available within `lock_timeout`.
            Some("55") if code == "55P03" => InboxErrorKind::Unavailable,
            // Data exceptions (a value the column cannot hold) and integrity constraints.
            Some("22" | "23") => InboxErrorKind::Refused,
            _ => InboxErrorKind::Other,
        };
    }
    let io = std::iter::successors(Some(e as &(dyn std::error::Error + 'static)), |e| e.source())
        .any(|cause| cause.is::<std::io::Error>());
    if e.is_closed() || io {
        InboxErrorKind::Unavailable
    } else {
        InboxErrorKind::Other
    }
}
