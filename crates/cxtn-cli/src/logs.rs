//! The logs of the libraries the commands run (the receiver's failed stores and dead letters, the worker's
//! errors): on stderr, as text or one JSON object per line, at the level the command line or `RUST_LOG` sets.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

use crate::cli::{Global, LogFormat};
use crate::ui::{self, Ui};

/// Installs the subscriber of the process. `RUST_LOG`, when set and valid, decides what is logged;
/// else `-q` logs errors only, no flag warnings and errors, `-v` adds information, `-vv` debugging, `-vvv` tracing.
pub(crate) fn install(global: &Global, ui: &Ui) {
    let level = level(global.quiet, global.verbose);
    let (filter, bad_variable) = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => match EnvFilter::try_new(&directives) {
            Ok(filter) => (filter, None),
            Err(e) => (EnvFilter::default().add_directive(level.into()), Some(e)),
        },
        _ => (EnvFilter::default().add_directive(level.into()), None),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match global.log_format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
        LogFormat::Text => builder
            .with_ansi(ui::color_allowed() && std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
    };
    if let Err(e) = installed {
        ui.warn(format!("logs are off: {e}"));
    }
    if let Some(e) = bad_variable {
        ui.warn(format!(
            "RUST_LOG is not a filter ({e}); logging at {level} instead: give a level such as warn, or cxtn_receiver=debug"
        ));
    }
}

/// The level the flags ask for.
fn level(quiet: bool, verbose: u8) -> LevelFilter {
    match (quiet, verbose) {
        (true, _) => LevelFilter::ERROR,
        (false, 0) => LevelFilter::WARN,
        (false, 1) => LevelFilter::INFO,
        (false, 2) => LevelFilter::DEBUG,
        (false, _) => LevelFilter::TRACE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flags_set_the_level() {
        assert_eq!(level(false, 0), LevelFilter::WARN);
        assert_eq!(level(false, 1), LevelFilter::INFO);
        assert_eq!(level(false, 2), LevelFilter::DEBUG);
        assert_eq!(level(false, 9), LevelFilter::TRACE);
        assert_eq!(level(true, 0), LevelFilter::ERROR);
    }
}
