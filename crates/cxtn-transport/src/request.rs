//! An HTTP request, as a transport sends it.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::InvalidUri;
use http::{Method, Uri};

use crate::error::{Error, ErrorKind};

/// Whether a header's values are credentials, never shown in `Debug` output.
fn is_credential(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie" | "x-api-key"
    )
}

/// Whether the value of a header is a credential that must not be shown.
pub(crate) fn is_sensitive(name: &HeaderName, value: &HeaderValue) -> bool {
    value.is_sensitive() || is_credential(name)
}

/// Shows a header map with credentials replaced by `<redacted>`.
pub(crate) struct RedactedHeaders<'a>(pub(crate) &'a HeaderMap);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in self.0 {
            if is_sensitive(name, value) {
                map.entry(&name.as_str(), &format_args!("<redacted>"));
            } else {
                map.entry(&name.as_str(), value);
            }
        }
        map.finish()
    }
}

/// An HTTP request: method, absolute URL, headers and a body held in memory.
///
/// Build one with [`Request::new`] and the chained setters; the fields stay public for transports to read,
/// and the URL, parsed once by [`Request::new`], is read through [`Request::uri`].
/// Its `Debug` output shows the URL without query or credentials, hides the values of `authorization`,
/// `proxy-authorization`, `cookie`, `set-cookie`, `x-api-key` and any header marked sensitive,
/// and shows only the length of the body.
///
/// ```
/// use cxtn_transport::{Method, Request};
///
/// let request = Request::new(Method::POST, "https://api.example.com/v1/webhooks?page=1")
///     .header("authorization", "Bearer secret-token")
///     .json(r#"{"url":"https://example.com/hook"}"#);
/// assert!(!request.is_idempotent());
/// assert!(request.validate().is_ok());
///
/// let shown = format!("{request:?}");
/// assert!(!shown.contains("secret-token"));
/// assert!(!shown.contains("page=1"));
/// assert!(shown.contains("<redacted>"));
/// ```
#[derive(Clone)]
pub struct Request {
    /// The HTTP method.
    pub method: Method,
    uri: Uri,
    /// The request headers.
    pub headers: HeaderMap,
    /// The body, sent byte for byte; empty for none.
    pub body: Bytes,
    idempotent: Option<bool>,
    problem: Option<Problem>,
}

/// Why a request cannot be sent, remembered until [`Request::validate`] reports it.
#[derive(Debug, Clone)]
struct Problem {
    message: String,
    source: Option<Arc<InvalidUri>>,
}

impl Problem {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }
}

impl Request {
    /// A request to `url` (an absolute `http` or `https` URL, with its query string), with no headers and an
    /// empty body.
    ///
    /// The URL is parsed here, once. One that is not valid does not panic: the request remembers the problem,
    /// and sending it fails with [`ErrorKind::InvalidRequest`] (see [`Request::validate`]).
    #[must_use]
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        let (uri, problem) = parse_url(url.into());
        Self {
            method,
            uri,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            idempotent: None,
            problem,
        }
    }

    /// Sets a header, replacing any value it had; use [`Request::headers`] directly to append a second value.
    ///
    /// A name or value that is not valid HTTP does not panic: the request remembers the problem,
    /// and sending it fails with [`ErrorKind::InvalidRequest`] (see [`Request::validate`]).
    /// Values of credential headers (`authorization`, `cookie`, ...) are marked sensitive.
    #[must_use]
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        HeaderValue: TryFrom<V>,
    {
        let Ok(name) = HeaderName::try_from(name) else {
            self.note_problem(Problem::new(
                "a header name of the request is not a valid HTTP header name; use letters, digits and `-`",
            ));
            return self;
        };
        let Ok(mut value) = HeaderValue::try_from(value) else {
            self.note_problem(Problem::new(format!(
                "the value of header `{name}` is not a valid HTTP header value; \
                 check it for line breaks or other control characters"
            )));
            return self;
        };
        if is_credential(&name) {
            value.set_sensitive(true);
        }
        self.headers.insert(name, value);
        self
    }

    /// Sets the body, sent byte for byte.
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body to JSON text, sent exactly as given, and `content-type: application/json`.
    #[must_use]
    pub fn json(mut self, body: impl Into<Bytes>) -> Self {
        self.headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.body = body.into();
        self
    }

    /// Says whether the request may be sent twice with the same effect as once, overriding what its method implies.
    ///
    /// Mark a `POST` idempotent when the server deduplicates it (for example by an idempotency key):
    /// it is then retried after timeouts, broken connections and `5xx` like a `PUT`.
    #[must_use]
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }

    /// Whether the request may be sent twice with the same effect as once.
    ///
    /// Unless set by [`Request::idempotent`]: `GET`, `HEAD`, `PUT`, `DELETE`, `OPTIONS` and `TRACE` are;
    /// `POST`, `PATCH` and every other method are not.
    #[must_use]
    pub fn is_idempotent(&self) -> bool {
        let by_method = matches!(
            self.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
        );
        self.idempotent.unwrap_or(by_method)
    }

    /// The path of the URL, without query string or fragment; `/` when the URL has none.
    ///
    /// This is what traces and error messages show of the URL.
    ///
    /// ```
    /// use cxtn_transport::{Method, Request};
    ///
    /// let request = Request::new(Method::GET, "https://api.example.com/v1/things?token=abc");
    /// assert_eq!(request.path(), "/v1/things");
    /// ```
    #[must_use]
    pub fn path(&self) -> &str {
        match self.uri.path() {
            "" => "/",
            path => path,
        }
    }

    /// The URL, as parsed by [`Request::new`]; `/` when it was not a valid URL.
    ///
    /// ```
    /// use cxtn_transport::{Method, Request};
    ///
    /// let request = Request::new(Method::GET, "https://api.example.com/v1/things?page=2");
    /// assert_eq!(request.uri().host(), Some("api.example.com"));
    /// assert_eq!(request.uri().query(), Some("page=2"));
    /// ```
    #[must_use]
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// Checks that the request can be sent: every header set through [`Request::header`] was valid,
    /// and the URL is an absolute `http` or `https` URL.
    ///
    /// Transports call this before sending; an implementation of [`Transport`](crate::Transport) should too.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidRequest`], naming the offending header (never its value) or the problem with the URL.
    pub fn validate(&self) -> Result<(), Error> {
        let Some(problem) = &self.problem else {
            return Ok(());
        };
        let error = Error::new(ErrorKind::InvalidRequest, problem.message.clone());
        Err(match &problem.source {
            Some(source) => error.with_source(Arc::clone(source)),
            None => error,
        })
    }

    /// `host:port` of the URL, with the default port of the scheme when the URL names none, for messages;
    /// `the server` when the URL has no host.
    pub(crate) fn target(&self) -> String {
        let Some(host) = self.uri.host().filter(|host| !host.is_empty()) else {
            return "the server".to_owned();
        };
        let default_port = match self.uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("http") => Some(80),
            Some("https") => Some(443),
            _ => None,
        };
        match self.uri.port_u16().or(default_port) {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    }

    /// The URL without credentials, query or fragment, with `<redacted>` where they were.
    fn redacted_url(&self) -> String {
        let mut shown = String::new();
        if let Some(scheme) = self.uri.scheme_str() {
            shown.push_str(scheme);
            shown.push_str("://");
        }
        if let Some(authority) = self.uri.authority() {
            let host = match authority.as_str().rsplit_once('@') {
                Some((_, host)) => {
                    shown.push_str("<redacted>@");
                    host
                }
                None => authority.as_str(),
            };
            shown.push_str(host);
        }
        shown.push_str(self.path());
        if self.uri.query().is_some() {
            shown.push_str("?<redacted>");
        }
        shown
    }

    /// The request as an [`http::Request`], for a backend to send.
    #[cfg(any(feature = "reqwest", feature = "hyper"))]
    pub(crate) fn into_http(self) -> http::Request<Bytes> {
        let mut request = http::Request::new(self.body);
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri;
        *request.headers_mut() = self.headers;
        request
    }

    fn note_problem(&mut self, problem: Problem) {
        if self.problem.is_none() {
            self.problem = Some(problem);
        }
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &self.redacted_url())
            .field("headers", &RedactedHeaders(&self.headers))
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("idempotent", &self.is_idempotent())
            .finish()
    }
}

/// Parses a request URL, and checks that it is absolute with an `http` or `https` scheme and a host.
///
/// Text that is no URL at all gives `/`; a URL that fails the checks is kept, for `Debug` and messages.
fn parse_url(url: String) -> (Uri, Option<Problem>) {
    let uri = match Uri::try_from(url) {
        Ok(uri) => uri,
        Err(source) => {
            let problem = Problem {
                message: "the request URL is not a valid URL; check the base URL and that path segments are \
                          percent-encoded"
                    .to_owned(),
                source: Some(Arc::new(source)),
            };
            return (Uri::default(), Some(problem));
        }
    };
    let problem = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
        Some("http" | "https") if uri.host().is_some_and(|host| !host.is_empty()) => None,
        Some("http" | "https") => Some(Problem::new(
            "the request URL has no host; use an absolute URL such as `https://api.example.com/...`",
        )),
        _ => Some(Problem::new(
            "the request URL is not an absolute http or https URL; use one such as `https://api.example.com/...`",
        )),
    };
    (uri, problem)
}

#[cfg(test)]
mod tests;
