//! What the endpoints should be: [`Desired`], read from a `cxtn-webhooks.toml` file or built in code.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use cxtn_model::{EndpointStatus, EndpointUrl, UrlPolicy, WebhookEventType};
use serde::Deserialize;
use toml::Spanned;

/// What to do with the event types a [`Desired`] neither lists nor names absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Unlisted {
    /// Leave their endpoints as they are (the default).
    #[default]
    Ignore,
    /// Their endpoints must not be Active or Paused: an existing one is set Inactive.
    Inactive,
}

impl Unlisted {
    /// The name the file uses: `ignore` or `inactive`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ignore => "ignore",
            Self::Inactive => "inactive",
        }
    }
}

impl fmt::Display for Unlisted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The endpoint one event type should have.
///
/// `Debug` shows the URL with its path redacted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DesiredEndpoint {
    /// The event type.
    pub event_type: WebhookEventType,
    /// The URL, with every `${VAR}` already replaced.
    pub url: EndpointUrl,
    /// The status: Active, Inactive or Paused.
    pub status: EndpointStatus,
}

/// What an event type should look like, as a [`Desired`] says.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Want<'a> {
    /// An endpoint at this URL with this status.
    Endpoint(&'a DesiredEndpoint),
    /// No endpoint, or an Inactive one (named in `absent`, or unlisted with `unlisted = "inactive"`).
    Inactive,
    /// Whatever it is now (unlisted, with `unlisted = "ignore"`).
    Ignored,
}

/// The webhook endpoints an account should have: for each event type, a URL and a status, or no active endpoint.
///
/// Read it from a `cxtn-webhooks.toml` file with [`Desired::from_toml_str`], or build it with [`Desired::builder`].
/// [`Plan::compute`](super::Plan::compute) compares it with the endpoints CXTN lists.
/// `Debug` shows URLs with their paths redacted.
///
/// # The file
///
/// ```toml
/// # What to do with the event types this file does not name: "ignore" (the default) or "inactive".
/// unlisted = "inactive"
///
/// # Event types that must have no active endpoint: an existing one is set Inactive.
/// absent = ["Trade", "Wallet"]
///
/// # One table per event type, named as CXTN's table names it.
/// [endpoints.Payment]
/// url = "https://hooks.example.com/cxtn/${CXTN_PATH_TOKEN}"
/// status = "active"    # active (the default), inactive or paused
///
/// [endpoints.AccountTransaction]
/// url = "https://hooks.example.com/cxtn/${CXTN_PATH_TOKEN}"
/// ```
///
/// - Every key is optional but `url`; a key the format does not define is an error, with its line and column.
/// - Event types are named as in CXTN's table (`Trade`, `Payment`, `AccountTransaction`, `Wallet`, `Card`, `Quote`,
///   `BulkPayments`); any case and `snake_case` are read too (`account_transaction`). Each may appear once.
/// - `${NAME}` in a URL is replaced by the value of that environment variable; a variable that is not set, or
///   is empty, is an error naming it (never its value). `$$` writes one `$`.
/// - A URL must be https, or http on a loopback host, and be written as a request carries it
///   (no spaces or quotes): the one check of [`EndpointUrl::parse_with`].
/// - CXTN cannot delete an endpoint: "absent" means no endpoint, or an Inactive one.
///
/// ```
/// use cxtn_model::{EndpointStatus, WebhookEventType};
/// use cxtn_webhooks::plan::{Desired, Unlisted, Want};
///
/// let text = r#"
/// unlisted = "inactive"
/// [endpoints.payment]
/// url = "https://hooks.example.com/cxtn/${CXTN_PATH_TOKEN}"
/// "#;
/// let desired = Desired::from_toml_str(text, |name| (name == "CXTN_PATH_TOKEN").then(|| "9f1c2e".to_owned()))?;
/// let Want::Endpoint(payment) = desired.want(&WebhookEventType::Payment) else { unreachable!() };
/// assert_eq!(payment.url.as_str(), "https://hooks.example.com/cxtn/9f1c2e");
/// assert_eq!(payment.status, EndpointStatus::Active);
/// assert_eq!(desired.want(&WebhookEventType::Card), Want::Inactive);
/// assert!(!format!("{desired:?}").contains("9f1c2e"), "Debug redacts the path");
///
/// let missing = Desired::from_toml_str(text, |_| None).unwrap_err();
/// assert_eq!(missing.variable(), Some("CXTN_PATH_TOKEN"));
/// assert_eq!((missing.line(), missing.column()), (Some(4), Some(7)));
/// # Ok::<(), cxtn_webhooks::plan::DesiredError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// One per event type, in the order of CXTN's table.
    endpoints: Vec<DesiredEndpoint>,
    /// In the order of CXTN's table.
    absent: Vec<WebhookEventType>,
    unlisted: Unlisted,
}

impl Desired {
    /// A builder, for endpoints given in code.
    pub fn builder() -> DesiredBuilder {
        DesiredBuilder::default()
    }

    /// Reads a `cxtn-webhooks.toml` file's text (the format is on [`Desired`]); `lookup_env` gives the value of a
    /// variable a URL names (`|name| std::env::var(name).ok()` reads the process's environment).
    ///
    /// # Errors
    ///
    /// A [`DesiredError`] saying what is wrong and, when it comes from the text, at which line and column.
    /// It never holds a variable's value or a URL's path.
    pub fn from_toml_str(text: &str, lookup_env: impl Fn(&str) -> Option<String>) -> Result<Self, DesiredError> {
        let at = |span: Range<usize>| Position::of(text, span.start);
        let file: File = toml::from_str(text).map_err(|e| {
            let mut error = DesiredError::new(DesiredErrorKind::Format, redact_quoted(e.message().trim_end()));
            error.position = e.span().map(at);
            error
        })?;
        let mut builder = Self::builder();
        if let Some(unlisted) = file.unlisted {
            builder.unlisted = match unlisted.get_ref().to_ascii_lowercase().as_str() {
                "ignore" => Unlisted::Ignore,
                "inactive" => Unlisted::Inactive,
                _ => {
                    return Err(DesiredError::new(
                        DesiredErrorKind::Format,
                        format!(
                            "`unlisted = \"{}\"` is not a choice; use \"ignore\" or \"inactive\"",
                            shown(unlisted.get_ref())
                        ),
                    )
                    .at(at(unlisted.span())));
                }
            };
        }
        let mut endpoints: Vec<_> = file.endpoints.into_iter().collect();
        endpoints.sort_by_key(|(key, _)| key.span().start);
        for (key, endpoint) in endpoints {
            let event_type = event_type(key.get_ref()).map_err(|e| e.at(at(key.span())))?;
            let url = substitute(endpoint.url.get_ref(), &lookup_env).map_err(|e| e.at(at(endpoint.url.span())))?;
            let status = match &endpoint.status {
                None => EndpointStatus::Active,
                Some(status) => endpoint_status(status.get_ref()).map_err(|e| e.at(at(status.span())))?,
            };
            builder.entries.push(Entry {
                event_type,
                url,
                status,
                position: Some(at(key.span())),
                url_position: Some(at(endpoint.url.span())),
            });
        }
        for name in file.absent {
            let event_type = event_type(name.get_ref()).map_err(|e| e.at(at(name.span())))?;
            builder.absent.push((event_type, Some(at(name.span()))));
        }
        builder.build()
    }

    /// The endpoints the file gives, in the order of CXTN's table.
    #[must_use]
    pub fn endpoints(&self) -> &[DesiredEndpoint] {
        &self.endpoints
    }

    /// The event types named absent, in the order of CXTN's table.
    #[must_use]
    pub fn absent(&self) -> &[WebhookEventType] {
        &self.absent
    }

    /// What to do with the event types neither listed nor named absent.
    #[must_use]
    pub fn unlisted(&self) -> Unlisted {
        self.unlisted
    }

    /// What an event type should look like.
    #[must_use]
    pub fn want(&self, event_type: &WebhookEventType) -> Want<'_> {
        if let Some(endpoint) = self.endpoints.iter().find(|e| &e.event_type == event_type) {
            return Want::Endpoint(endpoint);
        }
        if self.absent.contains(event_type) || self.unlisted == Unlisted::Inactive {
            return Want::Inactive;
        }
        Want::Ignored
    }
}

/// Builds a [`Desired`] in code. Every check of the file runs at [`build`](Self::build).
///
/// ```
/// use cxtn_model::{EndpointStatus, WebhookEventType};
/// use cxtn_webhooks::plan::{Desired, Unlisted};
///
/// let desired = Desired::builder()
///     .endpoint(WebhookEventType::Payment, "https://hooks.example.com/cxtn/9f1c2e")
///     .endpoint_with_status(WebhookEventType::AccountTransaction, "https://hooks.example.com/cxtn/9f1c2e", EndpointStatus::Paused)
///     .unlisted(Unlisted::Inactive)
///     .build()?;
/// assert_eq!(desired.endpoints().len(), 2);
/// # Ok::<(), cxtn_webhooks::plan::DesiredError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct DesiredBuilder {
    entries: Vec<Entry>,
    absent: Vec<(WebhookEventType, Option<Position>)>,
    unlisted: Unlisted,
    policy: UrlPolicy,
}

#[derive(Clone)]
struct Entry {
    event_type: WebhookEventType,
    /// The URL text, which may hold a secret: `Debug` redacts it.
    url: String,
    status: EndpointStatus,
    position: Option<Position>,
    url_position: Option<Position>,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("event_type", &self.event_type)
            .field("url", &EndpointUrl::new(self.url.as_str()))
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl DesiredBuilder {
    /// An Active endpoint for an event type at a URL.
    pub fn endpoint(self, event_type: WebhookEventType, url: impl Into<String>) -> Self {
        self.endpoint_with_status(event_type, url, EndpointStatus::Active)
    }

    /// An endpoint for an event type at a URL, with a status.
    pub fn endpoint_with_status(
        mut self,
        event_type: WebhookEventType,
        url: impl Into<String>,
        status: EndpointStatus,
    ) -> Self {
        self.entries.push(Entry {
            event_type,
            url: url.into(),
            status,
            position: None,
            url_position: None,
        });
        self
    }

    /// An event type that must have no active endpoint.
    pub fn absent(mut self, event_type: WebhookEventType) -> Self {
        self.absent.push((event_type, None));
        self
    }

    /// What to do with the event types neither listed nor named absent.
    pub fn unlisted(mut self, unlisted: Unlisted) -> Self {
        self.unlisted = unlisted;
        self
    }

    /// Which URLs are accepted; by default https, and http on loopback hosts, as a request carries them.
    /// `as_sent` is always on, so what is compared with CXTN's list is what CXTN was sent.
    pub fn url_policy(mut self, policy: UrlPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The endpoints, checked.
    ///
    /// # Errors
    ///
    /// [`DesiredErrorKind::EventType`] for an event type outside CXTN's table, [`DesiredErrorKind::Status`] for
    /// an unknown status, [`DesiredErrorKind::Url`] for a URL the policy refuses, [`DesiredErrorKind::Duplicate`]
    /// for an event type given twice, [`DesiredErrorKind::Conflict`] for one both given and named absent.
    pub fn build(self) -> Result<Desired, DesiredError> {
        let policy = self.policy.as_sent(true);
        let mut endpoints: BTreeMap<u8, (DesiredEndpoint, Option<Position>)> = BTreeMap::new();
        for entry in self.entries {
            let value = known(&entry.event_type).map_err(|e| e.maybe_at(entry.position))?;
            if entry.status.name().is_none() {
                return Err(DesiredError::new(
                    DesiredErrorKind::Status,
                    format!(
                        "`{}` is not a status CXTN accepts; use active, inactive or paused",
                        entry.status
                    ),
                )
                .maybe_at(entry.position));
            }
            let url = EndpointUrl::parse_with(&entry.url, policy).map_err(|e| {
                // The check's message shows the text up to the first `/`, `?` or `#`, which in a URL it cannot
                // read (a password holding a `/`) or reads otherwise (a `\` for a `/`) is part of a secret.
                let message = e.to_string().replacen(
                    &format!("`{}`", e.redacted()),
                    &format!("`{}`", EndpointUrl::new(entry.url.as_str()).redacted()),
                    1,
                );
                DesiredError::new(
                    DesiredErrorKind::Url,
                    format!("the {} endpoint: {message}", entry.event_type),
                )
                .maybe_at(entry.url_position)
            })?;
            if let Some((_, first)) = endpoints.get(&value) {
                return Err(duplicate(&entry.event_type, *first).maybe_at(entry.position));
            }
            let endpoint = DesiredEndpoint {
                event_type: entry.event_type,
                url,
                status: entry.status,
            };
            endpoints.insert(value, (endpoint, entry.position));
        }
        let mut absent: BTreeMap<u8, (WebhookEventType, Option<Position>)> = BTreeMap::new();
        for (event_type, position) in self.absent {
            let value = known(&event_type).map_err(|e| e.maybe_at(position))?;
            if let Some((_, first)) = endpoints.get(&value) {
                return Err(DesiredError::new(
                    DesiredErrorKind::Conflict,
                    format!(
                        "{event_type} is named absent but also given an endpoint{}; keep one of the two",
                        first.map_or_else(String::new, |p| format!(" at line {}", p.line))
                    ),
                )
                .maybe_at(position));
            }
            if let Some((_, first)) = absent.get(&value) {
                return Err(duplicate(&event_type, *first).maybe_at(position));
            }
            absent.insert(value, (event_type, position));
        }
        Ok(Desired {
            endpoints: endpoints.into_values().map(|(endpoint, _)| endpoint).collect(),
            absent: absent.into_values().map(|(event_type, _)| event_type).collect(),
            unlisted: self.unlisted,
        })
    }
}

/// A text of the file as an error shows it: escaped, or redacted when it is a URL, whose path may be a path token.
fn shown(text: &str) -> String {
    if text.contains("://") {
        EndpointUrl::new(text).redacted()
    } else {
        text.escape_debug().to_string()
    }
}

/// A message of the TOML reader with the string it quotes (`invalid type: string "..."`) redacted when it is a URL.
fn redact_quoted(message: &str) -> String {
    const OPEN: &str = "string \"";
    let Some(start) = message.find(OPEN).map(|at| at + OPEN.len()) else {
        return message.to_owned();
    };
    let end = message.rfind('"').filter(|end| *end >= start);
    match (
        message.get(..start),
        end.and_then(|end| message.get(start..end)),
        end.and_then(|end| message.get(end..)),
    ) {
        (Some(before), Some(quoted), Some(after)) if quoted.contains("://") => {
            format!("{before}{}{after}", EndpointUrl::new(quoted).redacted())
        }
        _ => message.to_owned(),
    }
}

/// The file as TOML gives it, before any check.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    unlisted: Option<Spanned<String>>,
    #[serde(default)]
    absent: Vec<Spanned<String>>,
    #[serde(default)]
    endpoints: BTreeMap<Spanned<String>, FileEndpoint>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEndpoint {
    url: Spanned<String>,
    #[serde(default)]
    status: Option<Spanned<String>>,
}

fn event_type(name: &str) -> Result<WebhookEventType, DesiredError> {
    let numeric = !name.is_empty() && name.trim().bytes().all(|b| b.is_ascii_digit());
    let parsed = if numeric { None } else { name.parse().ok() };
    parsed.ok_or_else(|| {
        DesiredError::new(
            DesiredErrorKind::EventType,
            format!(
                "`{}` is not a webhook event type; use Trade, Payment, AccountTransaction, Wallet, Card, Quote or BulkPayments",
                shown(name)
            ),
        )
    })
}

fn endpoint_status(name: &str) -> Result<EndpointStatus, DesiredError> {
    name.parse().map_err(|_| {
        DesiredError::new(
            DesiredErrorKind::Status,
            format!(
                "`{}` is not an endpoint status; use active, inactive or paused",
                shown(name)
            ),
        )
    })
}

fn known(event_type: &WebhookEventType) -> Result<u8, DesiredError> {
    event_type.value().ok_or_else(|| {
        DesiredError::new(
            DesiredErrorKind::EventType,
            format!(
                "`{event_type}` is not a webhook event type CXTN defines; use Trade, Payment, AccountTransaction, Wallet, Card, Quote or BulkPayments"
            ),
        )
    })
}

fn duplicate(event_type: &WebhookEventType, first: Option<Position>) -> DesiredError {
    DesiredError::new(
        DesiredErrorKind::Duplicate,
        format!(
            "{event_type} is given twice{}; give each event type once",
            first.map_or_else(String::new, |p| format!(" (first at line {})", p.line))
        ),
    )
}

/// Replaces each `${NAME}` with the variable's value; `$$` writes one `$`.
fn substitute(text: &str, lookup: &impl Fn(&str) -> Option<String>) -> Result<String, DesiredError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at + 1..).unwrap_or_default();
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let Some(reference) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let Some(end) = reference.find('}') else {
            return Err(DesiredError::new(
                DesiredErrorKind::Variable,
                "a URL opens `${` without closing it with `}`; write `${NAME}`, or `$$` for a `$`",
            ));
        };
        let name = reference.get(..end).unwrap_or_default();
        let valid = name.chars().next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
            && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
        if !valid {
            return Err(DesiredError::new(
                DesiredErrorKind::Variable,
                format!(
                    "`${{{}}}` does not name a variable; names are letters, digits and `_`, and `$$` writes a `$`",
                    name.escape_debug()
                ),
            ));
        }
        match lookup(name) {
            Some(value) if !value.is_empty() => out.push_str(&value),
            found => {
                let problem = if found.is_some() { "is empty" } else { "is not set" };
                let mut error = DesiredError::new(
                    DesiredErrorKind::Variable,
                    format!("the environment variable {name}, which a URL names, {problem}; set it, then run again"),
                );
                error.variable = Some(name.to_owned());
                return Err(error);
            }
        }
        rest = reference.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

/// [`substitute`], for the property tests, with the error's message.
#[cfg(test)]
pub(super) fn substitute_for_tests(text: &str, lookup: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    substitute(text, lookup).map_err(|e| e.to_string())
}

/// A line and column, both from 1; the column counts characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    line: usize,
    column: usize,
}

impl Position {
    fn of(text: &str, offset: usize) -> Self {
        let before = text.get(..offset).unwrap_or(text);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Self {
            line: before.matches('\n').count() + 1,
            column: before.get(line_start..).unwrap_or_default().chars().count() + 1,
        }
    }
}

/// What is wrong with a [`DesiredError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DesiredErrorKind {
    /// The text is not TOML, or not of the file's shape: an unknown key, a wrong type, a missing `url`.
    Format,
    /// An event type outside CXTN's table.
    EventType,
    /// A status other than active, inactive or paused.
    Status,
    /// A URL the URL check refuses.
    Url,
    /// A `${NAME}` whose variable is not set or is empty, or that is not written right.
    Variable,
    /// An event type given twice.
    Duplicate,
    /// An event type both given an endpoint and named absent.
    Conflict,
}

/// Why a [`Desired`] could not be read or built. Its message never holds a variable's value or a URL's path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", .position.map_or_else(String::new, |p| format!("line {}, column {}: ", p.line, p.column)))]
pub struct DesiredError {
    kind: DesiredErrorKind,
    message: String,
    position: Option<Position>,
    variable: Option<String>,
}

impl DesiredError {
    fn new(kind: DesiredErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            position: None,
            variable: None,
        }
    }

    fn at(mut self, position: Position) -> Self {
        self.position = Some(position);
        self
    }

    fn maybe_at(mut self, position: Option<Position>) -> Self {
        if self.position.is_none() {
            self.position = position;
        }
        self
    }

    /// What is wrong.
    #[must_use]
    pub fn kind(&self) -> DesiredErrorKind {
        self.kind
    }

    /// The line of the text at fault, from 1, when the error comes from a file.
    #[must_use]
    pub fn line(&self) -> Option<usize> {
        self.position.map(|p| p.line)
    }

    /// The column of the text at fault, from 1 and in characters, when the error comes from a file.
    #[must_use]
    pub fn column(&self) -> Option<usize> {
        self.position.map(|p| p.column)
    }

    /// The environment variable that is not set or is empty, for [`DesiredErrorKind::Variable`].
    #[must_use]
    pub fn variable(&self) -> Option<&str> {
        self.variable.as_deref()
    }

    /// The message without its position.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}
