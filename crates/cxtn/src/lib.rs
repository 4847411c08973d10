//! The Rust SDK for CXTN (Caxton) webhooks.
//!
//! `cxtn` is the crate most users want: it composes the layered crates of cxtn-rs and picks the defaults.
//!
//! - [`Client`]: manage webhook endpoints through the CXTN API ([`webhooks`]), over a default HTTP backend.
//! - [`events`]: parse the notifications CXTN POSTs to your endpoints, exactly.
//! - [`model`]: the wire types: notifications, exact money, timestamps, the API envelope.
//! - [`transport`]: the HTTP layer: the `Transport` trait, the retry policy, and (with `test-util`) test doubles.
#![cfg_attr(feature = "receiver", doc = "- [`receiver`]")]
#![cfg_attr(not(feature = "receiver"), doc = "- `receiver`")]
//!   (feature `receiver`): receive notifications: authenticated, durable, deduplicated.
#![cfg_attr(feature = "sandbox", doc = "- [`sandbox`]")]
#![cfg_attr(not(feature = "sandbox"), doc = "- `sandbox`")]
//!   (feature `sandbox`): a local CXTN simulator that manages endpoints and delivers notifications.
#![cfg_attr(feature = "outlets", doc = "- [`outlets`]")]
#![cfg_attr(not(feature = "outlets"), doc = "- `outlets`")]
//!   (feature `outlets`): publish stored events to NATS JetStream, RabbitMQ or Redis Streams, exactly as
//!   received, as a receiver handler you can combine with your own.
#![cfg_attr(feature = "test-util", doc = "- [`testing`]")]
#![cfg_attr(not(feature = "test-util"), doc = "- `testing`")]
//!   (feature `test-util`): test your integration without CXTN: a scripted fake of the management API, and
//!   (with `receiver`) a one-call run of a handler that reports what the worker would do.
//! - `console` (feature `console`): the inbox console, a web page over an inbox: what arrived, what failed and why,
//!   with replay.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let token = std::env::var("CXTN_ACCESS_TOKEN")?;
//! let client = cxtn::Client::builder()
//!     .configure(|webhooks| webhooks.environment(cxtn::Environment::Sandbox).access_token(token))
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
//! - `reqwest` (default): HTTP through reqwest, with rustls on the ring provider.
//! - `hyper`: HTTP through hyper 1 and hyper-util's pooled client, with rustls on the ring provider;
//!   the backend when `reqwest` is off.
//! - `test-util`: `cxtn::testing`, the fake CXTN account and (with `receiver`) the handler runs; and the transport's
//!   doubles, `cxtn::transport::MockTransport` and `PendingTransport`.
//! - `receiver`: `cxtn::receiver`, the webhook receiver with its SQLite inbox.
//! - `postgres`: the receiver's PostgreSQL inbox, for many receivers and workers sharing one database.
//! - `sandbox`: `cxtn::sandbox`, the local CXTN simulator.
//! - `outlets`: `cxtn::outlets`, the outlets and their handler, `cxtn::outlets::Publish` (turns on `receiver`).
//! - `nats`: the NATS JetStream outlet, `nats://` URLs (turns on `outlets`).
//! - `rabbitmq`: the RabbitMQ outlet, `amqp://` URLs (turns on `outlets`).
//! - `redis`: the Redis Streams outlet, `redis://` URLs (turns on `outlets`).
//! - `console`: `cxtn::console`, the inbox console (turns on `receiver`).
//!
//! Every crate of cxtn-rs is reachable from here: `cxtn::model` is `cxtn-model`, `cxtn::events` is `cxtn-events`,
//! `cxtn::transport` is `cxtn-transport`, `cxtn::webhooks` is `cxtn-webhooks`, and, with their features,
//! `cxtn::receiver`, `cxtn::sandbox` and `cxtn::outlets` are `cxtn-receiver`, `cxtn-sandbox` and `cxtn-outlets`.
//! Their items' own docs use their crate's path (`cxtn_receiver::Handler` is `cxtn::receiver::Handler`).
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "console")]
#[cfg_attr(docsrs, doc(cfg(feature = "console")))]
pub use cxtn_console as console;
#[doc(inline)]
pub use cxtn_events as events;
#[doc(inline)]
pub use cxtn_model as model;
#[cfg(feature = "outlets")]
#[cfg_attr(docsrs, doc(cfg(feature = "outlets")))]
#[doc(inline)]
pub use cxtn_outlets as outlets;
#[cfg(feature = "receiver")]
#[cfg_attr(docsrs, doc(cfg(feature = "receiver")))]
#[doc(inline)]
pub use cxtn_receiver as receiver;
#[cfg(feature = "sandbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "sandbox")))]
#[doc(inline)]
pub use cxtn_sandbox as sandbox;
#[doc(inline)]
pub use cxtn_transport as transport;
#[doc(inline)]
pub use cxtn_webhooks as webhooks;

#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod testing;

pub use cxtn_model::{Amount, EndpointStatus, Environment, EventData, EventId, Notification, WebhookEventType};

use cxtn_transport::Transport;

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
            webhooks: cxtn_webhooks::Client::builder(),
            connect_timeout: None,
        }
    }

    /// Webhook endpoint management.
    #[must_use]
    pub fn webhooks(&self) -> &cxtn_webhooks::Client {
        &self.webhooks
    }
}

/// Builds a [`Client`]: the management client's own builder, plus the choice of the HTTP backend.
///
/// Every setting of [`cxtn_webhooks::ClientBuilder`] (environment, token, routes, retries, user agent, a transport
/// of your own...) is set through [`configure`](Self::configure); problems surface at [`build`](Self::build).
///
/// ```
/// use cxtn::transport::RetryPolicy;
///
/// let client = cxtn::Client::builder()
///     .configure(|webhooks| {
///         webhooks
///             .base_url("http://127.0.0.1:4010/api/")
///             .access_token("token")
///             .retry_policy(RetryPolicy::none())
///             .user_agent("my-service/1.0")
///     })
///     .connect_timeout(std::time::Duration::from_secs(3))
///     .build();
/// # #[cfg(any(feature = "reqwest", feature = "hyper"))]
/// assert!(client.is_ok());
/// ```
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    webhooks: cxtn_webhooks::ClientBuilder,
    connect_timeout: Option<Duration>,
}

impl ClientBuilder {
    /// Applies settings of the management client's builder, [`cxtn_webhooks::ClientBuilder`].
    pub fn configure(
        mut self,
        configure: impl FnOnce(cxtn_webhooks::ClientBuilder) -> cxtn_webhooks::ClientBuilder,
    ) -> Self {
        self.webhooks = configure(self.webhooks);
        self
    }

    /// How long the default backend waits to connect (default: 10 seconds).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Builds the client, with the default backend unless a transport was given.
    ///
    /// # Errors
    ///
    /// When no token was given, the default backend could not start, or no backend feature is on
    /// and no transport was given.
    pub fn build(self) -> Result<Client, webhooks::Error> {
        let mut webhooks = self.webhooks;
        if !webhooks.has_transport()
            && let Some(transport) = default_transport(self.connect_timeout)?
        {
            webhooks = webhooks.transport(transport);
        }
        Ok(Client {
            webhooks: webhooks.build()?,
        })
    }
}

/// The backend the features choose: reqwest when on, else hyper.
#[cfg(feature = "reqwest")]
type DefaultBackend = cxtn_transport::ReqwestTransport;
#[cfg(all(feature = "hyper", not(feature = "reqwest")))]
type DefaultBackend = cxtn_transport::HyperTransport;

/// The default backend with its connect timeout; none when no backend feature is on.
fn default_transport(connect_timeout: Option<Duration>) -> Result<Option<Arc<dyn Transport>>, cxtn_transport::Error> {
    #[cfg(any(feature = "reqwest", feature = "hyper"))]
    {
        let mut builder = DefaultBackend::builder();
        if let Some(timeout) = connect_timeout {
            builder = builder.connect_timeout(timeout);
        }
        Ok(Some(Arc::new(builder.build()?)))
    }
    #[cfg(not(any(feature = "reqwest", feature = "hyper")))]
    {
        let _ = connect_timeout;
        Ok(None)
    }
}
