//! Enumerations whose values CXTN defines: webhook event types and endpoint statuses.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock, PoisonError};

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};
use serde_json::Value;

/// The most bytes of JSON text an [`Unknown`] keeps inline; a longer text is interned.
const INLINE: usize = 62;

/// A value CXTN sent that this version does not know, kept exactly as received.
///
/// It is a small `Copy` value, so that the enums holding it are `Copy` and `Hash` too: the value's compact JSON
/// text is kept inline when it is at most 62 bytes long (every value of CXTN's tables), and otherwise interned
/// once per distinct text for the life of the process.
/// Either way nothing is lost: an unknown event type `7`, `"Loans"` or `{"id": 7, "name": "Loans"}` is kept and
/// written back as received.
///
/// ```
/// use cxtn_model::WebhookEventType;
///
/// let kind = WebhookEventType::from_wire(&serde_json::json!("Loans"));
/// let copy = kind; // `Copy`: `kind` stays usable
/// let WebhookEventType::Unknown(unknown) = copy else { unreachable!() };
/// assert_eq!(unknown.as_value(), serde_json::json!("Loans"));
/// assert_eq!(serde_json::to_string(&kind)?, r#""Loans""#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Unknown(Repr);

#[derive(Clone, Copy)]
enum Repr {
    /// The JSON text in the first `len` bytes.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// A longer JSON text, interned.
    Interned(&'static str),
}

/// Keeps `text` for the life of the process, once per distinct text.
fn intern(text: String) -> &'static str {
    static INTERNED: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut interned = INTERNED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(found) = interned.get(text.as_str()) {
        return found;
    }
    let kept: &'static str = Box::leak(text.into_boxed_str());
    interned.insert(kept);
    kept
}

impl Unknown {
    fn of(value: &Value) -> Self {
        let json = value.to_string();
        match u8::try_from(json.len()) {
            Ok(len) if json.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                if let Some(slot) = bytes.get_mut(..json.len()) {
                    slot.copy_from_slice(json.as_bytes());
                }
                Self(Repr::Inline { len, bytes })
            }
            _ => Self(Repr::Interned(intern(json))),
        }
    }

    /// The value's compact JSON text, as received.
    #[must_use]
    pub fn as_json(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|text| std::str::from_utf8(text).ok())
                .unwrap_or_default(),
            Repr::Interned(text) => text,
        }
    }

    /// The value as received.
    #[must_use]
    pub fn as_value(&self) -> Value {
        serde_json::from_str(self.as_json()).unwrap_or(Value::Null)
    }
}

impl PartialEq for Unknown {
    fn eq(&self, other: &Self) -> bool {
        self.as_json() == other.as_json()
    }
}

impl Eq for Unknown {}

impl PartialOrd for Unknown {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Unknown {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_json().cmp(other.as_json())
    }
}

impl std::hash::Hash for Unknown {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_json().hash(state);
    }
}

impl fmt::Debug for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Unknown")
            .field(&format_args!("{}", self.as_json()))
            .finish()
    }
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_value() {
            Value::String(s) => f.write_str(&s),
            other => write!(f, "{other}"),
        }
    }
}

impl Serialize for Unknown {
    /// Writes the value back as received.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.as_value().serialize(serializer)
    }
}

/// Lowercases and drops separators, so `Account Transaction`, `account_transaction` and `ACCOUNTTRANSACTION` match.
fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The kind of event a webhook endpoint subscribes to (`WebhookEventType` on the wire).
///
/// CXTN sends notifications for [`Payment`](Self::Payment) and
/// [`AccountTransaction`](Self::AccountTransaction) only; the other types exist in the API
/// but CXTN documents them as inactive ([`WebhookEventType::sends_notifications`]).
///
/// Reading is lenient: names in any case (`payment`, `Account Transaction`), the alias `Wallets`,
/// numbers 0 to 6 and numeric strings. Anything else becomes [`Unknown`](Self::Unknown) and is
/// written back as received. Writing sends the name from CXTN's table as a JSON string.
///
/// ```
/// use cxtn_model::WebhookEventType;
///
/// let kind: WebhookEventType = "account_transaction".parse()?;
/// assert_eq!(kind, WebhookEventType::AccountTransaction);
/// assert_eq!(kind.value(), Some(2));
/// assert!(kind.sends_notifications());
/// assert!(!WebhookEventType::Wallet.sends_notifications());
/// # Ok::<(), cxtn_model::ParseKindError>(())
/// ```
/// It is `Copy`, `Hash` and `Ord` (in the order of CXTN's table, unknown values last), so it can key a map or
/// be reused in a loop.
///
/// ```
/// use std::collections::HashMap;
/// use cxtn_model::WebhookEventType;
///
/// let kind = WebhookEventType::Payment;
/// let mut urls = HashMap::new();
/// for url in ["https://a.example/cxtn", "https://b.example/cxtn"] {
///     urls.insert(kind, url);
/// }
/// assert_eq!(urls[&kind], "https://b.example/cxtn");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum WebhookEventType {
    /// 0: trades (CXTN sends nothing for it).
    Trade,
    /// 1: payments: `payment_completed` and `trade_settled`.
    Payment,
    /// 2: account transactions: `account_credit` and `account_debit`, pots included.
    AccountTransaction,
    /// 3: wallets (CXTN sends nothing for it).
    Wallet,
    /// 4: cards (CXTN sends nothing for it).
    Card,
    /// 5: quotes (CXTN sends nothing for it).
    Quote,
    /// 6: bulk payments (CXTN sends nothing for it).
    BulkPayments,
    /// A value this version does not know, kept as received.
    Unknown(Unknown),
}

/// Why a name is not a known [`WebhookEventType`] or [`EndpointStatus`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not a known {what}; use one of: {expected}")]
pub struct ParseKindError {
    given: String,
    what: &'static str,
    expected: &'static str,
}

impl WebhookEventType {
    /// The types CXTN's table defines, in the order of their numbers.
    pub const ALL: [Self; 7] = [
        Self::Trade,
        Self::Payment,
        Self::AccountTransaction,
        Self::Wallet,
        Self::Card,
        Self::Quote,
        Self::BulkPayments,
    ];

    /// The number CXTN's table gives the type, or `None` for an unknown value.
    #[must_use]
    pub fn value(&self) -> Option<u8> {
        Some(match self {
            Self::Trade => 0,
            Self::Payment => 1,
            Self::AccountTransaction => 2,
            Self::Wallet => 3,
            Self::Card => 4,
            Self::Quote => 5,
            Self::BulkPayments => 6,
            Self::Unknown(_) => return None,
        })
    }

    /// The type for a number of CXTN's table.
    #[must_use]
    pub fn from_value(value: u64) -> Option<Self> {
        usize::try_from(value).ok().and_then(|i| Self::ALL.get(i).copied())
    }

    /// The name CXTN's table gives the type, as sent on the wire; for an unknown value, `None`.
    #[must_use]
    pub fn name(&self) -> Option<&'static str> {
        Some(match self {
            Self::Trade => "Trade",
            Self::Payment => "Payment",
            Self::AccountTransaction => "AccountTransaction",
            Self::Wallet => "Wallet",
            Self::Card => "Card",
            Self::Quote => "Quote",
            Self::BulkPayments => "BulkPayments",
            Self::Unknown(_) => return None,
        })
    }

    /// Whether CXTN sends notifications for this type.
    ///
    /// CXTN's guide marks every type but `Payment` and `AccountTransaction` inactive:
    /// an endpoint for them can be created but receives nothing.
    #[must_use]
    pub fn sends_notifications(&self) -> bool {
        matches!(self, Self::Payment | Self::AccountTransaction)
    }

    /// The notification events CXTN documents for this type.
    #[must_use]
    pub fn events(&self) -> &'static [&'static str] {
        match self {
            Self::Payment => &["payment_completed", "trade_settled"],
            Self::AccountTransaction => &["account_credit", "account_debit"],
            _ => &[],
        }
    }

    /// Reads a type leniently, as from the wire: never fails, keeps what it does not know.
    #[must_use]
    pub fn from_wire(value: &Value) -> Self {
        let known = match value {
            Value::Number(n) => n.as_u64().and_then(Self::from_value),
            Value::String(s) => Self::from_name(s),
            _ => None,
        };
        known.unwrap_or_else(|| Self::Unknown(Unknown::of(value)))
    }

    fn from_name(name: &str) -> Option<Self> {
        if let Ok(n) = name.trim().parse::<u64>() {
            return Self::from_value(n);
        }
        Some(match fold(name).as_str() {
            "trade" | "trades" => Self::Trade,
            "payment" | "payments" => Self::Payment,
            "accounttransaction" | "accounttransactions" => Self::AccountTransaction,
            "wallet" | "wallets" => Self::Wallet,
            "card" | "cards" => Self::Card,
            "quote" | "quotes" => Self::Quote,
            "bulkpayment" | "bulkpayments" => Self::BulkPayments,
            _ => return None,
        })
    }
}

impl FromStr for WebhookEventType {
    type Err = ParseKindError;

    /// Reads a name or number of CXTN's table; unlike reading from the wire, an unknown value is an error.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or_else(|| ParseKindError {
            given: s.to_owned(),
            what: "webhook event type",
            expected: "Trade (0), Payment (1), AccountTransaction (2), Wallet (3), Card (4), Quote (5), BulkPayments (6)",
        })
    }
}

impl fmt::Display for WebhookEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self) {
            (Some(name), _) => f.write_str(name),
            (None, Self::Unknown(unknown)) => write!(f, "{unknown}"),
            (None, _) => Ok(()),
        }
    }
}

impl Serialize for WebhookEventType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.name(), self) {
            (_, Self::Unknown(unknown)) => unknown.serialize(serializer),
            (Some(name), _) => serializer.serialize_str(name),
            (None, _) => serializer.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for WebhookEventType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(|v| Self::from_wire(&v))
    }
}

/// Whether a webhook endpoint receives notifications (`Status` on the wire).
///
/// Reading is lenient: names in any case; anything else (a number included, since CXTN publishes
/// no numbering) becomes [`Unknown`](Self::Unknown) and is written back as received.
///
/// It is `Copy` and `Hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndpointStatus {
    /// Notifications are delivered.
    Active,
    /// Notifications are not delivered.
    Inactive,
    /// Notifications are held (as CXTN's guide names the state; what CXTN does with them is not published).
    Paused,
    /// A value this version does not know, kept as received.
    Unknown(Unknown),
}

impl EndpointStatus {
    /// The name sent on the wire, or `None` for an unknown value.
    #[must_use]
    pub fn name(&self) -> Option<&'static str> {
        Some(match self {
            Self::Active => "Active",
            Self::Inactive => "Inactive",
            Self::Paused => "Paused",
            Self::Unknown(_) => return None,
        })
    }

    /// Whether the endpoint is active.
    #[must_use]
    pub fn is_active(&self) -> bool {
        matches!(self, Self::Active)
    }

    /// Reads a status leniently, as from the wire: never fails, keeps what it does not know.
    #[must_use]
    pub fn from_wire(value: &Value) -> Self {
        let known = match value {
            Value::String(s) => Self::from_name(s),
            _ => None,
        };
        known.unwrap_or_else(|| Self::Unknown(Unknown::of(value)))
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match fold(name).as_str() {
            "active" => Self::Active,
            "inactive" => Self::Inactive,
            "paused" => Self::Paused,
            _ => return None,
        })
    }
}

impl FromStr for EndpointStatus {
    type Err = ParseKindError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or_else(|| ParseKindError {
            given: s.to_owned(),
            what: "endpoint status",
            expected: "Active, Inactive, Paused",
        })
    }
}

impl fmt::Display for EndpointStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self) {
            (Some(name), _) => f.write_str(name),
            (None, Self::Unknown(unknown)) => write!(f, "{unknown}"),
            (None, _) => Ok(()),
        }
    }
}

impl Serialize for EndpointStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.name(), self) {
            (_, Self::Unknown(unknown)) => unknown.serialize(serializer),
            (Some(name), _) => serializer.serialize_str(name),
            (None, _) => serializer.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for EndpointStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(|v| Self::from_wire(&v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_types_read_leniently() {
        let cases = [
            (json!("Payment"), WebhookEventType::Payment),
            (json!("payment"), WebhookEventType::Payment),
            (json!("Wallets"), WebhookEventType::Wallet),
            (json!("Account Transaction"), WebhookEventType::AccountTransaction),
            (json!("BULKPAYMENTS"), WebhookEventType::BulkPayments),
            (json!(0), WebhookEventType::Trade),
            (json!(6), WebhookEventType::BulkPayments),
            (json!("2"), WebhookEventType::AccountTransaction),
        ];
        for (wire, expected) in cases {
            let read: WebhookEventType = serde_json::from_value(wire.clone()).unwrap();
            assert_eq!(read, expected, "{wire}");
        }
        for wire in [json!(7), json!("Loans"), json!(null), json!(-1), json!({"a": 1})] {
            let read: WebhookEventType = serde_json::from_value(wire.clone()).unwrap();
            assert_eq!(read, WebhookEventType::Unknown(Unknown::of(&wire)));
            assert_eq!(
                serde_json::to_value(read).unwrap(),
                wire,
                "unknown values are written back"
            );
        }
    }

    #[test]
    fn unknown_values_are_kept_whatever_their_length() {
        let short = json!({"id": 7, "name": "Loans", "note": "fits in the inline text"});
        assert!(short.to_string().len() <= INLINE);
        let long = json!({"name": "a name far longer than any of CXTN's tables would ever hold", "id": 7});
        assert!(long.to_string().len() > INLINE);
        for wire in [short, long] {
            let kind = WebhookEventType::from_wire(&wire);
            let WebhookEventType::Unknown(unknown) = kind else {
                panic!("{kind:?} should be unknown")
            };
            assert_eq!(unknown.as_value(), wire);
            assert_eq!(unknown.as_json(), wire.to_string());
            assert_eq!(serde_json::to_value(kind).unwrap(), wire, "written back as received");
            let again = WebhookEventType::from_wire(&wire);
            assert_eq!(again, kind);
            use std::hash::BuildHasher;
            let state = std::hash::RandomState::new();
            assert_eq!(state.hash_one(again), state.hash_one(kind));
        }
        let text = json!("a string far longer than sixty-two bytes, which is interned once and reused");
        let (a, b) = (Unknown::of(&text), Unknown::of(&text));
        match (a.0, b.0) {
            (Repr::Interned(a), Repr::Interned(b)) => assert!(std::ptr::eq(a, b), "interned once"),
            _ => panic!("a long text is interned"),
        }
        assert_eq!(a.to_string(), text.as_str().unwrap());
    }

    #[test]
    fn kinds_are_copy_hash_and_ordered_as_the_table() {
        use std::collections::{BTreeSet, HashSet};
        let set: HashSet<WebhookEventType> = WebhookEventType::ALL.into_iter().chain(WebhookEventType::ALL).collect();
        assert_eq!(set.len(), 7);
        let unknown = WebhookEventType::from_wire(&json!(7));
        let ordered: Vec<_> = [unknown, WebhookEventType::AccountTransaction, WebhookEventType::Trade]
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(
            ordered,
            [WebhookEventType::Trade, WebhookEventType::AccountTransaction, unknown]
        );
        let status = EndpointStatus::Paused;
        let statuses: HashSet<EndpointStatus> = [status, status, EndpointStatus::Active].into_iter().collect();
        assert_eq!(statuses.len(), 2);
    }

    #[test]
    fn event_types_write_their_table_name() {
        for kind in WebhookEventType::ALL {
            let wire = serde_json::to_value(kind).unwrap();
            assert_eq!(wire, json!(kind.name().unwrap()));
            assert_eq!(
                WebhookEventType::from_value(u64::from(kind.value().unwrap())),
                Some(kind)
            );
        }
    }

    #[test]
    fn only_payment_and_account_transaction_send_notifications() {
        let active: Vec<_> = WebhookEventType::ALL
            .into_iter()
            .filter(WebhookEventType::sends_notifications)
            .collect();
        assert_eq!(
            active,
            [WebhookEventType::Payment, WebhookEventType::AccountTransaction]
        );
        assert_eq!(
            WebhookEventType::Payment.events(),
            ["payment_completed", "trade_settled"]
        );
        assert!(WebhookEventType::Card.events().is_empty());
    }

    #[test]
    fn parsing_a_name_refuses_unknown_values_with_the_choices() {
        let err = "Loans".parse::<WebhookEventType>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`Loans` is not a known webhook event type; use one of: Trade (0), Payment (1), AccountTransaction (2), Wallet (3), Card (4), Quote (5), BulkPayments (6)"
        );
        assert!("7".parse::<WebhookEventType>().is_err());
        assert_eq!("paused".parse::<EndpointStatus>().unwrap(), EndpointStatus::Paused);
        assert!("stopped".parse::<EndpointStatus>().is_err());
    }

    #[test]
    fn statuses_read_leniently_and_keep_the_unknown() {
        for (wire, expected) in [
            (json!("Active"), EndpointStatus::Active),
            (json!("inactive"), EndpointStatus::Inactive),
            (json!("PAUSED"), EndpointStatus::Paused),
        ] {
            assert_eq!(serde_json::from_value::<EndpointStatus>(wire).unwrap(), expected);
        }
        for wire in [json!(1), json!("Suspended")] {
            let read: EndpointStatus = serde_json::from_value(wire.clone()).unwrap();
            assert!(matches!(read, EndpointStatus::Unknown(_)));
            assert_eq!(serde_json::to_value(read).unwrap(), wire);
        }
    }
}
