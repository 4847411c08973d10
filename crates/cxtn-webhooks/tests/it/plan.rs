//! Plans applied through the client over the mock transport: the calls made, their order, and what a refusal
//! halfway leaves in the report.

use std::sync::Arc;

use cxtn_model::WebhookEventType;
use cxtn_transport::{Bytes, MockTransport, Response, StatusCode};
use cxtn_webhooks::plan::{Change, Desired, Plan};
use cxtn_webhooks::{Client, ErrorKind, Operation};
use serde_json::{Value, json};

const TOKEN: &str = "p4th-t0ken-s3cret";

fn url(path: &str) -> String {
    format!("https://hooks.example.com/cxtn/{path}")
}

fn respond(mock: &MockTransport, status: u16, body: &Value) {
    mock.push_response(Response::new(StatusCode::from_u16(status).unwrap()).body(Bytes::from(body.to_string())));
}

fn ok(mock: &MockTransport) {
    respond(
        mock,
        200,
        &json!({"Content": {"Model": {"ApiStatusCode": 100, "ApiStatus": "IsValid", "ApiStatusDescription": "Valid Operation"}}}),
    );
}

fn refuse(mock: &MockTransport, code: i64, name: &str, description: &str) {
    respond(
        mock,
        400,
        &json!({"Content": {"Model": {"ApiStatusCode": code, "ApiStatus": name, "ApiStatusDescription": description}}}),
    );
}

fn list(mock: &MockTransport, endpoints: &Value) {
    respond(
        mock,
        200,
        &json!({"Content": {"Model": {"Endpoints": endpoints, "ApiStatusCode": 100, "ApiStatus": "IsValid", "ApiStatusDescription": "Valid Operation"}}}),
    );
}

fn client(mock: &MockTransport) -> Client {
    Client::builder()
        .base_url("http://mock.invalid/api/")
        .access_token("test-token")
        .transport(Arc::new(mock.clone()))
        .retry_policy(crate::fast_retry())
        .build()
        .unwrap()
}

/// Each request as `METHOD path body`.
fn calls(mock: &MockTransport) -> Vec<String> {
    mock.requests()
        .into_iter()
        .map(|r| {
            let path = r.uri().path().to_owned();
            let body = String::from_utf8(r.body.to_vec()).unwrap();
            format!("{} {path} {body}", r.method).trim_end().to_owned()
        })
        .collect()
}

fn desired() -> Desired {
    Desired::builder()
        .endpoint(WebhookEventType::Payment, url(TOKEN))
        .endpoint(WebhookEventType::AccountTransaction, url(TOKEN))
        .absent(WebhookEventType::Wallet)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_plan_makes_its_calls_in_order_and_a_second_run_only_lists() {
    let mock = MockTransport::new();
    let client = client(&mock);
    list(
        &mock,
        &json!([
            {"WebhookEventType": "AccountTransaction", "EndpointUrl": url("old"), "Status": "Paused"},
            {"WebhookEventType": "Wallet", "EndpointUrl": url("w"), "Status": "Active"},
        ]),
    );
    let plan = client.plan(&desired()).await.unwrap();
    assert_eq!(plan.changes().len(), 5, "{plan}");
    for _ in 0..5 {
        ok(&mock);
    }
    let report = plan.apply(&client).await.unwrap();
    assert!(report.is_complete() && !report.enabled_webhooks());
    assert_eq!(report.applied(), plan.changes());
    let u = url(TOKEN);
    assert_eq!(
        calls(&mock),
        [
            "GET /api/webhooks/endpoints".to_owned(),
            format!(r#"POST /api/webhooks/endpoints {{"WebhookEventType":"Payment","EndpointUrl":"{u}"}}"#),
            format!(r#"PUT /api/webhooks/endpoints {{"WebhookEventType":"AccountTransaction","EndpointUrl":"{u}"}}"#),
            r#"PUT /api/webhooks/endpoints/status {"WebhookEventType":"Payment","Status":"Active"}"#.to_owned(),
            r#"PUT /api/webhooks/endpoints/status {"WebhookEventType":"AccountTransaction","Status":"Active"}"#
                .to_owned(),
            r#"PUT /api/webhooks/endpoints/status {"WebhookEventType":"Wallet","Status":"Inactive"}"#.to_owned(),
        ]
    );

    list(
        &mock,
        &json!([
            {"WebhookEventType": "Payment", "EndpointUrl": url(TOKEN), "Status": "Active"},
            {"WebhookEventType": 2, "EndpointUrl": url(TOKEN), "Status": "active"},
            {"WebhookEventType": "Wallets", "EndpointUrl": url("w"), "Status": "Inactive"},
        ]),
    );
    let report = client.converge(&desired()).await.unwrap();
    assert!(report.is_unchanged(), "{report}");
    assert_eq!(mock.request_count(), 7, "one list, nothing else");
    assert_eq!(mock.remaining(), 0);
}

#[tokio::test]
async fn a_refusal_halfway_reports_what_was_and_was_not_applied() {
    let mock = MockTransport::new();
    let client = client(&mock);
    list(
        &mock,
        &json!([{"WebhookEventType": "AccountTransaction", "EndpointUrl": url("old"), "Status": "Inactive"}]),
    );
    let plan = client.plan(&desired()).await.unwrap();
    assert_eq!(
        plan.to_string(),
        "create Payment at https://hooks.example.com/<redacted>\n\
         edit AccountTransaction: https://hooks.example.com/<redacted> (the redacted part of the URL differs)\n\
         status Payment: Active (new endpoint)\n\
         status AccountTransaction: Inactive -> Active"
    );
    ok(&mock);
    refuse(
        &mock,
        1003,
        "EndpointNotFound",
        "no endpoint exists for AccountTransaction",
    );
    let error = plan.apply(&client).await.unwrap_err();
    assert_eq!(mock.request_count(), 3, "nothing is sent after the refusal");
    assert_eq!(error.kind(), ErrorKind::Api);
    assert_eq!(error.error().operation(), Some(Operation::Edit));
    let report = error.report();
    assert_eq!(report.applied(), &plan.changes()[..1]);
    assert_eq!(report.failed(), Some(&plan.changes()[1]));
    assert_eq!(report.not_attempted(), &plan.changes()[2..]);
    assert_eq!(report.not_applied().count(), 3);
    assert!(!report.is_complete());
    let message = error.to_string();
    assert!(
        message.starts_with("apply stopped at `edit AccountTransaction: https://hooks.example.com/<redacted>"),
        "{message}"
    );
    assert!(
        message.contains("applied 1 of 4 changes (create Payment at https://hooks.example.com/<redacted>)"),
        "{message}"
    );
    assert!(message.contains("not applied: edit AccountTransaction"), "{message}");
    assert!(
        message.contains("no endpoint exists for AccountTransaction"),
        "{message}"
    );
    for text in [message, format!("{error:?}"), report.to_string()] {
        assert!(!text.contains(TOKEN) && !text.contains("/old"), "{text}");
    }
}

#[tokio::test]
async fn webhooks_are_enabled_only_when_a_create_is_refused_for_it() {
    let mock = MockTransport::new();
    let client = client(&mock);
    let desired = Desired::builder()
        .endpoint(WebhookEventType::Payment, url(TOKEN))
        .endpoint(WebhookEventType::AccountTransaction, url(TOKEN))
        .build()
        .unwrap();
    list(&mock, &json!([]));
    refuse(
        &mock,
        1001,
        "WebhooksNotEnabled",
        "webhooks are not enabled on the account",
    );
    for _ in 0..5 {
        ok(&mock);
    }
    let report = client.converge(&desired).await.unwrap();
    assert!(report.enabled_webhooks() && report.is_complete());
    assert_eq!(report.applied().len(), 4);
    assert!(
        report.to_string().starts_with("enabled webhooks\ncreate Payment"),
        "{report}"
    );
    let routes: Vec<String> = calls(&mock)
        .iter()
        .map(|c| c.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        routes,
        [
            "GET /api/webhooks/endpoints",
            "POST /api/webhooks/endpoints",
            "POST /api/webhooks/enable",
            "POST /api/webhooks/endpoints",
            "POST /api/webhooks/endpoints",
            "PUT /api/webhooks/endpoints/status",
            "PUT /api/webhooks/endpoints/status",
        ]
    );
}

#[tokio::test]
async fn a_refused_enable_fails_the_create_and_says_so() {
    let mock = MockTransport::new();
    let client = client(&mock);
    list(&mock, &json!([]));
    refuse(
        &mock,
        1001,
        "WebhooksNotEnabled",
        "webhooks are not enabled on the account",
    );
    refuse(
        &mock,
        1012,
        "NotApproved",
        "CXTN has not approved webhooks for this account",
    );
    let error = client.converge(&desired()).await.unwrap_err();
    assert_eq!(error.error().operation(), Some(Operation::Enable));
    assert!(matches!(error.report().failed(), Some(Change::Create { .. })));
    assert!(error.report().applied().is_empty() && !error.report().enabled_webhooks());
    assert!(error.to_string().contains("applied 0 of 4 changes"), "{error}");
}

#[tokio::test]
async fn a_failed_list_applies_nothing() {
    let mock = MockTransport::new();
    let client = client(&mock);
    respond(&mock, 401, &json!({}));
    let error = client.converge(&desired()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthorized);
    assert!(error.report().failed().is_none() && error.report().applied().is_empty());
    assert!(error.to_string().starts_with("nothing was applied: list: "), "{error}");
    assert!(Plan::default().is_in_sync());
}

/// The same through the crate's scripted fake account, which keeps state.
#[cfg(feature = "test-util")]
mod fake {
    use cxtn_model::{EndpointStatus, WebhookEventType};
    use cxtn_webhooks::Operation;
    use cxtn_webhooks::testing::{FakeCxtn, Refusal};

    use super::{TOKEN, desired, url};

    #[tokio::test]
    async fn a_fresh_account_converges_once() {
        let fake = FakeCxtn::new().webhooks_enabled(false).with_endpoint(
            WebhookEventType::Wallet,
            url("w"),
            EndpointStatus::Paused,
        );
        let client = fake.client().unwrap();
        let report = client.converge(&desired()).await.unwrap();
        assert!(report.enabled_webhooks() && report.is_complete(), "{report}");
        fake.assert_called(&[
            Operation::List,
            Operation::Create,
            Operation::Enable,
            Operation::Create,
            Operation::Create,
            Operation::SetStatus,
            Operation::SetStatus,
            Operation::SetStatus,
        ]);
        assert!(fake.is_enabled());
        let status = |t| fake.endpoint(t).map(|e| (e.endpoint_url.as_str().to_owned(), e.status));
        assert_eq!(
            status(WebhookEventType::Payment),
            Some((url(TOKEN), EndpointStatus::Active))
        );
        assert_eq!(
            status(WebhookEventType::AccountTransaction),
            Some((url(TOKEN), EndpointStatus::Active))
        );
        assert_eq!(
            status(WebhookEventType::Wallet),
            Some((url("w"), EndpointStatus::Inactive))
        );

        let calls = fake.calls().len();
        assert!(client.converge(&desired()).await.unwrap().is_unchanged());
        assert_eq!(fake.calls().len(), calls + 1, "a second run only lists");
    }

    #[tokio::test]
    async fn a_refused_status_leaves_the_rest_not_attempted() {
        let fake = FakeCxtn::new()
            .with_endpoint(WebhookEventType::Payment, url("old"), EndpointStatus::Paused)
            .with_endpoint(WebhookEventType::Wallet, url("w"), EndpointStatus::Active)
            .refuse(Operation::SetStatus, Refusal::invalid_status());
        let client = fake.client().unwrap();
        let error = client.converge(&desired()).await.unwrap_err();
        let report = error.report();
        let text =
            |changes: &[cxtn_webhooks::plan::Change]| changes.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            text(report.applied()),
            [
                "edit Payment: https://hooks.example.com/<redacted> (the redacted part of the URL differs)",
                "create AccountTransaction at https://hooks.example.com/<redacted>",
            ]
        );
        assert_eq!(
            report.failed().map(ToString::to_string).as_deref(),
            Some("status Payment: Paused -> Active")
        );
        assert_eq!(
            text(report.not_attempted()),
            [
                "status AccountTransaction: Active (new endpoint)",
                "status Wallet: Active -> Inactive",
            ]
        );
        // What was applied is in the account; what was not is not.
        assert_eq!(
            fake.endpoint(WebhookEventType::Payment)
                .map(|e| (e.endpoint_url.as_str().to_owned(), e.status)),
            Some((url(TOKEN), EndpointStatus::Paused))
        );
        assert_eq!(
            fake.endpoint(WebhookEventType::Wallet).map(|e| e.status),
            Some(EndpointStatus::Active)
        );

        // Running again picks up where it stopped.
        let report = client.converge(&desired()).await.unwrap();
        assert_eq!(
            report.applied().iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["status Payment: Paused -> Active", "status Wallet: Active -> Inactive"]
        );
    }
}
