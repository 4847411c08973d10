use super::*;

fn err(body: &str) -> Error {
    parse(body.as_bytes()).unwrap_err()
}

const PAYMENT: &str = r#"{"objectId":162953,"userId":"C00081866","amount":10.00,"currency":"GBP"}"#;

#[test]
fn envelope_errors_name_the_field() {
    let e = err(r#"{"event": "payment_completed", "data": {}}"#);
    assert_eq!((e.kind(), e.field()), (ErrorKind::MissingField, Some("eventId")));
    assert_eq!(e.to_string(), "missing field `eventId`");

    let e = err(r#"{"eventId": 7, "event": "payment_completed", "data": {}}"#);
    assert_eq!((e.kind(), e.field()), (ErrorKind::InvalidField, Some("eventId")));
    assert_eq!(
        e.to_string(),
        "invalid `eventId`: invalid type: integer `7`, expected a string at line 1 column 13"
    );

    let e = err(r#"{"eventId": "a", "eventId": "b", "event": "x"}"#);
    assert_eq!((e.kind(), e.field()), (ErrorKind::DuplicateField, Some("eventId")));

    let e = err(r#"{"eventId": "a", "event": "x", "z": 1, "z": 2}"#);
    assert_eq!((e.kind(), e.field()), (ErrorKind::DuplicateField, Some("z")));
}

#[test]
fn data_errors_name_the_event_and_field() {
    let e = err(
        r#"{"eventId": "a", "event": "payment_completed", "data": {"objectId": 1, "userId": "u", "amount": "ten", "currency": "GBP"}}"#,
    );
    assert_eq!(
        (e.kind(), e.event(), e.field()),
        (ErrorKind::InvalidField, Some("payment_completed"), Some("amount"))
    );
    assert!(
        e.to_string()
            .starts_with("`payment_completed` data: invalid `amount`: `ten` is not a decimal number"),
        "{e}"
    );

    let e = err(r#"{"eventId": "a", "event": "trade_settled", "data": "{\"objectId\": 1}"}"#);
    assert_eq!((e.kind(), e.field()), (ErrorKind::MissingField, Some("userId")));
    assert_eq!(e.to_string(), "`trade_settled` data: missing field `userId`");

    let e = err(r#"{"eventId": "a", "event": "account_debit", "data": {"objectId": 1.5}}"#);
    assert_eq!((e.kind(), e.field()), (ErrorKind::InvalidField, Some("objectId")));

    let e = err(r#"{"eventId": "a", "event": "account_debit", "data": {"objectId": 1, "objectId": 2}}"#);
    assert_eq!((e.kind(), e.field()), (ErrorKind::DuplicateField, Some("objectId")));

    let e = err(r#"{"eventId": "a", "event": "payment_completed"}"#);
    assert_eq!(
        (e.kind(), e.field(), e.event()),
        (ErrorKind::MissingField, Some("data"), Some("payment_completed"))
    );
}

#[test]
fn data_positions_point_into_the_body() {
    let body = "{\"eventId\": \"a\", \"event\": \"payment_completed\",\n  \"data\": {\"objectId\": 1, \"userId\": 5}}";
    let e = err(body);
    assert_eq!(e.field(), Some("userId"));
    // `5` ends at column 37 of line 2 of the body.
    let Some(Location::Body { line: 2, column }) = e.location() else {
        panic!("{e:?}")
    };
    assert_eq!(&body.lines().nth(1).unwrap()[column - 1..column], "5");
}

#[test]
fn a_data_string_must_hold_json_and_an_object() {
    let e = err(r#"{"eventId": "a", "event": "payment_completed", "data": "{not json"}"#);
    assert_eq!(e.kind(), ErrorKind::DataNotJson);
    assert!(
        matches!(e.location(), Some(Location::DataString { line: 1, column: 2 })),
        "{e:?}"
    );

    let e = err(r#"{"eventId": "a", "event": "payment_completed", "data": "[1, 2]"}"#);
    assert_eq!(e.kind(), ErrorKind::DataNotAnObject);
    assert_eq!(
        e.to_string(),
        "`payment_completed` data: `data` must be an object or a string holding one, found a string holding an array"
    );

    let e = err(r#"{"eventId": "a", "event": "payment_completed", "data": 5}"#);
    assert_eq!(e.kind(), ErrorKind::DataNotAnObject);

    let trailing = serde_json::to_string(&format!("{PAYMENT} {{}}")).unwrap();
    let e = err(&format!(
        r#"{{"eventId": "a", "event": "payment_completed", "data": {trailing}}}"#
    ));
    assert_eq!(e.kind(), ErrorKind::DataNotJson);

    // Decoded once only: a string holding a string holding JSON is not an object.
    let twice = serde_json::to_string(&serde_json::to_string(PAYMENT).unwrap()).unwrap();
    let e = err(&format!(
        r#"{{"eventId": "a", "event": "payment_completed", "data": {twice}}}"#
    ));
    assert_eq!(e.kind(), ErrorKind::DataNotAnObject);
}

#[test]
fn body_level_errors() {
    assert_eq!(parse(b"\xff{}").unwrap_err().location(), Some(Location::Byte(0)));
    assert_eq!(err("").kind(), ErrorKind::Syntax);
    assert_eq!(err("{\"eventId\": ").kind(), ErrorKind::Syntax);
    let e = err("nope");
    assert_eq!(
        (e.kind(), e.location()),
        (ErrorKind::Syntax, Some(Location::Body { line: 1, column: 2 }))
    );
    assert_eq!(err("[1]").kind(), ErrorKind::NotAnObject);
    assert_eq!(err("42").kind(), ErrorKind::NotAnObject);
    let e = err(r#"{"eventId": "a", "event": "x"} trailing"#);
    assert_eq!(e.kind(), ErrorKind::TrailingCharacters);
}

#[test]
fn unknown_events_are_kept_whole() {
    let n =
        parse(br#"{"eventId": "a", "event": "card_frozen", "data": {"cardId": 12345678901234567890123, "x": [1.10]}}"#)
            .unwrap();
    assert_eq!(n.event_name(), "card_frozen");
    assert_eq!(n.subscription(), None);
    assert_eq!(
        n.to_json().unwrap(),
        r#"{"eventId":"a","event":"card_frozen","data":{"cardId": 12345678901234567890123, "x": [1.10]}}"#
    );

    let n = parse(br#"{"eventId": "a", "event": "note", "data": "just words"}"#).unwrap();
    assert!(
        matches!(&n.data, EventData::Unknown(UnknownEvent { data: UnknownData::Text(t), .. }) if t == "just words")
    );
    assert_eq!(n.data_encoding(), DataEncoding::String);

    let n = parse(br#"{"eventId": "a", "event": "note", "data": "{\"k\": 1.50}"}"#).unwrap();
    assert!(
        matches!(&n.data, EventData::Unknown(UnknownEvent { data: UnknownData::Json(j), .. }) if j.get() == "{\"k\": 1.50}")
    );

    let n = parse(br#"{"eventId": "a", "event": "ping"}"#).unwrap();
    assert_eq!(n.to_json().unwrap(), r#"{"eventId":"a","event":"ping"}"#);
}

#[test]
fn deep_nesting_neither_panics_nor_overflows() {
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    for body in [
        deep.clone(),
        format!(r#"{{"eventId": "a", "event": "x", "data": {deep}}}"#),
        format!(r#"{{"eventId": "a", "event": "payment_completed", "data": {deep}}}"#),
        format!(r#"{{"eventId": "a", "event": "payment_completed", "data": {{"objectId": {deep}}}}}"#),
        format!(r#"{{"eventId": "a", "event": "payment_completed", "data": {{"other": {deep}}}}}"#),
        format!(
            r#"{{"eventId": "a", "event": "payment_completed", "data": {}}}"#,
            serde_json::to_string(&deep).unwrap()
        ),
        format!(
            r#"{{"eventId": "a", "event": "x", "data": {}}}"#,
            serde_json::to_string(&deep).unwrap()
        ),
        "{\"a\":".repeat(100_000),
    ] {
        let _ = parse(body.as_bytes());
    }
}

fn envelope_err(body: &str) -> Error {
    parse_envelope(body.as_bytes()).unwrap_err()
}

#[test]
fn the_envelope_reads_without_the_data() {
    // `data` that does not fit the typed model: `parse` refuses it, the envelope is still usable.
    let body = r#"{"eventId": "wh_1", "event": "payment_completed", "data": {"objectId": 1, "amount": "ten"}, "x": 1}"#;
    assert_eq!(err(body).kind(), ErrorKind::InvalidField);
    let envelope = parse_envelope(body.as_bytes()).unwrap();
    assert_eq!(envelope.event_id.as_str(), "wh_1");
    assert_eq!(envelope.event, "payment_completed");
    assert_eq!(envelope.subscription, Some(cxtn_model::WebhookEventType::Payment));

    // The envelope of a notification that parses is the notification's own.
    for sample in &crate::samples::GUIDE {
        let notification = parse(sample.body.as_bytes()).unwrap();
        assert_eq!(
            parse_envelope(sample.body.as_bytes()).unwrap(),
            Envelope::from(&notification)
        );
    }

    // An unknown event, no `data`, a byte-order mark: as `parse` reads them.
    let envelope = parse_envelope("\u{feff}{\"eventId\": \"wh_2\", \"event\": \"card_issued\"}".as_bytes()).unwrap();
    assert_eq!(
        (envelope.event_id.as_str(), envelope.event.as_str()),
        ("wh_2", "card_issued")
    );
    assert_eq!(envelope.subscription, None);

    // `data` of any JSON type, or a string that holds no JSON.
    for data in ["[1, 2]", "null", "7", r#""not json""#, r#""{\"a\": 1""#] {
        let body = format!(r#"{{"eventId": "wh_3", "event": "account_credit", "data": {data}}}"#);
        assert_eq!(
            parse_envelope(body.as_bytes()).unwrap().event_id.as_str(),
            "wh_3",
            "{data}"
        );
    }

    // An empty id is read as it is: `parse` accepts it too, and the receiver decides what it is worth.
    assert_eq!(
        parse_envelope(br#"{"eventId": "", "event": "x"}"#)
            .unwrap()
            .event_id
            .as_str(),
        ""
    );
}

#[test]
fn the_envelope_is_as_strict_as_parse() {
    let cases = [
        (&b"\xff{}"[..], ErrorKind::InvalidUtf8),
        (b"{", ErrorKind::Syntax),
        (b"[]", ErrorKind::NotAnObject),
        (br#"{"eventId": "a", "event": "x"} {}"#, ErrorKind::TrailingCharacters),
        (br#"{"event": "x"}"#, ErrorKind::MissingField),
        (br#"{"eventId": "a"}"#, ErrorKind::MissingField),
        (br#"{"eventId": 7, "event": "x"}"#, ErrorKind::InvalidField),
        (br#"{"eventId": "a", "event": null}"#, ErrorKind::InvalidField),
        (
            br#"{"eventId": "a", "eventId": "b", "event": "x"}"#,
            ErrorKind::DuplicateField,
        ),
        (
            br#"{"eventId": "a", "event": "x", "data": 1, "data": 2}"#,
            ErrorKind::DuplicateField,
        ),
        (br#"{"eventId": "a", "event": "x", "data": tru}"#, ErrorKind::Syntax),
    ];
    for (body, kind) in cases {
        let envelope = parse_envelope(body).unwrap_err();
        let full = parse(body).unwrap_err();
        assert_eq!(envelope.kind(), kind, "{}", String::from_utf8_lossy(body));
        // The same error as `parse`, message, field and place included.
        assert_eq!(envelope, full, "{}", String::from_utf8_lossy(body));
    }
    let e = envelope_err(r#"{"eventId": "a"}"#);
    assert_eq!(
        (e.field(), e.to_string().as_str()),
        (Some("event"), "missing field `event`")
    );
}
