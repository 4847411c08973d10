//! Why a notification did not parse, and where.

use std::fmt;

/// What kind of problem stopped a notification from parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The body is not valid UTF-8.
    InvalidUtf8,
    /// The body is not JSON.
    Syntax,
    /// The body is JSON but not an object.
    NotAnObject,
    /// Bytes follow the notification object.
    TrailingCharacters,
    /// JSON nests deeper than the parser follows.
    TooDeep,
    /// A required field is absent (`eventId`, `event`, or a field of a known event's `data`).
    MissingField,
    /// A field has the wrong type or form.
    InvalidField,
    /// A key appears twice in the same object.
    DuplicateField,
    /// `data` is a string, but the string does not hold JSON.
    DataNotJson,
    /// A known event's `data` is not an object (nor a string holding one).
    DataNotAnObject,
}

impl ErrorKind {
    /// A short, stable name for logs and metrics (`missing_field`, `syntax`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidUtf8 => "invalid_utf8",
            Self::Syntax => "syntax",
            Self::NotAnObject => "not_an_object",
            Self::TrailingCharacters => "trailing_characters",
            Self::TooDeep => "too_deep",
            Self::MissingField => "missing_field",
            Self::InvalidField => "invalid_field",
            Self::DuplicateField => "duplicate_field",
            Self::DataNotJson => "data_not_json",
            Self::DataNotAnObject => "data_not_an_object",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in the input a problem was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Location {
    /// A line and column (both from 1) of the body.
    Body {
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        column: usize,
    },
    /// A line and column (both from 1) of the JSON text held in the `data` string, once decoded.
    DataString {
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        column: usize,
    },
    /// A byte offset of the body (for invalid UTF-8).
    Byte(usize),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Body { line, column } => write!(f, "line {line} column {column}"),
            Self::DataString { line, column } => {
                write!(f, "line {line} column {column} of the decoded `data` string")
            }
            Self::Byte(offset) => write!(f, "byte {offset}"),
        }
    }
}

/// A notification that did not parse: what is wrong, in which event and field, and where.
///
/// ```
/// let err = cxtn_events::parse(br#"{"eventId": "wh_1", "event": "payment_completed",
///     "data": {"objectId": 1, "userId": "C1", "currency": "GBP"}}"#).unwrap_err();
/// assert_eq!(err.kind(), cxtn_events::ErrorKind::MissingField);
/// assert_eq!(err.event(), Some("payment_completed"));
/// assert_eq!(err.field(), Some("amount"));
/// assert_eq!(err.to_string(), "`payment_completed` data: missing field `amount`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{}{message}{}",
    .event.as_ref().map(|event| format!("`{event}` data: ")).unwrap_or_default(),
    .location.map(|location| format!(" at {location}")).unwrap_or_default(),
)]
pub struct Error {
    kind: ErrorKind,
    event: Option<String>,
    field: Option<String>,
    location: Option<Location>,
    message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            event: None,
            field: None,
            location: None,
            message: message.into(),
        }
    }

    pub(crate) fn with_event(mut self, event: &str) -> Self {
        self.event = Some(event.to_owned());
        self
    }

    pub(crate) fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub(crate) fn at(mut self, location: Option<Location>) -> Self {
        self.location = location;
        self
    }

    /// What kind of problem it is.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The event name, when the problem is in the `data` of a known event.
    #[must_use]
    pub fn event(&self) -> Option<&str> {
        self.event.as_deref()
    }

    /// The field at fault (`eventId`, `amount`, ...), when there is one.
    #[must_use]
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// Where the problem was found, when known.
    #[must_use]
    pub fn location(&self) -> Option<Location> {
        self.location
    }

    /// The description without the location.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}
