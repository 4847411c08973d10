//! The parser.

use std::fmt;

use cxtn_model::fields::{Key, UnknownFieldsReader};
use cxtn_model::{
    AccountTransaction, DataEncoding, EventData, EventFields, EventId, EventKind, FieldProblem, FieldTracker,
    Notification, PaymentCompleted, RawJson, TradeSettled, UnknownData, UnknownEvent, UnknownFields, WebhookEventType,
};
use serde::de::{self, Deserializer as _, MapAccess};
use serde_json::value::RawValue;

use crate::{Error, ErrorKind, Location};

/// Parses one notification body.
///
/// # Errors
///
/// When the body is not a notification: see [`ErrorKind`] for every case.
/// The error names the event and field at fault and where the problem is.
pub fn parse(body: &[u8]) -> Result<Notification, Error> {
    let text = body_text(body)?;
    let envelope = read_envelope(text)?;
    let event_id = EventId::new(envelope.event_id);
    let (data, data_encoding) = match EventKind::from_name(&envelope.event) {
        Some(kind) => read_known(text, kind, envelope.data)?,
        None => read_unknown(envelope.event, envelope.data)?,
    };
    let mut notification = Notification::new(event_id, data);
    notification.data_encoding = data_encoding;
    notification.extra = envelope.extra;
    Ok(notification)
}

/// The envelope of a notification: what identifies it, without its `data`.
///
/// [`parse_envelope`] reads it from a body whose `data` may not fit the typed model.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Envelope {
    /// `eventId`, as received (it may be empty: [`parse`] accepts that too).
    pub event_id: EventId,
    /// `event`, as received.
    pub event: String,
    /// The webhook subscription that produces the event, for an event this version knows.
    pub subscription: Option<WebhookEventType>,
}

impl From<&Notification> for Envelope {
    /// The envelope of a notification already parsed.
    fn from(notification: &Notification) -> Self {
        Self {
            event_id: notification.event_id().clone(),
            event: notification.event_name().to_owned(),
            subscription: notification.subscription(),
        }
    }
}

/// Reads only the envelope of a notification body: its `eventId`, its `event` and, for an event this version
/// knows, its subscription.
///
/// It is as strict as [`parse`] about everything but `data`: the body is UTF-8 (a leading byte-order mark is
/// skipped), one JSON object and nothing after it, `eventId` and `event` are strings, each present once, no key
/// appears twice in the envelope, and `data`, when present, is JSON.
/// It does not look inside `data`, so a body whose `data` does not fit the typed model still has an envelope,
/// and every body [`parse`] accepts gives the same `eventId` and `event` here.
///
/// ```
/// let body = br#"{"eventId": "wh_1", "event": "account_credit", "data": {"amount": "ten"}}"#;
/// assert!(cxtn_events::parse(body).is_err());
/// let envelope = cxtn_events::parse_envelope(body)?;
/// assert_eq!(envelope.event_id.as_str(), "wh_1");
/// assert_eq!(envelope.event, "account_credit");
/// assert_eq!(envelope.subscription, Some(cxtn_model::WebhookEventType::AccountTransaction));
/// # Ok::<(), cxtn_events::Error>(())
/// ```
///
/// # Errors
///
/// The same [`Error`] as [`parse`] for a body without a usable envelope: invalid UTF-8, not JSON, not an object,
/// trailing characters, too deep, `eventId` or `event` missing, not a string, or given twice.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, Error> {
    let envelope = read_envelope(body_text(body)?)?;
    Ok(Envelope {
        subscription: EventKind::from_name(&envelope.event).map(EventKind::subscription),
        event_id: EventId::new(envelope.event_id),
        event: envelope.event,
    })
}

/// The body as text, without a leading byte-order mark.
fn body_text(body: &[u8]) -> Result<&str, Error> {
    let text = std::str::from_utf8(body).map_err(|e| {
        Error::new(ErrorKind::InvalidUtf8, "the body is not valid UTF-8").at(Some(Location::Byte(e.valid_up_to())))
    })?;
    // A byte-order mark, as some .NET writers add, is not part of the JSON.
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

struct RawEnvelope<'a> {
    event_id: String,
    event: String,
    data: Option<&'a RawValue>,
    extra: UnknownFields,
}

fn read_envelope(text: &str) -> Result<RawEnvelope<'_>, Error> {
    let tracker = FieldTracker::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let envelope = de
        .deserialize_map(EnvelopeVisitor { tracker: &tracker })
        .and_then(|envelope| de.end().map(|()| envelope))
        .map_err(|e| classify(&e, &tracker, Place::Body { base: (1, 1) }, text, "the notification"))?;
    Ok(envelope)
}

struct EnvelopeVisitor<'t> {
    tracker: &'t FieldTracker,
}

impl<'de> de::Visitor<'de> for EnvelopeVisitor<'_> {
    type Value = RawEnvelope<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a notification object with `eventId`, `event` and `data`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEnvelope<'de>, A::Error> {
        let mut event_id: Option<String> = None;
        let mut event: Option<String> = None;
        let mut data: Option<&'de RawValue> = None;
        let mut extra = UnknownFieldsReader::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.as_str() {
                "eventId" => read_once(&mut map, &mut event_id, "eventId", self.tracker)?,
                "event" => read_once(&mut map, &mut event, "event", self.tracker)?,
                "data" => read_once(&mut map, &mut data, "data", self.tracker)?,
                _ => extra.read(key, &mut map, self.tracker)?,
            }
        }
        let event_id = event_id.ok_or_else(|| self.tracker.fail("eventId", FieldProblem::Missing))?;
        let event = event.ok_or_else(|| self.tracker.fail("event", FieldProblem::Missing))?;
        Ok(RawEnvelope {
            event_id,
            event,
            data,
            extra: extra.finish(),
        })
    }
}

fn read_once<'de, A: MapAccess<'de>, T: de::Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    field: &str,
    tracker: &FieldTracker,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(tracker.fail(field, FieldProblem::Duplicate));
    }
    tracker.enter(field);
    *slot = Some(map.next_value()?);
    tracker.leave();
    Ok(())
}

fn read_known(body: &str, kind: EventKind, data: Option<&RawValue>) -> Result<(EventData, DataEncoding), Error> {
    let event = kind.name();
    let raw = data.ok_or_else(|| {
        Error::new(ErrorKind::MissingField, "missing field `data`")
            .with_field("data")
            .with_event(event)
    })?;
    let raw = raw.get();
    match raw.as_bytes().first() {
        Some(b'{') => {
            let place = Place::Body {
                base: position_of(body, raw),
            };
            typed(kind, raw, place).map(|data| (data, DataEncoding::Object))
        }
        Some(b'"') => {
            let decoded = decode_string(raw).map_err(|e| e.with_field("data").with_event(event))?;
            if !decoded.trim_start().starts_with('{') && serde_json::from_str::<&RawValue>(&decoded).is_ok() {
                return Err(not_an_object(event, &decoded, "a string holding "));
            }
            typed(kind, &decoded, Place::DataString).map(|data| (data, DataEncoding::String))
        }
        _ => Err(not_an_object(event, raw, "")),
    }
}

fn not_an_object(event: &str, raw: &str, holding: &str) -> Error {
    let found = cxtn_model::fields::describe_json(raw);
    Error::new(
        ErrorKind::DataNotAnObject,
        format!("`data` must be an object or a string holding one, found {holding}{found}"),
    )
    .with_field("data")
    .with_event(event)
}

fn typed(kind: EventKind, text: &str, place: Place) -> Result<EventData, Error> {
    let tracker = FieldTracker::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let data = match kind {
        EventKind::AccountCredit => {
            AccountTransaction::deserialize_tracked(&mut de, &tracker).map(EventData::AccountCredit)
        }
        EventKind::AccountDebit => {
            AccountTransaction::deserialize_tracked(&mut de, &tracker).map(EventData::AccountDebit)
        }
        EventKind::PaymentCompleted => {
            PaymentCompleted::deserialize_tracked(&mut de, &tracker).map(EventData::PaymentCompleted)
        }
        EventKind::TradeSettled => TradeSettled::deserialize_tracked(&mut de, &tracker).map(EventData::TradeSettled),
        // A kind added to the model but not yet here is read as unknown: kept whole, never dropped.
        _ => RawJson::from_string(text.to_owned())
            .map(|raw| EventData::Unknown(UnknownEvent::new(kind.name(), UnknownData::Json(raw)))),
    };
    data.and_then(|data| de.end().map(|()| data))
        .map_err(|e| classify(&e, &tracker, place, text, "the data").with_event(kind.name()))
}

fn read_unknown(event: String, data: Option<&RawValue>) -> Result<(EventData, DataEncoding), Error> {
    let Some(raw) = data else {
        return Ok((
            EventData::Unknown(UnknownEvent::new(event, UnknownData::Absent)),
            DataEncoding::Object,
        ));
    };
    if raw.get().starts_with('"') {
        let Ok(decoded) = decode_string(raw.get()) else {
            // A string that does not decode (a lone surrogate escape) is kept as the JSON received.
            let data = UnknownData::Json(RawJson::from(raw.to_owned()));
            return Ok((EventData::Unknown(UnknownEvent::new(event, data)), DataEncoding::Object));
        };
        // A string holding JSON is decoded once; one holding a bare JSON string, or no JSON, stays text,
        // so that the canonical form reads back the same. A bare JSON string that itself does not decode
        // (a lone surrogate escape) is kept as JSON, as it is when it arrives as `data` itself.
        let data = match serde_json::from_str::<&RawValue>(&decoded) {
            Ok(json) if !json.get().starts_with('"') || decode_string(json.get()).is_err() => {
                UnknownData::Json(RawJson::from(json.to_owned()))
            }
            _ => UnknownData::Text(decoded),
        };
        return Ok((EventData::Unknown(UnknownEvent::new(event, data)), DataEncoding::String));
    }
    let data = UnknownData::Json(RawJson::from(raw.to_owned()));
    Ok((EventData::Unknown(UnknownEvent::new(event, data)), DataEncoding::Object))
}

/// Decodes the `data` string once; it was already checked to be a valid JSON string.
fn decode_string(raw: &str) -> Result<String, Error> {
    serde_json::from_str::<String>(raw).map_err(|e| {
        Error::new(
            ErrorKind::Syntax,
            format!("the `data` string does not decode: {}", bare(&e)),
        )
    })
}

/// Where a text being parsed sits, to report positions the user can find.
#[derive(Clone, Copy)]
enum Place {
    /// Inside the body; `base` is the line and column of the text's first character.
    Body { base: (usize, usize) },
    /// The decoded `data` string.
    DataString,
}

impl Place {
    fn locate(self, e: &serde_json::Error) -> Option<Location> {
        if e.line() == 0 {
            return None;
        }
        Some(match self {
            Place::Body {
                base: (line, column), ..
            } => {
                if e.line() == 1 {
                    Location::Body {
                        line,
                        column: (column + e.column().saturating_sub(1)).max(1),
                    }
                } else {
                    Location::Body {
                        line: line + e.line() - 1,
                        column: e.column().max(1),
                    }
                }
            }
            Place::DataString => Location::DataString {
                line: e.line(),
                column: e.column().max(1),
            },
        })
    }

    fn is_data_string(self) -> bool {
        matches!(self, Place::DataString)
    }
}

/// The line and column (from 1) where `inner`, a slice of `outer`, starts.
fn position_of(outer: &str, inner: &str) -> (usize, usize) {
    let offset = (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize);
    let before = outer.get(..offset).unwrap_or("");
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let column = before.rfind('\n').map_or(before.len(), |i| before.len() - i - 1) + 1;
    (line, column)
}

/// The serde_json message without its ` at line L column C` suffix.
fn bare(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match message.strip_suffix(&suffix) {
        Some(stripped) => stripped.to_owned(),
        None => message,
    }
}

fn classify(e: &serde_json::Error, tracker: &FieldTracker, place: Place, text: &str, what: &str) -> Error {
    if e.is_syntax() || e.is_eof() {
        return syntax_error(e, place, what);
    }
    let location = place.locate(e);
    let message = bare(e);
    match tracker.issue() {
        Some(issue) => {
            let field = issue.field;
            let (kind, text) = match issue.problem {
                FieldProblem::Missing => (ErrorKind::MissingField, format!("missing field `{field}`")),
                FieldProblem::Duplicate => (ErrorKind::DuplicateField, format!("duplicate field `{field}`")),
                _ => (ErrorKind::InvalidField, format!("invalid `{field}`: {message}")),
            };
            let location = if kind == ErrorKind::MissingField {
                None
            } else {
                location
            };
            Error::new(kind, text).with_field(field).at(location)
        }
        None => {
            // The wrong type at the top: first make sure the text is JSON at all.
            if let Err(syntax) = serde_json::from_str::<de::IgnoredAny>(text) {
                return syntax_error(&syntax, place, what);
            }
            if place.is_data_string() {
                Error::new(
                    ErrorKind::DataNotAnObject,
                    format!("`data` must be an object or a string holding one: {message}"),
                )
                .with_field("data")
                .at(location)
            } else {
                Error::new(
                    ErrorKind::NotAnObject,
                    format!("the body must be a notification object: {message}"),
                )
                .at(location)
            }
        }
    }
}

fn syntax_error(e: &serde_json::Error, place: Place, what: &str) -> Error {
    let location = place.locate(e);
    let message = bare(e);
    let kind = if message.starts_with("trailing characters") {
        ErrorKind::TrailingCharacters
    } else if message.starts_with("recursion limit exceeded") {
        ErrorKind::TooDeep
    } else {
        ErrorKind::Syntax
    };
    let text = match kind {
        ErrorKind::TrailingCharacters => format!("unexpected characters after {what}"),
        ErrorKind::TooDeep => format!("{what} nests too deeply"),
        _ => format!("not JSON: {message}"),
    };
    if place.is_data_string() {
        return Error::new(
            ErrorKind::DataNotJson,
            format!("the `data` string does not hold JSON: {message}"),
        )
        .with_field("data")
        .at(location);
    }
    Error::new(kind, text).at(location)
}

#[cfg(test)]
mod tests;
