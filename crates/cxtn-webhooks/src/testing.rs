//! A scripted fake of CXTN's management API, in process (feature `test-util`).
//!
//! [`FakeCxtn`] is a [`Transport`] that holds an account's state (whether webhooks are enabled, the endpoint of
//! each event type) and answers the management routes with CXTN's envelope, as the account would; a test says
//! what the account holds, scripts the refusals it wants, builds a [`Client`] on it, and asserts on the calls
//! made and the state left.
//!
//! It follows the rules of the local simulator (`cxtn-sandbox`) and answers its refusal codes, but it serves no
//! HTTP, keeps no clock and delivers nothing: use it to test code that manages endpoints; use the simulator to
//! see notifications delivered.
//!
//! ```
//! use cxtn_model::{EndpointStatus, WebhookEventType};
//! use cxtn_webhooks::Operation;
//! use cxtn_webhooks::testing::FakeCxtn;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), cxtn_webhooks::Error> {
//! let url = "https://example.com/cxtn/9f1c2e";
//! let fake = FakeCxtn::new().with_endpoint(WebhookEventType::Payment, url, EndpointStatus::Paused);
//! let ensured = fake.client()?.ensure(WebhookEventType::Payment, url).await?;
//! assert!(ensured.activated && !ensured.created);
//! fake.assert_called(&[Operation::List, Operation::SetStatus]);
//! assert_eq!(fake.endpoint(WebhookEventType::Payment).map(|e| e.status), Some(EndpointStatus::Active));
//! # Ok(())
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use cxtn_model::{
    ApiResponse, ApiStatus, ApiStatusCode, Endpoint, EndpointRequest, EndpointStatus, EndpointStatusRequest,
    EndpointsModel, StatusModel, WebhookEventType,
};
use cxtn_transport::{Bytes, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Transport};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{Client, Error, Operation, Routes};

/// A refusal a [`FakeCxtn`] answers: the HTTP status and the status triple in `Content.Model`.
///
/// The constructors give the local simulator's codes for the refusals the fake makes itself; [`Refusal::new`]
/// gives any other.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    http: StatusCode,
    status: ApiStatus,
}

impl Refusal {
    /// A refusal with an HTTP status, an `ApiStatusCode`, an `ApiStatus` name and a description.
    ///
    /// An HTTP status that is not one (below 100 or above 999) is answered as 500.
    #[must_use]
    pub fn new(http: u16, code: i64, status: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            http: StatusCode::from_u16(http).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            status: ApiStatus::new(ApiStatusCode(code), status, description),
        }
    }

    /// 1001 `WebhooksNotEnabled` (HTTP 400): an endpoint created before webhooks were enabled.
    #[must_use]
    pub fn webhooks_not_enabled() -> Self {
        Self::new(
            400,
            1001,
            "WebhooksNotEnabled",
            "webhooks are not enabled on the account; call POST webhooks/enable first",
        )
    }

    /// 1002 `EndpointExists` (HTTP 400): the event type has an endpoint already.
    #[must_use]
    pub fn endpoint_exists() -> Self {
        Self::new(
            400,
            1002,
            "EndpointExists",
            "an endpoint already exists for the event type",
        )
    }

    /// 1003 `EndpointNotFound` (HTTP 400): the event type has no endpoint.
    #[must_use]
    pub fn endpoint_not_found() -> Self {
        Self::new(400, 1003, "EndpointNotFound", "no endpoint exists for the event type")
    }

    /// 1005 `InvalidEventType` (HTTP 400).
    #[must_use]
    pub fn invalid_event_type() -> Self {
        Self::new(
            400,
            1005,
            "InvalidEventType",
            "the WebhookEventType is not one of CXTN's table",
        )
    }

    /// 1006 `InvalidStatus` (HTTP 400).
    #[must_use]
    pub fn invalid_status() -> Self {
        Self::new(
            400,
            1006,
            "InvalidStatus",
            "the Status must be Active, Inactive or Paused",
        )
    }

    /// 1007 `InvalidBody` (HTTP 400): the body is not JSON of the operation's shape.
    #[must_use]
    pub fn invalid_body() -> Self {
        Self::new(400, 1007, "InvalidBody", "the body is not JSON of the expected shape")
    }

    /// 1008 `Unauthorized` (HTTP 401): no bearer token, or one refused.
    #[must_use]
    pub fn unauthorized() -> Self {
        Self::new(401, 1008, "Unauthorized", "the access token is missing or refused")
    }

    /// 1009 `RouteNotFound` (HTTP 404).
    #[must_use]
    pub fn route_not_found() -> Self {
        Self::new(
            404,
            1009,
            "RouteNotFound",
            "no management route has this method and path",
        )
    }

    /// The HTTP status.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        self.http.as_u16()
    }

    /// The `ApiStatusCode`.
    #[must_use]
    pub fn code(&self) -> Option<ApiStatusCode> {
        self.status.code
    }

    fn response(&self) -> Response {
        envelope(self.http, StatusModel::new(self.status.clone()))
    }
}

/// What a scripted call gets instead of the account's answer.
#[derive(Debug, Clone)]
enum Scripted {
    Refusal(Refusal),
    Failure(cxtn_transport::ErrorKind),
}

/// One request the fake received. The `Authorization` header is never kept, and `Debug` shows every URL in the
/// body redacted ([`EndpointUrl::redacted`](cxtn_model::EndpointUrl::redacted)), since an endpoint's path ends with
/// its path token.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Call {
    /// The operation the method and path name, or `None` for a route the fake does not know.
    pub operation: Option<Operation>,
    /// The HTTP method.
    pub method: Method,
    /// The URL's path (`/api/webhooks/endpoints`).
    pub path: String,
    /// The body as JSON, or `None` for an empty body or one that is not JSON.
    pub body: Option<Value>,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("operation", &self.operation)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("body", &self.body.as_ref().map(redact_urls))
            .finish()
    }
}

/// `value` with every string that holds `://` replaced by the URL redacted.
fn redact_urls(value: &Value) -> Value {
    match value {
        Value::String(text) if text.contains("://") => {
            Value::String(cxtn_model::EndpointUrl::new(text.as_str()).redacted())
        }
        Value::Array(items) => Value::Array(items.iter().map(redact_urls).collect()),
        Value::Object(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), redact_urls(v))).collect()),
        other => other.clone(),
    }
}

#[derive(Debug)]
struct State {
    enabled: bool,
    endpoints: Vec<Endpoint>,
    routes: Routes,
    script: HashMap<Operation, VecDeque<Scripted>>,
    calls: Vec<Call>,
}

/// An in-process, scripted CXTN account behind the management routes: a [`Transport`] to build a [`Client`] on.
///
/// Clones share the account: keep one in the test and give another to the code under test.
///
/// The rules, as the local simulator has them: every request needs a bearer token; creating needs webhooks
/// enabled; one endpoint per event type, created Active; editing keeps the status; editing or setting the status
/// of a missing endpoint is refused; deactivating sets every endpoint Inactive.
/// A scripted refusal or transport failure ([`refuse`](Self::refuse), [`fail`](Self::fail)) replaces the
/// answer to the next call of its operation, and changes nothing.
///
/// ```
/// use cxtn_model::WebhookEventType;
/// use cxtn_webhooks::testing::{FakeCxtn, Refusal};
/// use cxtn_webhooks::{ErrorKind, Operation};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), cxtn_webhooks::Error> {
/// let fake = FakeCxtn::new().refuse(Operation::List, Refusal::unauthorized());
/// let client = fake.client()?;
/// let err = client.list().await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Unauthorized);
/// assert!(client.list().await?.is_empty()); // the refusal was for one call
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct FakeCxtn {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for FakeCxtn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("FakeCxtn")
            .field("enabled", &state.enabled)
            .field("endpoints", &state.endpoints)
            .field("calls", &state.calls.len())
            .finish_non_exhaustive()
    }
}

impl Default for FakeCxtn {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeCxtn {
    /// An account with webhooks enabled and no endpoint.
    #[must_use]
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                enabled: true,
                endpoints: Vec::new(),
                routes: Routes::default(),
                script: HashMap::new(),
                calls: Vec::new(),
            })),
        }
    }

    /// Whether webhooks are enabled on the account (default: enabled); a fresh account has them off.
    #[must_use]
    pub fn webhooks_enabled(self, enabled: bool) -> Self {
        self.lock().enabled = enabled;
        self
    }

    /// The account has an endpoint for `event_type` at `url` with `status` (replacing the one it had).
    #[must_use]
    pub fn with_endpoint(self, event_type: WebhookEventType, url: impl AsRef<str>, status: EndpointStatus) -> Self {
        {
            let mut state = self.lock();
            state.endpoints.retain(|e| e.event_type != event_type);
            state.endpoints.push(Endpoint::new(event_type, url.as_ref(), status));
        }
        self
    }

    /// The routes the fake answers, for a client built with overridden routes (default: [`Routes::default`]).
    #[must_use]
    pub fn with_routes(self, routes: Routes) -> Self {
        self.lock().routes = routes;
        self
    }

    /// The next call of `operation` is refused with `refusal`, and changes nothing; several are used in order.
    #[must_use]
    pub fn refuse(self, operation: Operation, refusal: Refusal) -> Self {
        self.script(operation, Scripted::Refusal(refusal));
        self
    }

    /// The next call of `operation` fails in the transport with `kind` (a refused connection, a timeout...),
    /// and changes nothing; several are used in order.
    #[must_use]
    pub fn fail(self, operation: Operation, kind: cxtn_transport::ErrorKind) -> Self {
        self.script(operation, Scripted::Failure(kind));
        self
    }

    fn script(&self, operation: Operation, scripted: Scripted) {
        self.lock().script.entry(operation).or_default().push_back(scripted);
    }

    /// The fake as a transport, for [`ClientBuilder::transport`](crate::ClientBuilder::transport).
    #[must_use]
    pub fn transport(&self) -> Arc<dyn Transport> {
        Arc::new(self.clone())
    }

    /// A client of the account: the sandbox environment, a test token, the default retries, this fake as
    /// its transport.
    ///
    /// # Errors
    ///
    /// None in practice: the settings are all valid; the builder's error is passed on.
    pub fn client(&self) -> Result<Client, Error> {
        Client::builder()
            .access_token("fake-cxtn-token")
            .transport(self.transport())
            .build()
    }

    /// Every request received, in order.
    #[must_use]
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The operation of every request received, in order (requests to unknown routes left out).
    #[must_use]
    pub fn operations(&self) -> Vec<Operation> {
        self.lock().calls.iter().filter_map(|call| call.operation).collect()
    }

    /// Forgets the requests received so far, to assert on the next ones alone.
    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// Asserts that the requests received so far were these operations, in this order.
    ///
    /// # Panics
    ///
    /// When they were not, with both lists.
    #[track_caller]
    pub fn assert_called(&self, expected: &[Operation]) {
        let called = self.operations();
        assert!(
            called == expected,
            "the fake CXTN received {called:?}, expected {expected:?}"
        );
    }

    /// Whether webhooks are enabled on the account now.
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.lock().enabled
    }

    /// The account's endpoints now, in the order they were created.
    #[must_use]
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.lock().endpoints.clone()
    }

    /// The account's endpoint for `event_type` now.
    #[must_use]
    pub fn endpoint(&self, event_type: WebhookEventType) -> Option<Endpoint> {
        self.lock()
            .endpoints
            .iter()
            .find(|e| e.event_type == event_type)
            .cloned()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer to one request, the state changed as the account would change it.
    fn answer(&self, request: &Request) -> Result<Response, cxtn_transport::Error> {
        let mut state = self.lock();
        let operation = operation_of(&state.routes, &request.method, request.path());
        state.calls.push(Call {
            operation,
            method: request.method.clone(),
            path: request.path().to_owned(),
            body: serde_json::from_slice(&request.body).ok(),
        });
        if !has_bearer(request.headers.get("authorization")) {
            return Ok(Refusal::unauthorized().response());
        }
        let Some(operation) = operation else {
            let allowed = methods_of(&state.routes, request.path());
            if allowed.is_empty() {
                return Ok(Refusal::route_not_found().response());
            }
            // A route that exists with other methods: the simulator's 405, with the methods it takes.
            let allow = allowed.join(", ");
            let refusal = Refusal::new(
                405,
                1010,
                "MethodNotAllowed",
                format!("this route accepts {allow}, not {}", request.method),
            );
            let response = refusal.response();
            return Ok(match HeaderValue::from_str(&allow) {
                Ok(value) => response.header(HeaderName::from_static("allow"), value),
                Err(_) => response,
            });
        };
        match state.script.get_mut(&operation).and_then(VecDeque::pop_front) {
            Some(Scripted::Refusal(refusal)) => return Ok(refusal.response()),
            Some(Scripted::Failure(kind)) => {
                return Err(cxtn_transport::Error::new(
                    kind,
                    format!("the fake CXTN failed the {operation} call as scripted"),
                ));
            }
            None => {}
        }
        Ok(apply(&mut state, operation, &request.body).unwrap_or_else(|refusal| refusal.response()))
    }
}

#[async_trait]
impl Transport for FakeCxtn {
    async fn send(&self, request: Request) -> Result<Response, cxtn_transport::Error> {
        request.validate()?;
        self.answer(&request)
    }
}

/// The operation whose route has this method and ends the path; the longest route wins.
fn operation_of(routes: &Routes, method: &Method, path: &str) -> Option<Operation> {
    Operation::ALL
        .into_iter()
        .filter(|operation| {
            let route = routes.get(*operation);
            route.method == *method && ends_with_route(path, &route.path)
        })
        .max_by_key(|operation| routes.get(*operation).path.len())
}

/// The methods of the routes whose path is the longest that ends `path`, in `Operation::ALL` order.
fn methods_of(routes: &Routes, path: &str) -> Vec<String> {
    let matching: Vec<_> = Operation::ALL
        .into_iter()
        .map(|operation| routes.get(operation))
        .filter(|route| ends_with_route(path, &route.path))
        .collect();
    let longest = matching.iter().map(|route| route.path.trim_matches('/').len()).max();
    let mut methods: Vec<String> = Vec::new();
    for route in matching {
        let method = route.method.to_string();
        if Some(route.path.trim_matches('/').len()) == longest && !methods.contains(&method) {
            methods.push(method);
        }
    }
    methods
}

/// Whether `path` ends with the route's path, at a segment boundary.
fn ends_with_route(path: &str, route_path: &str) -> bool {
    path.trim_end_matches('/')
        .strip_suffix(route_path.trim_matches('/'))
        .is_some_and(|before| before.is_empty() || before.ends_with('/'))
}

fn has_bearer(authorization: Option<&HeaderValue>) -> bool {
    authorization
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|token| !token.trim().is_empty())
}

/// Applies an operation to the account, as CXTN would.
fn apply(state: &mut State, operation: Operation, body: &[u8]) -> Result<Response, Refusal> {
    match operation {
        Operation::Enable => state.enabled = true,
        Operation::Create => {
            let request: EndpointRequest = read(body)?;
            if !state.enabled {
                return Err(Refusal::webhooks_not_enabled());
            }
            known(request.event_type)?;
            if state.endpoints.iter().any(|e| e.event_type == request.event_type) {
                return Err(Refusal::endpoint_exists());
            }
            state.endpoints.push(Endpoint::new(
                request.event_type,
                request.endpoint_url,
                EndpointStatus::Active,
            ));
        }
        Operation::Edit => {
            let request: EndpointRequest = read(body)?;
            known(request.event_type)?;
            endpoint(state, request.event_type)?.endpoint_url = request.endpoint_url;
        }
        Operation::SetStatus => {
            let request: EndpointStatusRequest = read(body)?;
            known(request.event_type)?;
            if request.status.name().is_none() {
                return Err(Refusal::invalid_status());
            }
            endpoint(state, request.event_type)?.status = request.status;
        }
        Operation::DeactivateAll => {
            for endpoint in &mut state.endpoints {
                endpoint.status = EndpointStatus::Inactive;
            }
        }
        Operation::List => {
            return Ok(envelope(StatusCode::OK, EndpointsModel::new(state.endpoints.clone())));
        }
    }
    Ok(envelope(StatusCode::OK, StatusModel::new(ApiStatus::valid())))
}

fn read<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|_| Refusal::invalid_body())
}

fn known(event_type: WebhookEventType) -> Result<(), Refusal> {
    match event_type.name() {
        Some(_) => Ok(()),
        None => Err(Refusal::invalid_event_type()),
    }
}

fn endpoint(state: &mut State, event_type: WebhookEventType) -> Result<&mut Endpoint, Refusal> {
    state
        .endpoints
        .iter_mut()
        .find(|e| e.event_type == event_type)
        .ok_or_else(Refusal::endpoint_not_found)
}

/// CXTN's envelope around `model`, as JSON.
fn envelope(status: StatusCode, model: impl Serialize) -> Response {
    let body = serde_json::to_vec(&ApiResponse::new(model)).unwrap_or_default();
    Response::new(status).json(Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[tokio::test]
    async fn a_known_route_called_with_another_method_is_refused_as_the_simulator_refuses_it() {
        let fake = FakeCxtn::new();
        let client = Client::builder()
            .access_token("t")
            .transport(fake.transport())
            .route(Operation::List, Method::DELETE, "webhooks/endpoints")
            .build()
            .unwrap();
        let err = client.list().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Api);
        assert_eq!(err.http_status(), Some(StatusCode::METHOD_NOT_ALLOWED));
        assert_eq!(err.api_status(), Some("MethodNotAllowed"));
        assert_eq!(err.api_status_code(), Some(ApiStatusCode(1010)));

        let request = Request::new(Method::DELETE, "http://127.0.0.1:4010/api/webhooks/endpoints")
            .header("authorization", "Bearer t");
        let response = fake.transport().send(request).await.unwrap();
        let allow = response.headers.get("allow").and_then(|v| v.to_str().ok());
        assert_eq!(allow, Some("POST, PUT, GET"));

        let request =
            Request::new(Method::GET, "http://127.0.0.1:4010/api/webhooks/nothing").header("authorization", "Bearer t");
        let response = fake.transport().send(request).await.unwrap();
        assert_eq!(response.status, StatusCode::NOT_FOUND);
        assert_eq!(fake.operations(), []);
    }

    #[tokio::test]
    async fn recorded_calls_show_no_path_token_in_debug() {
        let fake = FakeCxtn::new().webhooks_enabled(true);
        let client = Client::builder()
            .access_token("t")
            .transport(fake.transport())
            .build()
            .unwrap();
        client
            .create(WebhookEventType::Payment, "https://hooks.example.com/cxtn/tok-s3cret")
            .await
            .unwrap();
        let calls = fake.calls();
        let body = calls.last().and_then(|call| call.body.as_ref()).unwrap();
        assert!(
            body.to_string().contains("tok-s3cret"),
            "the body is kept as sent: {body}"
        );
        let shown = format!("{calls:?} {fake:?}");
        assert!(!shown.contains("tok-s3cret"), "{shown}");
        assert!(shown.contains("https://hooks.example.com/<redacted>"), "{shown}");
    }
}
