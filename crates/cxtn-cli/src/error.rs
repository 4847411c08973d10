//! What a command can fail with, and the exit code each failure gives.

use std::fmt;
use std::process::ExitCode;

use cxtn::webhooks::ErrorKind as WebhooksKind;

/// Whether the user called the command wrongly (exit 2) or the operation failed (exit 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Usage,
    Failed,
}

/// A failure to report on stderr: one or two sentences, then details shown with `-v`.
#[derive(Debug)]
pub(crate) struct CliError {
    kind: Kind,
    message: String,
    hint: Option<String>,
    details: Vec<String>,
}

impl CliError {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }

    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self::new(Kind::Failed, message)
    }

    fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hint: None,
            details: Vec::new(),
        }
    }

    /// The sentence that says what to do.
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A line shown with `-v`.
    pub(crate) fn detail(mut self, detail: impl Into<String>) -> Self {
        self.details.push(detail.into());
        self
    }

    /// Adds every cause of `error` as a detail.
    pub(crate) fn causes(mut self, error: &dyn std::error::Error) -> Self {
        let causes = std::iter::successors(error.source(), |cause| cause.source());
        self.details.extend(causes.map(|cause| format!("caused by: {cause}")));
        self
    }

    #[cfg(test)]
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    pub(crate) fn details(&self) -> &[String] {
        &self.details
    }

    pub(crate) fn exit_code(&self) -> ExitCode {
        match self.kind {
            Kind::Usage => ExitCode::from(2),
            Kind::Failed => ExitCode::from(1),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n{hint}")?;
        }
        Ok(())
    }
}

impl From<cxtn::webhooks::Error> for CliError {
    fn from(e: cxtn::webhooks::Error) -> Self {
        let kind = match e.kind() {
            WebhooksKind::InvalidInput | WebhooksKind::Config => Kind::Usage,
            _ => Kind::Failed,
        };
        let mut error = Self::new(kind, e.to_string());
        error.hint = match e.kind() {
            WebhooksKind::Transport => {
                Some("Check --env or --base-url, and that the API is reachable from here.".to_owned())
            }
            WebhooksKind::Timeout => Some("The API did not answer in time; try again later.".to_owned()),
            WebhooksKind::Decode | WebhooksKind::Http => {
                Some("Check that --base-url points at the CXTN API (it ends in /api/).".to_owned())
            }
            _ => None,
        };
        if let Some(status) = e.http_status() {
            error.details.push(format!("HTTP status: {status}"));
        }
        if let Some(code) = e.api_status_code() {
            error
                .details
                .push(format!("ApiStatusCode: {code} {}", e.api_status().unwrap_or_default()));
        }
        if let Some(attempts) = e.attempts() {
            error.details.push(format!("attempts: {attempts}"));
        }
        if let Some(excerpt) = e.body_excerpt() {
            error.details.push(format!("body: {excerpt}"));
        }
        error.causes(&e)
    }
}

impl From<cxtn::receiver::Error> for CliError {
    fn from(e: cxtn::receiver::Error) -> Self {
        let kind = match e.kind() {
            cxtn::receiver::ErrorKind::Config => Kind::Usage,
            _ => Kind::Failed,
        };
        Self::new(kind, e.to_string()).causes(&e)
    }
}

impl From<cxtn::receiver::InboxError> for CliError {
    fn from(e: cxtn::receiver::InboxError) -> Self {
        Self::failed(e.to_string()).causes(&e)
    }
}

impl From<cxtn::sandbox::Error> for CliError {
    fn from(e: cxtn::sandbox::Error) -> Self {
        let kind = match e.kind() {
            cxtn::sandbox::ErrorKind::Config | cxtn::sandbox::ErrorKind::InvalidTrigger => Kind::Usage,
            _ => Kind::Failed,
        };
        Self::new(kind, e.to_string()).causes(&e)
    }
}
