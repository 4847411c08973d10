//! The management client and its operations.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use cxtn_model::{
    Endpoint, EndpointRequest, EndpointStatus, EndpointStatusRequest, EndpointUrl, EndpointsModel, Environment,
    HasStatus, StatusModel, Timestamp, UrlErrorKind, UrlPolicy, WebhookEventType,
};
use cxtn_transport::{Bytes, HeaderValue, Request, Transport};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::{AccessToken, ClientBuilder, Error, ErrorKind, Operation, Route, Routes, TokenSource};

/// A client for CXTN's webhook management routes.
///
/// Cheap to clone: clones share the transport and the token source.
/// Build one with [`Client::builder`] and a transport of your choosing; the facade crate `cxtn`
/// builds one with an HTTP backend it picks.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
///
/// use cxtn_model::{Environment, WebhookEventType};
///
/// let client = cxtn_webhooks::Client::builder()
///     .environment(Environment::Sandbox)
///     .access_token(std::env::var("CXTN_ACCESS_TOKEN")?)
///     .transport(Arc::new(cxtn_transport::HyperTransport::new()?))
///     .build()?;
/// client.enable().await?;
/// client.ensure(WebhookEventType::Payment, "https://example.com/cxtn/9f1c2e").await?;
/// for endpoint in client.list().await? {
///     println!("{} {} {}", endpoint.event_type, endpoint.status, endpoint.endpoint_url.redacted());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) environment: Environment,
    pub(crate) token: Arc<dyn TokenSource>,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) routes: Routes,
    pub(crate) user_agent: HeaderValue,
    pub(crate) allow_insecure_http: bool,
    pub(crate) token_end_date: Mutex<Option<Timestamp>>,
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
    /// Whether webhooks had to be enabled on the account first.
    pub enabled: bool,
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
        !self.enabled && !self.created && !self.url_changed && !self.activated
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
        let body = EndpointRequest::new(event_type, url);
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
        let body = EndpointRequest::new(event_type, url);
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
        let body = EndpointStatusRequest::new(event_type, status);
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
    /// lists, then creates or edits as needed, then activates. Safe to run at every start of an application:
    /// when nothing has to change, it makes one call (the list).
    ///
    /// On an account where webhooks are not enabled yet, CXTN refuses with `WebhooksNotEnabled`: `ensure` then
    /// enables them ([`Client::enable`], one more call) and starts again from the list, once;
    /// [`Ensured::enabled`] says it did.
    /// CXTN publishes no error codes, so the refusal is recognised by its `ApiStatus` name alone, the name the
    /// local simulator answers with.
    /// When enabling fails too (CXTN has not approved webhooks for the account), that error is returned.
    ///
    /// # Errors
    ///
    /// As the operations it calls; the URL is checked before any request.
    pub async fn ensure(&self, event_type: WebhookEventType, url: impl AsRef<str>) -> Result<Ensured, Error> {
        let url = url.as_ref();
        self.check_url(Operation::Create, url)?;
        check_event_type(Operation::Create, &event_type)?;
        match self.ensure_once(event_type, url).await {
            Err(e) if e.is_webhooks_not_enabled() => {
                tracing::info!(event_type = %event_type, "webhooks are not enabled on the account; enabling them");
                self.enable().await?;
                let mut ensured = self.ensure_once(event_type, url).await?;
                ensured.enabled = true;
                Ok(ensured)
            }
            result => result,
        }
    }

    /// One pass of [`ensure`](Self::ensure): list, create or edit, activate.
    async fn ensure_once(&self, event_type: WebhookEventType, url: &str) -> Result<Ensured, Error> {
        let existing = self.list().await?.into_iter().find(|e| e.event_type == event_type);
        let mut ensured = Ensured {
            sends_notifications: event_type.sends_notifications(),
            event_type,
            enabled: false,
            created: false,
            url_changed: false,
            activated: false,
        };
        match &existing {
            None => {
                self.create(event_type, url).await?;
                ensured.created = true;
            }
            Some(endpoint) if endpoint.endpoint_url.as_str() != url => {
                self.edit(event_type, url).await?;
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
            Err(e) => return Err(Error::from(e).for_operation(operation)),
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
}

fn http_name(name: &'static str) -> cxtn_transport::HeaderName {
    cxtn_transport::HeaderName::from_static(name)
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
    let policy = UrlPolicy::new().allow_insecure_http(allow_insecure_http);
    EndpointUrl::parse_with(url, policy).map_err(|e| {
        let message = match e.kind() {
            UrlErrorKind::PlainHttp => format!(
                "the endpoint URL `{}` uses plain http; CXTN would send money notifications in clear text. Use https, or allow_insecure_http(true) for a private network",
                e.redacted()
            ),
            _ => e.to_string(),
        };
        Error::invalid_input("endpoint_url", message)
    })
}
