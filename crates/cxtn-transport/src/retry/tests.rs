#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{RetryPolicy, retry_after};

/// The HTTP-date parser `Retry-After` values go through.
fn parse_http_date(text: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(text).ok()
}

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

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

#[test]
fn parses_the_three_date_forms() {
    // 1994-11-06T08:49:37Z, the example of RFC 9110.
    let expected = at(784_111_777);
    assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(expected));
    assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(expected));
    assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), Some(expected));
}

#[test]
fn parses_dates_across_leap_years() {
    assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(at(0)));
    assert_eq!(parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT"), Some(at(951_782_400)));
    assert_eq!(
        parse_http_date("Fri, 01 Mar 2024 12:00:00 GMT"),
        Some(at(1_709_294_400))
    );
    assert_eq!(
        parse_http_date("Thu, 31 Dec 2099 23:59:59 GMT"),
        Some(at(4_102_444_799))
    );
}

#[test]
fn rejects_what_is_not_a_date() {
    for text in [
        "",
        "soon",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 31 Feb 1994 08:00:00 GMT",
        "Sun, 29 Feb 2100 08:00:00 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1969 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1994 08:49:37:00 GMT",
        "Sunday, 06-Nov-94-1 08:49:37 GMT",
        "Sun, ٠٦ Nov 1994 08:49:37 GMT",
    ] {
        assert_eq!(parse_http_date(text), None, "{text}");
    }
}

#[test]
fn retry_after_reads_seconds_and_dates() {
    let now = at(1_000);
    assert_eq!(retry_after("1", now), Some(Duration::from_secs(1)));
    assert_eq!(retry_after(" 120 ", now), Some(Duration::from_secs(120)));
    assert_eq!(
        retry_after("99999999999999999999999", now),
        Some(Duration::from_secs(u64::MAX))
    );
    assert_eq!(
        retry_after("Thu, 01 Jan 1970 00:16:50 GMT", now),
        Some(Duration::from_secs(10))
    );
    assert_eq!(retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now), Some(Duration::ZERO));
    assert_eq!(retry_after("-1", now), None);
    assert_eq!(retry_after("1.5", now), None);
    assert_eq!(retry_after("", now), None);
}
