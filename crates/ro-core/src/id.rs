//! Validated identifiers: [`Id`], bounded in length and charset, typed by a marker.

use std::{cmp::Ordering, fmt, hash, marker::PhantomData};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::SharedStr;

/// The longest identifier accepted, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// The kind of an identifier: names it in error messages and keeps kinds apart in the type
/// system (a job id is never accepted where an actor id is expected).
///
/// ```
/// use ro_core::{Id, IdKind};
/// /// Marks job ids.
/// pub enum JobTag {}
/// impl IdKind for JobTag {
///     const NAME: &'static str = "job id";
/// }
/// pub type JobId = Id<JobTag>;
/// assert!(JobId::new("nightly-report").is_ok());
/// assert!(JobId::new("nightly report").is_err());
/// ```
pub trait IdKind: 'static {
    /// What this identifier is called in messages, e.g. `"actor id"`.
    const NAME: &'static str;
}

/// A validated identifier of kind `K`.
///
/// 1 to [`MAX_ID_LEN`] bytes, starting with an ASCII letter or digit, then ASCII letters,
/// digits and `-`, `_`, `.`, `:`, `@`. The rules keep ids safe to print, to use as map keys
/// and to embed in locators, and make every id exactly one byte string (no Unicode
/// normalisation questions).
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Id<K> {
    value: SharedStr,
    kind: PhantomData<fn() -> K>,
}

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The identifier is empty.
    #[error("{kind} is empty")]
    Empty {
        /// What kind of identifier.
        kind: &'static str,
    },
    /// The identifier is longer than [`MAX_ID_LEN`] bytes.
    #[error("{kind} is {len} bytes long; at most {MAX_ID_LEN} are allowed")]
    TooLong {
        /// What kind of identifier.
        kind: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// The identifier holds a character outside the allowed set.
    #[error(
        "{kind} {value:?} has {found:?} at byte {at}: use ASCII letters and digits, then also - _ . : @"
    )]
    BadChar {
        /// What kind of identifier.
        kind: &'static str,
        /// The refused text, cut to [`MAX_ID_LEN`] bytes.
        value: String,
        /// The offending character.
        found: char,
        /// Its byte offset.
        at: usize,
    },
}

/// Checks `value` against the identifier rules, naming `kind` in the error.
pub fn validate_id(kind: &'static str, value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if value.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            kind,
            len: value.len(),
        });
    }
    for (at, c) in value.char_indices() {
        let ok = c.is_ascii_alphanumeric() || (at > 0 && matches!(c, '-' | '_' | '.' | ':' | '@'));
        if !ok {
            return Err(IdError::BadChar {
                kind,
                value: value.chars().take(MAX_ID_LEN).collect(),
                found: c,
                at,
            });
        }
    }
    Ok(())
}

impl<K: IdKind> Id<K> {
    /// Validates and wraps `value`.
    pub fn new(value: impl AsRef<str>) -> Result<Self, IdError> {
        let value = value.as_ref();
        validate_id(K::NAME, value)?;
        Ok(Id {
            value: SharedStr::from(value),
            kind: PhantomData,
        })
    }
}

impl<K> Id<K> {
    /// The identifier's text.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The identifier's bytes (ASCII).
    pub fn as_bytes(&self) -> &[u8] {
        self.value.as_bytes()
    }
}

// The archived form compares by its text, like `Id` itself (a derive would demand the same
// of the PhantomData marker).
impl<K> PartialEq for ArchivedId<K> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<K> Eq for ArchivedId<K> {}

impl<K> PartialOrd for ArchivedId<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for ArchivedId<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.as_str().cmp(other.value.as_str())
    }
}

impl<K> hash::Hash for ArchivedId<K> {
    fn hash<H: hash::Hasher>(&self, state: &mut H) {
        self.value.as_str().hash(state);
    }
}

impl<K> fmt::Debug for ArchivedId<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.value.as_str(), f)
    }
}

impl<K> Clone for Id<K> {
    fn clone(&self) -> Self {
        Id {
            value: self.value.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<K> Eq for Id<K> {}

impl<K> PartialOrd for Id<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for Id<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.value.cmp(&other.value)
    }
}

impl<K> hash::Hash for Id<K> {
    fn hash<H: hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl<K> AsRef<str> for Id<K> {
    fn as_ref(&self) -> &str {
        &self.value
    }
}

impl<K> std::borrow::Borrow<str> for Id<K> {
    fn borrow(&self) -> &str {
        &self.value
    }
}

impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl<K> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.value, f)
    }
}

impl<K: IdKind> std::str::FromStr for Id<K> {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl<K: IdKind> TryFrom<&str> for Id<K> {
    type Error = IdError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl<K: IdKind> TryFrom<String> for Id<K> {
    type Error = IdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl<K> Serialize for Id<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.value)
    }
}

impl<'de, K: IdKind> Deserialize<'de> for Id<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<K>(PhantomData<fn() -> K>);
        impl<K: IdKind> serde::de::Visitor<'_> for Visitor<K> {
            type Value = Id<K>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a {} (a string)", K::NAME)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Id<K>, E> {
                Id::new(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor(PhantomData))
    }
}

/// Declares a marker type and an [`Id`] alias for it in one line.
///
/// ```
/// ro_core::id_kind!(
///     /// Identifies an account.
///     AccountId, AccountTag, "account id"
/// );
/// let id = AccountId::new("acc-1").unwrap();
/// assert_eq!(id.as_str(), "acc-1");
/// ```
#[macro_export]
macro_rules! id_kind {
    ($(#[$meta:meta])* $alias:ident, $tag:ident, $name:literal) => {
        #[doc = concat!("Marks ", $name, "s (see [`", stringify!($alias), "`]).")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $tag {}
        impl $crate::IdKind for $tag {
            const NAME: &'static str = $name;
        }
        $(#[$meta])*
        pub type $alias = $crate::Id<$tag>;
    };
}

impl<K: IdKind> schemars::JsonSchema for Id<K> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        // "job id" -> "JobId"; a kind not named after what it is ("deviation type") gets "Id"
        // appended, so it never collides with the type of the same name.
        let mut name: String = K::NAME
            .split(' ')
            .map(|word| {
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            })
            .collect();
        if !["Id", "Name", "Version", "Class"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
        {
            name.push_str("Id");
        }
        name.into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$",
            "description": K::NAME,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::id_kind!(
        /// Test ids.
        TestId,
        TestTag,
        "test id"
    );

    #[test]
    fn accepts_and_refuses() {
        for good in [
            "a",
            "Op-01",
            "M-MyModel-V1",
            "a.b:c@d_e",
            &"x".repeat(MAX_ID_LEN),
        ] {
            assert!(TestId::new(good).is_ok(), "refused {good:?}");
        }
        let cases: [(&str, &str); 6] = [
            ("", "test id is empty"),
            (
                "-a",
                "test id \"-a\" has '-' at byte 0: use ASCII letters and digits, then also - _ . : @",
            ),
            (
                "a b",
                "test id \"a b\" has ' ' at byte 1: use ASCII letters and digits, then also - _ . : @",
            ),
            (
                "a/b",
                "test id \"a/b\" has '/' at byte 1: use ASCII letters and digits, then also - _ . : @",
            ),
            (
                "é",
                "test id \"é\" has 'é' at byte 0: use ASCII letters and digits, then also - _ . : @",
            ),
            (
                "a\u{0}",
                "test id \"a\\0\" has '\\0' at byte 1: use ASCII letters and digits, then also - _ . : @",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(TestId::new(input).unwrap_err().to_string(), message);
        }
        let long = "x".repeat(MAX_ID_LEN + 1);
        assert_eq!(
            TestId::new(long).unwrap_err(),
            IdError::TooLong {
                kind: "test id",
                len: MAX_ID_LEN + 1
            }
        );
    }

    #[test]
    fn serde_validates() {
        let id: TestId = serde_json::from_str("\"ok-1\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"ok-1\"");
        let err = serde_json::from_str::<TestId>("\"not ok\"").unwrap_err();
        assert!(err.to_string().contains("test id \"not ok\""), "{err}");
        assert!(serde_json::from_str::<TestId>("17").is_err());
    }
}
