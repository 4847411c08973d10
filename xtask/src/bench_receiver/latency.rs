//! Arrival-to-handler latency: a receiver with a worker in this process, its inbox wrapped to note when each
//! store commits, and a handler that notes when it starts; `wrk` drives it from outside.
//!
//! The time measured is from the moment [`Inbox::store`] returns (the delivery's transaction committed) to the
//! moment the handler is called with the event: the worker's wake-up, its claim, and the hand-over.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use cxtn_receiver::{
    ClaimToken, Claimed, Completion, ConflictRecord, Event, EventFilter, EventId, EventRecord, Handler, HandlerError,
    Inbox, InboxError, InboxStats, NewEvent, NewRejection, PrunePolicy, PruneReport, Receiver, RejectionRecord,
    Running, Stored, WriteStats, async_trait,
};

/// Commit and handler-start instants by event id, and the latencies of the events that have both.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    pending: Mutex<HashMap<String, Moment>>,
    latencies: Mutex<Vec<Duration>>,
}

#[derive(Debug, Clone, Copy)]
enum Moment {
    Committed(Instant),
    Started(Instant),
}

impl Clock {
    fn committed(&self, event_id: &str) {
        self.note(event_id, Moment::Committed(Instant::now()));
    }

    fn started(&self, event_id: &str) {
        self.note(event_id, Moment::Started(Instant::now()));
    }

    /// Pairs a moment with the other one of the same event; a handler that starts before its store returned
    /// (the worker is quicker than the answer's wake-up) counts as zero.
    fn note(&self, event_id: &str, moment: Moment) {
        let Ok(mut pending) = self.pending.lock() else { return };
        let latency = match (pending.remove(event_id), moment) {
            (Some(Moment::Committed(at)), Moment::Started(now)) => now.saturating_duration_since(at),
            (Some(Moment::Started(_)), Moment::Committed(_)) => Duration::ZERO,
            (_, moment) => {
                pending.insert(event_id.to_owned(), moment);
                return;
            }
        };
        drop(pending);
        if let Ok(mut latencies) = self.latencies.lock() {
            latencies.push(latency);
        }
    }

    /// The latencies so far, sorted, and forgets them.
    pub(crate) fn take(&self) -> Vec<Duration> {
        let mut all = self
            .latencies
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        all.sort();
        all
    }
}

/// The handler: notes its start, does nothing else.
#[derive(Debug)]
struct Recorder(Arc<Clock>);

#[async_trait]
impl Handler for Recorder {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.0.started(event.notification.event_id().as_str());
        Ok(())
    }
}

/// An inbox that notes each new event's commit on `clock`.
#[derive(Debug)]
struct Timed {
    inner: Arc<dyn Inbox>,
    clock: Arc<Clock>,
}

#[async_trait]
impl Inbox for Timed {
    async fn store(&self, event: NewEvent) -> Result<Stored, InboxError> {
        let event_id = event.event_id.as_str().to_owned();
        let stored = self.inner.store(event).await;
        if matches!(stored, Ok(Stored::New)) {
            self.clock.committed(&event_id);
        }
        stored
    }
    async fn reject(&self, rejection: NewRejection) -> Result<i64, InboxError> {
        self.inner.reject(rejection).await
    }
    async fn claim(&self, lease: Duration, limit: usize, quarantined: bool) -> Result<Vec<Claimed>, InboxError> {
        self.inner.claim(lease, limit, quarantined).await
    }
    async fn renew(&self, event_id: &EventId, token: ClaimToken, lease: Duration) -> Result<bool, InboxError> {
        self.inner.renew(event_id, token, lease).await
    }
    async fn complete(
        &self,
        event_id: &EventId,
        token: ClaimToken,
        completion: Completion,
    ) -> Result<bool, InboxError> {
        self.inner.complete(event_id, token, completion).await
    }
    async fn release(&self, event_id: &EventId, token: ClaimToken) -> Result<bool, InboxError> {
        self.inner.release(event_id, token).await
    }
    async fn replay_event(&self, event_id: &EventId) -> Result<bool, InboxError> {
        self.inner.replay_event(event_id).await
    }
    async fn resolve_rejection(&self, id: i64, event_id: &EventId) -> Result<bool, InboxError> {
        self.inner.resolve_rejection(id, event_id).await
    }
    async fn event(&self, event_id: &EventId) -> Result<Option<EventRecord>, InboxError> {
        self.inner.event(event_id).await
    }
    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>, InboxError> {
        self.inner.events(filter).await
    }
    async fn conflicts(&self, event_id: &EventId) -> Result<Vec<ConflictRecord>, InboxError> {
        self.inner.conflicts(event_id).await
    }
    async fn rejection(&self, id: i64) -> Result<Option<RejectionRecord>, InboxError> {
        self.inner.rejection(id).await
    }
    async fn rejections(&self, limit: usize) -> Result<Vec<RejectionRecord>, InboxError> {
        self.inner.rejections(limit).await
    }
    async fn stats(&self) -> Result<InboxStats, InboxError> {
        self.inner.stats().await
    }
    async fn prune(&self, policy: &PrunePolicy) -> Result<PruneReport, InboxError> {
        self.inner.prune(policy).await
    }
    fn wake_signal(&self) -> Option<Arc<tokio::sync::Notify>> {
        self.inner.wake_signal()
    }
    async fn check(&self) -> Result<(), InboxError> {
        self.inner.check().await
    }
    fn write_stats(&self) -> Option<WriteStats> {
        self.inner.write_stats()
    }
}

/// Starts a receiver with a worker of `concurrency` slots on `inbox` at `addr`, whose handler notes its starts on
/// the returned clock.
pub(crate) async fn serve(inbox: Arc<dyn Inbox>, addr: &str, concurrency: usize) -> Result<(Running, Arc<Clock>)> {
    let clock = Arc::new(Clock::default());
    let timed = Arc::new(Timed {
        inner: inbox,
        clock: clock.clone(),
    });
    let receiver = Receiver::builder(timed)
        .path_token(super::wrk::TOKEN)
        .handler(Recorder(clock.clone()))
        .worker_policy(cxtn_receiver::WorkerPolicy::default().concurrency(concurrency))
        .build()?;
    Ok((receiver.bind(addr).await?, clock))
}
