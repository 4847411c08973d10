//! POSTing notification bodies: `trigger` to a receiver, `listen --forward-to` to a local app.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cxtn::model::{EndpointUrl, Secret, UrlErrorKind, UrlPolicy};
use cxtn_transport::{Bytes, ErrorKind, HyperTransport, Method, Request, RetryPolicy, Transport, with_retry};

use crate::error::CliError;

/// The `User-Agent` of every POST the command line sends.
const USER_AGENT: &str = concat!("cxtn-cli/", env!("CARGO_PKG_VERSION"));

/// A URL to POST to, with credentials moved out of it into an `Authorization` header.
#[derive(Clone)]
pub(crate) struct Target {
    url: String,
    authorization: Option<Secret>,
    redacted: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("url", &self.redacted)
            .finish_non_exhaustive()
    }
}

impl Target {
    /// Reads an http(s) URL; `flag` names the option it came from, for the error.
    pub(crate) fn parse(text: &str, flag: &str) -> Result<Self, CliError> {
        let hint = "Give an absolute http or https URL, such as http://127.0.0.1:8080/cxtn/TOKEN.";
        let policy = UrlPolicy::new().allow_insecure_http(true);
        let url = EndpointUrl::parse_with(text.trim(), policy).map_err(|e| {
            let message = match e.kind() {
                UrlErrorKind::Invalid(reason) => format!("{flag} `{}` is not a URL ({reason})", e.redacted()),
                _ => format!("{flag} `{}` is not an http or https URL with a host", e.redacted()),
            };
            CliError::usage(message).hint(hint)
        })?;
        let redacted = url.redacted();
        let (url, credentials) = url
            .split_credentials()
            .ok_or_else(|| CliError::usage(format!("{flag} `{redacted}` is not a URL")).hint(hint))?;
        let authorization = credentials.map(|c| {
            let pair = format!("{}:{}", c.user, c.password.expose_secret());
            Secret::new(format!("Basic {}", STANDARD.encode(pair)))
        });
        Ok(Self {
            url,
            authorization,
            redacted,
        })
    }

    /// The URL with its path and credentials hidden, to print.
    pub(crate) fn redacted(&self) -> &str {
        &self.redacted
    }
}

/// The most of an answer's body a POST reads: only its status matters, so a target that streams a large or
/// endless body costs no more than this.
const STATUS_ONLY_BYTES: usize = 8 * 1024;

/// Sends bodies with one attempt each, and reads only the status of the answer: the caller decides what a
/// failure means.
#[derive(Debug, Clone)]
pub(crate) struct Poster {
    transport: Arc<dyn Transport>,
}

impl Poster {
    pub(crate) fn new(timeout: Duration) -> Result<Self, CliError> {
        let backend = HyperTransport::builder()
            .connect_timeout(timeout)
            .max_response_bytes(STATUS_ONLY_BYTES)
            .build()
            .map_err(|e| CliError::failed(format!("cannot set up the HTTP client: {e}")))?;
        let policy = RetryPolicy::builder()
            .max_attempts(1)
            .attempt_timeout(timeout)
            .deadline(timeout)
            .build();
        Ok(Self {
            transport: with_retry(Arc::new(backend), policy),
        })
    }

    /// POSTs `body` as JSON; the answer's status code, or why none came. An answer whose body is longer than
    /// [`STATUS_ONLY_BYTES`] still gives its status.
    pub(crate) async fn post(&self, target: &Target, body: Bytes) -> Result<u16, cxtn_transport::Error> {
        let mut request = Request::new(Method::POST, target.url.clone())
            .header("user-agent", USER_AGENT)
            .json(body);
        if let Some(authorization) = &target.authorization {
            request = request.header("authorization", authorization.expose_secret());
        }
        match self.transport.send(request).await {
            Ok(response) => Ok(response.status.as_u16()),
            Err(error) => match (error.kind(), error.status()) {
                (ErrorKind::TooLarge, Some(status)) => Ok(status.as_u16()),
                _ => Err(error),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_move_into_a_header_and_out_of_what_is_printed() {
        let target = Target::parse("http://cxtn:p%40ss@127.0.0.1:8080/cxtn/secret-token", "--to").unwrap();
        assert_eq!(target.url, "http://127.0.0.1:8080/cxtn/secret-token");
        let expected = base64::engine::general_purpose::STANDARD.encode("cxtn:p@ss");
        assert_eq!(
            target.authorization.as_ref().map(Secret::expose_secret),
            Some(format!("Basic {expected}").as_str())
        );
        assert_eq!(target.redacted(), "http://127.0.0.1:8080/<redacted>");
        assert!(!format!("{target:?}").contains("secret-token"));
    }

    #[test]
    fn only_http_urls_with_a_host_are_taken() {
        for bad in ["127.0.0.1:8080/x", "ftp://host/x", "not a url", "file:///tmp/x"] {
            let error = Target::parse(bad, "--to").unwrap_err();
            assert_eq!(error.kind(), crate::error::Kind::Usage, "{bad}");
        }
        assert!(Target::parse("https://hooks.example.com/x", "--to").is_ok());
    }
}
