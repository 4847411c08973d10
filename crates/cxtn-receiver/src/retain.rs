//! The receiver's retention policy: its inbox pruned every so often while it serves.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::metrics::Metrics;
use crate::{Inbox, PrunePolicy};

/// A prune policy and how often it runs.
#[derive(Debug, Clone)]
pub(crate) struct Retention {
    pub(crate) policy: PrunePolicy,
    pub(crate) every: Duration,
}

/// Prunes `inbox` at once, then every `retention.every`, until `stopped` changes; a prune in progress then is
/// left between two batches (what it deleted stays deleted).
pub(crate) fn spawn(
    inbox: Arc<dyn Inbox>,
    retention: Retention,
    metrics: &Metrics,
    mut stopped: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let pruned = metrics.counter(
        "cxtn_inbox_pruned_rows",
        "Rows the retention policy deleted: events, their conflicting versions, rejections and remembered ids past their window",
    );
    let failures = metrics.counter(
        "cxtn_inbox_prune_failures",
        "Runs of the retention policy that failed; the next run tries again",
    );
    let every = retention.every.max(Duration::from_secs(1));
    let policy = PrunePolicy {
        dry_run: false,
        ..retention.policy
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stopped.changed() => return,
                outcome = inbox.prune(&policy) => match outcome {
                    Ok(report) => {
                        pruned.inc_by(report.rows());
                        if report.rows() > 0 {
                            tracing::info!(
                                events = report.events(),
                                conflicts = report.conflicts,
                                rejections = report.rejections,
                                remembered = report.remembered,
                                forgotten = report.forgotten,
                                reclaimed_bytes = report.reclaimed_bytes,
                                "the retention policy pruned the inbox"
                            );
                        }
                    }
                    Err(e) => {
                        failures.inc();
                        tracing::error!(error = %e, "the retention policy could not prune the inbox; it tries again at its next run");
                    }
                },
            }
            tokio::select! {
                _ = stopped.changed() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    })
}
