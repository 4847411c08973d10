//! The pages: one askama template each (auto-escaped HTML), and the view data they show.

use askama::Template;
use cxtn_model::{EventData, Notification};
use cxtn_receiver::inbox::{ConflictRecord, EventRecord, EventStatus, InboxStats, RejectionRecord};

use crate::chart::Chart;
use crate::query::EventsQuery;
use crate::text;

/// What every page shows around its content.
#[derive(Debug, Clone)]
pub(crate) struct Common {
    /// The base path with a trailing slash.
    pub(crate) base: String,
    pub(crate) title: String,
    pub(crate) csrf: String,
    pub(crate) flash: Option<Flash>,
    /// When the page listens on `/stream` for new arrivals: the stream's query string (`?...`, or empty).
    pub(crate) live: Option<String>,
    /// Whether the header offers to sign out (a session signed in with the admin token).
    pub(crate) sign_out: bool,
}

/// A message at the top of a page.
#[derive(Debug, Clone)]
pub(crate) struct Flash {
    /// `good` or `bad`.
    pub(crate) class: &'static str,
    pub(crate) text: String,
}

impl Flash {
    pub(crate) fn good(text: impl Into<String>) -> Self {
        Self {
            class: "good",
            text: text.into(),
        }
    }

    pub(crate) fn bad(text: impl Into<String>) -> Self {
        Self {
            class: "bad",
            text: text.into(),
        }
    }
}

/// One row of an events table.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Row {
    /// The event id as stored (an attribute value, escaped by the template).
    pub(crate) id: String,
    /// The event id with control characters made visible.
    pub(crate) shown_id: String,
    /// The event id as a path segment.
    pub(crate) href: String,
    pub(crate) event: String,
    pub(crate) subscription: String,
    pub(crate) status: &'static str,
    pub(crate) received: String,
    pub(crate) attempts: u32,
    pub(crate) deliveries: u32,
    pub(crate) conflicts: u32,
}

impl Row {
    pub(crate) fn new(record: &EventRecord) -> Self {
        Self {
            id: record.event_id.as_str().to_owned(),
            shown_id: text::visible_str(record.event_id.as_str(), false),
            href: segment(record.event_id.as_str()),
            event: text::visible_str(&record.event, false),
            subscription: record
                .subscription
                .as_deref()
                .map_or_else(String::new, |s| text::visible_str(s, false)),
            status: record.status.as_str(),
            received: text::time_ms(record.received_at_ms),
            attempts: record.attempts,
            deliveries: record.deliveries,
            conflicts: record.conflicts,
        }
    }
}

/// A text as one path segment: everything but unreserved characters percent-encoded.
pub(crate) fn segment(text: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, SET).to_string()
}

#[derive(Template)]
#[template(path = "overview.html")]
pub(crate) struct Overview {
    pub(crate) common: Common,
    pub(crate) stats: InboxStats,
    pub(crate) oldest_pending: String,
    pub(crate) chart: Chart,
    pub(crate) rows: Vec<Row>,
    pub(crate) filtered: bool,
}

/// A status in the filter's list.
#[derive(Debug, Clone)]
pub(crate) struct StatusOption {
    pub(crate) name: &'static str,
    pub(crate) selected: bool,
}

pub(crate) const STATUSES: [EventStatus; 5] = [
    EventStatus::Pending,
    EventStatus::Processing,
    EventStatus::Processed,
    EventStatus::Dead,
    EventStatus::Quarantined,
];

#[derive(Template)]
#[template(path = "events.html")]
pub(crate) struct Events {
    pub(crate) common: Common,
    pub(crate) query: EventsQuery,
    pub(crate) statuses: Vec<StatusOption>,
    pub(crate) rows: Vec<Row>,
    pub(crate) filtered: bool,
    /// The query string of the next page, when there is one.
    pub(crate) next_page: Option<String>,
    /// `?` and the query string of the first page with the same filters (or nothing).
    pub(crate) first_page: String,
}

/// One typed field of an event.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) value: String,
}

/// A conflicting version of an event.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    pub(crate) received: String,
    pub(crate) deliveries: u32,
    pub(crate) body: String,
}

impl Version {
    pub(crate) fn new(conflict: &ConflictRecord) -> Self {
        Self {
            received: text::time_ms(conflict.received_at_ms),
            deliveries: conflict.deliveries,
            body: text::show_body(&conflict.body),
        }
    }
}

#[derive(Template)]
#[template(path = "event.html")]
pub(crate) struct Event {
    pub(crate) common: Common,
    pub(crate) record: ShownRecord,
    pub(crate) shown_id: String,
    pub(crate) href: String,
    pub(crate) status: &'static str,
    pub(crate) amount: Option<String>,
    pub(crate) received: String,
    pub(crate) last_error: String,
    pub(crate) duplicates: u32,
    pub(crate) next_attempt: String,
    pub(crate) quarantine: Option<String>,
    pub(crate) body_hash: String,
    pub(crate) parse_error: Option<String>,
    pub(crate) fields: Vec<Field>,
    pub(crate) body: String,
    pub(crate) conflicts: Vec<Version>,
}

/// The plain figures of a record, its texts made visible.
#[derive(Debug, Clone)]
pub(crate) struct ShownRecord {
    pub(crate) event: String,
    pub(crate) attempts: u32,
    pub(crate) deliveries: u32,
}

impl Event {
    pub(crate) fn new(common: Common, record: &EventRecord, conflicts: &[ConflictRecord]) -> Self {
        let parsed = cxtn_events::parse(&record.body);
        let (fields, amount, parse_error) = match &parsed {
            Ok(notification) => (fields(notification), amount(notification), None),
            Err(e) => (Vec::new(), None, Some(text::visible_str(&e.to_string(), false))),
        };
        Self {
            common,
            record: ShownRecord {
                event: text::visible_str(&record.event, false),
                attempts: record.attempts,
                deliveries: record.deliveries,
            },
            shown_id: text::visible_str(record.event_id.as_str(), false),
            href: segment(record.event_id.as_str()),
            status: record.status.as_str(),
            amount,
            received: text::time_ms(record.received_at_ms),
            last_error: record
                .last_error
                .as_deref()
                .map_or_else(|| "none".to_owned(), |e| text::visible_str(e, true)),
            duplicates: record.deliveries.saturating_sub(1),
            next_attempt: match record.status {
                EventStatus::Pending => text::time_ms(record.next_attempt_at_ms),
                _ => "none".to_owned(),
            },
            quarantine: record
                .quarantine_reason
                .as_deref()
                .map(|reason| text::visible_str(reason, true)),
            body_hash: record.body_hash.to_hex(),
            parse_error,
            fields,
            body: text::show_body(&record.body),
            conflicts: conflicts.iter().map(Version::new).collect(),
        }
    }
}

/// The amount and its currency exactly as sent (`1000.00 GBP`), for an event with one amount.
fn amount(notification: &Notification) -> Option<String> {
    let amount = notification.amount()?;
    let shown = match notification.currency() {
        Some(currency) => format!("{amount} {currency}"),
        None => amount.to_string(),
    };
    Some(text::visible_str(&shown, false))
}

/// The typed fields of a notification, every value shown as the model displays it (money exactly as sent).
fn fields(notification: &Notification) -> Vec<Field> {
    let mut fields = Vec::new();
    let mut push = |name: &str, value: String| {
        fields.push(Field {
            name: text::visible_str(name, false),
            value: text::visible_str(&value, false),
        });
    };
    push("eventId", notification.event_id().to_string());
    push("event", notification.event_name().to_owned());
    if let Some(subscription) = notification.subscription() {
        push("subscription", subscription.to_string());
    }
    push("data sent as", notification.data_encoding().to_string());
    let extra = match notification.data() {
        EventData::AccountCredit(t) | EventData::AccountDebit(t) => {
            push("objectId", t.object_id.to_string());
            push("userId", t.user_id.to_string());
            push("source", t.source.to_string());
            push("origin", t.origin.clone());
            push("amount", t.amount.to_string());
            push("baseCcyCode", t.base_ccy_code.to_string());
            push("ccyCode", t.ccy_code.to_string());
            push("transactionDateTime", t.transaction_date_time.to_string());
            push(
                "pot movement",
                if t.is_pot_movement() { "yes" } else { "no" }.to_owned(),
            );
            Some(&t.extra)
        }
        EventData::PaymentCompleted(p) => {
            push("objectId", p.object_id.to_string());
            push("userId", p.user_id.to_string());
            push("amount", p.amount.to_string());
            push("currency", p.currency.to_string());
            Some(&p.extra)
        }
        EventData::TradeSettled(t) => {
            push("objectId", t.object_id.to_string());
            push("userId", t.user_id.to_string());
            push("sellAmount", format!("{} {}", t.sell_amount, t.sell_currency));
            push("buyAmount", format!("{} {}", t.buy_amount, t.buy_currency));
            push(
                "balanceDue",
                t.balance_due
                    .as_ref()
                    .map_or_else(|| "null".to_owned(), ToString::to_string),
            );
            push(
                "fundedAmount",
                t.funded_amount
                    .as_ref()
                    .map_or_else(|| "null".to_owned(), ToString::to_string),
            );
            Some(&t.extra)
        }
        EventData::Unknown(unknown) => {
            push(
                "data",
                "an event this version does not know, kept whole (see the body)".to_owned(),
            );
            let _ = unknown;
            None
        }
        _ => None,
    };
    if let Some(extra) = extra {
        for (key, value) in extra.iter() {
            push(&format!("{key} (unknown field)"), value.to_string());
        }
    }
    for (key, value) in notification.extra.iter() {
        push(&format!("{key} (unknown envelope field)"), value.to_string());
    }
    fields
}

/// One row of the rejections table, or the rejection page's summary.
#[derive(Debug, Clone)]
pub(crate) struct RejectionRow {
    pub(crate) id: i64,
    pub(crate) received: String,
    pub(crate) kind: String,
    pub(crate) reason: String,
    pub(crate) deliveries: u32,
    pub(crate) replayed_as: Option<Link>,
}

/// A link to an event.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) text: String,
    pub(crate) href: String,
}

impl RejectionRow {
    pub(crate) fn new(rejection: &RejectionRecord) -> Self {
        Self {
            id: rejection.id,
            received: text::time_ms(rejection.received_at_ms),
            kind: text::visible_str(&rejection.kind, false),
            reason: text::visible_str(&rejection.reason, true),
            deliveries: rejection.deliveries,
            replayed_as: rejection.replayed_as.as_ref().map(|id| Link {
                text: text::visible_str(id.as_str(), false),
                href: segment(id.as_str()),
            }),
        }
    }
}

#[derive(Template)]
#[template(path = "rejections.html")]
pub(crate) struct Rejections {
    pub(crate) common: Common,
    pub(crate) rows: Vec<RejectionRow>,
    pub(crate) next_page: Option<i64>,
}

#[derive(Template)]
#[template(path = "rejection.html")]
pub(crate) struct Rejection {
    pub(crate) common: Common,
    pub(crate) row: RejectionRow,
    pub(crate) body: String,
}

#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct Login {
    pub(crate) common: Common,
    pub(crate) error: Option<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    pub(crate) common: Common,
    pub(crate) heading: String,
    pub(crate) message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_become_path_segments() {
        assert_eq!(segment("wh_abc-1.2~x"), "wh_abc-1.2~x");
        assert_eq!(segment("a/b c<d>"), "a%2Fb%20c%3Cd%3E");
    }
}
