//! [`Valid`]: a value whose checks passed. A command field that needs checking holds a
//! `Valid<T>`: decoding it runs [`Check::check`] (a document that fails is refused as it is
//! read), and code builds one only through [`Valid::new`], so no decider has to remember to
//! check it. Its JSON (and JSON Schema) is `T`'s.

use std::{borrow::Cow, ops::Deref};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The checks a value must pass to be [`Valid`].
pub trait Check {
    /// Why the value is refused, if it is.
    fn check(&self) -> Result<(), String>;
}

/// A value whose [`Check::check`] passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valid<T>(T);

impl<T: Check> Valid<T> {
    /// `value`, once its checks pass.
    pub fn new(value: T) -> Result<Self, String> {
        value.check()?;
        Ok(Valid(value))
    }
}

impl<T> Valid<T> {
    /// The checked value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Valid<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Serialize> Serialize for Valid<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de> + Check> Deserialize<'de> for Valid<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Valid::new(T::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Valid<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    struct Even(u32);

    impl Check for Even {
        fn check(&self) -> Result<(), String> {
            if self.0.is_multiple_of(2) {
                Ok(())
            } else {
                Err(format!("{} is odd", self.0))
            }
        }
    }

    #[test]
    fn decoding_checks_and_encoding_is_the_inner_value() {
        let v: Valid<Even> = serde_json::from_str("4").unwrap();
        assert_eq!(*v, Even(4));
        assert_eq!(serde_json::to_string(&v).unwrap(), "4");
        let e = serde_json::from_str::<Valid<Even>>("3").unwrap_err();
        assert_eq!(e.to_string(), "3 is odd");
        assert_eq!(Valid::new(Even(5)).unwrap_err(), "5 is odd");
    }
}
