//! Arrival-to-handler latency: a receiver with a worker in this process, its inbox wrapped to note when each
//! store commits, and a handler that notes when it starts; `wrk` drives it from outside.
//!
//! The time measured is from the moment [`Inbox::store`] returns (the delivery's transaction committed) to the
//! moment the handler is called with the event: the worker's wake-up, its claim, and the hand-over.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use cxtn_receiver::inbox::{Intercept, Intercepted};
use cxtn_receiver::{
    Event, Handler, HandlerError, Inbox, InboxError, NewEvent, Receiver, Running, Stored, async_trait,
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

/// In front of the inbox: notes each new event's commit on the clock.
#[derive(Debug)]
struct Timed(Arc<Clock>);

#[async_trait]
impl Intercept for Timed {
    async fn store(&self, inner: &dyn Inbox, event: NewEvent) -> Result<Stored, InboxError> {
        let event_id = event.event_id.as_str().to_owned();
        let stored = inner.store(event).await;
        if matches!(stored, Ok(Stored::New)) {
            self.0.committed(&event_id);
        }
        stored
    }
}

/// Starts a receiver with a worker of `concurrency` slots on `inbox` at `addr`, whose handler notes its starts on
/// the returned clock.
pub(crate) async fn serve(inbox: Arc<dyn Inbox>, addr: &str, concurrency: usize) -> Result<(Running, Arc<Clock>)> {
    let clock = Arc::new(Clock::default());
    let timed = Arc::new(Intercepted::new(inbox, Timed(clock.clone())));
    let receiver = Receiver::builder(timed)
        .path_token(super::wrk::TOKEN)
        .handler(Recorder(clock.clone()))
        .worker_policy(cxtn_receiver::WorkerPolicy::default().concurrency(concurrency))
        .build()?;
    Ok((receiver.bind(addr).await?, clock))
}
