//! The scripted fake of CXTN's management API, and `ensure` against it: enabling webhooks when the account needs it.

use cxtn_model::{EndpointStatus, WebhookEventType};
use cxtn_transport::ErrorKind as TransportErrorKind;
use cxtn_webhooks::testing::{FakeCxtn, Refusal};
use cxtn_webhooks::{Client, ErrorKind, Operation};

const URL: &str = "https://hooks.example.com/cxtn/k4Jx9sQ2pLm7Vw3Zt8Yb1Nc6";
const OTHER_URL: &str = "https://hooks.example.com/cxtn/other-token-value";

fn client(fake: &FakeCxtn) -> Client {
    Client::builder()
        .access_token("test-token")
        .transport(fake.transport())
        .retry_policy(crate::fast_retry())
        .build()
        .unwrap()
}

#[tokio::test]
async fn ensure_on_a_fresh_account_enables_webhooks_once_then_creates() {
    let fake = FakeCxtn::new().webhooks_enabled(false);
    let ensured = client(&fake).ensure(WebhookEventType::Payment, URL).await.unwrap();
    assert!(ensured.enabled && ensured.created && ensured.activated && !ensured.url_changed);
    fake.assert_called(&[
        Operation::List,
        Operation::Create,
        Operation::Enable,
        Operation::List,
        Operation::Create,
        Operation::SetStatus,
    ]);
    assert!(fake.is_enabled());
    let endpoint = fake.endpoint(WebhookEventType::Payment).unwrap();
    assert_eq!(
        (endpoint.endpoint_url.as_str(), endpoint.status),
        (URL, EndpointStatus::Active)
    );
}

#[tokio::test]
async fn ensure_when_nothing_has_to_change_makes_one_call() {
    let fake = FakeCxtn::new().with_endpoint(WebhookEventType::AccountTransaction, URL, EndpointStatus::Active);
    let ensured = client(&fake)
        .ensure(WebhookEventType::AccountTransaction, URL)
        .await
        .unwrap();
    assert!(ensured.is_unchanged());
    assert!(!ensured.enabled);
    fake.assert_called(&[Operation::List]);
}

#[tokio::test]
async fn ensure_edits_a_moved_url_and_activates_a_paused_endpoint() {
    let fake = FakeCxtn::new().with_endpoint(WebhookEventType::Payment, OTHER_URL, EndpointStatus::Paused);
    let ensured = client(&fake).ensure(WebhookEventType::Payment, URL).await.unwrap();
    assert!(ensured.url_changed && ensured.activated && !ensured.created && !ensured.enabled);
    fake.assert_called(&[Operation::List, Operation::Edit, Operation::SetStatus]);
    let calls = fake.calls();
    assert_eq!(calls[1].body.as_ref().unwrap()["EndpointUrl"], URL);
    assert_eq!(calls[2].body.as_ref().unwrap()["Status"], "Active");
    let endpoint = fake.endpoint(WebhookEventType::Payment).unwrap();
    assert_eq!(
        (endpoint.endpoint_url.as_str(), endpoint.status),
        (URL, EndpointStatus::Active)
    );
}

#[tokio::test]
async fn ensure_enables_only_once_and_returns_the_second_refusal() {
    let fake = FakeCxtn::new()
        .webhooks_enabled(false)
        .refuse(Operation::Create, Refusal::webhooks_not_enabled())
        .refuse(Operation::Create, Refusal::webhooks_not_enabled());
    let err = client(&fake).ensure(WebhookEventType::Payment, URL).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.api_status(), Some("WebhooksNotEnabled"));
    assert_eq!(err.operation(), Some(Operation::Create));
    fake.assert_called(&[
        Operation::List,
        Operation::Create,
        Operation::Enable,
        Operation::List,
        Operation::Create,
    ]);
}

#[tokio::test]
async fn ensure_returns_the_enable_refusal_when_the_account_is_not_approved() {
    let not_approved = Refusal::new(403, 1012, "WebhooksNotApproved", "ask CXTN to approve webhooks");
    let fake = FakeCxtn::new()
        .webhooks_enabled(false)
        .refuse(Operation::Enable, not_approved);
    let err = client(&fake).ensure(WebhookEventType::Payment, URL).await.unwrap_err();
    assert_eq!(err.operation(), Some(Operation::Enable));
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    fake.assert_called(&[Operation::List, Operation::Create, Operation::Enable]);
    assert!(!fake.is_enabled());
    assert!(fake.endpoints().is_empty());
}

#[tokio::test]
async fn the_fake_keeps_the_simulator_rules() {
    let fake = FakeCxtn::new();
    let client = client(&fake);
    client.create(WebhookEventType::Payment, URL).await.unwrap();
    let exists = client.create(WebhookEventType::Payment, URL).await.unwrap_err();
    assert_eq!(exists.api_status(), Some("EndpointExists"));
    let missing = client
        .set_status(WebhookEventType::AccountTransaction, EndpointStatus::Paused)
        .await
        .unwrap_err();
    assert_eq!(missing.api_status(), Some("EndpointNotFound"));
    client.deactivate_all().await.unwrap();
    let listed = client.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, EndpointStatus::Inactive);
    assert_eq!(
        fake.operations(),
        [
            Operation::Create,
            Operation::Create,
            Operation::SetStatus,
            Operation::DeactivateAll,
            Operation::List
        ]
    );
}

#[tokio::test]
async fn a_scripted_connect_failure_is_retried_by_the_client_for_a_list() {
    let fake = FakeCxtn::new().fail(Operation::List, TransportErrorKind::Connect);
    assert!(client(&fake).list().await.unwrap().is_empty());
    fake.assert_called(&[Operation::List, Operation::List]);

    let fake = FakeCxtn::new()
        .fail(Operation::Enable, TransportErrorKind::Timeout)
        .fail(Operation::Enable, TransportErrorKind::Timeout)
        .fail(Operation::Enable, TransportErrorKind::Timeout);
    let err = client(&fake).enable().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.attempts(), Some(3));
}

#[tokio::test]
async fn a_request_to_an_unknown_route_is_refused_and_the_routes_can_be_moved() {
    let fake = FakeCxtn::new();
    let client = Client::builder()
        .access_token("t")
        .transport(fake.transport())
        .route(Operation::List, cxtn_transport::Method::GET, "webhooks/all")
        .build()
        .unwrap();
    let err = client.list().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.api_status(), Some("RouteNotFound"));
    assert_eq!(fake.calls()[0].operation, None);
    assert_eq!(fake.calls()[0].path, "/api/webhooks/all");

    let moved = FakeCxtn::new().with_routes(client_routes());
    let client = Client::builder()
        .access_token("t")
        .transport(moved.transport())
        .route(Operation::List, cxtn_transport::Method::GET, "webhooks/all")
        .build()
        .unwrap();
    assert!(client.list().await.unwrap().is_empty());
    moved.assert_called(&[Operation::List]);
}

fn client_routes() -> cxtn_webhooks::Routes {
    let mut routes = cxtn_webhooks::Routes::default();
    routes.set(
        Operation::List,
        cxtn_webhooks::Route::new(cxtn_transport::Method::GET, "webhooks/all"),
    );
    routes
}

#[tokio::test]
async fn calls_never_keep_the_token() {
    let fake = FakeCxtn::new();
    client(&fake).list().await.unwrap();
    let shown = format!("{:?} {fake:?}", fake.calls());
    assert!(!shown.contains("test-token"), "{shown}");
}

#[test]
fn the_fake_is_send_and_sync() {
    fn assert<T: Send + Sync>() {}
    assert::<FakeCxtn>();
    assert::<Refusal>();
    assert::<cxtn_webhooks::testing::Call>();
}
