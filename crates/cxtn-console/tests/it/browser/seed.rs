//! An inbox filled through the `Inbox` trait as a receiver would fill it: the guide's samples in every status,
//! a duplicate, a conflicting version, a quarantined event and rejections.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, ensure};
use bytes::Bytes;
use cxtn_receiver::{Completion, Inbox, NewEvent, NewRejection, Stored};

/// `funds_in`: 1000.00 GBP, its `data` sent as a string. Stays pending.
pub(crate) const FUNDS_IN: &str = "wh_f79f07d55bcd4cb893c41575b7c1b8f6";
/// `payment_complete`: processed.
pub(crate) const PAYMENT: &str = "wh_4d9373d27e4e4c24bbb39c00b6dcd3e7";
/// `trade_settled`: dead after its handler failed.
pub(crate) const TRADE: &str = "wh_b5bc5ac1b6734f18b9701db5cd153a4e";
/// `account_credit`: pending, delivered twice.
pub(crate) const ACCOUNT_CREDIT: &str = "wh_c3f042548b624eb1a0ba9a57be8290f4";
/// `account_debit`: pending.
pub(crate) const ACCOUNT_DEBIT: &str = "wh_61d20530f4d34936a38ac82979d3f5e2";
/// `pot_credit`: pending, with a conflicting version (another amount under the same id).
pub(crate) const POT_CREDIT: &str = "wh_3d0e35a456274850b59e59411ad37d48";
/// `pot_debit` (an `account_debit` event): pending.
pub(crate) const POT_DEBIT: &str = "wh_71f5a5f7d15544a5a1e70b395e2d7980";
/// A `payment_completed` whose amount is text: its envelope is usable, its `data` is not, so it is quarantined.
pub(crate) const QUARANTINED: &str = "wh_quarantined0000000000000000000001";

/// The handler's error on the dead letter.
pub(crate) const DEAD_ERROR: &str = "the ledger refused the trade: account C00084146 is closed";

/// The changed body of `pot_credit`: 11 instead of 10.
const POT_CREDIT_CHANGED: &str = r#"{"eventId": "wh_3d0e35a456274850b59e59411ad37d48", "event": "account_credit", "data": {"objectId": 661414, "userId": "C00081866", "source": "account_internal_transfer", "origin": "Automatic Allocation", "amount": 11, "baseCcyCode": "GBP", "ccyCode": "CC-GBP", "transactionDateTime": "2024-02-21T11:43:22.2079875"}}"#;

const QUARANTINED_BODY: &str = r#"{"eventId": "wh_quarantined0000000000000000000001", "event": "payment_completed", "data": {"objectId": 162954, "userId": "C00081866", "amount": "ten pounds", "currency": "GBP"}}"#;

/// A notification body that an earlier version could not read: it parses now, so Re-parse stores it.
pub(crate) const REPARSABLE_EVENT: &str = "wh_reparsed00000000000000000000001";
const REPARSABLE_BODY: &str = r#"{"eventId": "wh_reparsed00000000000000000000001", "event": "payment_completed", "data": {"objectId": 162960, "userId": "C00081866", "amount": 25.50, "currency": "GBP"}}"#;

/// A body without a usable envelope.
pub(crate) const GARBAGE_BODY: &str = r#"{"event": "payment_completed", "data": {"amount": 5}"#;

/// What [`seed`] stored.
#[derive(Debug)]
pub(crate) struct Seeded {
    /// The rejection whose body parses now.
    pub(crate) reparsable: i64,
    /// The rejection whose body never parses.
    pub(crate) garbage: i64,
}

/// Milliseconds since the Unix epoch, `minutes_ago` minutes ago.
pub(crate) fn ms_ago(minutes_ago: u64) -> i64 {
    let at = SystemTime::now() - Duration::from_secs(minutes_ago * 60);
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// An event as the receiver stores a body: its envelope read by the parser, quarantined when its `data` does not
/// fit the typed model.
pub(crate) fn new_event(body: &str, received_at_ms: i64) -> anyhow::Result<NewEvent> {
    let envelope = cxtn_events::parse_envelope(body.as_bytes()).context("a seeded body has no usable envelope")?;
    let event = NewEvent::new(
        envelope.event_id,
        envelope.event,
        envelope.subscription.map(|s| s.to_string()),
        received_at_ms,
        Bytes::copy_from_slice(body.as_bytes()),
    );
    Ok(match cxtn_events::parse(body.as_bytes()) {
        Ok(_) => event,
        Err(e) => event.quarantined(e.to_string()),
    })
}

/// The body of the guide's sample `name`.
pub(crate) fn sample(name: &str) -> anyhow::Result<&'static str> {
    Ok(cxtn_events::samples::find(name)
        .with_context(|| format!("the guide has no sample `{name}`"))?
        .body)
}

/// Fills `inbox`, spreading arrivals over the last hour so that the overview's chart has something to draw.
pub(crate) async fn seed(inbox: &dyn Inbox) -> anyhow::Result<Seeded> {
    // First the events that end processed and dead, each claimed alone so that the right one gets each ending.
    for (name, minutes_ago, completion) in [
        ("payment_complete", 55, Completion::Processed),
        (
            "trade_settled",
            48,
            Completion::Dead {
                error: DEAD_ERROR.to_owned(),
            },
        ),
    ] {
        inbox.store(new_event(sample(name)?, ms_ago(minutes_ago))?).await?;
        let claimed = inbox.claim(Duration::from_secs(60), 10, false).await?;
        ensure!(
            claimed.len() == 1,
            "expected to claim {name} alone, claimed {}",
            claimed.len()
        );
        for event in claimed {
            ensure!(
                inbox.complete(&event.event_id, event.token, completion.clone()).await?,
                "lost the lease"
            );
        }
    }
    for (name, minutes_ago) in [
        ("funds_in", 41),
        ("account_credit", 33),
        ("account_debit", 26),
        ("pot_credit", 17),
        ("pot_debit", 9),
    ] {
        let stored = inbox.store(new_event(sample(name)?, ms_ago(minutes_ago))?).await?;
        ensure!(stored == Stored::New, "{name} was stored as {stored:?}");
    }
    let duplicate = inbox.store(new_event(sample("account_credit")?, ms_ago(32))?).await?;
    ensure!(
        duplicate == Stored::Duplicate,
        "the redelivery was stored as {duplicate:?}"
    );
    let conflict = inbox.store(new_event(POT_CREDIT_CHANGED, ms_ago(16))?).await?;
    ensure!(
        conflict == Stored::Conflict,
        "the changed body was stored as {conflict:?}"
    );
    let quarantined = new_event(QUARANTINED_BODY, ms_ago(12))?;
    ensure!(quarantined.quarantine.is_some(), "the quarantined sample parsed");
    inbox.store(quarantined).await?;

    let reparsable = inbox
        .reject(NewRejection::new(
            ms_ago(7),
            Bytes::from_static(REPARSABLE_BODY.as_bytes()),
            "`data.amount`: expected a JSON number (an older version read amounts as integers only)",
            "invalid_type",
        ))
        .await?;
    let error = cxtn_events::parse(GARBAGE_BODY.as_bytes())
        .err()
        .context("the garbage body parsed")?;
    let garbage = inbox
        .reject(NewRejection::new(
            ms_ago(4),
            Bytes::from_static(GARBAGE_BODY.as_bytes()),
            error.to_string(),
            error.kind().as_str(),
        ))
        .await?;
    Ok(Seeded { reparsable, garbage })
}
