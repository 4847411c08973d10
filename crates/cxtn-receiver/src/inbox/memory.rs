//! An inbox in memory, for tests: NOT durable.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use super::{
    ArrivalBucket, ClaimToken, Claimed, Completion, ConflictRecord, EventFilter, EventId, EventRecord, EventStatus,
    Inbox, InboxError, InboxStats, NewEvent, NewRejection, PrunePolicy, PruneReport, RejectionRecord, Stored, query,
    retention,
};

/// An inbox held in memory.
///
/// **Not durable**: everything is lost when the process ends, so a receiver using it acknowledges
/// deliveries it may lose. Use it in tests and benchmarks; use [`SqliteInbox`](crate::SqliteInbox) otherwise.
#[derive(Debug, Default)]
pub struct MemoryInbox {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    events: HashMap<EventId, Entry>,
    /// Event ids in the order they were first stored.
    order: Vec<EventId>,
    /// Conflicting versions per event id, oldest first.
    conflicts: HashMap<EventId, Vec<ConflictRecord>>,
    rejections: Vec<RejectionRecord>,
    /// Pruned event ids, with when each first arrived: their redeliveries are duplicates.
    pruned: HashMap<EventId, i64>,
}

/// A stored event and its lease.
#[derive(Debug)]
struct Entry {
    record: EventRecord,
    claimed_until_ms: i64,
    token: Option<ClaimToken>,
    /// The status it was claimed from (pending or quarantined): where a release or a retry puts it back.
    claimed_from: EventStatus,
}

impl Entry {
    /// Whether `token` holds this event's lease.
    fn holds(&self, token: ClaimToken) -> bool {
        self.record.status == EventStatus::Processing && self.token == Some(token)
    }
}

impl MemoryInbox {
    /// An empty inbox.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the event when `token` holds its lease; `false` (nothing changed) otherwise.
    fn fenced(&self, event_id: &EventId, token: ClaimToken, f: impl FnOnce(&mut Entry)) -> bool {
        let mut state = self.lock();
        match state.events.get_mut(event_id) {
            Some(entry) if entry.holds(token) => {
                f(entry);
                true
            }
            _ => false,
        }
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn count(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[async_trait]
impl Inbox for MemoryInbox {
    async fn store(&self, event: NewEvent) -> Result<Stored, InboxError> {
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.pruned.contains_key(&event.event_id) {
            return Ok(Stored::Duplicate);
        }
        if let Some(existing) = state.events.get_mut(&event.event_id) {
            if existing.record.body_hash == event.body_hash {
                existing.record.deliveries = existing.record.deliveries.saturating_add(1);
                return Ok(Stored::Duplicate);
            }
            let versions = state.conflicts.entry(event.event_id.clone()).or_default();
            match versions.iter_mut().find(|v| v.body_hash == event.body_hash) {
                Some(version) => version.deliveries = version.deliveries.saturating_add(1),
                None => versions.push(ConflictRecord {
                    event_id: event.event_id,
                    received_at_ms: event.received_at_ms,
                    body: event.body,
                    body_hash: event.body_hash,
                    deliveries: 1,
                }),
            }
            existing.record.conflicts = count(versions.len());
            return Ok(Stored::Conflict);
        }
        let status = if event.quarantine.is_some() {
            EventStatus::Quarantined
        } else {
            EventStatus::Pending
        };
        state.order.push(event.event_id.clone());
        state.events.insert(
            event.event_id.clone(),
            Entry {
                record: EventRecord {
                    event_id: event.event_id,
                    event: event.event,
                    subscription: event.subscription,
                    received_at_ms: event.received_at_ms,
                    body: event.body,
                    status,
                    attempts: 0,
                    last_error: None,
                    deliveries: 1,
                    next_attempt_at_ms: event.received_at_ms,
                    body_hash: event.body_hash,
                    conflicts: 0,
                    quarantine_reason: event.quarantine,
                    object_id: event.object_id,
                },
                claimed_until_ms: 0,
                token: None,
                claimed_from: status,
            },
        );
        Ok(Stored::New)
    }

    async fn reject(&self, rejection: NewRejection) -> Result<i64, InboxError> {
        let mut state = self.lock();
        if let Some(existing) = state.rejections.iter_mut().find(|r| r.body_hash == rejection.body_hash) {
            existing.deliveries = existing.deliveries.saturating_add(1);
            return Ok(existing.id);
        }
        // Ids are never reused, even after older rejections were pruned.
        let id = state.rejections.last().map_or(0, |r| r.id).saturating_add(1);
        state.rejections.push(RejectionRecord {
            id,
            received_at_ms: rejection.received_at_ms,
            body: rejection.body,
            reason: rejection.reason,
            kind: rejection.kind,
            replayed_as: None,
            body_hash: rejection.body_hash,
            deliveries: 1,
        });
        Ok(id)
    }

    async fn claim(&self, lease: Duration, limit: usize, quarantined: bool) -> Result<Vec<Claimed>, InboxError> {
        let now_ms = crate::now_ms();
        let mut guard = self.lock();
        let state = &mut *guard;
        let mut claimed = Vec::new();
        for id in &state.order {
            if claimed.len() >= limit {
                break;
            }
            let Some(entry) = state.events.get_mut(id) else {
                continue;
            };
            let due = match entry.record.status {
                EventStatus::Pending => entry.record.next_attempt_at_ms <= now_ms,
                EventStatus::Quarantined => quarantined && entry.record.next_attempt_at_ms <= now_ms,
                EventStatus::Processing => {
                    entry.claimed_until_ms <= now_ms && (quarantined || entry.claimed_from != EventStatus::Quarantined)
                }
                _ => false,
            };
            if !due {
                continue;
            }
            if entry.record.status != EventStatus::Processing {
                entry.claimed_from = entry.record.status;
            }
            let token = ClaimToken::random();
            entry.record.status = EventStatus::Processing;
            entry.record.attempts = entry.record.attempts.saturating_add(1);
            entry.claimed_until_ms = now_ms.saturating_add(millis(lease));
            entry.token = Some(token);
            let record = &entry.record;
            claimed.push(Claimed {
                event_id: record.event_id.clone(),
                body: record.body.clone(),
                attempt: record.attempts,
                received_at_ms: record.received_at_ms,
                token,
                conflicts: record.conflicts,
                quarantine_reason: if entry.claimed_from == EventStatus::Quarantined {
                    record.quarantine_reason.clone()
                } else {
                    None
                },
            });
        }
        Ok(claimed)
    }

    async fn renew(&self, event_id: &EventId, token: ClaimToken, lease: Duration) -> Result<bool, InboxError> {
        let until = crate::now_ms().saturating_add(millis(lease));
        Ok(self.fenced(event_id, token, |entry| entry.claimed_until_ms = until))
    }

    async fn complete(
        &self,
        event_id: &EventId,
        token: ClaimToken,
        completion: Completion,
    ) -> Result<bool, InboxError> {
        let now_ms = crate::now_ms();
        Ok(self.fenced(event_id, token, |entry| {
            entry.token = None;
            let record = &mut entry.record;
            match completion {
                Completion::Processed => {
                    record.status = EventStatus::Processed;
                    record.last_error = None;
                }
                Completion::Retry { error, after } => {
                    record.status = entry.claimed_from;
                    record.last_error = Some(error);
                    record.next_attempt_at_ms = now_ms.saturating_add(millis(after));
                }
                Completion::Dead { error } => {
                    record.status = EventStatus::Dead;
                    record.last_error = Some(error);
                }
            }
        }))
    }

    async fn release(&self, event_id: &EventId, token: ClaimToken) -> Result<bool, InboxError> {
        let now_ms = crate::now_ms();
        Ok(self.fenced(event_id, token, |entry| {
            entry.token = None;
            entry.record.status = entry.claimed_from;
            entry.record.attempts = entry.record.attempts.saturating_sub(1);
            entry.record.next_attempt_at_ms = now_ms;
        }))
    }

    async fn replay_event(&self, event_id: &EventId) -> Result<bool, InboxError> {
        let now_ms = crate::now_ms();
        let mut state = self.lock();
        let Some(entry) = state.events.get_mut(event_id) else {
            return Ok(false);
        };
        entry.token = None;
        entry.claimed_from = EventStatus::Pending;
        entry.record.status = EventStatus::Pending;
        entry.record.attempts = 0;
        entry.record.next_attempt_at_ms = now_ms;
        Ok(true)
    }

    async fn resolve_rejection(&self, id: i64, event_id: &EventId) -> Result<bool, InboxError> {
        let mut state = self.lock();
        match state.rejections.iter_mut().find(|r| r.id == id) {
            Some(rejection) => {
                rejection.replayed_as = Some(event_id.clone());
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn event(&self, event_id: &EventId) -> Result<Option<EventRecord>, InboxError> {
        Ok(self.lock().events.get(event_id).map(|entry| entry.record.clone()))
    }

    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>, InboxError> {
        let state = self.lock();
        let mut records: Vec<&EventRecord> = state
            .events
            .values()
            .map(|entry| &entry.record)
            .filter(|r| filter.matches(r))
            .collect();
        records.sort_unstable_by(|a, b| {
            let order = (a.received_at_ms, a.event_id.as_str()).cmp(&(b.received_at_ms, b.event_id.as_str()));
            if filter.oldest_first { order } else { order.reverse() }
        });
        Ok(records.into_iter().take(filter.effective_limit()).cloned().collect())
    }

    async fn arrivals(&self, since_ms: i64, bucket_ms: i64) -> Result<Vec<ArrivalBucket>, InboxError> {
        super::check_bucket(bucket_ms)?;
        let state = self.lock();
        let mut counts = std::collections::BTreeMap::<i64, u64>::new();
        for entry in state.events.values() {
            let at = entry.record.received_at_ms;
            if at >= since_ms {
                *counts.entry(query::bucket_start(at, bucket_ms)).or_default() += 1;
            }
        }
        Ok(counts
            .into_iter()
            .map(|(start_ms, events)| ArrivalBucket::new(start_ms, events))
            .collect())
    }

    async fn conflicts(&self, event_id: &EventId) -> Result<Vec<ConflictRecord>, InboxError> {
        Ok(self.lock().conflicts.get(event_id).cloned().unwrap_or_default())
    }

    async fn rejection(&self, id: i64) -> Result<Option<RejectionRecord>, InboxError> {
        Ok(self.lock().rejections.iter().find(|r| r.id == id).cloned())
    }

    async fn rejections(&self, limit: usize) -> Result<Vec<RejectionRecord>, InboxError> {
        Ok(self.lock().rejections.iter().rev().take(limit).cloned().collect())
    }

    async fn rejections_page(&self, limit: usize, before_id: Option<i64>) -> Result<Vec<RejectionRecord>, InboxError> {
        Ok(self
            .lock()
            .rejections
            .iter()
            .rev()
            .filter(|r| before_id.is_none_or(|before| r.id < before))
            .take(limit)
            .cloned()
            .collect())
    }

    /// Takes the lock the inbox's state is under; a memory inbox is always ready.
    async fn check(&self) -> Result<(), InboxError> {
        drop(self.lock());
        Ok(())
    }

    async fn stats(&self) -> Result<InboxStats, InboxError> {
        let state = self.lock();
        let mut stats = InboxStats {
            rejected: state.rejections.len() as u64,
            conflicts: state.conflicts.values().map(|v| v.len() as u64).sum(),
            ..InboxStats::default()
        };
        for entry in state.events.values() {
            let record = &entry.record;
            stats.duplicates += u64::from(record.deliveries.saturating_sub(1));
            match record.status {
                EventStatus::Pending => {
                    stats.pending += 1;
                    stats.oldest_pending_at_ms =
                        super::earliest(stats.oldest_pending_at_ms, Some(record.received_at_ms));
                }
                EventStatus::Processing => stats.processing += 1,
                EventStatus::Processed => stats.processed += 1,
                EventStatus::Dead => stats.dead += 1,
                EventStatus::Quarantined => stats.quarantined += 1,
            }
        }
        Ok(stats)
    }

    async fn prune(&self, policy: &PrunePolicy) -> Result<PruneReport, InboxError> {
        let now_ms = crate::now_ms();
        let remember_since = retention::before(now_ms, policy.dedupe_window);
        let mut guard = self.lock();
        let state = &mut *guard;
        let mut report = PruneReport {
            dry_run: policy.dry_run,
            ..PruneReport::default()
        };
        let doomed: Vec<(EventId, i64)> = state
            .events
            .values()
            .map(|entry| &entry.record)
            .filter(|r| policy.prunes(r.status, r.received_at_ms, r.conflicts, now_ms))
            .map(|r| {
                report.count(r.status, u64::from(r.conflicts), r.received_at_ms >= remember_since);
                (r.event_id.clone(), r.received_at_ms)
            })
            .collect();
        let old_rejection = |r: &RejectionRecord| {
            policy
                .rejections_older_than
                .is_some_and(|age| r.received_at_ms < retention::before(now_ms, age))
        };
        report.rejections = state.rejections.iter().filter(|r| old_rejection(r)).count() as u64;
        let forgotten = |received_at_ms: i64| received_at_ms < remember_since;
        report.forgotten = state.pruned.values().filter(|at| forgotten(**at)).count() as u64;
        if policy.dry_run {
            return Ok(report);
        }
        state.pruned.retain(|_, at| !forgotten(*at));
        for (id, received_at_ms) in doomed {
            state.events.remove(&id);
            state.conflicts.remove(&id);
            if !forgotten(received_at_ms) {
                state.pruned.insert(id, received_at_ms);
            }
        }
        let events = &state.events;
        state.order.retain(|id| events.contains_key(id));
        state.rejections.retain(|r| !old_rejection(r));
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    const LONG: Duration = Duration::from_secs(600);

    fn quarantined(id: &str) -> NewEvent {
        NewEvent::new(id, "ping", None, 1, Bytes::from_static(b"odd")).quarantined("`data` is not an object")
    }

    #[tokio::test]
    async fn a_quarantined_event_stays_out_of_the_typed_workers_reach() {
        let inbox = MemoryInbox::new();
        inbox.store(quarantined("q")).await.unwrap();
        let first = inbox.claim(Duration::ZERO, 10, true).await.unwrap();
        assert_eq!(first[0].quarantine_reason.as_deref(), Some("`data` is not an object"));
        assert!(
            inbox.claim(LONG, 10, false).await.unwrap().is_empty(),
            "an opted-in claim whose lease ran out is not taken by a typed worker"
        );
        let second = inbox.claim(LONG, 10, true).await.unwrap();
        assert_eq!(second[0].attempt, 2);
        let retry = Completion::Retry {
            error: "still odd".into(),
            after: Duration::ZERO,
        };
        assert!(
            inbox
                .complete(&EventId::new("q"), second[0].token, retry)
                .await
                .unwrap()
        );
        let record = inbox.event(&EventId::new("q")).await.unwrap().unwrap();
        assert_eq!(
            record.status,
            EventStatus::Quarantined,
            "a retry goes back to quarantine"
        );
        assert!(inbox.claim(LONG, 10, false).await.unwrap().is_empty());
        assert!(inbox.replay_event(&EventId::new("q")).await.unwrap());
        let typed = inbox.claim(LONG, 10, false).await.unwrap();
        assert_eq!((typed.len(), typed[0].quarantine_reason.as_deref()), (1, None));
    }

    #[tokio::test]
    async fn a_conflicting_body_counts_its_own_deliveries() {
        let inbox = MemoryInbox::new();
        let body = |text: &'static str| Bytes::from_static(text.as_bytes());
        inbox
            .store(NewEvent::new("c", "ping", None, 1, body("a")))
            .await
            .unwrap();
        for at in 2..5 {
            let stored = inbox
                .store(NewEvent::new("c", "ping", None, at, body("b")))
                .await
                .unwrap();
            assert_eq!(stored, Stored::Conflict);
        }
        let versions = inbox.conflicts(&EventId::new("c")).await.unwrap();
        assert_eq!(
            (versions.len(), versions[0].deliveries, versions[0].received_at_ms),
            (1, 3, 2)
        );
        let stats = inbox.stats().await.unwrap();
        assert_eq!((stats.conflicts, stats.duplicates), (1, 0));
    }
}
