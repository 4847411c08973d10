//! What a listing asks for: filters, keyset pagination and arrival counts, the same for every store.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{EventId, EventRecord, EventStatus};

/// How many events a listing returns when its filter sets no limit.
pub const DEFAULT_LIMIT: usize = 100;

/// What to list: every condition set must hold; events come newest first (or oldest first), ordered by
/// `(received_at_ms, event_id)`, at most [`EventFilter::limit`] of them.
///
/// ```
/// use cxtn_receiver::{EventFilter, EventStatus};
///
/// let filter = EventFilter::all()
///     .status(EventStatus::Dead)
///     .event("payment_completed")
///     .received_from(1_700_000_000_000)
///     .search("wh_4d93")
///     .limit(50);
/// assert_eq!(filter.effective_limit(), 50);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventFilter {
    /// Only events in this status.
    pub status: Option<EventStatus>,
    /// At most this many (default [`DEFAULT_LIMIT`], 100).
    pub limit: Option<usize>,
    /// Only events with conflicting versions.
    pub conflicts_only: bool,
    /// Only events with this exact `event` name (`payment_completed`).
    pub event: Option<String>,
    /// Only events of this exact subscription, as stored (`Payment`, `AccountTransaction`).
    pub subscription: Option<String>,
    /// Only events that arrived at or after this time (milliseconds since the Unix epoch).
    pub received_from_ms: Option<i64>,
    /// Only events that arrived before this time (milliseconds since the Unix epoch, exclusive).
    pub received_until_ms: Option<i64>,
    /// Only events whose `eventId` is this text or starts with it, or whose `objectId` is this text.
    /// Surrounding whitespace is ignored; an empty text matches every event.
    pub search: Option<String>,
    /// Only events strictly beyond this one in the listing's order: the next page after a page that ended
    /// with it.
    pub after: Option<EventCursor>,
    /// Oldest first instead of newest first.
    pub oldest_first: bool,
}

impl EventFilter {
    /// Every event, newest first, the default limit.
    #[must_use]
    pub fn all() -> Self {
        Self::default()
    }

    /// Only events in `status`.
    #[must_use]
    pub fn status(mut self, status: EventStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// At most `limit` events.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Only events with conflicting versions.
    #[must_use]
    pub fn with_conflicts(mut self) -> Self {
        self.conflicts_only = true;
        self
    }

    /// Only events with this exact `event` name.
    #[must_use]
    pub fn event(mut self, name: impl Into<String>) -> Self {
        self.event = Some(name.into());
        self
    }

    /// Only events of this exact subscription, as stored.
    #[must_use]
    pub fn subscription(mut self, name: impl Into<String>) -> Self {
        self.subscription = Some(name.into());
        self
    }

    /// Only events that arrived at or after `ms` (milliseconds since the Unix epoch).
    #[must_use]
    pub fn received_from(mut self, ms: i64) -> Self {
        self.received_from_ms = Some(ms);
        self
    }

    /// Only events that arrived before `ms` (milliseconds since the Unix epoch, exclusive).
    #[must_use]
    pub fn received_until(mut self, ms: i64) -> Self {
        self.received_until_ms = Some(ms);
        self
    }

    /// Only events whose `eventId` is `text` or starts with it, or whose `objectId` is `text`.
    #[must_use]
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = Some(text.into());
        self
    }

    /// Only events strictly beyond `cursor` in the listing's order (see [`EventRecord::cursor`]).
    #[must_use]
    pub fn after(mut self, cursor: EventCursor) -> Self {
        self.after = Some(cursor);
        self
    }

    /// Oldest first instead of newest first.
    #[must_use]
    pub fn oldest_first(mut self) -> Self {
        self.oldest_first = true;
        self
    }

    /// The most events the listing returns: [`EventFilter::limit`], or [`DEFAULT_LIMIT`].
    #[must_use]
    pub fn effective_limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT)
    }

    /// The search text without surrounding whitespace; `None` when there is none to search for.
    #[must_use]
    pub fn search_text(&self) -> Option<&str> {
        self.search.as_deref().map(str::trim).filter(|text| !text.is_empty())
    }

    /// Whether `record` meets every condition of the filter, its limit aside: how a store without a query
    /// language lists, and how a live view decides whether a new arrival belongs on the page it shows.
    #[must_use]
    pub fn matches(&self, record: &EventRecord) -> bool {
        self.status.is_none_or(|status| record.status == status)
            && (!self.conflicts_only || record.conflicts > 0)
            && self.event.as_ref().is_none_or(|name| record.event == *name)
            && self
                .subscription
                .as_ref()
                .is_none_or(|name| record.subscription.as_ref() == Some(name))
            && self.received_from_ms.is_none_or(|from| record.received_at_ms >= from)
            && self.received_until_ms.is_none_or(|until| record.received_at_ms < until)
            && self.search_text().is_none_or(|text| {
                record.event_id.as_str().starts_with(text) || record.object_id.as_deref() == Some(text)
            })
            && self.after.as_ref().is_none_or(|after| {
                let key = (record.received_at_ms, record.event_id.as_str());
                let after = (after.received_at_ms, after.event_id.as_str());
                if self.oldest_first { key > after } else { key < after }
            })
    }
}

/// Where a page of events ended: the next page starts strictly after it, in the listing's order.
///
/// Its [token](EventCursor::to_token) is opaque, URL-safe text for a `?after=` parameter.
///
/// ```
/// use cxtn_receiver::inbox::EventCursor;
///
/// let cursor = EventCursor::new(1_700_000_000_000, "wh_1");
/// let token = cursor.to_token();
/// assert_eq!(EventCursor::from_token(&token), Some(cursor));
/// assert_eq!(EventCursor::from_token("not a cursor"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventCursor {
    /// When the event arrived (milliseconds since the Unix epoch).
    pub received_at_ms: i64,
    /// Its `eventId`: what orders events that arrived in the same millisecond.
    pub event_id: EventId,
}

impl EventCursor {
    /// The cursor of the event with this arrival time and id.
    #[must_use]
    pub fn new(received_at_ms: i64, event_id: impl Into<EventId>) -> Self {
        Self {
            received_at_ms,
            event_id: event_id.into(),
        }
    }

    /// The cursor as opaque, URL-safe text (letters, digits, `-` and `_`).
    #[must_use]
    pub fn to_token(&self) -> String {
        let plain = format!("{}:{}", self.received_at_ms, self.event_id);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(plain)
    }

    /// The cursor a [token](EventCursor::to_token) stands for; `None` for text that is not one.
    #[must_use]
    pub fn from_token(token: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim())
            .ok()?;
        let plain = String::from_utf8(bytes).ok()?;
        let (ms, event_id) = plain.split_once(':')?;
        let digits = ms.strip_prefix('-').unwrap_or(ms);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self::new(ms.parse().ok()?, event_id))
    }
}

impl EventRecord {
    /// Where this event stands in a listing: pass it to [`EventFilter::after`] for the next page.
    #[must_use]
    pub fn cursor(&self) -> EventCursor {
        EventCursor::new(self.received_at_ms, self.event_id.clone())
    }
}

/// How many events arrived in one interval (see [`Inbox::arrivals`](super::Inbox::arrivals)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct ArrivalBucket {
    /// When the interval starts (milliseconds since the Unix epoch, a multiple of the bucket's length).
    pub start_ms: i64,
    /// How many stored events first arrived in it.
    pub events: u64,
}

impl ArrivalBucket {
    /// `events` arrivals in the interval starting at `start_ms`.
    #[must_use]
    pub fn new(start_ms: i64, events: u64) -> Self {
        Self { start_ms, events }
    }
}

/// Where the interval of `bucket_ms` milliseconds holding `ms` starts: a multiple of `bucket_ms`
/// (`bucket_ms` above zero).
pub(crate) fn bucket_start(ms: i64, bucket_ms: i64) -> i64 {
    ms.saturating_sub(ms.rem_euclid(bucket_ms.max(1)))
}

/// The exclusive upper bound of the texts that start with `prefix`, in byte order (UTF-8 keeps the order of
/// code points); `None` when no text is above them all (the prefix is only `char::MAX`s).
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The `objectId` of a notification body, as text: the `data` object's (or the object inside a `data`
/// string's, as CXTN double-encodes some), a number as written or a string's content.
/// `None` for a body without one, or that is not JSON.
pub(crate) fn object_id_of(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        data: Option<&'a RawValue>,
    }
    #[derive(Deserialize)]
    struct Data<'a> {
        #[serde(borrow, rename = "objectId")]
        object_id: Option<&'a RawValue>,
    }
    /// Only an object: serde would read a struct from an array too.
    fn is_object(text: &str) -> bool {
        text.trim_start().starts_with('{')
    }
    fn from_data(text: &str) -> Option<String> {
        if !is_object(text) {
            return None;
        }
        let data: Data<'_> = serde_json::from_str(text).ok()?;
        let raw = data.object_id?.get();
        match raw.as_bytes().first()? {
            b'"' => serde_json::from_str::<String>(raw).ok(),
            b'-' | b'0'..=b'9' => Some(raw.to_owned()),
            _ => None,
        }
    }
    let text = std::str::from_utf8(body).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !is_object(text) {
        return None;
    }
    let envelope: Envelope<'_> = serde_json::from_str(text).ok()?;
    let data = envelope.data?.get();
    if data.starts_with('"') {
        let inner: String = serde_json::from_str(data).ok()?;
        from_data(&inner)
    } else {
        from_data(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_are_read_from_data_objects_and_strings() {
        for sample in cxtn_events::samples::GUIDE {
            let id = object_id_of(sample.body.as_bytes());
            assert!(
                id.as_deref().is_some_and(|id| id.bytes().all(|b| b.is_ascii_digit())),
                "{id:?} from {}",
                sample.body
            );
        }
        let cases: [(&str, Option<&str>); 10] = [
            (r#"[{"data": {"objectId": 1}}]"#, None),
            (r#"{"data": "[7]"}"#, None),
            (r#"{"data": {"objectId": 12}}"#, Some("12")),
            (r#"{"data": "{\"objectId\": 34}"}"#, Some("34")),
            (r#"{"data": {"objectId": "ab"}}"#, Some("ab")),
            ("\u{feff}{\"data\": {\"objectId\": 5}}", Some("5")),
            (r#"{"data": {"objectId": null}}"#, None),
            (r#"{"data": [1]}"#, None),
            (r#"{"eventId": "x"}"#, None),
            ("not json", None),
        ];
        for (body, expected) in cases {
            assert_eq!(object_id_of(body.as_bytes()).as_deref(), expected, "{body}");
        }
        assert_eq!(object_id_of(&[0xff, 0xfe]), None);
    }

    #[test]
    fn prefix_ends_bound_exactly_the_texts_with_the_prefix() {
        assert_eq!(prefix_end("wh_a").as_deref(), Some("wh_b"));
        assert_eq!(prefix_end("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
        assert_eq!(prefix_end("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10ffff}"), None);
        let end = prefix_end("wh_4").unwrap();
        for text in ["wh_4", "wh_4\u{10ffff}\u{10ffff}", "wh_4zzzz"] {
            assert!(text < end.as_str(), "{text}");
        }
        assert!("wh_5" >= end.as_str());
    }

    #[test]
    fn buckets_start_at_multiples_of_their_length() {
        assert_eq!(bucket_start(125, 60), 120);
        assert_eq!(bucket_start(120, 60), 120);
        assert_eq!(bucket_start(-1, 60), -60);
    }

    #[test]
    fn cursor_tokens_round_trip_and_refuse_garbage() {
        for cursor in [
            EventCursor::new(1_700_000_000_000, "wh_1"),
            EventCursor::new(-5, "a:b/c?d é"),
            EventCursor::new(0, ""),
        ] {
            let token = cursor.to_token();
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                "{token}"
            );
            assert_eq!(EventCursor::from_token(&token), Some(cursor));
        }
        let encode = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        for garbage in [
            String::new(),
            "!!!".to_owned(),
            encode("no colon"),
            encode(":id"),
            encode("12x:id"),
            encode("+1:id"),
            encode("99999999999999999999:id"),
        ] {
            assert_eq!(EventCursor::from_token(&garbage), None, "{garbage}");
        }
    }
}
