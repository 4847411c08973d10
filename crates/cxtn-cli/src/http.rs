//! POSTing notification bodies: `trigger` to a receiver, `listen --forward-to` to a local app.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use cxtn::model::EndpointUrl;
use cxtn_transport::{Bytes, HyperTransport, Method, Request, RetryPolicy, Transport, with_retry};

use crate::error::CliError;

/// The `User-Agent` of every POST the command line sends.
const USER_AGENT: &str = concat!("cxtn-cli/", env!("CARGO_PKG_VERSION"));

/// A URL to POST to, with credentials moved out of it into an `Authorization` header.
#[derive(Clone)]
pub(crate) struct Target {
    url: String,
    authorization: Option<String>,
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
        let redacted = EndpointUrl::new(text).redacted();
        let mut url = url::Url::parse(text.trim()).map_err(|e| {
            CliError::usage(format!("{flag} `{redacted}` is not a URL ({e})"))
                .hint("Give an absolute http or https URL, such as http://127.0.0.1:8080/cxtn/TOKEN.")
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(
                CliError::usage(format!("{flag} `{redacted}` is not an http or https URL with a host"))
                    .hint("Give an absolute http or https URL, such as http://127.0.0.1:8080/cxtn/TOKEN."),
            );
        }
        let authorization = if url.username().is_empty() && url.password().is_none() {
            None
        } else {
            let user = percent_decode(url.username());
            let password = url.password().map(percent_decode).unwrap_or_default();
            let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            let _ = url.set_username("");
            let _ = url.set_password(None);
            Some(format!("Basic {credentials}"))
        };
        Ok(Self {
            url: url.into(),
            authorization,
            redacted,
        })
    }

    /// The URL with its path and credentials hidden, to print.
    pub(crate) fn redacted(&self) -> &str {
        &self.redacted
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends bodies with one attempt each: the caller decides what a failure means.
#[derive(Debug, Clone)]
pub(crate) struct Poster {
    transport: Arc<dyn Transport>,
}

impl Poster {
    pub(crate) fn new(timeout: Duration) -> Result<Self, CliError> {
        let backend = HyperTransport::builder()
            .connect_timeout(timeout)
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

    /// POSTs `body` as JSON; the answer's status code, or why none came.
    pub(crate) async fn post(&self, target: &Target, body: Bytes) -> Result<u16, cxtn_transport::Error> {
        let mut request = Request::new(Method::POST, target.url.clone())
            .header("user-agent", USER_AGENT)
            .json(body);
        if let Some(authorization) = &target.authorization {
            request = request.header("authorization", authorization.as_str());
        }
        let response = self.transport.send(request).await?;
        Ok(response.status.as_u16())
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
            target.authorization.as_deref(),
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
