use super::*;

fn create(state: &mut State, body: &str) -> Result<(), ApiCode> {
    apply(state, Operation::Create, body.as_bytes())
        .map(drop)
        .map_err(|r| r.code)
}

#[test]
fn routes_map_methods_and_paths() {
    let cases: [(Method, &[&str], Result<Operation, ApiCode>); 8] = [
        (Method::POST, &["webhooks", "enable"], Ok(Operation::Enable)),
        (Method::POST, &["webhooks", "endpoints"], Ok(Operation::Create)),
        (Method::PUT, &["webhooks", "endpoints"], Ok(Operation::Edit)),
        (Method::GET, &["webhooks", "endpoints"], Ok(Operation::List)),
        (
            Method::PUT,
            &["webhooks", "endpoints", "status"],
            Ok(Operation::SetStatus),
        ),
        (Method::PUT, &["webhooks", "deactivate"], Ok(Operation::Deactivate)),
        (
            Method::DELETE,
            &["webhooks", "endpoints"],
            Err(ApiCode::MethodNotAllowed),
        ),
        (Method::GET, &["webhooks"], Err(ApiCode::RouteNotFound)),
    ];
    for (method, segments, expected) in cases {
        assert_eq!(
            route(&method, segments).map_err(|r| r.code),
            expected,
            "{method} {segments:?}"
        );
    }
    assert_eq!(
        route(&Method::GET, &["webhooks", "enable"]).unwrap_err().allow,
        Some("POST")
    );
}

#[test]
fn rules_are_checked_in_the_documented_order() {
    let mut state = State::default();
    assert_eq!(create(&mut state, "nope"), Err(ApiCode::InvalidBody));
    assert_eq!(create(&mut state, ""), Err(ApiCode::InvalidBody));
    assert_eq!(
        create(&mut state, r#"{"WebhookEventType": "Loans", "EndpointUrl": "ftp://x"}"#),
        Err(ApiCode::WebhooksNotEnabled)
    );
    apply(&mut state, Operation::Enable, b"").unwrap();
    assert_eq!(
        create(&mut state, r#"{"WebhookEventType": "Loans", "EndpointUrl": "ftp://x"}"#),
        Err(ApiCode::InvalidEventType)
    );
    assert_eq!(
        create(
            &mut state,
            r#"{"WebhookEventType": "Payment", "EndpointUrl": "ftp://x"}"#
        ),
        Err(ApiCode::InvalidUrl)
    );
    assert_eq!(
        create(
            &mut state,
            r#"{"webhookeventtype": "2", "endpointurl": "https://e.example/a"}"#
        ),
        Ok(())
    );
    assert_eq!(
        create(
            &mut state,
            r#"{"WebhookEventType": 2, "EndpointUrl": "https://e.example/b"}"#
        ),
        Err(ApiCode::EndpointExists)
    );
    assert_eq!(state.endpoints.len(), 1);
    assert_eq!(state.endpoints[0].event_type, WebhookEventType::AccountTransaction);
    assert_eq!(state.endpoints[0].url.as_str(), "https://e.example/a");
}

#[test]
fn a_refused_url_is_described_without_its_path() {
    let refusal = check_url(&EndpointUrl::new("mailto://hooks.example/s3cr3t")).unwrap_err();
    assert_eq!(refusal.code, ApiCode::InvalidUrl);
    assert!(!refusal.description.contains("s3cr3t"), "{}", refusal.description);
    for url in [
        "relative/path",
        "https://",
        "http:///x",
        "https//x.example",
        " https://x.example/a",
        "https://x.example/a b",
    ] {
        assert!(check_url(&EndpointUrl::new(url)).is_err(), "{url}");
    }
    for url in ["http://127.0.0.1:9/x", "https://hooks.example/cxtn?k=v"] {
        assert!(check_url(&EndpointUrl::new(url)).is_ok(), "{url}");
    }
}

proptest::proptest! {
    #[test]
    fn no_body_makes_an_operation_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
        for operation in OPERATIONS {
            let mut state = enabled_with_an_endpoint();
            if let Err(refusal) = apply(&mut state, operation, &body) {
                proptest::prop_assert_eq!(refusal.code.http_status(), 400);
            }
        }
    }

    #[test]
    fn json_shaped_bodies_never_panic_and_refuse_with_a_400(
        event_type in "[A-Za-z0-9 \"]{0,12}|[0-9]{1,3}|null",
        url in "\\PC{0,24}",
        status in "[A-Za-z0-9\"]{0,8}|null",
    ) {
        let body = format!(
            r#"{{"WebhookEventType": {event_type}, "EndpointUrl": {}, "Status": {status}}}"#,
            serde_json::Value::from(url)
        );
        for operation in OPERATIONS {
            let mut state = enabled_with_an_endpoint();
            if let Err(refusal) = apply(&mut state, operation, body.as_bytes()) {
                proptest::prop_assert_eq!(refusal.code.http_status(), 400);
            }
            proptest::prop_assert!(state.endpoints.iter().all(|e| check_url(&e.url).is_ok()));
            proptest::prop_assert!(state.endpoints.iter().all(|e| e.event_type.name().is_some()));
        }
    }
}

const OPERATIONS: [Operation; 6] = [
    Operation::Enable,
    Operation::Create,
    Operation::Edit,
    Operation::SetStatus,
    Operation::Deactivate,
    Operation::List,
];

fn enabled_with_an_endpoint() -> State {
    let mut state = State::default();
    apply(&mut state, Operation::Enable, b"").unwrap();
    create(
        &mut state,
        r#"{"WebhookEventType": "Payment", "EndpointUrl": "https://e.example/p"}"#,
    )
    .unwrap();
    state
}
