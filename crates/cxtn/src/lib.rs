//! The Rust SDK for CXTN (Caxton) webhooks.
//!
//! `cxtn` is the crate most users want: it composes the layered crates of cxtn-rs and picks the defaults.
//!
//! - [`Client`]: manage webhook endpoints through the CXTN API ([`webhooks`]), over a default HTTP backend.
//! - [`events`]: parse the notifications CXTN POSTs to your endpoints, exactly.
//! - [`model`]: the wire types: notifications, exact money, timestamps, the API envelope.
//! - [`transport`]: the HTTP layer: the `Transport` trait, the retry policy, and (with `test-util`) test doubles.
//! - `receiver` (feature `receiver`): receive notifications: authenticated, durable, deduplicated.
//! - `sandbox` (feature `sandbox`): a local CXTN simulator that manages endpoints and delivers notifications.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = cxtn::Client::builder()
//!     .environment(cxtn::Environment::Sandbox)
//!     .access_token(std::env::var("CXTN_ACCESS_TOKEN")?)
//!     .build()?;
//! client.webhooks().create(cxtn::WebhookEventType::Payment, "https://example.com/cxtn").await?;
//! # Ok(())
//! # }
//! ```
//!
//! ```
//! let body = br#"{"eventId": "wh_4d9373d27e4e4c24bbb39c00b6dcd3e7", "event": "payment_completed",
//!     "data": {"objectId": 162953, "userId": "C00081866", "amount": 10.00, "currency": "GBP"}}"#;
//! let notification = cxtn::events::parse(body)?;
//! assert_eq!(notification.event_id().as_str(), "wh_4d9373d27e4e4c24bbb39c00b6dcd3e7");
//! assert_eq!(notification.amount().map(ToString::to_string).as_deref(), Some("10.00"));
//! # Ok::<(), cxtn::events::Error>(())
//! ```
//!
//! # Features
//!
//! - `reqwest` (default): HTTP through reqwest.
//! - `hyper`: HTTP through hyper 1 and hyper-util's pooled client; the backend when `reqwest` is off.
//! - `rustls` (default): TLS through rustls with the ring provider; both backends use it.
//! - `test-util`: test doubles, `cxtn::transport::MockTransport` and `PendingTransport`.
//! - `receiver`: `cxtn::receiver`, the webhook receiver with its SQLite inbox.
//! - `postgres`: the receiver's PostgreSQL inbox, for many receivers and workers sharing one database.
//! - `sandbox`: `cxtn::sandbox`, the local CXTN simulator.
#![deny(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

pub use cxtn_events as events;
pub use cxtn_model as model;
#[cfg(feature = "receiver")]
pub use cxtn_receiver as receiver;
#[cfg(feature = "sandbox")]
pub use cxtn_sandbox as sandbox;
pub use cxtn_transport as transport;
pub use cxtn_webhooks as webhooks;

pub use cxtn_model::{Amount, EndpointStatus, Environment, EventData, EventId, Notification, WebhookEventType};

use cxtn_transport::{Method, RetryPolicy, Transport};
use cxtn_webhooks::{AccessToken, Operation, TokenSource};

/// The CXTN client: webhook endpoint management over the default HTTP backend.
///
/// Cheap to clone. Build one with [`Client::builder`].
#[derive(Debug, Clone)]
pub struct Client {
    webhooks: cxtn_webhooks::Client,
}

impl Client {
    /// A builder with the defaults: the sandbox, the backend chosen by the crate features, retries on.
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            inner: cxtn_webhooks::Client::builder(),
            connect_timeout: None,
        }
    }

    /// Webhook endpoint management.
    #[must_use]
    pub fn webhooks(&self) -> &cxtn_webhooks::Client {
        &self.webhooks
    }
}

/// Builds a [`Client`]; problems surface at [`ClientBuilder::build`].
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    inner: cxtn_webhooks::ClientBuilder,
    connect_timeout: Option<Duration>,
}

impl ClientBuilder {
    /// The CXTN environment (default: the sandbox).
    pub fn environment(mut self, environment: Environment) -> Self {
        self.inner = self.inner.environment(environment);
        self
    }

    /// A base URL of your own, such as a local simulator (`http://127.0.0.1:4010/api/`).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.inner = self.inner.base_url(base_url);
        self
    }

    /// A static access token.
    pub fn access_token(mut self, token: impl Into<AccessToken>) -> Self {
        self.inner = self.inner.access_token(token);
        self
    }

    /// A source asked for the token before every call.
    pub fn token_source(mut self, source: impl TokenSource + 'static) -> Self {
        self.inner = self.inner.token_source(source);
        self
    }

    /// Your own transport instead of the default backend (the retry layer still applies).
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.inner = self.inner.transport(transport);
        self
    }

    /// Retries, backoff, per-attempt timeout and overall deadline.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.inner = self.inner.retry_policy(policy);
        self
    }

    /// How long the default backend waits to connect (default: 10 seconds).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Sends an operation to another route, since CXTN does not publish most of them.
    pub fn route(mut self, operation: Operation, method: Method, path: impl Into<String>) -> Self {
        self.inner = self.inner.route(operation, method, path);
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.inner = self.inner.user_agent(user_agent);
        self
    }

    /// Accepts `http://` endpoint URLs on hosts other than loopback.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.inner = self.inner.allow_insecure_http(allow);
        self
    }

    /// Builds the client, with the default backend unless a transport was given.
    ///
    /// # Errors
    ///
    /// When no token was given, the default backend could not start, or no backend feature is on
    /// and no transport was given.
    pub fn build(self) -> Result<Client, webhooks::Error> {
        let mut inner = self.inner;
        if !inner.has_transport()
            && let Some(transport) = default_transport(self.connect_timeout)?
        {
            inner = inner.transport(transport);
        }
        Ok(Client {
            webhooks: inner.build()?,
        })
    }
}

/// The backend the features choose: reqwest when on, else hyper, else none.
type DefaultTransport = Result<Option<Arc<dyn Transport>>, cxtn_transport::Error>;

#[cfg(feature = "reqwest")]
fn default_transport(connect_timeout: Option<Duration>) -> DefaultTransport {
    let mut builder = cxtn_transport::ReqwestTransport::builder();
    if let Some(timeout) = connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    let transport: Arc<dyn Transport> = Arc::new(builder.build()?);
    Ok(Some(transport))
}

#[cfg(all(feature = "hyper", not(feature = "reqwest")))]
fn default_transport(connect_timeout: Option<Duration>) -> DefaultTransport {
    let mut builder = cxtn_transport::HyperTransport::builder();
    if let Some(timeout) = connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    let transport: Arc<dyn Transport> = Arc::new(builder.build()?);
    Ok(Some(transport))
}

#[cfg(not(any(feature = "reqwest", feature = "hyper")))]
fn default_transport(_connect_timeout: Option<Duration>) -> DefaultTransport {
    Ok(None)
}
