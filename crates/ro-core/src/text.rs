//! Free text: [`MAX_TEXT_LEN`] and [`check_text`], the one limit and the one rule on empty
//! text every domain applies; and [`SharedStr`], an immutable string whose clones share one
//! allocation.
//!
//! Identifiers and locators are cloned into several indexes of a state (by key, by class, by
//! time) and into every envelope's metadata; with `String` each clone was an allocation and a
//! copy, and each drop a free. A `SharedStr` clone is a reference-count increment. Its archived
//! (rkyv) form is a plain [`ArchivedString`], so snapshots are laid out exactly as with
//! `String`.
//!
//! These strings are the keys of the states' ordered maps, so it also keeps the first 16 bytes
//! of its text inline: most comparisons are decided there, without following the pointer to
//! the text (in a B-tree search each key compared would otherwise be a separate cache miss).

use std::{borrow::Borrow, cmp::Ordering, fmt, hash, ops::Deref, sync::Arc};

/// The longest free text (descriptions, summaries, notes, record fields) accepted, in bytes.
pub const MAX_TEXT_LEN: usize = 4096;

/// Why free text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Required text is empty or only white space.
    #[error("is empty")]
    Empty,
    /// The text is longer than [`MAX_TEXT_LEN`] bytes.
    #[error("is longer than {MAX_TEXT_LEN} bytes")]
    TooLong,
}

/// Checks free text: at most [`MAX_TEXT_LEN`] bytes; when `required`, not blank. (A field
/// that may be left out says so by being optional or by `required: false`; no field accepts
/// blank text where it needs some.)
pub fn check_text(text: &str, required: bool) -> Result<(), TextError> {
    if text.len() > MAX_TEXT_LEN {
        return Err(TextError::TooLong);
    }
    if required && text.trim().is_empty() {
        return Err(TextError::Empty);
    }
    Ok(())
}

use rkyv::{
    Archive, Deserialize, Place, Serialize, SerializeUnsized,
    rancor::{Fallible, Source},
    string::{ArchivedString, StringResolver},
};

/// An immutable string; cloning shares the text instead of copying it.
///
/// Compares, orders and hashes as its text.
#[derive(Clone)]
pub struct SharedStr {
    /// The text's first 16 bytes, zero-padded, as two big-endian words: comparing them orders
    /// two texts whenever they differ there (a zero pad only ever stands where the shorter
    /// text has ended, which sorts first as the text does). Two words rather than one `u128`
    /// keep the alignment at 8, so structs holding texts gain no padding.
    head: [u64; 2],
    text: Arc<str>,
}

impl SharedStr {
    fn new(text: Arc<str>) -> Self {
        let mut bytes = [0u8; 16];
        let n = text.len().min(16);
        if let (Some(to), Some(from)) = (bytes.get_mut(..n), text.as_bytes().get(..n)) {
            to.copy_from_slice(from);
        }
        let (high, low) = bytes.split_at(8);
        let word = |b: &[u8]| <[u8; 8]>::try_from(b).map_or(0, u64::from_be_bytes);
        SharedStr {
            head: [word(high), word(low)],
            text,
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The text past the inline bytes (empty for a text of at most 16 bytes).
fn tail(text: &str) -> &[u8] {
    text.as_bytes().get(16..).unwrap_or_default()
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &Self) -> bool {
        // Equal heads and lengths: a text of at most 16 bytes is all in its head.
        self.head == other.head
            && self.text.len() == other.text.len()
            && (self.text.len() <= 16
                || Arc::ptr_eq(&self.text, &other.text)
                || tail(&self.text) == tail(&other.text))
    }
}

impl Eq for SharedStr {}

impl PartialOrd for SharedStr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SharedStr {
    fn cmp(&self, other: &Self) -> Ordering {
        match self.head.cmp(&other.head) {
            // The first 16 bytes (or all of a shorter text, which is then a prefix of the
            // other) are the same: a text of at most 16 bytes sorts by its length, longer
            // ones by what follows. Neither reads the text when one is that short.
            Ordering::Equal if self.text.len().min(other.text.len()) <= 16 => {
                self.text.len().cmp(&other.text.len())
            }
            Ordering::Equal => tail(&self.text).cmp(tail(&other.text)),
            decided => decided,
        }
    }
}

impl hash::Hash for SharedStr {
    fn hash<H: hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

impl From<&str> for SharedStr {
    fn from(text: &str) -> Self {
        SharedStr::new(Arc::from(text))
    }
}

impl From<String> for SharedStr {
    fn from(text: String) -> Self {
        SharedStr::new(Arc::from(text))
    }
}

impl Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text, f)
    }
}

impl Archive for SharedStr {
    type Archived = ArchivedString;
    type Resolver = StringResolver;

    fn resolve(&self, resolver: StringResolver, out: Place<ArchivedString>) {
        ArchivedString::resolve_from_str(&self.text, resolver, out);
    }
}

impl<S> Serialize<S> for SharedStr
where
    S: Fallible + ?Sized,
    S::Error: Source,
    str: SerializeUnsized<S>,
{
    fn serialize(&self, serializer: &mut S) -> Result<StringResolver, S::Error> {
        ArchivedString::serialize_from_str(&self.text, serializer)
    }
}

impl<D: Fallible + ?Sized> Deserialize<SharedStr, D> for ArchivedString {
    fn deserialize(&self, _: &mut D) -> Result<SharedStr, D::Error> {
        Ok(SharedStr::from(self.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_four_words_aligned_as_a_pointer() {
        // Ids sit in every key and record of the state: a wider or more aligned text would
        // grow them all (and the memory figure of the plane bench).
        assert_eq!(std::mem::size_of::<SharedStr>(), 32);
        assert_eq!(
            std::mem::align_of::<SharedStr>(),
            std::mem::align_of::<usize>()
        );
    }

    #[test]
    fn clones_share_the_text() {
        let a = SharedStr::from("runs/r-1/report.json");
        let b = a.clone();
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert_eq!(b.as_str(), "runs/r-1/report.json");
    }

    #[test]
    fn orders_as_its_text() {
        let mut words = ["b", "a", "ab", "B", ""].map(SharedStr::from);
        words.sort();
        assert_eq!(words.map(|w| w.to_string()), ["", "B", "a", "ab", "b"]);
        assert_eq!(format!("{:?}", SharedStr::from("x\"y")), "\"x\\\"y\"");
    }

    /// Texts that differ inside, at and past the 16 inline bytes, with zero bytes (the pad's
    /// value), prefixes of each other and non-ASCII characters.
    fn text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        (
            prop::sample::select(vec![
                "",
                "runs/r-",
                "run-0123456789ab",
                "run-0123456789abcdef",
                "\0\0",
                "é",
            ]),
            "[a\\x00b\u{e9}\u{10000}]{0,20}",
        )
            .prop_map(|(stem, tail)| format!("{stem}{tail}"))
    }

    proptest::proptest! {
        #[test]
        fn compares_exactly_as_its_text(a in text(), b in text()) {
            // (Texts sharing a stem of 16 or more bytes differ only past the inline bytes.)
            let (x, y) = (SharedStr::from(a.as_str()), SharedStr::from(b.as_str()));
            proptest::prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            proptest::prop_assert_eq!(x == y, a == b);
            proptest::prop_assert_eq!(x.partial_cmp(&y), a.partial_cmp(&b));
            let prefixed = SharedStr::from(format!("{a}{b}"));
            proptest::prop_assert_eq!(x.cmp(&prefixed), a.cmp(&format!("{a}{b}")));
        }

        #[test]
        fn texts_with_a_common_stem_compare_as_texts(
            stem in "[ab]{14,18}",
            a in "[a\\x00b]{0,3}",
            b in "[a\\x00b]{0,3}",
        ) {
            // Around the 16th byte: decided inside the head, by the length, or by the tail.
            let (a, b) = (format!("{stem}{a}"), format!("{stem}{b}"));
            let (x, y) = (SharedStr::from(a.as_str()), SharedStr::from(b.as_str()));
            proptest::prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            proptest::prop_assert_eq!(x == y, a == b);
        }
    }

    #[test]
    fn equal_texts_are_equal_whatever_their_allocation() {
        let long = "runs/r-1/report.json/and/more";
        assert_eq!(SharedStr::from(long), SharedStr::from(long.to_owned()));
        assert_ne!(
            SharedStr::from(long),
            SharedStr::from("runs/r-1/report.json/and/moRe")
        );
        assert_ne!(SharedStr::from("a"), SharedStr::from("a\0"));
        assert!(SharedStr::from("a") < SharedStr::from("a\0"));
    }

    #[test]
    fn archives_as_a_string() {
        let text = SharedStr::from("alice");
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&text).unwrap();
        let plain = rkyv::to_bytes::<rkyv::rancor::Error>(&String::from("alice")).unwrap();
        assert_eq!(bytes.as_slice(), plain.as_slice());
        let back: SharedStr = rkyv::from_bytes::<SharedStr, rkyv::rancor::Error>(&bytes).unwrap();
        assert_eq!(back, text);
    }
}
