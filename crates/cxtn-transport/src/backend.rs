//! What the HTTP backends share: their builder, their `Debug`, and the timing of each exchange.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::error::Error;
use crate::request::Request;
use crate::response::Response;

/// The connect timeout of a backend unless its builder sets another.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest response body a backend reads unless its builder sets another: 16 MiB.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Builds an HTTP backend transport, `ReqwestTransport` or `HyperTransport`, from the settings they share.
///
/// Get one from `ReqwestTransport::builder()` or `HyperTransport::builder()`.
#[must_use]
pub struct BackendBuilder<T> {
    pub(crate) connect_timeout: Duration,
    pub(crate) max_response_bytes: usize,
    backend: PhantomData<fn() -> T>,
}

impl<T> BackendBuilder<T> {
    pub(crate) fn new() -> Self {
        Self {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            backend: PhantomData,
        }
    }

    /// The largest response body read, in bytes (default 16 MiB).
    /// A larger body, announced or streamed, stops being read at the limit and fails the request with
    /// [`ErrorKind::TooLarge`](crate::ErrorKind::TooLarge), whose [`Error::status`] keeps the status that came;
    /// the connection is closed, so memory stays bounded whatever the server sends.
    /// A caller that needs only the status can set a small limit.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// The time allowed to open a connection (default 10 s): with reqwest, TLS handshake included;
    /// with hyper, the TCP connection.
    pub fn connect_timeout(mut self, connect_timeout: Duration) -> Self {
        self.connect_timeout = connect_timeout;
        self
    }
}

impl<T> Clone for BackendBuilder<T> {
    fn clone(&self) -> Self {
        Self {
            connect_timeout: self.connect_timeout,
            max_response_bytes: self.max_response_bytes,
            backend: PhantomData,
        }
    }
}

impl<T> fmt::Debug for BackendBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendBuilder")
            .field("connect_timeout", &self.connect_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

/// Shows a backend transport by name and settings, never its connection pool.
pub(crate) fn debug(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    connect_timeout: Duration,
    max_response_bytes: usize,
) -> fmt::Result {
    f.debug_struct(name)
        .field("connect_timeout", &connect_timeout)
        .field("max_response_bytes", &max_response_bytes)
        .finish_non_exhaustive()
}

/// Validates `request`, hands it to `exchange` with its `host:port` for messages, and records on a failure
/// how long it ran.
pub(crate) async fn send<F>(
    request: Request,
    exchange: impl FnOnce(http::Request<Bytes>, String) -> F,
) -> Result<Response, Error>
where
    F: Future<Output = Result<Response, Error>>,
{
    let started = Instant::now();
    let outcome = match request.validate() {
        Ok(()) => {
            let target = request.target();
            exchange(request.into_http(), target).await
        }
        Err(error) => Err(error),
    };
    outcome.map_err(|error| error.with_elapsed(started.elapsed()))
}
