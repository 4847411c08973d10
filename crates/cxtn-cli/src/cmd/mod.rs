//! One module per command.

mod demo;
mod events;
mod inbox;
mod listen;
mod sandbox;
mod trigger;
mod webhooks;

use std::future::Future;

use crate::cli::{Cli, Command};
use crate::error::CliError;
use crate::ui::Ui;

/// Runs the command the command line names.
pub(crate) async fn run(cli: Cli, ui: &Ui) -> Result<(), CliError> {
    match cli.command {
        Command::Webhooks(args) => webhooks::run(&cli.global, args, ui).await,
        Command::Events(args) => events::run(args, ui),
        Command::Listen(args) => listen::run(args, ui).await,
        Command::Inbox(args) => inbox::run(args, ui).await,
        Command::Trigger(args) => trigger::run(args, ui).await,
        Command::Sandbox(args) => sandbox::run(args, ui).await,
        Command::Demo(args) => demo::run(args, ui).await,
    }
}

/// Resolves when the process is asked to stop: Ctrl-C, or SIGTERM on Unix.
///
/// The signals are caught from the call on, so call it before telling anyone the command is ready.
pub(crate) fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        async fn once(signal: Option<Signal>) {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            tokio::select! {
                () = once(interrupt) => {}
                () = once(terminate) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
