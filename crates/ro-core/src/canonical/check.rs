//! A streaming check that bytes are canonical JSON (as [`super::write_value`] writes it),
//! without building a value: a bulk UTF-8 check, then one pass, no allocation unless a key
//! holds an escape.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::{RESERVED_KEY, ser::key_cmp};

/// serde_json refuses nesting at this depth; so does the check, so both agree.
const MAX_DEPTH: usize = 128;
/// 2^53 − 1 has 16 digits.
const MAX_INTEGER: u64 = (1 << 53) - 1;

/// Whether `bytes` are exactly what re-encoding them canonically would write: compact, keys in
/// strictly increasing UTF-16 order (no duplicates, not the reserved raw-value key), integers
/// of magnitude at most 2^53 − 1 in their shortest spelling, strings valid UTF-8 with only the
/// RFC 8785 escapes. `false` for anything else (including invalid JSON).
#[cfg(test)]
pub(crate) fn is_canonical(bytes: &[u8]) -> bool {
    canonical_text(bytes).is_some()
}

/// As [`is_canonical`], giving the bytes back as the text they were checked to be.
pub(crate) fn canonical_text(bytes: &[u8]) -> Option<&str> {
    // The UTF-8 is validated once, in bulk; strings are then sliced out of the text (quotes
    // and backslashes are ASCII, so every slice falls on character boundaries).
    let text = std::str::from_utf8(bytes).ok()?;
    let mut c = Checker {
        text,
        b: bytes,
        i: 0,
    };
    (c.value(0).is_some() && c.i == bytes.len()).then_some(text)
}

struct Checker<'a> {
    /// The text being checked (`b` is its bytes).
    text: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Checker<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.i += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i.checked_add(word.len())?;
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.integer(),
            _ => None,
        }
    }

    fn object(&mut self, depth: usize) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        let mut previous: Option<Cow<'a, str>> = None;
        loop {
            let key = self.string()?;
            if key == RESERVED_KEY {
                return None;
            }
            if let Some(previous) = &previous
                && key_cmp(previous, &key) != Ordering::Less
            {
                return None;
            }
            previous = Some(key);
            self.eat(b':')?;
            self.value(depth)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.value(depth)?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn integer(&mut self) -> Option<()> {
        let negative = self.eat(b'-').is_some();
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        let digits = self.b.get(start..self.i)?;
        match digits {
            [] => return None,
            // Zero is spelled "0": no "-0", no leading zeros.
            [b'0'] if negative => return None,
            [b'0', _, ..] => return None,
            _ => {}
        }
        if digits.len() > 16 {
            return None;
        }
        let value = digits.iter().try_fold(0u64, |acc, d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })?;
        if value > MAX_INTEGER {
            return None;
        }
        // A fraction or an exponent makes it a float, which canonical JSON here never holds.
        match self.peek() {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(()),
        }
    }

    /// A string in canonical spelling; its decoded text (borrowed unless it holds escapes).
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        let mut owned: Option<String> = None;
        let mut run = start;
        loop {
            // Plain text runs to the next quote, backslash or control character: jump there.
            self.i = super::string_stop(self.b, self.i)?;
            let byte = self.peek()?;
            match byte {
                b'"' => {
                    let tail = self.text.get(run..self.i)?;
                    self.i += 1;
                    return Some(match owned {
                        None => Cow::Borrowed(tail),
                        Some(mut s) => {
                            s.push_str(tail);
                            Cow::Owned(s)
                        }
                    });
                }
                b'\\' => {
                    let before = self.text.get(run..self.i)?;
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(before);
                    self.i += 1;
                    let decoded = match self.peek()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            // Only \u00XX, lower-case hex, for the control characters that
                            // have no short escape.
                            let end = self.i.checked_add(5)?;
                            let hex = self.b.get(self.i + 1..end)?;
                            let &[b'0', b'0', hi @ (b'0' | b'1'), lo] = hex else {
                                return None;
                            };
                            let lo = match lo {
                                b'0'..=b'9' => lo - b'0',
                                b'a'..=b'f' => lo - b'a' + 10,
                                _ => return None,
                            };
                            let code = (hi - b'0') * 16 + lo;
                            if matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                                return None;
                            }
                            self.i = end - 1;
                            char::from(code)
                        }
                        _ => return None,
                    };
                    s.push(decoded);
                    self.i += 1;
                    run = self.i;
                }
                0x00..=0x1f => return None,
                _ => self.i += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)] // test code

    use proptest::prelude::*;
    use serde_json::Value;

    use super::is_canonical;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-(1i64 << 53) + 1..(1i64 << 53)).prop_map(Value::from),
            (0i64..20).prop_map(Value::from),
            "[a-z\u{e9}\u{7f}\u{1f600}\u{fb33}\"\\\\\n\t\u{0}-\u{1f}]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map(
                    "[a-zA-Z_\u{e9}\u{1f600}\u{fb33}\\\\\n]{0,4}",
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// The streaming check and the reference (parse, re-encode, compare) agree.
    fn agree(bytes: &[u8]) -> Result<(), TestCaseError> {
        let reference = super::super::parse_canonical_slow(bytes).is_ok();
        prop_assert_eq!(
            is_canonical(bytes),
            reference,
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
        Ok(())
    }

    const BYTES: &[u8] = b" \"\\{}[],:-.0159eEutnfabAF\x7f\x00\x1f\xc3\xa9\xff";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn canonical_encodings_pass(value in json_value()) {
            let bytes = super::super::value_to_canonical_vec(&value).unwrap();
            prop_assert!(is_canonical(&bytes), "{}", String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn mutations_are_judged_as_the_reference_judges_them(
            value in json_value(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(BYTES)), 1..3),
        ) {
            let mut bytes = super::super::value_to_canonical_vec(&value).unwrap();
            for (at, how, byte) in edits {
                let i = at.index(bytes.len() + 1);
                match how {
                    0 => bytes.insert(i, byte),
                    1 if i < bytes.len() => { bytes.remove(i); }
                    _ if i < bytes.len() => bytes[i] = byte,
                    _ => bytes.push(byte),
                }
            }
            agree(&bytes)?;
        }

        #[test]
        fn arbitrary_json_texts_are_judged_as_the_reference_judges_them(value in json_value(), pretty in any::<bool>()) {
            let text = if pretty { serde_json::to_string_pretty(&value) } else { serde_json::to_string(&value) }.unwrap();
            agree(text.as_bytes())?;
        }
    }

    #[test]
    fn edge_cases_agree() {
        let cases: &[&[u8]] = &[
            b"0",
            b"-0",
            b"00",
            b"-",
            b"1.0",
            b"1e3",
            b"9007199254740991",
            b"9007199254740992",
            b"-9007199254740991",
            b"-9007199254740992",
            b"12345678901234567",
            b"\"\\u0000\"",
            b"\"\\u001F\"",
            b"\"\\u0008\"",
            b"\"\\u0041\"",
            b"\"\\/\"",
            b"\"\x7f\"",
            b"\"\x1f\"",
            b"{\"a\":1,\"a\":1}",
            b"{\"b\":1,\"a\":2}",
            b"{\"\xef\xac\xb3\":1,\"\xf0\x9f\x98\x80\":2}",
            b"{\"\xf0\x9f\x98\x80\":2,\"\xef\xac\xb3\":1}",
            b"{\"$serde_json::private::RawValue\":1}",
            b"[1,]",
            b"[,1]",
            b"{}",
            b"[]",
            b"{\"a\":}",
            b"true ",
            b" true",
            b"nul",
            b"\"\xff\"",
            b"\"\xc3\"",
            b"[[[[1]]]]",
        ];
        for case in cases {
            let reference = super::super::parse_canonical_slow(case).is_ok();
            assert_eq!(
                is_canonical(case),
                reference,
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
        let deep = |n: usize| {
            let mut v = vec![b'['; n];
            v.extend(vec![b']'; n]);
            v
        };
        for n in [126, 127, 128, 129] {
            let bytes = deep(n);
            assert_eq!(
                is_canonical(&bytes),
                super::super::parse_canonical_slow(&bytes).is_ok(),
                "depth {n}"
            );
        }
    }
}
