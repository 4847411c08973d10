//! `cxtn replay`: captured traffic (from `cxtn inbox export`) sent to a receiver again, at its recorded pace or
//! faster, with duplicates, reordering and bursts when asked, and a report of what each delivery was answered.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use cxtn::events::traffic::{self, Chaos, Options, Plan, Planned, Recording, Speed};
use cxtn::model::Secret;
use cxtn_transport::Bytes;
use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::cli::{BasicAuth, parse_basic_auth};
use crate::error::CliError;
use crate::http::{Poster, Target};
use crate::ui::{BAD, DIM, GOOD, ID, Render, Ui, clean};

/// How long one delivery may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(10);

/// How many failed deliveries the report for people lists one by one.
const FAILURES_SHOWN: usize = 20;

#[derive(Debug, Args)]
#[command(
    after_help = "FILE holds one stored delivery a line, as `cxtn inbox export` writes it (see the README).\n\
Deliveries go in order of arrival, each recorded body once (a conflicting version too), at the recorded pace\n\
divided by --speed. Each recorded event gets a fresh eventId, shared by its copies and versions, unless\n\
--keep-ids. --chaos duplicates=SHARE sends that share of the deliveries twice, reorder=N shuffles within\n\
windows of N, burst=N sends N at once and then waits for the next group's time.\n\
Exit codes: 0 every delivery was answered 2xx, 1 one or more were not, 2 wrong usage."
)]
pub(crate) struct ReplayArgs {
    /// The captured traffic, or - for standard input
    #[arg(value_name = "FILE")]
    file: PathBuf,

    /// The receiver URL to POST to (credentials in the URL are sent as HTTP Basic)
    #[arg(long, value_name = "URL", value_parser = crate::cli::parse_url)]
    to: crate::cli::UrlArg,

    /// Append this path token to the --to URL as its last path segment (ps shows flags: prefer the variable)
    #[arg(long, env = "CXTN_PATH_TOKEN", hide_env_values = true, value_name = "TOKEN", value_parser = crate::cli::parse_secret)]
    path_token: Option<Secret>,

    /// Send these HTTP Basic credentials (ps shows flags: prefer the variable)
    #[arg(
        long,
        env = "CXTN_BASIC_AUTH",
        hide_env_values = true,
        value_name = "USER:PASS",
        value_parser = parse_basic_auth
    )]
    basic_auth: Option<BasicAuth>,

    /// How fast: the recorded gaps between arrivals divided by a factor (1x, 10x, 0.5x), or max to not wait
    #[arg(long, default_value = "1x", value_name = "SPEED", value_parser = parse_speed)]
    speed: Speed,

    /// Duplicates, reordering and bursts: duplicates=SHARE,reorder=N,burst=N (any of them)
    #[arg(long, value_name = "SPEC", value_parser = parse_chaos)]
    chaos: Option<Chaos>,

    /// The seed of the chaos and of the fresh eventIds: the same seed replays the same way [default: random]
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// Send each delivery under its recorded eventId (a receiver that stored it already answers duplicate)
    #[arg(long)]
    keep_ids: bool,
}

fn parse_speed(text: &str) -> Result<Speed, String> {
    text.parse().map_err(|e: traffic::Error| e.to_string())
}

fn parse_chaos(text: &str) -> Result<Chaos, String> {
    text.parse().map_err(|e: traffic::Error| e.to_string())
}

pub(crate) async fn run(args: ReplayArgs, ui: &Ui) -> Result<(), CliError> {
    let target = target_of(&args)?;
    let credentials = args
        .basic_auth
        .as_ref()
        .map(|c| format!("{}:{}", c.user, c.password.expose_secret()));
    for (flag, value, variable) in [
        (
            "--path-token",
            args.path_token.as_ref().map(Secret::expose_secret),
            "CXTN_PATH_TOKEN",
        ),
        ("--basic-auth", credentials.as_deref(), "CXTN_BASIC_AUTH"),
    ] {
        if from_flag(value, variable) {
            ui.warn(format!(
                "{flag} holds a secret, and the process list (ps) shows it to every user of this machine; use {variable} instead"
            ));
        }
    }
    let recording = read(&args.file)?;
    let chaos = args.chaos.unwrap_or_default();
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
    let options = Options::new()
        .chaos(chaos)
        .speed(args.speed)
        .seed(seed)
        .keep_ids(args.keep_ids);
    let plan = traffic::plan(&recording, &options);
    let started = Instant::now();
    let deliveries = {
        let _spinner = ui.spinner(format!("replaying {} deliveries", plan.sends().len()));
        send(&recording, &plan, &target).await?
    };
    let mut report = Report::new(&recording, &plan, &options, &target, deliveries);
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if report.kept_bodies > 0 {
        ui.warn(format!(
            "{} of the bodies have no top-level eventId string to replace: they were sent with their recorded id",
            report.kept_bodies
        ));
    }
    ui.render(&report)?;
    if report.failed > 0 {
        return Err(CliError::failed(format!(
            "{} of {} deliveries were not accepted (no 2xx answer)",
            report.failed, report.sent
        ))
        .hint("Check the receiver's URL, path token and credentials; --json lists what each delivery was answered."));
    }
    Ok(())
}

/// Whether a secret came from its flag, where `ps` shows it, rather than from its variable.
pub(crate) fn from_flag(value: Option<&str>, variable: &str) -> bool {
    value.is_some_and(|value| std::env::var(variable).ok().as_deref() != Some(value))
}

/// The URL to POST to: `--to`, with the path token appended and the credentials put in when given apart.
fn target_of(args: &ReplayArgs) -> Result<Target, CliError> {
    let mut url = args.to.trim().to_owned();
    if let Some(token) = &args.path_token {
        let token = token.expose_secret().trim();
        if token.is_empty() || token.contains(['/', '?', '#']) {
            return Err(CliError::usage("the path token is empty or holds `/`, `?` or `#`")
                .hint("Give the last path segment of the endpoint URL, as `cxtn listen --path-token` takes it."));
        }
        while url.ends_with('/') {
            url.pop();
        }
        url = format!("{url}/{token}");
    }
    if let Some(credentials) = &args.basic_auth {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Target::parse(&url, "--to");
        };
        if rest.split(['/', '?', '#']).next().unwrap_or_default().contains('@') {
            return Err(CliError::usage(
                "--to already carries credentials: give them there or with --basic-auth",
            ));
        }
        url = format!(
            "{scheme}://{}:{}@{rest}",
            percent_encode(&credentials.user),
            percent_encode(credentials.password.expose_secret())
        );
    }
    Target::parse(&url, "--to")
}

/// Every byte but the unreserved ones of RFC 3986 as `%XX`, for user information in a URL.
fn percent_encode(text: &str) -> String {
    text.bytes().fold(String::with_capacity(text.len()), |mut out, byte| {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
        out
    })
}

fn read(file: &PathBuf) -> Result<Recording, CliError> {
    let (name, bytes) = if file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| CliError::failed(format!("cannot read standard input: {e}")))?;
        ("standard input".to_owned(), bytes)
    } else {
        let name = format!("`{}`", file.display());
        let bytes = std::fs::read(file).map_err(|e| {
            CliError::failed(format!("cannot read {name}: {e}")).hint("Give the file `cxtn inbox export` wrote.")
        })?;
        (name, bytes)
    };
    traffic::read_jsonl(&bytes).map_err(|e| {
        CliError::usage(format!("{name} is not captured traffic: {}", clean(&e.to_string())))
            .hint("Write it with `cxtn inbox export --db INBOX > traffic.jsonl`; the README shows a line.")
    })
}

/// What one delivery was answered.
struct Answer {
    /// Its place in the plan.
    position: usize,
    /// The body went with its recorded id, having none to replace.
    kept_body: bool,
    result: Result<u16, cxtn_transport::Error>,
}

/// Sends the plan: one burst at a time, each at its time from the start, its deliveries at once.
async fn send(recording: &Recording, plan: &Plan, target: &Target) -> Result<Vec<Answer>, CliError> {
    let poster = Poster::new(TIMEOUT)?;
    let start = Instant::now();
    let mut answers = Vec::with_capacity(plan.sends().len());
    let mut position = 0;
    for burst in plan.bursts() {
        let at_ms = burst.first().map_or(0, |planned| planned.at_ms);
        tokio::time::sleep_until(start + Duration::from_millis(at_ms)).await;
        let mut tasks = JoinSet::new();
        for planned in burst {
            let Some(recorded) = recording.deliveries().get(planned.index) else {
                continue;
            };
            let (body, kept_body) = match recorded.with_event_id(&planned.event_id) {
                Some(body) => (Bytes::from(body.into_owned()), false),
                None => (Bytes::from(recorded.body.clone()), true),
            };
            let (poster, target, at) = (poster.clone(), target.clone(), position);
            tasks.spawn(async move {
                Answer {
                    position: at,
                    kept_body,
                    result: poster.post(&target, body).await,
                }
            });
            position += 1;
        }
        let mut burst_answers = Vec::with_capacity(burst.len());
        while let Some(answer) = tasks.join_next().await {
            let answer = answer.map_err(|e| CliError::failed(format!("a delivery's task ended abnormally: {e}")))?;
            burst_answers.push(answer);
        }
        burst_answers.sort_by_key(|a| a.position);
        answers.extend(burst_answers);
    }
    Ok(answers)
}

/// One delivery of the report.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Delivery {
    /// The recorded delivery's place in the file, from 1 (blank lines not counted).
    line: usize,
    recorded_event_id: String,
    event_id: String,
    event: String,
    duplicate: bool,
    conflict: bool,
    burst: usize,
    status: Option<u16>,
    ok: bool,
    error: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChaosReport {
    duplicates: f64,
    reorder: usize,
    burst: usize,
}

/// What a replay sent and what each delivery was answered.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    operation: &'static str,
    ok: bool,
    to: String,
    seed: u64,
    speed: String,
    chaos: ChaosReport,
    keep_ids: bool,
    /// Lines in the file.
    recorded: usize,
    /// Distinct recorded event ids.
    events: usize,
    sent: usize,
    duplicates: usize,
    accepted: usize,
    failed: usize,
    /// Answers by status code; `none` counts deliveries that got no answer.
    statuses: BTreeMap<String, usize>,
    elapsed_ms: u64,
    deliveries: Vec<Delivery>,
    #[serde(skip)]
    kept_bodies: usize,
}

impl Report {
    fn new(recording: &Recording, plan: &Plan, options: &Options, target: &Target, answers: Vec<Answer>) -> Self {
        let mut statuses = BTreeMap::new();
        let mut deliveries = Vec::with_capacity(answers.len());
        let mut kept_bodies = 0;
        for answer in answers {
            let Some(planned): Option<&Planned> = plan.sends().get(answer.position) else {
                continue;
            };
            let Some(recorded) = recording.deliveries().get(planned.index) else {
                continue;
            };
            let status = answer.result.as_ref().ok().copied();
            let key = status.map_or_else(|| "none".to_owned(), |s| s.to_string());
            *statuses.entry(key).or_insert(0) += 1;
            if answer.kept_body {
                kept_bodies += 1;
            }
            deliveries.push(Delivery {
                line: planned.index + 1,
                recorded_event_id: recorded.event_id.as_str().to_owned(),
                event_id: if answer.kept_body {
                    recorded.event_id.as_str().to_owned()
                } else {
                    planned.event_id.as_str().to_owned()
                },
                event: recorded.event.clone(),
                duplicate: planned.duplicate,
                conflict: recorded.conflict,
                burst: planned.burst,
                status,
                ok: status.is_some_and(|s| (200..300).contains(&s)),
                error: answer.result.err().map(|e| e.to_string()),
            });
        }
        let accepted = deliveries.iter().filter(|d| d.ok).count();
        let failed = deliveries.len() - accepted;
        Self {
            operation: "replay",
            ok: failed == 0,
            to: target.redacted().to_owned(),
            seed: options.seed,
            speed: options.speed.to_string(),
            chaos: ChaosReport {
                duplicates: options.chaos.duplicates,
                reorder: options.chaos.reorder,
                burst: options.chaos.burst,
            },
            keep_ids: options.keep_ids,
            recorded: recording.len(),
            events: recording.events(),
            sent: deliveries.len(),
            duplicates: deliveries.iter().filter(|d| d.duplicate).count(),
            accepted,
            failed,
            statuses,
            elapsed_ms: 0,
            deliveries,
            kept_bodies,
        }
    }
}

impl Render for Report {
    fn human(&self, ui: &Ui) {
        let shown: Vec<&Delivery> = self.deliveries.iter().filter(|d| !d.ok).take(FAILURES_SHOWN).collect();
        for delivery in &shown {
            let status = delivery
                .status
                .map_or_else(|| ui.paint(BAD, "---"), |s| ui.paint(BAD, s));
            let mut line = format!(
                "{status}  {}  {}  line {}",
                ui.paint(ID, clean(&delivery.event_id)),
                clean(&delivery.event),
                delivery.line
            );
            if delivery.duplicate {
                line.push_str("  (duplicate)");
            }
            if let Some(error) = &delivery.error {
                line.push_str("  ");
                line.push_str(&clean(error));
            }
            ui.out(line);
        }
        if self.failed > shown.len() {
            ui.out(ui.paint(DIM, format!("... and {} more not accepted.", self.failed - shown.len())));
        }
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(status, n)| format!("{status} ×{n}"))
            .collect();
        ui.out(format!(
            "Sent {} deliveries ({} recorded, {} duplicates) to {}: {}.",
            self.sent,
            self.recorded,
            self.duplicates,
            self.to,
            if statuses.is_empty() {
                "nothing to send".to_owned()
            } else {
                statuses.join(", ")
            }
        ));
        let verdict = if self.failed == 0 {
            ui.paint(GOOD, format!("All {} accepted.", self.accepted))
        } else {
            ui.paint(
                BAD,
                format!("{} accepted, {} not accepted.", self.accepted, self.failed),
            )
        };
        ui.out(format!(
            "{verdict} {}",
            ui.paint(DIM, format!("Seed {} replays the same way.", self.seed))
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::percent_encode;

    #[test]
    fn credentials_are_percent_encoded_for_the_url() {
        assert_eq!(percent_encode("cxtn"), "cxtn");
        assert_eq!(percent_encode("p@ss:w/rd é"), "p%40ss%3Aw%2Frd%20%C3%A9");
    }
}
