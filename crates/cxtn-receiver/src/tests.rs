use std::sync::Arc;

use super::*;

#[test]
fn refuses_to_start_without_authentication() {
    let e = Receiver::builder(Arc::new(MemoryInbox::new())).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("no authentication"), "{e}");
    assert!(
        Receiver::builder(Arc::new(MemoryInbox::new()))
            .allow_unauthenticated(true)
            .build()
            .is_ok()
    );
    assert!(
        Receiver::builder(Arc::new(MemoryInbox::new()))
            .path_token("t")
            .build()
            .is_ok()
    );
}

#[test]
fn refuses_empty_secrets() {
    let build = |builder: fn(ReceiverBuilder) -> ReceiverBuilder| {
        builder(Receiver::builder(Arc::new(MemoryInbox::new()))).build()
    };
    for (builder, mentions) in [
        (
            (|b| b.path_token("")) as fn(ReceiverBuilder) -> ReceiverBuilder,
            "path token is empty",
        ),
        (|b| b.path_token("   "), "path token is empty"),
        (|b| b.basic_auth("", ""), "Basic credentials are empty"),
        (|b| b.basic_auth("cxtn", ""), "Basic credentials are empty"),
        (|b| b.basic_auth("", "pw"), "Basic credentials are empty"),
        (|b| b.path_token("").allow_unauthenticated(true), "path token is empty"),
        (
            |b| b.path_token("t0k3n").basic_auth("", ""),
            "Basic credentials are empty",
        ),
    ] {
        let e = build(builder).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        assert!(e.to_string().contains(mentions), "{e}");
    }
    assert!(build(|b| b.basic_auth("cxtn", "pw")).is_ok());
}

#[test]
fn backoff_grows_and_is_capped() {
    let policy =
        WorkerPolicy::default().backoff(std::time::Duration::from_millis(100), std::time::Duration::from_secs(1));
    for _ in 0..50 {
        let first = policy.clone().backoff_after_for_tests(1);
        assert!((50..=100).contains(&first.as_millis()), "{first:?}");
        let late = policy.clone().backoff_after_for_tests(20);
        assert!((500..=1000).contains(&late.as_millis()), "{late:?}");
    }
}

#[test]
fn a_handler_s_time_limit_never_passes_an_unrenewed_lease() {
    use std::time::Duration;
    let policy = WorkerPolicy::default();
    assert!(policy.renew_leases);
    assert_eq!(
        policy.handler_limit(),
        Duration::from_secs(300),
        "renewed: the timeout alone"
    );
    let policy = policy.renew_leases(false);
    assert_eq!(
        policy.handler_limit(),
        Duration::from_secs(60),
        "unrenewed: at most the lease"
    );
    let policy = policy.handler_timeout(Duration::from_secs(5));
    assert_eq!(policy.handler_limit(), Duration::from_secs(5));
    assert_eq!(WorkerPolicy::default().renew_every(), Duration::from_secs(20));
    assert!(WorkerPolicy::default().lease(Duration::ZERO).renew_every() > Duration::ZERO);
}

#[test]
fn the_object_id_the_parse_read_is_the_one_the_body_gives() {
    use service::{Classified, classify};
    let mut bodies: Vec<String> = cxtn_events::samples::GUIDE.iter().map(|s| s.body.to_owned()).collect();
    for id in ["0", "7", "9007199254740993", "18446744073709551615"] {
        bodies.push(format!(
            r#"{{"eventId": "wh_o", "event": "payment_completed", "data": {{"objectId": {id}, "userId": "C1", "amount": 1.00, "currency": "GBP"}}}}"#
        ));
        bodies.push(format!(
            r#"{{"eventId": "wh_s", "event": "trade_settled", "data": "{{\"objectId\": {id}, \"userId\": \"C1\"}}"}}"#
        ));
        bodies.push(format!(
            r#"{{"eventId": "wh_u", "event": "card_frozen", "data": {{"objectId": {id}}}}}"#
        ));
    }
    let mut known = 0;
    for body in &bodies {
        let Classified::Event {
            object_id, quarantine, ..
        } = classify(body.as_bytes())
        else {
            panic!("not an event: {body}");
        };
        if quarantine.is_none() && object_id.is_some() {
            known += 1;
        }
        let stored = object_id.or_else(|| inbox::query::object_id_of(body.as_bytes()));
        assert_eq!(stored, inbox::query::object_id_of(body.as_bytes()), "{body}");
        assert!(stored.is_some(), "{body}");
    }
    assert!(
        known >= cxtn_events::samples::GUIDE.len(),
        "{known} bodies had their id from the parse"
    );
}

#[test]
fn a_body_is_an_event_a_quarantine_or_a_rejection() {
    use service::{Classified, classify};
    let event = |body: &str| match classify(body.as_bytes()) {
        Classified::Event {
            envelope, quarantine, ..
        } => Some((envelope.event_id.into_string(), quarantine)),
        Classified::Rejected { .. } => None,
    };
    let rejected = |body: &str| match classify(body.as_bytes()) {
        Classified::Rejected { reason, kind } => Some((kind, reason)),
        Classified::Event { .. } => None,
    };
    let sample = cxtn_events::samples::GUIDE[0].body;
    assert_eq!(
        event(sample),
        Some(("wh_f79f07d55bcd4cb893c41575b7c1b8f6".to_owned(), None))
    );
    assert_eq!(
        event(r#"{"eventId": "wh_u", "event": "card_frozen"}"#),
        Some(("wh_u".to_owned(), None))
    );

    let (id, reason) = event(r#"{"eventId": "wh_q", "event": "account_credit", "data": {"amount": 1}}"#).unwrap();
    assert_eq!(id, "wh_q");
    assert!(reason.is_some_and(|r| r.contains("missing field")));

    for blank in ["", " ", "\\t\\n"] {
        let body = sample.replacen("wh_f79f07d55bcd4cb893c41575b7c1b8f6", blank, 1);
        let (kind, reason) = rejected(&body).unwrap();
        assert_eq!(kind, "empty_event_id", "{blank:?}");
        assert!(reason.contains("`eventId` is empty"), "{reason}");
    }
    let (kind, reason) = rejected(r#"{"eventId": "", "event": "account_credit", "data": {"amount": "x"}}"#).unwrap();
    assert_eq!(kind, "invalid_field");
    assert!(reason.starts_with("`eventId` is empty, and "), "{reason}");
    // An event name this version does not know parses, whatever its data: stored as the parser reads it.
    assert_eq!(
        event(r#"{"eventId": "wh_e", "event": " ", "data": [1]}"#),
        Some(("wh_e".to_owned(), None))
    );
    let (kind, _) = rejected("{not json").unwrap();
    assert_eq!(kind, "syntax");
    let (kind, _) = rejected(r#"{"event": "account_credit", "data": {}}"#).unwrap();
    assert_eq!(kind, "missing_field");
}

const fn assert_send_sync<T: Send + Sync>() {}
const _: () = {
    assert_send_sync::<Receiver>();
    assert_send_sync::<Error>();
    assert_send_sync::<ReceiverService>();
    assert_send_sync::<Worker>();
    assert_send_sync::<crate::Keys>();
    assert_send_sync::<crate::KeysHandle>();
    #[cfg(feature = "sqlite")]
    assert_send_sync::<SqliteInbox>();
};
