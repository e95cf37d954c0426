//! Content digests: [`Digest`], blake3, `blake3:<64 lowercase hex>` on the wire.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const PREFIX: &str = "blake3:";

/// A 32-byte blake3 digest.
///
/// On the wire: `blake3:` followed by 64 lowercase hex digits. Parsing is strict (lowercase
/// only), so every digest has exactly one spelling and a changed byte in an exported journal
/// can never parse to the same value.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash))]
pub struct Digest([u8; 32]);

/// Why a digest string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The text does not start with `blake3:`.
    #[error("a digest starts with \"blake3:\"")]
    Prefix,
    /// The hex part is not 64 lowercase hex digits.
    #[error("a digest has 64 lowercase hex digits after \"blake3:\"")]
    Hex,
}

impl Digest {
    /// All zeros: the `prev` of the first journal entry.
    pub const ZERO: Digest = Digest([0; 32]);

    /// Wraps raw digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Digest(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// blake3 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Digest(*blake3::hash(bytes).as_bytes())
    }

    /// blake3 of the concatenation of `parts` (for tagged, domain-separated digests).
    pub fn of_parts(parts: &[&[u8]]) -> Self {
        let mut hasher = blake3::Hasher::new();
        for part in parts {
            hasher.update(part);
        }
        Digest(*hasher.finalize().as_bytes())
    }

    /// Keyed blake3 (a MAC) of `bytes` under `key`: fingerprints that reveal nothing of their
    /// input without the key.
    pub fn keyed(key: &[u8; 32], bytes: &[u8]) -> Self {
        Digest(*blake3::keyed_hash(key, bytes).as_bytes())
    }

    /// Parses `blake3:<64 lowercase hex>`.
    pub fn parse(text: &str) -> Result<Self, DigestError> {
        let hex = text.strip_prefix(PREFIX).ok_or(DigestError::Prefix)?;
        Self::parse_hex(hex)
    }

    /// Parses 64 lowercase hex digits (no prefix).
    pub fn parse_hex(hex: &str) -> Result<Self, DigestError> {
        let hex = hex.as_bytes();
        if hex.len() != 64 {
            return Err(DigestError::Hex);
        }
        let mut out = [0u8; 32];
        let mut bad = 0u8;
        for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
            if let [hi, lo] = pair {
                let (hi, lo) = (nibble(*hi), nibble(*lo));
                bad |= hi | lo;
                *byte = (hi << 4) | (lo & 0x0f);
            }
        }
        // Every invalid digit maps to 0xff, so one check at the end covers all 64.
        if bad > 0x0f {
            return Err(DigestError::Hex);
        }
        Ok(Digest(out))
    }

    /// The 64 lowercase hex digits, without the prefix.
    pub fn to_hex(&self) -> String {
        self.hex_ascii().iter().copied().map(char::from).collect()
    }

    /// The 64 lowercase hex digits as ASCII bytes, without allocating (for writing a
    /// digest's spelling into a buffer).
    pub fn hex_ascii(&self) -> [u8; 64] {
        let mut hex = [0u8; 64];
        for (pair, b) in hex.chunks_exact_mut(2).zip(self.0) {
            if let [hi, lo] = pair {
                *hi = hex_digit(b >> 4);
                *lo = hex_digit(b & 0x0f);
            }
        }
        hex
    }
}

/// The value of a lowercase hex digit, or 0xff for any other byte.
#[allow(clippy::indexing_slicing)] // evaluated at compile time: a bad index fails the build
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

fn nibble(c: u8) -> u8 {
    HEX_VALUES.get(usize::from(c)).copied().unwrap_or(0xff)
}

/// The lowercase hex digit of a nibble (`n` below 16).
pub(crate) fn hex_digit(n: u8) -> u8 {
    match n {
        0..=9 => b'0' + n,
        _ => b'a' + (n & 0x0f) - 10,
    }
}

impl Digest {
    /// `blake3:` and the 64 hex digits, on the stack.
    fn spelled(&self) -> [u8; 71] {
        let mut buf = [0u8; 71];
        let (prefix, hex) = buf.split_at_mut(PREFIX.len());
        prefix.copy_from_slice(PREFIX.as_bytes());
        hex.copy_from_slice(&self.hex_ascii());
        buf
    }

    pub(crate) fn with_spelling<T>(&self, f: impl FnOnce(&str) -> T) -> T {
        let buf = self.spelled();
        // The prefix and hex digits are ASCII.
        f(std::str::from_utf8(&buf).unwrap_or_default())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_spelling(|s| f.write_str(s))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.with_spelling(|s| serializer.serialize_str(s))
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Digest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a digest string \"blake3:<64 lowercase hex digits>\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Digest, E> {
                Digest::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

crate::json_schema_for!(Digest, "Digest", {
    "type": "string",
    "pattern": "^blake3:[0-9a-f]{64}$",
    "description": "A blake3 digest."
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_in_every_position_of_the_hex() {
        let good = Digest::of(b"x").to_hex();
        for at in [0, 1, 31, 62, 63] {
            for b in 0..=255u8 {
                let mut hex = good.clone().into_bytes();
                hex[at] = b;
                let accepted = Digest::parse_hex(std::str::from_utf8(&hex).unwrap_or("")).is_ok();
                assert_eq!(
                    accepted,
                    b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
                    "byte {b:#x} at {at}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn hex_round_trips(bytes in proptest::array::uniform32(proptest::prelude::any::<u8>())) {
            let d = Digest(bytes);
            proptest::prop_assert_eq!(Digest::parse_hex(&d.to_hex()), Ok(d));
        }
    }

    #[test]
    fn round_trip_and_strictness() {
        let d = Digest::of(b"abc");
        let text = d.to_string();
        assert_eq!(
            text,
            "blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert_eq!(Digest::parse(&text), Ok(d));
        assert_eq!(
            Digest::parse(&text.to_uppercase()),
            Err(DigestError::Prefix)
        );
        let upper_hex = format!("blake3:{}", d.to_hex().to_uppercase());
        assert_eq!(Digest::parse(&upper_hex), Err(DigestError::Hex));
        assert_eq!(Digest::parse("blake3:00"), Err(DigestError::Hex));
        assert_eq!(Digest::parse("sha256:00"), Err(DigestError::Prefix));
        assert_eq!(Digest::of_parts(&[b"a", b"bc"]), d);
    }
}
