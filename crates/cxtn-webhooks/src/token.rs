//! Access tokens and where they come from.

use std::fmt;

use async_trait::async_trait;

/// A CXTN access token: a secret, redacted in `Debug` and never copied into errors or logs.
///
/// ```
/// use cxtn::webhooks::AccessToken;
///
/// let token = AccessToken::new("eyJhbGciOi...");
/// assert_eq!(format!("{token:?}"), "AccessToken(<redacted>)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps a token.
    #[must_use]
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself, to put in the `Authorization` header. Do not log it.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether the token is empty (or only whitespace).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

impl From<String> for AccessToken {
    fn from(token: String) -> Self {
        Self(token)
    }
}

impl From<&str> for AccessToken {
    fn from(token: &str) -> Self {
        Self(token.to_owned())
    }
}

/// Why a [`TokenSource`] could not produce a token.
pub type TokenError = Box<dyn std::error::Error + Send + Sync>;

/// Anything that can produce an access token, asked before every call.
///
/// CXTN does not publish its token route, so fetching and refreshing tokens is yours to implement:
/// cache the token and renew it before it expires (about 30 days). A static [`AccessToken`] is a source too.
///
/// ```
/// use cxtn::webhooks::{AccessToken, TokenError, TokenSource};
///
/// #[derive(Debug)]
/// struct FromVault;
///
/// #[cxtn::webhooks::async_trait]
/// impl TokenSource for FromVault {
///     async fn token(&self) -> Result<AccessToken, TokenError> {
///         Ok(AccessToken::new(std::env::var("CXTN_ACCESS_TOKEN")?))
///     }
/// }
/// ```
#[async_trait]
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// The token to send now.
    async fn token(&self) -> Result<AccessToken, TokenError>;
}

#[async_trait]
impl TokenSource for AccessToken {
    async fn token(&self) -> Result<AccessToken, TokenError> {
        Ok(self.clone())
    }
}
