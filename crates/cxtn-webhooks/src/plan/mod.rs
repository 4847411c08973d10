//! Endpoints as code: say what the endpoints should be ([`Desired`], from a `cxtn-webhooks.toml` file or code),
//! see how CXTN differs ([`Plan`]), and make it match ([`Plan::apply`], or [`Client::converge`] for both at once).
//!
//! ```no_run
//! # async fn run(client: cxtn_webhooks::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use cxtn_webhooks::plan::Desired;
//!
//! let text = std::fs::read_to_string("cxtn-webhooks.toml")?;
//! let desired = Desired::from_toml_str(&text, |name| std::env::var(name).ok())?;
//! let plan = client.plan(&desired).await?;
//! println!("{plan}");
//! let report = plan.apply(&client).await?;
//! println!("{report}");
//! # Ok(())
//! # }
//! ```
//!
//! A plan changes an endpoint with the fewest calls, in a safe order: creates and URL edits first, then statuses,
//! so no endpoint is made Active before it points where it should; but an endpoint that moves and should stop
//! delivering is paused or set Inactive before it moves, so nothing reaches its new URL meanwhile.
//! Webhooks are enabled on the account only when CXTN refuses a create because they are not ([`Client::enable`],
//! then the create again).
//! Applying a plan twice does nothing the second time: the second plan is empty, and an empty plan sends nothing.

mod desired;

use std::fmt;

use cxtn_model::{Endpoint, EndpointStatus, EndpointUrl, WebhookEventType};

pub use desired::{Desired, DesiredBuilder, DesiredEndpoint, DesiredError, DesiredErrorKind, Unlisted, Want};

use crate::{Client, Error, ErrorKind, Operation};

/// One call that makes CXTN's endpoints closer to a [`Desired`].
///
/// `Debug` and `Display` show URLs with their paths redacted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Change {
    /// Create the endpoint of an event type. A status change for it always follows, since CXTN does not say
    /// which status a new endpoint starts with.
    Create {
        /// The event type.
        event_type: WebhookEventType,
        /// The URL.
        url: EndpointUrl,
    },
    /// Point the endpoint of an event type at another URL.
    Edit {
        /// The event type.
        event_type: WebhookEventType,
        /// The URL it has now.
        from: EndpointUrl,
        /// The URL it should have.
        to: EndpointUrl,
    },
    /// Set the status of the endpoint of an event type.
    SetStatus {
        /// The event type.
        event_type: WebhookEventType,
        /// The status it has now; `None` for an endpoint the plan creates.
        from: Option<EndpointStatus>,
        /// The status it should have.
        to: EndpointStatus,
    },
}

impl Change {
    /// The event type the change is about.
    #[must_use]
    pub fn event_type(&self) -> &WebhookEventType {
        match self {
            Self::Create { event_type, .. } | Self::Edit { event_type, .. } | Self::SetStatus { event_type, .. } => {
                event_type
            }
        }
    }

    /// The management operation the change calls.
    #[must_use]
    pub fn operation(&self) -> Operation {
        match self {
            Self::Create { .. } => Operation::Create,
            Self::Edit { .. } => Operation::Edit,
            Self::SetStatus { .. } => Operation::SetStatus,
        }
    }

    /// A short name: `create`, `edit` or `status`.
    #[must_use]
    pub fn action(&self) -> &'static str {
        match self {
            Self::Create { .. } => "create",
            Self::Edit { .. } => "edit",
            Self::SetStatus { .. } => "status",
        }
    }

    /// Makes the call.
    async fn run(&self, client: &Client, enabled: &mut bool) -> Result<(), Error> {
        match self {
            Self::Create { event_type, url } => {
                let first = client.create(*event_type, url.as_str()).await;
                match first {
                    Err(e) if !*enabled && e.is_webhooks_not_enabled() => {
                        tracing::info!("webhooks are not enabled on the account; enabling them");
                        client.enable().await?;
                        *enabled = true;
                        client.create(*event_type, url.as_str()).await.map(drop)
                    }
                    other => other.map(drop),
                }
            }
            Self::Edit { event_type, to, .. } => client.edit(*event_type, to.as_str()).await,
            Self::SetStatus { event_type, to, .. } => client.set_status(*event_type, *to).await,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Create { event_type, url } => write!(f, "create {event_type} at {}", url.redacted()),
            Self::Edit { event_type, from, to } => {
                let (from, to) = (from.redacted(), to.redacted());
                if from == to {
                    write!(f, "edit {event_type}: {to} (the redacted part of the URL differs)")
                } else {
                    write!(f, "edit {event_type}: {from} -> {to}")
                }
            }
            Self::SetStatus { event_type, from, to } => match from {
                Some(from) => write!(f, "status {event_type}: {from} -> {to}"),
                None => write!(f, "status {event_type}: {to} (new endpoint)"),
            },
        }
    }
}

/// Whether two endpoint URLs are the same URL: the same text, or the same once read as the WHATWG URL standard
/// reads them (scheme and host in lower case, default port dropped, escapes normalised) with the same credentials,
/// so an API that stores a URL in its normal form is not seen as drift.
fn same_url(a: &EndpointUrl, b: &EndpointUrl) -> bool {
    if a.as_str() == b.as_str() {
        return true;
    }
    let (Some((a, a_credentials)), Some((b, b_credentials))) = (a.split_credentials(), b.split_credentials()) else {
        return false;
    };
    a == b
        && match (a_credentials, b_credentials) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.user == b.user && bool::from(a.password.ct_eq(b.password.expose_secret().as_bytes()))
            }
            _ => false,
        }
}

/// The calls that make CXTN's endpoints match a [`Desired`], in the order they are made: the status changes that
/// stop an endpoint that moves and may be delivering, then creates and URL edits, then the other status changes,
/// each group in the order of CXTN's table of event types. Empty when they match.
///
/// `Debug` and `Display` show URLs with their paths redacted.
///
/// ```
/// use cxtn_model::{Endpoint, EndpointStatus, WebhookEventType};
/// use cxtn_webhooks::plan::{Change, Desired, Plan};
///
/// let desired = Desired::builder()
///     .endpoint(WebhookEventType::Payment, "https://hooks.example.com/cxtn/new-9f1c2e")
///     .build()?;
/// let current = [Endpoint::new(WebhookEventType::Payment, "https://hooks.example.com/cxtn/old-1a2b3c", EndpointStatus::Paused)];
/// let plan = Plan::compute(&desired, &current);
/// assert_eq!(plan.changes().len(), 2);
/// assert!(matches!(plan.changes()[0], Change::Edit { .. }));
/// assert_eq!(
///     plan.to_string(),
///     "edit Payment: https://hooks.example.com/<redacted> (the redacted part of the URL differs)\nstatus Payment: Paused -> Active"
/// );
///
/// let now = [Endpoint::new(WebhookEventType::Payment, "https://hooks.example.com/cxtn/new-9f1c2e", EndpointStatus::Active)];
/// assert!(Plan::compute(&desired, &now).is_in_sync());
/// # Ok::<(), cxtn_webhooks::plan::DesiredError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    changes: Vec<Change>,
    ignored: Vec<Endpoint>,
}

impl Plan {
    /// The changes that make `current` (the endpoints CXTN lists) match `desired`. Makes no call.
    ///
    /// A URL is changed only when it is another URL: scheme and host case, a default port and escapes written
    /// differently are the same URL, so an API that keeps URLs in their normal form shows no drift.
    /// Endpoints of event types outside CXTN's table are left alone and listed by [`Plan::ignored`];
    /// when CXTN lists one event type twice, the first is taken.
    #[must_use]
    pub fn compute(desired: &Desired, current: &[Endpoint]) -> Self {
        let mut stops = Vec::new();
        let mut urls = Vec::new();
        let mut statuses = Vec::new();
        for event_type in WebhookEventType::ALL {
            let now = current.iter().find(|e| e.event_type == event_type);
            match (desired.want(&event_type), now) {
                (Want::Endpoint(want), None) => {
                    urls.push(Change::Create {
                        event_type,
                        url: want.url.clone(),
                    });
                    statuses.push(Change::SetStatus {
                        event_type,
                        from: None,
                        to: want.status,
                    });
                }
                (Want::Endpoint(want), Some(now)) => {
                    let moves = !same_url(&now.endpoint_url, &want.url);
                    if moves {
                        urls.push(Change::Edit {
                            event_type,
                            from: now.endpoint_url.clone(),
                            to: want.url.clone(),
                        });
                    }
                    if now.status != want.status {
                        let change = Change::SetStatus {
                            event_type,
                            from: Some(now.status),
                            to: want.status,
                        };
                        // One that may be delivering is stopped before it moves, so no delivery reaches the new
                        // URL while it should not.
                        let delivering = !matches!(now.status, EndpointStatus::Inactive | EndpointStatus::Paused);
                        if moves && delivering && !want.status.is_active() {
                            stops.push(change);
                        } else {
                            statuses.push(change);
                        }
                    }
                }
                (Want::Inactive, Some(now)) if now.status != EndpointStatus::Inactive => {
                    statuses.push(Change::SetStatus {
                        event_type,
                        from: Some(now.status),
                        to: EndpointStatus::Inactive,
                    });
                }
                _ => {}
            }
        }
        stops.extend(urls);
        stops.extend(statuses);
        Self {
            changes: stops,
            ignored: current
                .iter()
                .filter(|e| e.event_type.value().is_none())
                .cloned()
                .collect(),
        }
    }

    /// The changes, in the order [`Plan::apply`] makes them.
    #[must_use]
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// Whether CXTN already matches: nothing to change.
    #[must_use]
    pub fn is_in_sync(&self) -> bool {
        self.changes.is_empty()
    }

    /// Endpoints CXTN listed for event types outside its own table, which the plan leaves alone.
    #[must_use]
    pub fn ignored(&self) -> &[Endpoint] {
        &self.ignored
    }

    /// Makes the changes, one call each, in order; stops at the first that fails.
    /// Before the first create that CXTN refuses because webhooks are not enabled, enables them (one more call).
    ///
    /// # Errors
    ///
    /// An [`ApplyError`] holding the [`ApplyReport`] of what was applied, which change failed, and what was not
    /// attempted, with the management [`Error`] as its source.
    pub async fn apply(&self, client: &Client) -> Result<ApplyReport, ApplyError> {
        let mut report = ApplyReport::default();
        let mut changes = self.changes.iter();
        while let Some(change) = changes.next() {
            match change.run(client, &mut report.enabled).await {
                Ok(()) => {
                    tracing::info!(change = %change, "applied");
                    report.applied.push(change.clone());
                }
                Err(error) => {
                    tracing::warn!(change = %change, error = %error, "refused; the rest is not applied");
                    report.failed = Some(change.clone());
                    report.not_attempted = changes.cloned().collect();
                    return Err(ApplyError { report, error });
                }
            }
        }
        Ok(report)
    }
}

impl fmt::Display for Plan {
    /// One change per line; nothing when in sync.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_lines(f, &self.changes)
    }
}

fn write_lines(f: &mut fmt::Formatter<'_>, changes: &[Change]) -> fmt::Result {
    for (i, change) in changes.iter().enumerate() {
        if i > 0 {
            f.write_str("\n")?;
        }
        write!(f, "{change}")?;
    }
    Ok(())
}

fn join(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "none".to_owned();
    }
    changes.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// What [`Plan::apply`] did.
///
/// `Debug` and `Display` show URLs with their paths redacted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApplyReport {
    enabled: bool,
    applied: Vec<Change>,
    failed: Option<Change>,
    not_attempted: Vec<Change>,
}

impl ApplyReport {
    /// Whether webhooks were enabled on the account on the way (CXTN refused a create because they were not).
    #[must_use]
    pub fn enabled_webhooks(&self) -> bool {
        self.enabled
    }

    /// The changes CXTN accepted, in order.
    #[must_use]
    pub fn applied(&self) -> &[Change] {
        &self.applied
    }

    /// The change that failed. CXTN refused it, or, when no answer came (a timeout or a lost connection),
    /// it may have been applied: the next plan tells.
    #[must_use]
    pub fn failed(&self) -> Option<&Change> {
        self.failed.as_ref()
    }

    /// The changes after the one that failed, which were not attempted.
    #[must_use]
    pub fn not_attempted(&self) -> &[Change] {
        &self.not_attempted
    }

    /// The changes not applied: the one that failed, then those not attempted.
    pub fn not_applied(&self) -> impl Iterator<Item = &Change> {
        self.failed.iter().chain(&self.not_attempted)
    }

    /// Whether every change was applied.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.failed.is_none() && self.not_attempted.is_empty()
    }

    /// Whether nothing was changed: the plan was empty.
    #[must_use]
    pub fn is_unchanged(&self) -> bool {
        self.applied.is_empty() && !self.enabled && self.is_complete()
    }
}

impl fmt::Display for ApplyReport {
    /// One line per change applied, then the one that failed and those not attempted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.enabled {
            f.write_str("enabled webhooks\n")?;
        }
        write_lines(f, &self.applied)?;
        if let Some(failed) = &self.failed {
            if !self.applied.is_empty() {
                f.write_str("\n")?;
            }
            write!(f, "failed: {failed}")?;
            for change in &self.not_attempted {
                write!(f, "\nnot attempted: {change}")?;
            }
        }
        Ok(())
    }
}

/// A [`Plan::apply`] that stopped at a change CXTN refused or did not answer.
///
/// It says what was applied and what was not; [`ApplyError::report`] gives both, and the source is the
/// management [`Error`] of the change that failed. The message shows URLs with their paths redacted.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ApplyError {
    report: ApplyReport,
    #[source]
    error: Error,
}

impl ApplyError {
    fn describe(&self) -> String {
        let report = &self.report;
        let Some(failed) = &report.failed else {
            return format!("nothing was applied: {}", self.error);
        };
        let not_applied: Vec<Change> = report.not_applied().cloned().collect();
        format!(
            "apply stopped at `{failed}`: {}; applied {} of {} changes ({}{}); not applied: {}",
            self.error,
            report.applied.len(),
            report.applied.len() + not_applied.len(),
            if report.enabled { "enabled webhooks; " } else { "" },
            join(&report.applied),
            join(&not_applied),
        )
    }

    /// What was applied, what failed and what was not attempted.
    #[must_use]
    pub fn report(&self) -> &ApplyReport {
        &self.report
    }

    /// The management error of the change that failed.
    #[must_use]
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The kind of the management error.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.error.kind()
    }

    /// The report and the error, apart.
    #[must_use]
    pub fn into_parts(self) -> (ApplyReport, Error) {
        (self.report, self.error)
    }
}

impl Client {
    /// Lists the endpoints and computes the [`Plan`] that makes them match `desired`: one call.
    ///
    /// # Errors
    ///
    /// As [`Client::list`].
    pub async fn plan(&self, desired: &Desired) -> Result<Plan, Error> {
        let current = self.list().await?;
        Ok(Plan::compute(desired, &current))
    }

    /// Makes the endpoints match `desired`: [`Client::plan`], then [`Plan::apply`].
    /// When they already match, that is one call (the list); safe to run at every start of an application.
    ///
    /// # Errors
    ///
    /// As [`Plan::apply`]; when the list fails, an [`ApplyError`] whose report holds no change.
    pub async fn converge(&self, desired: &Desired) -> Result<ApplyReport, ApplyError> {
        let plan = self.plan(desired).await.map_err(|error| ApplyError {
            report: ApplyReport::default(),
            error,
        })?;
        plan.apply(self).await
    }
}

#[cfg(test)]
mod tests;
