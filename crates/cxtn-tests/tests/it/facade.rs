//! The facade end to end: a client built with the defaults manages endpoints on a local sandbox.

use cxtn::{EndpointStatus, Environment, WebhookEventType};

#[tokio::test]
async fn the_default_client_manages_endpoints_on_the_sandbox() {
    let sandbox = cxtn::sandbox::Sandbox::builder()
        .token("facade-token")
        .start()
        .await
        .unwrap();
    let client = cxtn::Client::builder()
        .configure(|webhooks| {
            webhooks
                .environment(Environment::custom(sandbox.base_url()))
                .access_token("facade-token")
        })
        .build()
        .unwrap();
    let webhooks = client.webhooks();
    webhooks.enable().await.unwrap();
    let created = webhooks
        .create(WebhookEventType::Payment, "https://example.com/cxtn")
        .await
        .unwrap();
    assert!(created.sends_notifications);
    let ensured = webhooks
        .ensure(WebhookEventType::AccountTransaction, "http://127.0.0.1:9/cxtn")
        .await
        .unwrap();
    assert!(ensured.created && ensured.activated);
    webhooks
        .set_status(WebhookEventType::Payment, EndpointStatus::Paused)
        .await
        .unwrap();
    let mut endpoints = webhooks.list().await.unwrap();
    endpoints.sort_by_key(|e| e.event_type.value());
    let seen: Vec<_> = endpoints.iter().map(|e| (e.event_type, e.status)).collect();
    assert_eq!(
        seen,
        [
            (WebhookEventType::Payment, EndpointStatus::Paused),
            (WebhookEventType::AccountTransaction, EndpointStatus::Active)
        ]
    );
    assert!(webhooks.token_expires_at().is_some());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_and_never_shown() {
    let sandbox = cxtn::sandbox::Sandbox::builder().token("right").start().await.unwrap();
    let client = cxtn::Client::builder()
        .configure(|webhooks| webhooks.base_url(sandbox.base_url()).access_token("wrong-secret-token"))
        .build()
        .unwrap();
    let e = client.webhooks().list().await.unwrap_err();
    assert_eq!(e.kind(), cxtn::webhooks::ErrorKind::Unauthorized);
    assert!(!format!("{e} {e:?} {client:?}").contains("wrong-secret-token"));
    sandbox.shutdown().await;
}

#[test]
fn building_without_a_token_says_what_to_do() {
    let e = cxtn::Client::builder().build().unwrap_err();
    assert_eq!(e.kind(), cxtn::webhooks::ErrorKind::Config);
    assert_eq!(
        e.to_string(),
        "no access token: call access_token(..) or token_source(..) on the builder"
    );
}

const fn assert_send_sync<T: Send + Sync>() {}
const _: () = {
    assert_send_sync::<cxtn::Client>();
    assert_send_sync::<cxtn::webhooks::Error>();
    assert_send_sync::<cxtn::events::Error>();
    assert_send_sync::<cxtn::Notification>();
};
