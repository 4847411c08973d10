//! What a command can fail with, the exit code each failure gives, and the stable `kind` that `--json`
//! reports it under.

use std::fmt;
use std::process::ExitCode;

use cxtn::webhooks::ErrorKind as WebhooksKind;
use serde::Serialize;

/// What went wrong. Wrong usage exits 2, every other kind 1.
///
/// The names ([`Kind::name`]) are the `kind` of `--json` errors: scripts match on them, so they never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The command was called wrongly: a flag, a value, a missing token or setting (exit 2).
    Usage,
    /// The CXTN API, or the local simulator, answered and refused.
    Api,
    /// No answer came: the host could not be resolved or reached, the connection failed, or the time ran out.
    Network,
    /// A file, a directory, standard input or a listening address could not be used.
    Io,
    /// The inbox (SQLite or PostgreSQL) failed.
    Inbox,
    /// Notifications sent by `trigger` were not accepted, or not delivered.
    Delivery,
    /// A body is not a CXTN notification.
    Notification,
    /// Anything else.
    Failed,
}

impl Kind {
    /// The stable name `--json` reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Usage => "usage",
            Self::Api => "api",
            Self::Network => "network",
            Self::Io => "io",
            Self::Inbox => "inbox",
            Self::Delivery => "delivery",
            Self::Notification => "notification",
            Self::Failed => "failed",
        }
    }

    /// The exit code: 2 for wrong usage, 1 for a failed operation.
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Self::Usage => 2,
            _ => 1,
        }
    }
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

    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
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
        ExitCode::from(self.kind.exit_code())
    }

    /// The error as `--json` prints it on stderr:
    /// `{"error":{"kind":"api","message":"...","hint":"..."|null,"exitCode":1,"details":[...]}}`.
    pub(crate) fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Outer<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Inner<'a> {
            kind: &'static str,
            message: &'a str,
            hint: Option<&'a str>,
            exit_code: u8,
            details: &'a [String],
        }
        let outer = Outer {
            error: Inner {
                kind: self.kind.name(),
                message: &self.message,
                hint: self.hint.as_deref(),
                exit_code: self.kind.exit_code(),
                details: &self.details,
            },
        };
        serde_json::to_string(&outer).unwrap_or_else(|_| {
            format!(
                r#"{{"error":{{"kind":"{}","message":"the error could not be written as JSON","hint":null,"exitCode":{},"details":[]}}}}"#,
                self.kind.name(),
                self.kind.exit_code()
            )
        })
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

/// The start of the library's advice for a plain-http endpoint URL, which names a Rust method; the command
/// line gives its own advice instead.
const LIBRARY_PLAIN_HTTP_ADVICE: &str = ". Use https, or allow_insecure_http";

/// What to run when CXTN's API answers with this `ApiStatus`: the command line's action, never a route.
fn api_status_hint(status: &str) -> Option<&'static str> {
    Some(match status {
        "WebhooksNotEnabled" => {
            "Run `cxtn webhooks enable` first (on CXTN, webhooks must also have been approved for the account)."
        }
        "EndpointExists" => {
            "The event type has an endpoint already: change its URL with `cxtn webhooks edit`, or run `cxtn webhooks ensure`, which creates or edits as needed."
        }
        "EndpointNotFound" => {
            "Create the endpoint first with `cxtn webhooks create` or `cxtn webhooks ensure`; `cxtn webhooks list` shows what exists."
        }
        "InvalidUrl" => "Give --url an absolute https URL (plain http only on a loopback address).",
        "InvalidEventType" => {
            "Give --event-type one of Trade, Payment, AccountTransaction, Wallet, Card, Quote or BulkPayments."
        }
        "RouteNotFound" | "MethodNotAllowed" => "Check that --base-url points at the CXTN API (it ends in /api/).",
        _ => return None,
    })
}

/// The hint for a refused access token, by where the call went.
fn unauthorized_hint(target: Option<&cxtn::Environment>) -> String {
    let check = "Check that CXTN_ACCESS_TOKEN (or the file given to --token-file) holds";
    match target {
        Some(cxtn::Environment::Custom(_)) => format!(
            "{check} the token this API accepts; a local simulator takes the token `cxtn sandbox` printed when it started."
        ),
        Some(environment) => format!(
            "{check} a token for CXTN's {} environment. To use the local simulator instead, start `cxtn sandbox` and pass --base-url {} with the token it prints.",
            environment.name(),
            crate::client::LOCAL_SIMULATOR_URL
        ),
        None => format!("{check} the token this API accepts."),
    }
}

/// The hint when no answer came, by where the call went.
fn unreachable_hint(target: Option<&cxtn::Environment>) -> String {
    match target {
        Some(cxtn::Environment::Custom(_)) => {
            "Check --base-url (or CXTN_BASE_URL) and that the API there is running; for a local simulator, that `cxtn sandbox` runs at that address."
                .to_owned()
        }
        Some(environment) => format!(
            "Check your network and --env: CXTN's {} environment at {} could not be reached. To use the local simulator instead, start `cxtn sandbox` and pass --base-url {}.",
            environment.name(),
            environment.base_url(),
            crate::client::LOCAL_SIMULATOR_URL
        ),
        None => "Check --env or --base-url, and that the API is reachable from here.".to_owned(),
    }
}

impl From<cxtn::webhooks::Error> for CliError {
    fn from(e: cxtn::webhooks::Error) -> Self {
        let target = crate::client::called();
        let kind = match e.kind() {
            WebhooksKind::InvalidInput | WebhooksKind::Config | WebhooksKind::Token => Kind::Usage,
            WebhooksKind::Transport | WebhooksKind::Timeout => Kind::Network,
            _ => Kind::Api,
        };
        let mut message = e.to_string();
        let mut hint = match e.kind() {
            WebhooksKind::Transport => Some(unreachable_hint(target)),
            WebhooksKind::Timeout => Some("The API did not answer in time; try again later.".to_owned()),
            WebhooksKind::Unauthorized => Some(unauthorized_hint(target)),
            WebhooksKind::Decode | WebhooksKind::Http => {
                Some("Check that --base-url points at the CXTN API (it ends in /api/).".to_owned())
            }
            WebhooksKind::Api => e.api_status().and_then(api_status_hint).map(str::to_owned),
            _ => None,
        };
        if let Some(at) = message.find(LIBRARY_PLAIN_HTTP_ADVICE) {
            message.truncate(at);
            hint = Some(
                "Give --url an https URL; plain http is accepted only on a loopback address (127.0.0.1, ::1, localhost), such as a receiver `cxtn listen` runs on this machine."
                    .to_owned(),
            );
        }
        let mut error = Self::new(kind, message);
        error.hint = hint;
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
            cxtn::receiver::ErrorKind::Io => Kind::Io,
            cxtn::receiver::ErrorKind::Inbox => Kind::Inbox,
            _ => Kind::Failed,
        };
        Self::new(kind, e.to_string()).causes(&e)
    }
}

impl From<cxtn::receiver::InboxError> for CliError {
    fn from(e: cxtn::receiver::InboxError) -> Self {
        Self::new(Kind::Inbox, e.to_string()).causes(&e)
    }
}

impl From<cxtn::sandbox::Error> for CliError {
    fn from(e: cxtn::sandbox::Error) -> Self {
        let kind = match e.kind() {
            cxtn::sandbox::ErrorKind::Config | cxtn::sandbox::ErrorKind::InvalidTrigger => Kind::Usage,
            cxtn::sandbox::ErrorKind::Bind => Kind::Io,
            cxtn::sandbox::ErrorKind::Refused => Kind::Api,
            _ => Kind::Failed,
        };
        Self::new(kind, e.to_string()).causes(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_have_the_documented_shape() {
        let error = CliError::new(Kind::Api, "create: CXTN refused \"it\"")
            .hint("Run `cxtn webhooks enable` first.")
            .detail("HTTP status: 400 Bad Request");
        let json: serde_json::Value = serde_json::from_str(&error.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"kind": "api", "message": "create: CXTN refused \"it\"",
                "hint": "Run `cxtn webhooks enable` first.", "exitCode": 1,
                "details": ["HTTP status: 400 Bad Request"]}})
        );
        let usage: serde_json::Value = serde_json::from_str(&CliError::usage("no").to_json()).unwrap();
        assert_eq!(usage["error"]["exitCode"], 2);
        assert_eq!(usage["error"]["hint"], serde_json::Value::Null);
    }

    #[test]
    fn the_hosted_environments_point_at_the_local_simulator_when_unreachable_or_refused() {
        for environment in [cxtn::Environment::Sandbox, cxtn::Environment::Production] {
            let unreachable = unreachable_hint(Some(&environment));
            assert!(unreachable.contains(environment.base_url()), "{unreachable}");
            assert!(
                unreachable.contains("--base-url http://127.0.0.1:4010/api/"),
                "{unreachable}"
            );
            let refused = unauthorized_hint(Some(&environment));
            assert!(refused.contains("--base-url http://127.0.0.1:4010/api/"), "{refused}");
        }
        let local = cxtn::Environment::custom("http://127.0.0.1:4010/api/");
        assert!(unauthorized_hint(Some(&local)).contains("the token `cxtn sandbox` printed"));
        assert!(unreachable_hint(Some(&local)).contains("`cxtn sandbox` runs at that address"));
    }

    #[test]
    fn every_api_status_the_simulator_refuses_with_names_a_command() {
        for status in [
            "WebhooksNotEnabled",
            "EndpointExists",
            "EndpointNotFound",
            "InvalidEventType",
        ] {
            let hint = api_status_hint(status).unwrap();
            assert!(
                hint.contains("`cxtn ") || hint.contains("--event-type"),
                "{status}: {hint}"
            );
            assert!(!hint.contains("POST") && !hint.contains("()"), "{status}: {hint}");
        }
    }
}
