//! The schema's migrations, applied at connect under an advisory lock.

use std::time::Duration;

use deadpool_postgres::Object;

use super::pool::Inner;
use super::{InboxError, InboxErrorKind, PgError};

/// How long the schema upgrade at connect may take.
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(120);

/// The schema, one migration per version; `{schema}` is the quoted schema name.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: events and rejections.
    "CREATE TABLE {schema}.events (
        event_id TEXT PRIMARY KEY,
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        event TEXT NOT NULL,
        subscription TEXT,
        received_at_ms BIGINT NOT NULL,
        body BYTEA NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'processing', 'processed', 'dead')),
        attempts BIGINT NOT NULL DEFAULT 0,
        last_error TEXT,
        deliveries BIGINT NOT NULL DEFAULT 1,
        next_attempt_at_ms BIGINT NOT NULL,
        claimed_until_ms BIGINT,
        claim_token BIGINT
    );
    CREATE INDEX events_due ON {schema}.events (received_at_ms, seq) WHERE status IN ('pending', 'processing');
    CREATE INDEX events_received ON {schema}.events (received_at_ms DESC, seq DESC);
    CREATE INDEX events_status ON {schema}.events (status, received_at_ms DESC, seq DESC);
    CREATE TABLE {schema}.rejections (
        id BIGSERIAL PRIMARY KEY,
        received_at_ms BIGINT NOT NULL,
        body BYTEA NOT NULL,
        reason TEXT NOT NULL,
        kind TEXT NOT NULL,
        replayed_as TEXT
    );",
    // 2: body digests, conflicting versions, quarantine, claims that remember where they came from, and
    // rejections kept once per body. `sha256` needs PostgreSQL 11 or later.
    "ALTER TABLE {schema}.events
        ADD COLUMN body_hash BYTEA,
        ADD COLUMN conflicts BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN quarantine_reason TEXT,
        ADD COLUMN claimed_from TEXT;
    UPDATE {schema}.events SET body_hash = sha256(body);
    ALTER TABLE {schema}.events
        ALTER COLUMN body_hash SET NOT NULL,
        DROP CONSTRAINT events_status_check,
        ADD CONSTRAINT events_status_check
            CHECK (status IN ('pending', 'processing', 'processed', 'dead', 'quarantined'));
    DROP INDEX {schema}.events_due;
    CREATE INDEX events_due ON {schema}.events (received_at_ms, seq)
        WHERE status IN ('pending', 'processing', 'quarantined');
    CREATE INDEX events_conflicting ON {schema}.events (received_at_ms DESC, seq DESC) WHERE conflicts > 0;
    CREATE TABLE {schema}.conflicts (
        event_id TEXT NOT NULL REFERENCES {schema}.events (event_id) ON DELETE CASCADE,
        body_hash BYTEA NOT NULL,
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        received_at_ms BIGINT NOT NULL,
        body BYTEA NOT NULL,
        deliveries BIGINT NOT NULL DEFAULT 1,
        PRIMARY KEY (event_id, body_hash)
    );
    ALTER TABLE {schema}.rejections
        ADD COLUMN body_hash BYTEA,
        ADD COLUMN deliveries BIGINT NOT NULL DEFAULT 1;
    UPDATE {schema}.rejections SET body_hash = sha256(body);
    UPDATE {schema}.rejections AS r
        SET deliveries = g.copies, replayed_as = COALESCE(r.replayed_as, g.replayed_as)
        FROM (
            SELECT body_hash, MIN(id) AS keep, COUNT(*) AS copies,
                (array_agg(replayed_as ORDER BY id DESC) FILTER (WHERE replayed_as IS NOT NULL))[1] AS replayed_as
            FROM {schema}.rejections GROUP BY body_hash HAVING COUNT(*) > 1
        ) AS g
        WHERE r.id = g.keep;
    DELETE FROM {schema}.rejections AS r USING {schema}.rejections AS k
        WHERE r.body_hash = k.body_hash AND r.id > k.id;
    ALTER TABLE {schema}.rejections ALTER COLUMN body_hash SET NOT NULL;
    CREATE UNIQUE INDEX rejections_body_hash ON {schema}.rejections (body_hash);",
    // 3: pruned event ids, remembered so that their redeliveries stay duplicates, and rejections by age.
    // A store checks `pruned` before it inserts; the trigger refuses the insert that a prune committed
    // between that check and the insert would let through, and the store is tried again.
    "CREATE TABLE {schema}.pruned (
        event_id TEXT PRIMARY KEY,
        received_at_ms BIGINT NOT NULL,
        pruned_at_ms BIGINT NOT NULL
    );
    CREATE INDEX pruned_received ON {schema}.pruned (received_at_ms);
    CREATE INDEX rejections_received ON {schema}.rejections (received_at_ms);
    CREATE FUNCTION {schema}.refuse_pruned_event() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM {schema}.pruned WHERE event_id = NEW.event_id) THEN
            RAISE EXCEPTION 'the event was pruned: its redelivery is a duplicate' USING ERRCODE = 'unique_violation';
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER events_not_pruned AFTER INSERT ON {schema}.events
        FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_pruned_event();",
    // 4: each event's `objectId`, and the indexes of the console's listings, ordered by
    // `(received_at_ms, event_id)` in byte order (`COLLATE "C"`, as SQLite and the memory inbox order them).
    // Existing rows get the `objectId` of their body; a body that is not UTF-8 JSON with one gets none.
    "ALTER TABLE {schema}.events ADD COLUMN object_id TEXT;
    CREATE FUNCTION {schema}.object_id_of(body BYTEA) RETURNS TEXT LANGUAGE plpgsql IMMUTABLE AS $$
    DECLARE
        doc JSONB;
        data JSONB;
    BEGIN
        doc := ltrim(convert_from(body, 'UTF8'), chr(65279))::jsonb;
        IF jsonb_typeof(doc) IS DISTINCT FROM 'object' THEN
            RETURN NULL;
        END IF;
        data := doc -> 'data';
        IF jsonb_typeof(data) = 'string' THEN
            data := (data #>> '{}')::jsonb;
        END IF;
        IF jsonb_typeof(data) IS DISTINCT FROM 'object' OR jsonb_typeof(data -> 'objectId') NOT IN ('number', 'string') THEN
            RETURN NULL;
        END IF;
        RETURN data ->> 'objectId';
    EXCEPTION WHEN OTHERS THEN
        RETURN NULL;
    END $$;
    WITH found AS (SELECT event_id, {schema}.object_id_of(body) AS object_id FROM {schema}.events)
    UPDATE {schema}.events AS e SET object_id = found.object_id
        FROM found WHERE e.event_id = found.event_id AND found.object_id IS NOT NULL;
    DROP FUNCTION {schema}.object_id_of(BYTEA);
    DROP INDEX {schema}.events_received;
    CREATE INDEX events_received ON {schema}.events (received_at_ms, event_id COLLATE \"C\");
    DROP INDEX {schema}.events_status;
    CREATE INDEX events_status ON {schema}.events (status, received_at_ms, event_id COLLATE \"C\");
    DROP INDEX {schema}.events_conflicting;
    CREATE INDEX events_conflicting ON {schema}.events (received_at_ms, event_id COLLATE \"C\") WHERE conflicts > 0;
    CREATE INDEX events_name ON {schema}.events (event, received_at_ms, event_id COLLATE \"C\");
    CREATE INDEX events_subscription ON {schema}.events (subscription, received_at_ms, event_id COLLATE \"C\");
    CREATE INDEX events_id_prefix ON {schema}.events (event_id COLLATE \"C\");
    CREATE INDEX events_object ON {schema}.events (object_id) WHERE object_id IS NOT NULL;",
];
pub(super) fn is_valid_schema(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    name.len() <= 63
        && (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.to_ascii_lowercase().starts_with("pg_")
}
/// A key for `pg_advisory_xact_lock`, the same for every receiver using `schema`.
fn migration_lock_key(schema: &str) -> i64 {
    // FNV-1a: stable across versions and platforms.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in "cxtn-inbox-migrations:".bytes().chain(schema.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// What the schema upgrade found.
enum Upgrade {
    Done,
    Newer(i32),
}

async fn upgrade(client: &mut Object, schema: &str, quoted: &str) -> Result<Upgrade, PgError> {
    let key = migration_lock_key(schema);
    let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    let table = format!("{quoted}.cxtn_inbox_migrations");
    let current_sql = format!("SELECT COALESCE(MAX(version), 0) FROM {table}");

    let txn = client.transaction().await?;
    txn.execute("SELECT pg_advisory_xact_lock($1)", &[&key]).await?;
    let schema_exists: bool = txn
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&schema],
        )
        .await?
        .try_get(0)?;
    if !schema_exists {
        txn.batch_execute(&format!("CREATE SCHEMA {quoted}")).await?;
    }
    let table_exists: bool = txn
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await?
        .try_get(0)?;
    if !table_exists {
        txn.batch_execute(&format!(
            "CREATE TABLE {table} (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        ))
        .await?;
    }
    let mut current: i32 = txn.query_one(&current_sql, &[]).await?.try_get(0)?;
    txn.commit().await?;

    for (version, sql) in (1..).zip(MIGRATIONS) {
        if current >= version {
            continue;
        }
        let txn = client.transaction().await?;
        txn.execute("SELECT pg_advisory_xact_lock($1)", &[&key]).await?;
        current = txn.query_one(&current_sql, &[]).await?.try_get(0)?;
        if current < version {
            txn.batch_execute(&sql.replace("{schema}", quoted)).await?;
            txn.execute(&format!("INSERT INTO {table} (version) VALUES ($1)"), &[&version])
                .await?;
            current = version;
        }
        txn.commit().await?;
    }
    Ok(if current > known {
        Upgrade::Newer(current)
    } else {
        Upgrade::Done
    })
}

impl Inner {
    pub(super) async fn migrate(&self, quoted: &str) -> Result<(), InboxError> {
        let mut client = self.client().await?;
        let outcome = tokio::time::timeout(MIGRATION_TIMEOUT, upgrade(&mut client, &self.schema, quoted)).await;
        match self.settle(client, "upgrade its schema", outcome)? {
            Upgrade::Done => Ok(()),
            Upgrade::Newer(version) => Err(InboxError::of_kind(
                InboxErrorKind::NotAnInbox,
                format!(
                    "the inbox schema `{}` in {} is at version {version}, newer than this cxtn-receiver knows ({}); \
                     upgrade cxtn-receiver",
                    self.schema,
                    self.target,
                    MIGRATIONS.len()
                ),
                None,
            )),
        }
    }
}
