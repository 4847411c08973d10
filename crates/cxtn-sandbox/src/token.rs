//! The sandbox's access token.

use std::fmt;

/// The bearer token the sandbox accepts: a secret, redacted in `Debug`.
///
/// ```
/// use cxtn_sandbox::Token;
///
/// let token = Token::new("s3cr3t");
/// assert_eq!(format!("{token:?}"), "Token(<redacted>)");
/// assert_eq!(token.expose_secret(), "s3cr3t");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token.
    #[must_use]
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// A random token: `sbx_` and 32 lowercase hex digits.
    #[must_use]
    pub fn generate() -> Self {
        Self(format!("sbx_{:032x}", fastrand::u128(..)))
    }

    /// The token itself, to put in an `Authorization` header. Do not log it.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether the token is empty or only whitespace.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// Compares with a presented token in time independent of where they differ.
    pub(crate) fn matches(&self, presented: &str) -> bool {
        let expected = self.0.as_bytes();
        let presented = presented.as_bytes();
        let mut diff = expected.len() ^ presented.len();
        for (i, byte) in expected.iter().enumerate() {
            let other = presented.get(i).copied().unwrap_or(!byte);
            diff |= usize::from(byte ^ other);
        }
        diff == 0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl From<&str> for Token {
    fn from(token: &str) -> Self {
        Self::new(token)
    }
}

impl From<String> for Token {
    fn from(token: String) -> Self {
        Self(token)
    }
}
