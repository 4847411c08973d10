//! The events page's query parameters, read strictly: a bad value is a 400 that says which and why.

use cxtn_receiver::inbox::{EventCursor, EventFilter, EventStatus};

use crate::text;

/// The events listed per page.
pub(crate) const PAGE_SIZE: usize = 50;

/// The longest filter value accepted (a cursor holds an event id as sent, of any length, and is not limited).
const MAX_VALUE: usize = 200;

/// What the events page was asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct EventsQuery {
    pub(crate) status: Option<EventStatus>,
    pub(crate) event: String,
    pub(crate) subscription: String,
    pub(crate) from: String,
    pub(crate) from_ms: Option<i64>,
    pub(crate) until: String,
    pub(crate) until_ms: Option<i64>,
    pub(crate) q: String,
    pub(crate) after: Option<EventCursor>,
    pub(crate) conflicts: bool,
    /// For `/stream`: the newest event the page showed when it was rendered; arrivals after it are news, so an
    /// event stored between the page and the stream's start is not missed.
    pub(crate) since: Option<EventCursor>,
}

/// The pairs of a query string, decoded.
pub(crate) fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl EventsQuery {
    /// Reads the query string; `Err` says what is wrong, for a 400 page.
    pub(crate) fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut parsed = Self::default();
        for (key, value) in pairs(query) {
            let value = value.trim().to_owned();
            if !matches!(key.as_str(), "after" | "since") && value.chars().count() > MAX_VALUE {
                return Err(format!(
                    "the `{}` parameter is longer than {MAX_VALUE} characters",
                    text::visible_str(&key, false)
                ));
            }
            match key.as_str() {
                "status" if value.is_empty() => {}
                "status" => {
                    parsed.status = Some(EventStatus::from_name(&value).ok_or_else(|| {
                        format!(
                            "`{}` is not a status: use pending, processing, processed, dead or quarantined",
                            text::visible_str(&value, false)
                        )
                    })?);
                }
                "event" => parsed.event = value,
                "subscription" => parsed.subscription = value,
                "q" => parsed.q = value,
                "from" | "until" if value.is_empty() => {}
                "from" | "until" => {
                    let ms = text::parse_time(&value).ok_or_else(|| {
                        format!(
                            "`{}` in `{key}` is not a time: use YYYY-MM-DDTHH:MM (UTC) or RFC 3339, such as \
                             2026-12-01T07:30 or 2026-12-01T07:30:00Z",
                            text::visible_str(&value, false)
                        )
                    })?;
                    if key == "from" {
                        parsed.from = value;
                        parsed.from_ms = Some(ms);
                    } else {
                        parsed.until = value;
                        parsed.until_ms = Some(ms);
                    }
                }
                "after" if value.is_empty() => {}
                "after" => {
                    parsed.after = Some(EventCursor::from_token(&value).ok_or_else(|| {
                        "the `after` cursor is not one this console wrote: start again from the first page".to_owned()
                    })?);
                }
                "since" if value.is_empty() => {}
                "since" => {
                    parsed.since = Some(EventCursor::from_token(&value).ok_or_else(|| {
                        "the `since` cursor is not one this console wrote: reload the page".to_owned()
                    })?);
                }
                "conflicts" => parsed.conflicts = matches!(value.as_str(), "1" | "true" | "on" | "yes"),
                // Unknown parameters (a flash, a tracking tag) are ignored.
                _ => {}
            }
        }
        if let (Some(from), Some(until)) = (parsed.from_ms, parsed.until_ms)
            && from >= until
        {
            return Err(format!(
                "`from` ({}) is not before `until` ({}): swap them or widen the range",
                parsed.from, parsed.until
            ));
        }
        Ok(parsed)
    }

    /// The inbox filter for one page, asking one more event than shown to learn whether a next page exists.
    pub(crate) fn filter(&self, limit: usize) -> EventFilter {
        let mut filter = EventFilter::all().limit(limit);
        if let Some(status) = self.status {
            filter = filter.status(status);
        }
        if self.conflicts {
            filter = filter.with_conflicts();
        }
        if !self.event.is_empty() {
            filter = filter.event(self.event.clone());
        }
        if !self.subscription.is_empty() {
            filter = filter.subscription(self.subscription.clone());
        }
        if let Some(from) = self.from_ms {
            filter = filter.received_from(from);
        }
        if let Some(until) = self.until_ms {
            filter = filter.received_until(until);
        }
        if !self.q.is_empty() {
            filter = filter.search(self.q.clone());
        }
        if let Some(after) = &self.after {
            filter = filter.after(after.clone());
        }
        filter
    }

    /// The query string of the same filters, continuing after `cursor`.
    pub(crate) fn next_page(&self, cursor: &EventCursor) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        self.append_filters(&mut query);
        query.append_pair("after", &cursor.to_token());
        query.finish()
    }

    /// The live stream's query string for a page of these filters whose newest event is `newest` (or, for an
    /// empty page, rendered at `now_ms`): the same filters, and where the news start.
    pub(crate) fn live(&self, newest: Option<&EventCursor>, now_ms: i64) -> String {
        let since = newest.cloned().unwrap_or_else(|| EventCursor::new(now_ms, ""));
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        self.append_filters(&mut query);
        query.append_pair("since", &since.to_token());
        format!("?{}", query.finish())
    }

    /// The query string of the same filters, from the first page.
    pub(crate) fn next_page_without_cursor(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        self.append_filters(&mut query);
        query.finish()
    }

    fn append_filters(&self, query: &mut url::form_urlencoded::Serializer<'_, String>) {
        if let Some(status) = self.status {
            query.append_pair("status", status.as_str());
        }
        for (key, value) in [
            ("event", &self.event),
            ("subscription", &self.subscription),
            ("from", &self.from),
            ("until", &self.until),
            ("q", &self.q),
        ] {
            if !value.is_empty() {
                query.append_pair(key, value);
            }
        }
        if self.conflicts {
            query.append_pair("conflicts", "1");
        }
    }

    /// Whether any filter is set (the first page of everything is the one live arrivals are added to).
    pub(crate) fn is_filtered(&self) -> bool {
        self.status.is_some()
            || self.conflicts
            || !self.event.is_empty()
            || !self.subscription.is_empty()
            || self.from_ms.is_some()
            || self.until_ms.is_some()
            || !self.q.is_empty()
            || self.after.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_say_what_is_wrong() {
        assert!(
            EventsQuery::parse(Some("status=bogus"))
                .unwrap_err()
                .contains("not a status")
        );
        assert!(
            EventsQuery::parse(Some("from=yesterday"))
                .unwrap_err()
                .contains("not a time")
        );
        assert!(EventsQuery::parse(Some("after=%%%")).unwrap_err().contains("cursor"));
        assert!(
            EventsQuery::parse(Some("from=2026-12-02T00:00&until=2026-12-01T00:00"))
                .unwrap_err()
                .contains("not before")
        );
        let ok = EventsQuery::parse(Some("status=dead&event=payment_completed&from=2026-12-01T07:30&q=&x=1")).unwrap();
        assert_eq!(ok.status, Some(EventStatus::Dead));
        assert_eq!(ok.event, "payment_completed");
        assert!(ok.from_ms.is_some());
        assert!(ok.is_filtered());
        assert!(!EventsQuery::parse(None).unwrap().is_filtered());
    }
}
