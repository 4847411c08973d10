//! Group commit: stores that wait at the same moment go to the database together.
//!
//! A group's first statement inserts each new id's first body and counts the copies of the body already
//! stored; only a group in which some copy carries another body than the stored one needs a second,
//! transactional step that keeps the conflicting versions.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use deadpool_postgres::Object;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::pool::Inner;
use super::sql::storable;
use super::{BodyHash, InboxError, InboxErrorKind, NewEvent, PgError, Stored};
use crate::inbox::group;

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
    kind: InboxErrorKind,
    /// The database refused a statement (rather than the connection failing): the stores may succeed alone.
    refused: bool,
}

impl BatchFailure {
    fn of(e: &InboxError, refused: bool) -> Self {
        Self {
            message: e.to_string(),
            kind: e.kind(),
            refused,
        }
    }
}

/// One event id's copies in a group: its distinct bodies in arrival order, the first being the one stored
/// when the id is new.
pub(super) struct Copies<'a> {
    pub(super) bodies: Vec<Body<'a>>,
}

/// One distinct body of an event id in a group.
pub(super) struct Body<'a> {
    /// The first copy that carried it.
    pub(super) event: &'a NewEvent,
    /// How many copies carried it.
    pub(super) count: i64,
}

/// What became of one (event id, body) of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Stored by this group: its first copy is new, the others duplicates.
    Inserted,
    /// The body already stored under the id.
    Duplicate,
    /// Another body than the one stored under the id.
    Conflict,
}

/// The group's ids in arrival order, each with its copies.
pub(super) fn gather(batch: &[PendingStore]) -> Vec<(&str, Copies<'_>)> {
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(batch.len());
    let mut ids: Vec<(&str, Copies<'_>)> = Vec::with_capacity(batch.len());
    for pending in batch {
        let event = &pending.event;
        let id = event.event_id.as_str();
        let slot = match index.get(id) {
            Some(&i) => ids.get_mut(i),
            None => {
                index.insert(id, ids.len());
                ids.push((id, Copies { bodies: Vec::new() }));
                ids.last_mut()
            }
        };
        let Some((_, copies)) = slot else { continue };
        match copies
            .bodies
            .iter_mut()
            .find(|body| body.event.body_hash == event.body_hash)
        {
            Some(body) => body.count = body.count.saturating_add(1),
            None => copies.bodies.push(Body { event, count: 1 }),
        }
    }
    ids
}

impl Inner {
    /// Stores a group of deliveries and answers each caller once its writes committed.
    async fn store_batch(&self, batch: Vec<PendingStore>) {
        match self.insert(&batch).await {
            Ok(outcomes) => {
                answer(batch, &outcomes);
                self.announce().await;
            }
            Err(failure) if failure.refused && batch.len() > 1 => {
                tracing::warn!(error = %failure.message, stores = batch.len(), "a group of stores was refused; storing them one by one");
                for pending in batch {
                    let single = vec![pending];
                    match self.insert(&single).await {
                        Ok(outcomes) => answer(single, &outcomes),
                        Err(failure) => fail(single, &failure),
                    }
                }
            }
            Err(failure) => fail(batch, &failure),
        }
    }

    /// Stores the group: the first body of each new id as its event (one statement, committed on its own),
    /// then, only when some copy carries another body than the one stored, the conflicting versions and the
    /// added counts (one transaction). Returns what became of each (event id, body digest).
    async fn insert(&self, batch: &[PendingStore]) -> Result<HashMap<(String, BodyHash), Outcome>, BatchFailure> {
        let ids = gather(batch);
        let mut keys: Vec<&str> = Vec::with_capacity(ids.len());
        let mut names: Vec<&str> = Vec::with_capacity(ids.len());
        let mut subscriptions: Vec<Option<&str>> = Vec::with_capacity(ids.len());
        let mut received: Vec<i64> = Vec::with_capacity(ids.len());
        let mut bodies: Vec<&[u8]> = Vec::with_capacity(ids.len());
        let mut hashes: Vec<&[u8]> = Vec::with_capacity(ids.len());
        let mut reasons: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(ids.len());
        let mut counts: Vec<i64> = Vec::with_capacity(ids.len());
        let mut object_ids: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(ids.len());
        for (id, copies) in &ids {
            let Some(first) = copies.bodies.first() else { continue };
            let event = first.event;
            keys.push(id);
            names.push(&event.event);
            subscriptions.push(event.subscription.as_deref());
            received.push(event.received_at_ms);
            bodies.push(&event.body);
            hashes.push(event.body_hash.as_bytes());
            reasons.push(event.quarantine.as_deref().map(storable));
            counts.push(first.count);
            object_ids.push(event.object_id.as_deref().map(storable));
        }
        let mut client = self.client().await.map_err(|e| BatchFailure::of(&e, false))?;
        let outcome = self
            .timed(async {
                let statement = client.prepare_cached(&self.sql.store).await?;
                client
                    .query(
                        &statement,
                        &[
                            &keys,
                            &names,
                            &subscriptions,
                            &received,
                            &bodies,
                            &hashes,
                            &reasons,
                            &counts,
                            &object_ids,
                        ],
                    )
                    .await
            })
            .await;
        let rows = match outcome {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => {
                let refused = e.as_db_error().is_some();
                return Err(BatchFailure::of(&self.failed("store deliveries", e), refused));
            }
            Err(_) => {
                drop(Object::take(client));
                return Err(BatchFailure::of(&self.timed_out("store deliveries"), false));
            }
        };
        // What each id holds now: its stored digest and its delivery count.
        let mut stored: HashMap<String, (BodyHash, i64)> = HashMap::with_capacity(rows.len());
        for row in rows {
            let parsed = row.try_get::<_, String>(0).and_then(|id| {
                let hash: Vec<u8> = row.try_get(1)?;
                Ok((id, hash, row.try_get::<_, i64>(2)?))
            });
            match parsed {
                Ok((id, hash, deliveries)) => {
                    if let Some(hash) = BodyHash::from_slice(&hash) {
                        stored.insert(id, (hash, deliveries));
                    }
                }
                Err(e) => return Err(BatchFailure::of(&self.failed("read what it stored", e), false)),
            }
        }

        let mut outcomes = HashMap::with_capacity(batch.len());
        let mut conflicting: Vec<(&str, &Body<'_>)> = Vec::new();
        let mut extra: HashMap<&str, i64> = HashMap::new();
        for (id, copies) in &ids {
            let Some(&(hash, deliveries)) = stored.get(*id) else {
                // No row: the statement skipped a pruned id, so every copy is a redelivery.
                for body in &copies.bodies {
                    outcomes.insert(((*id).to_owned(), body.event.body_hash), Outcome::Duplicate);
                }
                continue;
            };
            for (i, body) in copies.bodies.iter().enumerate() {
                let key = ((*id).to_owned(), body.event.body_hash);
                if body.event.body_hash != hash {
                    conflicting.push((id, body));
                    outcomes.insert(key, Outcome::Conflict);
                } else if i == 0 {
                    // The statement counted these copies; a row that holds only them was inserted by it.
                    let inserted = deliveries == body.count;
                    outcomes.insert(
                        key,
                        if inserted {
                            Outcome::Inserted
                        } else {
                            Outcome::Duplicate
                        },
                    );
                } else {
                    // The stored body arrived behind a conflicting first copy: counted below.
                    *extra.entry(id).or_default() += body.count;
                    outcomes.insert(key, Outcome::Duplicate);
                }
            }
        }
        if !conflicting.is_empty() || !extra.is_empty() {
            let outcome = self.timed(self.keep_conflicts(&mut client, &conflicting, extra)).await;
            let refused = matches!(&outcome, Ok(Err(e)) if e.as_db_error().is_some());
            self.settle(client, "store conflicting versions", outcome)
                .map_err(|e| BatchFailure::of(&e, refused))?;
        }
        Ok(outcomes)
    }

    /// Keeps conflicting bodies (once per event id and digest) and counts them, with redeliveries of the
    /// stored body that arrived behind one, on their events: one transaction.
    async fn keep_conflicts(
        &self,
        client: &mut Object,
        conflicting: &[(&str, &Body<'_>)],
        mut extra: HashMap<&str, i64>,
    ) -> Result<(), PgError> {
        let txn = client.transaction().await?;
        let mut new_versions: HashMap<String, i64> = HashMap::new();
        if !conflicting.is_empty() {
            let ids: Vec<&str> = conflicting.iter().map(|(id, _)| *id).collect();
            let hashes: Vec<&[u8]> = conflicting
                .iter()
                .map(|(_, body)| &body.event.body_hash.as_bytes()[..])
                .collect();
            let received: Vec<i64> = conflicting.iter().map(|(_, body)| body.event.received_at_ms).collect();
            let bodies: Vec<&[u8]> = conflicting.iter().map(|(_, body)| &body.event.body[..]).collect();
            let counts: Vec<i64> = conflicting.iter().map(|(_, body)| body.count).collect();
            let sent: HashMap<(&str, &[u8]), i64> = conflicting
                .iter()
                .map(|(id, body)| ((*id, &body.event.body_hash.as_bytes()[..]), body.count))
                .collect();
            let statement = txn.prepare_cached(&self.sql.store_conflicts).await?;
            for row in txn
                .query(&statement, &[&ids, &hashes, &received, &bodies, &counts])
                .await?
            {
                let id: String = row.try_get(0)?;
                let hash: Vec<u8> = row.try_get(1)?;
                let deliveries: i64 = row.try_get(2)?;
                // A version that holds only this group's copies is new.
                if sent.get(&(id.as_str(), hash.as_slice())) == Some(&deliveries) {
                    *new_versions.entry(id).or_default() += 1;
                }
            }
        }
        let mut ids: Vec<&str> = Vec::new();
        let mut deliveries: Vec<i64> = Vec::new();
        let mut versions: Vec<i64> = Vec::new();
        let mut touched: Vec<&str> = conflicting
            .iter()
            .map(|(id, _)| *id)
            .chain(extra.keys().copied())
            .collect();
        touched.sort_unstable();
        touched.dedup();
        for id in touched {
            ids.push(id);
            deliveries.push(extra.remove(id).unwrap_or(0));
            versions.push(new_versions.get(id).copied().unwrap_or(0));
        }
        let statement = txn.prepare_cached(&self.sql.count_copies).await?;
        txn.execute(&statement, &[&ids, &deliveries, &versions]).await?;
        txn.commit().await
    }
}

/// Answers each store of a committed group: the first copy of a body the group inserted is new, other
/// copies of the stored body are duplicates, copies of any other body conflicts.
fn answer(batch: Vec<PendingStore>, outcomes: &HashMap<(String, BodyHash), Outcome>) {
    let mut answered: HashSet<&str> = HashSet::new();
    let mut replies = Vec::with_capacity(batch.len());
    for pending in &batch {
        let id = pending.event.event_id.as_str();
        let reply = match outcomes.get(&(id.to_owned(), pending.event.body_hash)) {
            None => Err(InboxError::new(
                format!("PostgreSQL did not confirm storing the event `{}`", id.escape_debug()),
                None,
            )),
            Some(Outcome::Inserted) if answered.insert(id) => Ok(Stored::New),
            Some(Outcome::Inserted | Outcome::Duplicate) => Ok(Stored::Duplicate),
            Some(Outcome::Conflict) => Ok(Stored::Conflict),
        };
        replies.push(reply);
    }
    for (pending, reply) in batch.into_iter().zip(replies) {
        let _ = pending.reply.send(reply);
    }
}

fn fail(batch: Vec<PendingStore>, failure: &BatchFailure) {
    for pending in batch {
        let _ = pending
            .reply
            .send(Err(InboxError::of_kind(failure.kind, failure.message.clone(), None)));
    }
}

/// Gathers the stores waiting at the moment a transaction slot is free into one batch, and runs it.
pub(super) async fn dispatch(
    inner: Arc<Inner>,
    mut queue: mpsc::Receiver<PendingStore>,
    slots: Arc<Semaphore>,
    max_batch: usize,
    groups: Arc<group::GroupStats>,
) {
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = queue.recv().await else {
            return;
        };
        let batch = group::gather(
            first,
            || queue.try_recv().ok(),
            max_batch,
            MAX_BATCH_BYTES,
            |pending| pending.event.body.len(),
        );
        groups.record(batch.len());
        let inner = inner.clone();
        tokio::spawn(async move {
            inner.store_batch(batch).await;
            drop(slot);
        });
    }
}
