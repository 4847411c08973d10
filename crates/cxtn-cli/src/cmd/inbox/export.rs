//! `cxtn inbox export`: the stored deliveries, exactly as received, as JSON Lines on stdout, to replay
//! (`cxtn replay`) or to load as test fixtures (`cxtn::events::traffic`).

use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use cxtn::events::traffic::{self, Pseudonymiser, Recorded};
use cxtn::model::Secret;
use cxtn::receiver::{EventFilter, EventRecord, Inbox};

use crate::error::CliError;
use crate::ui::Ui;

/// How many events one query reads: memory stays bounded by a page, whatever the inbox holds.
const PAGE: usize = 500;

#[derive(Debug, Args)]
#[command(
    after_help = "Writes one JSON line per stored body, oldest event first, each conflicting version after its event:\n\
{\"receivedAt\":\"2026-11-30T10:00:00.123Z\",\"eventId\":\"wh_...\",\"event\":\"payment_completed\",\"deliveries\":1,\"body\":\"...\"}\n\
with \"conflict\":true on a conflicting version, and \"bodyBase64\" instead of \"body\" for a body that is not UTF-8.\n\
AGE is a number with a unit (30d, 12h, 90m, 45s) counted back from now; TIME is RFC 3339 (2026-11-30T10:00:00Z).\n\
Times are when each event first arrived. Replay the file with `cxtn replay FILE --to URL`."
)]
pub(crate) struct InboxExportArgs {
    /// Only events that first arrived at or after this: an AGE back from now, or a TIME
    #[arg(long, value_name = "AGE|TIME", value_parser = parse_when)]
    since: Option<When>,

    /// Only events that first arrived before this: an AGE back from now, or a TIME
    #[arg(long, value_name = "AGE|TIME", value_parser = parse_when)]
    until: Option<When>,

    /// Only events with this name (payment_completed, account_credit, ...)
    #[arg(long, value_name = "NAME")]
    event: Option<String>,

    /// Replace each userId and objectId with a pseudonym (a keyed hash): the same id gets the same pseudonym
    /// throughout the export; amounts and every other byte stay as received
    #[arg(long, alias = "pseudonymize")]
    pseudonymise: bool,

    /// The key of the pseudonyms: the same key gives the same pseudonyms in another export
    /// [default: a random key, never shown] (ps shows flags: prefer the variable)
    #[arg(
        long,
        env = "CXTN_PSEUDONYM_KEY",
        hide_env_values = true,
        value_name = "KEY",
        value_parser = crate::cli::parse_secret
    )]
    pseudonym_key: Option<Secret>,
}

/// A point in time as the command line gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// This long before now.
    Ago(Duration),
    /// Milliseconds since the Unix epoch.
    At(i64),
}

impl When {
    fn to_ms(self, now_ms: i64) -> i64 {
        match self {
            Self::Ago(age) => now_ms.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX)),
            Self::At(ms) => ms,
        }
    }
}

fn parse_when(text: &str) -> Result<When, String> {
    const HINT: &str = "give an age such as 2h, 30m or 7d, or an RFC 3339 time such as 2026-11-30T10:00:00Z";
    let text = text.trim();
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(When::At(time.timestamp_millis()));
    }
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
        .map(|s| When::Ago(Duration::from_secs(s)))
        .ok_or_else(|| "the age is too long: give at most 100 years".to_owned())
}

/// A key nobody knows, from the system's random source.
fn random_key() -> Vec<u8> {
    let mut key = vec![0_u8; 32];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut key));
    if read.is_err() {
        for chunk in key.chunks_mut(16) {
            let random = fastrand::u128(..).to_le_bytes();
            for (slot, byte) in chunk.iter_mut().zip(random) {
                *slot = byte;
            }
        }
    }
    key
}

pub(crate) async fn export(ui: &Ui, inbox: &Arc<dyn Inbox>, args: &InboxExportArgs) -> Result<(), CliError> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let mut filter = EventFilter::all().oldest_first().limit(PAGE);
    let since = args.since.map(|w| w.to_ms(now_ms));
    let until = args.until.map(|w| w.to_ms(now_ms));
    if let (Some(since), Some(until)) = (since, until)
        && since >= until
    {
        return Err(
            CliError::usage("--since is not before --until: nothing could be exported")
                .hint("Give --since an earlier time (or a longer age) than --until."),
        );
    }
    if let Some(since) = since {
        filter = filter.received_from(since);
    }
    if let Some(until) = until {
        filter = filter.received_until(until);
    }
    if let Some(event) = &args.event {
        filter = filter.event(event.trim());
    }
    let key_from_flag = crate::cmd::replay::from_flag(
        args.pseudonym_key.as_ref().map(Secret::expose_secret),
        "CXTN_PSEUDONYM_KEY",
    );
    if key_from_flag && !args.pseudonymise {
        // The variable may stay set in a shell for the exports that use it; the flag says this export should.
        return Err(CliError::usage("--pseudonym-key is given without --pseudonymise")
            .hint("Add --pseudonymise to replace the ids, or leave the key out."));
    }
    if key_from_flag {
        ui.warn(
            "--pseudonym-key holds a secret, and the process list (ps) shows it to every user of this machine; use CXTN_PSEUDONYM_KEY instead",
        );
    }
    let pseudonyms = args.pseudonymise.then(|| match &args.pseudonym_key {
        Some(key) => Pseudonymiser::new(key.expose_secret().as_bytes()),
        None => Pseudonymiser::new(random_key()),
    });
    if args
        .pseudonym_key
        .as_ref()
        .is_some_and(|k| k.expose_secret().trim().is_empty())
    {
        return Err(CliError::usage("--pseudonym-key is empty").hint("Give a key, or leave it out for a random one."));
    }

    let mut events = 0_u64;
    let mut versions = 0_u64;
    let mut out = String::new();
    loop {
        let page = inbox.events(filter.clone()).await?;
        let Some(last) = page.last() else { break };
        filter = filter.after(last.cursor());
        for record in &page {
            events += 1;
            line(&mut out, &recorded(record), pseudonyms.as_ref())?;
            if record.conflicts > 0 {
                for conflict in inbox.conflicts(&record.event_id).await? {
                    versions += 1;
                    let version = Recorded::new(
                        record.event_id.clone(),
                        record.event.clone(),
                        conflict.received_at_ms,
                        conflict.body.to_vec(),
                    )
                    .deliveries(conflict.deliveries)
                    .conflict(true);
                    line(&mut out, &version, pseudonyms.as_ref())?;
                }
            }
        }
        write_out(&out)?;
        out.clear();
        if page.len() < PAGE {
            break;
        }
    }
    let versions_note = match versions {
        0 => String::new(),
        1 => " and 1 conflicting version".to_owned(),
        n => format!(" and {n} conflicting versions"),
    };
    let pseudonymised = if pseudonyms.is_some() {
        ", userId and objectId pseudonymised"
    } else {
        ""
    };
    ui.note(format!(
        "Exported {events} event{}{versions_note}{pseudonymised}.",
        if events == 1 { "" } else { "s" }
    ));
    Ok(())
}

fn recorded(record: &EventRecord) -> Recorded {
    Recorded::new(
        record.event_id.clone(),
        record.event.clone(),
        record.received_at_ms,
        record.body.to_vec(),
    )
    .deliveries(record.deliveries)
}

fn line(out: &mut String, recorded: &Recorded, pseudonyms: Option<&Pseudonymiser>) -> Result<(), CliError> {
    let written = match pseudonyms {
        Some(pseudonyms) => traffic::write_line(&pseudonyms.recorded(recorded)),
        None => traffic::write_line(recorded),
    };
    let written = written.map_err(|e| {
        CliError::failed(format!("cannot export event {}: {e}", recorded.event_id))
            .hint("Its arrival time is out of range; export without it using --since or --until.")
    })?;
    out.push_str(&written);
    Ok(())
}

fn write_out(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| {
            CliError::failed(format!("cannot write the export to standard output: {e}"))
                .hint("Redirect it to a file: cxtn inbox export > traffic.jsonl")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_ages_or_rfc3339() {
        assert_eq!(parse_when("2h"), Ok(When::Ago(Duration::from_secs(7200))));
        assert_eq!(parse_when("2026-11-30T10:00:00.5Z"), Ok(When::At(1_796_032_800_500)));
        assert_eq!(When::Ago(Duration::from_secs(1)).to_ms(5_000), 4_000);
        for bad in ["", "2", "2w", "yesterday", "2026-11-30"] {
            assert!(parse_when(bad).is_err(), "{bad}");
        }
    }
}
