//! The sandbox's management routes through the `cxtn` client, once per HTTP backend.
//!
//! Rules the client checks itself before sending (an unknown event type or status, a URL that is not
//! http or https) are sent raw through the same backend, to reach the sandbox.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cxtn::sandbox::{ApiCode, Sandbox, SandboxBuilder};
use cxtn::transport::{Method, Request, RetryPolicy, Transport};
use cxtn::webhooks::ErrorKind;
use cxtn::{EndpointStatus, WebhookEventType};
use serde_json::{Value, json};

/// The token the suites start the sandbox with.
const TOKEN: &str = "sandbox-test-token-s3cr3t";

/// A sandbox builder for tests: the test token, retries after 10 ms and 20 ms (three attempts), 2 s per attempt.
fn builder() -> SandboxBuilder {
    Sandbox::builder()
        .token(TOKEN)
        .retry_schedule([Duration::from_millis(10), Duration::from_millis(20)])
        .delivery_timeout(Duration::from_secs(2))
}

/// An HTTP backend of `cxtn-transport`, by name.
fn backend(name: &str) -> Arc<dyn Transport> {
    match name {
        "reqwest" => Arc::new(cxtn::transport::ReqwestTransport::new().unwrap()),
        _ => Arc::new(cxtn::transport::HyperTransport::new().unwrap()),
    }
}

/// A sandbox, and the backend the management calls go through.
struct Harness {
    sandbox: Sandbox,
    transport: Arc<dyn Transport>,
    backend: &'static str,
}

/// A raw answer of the sandbox.
#[derive(Debug)]
struct Answer {
    status: u16,
    json: Value,
    allow: Option<String>,
    content_type: Option<String>,
}

impl Answer {
    /// `Content.Model.ApiStatusCode`.
    fn code(&self) -> i64 {
        self.json["Content"]["Model"]["ApiStatusCode"].as_i64().unwrap()
    }
}

impl Harness {
    async fn start(backend_name: &'static str) -> Self {
        Self::with(builder(), backend_name).await
    }

    async fn with(builder: SandboxBuilder, backend_name: &'static str) -> Self {
        Self {
            sandbox: builder.start().await.unwrap(),
            transport: backend(backend_name),
            backend: backend_name,
        }
    }

    /// A management client with `token`, without retries.
    fn client_with_token(&self, token: &str) -> cxtn::Client {
        cxtn::Client::builder()
            .configure(|webhooks| {
                webhooks
                    .base_url(self.sandbox.base_url())
                    .access_token(token)
                    .transport(self.transport.clone())
                    .retry_policy(RetryPolicy::none())
            })
            .build()
            .unwrap()
    }

    /// A management client with the sandbox's token.
    fn client(&self) -> cxtn::Client {
        self.client_with_token(self.sandbox.token().expose_secret())
    }

    /// Sends a request to `path` (from the root, `/api/...`) through the harness's backend.
    async fn raw(&self, method: Method, path: &str, token: Option<&str>, body: Option<&str>) -> Answer {
        send(
            &*self.transport,
            &format!("http://{}{path}", self.sandbox.addr()),
            method,
            token,
            body,
        )
        .await
    }
}

/// Sends a request and reads the JSON answer.
async fn send(transport: &dyn Transport, url: &str, method: Method, token: Option<&str>, body: Option<&str>) -> Answer {
    let mut request = Request::new(method, url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(body) = body {
        request = request.json(body.to_owned());
    }
    let response = transport.send(request).await.unwrap();
    let header = |name: &str| response.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    Answer {
        status: response.status.as_u16(),
        allow: header("allow"),
        content_type: header("content-type"),
        json: serde_json::from_slice(&response.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&response.body))),
    }
}

const PAYMENT_URL: &str = "https://hooks.example/cxtn/payments-9f1c2e";
const ACCOUNT_URL: &str = "https://hooks.example/cxtn/accounts-77ab01";

/// Asserts that `result` is the sandbox refusing with `code`.
#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: Result<T, cxtn::webhooks::Error>, code: ApiCode, backend: &str) {
    let error = result.expect_err("the sandbox refuses");
    assert_eq!(error.kind(), ErrorKind::Api, "{backend}: {error}");
    assert_eq!(
        error.http_status().map(|s| s.as_u16()),
        Some(code.http_status()),
        "{backend}"
    );
    assert_eq!(error.api_status_code().map(|c| c.0), Some(code.value()), "{backend}");
    assert_eq!(error.api_status(), Some(code.name()), "{backend}");
    assert!(!error.api_description().unwrap_or_default().is_empty(), "{backend}");
}

async fn every_operation_round_trips(h: Harness) {
    let client = h.client();
    let webhooks = client.webhooks();
    assert!(!h.sandbox.is_enabled());
    webhooks.enable().await.unwrap();
    assert!(h.sandbox.is_enabled());
    webhooks.create(WebhookEventType::Payment, PAYMENT_URL).await.unwrap();
    webhooks
        .create(WebhookEventType::AccountTransaction, ACCOUNT_URL)
        .await
        .unwrap();

    let listed = webhooks.list().await.unwrap();
    let seen: Vec<_> = listed
        .iter()
        .map(|e| (e.event_type, e.endpoint_url.as_str().to_owned(), e.status))
        .collect();
    assert_eq!(
        seen,
        [
            (
                WebhookEventType::Payment,
                PAYMENT_URL.to_owned(),
                EndpointStatus::Active
            ),
            (
                WebhookEventType::AccountTransaction,
                ACCOUNT_URL.to_owned(),
                EndpointStatus::Active
            ),
        ],
        "{}",
        h.backend
    );

    let moved = "https://hooks.example/cxtn/payments-moved";
    webhooks.edit(WebhookEventType::Payment, moved).await.unwrap();
    webhooks
        .set_status(WebhookEventType::AccountTransaction, EndpointStatus::Paused)
        .await
        .unwrap();
    let listed = webhooks.list().await.unwrap();
    assert_eq!(listed[0].endpoint_url.as_str(), moved);
    assert_eq!(listed[0].status, EndpointStatus::Active, "editing keeps the status");
    assert_eq!(listed[1].status, EndpointStatus::Paused);
    assert_eq!(h.sandbox.endpoints(), listed, "the Rust API sees what the routes see");

    webhooks.deactivate_all().await.unwrap();
    let statuses: Vec<_> = webhooks.list().await.unwrap().into_iter().map(|e| e.status).collect();
    assert_eq!(statuses, [EndpointStatus::Inactive, EndpointStatus::Inactive]);

    webhooks
        .set_status(WebhookEventType::Payment, EndpointStatus::Active)
        .await
        .unwrap();
    assert_eq!(
        webhooks.list().await.unwrap()[0].status,
        EndpointStatus::Active,
        "reactivated"
    );
}

async fn the_envelope_reports_the_token_validity(h: Harness) {
    let client = h.client();
    assert!(client.webhooks().token_expires_at().is_none());
    client.webhooks().enable().await.unwrap();
    let end = client.webhooks().token_expires_at().expect("TokenEndDate was sent");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let end = u64::try_from(end.naive().and_utc().timestamp()).unwrap();
    let days = (end - now) / 86_400;
    assert!((29..=30).contains(&days), "{} days", days);

    let answer = h.raw(Method::GET, "/api/webhooks/endpoints", Some(TOKEN), None).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    let envelope = &answer.json;
    assert_eq!(envelope["Content"]["Model"]["ApiStatusCode"], 100);
    assert_eq!(envelope["Content"]["Model"]["ApiStatus"], "IsValid");
    assert_eq!(envelope["Content"]["Model"]["ApiStatusDescription"], "Valid Operation");
    assert_eq!(envelope["Content"]["Model"]["Endpoints"], json!([]));
    assert_eq!(envelope["Content"]["ExpectedResponses"], json!(["IsValid"]));
    assert_eq!(envelope["AuthorisedClientModel"]["ApiStatusCode"], 100);
    let user = &envelope["AuthorisedUserModel"];
    for field in [
        "TokenStartDate",
        "TokenEndDate",
        "LoginTimestamp",
        "UserId",
        "AppVersion",
    ] {
        assert!(user[field].is_string(), "{field}: {user}");
    }
    let login = user["LoginTimestamp"].as_str().unwrap();
    assert_eq!(login.len(), "2023-12-01T20:43:29.7267638".len(), "{login}");
    cxtn::model::Timestamp::parse(login).unwrap();
}

async fn creating_before_enabling_is_refused(h: Harness) {
    let webhooks = h.client().webhooks().clone();
    assert_refused(
        webhooks.create(WebhookEventType::Payment, PAYMENT_URL).await,
        ApiCode::WebhooksNotEnabled,
        h.backend,
    );
    assert!(h.sandbox.endpoints().is_empty());
    webhooks.enable().await.unwrap();
    webhooks.enable().await.expect("enabling twice is fine");
    webhooks.create(WebhookEventType::Payment, PAYMENT_URL).await.unwrap();
}

async fn one_endpoint_per_event_type(h: Harness) {
    let webhooks = h.client().webhooks().clone();
    webhooks.enable().await.unwrap();
    webhooks.create(WebhookEventType::Payment, PAYMENT_URL).await.unwrap();
    assert_refused(
        webhooks
            .create(WebhookEventType::Payment, "https://hooks.example/other")
            .await,
        ApiCode::EndpointExists,
        h.backend,
    );
    let listed = webhooks.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].endpoint_url.as_str(),
        PAYMENT_URL,
        "the first endpoint is kept"
    );
    let ensured = webhooks.ensure(WebhookEventType::Payment, PAYMENT_URL).await.unwrap();
    assert!(ensured.is_unchanged(), "{ensured:?}");
}

async fn a_missing_endpoint_cannot_be_edited_or_switched(h: Harness) {
    let webhooks = h.client().webhooks().clone();
    webhooks.enable().await.unwrap();
    assert_refused(
        webhooks.edit(WebhookEventType::AccountTransaction, ACCOUNT_URL).await,
        ApiCode::EndpointNotFound,
        h.backend,
    );
    assert_refused(
        webhooks
            .set_status(WebhookEventType::AccountTransaction, EndpointStatus::Paused)
            .await,
        ApiCode::EndpointNotFound,
        h.backend,
    );
    assert!(webhooks.list().await.unwrap().is_empty(), "nothing was created");
}

async fn an_invalid_url_is_refused(h: Harness) {
    h.client().webhooks().enable().await.unwrap();
    for url in ["ftp://hooks.example/x", "/relative/hook", "https://", "not a url"] {
        let body = json!({"WebhookEventType": "Payment", "EndpointUrl": url}).to_string();
        let answer = h
            .raw(Method::POST, "/api/webhooks/endpoints", Some(TOKEN), Some(&body))
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, ApiCode::InvalidUrl.value()),
            "{url}: {answer:?}"
        );
        assert_eq!(answer.json["Content"]["Model"]["ApiStatus"], "InvalidUrl");
    }
    let body = json!({"WebhookEventType": "Payment", "EndpointUrl": "https://hooks.example/x"}).to_string();
    h.raw(Method::POST, "/api/webhooks/endpoints", Some(TOKEN), Some(&body))
        .await;
    let body = json!({"WebhookEventType": "Payment", "EndpointUrl": "mailto:secret-path-token@x"}).to_string();
    let answer = h
        .raw(Method::PUT, "/api/webhooks/endpoints", Some(TOKEN), Some(&body))
        .await;
    assert_eq!(answer.code(), ApiCode::InvalidUrl.value(), "editing checks the URL too");
    assert!(
        !answer.json.to_string().contains("secret-path-token"),
        "{}",
        answer.json
    );
    assert_eq!(
        h.sandbox.endpoints()[0].endpoint_url.as_str(),
        "https://hooks.example/x",
        "a refused edit changes nothing"
    );
}

async fn event_types_are_read_leniently_and_unknown_ones_refused(h: Harness) {
    h.client().webhooks().enable().await.unwrap();
    for (given, stored) in [
        (json!("Wallets"), WebhookEventType::Wallet),
        (json!(1), WebhookEventType::Payment),
        (json!("2"), WebhookEventType::AccountTransaction),
        (json!("bulk payments"), WebhookEventType::BulkPayments),
    ] {
        let body = json!({"WebhookEventType": given, "EndpointUrl": "https://hooks.example/x"}).to_string();
        let answer = h
            .raw(Method::POST, "/api//webhooks/endpoints", Some(TOKEN), Some(&body))
            .await;
        assert_eq!(answer.code(), 100, "{given}: {answer:?}");
        assert!(h.sandbox.endpoints().iter().any(|e| e.event_type == stored), "{given}");
    }
    let listed = h.client().webhooks().list().await.unwrap();
    let names: Vec<String> = listed.iter().map(|e| e.event_type.to_string()).collect();
    assert_eq!(names, ["Wallet", "Payment", "AccountTransaction", "BulkPayments"]);

    for given in [json!("Loans"), json!(7), json!(null), json!({"a": 1})] {
        let body = json!({"WebhookEventType": given, "EndpointUrl": "https://hooks.example/y"}).to_string();
        let answer = h
            .raw(Method::POST, "/api/webhooks/endpoints", Some(TOKEN), Some(&body))
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, ApiCode::InvalidEventType.value()),
            "{given}"
        );
        let status = json!({"WebhookEventType": given, "Status": "Active"}).to_string();
        let answer = h
            .raw(
                Method::PUT,
                "/api/webhooks/endpoints/status",
                Some(TOKEN),
                Some(&status),
            )
            .await;
        assert_eq!(answer.code(), ApiCode::InvalidEventType.value(), "{given}");
    }
    assert_eq!(h.sandbox.endpoints().len(), 4);
}

async fn an_unknown_status_is_refused(h: Harness) {
    let webhooks = h.client().webhooks().clone();
    webhooks.enable().await.unwrap();
    webhooks.create(WebhookEventType::Payment, PAYMENT_URL).await.unwrap();
    for given in [json!("Stopped"), json!(1), json!(null)] {
        let body = json!({"WebhookEventType": "Payment", "Status": given}).to_string();
        let answer = h
            .raw(Method::PUT, "/api/webhooks/endpoints/status", Some(TOKEN), Some(&body))
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, ApiCode::InvalidStatus.value()),
            "{given}"
        );
    }
    let body = r#"{"webhookEventType": "payment", "status": "paused"}"#;
    let answer = h
        .raw(Method::PUT, "/api/webhooks/endpoints/status", Some(TOKEN), Some(body))
        .await;
    assert_eq!(answer.code(), 100, "names and field names in any case: {answer:?}");
    assert_eq!(webhooks.list().await.unwrap()[0].status, EndpointStatus::Paused);
}

async fn a_body_that_is_not_the_documented_json_is_refused(h: Harness) {
    h.client().webhooks().enable().await.unwrap();
    for body in [
        "",
        "not json",
        "[1, 2]",
        r#"{"WebhookEventType": "Payment"}"#,
        r#"{"EndpointUrl": "https://hooks.example/x"}"#,
        r#"{"WebhookEventType": "Payment", "EndpointUrl": 42}"#,
        r#"{"WebhookEventType": "Payment", "EndpointUrl": "https://hooks.example/x""#,
    ] {
        let answer = h
            .raw(Method::POST, "/api/webhooks/endpoints", Some(TOKEN), Some(body))
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (400, ApiCode::InvalidBody.value()),
            "{body}: {answer:?}"
        );
        assert!(
            answer.json["AuthorisedUserModel"].is_object(),
            "an authorised refusal keeps the user part"
        );
    }
    let answer = h
        .raw(Method::PUT, "/api/webhooks/endpoints/status", Some(TOKEN), Some("{}"))
        .await;
    assert_eq!(answer.code(), ApiCode::InvalidBody.value());
    let large = format!(
        r#"{{"WebhookEventType": "Payment", "EndpointUrl": "https://x/{}"}}"#,
        "a".repeat(1_100_000)
    );
    let answer = h
        .raw(Method::POST, "/api/webhooks/endpoints", Some(TOKEN), Some(&large))
        .await;
    assert_eq!((answer.status, answer.code()), (413, ApiCode::BodyTooLarge.value()));
    assert!(h.sandbox.endpoints().is_empty());
}

async fn deactivate_marks_every_endpoint_inactive(h: Harness) {
    let webhooks = h.client().webhooks().clone();
    webhooks.deactivate_all().await.expect("nothing to deactivate is fine");
    webhooks.enable().await.unwrap();
    for (kind, url) in [
        (WebhookEventType::Payment, PAYMENT_URL),
        (WebhookEventType::AccountTransaction, ACCOUNT_URL),
        (WebhookEventType::Wallet, "https://hooks.example/w"),
    ] {
        webhooks.create(kind, url).await.unwrap();
    }
    webhooks
        .set_status(WebhookEventType::Wallet, EndpointStatus::Paused)
        .await
        .unwrap();
    webhooks.deactivate_all().await.unwrap();
    let endpoints = h.sandbox.endpoints();
    assert_eq!(endpoints.len(), 3);
    assert!(
        endpoints.iter().all(|e| e.status == EndpointStatus::Inactive),
        "{endpoints:?}"
    );
    assert!(
        h.sandbox.is_enabled(),
        "deactivating endpoints does not disable webhooks"
    );
}

async fn a_wrong_token_is_unauthorized(h: Harness) {
    let error = h
        .client_with_token("not-the-token")
        .webhooks()
        .list()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthorized, "{}: {error}", h.backend);
    assert_eq!(error.http_status().map(|s| s.as_u16()), Some(401));
    assert_eq!(
        error.api_status_code().map(|c| c.0),
        Some(ApiCode::Unauthorized.value())
    );
    assert!(!error.to_string().contains(TOKEN));

    for token in [None, Some(""), Some("sandbox-test-token-s3cr3")] {
        let answer = h.raw(Method::GET, "/api/webhooks/endpoints", token, None).await;
        assert_eq!(
            (answer.status, answer.code()),
            (401, ApiCode::Unauthorized.value()),
            "{token:?}"
        );
        assert!(
            answer.json.get("AuthorisedUserModel").is_none(),
            "no user part for a refused token"
        );
        assert!(!answer.json.to_string().contains(TOKEN));
    }
    let answer = h.raw(Method::GET, "/api/nothing/here", Some("wrong"), None).await;
    assert_eq!(answer.status, 401, "the token is checked before the route");
    let mut request = cxtn::transport::Request::new(Method::GET, format!("{}webhooks/endpoints", h.sandbox.base_url()));
    request = request.header("authorization", format!("Basic {TOKEN}"));
    assert_eq!(
        h.transport.send(request).await.unwrap().status.as_u16(),
        401,
        "only Bearer"
    );
    assert!(!h.sandbox.is_enabled());
}

async fn open_mode_accepts_any_non_empty_token(h: Harness) {
    let open = Harness::with(builder().open(), h.backend).await;
    assert!(open.sandbox.is_open());
    open.client_with_token("anything-at-all")
        .webhooks()
        .enable()
        .await
        .unwrap();
    open.client()
        .webhooks()
        .list()
        .await
        .expect("the sandbox's own token works too");
    let answer = open.raw(Method::GET, "/api/webhooks/endpoints", Some("  "), None).await;
    assert_eq!(answer.status, 401, "a blank token is still refused");
    let error = h
        .client_with_token("anything-at-all")
        .webhooks()
        .list()
        .await
        .unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::Unauthorized,
        "a sandbox with a token is not open"
    );
}

async fn paths_tolerate_doubled_slashes_and_unknown_routes_are_404(h: Harness) {
    let answer = h.raw(Method::POST, "/api//webhooks//enable", Some(TOKEN), None).await;
    assert_eq!(answer.code(), 100, "{answer:?}");
    let answer = h.raw(Method::GET, "/api//webhooks/endpoints/", Some(TOKEN), None).await;
    assert_eq!(answer.json["Content"]["Model"]["Endpoints"], json!([]));
    for path in ["/api/webhooks/nothing", "/api/", "/elsewhere", "/"] {
        let answer = h.raw(Method::GET, path, Some(TOKEN), None).await;
        assert_eq!(
            (answer.status, answer.code()),
            (404, ApiCode::RouteNotFound.value()),
            "{path}"
        );
    }
    let answer = h
        .raw(Method::DELETE, "/api/webhooks/endpoints", Some(TOKEN), None)
        .await;
    assert_eq!((answer.status, answer.code()), (405, ApiCode::MethodNotAllowed.value()));
    assert_eq!(answer.allow.as_deref(), Some("GET, POST, PUT"));
    let answer = h.raw(Method::GET, "/api/webhooks/deactivate", Some(TOKEN), None).await;
    assert_eq!((answer.status, answer.allow.as_deref()), (405, Some("PUT")));
}

async fn concurrent_creates_make_one_endpoint(h: Harness) {
    let client = h.client();
    client.webhooks().enable().await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let client = client.clone();
        tasks.spawn(async move {
            client
                .webhooks()
                .create(WebhookEventType::Payment, format!("https://hooks.example/{i}"))
                .await
        });
    }
    let mut created = 0;
    let mut refused = 0;
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(_) => created += 1,
            Err(error) => {
                assert_eq!(
                    error.api_status_code().map(|c| c.0),
                    Some(ApiCode::EndpointExists.value()),
                    "{error}"
                );
                refused += 1;
            }
        }
    }
    assert_eq!((created, refused), (1, 15), "{}", h.backend);
    assert_eq!(h.sandbox.endpoints().len(), 1);
}

macro_rules! per_backend {
    ($($case:ident),* $(,)?) => {
        mod reqwest {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(crate::sandbox_api::Harness::start("reqwest").await).await;
                }
            )*
        }
        mod hyper {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(crate::sandbox_api::Harness::start("hyper").await).await;
                }
            )*
        }
    };
}

per_backend!(
    every_operation_round_trips,
    the_envelope_reports_the_token_validity,
    creating_before_enabling_is_refused,
    one_endpoint_per_event_type,
    a_missing_endpoint_cannot_be_edited_or_switched,
    an_invalid_url_is_refused,
    event_types_are_read_leniently_and_unknown_ones_refused,
    an_unknown_status_is_refused,
    a_body_that_is_not_the_documented_json_is_refused,
    deactivate_marks_every_endpoint_inactive,
    a_wrong_token_is_unauthorized,
    open_mode_accepts_any_non_empty_token,
    paths_tolerate_doubled_slashes_and_unknown_routes_are_404,
    concurrent_creates_make_one_endpoint,
);
