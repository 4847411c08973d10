//! Effects exactly once for a ledger kept in another PostgreSQL database than the inbox.
//!
//! The worker hands an event to a plain [`Handler`](crate::Handler) at least once: after a crash it may hand
//! the same event again.
//! When the handler's effect is a write to your own PostgreSQL database, record the event's id in the same
//! transaction as the effect, and skip the effect when the id is already recorded: the effect then happens
//! once, however often the event is handed over.
//! (When the ledger lives in the inbox's own database, a
//! [`PostgresHandler`](crate::inbox::postgres::PostgresHandler) does this without a table of its own.)
//!
//! # The table
//!
//! [`migrate`] creates it, in the first schema of the connection's `search_path` (`public` by default):
//!
//! ```sql
//! CREATE TABLE IF NOT EXISTS cxtn_processed_events (
//!     event_id TEXT PRIMARY KEY,
//!     processed_at TIMESTAMPTZ NOT NULL DEFAULT now()
//! );
//! ```
//!
//! Rows are never deleted by this crate; delete old ones yourself if you must, keeping them longer than
//! CXTN may redeliver an event and than your inbox keeps events for replay.
//!
//! # Use
//!
//! ```no_run
//! use cxtn_receiver::tokio_postgres::{self, NoTls};
//! use cxtn_receiver::{Event, Handler, HandlerError, idempotency};
//!
//! #[derive(Debug)]
//! struct Ledger {
//!     db: tokio::sync::Mutex<tokio_postgres::Client>,
//! }
//!
//! #[cxtn_receiver::async_trait]
//! impl Handler for Ledger {
//!     async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
//!         let Some(amount) = event.notification.amount() else { return Ok(()) };
//!         let mut db = self.db.lock().await;
//!         let txn = db.transaction().await?;
//!         // First time for this event: apply the effect. Already applied: skip it.
//!         if idempotency::claim(&txn, event.notification.event_id()).await? {
//!             txn.execute(
//!                 "INSERT INTO ledger (event_id, amount) VALUES ($1, $2::text::numeric)",
//!                 &[&event.notification.event_id().as_str(), &amount.to_string()],
//!             )
//!             .await?;
//!         }
//!         txn.commit().await?;
//!         Ok(())
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let (client, connection) = tokio_postgres::connect("postgres://app@127.0.0.1/ledger", NoTls).await?;
//! tokio::spawn(connection);
//! idempotency::migrate(&client).await?;
//! let handler = Ledger { db: tokio::sync::Mutex::new(client) };
//! # let _ = handler;
//! # Ok(())
//! # }
//! ```

use cxtn_model::EventId;
use tokio_postgres::{GenericClient, Transaction};

/// Creates the table of processed event ids if it is missing (see the [module docs](self) for its schema).
///
/// # Errors
///
/// When the statement fails (the database is unreachable, or the user may not create tables).
pub async fn migrate(client: &impl GenericClient) -> Result<(), tokio_postgres::Error> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS cxtn_processed_events (
                 event_id TEXT PRIMARY KEY,
                 processed_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
}

/// Records `event_id` as processed inside `txn`: `true` the first time (apply the effect in the same
/// transaction, then commit), `false` when a committed transaction already recorded it (skip the effect).
///
/// A concurrent transaction recording the same id makes this call wait until that one commits or rolls
/// back, so two workers never both see `true` for one event.
///
/// # Errors
///
/// When the statement fails; `txn` is then aborted: return the error so that the event is retried.
pub async fn claim(txn: &Transaction<'_>, event_id: &EventId) -> Result<bool, tokio_postgres::Error> {
    let inserted = txn
        .execute(
            "INSERT INTO cxtn_processed_events (event_id) VALUES ($1) ON CONFLICT (event_id) DO NOTHING",
            &[&event_id.as_str()],
        )
        .await?;
    Ok(inserted == 1)
}
