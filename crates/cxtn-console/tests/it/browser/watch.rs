//! An inbox that counts the event listings it answered, so that a test knows when the console's live stream has
//! read the inbox (and so knows what is already there) before it stores a new arrival.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cxtn_receiver::inbox::{ArrivalBucket, EventFilter};
use cxtn_receiver::{
    ClaimToken, Claimed, Completion, ConflictRecord, EventId, EventRecord, Inbox, InboxError, InboxStats, NewEvent,
    NewRejection, PrunePolicy, PruneReport, RejectionRecord, Stored, WriteStats, async_trait,
};

/// Every call goes to `inner`; answered [`Inbox::events`] calls are counted.
#[derive(Debug)]
pub(crate) struct Watched {
    inner: Arc<dyn Inbox>,
    listings: AtomicU64,
}

impl Watched {
    pub(crate) fn new(inner: Arc<dyn Inbox>) -> Self {
        Self {
            inner,
            listings: AtomicU64::new(0),
        }
    }

    /// How many event listings the inbox has answered so far.
    pub(crate) fn listings(&self) -> u64 {
        self.listings.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Inbox for Watched {
    async fn store(&self, event: NewEvent) -> Result<Stored, InboxError> {
        self.inner.store(event).await
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
        let listed = self.inner.events(filter).await;
        self.listings.fetch_add(1, Ordering::SeqCst);
        listed
    }

    async fn arrivals(&self, since_ms: i64, bucket_ms: i64) -> Result<Vec<ArrivalBucket>, InboxError> {
        self.inner.arrivals(since_ms, bucket_ms).await
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

    async fn rejections_page(&self, limit: usize, before_id: Option<i64>) -> Result<Vec<RejectionRecord>, InboxError> {
        self.inner.rejections_page(limit, before_id).await
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
