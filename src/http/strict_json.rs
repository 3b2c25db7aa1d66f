//! JSON read strictly: an object that names a key twice is not valid input
//! (`serde_json` alone would silently keep the last value, so two readers of one
//! body could disagree about what it says).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A JSON value in which no object repeats a key, at any depth.
pub struct StrictValue(pub Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON without repeated object keys")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom("an object repeats a key"));
            }
            let StrictValue(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<Value> {
        serde_json::from_str::<StrictValue>(text).ok().map(|v| v.0)
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth() {
        assert!(parse(r#"{"mood":"calm","mood":"sad"}"#).is_none());
        assert!(parse(r#"{"a":{"b":1,"b":2}}"#).is_none());
        assert!(parse(r#"{"a":[{"b":1,"b":2}]}"#).is_none());
        assert!(
            parse(r#"{"mood":"calm","\u006dood":"sad"}"#).is_none(),
            "escapes decoded first"
        );
    }

    #[test]
    fn ordinary_json_reads_as_serde_json_reads_it() {
        let text = r#"{"a":[1,-2,3.5,true,null,"x"],"b":{"c":"d"},"e":18446744073709551615}"#;
        assert_eq!(parse(text), serde_json::from_str::<Value>(text).ok());
    }
}
