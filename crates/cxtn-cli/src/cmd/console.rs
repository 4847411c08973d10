//! `cxtn console`: the inbox console, a web page over an inbox, until Ctrl-C.

use std::path::{Path, PathBuf};

use clap::Args;
use cxtn::console::{Console, ErrorKind};
use serde::Serialize;

use crate::cli::{DEFAULT_INBOX, DEFAULT_SCHEMA};
use crate::error::CliError;
use crate::store::{self, Access};
use crate::ui::{BOLD, DIM, Render, Ui, clean};

#[derive(Debug, Args)]
#[command(
    after_help = "The console shows what the inbox holds, what failed and why, and replays events and rejections.\n\
It listens on loopback by default; any other address needs an admin token, from --admin-token-file or\n\
CXTN_ADMIN_TOKEN. With a token, browsers sign in at /login and other clients send `Authorization: Bearer`.\n\
Put it behind a reverse proxy for TLS. Ctrl-C or SIGTERM stops it."
)]
pub(crate) struct ConsoleArgs {
    /// The inbox: a SQLite file written by `cxtn listen`, or a postgres:// URL
    #[arg(long, env = "CXTN_INBOX", hide_env_values = true, default_value = DEFAULT_INBOX, value_name = "PATH|URL", value_parser = crate::cli::parse_inbox)]
    pub(crate) db: crate::cli::InboxArg,

    /// The schema of a PostgreSQL inbox
    #[arg(long, env = "CXTN_INBOX_SCHEMA", hide_env_values = true, default_value = DEFAULT_SCHEMA, value_name = "NAME")]
    pub(crate) schema: String,

    /// The address to serve the console on; an address other than loopback needs an admin token
    #[arg(long, default_value = "127.0.0.1:8090", value_name = "HOST:PORT")]
    pub(crate) addr: String,

    /// Read the admin token from this file (its first line); or set CXTN_ADMIN_TOKEN
    #[arg(long, value_name = "PATH")]
    pub(crate) admin_token_file: Option<PathBuf>,
}

pub(crate) async fn run(args: ConsoleArgs, ui: &Ui) -> Result<(), CliError> {
    let token = admin_token(args.admin_token_file.as_deref())?;
    let listener = tokio::net::TcpListener::bind(&args.addr).await.map_err(|e| {
        CliError::failed(format!("cannot listen on {}: {e}", clean(&args.addr)))
            .hint("Is the port free? Give another with --addr, such as 127.0.0.1:8091.")
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::failed(format!("cannot read the console's address: {e}")))?;
    if token.is_none() && !addr.ip().is_loopback() {
        return Err(CliError::usage(format!(
            "the console would listen on {addr}, which is not a loopback address, without an admin token"
        ))
        .hint("Set CXTN_ADMIN_TOKEN or pass --admin-token-file, or listen on 127.0.0.1 (the default)."));
    }
    // Replay and re-parse write, so the inbox is opened for writing; a missing one is never created.
    let inbox = store::open(&args.db, &args.schema, Access::Existing).await?;
    let mut builder = Console::builder(inbox);
    if let Some(token) = &token {
        builder = builder.admin_token(token.as_str());
    }
    let console = builder.build().map_err(console_error)?;
    let signal = crate::cmd::shutdown_signal();
    let host = if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    };
    ui.render(&Serving {
        kind: "console",
        addr: addr.to_string(),
        url: format!("http://{host}/"),
        inbox: store::redacted(&args.db),
        admin_token: token.is_some(),
    })?;
    console.serve(listener, signal).await.map_err(console_error)?;
    ui.render(&super::Stopped::new())
}

/// The admin token from `--admin-token-file` (its first line), or from `CXTN_ADMIN_TOKEN`.
fn admin_token(file: Option<&Path>) -> Result<Option<String>, CliError> {
    let Some(path) = file else {
        return Ok(std::env::var("CXTN_ADMIN_TOKEN")
            .ok()
            .map(|token| token.trim().to_owned())
            .filter(|token| !token.is_empty()));
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::usage(format!(
            "cannot read the file {} given to --admin-token-file: {e}",
            path.display()
        ))
        .hint("Check the path given to --admin-token-file, and that this user may read it.")
    })?;
    let token = text.lines().next().unwrap_or_default().trim();
    if token.is_empty() {
        return Err(CliError::usage(format!(
            "the file {} given to --admin-token-file is empty",
            path.display()
        ))
        .hint("Write the admin token on its first line."));
    }
    Ok(Some(token.to_owned()))
}

fn console_error(e: cxtn::console::Error) -> CliError {
    match e.kind() {
        ErrorKind::Config | ErrorKind::NeedsToken => CliError::usage(e.to_string()),
        _ => CliError::failed(e.to_string()),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Serving {
    #[serde(rename = "type")]
    kind: &'static str,
    addr: String,
    url: String,
    inbox: String,
    admin_token: bool,
}

impl Render for Serving {
    fn human(&self, ui: &Ui) {
        ui.out(format!("Console on {}", ui.paint(BOLD, &self.url)));
        ui.fields(&[
            ("inbox".to_owned(), clean(&self.inbox).into_owned()),
            (
                "sign in".to_owned(),
                if self.admin_token {
                    "with the admin token (browsers at /login, others with Authorization: Bearer)".to_owned()
                } else {
                    "none: loopback only".to_owned()
                },
            ),
        ]);
        ui.out(ui.paint(DIM, "Ctrl-C stops it."));
    }
}
