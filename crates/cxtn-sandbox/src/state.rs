//! The sandbox's memory: whether webhooks are enabled, the endpoints, and the delivery log.

use std::collections::VecDeque;

use cxtn_model::{Endpoint, EndpointStatus, EndpointUrl, WebhookEventType};

use crate::delivery::{Delivery, DeliveryId, Outcome, SkipReason};
use crate::trigger::Prepared;

/// How many deliveries the log keeps; the oldest finished ones go first.
pub(crate) const MAX_LOG: usize = 10_000;

/// One registered endpoint.
#[derive(Debug, Clone)]
pub(crate) struct EndpointEntry {
    pub(crate) event_type: WebhookEventType,
    pub(crate) url: EndpointUrl,
    pub(crate) status: EndpointStatus,
}

impl EndpointEntry {
    pub(crate) fn to_model(&self) -> Endpoint {
        Endpoint::new(self.event_type, self.url.clone(), self.status)
    }
}

/// Everything the sandbox remembers, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) enabled: bool,
    pub(crate) endpoints: Vec<EndpointEntry>,
    log: VecDeque<Delivery>,
    next_id: u64,
}

impl State {
    pub(crate) fn endpoint(&self, event_type: &WebhookEventType) -> Option<&EndpointEntry> {
        self.endpoints.iter().find(|e| e.event_type == *event_type)
    }

    pub(crate) fn endpoint_mut(&mut self, event_type: &WebhookEventType) -> Option<&mut EndpointEntry> {
        self.endpoints.iter_mut().find(|e| e.event_type == *event_type)
    }

    pub(crate) fn deliveries(&self) -> impl Iterator<Item = &Delivery> {
        self.log.iter()
    }

    pub(crate) fn delivery(&self, id: DeliveryId) -> Option<&Delivery> {
        let index = self.log.partition_point(|d| d.id < id);
        self.log.get(index).filter(|d| d.id == id)
    }

    pub(crate) fn delivery_mut(&mut self, id: DeliveryId) -> Option<&mut Delivery> {
        let index = self.log.partition_point(|d| d.id < id);
        self.log.get_mut(index).filter(|d| d.id == id)
    }

    pub(crate) fn pending(&self) -> usize {
        self.log.iter().filter(|d| d.outcome.is_pending()).count()
    }

    /// Where a notification for `subscription` goes now: its first outcome and the endpoint's redacted URL.
    pub(crate) fn route(&self, subscription: Option<&WebhookEventType>) -> (Outcome, Option<String>) {
        let Some(event_type) = subscription else {
            return skipped(SkipReason::NoSubscription, None);
        };
        if !self.enabled {
            return skipped(SkipReason::WebhooksNotEnabled, None);
        }
        let Some(endpoint) = self.endpoint(event_type) else {
            return skipped(SkipReason::NoEndpoint, None);
        };
        let url = Some(endpoint.url.redacted());
        match endpoint.status {
            EndpointStatus::Active => (Outcome::Pending, url),
            EndpointStatus::Paused => (Outcome::Held, url),
            _ => skipped(SkipReason::EndpointInactive, url),
        }
    }

    /// Adds a delivery to the log.
    pub(crate) fn record(
        &mut self,
        prepared: &Prepared,
        outcome: Outcome,
        url: Option<String>,
        duplicate_of: Option<DeliveryId>,
    ) -> DeliveryId {
        self.next_id += 1;
        let id = DeliveryId::new(self.next_id);
        self.log.push_back(Delivery {
            id,
            event_id: prepared.event_id.clone(),
            event: prepared.event.clone(),
            event_type: prepared.subscription,
            url,
            attempts: 0,
            last_status: None,
            last_error: None,
            outcome,
            duplicate_of,
            encoding: prepared.encoding,
            body: prepared.body.clone(),
        });
        while self.log.len() > MAX_LOG
            && self
                .log
                .front()
                .is_some_and(|d| !matches!(d.outcome, Outcome::Pending | Outcome::Held))
        {
            self.log.pop_front();
        }
        id
    }

    /// Turns the held deliveries of an endpoint into pending ones, in the order they were held.
    pub(crate) fn release_held(&mut self, event_type: &WebhookEventType) -> Vec<DeliveryId> {
        let mut released = Vec::new();
        for delivery in &mut self.log {
            if delivery.outcome == Outcome::Held && delivery.event_type.as_ref() == Some(event_type) {
                delivery.outcome = Outcome::Pending;
                released.push(delivery.id);
            }
        }
        released
    }

    /// Records the held deliveries of an endpoint as skipped: it was made Inactive.
    pub(crate) fn drop_held(&mut self, event_type: &WebhookEventType) {
        for delivery in &mut self.log {
            if delivery.outcome == Outcome::Held && delivery.event_type.as_ref() == Some(event_type) {
                delivery.outcome = Outcome::Skipped {
                    reason: SkipReason::EndpointInactive,
                };
            }
        }
    }
}

fn skipped(reason: SkipReason, url: Option<String>) -> (Outcome, Option<String>) {
    (Outcome::Skipped { reason }, url)
}
