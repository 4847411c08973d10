//! Outlets, and the handler that publishes to them.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use cxtn_receiver::metrics::{Counter, Metrics};
use cxtn_receiver::{Event, Handler, HandlerError};

use crate::{Error, Message};

/// A broker destination: publishes one message and returns only when the broker has confirmed it.
///
/// Implementations set the broker's own deduplication key to the event id where the broker has one, send
/// [`Message::body`] byte for byte and [`Message::headers`] as headers or properties, and never put credentials
/// in `Debug` or errors.
#[async_trait]
pub trait Outlet: Send + Sync + fmt::Debug {
    /// A short name for logs and metrics, with credentials left out (`nats`, `rabbitmq`, `redis`).
    fn name(&self) -> &str;

    /// Publishes the message and waits for the broker's confirmation.
    async fn publish(&self, message: &Message) -> Result<(), Error>;
}

#[async_trait]
impl<O: Outlet + ?Sized> Outlet for Box<O> {
    fn name(&self) -> &str {
        (**self).name()
    }

    async fn publish(&self, message: &Message) -> Result<(), Error> {
        (**self).publish(message).await
    }
}

/// A receiver [`Handler`] that publishes every event to its outlets, in order, then runs an optional handler of
/// your own; the event is processed only when all of them succeeded.
///
/// A failure anywhere fails the attempt: the worker retries it with backoff and dead-letters it after its last
/// attempt. A retry publishes again to every outlet, so each outlet relies on its broker's deduplication by event
/// id (see `docs/outlets.md`), and your handler must be safe to run again, as every handler must.
///
/// ```
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// # #[derive(Debug)] struct Log;
/// # #[cxtn_receiver::async_trait]
/// # impl cxtn_outlets::Outlet for Log {
/// #     fn name(&self) -> &str { "log" }
/// #     async fn publish(&self, _: &cxtn_outlets::Message) -> Result<(), cxtn_outlets::Error> { Ok(()) }
/// # }
/// # let outlet: Box<dyn cxtn_outlets::Outlet> = Box::new(Log);
/// let handler = cxtn_outlets::Publish::to(vec![outlet]);
/// let inbox = std::sync::Arc::new(cxtn_receiver::MemoryInbox::new());
/// let receiver = cxtn_receiver::Receiver::builder(inbox).path_token("k4Jx9sQ2pLm7Vw3Zt8Yb1Nc6Rf0Hd5Ga").handler(handler).build()?;
/// # Ok(())
/// # }
/// ```
pub struct Publish {
    outlets: Vec<Arc<dyn Outlet>>,
    then: Option<Arc<dyn Handler>>,
    published: Option<Counter>,
    failed: Option<Counter>,
}

impl Publish {
    /// Publishes to these outlets.
    #[must_use]
    pub fn to(outlets: Vec<Box<dyn Outlet>>) -> Self {
        Self {
            outlets: outlets.into_iter().map(Arc::from).collect(),
            then: None,
            published: None,
            failed: None,
        }
    }

    /// After every outlet confirmed, runs `handler` too.
    #[must_use]
    pub fn then(mut self, handler: impl Handler) -> Self {
        self.then = Some(Arc::new(handler));
        self
    }

    /// Counts publishes in `metrics`: `cxtn_outlet_published_total` and `cxtn_outlet_failures_total`.
    #[must_use]
    pub fn metrics(mut self, metrics: &Metrics) -> Self {
        self.published = Some(metrics.counter(
            "cxtn_outlet_published",
            "Messages a broker confirmed, over every outlet.",
        ));
        self.failed = Some(metrics.counter(
            "cxtn_outlet_failures",
            "Publishes that failed (the event is retried), over every outlet.",
        ));
        self
    }

    /// The outlets' names, in order.
    #[must_use]
    pub fn names(&self) -> Vec<&str> {
        self.outlets.iter().map(|outlet| outlet.name()).collect()
    }
}

impl fmt::Debug for Publish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Publish")
            .field("outlets", &self.outlets)
            .field("then", &self.then)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Handler for Publish {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let message = Message::of(event);
        for outlet in &self.outlets {
            match outlet.publish(&message).await {
                Ok(()) => {
                    if let Some(counter) = &self.published {
                        counter.inc();
                    }
                }
                Err(e) => {
                    if let Some(counter) = &self.failed {
                        counter.inc();
                    }
                    tracing::warn!(outlet = outlet.name(), event_id = %message.event_id, error = %e, "publish failed; the event will be retried");
                    return Err(format!("{}: {e}", outlet.name()).into());
                }
            }
        }
        if let Some(handler) = &self.then {
            handler.handle(event).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::ErrorKind;

    #[derive(Debug, Default)]
    struct Recording {
        seen: Mutex<Vec<String>>,
        fail: bool,
    }

    #[async_trait]
    impl Outlet for Arc<Recording> {
        fn name(&self) -> &str {
            "recording"
        }

        async fn publish(&self, message: &Message) -> Result<(), Error> {
            self.seen.lock().unwrap().push(message.event_id.to_string());
            if self.fail {
                return Err(Error::new(ErrorKind::Unavailable, "the broker is down"));
            }
            Ok(())
        }
    }

    fn event() -> Event {
        Event::new(cxtn_events::parse(cxtn_events::samples::GUIDE[1].body.as_bytes()).unwrap())
    }

    #[tokio::test]
    async fn every_outlet_then_the_handler_and_a_failure_stops_the_chain() {
        let first = Arc::new(Recording::default());
        let second = Arc::new(Recording::default());
        let after = Arc::new(Mutex::new(0));
        let counted = after.clone();
        let metrics = Metrics::new();
        let publish = Publish::to(vec![Box::new(first.clone()), Box::new(second.clone())])
            .then(cxtn_receiver::handler_fn(move |_event: Event| {
                let counted = counted.clone();
                async move {
                    *counted.lock().unwrap() += 1;
                    Ok::<(), HandlerError>(())
                }
            }))
            .metrics(&metrics);
        publish.handle(&event()).await.unwrap();
        assert_eq!(
            (first.seen.lock().unwrap().len(), second.seen.lock().unwrap().len()),
            (1, 1)
        );
        assert_eq!(*after.lock().unwrap(), 1);
        assert!(
            metrics.render().contains("cxtn_outlet_published_total 2"),
            "{}",
            metrics.render()
        );

        let broken = Arc::new(Recording {
            fail: true,
            ..Recording::default()
        });
        let third = Arc::new(Recording::default());
        let publish = Publish::to(vec![Box::new(broken.clone()), Box::new(third.clone())]).metrics(&metrics);
        let e = publish.handle(&event()).await.unwrap_err();
        assert!(e.to_string().contains("recording: the broker is down"), "{e}");
        assert!(third.seen.lock().unwrap().is_empty(), "nothing after a failure");
        assert!(
            metrics.render().contains("cxtn_outlet_failures_total 1"),
            "{}",
            metrics.render()
        );
    }
}
