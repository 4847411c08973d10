#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use super::RetryPolicy;

#[test]
fn backoff_caps_double_up_to_the_maximum() {
    let policy = RetryPolicy::default();
    let caps: Vec<u64> = (1..=8)
        .map(|retry| policy.backoff_cap(retry).as_millis() as u64)
        .collect();
    assert_eq!(caps, [200, 400, 800, 1_600, 3_200, 5_000, 5_000, 5_000]);
    assert_eq!(policy.backoff_cap(u32::MAX), Duration::from_secs(5));
    assert_eq!(policy.backoff_cap(0), Duration::from_millis(200));
}

#[test]
fn backoff_is_jittered_within_the_cap() {
    let policy = RetryPolicy::default();
    let waits: Vec<Duration> = (0..200).map(|_| policy.backoff(3)).collect();
    assert!(waits.iter().all(|wait| *wait <= Duration::from_millis(800)));
    // Full jitter spreads waits over the whole range, not around the cap.
    assert!(waits.iter().any(|wait| *wait < Duration::from_millis(400)));
    assert!(waits.iter().any(|wait| *wait > Duration::from_millis(400)));
}

#[test]
fn huge_backoffs_saturate() {
    let policy = RetryPolicy::builder()
        .initial_backoff(Duration::MAX)
        .max_backoff(Duration::MAX)
        .build();
    assert_eq!(policy.backoff_cap(40), Duration::MAX);
    assert!(policy.backoff(40) <= Duration::MAX);
}

#[test]
fn zero_attempts_means_one() {
    assert_eq!(RetryPolicy::builder().max_attempts(0).build().max_attempts(), 1);
}
