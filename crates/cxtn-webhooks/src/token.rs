//! Access tokens and where they come from.

use std::fmt;

use async_trait::async_trait;

/// A CXTN access token: a [`Secret`](cxtn_model::Secret), redacted in `Debug`, compared only in constant time,
/// and never copied into errors or logs.
///
/// ```
/// use cxtn_webhooks::AccessToken;
///
/// let token = AccessToken::new("eyJhbGciOi...");
/// assert_eq!(format!("{token:?}"), "Secret(<redacted>)");
/// assert_eq!(token.expose_secret(), "eyJhbGciOi...");
/// ```
pub type AccessToken = cxtn_model::Secret;

/// Why a [`TokenSource`] could not produce a token.
pub type TokenError = Box<dyn std::error::Error + Send + Sync>;

/// Anything that can produce an access token, asked before every call.
///
/// CXTN does not publish its token route, so fetching and refreshing tokens is yours to implement:
/// cache the token and renew it before it expires (about 30 days). A static [`AccessToken`] is a source too.
///
/// ```
/// use cxtn_webhooks::{AccessToken, TokenError, TokenSource};
///
/// #[derive(Debug)]
/// struct FromVault;
///
/// #[cxtn_webhooks::async_trait]
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
