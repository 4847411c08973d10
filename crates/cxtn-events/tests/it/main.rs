#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::print_stdout)]

#[test]
fn scratch() {
    for body in [
        r#"[{"eventId": "a""#,
        r#""abc"#,
        r#"[1,"#,
        r#"{"eventId": "a", "event": "payment_completed", "data": "[1"}"#,
        r#"{"eventId": "a", "event": "payment_completed", "data": "\"abc"}"#,
        r#"{"eventId": "a", "event": "payment_completed", "data": {"objectId": 1, "userId": "u", "amount": 1, "currency": "GBP", "\u0061mount": 2}}"#,
        r#"{"eventId": "a", "event": "payment_completed", "data": {"objectId": 1, "userId": "u", "amount": [1, "currency": "GBP"}}"#,
        r#"{"eventId": "a", "event": "payment_completed", "data": {"objectId": 1, "userId": "u", "amount": "1", "currency": "GBP"}, "x": [1,}"#,
        "{\"eventId\": \"a\", \"event\": \"payment_completed\", \"data\": {\"objectId\": 1, \"userId\": \"é\", \"amount\": \"x\", \"currency\": \"GBP\"}}",
        r#"{"eventId": "a", "event": "payment_completed", "data": "{\"objectId\": 1, \"userId\": \"u\", \"amount\": \"x\", \"currency\": \"GBP\"}"}"#,
        r#"{"eventId": "a", "event": "payment_completed", "data": {"objectId": 1, "userId": "u", "amount": 1, "currency": "GBP", "x": 1e400}}"#,
        r#"{"eventId": "a", "event": "payment_completed", "data": {"objectId": -0, "userId": "u", "amount": -0, "currency": "GBP"}}"#,
        r#"{"eventId": "a", "event": "payment_completed", "data": {"objectId": 1, "userId": "u", "amount": 1, "currency": null}}"#,
        r#"{"eventId": "a", "event": "trade_settled", "data": {"objectId": 1, "userId": "u", "sellCurrency": "GBP", "sellAmount": 1, "buyCurrency": "AED", "buyAmount": 2}}"#,
    ] {
        let r = cxtn_events::parse(body.as_bytes());
        println!("{body}\n  => {r:?}");
        match &r {
            Ok(n) => println!("  {}", n.to_json().unwrap()),
            Err(e) => println!("  {e}"),
        }
    }
}
