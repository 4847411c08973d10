//! Errors name the event, the field and a position the user can find.

use cxtn_events::{ErrorKind, Location, parse};

use crate::fixtures::dir;

/// The text of line `line` of `text` from column `column` on (both from 1).
fn at(text: &str, line: usize, column: usize) -> &str {
    let line = text.split('\n').nth(line - 1).unwrap();
    &line[column - 1..]
}

#[test]
fn a_body_position_points_at_the_offending_value() {
    let body = std::fs::read_to_string(dir("invalid").join("amount_word.json")).unwrap();
    let err = parse(body.as_bytes()).unwrap_err();
    let Some(Location::Body { line, column }) = err.location() else {
        panic!("{err:?}")
    };
    assert!(at(&body, line, column).starts_with(r#"", "currency""#), "{err:?}");

    let body = std::fs::read_to_string(dir("invalid").join("timestamp_malformed.json")).unwrap();
    let err = parse(body.as_bytes()).unwrap_err();
    assert_eq!(err.field(), Some("transactionDateTime"));
    let Some(Location::Body { line, column }) = err.location() else {
        panic!("{err:?}")
    };
    assert!(at(&body, line, column).starts_with(r#""}}"#), "{err:?}");
}

#[test]
fn a_data_string_position_points_into_the_decoded_string() {
    let body = std::fs::read_to_string(dir("invalid").join("timestamp_bad_offset_in_string.json")).unwrap();
    let err = parse(body.as_bytes()).unwrap_err();
    assert_eq!(
        (err.kind(), err.event(), err.field()),
        (
            ErrorKind::InvalidField,
            Some("account_credit"),
            Some("transactionDateTime")
        )
    );
    let Some(Location::DataString { line, column }) = err.location() else {
        panic!("{err:?}")
    };
    #[derive(serde::Deserialize)]
    struct Envelope {
        data: String,
    }
    let decoded = serde_json::from_str::<Envelope>(&body).unwrap().data;
    assert!(at(&decoded, line, column).starts_with(r#""}"#), "{err:?}");
}

#[test]
fn positions_on_later_lines_point_at_the_offending_value() {
    let body = "{\"eventId\": \"a\", \"event\": \"payment_completed\",\n\"data\": {\"objectId\": 1, \"userId\": \"u\",\n\"amount\": \"ten\", \"currency\": \"GBP\"}}";
    let err = parse(body.as_bytes()).unwrap_err();
    assert_eq!(err.field(), Some("amount"));
    let Some(Location::Body { line: 3, column }) = err.location() else {
        panic!("{err:?}")
    };
    assert!(at(body, 3, column).starts_with(r#"", "currency""#), "{err:?}");
}

/// `Location` counts columns from 1, also for a problem found at the very start of a line
/// after the first (of the body, or of a decoded `data` string).
#[test]
fn columns_count_from_one_on_every_line() {
    for body in [
        "{\"eventId\": \"a\", \"event\": \"payment_completed\", \"data\": {\"objectId\":\n[1], \"userId\": \"u\"}}",
        r#"{"eventId": "a", "event": "payment_completed", "data": "{\"objectId\":\n[1]}"}"#,
        r#"{"eventId": "a", "event": "payment_completed", "data": "[1"}"#,
        "   \n",
    ] {
        let err = parse(body.as_bytes()).unwrap_err();
        let (Some(Location::Body { line, column }) | Some(Location::DataString { line, column })) = err.location()
        else {
            panic!("{body}: no position in {err:?}")
        };
        assert!(
            line >= 1 && column >= 1,
            "{body}: {:?} is not counted from 1",
            err.location()
        );
    }
}

/// A `data` string the envelope accepts but that does not decode (a lone surrogate escape)
/// must still name the event and the field, as every other problem in a known event's `data` does.
#[test]
fn a_data_string_that_does_not_decode_names_the_event_and_field() {
    let err = parse(
        br#"{"eventId": "a", "event": "payment_completed", "data": "{\"objectId\": 1, \"userId\": \"\ud800\"}"}"#,
    )
    .unwrap_err();
    assert_eq!(
        (err.event(), err.field()),
        (Some("payment_completed"), Some("data")),
        "{err:?}"
    );
}

#[test]
fn every_kind_has_a_fixture() {
    let mut kinds: Vec<&str> = crate::fixtures::files("invalid")
        .iter()
        .map(|path| parse(&std::fs::read(path).unwrap()).unwrap_err().kind().as_str())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "data_not_an_object",
            "data_not_json",
            "duplicate_field",
            "invalid_field",
            "invalid_utf8",
            "missing_field",
            "not_an_object",
            "syntax",
            "trailing_characters",
        ],
        "`too_deep` has no fixture: deep nesting is read without recursion (see `large.rs`)"
    );
}
