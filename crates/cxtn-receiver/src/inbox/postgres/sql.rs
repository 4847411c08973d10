//! Every statement, and how rows become records.
//!
//! Every lease and due time is measured on the database's clock ([`NOW_MS`]), so workers on machines whose
//! clocks disagree still agree on when a lease runs out.

use std::borrow::Cow;

use bytes::Bytes;
use tokio_postgres::Row;

use super::{BodyHash, ConflictRecord, EventId, EventRecord, EventStatus, PgError, RejectionRecord};

/// The database's clock, in milliseconds since the Unix epoch, as of the statement's start.
pub(super) const NOW_MS: &str = "(extract(epoch FROM statement_timestamp()) * 1000)::int8";

pub(super) const EVENT_COLUMNS: &str = "event_id, event, subscription, received_at_ms, body, status, attempts, \
                             last_error, deliveries, next_attempt_at_ms, body_hash, conflicts, quarantine_reason, object_id";
const REJECTION_COLUMNS: &str = "id, received_at_ms, body, reason, kind, replayed_as, body_hash, deliveries";

/// The claim of this row is still the one holding `$2`.
const STILL_OURS: &str = "event_id = $1 AND status = 'processing' AND claim_token = $2";

/// Every statement, written for one schema.
pub(super) struct Sql {
    pub(super) store: String,
    pub(super) store_conflicts: String,
    pub(super) count_copies: String,
    pub(super) reject: String,
    pub(super) claim: String,
    pub(super) renew: String,
    pub(super) processed: String,
    pub(super) retry: String,
    pub(super) dead: String,
    pub(super) release: String,
    pub(super) replay: String,
    pub(super) resolve: String,
    pub(super) still_claimed: String,
    pub(super) event: String,
    pub(super) arrivals: String,
    /// The events table, qualified: listings are written per filter (see `PostgresInbox::events`).
    pub(super) events_table: String,
    pub(super) conflicts: String,
    pub(super) rejection: String,
    pub(super) rejections: String,
    pub(super) rejections_page: String,
    pub(super) stats: String,
}

impl Sql {
    pub(super) fn new(schema: &str) -> Self {
        let events = format!("{schema}.events");
        let conflicts = format!("{schema}.conflicts");
        let rejections = format!("{schema}.rejections");
        let pruned = format!("{schema}.pruned");
        // Where a released or retried claim goes back to: quarantined if it was claimed from there.
        let back = "CASE WHEN claimed_from = 'quarantined' THEN 'quarantined' ELSE 'pending' END";
        let unclaimed = "claimed_until_ms = NULL, claim_token = NULL, claimed_from = NULL";
        Self {
            // The first body of each id in the group; a stored row counts the copies that carry its own body.
            // A pruned id returns no row: its copies are duplicates.
            store: format!(
                "INSERT INTO {events} AS e (event_id, event, subscription, received_at_ms, body, body_hash, status,
                     quarantine_reason, next_attempt_at_ms, deliveries, object_id)
                 SELECT i.event_id, i.event, i.subscription, i.received_at_ms, i.body, i.body_hash,
                     CASE WHEN i.quarantine_reason IS NULL THEN 'pending' ELSE 'quarantined' END,
                     i.quarantine_reason, {NOW_MS}, i.deliveries, i.object_id
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::bytea[], $6::bytea[], $7::text[],
                     $8::int8[], $9::text[])
                     AS i (event_id, event, subscription, received_at_ms, body, body_hash, quarantine_reason, deliveries,
                         object_id)
                 WHERE NOT EXISTS (SELECT 1 FROM {pruned} AS p WHERE p.event_id = i.event_id)
                 ORDER BY i.event_id
                 ON CONFLICT (event_id) DO UPDATE SET deliveries = e.deliveries
                     + CASE WHEN e.body_hash = EXCLUDED.body_hash THEN EXCLUDED.deliveries ELSE 0 END
                 RETURNING e.event_id, e.body_hash, e.deliveries"
            ),
            // Bodies that differ from the stored one: kept once per (id, digest), their copies counted.
            store_conflicts: format!(
                "INSERT INTO {conflicts} AS c (event_id, body_hash, received_at_ms, body, deliveries)
                 SELECT i.event_id, i.body_hash, i.received_at_ms, i.body, i.deliveries
                 FROM unnest($1::text[], $2::bytea[], $3::int8[], $4::bytea[], $5::int8[])
                     AS i (event_id, body_hash, received_at_ms, body, deliveries)
                 ORDER BY i.event_id, i.body_hash
                 ON CONFLICT (event_id, body_hash) DO UPDATE SET deliveries = c.deliveries + EXCLUDED.deliveries
                 RETURNING c.event_id, c.body_hash, c.deliveries"
            ),
            // Redeliveries and new conflicting versions counted on their events, rows locked in id order, and
            // only as strongly as an update of non-key columns: the key-share locks that the conflicting
            // versions' foreign keys take on the same rows in concurrent groups do not block it.
            count_copies: format!(
                "WITH i AS (
                     SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[]) AS i (event_id, deliveries, conflicts)
                 ),
                 locked AS (
                     SELECT e.event_id FROM {events} AS e JOIN i USING (event_id) ORDER BY e.event_id FOR NO KEY UPDATE OF e
                 )
                 UPDATE {events} AS e
                 SET deliveries = e.deliveries + i.deliveries, conflicts = e.conflicts + i.conflicts
                 FROM i JOIN locked USING (event_id)
                 WHERE e.event_id = i.event_id"
            ),
            reject: format!(
                "INSERT INTO {rejections} AS r (received_at_ms, body, body_hash, reason, kind)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (body_hash) DO UPDATE SET deliveries = r.deliveries + 1
                 RETURNING r.id"
            ),
            // Due now on the database's clock; each claimed row gets its own token from `$4`, in claim order, and
            // shows its quarantine reason only when it was claimed from quarantine.
            claim: format!(
                "WITH due AS (
                     SELECT event_id, received_at_ms, seq FROM {events}
                     WHERE (status = 'pending' AND next_attempt_at_ms <= {NOW_MS})
                        OR (status = 'processing' AND claimed_until_ms <= {NOW_MS}
                            AND ($3 OR claimed_from IS DISTINCT FROM 'quarantined'))
                        OR ($3 AND status = 'quarantined' AND next_attempt_at_ms <= {NOW_MS})
                     ORDER BY received_at_ms, seq
                     LIMIT $1
                     FOR UPDATE SKIP LOCKED
                 ),
                 numbered AS (
                     SELECT event_id, row_number() OVER (ORDER BY received_at_ms, seq) AS n FROM due
                 )
                 UPDATE {events} AS e
                 SET claimed_from = CASE WHEN e.status = 'processing' THEN e.claimed_from ELSE e.status END,
                     status = 'processing', attempts = e.attempts + 1,
                     claimed_until_ms = {NOW_MS} + $2, claim_token = t.token
                 FROM numbered JOIN unnest($4::int8[]) WITH ORDINALITY AS t (token, n) USING (n)
                 WHERE e.event_id = numbered.event_id
                 RETURNING e.event_id, e.body, e.attempts, e.received_at_ms, e.seq, e.claim_token, e.conflicts,
                     CASE WHEN e.claimed_from = 'quarantined' THEN e.quarantine_reason END"
            ),
            renew: format!("UPDATE {events} SET claimed_until_ms = {NOW_MS} + $3 WHERE {STILL_OURS}"),
            processed: format!(
                "UPDATE {events} SET status = 'processed', last_error = NULL, {unclaimed} WHERE {STILL_OURS}"
            ),
            retry: format!(
                "UPDATE {events} SET status = {back}, last_error = $3, next_attempt_at_ms = {NOW_MS} + $4, {unclaimed}
                 WHERE {STILL_OURS}"
            ),
            dead: format!("UPDATE {events} SET status = 'dead', last_error = $3, {unclaimed} WHERE {STILL_OURS}"),
            release: format!(
                "UPDATE {events} SET status = {back}, attempts = GREATEST(attempts - 1, 0),
                     next_attempt_at_ms = {NOW_MS}, {unclaimed}
                 WHERE {STILL_OURS}"
            ),
            replay: format!(
                "UPDATE {events} SET status = 'pending', attempts = 0, next_attempt_at_ms = {NOW_MS}, {unclaimed}
                 WHERE event_id = $1"
            ),
            resolve: format!("UPDATE {rejections} SET replayed_as = $2 WHERE id = $1"),
            still_claimed: format!("SELECT 1 FROM {events} WHERE {STILL_OURS}"),
            event: format!("SELECT {EVENT_COLUMNS} FROM {events} WHERE event_id = $1"),
            arrivals: format!(
                "SELECT received_at_ms - ((received_at_ms % $2) + $2) % $2 AS start_ms, COUNT(*)::int8 FROM {events}
                 WHERE received_at_ms >= $1 GROUP BY start_ms ORDER BY start_ms"
            ),
            conflicts: format!(
                "SELECT event_id, received_at_ms, body, body_hash, deliveries FROM {conflicts}
                 WHERE event_id = $1 ORDER BY seq"
            ),
            rejection: format!("SELECT {REJECTION_COLUMNS} FROM {rejections} WHERE id = $1"),
            rejections: format!("SELECT {REJECTION_COLUMNS} FROM {rejections} ORDER BY id DESC LIMIT $1"),
            rejections_page: format!(
                "SELECT {REJECTION_COLUMNS} FROM {rejections} WHERE $2::int8 IS NULL OR id < $2
                 ORDER BY id DESC LIMIT $1"
            ),
            events_table: events.clone(),
            // Statuses with their oldest arrival, then the two counts kept apart (their names cannot be a status).
            stats: format!(
                "SELECT status, COUNT(*)::int8, COALESCE(SUM(deliveries - 1), 0)::int8, MIN(received_at_ms)::int8
                 FROM {events} GROUP BY status
                 UNION ALL
                 SELECT 'rejected', COUNT(*)::int8, 0::int8, NULL::int8 FROM {rejections}
                 UNION ALL
                 SELECT 'conflicts', COUNT(*)::int8, 0::int8, NULL::int8 FROM {conflicts}"
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

/// Milliseconds, as the statements take them.
pub(super) fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A stored digest, or the digest of the body when the stored one is not 32 bytes.
fn body_hash(row: &Row, body: &[u8]) -> Result<BodyHash, PgError> {
    let stored: Option<Vec<u8>> = row.try_get("body_hash")?;
    Ok(stored
        .as_deref()
        .and_then(BodyHash::from_slice)
        .unwrap_or_else(|| BodyHash::of(body)))
}

pub(super) fn event_record(row: &Row) -> Result<EventRecord, PgError> {
    let status: String = row.try_get("status")?;
    let body: Vec<u8> = row.try_get("body")?;
    Ok(EventRecord {
        event_id: EventId::new(row.try_get::<_, String>("event_id")?),
        event: row.try_get("event")?,
        subscription: row.try_get("subscription")?,
        received_at_ms: row.try_get("received_at_ms")?,
        status: EventStatus::from_name(&status).unwrap_or(EventStatus::Pending),
        attempts: to_u32(row.try_get("attempts")?),
        last_error: row.try_get("last_error")?,
        deliveries: to_u32(row.try_get("deliveries")?),
        next_attempt_at_ms: row.try_get("next_attempt_at_ms")?,
        body_hash: body_hash(row, &body)?,
        conflicts: to_u32(row.try_get("conflicts")?),
        quarantine_reason: row.try_get("quarantine_reason")?,
        object_id: row.try_get("object_id")?,
        body: Bytes::from(body),
    })
}

pub(super) fn conflict_record(row: &Row) -> Result<ConflictRecord, PgError> {
    let body: Vec<u8> = row.try_get("body")?;
    Ok(ConflictRecord {
        event_id: EventId::new(row.try_get::<_, String>("event_id")?),
        received_at_ms: row.try_get("received_at_ms")?,
        body_hash: body_hash(row, &body)?,
        deliveries: to_u32(row.try_get("deliveries")?),
        body: Bytes::from(body),
    })
}

pub(super) fn rejection_record(row: &Row) -> Result<RejectionRecord, PgError> {
    let body: Vec<u8> = row.try_get("body")?;
    Ok(RejectionRecord {
        id: row.try_get("id")?,
        received_at_ms: row.try_get("received_at_ms")?,
        reason: row.try_get("reason")?,
        kind: row.try_get("kind")?,
        replayed_as: row.try_get::<_, Option<String>>("replayed_as")?.map(EventId::new),
        body_hash: body_hash(row, &body)?,
        deliveries: to_u32(row.try_get("deliveries")?),
        body: Bytes::from(body),
    })
}
