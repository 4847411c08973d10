//! The receiver's metrics, rendered in the Prometheus text format.
//!
//! Every [`Receiver`](crate::Receiver) keeps a [`Metrics`]: what its deliveries became, how long the inbox took
//! to store them, what its worker's handler did, and, read from the inbox when scraped, what the inbox holds.
//! The admin listener ([`ReceiverBuilder::admin_addr`](crate::ReceiverBuilder::admin_addr)) serves them at
//! `/metrics`; [`Metrics::render`] gives the same text to serve elsewhere.
//! `docs/operations.md` lists every metric and the alerts worth setting on them.
//!
//! The registry is explicit (no global state): two receivers in one process keep apart.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter as PromCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::inbox::{EventStatus, Inbox, InboxStats, WriteStats};

/// How long the inbox's counts are kept before a scrape reads them again.
const INBOX_COUNTS_TTL: Duration = Duration::from_secs(5);

/// How long reading the inbox's counts may take before a scrape goes on without them.
const INBOX_COUNTS_TIMEOUT: Duration = Duration::from_secs(5);

/// Bounds of the store latency histogram, in seconds.
const STORE_BUCKETS: [f64; 14] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Bounds of the handler duration histogram, in seconds.
const HANDLER_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Every outcome a delivery is counted under.
pub(crate) const DELIVERY_OUTCOMES: [&str; 13] = [
    "stored",
    "duplicate",
    "conflict",
    "quarantined",
    "rejected",
    "unauthorized",
    "method_not_allowed",
    "unsupported_media_type",
    "too_large",
    "timeout",
    "unreadable",
    "busy",
    "unavailable",
];

/// Every outcome a handler's attempt is counted under.
pub(crate) const HANDLER_OUTCOMES: [&str; 5] = ["processed", "retry", "dead", "lease_lost", "abandoned"];

type Label = [(&'static str, &'static str); 1];
type HistogramFamily = Family<Label, Histogram, fn() -> Histogram>;

/// The metrics of a receiver, its worker and anything else that registers a [`Counter`]; cheap to clone
/// (clones share the registry).
///
/// ```
/// use cxtn_receiver::metrics::Metrics;
///
/// let metrics = Metrics::new();
/// let pruned = metrics.counter("cxtn_inbox_pruned_rows", "Rows removed by the retention policy.");
/// pruned.inc_by(3);
/// assert!(metrics.render().contains("cxtn_inbox_pruned_rows_total 3"));
/// ```
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Mutex<Registry>,
    /// The counters registered through [`Metrics::counter`], by name.
    counters: Mutex<HashMap<String, Counter>>,
    deliveries: Family<Label, PromCounter>,
    store_seconds: HistogramFamily,
    handler_seconds: Histogram,
    handler_outcomes: Family<Label, PromCounter>,
    dead_letters: PromCounter,
    refresh_errors: PromCounter,
    live: Arc<Live>,
    /// When the inbox's counts were last read.
    refreshed: tokio::sync::Mutex<Option<Instant>>,
}

/// What is read at render time: open connections, the inbox's group commit, its last counts.
#[derive(Debug, Default)]
struct Live {
    connections: Arc<AtomicUsize>,
    inbox: OnceLock<Arc<dyn Inbox>>,
    counts: Mutex<Option<InboxStats>>,
}

/// A counter registered with [`Metrics::counter`]: clones count into the same value.
#[derive(Debug, Clone, Default)]
pub struct Counter(PromCounter);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.inc();
    }

    /// Adds `n`.
    pub fn inc_by(&self, n: u64) {
        self.0.inc_by(n);
    }

    /// The count so far.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.0.get()
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn store_histogram() -> Histogram {
    Histogram::new(STORE_BUCKETS)
}

impl Metrics {
    /// An empty set of the receiver's metrics; a [`Receiver`](crate::Receiver) makes its own.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let deliveries = Family::<Label, PromCounter>::default();
        for outcome in DELIVERY_OUTCOMES {
            drop(deliveries.get_or_create(&[("outcome", outcome)]));
        }
        registry.register(
            "cxtn_receiver_deliveries",
            "Deliveries received, by what the receiver answered or did with them",
            deliveries.clone(),
        );
        let store_seconds: HistogramFamily = Family::new_with_constructor(store_histogram);
        for operation in ["store", "reject"] {
            drop(store_seconds.get_or_create(&[("operation", operation)]));
        }
        registry.register(
            "cxtn_receiver_store_duration_seconds",
            "Time the inbox took to store a delivery durably (store) or keep a rejection (reject)",
            store_seconds.clone(),
        );
        let handler_seconds = Histogram::new(HANDLER_BUCKETS);
        registry.register(
            "cxtn_receiver_handler_duration_seconds",
            "Time one handler attempt took, from claim to outcome",
            handler_seconds.clone(),
        );
        let handler_outcomes = Family::<Label, PromCounter>::default();
        for outcome in HANDLER_OUTCOMES {
            drop(handler_outcomes.get_or_create(&[("outcome", outcome)]));
        }
        registry.register(
            "cxtn_receiver_handler_outcomes",
            "Handler attempts, by how they ended",
            handler_outcomes.clone(),
        );
        let dead_letters = PromCounter::default();
        registry.register(
            "cxtn_receiver_dead_letters",
            "Events dead-lettered after their last failed attempt",
            dead_letters.clone(),
        );
        let refresh_errors = PromCounter::default();
        registry.register(
            "cxtn_receiver_inbox_count_errors",
            "Scrapes that could not read the inbox's counts (the last counts read are shown)",
            refresh_errors.clone(),
        );
        let live = Arc::new(Live::default());
        registry.register_collector(Box::new(live.clone()));
        Self {
            inner: Arc::new(Inner {
                registry: Mutex::new(registry),
                counters: Mutex::new(HashMap::new()),
                deliveries,
                store_seconds,
                handler_seconds,
                handler_outcomes,
                dead_letters,
                refresh_errors,
                live,
                refreshed: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// A counter named `name` (the `_total` suffix is added when rendered) described by `help` (one sentence),
    /// registered on first use: asking again for the same name gives the same counter.
    ///
    /// A name must follow Prometheus's rules (letters, digits, `_` and `:`, not starting with a digit);
    /// a counter asked for under another name still counts, but is not rendered, and a warning is logged.
    pub fn counter(&self, name: &str, help: &str) -> Counter {
        let name = name.strip_suffix("_total").unwrap_or(name);
        let mut counters = self.inner.counters.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(counter) = counters.get(name) {
            return counter.clone();
        }
        let counter = Counter::default();
        if is_metric_name(name) {
            self.inner
                .registry
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .register(name, help.trim_end_matches('.'), counter.0.clone());
        } else {
            tracing::warn!(
                name = %name.escape_debug(),
                "a counter's name is not a valid Prometheus metric name, so it is not rendered; use letters, digits and `_`"
            );
        }
        counters.insert(name.to_owned(), counter.clone());
        counter
    }

    /// Every metric in the Prometheus text format (version 0.0.4), the inbox's counts as last read
    /// (the admin listener's `/metrics` reads them again first, at most every 5 s).
    #[must_use]
    pub fn render(&self) -> String {
        let mut text = String::new();
        let registry = self.inner.registry.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry) {
            tracing::warn!(error = %e, "could not render the metrics");
        }
        text
    }

    /// The `Content-Type` of [`Metrics::render`]'s text.
    pub const CONTENT_TYPE: &'static str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

    /// Counts a delivery under `outcome`, one of [`DELIVERY_OUTCOMES`].
    pub(crate) fn delivery(&self, outcome: &'static str) {
        self.inner.deliveries.get_or_create(&[("outcome", outcome)]).inc();
    }

    /// Records how long the inbox took to store (`store`) or to keep a rejection (`reject`).
    pub(crate) fn stored_in(&self, operation: &'static str, took: Duration) {
        self.inner
            .store_seconds
            .get_or_create(&[("operation", operation)])
            .observe(took.as_secs_f64());
    }

    /// Records a handler attempt's duration and outcome, one of [`HANDLER_OUTCOMES`].
    pub(crate) fn handled(&self, outcome: &'static str, took: Duration) {
        self.inner.handler_seconds.observe(took.as_secs_f64());
        self.inner.handler_outcomes.get_or_create(&[("outcome", outcome)]).inc();
    }

    /// Counts a dead letter recorded in the inbox.
    pub(crate) fn dead_letter(&self) {
        self.inner.dead_letters.inc();
    }

    /// The count of open connections, kept by the receiver's accept loop.
    pub(crate) fn connections(&self) -> Arc<AtomicUsize> {
        self.inner.live.connections.clone()
    }

    /// Renders what `inbox` holds and how it groups its writes; the first inbox given is the one kept.
    pub(crate) fn watch(&self, inbox: Arc<dyn Inbox>) {
        let _ = self.inner.live.inbox.set(inbox);
    }

    /// Reads the inbox's counts again when the last read is older than 5 s.
    pub(crate) async fn refresh(&self) {
        let Some(inbox) = self.inner.live.inbox.get() else {
            return;
        };
        let mut refreshed = self.inner.refreshed.lock().await;
        if refreshed.is_some_and(|at| at.elapsed() < INBOX_COUNTS_TTL) {
            return;
        }
        match tokio::time::timeout(INBOX_COUNTS_TIMEOUT, inbox.stats()).await {
            Ok(Ok(stats)) => {
                *self.inner.live.counts.lock().unwrap_or_else(PoisonError::into_inner) = Some(stats);
                *refreshed = Some(Instant::now());
            }
            Ok(Err(e)) => {
                self.inner.refresh_errors.inc();
                tracing::warn!(error = %e, "could not read the inbox's counts for the metrics");
            }
            Err(_) => {
                self.inner.refresh_errors.inc();
                tracing::warn!("the inbox did not give its counts for the metrics within 5 s");
            }
        }
    }
}

/// Whether `name` is a Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

impl Collector for Live {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let open = i64::try_from(self.connections.load(Ordering::Relaxed)).unwrap_or(i64::MAX);
        gauge(
            &mut encoder,
            "cxtn_receiver_open_connections",
            "Connections open on the receiver's delivery port.",
            open,
        )?;
        let Some(inbox) = self.inbox.get() else {
            return Ok(());
        };
        if let Some(writes) = inbox.write_stats() {
            group_sizes(&mut encoder, &writes)?;
        }
        let counts = *self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(counts) = counts {
            inbox_counts(&mut encoder, &counts)?;
        }
        Ok(())
    }
}

fn gauge(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: i64) -> Result<(), fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// The group-commit histogram: operations per transaction.
fn group_sizes(encoder: &mut DescriptorEncoder<'_>, writes: &WriteStats) -> Result<(), fmt::Error> {
    let mut buckets: Vec<(f64, u64)> = WriteStats::GROUP_BOUNDS
        .iter()
        .zip(&writes.groups)
        .map(|(&bound, &count)| (bound as f64, count))
        .collect();
    buckets.push((f64::INFINITY, writes.groups.last().copied().unwrap_or(0)));
    let mut metric = encoder.encode_descriptor(
        "cxtn_receiver_group_commit_size",
        "Operations (stores, rejections, claims, completions) carried by each group-commit transaction of the inbox.",
        None,
        MetricType::Histogram,
    )?;
    metric.encode_histogram::<NoLabelSet>(writes.operations as f64, writes.transactions, &buckets, None)
}

/// What the inbox holds, as last read.
fn inbox_counts(encoder: &mut DescriptorEncoder<'_>, counts: &InboxStats) -> Result<(), fmt::Error> {
    let mut events = encoder.encode_descriptor(
        "cxtn_receiver_inbox_events",
        "Events in the inbox, by status.",
        None,
        MetricType::Gauge,
    )?;
    for (status, count) in [
        (EventStatus::Pending, counts.pending),
        (EventStatus::Processing, counts.processing),
        (EventStatus::Processed, counts.processed),
        (EventStatus::Dead, counts.dead),
        (EventStatus::Quarantined, counts.quarantined),
    ] {
        let value = ConstGauge::new(i64::try_from(count).unwrap_or(i64::MAX));
        value.encode(events.encode_family(&[("status", status.as_str())])?)?;
    }
    for (name, help, count) in [
        (
            "cxtn_receiver_inbox_rejections",
            "Distinct bodies without a usable envelope kept in the inbox.",
            counts.rejected,
        ),
        (
            "cxtn_receiver_inbox_conflicts",
            "Conflicting versions kept in the inbox: bodies that arrived under a stored event id with other content.",
            counts.conflicts,
        ),
        (
            "cxtn_receiver_inbox_duplicates",
            "Redeliveries of stored events, counted and acknowledged without storing them again.",
            counts.duplicates,
        ),
    ] {
        gauge(encoder, name, help, i64::try_from(count).unwrap_or(i64::MAX))?;
    }
    let age = counts
        .oldest_pending_at_ms
        .map_or(0.0, |at| (crate::now_ms().saturating_sub(at)).max(0) as f64 / 1000.0);
    let metric = ConstGauge::new(age);
    metric.encode(encoder.encode_descriptor(
        "cxtn_receiver_oldest_pending_event_age_seconds",
        "How long the oldest event waiting for the handler has waited since it arrived; 0 when none waits.",
        None,
        metric.metric_type(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_is_registered_once_under_its_name() {
        let metrics = Metrics::new();
        let first = metrics.counter("cxtn_test_things_total", "Things.");
        let again = metrics.counter("cxtn_test_things", "Things.");
        first.inc();
        again.inc_by(2);
        assert_eq!(first.get(), 3);
        let text = metrics.render();
        assert_eq!(
            text.matches("# TYPE cxtn_test_things_total counter").count(),
            1,
            "{text}"
        );
        assert!(text.contains("cxtn_test_things_total 3"), "{text}");
    }

    #[test]
    fn a_counter_with_an_invalid_name_counts_but_is_not_rendered() {
        let metrics = Metrics::new();
        let counter = metrics.counter("1 bad name", "Bad.");
        counter.inc();
        assert_eq!(counter.get(), 1);
        assert!(!metrics.render().contains("bad name"));
        assert!(!is_metric_name(""));
        assert!(is_metric_name("cxtn:rate_5m"));
    }

    #[test]
    fn every_outcome_is_rendered_from_zero() {
        let metrics = Metrics::new();
        metrics.delivery("stored");
        let text = metrics.render();
        assert!(
            text.contains(r#"cxtn_receiver_deliveries_total{outcome="stored"} 1"#),
            "{text}"
        );
        for outcome in DELIVERY_OUTCOMES.iter().filter(|o| **o != "stored") {
            assert!(
                text.contains(&format!(r#"cxtn_receiver_deliveries_total{{outcome="{outcome}"}} 0"#)),
                "{outcome}: {text}"
            );
        }
        assert!(text.contains("cxtn_receiver_open_connections 0"), "{text}");
    }
}
