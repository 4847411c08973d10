//! Output: plain lines and aligned tables for people, one JSON value per line for scripts,
//! colour only on a terminal without `NO_COLOR`, and progress on stderr only on a terminal.

use std::fmt::Display;
use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use crate::error::CliError;

pub(crate) const PLAIN: Style = Style::new();
pub(crate) const BOLD: Style = Style::new().bold();
pub(crate) const DIM: Style = Style::new().dimmed();
pub(crate) const GOOD: Style = AnsiColor::Green.on_default();
pub(crate) const WARN: Style = AnsiColor::Yellow.on_default();
pub(crate) const BAD: Style = AnsiColor::Red.on_default();
pub(crate) const ID: Style = AnsiColor::Cyan.on_default();

/// A command's result, shown to people by [`Render::human`] and to scripts as its JSON (`--json`).
pub(crate) trait Render: Serialize {
    /// Writes the result for people, through `ui`.
    fn human(&self, ui: &Ui);
}

/// How the command talks to the person or script that ran it.
#[derive(Debug, Clone)]
pub(crate) struct Ui {
    json: bool,
    verbose: u8,
    color: bool,
    err_color: bool,
    progress: bool,
}

impl Ui {
    pub(crate) fn new(json: bool, verbose: u8) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let stderr_tty = io::stderr().is_terminal();
        Self {
            json,
            verbose,
            color: !no_color && !json && io::stdout().is_terminal(),
            err_color: !no_color && stderr_tty,
            progress: !json && stderr_tty,
        }
    }

    pub(crate) fn verbose(&self) -> u8 {
        self.verbose
    }

    /// One line on stdout. A closed pipe is not an error worth reporting.
    pub(crate) fn out(&self, line: impl Display) {
        let mut stdout = io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
    }

    /// One line on stdout for people; nothing in `--json`, where stdout holds only JSON.
    pub(crate) fn human(&self, line: impl Display) {
        if !self.json {
            self.out(line);
        }
    }

    /// A result: one JSON value on one line of stdout with `--json`, else its lines for people.
    pub(crate) fn render<T: Render + ?Sized>(&self, value: &T) -> Result<(), CliError> {
        if !self.json {
            value.human(self);
            return Ok(());
        }
        let text = serde_json::to_string(value)
            .map_err(|e| CliError::failed(format!("cannot write the output as JSON: {e}")))?;
        self.out(text);
        Ok(())
    }

    /// `text` in `style`, when stdout takes colour.
    pub(crate) fn paint(&self, style: Style, text: impl Display) -> String {
        let text = text.to_string();
        if self.color && style != PLAIN && !text.is_empty() {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text
        }
    }

    fn paint_err(&self, style: Style, text: &str) -> String {
        if self.err_color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }

    /// A warning on stderr.
    pub(crate) fn warn(&self, text: impl Display) {
        let mut stderr = io::stderr().lock();
        let _ = writeln!(stderr, "{} {text}", self.paint_err(WARN.bold(), "warning:"));
    }

    /// A line of information on stderr (kept out of stdout, which scripts read).
    pub(crate) fn note(&self, text: impl Display) {
        let mut stderr = io::stderr().lock();
        let _ = writeln!(stderr, "{text}");
    }

    /// A failure on stderr: its sentences, then with `-v` its details.
    pub(crate) fn error(&self, error: &CliError) {
        let mut stderr = io::stderr().lock();
        let _ = writeln!(stderr, "{} {}", self.paint_err(BAD.bold(), "error:"), error.message());
        if let Some(hint) = error.hint_text() {
            let _ = writeln!(stderr, "{hint}");
        }
        if self.verbose > 0 {
            for detail in error.details() {
                let _ = writeln!(stderr, "  {detail}");
            }
        }
    }

    /// Rows in aligned columns under a bold header; the last column is not padded.
    pub(crate) fn table(&self, header: &[&str], rows: &[Vec<Cell>]) {
        let columns = header.len();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.text.chars().count());
            }
        }
        let line = |cells: Vec<(String, Style)>| {
            let mut out = String::new();
            for (i, ((text, style), width)) in cells.into_iter().zip(&widths).enumerate() {
                let pad = width.saturating_sub(text.chars().count());
                out.push_str(&self.paint(style, &text));
                if i + 1 < columns {
                    out.push_str(&" ".repeat(pad + 2));
                }
            }
            out.trim_end().to_owned()
        };
        self.out(line(header.iter().map(|h| ((*h).to_owned(), BOLD)).collect()));
        for row in rows {
            self.out(line(row.iter().map(|c| (c.text.clone(), c.style)).collect()));
        }
    }

    /// `label: value` lines with the values aligned.
    pub(crate) fn fields(&self, fields: &[(String, String)]) {
        let width = fields.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
        for (key, value) in fields {
            let pad = " ".repeat(width.saturating_sub(key.chars().count()) + 2);
            self.out(format!("{}{pad}{value}", self.paint(DIM, key)));
        }
    }

    /// A spinner on stderr while something slow runs; nothing unless stderr is a terminal and not `--json`.
    pub(crate) fn spinner(&self, label: impl Into<String>) -> Spinner {
        if !self.progress {
            return Spinner { shared: None };
        }
        let shared = Arc::new(Mutex::new(SpinnerState {
            label: label.into(),
            stopped: false,
            drawn: false,
        }));
        let task_state = shared.clone();
        let task = tokio::spawn(async move {
            const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
            tokio::time::sleep(Duration::from_millis(200)).await;
            for frame in FRAMES.iter().cycle() {
                {
                    let mut state = task_state.lock().unwrap_or_else(PoisonError::into_inner);
                    if state.stopped {
                        return;
                    }
                    let mut stderr = io::stderr().lock();
                    let _ = write!(stderr, "\r\x1b[2K{frame} {}", state.label);
                    let _ = stderr.flush();
                    state.drawn = true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Spinner {
            shared: Some((shared, task)),
        }
    }
}

/// One cell of a table.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub(crate) text: String,
    pub(crate) style: Style,
}

impl Cell {
    pub(crate) fn new(text: impl Display) -> Self {
        Self {
            text: text.to_string(),
            style: PLAIN,
        }
    }

    pub(crate) fn styled(text: impl Display, style: Style) -> Self {
        Self {
            text: text.to_string(),
            style,
        }
    }
}

#[derive(Debug)]
struct SpinnerState {
    label: String,
    stopped: bool,
    drawn: bool,
}

/// A running spinner; dropping it clears its line.
#[derive(Debug)]
pub(crate) struct Spinner {
    shared: Option<(Arc<Mutex<SpinnerState>>, tokio::task::JoinHandle<()>)>,
}

impl Spinner {
    pub(crate) fn set(&self, label: impl Into<String>) {
        if let Some((shared, _)) = &self.shared {
            shared.lock().unwrap_or_else(PoisonError::into_inner).label = label.into();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some((shared, task)) = self.shared.take() {
            let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
            state.stopped = true;
            if state.drawn {
                let mut stderr = io::stderr().lock();
                let _ = write!(stderr, "\r\x1b[2K");
                let _ = stderr.flush();
            }
            task.abort();
        }
    }
}

/// Milliseconds since the Unix epoch as a UTC time people read.
pub(crate) fn time_ms(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string())
}

/// Milliseconds since the Unix epoch as RFC 3339 UTC, for JSON.
pub(crate) fn rfc3339_ms(ms: i64) -> Option<String> {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}
