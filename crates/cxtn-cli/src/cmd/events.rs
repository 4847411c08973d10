//! `cxtn events parse`: what a notification body says, or why it does not parse.

use std::io::{IsTerminal, Read};
use std::path::Path;

use cxtn::Notification;
use serde::Serialize;

use crate::cli::{EventsArgs, EventsCommand};
use crate::error::{CliError, Kind};
use crate::summary;
use crate::ui::{Render, Ui};

pub(crate) fn run(args: EventsArgs, ui: &Ui) -> Result<(), CliError> {
    match args.command {
        EventsCommand::Parse(parse) => run_parse(&parse.file, ui),
    }
}

fn run_parse(file: &Path, ui: &Ui) -> Result<(), CliError> {
    let (name, body) = read(file)?;
    let notification = cxtn::events::parse(&body).map_err(|e| {
        let mut error = CliError::new(Kind::Notification, format!("{name} is not a CXTN notification: {e}"))
            .detail(format!("kind: {}", e.kind()));
        if let Some(field) = e.field() {
            error = error.detail(format!("field: {field}"));
        }
        error
    })?;
    ui.render(&Parsed(notification))
}

/// A notification that parsed: its canonical form for scripts, what it says for people.
#[derive(Serialize)]
#[serde(transparent)]
struct Parsed(Notification);

impl Render for Parsed {
    fn human(&self, ui: &Ui) {
        ui.fields(&summary::lines(&self.0, ui.verbose()));
    }
}

/// The body and a name for it: the file, or standard input for `-`.
fn read(file: &Path) -> Result<(String, Vec<u8>), CliError> {
    if file == Path::new("-") {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprintln!("Paste the notification, then press Ctrl-D.");
        }
        let mut body = Vec::new();
        stdin
            .lock()
            .read_to_end(&mut body)
            .map_err(|e| CliError::new(Kind::Io, format!("cannot read standard input: {e}")))?;
        return Ok(("standard input".to_owned(), body));
    }
    let name = file.display().to_string();
    let body = std::fs::read(file).map_err(|e| {
        CliError::new(Kind::Io, format!("cannot read {name}: {e}"))
            .hint("Check the path, or pass - to read standard input.")
    })?;
    Ok((name, body))
}
