//! `cxtn trigger`: sample notifications POSTed straight to a receiver.

use std::time::Duration;

use cxtn::events::samples;
use cxtn::model::EventKind;
use cxtn::sandbox::Trigger;
use cxtn_transport::Bytes;
use serde::Serialize;

use crate::cli::TriggerArgs;
use crate::error::CliError;
use crate::http::{Poster, Target};
use crate::ui::{BAD, GOOD, ID, Render, Ui};

/// How long one delivery may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn run(args: TriggerArgs, ui: &Ui) -> Result<(), CliError> {
    let target = Target::parse(&args.to, "--to")?;
    let trigger = template(&args)?;
    let first = trigger.prepare()?;
    if let Err(e) = cxtn::events::parse(first.body.as_bytes()) {
        ui.warn(format!(
            "with these --set values the notification does not parse as CXTN's ({e}); sending it anyway"
        ));
    }
    let poster = Poster::new(TIMEOUT)?;
    let copies = if args.duplicate { 2 } else { 1 };
    let mut attempted = 0_u32;
    let mut unreachable = false;
    let mut accepted = 0_u32;
    let mut next = Some(first);
    'notifications: for _ in 0..args.count {
        let prepared = match next.take() {
            Some(prepared) => prepared,
            None => trigger.prepare()?,
        };
        let event_id = prepared.event_id.as_str();
        let body = Bytes::from(prepared.body);
        for copy in 1..=copies {
            attempted += 1;
            let result = poster.post(&target, body.clone()).await;
            let sent = Sent {
                event_id,
                event: trigger.event(),
                encoding: if args.data_as_string { "string" } else { "object" },
                duplicate: copy > 1,
                status: result.as_ref().ok().copied(),
                ok: result.as_ref().is_ok_and(|s| (200..300).contains(s)),
                error: result.as_ref().err().map(ToString::to_string),
            };
            if sent.ok {
                accepted += 1;
            }
            ui.render(&sent)?;
            if result.is_err() {
                unreachable = true;
                break 'notifications;
            }
        }
    }
    let total = args.count.saturating_mul(copies);
    let failed = attempted - accepted;
    ui.human(format!(
        "Sent {attempted} of {total} to {}: {accepted} accepted, {failed} not accepted.",
        target.redacted()
    ));
    if unreachable {
        return Err(CliError::failed(format!(
            "stopped at a delivery that got no answer; {accepted} of {total} were accepted"
        ))
        .hint("Check that a receiver is running at the --to URL."));
    }
    if failed > 0 {
        return Err(CliError::failed(format!(
            "{failed} of {total} deliveries were not accepted (no 2xx answer)"
        ))
        .hint("Check the receiver's URL, path token and credentials."));
    }
    Ok(())
}

/// The trigger for EVENT: an event name starts from its first guide sample, a sample name from that sample.
fn template(args: &TriggerArgs) -> Result<Trigger, CliError> {
    let name = args.event.trim();
    let mut trigger = if EventKind::from_name(name).is_some() {
        Trigger::new(name)
    } else if let Some(sample) = samples::find(name) {
        Trigger::from(sample)
    } else {
        let samples: Vec<&str> = samples::GUIDE.iter().map(|s| s.name).collect();
        let events: Vec<&str> = EventKind::ALL.iter().map(|k| k.name()).collect();
        return Err(
            CliError::usage(format!("`{name}` is not an event or a sample of CXTN's guide")).hint(format!(
                "Use an event ({}) or a sample ({}).",
                events.join(", "),
                samples.join(", ")
            )),
        );
    };
    trigger = trigger.data_as_string(args.data_as_string);
    for set in &args.sets {
        let value = set.value.trim();
        trigger = if serde_json::from_str::<&serde_json::value::RawValue>(value).is_ok() {
            trigger.set_json(set.field.clone(), value)
        } else {
            trigger.set(set.field.clone(), set.value.as_str())
        };
    }
    Ok(trigger)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Sent<'a> {
    event_id: &'a str,
    event: &'a str,
    encoding: &'static str,
    duplicate: bool,
    status: Option<u16>,
    ok: bool,
    error: Option<String>,
}

impl Render for Sent<'_> {
    fn human(&self, ui: &Ui) {
        let status = match self.status {
            Some(status) => ui.paint(if self.ok { GOOD } else { BAD }, status),
            None => ui.paint(BAD, "---"),
        };
        let mut line = format!("{status}  {}  {}", ui.paint(ID, self.event_id), self.event);
        if self.duplicate {
            line.push_str("  (duplicate)");
        }
        if let Some(error) = &self.error {
            line.push_str("  ");
            line.push_str(error);
        }
        ui.out(line);
    }
}
