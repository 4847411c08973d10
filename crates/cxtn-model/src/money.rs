//! Exact decimal money amounts.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};
use serde_json::value::RawValue;

/// The most significant digits an [`Amount`] holds (the range of [`Decimal`]).
const MAX_DIGITS: i64 = 29;
/// The most decimal places an [`Amount`] holds (the scale limit of [`Decimal`]).
const MAX_SCALE: i64 = 28;

/// An exact decimal amount of money, as CXTN sends it.
///
/// An `Amount` never passes through a binary float.
/// It keeps the text it was read from, so it writes back the same digits:
/// `1000.00` stays `1000.00`, `218.70` stays `218.70`, `-10` stays `-10`.
/// Its numeric value is a [`Decimal`] (up to 28 decimal places and 29 significant digits);
/// a number beyond that range is an error, never rounded.
///
/// Equality, ordering and hashing compare the numeric value, so `10.0 == 10.00`;
/// compare [`Amount::as_str`] to tell the two spellings apart.
///
/// ```
/// use cxtn_model::Amount;
///
/// let amount: Amount = "1000.00".parse()?;
/// assert_eq!(amount.to_string(), "1000.00");
/// assert_eq!(amount.value(), cxtn_model::Decimal::new(100_000, 2));
/// assert!("1e40".parse::<Amount>().is_err());
/// # Ok::<(), cxtn_model::AmountError>(())
/// ```
#[derive(Clone)]
pub struct Amount {
    text: Box<str>,
    value: Decimal,
    quoted: bool,
}

/// Why a text is not an [`Amount`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmountError {
    /// The text is not a decimal number in JSON's number syntax.
    #[error("`{0}` is not a decimal number (expected JSON number syntax such as `-10` or `1000.00`)")]
    Syntax(String),
    /// The number has more significant digits than an amount holds.
    #[error("`{0}` is too large for an amount (at most 79228162514264337593543950335); it was not rounded")]
    TooLarge(String),
    /// The number has more decimal places than an amount holds.
    #[error(
        "`{0}` has more digits than an amount holds exactly (28 decimal places, 96-bit digits); it was not rounded"
    )]
    TooPrecise(String),
}

impl Amount {
    /// Parses a number written in JSON's number syntax, exactly.
    ///
    /// # Errors
    ///
    /// When the text is not a JSON number, or does not fit a [`Decimal`] without rounding.
    pub fn parse(text: &str) -> Result<Self, AmountError> {
        let value = parse_exact(text)?;
        Ok(Self {
            text: text.into(),
            value,
            quoted: false,
        })
    }

    /// Parses an amount a producer sent quoted, as a JSON string holding a number.
    ///
    /// The amount remembers it was quoted and is written back as a string.
    ///
    /// # Errors
    ///
    /// As [`Amount::parse`].
    pub fn parse_quoted(text: &str) -> Result<Self, AmountError> {
        let mut amount = Self::parse(text)?;
        amount.quoted = true;
        Ok(amount)
    }

    /// The exact numeric value.
    #[must_use]
    pub fn value(&self) -> Decimal {
        self.value
    }

    /// The digits exactly as received.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the amount arrived as a JSON string rather than a JSON number.
    #[must_use]
    pub fn is_quoted(&self) -> bool {
        self.quoted
    }

    /// Whether the amount is below zero (debits are).
    #[must_use]
    pub fn is_negative(&self) -> bool {
        self.value.is_sign_negative() && !self.value.is_zero()
    }

    /// Whether the amount is zero, however it is spelled.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        self.value.is_zero()
    }
}

impl From<Decimal> for Amount {
    fn from(value: Decimal) -> Self {
        Self {
            text: value.to_string().into(),
            value,
            quoted: false,
        }
    }
}

impl FromStr for Amount {
    type Err = AmountError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.quoted {
            write!(f, "Amount(\"{}\")", self.text)
        } else {
            write!(f, "Amount({})", self.text)
        }
    }
}

impl PartialEq for Amount {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl Eq for Amount {}

impl Hash for Amount {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl PartialOrd for Amount {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Amount {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.cmp(&other.value)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.quoted {
            serializer.serialize_str(&self.text)
        } else {
            // A raw JSON number keeps every digit; the text was checked to be one.
            let raw = RawValue::from_string(self.text.to_string()).map_err(serde::ser::Error::custom)?;
            raw.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for Amount {
    /// Reads a JSON number, or a JSON string holding one, without a float.
    ///
    /// This needs the exact text of the number, so it works with `serde_json` deserializers only.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw: Box<RawValue> = Deserialize::deserialize(deserializer)?;
        Self::from_raw_json(raw.get()).map_err(de::Error::custom)
    }
}

impl Amount {
    /// Reads an amount from the raw text of one JSON value: a number, or a string holding one.
    pub(crate) fn from_raw_json(raw: &str) -> Result<Self, String> {
        match raw.as_bytes().first() {
            Some(b'"') => {
                let text: String = serde_json::from_str(raw).map_err(|e| e.to_string())?;
                Self::parse_quoted(&text).map_err(|e| e.to_string())
            }
            Some(b'-' | b'0'..=b'9') => Self::parse(raw).map_err(|e| e.to_string()),
            _ => Err(format!(
                "invalid type: expected a number or a string holding one, found {}",
                crate::fields::describe_json(raw)
            )),
        }
    }
}

/// Parses JSON number syntax into a [`Decimal`] without rounding.
fn parse_exact(text: &str) -> Result<Decimal, AmountError> {
    let syntax = || AmountError::Syntax(text.to_owned());
    let bytes = text.as_bytes();
    let mut pos = 0;
    let negative = bytes.first() == Some(&b'-');
    if negative {
        pos += 1;
    }
    let int_start = pos;
    while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
        pos += 1;
    }
    let int_digits = text.get(int_start..pos).ok_or_else(syntax)?;
    if int_digits.is_empty() || (int_digits.len() > 1 && int_digits.starts_with('0')) {
        return Err(syntax());
    }
    let mut frac_digits = "";
    if bytes.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        frac_digits = text.get(start..pos).ok_or_else(syntax)?;
        if frac_digits.is_empty() {
            return Err(syntax());
        }
    }
    let mut exponent: i64 = 0;
    if matches!(bytes.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        let exp_negative = match bytes.get(pos) {
            Some(b'-') => {
                pos += 1;
                true
            }
            Some(b'+') => {
                pos += 1;
                false
            }
            _ => false,
        };
        let start = pos;
        while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        let digits = text.get(start..pos).ok_or_else(syntax)?;
        if digits.is_empty() {
            return Err(syntax());
        }
        // Any exponent beyond this range cannot give a representable amount, unless the digits are zero.
        let magnitude: i64 = digits
            .trim_start_matches('0')
            .parse::<i64>()
            .unwrap_or(if digits.trim_start_matches('0').is_empty() {
                0
            } else {
                10_000
            })
            .min(10_000);
        exponent = if exp_negative { -magnitude } else { magnitude };
    }
    if pos != bytes.len() {
        return Err(syntax());
    }

    // The significant digits, without leading zeros, and where the decimal point falls among them.
    let digits = int_digits.bytes().chain(frac_digits.bytes()).skip_while(|b| *b == b'0');
    let significant = i64::try_from(digits.clone().count()).unwrap_or(i64::MAX);
    let frac_len = i64::try_from(frac_digits.len()).unwrap_or(i64::MAX);
    let scale = frac_len.saturating_sub(exponent);
    if significant == 0 {
        // Zero in any spelling: keep the scale it was written with, within range.
        let scale = u32::try_from(scale.clamp(0, MAX_SCALE)).unwrap_or(0);
        return Ok(Decimal::new(0, scale));
    }
    let integer_digits = significant.saturating_sub(scale);
    if integer_digits > MAX_DIGITS {
        return Err(AmountError::TooLarge(text.to_owned()));
    }
    if scale > MAX_SCALE || significant.max(integer_digits) > MAX_DIGITS {
        return Err(AmountError::TooPrecise(text.to_owned()));
    }
    let mut mantissa: i128 = 0;
    for b in digits {
        mantissa = mantissa * 10 + i128::from(b - b'0');
    }
    // A negative scale means trailing zeros the exponent added: at most 29 digits in all, checked above.
    let mut scale = scale;
    while scale < 0 {
        mantissa *= 10;
        scale += 1;
    }
    let mantissa = if negative { -mantissa } else { mantissa };
    let scale = u32::try_from(scale).map_err(|_| AmountError::TooPrecise(text.to_owned()))?;
    Decimal::try_from_i128_with_scale(mantissa, scale).map_err(|_| {
        // The digits exceed 96 bits: too large when they are all before the point, else too precise.
        if scale == 0 {
            AmountError::TooLarge(text.to_owned())
        } else {
            AmountError::TooPrecise(text.to_owned())
        }
    })
}

#[cfg(test)]
mod tests;
