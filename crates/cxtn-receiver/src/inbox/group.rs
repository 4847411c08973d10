//! Group commit, the part both durable stores share: which waiting jobs go into one transaction.
//!
//! A store waits for a first job, then takes every job already queued behind it, up to a count and a weight
//! (bytes of bodies), runs them in one transaction, commits once, and answers each job after that commit.
//! The SQLite writer thread and the PostgreSQL dispatcher differ only in how they wait and commit.

use std::sync::atomic::{AtomicU64, Ordering};

use super::WriteStats;

/// How many groups a store committed, of how many jobs: the counts behind [`WriteStats`].
#[derive(Debug, Default)]
pub(crate) struct GroupStats {
    transactions: AtomicU64,
    operations: AtomicU64,
    groups: [AtomicU64; 12],
}

impl GroupStats {
    /// Counts one committed group of `size` jobs.
    pub(crate) fn record(&self, size: usize) {
        let size = u64::try_from(size).unwrap_or(u64::MAX);
        self.transactions.fetch_add(1, Ordering::Relaxed);
        self.operations.fetch_add(size, Ordering::Relaxed);
        let slot = WriteStats::GROUP_BOUNDS
            .iter()
            .position(|&bound| size <= bound)
            .unwrap_or(WriteStats::GROUP_BOUNDS.len());
        if let Some(counter) = self.groups.get(slot) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counts so far.
    pub(crate) fn snapshot(&self) -> WriteStats {
        let mut groups = [0; 12];
        for (slot, counter) in groups.iter_mut().zip(&self.groups) {
            *slot = counter.load(Ordering::Relaxed);
        }
        WriteStats {
            transactions: self.transactions.load(Ordering::Relaxed),
            operations: self.operations.load(Ordering::Relaxed),
            groups,
        }
    }
}

/// The jobs of one group: `first`, then whatever `waiting` hands over without waiting, until the group holds
/// `max_jobs` jobs or `max_weight` of `weight`.
pub(crate) fn gather<T>(
    first: T,
    mut waiting: impl FnMut() -> Option<T>,
    max_jobs: usize,
    max_weight: usize,
    weight: impl Fn(&T) -> usize,
) -> Vec<T> {
    let mut total = weight(&first);
    let mut group = vec![first];
    while group.len() < max_jobs && total < max_weight {
        let Some(next) = waiting() else { break };
        total = total.saturating_add(weight(&next));
        group.push(next);
    }
    group
}

#[cfg(test)]
mod tests {
    use super::{GroupStats, gather};

    #[test]
    fn group_sizes_fall_in_their_buckets() {
        let stats = GroupStats::default();
        for size in [1, 1, 2, 3, 512, 513, 5000] {
            stats.record(size);
        }
        let snapshot = stats.snapshot();
        assert_eq!((snapshot.transactions, snapshot.operations), (7, 6032));
        assert_eq!(snapshot.groups, [2, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn a_group_takes_what_waits_up_to_its_limits() {
        let mut queue = vec![5, 4, 3, 2, 1];
        let all = gather(0, || queue.pop(), 10, usize::MAX, |_| 0);
        assert_eq!(all, [0, 1, 2, 3, 4, 5], "everything waiting, and nothing more");

        let mut queue = vec![5, 4, 3, 2, 1];
        assert_eq!(
            gather(0, || queue.pop(), 3, usize::MAX, |_| 0),
            [0, 1, 2],
            "at most three jobs"
        );
        assert_eq!(queue, [5, 4, 3], "the rest waits for the next group");

        let mut queue = vec![100, 100, 100];
        let heavy = gather(100, || queue.pop(), 10, 250, |bytes| *bytes);
        assert_eq!(
            heavy,
            [100, 100, 100],
            "the job that crosses the weight limit is the last one taken"
        );

        let mut queue = Vec::new();
        assert_eq!(
            gather(7, || queue.pop(), 10, 0, |_| 1),
            [7],
            "a first job always forms a group"
        );
    }
}
