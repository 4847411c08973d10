//! .NET-style timestamps, kept exactly as received.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::de::{self, Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};

/// A timestamp as CXTN writes it: `2023-12-18T16:28:28.3027309`.
///
/// CXTN uses .NET's format: up to 7 fractional digits (this type reads up to 9),
/// sometimes with `Z` or an offset such as `+01:00`, often with no offset at all.
/// A `Timestamp` parses to a real date-time and writes back the text it was read from.
///
/// ```
/// use cxtn_model::Timestamp;
///
/// let at: Timestamp = "2023-12-18T16:28:28.3027309".parse()?;
/// assert_eq!(at.as_str(), "2023-12-18T16:28:28.3027309");
/// assert_eq!(at.offset(), None);
/// assert_eq!(at.naive().and_utc().timestamp_subsec_nanos(), 302_730_900);
/// # Ok::<(), cxtn_model::TimestampError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Timestamp {
    text: Box<str>,
    naive: NaiveDateTime,
    offset: Option<FixedOffset>,
}

/// Why a text is not a [`Timestamp`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{text}` is not a timestamp (expected `YYYY-MM-DDTHH:MM:SS`, up to 9 fractional digits, optionally `Z` or `+HH:MM`)"
)]
pub struct TimestampError {
    text: String,
}

impl Timestamp {
    /// Parses a .NET-style timestamp.
    ///
    /// # Errors
    ///
    /// When the text is not `YYYY-MM-DDTHH:MM:SS[.fffffff][Z|+HH:MM|-HH:MM]` or names an impossible date.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let (naive, offset) = parse_parts(text.as_bytes()).ok_or_else(|| TimestampError { text: text.to_owned() })?;
        Ok(Self {
            text: text.into(),
            naive,
            offset,
        })
    }

    /// The text exactly as received.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The date and time as written, without any offset.
    #[must_use]
    pub fn naive(&self) -> NaiveDateTime {
        self.naive
    }

    /// The offset, when the text carries one (`Z` is `+00:00`).
    #[must_use]
    pub fn offset(&self) -> Option<FixedOffset> {
        self.offset
    }

    /// The instant in UTC, when the text carries an offset.
    ///
    /// CXTN often omits the offset; use [`Timestamp::assume_offset`] then.
    #[must_use]
    pub fn to_utc(&self) -> Option<DateTime<Utc>> {
        self.offset.map(|offset| self.assume_offset(offset).with_timezone(&Utc))
    }

    /// The instant, reading the time in `default` when the text carries no offset of its own.
    #[must_use]
    pub fn assume_offset(&self, default: FixedOffset) -> DateTime<FixedOffset> {
        let offset = self.offset.unwrap_or(default);
        DateTime::from_naive_utc_and_offset(self.naive - offset, offset)
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.text)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a timestamp string such as \"2023-12-18T16:28:28.3027309\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

fn digits(bytes: &[u8], start: usize, len: usize) -> Option<u32> {
    let slice = bytes.get(start..start + len)?;
    slice.iter().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn expect(bytes: &[u8], at: usize, byte: u8) -> Option<()> {
    (bytes.get(at) == Some(&byte)).then_some(())
}

fn parse_parts(b: &[u8]) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let year = digits(b, 0, 4)?;
    expect(b, 4, b'-')?;
    let month = digits(b, 5, 2)?;
    expect(b, 7, b'-')?;
    let day = digits(b, 8, 2)?;
    if !matches!(b.get(10), Some(b'T' | b't')) {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    expect(b, 13, b':')?;
    let minute = digits(b, 14, 2)?;
    expect(b, 16, b':')?;
    let second = digits(b, 17, 2)?;
    let mut pos = 19;
    let mut nanos = 0u32;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        let count = pos - start;
        if count == 0 || count > 9 {
            return None;
        }
        nanos = digits(b, start, count)? * 10u32.pow(u32::try_from(9 - count).ok()?);
    }
    let offset = match b.get(pos) {
        None => None,
        Some(b'Z' | b'z') => {
            pos += 1;
            Some(FixedOffset::east_opt(0)?)
        }
        Some(sign @ (b'+' | b'-')) => {
            let hours = digits(b, pos + 1, 2)?;
            expect(b, pos + 3, b':')?;
            let minutes = digits(b, pos + 4, 2)?;
            pos += 6;
            if minutes >= 60 {
                return None;
            }
            let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
            Some(if *sign == b'+' {
                FixedOffset::east_opt(seconds)?
            } else {
                FixedOffset::west_opt(seconds)?
            })
        }
        Some(_) => return None,
    };
    if pos != b.len() {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    Some((date.and_time(time), offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_dotnet_spelling() {
        for text in [
            "2023-12-18T16:28:28.3027309",
            "2023-12-21T00:00:00",
            "2024-02-21T11:58:01.9953917Z",
            "2024-02-21T11:58:01.9+01:00",
            "2024-02-21T11:58:01.123456789-05:30",
        ] {
            let at = Timestamp::parse(text).unwrap();
            assert_eq!(at.as_str(), text);
            assert_eq!(at.to_string(), text);
        }
    }

    #[test]
    fn keeps_fractional_precision_and_offsets() {
        let at = Timestamp::parse("2024-02-21T11:58:01.9953917+01:00").unwrap();
        assert_eq!(at.naive().and_utc().timestamp_subsec_nanos(), 995_391_700);
        assert_eq!(at.offset(), FixedOffset::east_opt(3600));
        assert_eq!(at.to_utc().unwrap().to_rfc3339(), "2024-02-21T10:58:01.995391700+00:00");
        let naive = Timestamp::parse("2024-02-21T11:58:01").unwrap();
        assert_eq!(naive.to_utc(), None);
        let utc = FixedOffset::east_opt(0).unwrap();
        assert_eq!(naive.assume_offset(utc).to_rfc3339(), "2024-02-21T11:58:01+00:00");
    }

    #[test]
    fn refuses_what_is_not_a_timestamp() {
        for text in [
            "",
            "2023-12-18",
            "2023-12-18 16:28:28",
            "2023-13-18T16:28:28",
            "2023-02-30T16:28:28",
            "2023-12-18T25:28:28",
            "2023-12-18T16:28:28.",
            "2023-12-18T16:28:28.1234567890",
            "2023-12-18T16:28:28+1:00",
            "2023-12-18T16:28:28+01:60",
            "2023-12-18T16:28:28Zjunk",
            "２０２３-12-18T16:28:28",
        ] {
            let err = Timestamp::parse(text).unwrap_err();
            assert!(err.to_string().contains("is not a timestamp"), "{text}: {err}");
        }
    }
}
