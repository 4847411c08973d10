//! Triggers: which notification to send, and how.

use std::fmt;

use cxtn_events::samples;
use cxtn_model::{Amount, DataEncoding, EventId, EventKind, ObjectId, WebhookEventType};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::{RawValue, to_raw_value};

use crate::delivery::{DeliveryId, Outcome};
use crate::fields::Fields;
use crate::{Error, ErrorKind};

/// The value of one `data` field, held as exact JSON text.
///
/// Build one from a Rust value (`&str` and `String` become JSON strings; integers, `bool`,
/// [`Amount`] and [`ObjectId`] become JSON numbers and literals with every digit kept),
/// or from JSON text with [`FieldValue::json`] (`"1000.00"` is the number `1000.00`).
/// There is deliberately no conversion from `f64`: a float cannot say `1000.00`.
///
/// ```
/// use cxtn_sandbox::FieldValue;
///
/// assert_eq!(FieldValue::from("C00081866").as_json(), r#""C00081866""#);
/// assert_eq!(FieldValue::from(654_254_u64).as_json(), "654254");
/// assert_eq!(FieldValue::json("1000.00").as_json(), "1000.00");
/// let amount: cxtn_model::Amount = "218.70".parse()?;
/// assert_eq!(FieldValue::from(amount).as_json(), "218.70");
/// # Ok::<(), cxtn_model::AmountError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct FieldValue(String);

impl FieldValue {
    /// A value given as JSON text, sent exactly as written; it is checked to be one JSON value when the trigger is sent.
    #[must_use]
    pub fn json(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// JSON `null`.
    #[must_use]
    pub fn null() -> Self {
        Self("null".to_owned())
    }

    /// The JSON text.
    #[must_use]
    pub fn as_json(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FieldValue({})", self.0)
    }
}

impl From<&str> for FieldValue {
    fn from(value: &str) -> Self {
        Self::from(value.to_owned())
    }
}

impl From<String> for FieldValue {
    fn from(value: String) -> Self {
        Self(Value::String(value).to_string())
    }
}

impl From<&String> for FieldValue {
    fn from(value: &String) -> Self {
        Self::from(value.clone())
    }
}

macro_rules! from_integer {
    ($($t:ty),*) => {
        $(
            impl From<$t> for FieldValue {
                fn from(value: $t) -> Self {
                    Self(value.to_string())
                }
            }
        )*
    };
}

from_integer!(i32, i64, u32, u64);

impl From<bool> for FieldValue {
    fn from(value: bool) -> Self {
        Self(value.to_string())
    }
}

impl From<&Amount> for FieldValue {
    fn from(value: &Amount) -> Self {
        if value.is_quoted() {
            Self::from(value.as_str())
        } else {
            Self(value.as_str().to_owned())
        }
    }
}

impl From<Amount> for FieldValue {
    fn from(value: Amount) -> Self {
        Self::from(&value)
    }
}

impl From<ObjectId> for FieldValue {
    fn from(value: ObjectId) -> Self {
        Self(value.get().to_string())
    }
}

impl From<Box<RawValue>> for FieldValue {
    fn from(value: Box<RawValue>) -> Self {
        Self(value.get().to_owned())
    }
}

impl From<&RawValue> for FieldValue {
    fn from(value: &RawValue) -> Self {
        Self(value.get().to_owned())
    }
}

/// One notification to send: the event, its `data`, and how to send it.
///
/// `data` starts from the first of CXTN's guide samples for the event (`account_credit` starts from
/// the guide's funds-in sample, amount `1000.00`), or from `{}` for an event the guide has no sample of.
/// [`set`](Self::set) overrides or adds fields; [`data_json`](Self::data_json) replaces the whole of `data`.
/// Every trigger gets a fresh `eventId` (`wh_` and 32 lowercase hex digits).
///
/// The notification goes to the endpoint of its subscription type: `Payment` for `payment_completed`
/// and `trade_settled`, `AccountTransaction` for `account_credit` and `account_debit`.
/// Another event needs [`subscription`](Self::subscription), or it is recorded as skipped.
///
/// ```
/// use cxtn_model::WebhookEventType;
/// use cxtn_sandbox::Trigger;
///
/// let credit = Trigger::new("account_credit").set("userId", "C00000001").set_json("amount", "250.50");
/// let body = credit.to_body()?;
/// assert!(body.contains(r#""amount":250.50"#));
///
/// let legacy = Trigger::new("payment_completed").data_as_string(true).duplicate(true);
/// assert!(legacy.to_body()?.contains(r#""data":"{\"objectId\":162953"#));
///
/// let custom = Trigger::new("card_authorised")
///     .subscription(WebhookEventType::Card)
///     .data_json(r#"{"cardId": 42, "amount": 9.99}"#);
/// assert!(custom.to_body()?.contains(r#""data":{"cardId":42,"amount":9.99}"#));
/// # Ok::<(), cxtn_sandbox::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Trigger {
    event: String,
    data: Option<String>,
    sets: Vec<(String, FieldValue)>,
    encoding: DataEncoding,
    duplicate: bool,
    subscription: Option<WebhookEventType>,
}

impl Trigger {
    /// A trigger for an event, by its wire name (`account_credit`, `account_debit`, `payment_completed`,
    /// `trade_settled`, or any other name).
    pub fn new(event: impl Into<String>) -> Self {
        Self {
            event: event.into(),
            data: None,
            sets: Vec::new(),
            encoding: DataEncoding::Object,
            duplicate: false,
            subscription: None,
        }
    }

    /// Sets a field of `data`, replacing its default value or adding it.
    pub fn set(mut self, field: impl Into<String>, value: impl Into<FieldValue>) -> Self {
        self.sets.push((field.into(), value.into()));
        self
    }

    /// Sets a field of `data` to JSON text, sent exactly as written (`"1000.00"` is the number `1000.00`).
    pub fn set_json(self, field: impl Into<String>, json: impl Into<String>) -> Self {
        self.set(field, FieldValue::json(json))
    }

    /// Replaces the whole of `data` with JSON text, sent exactly as written.
    ///
    /// Fields given with [`set`](Self::set) still apply when it is an object.
    pub fn data_json(mut self, json: impl Into<String>) -> Self {
        self.data = Some(json.into());
        self
    }

    /// Sends `data` as a string holding its JSON (`true`), as older CXTN deliveries do, or as an object (`false`, the default).
    pub fn data_as_string(self, as_string: bool) -> Self {
        self.encoding(if as_string {
            DataEncoding::String
        } else {
            DataEncoding::Object
        })
    }

    /// How `data` is sent (default: [`DataEncoding::Object`]).
    pub fn encoding(mut self, encoding: DataEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Delivers the notification twice, with the same `eventId` and the same body (default: once).
    pub fn duplicate(mut self, duplicate: bool) -> Self {
        self.duplicate = duplicate;
        self
    }

    /// The endpoint event type the notification goes to, instead of the one its event implies;
    /// needed for an event CXTN does not document.
    pub fn subscription(mut self, event_type: WebhookEventType) -> Self {
        self.subscription = Some(event_type);
        self
    }

    /// The event's wire name.
    #[must_use]
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The body this trigger sends, with a fresh `eventId`: a preview, nothing is sent.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidTrigger`](crate::ErrorKind::InvalidTrigger), as [`Sandbox::trigger`](crate::Sandbox::trigger).
    pub fn to_body(&self) -> Result<String, Error> {
        self.prepare().map(|prepared| prepared.body)
    }

    /// The notification this trigger sends, with a fresh `eventId`, and where it goes: a preview, nothing is sent.
    ///
    /// ```
    /// use cxtn_sandbox::Trigger;
    ///
    /// let prepared = Trigger::new("payment_completed").prepare()?;
    /// assert!(prepared.event_id.is_conventional());
    /// assert!(prepared.body.starts_with(&format!(r#"{{"eventId":"{}","#, prepared.event_id)));
    /// # Ok::<(), cxtn_sandbox::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidTrigger`](crate::ErrorKind::InvalidTrigger), as [`Sandbox::trigger`](crate::Sandbox::trigger).
    pub fn prepare(&self) -> Result<Prepared, Error> {
        if self.event.trim().is_empty() {
            return Err(invalid(
                "event",
                "the trigger has no event name; use one such as `account_credit`",
            ));
        }
        let subscription = match &self.subscription {
            Some(kind) if kind.name().is_none() => {
                return Err(invalid(
                    "subscription",
                    format!(
                        "`{kind}` is not a webhook event type; use Trade, Payment, AccountTransaction, Wallet, Card, Quote or BulkPayments"
                    ),
                ));
            }
            Some(kind) => Some(*kind),
            None => EventKind::from_name(&self.event).map(EventKind::subscription),
        };
        let data = self.data_raw()?;
        let data = match self.encoding {
            DataEncoding::String => to_raw_value(data.get()).map_err(unwritable)?,
            _ => data,
        };
        let event_id = EventId::new(format!("wh_{:032x}", fastrand::u128(..)));
        let body = serde_json::to_string(&Envelope {
            event_id: event_id.as_str(),
            event: &self.event,
            data: &data,
        })
        .map_err(unwritable)?;
        Ok(Prepared {
            event_id,
            event: self.event.clone(),
            subscription,
            encoding: self.encoding,
            duplicate: self.duplicate,
            body,
        })
    }

    fn data_raw(&self) -> Result<Box<RawValue>, Error> {
        let mut fields = match &self.data {
            None => sample_fields(&self.event),
            Some(text) => {
                let raw: Box<RawValue> = serde_json::from_str(text).map_err(|e| {
                    invalid("data", format!("the data is not one JSON value ({e}); give JSON text")).with_source(e)
                })?;
                if !raw.get().starts_with('{') {
                    if let Some((field, _)) = self.sets.first() {
                        return Err(invalid(
                            field.clone(),
                            "fields can be set only when the data is a JSON object",
                        ));
                    }
                    return Ok(raw);
                }
                Fields::parse_object(raw.get())
                    .map_err(|e| invalid("data", format!("the data is not a JSON object ({e})")).with_source(e))?
            }
        };
        for (field, value) in &self.sets {
            let raw = RawValue::from_string(value.as_json().to_owned()).map_err(|e| {
                invalid(
                    field.clone(),
                    format!("the value of `{field}` is not one JSON value ({e}); write strings with their quotes"),
                )
                .with_source(e)
            })?;
            fields.set(field.clone(), raw);
        }
        fields.to_raw().map_err(unwritable)
    }
}

impl From<EventKind> for Trigger {
    fn from(kind: EventKind) -> Self {
        Self::new(kind.name())
    }
}

/// A trigger for one of the guide's samples: its event, and its `data` exactly as the guide prints it
/// (sent as an object unless told otherwise).
///
/// ```
/// use cxtn_events::samples;
/// use cxtn_sandbox::Trigger;
///
/// let pot_credit = samples::find("pot_credit").expect("a guide sample");
/// assert!(Trigger::from(pot_credit).to_body()?.contains(r#""ccyCode":"CC-GBP""#));
/// # Ok::<(), cxtn_sandbox::Error>(())
/// ```
impl From<&samples::Sample> for Trigger {
    fn from(sample: &samples::Sample) -> Self {
        let trigger = Self::new(sample.event);
        match sample_data(sample.body).and_then(|fields| fields.to_raw().ok()) {
            Some(data) => trigger.data_json(data.get()),
            None => trigger,
        }
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidTrigger, message).with_field(field)
}

fn unwritable(e: serde_json::Error) -> Error {
    invalid("data", format!("the notification cannot be written as JSON ({e})")).with_source(e)
}

/// The notification's envelope, as sent.
#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "eventId")]
    event_id: &'a str,
    event: &'a str,
    data: &'a RawValue,
}

/// The `data` of the first guide sample of `event`, or an empty object.
fn sample_fields(event: &str) -> Fields {
    samples::GUIDE
        .iter()
        .find(|sample| sample.event == event)
        .and_then(|sample| sample_data(sample.body))
        .unwrap_or_default()
}

fn sample_data(body: &str) -> Option<Fields> {
    #[derive(Deserialize)]
    struct Body<'a> {
        #[serde(borrow)]
        data: &'a RawValue,
    }
    let body: Body<'_> = serde_json::from_str(body).ok()?;
    let text = body.data.get();
    if text.starts_with('"') {
        let inner: String = serde_json::from_str(text).ok()?;
        Fields::parse_object(&inner).ok()
    } else {
        Fields::parse_object(text).ok()
    }
}

/// A trigger turned into the notification it sends ([`Trigger::prepare`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Prepared {
    /// The notification's fresh `eventId`.
    pub event_id: EventId,
    /// The event's wire name.
    pub event: String,
    /// The endpoint event type it goes to, when one is known.
    pub subscription: Option<WebhookEventType>,
    /// How `data` is sent.
    pub encoding: DataEncoding,
    /// Whether it is delivered twice.
    pub duplicate: bool,
    /// The body, exactly as sent.
    pub body: String,
}

/// What a trigger did: the notification it made and what happened to it at once.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TriggerReport {
    /// The notification's `eventId`.
    pub event_id: EventId,
    /// The event's wire name.
    pub event: String,
    /// The endpoint event type it goes to, when one is known.
    pub subscription: Option<WebhookEventType>,
    /// Its deliveries in the log: one, or two for a duplicate.
    pub deliveries: Vec<DeliveryId>,
    /// What happened at once: [`Outcome::Pending`] (sending), [`Outcome::Held`] (the endpoint is paused)
    /// or [`Outcome::Skipped`]. Follow the deliveries in the log for the rest.
    pub outcome: Outcome,
    /// How `data` is sent.
    pub encoding: DataEncoding,
    /// The body, exactly as sent.
    pub body: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_event_defaults_to_its_first_guide_sample() {
        for kind in EventKind::ALL {
            let sample = samples::GUIDE.iter().find(|s| s.event == kind.name()).unwrap();
            let fields = sample_fields(kind.name());
            assert!(fields.iter().count() >= 4, "{kind}");
            let body = Trigger::from(kind).to_body().unwrap();
            let expected = cxtn_events::parse(sample.body.as_bytes()).unwrap();
            let sent = cxtn_events::parse(body.as_bytes()).unwrap();
            assert_eq!(sent.data(), expected.data(), "{kind}");
            assert_eq!(sent.subscription(), Some(kind.subscription()));
        }
        assert_eq!(sample_fields("nothing_here").to_raw().unwrap().get(), "{}");
    }

    #[test]
    fn a_sample_trigger_sends_the_sample_data_exactly() {
        for sample in &samples::GUIDE {
            let prepared = Trigger::from(sample).prepare().unwrap();
            let sent = cxtn_events::parse(prepared.body.as_bytes()).unwrap();
            let expected = cxtn_events::parse(sample.body.as_bytes()).unwrap();
            assert_eq!(sent.data(), expected.data(), "{}", sample.name);
            assert_eq!(sent.event_id(), &prepared.event_id);
            let canonical = serde_json::to_string(expected.data()).unwrap();
            assert!(
                prepared.body.ends_with(&format!(r#""data":{canonical}}}"#)),
                "{}",
                prepared.body
            );
        }
    }

    #[test]
    fn ids_are_fresh_and_conventional() {
        let a = Trigger::new("account_debit").prepare().unwrap();
        let b = Trigger::new("account_debit").prepare().unwrap();
        assert_ne!(a.event_id, b.event_id);
        assert!(a.event_id.is_conventional(), "{:?}", a.event_id);
    }

    #[test]
    fn refusals_name_the_field() {
        let cases = [
            (Trigger::new(" "), "event"),
            (Trigger::new("x").data_json("{"), "data"),
            (Trigger::new("x").data_json("[1]").set("a", 1_i64), "a"),
            (Trigger::new("x").set_json("amount", "1,0"), "amount"),
            (
                Trigger::new("x").subscription(serde_json::from_str("\"Loans\"").unwrap()),
                "subscription",
            ),
        ];
        for (trigger, field) in cases {
            let error = trigger.prepare().unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidTrigger);
            assert_eq!(error.field(), Some(field), "{error}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_event_and_values_make_one_json_object_or_a_named_refusal(
            event in "\\PC{0,12}",
            field in "\\PC{0,8}",
            value in "[-0-9.eE\"a-z{}\\[\\],: ]{0,16}",
            as_string in proptest::bool::ANY,
        ) {
            let trigger = Trigger::new(event.clone()).set_json(field.clone(), value).data_as_string(as_string);
            match trigger.to_body() {
                Ok(body) => {
                    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
                    proptest::prop_assert_eq!(json["event"].as_str(), Some(event.as_str()));
                    let data = if as_string {
                        serde_json::from_str(json["data"].as_str().unwrap()).unwrap()
                    } else {
                        json["data"].clone()
                    };
                    proptest::prop_assert!(data.get(&field).is_some());
                }
                Err(error) => {
                    proptest::prop_assert_eq!(error.kind(), ErrorKind::InvalidTrigger);
                    proptest::prop_assert!(error.field() == Some("event") || error.field() == Some(field.as_str()));
                }
            }
        }
    }

    #[test]
    fn non_object_data_is_sent_as_given() {
        let body = Trigger::new("note").data_json(" \"hello\" ").to_body().unwrap();
        assert!(body.ends_with(r#""event":"note","data":"hello"}"#), "{body}");
    }
}
