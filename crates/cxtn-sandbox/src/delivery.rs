//! The delivery log.

use std::fmt;

use cxtn_model::{DataEncoding, EventId, WebhookEventType};
use serde::Serialize;
use serde_json::value::RawValue;

/// The number of a delivery in the log, from 1 up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DeliveryId(u64);

impl DeliveryId {
    pub(crate) const fn new(value: u64) -> Self {
        Self(value)
    }

    /// The number.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Why a notification was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SkipReason {
    /// The event has no subscription type: it is not one CXTN documents and the trigger named none.
    NoSubscription,
    /// Webhooks are not enabled (`POST webhooks/enable` was never called).
    WebhooksNotEnabled,
    /// No endpoint is registered for the event type.
    NoEndpoint,
    /// The endpoint is Inactive (set so, or deactivated with every endpoint).
    EndpointInactive,
}

impl SkipReason {
    /// A short snake_case name: `no_subscription`, `webhooks_not_enabled`, `no_endpoint`, `endpoint_inactive`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoSubscription => "no_subscription",
            Self::WebhooksNotEnabled => "webhooks_not_enabled",
            Self::NoEndpoint => "no_endpoint",
            Self::EndpointInactive => "endpoint_inactive",
        }
    }

    /// A sentence saying what happened and what to do.
    #[must_use]
    pub fn description(self) -> &'static str {
        match self {
            Self::NoSubscription => "the event has no subscription type; name one in the trigger (`subscription`)",
            Self::WebhooksNotEnabled => "webhooks are not enabled; call POST webhooks/enable first",
            Self::NoEndpoint => "no endpoint is registered for the event type; create one first",
            Self::EndpointInactive => "the endpoint is Inactive; set it Active to receive notifications",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Being sent, or waiting for its next attempt.
    Pending,
    /// Held while the endpoint is Paused; sent in order when it is set Active again.
    Held,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt of the schedule failed (non-2xx answers, timeouts or connection failures).
    Failed,
    /// Never sent.
    Skipped {
        /// Why.
        reason: SkipReason,
    },
}

impl Outcome {
    /// A short lowercase name: `pending`, `held`, `delivered`, `failed` or `skipped`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Held => "held",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Skipped { .. } => "skipped",
        }
    }

    /// Whether the delivery is being sent or waits for its next attempt.
    #[must_use]
    pub fn is_pending(&self) -> bool {
        matches!(self, Self::Pending)
    }

    /// Whether the endpoint answered 2xx.
    #[must_use]
    pub fn is_delivered(&self) -> bool {
        matches!(self, Self::Delivered)
    }

    /// Why the delivery was skipped, if it was.
    #[must_use]
    pub fn skip_reason(&self) -> Option<SkipReason> {
        match self {
            Self::Skipped { reason } => Some(*reason),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Skipped { reason } => write!(f, "skipped: {reason}"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// One entry of the delivery log: one notification sent (or not) to one endpoint.
///
/// A duplicate is a second entry with the same `event_id` and body, and `duplicate_of` set.
/// The endpoint URL appears only redacted: it may carry a secret path token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// The entry's number.
    pub id: DeliveryId,
    /// The notification's `eventId`.
    pub event_id: EventId,
    /// The event's wire name.
    pub event: String,
    /// The endpoint event type the notification goes to, when one is known.
    pub event_type: Option<WebhookEventType>,
    /// The endpoint URL with credentials, path and query redacted, once an endpoint is known.
    pub url: Option<String>,
    /// How many attempts were made.
    pub attempts: u32,
    /// The HTTP status of the last answer, when one came.
    pub last_status: Option<u16>,
    /// Why the last attempt failed when no answer came (timeout, connection refused, ...).
    pub last_error: Option<String>,
    /// Where it stands.
    pub outcome: Outcome,
    /// The entry this one duplicates, for the second copy of a duplicated notification.
    pub duplicate_of: Option<DeliveryId>,
    /// How `data` is sent.
    pub encoding: DataEncoding,
    /// The body, exactly as sent.
    pub body: String,
}

/// The JSON form of a [`Delivery`] on `GET /sandbox/deliveries`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeliveryView<'a> {
    id: DeliveryId,
    event_id: &'a EventId,
    event: &'a str,
    event_type: Option<&'a WebhookEventType>,
    url: Option<&'a str>,
    attempts: u32,
    last_status: Option<u16>,
    last_error: Option<&'a str>,
    outcome: &'static str,
    reason: Option<&'static str>,
    duplicate_of: Option<DeliveryId>,
    encoding: &'static str,
    body: Option<&'a RawValue>,
}

impl<'a> From<&'a Delivery> for DeliveryView<'a> {
    fn from(d: &'a Delivery) -> Self {
        Self {
            id: d.id,
            event_id: &d.event_id,
            event: &d.event,
            event_type: d.event_type.as_ref(),
            url: d.url.as_deref(),
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error.as_deref(),
            outcome: d.outcome.as_str(),
            reason: d.outcome.skip_reason().map(SkipReason::as_str),
            duplicate_of: d.duplicate_of,
            encoding: d.encoding.as_str(),
            body: serde_json::from_str(&d.body).ok(),
        }
    }
}
