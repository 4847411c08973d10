//! `Retry-After` values: delay seconds or an HTTP-date (RFC 9110, section 10.2.3).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a `Retry-After` value asks to wait, measured from `now` for a date; `None` when the value is neither form.
///
/// A date in the past asks for no wait.
pub(crate) fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        // More digits than a u64 holds is still "a very long time".
        return Some(Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an HTTP-date in any of the three forms RFC 9110 asks recipients to accept:
/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`)
/// and asctime (`Sun Nov  6 08:49:37 1994`).
pub(crate) fn parse_http_date(text: &str) -> Option<SystemTime> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let (year, month, day, time) = match tokens.as_slice() {
        [weekday, day, month, year, time, "GMT"] if weekday.ends_with(',') => {
            (number(year, 4)?, month_number(month)?, number(day, 2)?, *time)
        }
        [weekday, date, time, "GMT"] if weekday.ends_with(',') => {
            let mut parts = date.split('-');
            let day = number(parts.next()?, 2)?;
            let month = month_number(parts.next()?)?;
            let year = number(parts.next()?, 2)?;
            if parts.next().is_some() {
                return None;
            }
            // Two-digit years: RFC 9110 reads them as the most recent year with those digits not over 50 years ahead;
            // for a retry delay, 1970 to 2069 is that window.
            let year = if year < 70 { 2000 + year } else { 1900 + year };
            (year, month, day, *time)
        }
        [_weekday, month, day, time, year] => {
            let day = if day.len() == 1 {
                number(day, 1)?
            } else {
                number(day, 2)?
            };
            (number(year, 4)?, month_number(month)?, day, *time)
        }
        _ => return None,
    };
    let mut clock = time.split(':');
    let hour = number(clock.next()?, 2)?;
    let minute = number(clock.next()?, 2)?;
    let second = number(clock.next()?, 2)?;
    if clock.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if day == 0 || day > days_in_month(year, month) || year < 1970 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days
        .checked_mul(86_400)?
        .checked_add(hour * 3_600 + minute * 60 + second)?;
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}

/// A number of exactly `digits` ASCII digits.
fn number(text: &str, digits: usize) -> Option<u64> {
    if text.len() != digits || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn month_number(name: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let index = MONTHS.iter().position(|month| *month == name)?;
    u64::try_from(index).ok().map(|index| index + 1)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days from 1970-01-01 to a date on or after it, in the proleptic Gregorian calendar.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    // Howard Hinnant's days_from_civil, shifted so that years start in March.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_from_march = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests;
