//! Large bodies and deep nesting: an answer, never a panic or a stack overflow.

use cxtn_events::{ErrorKind, parse};
use cxtn_model::{DataEncoding, EventData, Notification, UnknownData, UnknownEvent};

const MB: usize = 1024 * 1024;
const DEPTH: usize = 100_000;

const PAYMENT: &str = r#""objectId": 162953, "userId": "C00081866", "amount": 10.00, "currency": "GBP""#;

fn deep_array() -> String {
    "[".repeat(DEPTH) + &"]".repeat(DEPTH)
}

fn deep_object() -> String {
    r#"{"a":"#.repeat(DEPTH) + "1.10" + &"}".repeat(DEPTH)
}

/// A JSON string literal holding `text`.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

fn payment_with_data(data: &str) -> String {
    format!(r#"{{"eventId": "wh_4d9373d27e4e4c24bbb39c00b6dcd3e7", "event": "payment_completed", "data": {data}}}"#)
}

/// Parses, expects Ok, and checks the canonical form reads back equal.
fn ok(body: &str) -> Notification {
    let n = parse(body.as_bytes()).unwrap_or_else(|e| panic!("expected Ok, got {e}"));
    let canonical = n.to_json().unwrap();
    assert_eq!(parse(canonical.as_bytes()).unwrap(), n);
    n
}

fn err(body: &str) -> cxtn_events::Error {
    match parse(body.as_bytes()) {
        Ok(n) => panic!("expected Err, got {:?}", n.event_name()),
        Err(e) => e,
    }
}

#[test]
fn five_megabytes_of_unknown_fields() {
    let fields: Vec<String> = (0..5 * MB / 16).map(|i| format!(r#""f{i:07}": 1.10"#)).collect();
    let fields = fields.join(", ");
    assert!(fields.len() >= 5 * MB);

    let n = ok(&format!(
        r#"{{"eventId": "a", "event": "payment_completed", "data": {{{PAYMENT}}}, {fields}}}"#
    ));
    assert_eq!(n.extra.len(), 5 * MB / 16);
    assert_eq!(n.extra.get("f0000007").unwrap().get(), "1.10");

    let n = ok(&payment_with_data(&format!("{{{PAYMENT}, {fields}}}")));
    let EventData::PaymentCompleted(p) = n.data() else {
        panic!()
    };
    assert_eq!(p.extra.len(), 5 * MB / 16);
    assert_eq!(p.amount.as_str(), "10.00");

    let n = ok(&payment_with_data(&quoted(&format!("{{{PAYMENT}, {fields}}}"))));
    assert_eq!(n.data_encoding(), DataEncoding::String);

    let e = err(&format!(
        r#"{{"eventId": "a", "event": "payment_completed", "data": {{{PAYMENT}}}, {fields}, "f0000003": 2}}"#
    ));
    assert_eq!((e.kind(), e.field()), (ErrorKind::DuplicateField, Some("f0000003")));
}

#[test]
fn five_megabyte_strings() {
    let long = "x".repeat(5 * MB);

    let n = ok(&format!(
        r#"{{"eventId": "a", "event": "account_credit", "data": {{"objectId": 1, "userId": "C1", "source": "deposit", "origin": {}, "amount": 10, "baseCcyCode": "GBP", "ccyCode": "GBP", "transactionDateTime": "2024-02-21T11:58:01"}}}}"#,
        quoted(&long)
    ));
    assert_eq!(n.data().as_account_transaction().unwrap().origin.len(), 5 * MB);

    let n = ok(&format!(r#"{{"eventId": {}, "event": "x"}}"#, quoted(&long)));
    assert_eq!(n.event_id().as_str().len(), 5 * MB);

    let n = ok(&payment_with_data(&format!(
        "{{{PAYMENT}, \"note\": {}}}",
        quoted(&long)
    )));
    assert_eq!(n.amount().unwrap().as_str(), "10.00");

    let n = ok(&format!(
        r#"{{"eventId": "a", "event": "note", "data": {}}}"#,
        quoted(&long)
    ));
    assert!(
        matches!(n.data(), EventData::Unknown(UnknownEvent { data: UnknownData::Text(t), .. }) if t.len() == 5 * MB)
    );

    let e = err(&payment_with_data(&format!(
        r#"{{"objectId": 1, "userId": "u", "amount": {}, "currency": "GBP"}}"#,
        "9".repeat(5 * MB)
    )));
    assert_eq!((e.kind(), e.field()), (ErrorKind::InvalidField, Some("amount")));

    let e = err(&format!(r#"{{"eventId": "a", "event": "x", "data": "{long}"#));
    assert_eq!(e.kind(), ErrorKind::Syntax);
    let e = err(&"[".repeat(5 * MB));
    assert_eq!(
        e.kind(),
        ErrorKind::Syntax,
        "unclosed arrays are not JSON, whatever the first byte says"
    );
    let e = err(&"{\"a\":".repeat(MB));
    assert_eq!(e.kind(), ErrorKind::Syntax);
}

#[test]
fn deep_unknown_values_are_kept() {
    for deep in [deep_array(), deep_object()] {
        let n = ok(&format!(
            r#"{{"eventId": "a", "event": "payment_completed", "data": {{{PAYMENT}}}, "deep": {deep}}}"#
        ));
        assert_eq!(n.extra.get("deep").unwrap().get(), deep);

        let n = ok(&payment_with_data(&format!("{{{PAYMENT}, \"deep\": {deep}}}")));
        let EventData::PaymentCompleted(p) = n.data() else {
            panic!()
        };
        assert_eq!(p.extra.get("deep").unwrap().get(), deep);

        let n = ok(&payment_with_data(&quoted(&format!("{{{PAYMENT}, \"deep\": {deep}}}"))));
        let EventData::PaymentCompleted(p) = n.data() else {
            panic!()
        };
        assert_eq!(p.extra.get("deep").unwrap().get(), deep);
        assert_eq!(n.data_encoding(), DataEncoding::String);

        let n = ok(&format!(r#"{{"eventId": "a", "event": "x", "data": {deep}}}"#));
        assert!(
            matches!(n.data(), EventData::Unknown(UnknownEvent { data: UnknownData::Json(j), .. }) if j.get() == deep)
        );

        let n = ok(&format!(
            r#"{{"eventId": "a", "event": "x", "data": {}}}"#,
            quoted(&deep)
        ));
        assert!(
            matches!(n.data(), EventData::Unknown(UnknownEvent { data: UnknownData::Json(j), .. }) if j.get() == deep)
        );
        assert_eq!(n.data_encoding(), DataEncoding::String);
    }
}

#[test]
fn deep_values_in_typed_fields_are_errors() {
    for deep in [deep_array(), deep_object()] {
        let e = err(&format!(r#"{{"eventId": {deep}, "event": "x"}}"#));
        assert_eq!((e.kind(), e.field()), (ErrorKind::InvalidField, Some("eventId")));
        let e = err(&format!(r#"{{"eventId": "a", "event": {deep}}}"#));
        assert_eq!((e.kind(), e.field()), (ErrorKind::InvalidField, Some("event")));

        let fields = [
            ("objectId", "1"),
            ("userId", r#""u""#),
            ("amount", "1"),
            ("currency", r#""GBP""#),
        ];
        for (field, _) in fields {
            let data: Vec<String> = fields
                .iter()
                .map(|(name, value)| format!(r#""{name}": {}"#, if *name == field { deep.as_str() } else { *value }))
                .collect();
            let data = format!("{{{}}}", data.join(", "));
            for body in [payment_with_data(&data), payment_with_data(&quoted(&data))] {
                let e = err(&body);
                assert_eq!(
                    (e.kind(), e.event(), e.field()),
                    (ErrorKind::InvalidField, Some("payment_completed"), Some(field)),
                    "{e}"
                );
            }
        }
        let trade = format!(
            r#"{{"objectId": 1, "userId": "u", "sellCurrency": "GBP", "sellAmount": 1, "buyCurrency": "AED", "buyAmount": 2, "balanceDue": {deep}}}"#
        );
        let e = err(&format!(
            r#"{{"eventId": "a", "event": "trade_settled", "data": {trade}}}"#
        ));
        assert_eq!((e.kind(), e.field()), (ErrorKind::InvalidField, Some("balanceDue")));
        let account = format!(
            r#"{{"objectId": 1, "userId": "u", "source": {deep}, "origin": "o", "amount": 1, "baseCcyCode": "GBP", "ccyCode": "GBP", "transactionDateTime": "2024-02-21T11:58:01"}}"#
        );
        let e = err(&format!(
            r#"{{"eventId": "a", "event": "account_debit", "data": {account}}}"#
        ));
        assert_eq!((e.kind(), e.field()), (ErrorKind::InvalidField, Some("source")));
    }

    let e = err(&payment_with_data(&deep_array()));
    assert_eq!((e.kind(), e.field()), (ErrorKind::DataNotAnObject, Some("data")));
    let e = err(&payment_with_data(&quoted(&deep_array())));
    assert_eq!((e.kind(), e.field()), (ErrorKind::DataNotAnObject, Some("data")));
    let e = err(&deep_array());
    assert_eq!(e.kind(), ErrorKind::NotAnObject);
    let e = err(&deep_object());
    assert_eq!((e.kind(), e.field()), (ErrorKind::MissingField, Some("eventId")));
}

#[test]
fn unclosed_deep_nesting_is_a_syntax_error() {
    for open in ["[".repeat(DEPTH), r#"{"a":"#.repeat(DEPTH)] {
        for body in [
            format!(r#"{{"eventId": "a", "event": "x", "deep": {open}"#),
            payment_with_data(&format!("{{{PAYMENT}, \"deep\": {open}}}")),
            format!(r#"{{"eventId": "a", "event": "x", "data": {open}}}"#),
        ] {
            assert_eq!(err(&body).kind(), ErrorKind::Syntax);
        }
        let e = err(&payment_with_data(&quoted(&format!("{{{PAYMENT}, \"deep\": {open}}}"))));
        assert_eq!(
            (e.kind(), e.event()),
            (ErrorKind::DataNotJson, Some("payment_completed"))
        );
    }
}
