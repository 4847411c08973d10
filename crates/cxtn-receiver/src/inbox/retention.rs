//! Retention: which stored rows [`Inbox::prune`](super::Inbox::prune) deletes, and what it reports.

use std::time::Duration;

use serde::Serialize;

use super::EventStatus;

/// How long a pruned event id is remembered by default: 90 days.
pub const DEFAULT_DEDUPE_WINDOW: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// Rows one prune transaction deletes by default.
pub const DEFAULT_PRUNE_BATCH: usize = 1000;

/// What [`Inbox::prune`](super::Inbox::prune) deletes.
///
/// Nothing is pruned unless asked: processed events by [`processed_older_than`](Self::processed_older_than),
/// and dead letters, quarantined events, events with conflicting versions and rejections only through their
/// own settings.
/// Pending and processing events are never pruned.
/// Ages count from when an event (or rejection) first arrived, on the store's clock.
///
/// A pruned event's id is remembered for [`dedupe_window`](Self::dedupe_window) from its arrival (90 days
/// unless set), so a redelivery within that window is still answered [`Stored::Duplicate`](super::Stored)
/// and never handled again; ids remembered longer than the window are forgotten by the next prune.
/// Set the window longer than any redelivery can come: CXTN publishes no retry policy, and 90 days is far
/// beyond any schedule a sender keeps.
///
/// ```
/// use std::time::Duration;
/// use cxtn_receiver::PrunePolicy;
///
/// const DAY: Duration = Duration::from_secs(24 * 60 * 60);
/// let policy = PrunePolicy::default()
///     .processed_older_than(30 * DAY)
///     .dead_older_than(90 * DAY)
///     .dry_run(true);
/// assert!(policy.prunes_events());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PrunePolicy {
    /// Processed events that arrived longer ago than this are deleted (default: none are).
    pub processed_older_than: Option<Duration>,
    /// Dead letters that arrived longer ago than this are deleted (default: none are).
    pub dead_older_than: Option<Duration>,
    /// Quarantined events that arrived longer ago than this are deleted (default: none are).
    pub quarantined_older_than: Option<Duration>,
    /// Rejections that arrived longer ago than this are deleted (default: none are).
    pub rejections_older_than: Option<Duration>,
    /// Whether an event with conflicting versions may be pruned, its versions with it (default off: such
    /// events are kept whatever their age).
    pub conflicts: bool,
    /// How long after its arrival a pruned event's id is remembered, so that a redelivery is still a
    /// duplicate (default 90 days).
    pub dedupe_window: Duration,
    /// Only count what would be deleted (default off).
    pub dry_run: bool,
    /// Rows deleted per transaction (default 1000): stores go on between two batches.
    pub batch: usize,
}

impl Default for PrunePolicy {
    fn default() -> Self {
        Self {
            processed_older_than: None,
            dead_older_than: None,
            quarantined_older_than: None,
            rejections_older_than: None,
            conflicts: false,
            dedupe_window: DEFAULT_DEDUPE_WINDOW,
            dry_run: false,
            batch: DEFAULT_PRUNE_BATCH,
        }
    }
}

impl PrunePolicy {
    /// Deletes processed events that arrived longer ago than `age`.
    #[must_use]
    pub fn processed_older_than(mut self, age: Duration) -> Self {
        self.processed_older_than = Some(age);
        self
    }

    /// Deletes dead letters that arrived longer ago than `age`.
    #[must_use]
    pub fn dead_older_than(mut self, age: Duration) -> Self {
        self.dead_older_than = Some(age);
        self
    }

    /// Deletes quarantined events that arrived longer ago than `age`.
    #[must_use]
    pub fn quarantined_older_than(mut self, age: Duration) -> Self {
        self.quarantined_older_than = Some(age);
        self
    }

    /// Deletes rejections that arrived longer ago than `age`.
    #[must_use]
    pub fn rejections_older_than(mut self, age: Duration) -> Self {
        self.rejections_older_than = Some(age);
        self
    }

    /// Lets events with conflicting versions be pruned, their versions with them.
    #[must_use]
    pub fn conflicts(mut self, prune: bool) -> Self {
        self.conflicts = prune;
        self
    }

    /// How long after its arrival a pruned event's id is remembered.
    #[must_use]
    pub fn dedupe_window(mut self, window: Duration) -> Self {
        self.dedupe_window = window;
        self
    }

    /// Only counts what would be deleted.
    #[must_use]
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Rows deleted per transaction (at least 1).
    #[must_use]
    pub fn batch(mut self, rows: usize) -> Self {
        self.batch = rows;
        self
    }

    /// Whether the policy deletes any event.
    #[must_use]
    pub fn prunes_events(&self) -> bool {
        !self.classes().is_empty()
    }

    /// The statuses pruned, each with its age.
    pub(crate) fn classes(&self) -> Vec<(EventStatus, Duration)> {
        [
            (EventStatus::Processed, self.processed_older_than),
            (EventStatus::Dead, self.dead_older_than),
            (EventStatus::Quarantined, self.quarantined_older_than),
        ]
        .into_iter()
        .filter_map(|(status, age)| age.map(|age| (status, age)))
        .collect()
    }

    /// The batch size, at least 1.
    pub(crate) fn batch_rows(&self) -> usize {
        self.batch.max(1)
    }

    /// Whether an event in `status` that arrived at `received_at_ms`, with `conflicts` versions, is pruned
    /// when the store's clock reads `now_ms`.
    pub(crate) fn prunes(&self, status: EventStatus, received_at_ms: i64, conflicts: u32, now_ms: i64) -> bool {
        (self.conflicts || conflicts == 0)
            && self
                .classes()
                .into_iter()
                .any(|(class, age)| class == status && received_at_ms < before(now_ms, age))
    }
}

/// The instant `age` before `now_ms`, in milliseconds since the Unix epoch.
pub(crate) fn before(now_ms: i64, age: Duration) -> i64 {
    now_ms.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX))
}

/// What a prune deleted (or, for a dry run, would delete).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PruneReport {
    /// Processed events.
    pub processed: u64,
    /// Dead letters.
    pub dead: u64,
    /// Quarantined events.
    pub quarantined: u64,
    /// Conflicting versions, deleted with their events.
    pub conflicts: u64,
    /// Rejections.
    pub rejections: u64,
    /// Pruned event ids now remembered, so that their redeliveries stay duplicates.
    pub remembered: u64,
    /// Remembered ids forgotten because they arrived longer ago than the dedupe window.
    pub forgotten: u64,
    /// Bytes the store gave back to the file system (SQLite's incremental vacuum; 0 elsewhere).
    pub reclaimed_bytes: u64,
    /// Whether nothing was deleted, only counted.
    pub dry_run: bool,
}

impl PruneReport {
    /// Events deleted, whatever their status.
    #[must_use]
    pub fn events(&self) -> u64 {
        self.processed
            .saturating_add(self.dead)
            .saturating_add(self.quarantined)
    }

    /// Rows deleted: events, their conflicting versions, rejections and forgotten ids.
    #[must_use]
    pub fn rows(&self) -> u64 {
        self.events()
            .saturating_add(self.conflicts)
            .saturating_add(self.rejections)
            .saturating_add(self.forgotten)
    }

    /// Counts one pruned event in `status`.
    pub(crate) fn count(&mut self, status: EventStatus, conflicts: u64, remembered: bool) {
        self.count_many(status, 1, conflicts, u64::from(remembered));
    }

    /// Counts `events` pruned events in `status`, with their `conflicts` versions, `remembered` of them
    /// remembered.
    pub(crate) fn count_many(&mut self, status: EventStatus, events: u64, conflicts: u64, remembered: u64) {
        let slot = match status {
            EventStatus::Dead => &mut self.dead,
            EventStatus::Quarantined => &mut self.quarantined,
            _ => &mut self.processed,
        };
        *slot = slot.saturating_add(events);
        self.conflicts = self.conflicts.saturating_add(conflicts);
        self.remembered = self.remembered.saturating_add(remembered);
    }

    /// Adds another report's counts to this one.
    pub(crate) fn add(&mut self, other: &Self) {
        self.processed = self.processed.saturating_add(other.processed);
        self.dead = self.dead.saturating_add(other.dead);
        self.quarantined = self.quarantined.saturating_add(other.quarantined);
        self.conflicts = self.conflicts.saturating_add(other.conflicts);
        self.rejections = self.rejections.saturating_add(other.rejections);
        self.remembered = self.remembered.saturating_add(other.remembered);
        self.forgotten = self.forgotten.saturating_add(other.forgotten);
        self.reclaimed_bytes = self.reclaimed_bytes.saturating_add(other.reclaimed_bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    const DAY: Duration = Duration::from_secs(24 * 60 * 60);

    #[test]
    fn only_what_is_asked_for_and_old_enough_is_pruned() {
        let now = 100 * DAY_MS;
        let nothing = PrunePolicy::default();
        assert!(!nothing.prunes_events());
        assert!(!nothing.prunes(EventStatus::Processed, 0, 0, now));

        let policy = PrunePolicy::default().processed_older_than(30 * DAY);
        assert!(policy.prunes(EventStatus::Processed, now - 31 * DAY_MS, 0, now));
        assert!(!policy.prunes(EventStatus::Processed, now - 29 * DAY_MS, 0, now));
        assert!(
            !policy.prunes(EventStatus::Processed, now - 31 * DAY_MS, 1, now),
            "an event with conflicting versions is kept unless asked"
        );
        assert!(policy.clone().conflicts(true).prunes(EventStatus::Processed, 0, 1, now));
        for kept in [
            EventStatus::Pending,
            EventStatus::Processing,
            EventStatus::Dead,
            EventStatus::Quarantined,
        ] {
            assert!(!policy.prunes(kept, 0, 0, now), "{kept}");
        }
        let dead = policy.dead_older_than(60 * DAY);
        assert!(dead.prunes(EventStatus::Dead, now - 61 * DAY_MS, 0, now));
        assert!(!dead.prunes(EventStatus::Dead, now - 59 * DAY_MS, 0, now));
        assert_eq!(PrunePolicy::default().batch(0).batch_rows(), 1);
    }
}
