//! Captured traffic: the deliveries an inbox stored, exactly as received, as JSON Lines, to replay against a
//! receiver or to load as test fixtures.
//!
//! One line is one stored body (`cxtn inbox export` writes them, oldest first):
//!
//! ```text
//! {"receivedAt":"2026-11-30T10:00:00.123Z","eventId":"wh_…","event":"payment_completed","deliveries":2,"body":"{\"eventId\":\"wh_…\",…}"}
//! ```
//!
//! - `receivedAt`: when the body first arrived, RFC 3339 in UTC with milliseconds (any offset is read, for a
//!   time within the years 0 to 9999 in UTC);
//! - `eventId`, `event`: the envelope the inbox stored the body under;
//! - `deliveries`: how many times this very body arrived (1 when absent);
//! - `conflict`: `true` on a conflicting version, a different body that arrived later under the same `eventId`
//!   (absent otherwise); each version has a line of its own;
//! - `body`: the body as a JSON string when it is UTF-8, or `bodyBase64`, standard base64 with padding, when it
//!   is not; exactly one of the two.
//!
//! The body comes back byte for byte: [`read_line`] of [`write_line`] gives the same bytes.
//! Fields a reader does not know are ignored, so later versions may add some.
//!
//! The same module plans a replay ([`plan`], with [`Chaos`] and [`Speed`]) and pseudonymises bodies
//! ([`Pseudonymiser`]), all without I/O.
//!
//! ```
//! use cxtn_events::traffic::{self, Recorded};
//!
//! let recorded = Recorded::new("wh_1", "account_credit", 1_764_496_800_123, cxtn_events::samples::GUIDE[0].body);
//! let line = traffic::write_line(&recorded)?;
//! assert!(line.starts_with(r#"{"receivedAt":"2025-11-30T10:00:00.123Z","eventId":"wh_1""#));
//! let recording = traffic::read_jsonl(line.as_bytes())?;
//! assert_eq!(recording.deliveries(), [recorded]);
//! for notification in recording.notifications() {
//!     let notification = notification.unwrap();
//!     assert_eq!(notification.event_name(), "account_credit");
//! }
//! # Ok::<(), traffic::Error>(())
//! ```

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Datelike as _, SecondsFormat};
use cxtn_model::{EventId, Notification};
use serde::{Deserialize, Serialize};

mod chaos;
mod pseudonym;
mod scan;
#[cfg(test)]
mod tests;

pub use self::chaos::{Chaos, Options, Plan, Planned, Speed, duplicates_of, plan};
pub use self::pseudonym::Pseudonymiser;

/// One stored body: a line of captured traffic.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recorded {
    /// When the body first arrived, in milliseconds since the Unix epoch.
    pub received_at_ms: i64,
    /// The `eventId` it was stored under.
    pub event_id: EventId,
    /// The `event` it was stored under.
    pub event: String,
    /// How many times this very body arrived.
    pub deliveries: u32,
    /// Whether it is a conflicting version: a different body that arrived later under a stored `eventId`.
    pub conflict: bool,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

impl fmt::Debug for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorded")
            .field("received_at_ms", &self.received_at_ms)
            .field("event_id", &self.event_id)
            .field("event", &self.event)
            .field("deliveries", &self.deliveries)
            .field("conflict", &self.conflict)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl Recorded {
    /// A body that arrived once, and is not a conflicting version.
    #[must_use]
    pub fn new(
        event_id: impl Into<EventId>,
        event: impl Into<String>,
        received_at_ms: i64,
        body: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            received_at_ms,
            event_id: event_id.into(),
            event: event.into(),
            deliveries: 1,
            conflict: false,
            body: body.into(),
        }
    }

    /// Arrived this many times.
    #[must_use]
    pub fn deliveries(mut self, deliveries: u32) -> Self {
        self.deliveries = deliveries;
        self
    }

    /// Is (or is not) a conflicting version.
    #[must_use]
    pub fn conflict(mut self, conflict: bool) -> Self {
        self.conflict = conflict;
        self
    }

    /// The body as text, when it is UTF-8.
    #[must_use]
    pub fn body_text(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()
    }

    /// The body parsed, as a receiver would hand it to a handler.
    ///
    /// # Errors
    ///
    /// The parser's error, when the body is not a notification this version reads.
    pub fn notification(&self) -> Result<Notification, crate::Error> {
        crate::parse(&self.body)
    }

    /// The body with its `eventId` (the outermost object's) replaced by `event_id`, every other byte kept;
    /// the body as it is when it already has that id; `None` when it has no `eventId` string to replace.
    #[must_use]
    pub fn with_event_id(&self, event_id: &EventId) -> Option<Cow<'_, [u8]>> {
        if event_id == &self.event_id {
            return Some(Cow::Borrowed(&self.body));
        }
        let (bom, json) = scan::split_bom(&self.body);
        if !scan::is_json(json) {
            return None;
        }
        let member = scan::members(json)
            .into_iter()
            .find(|m| m.depth == 1 && m.key == "eventId" && m.kind == scan::Kind::String)?;
        let replacement = serde_json::to_string(event_id.as_str()).ok()?;
        let mut body = bom.to_vec();
        body.extend(scan::splice(
            json,
            &[(member.start, member.end, replacement.into_bytes())],
        ));
        Some(Cow::Owned(body))
    }
}

/// Captured traffic: every line of a `.jsonl` file, in the file's order.
///
/// Collect one from [`Recorded`] values, or read one with [`read_jsonl`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Recording {
    deliveries: Vec<Recorded>,
}

impl Recording {
    /// Every line, in the file's order.
    #[must_use]
    pub fn deliveries(&self) -> &[Recorded] {
        &self.deliveries
    }

    /// The lines, owned.
    #[must_use]
    pub fn into_deliveries(self) -> Vec<Recorded> {
        self.deliveries
    }

    /// How many lines.
    #[must_use]
    pub fn len(&self) -> usize {
        self.deliveries.len()
    }

    /// Whether there is no line.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.deliveries.is_empty()
    }

    /// How many distinct event ids the lines hold.
    #[must_use]
    pub fn events(&self) -> usize {
        let ids: std::collections::HashSet<&EventId> = self.deliveries.iter().map(|r| &r.event_id).collect();
        ids.len()
    }

    /// Each body, byte for byte, in order: to feed a receiver or a handler's parser in a test.
    pub fn bodies(&self) -> impl Iterator<Item = &[u8]> {
        self.deliveries.iter().map(|r| r.body.as_slice())
    }

    /// Each body parsed, in order: a [`Notification`] for a handler's tests, or the parser's error.
    pub fn notifications(&self) -> impl Iterator<Item = Result<Notification, crate::Error>> + '_ {
        self.deliveries.iter().map(Recorded::notification)
    }

    /// The whole recording as JSON Lines.
    ///
    /// # Errors
    ///
    /// As [`write_line`].
    pub fn to_jsonl(&self) -> Result<String, Error> {
        let mut out = String::new();
        for recorded in &self.deliveries {
            out.push_str(&write_line(recorded)?);
        }
        Ok(out)
    }
}

impl FromIterator<Recorded> for Recording {
    fn from_iter<I: IntoIterator<Item = Recorded>>(iter: I) -> Self {
        Self {
            deliveries: iter.into_iter().collect(),
        }
    }
}

impl IntoIterator for Recording {
    type Item = Recorded;
    type IntoIter = std::vec::IntoIter<Recorded>;

    fn into_iter(self) -> Self::IntoIter {
        self.deliveries.into_iter()
    }
}

/// What kind of problem an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A line is not JSON, or not an object with the fields a line needs.
    Syntax,
    /// A line has neither `body` nor `bodyBase64`, both, or a `bodyBase64` that is not base64.
    Body,
    /// `receivedAt` is not an RFC 3339 time, or a time cannot be written as one.
    Time,
    /// A chaos setting is not `duplicates=SHARE,reorder=N,burst=N`.
    InvalidChaos,
    /// A speed is not a factor (`10x`) or `max`.
    InvalidSpeed,
}

/// Captured traffic that cannot be read or written, or a replay setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct Error {
    kind: ErrorKind,
    line: Option<usize>,
    message: String,
}

impl Error {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            line: None,
            message: message.into(),
        }
    }

    fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    /// What kind of problem this is.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The line at fault (from 1), for a file read with [`read_jsonl`].
    #[must_use]
    pub fn line(&self) -> Option<usize> {
        self.line
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LineOut<'a> {
    received_at: String,
    event_id: &'a str,
    event: &'a str,
    deliveries: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    conflict: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineIn {
    received_at: String,
    event_id: String,
    event: String,
    #[serde(default)]
    deliveries: Option<u32>,
    #[serde(default)]
    conflict: Option<bool>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
}

/// `ms` as RFC 3339 in UTC with milliseconds: `2026-11-30T10:00:00.123Z`; `None` outside the years 0 to 9999,
/// which RFC 3339 writes with four digits and no sign.
fn rfc3339(ms: i64) -> Option<String> {
    DateTime::from_timestamp_millis(ms)
        .filter(|t| (0..=9999).contains(&t.year()))
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// One line of captured traffic, newline included.
///
/// # Errors
///
/// [`ErrorKind::Time`] when `received_at_ms` is beyond what RFC 3339 writes (before year 0 or after 9999 in UTC
/// is not a time an inbox stores).
pub fn write_line(recorded: &Recorded) -> Result<String, Error> {
    let received_at = rfc3339(recorded.received_at_ms).ok_or_else(|| {
        Error::new(
            ErrorKind::Time,
            format!(
                "{} ms since the epoch is not a time RFC 3339 can write",
                recorded.received_at_ms
            ),
        )
    })?;
    let text = recorded.body_text();
    let line = LineOut {
        received_at,
        event_id: recorded.event_id.as_str(),
        event: &recorded.event,
        deliveries: recorded.deliveries,
        conflict: recorded.conflict,
        body: text,
        body_base64: text.is_none().then(|| STANDARD.encode(&recorded.body)),
    };
    let mut out = serde_json::to_string(&line)
        .map_err(|e| Error::new(ErrorKind::Syntax, format!("cannot write the line as JSON: {e}")))?;
    out.push('\n');
    Ok(out)
}

/// Reads one line of captured traffic (a trailing newline is allowed).
///
/// # Errors
///
/// What is wrong with the line: see [`ErrorKind`].
pub fn read_line(line: &str) -> Result<Recorded, Error> {
    let line: LineIn = serde_json::from_str(line.trim_end_matches(['\n', '\r'])).map_err(|e| {
        Error::new(
            ErrorKind::Syntax,
            format!(
                "not a line of captured traffic ({e}): each line is a JSON object with receivedAt, eventId, event and body"
            ),
        )
    })?;
    let received_at_ms = DateTime::parse_from_rfc3339(&line.received_at)
        .map_err(|e| {
            Error::new(
                ErrorKind::Time,
                format!(
                    "receivedAt `{}` is not an RFC 3339 time ({e}): write it as 2026-11-30T10:00:00.123Z",
                    line.received_at.escape_debug()
                ),
            )
        })?
        .timestamp_millis();
    if rfc3339(received_at_ms).is_none() {
        return Err(Error::new(
            ErrorKind::Time,
            format!(
                "receivedAt `{}` falls outside the years 0 to 9999 in UTC: write it as 2026-11-30T10:00:00.123Z",
                line.received_at.escape_debug()
            ),
        ));
    }
    let body = match (line.body, line.body_base64) {
        (Some(body), None) => body.into_bytes(),
        (None, Some(encoded)) => STANDARD.decode(encoded.trim()).map_err(|e| {
            Error::new(
                ErrorKind::Body,
                format!("bodyBase64 is not standard base64 with padding ({e})"),
            )
        })?,
        (Some(_), Some(_)) => {
            return Err(Error::new(
                ErrorKind::Body,
                "the line has both body and bodyBase64: keep one",
            ));
        }
        (None, None) => {
            return Err(Error::new(
                ErrorKind::Body,
                "the line has no body: give body (text) or bodyBase64",
            ));
        }
    };
    Ok(Recorded {
        received_at_ms,
        event_id: EventId::new(line.event_id),
        event: line.event,
        deliveries: line.deliveries.unwrap_or(1),
        conflict: line.conflict.unwrap_or(false),
        body,
    })
}

/// Reads captured traffic: one [`read_line`] per line; blank lines are skipped, and a leading byte-order mark too.
///
/// # Errors
///
/// The first line that cannot be read, with its number ([`Error::line`]); [`ErrorKind::Syntax`] when the text
/// is not UTF-8.
pub fn read_jsonl(text: &[u8]) -> Result<Recording, Error> {
    let text = text.strip_prefix(scan::BOM).unwrap_or(text);
    let text = std::str::from_utf8(text).map_err(|e| {
        Error::new(
            ErrorKind::Syntax,
            format!(
                "the file is not UTF-8 (at byte {}): captured traffic is JSON Lines",
                e.valid_up_to()
            ),
        )
    })?;
    let mut deliveries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        deliveries.push(read_line(line).map_err(|e| e.at_line(n + 1))?);
    }
    Ok(Recording { deliveries })
}
