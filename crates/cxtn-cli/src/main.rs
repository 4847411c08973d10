//! `cxtn`: the command line of cxtn-rs.
//!
//! Manage CXTN webhook endpoints (`cxtn webhooks`), read notification bodies (`cxtn events parse`),
//! receive notifications into a durable inbox (`cxtn listen`), inspect and replay what arrived (`cxtn inbox`),
//! send sample notifications (`cxtn trigger`), run the local simulator (`cxtn sandbox`),
//! and see the whole loop run in seconds (`cxtn demo`).
//!
//! Logs go to stderr, as text or JSON lines (`--log-format`), at the level `-v`, `-q` or `RUST_LOG` set.
//!
//! Exit codes: 0 success, 1 the operation failed, 2 wrong usage; `listen` stopped at once by a second signal
//! exits 130 (SIGINT) or 143 (SIGTERM).
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli;
mod client;
mod cmd;
mod error;
mod http;
mod logs;
mod store;
mod summary;
mod ui;

use std::process::ExitCode;
use std::time::Duration;

use crate::error::CliError;
use crate::ui::Ui;

fn main() -> ExitCode {
    let cli = cli::Cli::from_env();
    let ui = Ui::new(cli.global.json, cli.global.verbose, cli.global.quiet);
    logs::install(&cli.global, &ui);
    if let cli::Command::Webhooks(args) = &cli.command
        && let Some(warning) = client::legacy_warning(args.api.env.as_ref())
    {
        ui.warn(warning);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            let error = CliError::failed(format!("cannot start the async runtime: {e}"));
            ui.error(&error);
            return error.exit_code();
        }
    };
    let result = runtime.block_on(cmd::run(cli, &ui));
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            ui.error(&error);
            error.exit_code()
        }
    }
}
