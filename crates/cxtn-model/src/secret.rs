//! Secrets: access tokens, path tokens and passwords.

use std::fmt;

use subtle::ConstantTimeEq;

/// A secret: an access token, a path token or a password.
///
/// `Debug` shows `Secret(<redacted>)` and there is no `Display`, so a secret cannot end up in a log or an error
/// by accident; read it on purpose with [`Secret::expose_secret`].
/// The only comparison is in constant time ([`Secret::ct_eq`]): `==` goes through it too.
///
/// ```
/// use cxtn_model::Secret;
///
/// let token = Secret::new("s3cr3t");
/// assert_eq!(format!("{token:?}"), "Secret(<redacted>)");
/// assert_eq!(token.expose_secret(), "s3cr3t");
/// assert!(token.matches("s3cr3t") && !token.matches("s3cr3"));
/// assert_eq!(token, "s3cr3t");
/// ```
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    #[must_use]
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, to put in a header or a URL. Do not log it.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty or only whitespace.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// Compares with presented bytes in time that depends only on the secret's length:
    /// neither where they differ nor the presented length shows in the timing.
    #[must_use]
    pub fn ct_eq(&self, presented: &[u8]) -> subtle::Choice {
        let expected = self.0.as_bytes();
        let mut equal = subtle::Choice::from(u8::from(presented.len() == expected.len()));
        for (i, byte) in expected.iter().enumerate() {
            equal &= presented.get(i).copied().unwrap_or(!byte).ct_eq(byte);
        }
        equal
    }

    /// Whether presented bytes are the secret, compared in constant time ([`Secret::ct_eq`]).
    #[must_use]
    pub fn matches(&self, presented: impl AsRef<[u8]>) -> bool {
        self.ct_eq(presented.as_ref()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.matches(&other.0)
    }
}

impl Eq for Secret {}

impl PartialEq<str> for Secret {
    fn eq(&self, other: &str) -> bool {
        self.matches(other)
    }
}

impl PartialEq<&str> for Secret {
    fn eq(&self, other: &&str) -> bool {
        self.matches(other)
    }
}

impl From<String> for Secret {
    fn from(secret: String) -> Self {
        Self(secret)
    }
}

impl From<&str> for Secret {
    fn from(secret: &str) -> Self {
        Self(secret.to_owned())
    }
}

impl From<&String> for Secret {
    fn from(secret: &String) -> Self {
        Self(secret.clone())
    }
}

/// HTTP Basic credentials: a user and a password. `Debug` shows the user and hides the password.
///
/// ```
/// use cxtn_model::Credentials;
///
/// let credentials = Credentials::new("cxtn", "s3cr3t");
/// assert_eq!(format!("{credentials:?}"), r#"Credentials { user: "cxtn", password: Secret(<redacted>) }"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user, which is not a secret.
    pub user: String,
    /// The password.
    pub password: Secret,
}

impl Credentials {
    /// A user and a password.
    #[must_use]
    pub fn new(user: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self {
            user: user.into(),
            password: password.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_only_when_every_byte_and_the_length_match() {
        let secret = Secret::new("t0k3n");
        assert!(secret.matches("t0k3n"));
        for other in ["", "t0k3", "t0k3nn", "T0k3n", "t0k3\u{0}"] {
            assert!(!secret.matches(other), "{other:?}");
        }
        assert!(Secret::new("").matches(""));
        assert!(!Secret::new("").matches("x"));
        assert_ne!(secret, Secret::from("other"));
        assert_eq!(secret, Secret::from(String::from("t0k3n")));
    }

    #[test]
    fn debug_never_shows_the_secret_and_blank_is_empty() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert!(Secret::new(" \t").is_empty());
        assert!(!secret.is_empty());
    }
}
