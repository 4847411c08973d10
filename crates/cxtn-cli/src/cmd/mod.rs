//! One module per command.

pub(crate) mod console;
mod demo;
mod events;
pub(crate) mod inbox;
mod listen;
pub(crate) mod plan;
pub(crate) mod replay;
mod rotate;
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
        Command::Webhooks(args) => webhooks::run(args, ui).await,
        Command::Events(args) => events::run(args, ui),
        Command::Listen(args) => listen::run(*args, ui).await,
        Command::Inbox(args) => inbox::run(args, ui).await,
        Command::Trigger(args) => trigger::run(args, ui).await,
        Command::Sandbox(args) => sandbox::run(args, ui).await,
        Command::Demo(args) => demo::run(args, ui).await,
        Command::Console(args) => console::run(args, ui).await,
        Command::Replay(args) => replay::run(args, ui).await,
    }
}

/// Warns that each flag of `flags` put a secret where the process list (`ps`) shows it to every user.
pub(crate) fn warn_secret_flags(ui: &Ui, flags: &[&str]) {
    for flag in flags {
        let instead = match *flag {
            "--path-token" => "CXTN_PATH_TOKEN or --path-token-file",
            "--basic-auth" => "CXTN_BASIC_AUTH or --basic-auth-file",
            "--token" => "CXTN_SANDBOX_TOKEN",
            _ => "CXTN_INBOX",
        };
        ui.warn(format!(
            "{flag} holds a secret, and the process list (ps) shows it to every user of this machine; use {instead} instead"
        ));
    }
}

/// Resolves when the process is asked to stop: Ctrl-C, or SIGTERM on Unix.
///
/// The signals are caught from the call on, so call it before telling anyone the command is ready.
pub(crate) fn shutdown_signal() -> impl Future<Output = ()> {
    let mut signals = Signals::new();
    async move {
        signals.next().await;
    }
}

/// The requests to stop the process: Ctrl-C (SIGINT), or SIGTERM on Unix, caught from creation on.
#[derive(Debug)]
pub(crate) struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    pub(crate) fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// Resolves at the next request to stop, with the exit code of a process that the signal ends:
    /// 130 for Ctrl-C (SIGINT), 143 for SIGTERM.
    pub(crate) async fn next(&mut self) -> u8 {
        #[cfg(unix)]
        {
            async fn once(signal: Option<&mut tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        if signal.recv().await.is_none() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = once(self.interrupt.as_mut()) => 130,
                () = once(self.terminate.as_mut()) => 143,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            130
        }
    }
}

/// The last line of a server command (`console`, `sandbox`) once it has stopped.
#[derive(serde::Serialize)]
pub(crate) struct Stopped {
    #[serde(rename = "type")]
    kind: &'static str,
}

impl Stopped {
    pub(crate) fn new() -> Self {
        Self { kind: "stopped" }
    }
}

impl crate::ui::Render for Stopped {
    fn human(&self, ui: &Ui) {
        ui.out("Stopped.");
    }
}
