//! Everything a management call can fail with.

use std::time::Duration;

use cxtn_model::{ApiStatus, ApiStatusCode};
use cxtn_transport::StatusCode;

use crate::Operation;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// CXTN answered with its envelope but refused the operation (a status code other than 100).
    Api,
    /// CXTN refused the access token (HTTP 401 or 403).
    Unauthorized,
    /// An HTTP error status without a CXTN envelope.
    Http,
    /// The response body is not what CXTN sends.
    Decode,
    /// The request could not be sent, or no answer came (connect failure, I/O error).
    Transport,
    /// An attempt or the overall deadline ran out.
    Timeout,
    /// An argument was refused before any request was sent.
    InvalidInput,
    /// The token source could not produce a token.
    Token,
    /// The client was configured wrongly.
    Config,
}

/// A failed management call.
///
/// `kind()` tells the failure apart; the accessors give its context. The access token never appears
/// in the message, in `Debug`, or in the sources; endpoint URLs appear with their path redacted.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error(Box<Inner>);

/// The message is prefixed with the operation that failed, when there is one (`create: ...`).
#[derive(Debug, thiserror::Error)]
#[error("{}{message}", operation_prefix(.operation))]
struct Inner {
    kind: ErrorKind,
    message: String,
    operation: Option<Operation>,
    http_status: Option<StatusCode>,
    api_status: Option<ApiStatus>,
    body_excerpt: Option<String>,
    field: Option<&'static str>,
    attempts: Option<u32>,
    elapsed: Option<Duration>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

fn operation_prefix(operation: &Option<Operation>) -> String {
    operation.map_or_else(String::new, |operation| format!("{operation}: "))
}

/// How much of an undecodable body an error keeps.
const EXCERPT_BYTES: usize = 300;

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self(Box::new(Inner {
            kind,
            message: message.into(),
            operation: None,
            http_status: None,
            api_status: None,
            body_excerpt: None,
            field: None,
            attempts: None,
            elapsed: None,
            source: None,
        }))
    }

    pub(crate) fn invalid_input(field: &'static str, message: impl Into<String>) -> Self {
        let mut e = Self::new(ErrorKind::InvalidInput, message);
        e.0.field = Some(field);
        e
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub(crate) fn for_operation(mut self, operation: Operation) -> Self {
        self.0.operation = Some(operation);
        self
    }

    pub(crate) fn with_http_status(mut self, status: StatusCode) -> Self {
        self.0.http_status = Some(status);
        self
    }

    pub(crate) fn with_api_status(mut self, status: ApiStatus) -> Self {
        self.0.api_status = Some(status);
        self
    }

    pub(crate) fn with_body(mut self, body: &[u8]) -> Self {
        let end = body.len().min(EXCERPT_BYTES);
        let excerpt = String::from_utf8_lossy(body.get(..end).unwrap_or_default()).into_owned();
        self.0.body_excerpt = Some(excerpt);
        self
    }

    pub(crate) fn with_source(mut self, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        self.0.source = Some(source.into());
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32, elapsed: Duration) -> Self {
        self.0.attempts = Some(attempts);
        self.0.elapsed = Some(elapsed);
        self
    }

    /// What kind of failure it is.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The operation that failed.
    #[must_use]
    pub fn operation(&self) -> Option<Operation> {
        self.0.operation
    }

    /// The HTTP status of the response, when one came.
    #[must_use]
    pub fn http_status(&self) -> Option<StatusCode> {
        self.0.http_status
    }

    /// The `ApiStatusCode` of CXTN's envelope, when it had one.
    #[must_use]
    pub fn api_status_code(&self) -> Option<ApiStatusCode> {
        self.0.api_status.as_ref().and_then(|s| s.code)
    }

    /// The `ApiStatus` name of CXTN's envelope (`IsValid` on success), when it had one.
    #[must_use]
    pub fn api_status(&self) -> Option<&str> {
        self.0.api_status.as_ref().and_then(|s| s.status.as_deref())
    }

    /// Whether CXTN refused the call because webhooks are not enabled on the account (`ApiStatus`
    /// `WebhooksNotEnabled`, in any case): call [`Client::enable`](crate::Client::enable) once, as
    /// [`Client::ensure`](crate::Client::ensure) and [`Plan::apply`](crate::Plan::apply) do.
    ///
    /// CXTN publishes no error codes; this is the name the local simulator answers with (code 1001).
    #[must_use]
    pub fn is_webhooks_not_enabled(&self) -> bool {
        self.kind() == ErrorKind::Api
            && self
                .api_status()
                .is_some_and(|status| status.trim().eq_ignore_ascii_case("WebhooksNotEnabled"))
    }

    /// The `ApiStatusDescription` of CXTN's envelope, when it had one.
    #[must_use]
    pub fn api_description(&self) -> Option<&str> {
        self.0.api_status.as_ref().and_then(|s| s.description.as_deref())
    }

    /// The first bytes of a body that could not be decoded (up to 300, lossily as UTF-8).
    #[must_use]
    pub fn body_excerpt(&self) -> Option<&str> {
        self.0.body_excerpt.as_deref()
    }

    /// The argument at fault, for [`ErrorKind::InvalidInput`] (`endpoint_url`, `event_type`, `status`).
    #[must_use]
    pub fn field(&self) -> Option<&'static str> {
        self.0.field
    }

    /// How many attempts were made, when the request was sent.
    #[must_use]
    pub fn attempts(&self) -> Option<u32> {
        self.0.attempts
    }

    /// How long the call took, when the request was sent.
    #[must_use]
    pub fn elapsed(&self) -> Option<Duration> {
        self.0.elapsed
    }

    /// Whether the call ran out of time.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        self.0.kind == ErrorKind::Timeout
    }
}
