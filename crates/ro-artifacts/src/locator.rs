//! Where artifacts live: [`Locator`]s and the [`AddressTemplate`]s that render them.

use std::{collections::BTreeMap, fmt};

use ro_core::SharedStr;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest locator accepted, in bytes.
pub const MAX_LOCATOR_LEN: usize = 1024;

/// A relative path to an artifact in the store: `/`-separated segments of printable ASCII (no
/// spaces, `\`, braces or quotes), no empty, `.` or `..` segment, no leading `/`, at most
/// [`MAX_LOCATOR_LEN`] bytes. For example `runs/r-1/fingerprint=ab12/report.json`.
#[derive(
    Clone, PartialEq, Eq, PartialOrd, Ord, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq, PartialOrd, Ord))]
pub struct Locator(SharedStr);

/// Why a locator or template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocatorError {
    /// The locator breaks a rule.
    #[error("locator {0:?}: {1}")]
    Invalid(String, &'static str),
    /// The template is malformed.
    #[error("template {0:?}: {1}")]
    Template(String, String),
    /// A token's value is missing when rendering.
    #[error("token {0} has no value")]
    MissingToken(String),
    /// A value was given for a token the template does not have.
    #[error("template has no token {0}")]
    UnknownToken(String),
    /// A token's value is not allowed.
    #[error(
        "token {0} = {1:?}: values are 1 to 128 ASCII letters, digits and - _ . : @, not only dots"
    )]
    BadValue(String, String),
    /// The locator does not match the template.
    #[error("locator {0:?} does not match the template")]
    NoMatch(String),
}

impl Locator {
    /// Validates and wraps `text`.
    pub fn new(text: impl AsRef<str>) -> Result<Self, LocatorError> {
        let text = text.as_ref();
        let bad = |why| Err(LocatorError::Invalid(text.chars().take(80).collect(), why));
        if text.is_empty() {
            return bad("is empty");
        }
        if text.len() > MAX_LOCATOR_LEN {
            return bad("is longer than 1024 bytes");
        }
        if text.starts_with('/') {
            return bad("is absolute: locators are relative to the store");
        }
        if let Some(c) = text
            .chars()
            .find(|c| !c.is_ascii_graphic() || matches!(c, '\\' | '{' | '}' | '"' | '\'' | '`'))
        {
            let _ = c;
            return bad("holds a character outside printable ASCII, or \\ { } quotes");
        }
        if text
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        {
            return bad("has an empty, . or .. segment");
        }
        Ok(Locator(SharedStr::from(text)))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl std::str::FromStr for Locator {
    type Err = LocatorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Locator::new(s)
    }
}

impl Serialize for Locator {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Locator {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Locator;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a locator (a string)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Locator, E> {
                Locator::new(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@')
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Token(String),
}

/// An addressing template such as `runs/{run_id}/fingerprint={manifest_fingerprint}/report.json`.
///
/// Rendering is deterministic: every token must be given, no other, and each value is 1 to 128
/// ASCII letters, digits or `- _ . : @`. Because a token is always followed by the end or by a
/// literal that starts with a character a value cannot hold (checked when the template is
/// parsed), every rendered locator parses back to exactly its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressTemplate {
    text: String,
    parts: Vec<Part>,
}

impl AddressTemplate {
    /// Parses and checks a template.
    pub fn parse(text: &str) -> Result<Self, LocatorError> {
        let err = |why: &str| LocatorError::Template(text.into(), why.into());
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let close = rest.find('}').ok_or_else(|| err("a { is not closed"))?;
                    let name = rest.get(1..close).unwrap_or_default();
                    if name.is_empty()
                        || !name
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    {
                        return Err(err("token names are lowercase letters, digits and _"));
                    }
                    if matches!(parts.last(), Some(Part::Token(_))) {
                        return Err(err("two tokens in a row cannot be told apart"));
                    }
                    if parts.iter().any(|p| p == &Part::Token(name.into())) {
                        return Err(err("a token appears twice"));
                    }
                    parts.push(Part::Token(name.into()));
                    rest = rest.get(close + 1..).unwrap_or_default();
                }
                found => {
                    let end = found.unwrap_or(rest.len());
                    let literal = rest.get(..end).unwrap_or_default();
                    if literal.contains('}') {
                        return Err(err("a } without a {"));
                    }
                    if matches!(parts.last(), Some(Part::Token(_)))
                        && literal.chars().next().is_some_and(token_char)
                    {
                        return Err(err(
                            "a token must be followed by the end or by a character a value cannot hold, such as / or =",
                        ));
                    }
                    parts.push(Part::Literal(literal.into()));
                    rest = rest.get(end..).unwrap_or_default();
                }
            }
        }
        if parts.is_empty() {
            return Err(err("is empty"));
        }
        // The rendered form must be a valid locator: check with placeholder values.
        let sample: String = parts
            .iter()
            .map(|p| match p {
                Part::Literal(l) => l.as_str(),
                Part::Token(_) => "x",
            })
            .collect();
        Locator::new(sample).map_err(|e| err(&format!("renders an invalid locator: {e}")))?;
        Ok(AddressTemplate {
            text: text.into(),
            parts,
        })
    }

    /// The template's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The token names, in order.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Token(t) => Some(t.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Renders the locator for `values` (every token, no other).
    pub fn render(&self, values: &BTreeMap<String, String>) -> Result<Locator, LocatorError> {
        if let Some(extra) = values
            .keys()
            .find(|k| !self.tokens().any(|t| t == k.as_str()))
        {
            return Err(LocatorError::UnknownToken(extra.clone()));
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(l) => out.push_str(l),
                Part::Token(t) => {
                    let v = values
                        .get(t)
                        .ok_or_else(|| LocatorError::MissingToken(t.clone()))?;
                    // A value of only dots could make a "." or ".." segment: never a path step.
                    if v.is_empty()
                        || v.len() > 128
                        || !v.chars().all(token_char)
                        || v.chars().all(|c| c == '.')
                    {
                        return Err(LocatorError::BadValue(t.clone(), v.clone()));
                    }
                    out.push_str(v);
                }
            }
        }
        Locator::new(out)
    }

    /// Parses a locator back into its token values.
    pub fn parse_locator(
        &self,
        locator: &Locator,
    ) -> Result<BTreeMap<String, String>, LocatorError> {
        let no_match = || LocatorError::NoMatch(locator.as_str().into());
        let mut rest = locator.as_str();
        let mut values = BTreeMap::new();
        for part in &self.parts {
            match part {
                Part::Literal(l) => rest = rest.strip_prefix(l.as_str()).ok_or_else(no_match)?,
                Part::Token(t) => {
                    let len = rest.find(|c: char| !token_char(c)).unwrap_or(rest.len());
                    if len == 0 || len > 128 {
                        return Err(no_match());
                    }
                    let (value, tail) = rest.split_at(len);
                    values.insert(t.clone(), value.to_string());
                    rest = tail;
                }
            }
        }
        if !rest.is_empty() {
            return Err(no_match());
        }
        Ok(values)
    }
}

ro_core::json_schema_for!(Locator, "Locator", {
    "type": "string",
    "minLength": 1,
    "maxLength": 1024,
    "description": "An artifact's address: relative segments of ASCII letters, digits and - _ . : @ = separated by /, no empty, . or .. segment."
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locators() {
        for good in ["a", "runs/r-1/fingerprint=ab/report.json", "x/y.z@1:2"] {
            assert!(Locator::new(good).is_ok(), "{good}");
        }
        for bad in [
            "", "/abs", "a//b", "a/../b", "a/./b", "sp ace", "a{b}", "é", "a\\b", "a/",
        ] {
            assert!(Locator::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templates_render_and_parse_back() {
        let t =
            AddressTemplate::parse("runs/{run_id}/fingerprint={manifest_fingerprint}/report.json")
                .unwrap();
        let values: BTreeMap<String, String> =
            [("run_id", "r-7"), ("manifest_fingerprint", "ab12")]
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect();
        let loc = t.render(&values).unwrap();
        assert_eq!(loc.as_str(), "runs/r-7/fingerprint=ab12/report.json");
        assert_eq!(t.parse_locator(&loc).unwrap(), values);
        let mut missing = values.clone();
        missing.remove("run_id");
        assert_eq!(
            t.render(&missing),
            Err(LocatorError::MissingToken("run_id".into()))
        );
        let mut extra = values.clone();
        extra.insert("other".into(), "x".into());
        assert_eq!(
            t.render(&extra),
            Err(LocatorError::UnknownToken("other".into()))
        );
        for value in ["a/b", ".", "..", "", "é"] {
            let mut bad = values.clone();
            bad.insert("run_id".into(), value.into());
            assert!(
                matches!(t.render(&bad), Err(LocatorError::BadValue(..))),
                "{value:?}"
            );
        }
        assert!(
            t.parse_locator(&Locator::new("runs/r-7/report.json").unwrap())
                .is_err()
        );
        for bad in [
            "{a}{b}",
            "runs/{run_id}x",
            "{Run}",
            "a/{x}/{x}",
            "a/{x",
            "a}b",
            "",
        ] {
            assert!(AddressTemplate::parse(bad).is_err(), "{bad}");
        }
    }
}
