//! What the server and the Rust API share: the state, and the deliveries it sends.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cxtn_transport::{HeaderName, HeaderValue, Method, Request, Transport};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::api::{self, Operation, Refusal, Reply};
use crate::delivery::{DeliveryId, Outcome, SkipReason};
use crate::state::State;
use crate::trigger::{Prepared, TriggerReport};
use crate::{Error, ErrorKind, Token, Trigger};

/// The `User-Agent` of deliveries.
pub(crate) const USER_AGENT: &str = concat!("cxtn-sandbox/", env!("CARGO_PKG_VERSION"));

/// The most notifications one batch may hold.
pub(crate) const MAX_BATCH: usize = 1000;

/// Who may call the management routes.
#[derive(Debug, Clone)]
pub(crate) struct Auth {
    pub(crate) token: Token,
    pub(crate) open: bool,
}

impl Auth {
    /// Whether a presented bearer token is accepted.
    pub(crate) fn accepts(&self, presented: &str) -> bool {
        if self.open {
            !presented.trim().is_empty()
        } else {
            self.token.matches(presented)
        }
    }
}

/// The token dates the envelope reports.
#[derive(Debug, Clone)]
pub(crate) struct TokenDates {
    pub(crate) start: String,
    pub(crate) end: String,
}

/// The sandbox's shared core.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) auth: Auth,
    pub(crate) dates: TokenDates,
    schedule: Vec<Duration>,
    timeout: Duration,
    transport: Arc<dyn Transport>,
    state: Mutex<State>,
    changes: watch::Sender<u64>,
    tasks: Mutex<JoinSet<()>>,
}

impl Shared {
    pub(crate) fn new(
        auth: Auth,
        dates: TokenDates,
        schedule: Vec<Duration>,
        timeout: Duration,
        transport: Arc<dyn Transport>,
    ) -> Self {
        Self {
            auth,
            dates,
            schedule,
            timeout,
            transport,
            state: Mutex::new(State::default()),
            changes: watch::Sender::new(0),
            tasks: Mutex::new(JoinSet::new()),
        }
    }

    pub(crate) fn schedule(&self) -> &[Duration] {
        &self.schedule
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The state; a panic elsewhere while it was held does not make it unusable.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn changed(&self) {
        self.changes.send_modify(|version| *version = version.wrapping_add(1));
    }

    /// Runs a management operation, then starts the deliveries it released.
    pub(crate) fn api(self: &Arc<Self>, operation: Operation, body: &[u8]) -> Result<Reply, Refusal> {
        let (reply, released) = api::apply(&mut self.state(), operation, body)?;
        self.changed();
        if !released.is_empty() {
            self.spawn(released);
        }
        Ok(reply)
    }

    /// Prepares every trigger (all or none), shuffles a batch, records and starts the deliveries.
    pub(crate) fn trigger(self: &Arc<Self>, triggers: &[Trigger], shuffle: bool) -> Result<Vec<TriggerReport>, Error> {
        if triggers.len() > MAX_BATCH {
            return Err(Error::new(
                ErrorKind::InvalidTrigger,
                format!(
                    "a batch holds at most {MAX_BATCH} notifications, not {}",
                    triggers.len()
                ),
            ));
        }
        let mut prepared = triggers.iter().map(Trigger::prepare).collect::<Result<Vec<_>, _>>()?;
        if shuffle {
            fastrand::shuffle(&mut prepared);
        }
        Ok(self.dispatch(prepared))
    }

    fn dispatch(self: &Arc<Self>, prepared: Vec<Prepared>) -> Vec<TriggerReport> {
        let mut reports = Vec::with_capacity(prepared.len());
        let mut to_send = Vec::new();
        {
            let mut state = self.state();
            for notification in prepared {
                let (outcome, url) = state.route(notification.subscription.as_ref());
                let first = state.record(&notification, outcome.clone(), url.clone(), None);
                let mut ids = vec![first];
                if notification.duplicate {
                    ids.push(state.record(&notification, outcome.clone(), url, Some(first)));
                }
                tracing::debug!(
                    event_id = %notification.event_id,
                    event = %notification.event,
                    outcome = outcome.as_str(),
                    "triggered"
                );
                if outcome.is_pending() {
                    to_send.push(ids.clone());
                }
                reports.push(TriggerReport {
                    event_id: notification.event_id,
                    event: notification.event,
                    subscription: notification.subscription,
                    deliveries: ids,
                    outcome,
                    encoding: notification.encoding,
                    body: notification.body,
                });
            }
        }
        self.changed();
        for ids in to_send {
            self.spawn(ids);
        }
        reports
    }

    /// Starts a task that sends these deliveries one after the other.
    fn spawn(self: &Arc<Self>, ids: Vec<DeliveryId>) {
        let shared = Arc::clone(self);
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            for id in ids {
                shared.deliver(id).await;
            }
        });
    }

    /// Stops every delivery task.
    pub(crate) fn abort_tasks(&self) {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner).abort_all();
    }

    /// Sends one delivery on the retry schedule, to the endpoint's URL as it is now.
    async fn deliver(&self, id: DeliveryId) {
        let target = {
            let mut state = self.state();
            let event_type = state.delivery(id).and_then(|d| d.event_type);
            let url = event_type.and_then(|t| state.endpoint(&t).map(|e| e.url.clone()));
            match (state.delivery_mut(id), url) {
                (None, _) => None,
                (Some(delivery), None) => {
                    delivery.outcome = Outcome::Skipped {
                        reason: SkipReason::NoEndpoint,
                    };
                    None
                }
                (Some(delivery), Some(url)) => {
                    delivery.url = Some(url.redacted());
                    Some((url, delivery.body.clone()))
                }
            }
        };
        let Some((url, body)) = target else {
            self.changed();
            return;
        };
        let redacted = url.redacted();
        let attempts = self.schedule.len().saturating_add(1);
        for attempt in 1..=attempts {
            if let Some(wait) = attempt.checked_sub(2).and_then(|i| self.schedule.get(i)) {
                tokio::time::sleep(*wait).await;
            }
            let request = Request::new(Method::POST, url.as_str()).json(body.clone()).header(
                HeaderName::from_static("user-agent"),
                HeaderValue::from_static(USER_AGENT),
            );
            let (status, error) = match tokio::time::timeout(self.timeout, self.transport.send(request)).await {
                Ok(Ok(response)) => (Some(response.status.as_u16()), None),
                Ok(Err(e)) => (None, Some(e.to_string())),
                Err(_) => (None, Some(format!("no answer within {:?}", self.timeout))),
            };
            let delivered = status.is_some_and(|s| (200..300).contains(&s));
            let last = attempt == attempts;
            tracing::info!(
                delivery = id.get(),
                url = %redacted,
                attempt,
                status,
                error = error.as_deref(),
                "delivery attempt"
            );
            if let Some(delivery) = self.state().delivery_mut(id) {
                delivery.attempts = u32::try_from(attempt).unwrap_or(u32::MAX);
                delivery.last_status = status;
                delivery.last_error = error;
                if delivered {
                    delivery.outcome = Outcome::Delivered;
                } else if last {
                    delivery.outcome = Outcome::Failed;
                }
            }
            self.changed();
            if delivered || last {
                return;
            }
        }
    }

    /// Waits until no delivery is pending.
    pub(crate) async fn settled(&self, timeout: Duration) -> Result<(), Error> {
        let mut changes = self.changes.subscribe();
        let wait = async {
            loop {
                if self.state().pending() == 0 {
                    return;
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.map_err(|_| {
            let pending = self.state().pending();
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "{pending} deliveries still pending after {timeout:?}; wait longer, or shorten the retry schedule and delivery timeout"
                ),
            )
        })
    }
}
