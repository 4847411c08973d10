//! Identifiers and codes, as newtypes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Credentials;

/// A string newtype with its conversions; `Debug` shows the value (`@common` leaves `Debug` to the caller).
macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        string_newtype!(@common $(#[$meta])* $name);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
    (@common $(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value as received.
            #[must_use]
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The value as received.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The owned value.
            #[must_use]
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

string_newtype! {
    /// The unique id CXTN gives each notification (`wh_` and 32 hex digits in the guide's samples).
    ///
    /// A redelivered notification carries the same id, so this is the key to deduplicate on.
    EventId
}

impl EventId {
    /// Whether the id has the shape of the guide's samples: `wh_` then 32 lowercase hex digits.
    ///
    /// Ids of another shape are still accepted everywhere; this only tells them apart.
    #[must_use]
    pub fn is_conventional(&self) -> bool {
        self.0
            .strip_prefix("wh_")
            .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    }
}

string_newtype! {
    /// A CXTN user reference, such as `C00081866` or `AP00085025`.
    UserId
}

string_newtype! {
    /// A currency code as CXTN sends it: usually ISO 4217 (`GBP`), but a pot shows `CC-GBP`.
    CurrencyCode
}

impl CurrencyCode {
    /// The prefix CXTN puts before the currency of a pot.
    pub const POT_PREFIX: &'static str = "CC-";

    /// Whether this is a pot's currency code (`CC-GBP`).
    #[must_use]
    pub fn is_pot(&self) -> bool {
        self.0.starts_with(Self::POT_PREFIX)
    }

    /// The ISO-style code: `GBP` for both `GBP` and the pot code `CC-GBP`.
    #[must_use]
    pub fn currency(&self) -> &str {
        self.0.strip_prefix(Self::POT_PREFIX).unwrap_or(&self.0)
    }
}

/// The id of the object a notification is about (a transaction, payment or trade), exact.
///
/// Read as an integer of up to 64 bits, so ids beyond 2^53 (where floats lose digits) are kept.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct ObjectId(u64);

impl<'de> Deserialize<'de> for ObjectId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ObjectId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number from 0 to 18446744073709551615")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ObjectId, E> {
                Ok(ObjectId(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ObjectId, E> {
                u64::try_from(v)
                    .map(ObjectId)
                    .map_err(|_| E::custom(format_args!("an object id cannot be negative, found {v}")))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<ObjectId, E> {
                Err(E::custom(
                    "an object id must be a whole number from 0 to 18446744073709551615, without a fraction or exponent",
                ))
            }
        }
        deserializer.deserialize_u64(Visitor)
    }
}

impl ObjectId {
    /// Wraps an id.
    #[must_use]
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// The id.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.0)
    }
}

impl From<u64> for ObjectId {
    fn from(value: u64) -> Self {
        Self(value)
    }
}

string_newtype! {
    @common
    /// A webhook endpoint URL. It may carry a secret (a path token, or credentials), so its `Debug`
    /// shows only the scheme and host; [`EndpointUrl::as_str`] and `Display` give the whole URL.
    ///
    /// ```
    /// use cxtn_model::EndpointUrl;
    ///
    /// let url = EndpointUrl::new("https://user:pass@hooks.example.com/cxtn/9f1c2e?x=1");
    /// assert_eq!(format!("{url:?}"), "EndpointUrl(\"https://hooks.example.com/<redacted>\")");
    /// assert_eq!(url.as_str(), "https://user:pass@hooks.example.com/cxtn/9f1c2e?x=1");
    /// ```
    EndpointUrl
}

impl EndpointUrl {
    /// The URL with any credentials, path and query replaced by `<redacted>`: safe to log.
    ///
    /// Only what a URL parser reads as the scheme, host and port is shown. A text that does not read as a URL
    /// shows its scheme at most (`https://<redacted>`), since there is no telling where a password or a path
    /// token in it ends.
    #[must_use]
    pub fn redacted(&self) -> String {
        let text = self.0.trim();
        let Ok(parsed) = url::Url::parse(text) else {
            return match text.split_once("://") {
                Some((scheme, _)) if is_scheme(scheme) => format!("{scheme}://<redacted>"),
                _ => "<redacted>".to_owned(),
            };
        };
        let scheme = parsed.scheme();
        let Some(host) = parsed.host_str().filter(|host| !host.is_empty()) else {
            return format!("{scheme}:<redacted>");
        };
        let mut out = format!("{scheme}://{host}");
        if let Some(port) = parsed.port() {
            out.push_str(&format!(":{port}"));
        }
        if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
            out.push_str("/<redacted>");
        } else if text.ends_with('/') {
            out.push('/');
        }
        out
    }
}

/// Whether `text` is a URL scheme: a letter, then letters, digits, `+`, `-` or `.`.
fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

impl fmt::Debug for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EndpointUrl").field(&self.redacted()).finish()
    }
}

impl EndpointUrl {
    /// Reads an endpoint URL, accepting it only under `policy`; the text is kept as given.
    /// This is the one place endpoint URLs are checked.
    ///
    /// ```
    /// use cxtn_model::{EndpointUrl, UrlErrorKind, UrlPolicy};
    ///
    /// let url = EndpointUrl::parse_with("https://hooks.example.com/cxtn/9f1c2e", UrlPolicy::new())?;
    /// assert_eq!(url.as_str(), "https://hooks.example.com/cxtn/9f1c2e");
    /// assert!(EndpointUrl::parse_with("http://127.0.0.1:8080/cxtn", UrlPolicy::new()).is_ok());
    ///
    /// let refused = EndpointUrl::parse_with("http://hooks.example.com/9f1c2e", UrlPolicy::new()).unwrap_err();
    /// assert_eq!(refused.kind(), &UrlErrorKind::PlainHttp);
    /// assert!(!refused.to_string().contains("9f1c2e"), "the path is never repeated");
    /// let private = UrlPolicy::new().allow_insecure_http(true);
    /// assert!(EndpointUrl::parse_with("http://hooks.internal/9f1c2e", private).is_ok());
    /// # Ok::<(), cxtn_model::UrlError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`UrlError`] that says why, with the URL redacted.
    pub fn parse_with(text: &str, policy: UrlPolicy) -> Result<Self, UrlError> {
        check_url(text, policy)?;
        Ok(Self::new(text))
    }

    /// Checks the URL against `policy`, as [`EndpointUrl::parse_with`] does.
    ///
    /// # Errors
    ///
    /// A [`UrlError`] that says why, with the URL redacted.
    pub fn check(&self, policy: UrlPolicy) -> Result<(), UrlError> {
        check_url(&self.0, policy)
    }

    /// Splits the URL for sending a request: the URL without its credentials, written in the normal form of the
    /// WHATWG URL standard, and the credentials it held, percent-decoded. `None` when the text is not a URL.
    ///
    /// ```
    /// use cxtn_model::EndpointUrl;
    ///
    /// let url = EndpointUrl::new("http://cxtn:p%40ss@127.0.0.1:8080/cxtn/9f1c2e");
    /// let (bare, credentials) = url.split_credentials().unwrap();
    /// assert_eq!(bare, "http://127.0.0.1:8080/cxtn/9f1c2e");
    /// let credentials = credentials.unwrap();
    /// assert_eq!((credentials.user.as_str(), credentials.password.expose_secret()), ("cxtn", "p@ss"));
    /// ```
    #[must_use]
    pub fn split_credentials(&self) -> Option<(String, Option<Credentials>)> {
        let mut url = url::Url::parse(&self.0).ok()?;
        if url.username().is_empty() && url.password().is_none() {
            return Some((url.into(), None));
        }
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        let credentials = Credentials::new(decode(url.username()), decode(url.password().unwrap_or_default()));
        // Both only fail on URLs without a host, which carry no credentials.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Some((url.into(), Some(credentials)))
    }
}

/// Which endpoint URLs [`EndpointUrl::parse_with`] accepts: always absolute `https` URLs with a host;
/// plain `http` on a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`), or on any host when allowed.
///
/// The text is read as the WHATWG URL standard reads it (which trims it and escapes what needs escaping),
/// unless [`UrlPolicy::as_sent`] asks for text that an HTTP request carries exactly as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UrlPolicy {
    insecure_http: bool,
    as_sent: bool,
}

impl UrlPolicy {
    /// The default: https anywhere, plain http only on loopback hosts, text read leniently.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            insecure_http: false,
            as_sent: false,
        }
    }

    /// Accepts plain `http` on any host: notifications would cross the network in clear text.
    #[must_use]
    pub const fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.insecure_http = allow;
        self
    }

    /// Accepts only text an HTTP request carries as written: `scheme://` then a host right away,
    /// and no whitespace, control character, `"`, `<`, `>` or `` ` ``, nor a non-ASCII host.
    #[must_use]
    pub const fn as_sent(mut self, strict: bool) -> Self {
        self.as_sent = strict;
        self
    }
}

/// Why a text is not an acceptable endpoint URL. The message shows the URL redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct UrlError {
    kind: UrlErrorKind,
    redacted: String,
    scheme: Option<String>,
}

/// What is wrong with an endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlErrorKind {
    /// It is not an absolute URL; the parser's reason.
    Invalid(String),
    /// It has no host.
    NoHost,
    /// Its scheme is neither `https` nor `http`.
    Scheme,
    /// It uses plain `http` on a host the policy does not allow it on.
    PlainHttp,
    /// It holds characters an HTTP request cannot carry as written ([`UrlPolicy::as_sent`]).
    NotAsSent,
}

impl UrlError {
    /// What is wrong.
    #[must_use]
    pub fn kind(&self) -> &UrlErrorKind {
        &self.kind
    }

    /// The URL with its credentials, path and query hidden ([`EndpointUrl::redacted`]).
    #[must_use]
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// The URL's scheme, when the text was a URL.
    #[must_use]
    pub fn scheme(&self) -> Option<&str> {
        self.scheme.as_deref()
    }

    fn describe(&self) -> String {
        let url = &self.redacted;
        match &self.kind {
            UrlErrorKind::Invalid(reason) => {
                format!("the endpoint URL `{url}` is not a valid URL ({reason}); give an absolute https URL")
            }
            UrlErrorKind::NoHost => format!("the endpoint URL `{url}` has no host; give an absolute https URL"),
            UrlErrorKind::Scheme => format!(
                "the endpoint URL `{url}` uses `{}`; use https",
                self.scheme.as_deref().unwrap_or_default()
            ),
            UrlErrorKind::PlainHttp => format!(
                "the endpoint URL `{url}` uses plain http; CXTN would send money notifications in clear text. Use https, or allow plain http for a private network"
            ),
            UrlErrorKind::NotAsSent => format!(
                "the endpoint URL `{url}` holds characters an HTTP request cannot carry as written; remove spaces and percent-encode the rest"
            ),
        }
    }
}

fn check_url(text: &str, policy: UrlPolicy) -> Result<(), UrlError> {
    let refuse = |kind: UrlErrorKind, scheme: Option<&str>| UrlError {
        kind,
        redacted: EndpointUrl::new(text).redacted(),
        scheme: scheme.map(str::to_owned),
    };
    let parsed = url::Url::parse(text).map_err(|e| refuse(UrlErrorKind::Invalid(e.to_string()), None))?;
    let scheme = Some(parsed.scheme());
    let host = match parsed.host() {
        Some(host) if parsed.host_str().is_some_and(|h| !h.is_empty()) => host,
        _ => return Err(refuse(UrlErrorKind::NoHost, scheme)),
    };
    match parsed.scheme() {
        "https" => {}
        "http" if policy.insecure_http || is_loopback(&host) => {}
        "http" => return Err(refuse(UrlErrorKind::PlainHttp, scheme)),
        _ => return Err(refuse(UrlErrorKind::Scheme, scheme)),
    }
    if policy.as_sent {
        let (written_scheme, rest) = text.split_once("://").unwrap_or_default();
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.is_empty() {
            return Err(refuse(UrlErrorKind::NoHost, scheme));
        }
        let sent_as_is = written_scheme.eq_ignore_ascii_case(parsed.scheme())
            && authority
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@[]%".contains(&b))
            && tail
                .split('#')
                .next()
                .unwrap_or_default()
                .bytes()
                .all(|b| !b.is_ascii_control() && !b" \"<>`".contains(&b));
        if !sent_as_is {
            return Err(refuse(UrlErrorKind::NotAsSent, scheme));
        }
    }
    Ok(())
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(domain) => domain.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str, policy: UrlPolicy) -> Result<(), UrlErrorKind> {
        EndpointUrl::parse_with(text, policy)
            .map(drop)
            .map_err(|e| e.kind().clone())
    }

    #[test]
    fn the_default_policy_takes_https_and_loopback_http() {
        let policy = UrlPolicy::new();
        for ok in [
            "https://hooks.example.com/cxtn/abc",
            "http://127.0.0.1:8080/cxtn",
            "http://localhost/x",
            "http://[::1]:9/x",
            "https://x.example/a b",
        ] {
            assert_eq!(kind(ok, policy), Ok(()), "{ok}");
        }
        assert_eq!(kind("http://hooks.example.com/x", policy), Err(UrlErrorKind::PlainHttp));
        assert_eq!(kind("ftp://hooks.example.com/x", policy), Err(UrlErrorKind::Scheme));
        assert_eq!(kind("mailto:someone@x", policy), Err(UrlErrorKind::NoHost));
        assert!(matches!(
            kind("hooks.example.com/x", policy),
            Err(UrlErrorKind::Invalid(_))
        ));
        assert_eq!(
            kind("http://hooks.internal/x", policy.allow_insecure_http(true)),
            Ok(())
        );
    }

    #[test]
    fn as_sent_refuses_what_a_request_cannot_carry_as_written() {
        let policy = UrlPolicy::new().allow_insecure_http(true).as_sent(true);
        for ok in [
            "http://127.0.0.1:9/x",
            "https://hooks.example/cxtn?k=v",
            "https://u:p%40@h.example/{id}",
        ] {
            assert_eq!(kind(ok, policy), Ok(()), "{ok}");
        }
        assert_eq!(kind("http:///x", policy), Err(UrlErrorKind::NoHost));
        for bad in [
            " https://x.example/a",
            "https://x.example/a b",
            "https://x.example/<a>",
            "https://bücher.example/",
        ] {
            assert_eq!(kind(bad, policy), Err(UrlErrorKind::NotAsSent), "{bad}");
        }
    }

    #[test]
    fn errors_never_repeat_the_path_or_credentials() {
        for text in [
            "http://user:pw-secret@hooks.example.com/path-secret",
            "ftp://hooks.example.com/path-secret",
            "https://hooks.example.com:99999/path-secret",
        ] {
            let e = EndpointUrl::parse_with(text, UrlPolicy::new()).unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("secret"), "{shown}");
        }
        let e = EndpointUrl::parse_with("gopher://h.example/x", UrlPolicy::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the endpoint URL `gopher://h.example/<redacted>` uses `gopher`; use https"
        );
        assert_eq!(
            (e.scheme(), e.redacted()),
            (Some("gopher"), "gopher://h.example/<redacted>")
        );
    }

    #[test]
    fn redaction_shows_no_part_of_a_password_or_path_token() {
        for (text, shown) in [
            (
                "https://hooks.example.com/cxtn/tok-secret",
                "https://hooks.example.com/<redacted>",
            ),
            (
                "https://hooks.example.com:8443/cxtn/tok-secret?x=1",
                "https://hooks.example.com:8443/<redacted>",
            ),
            ("https://hooks.example.com", "https://hooks.example.com"),
            ("https://hooks.example.com/", "https://hooks.example.com/"),
            (
                "https://hooks.example.com/?q-secret",
                "https://hooks.example.com/<redacted>",
            ),
            (
                "https://hooks.example.com/#frag-secret",
                "https://hooks.example.com/<redacted>",
            ),
            // A backslash is a slash to a URL parser (and to CXTN's), so it ends the host.
            (
                "https://hooks.example.com\\cxtn\\tok-secret",
                "https://hooks.example.com/<redacted>",
            ),
            (
                "https://cxtn:pw-secret@hooks.example.com/x",
                "https://hooks.example.com/<redacted>",
            ),
            // A password holding an unencoded `/` does not read as a URL: nothing but the scheme is shown.
            ("https://cxtn:Xy3q/pw-secret@hooks.example.com/x", "https://<redacted>"),
            ("https://cxtn:Xy3q\\pw-secret@hooks.example.com/x", "https://<redacted>"),
            ("hooks.example.com/tok-secret", "<redacted>"),
            ("mailto:tok-secret@example.com", "mailto:<redacted>"),
            (
                "  https://hooks.example.com/tok-secret  ",
                "https://hooks.example.com/<redacted>",
            ),
            ("", "<redacted>"),
        ] {
            let url = EndpointUrl::new(text);
            assert_eq!(url.redacted(), shown, "{text}");
            let debug = format!("{url:?}");
            assert!(!debug.contains("secret") && !debug.contains("Xy3q"), "{debug}");
        }
    }

    #[test]
    fn credentials_split_off_decoded() {
        let url = EndpointUrl::new("https://hooks.example.com");
        assert_eq!(
            url.split_credentials(),
            Some(("https://hooks.example.com/".to_owned(), None))
        );
        let url = EndpointUrl::new("http://a%20b:%ZZ%41@127.0.0.1/x");
        let (bare, credentials) = url.split_credentials().unwrap();
        assert_eq!(bare, "http://127.0.0.1/x");
        assert_eq!(credentials, Some(Credentials::new("a b", "%ZZA")));
        assert_eq!(EndpointUrl::new("not a url").split_credentials(), None);
    }
}
