//! Pruning the PostgreSQL inbox: one statement per batch, each its own short transaction, so stores and
//! claims go on between batches; rows a store or a claim holds at that moment are skipped, not waited for.
//!
//! A batch deletes its events and remembers their ids in `pruned` in the same statement; the conflicting
//! versions go with their events (`ON DELETE CASCADE`).

use std::time::Duration;

use super::sql::NOW_MS;
use super::{InboxError, PostgresInbox, PrunePolicy, PruneReport};

/// An age in milliseconds as the statements take it: bounded so that `now - age` cannot overflow.
fn age_ms(age: Duration) -> i64 {
    i64::try_from(age.as_millis()).unwrap_or(i64::MAX).min(i64::MAX / 4)
}

/// The statements of a prune, written for one schema.
struct Statements {
    events: String,
    count_events: String,
    rejections: String,
    count_rejections: String,
    forget: String,
    count_forgotten: String,
}

impl Statements {
    fn new(schema: &str) -> Self {
        let events = format!("{schema}.events");
        let pruned = format!("{schema}.pruned");
        let rejections = format!("{schema}.rejections");
        // `$1` status, `$2` its age, `$3` whether events with conflicting versions go, `$4` rows, `$5` the
        // dedupe window.
        let doomed = format!("status = $1 AND received_at_ms < {NOW_MS} - $2 AND ($3 OR conflicts = 0)");
        Self {
            events: format!(
                "WITH doomed AS (
                     SELECT event_id, received_at_ms FROM {events} WHERE {doomed}
                     ORDER BY received_at_ms LIMIT $4
                     FOR UPDATE SKIP LOCKED
                 ),
                 remembered AS (
                     INSERT INTO {pruned} (event_id, received_at_ms, pruned_at_ms)
                     SELECT event_id, received_at_ms, {NOW_MS} FROM doomed WHERE received_at_ms >= {NOW_MS} - $5
                     ON CONFLICT (event_id) DO NOTHING
                     RETURNING 1
                 ),
                 gone AS (
                     DELETE FROM {events} AS e USING doomed AS d WHERE e.event_id = d.event_id RETURNING e.conflicts
                 )
                 SELECT COUNT(*)::int8, COALESCE(SUM(conflicts), 0)::int8, (SELECT COUNT(*) FROM remembered)::int8
                 FROM gone"
            ),
            count_events: format!(
                "SELECT COUNT(*)::int8, COALESCE(SUM(conflicts), 0)::int8,
                     COUNT(*) FILTER (WHERE received_at_ms >= {NOW_MS} - $5)::int8
                 FROM {events} WHERE {doomed} AND $4::int8 > 0"
            ),
            rejections: format!(
                "WITH doomed AS (
                     SELECT id FROM {rejections} WHERE received_at_ms < {NOW_MS} - $1
                     ORDER BY received_at_ms LIMIT $2 FOR UPDATE SKIP LOCKED
                 )
                 DELETE FROM {rejections} AS r USING doomed AS d WHERE r.id = d.id"
            ),
            count_rejections: format!(
                "SELECT COUNT(*)::int8 FROM {rejections} WHERE received_at_ms < {NOW_MS} - $1 AND $2::int8 > 0"
            ),
            forget: format!(
                "WITH doomed AS (
                     SELECT event_id FROM {pruned} WHERE received_at_ms < {NOW_MS} - $1
                     ORDER BY received_at_ms LIMIT $2 FOR UPDATE SKIP LOCKED
                 )
                 DELETE FROM {pruned} AS p USING doomed AS d WHERE p.event_id = d.event_id"
            ),
            count_forgotten: format!(
                "SELECT COUNT(*)::int8 FROM {pruned} WHERE received_at_ms < {NOW_MS} - $1 AND $2::int8 > 0"
            ),
        }
    }
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl PostgresInbox {
    /// [`Inbox::prune`](crate::Inbox::prune) for PostgreSQL.
    pub(super) async fn prune_batches(&self, policy: &PrunePolicy) -> Result<PruneReport, InboxError> {
        let sql = Statements::new(&format!("\"{}\"", self.inner.schema));
        let dry = policy.dry_run;
        let rows = i64::try_from(policy.batch_rows()).unwrap_or(i64::MAX);
        let window = age_ms(policy.dedupe_window);
        let mut report = PruneReport {
            dry_run: dry,
            ..PruneReport::default()
        };
        for (status, age) in policy.classes() {
            let (name, age) = (status.as_str(), age_ms(age));
            let statement = if dry { &sql.count_events } else { &sql.events };
            loop {
                let (events, versions, remembered) = self
                    .query_counts(
                        "prune events",
                        statement,
                        &[&name, &age, &policy.conflicts, &rows, &window],
                    )
                    .await?;
                report.count_many(status, count(events), count(versions), count(remembered));
                if dry || events < rows {
                    break;
                }
            }
        }
        let mut tables = vec![(&sql.forget, &sql.count_forgotten, window, true)];
        if let Some(age) = policy.rejections_older_than {
            tables.push((&sql.rejections, &sql.count_rejections, age_ms(age), false));
        }
        for (delete, count_only, age, forgetting) in tables {
            loop {
                let n = if dry {
                    self.query_counts("count old rows", count_only, &[&age, &rows]).await?.0
                } else {
                    let deleted = self.execute_text("prune old rows", delete, &[&age, &rows]).await?;
                    i64::try_from(deleted).unwrap_or(i64::MAX)
                };
                let slot = if forgetting {
                    &mut report.forgotten
                } else {
                    &mut report.rejections
                };
                *slot = slot.saturating_add(count(n));
                if dry || n < rows {
                    break;
                }
            }
        }
        Ok(report)
    }

    /// Runs a statement that answers one row of up to three counts.
    async fn query_counts(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<(i64, i64, i64), InboxError> {
        let inner = &self.inner;
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(sql).await?;
                let row = client.query_one(&statement, params).await?;
                let at = |i: usize| -> Result<i64, tokio_postgres::Error> {
                    if i < row.len() { row.try_get(i) } else { Ok(0) }
                };
                Ok((at(0)?, at(1)?, at(2)?))
            })
            .await;
        inner.settle(client, what, outcome)
    }

    /// Runs a statement that changes rows; returns how many it changed.
    async fn execute_text(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, InboxError> {
        let inner = &self.inner;
        let client = inner.client().await?;
        let outcome = inner
            .timed(async {
                let statement = client.prepare_cached(sql).await?;
                client.execute(&statement, params).await
            })
            .await;
        inner.settle(client, what, outcome)
    }
}
