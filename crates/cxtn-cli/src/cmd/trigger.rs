//! `cxtn trigger`: a sample notification sent through the local simulator to the endpoint registered for it,
//! or POSTed straight to a receiver (`--to`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use cxtn::events::samples;
use cxtn::model::EventKind;
use cxtn::sandbox::Trigger;
use cxtn_transport::{Bytes, HyperTransport, Method, Request, RetryPolicy, Transport, with_retry};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::cli::TriggerArgs;
use crate::client::LOCAL_SIMULATOR_URL;
use crate::error::{CliError, Kind};
use crate::http::{Poster, Target};
use crate::ui::{BAD, DIM, GOOD, ID, Render, Ui, WARN};

/// How long one delivery, or one call to the simulator, may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(10);

/// How often the simulator's delivery log is read while deliveries are followed.
const POLL: Duration = Duration::from_millis(50);

/// The most of the simulator's answer read: its delivery log holds every delivery since it started.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

pub(crate) async fn run(args: TriggerArgs, ui: &Ui) -> Result<(), CliError> {
    let trigger = template(&args, args.data_as_string)?;
    if let Err(e) = cxtn::events::parse(trigger.prepare()?.body.as_bytes()) {
        ui.warn(format!(
            "with these --set values the notification does not parse as CXTN's ({e}); sending it anyway"
        ));
    }
    match &args.to {
        Some(to) => direct(to, &trigger, &args, ui).await,
        None => {
            let base_url = simulator_base_url(&args)?;
            through_simulator(&base_url, &args, ui).await
        }
    }
}

/// The base URL of the simulator to trigger through: `--base-url` (or `CXTN_BASE_URL`).
fn simulator_base_url(args: &TriggerArgs) -> Result<String, CliError> {
    if let Some(url) = args.base_url.as_deref().filter(|url| !url.trim().is_empty()) {
        return Ok(url.trim().to_owned());
    }
    let message = "trigger sends through the local simulator or straight to a receiver, and neither --base-url nor --to was given";
    Err(CliError::usage(message).hint(format!(
        "Start `cxtn sandbox` and pass --base-url {LOCAL_SIMULATOR_URL} (or set CXTN_BASE_URL), or pass --to URL to POST to a receiver."
    )))
}

/// POSTs each notification straight to `to`, once per copy.
async fn direct(to: &str, trigger: &Trigger, args: &TriggerArgs, ui: &Ui) -> Result<(), CliError> {
    let target = Target::parse(to, "--to")?;
    let poster = Poster::new(TIMEOUT)?;
    let copies = if args.duplicate { 2 } else { 1 };
    let mut attempted = 0_u32;
    let mut unreachable = false;
    let mut accepted = 0_u32;
    let mut refused = BTreeSet::new();
    'notifications: for _ in 0..args.count {
        let prepared = trigger.prepare()?;
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
            } else if let Some(status) = sent.status {
                refused.insert(status);
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
        return Err(CliError::new(
            Kind::Network,
            format!("stopped at a delivery that got no answer; {accepted} of {total} were accepted"),
        )
        .hint("Check that a receiver (such as `cxtn listen`) is running at the --to URL."));
    }
    if failed > 0 {
        return Err(CliError::new(
            Kind::Delivery,
            format!("{failed} of {total} deliveries were not accepted (no 2xx answer)"),
        )
        .hint(refusal_hint(&refused, "the --to URL")));
    }
    Ok(())
}

/// What to check when a receiver answered with these statuses.
fn refusal_hint(statuses: &BTreeSet<u16>, url: &str) -> String {
    if statuses.contains(&400) || statuses.contains(&422) {
        return "The receiver refused the body (400): with --set values that do not fit the event, the notification is not one it accepts; check the values, or leave --set out.".to_owned();
    }
    if statuses.iter().any(|s| matches!(s, 401 | 403 | 404)) {
        return format!(
            "The receiver refused the sender (401, 403 or 404): check {url}, its path token and its credentials."
        );
    }
    if statuses.iter().any(|s| *s >= 500) {
        return "The receiver failed (5xx): see its logs; CXTN, and the simulator, send again later.".to_owned();
    }
    format!("Check {url}: the receiver answered, but not with 2xx.")
}

/// The trigger for EVENT: an event name starts from its first guide sample, a sample name from that sample.
fn template(args: &TriggerArgs, data_as_string: bool) -> Result<Trigger, CliError> {
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
    trigger = trigger.data_as_string(data_as_string);
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

// --- Through the simulator -------------------------------------------------------------------------------

/// The simulator's routes, from the base URL of its management API (`http://HOST:PORT/api/`).
struct Simulator {
    trigger: String,
    deliveries: String,
    transport: Arc<dyn Transport>,
}

impl Simulator {
    fn new(base_url: &str) -> Result<Self, CliError> {
        // Checks the URL the same way --to is checked; the simulator's own routes take no credentials.
        Target::parse(base_url, "--base-url")?;
        let base = base_url.trim().trim_end_matches('/');
        let authority = base.split_once("://").map_or(base, |(_, rest)| rest);
        if authority.split('/').next().is_some_and(|host| host.contains('@')) {
            return Err(
                CliError::usage("--base-url holds credentials, and the local simulator takes none").hint(format!(
                    "Give the simulator's base URL as `cxtn sandbox` prints it, such as {LOCAL_SIMULATOR_URL}."
                )),
            );
        }
        let root = base.strip_suffix("/api").unwrap_or(base);
        let control = format!("{root}/sandbox/");
        let backend = HyperTransport::builder()
            .connect_timeout(TIMEOUT)
            .max_response_bytes(MAX_ANSWER)
            .build()
            .map_err(|e| CliError::failed(format!("cannot set up the HTTP client: {e}")))?;
        let policy = RetryPolicy::builder()
            .max_attempts(1)
            .attempt_timeout(TIMEOUT)
            .deadline(TIMEOUT)
            .build();
        Ok(Self {
            trigger: format!("{control}trigger"),
            deliveries: format!("{control}deliveries"),
            transport: with_retry(Arc::new(backend), policy),
        })
    }

    /// Sends `request` to the simulator and reads its JSON answer.
    async fn call<T: serde::de::DeserializeOwned>(&self, request: Request, url: &str) -> Result<T, CliError> {
        let not_simulator = || {
            format!(
                "Point --base-url (or CXTN_BASE_URL) at the management API of a local simulator `cxtn sandbox` runs, such as {LOCAL_SIMULATOR_URL}, or pass --to URL to POST to a receiver."
            )
        };
        let response = self.transport.send(request).await.map_err(|e| {
            CliError::new(
                Kind::Network,
                format!("the local simulator at {url} did not answer: {e}"),
            )
            .hint(format!(
                "Start it with `cxtn sandbox`, and check --base-url (or CXTN_BASE_URL): {}",
                not_simulator()
            ))
            .causes(&e)
        })?;
        let status = response.status.as_u16();
        if !response.is_success() {
            let description = serde_json::from_slice::<Refusal>(&response.body)
                .ok()
                .and_then(|r| r.content.model.description);
            return Err(match (status, description) {
                // The simulator's own routes take no token and exist: something else answered.
                (401 | 403 | 404 | 405, _) => CliError::new(
                    Kind::Api,
                    format!("what answered at {url} is not a local simulator (it answered {status})"),
                )
                .hint(not_simulator()),
                (_, Some(description)) => {
                    CliError::new(Kind::Usage, format!("the simulator refused the trigger: {description}"))
                        .hint("Check the --set values: each is a FIELD=VALUE of the event's data.")
                }
                (_, None) => {
                    CliError::new(Kind::Api, format!("the simulator answered {status} at {url}")).hint(not_simulator())
                }
            });
        }
        serde_json::from_slice(&response.body).map_err(|e| {
            CliError::new(
                Kind::Api,
                format!("{url} did not answer as a local simulator does ({e})"),
            )
            .hint(not_simulator())
        })
    }

    async fn trigger(&self, body: String) -> Result<Report, CliError> {
        let request = Request::new(Method::POST, self.trigger.clone())
            .header("user-agent", concat!("cxtn-cli/", env!("CARGO_PKG_VERSION")))
            .json(Bytes::from(body));
        self.call(request, &self.trigger).await
    }

    /// The delivery log from delivery `from` on.
    async fn deliveries(&self, from: u64) -> Result<Vec<Delivery>, CliError> {
        let request = Request::new(Method::GET, format!("{}?from={from}", self.deliveries))
            .header("user-agent", concat!("cxtn-cli/", env!("CARGO_PKG_VERSION")));
        self.call(request, &self.deliveries).await
    }
}

/// A refusal in the simulator's envelope: only its description is read.
#[derive(Deserialize)]
struct Refusal {
    #[serde(rename = "Content")]
    content: RefusalContent,
}

#[derive(Deserialize)]
struct RefusalContent {
    #[serde(rename = "Model")]
    model: RefusalModel,
}

#[derive(Deserialize)]
struct RefusalModel {
    #[serde(rename = "ApiStatusDescription")]
    description: Option<String>,
}

/// The body of `POST /sandbox/trigger`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TriggerRequest<'a> {
    event: &'a str,
    data: &'a RawValue,
    data_as_string: bool,
    duplicate: bool,
}

/// The simulator's answer to a trigger.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    event_id: String,
    event: String,
    subscription: Option<serde_json::Value>,
    deliveries: Vec<u64>,
    outcome: String,
    reason: Option<String>,
}

/// One entry of the simulator's delivery log, as `GET /sandbox/deliveries` gives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delivery {
    id: u64,
    event_id: String,
    event: String,
    event_type: Option<serde_json::Value>,
    url: Option<String>,
    attempts: u32,
    last_status: Option<u16>,
    last_error: Option<String>,
    outcome: String,
    reason: Option<String>,
    duplicate_of: Option<u64>,
}

impl Delivery {
    /// Whether the simulator is done with it for now: delivered, failed, skipped, or held until the endpoint is
    /// Active again.
    fn is_settled(&self) -> bool {
        self.outcome != "pending"
    }
}

/// The event type a wire value names, for people: `AccountTransaction`, or the value as sent.
fn type_name(value: Option<&serde_json::Value>) -> Option<String> {
    value.map(|value| match value {
        serde_json::Value::String(name) => name.clone(),
        other => cxtn::WebhookEventType::from_wire(other).to_string(),
    })
}

/// Asks the simulator to send each notification, then follows its deliveries until they settle or `--wait` ends.
async fn through_simulator(base_url: &str, args: &TriggerArgs, ui: &Ui) -> Result<(), CliError> {
    let simulator = Simulator::new(base_url)?;
    // The simulator gets the data as an object with the --set values in it, and encodes it itself.
    let prepared = template(args, false)?.prepare()?;
    let data = data_of(&prepared.body)?;
    let mut followed: BTreeMap<u64, Followed> = BTreeMap::new();
    let mut skipped: Vec<(String, Option<String>)> = Vec::new();
    for _ in 0..args.count {
        let body = serde_json::to_string(&TriggerRequest {
            event: &prepared.event,
            data: &data,
            data_as_string: args.data_as_string,
            duplicate: args.duplicate,
        })
        .map_err(|e| CliError::failed(format!("cannot write the trigger as JSON: {e}")))?;
        let report = simulator.trigger(body).await?;
        let subscription = type_name(report.subscription.as_ref());
        ui.render(&Triggered {
            kind: "triggered",
            event_id: &report.event_id,
            event: &report.event,
            subscription: subscription.as_deref(),
            deliveries: &report.deliveries,
            outcome: &report.outcome,
            reason: report.reason.as_deref(),
        })?;
        if report.outcome == "skipped" {
            skipped.push((report.reason.clone().unwrap_or_default(), subscription.clone()));
        }
        for id in &report.deliveries {
            followed.insert(*id, Followed::default());
        }
    }
    if args.wait.is_zero() {
        ui.human(format!(
            "The simulator took {} notification(s); their deliveries are not followed (--wait 0s).",
            args.count
        ));
        return match skipped.first() {
            Some((reason, event_type)) => Err(skip_error(reason, event_type.as_deref())),
            None => Ok(()),
        };
    }
    let deadline = tokio::time::Instant::now() + args.wait;
    let from = followed.keys().next().copied().unwrap_or(1);
    let mut last: BTreeMap<u64, Delivery> = BTreeMap::new();
    let spinner = ui.spinner("following the deliveries");
    loop {
        // A log that takes longer to come than what is left of --wait ends the following, as the wait does.
        let Ok(log) = tokio::time::timeout_at(deadline, simulator.deliveries(from)).await else {
            break;
        };
        for delivery in log? {
            let Some(state) = followed.get_mut(&delivery.id) else {
                continue;
            };
            if state.done {
                continue;
            }
            if delivery.attempts > state.attempts && !delivery.is_settled() {
                state.attempts = delivery.attempts;
                ui.render(&Attempt {
                    kind: "attempt",
                    delivery: delivery.id,
                    event_id: &delivery.event_id,
                    attempt: delivery.attempts,
                    status: delivery.last_status,
                    error: delivery.last_error.as_deref(),
                })?;
            }
            if delivery.is_settled() {
                state.done = true;
                ui.render(&Settled::from(&delivery))?;
            }
            last.insert(delivery.id, delivery);
        }
        if followed.values().all(|f| f.done) || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    drop(spinner);
    for (id, state) in &followed {
        if let (false, Some(delivery)) = (state.done, last.get(id)) {
            ui.render(&Settled::from(delivery))?;
        }
    }
    let unseen = followed.keys().filter(|id| !last.contains_key(id)).count();
    if unseen > 0 && skipped.is_empty() {
        return Err(CliError::new(
            Kind::Network,
            format!(
                "the local simulator's delivery log did not show {unseen} of {} deliveries within {}",
                followed.len(),
                humanize(args.wait)
            ),
        )
        .hint("Give a longer --wait, or watch the simulator's delivery log (GET /sandbox/deliveries)."));
    }
    outcome(&last, &skipped, args, ui)
}

/// What the deliveries came to: the summary line, and the error when any was not delivered.
fn outcome(
    deliveries: &BTreeMap<u64, Delivery>,
    skipped: &[(String, Option<String>)],
    args: &TriggerArgs,
    ui: &Ui,
) -> Result<(), CliError> {
    let count = |outcome: &str| deliveries.values().filter(|d| d.outcome == outcome).count();
    let (delivered, held, failed_count, pending) =
        (count("delivered"), count("held"), count("failed"), count("pending"));
    let total = deliveries.len();
    ui.human(format!(
        "The simulator delivered {delivered} of {total}: {held} held, {failed_count} failed, {pending} still being retried, {} not sent.",
        skipped.len()
    ));
    if let Some((reason, event_type)) = skipped.first() {
        return Err(skip_error(reason, event_type.as_deref()));
    }
    if failed_count > 0 {
        let statuses: BTreeSet<u16> = deliveries
            .values()
            .filter(|d| d.outcome == "failed")
            .filter_map(|d| d.last_status)
            .collect();
        let hint = if statuses.is_empty() {
            "Nothing answered at the endpoint's URL: check that a receiver (such as `cxtn listen`) runs there; `cxtn webhooks list --show-urls` shows the URL.".to_owned()
        } else {
            refusal_hint(&statuses, "the endpoint's URL (`cxtn webhooks list --show-urls`)")
        };
        return Err(CliError::new(
            Kind::Delivery,
            format!("{failed_count} of {total} deliveries failed on every attempt"),
        )
        .hint(hint));
    }
    if pending > 0 {
        return Err(CliError::new(
            Kind::Delivery,
            format!(
                "{pending} of {total} deliveries were still being retried after {}",
                humanize(args.wait)
            ),
        )
        .hint("Give a longer --wait, or watch the simulator's delivery log (GET /sandbox/deliveries)."));
    }
    let held_types: BTreeSet<String> = deliveries
        .values()
        .filter(|d| d.outcome == "held")
        .map(|d| type_name(d.event_type.as_ref()).unwrap_or_else(|| "TYPE".to_owned()))
        .collect();
    for event_type in held_types {
        ui.note(format!(
            "A held delivery goes out when its endpoint is set Active: `cxtn webhooks status --event-type {event_type} --status active`."
        ));
    }
    Ok(())
}

/// The error for a notification the simulator did not send.
fn skip_error(reason: &str, event_type: Option<&str>) -> CliError {
    let (what, hint) = skip_advice(reason, event_type.unwrap_or("TYPE"));
    CliError::new(Kind::Delivery, format!("the simulator sent nothing: {what}")).hint(hint)
}

/// What a skip reason means, and the command that fixes it.
fn skip_advice(reason: &str, event_type: &str) -> (String, String) {
    match reason {
        "webhooks_not_enabled" => (
            "webhooks are not enabled".to_owned(),
            "Run `cxtn webhooks enable`, then trigger again.".to_owned(),
        ),
        "no_endpoint" => (
            format!("no endpoint is registered for {event_type}"),
            format!(
                "Register one with `cxtn webhooks ensure --event-type {event_type} --url URL`, then trigger again."
            ),
        ),
        "endpoint_inactive" => (
            format!("the {event_type} endpoint is Inactive"),
            format!("Set it Active with `cxtn webhooks status --event-type {event_type} --status active`."),
        ),
        "no_subscription" => (
            "the event has no endpoint event type".to_owned(),
            "Trigger one of CXTN's events: account_credit, account_debit, payment_completed or trade_settled."
                .to_owned(),
        ),
        other => (
            format!("skipped ({other})"),
            "See the simulator's delivery log (GET /sandbox/deliveries).".to_owned(),
        ),
    }
}

/// `30s`, `1.5s`, `250ms`.
fn humanize(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// The `data` of a prepared notification body, exactly as written.
fn data_of(body: &str) -> Result<Box<RawValue>, CliError> {
    #[derive(Deserialize)]
    struct Body {
        data: Box<RawValue>,
    }
    serde_json::from_str::<Body>(body)
        .map(|body| body.data)
        .map_err(|e| CliError::failed(format!("cannot read the notification's data back ({e})")))
}

#[derive(Debug, Default)]
struct Followed {
    attempts: u32,
    done: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Triggered<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    event_id: &'a str,
    event: &'a str,
    subscription: Option<&'a str>,
    deliveries: &'a [u64],
    outcome: &'a str,
    reason: Option<&'a str>,
}

impl Render for Triggered<'_> {
    fn human(&self, ui: &Ui) {
        let event_type = self.subscription.unwrap_or("its");
        let what = match self.outcome {
            "pending" => format!("sending to the {event_type} endpoint"),
            "held" => format!("held: the {event_type} endpoint is Paused"),
            "skipped" => {
                let (what, _) = skip_advice(self.reason.unwrap_or_default(), event_type);
                format!("not sent: {what}")
            }
            other => other.to_owned(),
        };
        let ids: Vec<String> = self.deliveries.iter().map(u64::to_string).collect();
        let deliveries = match ids.len() {
            0 => String::new(),
            1 => format!(" (delivery {})", ids.join("")),
            _ => format!(" (deliveries {})", ids.join(", ")),
        };
        let style = match self.outcome {
            "pending" => DIM,
            "held" => WARN,
            _ => BAD,
        };
        ui.out(format!(
            "{}  {}  {}{deliveries}",
            ui.paint(ID, self.event_id),
            self.event,
            ui.paint(style, what)
        ));
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Attempt<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    delivery: u64,
    event_id: &'a str,
    attempt: u32,
    status: Option<u16>,
    error: Option<&'a str>,
}

impl Render for Attempt<'_> {
    fn human(&self, ui: &Ui) {
        let answer = match (self.status, self.error) {
            (Some(status), _) => format!("answered {status}"),
            (None, Some(error)) => format!("got no answer ({error})"),
            (None, None) => "failed".to_owned(),
        };
        ui.out(format!(
            "  delivery {}: attempt {} {}; retrying",
            self.delivery,
            self.attempt,
            ui.paint(WARN, answer)
        ));
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Settled<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    delivery: u64,
    event_id: &'a str,
    event: &'a str,
    event_type: Option<String>,
    duplicate_of: Option<u64>,
    url: Option<&'a str>,
    outcome: &'a str,
    reason: Option<&'a str>,
    attempts: u32,
    status: Option<u16>,
    error: Option<&'a str>,
}

impl<'a> From<&'a Delivery> for Settled<'a> {
    fn from(d: &'a Delivery) -> Self {
        Self {
            kind: "delivery",
            delivery: d.id,
            event_id: &d.event_id,
            event: &d.event,
            event_type: type_name(d.event_type.as_ref()),
            duplicate_of: d.duplicate_of,
            url: d.url.as_deref(),
            outcome: &d.outcome,
            reason: d.reason.as_deref(),
            attempts: d.attempts,
            status: d.last_status,
            error: d.last_error.as_deref(),
        }
    }
}

impl Render for Settled<'_> {
    fn human(&self, ui: &Ui) {
        let status = match self.status {
            Some(status) => ui.paint(if self.outcome == "delivered" { GOOD } else { BAD }, status),
            None => ui.paint(DIM, "---"),
        };
        let url = self.url.unwrap_or("its endpoint");
        let tries = if self.attempts == 1 {
            "1 attempt".to_owned()
        } else {
            format!("{} attempts", self.attempts)
        };
        let what = match self.outcome {
            "delivered" => ui.paint(GOOD, format!("delivered to {url} ({tries})")),
            "held" => ui.paint(
                WARN,
                format!(
                    "held: the {} endpoint is Paused; set it Active to send it",
                    self.event_type.as_deref().unwrap_or("event type's")
                ),
            ),
            "failed" => {
                let why = self.error.map_or_else(String::new, |e| format!(": {e}"));
                ui.paint(BAD, format!("failed at {url} after {tries}{why}"))
            }
            "pending" => ui.paint(WARN, format!("still being retried at {url} ({tries} so far)")),
            other => ui.paint(BAD, format!("{other} ({})", self.reason.unwrap_or_default())),
        };
        let mut line = format!(
            "{status}  {}  {}  {what}  {}",
            ui.paint(ID, self.event_id),
            self.event,
            ui.paint(DIM, format!("delivery {}", self.delivery))
        );
        if self.duplicate_of.is_some() {
            line.push_str("  (duplicate)");
        }
        ui.out(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_400_is_blamed_on_the_body_and_a_401_on_the_address() {
        let hint = refusal_hint(&BTreeSet::from([400]), "the --to URL");
        assert!(hint.contains("--set"), "{hint}");
        assert!(!hint.contains("path token"), "{hint}");
        let hint = refusal_hint(&BTreeSet::from([401]), "the --to URL");
        assert!(hint.contains("path token"), "{hint}");
    }

    #[test]
    fn every_skip_names_the_command_that_fixes_it() {
        for reason in ["webhooks_not_enabled", "no_endpoint", "endpoint_inactive"] {
            let (_, hint) = skip_advice(reason, "AccountTransaction");
            assert!(hint.contains("`cxtn webhooks "), "{reason}: {hint}");
        }
    }
}
