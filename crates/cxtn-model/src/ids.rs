//! Identifiers and codes, as newtypes.

use std::fmt;

use serde::{Deserialize, Serialize};

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
    /// use cxtn::model::EndpointUrl;
    ///
    /// let url = EndpointUrl::new("https://user:pass@hooks.example.com/cxtn/9f1c2e?x=1");
    /// assert_eq!(format!("{url:?}"), "EndpointUrl(\"https://hooks.example.com/<redacted>\")");
    /// assert_eq!(url.as_str(), "https://user:pass@hooks.example.com/cxtn/9f1c2e?x=1");
    /// ```
    EndpointUrl
}

impl EndpointUrl {
    /// The URL with any credentials, path and query replaced by `<redacted>`: safe to log.
    #[must_use]
    pub fn redacted(&self) -> String {
        let (scheme, rest) = match self.0.split_once("://") {
            Some((scheme, rest)) => (Some(scheme), rest),
            None => (None, self.0.as_str()),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let mut out = String::new();
        if let Some(scheme) = scheme {
            out.push_str(scheme);
            out.push_str("://");
        }
        out.push_str(host);
        if !tail.is_empty() && tail != "/" {
            out.push_str("/<redacted>");
        } else {
            out.push_str(tail);
        }
        out
    }
}

impl fmt::Debug for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EndpointUrl").field(&self.redacted()).finish()
    }
}
