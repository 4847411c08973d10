//! Feeds arbitrary bytes to `cxtn_events::parse` and `cxtn_events::parse_envelope`: they must return, never
//! panic or overflow the stack; whatever parses must have the same envelope and survive a round trip through
//! its canonical form.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let envelope = cxtn_events::parse_envelope(body);
    if let Ok(notification) = cxtn_events::parse(body) {
        let envelope = envelope.expect("the envelope of a notification reads");
        assert_eq!(
            &envelope.event_id,
            notification.event_id(),
            "the envelope has the same id"
        );
        assert_eq!(
            envelope.event,
            notification.event_name(),
            "the envelope has the same name"
        );
        assert_eq!(
            envelope.subscription,
            notification.subscription(),
            "the envelope has the same subscription"
        );
        let canonical = notification
            .to_json()
            .expect("a parsed notification writes its canonical form");
        let again = cxtn_events::parse(canonical.as_bytes()).expect("the canonical form parses");
        assert_eq!(notification, again, "the canonical form parses back equal");
        let as_string = notification
            .to_json_with(cxtn_model::DataEncoding::String)
            .expect("a parsed notification writes data as a string");
        let again = cxtn_events::parse(as_string.as_bytes()).expect("the string encoding parses");
        assert_eq!(notification, again, "the string encoding parses back equal");
    }
});
