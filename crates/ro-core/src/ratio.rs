//! Ratios held as basis points.
//!
//! The protocol gives ratios as decimals (`0.05`); ro never holds a float, so a [`Ratio`] is
//! an integer number of basis points (0 to 10 000). It reads a JSON number or a decimal string
//! exactly (a number is read through its shortest round-trip spelling, so `0.05` is 500 basis
//! points, not 499), refuses anything finer than a basis point or outside 0 to 1, and writes
//! itself back as a decimal string, which reads back to the same value.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// Basis points in one whole.
pub const BASIS_POINTS: u32 = 10_000;

/// A ratio from 0 to 1, in basis points.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Ratio(u32);

/// Why a ratio was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "ratio `{text}`: {problem}; give a decimal from 0 to 1 with at most 4 decimal places, e.g. 0.05"
)]
pub struct RatioError {
    text: String,
    problem: &'static str,
}

/// `part / whole` in basis points, rounded down; `None` when `whole` is 0 (nothing to
/// measure). Saturates at `u32::MAX` for parts larger than the whole.
pub fn basis_points(part: u64, whole: u64) -> Option<u32> {
    if whole == 0 {
        return None;
    }
    Some(u32::try_from(u128::from(part) * 10_000 / u128::from(whole)).unwrap_or(u32::MAX))
}

impl Ratio {
    /// Zero.
    pub const ZERO: Ratio = Ratio(0);
    /// One whole.
    pub const ONE: Ratio = Ratio(BASIS_POINTS);

    /// The ratio of `bp` basis points, if at most 10 000.
    pub fn from_basis_points(bp: u32) -> Option<Ratio> {
        (bp <= BASIS_POINTS).then_some(Ratio(bp))
    }

    /// Its basis points.
    pub fn basis_points(self) -> u32 {
        self.0
    }

    /// Parses a plain decimal (`0`, `1`, `0.05`, `1.0000`); no sign, no exponent.
    pub fn parse(text: &str) -> Result<Ratio, RatioError> {
        let error = |problem| RatioError {
            text: text.chars().take(40).collect(),
            problem,
        };
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error("not a plain decimal"));
        }
        if (text.contains('.') && fraction.is_empty())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(error("not a plain decimal"));
        }
        let significant = fraction.trim_end_matches('0');
        if significant.len() > 4 {
            return Err(error("finer than a basis point"));
        }
        let whole: u32 = match whole.trim_start_matches('0') {
            "" => 0,
            "1" => 1,
            _ => return Err(error("greater than 1")),
        };
        let mut bp = whole * BASIS_POINTS;
        let mut scale = 1_000;
        for digit in significant.bytes() {
            bp += u32::from(digit - b'0') * scale;
            scale /= 10;
        }
        Ratio::from_basis_points(bp).ok_or_else(|| error("greater than 1"))
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, fraction) = (self.0 / BASIS_POINTS, self.0 % BASIS_POINTS);
        if fraction == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{fraction:04}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl Serialize for Ratio {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ratio {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Ratio;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a ratio from 0 to 1, as a number or a decimal string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ratio, E> {
                Ratio::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ratio, E> {
                Ratio::parse(&v.to_string()).map_err(E::custom)
            }
            // The shortest spelling that reads back as the same double is the decimal the
            // sender wrote (for up to 15 significant digits), so it is parsed exactly.
            // purity-allow: f64 (serde's signature; the value is spelled out, never held)
            #[allow(clippy::disallowed_types)]
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Ratio, E> {
                Ratio::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ratio, E> {
                Ratio::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

crate::json_schema_for!(Ratio, "Ratio", {
    "description": "A ratio from 0 to 1 with at most 4 decimal places, held in basis points; written back as a decimal string.",
    "anyOf": [
        { "type": "number", "minimum": 0, "maximum": 1 },
        { "type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$" }
    ]
});

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_types)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimals_read_exactly() {
        for (text, bp) in [
            ("0", 0),
            ("1", 10_000),
            ("0.05", 500),
            ("0.0001", 1),
            ("1.0000", 10_000),
            ("0.5", 5_000),
            ("00.25", 2_500),
            ("0.123400", 1_234),
        ] {
            assert_eq!(Ratio::parse(text).unwrap().basis_points(), bp, "{text}");
        }
        for bad in [
            "", ".5", "5.", "-0.1", "1.0001", "2", "0.00001", "5e-2", "0,5", " 0.5", "NaN",
        ] {
            assert!(Ratio::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn json_numbers_and_strings() {
        let read = |json: &str| serde_json::from_str::<Ratio>(json).map(Ratio::basis_points);
        assert_eq!(read("0.05").unwrap(), 500);
        assert_eq!(read("0.07").unwrap(), 700);
        assert_eq!(read("0.29").unwrap(), 2_900);
        assert_eq!(read("1").unwrap(), 10_000);
        assert_eq!(read("0").unwrap(), 0);
        assert_eq!(read("\"0.05\"").unwrap(), 500);
        for bad in [
            "1.5", "-0.05", "-1", "0.00005", "1e400", "true", "null", "[0.5]",
        ] {
            assert!(read(bad).is_err(), "{bad} accepted");
        }
        let message = read("1.5").unwrap_err().to_string();
        assert!(message.contains("greater than 1"), "{message}");
    }

    proptest! {
        /// Every basis-point value survives a round trip through its decimal spelling, as a
        /// JSON string and as a JSON number.
        #[test]
        fn round_trips(bp in 0u32..=10_000) {
            let ratio = Ratio::from_basis_points(bp).unwrap();
            let json = serde_json::to_string(&ratio).unwrap();
            prop_assert_eq!(serde_json::from_str::<Ratio>(&json).unwrap(), ratio);
            let number = json.trim_matches('"');
            prop_assert_eq!(serde_json::from_str::<Ratio>(number).unwrap(), ratio);
        }
    }
}
