//! The sandbox: start it, trigger notifications, read the log, stop it.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cxtn_model::{Endpoint, EndpointRequest, EndpointStatus, EndpointStatusRequest, WebhookEventType};
use cxtn_transport::Transport;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::Operation;
use crate::delivery::{Delivery, DeliveryId};
use crate::engine::{Auth, Shared, TokenDates};
use crate::state::EndpointEntry;
use crate::trigger::TriggerReport;
use crate::{Error, ErrorKind, Token, Trigger};

/// The waits between delivery attempts unless told otherwise: 1, 2, 4 and 8 seconds (five attempts in all).
pub const DEFAULT_RETRY_SCHEDULE: [Duration; 4] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
];

/// How long one delivery attempt may take unless told otherwise: 10 seconds.
pub const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the access token lasts, as the envelope reports it (`TokenEndDate`): 30 days, like CXTN's.
const TOKEN_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// A running sandbox: a local stand-in for the CXTN API that also delivers notifications.
///
/// It serves CXTN's webhook management routes under [`base_url`](Self::base_url), keeps endpoints in memory,
/// and POSTs notifications you [`trigger`](Self::trigger) to the endpoint registered for them,
/// retrying on its schedule and recording every delivery in a log.
/// Dropping it stops the server and the deliveries; [`shutdown`](Self::shutdown) also waits for open
/// requests to finish.
///
/// ```no_run
/// use std::time::Duration;
///
/// use cxtn_model::WebhookEventType;
/// use cxtn_sandbox::{Sandbox, Trigger};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let sandbox = Sandbox::builder()
///     .retry_schedule([Duration::from_millis(10), Duration::from_millis(20)])
///     .start()
///     .await?;
/// // Or through the management routes at `sandbox.base_url()`, with `sandbox.token()`.
/// sandbox.enable_webhooks()?;
/// sandbox.create_endpoint(WebhookEventType::AccountTransaction, "http://127.0.0.1:8080/cxtn/hook")?;
///
/// let report = sandbox.trigger(Trigger::new("account_credit").set_json("amount", "1000.00")).await?;
/// sandbox.wait_until_settled(Duration::from_secs(5)).await?;
/// let delivery = sandbox.delivery(report.deliveries[0]).expect("in the log");
/// println!("{} after {} attempts", delivery.outcome, delivery.attempts);
/// sandbox.shutdown().await;
/// # Ok(())
/// # }
/// ```
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: Option<JoinHandle<()>>,
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .field("token", &self.shared.auth.token)
            .field("open", &self.shared.auth.open)
            .field("retry_schedule", &self.shared.schedule())
            .field("delivery_timeout", &self.shared.timeout())
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// A builder with the defaults: a random token, `127.0.0.1` on a free port,
    /// [`DEFAULT_RETRY_SCHEDULE`] and [`DEFAULT_DELIVERY_TIMEOUT`].
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            token: None,
            open: false,
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            schedule: DEFAULT_RETRY_SCHEDULE.to_vec(),
            timeout: DEFAULT_DELIVERY_TIMEOUT,
            transport: None,
        }
    }

    /// The address the server listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL of the management routes, to give a client: `http://127.0.0.1:PORT/api/`.
    ///
    /// When the sandbox listens on every interface (`0.0.0.0` or `::`), the URL names loopback.
    #[must_use]
    pub fn base_url(&self) -> String {
        format!("http://{}/api/", self.reachable())
    }

    /// The base URL of the sandbox's own routes: `http://127.0.0.1:PORT/sandbox/`.
    #[must_use]
    pub fn control_url(&self) -> String {
        format!("http://{}/sandbox/", self.reachable())
    }

    fn reachable(&self) -> SocketAddr {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        SocketAddr::new(ip, self.addr.port())
    }

    /// The bearer token the management routes accept (in open mode, any non-empty token works too).
    #[must_use]
    pub fn token(&self) -> &Token {
        &self.shared.auth.token
    }

    /// Whether any non-empty bearer token is accepted.
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.shared.auth.open
    }

    /// Sends a notification to the endpoint of its event type, in a task of its own.
    ///
    /// Returns at once with the notification and what happened to it so far; follow its
    /// [deliveries](TriggerReport::deliveries) in the log, or [`wait_until_settled`](Self::wait_until_settled).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidTrigger`] when the trigger cannot be built into a notification (see [`Trigger`]).
    pub async fn trigger(&self, trigger: Trigger) -> Result<TriggerReport, Error> {
        let reports = self.shared.trigger(std::slice::from_ref(&trigger), false)?;
        reports
            .into_iter()
            .next()
            .ok_or_else(|| Error::new(ErrorKind::InvalidTrigger, "the trigger produced no notification"))
    }

    /// Sends several notifications at once, in shuffled order; the reports come in the order they were sent.
    ///
    /// Either every trigger is sent or none is.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidTrigger`] when any trigger is invalid, or the batch holds more than 1000.
    pub async fn trigger_batch(
        &self,
        triggers: impl IntoIterator<Item = Trigger>,
    ) -> Result<Vec<TriggerReport>, Error> {
        let triggers: Vec<Trigger> = triggers.into_iter().collect();
        self.shared.trigger(&triggers, true)
    }

    /// The delivery log, oldest first (the last 10 000 entries, and every pending or held one).
    #[must_use]
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.state().deliveries().cloned().collect()
    }

    /// One entry of the delivery log.
    #[must_use]
    pub fn delivery(&self, id: DeliveryId) -> Option<Delivery> {
        self.shared.state().delivery(id).cloned()
    }

    /// The registered endpoints, in the order they were created.
    #[must_use]
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.shared
            .state()
            .endpoints
            .iter()
            .map(EndpointEntry::to_model)
            .collect()
    }

    /// Whether webhooks were enabled (`POST webhooks/enable`).
    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.shared.state().enabled
    }

    /// Enables webhooks, as `POST webhooks/enable` does, without HTTP.
    ///
    /// # Errors
    ///
    /// None today; the management methods share one signature.
    pub fn enable_webhooks(&self) -> Result<(), Error> {
        self.manage(Operation::Enable, &())
    }

    /// Registers the endpoint of an event type, as `POST webhooks/endpoints` does, without HTTP.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Refused`] with the [`ApiCode`](crate::ApiCode) the route would answer
    /// (webhooks not enabled, an endpoint exists, an invalid URL or event type).
    pub fn create_endpoint(&self, event_type: WebhookEventType, url: &str) -> Result<(), Error> {
        self.manage(Operation::Create, &EndpointRequest::new(event_type, url))
    }

    /// Points the endpoint of an event type at another URL, as `PUT webhooks/endpoints` does, without HTTP.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Refused`], as [`create_endpoint`](Self::create_endpoint), or when no endpoint exists.
    pub fn edit_endpoint(&self, event_type: WebhookEventType, url: &str) -> Result<(), Error> {
        self.manage(Operation::Edit, &EndpointRequest::new(event_type, url))
    }

    /// Sets the status of the endpoint of an event type, as `PUT webhooks/endpoints/status` does, without HTTP.
    ///
    /// Active again sends what was held while it was Paused; Inactive drops it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Refused`] when no endpoint exists, or for an unknown event type or status.
    pub fn set_endpoint_status(&self, event_type: WebhookEventType, status: EndpointStatus) -> Result<(), Error> {
        self.manage(Operation::SetStatus, &EndpointStatusRequest::new(event_type, status))
    }

    /// Sets every endpoint Inactive, as `PUT webhooks/deactivate` does, without HTTP.
    ///
    /// # Errors
    ///
    /// None today; the management methods share one signature.
    pub fn deactivate_endpoints(&self) -> Result<(), Error> {
        self.manage(Operation::Deactivate, &())
    }

    fn manage(&self, operation: Operation, body: &impl Serialize) -> Result<(), Error> {
        let body = serde_json::to_vec(body).map_err(|e| {
            Error::new(ErrorKind::Config, format!("cannot write the request as JSON: {e}")).with_source(e)
        })?;
        match self.shared.api(operation, &body) {
            Ok(_) => Ok(()),
            Err(refusal) => Err(Error::new(ErrorKind::Refused, refusal.description).with_code(refusal.code)),
        }
    }

    /// Waits until no delivery is pending: each one was delivered, failed or skipped, or is held.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Timeout`] when deliveries are still pending after `timeout`.
    pub async fn wait_until_settled(&self, timeout: Duration) -> Result<(), Error> {
        self.shared.settled(timeout).await
    }

    /// Stops accepting connections, lets open requests finish (up to 5 seconds), and stops every delivery.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.shared.abort_tasks();
    }

    /// Serves until `signal` completes, then shuts down; for a command line that runs the sandbox
    /// until Ctrl-C.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), cxtn_sandbox::Error> {
    /// let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 4010));
    /// let sandbox = cxtn_sandbox::Sandbox::builder().open().addr(addr).start().await?;
    /// println!("CXTN sandbox on {}", sandbox.base_url());
    /// // Hand `stop` to whatever decides when to stop, such as a Ctrl-C handler.
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// # drop(stop);
    /// sandbox.run_until_shutdown(async { let _ = stopped.await; }).await
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Server`] when the server stopped before the signal.
    pub async fn run_until_shutdown(mut self, signal: impl Future<Output = ()>) -> Result<(), Error> {
        let Some(mut server) = self.server.take() else {
            return Err(Error::new(ErrorKind::Server, "the server is not running"));
        };
        tokio::select! {
            () = signal => {
                self.stop.send_replace(true);
                let _ = server.await;
                self.shared.abort_tasks();
                Ok(())
            }
            result = &mut server => {
                self.shared.abort_tasks();
                let error = Error::new(ErrorKind::Server, "the sandbox's server stopped unexpectedly");
                Err(match result {
                    Err(join) => error.with_source(join),
                    Ok(()) => error,
                })
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop.send_replace(true);
        self.shared.abort_tasks();
    }
}

/// Builds and starts a [`Sandbox`]. Setter problems surface at [`start`](Self::start).
#[must_use]
pub struct SandboxBuilder {
    token: Option<Token>,
    open: bool,
    addr: SocketAddr,
    schedule: Vec<Duration>,
    timeout: Duration,
    transport: Option<Arc<dyn Transport>>,
}

impl fmt::Debug for SandboxBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxBuilder")
            .field("token", &self.token)
            .field("open", &self.open)
            .field("addr", &self.addr)
            .field("retry_schedule", &self.schedule)
            .field("delivery_timeout", &self.timeout)
            .field("transport", &self.transport)
            .finish()
    }
}

impl SandboxBuilder {
    /// The bearer token the management routes accept (default: a random one, see [`Sandbox::token`]).
    pub fn token(mut self, token: impl Into<Token>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Accepts any non-empty bearer token.
    pub fn open(mut self) -> Self {
        self.open = true;
        self
    }

    /// The address to listen on (default: `127.0.0.1:0`, a free port on loopback).
    ///
    /// The sandbox's own routes take no token: listen on loopback unless you mean to share them.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The waits between delivery attempts; one attempt more than there are waits
    /// (default: [`DEFAULT_RETRY_SCHEDULE`]). An empty schedule makes one attempt.
    pub fn retry_schedule(mut self, schedule: impl IntoIterator<Item = Duration>) -> Self {
        self.schedule = schedule.into_iter().collect();
        self
    }

    /// How long one delivery attempt may take, connecting included (default: [`DEFAULT_DELIVERY_TIMEOUT`]).
    pub fn delivery_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The HTTP transport deliveries go through (default, with feature `hyper`: cxtn-transport's hyper backend).
    ///
    /// The sandbox runs its own retry schedule and timeout; give a transport without retries.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Listens, and starts serving in a task of its own. Needs a Tokio runtime with I/O and time enabled.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] for an empty token, a zero delivery timeout, or no transport without feature `hyper`;
    /// [`ErrorKind::Bind`] when the address cannot be listened on.
    pub async fn start(self) -> Result<Sandbox, Error> {
        let token = match self.token {
            Some(token) if token.is_empty() => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "the token is empty; give a non-empty token, or call open() to accept any",
                ));
            }
            Some(token) => token,
            None => crate::token::generate(),
        };
        if self.timeout.is_zero() {
            return Err(Error::new(
                ErrorKind::Config,
                "the delivery timeout is zero; give a timeout above zero",
            ));
        }
        let transport = match self.transport {
            Some(transport) => transport,
            None => default_transport()?,
        };
        let listener = TcpListener::bind(self.addr).await.map_err(|e| {
            Error::new(
                ErrorKind::Bind,
                format!(
                    "could not listen on {}: {e}; choose another port, or port 0 for any free one",
                    self.addr
                ),
            )
            .with_source(e)
        })?;
        let addr = listener.local_addr().map_err(|e| {
            Error::new(ErrorKind::Bind, format!("could not read the address listened on: {e}")).with_source(e)
        })?;
        let auth = Auth { token, open: self.open };
        let shared = Arc::new(Shared::new(auth, token_dates(), self.schedule, self.timeout, transport));
        let (stop, stopped) = watch::channel(false);
        let server = tokio::spawn(crate::server::serve(listener, Arc::clone(&shared), stopped));
        tracing::info!(%addr, "cxtn sandbox listening");
        Ok(Sandbox {
            shared,
            addr,
            stop,
            server: Some(server),
        })
    }
}

#[cfg(feature = "hyper")]
fn default_transport() -> Result<Arc<dyn Transport>, Error> {
    cxtn_transport::HyperTransport::new()
        .map(|transport| Arc::new(transport) as Arc<dyn Transport>)
        .map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("could not set up the delivery transport: {e}"),
            )
            .with_source(e)
        })
}

#[cfg(not(feature = "hyper"))]
fn default_transport() -> Result<Arc<dyn Transport>, Error> {
    Err(Error::new(
        ErrorKind::Config,
        "no delivery transport: turn on the `hyper` feature of cxtn-sandbox, or give one with transport(..)",
    ))
}

/// The token's validity as the envelope reports it: from now (to the second) for [`TOKEN_LIFETIME`].
fn token_dates() -> TokenDates {
    let start = chrono::DateTime::<chrono::Utc>::from(SystemTime::now());
    let end = start.checked_add_signed(TOKEN_LIFETIME).unwrap_or(start);
    let format = "%Y-%m-%dT%H:%M:%S";
    TokenDates {
        start: start.format(format).to_string(),
        end: end.format(format).to_string(),
    }
}
