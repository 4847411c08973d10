//! Parses notification files (or, with no arguments, the samples of CXTN's guide) and prints what they hold.
//!
//! ```text
//! cargo run -p cxtn --example parse                      # the guide's samples
//! cargo run -p cxtn --example parse -- notification.json # your own files
//! ```
#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use cxtn::model::{EventData, Notification};

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let inputs: Vec<(String, Vec<u8>)> = if files.is_empty() {
        cxtn::events::samples::GUIDE
            .iter()
            .map(|s| (format!("guide sample `{}`", s.name), s.body.as_bytes().to_vec()))
            .collect()
    } else {
        let mut inputs = Vec::new();
        for path in files {
            match std::fs::read(&path) {
                Ok(body) => inputs.push((path, body)),
                Err(e) => {
                    eprintln!("error: cannot read {path}: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        inputs
    };
    let mut failed = false;
    for (name, body) in inputs {
        match cxtn::events::parse(&body) {
            Ok(notification) => println!("{name}\n  {}", summary(&notification)),
            Err(e) => {
                eprintln!("{name}\n  error: {e}");
                failed = true;
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn summary(n: &Notification) -> String {
    let head = format!(
        "{} {} (data as {}, subscription {})",
        n.event_name(),
        n.event_id(),
        n.data_encoding(),
        n.subscription().map_or_else(|| "unknown".to_owned(), |s| s.to_string())
    );
    let detail = match n.data() {
        EventData::AccountCredit(t) | EventData::AccountDebit(t) => format!(
            "{} {} for {} from {}{} at {}",
            t.amount,
            t.ccy_code,
            t.user_id,
            t.source,
            if t.is_pot_movement() { " (pot)" } else { "" },
            t.transaction_date_time
        ),
        EventData::PaymentCompleted(p) => format!("{} {} paid by {}", p.amount, p.currency, p.user_id),
        EventData::TradeSettled(t) => format!(
            "sold {} {}, bought {} {} for {}",
            t.sell_amount, t.sell_currency, t.buy_amount, t.buy_currency, t.user_id
        ),
        _ => "data kept as received".to_owned(),
    };
    format!("{head}\n  {detail}")
}
