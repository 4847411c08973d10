//! Listings: the statement each filter needs, and the index it reads.
//!
//! Every listing is ordered by `(received_at_ms, event_id)`, and every filter's index (migration 4) starts
//! with its column, goes on with `received_at_ms, event_id`, and ends with the other filters' columns: a page
//! reads its index in order and checks every other condition in the index, reading a table row only for the
//! events it returns.
//! SQLite has no statistics on an inbox (nobody runs `ANALYZE` on it), so where two filters' indexes could
//! serve, the listing names the one whose part is small: a status other than `processed` (the few events that
//! wait, failed or were quarantined) before an event name or a subscription.
//! A search is two lookups merged: `objectId` by its index, `eventId` by a range of the primary key when the
//! prefix is narrow, or, when it is broad (`wh_`), by the listing's order with the prefix checked in the index.

use rusqlite::types::Value;
use rusqlite::{Transaction, params_from_iter};

use super::read::event_row_of;
use super::schema::Schema;
use super::sql_limit;
use crate::inbox::query::prefix_end;
use crate::inbox::{EventFilter, EventRecord, EventStatus};

/// A prefix shared by at least this many event ids is broad: it is checked while reading in order rather
/// than looked up and sorted.
const BROAD_PREFIX: i64 = 1000;

/// Conditions of a statement, with their values in order.
#[derive(Default)]
struct Conditions {
    terms: Vec<String>,
    values: Vec<Value>,
}

impl Conditions {
    /// Binds `value`; returns its placeholder.
    fn bind(&mut self, value: Value) -> String {
        self.values.push(value);
        format!("?{}", self.values.len())
    }

    fn text(&mut self, text: &str) -> String {
        self.bind(Value::Text(text.to_owned()))
    }

    /// Every condition of `filter` but its search.
    fn of(filter: &EventFilter) -> Self {
        let mut c = Self::default();
        if let Some(status) = filter.status {
            let p = c.text(status.as_str());
            c.terms.push(format!("status = {p}"));
        }
        if let Some(name) = &filter.event {
            let p = c.text(name);
            c.terms.push(format!("event = {p}"));
        }
        if let Some(subscription) = &filter.subscription {
            let p = c.text(subscription);
            c.terms.push(format!("subscription = {p}"));
        }
        if let Some(from) = filter.received_from_ms {
            let p = c.bind(Value::Integer(from));
            c.terms.push(format!("received_at_ms >= {p}"));
        }
        if let Some(until) = filter.received_until_ms {
            let p = c.bind(Value::Integer(until));
            c.terms.push(format!("received_at_ms < {p}"));
        }
        if filter.conflicts_only {
            c.terms.push("conflicts > 0".to_owned());
        }
        if let Some(after) = &filter.after {
            let at = c.bind(Value::Integer(after.received_at_ms));
            let id = c.text(after.event_id.as_str());
            let (strict, beyond) = if filter.oldest_first { (">", ">=") } else { ("<", "<=") };
            c.terms.push(format!(
                "received_at_ms {beyond} {at} AND (received_at_ms {strict} {at} OR event_id {strict} {id})"
            ));
        }
        c
    }

    /// Lists the events that meet the conditions, reading `index` when given.
    fn list(
        mut self,
        txn: &Transaction<'_>,
        schema: Schema,
        filter: &EventFilter,
        index: Option<&str>,
    ) -> rusqlite::Result<Vec<EventRecord>> {
        let limit = self.bind(Value::Integer(sql_limit(filter.effective_limit())));
        let order = if filter.oldest_first { "ASC" } else { "DESC" };
        let indexed = index.map(|index| format!(" INDEXED BY {index}")).unwrap_or_default();
        let conditions = if self.terms.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.terms.join(" AND "))
        };
        let sql = format!(
            "SELECT {} FROM events{indexed} {conditions}
             ORDER BY received_at_ms {order}, event_id {order} LIMIT {limit}",
            schema.event_columns()
        );
        txn.prepare_cached(&sql)?
            .query_map(params_from_iter(self.values), event_row_of(schema))?
            .collect()
    }
}

/// The index to name for `filter`, when the planner could pick a worse one.
fn index_for(filter: &EventFilter, schema: Schema) -> Option<&'static str> {
    let rare_status = filter.status.is_some_and(|s| s != EventStatus::Processed);
    let other_equality = filter.event.is_some() || filter.subscription.is_some();
    (schema == Schema::Current && rare_status && other_equality && !filter.conflicts_only).then_some("events_status")
}

/// The events `filter` lists.
pub(super) fn events(
    txn: &Transaction<'_>,
    schema: Schema,
    filter: &EventFilter,
) -> rusqlite::Result<Vec<EventRecord>> {
    let Some(text) = filter.search_text() else {
        return Conditions::of(filter).list(txn, schema, filter, index_for(filter, schema));
    };
    let end = prefix_end(text);
    let broad = match &end {
        Some(end) => {
            let shared: i64 = txn
                .prepare_cached(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE event_id >= ?1 AND event_id < ?2 LIMIT ?3)",
                )?
                .query_row(rusqlite::params![text, end, BROAD_PREFIX], |row| row.get(0))?;
            shared >= BROAD_PREFIX
        }
        // Only ids that start with `char::MAX`s: none in practice.
        None => false,
    };
    let mut by_id = Conditions::of(filter);
    let start = by_id.text(text);
    let end = end.map(|end| by_id.text(&end));
    // A unary `+` keeps the planner from looking the range up: the listing's order is read instead.
    let column = if broad { "+event_id" } else { "event_id" };
    by_id.terms.push(match &end {
        Some(end) => format!("{column} >= {start} AND {column} < {end}"),
        None => format!("{column} >= {start}"),
    });
    let index = if broad {
        index_for(filter, schema)
    } else {
        Some("sqlite_autoindex_events_1")
    };
    let mut found = by_id.list(txn, schema, filter, index)?;
    if schema == Schema::Current {
        let mut by_object = Conditions::of(filter);
        let p = by_object.text(text);
        by_object.terms.push(format!("object_id = {p}"));
        for record in by_object.list(txn, schema, filter, None)? {
            if !found.iter().any(|r| r.event_id == record.event_id) {
                found.push(record);
            }
        }
    }
    found.sort_by(|a, b| {
        let order = (a.received_at_ms, a.event_id.as_str()).cmp(&(b.received_at_ms, b.event_id.as_str()));
        if filter.oldest_first { order } else { order.reverse() }
    });
    found.truncate(filter.effective_limit());
    Ok(found)
}
