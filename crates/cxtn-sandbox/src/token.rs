//! The sandbox's access token.

/// The bearer token the sandbox accepts: a [`Secret`](cxtn_model::Secret), redacted in `Debug` and compared
/// only in constant time.
///
/// ```
/// use cxtn_sandbox::Token;
///
/// let token = Token::new("s3cr3t");
/// assert_eq!(format!("{token:?}"), "Secret(<redacted>)");
/// assert_eq!(token.expose_secret(), "s3cr3t");
/// ```
pub type Token = cxtn_model::Secret;

/// A random token: `sbx_` and 32 lowercase hex digits.
pub(crate) fn generate() -> Token {
    Token::new(format!("sbx_{:032x}", fastrand::u128(..)))
}
