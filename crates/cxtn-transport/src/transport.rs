//! The trait every HTTP backend implements.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Error;
use crate::request::Request;
use crate::response::Response;

/// Sends a [`Request`] and returns the [`Response`], whatever its status.
///
/// The trait is object-safe and meant to be shared as `Arc<dyn Transport>`.
/// It is open: implement it to send requests through any HTTP stack, then wrap it in
/// [`Retry`](crate::Retry) to get retries and tracing.
///
/// An implementation should:
/// - call [`Request::validate`] first and return its error;
/// - return `Ok` for every status, `4xx` and `5xx` included;
/// - map failures to the [`ErrorKind`](crate::ErrorKind) that says whether the request could have reached the server
///   ([`Connect`](crate::ErrorKind::Connect) only when it provably did not, since even non-idempotent requests are
///   retried then);
/// - keep header values, the query string and the body out of its errors.
///
/// ```
/// use std::sync::Arc;
///
/// use cxtn_transport::{Error, Request, Response, StatusCode, Transport, async_trait};
///
/// /// Answers `204 No Content` to everything.
/// #[derive(Debug)]
/// struct NoContent;
///
/// #[async_trait]
/// impl Transport for NoContent {
///     async fn send(&self, request: Request) -> Result<Response, Error> {
///         request.validate()?;
///         Ok(Response::new(StatusCode::NO_CONTENT))
///     }
/// }
///
/// let transport: Arc<dyn Transport> = Arc::new(NoContent);
/// # let _ = transport;
/// ```
#[async_trait]
pub trait Transport: Send + Sync + fmt::Debug {
    /// Sends the request and reads the whole response.
    ///
    /// # Errors
    ///
    /// When no response arrived; the [`kind`](Error::kind) says why.
    async fn send(&self, request: Request) -> Result<Response, Error>;
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Arc<T> {
    async fn send(&self, request: Request) -> Result<Response, Error> {
        (**self).send(request).await
    }
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Box<T> {
    async fn send(&self, request: Request) -> Result<Response, Error> {
        (**self).send(request).await
    }
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for &T {
    async fn send(&self, request: Request) -> Result<Response, Error> {
        (**self).send(request).await
    }
}
