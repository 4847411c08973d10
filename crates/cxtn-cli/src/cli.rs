//! The command line: every command, flag and environment variable.

use std::path::PathBuf;
use std::str::FromStr;

use clap::parser::ValueSource;
use clap::{ArgAction, ArgGroup, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use cxtn::model::Secret;
use cxtn::{EndpointStatus, Environment, WebhookEventType};

use crate::error::CliError;

const AFTER_HELP: &str = "\
Start here:
  cxtn demo                       the whole webhook loop, locally, in seconds
  cxtn sandbox                    the LOCAL simulator of CXTN to point the other commands at
                                  (not CXTN's hosted sandbox environment, which is --env hosted-sandbox)
  cxtn listen --path-token TOKEN  receive notifications into a durable inbox

Exit codes: 0 success, 1 the operation failed, 2 wrong usage.";

/// The command line of cxtn-rs: manage CXTN webhook endpoints, receive notifications,
/// inspect and replay them, and run the whole loop locally.
#[derive(Debug, Parser)]
#[command(name = "cxtn", version, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

impl Cli {
    /// The command line of this process; on wrong usage, the error and exit code 2 (the error as JSON on stderr
    /// when `--json` is on the line).
    /// Notes which secrets were given as flags, so the command can warn that `ps` shows them.
    pub(crate) fn from_env() -> Self {
        let matches = <Self as CommandFactory>::command()
            .try_get_matches()
            .unwrap_or_else(|e| exit_usage(e));
        let mut cli = Self::from_arg_matches(&matches).unwrap_or_else(|e| exit_usage(e));
        let Some((_, sub)) = matches.subcommand() else {
            return cli;
        };
        let flagged = |id: &str| sub.value_source(id) == Some(ValueSource::CommandLine);
        let db_flagged = |db: &str| flagged("db") && has_password(db);
        match &mut cli.command {
            Command::Listen(args) => {
                for (id, flag) in [("path_token", "--path-token"), ("basic_auth", "--basic-auth")] {
                    if flagged(id) {
                        args.secret_flags.push(flag);
                    }
                }
                if db_flagged(&args.db) {
                    args.secret_flags.push("--db");
                }
            }
            Command::Inbox(args) if db_flagged(&args.db) => args.secret_flags.push("--db"),
            Command::Sandbox(args) if flagged("token") => args.secret_flags.push("--token"),
            _ => {}
        }
        cli
    }
}

/// Ends the process on a command line clap refused, with exit code 2: as clap prints it, or under `--json`
/// as the JSON error object every command prints on stderr. Help and version go to stdout as always.
fn exit_usage(error: clap::Error) -> ! {
    use clap::error::ErrorKind;
    let wants_json = std::env::args_os()
        .skip(1)
        .take_while(|arg| arg != "--")
        .any(|arg| arg == "--json");
    let shows_help = matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if !wants_json || shows_help {
        error.exit()
    }
    let error = usage_error(&error.render().to_string());
    eprintln!("{}", error.to_json());
    std::process::exit(i32::from(error.kind().exit_code()))
}

/// A usage error from clap's text: its first line, without `error: `, with the indented lines right under it
/// (the arguments a missing-arguments error names), and its tips as the hint.
fn usage_error(text: &str) -> CliError {
    let mut lines = text.lines().peekable();
    let first = lines.next().unwrap_or_default();
    let mut message = first.strip_prefix("error: ").unwrap_or(first).trim().to_owned();
    while let Some(line) =
        lines.next_if(|line| line.starts_with(' ') && !line.trim().is_empty() && !line.trim().starts_with("tip: "))
    {
        message.push(' ');
        message.push_str(line.trim());
    }
    let tips: Vec<&str> = lines
        .map(str::trim)
        .filter_map(|line| line.strip_prefix("tip: "))
        .collect();
    let hint = if tips.is_empty() {
        "Run the command with --help to see what it takes.".to_owned()
    } else {
        tips.join(" ")
    };
    CliError::usage(message).hint(hint)
}

/// Whether a `--db` value is a URL whose user information holds a password (`postgres://user:pass@host`)
/// or whose query names one (`?password=`).
pub(crate) fn has_password(db: &str) -> bool {
    let Some((_, rest)) = db.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let in_userinfo = authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'));
    let in_query = rest.split_once('?').is_some_and(|(_, query)| {
        query
            .split('&')
            .any(|pair| pair.to_ascii_lowercase().starts_with("password="))
    });
    in_userinfo || in_query
}

/// The help heading of the options every command takes.
const GLOBAL: &str = "Global options";

/// Options every command takes: how it prints and logs.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Print machine-readable JSON: one JSON value per line
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub(crate) json: bool,

    /// Print more detail, and log more on stderr: -v info, -vv debug, -vvv trace
    #[arg(short, long, global = true, help_heading = GLOBAL, action = ArgAction::Count)]
    pub(crate) verbose: u8,

    /// Print only errors on stderr
    #[arg(short, long, global = true, help_heading = GLOBAL, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    /// Logs on stderr as text, or as JSON lines for log shippers
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "CXTN_LOG_FORMAT",
        hide_env_values = true,
        value_enum,
        default_value_t = LogFormat::Text,
        value_name = "FORMAT"
    )]
    pub(crate) log_format: LogFormat,
}

/// The help heading of the options that say which API the management commands call.
const API: &str = "API options";

/// Which API the management commands (`cxtn webhooks ...`) call, and with which access token.
#[derive(Debug, Args)]
pub(crate) struct ApiArgs {
    /// CXTN's hosted environment to call: hosted-sandbox, staging or production (none by default:
    /// name one, or give --base-url)
    #[arg(
        long,
        global = true,
        help_heading = API,
        env = "CXTN_ENV",
        hide_env_values = true,
        value_name = "ENV",
        value_parser = parse_environment
    )]
    pub(crate) env: Option<EnvArg>,

    /// The API to call instead of CXTN's: the local simulator `cxtn sandbox` runs (http://127.0.0.1:4010/api/)
    #[arg(long, global = true, help_heading = API, env = "CXTN_BASE_URL", hide_env_values = true, value_name = "URL")]
    pub(crate) base_url: Option<String>,

    /// Read the access token from this file instead of the CXTN_ACCESS_TOKEN variable
    #[arg(long, global = true, help_heading = API, value_name = "PATH")]
    pub(crate) token_file: Option<PathBuf>,
}

/// How logs are written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Manage webhook endpoints through the CXTN API (needs an access token)
    Webhooks(WebhooksArgs),
    /// Read notification bodies
    Events(EventsArgs),
    /// Receive notifications: an authenticated receiver that stores each one in a durable inbox
    Listen(Box<ListenArgs>),
    /// List, show and replay what a receiver stored
    Inbox(InboxArgs),
    /// Send a sample notification through the local simulator to your endpoint, or straight to a receiver (--to)
    Trigger(TriggerArgs),
    /// Run the LOCAL simulator of CXTN on this machine: the management API, and deliveries to your endpoints
    /// (not CXTN's hosted sandbox environment)
    Sandbox(SandboxArgs),
    /// Run the whole webhook loop locally in a few seconds, and check that nothing was lost or doubled
    Demo(DemoArgs),
    /// Serve the inbox console: a web page of what arrived, what failed and why, with replay
    Console(crate::cmd::console::ConsoleArgs),
    /// Send captured traffic (from `cxtn inbox export`) to a receiver: at its recorded pace or faster, with chaos
    Replay(crate::cmd::replay::ReplayArgs),
}

#[derive(Debug, Args)]
#[command(
    after_help = "Name the API to call: --base-url for the local simulator `cxtn sandbox` runs (http://127.0.0.1:4010/api/),\n\
or --env hosted-sandbox, staging or production for CXTN itself; with neither, nothing is called.\n\
The access token comes from CXTN_ACCESS_TOKEN, or from the file given with --token-file.\n\
Event types, by name or number: Trade (0), Payment (1), AccountTransaction (2), Wallet (3),\n\
Card (4), Quote (5), BulkPayments (6). CXTN sends notifications for Payment and AccountTransaction only."
)]
pub(crate) struct WebhooksArgs {
    #[command(flatten)]
    pub(crate) api: ApiArgs,

    /// Print endpoint URLs whole; they carry secrets, so they are redacted by default
    #[arg(long, global = true)]
    pub(crate) show_urls: bool,

    #[command(subcommand)]
    pub(crate) command: WebhooksCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum WebhooksCommand {
    /// Enable webhooks on the account (CXTN must have approved them first)
    Enable,
    /// Create the endpoint of an event type (one per event type)
    Create(EndpointArgs),
    /// Change the URL of an event type's endpoint
    Edit(EndpointArgs),
    /// Set an event type's endpoint Active, Inactive or Paused
    Status(StatusArgs),
    /// Deactivate every endpoint (asks first on a terminal)
    Deactivate(DeactivateArgs),
    /// List the endpoints
    List,
    /// Make sure an event type's endpoint exists, points at the URL, and is Active
    Ensure(EndpointArgs),
    /// Show how the endpoints differ from a cxtn-webhooks.toml file (exit 3 when they do)
    Plan(crate::cmd::plan::PlanArgs),
    /// Make the endpoints match a cxtn-webhooks.toml file, and report each change
    Apply(crate::cmd::plan::ApplyArgs),
    /// Rotate an endpoint's path token without downtime: a new token for the receiver, then the endpoint
    Rotate(RotateArgs),
}

#[derive(Debug, Args)]
#[command(
    after_help = "Steps: 1. generate a token (32 random bytes, URL-safe base64); 2. append it to the\n\
--path-token-file of the receiver (written to a new file, then renamed; mode 0600), and send SIGHUP with\n\
--reload-pid; 3. wait until the receiver accepts it: a GET with the new token answered 405 (stores nothing);\n\
4. point the endpoint at the new URL; 5. say when the old token can leave the file.\n\
Tokens are printed only as fingerprints (sha256: and 8 hex digits).\n\
Exit codes: 0 rotated, 1 the receiver did not accept the token in time or the API refused, 2 wrong usage."
)]
pub(crate) struct RotateArgs {
    /// The event type whose endpoint is rotated, by name or number (Payment, AccountTransaction, 1, 2, ...)
    #[arg(long, value_name = "TYPE", value_parser = parse_event_type)]
    pub(crate) event_type: WebhookEventType,

    /// The new endpoint URL, with {token} where the path token goes
    #[arg(long, value_name = "URL")]
    pub(crate) url_template: String,

    /// The receiver's path-token file, as `cxtn listen --path-token-file` reads it: the new token is appended
    #[arg(long, value_name = "PATH")]
    pub(crate) path_token_file: PathBuf,

    /// Send SIGHUP to this process, the receiver, once the file is written, so that it reads it again
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(i32).range(1..))]
    pub(crate) reload_pid: Option<i32>,

    /// Where to check that the receiver accepts the new token, when not at the new endpoint URL:
    /// a URL with {token}, or one the token is appended to as its last path segment
    #[arg(long, value_name = "URL")]
    pub(crate) receiver_url: Option<String>,

    /// How long to wait for the receiver to accept the new token
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) timeout: std::time::Duration,

    /// How long CXTN may still retry deliveries to the old URL: the old token can leave the file after that
    #[arg(long, default_value = "3d", value_name = "AGE", value_parser = parse_age)]
    pub(crate) retire_after: std::time::Duration,
}

#[derive(Debug, Args)]
pub(crate) struct EndpointArgs {
    /// The event type, by name or number (Payment, AccountTransaction, 1, 2, ...)
    #[arg(long, value_name = "TYPE", value_parser = parse_event_type)]
    pub(crate) event_type: WebhookEventType,

    /// The endpoint URL: https, or http on a loopback address
    #[arg(long, value_name = "URL")]
    pub(crate) url: String,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The event type, by name or number (Payment, AccountTransaction, 1, 2, ...)
    #[arg(long, value_name = "TYPE", value_parser = parse_event_type)]
    pub(crate) event_type: WebhookEventType,

    /// The new status: Active delivers, Inactive drops, Paused holds until Active again
    #[arg(long, value_enum)]
    pub(crate) status: StatusArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StatusArg {
    Active,
    Inactive,
    Paused,
}

impl StatusArg {
    pub(crate) fn to_status(self) -> EndpointStatus {
        match self {
            Self::Active => EndpointStatus::Active,
            Self::Inactive => EndpointStatus::Inactive,
            Self::Paused => EndpointStatus::Paused,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct DeactivateArgs {
    /// Do not ask for confirmation (needed when stdin is not a terminal)
    #[arg(long, short)]
    pub(crate) yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    #[command(subcommand)]
    pub(crate) command: EventsCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum EventsCommand {
    /// Parse one notification body and print what it says (with --json, its canonical form)
    Parse(ParseArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ParseArgs {
    /// The file holding the body, or - for standard input
    #[arg(value_name = "FILE", default_value = "-")]
    pub(crate) file: PathBuf,
}

#[derive(Debug, Args)]
#[command(
    after_help = "The endpoint URL to register ends with the path token: http://HOST:PORT/cxtn/<token>.\n\
Each delivery is stored before it is answered; a redelivered eventId is answered and stored once.\n\
Ctrl-C or SIGTERM stops after the forwards in progress (see --shutdown-timeout); a second one stops at once,\n\
with exit code 130 (SIGINT) or 143 (SIGTERM)."
)]
pub(crate) struct ListenArgs {
    /// The address to listen on
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    pub(crate) addr: String,

    /// The secret last segment of the endpoint URL's path, 32 or more random characters; repeat it to accept
    /// several at once while rotating (ps shows flags: prefer the variable or --path-token-file)
    #[arg(long, env = "CXTN_PATH_TOKEN", hide_env_values = true, value_name = "TOKEN", value_parser = parse_secret)]
    pub(crate) path_token: Vec<Secret>,

    /// Read the path tokens from this file, one a line (blank lines and # comments skipped); SIGHUP reads it again
    #[arg(
        long,
        env = "CXTN_PATH_TOKEN_FILE",
        hide_env_values = true,
        value_name = "PATH",
        conflicts_with = "path_token"
    )]
    pub(crate) path_token_file: Option<PathBuf>,

    /// Accept a path token shorter than 24 characters
    #[arg(long)]
    pub(crate) allow_short_path_token: bool,

    /// HTTP Basic credentials the endpoint URL carries; repeat it to accept several
    /// (ps shows flags: prefer the variable or --basic-auth-file)
    #[arg(
        long,
        env = "CXTN_BASIC_AUTH",
        hide_env_values = true,
        value_name = "USER:PASS",
        value_parser = parse_basic_auth
    )]
    pub(crate) basic_auth: Vec<BasicAuth>,

    /// Read HTTP Basic credentials from this file, USER:PASS one a line (blank lines and # comments skipped);
    /// SIGHUP reads it again
    #[arg(
        long,
        env = "CXTN_BASIC_AUTH_FILE",
        hide_env_values = true,
        value_name = "PATH",
        conflicts_with = "basic_auth"
    )]
    pub(crate) basic_auth_file: Option<PathBuf>,

    /// The inbox: a SQLite file, created when missing, or a postgres:// URL shared by many receivers
    #[arg(long, env = "CXTN_INBOX", hide_env_values = true, default_value = DEFAULT_INBOX, value_name = "PATH|URL", value_parser = parse_inbox)]
    pub(crate) db: InboxArg,

    /// The schema of a PostgreSQL inbox
    #[arg(long, env = "CXTN_INBOX_SCHEMA", hide_env_values = true, default_value = DEFAULT_SCHEMA, value_name = "NAME")]
    pub(crate) schema: String,

    /// POST each stored event's body, exactly as received (quarantined ones too), to this URL; a non-2xx answer is retried
    #[arg(long, value_name = "URL", value_parser = parse_url)]
    pub(crate) forward_to: Option<UrlArg>,

    /// Publish each stored event's body, exactly as received, to a broker before any --forward-to (repeatable):
    /// nats://, amqp:// or redis:// with the parameters docs/outlets.md lists
    #[arg(long = "publish", value_name = "URL", value_parser = parse_url)]
    pub(crate) publish: Vec<UrlArg>,

    /// How long one forward may take, connecting included, before the attempt counts as failed
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) forward_timeout: std::time::Duration,

    /// Attempts (to forward, or to publish) before an event is dead-lettered (`cxtn inbox replay` tries again)
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) forward_attempts: u32,

    /// Events forwarded or published at once; more keeps the wait from store to forward short under heavy load
    #[arg(long, default_value_t = 16, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) forward_concurrency: u32,

    /// Run without any authentication: anyone who can reach the port can inject events
    #[arg(long)]
    pub(crate) insecure_no_auth: bool,

    /// How long a stop waits for the forwards in progress before giving their events back to the inbox
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) shutdown_timeout: std::time::Duration,

    /// The most connections open at once; at the cap, the connection idle longest is closed to admit a new one.
    /// Keep it well below `ulimit -n`
    #[arg(long, default_value_t = 512, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_connections: u32,

    /// Prune processed events that arrived longer ago than this (30d, 12h), at start and then every hour;
    /// their ids are remembered for 90 days, so redeliveries stay duplicates
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub(crate) retain_processed: Option<std::time::Duration>,

    /// Serve /healthz, /readyz and /metrics (Prometheus) on this address; off by default. Keep it private
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) admin_addr: Option<std::net::SocketAddr>,

    /// Read the token /readyz and /metrics require (`Authorization: Bearer`) from this file (its first line);
    /// or set CXTN_ADMIN_TOKEN
    #[arg(long, value_name = "PATH", requires = "admin_addr")]
    pub(crate) admin_token_file: Option<PathBuf>,

    /// Serve the inbox console under /console/ on the admin address (an address other than loopback needs the
    /// admin token, which the console then asks for)
    #[arg(long, requires = "admin_addr")]
    pub(crate) console: bool,

    /// The secrets given as flags on the command line, where `ps` shows them.
    #[arg(skip)]
    pub(crate) secret_flags: Vec<&'static str>,
}

/// The inbox file the commands use unless told otherwise.
pub(crate) const DEFAULT_INBOX: &str = "cxtn-inbox.sqlite";

/// The schema of a PostgreSQL inbox unless told otherwise.
pub(crate) const DEFAULT_SCHEMA: &str = "cxtn";

/// `USER:PASS`, with the password kept out of `Debug`.
pub(crate) type BasicAuth = cxtn::model::Credentials;

#[derive(Debug, Args)]
pub(crate) struct InboxArgs {
    /// The inbox: a SQLite file written by `cxtn listen`, or a postgres:// URL
    #[arg(long, global = true, env = "CXTN_INBOX", hide_env_values = true, default_value = DEFAULT_INBOX, value_name = "PATH|URL", value_parser = parse_inbox)]
    pub(crate) db: InboxArg,

    /// The schema of a PostgreSQL inbox
    #[arg(long, global = true, env = "CXTN_INBOX_SCHEMA", hide_env_values = true, default_value = DEFAULT_SCHEMA, value_name = "NAME")]
    pub(crate) schema: String,

    #[command(subcommand)]
    pub(crate) command: InboxCommand,

    /// The secrets given as flags on the command line, where `ps` shows them.
    #[arg(skip)]
    pub(crate) secret_flags: Vec<&'static str>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum InboxCommand {
    /// List stored events, newest first (or the rejected deliveries, with --rejected)
    List(InboxListArgs),
    /// Show one stored event with its conflicting versions, or one rejected delivery, with its body
    Show(InboxShowArgs),
    /// Make a stored event pending again, or parse a rejected delivery again and store it
    Replay(InboxTarget),
    /// Count what the inbox holds
    Stats,
    /// Delete old processed events (and, when asked, dead letters, quarantined events, conflicts and rejections)
    Prune(InboxPruneArgs),
    /// Give a SQLite inbox's free space back to the file system, and switch an older file to incremental vacuum
    Vacuum,
    /// Write the stored deliveries, exactly as received, as JSON Lines on stdout (for `cxtn replay` or test fixtures)
    Export(crate::cmd::inbox::export::InboxExportArgs),
}

#[derive(Debug, Args)]
#[command(
    group(ArgGroup::new("age").required(true).multiple(true).args(["processed_older_than", "dead_older_than"])),
    after_help = "AGE is a number with a unit: 30d, 12h, 90m or 45s. Ages count from each event's first arrival.\n\
Pending and processing events are never pruned. A pruned event's id is remembered for the --dedupe-window,\n\
so a redelivery of it is still answered as a duplicate and never handled again.\n\
A SQLite inbox gives the freed space back to the file system after the prune (see `cxtn inbox vacuum`)."
)]
pub(crate) struct InboxPruneArgs {
    /// Delete processed events that arrived longer ago than this
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub(crate) processed_older_than: Option<std::time::Duration>,

    /// Delete dead letters that arrived longer ago than this
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub(crate) dead_older_than: Option<std::time::Duration>,

    /// Also delete quarantined events older than --processed-older-than
    #[arg(long, requires = "processed_older_than")]
    pub(crate) include_quarantined: bool,

    /// Also delete events that arrived again with a different body, with their conflicting versions
    #[arg(long)]
    pub(crate) include_conflicts: bool,

    /// Also delete rejected deliveries older than --processed-older-than
    #[arg(long, requires = "processed_older_than")]
    pub(crate) include_rejections: bool,

    /// How long after its arrival a pruned event's id is remembered as a duplicate
    #[arg(long, default_value = "90d", value_name = "AGE", value_parser = parse_age)]
    pub(crate) dedupe_window: std::time::Duration,

    /// Only count what would be deleted
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct InboxListArgs {
    /// Only events in this status: pending (waiting for the handler), processing, processed, dead (failed on every attempt), or quarantined (data that does not fit this version)
    #[arg(long, value_enum, conflicts_with = "rejected", hide_possible_values = true)]
    pub(crate) status: Option<StatusFilter>,

    /// Only quarantined events: the same as --status quarantined
    #[arg(long, conflicts_with_all = ["status", "rejected"])]
    pub(crate) quarantined: bool,

    /// Only events that arrived again with a different body
    #[arg(long, conflicts_with = "rejected")]
    pub(crate) conflicts: bool,

    /// At most this many
    #[arg(long, default_value_t = 50, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) limit: u32,

    /// List the deliveries without a usable envelope instead
    #[arg(long)]
    pub(crate) rejected: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StatusFilter {
    Pending,
    Processing,
    Processed,
    Dead,
    Quarantined,
}

#[derive(Debug, Args)]
pub(crate) struct InboxShowArgs {
    #[command(flatten)]
    pub(crate) target: InboxTarget,

    /// Also print the body of each conflicting version
    #[arg(long)]
    pub(crate) body: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["event_id", "rejection"])))]
pub(crate) struct InboxTarget {
    /// The event's eventId (wh_...)
    #[arg(value_name = "EVENT_ID")]
    pub(crate) event_id: Option<String>,

    /// A rejected delivery's id, as `inbox list --rejected` shows it
    #[arg(long, value_name = "ID")]
    pub(crate) rejection: Option<i64>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Without --to, the local simulator (`cxtn sandbox`, at --base-url or CXTN_BASE_URL) sends the notification\n\
to the endpoint registered for its event type, as CXTN would: webhooks must be enabled and the endpoint Active\n\
(a Paused one holds it), failed deliveries are retried, and each line says what the simulator did.\n\
With --to URL, the notification is POSTed straight to that receiver, once per copy, without the simulator.\n\n\
EVENT is an event name (account_credit, account_debit, payment_completed, trade_settled)\n\
or a sample of CXTN's guide (funds_in, payment_complete, trade_settled, account_credit,\n\
account_debit, pot_credit, pot_debit). Each notification gets a fresh eventId."
)]
pub(crate) struct TriggerArgs {
    /// The event or guide sample to send
    #[arg(value_name = "EVENT")]
    pub(crate) event: String,

    /// POST straight to this receiver URL instead of through the simulator (credentials in the URL are sent as
    /// HTTP Basic)
    #[arg(long, value_name = "URL")]
    pub(crate) to: Option<String>,

    /// The local simulator to send through: the base URL of its API, as `cxtn sandbox` prints it
    /// (http://127.0.0.1:4010/api/)
    #[arg(long, env = "CXTN_BASE_URL", hide_env_values = true, value_name = "URL")]
    pub(crate) base_url: Option<String>,

    /// Through the simulator: how long to follow the deliveries (retries included) before returning
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_duration, conflicts_with = "to")]
    pub(crate) wait: std::time::Duration,

    /// Send `data` as a string holding JSON, as older CXTN deliveries do
    #[arg(long)]
    pub(crate) data_as_string: bool,

    /// Set a field of `data`: the value is sent as JSON when it is JSON (1000.00 stays 1000.00), else as a string
    #[arg(long = "set", value_name = "FIELD=VALUE", value_parser = parse_set)]
    pub(crate) sets: Vec<SetField>,

    /// How many notifications to send
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) count: u32,

    /// Send each notification twice, same eventId, same body
    #[arg(long)]
    pub(crate) duplicate: bool,
}

/// One `--set FIELD=VALUE`.
#[derive(Debug, Clone)]
pub(crate) struct SetField {
    pub(crate) field: String,
    pub(crate) value: String,
}

#[derive(Debug, Args)]
pub(crate) struct SandboxArgs {
    /// The address to listen on
    #[arg(long, default_value = "127.0.0.1:4010", value_name = "HOST:PORT")]
    pub(crate) addr: std::net::SocketAddr,

    /// The bearer token the management routes accept [default: a random sbx_... token]
    #[arg(long, env = "CXTN_SANDBOX_TOKEN", hide_env_values = true, value_name = "TOKEN", value_parser = parse_secret)]
    pub(crate) token: Option<Secret>,

    /// Wait between delivery attempts, in milliseconds, comma-separated
    #[arg(
        long,
        value_name = "MS,...",
        value_delimiter = ',',
        default_value = "1000,2000,4000,8000"
    )]
    pub(crate) retry_ms: Vec<u64>,

    /// The secrets given as flags on the command line, where `ps` shows them.
    #[arg(skip)]
    pub(crate) secret_flags: Vec<&'static str>,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Keep the inbox in this directory instead of a new temporary one
    #[arg(long, value_name = "PATH")]
    pub(crate) dir: Option<PathBuf>,
}

/// An `--env` value: CXTN's hosted environment, and whether it was spelled the old way (`sandbox`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvArg {
    pub(crate) environment: Environment,
    /// Spelled `sandbox`, which is easily taken for the local simulator: accepted with a warning.
    pub(crate) legacy: bool,
}

fn parse_environment(text: &str) -> Result<EnvArg, String> {
    let name = text.trim().to_ascii_lowercase();
    let (environment, legacy) = match name.as_str() {
        "hosted-sandbox" => (Environment::Sandbox, false),
        "sandbox" | "integration" => (Environment::Sandbox, true),
        _ => (
            Environment::from_str(&name).map_err(|_| {
                format!(
                    "`{}` is not an environment: use hosted-sandbox, staging or production, or --base-url URL for a local simulator",
                    text.trim()
                )
            })?,
            false,
        ),
    };
    Ok(EnvArg { environment, legacy })
}

fn parse_event_type(text: &str) -> Result<WebhookEventType, String> {
    WebhookEventType::from_str(text).map_err(|e| e.to_string())
}

/// A secret given as a flag or a variable; its `Debug` shows no part of it.
#[allow(clippy::unnecessary_wraps)]
pub(crate) fn parse_secret(text: &str) -> Result<Secret, String> {
    Ok(Secret::new(text))
}

/// An inbox given as `--db`: a SQLite file's path, or a PostgreSQL URL that may hold a password, so its `Debug`
/// shows it as the logs do ([`store::redacted`](crate::store::redacted)).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct InboxArg(String);

impl std::ops::Deref for InboxArg {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for InboxArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("InboxArg")
            .field(&crate::store::redacted(&self.0))
            .finish()
    }
}

#[allow(clippy::unnecessary_wraps)]
pub(crate) fn parse_inbox(text: &str) -> Result<InboxArg, String> {
    Ok(InboxArg(text.to_owned()))
}

/// A URL given as a flag, which may hold credentials or a path token: its `Debug` shows its scheme, host and port
/// only ([`EndpointUrl::redacted`](cxtn::model::EndpointUrl::redacted)).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct UrlArg(String);

impl std::ops::Deref for UrlArg {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for UrlArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("UrlArg")
            .field(&cxtn::model::EndpointUrl::new(self.0.as_str()).redacted())
            .finish()
    }
}

#[allow(clippy::unnecessary_wraps)]
pub(crate) fn parse_url(text: &str) -> Result<UrlArg, String> {
    Ok(UrlArg(text.to_owned()))
}

pub(crate) fn parse_basic_auth(text: &str) -> Result<BasicAuth, String> {
    match text.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => Ok(BasicAuth::new(user, password)),
        _ => Err("give the credentials as USER:PASS, both non-empty".to_owned()),
    }
}

/// An age: a number with a unit, `d` (days), `h`, `m` or `s`.
fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    const HINT: &str = "give an age such as 30d, 12h, 90m or 45s";
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| HINT.to_owned())?;
    let seconds = match unit.trim() {
        "d" => number.checked_mul(24 * 60 * 60),
        "h" => number.checked_mul(60 * 60),
        "m" => number.checked_mul(60),
        "s" => Some(number),
        _ => return Err(HINT.to_owned()),
    };
    seconds
        .filter(|s| *s <= 100 * 365 * 24 * 60 * 60)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| "the age is too long: give at most 100 years".to_owned())
}

/// A duration: a number with a unit (`500ms`, `30s`, `2m`), or a number of seconds.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| "give a duration such as 30s, 500ms or 2m".to_owned())?;
    let millis = match unit.trim() {
        "ms" => Some(number),
        "" | "s" => number.checked_mul(1000),
        "m" => number.checked_mul(60_000),
        _ => return Err("give a duration such as 30s, 500ms or 2m".to_owned()),
    };
    millis
        .map(std::time::Duration::from_millis)
        .ok_or_else(|| "the duration is too long".to_owned())
}

fn parse_set(text: &str) -> Result<SetField, String> {
    match text.split_once('=') {
        Some((field, value)) if !field.trim().is_empty() => Ok(SetField {
            field: field.trim().to_owned(),
            value: value.to_owned(),
        }),
        _ => Err("give the field as FIELD=VALUE, for example amount=1000.00".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn basic_auth_keeps_the_password_out_of_debug() {
        let auth = parse_basic_auth("cxtn:s3cret:with-colon").unwrap();
        assert_eq!(auth.user, "cxtn");
        assert_eq!(auth.password, "s3cret:with-colon");
        assert!(!format!("{auth:?}").contains("s3cret"));
        assert!(parse_basic_auth("nopassword").is_err());
        assert!(parse_basic_auth(":pass").is_err());
    }

    #[test]
    fn parsed_command_lines_keep_their_secrets_out_of_debug() {
        for line in [
            &[
                "cxtn",
                "listen",
                "--path-token",
                "tok-s3cret-0123456789abcdef0123456789",
                "--db",
                "postgres://cxtn:pw-s3cret@db.internal/payments",
            ][..],
            &[
                "cxtn",
                "inbox",
                "--db",
                "postgres://cxtn:pw-s3cret@db.internal/payments",
                "list",
            ],
            &[
                "cxtn",
                "console",
                "--db",
                "postgres://cxtn:pw-s3cret@db.internal/payments",
            ],
            &["cxtn", "sandbox", "--token", "sbx_s3cret"],
            &[
                "cxtn",
                "inbox",
                "export",
                "--pseudonymise",
                "--pseudonym-key",
                "key-s3cret",
            ],
            &[
                "cxtn",
                "replay",
                "-",
                "--to",
                "http://u:pw-s3cret@127.0.0.1:8080/cxtn/tok-s3cret",
                "--path-token",
                "tok-s3cret",
            ],
            &[
                "cxtn",
                "listen",
                "--path-token",
                "tok-s3cret-0123456789abcdef0123456789",
                "--forward-to",
                "http://app:pw-s3cret@127.0.0.1:3000/hooks",
                "--publish",
                "amqp://guest:pw-s3cret@127.0.0.1:5672/%2f?exchange=cxtn",
            ],
        ] {
            let cli = Cli::try_parse_from(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            let shown = format!("{cli:?}");
            assert!(!shown.contains("s3cret"), "{shown}");
        }
        let Cli {
            command: Command::Listen(args),
            ..
        } = Cli::try_parse_from(["cxtn", "listen", "--path-token", "tok-s3cret", "--db", "inbox.sqlite"]).unwrap()
        else {
            panic!("not listen");
        };
        assert_eq!(args.path_token[0].expose_secret(), "tok-s3cret");
        assert_eq!(&*args.db, "inbox.sqlite");
    }

    #[test]
    fn durations_take_a_unit_or_seconds() {
        use std::time::Duration;
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["", "s", "1h", "-1s", "1.5s", "99999999999999999999m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ages_take_days_hours_minutes_or_seconds() {
        use std::time::Duration;
        assert_eq!(parse_age("30d"), Ok(Duration::from_secs(30 * 24 * 3600)));
        assert_eq!(parse_age("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_age("90m"), Ok(Duration::from_secs(90 * 60)));
        assert_eq!(parse_age("45s"), Ok(Duration::from_secs(45)));
        for bad in ["", "30", "d", "1.5d", "-1d", "1w", "99999999999999999999d", "36501d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn set_splits_at_the_first_equals_sign() {
        let set = parse_set("note=a=b").unwrap();
        assert_eq!((set.field.as_str(), set.value.as_str()), ("note", "a=b"));
        assert!(parse_set("=1").is_err());
        assert!(parse_set("amount").is_err());
    }
}
