//! Everything the sandbox's Rust API can fail with.

use std::fmt;

use crate::ApiCode;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The sandbox could not listen on the address it was given.
    Bind,
    /// The builder was given something it cannot use (an empty token, no delivery transport, ...).
    Config,
    /// A trigger cannot be sent as built: an empty event name, a field value that is not JSON, ...
    InvalidTrigger,
    /// A wait ran out before what it waited for happened.
    Timeout,
    /// The server stopped unexpectedly.
    Server,
    /// A management call made in-process was refused, as the route would refuse it ([`Error::api_code`]).
    Refused,
}

impl ErrorKind {
    /// A short lowercase name: `bind`, `config`, `invalid trigger`, `timeout`, `server` or `refused`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bind => "bind",
            Self::Config => "config",
            Self::InvalidTrigger => "invalid trigger",
            Self::Timeout => "timeout",
            Self::Server => "server",
            Self::Refused => "refused",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure of the sandbox's Rust API.
///
/// [`kind`](Self::kind) tells failures apart; [`field`](Self::field) names the trigger field at fault.
/// Messages never hold the access token or a whole endpoint URL.
///
/// ```
/// use cxtn_sandbox::{ErrorKind, Trigger};
///
/// let error = Trigger::new("account_credit").set_json("amount", "1000.00.0").to_body().unwrap_err();
/// assert_eq!(error.kind(), ErrorKind::InvalidTrigger);
/// assert_eq!(error.field(), Some("amount"));
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    field: Option<String>,
    code: Option<ApiCode>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            field: None,
            code: None,
            source: None,
        }
    }

    pub(crate) fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub(crate) fn with_code(mut self, code: ApiCode) -> Self {
        self.code = Some(code);
        self
    }

    pub(crate) fn with_source(mut self, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// What kind of failure it is.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The field at fault, for [`ErrorKind::InvalidTrigger`] (`event`, `data`, or the name of a data field).
    #[must_use]
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The code the management route answers with, for [`ErrorKind::Refused`].
    #[must_use]
    pub fn api_code(&self) -> Option<ApiCode> {
        self.code
    }

    /// The message, as `Display` shows it.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}
