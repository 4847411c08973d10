#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{parse_http_date, retry_after};

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
