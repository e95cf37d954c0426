//! The records: artifacts, gates, retention policies, derivations, INFEASIBLE records and model
//! versions.

use std::{collections::BTreeMap, fmt};

use ro_core::{ActorId, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::locator::Locator;

ro_core::id_kind!(
    /// Names a class of artifacts (retention and mismatch posture are per class).
    ArtifactClass,
    ArtifactClassTag,
    "artifact class"
);
ro_core::id_kind!(
    /// Identifies a derivation record.
    DerivationId,
    DerivationTag,
    "derivation id"
);
ro_core::id_kind!(
    /// Names a story (the unit of analysis work whose values are handed off).
    StoryId,
    StoryTag,
    "story id"
);
ro_core::id_kind!(
    /// A model version, e.g. `M-MyModel-V1`.
    ModelVersion,
    ModelVersionTag,
    "model version"
);
ro_core::id_kind!(
    /// Names a downstream consumer of handed-off values.
    ConsumerId,
    ConsumerTag,
    "consumer id"
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

/// A reference to an artifact by locator and digest (the seed's `ArtifactRef`).
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

/// A retention policy for a class: an artifact expires once it is neither among the newest
/// `keep_last` nor younger than `keep_days` (counted in trading days when `trading_days`).
#[derive(
    Debug,
    Clone,
    Copy,
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
pub struct RetentionPolicy {
    /// Keep at least the newest N (0 keeps none by count).
    pub keep_last: u32,
    /// Keep everything younger than N days (calendar or trading days).
    pub keep_days: u32,
    /// Count `keep_days` in trading days (Monday to Friday, less the class's holidays).
    #[serde(default)]
    pub trading_days: bool,
}

impl RetentionPolicy {
    /// Whether `self` keeps less than `other` in any dimension (a safety-reducing change).
    pub fn shortens(&self, other: &RetentionPolicy) -> bool {
        self.keep_last < other.keep_last
            || self.keep_days < other.keep_days
            || (self.trading_days && !other.trading_days)
    }
}

/// Cost tiers of evidence: A and B may be lockable, C is non-lockable context, D is
/// unsupported.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
pub enum CostTier {
    /// Tier A.
    A,
    /// Tier B.
    B,
    /// Tier C: non-lockable context only.
    C,
    /// Tier D: unsupported; only a typed INFEASIBLE.
    D,
    /// Not a cost-derived value.
    #[serde(rename = "n/a")]
    NotApplicable,
}

/// Whether a value may be locked.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Lockability {
    /// May be locked once reviewed.
    Lockable,
    /// Context only.
    NonLockable,
    /// Blocked: a typed INFEASIBLE stands for it.
    Infeasible,
}

impl Lockability {
    /// The lockability a tier allows at most.
    pub fn for_tier(tier: CostTier) -> Lockability {
        match tier {
            CostTier::A | CostTier::B | CostTier::NotApplicable => Lockability::Lockable,
            CostTier::C => Lockability::NonLockable,
            CostTier::D => Lockability::Infeasible,
        }
    }
}

/// A signed derivation record: the fields a derivation template names.
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
pub struct DerivationRecord {
    /// Its id.
    pub derivation_id: DerivationId,
    /// The story it belongs to.
    pub story: StoryId,
    /// The value's name.
    pub value_name: String,
    /// The value, as text.
    pub value: String,
    /// Its units.
    pub units: String,
    /// Declared lockability (must not exceed what the tier allows).
    pub lockability: Lockability,
    /// The cost tier.
    pub cost_tier: CostTier,
    /// The immutable artifact holding the derivation, if any.
    #[serde(default)]
    pub artifact_path: Option<Locator>,
    /// The run id that produced it, if any (provenance only).
    #[serde(default)]
    pub run_id: Option<String>,
    /// The commit the code was at.
    pub git_sha: String,
    /// Hashes of the inputs.
    pub input_hashes: Vec<String>,
    /// The code version.
    pub code_version: String,
    /// Parameters, as text.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// The author (must be the actor recording it).
    pub author: ActorId,
    /// The reviewer, once reviewed (never the author).
    #[serde(default)]
    pub reviewer: Option<ActorId>,
    /// When it was generated (defaults to the command's time).
    #[serde(default)]
    pub timestamp: Option<Timestamp>,
    /// The command that reproduces it.
    pub repro_command: String,
    /// Notes.
    #[serde(default)]
    pub notes: String,
    /// Derivations this one uses: invalidating one of them invalidates this one.
    #[serde(default)]
    pub depends_on: Vec<DerivationId>,
}

/// Why a value is infeasible.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum InfeasibleReason {
    /// Cost data is missing or tier D.
    CostData,
    /// Capacity.
    Capacity,
    /// Statistical power.
    Power,
    /// Mapping.
    Mapping,
    /// The null gate.
    Null,
}

/// A typed INFEASIBLE record: a successful outcome, never a placeholder.
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
pub struct InfeasibleRecord {
    /// Its id.
    pub infeasible_id: DerivationId,
    /// The story.
    pub story: StoryId,
    /// Why.
    pub reason: InfeasibleReason,
    /// What triggered it.
    pub trigger: String,
    /// The derivation that failed, if any.
    #[serde(default)]
    pub failed_derivation: Option<DerivationId>,
    /// What evidence was attempted.
    pub evidence_attempted: String,
    /// What may be done next.
    pub allowed_next_action: String,
    /// What it blocks downstream.
    pub blocked_downstream: String,
    /// The artifact that would remedy it.
    pub required_remediation_artifact: String,
    /// The author (must be the actor recording it).
    pub author: ActorId,
    /// The reviewer, if reviewed.
    #[serde(default)]
    pub reviewer: Option<ActorId>,
    /// When (defaults to the command's time).
    #[serde(default)]
    pub timestamp: Option<Timestamp>,
}

/// Where a derivation stands.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DerivationStatus {
    /// Current.
    Active,
    /// Replaced by a re-derivation (kept).
    Superseded,
    /// Invalidated by a rollback or by an upstream re-derivation (kept).
    Invalidated,
}

/// A derivation as the state holds it.
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
pub struct Derivation {
    /// The record as written (never edited).
    pub record: DerivationRecord,
    /// The reviewer, once reviewed.
    pub reviewed_by: Option<ActorId>,
    /// Its status.
    pub status: DerivationStatus,
    /// What superseded it.
    pub superseded_by: Option<DerivationId>,
    /// Consumers it was handed off to.
    pub handed_to: Vec<ConsumerId>,
}

impl Derivation {
    /// Whether the value is eligible for lock: tier A/B (or n/a) and declared lockable,
    /// reviewed, and neither superseded nor invalidated.
    pub fn eligible_for_lock(&self) -> bool {
        self.status == DerivationStatus::Active
            && self.reviewed_by.is_some()
            && self.record.lockability == Lockability::Lockable
            && Lockability::for_tier(self.record.cost_tier) == Lockability::Lockable
    }
}

/// A registered model version.
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
pub struct ModelRecord {
    /// The metadata as registered, canonical JSON.
    pub metadata: String,
    /// Its artifacts.
    pub artifacts: Vec<Locator>,
    /// When it was registered.
    pub registered_at: Timestamp,
}

ro_core::json_schema_for!(ContentDigest, "ContentDigest", {
    "type": "string",
    "pattern": "^(blake3|sha256):[0-9a-f]{64}$",
    "description": "A content digest: alg:<64 lowercase hex>, alg blake3 or sha256."
});

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
