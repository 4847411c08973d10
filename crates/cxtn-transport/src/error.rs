//! The error of a transport, and its kinds.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// A boxed error from a backend, kept as the [`source`](StdError::source) of an [`Error`].
pub(crate) type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What kind of failure an [`Error`] is.
///
/// The kind tells whether the request could have reached the server, which decides whether it is safe to retry.
///
/// ```
/// use cxtn_transport::{Error, ErrorKind};
///
/// let error = Error::new(ErrorKind::Connect, "could not connect to 127.0.0.1:1");
/// assert_eq!(error.kind(), ErrorKind::Connect);
/// assert!(error.kind().is_before_send());
/// assert!(!ErrorKind::Io.is_before_send());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request provably never reached the server: the connection was refused, the host name did not resolve,
    /// the TLS handshake failed or connecting timed out.
    /// Retrying is safe for every request, idempotent or not.
    Connect,
    /// An attempt, or the overall deadline of the request, ran out before a response arrived.
    /// The request may have reached the server.
    Timeout,
    /// The connection failed after the request may have been sent, for example while reading the response.
    Io,
    /// The request cannot be sent as built: the URL or a header is not valid.
    /// It never left the process; retrying the same request fails the same way.
    InvalidRequest,
    /// The response body was larger than the backend reads (its `max_response_bytes`): the server answered,
    /// with the status [`Error::status`] gives, and the rest of the body was not read. Not retried.
    TooLarge,
    /// Anything else, such as a backend that could not be set up or a mock with nothing scripted.
    Other,
}

impl ErrorKind {
    /// Whether a failure of this kind happened before any byte of the request could reach the server
    /// ([`Connect`](Self::Connect) and [`InvalidRequest`](Self::InvalidRequest)).
    #[must_use]
    pub fn is_before_send(self) -> bool {
        matches!(self, Self::Connect | Self::InvalidRequest)
    }

    /// A short lowercase name: `connect`, `timeout`, `io`, `invalid request`, `too large` or `other`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Io => "io",
            Self::InvalidRequest => "invalid request",
            Self::TooLarge => "too large",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a request got no response.
///
/// [`kind`](Self::kind) says what happened; [`attempts`](Self::attempts) and [`elapsed`](Self::elapsed)
/// say how hard the transport tried. The error of the HTTP backend, when there is one, is the
/// [`source`](StdError::source) of this error; no backend type appears in this type's API.
///
/// Messages never hold header values, the query string or the body of the request.
///
/// ```
/// use std::error::Error as _;
///
/// use cxtn_transport::{Error, ErrorKind};
///
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
/// let error = Error::new(ErrorKind::Io, "the connection to api.example.com:443 broke").with_source(io);
/// assert_eq!(error.kind(), ErrorKind::Io);
/// assert_eq!(error.attempts(), 1);
/// assert_eq!(error.to_string(), "the connection to api.example.com:443 broke");
/// assert!(error.source().is_some());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{message}{}", Attempts(*.attempts, *.elapsed))]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: Option<http::StatusCode>,
    attempts: u32,
    elapsed: Duration,
    #[source]
    source: Option<BoxError>,
}

/// ` (after N attempts over T)` when more than one attempt was made, else nothing.
struct Attempts(u32, Duration);

impl fmt::Display for Attempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self(attempts, elapsed) if *attempts > 1 => write!(f, " (after {attempts} attempts over {elapsed:.1?})"),
            _ => Ok(()),
        }
    }
}

impl Error {
    /// An error of a kind, with a message saying what happened and, when there is something to do, what to do.
    ///
    /// Write the message lowercase, without a trailing period, and keep secrets out of it.
    /// The error counts one attempt and no elapsed time until a retry layer fills them in.
    #[must_use]
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
            attempts: 1,
            elapsed: Duration::ZERO,
            source: None,
        }
    }

    /// Keeps the underlying error, reachable through [`source`](StdError::source).
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// What kind of failure this is.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The status of the response, when one came before the failure: with [`ErrorKind::TooLarge`], the status
    /// of the response whose body was too large.
    #[must_use]
    pub fn status(&self) -> Option<http::StatusCode> {
        self.status
    }

    /// How many attempts were made, counting the one that failed last.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// How long the request ran, over all its attempts and the waits between them.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// Whether the request provably never reached the server ([`ErrorKind::Connect`]).
    #[must_use]
    pub fn is_connect(&self) -> bool {
        self.kind == ErrorKind::Connect
    }

    /// Whether an attempt or the overall deadline ran out ([`ErrorKind::Timeout`]).
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// The message, without the attempt count.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    pub(crate) fn with_elapsed(mut self, elapsed: Duration) -> Self {
        self.elapsed = elapsed;
        self
    }
}

/// The wording both HTTP backends use for their failures, for the server at `target` (`host:port`).
#[cfg(any(feature = "reqwest", feature = "hyper"))]
impl Error {
    /// A [`Connect`](ErrorKind::Connect) error, worded after the cause found in the chain of `source`;
    /// `timed_out` when the backend knows the connect timeout ran out.
    pub(crate) fn connect(target: &str, source: impl Into<BoxError>, timed_out: bool) -> Self {
        let source = source.into();
        let has_io = |kind: std::io::ErrorKind| {
            chain(source.as_ref())
                .filter_map(|error| error.downcast_ref::<std::io::Error>())
                .any(|io| io.kind() == kind)
        };
        let message = if has_io(std::io::ErrorKind::ConnectionRefused) {
            format!("connection refused by {target}; check that the server at {target} is running")
        } else if timed_out || has_io(std::io::ErrorKind::TimedOut) {
            format!(
                "timed out connecting to {target}; check that the server at {target} is running and reachable, \
                 or raise the connect timeout"
            )
        } else if chain(source.as_ref()).any(|error| error.is::<crate::dns::ResolveError>()) {
            format!("could not resolve the host of {target}; check the host name in the URL")
        } else if has_io(std::io::ErrorKind::InvalidData) {
            format!(
                "the TLS handshake with {target} failed; check that the server at {target} serves https \
                 with a certificate from a public authority"
            )
        } else {
            format!(
                "could not connect to {target} (TCP connect or TLS handshake failed); \
                 check that the server at {target} is running and serves the URL's scheme"
            )
        };
        Self::new(ErrorKind::Connect, message).with_source(source)
    }

    /// A [`Timeout`](ErrorKind::Timeout) error: the backend's own timer ran out waiting for the response.
    pub(crate) fn no_response(target: &str, source: impl Into<BoxError>) -> Self {
        Self::new(
            ErrorKind::Timeout,
            format!("no response from {target} in time; the server may be overloaded"),
        )
        .with_source(source)
    }

    /// An [`Io`](ErrorKind::Io) error: the connection broke after the request may have been sent.
    pub(crate) fn broken_after_send(target: &str, source: impl Into<BoxError>) -> Self {
        Self::new(
            ErrorKind::Io,
            format!("the connection to {target} failed after the request was sent; the server may have processed it"),
        )
        .with_source(source)
    }

    /// An [`Io`](ErrorKind::Io) error: the connection broke while the response body was read.
    pub(crate) fn broken_body(target: &str, source: impl Into<BoxError>) -> Self {
        Self::new(
            ErrorKind::Io,
            format!(
                "the connection to {target} failed while reading the response body; \
                 the server may have processed the request"
            ),
        )
        .with_source(source)
    }

    /// A [`TooLarge`](ErrorKind::TooLarge) error: the server answered `status` with a body over `limit` bytes.
    pub(crate) fn too_large(target: &str, status: http::StatusCode, limit: usize) -> Self {
        let mut error = Self::new(
            ErrorKind::TooLarge,
            format!(
                "the response from {target} (HTTP {}) has a body over {limit} bytes, more than this client reads; \
                 raise max_response_bytes if such bodies are expected",
                status.as_u16()
            ),
        );
        error.status = Some(status);
        error
    }

    /// An [`Other`](ErrorKind::Other) error: the backend could not be set up.
    pub(crate) fn setup(what: &str, source: impl Into<BoxError>) -> Self {
        Self::new(ErrorKind::Other, format!("could not set up {what}")).with_source(source)
    }
}

/// `error` and its causes, outermost first.
#[cfg(any(feature = "reqwest", feature = "hyper"))]
fn chain<'a>(error: &'a (dyn StdError + 'static)) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&current| current.source())
}

#[cfg(all(test, any(feature = "reqwest", feature = "hyper")))]
mod tests;
