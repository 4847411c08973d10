//! CXTN's environments and their base URLs.

use std::fmt;
use std::str::FromStr;

/// A CXTN environment: where API calls go.
///
/// ```
/// use cxtn_model::Environment;
///
/// assert_eq!(Environment::Sandbox.base_url(), "https://caxapi-integration.azurewebsites.net/api/");
/// // Joining never doubles the slash, whatever the base URL ends with.
/// let local = Environment::custom("http://127.0.0.1:4010/api");
/// assert_eq!(local.join("/webhooks/endpoints"), "http://127.0.0.1:4010/api/webhooks/endpoints");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Environment {
    /// CXTN's integration sandbox.
    #[default]
    Sandbox,
    /// CXTN's staging environment.
    Staging,
    /// CXTN's production environment: real money.
    Production,
    /// Any other base URL, such as a local simulator (`http://127.0.0.1:4010/api/`).
    Custom(String),
}

impl Environment {
    /// The sandbox base URL, from CXTN's guides.
    pub const SANDBOX_URL: &'static str = "https://caxapi-integration.azurewebsites.net/api/";
    /// The staging base URL, from CXTN's guides.
    pub const STAGING_URL: &'static str = "https://caxapi-staging.caxton.io/api/";
    /// The production base URL, from CXTN's guides.
    pub const PRODUCTION_URL: &'static str = "https://caxtonapi.caxtonfx.com/api/";

    /// An environment at a base URL of your choosing; a trailing slash is added when missing.
    #[must_use]
    pub fn custom(base_url: impl Into<String>) -> Self {
        let mut url = base_url.into();
        if !url.ends_with('/') {
            url.push('/');
        }
        Self::Custom(url)
    }

    /// The base URL, ending with `/`.
    #[must_use]
    pub fn base_url(&self) -> &str {
        match self {
            Self::Sandbox => Self::SANDBOX_URL,
            Self::Staging => Self::STAGING_URL,
            Self::Production => Self::PRODUCTION_URL,
            Self::Custom(url) => url,
        }
    }

    /// The URL of a route relative to the base URL, with exactly one `/` between them.
    #[must_use]
    pub fn join(&self, path: &str) -> String {
        join_url(self.base_url(), path)
    }

    /// The short name: `sandbox`, `staging`, `production` or `custom`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sandbox => "sandbox",
            Self::Staging => "staging",
            Self::Production => "production",
            Self::Custom(_) => "custom",
        }
    }
}

/// Joins a base URL and a relative path with exactly one `/` between them.
#[must_use]
pub fn join_url(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    let path = path.trim_start_matches('/');
    let mut url = String::with_capacity(base.len() + 1 + path.len());
    url.push_str(base);
    url.push('/');
    url.push_str(path);
    url
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Custom(url) => f.debug_tuple("Custom").field(url).finish(),
            other => f.write_str(match other {
                Self::Sandbox => "Sandbox",
                Self::Staging => "Staging",
                _ => "Production",
            }),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.base_url())
    }
}

/// Why a name is not an [`Environment`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an environment; use sandbox, staging or production (or give a base URL)")]
pub struct ParseEnvironmentError(String);

impl FromStr for Environment {
    type Err = ParseEnvironmentError;

    /// Reads `sandbox`, `staging` or `production` in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sandbox" | "integration" => Ok(Self::Sandbox),
            "staging" => Ok(Self::Staging),
            "production" | "prod" => Ok(Self::Production),
            _ => Err(ParseEnvironmentError(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_with_exactly_one_slash() {
        for base in [
            "http://127.0.0.1:1/api",
            "http://127.0.0.1:1/api/",
            "http://127.0.0.1:1/api//",
        ] {
            for path in ["webhooks/enable", "/webhooks/enable", "//webhooks/enable"] {
                assert_eq!(join_url(base, path), "http://127.0.0.1:1/api/webhooks/enable");
            }
        }
        assert_eq!(
            Environment::Production.join("webhooks/endpoints"),
            "https://caxtonapi.caxtonfx.com/api/webhooks/endpoints"
        );
    }

    #[test]
    fn names_parse_and_custom_urls_end_with_a_slash() {
        assert_eq!("Staging".parse::<Environment>().unwrap(), Environment::Staging);
        assert!("moon".parse::<Environment>().is_err());
        assert_eq!(Environment::custom("http://x/api").base_url(), "http://x/api/");
    }
}
