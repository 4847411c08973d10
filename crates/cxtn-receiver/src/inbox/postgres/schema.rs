//! The schema's migrations, applied at connect under an advisory lock.

use std::time::Duration;

use deadpool_postgres::Object;

use super::pool::Inner;
use super::{InboxError, PgError};

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
            Upgrade::Newer(version) => Err(InboxError::new(
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
