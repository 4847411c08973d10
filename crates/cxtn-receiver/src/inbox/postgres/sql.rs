//! Every statement, and how rows become records.

use std::borrow::Cow;

use bytes::Bytes;
use tokio_postgres::Row;

use super::{EventRecord, EventStatus, PgError, RejectionRecord};

const EVENT_COLUMNS: &str =
    "event_id, event, subscription, received_at_ms, body, status, attempts, last_error, deliveries, next_attempt_at_ms";
const REJECTION_COLUMNS: &str = "id, received_at_ms, body, reason, kind, replayed_as";

/// Every statement, written for one schema.
pub(super) struct Sql {
    pub(super) store: String,
    pub(super) reject: String,
    pub(super) claim: String,
    pub(super) processed: String,
    pub(super) retry: String,
    pub(super) dead: String,
    pub(super) replay: String,
    pub(super) resolve: String,
    pub(super) event: String,
    pub(super) events: String,
    pub(super) rejection: String,
    pub(super) rejections: String,
    pub(super) stats: String,
}

impl Sql {
    pub(super) fn new(schema: &str) -> Self {
        let events = format!("{schema}.events");
        let rejections = format!("{schema}.rejections");
        let still_ours = "event_id = $1 AND status = 'processing' AND ($2::int8 IS NULL OR claim_token = $2)";
        Self {
            store: format!(
                "INSERT INTO {events} AS e (event_id, event, subscription, received_at_ms, body, next_attempt_at_ms, deliveries)
                 SELECT i.event_id, i.event, i.subscription, i.received_at_ms, i.body, i.received_at_ms, i.deliveries
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::bytea[], $6::int8[])
                     AS i (event_id, event, subscription, received_at_ms, body, deliveries)
                 ORDER BY i.event_id
                 ON CONFLICT (event_id) DO UPDATE SET deliveries = e.deliveries + EXCLUDED.deliveries
                 RETURNING e.event_id, e.deliveries"
            ),
            reject: format!(
                "INSERT INTO {rejections} (received_at_ms, body, reason, kind) VALUES ($1, $2, $3, $4) RETURNING id"
            ),
            claim: format!(
                "WITH due AS (
                     SELECT event_id FROM {events}
                     WHERE (status = 'pending' AND next_attempt_at_ms <= $1)
                        OR (status = 'processing' AND claimed_until_ms <= $1)
                     ORDER BY received_at_ms, seq
                     LIMIT $3
                     FOR UPDATE SKIP LOCKED
                 )
                 UPDATE {events} AS e
                 SET status = 'processing', attempts = e.attempts + 1, claimed_until_ms = $2, claim_token = $4
                 FROM due WHERE e.event_id = due.event_id
                 RETURNING e.event_id, e.body, e.attempts, e.received_at_ms, e.seq"
            ),
            processed: format!(
                "UPDATE {events} SET status = 'processed', last_error = NULL, claimed_until_ms = NULL, claim_token = NULL
                 WHERE {still_ours}"
            ),
            retry: format!(
                "UPDATE {events} SET status = 'pending', last_error = $3, next_attempt_at_ms = $4,
                     claimed_until_ms = NULL, claim_token = NULL
                 WHERE {still_ours}"
            ),
            dead: format!(
                "UPDATE {events} SET status = 'dead', last_error = $3, claimed_until_ms = NULL, claim_token = NULL
                 WHERE {still_ours}"
            ),
            replay: format!(
                "UPDATE {events} SET status = 'pending', attempts = 0, next_attempt_at_ms = $2,
                     claimed_until_ms = NULL, claim_token = NULL
                 WHERE event_id = $1"
            ),
            resolve: format!("UPDATE {rejections} SET replayed_as = $2 WHERE id = $1"),
            event: format!("SELECT {EVENT_COLUMNS} FROM {events} WHERE event_id = $1"),
            events: format!(
                "SELECT {EVENT_COLUMNS} FROM {events} WHERE $1::text IS NULL OR status = $1
                 ORDER BY received_at_ms DESC, seq DESC LIMIT $2"
            ),
            rejection: format!("SELECT {REJECTION_COLUMNS} FROM {rejections} WHERE id = $1"),
            rejections: format!("SELECT {REJECTION_COLUMNS} FROM {rejections} ORDER BY id DESC LIMIT $1"),
            stats: format!(
                "SELECT status, COUNT(*)::int8, COALESCE(SUM(deliveries - 1), 0)::int8 FROM {events} GROUP BY status
                 UNION ALL
                 SELECT 'rejected', COUNT(*)::int8, 0::int8 FROM {rejections}"
            ),
        }
    }
}
/// Text PostgreSQL can store: NUL characters become U+FFFD.
pub(super) fn storable(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{fffd}"))
    } else {
        Cow::Borrowed(text)
    }
}

pub(super) fn to_u32(value: i64) -> u32 {
    u32::try_from(value.max(0)).unwrap_or(u32::MAX)
}

pub(super) fn event_record(row: &Row) -> Result<EventRecord, PgError> {
    let status: String = row.try_get("status")?;
    let body: Vec<u8> = row.try_get("body")?;
    Ok(EventRecord {
        event_id: row.try_get("event_id")?,
        event: row.try_get("event")?,
        subscription: row.try_get("subscription")?,
        received_at_ms: row.try_get("received_at_ms")?,
        body: Bytes::from(body),
        status: EventStatus::from_name(&status).unwrap_or(EventStatus::Pending),
        attempts: to_u32(row.try_get("attempts")?),
        last_error: row.try_get("last_error")?,
        deliveries: to_u32(row.try_get("deliveries")?),
        next_attempt_at_ms: row.try_get("next_attempt_at_ms")?,
    })
}

pub(super) fn rejection_record(row: &Row) -> Result<RejectionRecord, PgError> {
    let body: Vec<u8> = row.try_get("body")?;
    Ok(RejectionRecord {
        id: row.try_get("id")?,
        received_at_ms: row.try_get("received_at_ms")?,
        body: Bytes::from(body),
        reason: row.try_get("reason")?,
        kind: row.try_get("kind")?,
        replayed_as: row.try_get("replayed_as")?,
    })
}
