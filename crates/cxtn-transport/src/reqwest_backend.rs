//! The reqwest backend.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::error::{Error, ErrorKind};
use crate::request::Request;
use crate::response::Response;
use crate::transport::Transport;

/// The default time allowed to open a connection, TLS handshake included.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`Transport`] on [reqwest](https://docs.rs/reqwest), with rustls (ring provider) and the webpki root certificates.
/// Available with feature `reqwest`.
///
/// Connections are pooled; clones share the pool.
/// Redirects are not followed (a `3xx` is returned as is), proxy environment variables are not read,
/// and no overall timeout is set: wrap the transport in [`Retry`](crate::Retry) for attempt timeouts and deadlines.
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use cxtn_transport::{Method, ReqwestTransport, Request, RetryPolicy, Transport, with_retry};
///
/// # async fn run() -> Result<(), cxtn_transport::Error> {
/// let backend = ReqwestTransport::builder().connect_timeout(Duration::from_secs(5)).build()?;
/// let transport = with_retry(Arc::new(backend), RetryPolicy::default());
/// let response = transport.send(Request::new(Method::GET, "https://api.example.com/v1/status")).await?;
/// println!("{}", response.status);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    connect_timeout: Duration,
}

impl ReqwestTransport {
    /// A transport with the defaults: a 10 s connect timeout.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Other`] when the TLS configuration cannot be set up.
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// A builder starting from the defaults.
    pub fn builder() -> ReqwestTransportBuilder {
        ReqwestTransportBuilder {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl fmt::Debug for ReqwestTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReqwestTransport")
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`ReqwestTransport`]. Available with feature `reqwest`.
#[derive(Debug, Clone)]
#[must_use]
pub struct ReqwestTransportBuilder {
    connect_timeout: Duration,
}

impl ReqwestTransportBuilder {
    /// The time allowed to open a connection, TLS handshake included (default 10 s).
    pub fn connect_timeout(mut self, connect_timeout: Duration) -> Self {
        self.connect_timeout = connect_timeout;
        self
    }

    /// The transport.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Other`] when the TLS configuration cannot be set up.
    pub fn build(self) -> Result<ReqwestTransport, Error> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|source| {
                Error::new(ErrorKind::Other, "could not set up the reqwest HTTP client").with_source(source)
            })?;
        Ok(ReqwestTransport {
            client,
            connect_timeout: self.connect_timeout,
        })
    }
}

#[async_trait]
impl Transport for ReqwestTransport {
    async fn send(&self, request: Request) -> Result<Response, Error> {
        let started = Instant::now();
        self.exchange(request)
            .await
            .map_err(|error| error.with_elapsed(started.elapsed()))
    }
}

impl ReqwestTransport {
    async fn exchange(&self, request: Request) -> Result<Response, Error> {
        request.validate()?;
        let target = request.target();
        let url = reqwest::Url::parse(&request.url).map_err(|source| {
            Error::new(
                ErrorKind::InvalidRequest,
                "the request URL is not a valid URL; check the base URL and that path segments are percent-encoded",
            )
            .with_source(source)
        })?;
        let response = self
            .client
            .request(request.method, url)
            .headers(request.headers)
            .body(request.body)
            .send()
            .await
            .map_err(|error| send_error(error, &target))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|error| {
            Error::new(
                ErrorKind::Io,
                format!(
                    "the connection to {target} failed while reading the response body; \
                     the server may have processed the request"
                ),
            )
            .with_source(error.without_url())
        })?;
        Ok(Response::from_parts(status, headers, body))
    }
}

fn send_error(error: reqwest::Error, target: &str) -> Error {
    let error = error.without_url();
    if error.is_builder() {
        return Error::new(
            ErrorKind::InvalidRequest,
            format!("the request to {target} could not be built; check its URL and headers"),
        )
        .with_source(error);
    }
    if error.is_connect() {
        return Error::connect(target, Box::new(error));
    }
    if error.is_timeout() {
        return Error::new(
            ErrorKind::Timeout,
            format!("no response from {target} in time; the server may be overloaded"),
        )
        .with_source(error);
    }
    Error::new(
        ErrorKind::Io,
        format!("the connection to {target} failed after the request was sent; the server may have processed it"),
    )
    .with_source(error)
}
