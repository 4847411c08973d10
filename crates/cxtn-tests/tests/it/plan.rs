//! Endpoints as code through the facade against the in-process sandbox: a service converging at start,
//! drift made behind its back (pause, edit, deactivate all), and the calls each run makes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cxtn::sandbox::Sandbox;
use cxtn::transport::{HyperTransport, Request, Response, RetryPolicy, Transport};
use cxtn::webhooks::plan::{Change, Desired, Plan};
use cxtn::{EndpointStatus, WebhookEventType};

const PATH_TOKEN: &str = "p4th-t0ken-0f-the-shop-s3cret";

/// A transport that records `METHOD /path` of each request, then sends it over HTTP.
#[derive(Debug)]
struct Recording {
    inner: HyperTransport,
    calls: Mutex<Vec<String>>,
}

impl Recording {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

#[cxtn::transport::async_trait]
impl Transport for Recording {
    async fn send(&self, request: Request) -> Result<Response, cxtn::transport::Error> {
        let call = format!("{} {}", request.method, request.uri().path());
        self.calls.lock().unwrap().push(call);
        self.inner.send(request).await
    }
}

fn file() -> String {
    r#"
unlisted = "inactive"
absent = ["Trade"]

[endpoints.Payment]
url = "https://hooks.example.com/shop/${SHOP_PATH_TOKEN}"

[endpoints.AccountTransaction]
url = "https://hooks.example.com/shop/${SHOP_PATH_TOKEN}"
status = "Paused"
"#
    .to_owned()
}

fn desired() -> Desired {
    Desired::from_toml_str(&file(), |name| {
        (name == "SHOP_PATH_TOKEN").then(|| PATH_TOKEN.to_owned())
    })
    .unwrap()
}

fn url() -> String {
    format!("https://hooks.example.com/shop/{PATH_TOKEN}")
}

/// The sandbox's endpoints as `Type Status url`, in the order of CXTN's table.
fn endpoints(sandbox: &Sandbox) -> Vec<String> {
    let mut all = sandbox.endpoints();
    all.sort_by_key(|e| e.event_type.value());
    all.iter()
        .map(|e| format!("{} {} {}", e.event_type, e.status, e.endpoint_url.as_str()))
        .collect()
}

fn wanted() -> Vec<String> {
    vec![
        format!("Payment Active {}", url()),
        format!("AccountTransaction Paused {}", url()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_converges_its_endpoints_and_undoes_drift() {
    let sandbox = Sandbox::builder()
        .retry_schedule([Duration::from_millis(10)])
        .start()
        .await
        .unwrap();
    let recording = Arc::new(Recording {
        inner: HyperTransport::new().unwrap(),
        calls: Mutex::new(Vec::new()),
    });
    let client = cxtn::Client::builder()
        .configure(|webhooks| {
            webhooks
                .base_url(sandbox.base_url())
                .access_token(sandbox.token().expose_secret())
                .transport(recording.clone())
                .retry_policy(RetryPolicy::none())
        })
        .build()
        .unwrap();
    let client = client.webhooks();

    // A fresh account: webhooks are enabled when the first create is refused for it.
    let report = client.converge(&desired()).await.unwrap();
    assert!(report.enabled_webhooks() && report.is_complete(), "{report}");
    assert_eq!(report.applied().len(), 4);
    assert_eq!(
        recording.take(),
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
    assert_eq!(endpoints(&sandbox), wanted());

    // A second run: the list, and nothing else.
    let report = client.converge(&desired()).await.unwrap();
    assert!(report.is_unchanged(), "{report}");
    assert_eq!(recording.take(), ["GET /api/webhooks/endpoints"]);

    // Drift behind its back: a pause, an edit, and an endpoint the file says must not be active.
    sandbox
        .set_endpoint_status(WebhookEventType::Payment, EndpointStatus::Paused)
        .unwrap();
    sandbox
        .edit_endpoint(
            WebhookEventType::AccountTransaction,
            "https://old.example.com/shop/old-token",
        )
        .unwrap();
    sandbox
        .create_endpoint(WebhookEventType::Trade, "https://old.example.com/trade")
        .unwrap();
    let plan = client.plan(&desired()).await.unwrap();
    assert_eq!(
        plan.to_string(),
        "edit AccountTransaction: https://old.example.com/<redacted> -> https://hooks.example.com/<redacted>\n\
         status Trade: Active -> Inactive\n\
         status Payment: Paused -> Active"
    );
    assert!(!format!("{plan:?}").contains(PATH_TOKEN) && !format!("{plan:?}").contains("old-token"));
    let report = plan.apply(client).await.unwrap();
    assert_eq!(report.applied(), plan.changes());
    assert_eq!(
        recording.take(),
        [
            "GET /api/webhooks/endpoints",
            "PUT /api/webhooks/endpoints",
            "PUT /api/webhooks/endpoints/status",
            "PUT /api/webhooks/endpoints/status",
        ]
    );
    let mut expected = vec!["Trade Inactive https://old.example.com/trade".to_owned()];
    expected.extend(wanted());
    assert_eq!(endpoints(&sandbox), expected);
    assert!(client.converge(&desired()).await.unwrap().is_unchanged());
    assert_eq!(recording.take().len(), 1);

    // Someone deactivates them all.
    sandbox.deactivate_endpoints().unwrap();
    let plan = client.plan(&desired()).await.unwrap();
    let statuses: Vec<_> = plan
        .changes()
        .iter()
        .map(|c| match c {
            Change::SetStatus { event_type, to, .. } => format!("{event_type} {to}"),
            other => panic!("only statuses change: {other}"),
        })
        .collect();
    assert_eq!(statuses, ["Payment Active", "AccountTransaction Paused"]);
    plan.apply(client).await.unwrap();
    assert_eq!(endpoints(&sandbox), expected);
    let after = client.plan(&desired()).await.unwrap();
    assert!(after.is_in_sync(), "{after}");
    assert_eq!(after, Plan::compute(&desired(), &client.list().await.unwrap()));
}
