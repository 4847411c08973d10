//! What the edge-case fixtures in `tests/fixtures/valid` must read as, beyond their snapshots.

use cxtn_model::{DataEncoding, Decimal, EventData, TradeSettled, TransactionSource, UnknownData, UnknownEvent};

use crate::fixtures::valid;

fn trade(name: &str) -> TradeSettled {
    match valid(name).data {
        EventData::TradeSettled(t) => t,
        other => panic!("{name}: expected trade_settled, got {other:?}"),
    }
}

fn unknown(name: &str) -> (String, UnknownData, DataEncoding) {
    let n = valid(name);
    let encoding = n.data_encoding();
    match n.data {
        EventData::Unknown(UnknownEvent { name, data, .. }) => (name, data, encoding),
        other => panic!("{name}: expected an unknown event, got {other:?}"),
    }
}

#[test]
fn unknown_events_are_kept_whole() {
    let (name, data, encoding) = unknown("unknown_event_object.json");
    assert_eq!(name, "card_frozen");
    assert_eq!(encoding, DataEncoding::Object);
    let UnknownData::Json(raw) = data else {
        panic!("{data:?}")
    };
    assert_eq!(
        raw.get(),
        r#"{"cardId": 12345678901234567890123, "limit": 1.10, "reasons": ["lost", null, true], "at": "2024-03-01T09:00:00Z"}"#
    );

    let (name, data, encoding) = unknown("unknown_event_text.json");
    assert_eq!(name, "maintenance_notice");
    assert_eq!(encoding, DataEncoding::String);
    assert_eq!(
        data,
        UnknownData::Text("API down 02:00-03:00 UTC {not json}".to_owned())
    );

    let (_, data, encoding) = unknown("unknown_event_json_string.json");
    assert_eq!(encoding, DataEncoding::String);
    let UnknownData::Json(raw) = data else {
        panic!("{data:?}")
    };
    assert_eq!(raw.get(), r#"{"quoteId":77,"rate":4.8210,"pair":"GBPAED"}"#);

    let (_, data, _) = unknown("unknown_event_string_holding_string.json");
    assert_eq!(data, UnknownData::Text(r#""hello""#.to_owned()));

    let n = valid("unknown_event_no_data.json");
    assert_eq!(n.event_name(), "ping");
    assert_eq!(n.subscription(), None);
    assert_eq!(n.object_id(), None);
    assert_eq!(
        n.to_json().unwrap(),
        r#"{"eventId":"wh_4e5f60718293a4b5c6d7e8f90a1b2c3d","event":"ping"}"#
    );
}

#[test]
fn unknown_fields_are_kept_in_order_with_their_digits() {
    let n = valid("unknown_fields.json");
    let envelope: Vec<(&str, &str)> = n.extra.iter().map(|(k, v)| (k, v.get())).collect();
    assert_eq!(
        envelope,
        [
            ("attempt", "3"),
            ("sentAt", r#""2024-02-21T11:58:02Z""#),
            ("meta", r#"{"fee": 1.10, "tags": []}"#)
        ]
    );
    let t = n.data().as_account_transaction().unwrap();
    let data: Vec<(&str, &str)> = t.extra.iter().map(|(k, v)| (k, v.get())).collect();
    assert_eq!(
        data,
        [
            ("fee", "0.50"),
            ("reference", "null"),
            ("rate", "1.000000000000000000000000000000001")
        ]
    );
    assert_eq!(t.amount.as_str(), "10");
    let canonical = n.to_json().unwrap();
    assert!(canonical.contains(r#""fee":0.50,"reference":null,"rate":1.000000000000000000000000000000001}"#));
    assert!(canonical.ends_with(r#","attempt":3,"sentAt":"2024-02-21T11:58:02Z","meta":{"fee": 1.10, "tags": []}}"#));

    let n = valid("unknown_fields.string.json");
    assert_eq!(n.data_encoding(), DataEncoding::String);
    assert_eq!(n.extra.get("trace").unwrap().get(), "[1.10, 2.20]");
    let EventData::PaymentCompleted(p) = n.data() else {
        panic!()
    };
    assert_eq!(
        p.extra.get("beneficiary").unwrap().get(),
        r#"{"name":"ACME","fee":0.10}"#
    );
}

#[test]
fn unknown_sources_are_kept() {
    let n = valid("source_unknown.json");
    let t = n.data().as_account_transaction().unwrap();
    assert_eq!(t.source, TransactionSource::Unknown("card_refund".to_owned()));
    assert_eq!(t.source.as_str(), "card_refund");
    assert_eq!(t.amount.as_str(), "25.5");
    assert_eq!(t.transaction_date_time.as_str(), "2024-02-21T11:58:01");
    assert!(!t.is_pot_movement());
}

#[test]
fn object_ids_keep_all_64_bits() {
    assert_eq!(valid("object_id_u64_max.json").object_id().unwrap().get(), u64::MAX);
    let n = valid("object_id_above_2_53.json");
    assert_eq!(n.object_id().unwrap().get(), 9_007_199_254_740_993);
    assert!(n.to_json().unwrap().contains(r#""objectId":9007199254740993,"#));
}

#[test]
fn quoted_amounts_stay_quoted() {
    let t = trade("amount_quoted.json");
    assert_eq!(t.sell_amount.as_str(), "218.70");
    assert!(t.sell_amount.is_quoted());
    assert_eq!(t.sell_amount.value(), Decimal::new(21_870, 2));
    assert!(!t.buy_amount.is_quoted());
    let due = t.balance_due.unwrap();
    assert!(due.is_quoted() && due.is_zero());
    assert_eq!(due.as_str(), "0.00");
    let canonical = valid("amount_quoted.json").to_json().unwrap();
    assert!(canonical.contains(r#""sellAmount":"218.70","#), "{canonical}");
    assert!(canonical.contains(r#""balanceDue":"0.00","#), "{canonical}");
}

#[test]
fn exponents_keep_their_spelling_and_value() {
    let t = trade("amount_exponent.json");
    assert_eq!(t.sell_amount.as_str(), "2.187e2");
    assert_eq!(t.sell_amount.value(), Decimal::new(2187, 1));
    assert_eq!(t.buy_amount.as_str(), "1E3");
    assert_eq!(t.buy_amount.value(), Decimal::new(1000, 0));
    let due = t.balance_due.unwrap();
    assert_eq!((due.as_str(), due.value()), ("5e-2", Decimal::new(5, 2)));
    let funded = t.funded_amount.unwrap();
    assert_eq!((funded.as_str(), funded.value()), ("-1.5E+1", Decimal::new(-15, 0)));
    assert!(funded.is_negative());
}

#[test]
fn twenty_eight_decimals_are_exact() {
    let t = trade("amount_28_decimals.json");
    assert_eq!(t.sell_amount.as_str(), "1.2345678901234567890123456789");
    assert_eq!(t.sell_amount.value().scale(), 28);
    assert_eq!(t.sell_amount.value().to_string(), "1.2345678901234567890123456789");
    assert_eq!(t.buy_amount.value(), Decimal::new(1, 28));
    let due = t.balance_due.unwrap();
    assert_eq!(due.value(), Decimal::from_parts(u32::MAX, u32::MAX, u32::MAX, true, 28));
    assert_eq!(t.funded_amount.unwrap().value(), Decimal::MAX);
}

#[test]
fn timestamps_keep_their_offsets() {
    let n = valid("timestamp_utc_z.json");
    let at = &n.data().as_account_transaction().unwrap().transaction_date_time;
    assert_eq!(at.as_str(), "2024-02-21T11:58:01.9016343Z");
    assert_eq!(at.offset().map(|o| o.local_minus_utc()), Some(0));
    assert_eq!(at.to_utc().unwrap().to_rfc3339(), "2024-02-21T11:58:01.901634300+00:00");

    let n = valid("timestamp_offset.json");
    assert_eq!(n.data_encoding(), DataEncoding::String);
    let at = &n.data().as_account_transaction().unwrap().transaction_date_time;
    assert_eq!(at.as_str(), "2024-06-21T12:58:01.9953917+01:00");
    assert_eq!(at.offset().map(|o| o.local_minus_utc()), Some(3600));
    assert_eq!(at.to_utc().unwrap().to_rfc3339(), "2024-06-21T11:58:01.995391700+00:00");
}

#[test]
fn escapes_are_decoded_once() {
    let n = valid("escaped_unicode.json");
    assert_eq!(n.event_id().as_str(), "wh_f90a1b2c3d4e5f60718293a4b5c6d7e8");
    assert_eq!(n.event_name(), "account_credit");
    let t = n.data().as_account_transaction().unwrap();
    assert_eq!(t.user_id.as_str(), "C\u{e9}\u{c9}");
    assert_eq!(t.origin, "Caf\u{e9} \u{2014} \u{1f4b7} \"quoted\" \\ back/slash");
    assert_eq!(t.base_ccy_code.as_str(), "GBP");
    assert_eq!(t.transaction_date_time.as_str(), "2024-02-21T11:58:01.9953917");
    assert_eq!(t.extra.get("n\u{f8}te").unwrap().get(), r#""\u0000\u001f""#);

    let n = valid("escaped_unicode.string.json");
    assert_eq!(n.data_encoding(), DataEncoding::String);
    let EventData::PaymentCompleted(p) = n.data() else {
        panic!()
    };
    assert_eq!(p.user_id.as_str(), "C\u{e9}");
    assert_eq!(p.currency.as_str(), "GBP");
    assert_eq!(
        p.extra.get("memo").unwrap().get(),
        "\"caf\\u00e9 \\ud83d\\udcb7 \u{e9}\""
    );
}

#[test]
fn layout_does_not_matter() {
    let pretty = valid("pretty_printed.json");
    let guide = valid("payment_complete.object.json");
    assert_eq!(pretty.data(), guide.data());
    assert_eq!(pretty.amount().unwrap().as_str(), "10.00");
}

#[test]
fn trade_balances() {
    let t = trade("trade_settled_balances.json");
    assert_eq!(t.balance_due.unwrap().as_str(), "18.70");
    assert_eq!(t.funded_amount.unwrap().as_str(), "200.00");
    let absent = valid("trade_settled_balances_absent.json");
    let EventData::TradeSettled(t) = absent.data() else {
        panic!()
    };
    assert_eq!((t.balance_due.as_ref(), t.funded_amount.as_ref()), (None, None));
}

#[test]
fn negative_zero_is_zero_but_keeps_its_sign_in_the_text() {
    let n = valid("amount_zero_negative.json");
    let t = n.data().as_account_transaction().unwrap();
    assert_eq!(t.amount.as_str(), "-0.00");
    assert!(t.amount.is_zero());
    assert!(!t.amount.is_negative());
    assert!(t.is_pot_movement());
    assert_eq!(t.ccy_code.currency(), "EUR");
}

/// An unknown event whose `data` string does not decode (a lone surrogate escape) is kept as the JSON received,
/// and writing it with `data` as a string reads back equal: the fuzzer's input, kept as a regression test.
#[test]
fn an_undecodable_data_string_survives_both_encodings() {
    let body = br#"{"eventId": "wh_0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e", "event": "payment_co^^^^mpleted", "data": "{\":\"C\\u00e9\",\"amount\":1'.0d\":\udcb7 \u00e9\"}"}"#;
    let notification = cxtn_events::parse(body).unwrap();
    let EventData::Unknown(UnknownEvent { data, .. }) = &notification.data else {
        panic!("{notification:?}")
    };
    assert!(matches!(data, UnknownData::Json(_)), "{data:?}");
    for encoding in [DataEncoding::Object, DataEncoding::String] {
        let written = notification.to_json_with(encoding).unwrap();
        let again = cxtn_events::parse(written.as_bytes()).unwrap();
        assert_eq!(again, notification, "{encoding:?}: {written}");
    }
}
