//! The hyper backend.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::backend::{self, BackendBuilder};
use crate::dns::ResolveError;
use crate::error::Error;
use crate::request::Request;
use crate::response::Response;
use crate::transport::Transport;

type HyperClient = Client<HttpsConnector<HttpConnector<Resolver>>, Full<Bytes>>;

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
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub struct HyperTransport {
    client: HyperClient,
    connect_timeout: Duration,
    max_response_bytes: usize,
}

/// Builds a [`HyperTransport`]. Available with feature `hyper`.
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub type HyperTransportBuilder = BackendBuilder<HyperTransport>;

impl HyperTransport {
    /// A transport with the defaults: a 10 s connect timeout, response bodies up to 16 MiB.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Other`](crate::ErrorKind::Other) when the TLS configuration cannot be set up.
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// A builder starting from the defaults.
    pub fn builder() -> HyperTransportBuilder {
        BackendBuilder::new()
    }
}

impl BackendBuilder<HyperTransport> {
    /// The transport.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Other`](crate::ErrorKind::Other) when the TLS configuration cannot be set up.
    pub fn build(self) -> Result<HyperTransport, Error> {
        let mut http = HttpConnector::new_with_resolver(Resolver);
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(self.connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(Arc::new(rustls::crypto::ring::default_provider()))
            .map_err(|source| Error::setup("TLS (rustls with ring)", source))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .build(https);
        Ok(HyperTransport {
            client,
            connect_timeout: self.connect_timeout,
            max_response_bytes: self.max_response_bytes,
        })
    }
}

impl fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        backend::debug(f, "HyperTransport", self.connect_timeout, self.max_response_bytes)
    }
}

#[async_trait]
impl Transport for HyperTransport {
    async fn send(&self, request: Request) -> Result<Response, Error> {
        backend::send(request, |request, target| self.exchange(request, target)).await
    }
}

impl HyperTransport {
    async fn exchange(&self, request: http::Request<Bytes>, target: String) -> Result<Response, Error> {
        let response = self
            .client
            .request(request.map(Full::new))
            .await
            .map_err(|error| send_error(error, &target))?;
        let (parts, body) = response.into_parts();
        let limit = self.max_response_bytes;
        let body = Limited::new(body, limit).collect().await.map_err(|error| {
            if error.is::<LengthLimitError>() {
                Error::too_large(&target, parts.status, limit)
            } else {
                Error::broken_body(&target, error)
            }
        })?;
        Ok(Response::from_parts(parts.status, parts.headers, body.to_bytes()))
    }
}

fn send_error(error: hyper_util::client::legacy::Error, target: &str) -> Error {
    let timed_out = std::error::Error::source(&error)
        .and_then(|source| source.downcast_ref::<hyper::Error>())
        .is_some_and(hyper::Error::is_timeout);
    if error.is_connect() {
        Error::connect(target, error, false)
    } else if timed_out {
        Error::no_response(target, error)
    } else {
        Error::broken_after_send(target, error)
    }
}

/// The shared resolver, as hyper-util's connector calls it.
#[derive(Debug, Clone, Copy)]
struct Resolver;

impl tower_service::Service<Name> for Resolver {
    type Response = std::vec::IntoIter<std::net::SocketAddr>;
    type Error = ResolveError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, ResolveError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ResolveError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        Box::pin(crate::dns::resolve(name.as_str().to_owned()))
    }
}
