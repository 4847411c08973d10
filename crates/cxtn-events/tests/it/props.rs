//! Generated notifications of every known event round-trip in both encodings, digits intact;
//! no input makes `parse` or `parse_envelope` panic, and whatever parses has the same envelope.

use std::sync::LazyLock;

use cxtn_events::{parse, parse_envelope};
use cxtn_model::{DataEncoding, EventData, EventKind, Notification, UnknownFields};
use proptest::prelude::*;
use proptest::sample::Index;

/// An amount as generated: its text and whether it is sent as a JSON string.
#[derive(Debug, Clone)]
struct Amount {
    text: String,
    quoted: bool,
}

impl Amount {
    fn json(&self) -> String {
        if self.quoted {
            format!("\"{}\"", self.text)
        } else {
            self.text.clone()
        }
    }
}

/// The typed part of a known event's `data`: its fields as JSON text, and what they must read as.
#[derive(Debug, Clone)]
struct Typed {
    kind: EventKind,
    fields: Vec<(String, String)>,
    amounts: Vec<Amount>,
    timestamp: Option<String>,
}

/// A generated notification.
#[derive(Debug, Clone)]
struct Generated {
    event_id: String,
    object_id: u64,
    user_id: String,
    typed: Typed,
    /// Every member of `data` in the order sent: the typed fields and the unknown ones, shuffled.
    data: Vec<(String, String)>,
    /// The unknown members of `data`, in the order sent.
    data_extra: Vec<(String, String)>,
    envelope_extra: Vec<(String, String)>,
    separator: &'static str,
}

impl Generated {
    fn data_text(&self) -> String {
        let members: Vec<String> = self.data.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", members.join(self.separator))
    }

    fn body(&self, encoding: DataEncoding) -> String {
        let data = match encoding {
            DataEncoding::String => serde_json::to_string(&self.data_text()).unwrap(),
            _ => self.data_text(),
        };
        let mut members = vec![
            format!("\"eventId\": {}", serde_json::to_string(&self.event_id).unwrap()),
            format!("\"event\": \"{}\"", self.typed.kind.name()),
            format!("\"data\": {data}"),
        ];
        members.extend(self.envelope_extra.iter().map(|(k, v)| format!("\"{k}\": {v}")));
        format!("{{{}}}", members.join(self.separator))
    }
}

fn amount() -> impl Strategy<Value = Amount> {
    (
        any::<bool>(),
        prop_oneof![Just("0".to_owned()), "[1-9][0-9]{0,14}"],
        "[0-9]{0,8}",
        prop::bool::weighted(0.1),
    )
        .prop_map(|(negative, int, frac, quoted)| {
            let sign = if negative { "-" } else { "" };
            let text = if frac.is_empty() {
                format!("{sign}{int}")
            } else {
                format!("{sign}{int}.{frac}")
            };
            Amount { text, quoted }
        })
}

fn currency() -> impl Strategy<Value = String> {
    prop_oneof!["[A-Z]{3}", "CC-[A-Z]{3}"]
}

fn timestamp() -> impl Strategy<Value = String> {
    let offset = prop_oneof![
        Just(String::new()),
        Just("Z".to_owned()),
        (any::<bool>(), 0..=14u32, 0..60u32)
            .prop_map(|(plus, h, m)| format!("{}{h:02}:{m:02}", if plus { '+' } else { '-' })),
    ];
    (
        (1900..2100i32, 1..=12u32, 1..=28u32),
        (0..24u32, 0..60u32, 0..60u32),
        "[0-9]{0,7}",
        offset,
    )
        .prop_map(|((y, mo, d), (h, mi, s), frac, offset)| {
            let frac = if frac.is_empty() { frac } else { format!(".{frac}") };
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{offset}")
        })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,16}", "[A-Z]{1,2}[0-9]{8}"]
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A JSON value as text, with the digits of numbers as a producer might write them.
fn unknown_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[1-9][0-9]{0,3}\\.[0-9]{0,3}0",
        "-?[0-9]\\.[0-9]{1,4}[eE][+-]?[0-9]{1,3}",
        "[1-9][0-9]{19,40}",
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("[1.10, {\"b\": 2.50}]".to_owned()),
        ".{0,12}".prop_map(|s| json_string(&s)),
    ]
}

/// Unknown members, with names no known field has.
fn extras() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map("x_[A-Za-z0-9_]{0,8}", unknown_value(), 0..4).prop_map(|m| m.into_iter().collect())
}

fn account(kind: EventKind) -> impl Strategy<Value = Typed> {
    let source = prop_oneof![
        Just("deposit".to_owned()),
        Just("account_to_account_transfer".to_owned()),
        Just("account_internal_transfer".to_owned()),
        "[a-z_]{1,24}",
    ];
    (source, text(), amount(), currency(), currency(), timestamp()).prop_map(
        move |(source, origin, amount, base, ccy, at)| Typed {
            kind,
            fields: vec![
                ("source".to_owned(), json_string(&source)),
                ("origin".to_owned(), json_string(&origin)),
                ("amount".to_owned(), amount.json()),
                ("baseCcyCode".to_owned(), json_string(&base)),
                ("ccyCode".to_owned(), json_string(&ccy)),
                ("transactionDateTime".to_owned(), json_string(&at)),
            ],
            amounts: vec![amount],
            timestamp: Some(at),
        },
    )
}

fn payment() -> impl Strategy<Value = Typed> {
    (amount(), currency()).prop_map(|(amount, currency)| Typed {
        kind: EventKind::PaymentCompleted,
        fields: vec![
            ("amount".to_owned(), amount.json()),
            ("currency".to_owned(), json_string(&currency)),
        ],
        amounts: vec![amount],
        timestamp: None,
    })
}

/// `balanceDue` and `fundedAmount`: absent, `null`, or an amount.
fn nullable() -> impl Strategy<Value = Option<Option<Amount>>> {
    prop_oneof![Just(None), Just(Some(None)), amount().prop_map(|a| Some(Some(a)))]
}

fn trade() -> impl Strategy<Value = Typed> {
    (currency(), amount(), currency(), amount(), nullable(), nullable()).prop_map(
        |(sell_ccy, sell, buy_ccy, buy, due, funded)| {
            let mut fields = vec![
                ("sellCurrency".to_owned(), json_string(&sell_ccy)),
                ("sellAmount".to_owned(), sell.json()),
                ("buyCurrency".to_owned(), json_string(&buy_ccy)),
                ("buyAmount".to_owned(), buy.json()),
            ];
            let mut amounts = vec![sell, buy];
            for (name, value) in [("balanceDue", due), ("fundedAmount", funded)] {
                match value {
                    None => {}
                    Some(None) => fields.push((name.to_owned(), "null".to_owned())),
                    Some(Some(a)) => {
                        fields.push((name.to_owned(), a.json()));
                        amounts.push(a);
                    }
                }
            }
            Typed {
                kind: EventKind::TradeSettled,
                fields,
                amounts,
                timestamp: None,
            }
        },
    )
}

fn notification() -> impl Strategy<Value = Generated> {
    let typed = prop_oneof![
        account(EventKind::AccountCredit),
        account(EventKind::AccountDebit),
        payment(),
        trade(),
    ];
    let event_id = prop_oneof!["wh_[0-9a-f]{32}", ".{0,24}"];
    (
        typed,
        event_id,
        any::<u64>(),
        text(),
        extras(),
        extras(),
        prop::sample::select(vec![",", ", ", " ,\n\t"]),
    )
        .prop_flat_map(
            |(typed, event_id, object_id, user_id, data_extra, envelope_extra, separator)| {
                let mut data = vec![
                    ("objectId".to_owned(), object_id.to_string()),
                    ("userId".to_owned(), json_string(&user_id)),
                ];
                data.extend(typed.fields.iter().cloned());
                data.extend(data_extra);
                Just(data).prop_shuffle().prop_map(move |data| {
                    let data_extra = data.iter().filter(|(k, _)| k.starts_with("x_")).cloned().collect();
                    Generated {
                        event_id: event_id.clone(),
                        object_id,
                        user_id: user_id.clone(),
                        typed: typed.clone(),
                        data,
                        data_extra,
                        envelope_extra: envelope_extra.clone(),
                        separator,
                    }
                })
            },
        )
}

fn data_extra(n: &Notification) -> &UnknownFields {
    match n.data() {
        EventData::AccountCredit(t) | EventData::AccountDebit(t) => &t.extra,
        EventData::PaymentCompleted(p) => &p.extra,
        EventData::TradeSettled(t) => &t.extra,
        other => panic!("unexpected {other:?}"),
    }
}

fn pairs(fields: &UnknownFields) -> Vec<(String, String)> {
    fields.iter().map(|(k, v)| (k.to_owned(), v.get().to_owned())).collect()
}

/// What every parsed notification must satisfy: the canonical form and the string form read back equal.
fn round_trips(n: &Notification) -> Result<(), TestCaseError> {
    let canonical = n.to_json().unwrap();
    let again = parse(canonical.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {canonical}")))?;
    prop_assert_eq!(&again, n);
    prop_assert_eq!(again.to_json().unwrap(), canonical.clone());
    let as_string = n.to_json_with(DataEncoding::String).unwrap();
    let again = parse(as_string.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {as_string}")))?;
    prop_assert_eq!(&again, n);
    prop_assert_eq!(again.to_json().unwrap(), canonical);
    Ok(())
}

/// `parse_envelope` returns on `body`, and agrees with `parse` on the id and name of whatever parses.
fn envelope_agrees(body: &[u8]) -> Result<(), TestCaseError> {
    let envelope = parse_envelope(body);
    if let Ok(n) = parse(body) {
        let envelope = envelope.map_err(|e| TestCaseError::fail(format!("the envelope of a notification: {e}")))?;
        prop_assert_eq!(&envelope.event_id, n.event_id());
        prop_assert_eq!(envelope.event.as_str(), n.event_name());
        prop_assert_eq!(envelope.subscription, n.subscription());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_notifications_round_trip_in_both_encodings(g in notification()) {
        let object_body = g.body(DataEncoding::Object);
        let string_body = g.body(DataEncoding::String);
        let object = parse(object_body.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {object_body}")))?;
        let string = parse(string_body.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {string_body}")))?;
        envelope_agrees(object_body.as_bytes())?;
        envelope_agrees(string_body.as_bytes())?;

        prop_assert_eq!(&object, &string);
        prop_assert_eq!(object.data_encoding(), DataEncoding::Object);
        prop_assert_eq!(string.data_encoding(), DataEncoding::String);
        prop_assert_eq!(object.to_json().unwrap(), string.to_json().unwrap());

        for n in [&object, &string] {
            prop_assert_eq!(n.data().kind(), Some(g.typed.kind));
            prop_assert_eq!(n.event_name(), g.typed.kind.name());
            prop_assert_eq!(n.event_id().as_str(), g.event_id.as_str());
            prop_assert_eq!(n.object_id().map(|id| id.get()), Some(g.object_id));
            prop_assert_eq!(n.user_id().map(|id| id.as_str()), Some(g.user_id.as_str()));
            prop_assert_eq!(n.subscription(), Some(g.typed.kind.subscription()));
            let amounts = crate::amounts(n.data());
            prop_assert_eq!(amounts.len(), g.typed.amounts.len());
            for (read, sent) in amounts.iter().zip(&g.typed.amounts) {
                prop_assert_eq!(read.as_str(), sent.text.as_str());
                prop_assert_eq!(read.to_string(), sent.text.clone());
                prop_assert_eq!(read.is_quoted(), sent.quoted);
                prop_assert_eq!(read.is_negative(), sent.text.starts_with('-') && sent.text.bytes().any(|b| b.is_ascii_digit() && b != b'0'));
            }
            if let (Some(t), Some(at)) = (n.data().as_account_transaction(), &g.typed.timestamp) {
                prop_assert_eq!(t.transaction_date_time.as_str(), at.as_str());
                prop_assert_eq!(t.is_pot_movement(), t.source.as_str() == "account_internal_transfer" || t.ccy_code.as_str().starts_with("CC-"));
            }
            prop_assert_eq!(pairs(data_extra(n)), g.data_extra.clone());
            prop_assert_eq!(pairs(&n.extra), g.envelope_extra.clone());
            round_trips(n)?;
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        envelope_agrees(&body)?;
        if let Ok(n) = parse(&body) {
            round_trips(&n)?;
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(body in any::<String>()) {
        envelope_agrees(body.as_bytes())?;
        if let Ok(n) = parse(body.as_bytes()) {
            round_trips(&n)?;
        }
    }

    #[test]
    fn json_like_token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(TOKENS.to_vec()), 0..48)) {
        let body = tokens.concat();
        envelope_agrees(body.as_bytes())?;
        if let Ok(n) = parse(body.as_bytes()) {
            round_trips(&n)?;
        }
    }

    #[test]
    fn mutated_fixtures_never_panic(
        fixture in any::<Index>(),
        edits in prop::collection::vec((any::<Index>(), 0..3u8, any::<u8>()), 1..6),
    ) {
        let mut body = fixture.get(VALID.as_slice()).clone();
        for (at, op, byte) in edits {
            let at = at.index(body.len() + 1);
            match op {
                0 => body.insert(at, byte),
                1 if at < body.len() => { body.remove(at); }
                _ if at < body.len() => body[at] = byte,
                _ => body.push(byte),
            }
        }
        envelope_agrees(&body)?;
        if let Ok(n) = parse(&body) {
            round_trips(&n)?;
        }
    }
}

/// Pieces of notifications, to build inputs that get past the first byte.
const TOKENS: [&str; 32] = [
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\n",
    "\"eventId\"",
    "\"event\"",
    "\"data\"",
    "\"payment_completed\"",
    "\"account_credit\"",
    "\"trade_settled\"",
    "\"objectId\"",
    "\"userId\"",
    "\"amount\"",
    "\"currency\"",
    "\"sellAmount\"",
    "\"balanceDue\"",
    "1",
    "-10",
    "1000.00",
    "1e40",
    "18446744073709551616",
    "null",
    "\"GBP\"",
    "\"x\"",
    "\"{\\\"objectId\\\":1}\"",
    "\"\\ud800\"",
    "\"\\\"\"",
    "\"2024-02-21T11:58:01Z\"",
];

static VALID: LazyLock<Vec<Vec<u8>>> = LazyLock::new(|| {
    crate::fixtures::files("valid")
        .iter()
        .map(|path| std::fs::read(path).unwrap())
        .collect()
});
