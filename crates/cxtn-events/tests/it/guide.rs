//! The seven samples of CXTN's guide, each in both encodings of `data`.

use cxtn_events::parse;
use cxtn_model::{
    AccountTransaction, DataEncoding, EventData, Notification, PaymentCompleted, TradeSettled, TransactionSource,
    WebhookEventType,
};

use crate::fixtures::valid;

const SAMPLES: [&str; 7] = [
    "funds_in",
    "payment_complete",
    "trade_settled",
    "account_credit",
    "account_debit",
    "pot_credit",
    "pot_debit",
];

fn both(name: &str) -> (Notification, Notification) {
    (
        valid(&format!("{name}.object.json")),
        valid(&format!("{name}.string.json")),
    )
}

fn account_transaction(n: &Notification) -> &AccountTransaction {
    n.data().as_account_transaction().unwrap()
}

fn payment(n: &Notification) -> &PaymentCompleted {
    match n.data() {
        EventData::PaymentCompleted(p) => p,
        other => panic!("expected payment_completed, got {other:?}"),
    }
}

fn trade(n: &Notification) -> &TradeSettled {
    match n.data() {
        EventData::TradeSettled(t) => t,
        other => panic!("expected trade_settled, got {other:?}"),
    }
}

/// The `data` string of a body whose `data` is a string.
fn data_string(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Envelope {
        data: String,
    }
    serde_json::from_str::<Envelope>(body).unwrap().data
}

#[test]
fn both_encodings_parse_to_equal_notifications() {
    for name in SAMPLES {
        let (object, string) = both(name);
        assert_eq!(object, string, "{name}");
        assert_eq!(object.data_encoding(), DataEncoding::Object, "{name}");
        assert_eq!(string.data_encoding(), DataEncoding::String, "{name}");
        assert_eq!(
            object.to_json().unwrap(),
            string.to_json().unwrap(),
            "{name}: the canonical forms differ"
        );
        let object_amounts: Vec<&str> = crate::amounts(object.data()).into_iter().map(|a| a.as_str()).collect();
        let string_amounts: Vec<&str> = crate::amounts(string.data()).into_iter().map(|a| a.as_str()).collect();
        assert_eq!(object_amounts, string_amounts, "{name}");
        assert!(object.event_id().is_conventional(), "{name}");
        assert!(object.extra.is_empty() && string.extra.is_empty(), "{name}");
    }
}

#[test]
fn writing_data_as_a_string_gives_the_guides_data_string() {
    for name in SAMPLES {
        let (object, _) = both(name);
        let written = data_string(&object.to_json_with(DataEncoding::String).unwrap());
        let printed =
            std::fs::read_to_string(crate::fixtures::dir("valid").join(format!("{name}.string.json"))).unwrap();
        assert_eq!(written, data_string(&printed), "{name}");
        let again = parse(object.to_json_with(DataEncoding::String).unwrap().as_bytes()).unwrap();
        assert_eq!(again, object, "{name}");
        assert_eq!(again.data_encoding(), DataEncoding::String, "{name}");
    }
}

#[test]
fn the_guides_first_data_string_is_exact() {
    let printed = std::fs::read_to_string(crate::fixtures::dir("valid").join("funds_in.string.json")).unwrap();
    assert_eq!(
        data_string(&printed),
        r#"{"objectId":654254,"userId":"C00081866","source":"deposit","origin":"Automatic Allocation","amount":1000.00,"baseCcyCode":"GBP","ccyCode":"GBP","transactionDateTime":"2023-12-18T16:28:28.3027309"}"#
    );
}

#[test]
fn funds_in() {
    for n in <[_; 2]>::from(both("funds_in")) {
        assert_eq!(n.event_id().as_str(), "wh_f79f07d55bcd4cb893c41575b7c1b8f6");
        assert_eq!(n.event_name(), "account_credit");
        assert_eq!(n.subscription(), Some(WebhookEventType::AccountTransaction));
        assert_eq!(n.amount().unwrap().as_str(), "1000.00");
        assert_eq!(n.amount().unwrap().to_string(), "1000.00");
        assert_eq!(n.amount().unwrap().value(), cxtn_model::Decimal::new(100_000, 2));
        assert_eq!(n.object_id().unwrap().get(), 654_254);
        assert_eq!(n.user_id().unwrap().as_str(), "C00081866");
        let t = account_transaction(&n);
        assert!(matches!(n.data(), EventData::AccountCredit(_)));
        assert_eq!(t.source, TransactionSource::Deposit);
        assert_eq!(t.origin, "Automatic Allocation");
        assert_eq!(t.base_ccy_code.as_str(), "GBP");
        assert_eq!(t.ccy_code.as_str(), "GBP");
        assert_eq!(t.transaction_date_time.as_str(), "2023-12-18T16:28:28.3027309");
        assert_eq!(t.transaction_date_time.offset(), None);
        assert!(!t.is_pot_movement());
        assert!(!t.amount.is_negative());
    }
}

#[test]
fn payment_complete() {
    for n in <[_; 2]>::from(both("payment_complete")) {
        assert_eq!(n.event_id().as_str(), "wh_4d9373d27e4e4c24bbb39c00b6dcd3e7");
        assert_eq!(n.event_name(), "payment_completed");
        assert_eq!(n.subscription(), Some(WebhookEventType::Payment));
        let p = payment(&n);
        assert_eq!(p.object_id.get(), 162_953);
        assert_eq!(p.user_id.as_str(), "C00081866");
        assert_eq!(p.amount.as_str(), "10.00");
        assert_eq!(p.currency.as_str(), "GBP");
        assert_eq!(n.currency().unwrap().as_str(), "GBP");
    }
}

#[test]
fn trade_settled() {
    for n in <[_; 2]>::from(both("trade_settled")) {
        assert_eq!(n.event_id().as_str(), "wh_b5bc5ac1b6734f18b9701db5cd153a4e");
        assert_eq!(n.event_name(), "trade_settled");
        assert_eq!(n.subscription(), Some(WebhookEventType::Payment));
        assert_eq!(n.amount(), None, "a trade has two amounts");
        assert_eq!(n.currency(), None);
        let t = trade(&n);
        assert_eq!(t.object_id.get(), 282_564);
        assert_eq!(t.user_id.as_str(), "C00084146");
        assert_eq!(t.sell_currency.as_str(), "GBP");
        assert_eq!(t.sell_amount.as_str(), "218.70");
        assert_eq!(t.buy_currency.as_str(), "AED");
        assert_eq!(t.buy_amount.as_str(), "1000.00");
        assert_eq!(t.balance_due, None);
        assert_eq!(t.funded_amount, None);
        assert!(
            n.to_json()
                .unwrap()
                .contains(r#""balanceDue":null,"fundedAmount":null"#)
        );
    }
}

#[test]
fn account_credit() {
    for n in <[_; 2]>::from(both("account_credit")) {
        assert_eq!(n.event_id().as_str(), "wh_c3f042548b624eb1a0ba9a57be8290f4");
        assert_eq!(n.subscription(), Some(WebhookEventType::AccountTransaction));
        assert!(matches!(n.data(), EventData::AccountCredit(_)));
        let t = account_transaction(&n);
        assert_eq!(t.object_id.get(), 661_428);
        assert_eq!(t.user_id.as_str(), "AP00085025");
        assert_eq!(t.source, TransactionSource::AccountToAccountTransfer);
        assert_eq!(t.amount.as_str(), "10");
        assert!(!t.amount.is_negative());
        assert!(!t.is_pot_movement());
        assert_eq!(t.transaction_date_time.as_str(), "2024-02-21T11:58:01.9953917");
    }
}

#[test]
fn account_debit() {
    for n in <[_; 2]>::from(both("account_debit")) {
        assert_eq!(n.event_id().as_str(), "wh_61d20530f4d34936a38ac82979d3f5e2");
        assert_eq!(n.event_name(), "account_debit");
        assert_eq!(n.subscription(), Some(WebhookEventType::AccountTransaction));
        assert!(matches!(n.data(), EventData::AccountDebit(_)));
        let t = account_transaction(&n);
        assert_eq!(t.object_id.get(), 661_427);
        assert_eq!(t.amount.as_str(), "-10");
        assert!(t.amount.is_negative());
        assert!(!t.is_pot_movement());
        assert_eq!(t.transaction_date_time.as_str(), "2024-02-21T11:58:01.9016343");
    }
}

#[test]
fn pot_credit() {
    for n in <[_; 2]>::from(both("pot_credit")) {
        assert_eq!(n.event_id().as_str(), "wh_3d0e35a456274850b59e59411ad37d48");
        assert_eq!(n.subscription(), Some(WebhookEventType::AccountTransaction));
        assert!(matches!(n.data(), EventData::AccountCredit(_)));
        let t = account_transaction(&n);
        assert!(t.is_pot_movement());
        assert_eq!(t.source, TransactionSource::AccountInternalTransfer);
        assert_eq!(t.ccy_code.as_str(), "CC-GBP");
        assert!(t.ccy_code.is_pot());
        assert_eq!(t.ccy_code.currency(), "GBP");
        assert_eq!(t.base_ccy_code.as_str(), "GBP");
        assert_eq!(t.amount.as_str(), "10");
        assert_eq!(t.transaction_date_time.as_str(), "2024-02-21T11:43:22.2079875");
    }
}

#[test]
fn pot_debit() {
    for n in <[_; 2]>::from(both("pot_debit")) {
        assert_eq!(n.event_id().as_str(), "wh_71f5a5f7d15544a5a1e70b395e2d7980");
        assert_eq!(n.subscription(), Some(WebhookEventType::AccountTransaction));
        assert!(matches!(n.data(), EventData::AccountDebit(_)));
        let t = account_transaction(&n);
        assert!(
            t.is_pot_movement(),
            "an internal transfer is a pot movement even in GBP"
        );
        assert!(!t.ccy_code.is_pot());
        assert_eq!(t.amount.as_str(), "-10");
        assert!(t.amount.is_negative());
        assert_eq!(t.object_id.get(), 661_413);
        assert_eq!(t.transaction_date_time.as_str(), "2024-02-21T11:43:21.8642125");
    }
}

#[test]
fn the_fixtures_agree_with_the_crates_own_copy_of_the_guide() {
    assert_eq!(cxtn_events::samples::GUIDE.len(), SAMPLES.len());
    for sample in &cxtn_events::samples::GUIDE {
        let from_crate = parse(sample.body.as_bytes()).unwrap();
        let file = format!("{}.{}.json", sample.name, sample.encoding.as_str());
        let from_fixture = valid(&file);
        assert_eq!(from_crate, from_fixture, "{file}");
        assert_eq!(from_crate.data_encoding(), from_fixture.data_encoding(), "{file}");
        assert_eq!(from_crate.to_json().unwrap(), from_fixture.to_json().unwrap(), "{file}");
        assert_eq!(from_crate.event_name(), sample.event, "{file}");
    }
}
