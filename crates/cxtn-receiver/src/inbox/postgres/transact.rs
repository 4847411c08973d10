//! Transactional handlers: a handler's writes and the event's `processed` mark commit together, or neither.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::Object;
use futures_util::FutureExt as _;
use tokio_postgres::error::SqlState;

use super::pool::{Inner, describe};
use super::{ClaimToken, InboxError, PgError, PostgresInbox};
use crate::inbox::Transacted;

/// A handler whose writes to the inbox's own PostgreSQL database commit in the same transaction that marks
/// the event processed: its effect is applied exactly once, even when the process dies at any moment.
///
/// Write to your own tables through `txn` (any schema of the inbox's database); do not commit or roll it
/// back yourself.
/// `txn` is a transaction of the `tokio_postgres` this crate re-exports (`cxtn_receiver::tokio_postgres`). Return `Err` to roll your writes back and have the event retried later.
/// Effects that cannot join the transaction (an HTTP call, an e-mail) belong in a plain
/// [`Handler`](crate::Handler), which is called at least once.
///
/// ```no_run
/// use cxtn_receiver::inbox::postgres::PostgresHandler;
/// use cxtn_receiver::{Event, HandlerError};
///
/// #[derive(Debug)]
/// struct Ledger;
///
/// #[cxtn_receiver::async_trait]
/// impl PostgresHandler for Ledger {
///     async fn handle(
///         &self,
///         event: &Event,
///         txn: &cxtn_receiver::tokio_postgres::Transaction<'_>,
///     ) -> Result<(), HandlerError> {
///         if let Some(amount) = event.notification.amount() {
///             txn.execute(
///                 "INSERT INTO ledger (event_id, amount) VALUES ($1, $2::text::numeric)",
///                 &[&event.notification.event_id().as_str(), &amount.to_string()],
///             )
///             .await?;
///         }
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait PostgresHandler: Send + Sync + fmt::Debug + 'static {
    /// Handles one event inside `txn`. An `Err` (or a panic) rolls `txn` back and counts as a failed attempt.
    async fn handle(
        &self,
        event: &crate::Event,
        txn: &tokio_postgres::Transaction<'_>,
    ) -> Result<(), crate::HandlerError>;
}

/// Why a step of the transaction did not run.
enum Broke {
    Failed(&'static str, PgError),
    TimedOut(&'static str),
}

impl PostgresInbox {
    /// Runs `handler` on a claimed event inside one transaction of the inbox's database that also marks the
    /// event processed, so the handler's writes and the mark commit together or not at all.
    ///
    /// The transaction begins by checking that the claim still holds `token` (else [`Transacted::LeaseLost`],
    /// and the handler is not called), calls the handler, then marks the event processed only where the claim
    /// still holds `token`: a worker whose lease ran out and was taken over commits nothing
    /// ([`Transacted::LeaseLost`]), so the handler's writes apply once however often the event is handed out.
    /// The event's row is locked only for that last step, so stores of its redeliveries never wait for a
    /// handler.
    ///
    /// A handler that fails, panics, or leaves the transaction aborted by a failed statement rolls back and
    /// gives [`Transacted::Failed`]: complete the event with a retry or a dead letter as usual.
    /// After [`Transacted::Processed`] the event is done: do not complete it again.
    ///
    /// # Errors
    ///
    /// When the database cannot be reached or does not answer in time; whether a commit that was under way
    /// took effect is then unknown, and a later attempt finds the event processed ([`Transacted::LeaseLost`])
    /// if it did.
    pub async fn process_in_transaction(
        &self,
        event: crate::Event,
        token: ClaimToken,
        handler: Arc<dyn PostgresHandler>,
    ) -> Result<Transacted, InboxError> {
        let inner = &self.inner;
        let mut client = inner.client().await?;
        match transact(inner, &mut client, &event, token, &*handler).await {
            Ok(outcome) => Ok(outcome),
            Err(Broke::Failed(what, e)) => Err(inner.failed(what, e)),
            Err(Broke::TimedOut(what)) => {
                // The connection's state is unknown: closing it rolls back whatever was under way.
                drop(Object::take(client));
                Err(inner.timed_out(what))
            }
        }
    }
}

/// Runs one of the transaction's own steps within the operation timeout.
async fn step<T>(
    inner: &Inner,
    what: &'static str,
    work: impl Future<Output = Result<T, PgError>>,
) -> Result<T, Broke> {
    match inner.timed(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(Broke::Failed(what, e)),
        Err(_) => Err(Broke::TimedOut(what)),
    }
}

async fn transact(
    inner: &Inner,
    client: &mut Object,
    event: &crate::Event,
    token: ClaimToken,
    handler: &dyn PostgresHandler,
) -> Result<Transacted, Broke> {
    let id = event.notification.event_id().as_str();
    let token = token.as_i64();
    let txn = step(inner, "begin a transaction", client.transaction()).await?;
    let held = step(inner, "check a claim", async {
        let statement = txn.prepare_cached(&inner.sql.still_claimed).await?;
        txn.query_opt(&statement, &[&id, &token]).await
    })
    .await?;
    if held.is_none() {
        step(inner, "roll back a transaction", txn.rollback()).await?;
        return Ok(Transacted::LeaseLost);
    }
    let handled = AssertUnwindSafe(handler.handle(event, &txn)).catch_unwind().await;
    let error = match handled {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("the handler panicked".to_owned()),
    };
    if let Some(error) = error {
        step(inner, "roll back a handler's transaction", txn.rollback()).await?;
        return Ok(Transacted::Failed { error });
    }
    let marked = step(inner, "mark an event processed", async {
        let statement = txn.prepare_cached(&inner.sql.processed).await?;
        txn.execute(&statement, &[&id, &token]).await
    })
    .await;
    match marked {
        Ok(1) => {}
        Ok(_) => {
            step(inner, "roll back a transaction", txn.rollback()).await?;
            return Ok(Transacted::LeaseLost);
        }
        Err(Broke::Failed(_, e)) if e.code() == Some(&SqlState::IN_FAILED_SQL_TRANSACTION) => {
            step(inner, "roll back a handler's transaction", txn.rollback()).await?;
            return Ok(Transacted::Failed {
                error: "a statement of the handler failed and aborted its transaction, yet the handler returned Ok: \
                        return the statement's error"
                    .to_owned(),
            });
        }
        Err(broke) => return Err(broke),
    }
    match step(inner, "commit a handler's transaction", txn.commit()).await {
        Ok(()) => Ok(Transacted::Processed),
        // The server refused the commit (a deferred constraint of the handler's writes, say) and rolled back.
        Err(Broke::Failed(_, e)) if e.as_db_error().is_some() => Ok(Transacted::Failed {
            error: format!("the handler's writes could not commit: {}", describe(&e)),
        }),
        Err(broke) => Err(broke),
    }
}
