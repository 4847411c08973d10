//! What an outlet publishes.

use bytes::Bytes;
use cxtn_model::EventId;
use cxtn_receiver::Event;

/// One stored event, as an outlet publishes it: the body exactly as received and its metadata.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Message {
    /// `eventId`: the broker's deduplication key where it has one.
    pub event_id: EventId,
    /// `event` (`payment_completed`, ...).
    pub event: String,
    /// The subscription that produces it (`Payment`, `AccountTransaction`), for a known event.
    pub subscription: Option<String>,
    /// The delivery exactly as received, byte for byte.
    pub body: Bytes,
    /// When it first arrived (milliseconds since the Unix epoch).
    pub received_at_ms: i64,
    /// This attempt's number, from 1: above 1, the broker may already hold an earlier publish.
    pub attempt: u32,
    /// How many other bodies arrived under this event id (the first body is the one published).
    pub conflicts: u32,
    /// Why the event was quarantined, when it was.
    pub quarantine_reason: Option<String>,
}

impl Message {
    /// The message for an event a worker hands over.
    #[must_use]
    pub fn of(event: &Event) -> Self {
        Self {
            event_id: event.notification.event_id().clone(),
            event: event.notification.event_name().to_owned(),
            subscription: event.notification.subscription().map(|s| s.to_string()),
            body: event.body.clone(),
            received_at_ms: event.received_at_ms,
            attempt: event.attempt,
            conflicts: event.conflicts,
            quarantine_reason: event.quarantine_reason.clone(),
        }
    }

    /// The metadata every outlet sends beside the body, as header names and values:
    /// `cxtn-event-id`, `cxtn-event`, `cxtn-subscription` (known events only), `cxtn-received-at-ms`,
    /// `cxtn-attempt`, `cxtn-conflicts`, and `cxtn-quarantined` with the reason (quarantined events only).
    ///
    /// Values are single-line text; the event id and name are as received.
    #[must_use]
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("cxtn-event-id", self.event_id.to_string()),
            ("cxtn-event", self.event.clone()),
        ];
        if let Some(subscription) = &self.subscription {
            headers.push(("cxtn-subscription", subscription.clone()));
        }
        headers.push(("cxtn-received-at-ms", self.received_at_ms.to_string()));
        headers.push(("cxtn-attempt", self.attempt.to_string()));
        headers.push(("cxtn-conflicts", self.conflicts.to_string()));
        if let Some(reason) = &self.quarantine_reason {
            headers.push(("cxtn-quarantined", one_line(reason)));
        }
        headers
    }
}

/// `text` on one line: line breaks and other control characters become spaces.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_carries_the_body_as_received_and_its_metadata() {
        let sample = cxtn_events::samples::GUIDE[1].body;
        let notification = cxtn_events::parse(sample.as_bytes()).unwrap();
        let mut event = Event::new(notification);
        event.body = Bytes::from_static(sample.as_bytes());
        event.attempt = 2;
        event.conflicts = 1;
        event.quarantine_reason = Some("line one\nline two".to_owned());
        let message = Message::of(&event);
        assert_eq!(message.body.as_ref(), sample.as_bytes(), "byte for byte");
        let headers = message.headers();
        let get = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("cxtn-event-id"), Some(event.notification.event_id().as_str()));
        assert_eq!(get("cxtn-event"), Some(event.notification.event_name()));
        assert_eq!(get("cxtn-attempt"), Some("2"));
        assert_eq!(get("cxtn-conflicts"), Some("1"));
        assert_eq!(get("cxtn-quarantined"), Some("line one line two"));
        assert!(get("cxtn-subscription").is_some());
    }
}
