//! What keeps JSON exactly as received: raw values, unknown fields, and per-field diagnostics.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess};
use serde::ser::{Serialize, Serializer};
use serde_json::value::RawValue;

/// One JSON value kept as the exact text received (numbers keep every digit).
#[derive(Clone)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// Checks that `text` is one JSON value and keeps it as is.
    ///
    /// # Errors
    ///
    /// When `text` is not exactly one JSON value.
    pub fn from_string(text: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(text).map(Self)
    }

    /// The JSON text as received.
    #[must_use]
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Reads the value as `T`.
    ///
    /// # Errors
    ///
    /// When the value is not a `T`.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }
}

impl From<Box<RawValue>> for RawJson {
    fn from(raw: Box<RawValue>) -> Self {
        Self(raw)
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for RawJson {}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.get())
    }
}

impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(Self)
    }
}

/// Fields of an object that this version does not know, in the order received, values exact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnknownFields(Vec<(String, RawJson)>);

impl UnknownFields {
    /// The raw value of an unknown field.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&RawJson> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The unknown fields, in the order received.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &RawJson)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many unknown fields there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether every field was known.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds a field, or replaces the value of one with the same name.
    pub fn insert(&mut self, name: impl Into<String>, value: RawJson) {
        let name = name.into();
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v = value,
            None => self.0.push((name, value)),
        }
    }
}

/// Names the kind of a raw JSON value for an error message: `an object`, `a number`, ...
#[must_use]
pub fn describe_json(raw: &str) -> &'static str {
    match raw.trim_start().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(b'-' | b'0'..=b'9') => "a number",
        _ => "nothing",
    }
}

/// Collects the unknown fields of an object being read, refusing duplicate keys in linear time.
#[derive(Debug, Default)]
pub struct UnknownFieldsReader {
    fields: Vec<(String, RawJson)>,
    seen: HashSet<String>,
}

impl UnknownFieldsReader {
    /// Reads the value of `key` as an unknown field.
    ///
    /// # Errors
    ///
    /// When the key was seen before in this object, or the value is not JSON.
    pub fn read<'de, A: MapAccess<'de>>(
        &mut self,
        key: Key<'de>,
        map: &mut A,
        tracker: &FieldTracker,
    ) -> Result<(), A::Error> {
        let key = key.0.into_owned();
        if !self.seen.insert(key.clone()) {
            return Err(tracker.fail(&key, FieldProblem::Duplicate));
        }
        let value: RawJson = map.next_value()?;
        self.fields.push((key, value));
        Ok(())
    }

    /// The fields read, in order.
    #[must_use]
    pub fn finish(self) -> UnknownFields {
        UnknownFields(self.fields)
    }
}

/// An object key, borrowed from the input when it has no escapes.
pub struct Key<'de>(Cow<'de, str>);

impl Key<'_> {
    /// The key.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// What went wrong with one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldProblem {
    /// A required field is absent.
    Missing,
    /// The key appears more than once.
    Duplicate,
    /// The value does not have the field's type or form.
    Invalid,
}

/// The field a read failed on, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldIssue {
    /// The field's name on the wire (`amount`, `eventId`).
    pub field: String,
    /// What went wrong.
    pub problem: FieldProblem,
}

/// Records which field a read was on when it failed, so an error can name the field.
///
/// `serde` errors are only text; a parser (such as `cxtn-events`) passes a tracker to
/// [`EventFields::deserialize_tracked`] and reads [`FieldTracker::issue`] after a failure.
#[derive(Debug, Default)]
pub struct FieldTracker {
    issue: RefCell<Option<FieldIssue>>,
}

impl FieldTracker {
    /// A tracker with nothing recorded.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The field the last failed read was on, if it was on one.
    #[must_use]
    pub fn issue(&self) -> Option<FieldIssue> {
        self.issue.borrow().clone()
    }

    /// Marks that the value of `field` is being read; a failure now is this field's.
    pub fn enter(&self, field: &str) {
        *self.issue.borrow_mut() = Some(FieldIssue {
            field: field.to_owned(),
            problem: FieldProblem::Invalid,
        });
    }

    /// Marks that the value of the field was read.
    pub fn leave(&self) {
        *self.issue.borrow_mut() = None;
    }

    /// Records a missing or duplicate field, and returns the error to return.
    pub fn fail<E: de::Error>(&self, field: &str, problem: FieldProblem) -> E {
        *self.issue.borrow_mut() = Some(FieldIssue {
            field: field.to_owned(),
            problem,
        });
        match problem {
            FieldProblem::Missing => E::custom(format_args!("missing field `{field}`")),
            FieldProblem::Duplicate => E::custom(format_args!("duplicate field `{field}`")),
            FieldProblem::Invalid => E::custom(format_args!("invalid value for field `{field}`")),
        }
    }
}

/// An object with known fields that can report which field a read failed on.
pub trait EventFields: Sized {
    /// Reads the object, recording in `tracker` the field a failure happened on.
    ///
    /// # Errors
    ///
    /// When the input is not an object of the right shape: a field missing, duplicated or of the wrong type.
    fn deserialize_tracked<'de, D: Deserializer<'de>>(
        deserializer: D,
        tracker: &FieldTracker,
    ) -> Result<Self, D::Error>;
}

/// How a field type behaves when its key is absent: required unless it is an `Option`.
pub trait FieldValue: Sized {
    /// The value an absent key stands for, or `None` when the field is required.
    fn absent() -> Option<Self> {
        None
    }
}

impl<T> FieldValue for Option<T> {
    fn absent() -> Option<Self> {
        Some(None)
    }
}

impl FieldValue for String {}
impl FieldValue for crate::Amount {}
impl FieldValue for crate::Timestamp {}
impl FieldValue for crate::ObjectId {}
impl FieldValue for crate::UserId {}
impl FieldValue for crate::CurrencyCode {}
impl FieldValue for crate::TransactionSource {}

/// Declares an object of known fields that keeps unknown ones, reports per-field errors, and
/// writes back known fields in declaration order, then unknown ones in the order received.
macro_rules! event_fields {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $wire:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
            /// Fields this version does not know, kept as received.
            pub extra: $crate::UnknownFields,
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(None)?;
                $( map.serialize_entry($wire, &self.$field)?; )*
                for (key, value) in self.extra.iter() {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                <Self as $crate::EventFields>::deserialize_tracked(deserializer, &$crate::FieldTracker::new())
            }
        }

        impl $crate::EventFields for $name {
            fn deserialize_tracked<'de, D: ::serde::Deserializer<'de>>(
                deserializer: D,
                tracker: &$crate::FieldTracker,
            ) -> Result<Self, D::Error> {
                struct Visitor<'t> {
                    tracker: &'t $crate::FieldTracker,
                }
                impl<'de> ::serde::de::Visitor<'de> for Visitor<'_> {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        let fields: &[&str] = &[$( $wire ),*];
                        f.write_str("an object with the fields")?;
                        for (i, field) in fields.iter().enumerate() {
                            f.write_str(if i == 0 { " `" } else { ", `" })?;
                            f.write_str(field)?;
                            f.write_str("`")?;
                        }
                        Ok(())
                    }
                    fn visit_map<A: ::serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        $( let mut $field: Option<$ty> = None; )*
                        let mut unknown = $crate::fields::UnknownFieldsReader::default();
                        while let Some(key) = map.next_key::<$crate::fields::Key<'de>>()? {
                            match key.as_str() {
                                $( $wire => {
                                    if $field.is_some() {
                                        return Err(self.tracker.fail($wire, $crate::FieldProblem::Duplicate));
                                    }
                                    self.tracker.enter($wire);
                                    $field = Some(map.next_value()?);
                                    self.tracker.leave();
                                } )*
                                _ => unknown.read(key, &mut map, self.tracker)?,
                            }
                        }
                        $(
                            let $field = match $field.or_else(<$ty as $crate::fields::FieldValue>::absent) {
                                Some(value) => value,
                                None => return Err(self.tracker.fail($wire, $crate::FieldProblem::Missing)),
                            };
                        )*
                        Ok($name { $( $field, )* extra: unknown.finish() })
                    }
                }
                deserializer.deserialize_map(Visitor { tracker })
            }
        }
    };
}

pub(crate) use event_fields;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_keep_order_and_exact_text() {
        let mut fields = UnknownFields::default();
        fields.insert("b", RawJson::from_string("1.50".into()).unwrap());
        fields.insert("a", RawJson::from_string("{\"x\": 1e400}".into()).unwrap());
        fields.insert("b", RawJson::from_string("2.500".into()).unwrap());
        let collected: Vec<_> = fields.iter().map(|(k, v)| (k, v.get())).collect();
        assert_eq!(collected, [("b", "2.500"), ("a", "{\"x\": 1e400}")]);
        assert_eq!(fields.get("a").unwrap().to_string(), "{\"x\": 1e400}");
        assert!(fields.get("c").is_none());
    }
}
