//! The management client.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use cxtn_model::{
    ApiResponse, Endpoint, EndpointRequest, EndpointStatus, EndpointStatusRequest, EndpointUrl, EndpointsModel,
    Environment, HasStatus, StatusModel, Timestamp, WebhookEventType,
};
use cxtn_transport::{Bytes, HeaderValue, Method, Request, Response, RetryPolicy, StatusCode, Transport, with_retry};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::{AccessToken, Error, ErrorKind, Operation, Route, Routes, TokenSource};

/// The `User-Agent` the client sends unless told otherwise.
pub const USER_AGENT: &str = concat!("cxtn-rs/", env!("CARGO_PKG_VERSION"));

/// A client for CXTN's webhook management routes.
///
/// Cheap to clone: clones share the transport and the token source.
/// Build one with [`Client::builder`]; most users build it through the facade, `cxtn::Client::builder()`,
/// which picks an HTTP backend.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use cxtn::{Environment, WebhookEventType};
///
/// let client = cxtn::Client::builder()
///     .environment(Environment::Sandbox)
///     .access_token(std::env::var("CXTN_ACCESS_TOKEN")?)
///     .build()?;
/// client.webhooks().enable().await?;
/// client.webhooks().ensure(WebhookEventType::Payment, "https://example.com/cxtn/9f1c2e").await?;
/// for endpoint in client.webhooks().list().await? {
///     println!("{} {} {}", endpoint.event_type, endpoint.status, endpoint.endpoint_url.redacted());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    environment: Environment,
    token: Arc<dyn TokenSource>,
    transport: Arc<dyn Transport>,
    routes: Routes,
    user_agent: HeaderValue,
    allow_insecure_http: bool,
    token_end_date: Mutex<Option<Timestamp>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("environment", &self.inner.environment)
            .field("token", &self.inner.token)
            .field("transport", &self.inner.transport)
            .field("routes", &self.inner.routes)
            .field("allow_insecure_http", &self.inner.allow_insecure_http)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]. Setter problems surface at [`ClientBuilder::build`].
#[must_use]
pub struct ClientBuilder {
    environment: Environment,
    token: Option<Arc<dyn TokenSource>>,
    transport: Option<Arc<dyn Transport>>,
    retry: RetryPolicy,
    routes: Routes,
    user_agent: String,
    allow_insecure_http: bool,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("environment", &self.environment)
            .field("token", &self.token)
            .field("transport", &self.transport)
            .field("retry", &self.retry)
            .field("routes", &self.routes)
            .field("user_agent", &self.user_agent)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            environment: Environment::Sandbox,
            token: None,
            transport: None,
            retry: RetryPolicy::default(),
            routes: Routes::default(),
            user_agent: USER_AGENT.to_owned(),
            allow_insecure_http: false,
        }
    }
}

impl ClientBuilder {
    /// The CXTN environment to call (default: [`Environment::Sandbox`]).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// A base URL of your own, such as a local simulator (`http://127.0.0.1:4010/api/`).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.environment = Environment::custom(base_url);
        self
    }

    /// A static access token.
    pub fn access_token(mut self, token: impl Into<AccessToken>) -> Self {
        self.token = Some(Arc::new(token.into()));
        self
    }

    /// A source asked for the token before every call (to refresh it yourself).
    pub fn token_source(mut self, source: impl TokenSource + 'static) -> Self {
        self.token = Some(Arc::new(source));
        self
    }

    /// The HTTP transport. The retry layer is added on top of it.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Retries, backoff, per-attempt timeout and overall deadline (default: [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sends an operation to another route, since CXTN does not publish most of them.
    pub fn route(mut self, operation: Operation, method: Method, path: impl Into<String>) -> Self {
        self.routes.set(operation, Route::new(method, path));
        self
    }

    /// The `User-Agent` header (default: `cxtn-rs/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Accepts `http://` endpoint URLs on hosts other than loopback. Off by default: CXTN
    /// would deliver money notifications in clear text.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Whether a transport was given.
    #[must_use]
    pub fn has_transport(&self) -> bool {
        self.transport.is_some()
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when no token or transport was given, the token is empty,
    /// the base URL is not an http(s) URL, or the user agent is not a valid header value.
    pub fn build(self) -> Result<Client, Error> {
        let token = self.token.ok_or_else(|| {
            Error::config("no access token: call access_token(..) or token_source(..) on the builder")
        })?;
        let transport = self.transport.ok_or_else(|| {
            Error::config(
                "no HTTP transport: build through the `cxtn` crate with its `reqwest` or `hyper` feature, or pass transport(..)",
            )
        })?;
        let base = url::Url::parse(self.environment.base_url()).map_err(|e| {
            Error::config(format!(
                "the base URL `{}` is not a URL: {e}",
                self.environment.base_url()
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::config(format!(
                "the base URL must be http or https, not `{}`",
                base.scheme()
            )));
        }
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| Error::config("the user agent is not a valid header value; use visible ASCII"))?;
        Ok(Client {
            inner: Arc::new(Inner {
                environment: self.environment,
                token,
                transport: with_retry(transport, self.retry),
                routes: self.routes,
                user_agent,
                allow_insecure_http: self.allow_insecure_http,
                token_end_date: Mutex::new(None),
            }),
        })
    }
}

/// What [`Client::create`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Created {
    /// The endpoint's event type.
    pub event_type: WebhookEventType,
    /// Whether CXTN sends notifications for this event type; `false` means the endpoint will receive nothing.
    pub sends_notifications: bool,
}

/// What [`Client::ensure`] did to make the endpoint exist, point at the URL, and be Active.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ensured {
    /// The endpoint's event type.
    pub event_type: WebhookEventType,
    /// Whether the endpoint had to be created.
    pub created: bool,
    /// Whether the URL had to be changed.
    pub url_changed: bool,
    /// Whether the status had to be set to Active.
    pub activated: bool,
    /// Whether CXTN sends notifications for this event type.
    pub sends_notifications: bool,
}

impl Ensured {
    /// Whether nothing had to change.
    #[must_use]
    pub fn is_unchanged(&self) -> bool {
        !self.created && !self.url_changed && !self.activated
    }
}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The environment the client calls.
    #[must_use]
    pub fn environment(&self) -> &Environment {
        &self.inner.environment
    }

    /// When the access token expires, as the last response said (`TokenEndDate`).
    #[must_use]
    pub fn token_expires_at(&self) -> Option<Timestamp> {
        self.inner
            .token_end_date
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Enables webhooks on the account (CXTN must have approved them first).
    ///
    /// # Errors
    ///
    /// See [`Error`].
    pub async fn enable(&self) -> Result<(), Error> {
        self.call::<StatusModel>(Operation::Enable, None::<&()>, None)
            .await
            .map(drop)
    }

    /// Creates the endpoint of an event type. CXTN keeps one endpoint per event type.
    ///
    /// Creating an endpoint for a type CXTN sends nothing for is allowed; [`Created::sends_notifications`] says so.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] before any request when the URL is not https (or loopback http),
    /// otherwise see [`Error`].
    pub async fn create(&self, event_type: WebhookEventType, url: impl AsRef<str>) -> Result<Created, Error> {
        let url = self.check_url(Operation::Create, url.as_ref())?;
        check_event_type(Operation::Create, &event_type)?;
        let body = EndpointRequest::new(event_type.clone(), url);
        self.call::<StatusModel>(Operation::Create, Some(&body), Some(&event_type))
            .await?;
        Ok(Created {
            sends_notifications: event_type.sends_notifications(),
            event_type,
        })
    }

    /// Changes the URL of the endpoint of an event type.
    ///
    /// # Errors
    ///
    /// As [`Client::create`].
    pub async fn edit(&self, event_type: WebhookEventType, url: impl AsRef<str>) -> Result<(), Error> {
        let url = self.check_url(Operation::Edit, url.as_ref())?;
        check_event_type(Operation::Edit, &event_type)?;
        let body = EndpointRequest::new(event_type.clone(), url);
        self.call::<StatusModel>(Operation::Edit, Some(&body), Some(&event_type))
            .await
            .map(drop)
    }

    /// Sets the endpoint of an event type Active, Inactive or Paused.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for an unknown status or event type, otherwise see [`Error`].
    pub async fn set_status(&self, event_type: WebhookEventType, status: EndpointStatus) -> Result<(), Error> {
        check_event_type(Operation::SetStatus, &event_type)?;
        if status.name().is_none() {
            return Err(Error::invalid_input(
                "status",
                format!("`{status}` is not a status CXTN accepts; use Active, Inactive or Paused"),
            )
            .for_operation(Operation::SetStatus));
        }
        let body = EndpointStatusRequest::new(event_type.clone(), status);
        self.call::<StatusModel>(Operation::SetStatus, Some(&body), Some(&event_type))
            .await
            .map(drop)
    }

    /// Deactivates every endpoint.
    ///
    /// # Errors
    ///
    /// See [`Error`].
    pub async fn deactivate_all(&self) -> Result<(), Error> {
        self.call::<StatusModel>(Operation::DeactivateAll, None::<&()>, None)
            .await
            .map(drop)
    }

    /// Lists the endpoints.
    ///
    /// # Errors
    ///
    /// See [`Error`].
    pub async fn list(&self) -> Result<Vec<Endpoint>, Error> {
        let model = self.call::<EndpointsModel>(Operation::List, None::<&()>, None).await?;
        Ok(model.endpoints)
    }

    /// Makes sure the endpoint of an event type exists, points at `url`, and is Active:
    /// lists, then creates or edits as needed, then activates. Safe to run at every start of an application.
    ///
    /// # Errors
    ///
    /// As the operations it calls; the URL is checked before any request.
    pub async fn ensure(&self, event_type: WebhookEventType, url: impl AsRef<str>) -> Result<Ensured, Error> {
        let url = url.as_ref();
        self.check_url(Operation::Create, url)?;
        check_event_type(Operation::Create, &event_type)?;
        let existing = self.list().await?.into_iter().find(|e| e.event_type == event_type);
        let mut ensured = Ensured {
            sends_notifications: event_type.sends_notifications(),
            event_type: event_type.clone(),
            created: false,
            url_changed: false,
            activated: false,
        };
        match &existing {
            None => {
                self.create(event_type.clone(), url).await?;
                ensured.created = true;
            }
            Some(endpoint) if endpoint.endpoint_url.as_str() != url => {
                self.edit(event_type.clone(), url).await?;
                ensured.url_changed = true;
            }
            Some(_) => {}
        }
        let active = existing.as_ref().is_some_and(|e| e.status.is_active());
        if !active {
            self.set_status(event_type, EndpointStatus::Active).await?;
            ensured.activated = true;
        }
        Ok(ensured)
    }

    fn check_url(&self, operation: Operation, url: &str) -> Result<EndpointUrl, Error> {
        check_endpoint_url(url, self.inner.allow_insecure_http).map_err(|e| e.for_operation(operation))
    }

    async fn call<M: DeserializeOwned + HasStatus>(
        &self,
        operation: Operation,
        body: Option<&impl Serialize>,
        event_type: Option<&WebhookEventType>,
    ) -> Result<M, Error> {
        let route = self.inner.routes.get(operation);
        let span = tracing::info_span!(
            "cxtn.webhooks",
            operation = operation.as_str(),
            event_type = event_type.map(tracing::field::display),
            http.method = %route.method,
            http.path = %route.path,
        );
        self.call_inner(operation, route, body).instrument(span).await
    }

    async fn call_inner<M: DeserializeOwned + HasStatus>(
        &self,
        operation: Operation,
        route: &Route,
        body: Option<&impl Serialize>,
    ) -> Result<M, Error> {
        let started = Instant::now();
        let token = self.inner.token.token().await.map_err(|e| {
            Error::new(ErrorKind::Token, "the token source could not produce an access token")
                .with_source(e)
                .for_operation(operation)
        })?;
        if token.is_empty() {
            return Err(Error::new(
                ErrorKind::Unauthorized,
                "the access token is empty; set CXTN_ACCESS_TOKEN or give the builder a token",
            )
            .for_operation(operation));
        }
        let request = self.request(operation, route, &token, body)?;
        let response = match self.inner.transport.send(request).await {
            Ok(response) => response,
            Err(e) => return Err(transport_error(e).for_operation(operation)),
        };
        tracing::debug!(
            http.status = response.status.as_u16(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "answered"
        );
        self.read::<M>(response).map_err(|e| e.for_operation(operation))
    }

    fn request(
        &self,
        operation: Operation,
        route: &Route,
        token: &AccessToken,
        body: Option<&impl Serialize>,
    ) -> Result<Request, Error> {
        let url = self.inner.environment.join(&route.path);
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())).map_err(|_| {
            Error::new(
                ErrorKind::Unauthorized,
                "the access token holds characters a header cannot carry; check the token for stray whitespace or quotes",
            )
            .for_operation(operation)
        })?;
        authorization.set_sensitive(true);
        let mut request = Request::new(route.method.clone(), url)
            .header(http_name("authorization"), authorization)
            .header(http_name("accept"), HeaderValue::from_static("application/json"))
            .header(http_name("user-agent"), self.inner.user_agent.clone())
            .idempotent(operation.is_idempotent());
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).map_err(|e| {
                Error::invalid_input("body", "the request body could not be written as JSON")
                    .with_source(e)
                    .for_operation(operation)
            })?;
            request = request
                .header(http_name("content-type"), HeaderValue::from_static("application/json"))
                .body(Bytes::from(bytes));
        }
        Ok(request)
    }

    fn read<M: DeserializeOwned + HasStatus>(&self, response: Response) -> Result<M, Error> {
        let status = response.status;
        let envelope = serde_json::from_slice::<ApiResponse<M>>(&response.body);
        if let Ok(envelope) = &envelope
            && let Some(end) = envelope.token_end_date()
        {
            *self.inner.token_end_date.lock().unwrap_or_else(PoisonError::into_inner) = Some(end);
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let mut e = Error::new(ErrorKind::Unauthorized, self.unauthorized_message(status)).with_http_status(status);
            if let Ok(envelope) = envelope {
                e = e.with_api_status(envelope.content.model.status().clone());
            }
            return Err(e);
        }
        match envelope {
            Ok(envelope) => {
                let api_status = envelope.content.model.status().clone();
                if status.is_success() && api_status.is_valid() {
                    return Ok(envelope.content.model);
                }
                if api_status.code.is_none() {
                    return Err(Error::new(
                        ErrorKind::Decode,
                        format!("HTTP {status}: the response has no ApiStatusCode in Content.Model"),
                    )
                    .with_http_status(status)
                    .with_body(&response.body));
                }
                Err(api_error(status, api_status))
            }
            Err(e) if status.is_success() => Err(Error::new(
                ErrorKind::Decode,
                format!("HTTP {status}: the response is not a CXTN envelope ({e})"),
            )
            .with_http_status(status)
            .with_body(&response.body)
            .with_source(e)),
            Err(_) => Err(Error::new(
                ErrorKind::Http,
                format!(
                    "HTTP {status} without a CXTN envelope{}",
                    if response.body.is_empty() { " (empty body)" } else { "" }
                ),
            )
            .with_http_status(status)
            .with_body(&response.body)),
        }
    }

    fn unauthorized_message(&self, status: StatusCode) -> String {
        let expired = self
            .token_expires_at()
            .filter(has_passed)
            .map(|end| format!(" (it expired at {end})"));
        match expired {
            Some(when) => format!("HTTP {status}: CXTN refused the access token{when}; get a new token"),
            None => format!(
                "HTTP {status}: CXTN refused the access token; it is wrong or expired, or the client lacks access to webhooks. Get a new token, or ask CXTN to enable webhooks"
            ),
        }
    }
}

/// Whether a token end date CXTN sent has passed; dates without an offset are read as UTC.
fn has_passed(end: &Timestamp) -> bool {
    let utc = chrono::Offset::fix(&chrono::Utc);
    let now = chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now());
    end.assume_offset(utc) <= now
}

fn http_name(name: &'static str) -> cxtn_transport::HeaderName {
    cxtn_transport::HeaderName::from_static(name)
}

fn api_error(status: StatusCode, api_status: cxtn_model::ApiStatus) -> Error {
    let code = api_status.code.map_or_else(|| "no code".to_owned(), |c| c.to_string());
    let name = api_status.status.clone().unwrap_or_default();
    let description = api_status.description.clone().unwrap_or_default();
    Error::new(
        ErrorKind::Api,
        format!("CXTN refused the operation (HTTP {status}, ApiStatusCode {code} {name}): {description}"),
    )
    .with_http_status(status)
    .with_api_status(api_status)
}

impl From<cxtn_transport::Error> for Error {
    /// A transport failure: [`ErrorKind::Timeout`] for a timeout, [`ErrorKind::Transport`] otherwise.
    fn from(e: cxtn_transport::Error) -> Self {
        transport_error(e)
    }
}

fn transport_error(e: cxtn_transport::Error) -> Error {
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Transport
    };
    let attempts = e.attempts();
    let elapsed = e.elapsed();
    let message = format!(
        "{} (after {attempts} attempt{} in {:.1}s)",
        e.message(),
        if attempts == 1 { "" } else { "s" },
        elapsed.as_secs_f64()
    );
    Error::new(kind, message)
        .with_attempts(attempts, elapsed)
        .with_source(e)
}

fn check_event_type(operation: Operation, event_type: &WebhookEventType) -> Result<(), Error> {
    if event_type.name().is_none() {
        return Err(Error::invalid_input(
            "event_type",
            format!(
                "`{event_type}` is not a webhook event type CXTN defines; use Trade, Payment, AccountTransaction, Wallet, Card, Quote or BulkPayments"
            ),
        )
        .for_operation(operation));
    }
    Ok(())
}

/// Checks an endpoint URL: it must parse and be https, or http on a loopback host, or http anywhere
/// when `allow_insecure_http` is set. The error never repeats the URL's path, which may hold a secret.
pub(crate) fn check_endpoint_url(url: &str, allow_insecure_http: bool) -> Result<EndpointUrl, Error> {
    let redacted = EndpointUrl::new(url).redacted();
    let parsed = url::Url::parse(url).map_err(|e| {
        Error::invalid_input(
            "endpoint_url",
            format!("the endpoint URL `{redacted}` is not a valid URL ({e}); give an absolute https URL"),
        )
    })?;
    let host = parsed.host().ok_or_else(|| {
        Error::invalid_input(
            "endpoint_url",
            format!("the endpoint URL `{redacted}` has no host; give an absolute https URL"),
        )
    })?;
    match parsed.scheme() {
        "https" => Ok(EndpointUrl::new(url)),
        "http" if allow_insecure_http || is_loopback(&host) => Ok(EndpointUrl::new(url)),
        "http" => Err(Error::invalid_input(
            "endpoint_url",
            format!(
                "the endpoint URL `{redacted}` uses plain http; CXTN would send money notifications in clear text. Use https, or allow_insecure_http(true) for a private network"
            ),
        )),
        other => Err(Error::invalid_input(
            "endpoint_url",
            format!("the endpoint URL `{redacted}` uses `{other}`; use https"),
        )),
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(domain) => domain.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}
