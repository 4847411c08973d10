//! An inbox that counts the event listings it answered, so that a test knows when the console's live stream has
//! read the inbox (and so knows what is already there) before it stores a new arrival.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cxtn_receiver::inbox::{EventFilter, Intercept, Intercepted};
use cxtn_receiver::{EventRecord, Inbox, InboxError, async_trait};

/// Every call goes to the inner inbox; answered [`Inbox::events`] calls are counted.
pub(crate) type Watched = Intercepted<Listings>;

/// `inner`, with its event listings counted.
pub(crate) fn watched(inner: Arc<dyn Inbox>) -> Watched {
    Intercepted::new(inner, Listings::default())
}

/// The count of event listings answered.
#[derive(Debug, Default)]
pub(crate) struct Listings(AtomicU64);

impl Listings {
    /// How many event listings the inbox has answered so far.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Intercept for Listings {
    async fn events(&self, inner: &dyn Inbox, filter: EventFilter) -> Result<Vec<EventRecord>, InboxError> {
        let listed = inner.events(filter).await;
        self.0.fetch_add(1, Ordering::SeqCst);
        listed
    }
}
