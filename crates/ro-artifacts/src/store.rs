//! The store room: artifacts registered by reference and digest, their gates, reported digest
//! mismatches and the posture each class takes on one.

use ro_core::{Context, EventMeta};

use crate::*;

use crate::locator::Locator;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

ro_core::id_kind!(
    /// Names a class of artifacts (retention and mismatch posture are per class).
    ArtifactClass,
    ArtifactClassTag,
    "artifact class"
);

/// Digest algorithms an artifact's digest may use.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
#[serde(rename_all = "lowercase")]
pub enum DigestAlg {
    /// blake3 (the default).
    #[default]
    Blake3,
    /// SHA-256 (object stores, OCI images).
    Sha256,
}

impl DigestAlg {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlg::Blake3 => "blake3",
            DigestAlg::Sha256 => "sha256",
        }
    }
}

/// A content digest: an algorithm and 32 bytes, `alg:<64 lowercase hex>` on the wire.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub struct ContentDigest {
    /// The algorithm.
    pub alg: DigestAlg,
    /// The digest bytes.
    pub bytes: [u8; 32],
}

impl ContentDigest {
    /// Parses `alg:<64 lowercase hex>`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (alg, hex) = text
            .split_once(':')
            .ok_or("a digest is alg:<64 lowercase hex>, e.g. blake3:…")?;
        let alg = match alg {
            "blake3" => DigestAlg::Blake3,
            "sha256" => DigestAlg::Sha256,
            other => {
                return Err(format!(
                    "digest algorithm {other:?} is not supported (blake3, sha256)"
                ));
            }
        };
        let d = ro_core::Digest::parse_hex(hex).map_err(|e| e.to_string())?;
        Ok(ContentDigest {
            alg,
            bytes: *d.as_bytes(),
        })
    }
}

impl ContentDigest {
    /// `alg:` and the 64 hex digits, on the stack (no formatter, no allocation: this is
    /// written into every registration's journal record).
    fn with_spelling<T>(&self, f: impl FnOnce(&str) -> T) -> T {
        let mut buf = [0u8; 72];
        let alg = self.alg.as_str().as_bytes();
        let Some((head, hex)) = buf.split_at_mut_checked(alg.len() + 1) else {
            // Algorithm names are a few bytes; kept correct (if slow) should one ever not be.
            let hex = ro_core::Digest::from_bytes(self.bytes).to_hex();
            return f(&format!("{}:{hex}", self.alg.as_str()));
        };
        if let Some((colon, name)) = head.split_last_mut() {
            name.copy_from_slice(alg);
            *colon = b':';
        }
        if let Some(digits) = hex.get_mut(..64) {
            digits.copy_from_slice(&ro_core::Digest::from_bytes(self.bytes).hex_ascii());
        }
        let len = alg.len() + 1 + 64;
        // An algorithm name, a colon and hex digits: ASCII.
        f(std::str::from_utf8(buf.get(..len).unwrap_or_default()).unwrap_or_default())
    }
}

impl fmt::Display for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_spelling(|s| f.write_str(s))
    }
}

impl fmt::Debug for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for ContentDigest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.with_spelling(|s| serializer.serialize_str(s))
    }
}

impl<'de> Deserialize<'de> for ContentDigest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ContentDigest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a digest string alg:<64 lowercase hex>")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ContentDigest, E> {
                ContentDigest::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// A reference to an artifact by locator and digest (the contract's `ArtifactRef`).
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct ArtifactRef {
    // The fields are declared in the order of their JSON keys (`ref` after `digest_alg`), the
    // canonical order, so encoding one re-orders nothing.
    /// Its content digest.
    pub digest: ContentDigest,
    /// The digest's algorithm (also in `digest`'s prefix).
    pub digest_alg: DigestAlg,
    /// Where it lives.
    #[serde(rename = "ref")]
    pub locator: Locator,
    /// The schema version of its content, if known.
    pub schema_version: Option<String>,
    /// Its size, if known.
    pub size_bytes: Option<u64>,
}

pub use ro_policy::gate::Gate;

/// What a reported digest mismatch does.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MismatchPosture {
    /// The artifact's gate becomes FAIL (the default).
    #[default]
    FailClosed,
    /// Recorded, gate unchanged.
    Warn,
}

/// A registered artifact.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
pub struct Artifact {
    // Declared in key order, the canonical order (see `ArtifactRef`).
    /// The reference.
    pub artifact: ArtifactRef,
    /// Its class.
    pub class: ArtifactClass,
    /// Its gate.
    pub gate: Gate,
    /// Digest mismatches reported for it.
    pub mismatches: u32,
    /// When it was registered.
    pub registered_at: Timestamp,
    /// When retention tombstoned it, if it did. The record stays; reads are refused.
    pub tombstoned_at: Option<Timestamp>,
}

ro_core::json_schema_for!(ContentDigest, "ContentDigest", {
    "type": "string",
    "pattern": "^(blake3|sha256):[0-9a-f]{64}$",
    "description": "A content digest: alg:<64 lowercase hex>, alg blake3 or sha256."
});

impl Artifacts {
    pub(crate) fn decide_store(
        &self,
        command: &ArtifactCommand,
        ctx: &Context,
    ) -> Result<Vec<ArtifactEvent>, ArtifactRejection> {
        use ArtifactCommand as C;
        use ArtifactEvent as E;
        use ArtifactRejection as R;
        match command {
            C::RegisterArtifact {
                locator,
                digest,
                digest_alg,
                size_bytes,
                schema_version,
                class,
            } => {
                if digest_alg.is_some_and(|a| a != digest.alg) {
                    return Err(R::Invalid(format!(
                        "digest_alg {} disagrees with the digest's prefix",
                        digest_alg.map(DigestAlg::as_str).unwrap_or_default()
                    )));
                }
                if let Some(v) = schema_version {
                    check_text("schema_version", v, true)?;
                }
                if let Some(existing) = self.artifacts.get(locator) {
                    if existing.artifact.digest == *digest {
                        return Ok(Vec::new());
                    }
                    return Err(R::RefConflict {
                        locator: locator.clone(),
                        existing: existing.artifact.digest,
                    });
                }
                // A new artifact follows its class's addressing template.
                let class = class.clone().unwrap_or_else(default_class);
                if let Some(template) = self.addressing.get(&class) {
                    let follows = AddressTemplate::parse(template)
                        .and_then(|t| t.parse_locator(locator))
                        .is_ok();
                    if !follows {
                        return Err(R::Invalid(format!(
                            "{locator} does not follow class {class}'s addressing template {template}"
                        )));
                    }
                }
                Ok(vec![E::ArtifactRegistered {
                    artifact: ArtifactRef {
                        locator: locator.clone(),
                        digest: *digest,
                        digest_alg: digest.alg,
                        schema_version: schema_version.clone(),
                        size_bytes: *size_bytes,
                    },
                    class,
                }])
            }
            C::SetAddressing { class, template } => {
                AddressTemplate::parse(template).map_err(|e| R::Invalid(e.to_string()))?;
                let before = self.addressing.get(class).cloned();
                if before.as_deref() == Some(template.as_str()) {
                    return Ok(Vec::new());
                }
                Ok(vec![E::AddressingSet {
                    class: class.clone(),
                    before,
                    after: template.clone(),
                    reason: ctx.reason.clone(),
                }])
            }
            C::SetArtifactGate { locator, status } => {
                let a = self
                    .artifacts
                    .get(locator)
                    .ok_or_else(|| R::UnknownArtifact(locator.clone()))?;
                if *status == Gate::Pending {
                    return Err(R::GateValue);
                }
                if a.tombstoned_at.is_some() {
                    return Err(R::Tombstoned(locator.clone()));
                }
                if a.gate == *status {
                    return Ok(Vec::new());
                }
                Ok(vec![E::GateSet {
                    locator: locator.clone(),
                    before: a.gate,
                    after: *status,
                }])
            }
            C::ReportDigestMismatch { locator, observed } => {
                let a = self
                    .artifacts
                    .get(locator)
                    .ok_or_else(|| R::UnknownArtifact(locator.clone()))?;
                if a.artifact.digest == *observed {
                    return Err(R::Invalid(
                        "the observed digest matches the registered one".into(),
                    ));
                }
                let posture = self.postures.get(&a.class).copied().unwrap_or_default();
                let gate = match posture {
                    MismatchPosture::FailClosed => Gate::Fail,
                    MismatchPosture::Warn => a.gate,
                };
                Ok(vec![E::DigestMismatchDetected {
                    locator: locator.clone(),
                    expected: a.artifact.digest,
                    observed: *observed,
                    posture,
                    gate,
                }])
            }
            C::SetMismatchPosture { class, posture } => {
                let before = self.postures.get(class).copied().unwrap_or_default();
                if before == *posture {
                    return Ok(Vec::new());
                }
                Ok(vec![E::MismatchPostureSet {
                    reason: ctx.reason.clone(),
                    class: class.clone(),
                    before,
                    after: *posture,
                }])
            }
            _ => Err(misrouted()),
        }
    }

    pub(crate) fn evolve_store(&mut self, event: &ArtifactEvent, meta: &EventMeta<'_>) {
        use ArtifactEvent as E;
        match event {
            E::ArtifactRegistered { artifact, class } => {
                // A known class is found without cloning its key.
                match self.by_class.get_mut(class) {
                    Some(index) => index.insert(meta.at, artifact.locator.clone()),
                    None => {
                        let mut index = ClassIndex::default();
                        index.insert(meta.at, artifact.locator.clone());
                        self.by_class.insert(class.clone(), index);
                    }
                }
                self.artifacts.insert(
                    artifact.locator.clone(),
                    Box::new(Artifact {
                        artifact: artifact.clone(),
                        class: class.clone(),
                        registered_at: meta.at,
                        gate: Gate::Pending,
                        mismatches: 0,
                        tombstoned_at: None,
                    }),
                );
            }
            E::GateSet { locator, after, .. } => {
                if let Some(a) = self.artifacts.get_mut(locator) {
                    a.gate = *after;
                }
            }
            E::DigestMismatchDetected { locator, gate, .. } => {
                if let Some(a) = self.artifacts.get_mut(locator) {
                    a.gate = *gate;
                    a.mismatches = a.mismatches.saturating_add(1);
                }
            }
            E::MismatchPostureSet { class, after, .. } => {
                self.postures.insert(class.clone(), *after);
            }
            E::AddressingSet { class, after, .. } => {
                self.addressing.insert(class.clone(), after.clone());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod digest_spelling_tests {
    use super::*;

    proptest::proptest! {
        /// The stack spelling is `alg:` and the digest's hex, and parses back.
        #[test]
        fn spelling_round_trips(bytes in proptest::array::uniform32(proptest::prelude::any::<u8>()), sha in proptest::bool::ANY) {
            let alg = if sha { DigestAlg::Sha256 } else { DigestAlg::Blake3 };
            let d = ContentDigest { alg, bytes };
            let want = format!("{}:{}", alg.as_str(), ro_core::Digest::from_bytes(bytes).to_hex());
            proptest::prop_assert_eq!(d.to_string(), want.clone());
            proptest::prop_assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{want}\""));
            proptest::prop_assert_eq!(serde_json::from_str::<ContentDigest>(&format!("\"{want}\"")).unwrap(), d);
        }
    }
}

#[cfg(test)]
mod key_order_tests {
    use super::*;

    /// A state holds an `Artifact` (and its `ArtifactRef`) per registered artifact, hundreds of
    /// thousands in a large plane: declared in key order, they encode as declared, and the
    /// canonical serializer (which re-orders an object only when its members arrive out of
    /// order) copies and sorts nothing for them, a fifth of a state digest's work when it did.
    #[test]
    fn artifacts_are_declared_in_key_order() {
        let at = Timestamp::parse_rfc3339("2026-03-02T13:00:00.5Z").unwrap();
        let artifact = Artifact {
            artifact: ArtifactRef {
                digest: ContentDigest {
                    alg: DigestAlg::Sha256,
                    bytes: [7; 32],
                },
                digest_alg: DigestAlg::Sha256,
                locator: Locator::new("runs/r-1/report.json").unwrap(),
                schema_version: Some("v2".into()),
                size_bytes: Some(42),
            },
            class: ArtifactClass::new("reports").unwrap(),
            gate: Gate::Pass,
            mismatches: 1,
            registered_at: at,
            tombstoned_at: Some(at),
        };
        let as_declared = serde_json::to_vec(&artifact).unwrap();
        let canonical = ro_core::canonical::to_canonical_vec(&artifact).unwrap();
        assert_eq!(
            String::from_utf8(as_declared).unwrap(),
            String::from_utf8(canonical).unwrap()
        );
    }
}
