//! An inbox in front of another: to observe its calls, change their answers or make them fail, without
//! writing out every method of [`Inbox`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{
    ArrivalBucket, ClaimToken, Claimed, Completion, ConflictRecord, EventFilter, EventId, EventRecord, Inbox,
    InboxError, InboxStats, NewEvent, NewRejection, PrunePolicy, PruneReport, RejectionRecord, Stored, WriteStats,
};

/// What an [`Intercepted`] inbox does with each call of [`Inbox`]: each method gets the inner inbox and the call's
/// arguments, and by default passes the call on. Override only the calls to watch or change.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// use cxtn_receiver::inbox::{Intercept, Intercepted};
/// use cxtn_receiver::{Inbox, InboxError, MemoryInbox, NewEvent, Stored, async_trait};
///
/// /// Counts the events stored for the first time.
/// #[derive(Debug, Default)]
/// struct CountNew(AtomicU64);
///
/// #[async_trait]
/// impl Intercept for CountNew {
///     async fn store(&self, inner: &dyn Inbox, event: NewEvent) -> Result<Stored, InboxError> {
///         let stored = inner.store(event).await;
///         if matches!(stored, Ok(Stored::New)) {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///         stored
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let inbox = Intercepted::new(Arc::new(MemoryInbox::new()), CountNew::default());
/// let event = NewEvent::new("wh_1", "ping", None, 0, "{}".into());
/// inbox.store(event.clone()).await?;
/// inbox.store(event).await?;
/// assert_eq!(inbox.intercept().0.load(Ordering::Relaxed), 1);
/// # Ok::<(), InboxError>(()) }).unwrap();
/// ```
#[async_trait]
#[allow(missing_docs)]
pub trait Intercept: Send + Sync + fmt::Debug + 'static {
    async fn store(&self, inner: &dyn Inbox, event: NewEvent) -> Result<Stored, InboxError> {
        inner.store(event).await
    }

    async fn reject(&self, inner: &dyn Inbox, rejection: NewRejection) -> Result<i64, InboxError> {
        inner.reject(rejection).await
    }

    async fn claim(
        &self,
        inner: &dyn Inbox,
        lease: Duration,
        limit: usize,
        quarantined: bool,
    ) -> Result<Vec<Claimed>, InboxError> {
        inner.claim(lease, limit, quarantined).await
    }

    async fn renew(
        &self,
        inner: &dyn Inbox,
        event_id: &EventId,
        token: ClaimToken,
        lease: Duration,
    ) -> Result<bool, InboxError> {
        inner.renew(event_id, token, lease).await
    }

    async fn complete(
        &self,
        inner: &dyn Inbox,
        event_id: &EventId,
        token: ClaimToken,
        completion: Completion,
    ) -> Result<bool, InboxError> {
        inner.complete(event_id, token, completion).await
    }

    async fn release(&self, inner: &dyn Inbox, event_id: &EventId, token: ClaimToken) -> Result<bool, InboxError> {
        inner.release(event_id, token).await
    }

    async fn replay_event(&self, inner: &dyn Inbox, event_id: &EventId) -> Result<bool, InboxError> {
        inner.replay_event(event_id).await
    }

    async fn resolve_rejection(&self, inner: &dyn Inbox, id: i64, event_id: &EventId) -> Result<bool, InboxError> {
        inner.resolve_rejection(id, event_id).await
    }

    async fn event(&self, inner: &dyn Inbox, event_id: &EventId) -> Result<Option<EventRecord>, InboxError> {
        inner.event(event_id).await
    }

    async fn events(&self, inner: &dyn Inbox, filter: EventFilter) -> Result<Vec<EventRecord>, InboxError> {
        inner.events(filter).await
    }

    async fn arrivals(
        &self,
        inner: &dyn Inbox,
        since_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<ArrivalBucket>, InboxError> {
        inner.arrivals(since_ms, bucket_ms).await
    }

    async fn conflicts(&self, inner: &dyn Inbox, event_id: &EventId) -> Result<Vec<ConflictRecord>, InboxError> {
        inner.conflicts(event_id).await
    }

    async fn rejection(&self, inner: &dyn Inbox, id: i64) -> Result<Option<RejectionRecord>, InboxError> {
        inner.rejection(id).await
    }

    async fn rejections(&self, inner: &dyn Inbox, limit: usize) -> Result<Vec<RejectionRecord>, InboxError> {
        inner.rejections(limit).await
    }

    async fn rejections_page(
        &self,
        inner: &dyn Inbox,
        limit: usize,
        before_id: Option<i64>,
    ) -> Result<Vec<RejectionRecord>, InboxError> {
        inner.rejections_page(limit, before_id).await
    }

    async fn stats(&self, inner: &dyn Inbox) -> Result<InboxStats, InboxError> {
        inner.stats().await
    }

    async fn prune(&self, inner: &dyn Inbox, policy: &PrunePolicy) -> Result<PruneReport, InboxError> {
        inner.prune(policy).await
    }

    fn wake_signal(&self, inner: &dyn Inbox) -> Option<Arc<tokio::sync::Notify>> {
        inner.wake_signal()
    }

    async fn check(&self, inner: &dyn Inbox) -> Result<(), InboxError> {
        inner.check().await
    }

    fn write_stats(&self, inner: &dyn Inbox) -> Option<WriteStats> {
        inner.write_stats()
    }
}

/// An [`Inbox`] that hands every call to its [`Intercept`], with the inbox it stands in front of.
#[derive(Debug)]
pub struct Intercepted<I> {
    inner: Arc<dyn Inbox>,
    intercept: I,
}

impl<I: Intercept> Intercepted<I> {
    /// `intercept` in front of `inner`.
    pub fn new(inner: Arc<dyn Inbox>, intercept: I) -> Self {
        Self { inner, intercept }
    }

    /// The intercept, to read what it observed.
    pub fn intercept(&self) -> &I {
        &self.intercept
    }

    /// The inbox behind.
    pub fn inner(&self) -> &Arc<dyn Inbox> {
        &self.inner
    }
}

#[async_trait]
impl<I: Intercept> Inbox for Intercepted<I> {
    async fn store(&self, event: NewEvent) -> Result<Stored, InboxError> {
        self.intercept.store(&*self.inner, event).await
    }

    async fn reject(&self, rejection: NewRejection) -> Result<i64, InboxError> {
        self.intercept.reject(&*self.inner, rejection).await
    }

    async fn claim(&self, lease: Duration, limit: usize, quarantined: bool) -> Result<Vec<Claimed>, InboxError> {
        self.intercept.claim(&*self.inner, lease, limit, quarantined).await
    }

    async fn renew(&self, event_id: &EventId, token: ClaimToken, lease: Duration) -> Result<bool, InboxError> {
        self.intercept.renew(&*self.inner, event_id, token, lease).await
    }

    async fn complete(
        &self,
        event_id: &EventId,
        token: ClaimToken,
        completion: Completion,
    ) -> Result<bool, InboxError> {
        self.intercept.complete(&*self.inner, event_id, token, completion).await
    }

    async fn release(&self, event_id: &EventId, token: ClaimToken) -> Result<bool, InboxError> {
        self.intercept.release(&*self.inner, event_id, token).await
    }

    async fn replay_event(&self, event_id: &EventId) -> Result<bool, InboxError> {
        self.intercept.replay_event(&*self.inner, event_id).await
    }

    async fn resolve_rejection(&self, id: i64, event_id: &EventId) -> Result<bool, InboxError> {
        self.intercept.resolve_rejection(&*self.inner, id, event_id).await
    }

    async fn event(&self, event_id: &EventId) -> Result<Option<EventRecord>, InboxError> {
        self.intercept.event(&*self.inner, event_id).await
    }

    async fn events(&self, filter: EventFilter) -> Result<Vec<EventRecord>, InboxError> {
        self.intercept.events(&*self.inner, filter).await
    }

    async fn arrivals(&self, since_ms: i64, bucket_ms: i64) -> Result<Vec<ArrivalBucket>, InboxError> {
        self.intercept.arrivals(&*self.inner, since_ms, bucket_ms).await
    }

    async fn conflicts(&self, event_id: &EventId) -> Result<Vec<ConflictRecord>, InboxError> {
        self.intercept.conflicts(&*self.inner, event_id).await
    }

    async fn rejection(&self, id: i64) -> Result<Option<RejectionRecord>, InboxError> {
        self.intercept.rejection(&*self.inner, id).await
    }

    async fn rejections(&self, limit: usize) -> Result<Vec<RejectionRecord>, InboxError> {
        self.intercept.rejections(&*self.inner, limit).await
    }

    async fn rejections_page(&self, limit: usize, before_id: Option<i64>) -> Result<Vec<RejectionRecord>, InboxError> {
        self.intercept.rejections_page(&*self.inner, limit, before_id).await
    }

    async fn stats(&self) -> Result<InboxStats, InboxError> {
        self.intercept.stats(&*self.inner).await
    }

    async fn prune(&self, policy: &PrunePolicy) -> Result<PruneReport, InboxError> {
        self.intercept.prune(&*self.inner, policy).await
    }

    fn wake_signal(&self) -> Option<Arc<tokio::sync::Notify>> {
        self.intercept.wake_signal(&*self.inner)
    }

    async fn check(&self) -> Result<(), InboxError> {
        self.intercept.check(&*self.inner).await
    }

    fn write_stats(&self) -> Option<WriteStats> {
        self.intercept.write_stats(&*self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryInbox;

    #[derive(Debug)]
    struct Nothing;

    impl Intercept for Nothing {}

    #[tokio::test]
    async fn every_call_passes_to_the_inner_inbox_unless_intercepted() {
        let inner: Arc<dyn Inbox> = Arc::new(MemoryInbox::new());
        let inbox = Intercepted::new(inner.clone(), Nothing);
        let event = NewEvent::new("wh_1", "ping", None, 60_000, bytes::Bytes::from_static(b"{}"));
        assert_eq!(inbox.store(event.clone()).await.unwrap(), Stored::New);
        assert_eq!(inbox.store(event).await.unwrap(), Stored::Duplicate);
        assert_eq!(inner.stats().await.unwrap().duplicates, 1);
        assert_eq!(inbox.events(EventFilter::all()).await.unwrap().len(), 1);
        assert_eq!(
            inbox.arrivals(0, 60_000).await.unwrap(),
            inner.arrivals(0, 60_000).await.unwrap()
        );
        let claimed = inbox.claim(Duration::from_secs(30), 10, false).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert!(
            inbox
                .complete(&claimed[0].event_id, claimed[0].token, Completion::Processed)
                .await
                .unwrap()
        );
        assert_eq!(inner.stats().await.unwrap().processed, 1);
        inbox.check().await.unwrap();
        assert!(Arc::ptr_eq(inbox.inner(), &inner));
    }
}
