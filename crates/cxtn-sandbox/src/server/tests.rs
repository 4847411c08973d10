use proptest::prelude::*;

use super::*;

#[test]
fn a_single_trigger_and_a_batch_are_told_apart() {
    let (one, batch) = parse_triggers(br#" {"event": "account_credit", "set": {"amount": 1.10}}"#).unwrap();
    assert!(!batch);
    assert_eq!(one.len(), 1);
    assert!(one[0].to_body().unwrap().contains(r#""amount":1.10"#));
    let (many, batch) = parse_triggers(br#"[{"event": "a"}, {"event": "b", "duplicate": true}]"#).unwrap();
    assert!(batch);
    assert_eq!(many.iter().map(Trigger::event).collect::<Vec<_>>(), ["a", "b"]);
    let too_many = format!("[{}]", vec![r#"{"event":"a"}"#; MAX_BATCH + 1].join(","));
    assert_eq!(
        parse_triggers(too_many.as_bytes()).unwrap_err().code,
        ApiCode::InvalidBody
    );
}

proptest! {
    #[test]
    fn no_body_makes_the_trigger_route_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok((triggers, _)) = parse_triggers(&body) {
            for trigger in triggers {
                let _ = trigger.to_body();
            }
        }
    }

    #[test]
    fn json_shaped_triggers_never_panic(
        event in "[a-z_]{0,12}",
        field in "[a-zA-Z]{0,6}",
        value in "[-0-9.eE\"a-z{}\\[\\],: ]{0,16}",
        subscription in "[A-Za-z0-9 ]{0,10}",
        data_as_string in any::<bool>(),
    ) {
        let body = format!(
            r#"{{"event": {}, "set": {{{}: {value}}}, "subscription": {}, "dataAsString": {data_as_string}}}"#,
            serde_json::Value::from(event),
            serde_json::Value::from(field),
            serde_json::Value::from(subscription),
        );
        if let Ok((triggers, batch)) = parse_triggers(body.as_bytes()) {
            prop_assert!(!batch);
            for trigger in triggers {
                if let Ok(sent) = trigger.to_body() {
                    let parsed: serde_json::Value = serde_json::from_str(&sent).unwrap();
                    prop_assert!(parsed["eventId"].is_string());
                }
            }
        }
    }
}
