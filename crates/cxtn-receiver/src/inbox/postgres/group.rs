//! Group commit: stores that wait at the same moment go to the database in one transaction.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::pool::Inner;
use super::{InboxError, NewEvent, Stored};

/// The most body bytes one group-commit transaction carries.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Group-commit transactions in flight at once, each on its own connection (and a quarter of the pool at most).
pub(super) const MAX_STORE_TRANSACTIONS: usize = 4;
/// Stores waiting for a transaction before callers wait to queue.
pub(super) const STORE_QUEUE: usize = 4096;

/// A store waiting for its group's transaction, and where to answer it.
pub(super) struct PendingStore {
    pub(super) event: NewEvent,
    pub(super) reply: oneshot::Sender<Result<Stored, InboxError>>,
}

/// Why a group of stores failed.
struct BatchFailure {
    message: String,
    /// The database refused the statement (rather than the connection failing): the stores may succeed alone.
    refused: bool,
}
impl Inner {
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
pub(super) async fn dispatch(
    inner: Arc<Inner>,
    mut queue: mpsc::Receiver<PendingStore>,
    slots: Arc<Semaphore>,
    max_batch: usize,
) {
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
