//! An inbox in memory, for tests: NOT durable.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use super::{
    Claimed, Completion, EventFilter, EventRecord, EventStatus, Inbox, InboxError, InboxStats, NewEvent, NewRejection,
    RejectionRecord, Stored,
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
    events: HashMap<String, EventRecord>,
    order: Vec<String>,
    claimed_until: HashMap<String, i64>,
    rejections: Vec<RejectionRecord>,
    duplicates: u64,
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
}

#[async_trait]
impl Inbox for MemoryInbox {
    async fn store(&self, event: NewEvent) -> Result<Stored, InboxError> {
        let mut state = self.lock();
        if let Some(existing) = state.events.get_mut(&event.event_id) {
            existing.deliveries = existing.deliveries.saturating_add(1);
            state.duplicates += 1;
            return Ok(Stored::Duplicate);
        }
        state.order.push(event.event_id.clone());
        state.events.insert(
            event.event_id.clone(),
            EventRecord {
                event_id: event.event_id,
                event: event.event,
                subscription: event.subscription,
                received_at_ms: event.received_at_ms,
                body: event.body,
                status: EventStatus::Pending,
                attempts: 0,
                last_error: None,
                deliveries: 1,
                next_attempt_at_ms: event.received_at_ms,
            },
        );
        Ok(Stored::New)
    }

    async fn reject(&self, rejection: NewRejection) -> Result<i64, InboxError> {
        let mut state = self.lock();
        let id = i64::try_from(state.rejections.len())
            .unwrap_or(i64::MAX)
            .saturating_add(1);
        state.rejections.push(RejectionRecord {
            id,
            received_at_ms: rejection.received_at_ms,
            body: rejection.body,
            reason: rejection.reason,
            kind: rejection.kind,
            replayed_as: None,
        });
        Ok(id)
    }

    async fn claim(&self, now_ms: i64, lease: Duration, limit: usize) -> Result<Vec<Claimed>, InboxError> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        let mut claimed = Vec::new();
        for id in &state.order {
            if claimed.len() >= limit {
                break;
            }
            let Some(record) = state.events.get_mut(id) else {
                continue;
            };
            let due = match record.status {
                EventStatus::Pending => record.next_attempt_at_ms <= now_ms,
                EventStatus::Processing => state.claimed_until.get(id).is_none_or(|until| *until <= now_ms),
                _ => false,
            };
            if !due {
                continue;
            }
            record.status = EventStatus::Processing;
            record.attempts = record.attempts.saturating_add(1);
            state.claimed_until.insert(id.clone(), now_ms.saturating_add(lease_ms));
            claimed.push(Claimed {
                event_id: record.event_id.clone(),
                body: record.body.clone(),
                attempt: record.attempts,
                received_at_ms: record.received_at_ms,
            });
        }
        Ok(claimed)
    }

    async fn complete(&self, event_id: &str, completion: Completion) -> Result<(), InboxError> {
        let mut state = self.lock();
        state.claimed_until.remove(event_id);
        let Some(record) = state.events.get_mut(event_id) else {
            return Ok(());
        };
        match completion {
            Completion::Processed => {
                record.status = EventStatus::Processed;
                record.last_error = None;
            }
            Completion::Retry { error, at_ms } => {
                record.status = EventStatus::Pending;
                record.last_error = Some(error);
                record.next_attempt_at_ms = at_ms;
            }
            Completion::Dead { error } => {
                record.status = EventStatus::Dead;
                record.last_error = Some(error);
            }
        }
        Ok(())
    }

    async fn replay_event(&self, event_id: &str, now_ms: i64) -> Result<bool, InboxError> {
        let mut state = self.lock();
        state.claimed_until.remove(event_id);
        let Some(record) = state.events.get_mut(event_id) else {
            return Ok(false);
        };
        record.status = EventStatus::Pending;
        record.attempts = 0;
        record.next_attempt_at_ms = now_ms;
        Ok(true)
    }

    async fn resolve_rejection(&self, id: i64, event_id: &str) -> Result<bool, InboxError> {
        let mut state = self.lock();
        match state.rejections.iter_mut().find(|r| r.id == id) {
            Some(rejection) => {
                rejection.replayed_as = Some(event_id.to_owned());
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn event(&self, event_id: &str) -> Result<Option<EventRecord>, InboxError> {
        Ok(self.lock().events.get(event_id).cloned())
    }

    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>, InboxError> {
        let state = self.lock();
        let limit = filter.limit.unwrap_or(100);
        Ok(state
            .order
            .iter()
            .rev()
            .filter_map(|id| state.events.get(id))
            .filter(|r| filter.status.is_none_or(|s| r.status == s))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn rejection(&self, id: i64) -> Result<Option<RejectionRecord>, InboxError> {
        Ok(self.lock().rejections.iter().find(|r| r.id == id).cloned())
    }

    async fn rejections(&self, limit: usize) -> Result<Vec<RejectionRecord>, InboxError> {
        Ok(self.lock().rejections.iter().rev().take(limit).cloned().collect())
    }

    async fn stats(&self) -> Result<InboxStats, InboxError> {
        let state = self.lock();
        let mut stats = InboxStats {
            rejected: state.rejections.len() as u64,
            duplicates: state.duplicates,
            ..InboxStats::default()
        };
        for record in state.events.values() {
            match record.status {
                EventStatus::Pending => stats.pending += 1,
                EventStatus::Processing => stats.processing += 1,
                EventStatus::Processed => stats.processed += 1,
                EventStatus::Dead => stats.dead += 1,
            }
        }
        Ok(stats)
    }
}
