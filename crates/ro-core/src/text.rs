//! [`SharedStr`]: an immutable string whose clones share one allocation.
//!
//! Identifiers and locators are cloned into several indexes of a state (by key, by class, by
//! time) and into every envelope's metadata; with `String` each clone was an allocation and a
//! copy, and each drop a free. A `SharedStr` clone is a reference-count increment. Its archived
//! (rkyv) form is a plain [`ArchivedString`], so snapshots are laid out exactly as with
//! `String`.

use std::{borrow::Borrow, fmt, ops::Deref, sync::Arc};

use rkyv::{
    Archive, Deserialize, Place, Serialize, SerializeUnsized,
    rancor::{Fallible, Source},
    string::{ArchivedString, StringResolver},
};

/// An immutable string; cloning shares the text instead of copying it.
///
/// Compares, orders and hashes as its text.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedStr(Arc<str>);

impl SharedStr {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for SharedStr {
    fn from(text: &str) -> Self {
        SharedStr(Arc::from(text))
    }
}

impl From<String> for SharedStr {
    fn from(text: String) -> Self {
        SharedStr(Arc::from(text))
    }
}

impl Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl Archive for SharedStr {
    type Archived = ArchivedString;
    type Resolver = StringResolver;

    fn resolve(&self, resolver: StringResolver, out: Place<ArchivedString>) {
        ArchivedString::resolve_from_str(&self.0, resolver, out);
    }
}

impl<S> Serialize<S> for SharedStr
where
    S: Fallible + ?Sized,
    S::Error: Source,
    str: SerializeUnsized<S>,
{
    fn serialize(&self, serializer: &mut S) -> Result<StringResolver, S::Error> {
        ArchivedString::serialize_from_str(&self.0, serializer)
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
