//! Canonical JSON: RFC 8785 (JCS) restricted to integers, the bytes every hash is taken over.
//!
//! The rules, specified byte for byte in `docs/journal-format.md`:
//!
//! - no insignificant whitespace;
//! - object members sorted by their keys' UTF-16 code units (RFC 8785 §3.2.3), no duplicates;
//! - strings escaped as RFC 8785 §3.2.2.2 says: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`,
//!   other control characters as `\u00xx` (lowercase hex), everything else as UTF-8;
//! - numbers are integers in `-(2^53-1) ..= 2^53-1` written in decimal without leading zeros
//!   or a plus sign (what RFC 8785's ECMAScript rule gives for such integers). Fractions,
//!   exponents and larger magnitudes are refused: ro holds no floating point, and a larger
//!   integer would not survive a verifier that parses numbers as IEEE doubles.

mod check;
pub(crate) mod ser;

pub(crate) use ser::write_u64;

use std::{cmp::Ordering, io::Write};

use serde::Serialize;
use serde_json::Value;

/// The largest magnitude of an integer in canonical JSON: `2^53 - 1`.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why a value has no canonical encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// A number is not an integer (fractions and exponents are refused).
    #[error("number {0} is not an integer: ro holds no floating point")]
    NotAnInteger(String),
    /// An integer's magnitude exceeds 2^53 - 1.
    #[error("integer {0} exceeds 2^53-1 in magnitude: encode it as a string")]
    IntegerOutOfRange(String),
    /// The value could not be turned into JSON at all (e.g. a map with non-string keys).
    #[error("not representable as JSON: {0}")]
    NotJson(String),
    /// The bytes are not JSON.
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// The bytes are JSON but not in canonical form.
    #[error("JSON is not in canonical form")]
    NotCanonical,
}

/// The object key serde_json reserves for its raw values: a JSON reader built on serde_json
/// treats an object with this key as a raw value and would not read the object back, so no
/// canonical document may contain it (it would make a journal unreadable).
pub const RESERVED_KEY: &str = "$serde_json::private::RawValue";

/// Refuses [`RESERVED_KEY`] as an object key.
pub(crate) fn check_key(key: &str) -> Result<(), CanonicalError> {
    if key == RESERVED_KEY {
        return Err(CanonicalError::NotJson(format!(
            "the object key {RESERVED_KEY:?} is reserved"
        )));
    }
    Ok(())
}

/// The canonical bytes of any serialisable value.
///
/// Object keys must be unique (a duplicate is refused rather than silently dropped).
pub fn to_canonical_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(128);
    write_serialize(value, &mut out)?;
    Ok(out)
}

/// Appends the canonical bytes of any serialisable value to `out`.
///
/// On error, `out` may hold a partial encoding after its original length; callers discard it.
pub fn write_serialize<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), CanonicalError> {
    write_serialize_with(value, out, &mut ser::Scratch::with_capacity(16))
}

/// As [`write_serialize`], with working space the caller keeps across calls.
pub(crate) fn write_serialize_with<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    scratch: &mut ser::Scratch,
) -> Result<(), CanonicalError> {
    scratch.clear();
    value.serialize(ser::Serializer { out, scratch })
}

/// The canonical bytes of a JSON value.
pub fn value_to_canonical_vec(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(128);
    write_value(value, &mut out)?;
    Ok(out)
}

/// Appends the canonical bytes of `value` to `out`.
pub fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // RFC 8785 wants keys in UTF-16 order. serde_json's map is in byte order (which
            // differs only for keys above U+FFFF versus U+E000..=U+FFFF) or, when any crate in
            // the build enables its `preserve_order` feature, in insertion order: sort unless
            // already sorted, so the bytes never depend on serde_json's features.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if !entries.is_sorted_by(|a, b| ser::key_cmp(a.0, b.0) == Ordering::Less) {
                entries.sort_by(|a, b| ser::key_cmp(a.0, b.0));
            }
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                check_key(key)?;
                write_string(key, out);
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_number(n: &serde_json::Number, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE_INTEGER {
            return Err(CanonicalError::IntegerOutOfRange(n.to_string()));
        }
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{u}");
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(CanonicalError::IntegerOutOfRange(n.to_string()));
        }
        let _ = write!(out, "{i}");
    } else {
        return Err(CanonicalError::NotAnInteger(n.to_string()));
    }
    Ok(())
}

/// Whether any byte is a control character, `"` or `\\`: eight bytes at a time, with the
/// classic "has a byte less than n" bit trick (exact as a yes/no answer for n ≤ 128; bytes of
/// 0x80 and above never count). Most strings written are short (keys, ids, times): one under
/// eight bytes is checked as one word padded with a harmless byte, and the last partial word of
/// a longer one as the eight bytes that end it (re-checking a few bytes already checked),
/// rather than byte by byte.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH != 0;
    let word_needs = |x: u64| {
        x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0
            || has_zero(x ^ (ONES * u64::from(b'"')))
            || has_zero(x ^ (ONES * u64::from(b'\\')))
    };
    let load = |chunk: &[u8]| <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes);
    if bytes.len() < 8 {
        let mut word = [b'a'; 8];
        if let Some(to) = word.get_mut(..bytes.len()) {
            to.copy_from_slice(bytes);
        }
        return word_needs(u64::from_le_bytes(word));
    }
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        if word_needs(load(chunk)) {
            return true;
        }
    }
    !chunks.remainder().is_empty()
        && bytes
            .get(bytes.len() - 8..)
            .is_some_and(|last| word_needs(load(last)))
}

/// The index of the first byte at or after `from` that ends a run of plain string text: `"`,
/// `\\` or a control character; `None` when there is none. Eight bytes at a time, with the
/// bit tricks of [`needs_escape`]: a flagged byte above a true match can be a false one, never
/// the lowest, so the first match is exact.
pub(crate) fn string_stop(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH;
    let mut at = from;
    let mut chunks = bytes.get(from..)?.chunks_exact(8);
    for chunk in &mut chunks {
        let x = <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes);
        let hits = below(x, 0x20)
            | below(x ^ (ONES * u64::from(b'"')), 1)
            | below(x ^ (ONES * u64::from(b'\\')), 1);
        if hits != 0 {
            return usize::try_from(hits.trailing_zeros() / 8)
                .ok()
                .map(|k| at + k);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .map(|k| at + k)
}

/// Appends `s` as a JSON string with RFC 8785 escaping.
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    // Most strings (ids, locators, digests, times) need no escape: one scan, one copy.
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if !needs_escape(bytes) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(crate::digest::hex_digit(b >> 4));
            out.push(crate::digest::hex_digit(b & 0x0f));
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}

/// Parses `bytes` as JSON and checks that they are already canonical; returns the value.
///
/// Catches everything a re-encoding would change: whitespace, key order, duplicate keys,
/// escapes, number spellings.
pub fn parse_canonical(bytes: &[u8]) -> Result<Value, CanonicalError> {
    parse_canonical_slow(bytes)
}

/// Checks that `bytes` are canonical JSON without building a value (one streaming pass).
/// Accepts exactly what [`parse_canonical`] accepts; on refusal, the error is the one
/// `parse_canonical` gives.
pub fn check_canonical(bytes: &[u8]) -> Result<(), CanonicalError> {
    canonical_text(bytes).map(drop)
}

/// As [`check_canonical`], giving the bytes back as the (UTF-8) text they were checked to be.
pub(crate) fn canonical_text(bytes: &[u8]) -> Result<&str, CanonicalError> {
    if let Some(text) = check::canonical_text(bytes) {
        return Ok(text);
    }
    // The slow path names the problem (and would accept what the fast one wrongly refused).
    parse_canonical_slow(bytes)?;
    std::str::from_utf8(bytes).map_err(|e| CanonicalError::Syntax(e.to_string()))
}

fn parse_canonical_slow(bytes: &[u8]) -> Result<Value, CanonicalError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| CanonicalError::Syntax(e.to_string()))?;
    let mut again = Vec::with_capacity(bytes.len());
    write_value(&value, &mut again)?;
    if again != bytes {
        return Err(CanonicalError::NotCanonical);
    }
    Ok(value)
}

#[cfg(test)]
mod fast_path_tests {
    use super::{needs_escape, ser::key_cmp, string_stop};

    fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
        a.encode_utf16().cmp(b.encode_utf16())
    }

    #[test]
    fn key_order_is_utf16_order_where_it_differs_from_code_points() {
        // U+FF61 sorts after U+1F600 in code point order, before it in UTF-16 order.
        for (a, b) in [
            ("a\u{ff61}", "a\u{1f600}"),
            ("\u{e000}x", "\u{10000}"),
            ("ab", "a"),
            ("", "a"),
            ("b", "ab"),
        ] {
            assert_eq!(key_cmp(a, b), utf16_order(a, b), "{a:?} {b:?}");
            assert_eq!(key_cmp(b, a), utf16_order(b, a), "{b:?} {a:?}");
        }
    }

    proptest::proptest! {
        /// Object keys sort by UTF-16 code units (RFC 8785), fast path or not.
        #[test]
        fn key_cmp_is_utf16_order(a in "\\PC{0,6}", b in "\\PC{0,6}") {
            proptest::prop_assert_eq!(key_cmp(&a, &b), utf16_order(&a, &b));
        }

        #[test]
        fn key_cmp_on_shared_prefixes(prefix in "[a-z\u{e000}-\u{e002}\u{10000}-\u{10002}]{0,3}", a in "[a-c\u{ff00}\u{1f600}]{0,2}", b in "[a-c\u{ff00}\u{1f600}]{0,2}") {
            let (a, b) = (format!("{prefix}{a}"), format!("{prefix}{b}"));
            proptest::prop_assert_eq!(key_cmp(&a, &b), utf16_order(&a, &b));
        }
    }

    proptest::proptest! {
        /// The word-at-a-time scan answers exactly as the byte-by-byte one.
        #[test]
        fn needs_escape_matches_the_bytewise_scan(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            let bytewise = bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            proptest::prop_assert_eq!(needs_escape(&bytes), bytewise);
        }
    }

    proptest::proptest! {
        /// The word-at-a-time search stops exactly where the byte-by-byte one stops, from any
        /// start (bytes drawn mostly from the ones that matter and their neighbours).
        #[test]
        fn string_stop_matches_the_bytewise_search(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![b'"', b'\\', b'a', 0x1f, 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x00, 0x80, 0xa2, 0xdc, 0xff]),
                0..40,
            ),
            from in 0usize..42,
        ) {
            let bytewise = bytes.get(from..).and_then(|rest| {
                rest.iter()
                    .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
                    .map(|k| from + k)
            });
            proptest::prop_assert_eq!(string_stop(&bytes, from), bytewise);
        }
    }

    #[test]
    fn every_byte_in_every_position() {
        for b in 0..=255u8 {
            for at in 0..17 {
                let mut bytes = vec![b'a'; 17];
                bytes[at] = b;
                let want = b < 0x20 || b == b'"' || b == b'\\';
                assert_eq!(needs_escape(&bytes), want, "byte {b:#x} at {at}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(json: &str) -> String {
        let value: Value = serde_json::from_str(json).unwrap();
        match value_to_canonical_vec(&value) {
            Ok(bytes) => String::from_utf8(bytes).unwrap(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn rfc8785_rules() {
        let cases = [
            (
                r#"{ "b": 1, "a": [true, false, null] }"#,
                r#"{"a":[true,false,null],"b":1}"#,
            ),
            (r#"{"a":"\u0041\/\u00e9"}"#, r#"{"a":"A/é"}"#),
            // Only characters below U+0020 are escaped: U+007F stays literal.
            (
                r#""\u0000\u001f\b\f\n\r\t\"\\\u007f""#,
                "\"\\u0000\\u001f\\b\\f\\n\\r\\t\\\"\\\\\u{7f}\"",
            ),
            // serde_json reads -0 as a float; canonical JSON spells zero "0" only.
            (
                r#"-0"#,
                "error: number -0.0 is not an integer: ro holds no floating point",
            ),
            (r#"9007199254740991"#, "9007199254740991"),
            (r#"-9007199254740991"#, "-9007199254740991"),
            (
                r#"9007199254740992"#,
                "error: integer 9007199254740992 exceeds 2^53-1 in magnitude: encode it as a string",
            ),
            (
                r#"1.5"#,
                "error: number 1.5 is not an integer: ro holds no floating point",
            ),
            (
                r#"1e3"#,
                "error: number 1000.0 is not an integer: ro holds no floating point",
            ),
            // RFC 8785 §3.2.3: sort by UTF-16 code units, so U+1F600 (D83D DE00) sorts before
            // U+FB33 even though its UTF-8 bytes sort after.
            (
                "{\"\u{fb33}\":1,\"\u{1f600}\":2,\"a\":3}",
                "{\"a\":3,\"\u{1f600}\":2,\"\u{fb33}\":1}",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(canon(input), want, "input {input}");
        }
    }

    #[test]
    fn parse_canonical_rejects_non_canonical() {
        assert!(parse_canonical(br#"{"a":1,"b":2}"#).is_ok());
        for bad in [
            &br#"{"b":2,"a":1}"#[..],
            br#"{"a": 1}"#,
            br#"{"a":1,"a":1}"#,
            br#"{"a":"\u0041"}"#,
            br#"{"a":1.0}"#,
            b"{\"a\":1}\n",
        ] {
            assert!(
                parse_canonical(bad).is_err(),
                "accepted {}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    /// Found by the `canonical` fuzz target: an object with serde_json's reserved raw-value key
    /// canonicalized, but could not be read back, so a journal holding it would not open.
    #[test]
    fn the_reserved_raw_value_key_is_refused() {
        let value = serde_json::json!({ "a": { RESERVED_KEY: 4 } });
        assert!(value_to_canonical_vec(&value).is_err());
        let mut map = std::collections::BTreeMap::new();
        map.insert(RESERVED_KEY.to_owned(), 1);
        assert!(to_canonical_vec(&map).is_err());
        assert_eq!(
            canon(r#"{"$serde_json::private::RawValues": 1}"#),
            r#"{"$serde_json::private::RawValues":1}"#
        );
    }
}
