//! `cxtn webhooks`: endpoint management through the CXTN API.

use std::future::Future;
use std::io::{BufRead, IsTerminal};

use cxtn::model::{Endpoint, EndpointUrl};
use cxtn::{EndpointStatus, Environment, WebhookEventType};
use serde::Serialize;

use crate::cli::{EndpointArgs, WebhooksArgs, WebhooksCommand};
use crate::client;
use crate::error::CliError;
use crate::ui::{BAD, Cell, DIM, GOOD, Render, Ui, WARN};

pub(crate) async fn run(args: WebhooksArgs, ui: &Ui) -> Result<(), CliError> {
    let client = client::build(&args.api)?;
    let environment = client.webhooks().environment().clone();
    if ui.verbose() > 0 {
        ui.note(format!("calling {environment}"));
    }
    let urls = Urls { show: args.show_urls };
    let place = place(&environment);
    match args.command {
        WebhooksCommand::Plan(args) => super::plan::plan(&client, args, urls.show, ui).await,
        WebhooksCommand::Apply(args) => super::plan::apply(&client, args, urls.show, ui).await,
        WebhooksCommand::Rotate(args) => super::rotate::run(&client, args, urls.show, ui).await,
        WebhooksCommand::Enable => {
            call(ui, client.webhooks().enable()).await?;
            ui.render(&Done::new("enable", place))
        }
        WebhooksCommand::Create(EndpointArgs { event_type, url }) => {
            let created = call(ui, client.webhooks().create(event_type, &url)).await?;
            if !created.sends_notifications {
                warn_silent(ui, &event_type);
            }
            ui.render(&Changed {
                url: Some(urls.show(&url)),
                sends_notifications: Some(created.sends_notifications),
                ..Changed::new("create", &event_type)
            })
        }
        WebhooksCommand::Edit(EndpointArgs { event_type, url }) => {
            call(ui, client.webhooks().edit(event_type, &url)).await?;
            ui.render(&Changed {
                url: Some(urls.show(&url)),
                ..Changed::new("edit", &event_type)
            })
        }
        WebhooksCommand::Status(args) => {
            let status = args.status.to_status();
            call(ui, client.webhooks().set_status(args.event_type, status)).await?;
            ui.render(&Changed {
                status: Some(status.to_string()),
                endpoint_status: Some(status),
                ..Changed::new("status", &args.event_type)
            })
        }
        WebhooksCommand::Deactivate(args) => {
            if !args.yes {
                confirm_deactivate(&place)?;
            }
            call(ui, client.webhooks().deactivate_all()).await?;
            ui.render(&Done::new("deactivate", place))
        }
        WebhooksCommand::List => {
            let endpoints = call(ui, client.webhooks().list()).await?;
            ui.render(&Listing(endpoints.iter().map(|e| Listed::new(e, &urls)).collect()))
        }
        WebhooksCommand::Ensure(EndpointArgs { event_type, url }) => {
            let ensured = call(ui, client.webhooks().ensure(event_type, &url)).await?;
            if !ensured.sends_notifications {
                warn_silent(ui, &event_type);
            }
            ui.render(&Changed {
                url: Some(urls.show(&url)),
                sends_notifications: Some(ensured.sends_notifications),
                enabled_webhooks: Some(ensured.enabled),
                created: Some(ensured.created),
                url_changed: Some(ensured.url_changed),
                activated: Some(ensured.activated),
                unchanged: Some(ensured.is_unchanged()),
                ..Changed::new("ensure", &event_type)
            })
        }
    }
}

/// Runs a management call with a spinner on a terminal.
async fn call<T>(ui: &Ui, future: impl Future<Output = Result<T, cxtn::webhooks::Error>>) -> Result<T, CliError> {
    let _spinner = ui.spinner("waiting for the CXTN API");
    Ok(future.await?)
}

fn warn_silent(ui: &Ui, event_type: &WebhookEventType) {
    ui.warn(format!(
        "CXTN sends no notifications for {event_type}, so this endpoint will receive nothing; use Payment or AccountTransaction"
    ));
}

fn place(environment: &Environment) -> String {
    match environment {
        Environment::Custom(url) => url.clone(),
        Environment::Sandbox => "CXTN's hosted sandbox".to_owned(),
        other => other.name().to_owned(),
    }
}

fn confirm_deactivate(place: &str) -> Result<(), CliError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::usage(
            "refusing to deactivate every endpoint without confirmation, and stdin is not a terminal to ask on",
        )
        .hint("Pass --yes to confirm."));
    }
    eprint!(
        "Deactivate every webhook endpoint on {place}? CXTN will send nothing until you set them Active again. [y/N] "
    );
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::failed(format!("cannot read the answer: {e}")))?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(CliError::failed("cancelled; nothing was deactivated"))
    }
}

fn status_style(status: &EndpointStatus) -> anstyle::Style {
    match status {
        EndpointStatus::Active => GOOD,
        EndpointStatus::Paused => WARN,
        _ => BAD,
    }
}

/// Endpoint URLs carry secrets: redacted unless `--show-urls`.
struct Urls {
    show: bool,
}

impl Urls {
    fn show(&self, url: &str) -> String {
        if self.show {
            url.to_owned()
        } else {
            EndpointUrl::new(url).redacted()
        }
    }
}

#[derive(Serialize)]
struct Done {
    operation: &'static str,
    ok: bool,
    /// Where it was done: the environment's name, or its URL.
    #[serde(skip)]
    place: String,
}

impl Done {
    fn new(operation: &'static str, place: String) -> Self {
        Self {
            operation,
            ok: true,
            place,
        }
    }
}

impl Render for Done {
    fn human(&self, ui: &Ui) {
        let place = &self.place;
        ui.out(if self.operation == "enable" {
            format!("Enabled webhooks on {place}.")
        } else {
            format!(
                "Deactivated every endpoint on {place}; set one Active again with `cxtn webhooks status --status active`."
            )
        });
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Changed {
    operation: &'static str,
    ok: bool,
    event_type: String,
    event_type_value: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sends_notifications: Option<bool>,
    /// Whether webhooks had to be enabled on the account first (`ensure`).
    #[serde(skip_serializing_if = "Option::is_none")]
    enabled_webhooks: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url_changed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    activated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unchanged: Option<bool>,
    #[serde(skip)]
    endpoint_status: Option<EndpointStatus>,
}

impl Changed {
    fn new(operation: &'static str, event_type: &WebhookEventType) -> Self {
        Self {
            operation,
            ok: true,
            event_type: event_type.to_string(),
            event_type_value: event_type.value(),
            url: None,
            status: None,
            sends_notifications: None,
            enabled_webhooks: None,
            created: None,
            url_changed: None,
            activated: None,
            unchanged: None,
            endpoint_status: None,
        }
    }
}

impl Render for Changed {
    fn human(&self, ui: &Ui) {
        let event_type = crate::ui::clean(&self.event_type);
        let url = ui.paint(DIM, self.url.as_deref().unwrap_or_default());
        ui.out(match self.operation {
            "create" => format!("Created the {event_type} endpoint: {url} (Active)."),
            "edit" => format!("The {event_type} endpoint now points at {url}."),
            "status" => {
                let status = self
                    .endpoint_status
                    .as_ref()
                    .map_or_else(String::new, |status| ui.paint(status_style(status), status));
                format!("The {event_type} endpoint is now {status}.")
            }
            _ => {
                let did: Vec<&str> = [
                    (self.enabled_webhooks, "enabled webhooks on the account"),
                    (self.created, "created it"),
                    (self.url_changed, "changed its URL"),
                    (self.activated, "set it Active"),
                ]
                .into_iter()
                .filter_map(|(done, what)| done.unwrap_or(false).then_some(what))
                .collect();
                let what = if did.is_empty() {
                    "nothing to change".to_owned()
                } else {
                    did.join(", ")
                };
                format!("The {event_type} endpoint points at {url} and is Active ({what}).")
            }
        });
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    event_type: String,
    event_type_value: Option<u8>,
    status: String,
    url: String,
    sends_notifications: bool,
    events: &'static [&'static str],
    #[serde(skip)]
    endpoint_status: EndpointStatus,
}

impl Listed {
    fn new(endpoint: &Endpoint, urls: &Urls) -> Self {
        Self {
            event_type: endpoint.event_type.to_string(),
            event_type_value: endpoint.event_type.value(),
            status: endpoint.status.to_string(),
            url: urls.show(endpoint.endpoint_url.as_str()),
            sends_notifications: endpoint.event_type.sends_notifications(),
            events: endpoint.event_type.events(),
            endpoint_status: endpoint.status,
        }
    }
}

/// The endpoints `list` shows.
#[derive(Serialize)]
#[serde(transparent)]
struct Listing(Vec<Listed>);

impl Render for Listing {
    fn human(&self, ui: &Ui) {
        if self.0.is_empty() {
            ui.out("No endpoints. Create one with `cxtn webhooks create --event-type Payment --url URL`.");
            return;
        }
        let rows: Vec<Vec<Cell>> = self
            .0
            .iter()
            .map(|e| {
                vec![
                    Cell::new(&e.event_type),
                    Cell::new(e.event_type_value.map_or_else(|| "?".to_owned(), |v| v.to_string())),
                    Cell::styled(&e.status, status_style(&e.endpoint_status)),
                    Cell::new(&e.url),
                    if e.events.is_empty() {
                        Cell::styled("none (CXTN sends nothing for this type)", WARN)
                    } else {
                        Cell::new(e.events.join(", "))
                    },
                ]
            })
            .collect();
        ui.table(&["EVENT TYPE", "VALUE", "STATUS", "URL", "NOTIFICATIONS"], &rows);
    }
}
