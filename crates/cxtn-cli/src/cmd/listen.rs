//! `cxtn listen`: the receiver with a durable inbox, one line per delivery, publishing to brokers and forwarding.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cxtn::outlets::{ErrorKind as OutletErrorKind, Outlet, Publish, redacted_url};
use cxtn::receiver::metrics::{Counter, Metrics};
use cxtn::receiver::{
    Arrival, ArrivalOutcome, Event, Handler, HandlerError, Inbox, Keys, KeysHandle, PrunePolicy, QuarantinedEvent,
    Receiver, ReceiverBuilder, Running, WorkerPolicy, async_trait,
};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use cxtn::model::Secret;

use crate::cli::{BasicAuth, ListenArgs};
use crate::error::CliError;
use crate::http::{Poster, Target};
use crate::store::{self, Access};
use crate::ui::{BAD, BOLD, DIM, GOOD, ID, Render, Ui, WARN, clean};

/// Path tokens shorter than this are refused unless `--allow-short-path-token`.
const SHORT_TOKEN: usize = 24;

/// How often lines dropped because stdout is not read are counted, and at most how often a warning says so.
const DROPPED_CHECK: Duration = Duration::from_secs(1);
const DROPPED_WARNING: Duration = Duration::from_secs(30);

/// How long a stop waits for stdout to take the lines still queued.
const FINAL_LINES: Duration = Duration::from_secs(2);

/// The path the printed endpoint URL uses before the token; any path ending with the token works.
const PATH_PREFIX: &str = "/cxtn";

/// How often `--retain-processed` prunes the inbox.
const RETAIN_EVERY: Duration = Duration::from_secs(3600);

pub(crate) async fn run(args: ListenArgs, ui: &Ui) -> Result<(), CliError> {
    let sources = KeySources::from_args(&args);
    let loaded = sources.load()?;
    if loaded.keys.is_empty() && !args.insecure_no_auth {
        return Err(CliError::usage(
            "refusing to listen without authentication: anyone who finds the URL could inject events",
        )
        .hint("Pass --path-token TOKEN (or set CXTN_PATH_TOKEN, or --path-token-file PATH) and/or --basic-auth USER:PASS; --insecure-no-auth runs without."));
    }
    for length in &loaded.short {
        ui.warn(short_token_warning(*length));
    }
    if loaded.keys.is_empty() {
        ui.warn("listening without authentication: anyone who can reach the port can inject events");
    }
    let has_token = loaded.keys.path_token_count() > 0;
    let basic_auth = loaded.first_basic.clone();
    let forward = args
        .forward_to
        .as_deref()
        .map(|url| Target::parse(url, "--forward-to"))
        .transpose()?;
    if args.forward_timeout.is_zero() {
        return Err(CliError::usage("--forward-timeout must be above zero").hint("Give a duration such as 10s or 2m."));
    }
    let outlets = connect_outlets(&args.publish).await?;

    // Per-delivery lines go to stdout through a queue: a stdout nobody reads never holds up a delivery.
    let ui = &ui.with_line_queue()?;
    let inbox = store::open(&args.db, &args.schema, Access::Create).await?;
    let metrics = Metrics::new();
    let mut builder = Receiver::builder(inbox.clone()).metrics(metrics.clone());
    builder = builder.keys(loaded.keys).allow_unauthenticated(args.insecure_no_auth);
    builder = builder.max_connections(usize::try_from(args.max_connections).unwrap_or(usize::MAX));
    builder = admin(builder, &args, &inbox)?;
    if let Some(age) = args.retain_processed {
        builder = builder.retention(PrunePolicy::default().processed_older_than(age), RETAIN_EVERY);
    }
    if forward.is_some() || !outlets.is_empty() {
        // Quarantined events are forwarded too when only forwarding: the body goes out exactly as received,
        // whatever its data. Outlets publish events whose data parses; quarantined ones stay in the inbox.
        let mut policy = WorkerPolicy::default()
            .shutdown_deadline(args.shutdown_timeout)
            .max_attempts(args.forward_attempts)
            .concurrency(usize::try_from(args.forward_concurrency).unwrap_or(usize::MAX))
            .quarantined(outlets.is_empty());
        // The handler's own limit stays above the forward's, so a slow forward fails as a forward.
        let handler_timeout = args.forward_timeout.saturating_add(Duration::from_secs(5));
        if handler_timeout > policy.handler_timeout {
            policy = policy.handler_timeout(handler_timeout);
        }
        let forwarder = match &forward {
            Some(target) => Some(Forwarder {
                inbox: inbox.clone(),
                poster: Poster::new(args.forward_timeout)?,
                target: target.clone(),
                ui: ui.clone(),
                max_attempts: policy.max_attempts,
                attempts: metrics.counter(
                    "cxtn_forward_attempts",
                    "Forwards of a stored event's body to the --forward-to URL, each attempt counted",
                ),
                failures: metrics.counter(
                    "cxtn_forward_failures",
                    "Forward attempts that failed: no answer, or an answer other than 2xx",
                ),
            }),
            None => None,
        };
        // Every outlet confirms first, then the local app gets the event: it is processed only when all succeeded.
        builder = match (outlets.is_empty(), forwarder) {
            (true, Some(forwarder)) => builder.handler(forwarder),
            (_, forwarder) => {
                let mut publish = Publish::to(outlets).metrics(&metrics);
                if let Some(forwarder) = forwarder {
                    publish = publish.then(forwarder);
                }
                builder.handler(publish)
            }
        }
        .worker_policy(policy);
    }
    let receiver = builder.build()?;
    watch_key_files(receiver.keys(), sources)?;
    let mut arrivals = receiver.subscribe();
    let running = receiver.bind(args.addr.as_str()).await.map_err(|e| {
        CliError::from(e).hint(format!(
            "Choose another --addr; {} may be in use or not an address of this machine.",
            args.addr
        ))
    })?;
    let mut signals = crate::cmd::Signals::new();
    crate::cmd::warn_secret_flags(ui, &args.secret_flags);
    let url = endpoint_url(running.addr(), has_token, basic_auth.as_ref());
    announce(ui, &running, &url, &args, &basic_auth, has_token, forward.as_ref())?;
    let dropped_lines = metrics.counter(
        "cxtn_stdout_dropped_lines",
        "Per-delivery lines not printed because stdout was not read; the deliveries are in the inbox",
    );
    let dropped = tokio::spawn(count_dropped_lines(ui.clone(), move |n| dropped_lines.inc_by(n)));

    loop {
        tokio::select! {
            _ = signals.next() => break,
            arrival = arrivals.recv() => match arrival {
                Ok(arrival) => print_arrival(ui, &arrival)?,
                Err(RecvError::Lagged(skipped)) => ui.warn(format!(
                    "{skipped} deliveries were not shown because the display fell behind; they are in the inbox"
                )),
                Err(RecvError::Closed) => break,
            },
        }
    }
    if forward.is_some() || !args.publish.is_empty() {
        ui.note(format!(
            "Stopping: finishing the forwards and publishes in progress for up to {} s, then giving the rest back to the inbox. Press Ctrl-C again to stop at once.",
            args.shutdown_timeout.as_secs_f64()
        ));
    } else {
        ui.note("Stopping: finishing the deliveries in flight. Press Ctrl-C again to stop at once.");
    }
    // A second request to stop ends the process at once; what was acknowledged is in the inbox already.
    let stopping = ui.clone();
    tokio::spawn(async move {
        let code = signals.next().await;
        stopping.note("Stopped at once. Events being forwarded are handed out again when their leases run out.");
        std::process::exit(i32::from(code));
    });
    {
        let _spinner = ui.spinner("finishing the deliveries in flight");
        running.shutdown().await;
    }
    dropped.abort();
    ui.render(&Stopped {
        kind: "stopped",
        inbox: &store::redacted(&args.db),
    })?;
    ui.close_line_queue(FINAL_LINES).await;
    Ok(())
}

/// Opens each `--publish` outlet, checking its broker at once; its errors show the URL without credentials.
async fn connect_outlets(urls: &[crate::cli::UrlArg]) -> Result<Vec<Box<dyn Outlet>>, CliError> {
    let mut outlets = Vec::with_capacity(urls.len());
    for url in urls {
        let outlet = cxtn::outlets::connect(url).await.map_err(|e| {
            let hint = match e.kind() {
                OutletErrorKind::Unavailable => {
                    "Check that the broker runs and answers at that address, and the credentials in the URL."
                }
                _ => "Check the URL given to --publish; docs/outlets.md lists each broker's URL and parameters.",
            };
            CliError::failed(e.to_string()).hint(hint)
        })?;
        outlets.push(outlet);
    }
    Ok(outlets)
}

/// The first line of a file holding a secret, trimmed; `flag` names the option that gave the file.
fn read_secret(path: &std::path::Path, flag: &str) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::usage(format!("cannot read the file {} given to {flag}: {e}", path.display())).hint(format!(
            "Check the path given to {flag}, and that this user may read it."
        ))
    })?;
    // A file saved by some Windows editors opens with a byte order mark, which is no part of the secret.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let secret = text.lines().next().unwrap_or_default().trim();
    if secret.is_empty() {
        return Err(
            CliError::usage(format!("the file {} given to {flag} is empty", path.display()))
                .hint("Write the secret on its first line."),
        );
    }
    Ok(secret.to_owned())
}

/// Where the receiver's keys come from: flags and variables, and the files SIGHUP reads again.
#[derive(Debug, Clone)]
struct KeySources {
    tokens: Vec<Secret>,
    token_file: Option<PathBuf>,
    basic: Vec<BasicAuth>,
    basic_file: Option<PathBuf>,
    allow_short: bool,
}

/// The keys read from their sources, checked.
#[derive(Debug)]
struct Loaded {
    keys: Keys,
    /// The length of each path token shorter than [`SHORT_TOKEN`], accepted with `--allow-short-path-token`.
    short: Vec<usize>,
    /// The first Basic credentials, whose user the printed endpoint URL shows.
    first_basic: Option<BasicAuth>,
}

impl KeySources {
    fn from_args(args: &ListenArgs) -> Self {
        Self {
            tokens: args
                .path_token
                .iter()
                .map(|token| token.expose_secret().trim())
                .filter(|token| !token.is_empty())
                .map(Secret::new)
                .collect(),
            token_file: args.path_token_file.clone(),
            basic: args.basic_auth.clone(),
            basic_file: args.basic_auth_file.clone(),
            allow_short: args.allow_short_path_token,
        }
    }

    fn has_files(&self) -> bool {
        self.token_file.is_some() || self.basic_file.is_some()
    }

    /// Reads the files and checks every token; the error names the file and line, never a secret.
    fn load(&self) -> Result<Loaded, CliError> {
        let mut tokens: Vec<(String, Option<(usize, &Path)>)> = self
            .tokens
            .iter()
            .map(|token| (token.expose_secret().to_owned(), None))
            .collect();
        if let Some(path) = &self.token_file {
            let text = read_key_file(path, "--path-token-file")?;
            tokens.extend(token_lines(&text).map(|(line, token)| (token.to_owned(), Some((line, path.as_path())))));
            if tokens.is_empty() {
                return Err(CliError::usage(format!(
                    "the file {} given to --path-token-file is empty",
                    path.display()
                ))
                .hint("Write one path token a line; blank lines and lines starting with # are skipped."));
            }
        }
        let mut short = Vec::new();
        for (token, place) in &tokens {
            let which = match place {
                Some((line, path)) => format!("the path token on line {line} of {}", path.display()),
                None => "the path token".to_owned(),
            };
            check_token(token).map_err(|e| {
                CliError::usage(format!("{which} may hold only letters, digits, and - . _ ~"))
                    .hint(e.hint_text().unwrap_or_default().to_owned())
            })?;
            if token.len() < SHORT_TOKEN {
                if !self.allow_short {
                    return Err(CliError::usage(format!(
                        "{which} is too short ({} characters): a short token can be guessed",
                        token.len()
                    ))
                    .hint("Use 32 or more random characters, such as `openssl rand -hex 24` gives; --allow-short-path-token accepts it anyway."));
                }
                short.push(token.len());
            }
        }
        let mut basic = self.basic.clone();
        if let Some(path) = &self.basic_file {
            let text = read_key_file(path, "--basic-auth-file")?;
            let before = basic.len();
            for (line, pair) in token_lines(&text) {
                basic.push(crate::cli::parse_basic_auth(pair).map_err(|e| {
                    CliError::usage(format!(
                        "the file {} given to --basic-auth-file is not USER:PASS",
                        path.display()
                    ))
                    .hint(format!("Write one USER:PASS a line; line {line}: {e}."))
                })?);
            }
            if basic.len() == before {
                return Err(CliError::usage(format!(
                    "the file {} given to --basic-auth-file is empty",
                    path.display()
                ))
                .hint("Write one USER:PASS a line; blank lines and lines starting with # are skipped."));
            }
        }
        let mut keys = Keys::new().path_tokens(tokens.into_iter().map(|(token, _)| token));
        for credentials in &basic {
            keys = keys.basic_auth(credentials.user.clone(), credentials.password.clone());
        }
        Ok(Loaded {
            keys,
            short,
            first_basic: basic.into_iter().next(),
        })
    }
}

/// The lines of a key file that hold a key, numbered from 1, trimmed: blank lines and `#` comments skipped.
/// A byte order mark opening the file, as some Windows editors write, is not part of the first key.
pub(crate) fn token_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.strip_prefix('\u{feff}')
        .unwrap_or(text)
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
}

/// A key file's text; `flag` names the option that gave the file.
fn read_key_file(path: &Path, flag: &str) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| {
        CliError::usage(format!("cannot read the file {} given to {flag}: {e}", path.display())).hint(format!(
            "Check the path given to {flag}, and that this user may read it."
        ))
    })
}

fn short_token_warning(length: usize) -> String {
    format!("the path token is short ({length} characters); use 32 or more random characters")
}

/// Reads the key files again on each SIGHUP, and makes what they hold the keys the receiver accepts.
/// A file that became unreadable, empty or wrong keeps the keys in use, and says so in the log.
fn watch_key_files(keys: KeysHandle, sources: KeySources) -> Result<(), CliError> {
    if !sources.has_files() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = signal(SignalKind::hangup())
            .map_err(|e| CliError::failed(format!("cannot catch SIGHUP to read the key files again: {e}")))?;
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                reload_keys(&keys, &sources);
            }
        });
    }
    #[cfg(not(unix))]
    let _ = (keys, sources);
    Ok(())
}

fn reload_keys(keys: &KeysHandle, sources: &KeySources) {
    let loaded = sources.load().and_then(|loaded| {
        keys.replace(loaded.keys.clone())
            .map(|()| loaded)
            .map_err(CliError::from)
    });
    let now = keys.current();
    match loaded {
        Ok(loaded) => {
            for length in &loaded.short {
                tracing::warn!("{}", short_token_warning(*length));
            }
            tracing::info!(
                path_tokens = now.path_token_count(),
                basic_credentials = now.basic_auth_count(),
                "SIGHUP: read the key files again; {} path tokens and {} Basic credentials are accepted",
                now.path_token_count(),
                now.basic_auth_count()
            );
        }
        Err(e) => tracing::error!(
            path_tokens = now.path_token_count(),
            basic_credentials = now.basic_auth_count(),
            "SIGHUP: the key files were not taken: {}; the {} path tokens and {} Basic credentials in use stay",
            e.message(),
            now.path_token_count(),
            now.basic_auth_count()
        ),
    }
}

/// Counts the lines dropped because stdout is not read into `count`, and says so on stderr at most every
/// [`DROPPED_WARNING`]; runs until aborted.
async fn count_dropped_lines(ui: Ui, count: impl Fn(u64)) {
    let mut counted = 0;
    let mut warned: Option<tokio::time::Instant> = None;
    let mut interval = tokio::time::interval(DROPPED_CHECK);
    loop {
        interval.tick().await;
        let dropped = ui.dropped_lines();
        if dropped == counted {
            continue;
        }
        count(dropped - counted);
        counted = dropped;
        if warned.is_none_or(|at| at.elapsed() >= DROPPED_WARNING) {
            warned = Some(tokio::time::Instant::now());
            tracing::warn!(
                dropped_lines = dropped,
                "stdout is not being read, so lines were not printed; every delivery is in the inbox (`cxtn inbox list`)"
            );
        }
    }
}

/// The admin listener, when `--admin-addr` asks for one, with its token from `--admin-token-file` or
/// `CXTN_ADMIN_TOKEN`.
fn admin(
    builder: ReceiverBuilder,
    args: &ListenArgs,
    inbox: &std::sync::Arc<dyn cxtn::receiver::Inbox>,
) -> Result<ReceiverBuilder, CliError> {
    let Some(addr) = args.admin_addr else {
        return Ok(builder);
    };
    let token = match &args.admin_token_file {
        Some(path) => Some(read_secret(path, "--admin-token-file")?),
        None => std::env::var("CXTN_ADMIN_TOKEN")
            .ok()
            .map(|token| token.trim().to_owned())
            .filter(|token| !token.is_empty()),
    };
    let mut builder = builder.admin_addr(addr);
    if args.console {
        builder = builder.admin_mount(CONSOLE_PATH, console(inbox, addr, token.as_deref())?);
    }
    Ok(match token {
        Some(token) => builder.admin_token(token),
        None => builder,
    })
}

/// Where `--console` serves the inbox console on the admin listener.
const CONSOLE_PATH: &str = "/console";

/// The inbox console for the admin listener at `addr`: under the admin token when there is one, and refused on an
/// address other than loopback without one.
fn console(
    inbox: &std::sync::Arc<dyn cxtn::receiver::Inbox>,
    addr: std::net::SocketAddr,
    token: Option<&str>,
) -> Result<cxtn::console::Console, CliError> {
    if token.is_none() && !addr.ip().is_loopback() {
        return Err(CliError::usage(format!(
            "--console on the admin address {addr}, which is not a loopback address, needs an admin token"
        ))
        .hint(
            "Set CXTN_ADMIN_TOKEN or pass --admin-token-file, or give a loopback --admin-addr such as 127.0.0.1:9090.",
        ));
    }
    let mut builder = cxtn::console::Console::builder(inbox.clone()).base_path(CONSOLE_PATH);
    if let Some(token) = token {
        builder = builder.admin_token(token);
    }
    builder
        .build()
        .map_err(|e| CliError::usage(format!("cannot serve the console: {e}")))
}

/// The path token becomes the last segment of a URL path, so it must need no escaping.
fn check_token(token: &str) -> Result<(), CliError> {
    if token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    {
        Ok(())
    } else {
        Err(
            CliError::usage("the path token may hold only letters, digits, and - . _ ~")
                .hint("Generate one with, for example, `openssl rand -hex 24`."),
        )
    }
}

/// The endpoint URL to register, with its secrets replaced by placeholders.
fn endpoint_url(addr: SocketAddr, has_token: bool, basic: Option<&BasicAuth>) -> String {
    let host = match addr {
        SocketAddr::V4(v4) if v4.ip().is_unspecified() => format!("localhost:{}", v4.port()),
        SocketAddr::V6(v6) if v6.ip().is_unspecified() => format!("localhost:{}", v6.port()),
        other => other.to_string(),
    };
    let credentials = basic.map_or_else(String::new, |b| format!("{}:<password>@", b.user));
    let token = if has_token { "/<token>" } else { "" };
    format!("http://{credentials}{host}{PATH_PREFIX}{token}")
}

fn announce(
    ui: &Ui,
    running: &Running,
    url: &str,
    args: &ListenArgs,
    basic: &Option<BasicAuth>,
    has_token: bool,
    forward: Option<&Target>,
) -> Result<(), CliError> {
    let mut auth = Vec::new();
    if has_token {
        auth.push("path_token");
    }
    if basic.is_some() {
        auth.push("basic");
    }
    ui.render(&Listening {
        kind: "listening",
        admin_addr: running.admin_addr().map(|addr| addr.to_string()),
        console_url: running
            .admin_addr()
            .filter(|_| args.console)
            .map(|addr| format!("http://{addr}{CONSOLE_PATH}/")),
        addr: running.addr().to_string(),
        url: url.to_owned(),
        inbox: store::redacted(&args.db),
        auth,
        forward_to: forward.map(|t| t.redacted().to_owned()),
        publish: args.publish.iter().map(|url| redacted_url(url)).collect(),
        retain_processed_seconds: args.retain_processed.map(|age| age.as_secs()),
    })
}

/// An age as `--retain-processed` takes it: whole days, hours, minutes or seconds.
fn age(seconds: u64) -> String {
    match seconds {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

fn print_arrival(ui: &Ui, arrival: &Arrival) -> Result<(), CliError> {
    let (outcome, reason) = match &arrival.outcome {
        ArrivalOutcome::Stored => ("stored", None),
        ArrivalOutcome::Duplicate => ("duplicate", None),
        ArrivalOutcome::Conflict => ("conflict", None),
        ArrivalOutcome::Quarantined { reason } => ("quarantined", Some(reason.as_str())),
        ArrivalOutcome::Rejected { reason } => ("rejected", Some(reason.as_str())),
        _ => ("other", None),
    };
    ui.render(&ArrivalLine {
        kind: "arrival",
        outcome,
        event_id: arrival.event_id.as_ref().map(|id| id.as_str()),
        event: arrival.event.as_deref(),
        reason,
        received_at_ms: arrival.received_at_ms,
        received_at: Rfc3339Ms(arrival.received_at_ms),
    })
}

/// The UTC time of day of `ms` as `HH:MM:SS.mmm`, written straight into `out` (one per delivery line).
fn clock(out: &mut String, ms: i64) {
    use std::fmt::Write as _;
    let of_day = ms.rem_euclid(86_400_000);
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}.{:03}",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000
    );
}

/// A time in milliseconds, written as RFC 3339 only when a JSON line is made of it.
struct Rfc3339Ms(i64);

impl Serialize for Rfc3339Ms {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        crate::ui::rfc3339_ms(self.0).serialize(serializer)
    }
}

/// Hands each stored event's body, exactly as received, to the local app.
#[derive(Debug)]
struct Forwarder {
    inbox: Arc<dyn Inbox>,
    poster: Poster,
    target: Target,
    ui: Ui,
    max_attempts: u32,
    attempts: Counter,
    failures: Counter,
}

#[async_trait]
impl Handler for Forwarder {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        let event_id = event.notification.event_id();
        let record = self
            .inbox
            .event(event_id)
            .await?
            .ok_or_else(|| format!("the event {event_id} is no longer in the inbox"))?;
        self.forward(event_id.as_str(), event.attempt, record.body).await
    }

    async fn handle_quarantined(&self, event: &QuarantinedEvent) -> Result<(), HandlerError> {
        self.forward(event.event_id.as_str(), event.attempt, event.body.clone())
            .await
    }
}

impl Forwarder {
    /// POSTs a body exactly as received, and prints how it went.
    async fn forward(&self, event_id: &str, attempt: u32, body: cxtn_transport::Bytes) -> Result<(), HandlerError> {
        self.attempts.inc();
        let result = self.poster.post(&self.target, body).await;
        let ok = result.as_ref().is_ok_and(|s| (200..300).contains(s));
        if !ok {
            self.failures.inc();
        }
        let _ = self.ui.render(&ForwardLine {
            kind: "forward",
            event_id,
            attempt,
            status: result.as_ref().ok().copied(),
            ok,
            error: result.as_ref().err().map(ToString::to_string),
            last: attempt >= self.max_attempts,
        });
        match result {
            Ok(_) if ok => Ok(()),
            Ok(status) => Err(format!("{} answered HTTP {status}", self.target.redacted()).into()),
            Err(e) => Err(e.into()),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listening {
    #[serde(rename = "type")]
    kind: &'static str,
    addr: String,
    url: String,
    inbox: String,
    auth: Vec<&'static str>,
    forward_to: Option<String>,
    /// The outlets' URLs, credentials left out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    publish: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    admin_addr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    console_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retain_processed_seconds: Option<u64>,
}

impl Render for Listening {
    fn human(&self, ui: &Ui) {
        ui.out(format!("Listening on {}", ui.paint(BOLD, &self.url)));
        let mut fields = vec![
            ("inbox".to_owned(), clean(&self.inbox).into_owned()),
            (
                "auth".to_owned(),
                if self.auth.is_empty() {
                    "none".to_owned()
                } else {
                    self.auth.join(" and ").replace('_', " ")
                },
            ),
        ];
        for outlet in &self.publish {
            fields.push(("publish to".to_owned(), clean(outlet).into_owned()));
        }
        if let Some(target) = &self.forward_to {
            fields.push(("forward to".to_owned(), clean(target).into_owned()));
        }
        if let Some(admin) = &self.admin_addr {
            fields.push((
                "admin".to_owned(),
                format!("http://{admin} (/healthz, /readyz, /metrics)"),
            ));
        }
        if let Some(console) = &self.console_url {
            fields.push(("console".to_owned(), console.clone()));
        }
        if let Some(seconds) = self.retain_processed_seconds {
            fields.push((
                "retention".to_owned(),
                format!(
                    "processed events pruned {} after they arrive, checked every hour",
                    age(seconds)
                ),
            ));
        }
        ui.fields(&fields);
        ui.out(ui.paint(
            DIM,
            "Register that URL (your public host in place of this one) with `cxtn webhooks create`. Ctrl-C stops.",
        ));
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArrivalLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    outcome: &'static str,
    event_id: Option<&'a str>,
    event: Option<&'a str>,
    reason: Option<&'a str>,
    received_at_ms: i64,
    received_at: Rfc3339Ms,
}

impl Render for ArrivalLine<'_> {
    // One line per delivery: built in one buffer, without the allocations of a `format!` per part.
    fn human(&self, ui: &Ui) {
        let style = match self.outcome {
            "stored" => GOOD,
            "duplicate" | "conflict" => WARN,
            _ => BAD,
        };
        let mut time = String::with_capacity(12);
        clock(&mut time, self.received_at_ms);
        let mut line = String::with_capacity(128);
        line.push_str(&ui.paint(DIM, time));
        line.push_str("  ");
        line.push_str(&ui.paint(style, format_args!("{:<14}", self.outcome)));
        if let Some(id) = self.event_id {
            line.push_str("  ");
            line.push_str(&ui.paint(ID, id));
        }
        if let Some(event) = self.event {
            line.push_str("  ");
            line.push_str(&clean(event));
        }
        if let Some(reason) = self.reason {
            line.push_str("  ");
            line.push_str(&clean(reason));
        }
        ui.out(line);
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ForwardLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    event_id: &'a str,
    attempt: u32,
    status: Option<u16>,
    ok: bool,
    error: Option<String>,
    /// Whether it was the last attempt before the event is dead-lettered.
    #[serde(skip)]
    last: bool,
}

impl Render for ForwardLine<'_> {
    fn human(&self, ui: &Ui) {
        let what = match (&self.status, &self.error) {
            (Some(status), _) => format!("HTTP {status}"),
            (None, Some(error)) => clean(error).into_owned(),
            (None, None) => String::new(),
        };
        let verdict = if self.ok { "forwarded" } else { "forward failed" };
        let event_id = self.event_id;
        let mut time = String::with_capacity(12);
        clock(
            &mut time,
            chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now()).timestamp_millis(),
        );
        ui.out(format!(
            "{}  {}  {}  {what}{}",
            ui.paint(DIM, time),
            ui.paint(if self.ok { GOOD } else { BAD }, format!("{verdict:<14}")),
            ui.paint(ID, event_id),
            match (self.ok, self.last) {
                (true, _) => String::new(),
                (false, false) => format!(" (attempt {}; will be retried)", self.attempt),
                (false, true) => format!(
                    " (last attempt; dead-lettered: `cxtn inbox replay {}` tries again)",
                    clean(event_id)
                ),
            }
        ));
    }
}

#[derive(Serialize)]
struct Stopped<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    /// Where everything received is.
    #[serde(skip)]
    inbox: &'a str,
}

impl Render for Stopped<'_> {
    fn human(&self, ui: &Ui) {
        ui.out(format!("Stopped. Everything received is in {}.", clean(self.inbox)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_file_is_read_without_its_byte_order_mark_and_line_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin-token");
        std::fs::write(&path, "\u{feff}adm1n-token \r\n# not read\n").unwrap();
        assert_eq!(read_secret(&path, "--admin-token-file").unwrap(), "adm1n-token");
        std::fs::write(&path, "\u{feff}\r\n").unwrap();
        assert!(read_secret(&path, "--admin-token-file").is_err());
    }
}
