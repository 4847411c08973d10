//! The error of an outlet, and its kinds.

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The outlet is configured wrongly: an unknown scheme, a missing or bad parameter, a feature that is off.
    /// Retrying does not help; fix the URL.
    Config,
    /// The broker could not be reached, refused the credentials, or did not answer in time.
    Unavailable,
    /// The broker refused this message (for example no queue was bound for its routing key, or the stream is
    /// full); the event is retried and, on its last attempt, dead-lettered.
    Refused,
}

impl ErrorKind {
    /// A short lowercase name: `config`, `unavailable` or `refused`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Unavailable => "unavailable",
            Self::Refused => "refused",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an outlet could not start or publish. Messages never hold credentials.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// An error of a kind with a message saying what happened and what to do.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Keeps the broker client's error, reachable through `source()`. Make sure it holds no credentials.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// What kind of failure this is.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}
