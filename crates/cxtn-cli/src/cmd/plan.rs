//! `cxtn webhooks plan` and `cxtn webhooks apply`: the endpoints a `cxtn-webhooks.toml` file describes,
//! compared with CXTN's, and made to match.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use clap::Args;
use cxtn::Environment;
use cxtn::model::EndpointUrl;
use cxtn::webhooks::plan::{ApplyReport, Change, Desired, DesiredErrorKind, Plan};
use serde::Serialize;

use crate::error::CliError;
use crate::ui::{BAD, DIM, GOOD, Render, Ui, WARN};

/// The exit code of `plan` when CXTN differs from the file.
pub(crate) const DRIFT_EXIT_CODE: u8 = 3;

/// The file read unless `-f` names another.
const DEFAULT_FILE: &str = "cxtn-webhooks.toml";

const FORMAT_HELP: &str = "\
The file (the CLI README gives the whole format):
  unlisted = \"ignore\"            # or \"inactive\": what to do with the event types the file does not name
  absent = [\"Wallet\"]            # event types that must have no active endpoint
  [endpoints.Payment]
  url = \"https://hooks.example.com/cxtn/${CXTN_PATH_TOKEN}\"   # ${VAR} comes from the environment
  status = \"active\"              # active (the default), inactive or paused
URLs are printed with their paths redacted unless --show-urls.";

#[derive(Debug, Args)]
#[command(after_help = format!("{FORMAT_HELP}\n\
Exit codes: 0 CXTN matches the file, 3 it differs (drift), 1 the API call failed, 2 wrong usage or a bad file."))]
pub(crate) struct PlanArgs {
    /// The file that says what the endpoints should be, or - for standard input
    #[arg(short, long, value_name = "PATH", default_value = DEFAULT_FILE)]
    pub(crate) file: PathBuf,
}

#[derive(Debug, Args)]
#[command(after_help = format!("{FORMAT_HELP}\n\
Creates and URL edits go first, then statuses, but an endpoint that moves and should stop delivering is stopped\n\
before it moves. Webhooks are enabled on the account only when CXTN refuses a create because they are not.\n\
A second run changes nothing.\n\
Exit codes: 0 CXTN matches the file now, 1 a call failed (what was and was not applied is printed), 2 wrong usage\n\
or a bad file."))]
pub(crate) struct ApplyArgs {
    /// The file that says what the endpoints should be, or - for standard input
    #[arg(short, long, value_name = "PATH", default_value = DEFAULT_FILE)]
    pub(crate) file: PathBuf,
}

/// `cxtn webhooks plan`: prints the changes; exits [`DRIFT_EXIT_CODE`] when there are some.
pub(crate) async fn plan(client: &cxtn::Client, args: PlanArgs, show_urls: bool, ui: &Ui) -> Result<(), CliError> {
    let desired = read(&args.file)?;
    warn_silent(&desired, ui);
    let plan = {
        let _spinner = ui.spinner("reading the endpoints");
        client.webhooks().plan(&desired).await?
    };
    note_ignored(&plan, ui);
    let view = PlanView::new(&plan, &args.file, place(client.webhooks().environment()), show_urls);
    ui.render(&view)?;
    if plan.is_in_sync() {
        return Ok(());
    }
    let _ = std::io::stdout().flush();
    std::process::exit(i32::from(DRIFT_EXIT_CODE));
}

/// `cxtn webhooks apply`: makes the changes and reports each; on a failure, the partial report, then the error.
pub(crate) async fn apply(client: &cxtn::Client, args: ApplyArgs, show_urls: bool, ui: &Ui) -> Result<(), CliError> {
    let desired = read(&args.file)?;
    warn_silent(&desired, ui);
    let plan = {
        let _spinner = ui.spinner("reading the endpoints");
        client.webhooks().plan(&desired).await?
    };
    note_ignored(&plan, ui);
    let place = place(client.webhooks().environment());
    let applied = {
        let _spinner = ui.spinner("applying the changes");
        plan.apply(client.webhooks()).await
    };
    match applied {
        Ok(report) => ui.render(&ApplyView::new(&report, None, &args.file, place, show_urls)),
        Err(error) => {
            let (report, error) = error.into_parts();
            ui.render(&ApplyView::new(&report, Some(&error), &args.file, place, show_urls))?;
            let unanswered = matches!(
                error.kind(),
                cxtn::webhooks::ErrorKind::Timeout | cxtn::webhooks::ErrorKind::Transport
            );
            if unanswered && report.failed().is_some() {
                ui.warn(format!(
                    "no answer came for the change that failed, so CXTN may have made it; `cxtn webhooks plan -f {}` tells",
                    args.file.display()
                ));
            }
            Err(CliError::from(error))
        }
    }
}

/// Reads and checks the file; every problem is wrong usage (exit 2) naming the file, and the line and column.
fn read(path: &Path) -> Result<Desired, CliError> {
    let stdin = path.as_os_str() == "-";
    let name = if stdin {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    let mut text = String::new();
    let read = if stdin {
        std::io::stdin().read_to_string(&mut text).map(drop)
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    if let Err(e) = read {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            "Write the file (its format is in `cxtn webhooks plan --help`), or name another with -f PATH.".to_owned()
        } else {
            "Check the path given to -f.".to_owned()
        };
        return Err(CliError::usage(format!("cannot read {name}: {e}")).hint(hint));
    }
    Desired::from_toml_str(&text, |variable| std::env::var(variable).ok()).map_err(|e| {
        let hint = match e.kind() {
            DesiredErrorKind::Variable if e.variable().is_some() => {
                "Export the variable in the environment cxtn runs in; its value is never printed."
            }
            _ => "The format is in `cxtn webhooks plan --help` and the CLI README.",
        };
        CliError::usage(format!("{name}: {e}")).hint(hint)
    })
}

fn warn_silent(desired: &Desired, ui: &Ui) {
    let silent: Vec<String> = desired
        .endpoints()
        .iter()
        .filter(|e| e.status.is_active() && !e.event_type.sends_notifications())
        .map(|e| e.event_type.to_string())
        .collect();
    if !silent.is_empty() {
        ui.warn(format!(
            "CXTN sends no notifications for {}, so an Active endpoint there receives nothing; use Payment or AccountTransaction",
            silent.join(", ")
        ));
    }
}

fn note_ignored(plan: &Plan, ui: &Ui) {
    for endpoint in plan.ignored() {
        ui.note(format!(
            "CXTN lists an endpoint for the event type {}, which this version does not know; it is left as it is",
            endpoint.event_type
        ));
    }
}

fn place(environment: &Environment) -> String {
    match environment {
        Environment::Custom(url) => url.clone(),
        other => other.name().to_owned(),
    }
}

/// One change as printed: `--json` tags it with `action`.
#[derive(Serialize)]
#[serde(tag = "action", rename_all = "lowercase", rename_all_fields = "camelCase")]
enum ChangeView {
    Create {
        event_type: String,
        event_type_value: Option<u8>,
        url: String,
    },
    Edit {
        event_type: String,
        event_type_value: Option<u8>,
        from: String,
        to: String,
    },
    Status {
        event_type: String,
        event_type_value: Option<u8>,
        /// `null` for an endpoint the plan creates.
        from: Option<String>,
        to: String,
    },
}

impl ChangeView {
    fn new(change: &Change, show_urls: bool) -> Self {
        let url = |url: &EndpointUrl| {
            if show_urls {
                url.as_str().to_owned()
            } else {
                // A URL CXTN lists was never checked: one that does not read as a URL shows nothing, and one that
                // does shows its host as a request reads it (a `\` ends the host as a `/` does).
                url.split_credentials().map_or_else(
                    || "<redacted>".to_owned(),
                    |(bare, _)| EndpointUrl::new(bare).redacted(),
                )
            }
        };
        let event_type = change.event_type().to_string();
        let event_type_value = change.event_type().value();
        match change {
            Change::Edit { from, to, .. } => Self::Edit {
                event_type,
                event_type_value,
                from: url(from),
                to: url(to),
            },
            Change::SetStatus { from, to, .. } => Self::Status {
                event_type,
                event_type_value,
                from: from.as_ref().map(ToString::to_string),
                to: to.to_string(),
            },
            Change::Create { url: to, .. } => Self::Create {
                event_type,
                event_type_value,
                url: url(to),
            },
            // A change this version of the CLI does not know how to show.
            _ => Self::Status {
                event_type,
                event_type_value,
                from: None,
                to: change.action().to_owned(),
            },
        }
    }

    /// One line for people: a sign, then what changes.
    fn line(&self, ui: &Ui) -> String {
        let clean = |text: &str| crate::ui::clean(text).into_owned();
        match self {
            Self::Create { event_type, url, .. } => {
                format!(
                    "{} create {} at {}",
                    ui.paint(GOOD, "+"),
                    clean(event_type),
                    ui.paint(DIM, url)
                )
            }
            Self::Edit {
                event_type, from, to, ..
            } => {
                let what = if from == to {
                    format!("{} (the redacted part of the URL differs)", ui.paint(DIM, to))
                } else {
                    format!("{} -> {}", ui.paint(DIM, from), ui.paint(DIM, to))
                };
                format!("{} edit {}: {what}", ui.paint(WARN, "~"), clean(event_type))
            }
            Self::Status {
                event_type, from, to, ..
            } => {
                let what = match from {
                    Some(from) => format!("{} -> {}", clean(from), clean(to)),
                    None => format!("{} (new endpoint)", clean(to)),
                };
                format!("{} status {}: {what}", ui.paint(WARN, "~"), clean(event_type))
            }
        }
    }
}

/// What `plan` prints.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PlanView {
    operation: &'static str,
    in_sync: bool,
    changes: Vec<ChangeView>,
    #[serde(skip)]
    file: String,
    #[serde(skip)]
    place: String,
}

impl PlanView {
    fn new(plan: &Plan, file: &Path, place: String, show_urls: bool) -> Self {
        Self {
            operation: "plan",
            in_sync: plan.is_in_sync(),
            changes: plan.changes().iter().map(|c| ChangeView::new(c, show_urls)).collect(),
            file: file.display().to_string(),
            place,
        }
    }
}

impl Render for PlanView {
    fn human(&self, ui: &Ui) {
        let (file, place) = (crate::ui::clean(&self.file), crate::ui::clean(&self.place));
        if self.in_sync {
            ui.out(format!("In sync: the endpoints on {place} match {file}."));
            return;
        }
        let count = self.changes.len();
        ui.out(format!(
            "{} {count} change{} to make the endpoints on {place} match {file}:",
            ui.paint(WARN, "Drift:"),
            if count == 1 { "" } else { "s" }
        ));
        for change in &self.changes {
            ui.out(format!("  {}", change.line(ui)));
        }
        ui.out(format!("Run `cxtn webhooks apply -f {file}` to make them."));
    }
}

/// What `apply` prints, done or stopped halfway.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApplyView {
    operation: &'static str,
    ok: bool,
    changed: bool,
    enabled_webhooks: bool,
    applied: Vec<ChangeView>,
    failed: Option<ChangeView>,
    not_applied: Vec<ChangeView>,
    error: Option<String>,
    #[serde(skip)]
    file: String,
    #[serde(skip)]
    place: String,
}

impl ApplyView {
    fn new(
        report: &ApplyReport,
        error: Option<&cxtn::webhooks::Error>,
        file: &Path,
        place: String,
        show_urls: bool,
    ) -> Self {
        let view = |change: &Change| ChangeView::new(change, show_urls);
        Self {
            operation: "apply",
            ok: error.is_none(),
            changed: !report.is_unchanged(),
            enabled_webhooks: report.enabled_webhooks(),
            applied: report.applied().iter().map(view).collect(),
            failed: report.failed().map(view),
            not_applied: report.not_applied().map(view).collect(),
            error: error.map(ToString::to_string),
            file: file.display().to_string(),
            place,
        }
    }
}

impl Render for ApplyView {
    fn human(&self, ui: &Ui) {
        let (file, place) = (crate::ui::clean(&self.file), crate::ui::clean(&self.place));
        if self.ok && !self.changed {
            ui.out(format!("Nothing to change: the endpoints on {place} match {file}."));
            return;
        }
        let total = self.applied.len() + self.not_applied.len();
        if self.ok {
            ui.out(format!(
                "Applied {total} change{} on {place}; the endpoints match {file}:",
                if total == 1 { "" } else { "s" }
            ));
        } else {
            ui.out(format!(
                "Applied {} of {total} changes on {place}, then a call failed:",
                self.applied.len()
            ));
        }
        if self.enabled_webhooks {
            ui.out(format!("  {} enabled webhooks on the account", ui.paint(GOOD, "+")));
        }
        for change in &self.applied {
            ui.out(format!("  {}", change.line(ui)));
        }
        if let Some(failed) = &self.failed {
            ui.out(format!("  {} {}", ui.paint(BAD, "failed:"), failed.line(ui)));
        }
        for change in self.not_applied.iter().skip(usize::from(self.failed.is_some())) {
            ui.out(format!("  {} {}", ui.paint(DIM, "not attempted:"), change.line(ui)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_views_redact_unless_asked() {
        let desired = Desired::builder()
            .endpoint(cxtn::WebhookEventType::Payment, "https://hooks.example.com/cxtn/s3cret")
            .build()
            .unwrap();
        let plan = Plan::compute(&desired, &[]);
        let json = serde_json::to_string(&PlanView::new(&plan, Path::new("f.toml"), "here".to_owned(), false)).unwrap();
        assert_eq!(
            json,
            r#"{"operation":"plan","inSync":false,"changes":[{"action":"create","eventType":"Payment","eventTypeValue":1,"url":"https://hooks.example.com/<redacted>"},{"action":"status","eventType":"Payment","eventTypeValue":1,"from":null,"to":"Active"}]}"#
        );
        let shown = serde_json::to_string(&ChangeView::new(&plan.changes()[0], true)).unwrap();
        assert!(shown.contains("/cxtn/s3cret"), "{shown}");
    }
}
