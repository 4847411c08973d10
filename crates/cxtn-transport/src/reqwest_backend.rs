//! The reqwest backend.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::backend::{self, BackendBuilder};
use crate::error::{Error, ErrorKind};
use crate::request::Request;
use crate::response::Response;
use crate::transport::Transport;

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
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub struct ReqwestTransport {
    client: reqwest::Client,
    connect_timeout: Duration,
    max_response_bytes: usize,
}

/// Builds a [`ReqwestTransport`]. Available with feature `reqwest`.
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub type ReqwestTransportBuilder = BackendBuilder<ReqwestTransport>;

impl ReqwestTransport {
    /// A transport with the defaults: a 10 s connect timeout, response bodies up to 16 MiB.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Other`] when the TLS configuration cannot be set up.
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// A builder starting from the defaults.
    pub fn builder() -> ReqwestTransportBuilder {
        BackendBuilder::new()
    }
}

impl BackendBuilder<ReqwestTransport> {
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
            .dns_resolver(Arc::new(Resolver))
            .build()
            .map_err(|source| Error::setup("the reqwest HTTP client", source))?;
        Ok(ReqwestTransport {
            client,
            connect_timeout: self.connect_timeout,
            max_response_bytes: self.max_response_bytes,
        })
    }
}

impl fmt::Debug for ReqwestTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        backend::debug(f, "ReqwestTransport", self.connect_timeout, self.max_response_bytes)
    }
}

#[async_trait]
impl Transport for ReqwestTransport {
    async fn send(&self, request: Request) -> Result<Response, Error> {
        backend::send(request, |request, target| self.exchange(request, target)).await
    }
}

impl ReqwestTransport {
    async fn exchange(&self, request: http::Request<Bytes>, target: String) -> Result<Response, Error> {
        let request = reqwest::Request::try_from(request).map_err(|error| send_error(error, &target))?;
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|error| send_error(error, &target))?;
        let status = response.status();
        let headers = response.headers().clone();
        let limit = self.max_response_bytes;
        let too_large = |bytes: u64| bytes > u64::try_from(limit).unwrap_or(u64::MAX);
        if response.content_length().is_some_and(too_large) {
            return Err(Error::too_large(&target, status, limit));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| Error::broken_body(&target, error.without_url()))?
        {
            if too_large(u64::try_from(body.len().saturating_add(chunk.len())).unwrap_or(u64::MAX)) {
                return Err(Error::too_large(&target, status, limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response::from_parts(status, headers, Bytes::from(body)))
    }
}

fn send_error(error: reqwest::Error, target: &str) -> Error {
    let error = error.without_url();
    if error.is_builder() {
        Error::new(
            ErrorKind::InvalidRequest,
            format!("the request to {target} could not be built; check its URL and headers"),
        )
        .with_source(error)
    } else if error.is_connect() {
        let timed_out = error.is_timeout();
        Error::connect(target, error, timed_out)
    } else if error.is_timeout() {
        Error::no_response(target, error)
    } else {
        Error::broken_after_send(target, error)
    }
}

/// The shared resolver, as reqwest calls it.
struct Resolver;

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: reqwest::dns::Addrs = Box::new(crate::dns::resolve(host).await?);
            Ok(addrs)
        })
    }
}
