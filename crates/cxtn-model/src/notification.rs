//! The notifications CXTN POSTs to webhook endpoints.

use std::fmt;

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::fields::event_fields;
use crate::{Amount, CurrencyCode, EventId, ObjectId, RawJson, Timestamp, UnknownFields, UserId, WebhookEventType};

/// One notification: `{"eventId": "wh_...", "event": "payment_completed", "data": {...}}`.
///
/// Parse one from a request body with `cxtn_events::parse`. Serializing a `Notification` writes its canonical form:
/// `data` as an object (where it held one), every number's digits and every string as received,
/// unknown fields kept. Parsing the canonical form gives back an equal `Notification`.
///
/// Equality compares content, not how `data` was encoded on the wire ([`Notification::data_encoding`]).
///
/// ```
/// use cxtn_model::{EventData, EventId, Notification, PaymentCompleted, WebhookEventType};
///
/// let payment: PaymentCompleted = serde_json::from_str(
///     r#"{"objectId": 162953, "userId": "C00081866", "amount": 10.00, "currency": "GBP"}"#,
/// )?;
/// let notification = Notification::new(
///     EventId::new("wh_4d9373d27e4e4c24bbb39c00b6dcd3e7"),
///     EventData::PaymentCompleted(payment),
/// );
/// assert_eq!(notification.event_name(), "payment_completed");
/// assert_eq!(notification.amount().map(|a| a.to_string()).as_deref(), Some("10.00"));
/// assert_eq!(notification.subscription(), Some(WebhookEventType::Payment));
/// assert_eq!(
///     serde_json::to_string(&notification)?,
///     r#"{"eventId":"wh_4d9373d27e4e4c24bbb39c00b6dcd3e7","event":"payment_completed","data":{"objectId":162953,"userId":"C00081866","amount":10.00,"currency":"GBP"}}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Notification {
    /// `eventId`: the same on every redelivery, the key to deduplicate on.
    pub event_id: EventId,
    /// `event` and `data`, typed.
    pub data: EventData,
    /// Whether `data` arrived as an object or as a string holding JSON.
    pub data_encoding: DataEncoding,
    /// Fields of the envelope this version does not know, kept as received.
    pub extra: UnknownFields,
}

impl Notification {
    /// A notification with `data` sent as an object and no unknown fields.
    #[must_use]
    pub fn new(event_id: EventId, data: EventData) -> Self {
        Self {
            event_id,
            data,
            data_encoding: DataEncoding::Object,
            extra: UnknownFields::default(),
        }
    }

    /// The event id.
    #[must_use]
    pub fn event_id(&self) -> &EventId {
        &self.event_id
    }

    /// The event name, as received (`account_credit`, `payment_completed`, ...).
    #[must_use]
    pub fn event_name(&self) -> &str {
        self.data.name()
    }

    /// The typed data.
    #[must_use]
    pub fn data(&self) -> &EventData {
        &self.data
    }

    /// How `data` was encoded on the wire.
    #[must_use]
    pub fn data_encoding(&self) -> DataEncoding {
        self.data_encoding
    }

    /// The webhook subscription that produces this event, or `None` for an event this version does not know.
    #[must_use]
    pub fn subscription(&self) -> Option<WebhookEventType> {
        self.data.kind().map(EventKind::subscription)
    }

    /// The amount of an account transaction or a payment (`None` for a trade, which has two amounts).
    #[must_use]
    pub fn amount(&self) -> Option<&Amount> {
        match &self.data {
            EventData::AccountCredit(t) | EventData::AccountDebit(t) => Some(&t.amount),
            EventData::PaymentCompleted(p) => Some(&p.amount),
            _ => None,
        }
    }

    /// The currency of an account transaction (`ccyCode`) or a payment (`None` for a trade).
    #[must_use]
    pub fn currency(&self) -> Option<&CurrencyCode> {
        match &self.data {
            EventData::AccountCredit(t) | EventData::AccountDebit(t) => Some(&t.ccy_code),
            EventData::PaymentCompleted(p) => Some(&p.currency),
            _ => None,
        }
    }

    /// The id of the object the event is about, for a known event.
    #[must_use]
    pub fn object_id(&self) -> Option<ObjectId> {
        match &self.data {
            EventData::AccountCredit(t) | EventData::AccountDebit(t) => Some(t.object_id),
            EventData::PaymentCompleted(p) => Some(p.object_id),
            EventData::TradeSettled(t) => Some(t.object_id),
            _ => None,
        }
    }

    /// The user the event is about, for a known event.
    #[must_use]
    pub fn user_id(&self) -> Option<&UserId> {
        match &self.data {
            EventData::AccountCredit(t) | EventData::AccountDebit(t) => Some(&t.user_id),
            EventData::PaymentCompleted(p) => Some(&p.user_id),
            EventData::TradeSettled(t) => Some(&t.user_id),
            _ => None,
        }
    }

    /// The canonical form as JSON text (what [`Serialize`] writes).
    ///
    /// # Errors
    ///
    /// Never for a notification read from JSON; only if a value built by hand cannot be written.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// The notification as JSON text with `data` in the given encoding (as CXTN may send it).
    ///
    /// # Errors
    ///
    /// As [`Notification::to_json`].
    pub fn to_json_with(&self, encoding: DataEncoding) -> Result<String, serde_json::Error> {
        match encoding {
            DataEncoding::Object => self.to_json(),
            DataEncoding::String => serde_json::to_string(&WithDataAsString(self)),
        }
    }
}

impl PartialEq for Notification {
    fn eq(&self, other: &Self) -> bool {
        self.event_id == other.event_id && self.data == other.data && self.extra == other.extra
    }
}

impl Serialize for Notification {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_envelope(self, serializer, false)
    }
}

struct WithDataAsString<'a>(&'a Notification);

impl Serialize for WithDataAsString<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_envelope(self.0, serializer, true)
    }
}

fn serialize_envelope<S: Serializer>(n: &Notification, serializer: S, data_as_string: bool) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(None)?;
    map.serialize_entry("eventId", &n.event_id)?;
    map.serialize_entry("event", n.event_name())?;
    if !matches!(
        &n.data,
        EventData::Unknown(UnknownEvent {
            data: UnknownData::Absent,
            ..
        })
    ) {
        if data_as_string
            && !matches!(
                &n.data,
                EventData::Unknown(UnknownEvent {
                    data: UnknownData::Text(_),
                    ..
                })
            )
        {
            let text = serde_json::to_string(&n.data).map_err(serde::ser::Error::custom)?;
            map.serialize_entry("data", &text)?;
        } else {
            map.serialize_entry("data", &n.data)?;
        }
    }
    for (key, value) in n.extra.iter() {
        map.serialize_entry(key, value)?;
    }
    map.end()
}

/// How `data` was encoded on the wire: CXTN sends both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DataEncoding {
    /// `"data": {...}`.
    #[default]
    Object,
    /// `"data": "{...}"`: a string holding JSON, as older deliveries send it.
    String,
}

impl DataEncoding {
    /// `object` or `string`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Object => "object",
            Self::String => "string",
        }
    }
}

impl fmt::Display for DataEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The events this version knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// `account_credit`: funds reached an account or a pot.
    AccountCredit,
    /// `account_debit`: funds left an account or a pot.
    AccountDebit,
    /// `payment_completed`: a payment reached its beneficiary.
    PaymentCompleted,
    /// `trade_settled`: an FX trade settled.
    TradeSettled,
}

impl EventKind {
    /// Every known event.
    pub const ALL: [Self; 4] = [
        Self::AccountCredit,
        Self::AccountDebit,
        Self::PaymentCompleted,
        Self::TradeSettled,
    ];

    /// The event's name on the wire.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::AccountCredit => "account_credit",
            Self::AccountDebit => "account_debit",
            Self::PaymentCompleted => "payment_completed",
            Self::TradeSettled => "trade_settled",
        }
    }

    /// The event with this wire name (exact, as CXTN sends it).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The webhook subscription that produces the event.
    #[must_use]
    pub fn subscription(self) -> WebhookEventType {
        match self {
            Self::AccountCredit | Self::AccountDebit => WebhookEventType::AccountTransaction,
            Self::PaymentCompleted | Self::TradeSettled => WebhookEventType::Payment,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The event and its typed data.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventData {
    /// `account_credit`.
    AccountCredit(AccountTransaction),
    /// `account_debit`.
    AccountDebit(AccountTransaction),
    /// `payment_completed`.
    PaymentCompleted(PaymentCompleted),
    /// `trade_settled`.
    TradeSettled(TradeSettled),
    /// An event this version does not know, kept whole.
    Unknown(UnknownEvent),
}

impl EventData {
    /// The event's name on the wire.
    #[must_use]
    pub fn name(&self) -> &str {
        match (self.kind(), self) {
            (_, Self::Unknown(unknown)) => &unknown.name,
            (Some(kind), _) => kind.name(),
            (None, _) => "",
        }
    }

    /// The known event, or `None` for an unknown one.
    #[must_use]
    pub fn kind(&self) -> Option<EventKind> {
        Some(match self {
            Self::AccountCredit(_) => EventKind::AccountCredit,
            Self::AccountDebit(_) => EventKind::AccountDebit,
            Self::PaymentCompleted(_) => EventKind::PaymentCompleted,
            Self::TradeSettled(_) => EventKind::TradeSettled,
            Self::Unknown(_) => return None,
        })
    }

    /// The account transaction of a credit or debit.
    #[must_use]
    pub fn as_account_transaction(&self) -> Option<&AccountTransaction> {
        match self {
            Self::AccountCredit(t) | Self::AccountDebit(t) => Some(t),
            _ => None,
        }
    }
}

impl Serialize for EventData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::AccountCredit(t) | Self::AccountDebit(t) => t.serialize(serializer),
            Self::PaymentCompleted(p) => p.serialize(serializer),
            Self::TradeSettled(t) => t.serialize(serializer),
            Self::Unknown(u) => u.data.serialize(serializer),
        }
    }
}

/// An event this version does not know: its name and its data, kept as received.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UnknownEvent {
    /// The `event` name.
    pub name: String,
    /// The `data`.
    pub data: UnknownData,
}

impl UnknownEvent {
    /// An unknown event.
    #[must_use]
    pub fn new(name: impl Into<String>, data: UnknownData) -> Self {
        Self {
            name: name.into(),
            data,
        }
    }
}

/// The `data` of an unknown event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum UnknownData {
    /// JSON: sent as JSON, or as a string holding JSON (decoded once).
    Json(RawJson),
    /// A string that holds no JSON (or holds only a JSON string), kept as it is.
    Text(String),
    /// No `data` field.
    Absent,
}

impl Serialize for UnknownData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Json(raw) => raw.serialize(serializer),
            Self::Text(text) => serializer.serialize_str(text),
            Self::Absent => serializer.serialize_none(),
        }
    }
}

/// Where the money of an account transaction came from (`source` on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransactionSource {
    /// `deposit`: funds paid in from outside.
    Deposit,
    /// `account_to_account_transfer`: a transfer between accounts.
    AccountToAccountTransfer,
    /// `account_internal_transfer`: a move between an account and one of its pots.
    AccountInternalTransfer,
    /// A source this version does not know, kept as received.
    Unknown(String),
}

impl TransactionSource {
    /// The name on the wire.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Deposit => "deposit",
            Self::AccountToAccountTransfer => "account_to_account_transfer",
            Self::AccountInternalTransfer => "account_internal_transfer",
            Self::Unknown(other) => other,
        }
    }

    /// The source named on the wire; never fails.
    #[must_use]
    pub fn from_wire(name: &str) -> Self {
        match name {
            "deposit" => Self::Deposit,
            "account_to_account_transfer" => Self::AccountToAccountTransfer,
            "account_internal_transfer" => Self::AccountInternalTransfer,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

impl fmt::Display for TransactionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TransactionSource {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TransactionSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = crate::fields::Key::deserialize(deserializer)?;
        Ok(Self::from_wire(name.as_str()))
    }
}

event_fields! {
    /// The `data` of `account_credit` and `account_debit`: money into or out of an account or a pot.
    pub struct AccountTransaction {
        /// `objectId`: the transaction.
        object_id: ObjectId = "objectId",
        /// `userId`: the account holder.
        user_id: UserId = "userId",
        /// `source`: where the money came from.
        source: TransactionSource = "source",
        /// `origin`, such as `Automatic Allocation`.
        origin: String = "origin",
        /// `amount`: negative on debits.
        amount: Amount = "amount",
        /// `baseCcyCode`: the account's base currency.
        base_ccy_code: CurrencyCode = "baseCcyCode",
        /// `ccyCode`: the currency moved (`CC-GBP` for a pot).
        ccy_code: CurrencyCode = "ccyCode",
        /// `transactionDateTime`.
        transaction_date_time: Timestamp = "transactionDateTime",
    }
}

impl AccountTransaction {
    /// Whether money moved between an account and one of its pots
    /// (`source` is `account_internal_transfer`, or the currency is a pot's `CC-` code).
    #[must_use]
    pub fn is_pot_movement(&self) -> bool {
        self.source == TransactionSource::AccountInternalTransfer || self.ccy_code.is_pot()
    }
}

event_fields! {
    /// The `data` of `payment_completed`: a payment reached its beneficiary.
    pub struct PaymentCompleted {
        /// `objectId`: the payment.
        object_id: ObjectId = "objectId",
        /// `userId`: the payer.
        user_id: UserId = "userId",
        /// `amount`.
        amount: Amount = "amount",
        /// `currency`.
        currency: CurrencyCode = "currency",
    }
}

event_fields! {
    /// The `data` of `trade_settled`: an FX trade settled.
    pub struct TradeSettled {
        /// `objectId`: the trade.
        object_id: ObjectId = "objectId",
        /// `userId`: the client.
        user_id: UserId = "userId",
        /// `sellCurrency`.
        sell_currency: CurrencyCode = "sellCurrency",
        /// `sellAmount`.
        sell_amount: Amount = "sellAmount",
        /// `buyCurrency`.
        buy_currency: CurrencyCode = "buyCurrency",
        /// `buyAmount`.
        buy_amount: Amount = "buyAmount",
        /// `balanceDue`: `null` when nothing is due (an absent field reads as `null`).
        balance_due: Option<Amount> = "balanceDue",
        /// `fundedAmount`: `null` when not funded (an absent field reads as `null`).
        funded_amount: Option<Amount> = "fundedAmount",
    }
}
