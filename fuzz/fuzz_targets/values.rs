//! Feeds arbitrary text to the exact value parsers: amounts, timestamps, event types, statuses, endpoint URLs.
//! They must return, never panic, and what parses must keep its text.
#![no_main]

use cxtn_model::{Amount, EndpointStatus, EndpointUrl, Timestamp, WebhookEventType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(amount) = Amount::parse(text) {
        assert_eq!(amount.as_str(), text, "an amount keeps its digits");
        let written = serde_json::to_string(&amount).expect("an amount writes");
        let again: Amount = serde_json::from_str(&written).expect("a written amount reads back");
        assert_eq!(again, amount);
        assert_eq!(again.as_str(), text);
    }
    if let Ok(at) = Timestamp::parse(text) {
        assert_eq!(at.as_str(), text, "a timestamp keeps its text");
        let _ = at.to_utc();
    }
    let _ = text.parse::<WebhookEventType>();
    let _ = text.parse::<EndpointStatus>();
    let _ = EndpointUrl::new(text).redacted();
});
