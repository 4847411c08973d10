//! `cxtn inbox`: what a receiver stored, its rejections and dead letters, and replays.

use std::sync::Arc;

use cxtn::Notification;
use cxtn::receiver::{
    self, ConflictRecord, EventFilter, EventId, EventRecord, EventStatus, Inbox, InboxStats, RejectionRecord,
    ReplayTarget,
};
use serde::Serialize;

use crate::cli::{InboxArgs, InboxCommand, InboxListArgs, InboxShowArgs, InboxTarget, StatusFilter};
use crate::error::CliError;
use crate::store::{self, Access};
use crate::summary;
use crate::ui::{BAD, Cell, DIM, GOOD, ID, Render, Ui, WARN, clean, clean_lines, rfc3339_ms, time_ms};

pub(crate) mod export;
mod prune;

pub(crate) async fn run(args: InboxArgs, ui: &Ui) -> Result<(), CliError> {
    if let InboxCommand::Vacuum = args.command {
        crate::cmd::warn_secret_flags(ui, &args.secret_flags);
        return prune::vacuum(ui, &args.db).await;
    }
    // Only a replay and a prune write; every other command reads the inbox and leaves its file as it is.
    let access = match &args.command {
        InboxCommand::Replay(_) => Access::Existing,
        InboxCommand::Prune(prune) if !prune.dry_run => Access::Existing,
        _ => Access::ReadOnly,
    };
    let inbox = store::open(&args.db, &args.schema, access).await?;
    crate::cmd::warn_secret_flags(ui, &args.secret_flags);
    match args.command {
        InboxCommand::List(list) if list.rejected => list_rejections(ui, &inbox, &list).await,
        InboxCommand::List(list) => list_events(ui, &inbox, &list).await,
        InboxCommand::Show(InboxShowArgs { target, body }) => match target_of(target)? {
            ReplayTarget::Rejection(id) => show_rejection(ui, &inbox, id).await,
            ReplayTarget::Event(id) => show_event(ui, &inbox, &id, body).await,
            _ => Err(CliError::usage("give an EVENT_ID or --rejection ID")),
        },
        InboxCommand::Replay(target) => replay(ui, &inbox, target_of(target)?).await,
        InboxCommand::Stats => stats(ui, &inbox).await,
        InboxCommand::Prune(args) => prune::prune(ui, &inbox, &args).await,
        InboxCommand::Vacuum => prune::vacuum(ui, &args.db).await,
        InboxCommand::Export(export) => export::export(ui, &inbox, &export).await,
    }
}

fn target_of(target: InboxTarget) -> Result<ReplayTarget, CliError> {
    match (target.event_id, target.rejection) {
        (Some(event_id), None) => Ok(ReplayTarget::Event(EventId::new(event_id))),
        (None, Some(id)) => Ok(ReplayTarget::Rejection(id)),
        _ => Err(CliError::usage("give either an EVENT_ID or --rejection ID, not both")),
    }
}

async fn list_events(ui: &Ui, inbox: &Arc<dyn Inbox>, args: &InboxListArgs) -> Result<(), CliError> {
    let mut filter = EventFilter::all().limit(usize::try_from(args.limit).unwrap_or(usize::MAX));
    let status = match (args.status, args.quarantined) {
        (Some(status), _) => Some(status_of(status)),
        (None, true) => Some(EventStatus::Quarantined),
        (None, false) => None,
    };
    if let Some(status) = status {
        filter = filter.status(status);
    }
    if args.conflicts {
        filter = filter.with_conflicts();
    }
    let events = inbox.events(filter).await?;
    ui.render(&Events {
        records: events.iter().map(Record::new).collect(),
        status,
        conflicts: args.conflicts,
    })
}

async fn list_rejections(ui: &Ui, inbox: &Arc<dyn Inbox>, args: &InboxListArgs) -> Result<(), CliError> {
    let rejections = inbox
        .rejections(usize::try_from(args.limit).unwrap_or(usize::MAX))
        .await?;
    ui.render(&Rejections(rejections.iter().map(Rejection::new).collect()))
}

async fn show_event(ui: &Ui, inbox: &Arc<dyn Inbox>, event_id: &EventId, bodies: bool) -> Result<(), CliError> {
    let record = inbox.event(event_id).await?.ok_or_else(|| {
        CliError::failed(format!("no stored event has the id `{event_id}`"))
            .hint("List the stored events with `cxtn inbox list`.")
    })?;
    let conflicts = if record.conflicts > 0 {
        inbox.conflicts(event_id).await?
    } else {
        Vec::new()
    };
    ui.render(&Shown {
        record: Record::new(&record),
        body: String::from_utf8_lossy(&record.body).into_owned(),
        notification: cxtn::events::parse(&record.body).ok(),
        conflicting_versions: conflicts.iter().map(|c| Version::new(c, bodies)).collect(),
    })
}

async fn show_rejection(ui: &Ui, inbox: &Arc<dyn Inbox>, id: i64) -> Result<(), CliError> {
    let rejection = inbox.rejection(id).await?.ok_or_else(|| {
        CliError::failed(format!("no rejected delivery has the id {id}"))
            .hint("List them with `cxtn inbox list --rejected`.")
    })?;
    ui.render(&ShownRejection {
        rejection: Rejection::new(&rejection),
        body: String::from_utf8_lossy(&rejection.body).into_owned(),
    })
}

async fn replay(ui: &Ui, inbox: &Arc<dyn Inbox>, target: ReplayTarget) -> Result<(), CliError> {
    let rejection = match &target {
        ReplayTarget::Rejection(id) => Some(*id),
        _ => None,
    };
    let event_id = receiver::replay(inbox.as_ref(), target).await.map_err(|e| {
        let not_found = e.kind() == receiver::ErrorKind::NotFound;
        let error = CliError::from(e);
        if not_found {
            error.hint("List what the inbox holds with `cxtn inbox list` or `cxtn inbox list --rejected`.")
        } else {
            error
        }
    })?;
    ui.render(&Replayed {
        operation: "replay",
        ok: true,
        event_id: event_id.as_str(),
        rejection,
    })
}

async fn stats(ui: &Ui, inbox: &Arc<dyn Inbox>) -> Result<(), CliError> {
    ui.render(&Stats::from(inbox.stats().await?))
}

fn status_of(filter: StatusFilter) -> EventStatus {
    match filter {
        StatusFilter::Pending => EventStatus::Pending,
        StatusFilter::Processing => EventStatus::Processing,
        StatusFilter::Processed => EventStatus::Processed,
        StatusFilter::Dead => EventStatus::Dead,
        StatusFilter::Quarantined => EventStatus::Quarantined,
    }
}

fn status_style(status: EventStatus) -> anstyle::Style {
    match status {
        EventStatus::Processed => GOOD,
        EventStatus::Dead | EventStatus::Quarantined => BAD,
        _ => WARN,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    event_id: &'a str,
    event: &'a str,
    subscription: Option<&'a str>,
    status: &'static str,
    attempts: u32,
    deliveries: u32,
    conflicts: u32,
    last_error: Option<&'a str>,
    quarantine_reason: Option<&'a str>,
    body_hash: String,
    received_at_ms: i64,
    received_at: Option<String>,
    next_attempt_at_ms: i64,
    #[serde(skip)]
    record: &'a EventRecord,
}

impl<'a> Record<'a> {
    fn new(record: &'a EventRecord) -> Self {
        Self {
            event_id: record.event_id.as_str(),
            event: &record.event,
            subscription: record.subscription.as_deref(),
            status: record.status.as_str(),
            attempts: record.attempts,
            deliveries: record.deliveries,
            conflicts: record.conflicts,
            last_error: record.last_error.as_deref(),
            quarantine_reason: record.quarantine_reason.as_deref(),
            body_hash: record.body_hash.to_hex(),
            received_at_ms: record.received_at_ms,
            received_at: rfc3339_ms(record.received_at_ms),
            next_attempt_at_ms: record.next_attempt_at_ms,
            record,
        }
    }
}

/// The events `list` shows, and what they were filtered on.
#[derive(Serialize)]
#[serde(transparent)]
struct Events<'a> {
    records: Vec<Record<'a>>,
    #[serde(skip)]
    status: Option<EventStatus>,
    #[serde(skip)]
    conflicts: bool,
}

impl Render for Events<'_> {
    fn human(&self, ui: &Ui) {
        if self.records.is_empty() {
            ui.out(match (self.status, self.conflicts) {
                (_, true) => "No events arrived with a different body.".to_owned(),
                (Some(status), false) => format!("No {status} events."),
                (None, false) => "The inbox holds no events.".to_owned(),
            });
            return;
        }
        let rows: Vec<Vec<Cell>> = self
            .records
            .iter()
            .map(|Record { record: e, .. }| {
                // A quarantined event's reason stands in for an error it never had.
                let note = match (&e.last_error, e.status) {
                    (Some(error), _) => error.as_str(),
                    (None, EventStatus::Quarantined) => e.quarantine_reason.as_deref().unwrap_or(""),
                    (None, _) => "",
                };
                vec![
                    Cell::styled(&e.event_id, ID),
                    Cell::new(&e.event),
                    Cell::styled(e.status, status_style(e.status)),
                    Cell::new(e.attempts),
                    Cell::new(e.deliveries),
                    if e.conflicts > 0 {
                        Cell::styled(e.conflicts, WARN)
                    } else {
                        Cell::new("")
                    },
                    Cell::new(time_ms(e.received_at_ms)),
                    Cell::styled(note, DIM),
                ]
            })
            .collect();
        ui.table(
            &[
                "EVENT ID",
                "EVENT",
                "STATUS",
                "ATTEMPTS",
                "DELIVERIES",
                "CONFLICTS",
                "RECEIVED",
                "LAST ERROR",
            ],
            &rows,
        );
    }
}

/// A conflicting version of an event: a different body under the same id.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Version {
    body_hash: String,
    deliveries: u32,
    received_at_ms: i64,
    received_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
}

impl Version {
    fn new(conflict: &ConflictRecord, body: bool) -> Self {
        Self {
            body_hash: conflict.body_hash.to_hex(),
            deliveries: conflict.deliveries,
            received_at_ms: conflict.received_at_ms,
            received_at: rfc3339_ms(conflict.received_at_ms),
            body: body.then(|| String::from_utf8_lossy(&conflict.body).into_owned()),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Shown<'a> {
    #[serde(flatten)]
    record: Record<'a>,
    body: String,
    notification: Option<Notification>,
    conflicting_versions: Vec<Version>,
}

impl Render for Shown<'_> {
    fn human(&self, ui: &Ui) {
        let record = self.record.record;
        let mut fields = vec![
            ("event id".to_owned(), clean(record.event_id.as_str()).into_owned()),
            ("event".to_owned(), clean(&record.event).into_owned()),
            (
                "subscription".to_owned(),
                record
                    .subscription
                    .as_deref()
                    .map_or_else(|| "none known".to_owned(), |s| clean(s).into_owned()),
            ),
            (
                "status".to_owned(),
                ui.paint(status_style(record.status), record.status),
            ),
            ("attempts".to_owned(), record.attempts.to_string()),
            ("deliveries".to_owned(), record.deliveries.to_string()),
            ("received".to_owned(), time_ms(record.received_at_ms)),
        ];
        if matches!(record.status, EventStatus::Pending) {
            fields.push(("next attempt".to_owned(), time_ms(record.next_attempt_at_ms)));
        }
        if let Some(error) = &record.last_error {
            fields.push(("last error".to_owned(), clean(error).into_owned()));
        }
        if let Some(reason) = &record.quarantine_reason {
            let label = if record.status == EventStatus::Quarantined {
                "quarantined"
            } else {
                "was quarantined"
            };
            fields.push((label.to_owned(), clean(reason).into_owned()));
        }
        if record.conflicts > 0 {
            fields.push((
                "conflicts".to_owned(),
                ui.paint(
                    WARN,
                    format!(
                        "{} other bodies arrived under this id; the body below is the one processed",
                        record.conflicts
                    ),
                ),
            ));
        }
        fields.push(("body hash".to_owned(), self.record.body_hash.clone()));
        ui.fields(&fields);
        if let Some(notification) = &self.notification {
            ui.out("");
            ui.fields(&summary::lines(notification, ui.verbose()));
        }
        ui.out("");
        ui.out(ui.paint(DIM, "body, as received:"));
        ui.out(clean_lines(&self.body));
        if self.conflicting_versions.is_empty() {
            return;
        }
        ui.out("");
        ui.out(ui.paint(DIM, "conflicting versions, oldest first:"));
        let rows: Vec<Vec<Cell>> = self
            .conflicting_versions
            .iter()
            .map(|v| {
                vec![
                    Cell::styled(&v.body_hash, ID),
                    Cell::new(v.deliveries),
                    Cell::new(time_ms(v.received_at_ms)),
                ]
            })
            .collect();
        ui.table(&["BODY HASH", "DELIVERIES", "RECEIVED"], &rows);
        for version in &self.conflicting_versions {
            if let Some(body) = &version.body {
                ui.out("");
                ui.out(ui.paint(DIM, format!("body {}, as received:", version.body_hash)));
                ui.out(clean_lines(body));
            }
        }
        if self.conflicting_versions.iter().all(|v| v.body.is_none()) {
            ui.out(ui.paint(DIM, "--body prints their bodies."));
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rejection<'a> {
    id: i64,
    kind: &'a str,
    reason: &'a str,
    replayed_as: Option<&'a str>,
    received_at_ms: i64,
    received_at: Option<String>,
}

impl<'a> Rejection<'a> {
    fn new(rejection: &'a RejectionRecord) -> Self {
        Self {
            id: rejection.id,
            kind: &rejection.kind,
            reason: &rejection.reason,
            replayed_as: rejection.replayed_as.as_ref().map(EventId::as_str),
            received_at_ms: rejection.received_at_ms,
            received_at: rfc3339_ms(rejection.received_at_ms),
        }
    }
}

/// The rejected deliveries `list --rejected` shows.
#[derive(Serialize)]
#[serde(transparent)]
struct Rejections<'a>(Vec<Rejection<'a>>);

impl Render for Rejections<'_> {
    fn human(&self, ui: &Ui) {
        if self.0.is_empty() {
            ui.out("No rejected deliveries.");
            return;
        }
        let rows: Vec<Vec<Cell>> = self
            .0
            .iter()
            .map(|r| {
                vec![
                    Cell::styled(r.id, ID),
                    Cell::new(time_ms(r.received_at_ms)),
                    Cell::new(r.kind),
                    Cell::new(r.replayed_as.unwrap_or("")),
                    Cell::styled(r.reason, DIM),
                ]
            })
            .collect();
        ui.table(&["ID", "RECEIVED", "KIND", "REPLAYED AS", "REASON"], &rows);
    }
}

#[derive(Serialize)]
struct ShownRejection<'a> {
    #[serde(flatten)]
    rejection: Rejection<'a>,
    body: String,
}

impl Render for ShownRejection<'_> {
    fn human(&self, ui: &Ui) {
        let r = &self.rejection;
        let mut fields = vec![
            ("rejection".to_owned(), r.id.to_string()),
            ("received".to_owned(), time_ms(r.received_at_ms)),
            ("kind".to_owned(), clean(r.kind).into_owned()),
            ("reason".to_owned(), clean(r.reason).into_owned()),
        ];
        if let Some(event_id) = r.replayed_as {
            fields.push(("replayed as".to_owned(), clean(event_id).into_owned()));
        }
        ui.fields(&fields);
        ui.out("");
        ui.out(ui.paint(DIM, "body, as received:"));
        ui.out(clean_lines(&self.body));
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Replayed<'a> {
    operation: &'static str,
    ok: bool,
    event_id: &'a str,
    rejection: Option<i64>,
}

impl Render for Replayed<'_> {
    fn human(&self, ui: &Ui) {
        let from = self.rejection.map_or_else(String::new, |id| {
            format!("Rejection {id} parses now and is stored as an event; ")
        });
        ui.out(format!(
            "{from}{} is pending again: a running `cxtn listen --forward-to` or worker on this inbox hands it over.",
            ui.paint(ID, self.event_id)
        ));
    }
}

#[derive(Serialize)]
struct Stats {
    pending: u64,
    processing: u64,
    processed: u64,
    dead: u64,
    quarantined: u64,
    rejected: u64,
    duplicates: u64,
    conflicts: u64,
}

impl From<InboxStats> for Stats {
    fn from(s: InboxStats) -> Self {
        Self {
            pending: s.pending,
            processing: s.processing,
            processed: s.processed,
            dead: s.dead,
            quarantined: s.quarantined,
            rejected: s.rejected,
            duplicates: s.duplicates,
            conflicts: s.conflicts,
        }
    }
}

impl Render for Stats {
    fn human(&self, ui: &Ui) {
        let line = |name: &str, count: u64, style| (name.to_owned(), ui.paint(style, count));
        let alarm = |count: u64| if count > 0 { BAD } else { DIM };
        ui.fields(&[
            line("pending", self.pending, if self.pending > 0 { WARN } else { DIM }),
            line("processing", self.processing, DIM),
            line("processed", self.processed, GOOD),
            line("dead", self.dead, alarm(self.dead)),
            line("quarantined", self.quarantined, alarm(self.quarantined)),
            line("rejected", self.rejected, alarm(self.rejected)),
            line("duplicates", self.duplicates, DIM),
            line("conflicts", self.conflicts, if self.conflicts > 0 { WARN } else { DIM }),
        ]);
    }
}
