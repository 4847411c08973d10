//! The sandbox's own routes under `/sandbox/`, over loopback HTTP.

use std::time::Duration;

use cxtn_model::{DataEncoding, WebhookEventType};
use cxtn_sandbox::{ApiCode, Sandbox};
use cxtn_transport::Method;
use serde_json::{Value, json};

use crate::receiver::Receiver;
use crate::{Answer, send};

struct Setup {
    sandbox: Sandbox,
    receiver: Receiver,
    transport: std::sync::Arc<dyn cxtn_transport::Transport>,
}

impl Setup {
    async fn new() -> Self {
        let sandbox = crate::builder().start().await.unwrap();
        let receiver = Receiver::start().await;
        sandbox.enable_webhooks().unwrap();
        for kind in [WebhookEventType::Payment, WebhookEventType::AccountTransaction] {
            sandbox
                .create_endpoint(kind, &receiver.url("/hooks/route-secret-1b2c"))
                .unwrap();
        }
        Self {
            sandbox,
            receiver,
            transport: crate::transport(),
        }
    }

    async fn call(&self, method: Method, route: &str, body: Option<&str>) -> Answer {
        send(
            &*self.transport,
            &format!("{}{route}", self.sandbox.control_url()),
            method,
            None,
            body,
        )
        .await
    }
}

#[tokio::test]
async fn the_trigger_route_sends_a_notification_and_the_log_shows_it() {
    let s = Setup::new().await;
    let body = r#"{"event": "payment_completed", "set": {"amount": 12.50, "currency": "EUR"}, "dataAsString": true}"#;
    let answer = s.call(Method::POST, "trigger", Some(body)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let report = &answer.json;
    assert_eq!(report["event"], "payment_completed");
    assert_eq!(report["subscription"], "Payment");
    assert_eq!(report["outcome"], "pending");
    assert_eq!(report["deliveries"], json!([1]));
    assert_eq!(report["encoding"], "string");
    let event_id = report["eventId"].as_str().unwrap().to_owned();

    s.sandbox.wait_until_settled(Duration::from_secs(10)).await.unwrap();
    let received = s.receiver.wait_for(1).await;
    assert_eq!(received[0].event_id(), event_id);
    let notification = cxtn_events::parse(received[0].body.as_bytes()).unwrap();
    assert_eq!(notification.amount().unwrap().as_str(), "12.50");
    assert_eq!(notification.currency().unwrap().as_str(), "EUR");
    assert_eq!(notification.data_encoding(), DataEncoding::String);

    let log = s.call(Method::GET, "deliveries", None).await;
    assert_eq!(log.status, 200);
    let entry = &log.json[0];
    assert_eq!(entry["id"], 1);
    assert_eq!(entry["eventId"], event_id.as_str());
    assert_eq!(entry["event"], "payment_completed");
    assert_eq!(entry["eventType"], "Payment");
    assert_eq!(entry["outcome"], "delivered");
    assert_eq!(entry["attempts"], 1);
    assert_eq!(entry["lastStatus"], 200);
    assert_eq!(entry["reason"], Value::Null);
    assert_eq!(entry["url"], format!("http://{}/<redacted>", s.receiver.addr));
    assert_eq!(entry["body"], received[0].json());
    assert!(!log.json.to_string().contains("route-secret-1b2c"));
}

#[tokio::test]
async fn the_trigger_route_takes_a_batch_duplicates_and_free_form_events() {
    let s = Setup::new().await;
    let body = r#"[
        {"event": "account_credit", "set": {"amount": 0.01}},
        {"event": "trade_settled", "duplicate": true},
        {"event": "card_authorised", "subscription": "Payment", "data": {"cardId": 3}},
        {"event": "loan_approved"}
    ]"#;
    let answer = s.call(Method::POST, "trigger", Some(body)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let reports = answer.json.as_array().unwrap();
    assert_eq!(reports.len(), 4);
    let report = |event: &str| reports.iter().find(|r| r["event"] == event).unwrap().clone();
    assert_eq!(report("trade_settled")["deliveries"].as_array().unwrap().len(), 2);
    assert_eq!(report("loan_approved")["outcome"], "skipped");
    assert_eq!(report("loan_approved")["reason"], "no_subscription");
    assert_eq!(report("card_authorised")["body"]["data"], json!({"cardId": 3}));

    s.sandbox.wait_until_settled(Duration::from_secs(10)).await.unwrap();
    let received = s.receiver.wait_for(4).await;
    assert_eq!(received.len(), 4, "credit, trade twice, card");
    let credit = received.iter().find(|r| r.body.contains("account_credit")).unwrap();
    assert!(credit.body.contains(r#""amount":0.01"#), "{}", credit.body);
    let log = s.call(Method::GET, "deliveries", None).await;
    let outcomes: Vec<&str> = log
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "delivered").count(), 4);
    assert_eq!(outcomes.iter().filter(|o| **o == "skipped").count(), 1);

    let tail = s.call(Method::GET, "deliveries?from=4", None).await;
    assert_eq!(tail.status, 200);
    let ids: Vec<u64> = tail
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [4, 5], "the log from delivery 4 on");
    assert_eq!(s.call(Method::GET, "deliveries?from=99", None).await.json, json!([]));
    for bad in ["deliveries?from=x", "deliveries?from=-1", "deliveries?limit=2"] {
        let refused = s.call(Method::GET, bad, None).await;
        assert_eq!(refused.status, 400, "{bad}");
        assert_eq!(refused.json["Content"]["Model"]["ApiStatus"], "InvalidBody", "{bad}");
    }
}

#[tokio::test]
async fn the_trigger_route_refuses_what_it_cannot_send() {
    let s = Setup::new().await;
    for body in [
        "",
        "{",
        "[]",
        r#"{"set": {"amount": 1}}"#,
        r#"{"event": "account_credit", "colour": "blue"}"#,
        r#"{"event": "account_credit", "set": [1]}"#,
        r#"{"event": " "}"#,
        r#"{"event": "x", "subscription": "Loans"}"#,
        r#"{"event": "x", "data": [1], "set": {"a": 1}}"#,
    ] {
        let answer = s.call(Method::POST, "trigger", Some(body)).await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, ApiCode::InvalidBody.value()),
            "{body}: {answer:?}"
        );
        assert!(
            !answer.json["Content"]["Model"]["ApiStatusDescription"]
                .as_str()
                .unwrap()
                .is_empty()
        );
    }
    assert!(s.sandbox.deliveries().is_empty(), "nothing was sent");
    let answer = s.call(Method::GET, "trigger", None).await;
    assert_eq!((answer.status, answer.allow.as_deref()), (405, Some("POST")));
}

#[tokio::test]
async fn health_and_unknown_sandbox_routes() {
    let s = Setup::new().await;
    let answer = s.call(Method::GET, "health", None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json,
        json!({"status": "ok", "webhooksEnabled": true, "endpoints": 2, "deliveries": 0, "pending": 0})
    );
    let answer = s.call(Method::POST, "health", None).await;
    assert_eq!((answer.status, answer.code()), (405, ApiCode::MethodNotAllowed.value()));
    let answer = s.call(Method::GET, "nothing", None).await;
    assert_eq!((answer.status, answer.code()), (404, ApiCode::RouteNotFound.value()));
    let answer = send(
        &*s.transport,
        &format!("http://{}/sandbox//health", s.sandbox.addr()),
        Method::GET,
        None,
        None,
    )
    .await;
    assert_eq!(answer.json["status"], "ok", "doubled slashes are tolerated here too");
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let sandbox = crate::builder().start().await.unwrap();
    let base = sandbox.base_url();
    assert_eq!(base, format!("http://{}/api/", sandbox.addr()));
    sandbox.shutdown().await;
    let request = cxtn_transport::Request::new(Method::GET, format!("{base}webhooks/endpoints"));
    let error = crate::transport().send(request).await.unwrap_err();
    assert!(error.is_connect(), "{error}");

    let error = Sandbox::builder().token("  ").start().await.unwrap_err();
    assert_eq!(error.kind(), cxtn_sandbox::ErrorKind::Config);
    let taken = crate::builder().start().await.unwrap();
    let error = Sandbox::builder().addr(taken.addr()).start().await.unwrap_err();
    assert_eq!(error.kind(), cxtn_sandbox::ErrorKind::Bind);
}

#[tokio::test]
async fn run_until_shutdown_serves_until_the_signal() {
    let sandbox = crate::builder().open().start().await.unwrap();
    let control = sandbox.control_url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(sandbox.run_until_shutdown(async {
        let _ = stopped.await;
    }));
    let transport = crate::transport();
    let answer = send(&*transport, &format!("{control}health"), Method::GET, None, None).await;
    assert_eq!(answer.json["status"], "ok");
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    let request = cxtn_transport::Request::new(Method::GET, format!("{control}health"));
    assert!(transport.send(request).await.is_err(), "stopped after the signal");
}

#[tokio::test]
async fn the_management_routes_answer_over_http_as_the_in_process_calls_do() {
    let sandbox = crate::builder().start().await.unwrap();
    let transport = crate::transport();
    let call = |method: Method, route: &str, body: Option<&str>| {
        let url = format!("{}{route}", sandbox.base_url());
        let transport = transport.clone();
        let body = body.map(str::to_owned);
        async move { send(&*transport, &url, method, Some(crate::TOKEN), body.as_deref()).await }
    };
    let answer = call(Method::POST, "webhooks/enable", None).await;
    assert_eq!((answer.status, answer.code()), (200, 100), "{answer:?}");
    let create = r#"{"WebhookEventType": "Payment", "EndpointUrl": "https://hooks.example/cxtn/p-3e1f"}"#;
    let answer = call(Method::POST, "webhooks/endpoints", Some(create)).await;
    assert_eq!((answer.status, answer.code()), (200, 100), "{answer:?}");
    let answer = call(Method::POST, "webhooks/endpoints", Some(create)).await;
    assert_eq!((answer.status, answer.code()), (400, ApiCode::EndpointExists.value()));
    let error = sandbox
        .create_endpoint(WebhookEventType::Payment, "https://hooks.example/cxtn/p-3e1f")
        .unwrap_err();
    assert_eq!(error.kind(), cxtn_sandbox::ErrorKind::Refused);
    assert_eq!(error.api_code(), Some(ApiCode::EndpointExists));
    let answer = call(Method::GET, "webhooks/endpoints", None).await;
    assert_eq!(
        answer.json["Content"]["Model"]["Endpoints"][0]["WebhookEventType"],
        "Payment"
    );
    assert_eq!(sandbox.endpoints().len(), 1);
}
