//! A JSON object kept as ordered fields with raw values, so numbers keep every digit.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

/// A JSON object: its fields in order, each value the exact JSON text received.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fields(Vec<(String, Box<RawValue>)>);

impl Fields {
    /// Reads `text` as one JSON object.
    pub(crate) fn parse_object(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Sets a field, replacing its value where it is, or appending it.
    pub(crate) fn set(&mut self, name: String, value: Box<RawValue>) {
        match self.0.iter_mut().find(|(k, _)| *k == name) {
            Some((_, v)) => *v = value,
            None => self.0.push((name, value)),
        }
    }

    /// The fields, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_ref()))
    }

    /// The object as compact JSON, values written exactly as held.
    pub(crate) fn to_raw(&self) -> Result<Box<RawValue>, serde_json::Error> {
        serde_json::value::to_raw_value(self)
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut fields = Fields::default();
                while let Some(name) = map.next_key::<String>()? {
                    let value: Box<RawValue> = map.next_value()?;
                    fields.set(name, value);
                }
                Ok(fields)
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_digits_and_replaces_in_place() {
        let mut fields = Fields::parse_object(r#"{"b": 1000.00, "a": {"x": [1, 2.50]}, "c": null}"#).unwrap();
        fields.set("a".into(), RawValue::from_string("\"z\"".into()).unwrap());
        fields.set("d\"".into(), RawValue::from_string("-0.10".into()).unwrap());
        assert_eq!(
            fields.to_raw().unwrap().get(),
            r#"{"b":1000.00,"a":"z","c":null,"d\"":-0.10}"#
        );
        assert!(Fields::parse_object("[1]").is_err());
        assert!(Fields::parse_object("{\"a\": 1} x").is_err());
    }
}
