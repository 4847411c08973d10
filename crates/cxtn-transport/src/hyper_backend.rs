//! The hyper backend.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::time::Instant;

use crate::error::{Error, ErrorKind};
use crate::request::Request;
use crate::response::Response;
use crate::transport::Transport;

/// The default time allowed to open a TCP connection.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type HyperClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A [`Transport`] on hyper 1 with hyper-util's pooled client and hyper-rustls (ring provider, webpki root certificates),
/// for `http` and `https` URLs over HTTP/1.1. Available with feature `hyper`.
///
/// Connections are pooled; clones share the pool. Sending needs a Tokio runtime.
/// Redirects are not followed (a `3xx` is returned as is), proxy environment variables are not read,
/// and no overall timeout is set: wrap the transport in [`Retry`](crate::Retry) for attempt timeouts and deadlines.
///
/// ```no_run
/// use std::sync::Arc;
///
/// use cxtn_transport::{HyperTransport, Method, Request, RetryPolicy, Transport, with_retry};
///
/// # async fn run() -> Result<(), cxtn_transport::Error> {
/// let transport = with_retry(Arc::new(HyperTransport::new()?), RetryPolicy::default());
/// let response = transport.send(Request::new(Method::GET, "https://api.example.com/v1/status")).await?;
/// println!("{}", response.status);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct HyperTransport {
    client: HyperClient,
    connect_timeout: Duration,
}

impl HyperTransport {
    /// A transport with the defaults: a 10 s connect timeout.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Other`] when the TLS configuration cannot be set up.
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// A builder starting from the defaults.
    pub fn builder() -> HyperTransportBuilder {
        HyperTransportBuilder {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperTransport")
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`HyperTransport`]. Available with feature `hyper`.
#[derive(Debug, Clone)]
#[must_use]
pub struct HyperTransportBuilder {
    connect_timeout: Duration,
}

impl HyperTransportBuilder {
    /// The time allowed to open a TCP connection (default 10 s).
    pub fn connect_timeout(mut self, connect_timeout: Duration) -> Self {
        self.connect_timeout = connect_timeout;
        self
    }

    /// The transport.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Other`] when the TLS configuration cannot be set up.
    pub fn build(self) -> Result<HyperTransport, Error> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(self.connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))
            .map_err(|source| {
                Error::new(ErrorKind::Other, "could not set up TLS (rustls with ring)").with_source(source)
            })?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .build(https);
        Ok(HyperTransport {
            client,
            connect_timeout: self.connect_timeout,
        })
    }
}

#[async_trait]
impl Transport for HyperTransport {
    async fn send(&self, request: Request) -> Result<Response, Error> {
        let started = Instant::now();
        self.exchange(request)
            .await
            .map_err(|error| error.with_elapsed(started.elapsed()))
    }
}

impl HyperTransport {
    async fn exchange(&self, request: Request) -> Result<Response, Error> {
        request.validate()?;
        let target = request.target();
        let uri = request.uri()?;
        let mut outgoing = http::Request::new(Full::new(request.body));
        *outgoing.method_mut() = request.method;
        *outgoing.uri_mut() = uri;
        *outgoing.headers_mut() = request.headers;
        let response = self
            .client
            .request(outgoing)
            .await
            .map_err(|error| send_error(error, &target))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|source| {
            Error::new(
                ErrorKind::Io,
                format!(
                    "the connection to {target} failed while reading the response body; \
                     the server may have processed the request"
                ),
            )
            .with_source(source)
        })?;
        Ok(Response::from_parts(parts.status, parts.headers, body.to_bytes()))
    }
}

fn send_error(error: hyper_util::client::legacy::Error, target: &str) -> Error {
    if error.is_connect() {
        return Error::connect(target, Box::new(error));
    }
    let timed_out = std::error::Error::source(&error)
        .and_then(|source| source.downcast_ref::<hyper::Error>())
        .is_some_and(hyper::Error::is_timeout);
    if timed_out {
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
