//! The cases of the conformance suite, each run against every harness.

use std::time::{Duration, Instant};

use cxtn_model::{EndpointStatus, WebhookEventType};
use cxtn_transport::RetryPolicy;
use cxtn_webhooks::ErrorKind;
use serde_json::{Value, json};

use crate::server::Scripted;
use crate::{Harness, fast_retry};

const VALID: &str = r#"{"Content": {"Model": {"ApiStatusCode": 100, "ApiStatus": "IsValid", "ApiStatusDescription": "Valid Operation"}, "ExpectedResponses": ["IsValid"]},
 "AuthorisedClientModel": {"ClientId": "c", "ClientRef": "r", "ApiStatusCode": 100, "ApiStatus": "IsValid", "ApiStatusDescription": "Valid Operation"},
 "AuthorisedUserModel": {"UserId": "u", "AppVersion": "20231117.1", "TokenStartDate": "2023-11-21T00:00:00", "TokenEndDate": "2099-12-21T00:00:00", "LoginTimestamp": "2023-12-01T20:43:29.7267638", "ApiLoginType": 1, "ApiStatusCode": 100, "ApiStatus": "IsValid", "ApiStatusDescription": "Valid Operation"}}"#;

fn ok() -> Scripted {
    Scripted::new(200, VALID)
}

fn refused(http: u16, code: i64, name: &str, description: &str) -> Scripted {
    Scripted::new(
        http,
        json!({"Content": {"Model": {"ApiStatusCode": code, "ApiStatus": name, "ApiStatusDescription": description}}})
            .to_string(),
    )
}

fn list_body(endpoints: Value) -> String {
    json!({"Content": {"Model": {"Endpoints": endpoints, "ApiStatusCode": 100, "ApiStatus": "IsValid", "ApiStatusDescription": "Valid Operation"}}})
        .to_string()
}

fn body_json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

pub async fn every_operation_sends_its_route_headers_and_body(h: Harness) {
    let webhooks = h.client();
    for _ in 0..6 {
        h.push(ok());
    }
    h.push(Scripted::new(200, list_body(json!([]))));
    webhooks.enable().await.unwrap();
    let created = webhooks
        .create(WebhookEventType::Payment, "https://example.com/cxtn/p")
        .await
        .unwrap();
    assert!(created.sends_notifications);
    let created = webhooks
        .create(WebhookEventType::Wallet, "https://example.com/cxtn/w")
        .await
        .unwrap();
    assert!(
        !created.sends_notifications,
        "the result says CXTN sends nothing for Wallet"
    );
    webhooks
        .edit(WebhookEventType::AccountTransaction, "https://example.com/cxtn/a")
        .await
        .unwrap();
    webhooks
        .set_status(WebhookEventType::Payment, EndpointStatus::Paused)
        .await
        .unwrap();
    webhooks.deactivate_all().await.unwrap();
    assert!(webhooks.list().await.unwrap().is_empty());

    let requests = h.requests();
    let seen: Vec<(&str, &str)> = requests.iter().map(|r| (r.method.as_str(), r.path.as_str())).collect();
    assert_eq!(
        seen,
        [
            ("POST", "/api/webhooks/enable"),
            ("POST", "/api/webhooks/endpoints"),
            ("POST", "/api/webhooks/endpoints"),
            ("PUT", "/api/webhooks/endpoints"),
            ("PUT", "/api/webhooks/endpoints/status"),
            ("PUT", "/api/webhooks/deactivate"),
            ("GET", "/api/webhooks/endpoints"),
        ],
        "{}",
        h.name()
    );
    for r in &requests {
        assert_eq!(
            r.header("authorization"),
            Some("Bearer test-token-s3cr3t"),
            "{}",
            h.name()
        );
        assert_eq!(r.header("accept"), Some("application/json"));
        assert!(r.header("user-agent").unwrap().starts_with("cxtn-rs/"));
        if r.body.is_empty() {
            assert_eq!(
                r.header("content-type"),
                None,
                "no body, no content type: {} {}",
                r.method,
                r.path
            );
        } else {
            assert_eq!(r.header("content-type"), Some("application/json"));
        }
    }
    assert!(requests[0].body.is_empty());
    assert_eq!(
        String::from_utf8(requests[1].body.clone()).unwrap(),
        r#"{"WebhookEventType":"Payment","EndpointUrl":"https://example.com/cxtn/p"}"#
    );
    assert_eq!(
        body_json(&requests[2].body),
        json!({"WebhookEventType": "Wallet", "EndpointUrl": "https://example.com/cxtn/w"})
    );
    assert_eq!(
        body_json(&requests[3].body),
        json!({"WebhookEventType": "AccountTransaction", "EndpointUrl": "https://example.com/cxtn/a"})
    );
    assert_eq!(
        String::from_utf8(requests[4].body.clone()).unwrap(),
        r#"{"WebhookEventType":"Payment","Status":"Paused"}"#
    );
    assert!(requests[5].body.is_empty());
    assert!(requests[6].body.is_empty());
}

pub async fn no_double_slash_whatever_the_base_url(h: Harness) {
    for trailing in [false, true] {
        let client = h.client_with(trailing, fast_retry());
        h.push(ok());
        client.enable().await.unwrap();
    }
    for r in h.requests() {
        assert_eq!(r.path, "/api/webhooks/enable", "{}", h.name());
    }
}

pub async fn list_reads_endpoints(h: Harness) {
    h.push(Scripted::new(
        200,
        list_body(json!([
            {"WebhookEventType": "Payment", "EndpointUrl": "https://a.example/p", "Status": "Active"},
            {"WebhookEventType": 2, "EndpointUrl": "https://a.example/a", "Status": "Paused", "Extra": true},
            {"WebhookEventType": "Loans", "EndpointUrl": "https://a.example/l", "Status": 9}
        ])),
    ));
    let endpoints = h.client().list().await.unwrap();
    assert_eq!(endpoints.len(), 3);
    assert_eq!(endpoints[0].event_type, WebhookEventType::Payment);
    assert_eq!(endpoints[0].status, EndpointStatus::Active);
    assert_eq!(endpoints[1].event_type, WebhookEventType::AccountTransaction);
    assert_eq!(endpoints[1].status, EndpointStatus::Paused);
    assert_eq!(endpoints[1].extra["Extra"], true);
    assert!(matches!(endpoints[2].event_type, WebhookEventType::Unknown(_)));
    assert!(matches!(endpoints[2].status, EndpointStatus::Unknown(_)));
    assert!(
        !format!("{endpoints:?}").contains("a.example/p"),
        "Debug redacts endpoint paths"
    );
}

pub async fn a_non_100_code_is_an_api_error(h: Harness) {
    h.push(refused(
        200,
        402,
        "EndpointExists",
        "An endpoint already exists for this event type",
    ));
    let e = h
        .client()
        .create(WebhookEventType::Payment, "https://e.example/x")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Api, "{e}");
    assert_eq!(e.http_status().map(|s| s.as_u16()), Some(200));
    assert_eq!(e.api_status_code().map(|c| c.0), Some(402));
    assert_eq!(e.api_status(), Some("EndpointExists"));
    assert_eq!(
        e.api_description(),
        Some("An endpoint already exists for this event type")
    );
    assert_eq!(
        e.to_string(),
        "create: CXTN refused the operation (HTTP 200 OK, ApiStatusCode 402 EndpointExists): An endpoint already exists for this event type"
    );
}

pub async fn an_envelope_on_500_keeps_its_triple(h: Harness) {
    // A status update is idempotent, so a 500 is retried: every attempt answers the same.
    for _ in 0..3 {
        h.push(refused(500, 500, "InternalError", "Something failed"));
    }
    let e = h
        .client()
        .set_status(WebhookEventType::Payment, EndpointStatus::Active)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Api);
    assert_eq!(e.http_status().map(|s| s.as_u16()), Some(500));
    assert_eq!(e.api_status(), Some("InternalError"));
    assert_eq!(h.requests().len(), 3, "{}", h.name());
}

pub async fn unauthorized_says_what_to_do(h: Harness) {
    h.push(Scripted::new(401, ""));
    h.push(refused(403, 401, "Unauthorised", "Token not valid"));
    let client = h.client();
    for _ in 0..2 {
        let e = client.list().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        let text = e.to_string();
        assert!(text.contains("wrong or expired"), "{text}");
        assert!(text.contains("Get a new token"), "{text}");
        assert!(
            !text.contains("s3cr3t") && !format!("{e:?}").contains("s3cr3t"),
            "the token never appears"
        );
    }
    assert_eq!(h.requests().len(), 2, "401 and 403 are not retried");
}

pub async fn non_json_and_empty_bodies_are_typed(h: Harness) {
    let client = h.client();
    h.push(Scripted::new(200, "<html>maintenance</html>"));
    let e = client.deactivate_all().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert_eq!(e.body_excerpt(), Some("<html>maintenance</html>"));

    h.push(Scripted::new(200, ""));
    let e = client.deactivate_all().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);

    h.push(Scripted::new(404, "Not Found"));
    let e = client.deactivate_all().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Http);
    assert_eq!(e.http_status().map(|s| s.as_u16()), Some(404));
    assert_eq!(e.body_excerpt(), Some("Not Found"));

    h.push(Scripted::new(400, ""));
    let e = client.deactivate_all().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Http);
    assert!(e.to_string().contains("(empty body)"), "{e}");

    let long = "x".repeat(5_000);
    h.push(Scripted::new(200, long));
    let e = client.deactivate_all().await.unwrap_err();
    assert_eq!(
        e.body_excerpt().map(str::len),
        Some(300),
        "only the first bytes are kept"
    );
}

pub async fn retries_then_succeeds_on_the_third_attempt(h: Harness) {
    h.push(Scripted::new(500, "oops"));
    h.push(Scripted::new(503, "busy"));
    h.push(ok());
    h.client()
        .edit(WebhookEventType::Payment, "https://e.example/x")
        .await
        .unwrap();
    assert_eq!(h.requests().len(), 3, "{}", h.name());
}

pub async fn create_is_not_retried_after_a_500(h: Harness) {
    h.push(Scripted::new(500, "oops"));
    h.push(ok());
    let e = h
        .client()
        .create(WebhookEventType::Payment, "https://e.example/x")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Http);
    assert_eq!(
        h.requests().len(),
        1,
        "a create that may have reached CXTN is not sent again"
    );
}

pub async fn retry_after_is_honoured(h: Harness) {
    h.push(Scripted::new(429, "slow down").header("retry-after", "1"));
    h.push(ok());
    let started = Instant::now();
    h.client().enable().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(h.requests().len(), 2);
}

pub async fn a_timeout_ends_within_its_bound(h: Harness) {
    let retry = RetryPolicy::builder()
        .max_attempts(2)
        .initial_backoff(Duration::from_millis(5))
        .attempt_timeout(Duration::from_millis(200))
        .deadline(Duration::from_secs(5))
        .build();
    let client = h.hanging_client(retry);
    let started = Instant::now();
    let e = client.list().await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.is_timeout());
    assert_eq!(e.attempts(), Some(2));
    assert!(took >= Duration::from_millis(400), "two attempts of 200 ms: {took:?}");
    assert!(took < Duration::from_secs(4), "ends within its bound: {took:?}");
    assert!(e.to_string().contains("2 attempts"), "{e}");
}

pub async fn ensure_creates_edits_and_activates(h: Harness) {
    let client = h.client();
    // Nothing there: list, create, activate.
    h.push(Scripted::new(200, list_body(json!([]))));
    h.push(ok());
    h.push(ok());
    let done = client
        .ensure(WebhookEventType::Payment, "https://e.example/p")
        .await
        .unwrap();
    assert!(done.created && done.activated && !done.url_changed);
    // Another URL, paused: list, edit, activate.
    h.push(Scripted::new(
        200,
        list_body(json!([{"WebhookEventType": "Payment", "EndpointUrl": "https://old.example/p", "Status": "Paused"}])),
    ));
    h.push(ok());
    h.push(ok());
    let done = client
        .ensure(WebhookEventType::Payment, "https://e.example/p")
        .await
        .unwrap();
    assert!(!done.created && done.url_changed && done.activated);
    // Already right: list only.
    h.push(Scripted::new(
        200,
        list_body(json!([{"WebhookEventType": "Payment", "EndpointUrl": "https://e.example/p", "Status": "Active"}])),
    ));
    let done = client
        .ensure(WebhookEventType::Payment, "https://e.example/p")
        .await
        .unwrap();
    assert!(done.is_unchanged());

    let seen: Vec<String> = h
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        seen,
        [
            "GET /api/webhooks/endpoints",
            "POST /api/webhooks/endpoints",
            "PUT /api/webhooks/endpoints/status",
            "GET /api/webhooks/endpoints",
            "PUT /api/webhooks/endpoints",
            "PUT /api/webhooks/endpoints/status",
            "GET /api/webhooks/endpoints",
        ]
    );
}

pub async fn invalid_input_sends_nothing(h: Harness) {
    let client = h.client();
    let e = client
        .create(WebhookEventType::Payment, "http://public.example/path-token-123")
        .await
        .unwrap_err();
    assert_eq!((e.kind(), e.field()), (ErrorKind::InvalidInput, Some("endpoint_url")));
    assert!(!e.to_string().contains("path-token-123"), "{e}");
    let e = client.edit(WebhookEventType::Payment, "not a url").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let unknown: WebhookEventType = serde_json::from_str("\"Loans\"").unwrap();
    let e = client.create(unknown, "https://e.example/x").await.unwrap_err();
    assert_eq!((e.kind(), e.field()), (ErrorKind::InvalidInput, Some("event_type")));
    let status: EndpointStatus = serde_json::from_str("\"Stopped\"").unwrap();
    let e = client.set_status(WebhookEventType::Payment, status).await.unwrap_err();
    assert_eq!((e.kind(), e.field()), (ErrorKind::InvalidInput, Some("status")));
    assert!(h.requests().is_empty(), "nothing was sent");
}

pub async fn token_expiry_is_exposed(h: Harness) {
    let client = h.client();
    assert_eq!(client.token_expires_at(), None);
    h.push(ok());
    client.enable().await.unwrap();
    assert_eq!(client.token_expires_at().unwrap().as_str(), "2099-12-21T00:00:00");
}
