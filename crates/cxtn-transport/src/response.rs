//! An HTTP response, as a transport returns it.

use std::fmt;

use bytes::Bytes;
use http::StatusCode;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::request::RedactedHeaders;

/// An HTTP response with its whole body in memory.
///
/// Any status is a response, `4xx` and `5xx` included: deciding what a status means is the caller's job.
/// The constructors build canned responses for tests and for implementations of [`Transport`](crate::Transport).
/// Its `Debug` output hides the values of `set-cookie` and other credential headers and shows only the length of the body.
///
/// ```
/// use cxtn_transport::{HeaderValue, Response, StatusCode};
/// use cxtn_transport::HeaderName;
///
/// let response = Response::new(StatusCode::TOO_MANY_REQUESTS)
///     .header(HeaderName::from_static("retry-after"), HeaderValue::from_static("1"))
///     .json(r#"{"error":"slow down"}"#);
/// assert_eq!(response.status, StatusCode::TOO_MANY_REQUESTS);
/// assert_eq!(response.headers["content-type"], "application/json");
/// assert_eq!(response.text(), Some(r#"{"error":"slow down"}"#));
/// assert!(!response.is_success());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Response {
    /// The status code.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, byte for byte as received.
    pub body: Bytes,
}

impl Response {
    /// A response with a status, no headers and an empty body.
    #[must_use]
    pub fn new(status: StatusCode) -> Self {
        Self::from_parts(status, HeaderMap::new(), Bytes::new())
    }

    /// A response from all its parts.
    #[must_use]
    pub fn from_parts(status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        Self { status, headers, body }
    }

    /// Adds a header value, keeping earlier values of the same header.
    #[must_use]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body to JSON text, kept exactly as given, and `content-type: application/json`.
    #[must_use]
    pub fn json(mut self, body: impl Into<Bytes>) -> Self {
        self.headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.body = body.into();
        self
    }

    /// Whether the status is `2xx`.
    #[must_use]
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The body as text, when it is UTF-8.
    #[must_use]
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}
