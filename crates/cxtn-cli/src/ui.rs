//! Output: plain lines and aligned tables for people, one JSON value per line for scripts,
//! colour only on a terminal without `NO_COLOR`, and progress on stderr only on a terminal.
//! Text that came from the network or a file is escaped before people see it ([`clean`]), and a command that
//! prints while it serves writes stdout through a queue of its own ([`Ui::with_line_queue`]).

use std::borrow::Cow;
use std::fmt::{Display, Write as _};
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
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
    quiet: bool,
    color: bool,
    err_color: bool,
    progress: bool,
    queue: Option<Arc<LineQueue>>,
}

impl Ui {
    /// `quiet` keeps warnings and notes off stderr; errors are always shown.
    pub(crate) fn new(json: bool, verbose: u8, quiet: bool) -> Self {
        let stderr_tty = io::stderr().is_terminal();
        Self {
            json,
            verbose,
            quiet,
            color: color_allowed() && !json && io::stdout().is_terminal(),
            err_color: color_allowed() && stderr_tty,
            progress: !json && !quiet && stderr_tty,
            queue: None,
        }
    }

    pub(crate) fn verbose(&self) -> u8 {
        self.verbose
    }

    /// This output with stdout written by a thread of its own through a queue of [`LINE_QUEUE`] lines,
    /// so that a stdout nobody reads (a full pipe, a stalled log shipper, a paused terminal) never blocks
    /// the caller: a line that finds the queue full is dropped and counted ([`Ui::dropped_lines`]).
    pub(crate) fn with_line_queue(&self) -> Result<Self, CliError> {
        let (sender, lines) = std::sync::mpsc::sync_channel::<String>(LINE_QUEUE);
        let writer = std::thread::Builder::new()
            .name("cxtn-stdout".to_owned())
            .spawn(move || {
                let stdout = io::stdout();
                let mut batch = String::new();
                for line in &lines {
                    // The lines queued meanwhile go out with this one, in one write: one system call for a
                    // burst of deliveries rather than one each, and a line alone is still written at once.
                    batch.clear();
                    batch.push_str(&line);
                    batch.push('\n');
                    while batch.len() < STDOUT_BATCH {
                        let Ok(next) = lines.try_recv() else { break };
                        batch.push_str(&next);
                        batch.push('\n');
                    }
                    // A closed pipe is not an error worth reporting; the rest is drained and dropped.
                    let _ = stdout.lock().write_all(batch.as_bytes());
                }
            })
            .map_err(|e| CliError::failed(format!("cannot start the thread that writes stdout: {e}")))?;
        Ok(Self {
            queue: Some(Arc::new(LineQueue {
                sender: Mutex::new(Some(sender)),
                writer: Mutex::new(Some(writer)),
                dropped: AtomicU64::new(0),
            })),
            ..self.clone()
        })
    }

    /// How many lines the queue of [`Ui::with_line_queue`] dropped because stdout was not read.
    pub(crate) fn dropped_lines(&self) -> u64 {
        self.queue
            .as_ref()
            .map_or(0, |queue| queue.dropped.load(Ordering::Relaxed))
    }

    /// Ends the queue of [`Ui::with_line_queue`]: no more lines are taken, and the ones queued are written
    /// for up to `wait`; what stdout does not take by then is left behind.
    pub(crate) async fn close_line_queue(&self, wait: Duration) {
        let Some(queue) = &self.queue else { return };
        drop(queue.sender.lock().unwrap_or_else(PoisonError::into_inner).take());
        let writer = queue.writer.lock().unwrap_or_else(PoisonError::into_inner).take();
        let Some(writer) = writer else { return };
        let deadline = tokio::time::Instant::now() + wait;
        while !writer.is_finished() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if writer.is_finished() {
            let _ = writer.join();
        }
    }

    /// One line on stdout. A closed pipe is not an error worth reporting.
    pub(crate) fn out(&self, line: impl Display) {
        match &self.queue {
            Some(queue) => queue.push(line.to_string()),
            None => {
                let mut stdout = io::stdout().lock();
                let _ = writeln!(stdout, "{line}");
            }
        }
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

    /// `text`, [cleaned](clean), in `style` when stdout takes colour.
    pub(crate) fn paint(&self, style: Style, text: impl Display) -> String {
        let text = clean(&text.to_string()).into_owned();
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

    /// A warning on stderr, unless `--quiet`.
    pub(crate) fn warn(&self, text: impl Display) {
        if self.quiet {
            return;
        }
        let mut stderr = io::stderr().lock();
        let text = clean(&text.to_string()).into_owned();
        let _ = writeln!(stderr, "{} {text}", self.paint_err(WARN.bold(), "warning:"));
    }

    /// A line of information on stderr (kept out of stdout, which scripts read), unless `--quiet`.
    pub(crate) fn note(&self, text: impl Display) {
        if self.quiet {
            return;
        }
        let mut stderr = io::stderr().lock();
        let _ = writeln!(stderr, "{}", clean(&text.to_string()));
    }

    /// A failure on stderr: its sentences, then with `-v` its details; with `--json`, one JSON object
    /// ([`CliError::to_json`]) on one line.
    pub(crate) fn error(&self, error: &CliError) {
        let mut stderr = io::stderr().lock();
        if self.json {
            let _ = writeln!(stderr, "{}", error.to_json());
            return;
        }
        let message = clean(error.message());
        let _ = writeln!(stderr, "{} {message}", self.paint_err(BAD.bold(), "error:"));
        if let Some(hint) = error.hint_text() {
            let _ = writeln!(stderr, "{}", clean(hint));
        }
        if self.verbose > 0 {
            for detail in error.details() {
                let _ = writeln!(stderr, "  {}", clean(detail));
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
    /// A cell of `text`, [cleaned](clean).
    pub(crate) fn new(text: impl Display) -> Self {
        Self::styled(text, PLAIN)
    }

    /// A cell of `text`, [cleaned](clean), in `style`.
    pub(crate) fn styled(text: impl Display, style: Style) -> Self {
        Self {
            text: clean(&text.to_string()).into_owned(),
            style,
        }
    }
}

/// The lines [`Ui::with_line_queue`] holds for stdout at most.
pub(crate) const LINE_QUEUE: usize = 1024;

/// At most about this many bytes of queued lines go to stdout in one write.
const STDOUT_BATCH: usize = 64 * 1024;

/// Lines on their way to stdout, and the thread that writes them.
#[derive(Debug)]
struct LineQueue {
    sender: Mutex<Option<SyncSender<String>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    dropped: AtomicU64,
}

impl LineQueue {
    /// Queues `line`, or drops and counts it when the queue is full or closed.
    fn push(&self, line: String) {
        let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        let sent = match sender.as_ref() {
            Some(sender) => match sender.try_send(line) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            },
            None => false,
        };
        if !sent {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Whether colour may be used at all: not when `NO_COLOR` is set.
pub(crate) fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `text` safe to print on one line: every control character (escape, newline, carriage return, ...) and
/// every bidirectional formatting character is shown as an escape (`\u{1b}`, `\n`), so text from the network
/// can neither drive the terminal nor fake a line of output.
pub(crate) fn clean(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

/// [`clean`] for a block of lines, such as a body as received: newlines and tabs are kept.
pub(crate) fn clean_lines(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n' || c == '\t')
}

fn escape(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| !keep(c) && (c.is_control() || is_bidi_control(c));
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !unsafe_char(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(out)
}

/// The characters that reorder text on screen (embeddings, overrides, isolates, marks).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{61c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidirectional_characters_are_escaped() {
        assert!(matches!(clean("wh_0123 payment_completed é"), Cow::Borrowed(_)));
        assert_eq!(clean("wh_\u{1b}[2J\nfake\r\t"), r"wh_\u{1b}[2J\nfake\r\t");
        assert_eq!(clean("a\u{7}b\u{0}c\u{7f}d\u{9b}e"), r"a\u{7}b\u{0}c\u{7f}d\u{9b}e");
        assert_eq!(clean("evil\u{202e}txt.exe\u{2066}"), r"evil\u{202e}txt.exe\u{2066}");
        assert_eq!(
            clean_lines("{\n\t\"a\": \"\u{1b}[31m\"\r\n}"),
            "{\n\t\"a\": \"\\u{1b}[31m\"\\r\n}"
        );
        assert_eq!(
            clean(&clean("\u{1b}")),
            clean("\u{1b}"),
            "escaping twice changes nothing more"
        );
    }

    #[test]
    fn cells_and_painted_text_are_escaped() {
        assert_eq!(Cell::new("x\ny").text, r"x\ny");
        assert_eq!(Cell::styled("\u{1b}[1m", ID).text, r"\u{1b}[1m");
        let ui = Ui::new(false, 0, false);
        assert!(!ui.paint(ID, "\u{1b}]0;title\u{7}").contains('\u{7}'));
    }
}
