//! [`ArtifactRejection`]: why the artifact store refused, each with a stable code.

use crate::*;

/// Why the artifact store refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtifactRejection {
    /// The command is malformed.
    #[error("invalid command: {0}")]
    Invalid(String),
    /// A reason is required.
    #[error("{0} requires a reason: say why in the command's \"reason\"")]
    ReasonRequired(&'static str),
    /// The locator is registered with another digest.
    #[error(
        "{locator} is registered with digest {existing}; artifacts are write-once: register a new ref"
    )]
    RefConflict {
        /// The locator.
        locator: Locator,
        /// The registered digest.
        existing: ContentDigest,
    },
    /// No such artifact.
    #[error("artifact {0} is not registered")]
    UnknownArtifact(Locator),
    /// The artifact may not be read.
    #[error("artifact {locator} is not readable: {why}")]
    NotReadable {
        /// The artifact.
        locator: Locator,
        /// Why.
        why: String,
    },
    /// The artifact was tombstoned.
    #[error("artifact {0} was tombstoned by retention")]
    Tombstoned(Locator),
    /// A gate can only be set to PASS or FAIL.
    #[error("a gate is set to PASS or FAIL")]
    GateValue,
    /// The derivation id is taken.
    #[error("derivation {0} already exists: records are never edited; supersede it")]
    DerivationExists(DerivationId),
    /// No such derivation.
    #[error("derivation {0} does not exist")]
    UnknownDerivation(DerivationId),
    /// The derivation is no longer active.
    #[error("derivation {0} is {1}")]
    NotActive(DerivationId, &'static str),
    /// The tier does not allow the declared lockability.
    #[error("tier {tier:?} does not allow {declared:?}: {why}")]
    Lockability {
        /// The tier.
        tier: CostTier,
        /// What was declared.
        declared: Lockability,
        /// Why.
        why: &'static str,
    },
    /// Separation of duties.
    #[error("{0}")]
    SeparationOfDuties(String),
    /// The model version exists with other metadata.
    #[error("model {0} is registered with other metadata: register a new version")]
    ModelExists(ModelVersion),
}

impl ro_core::Rejection for ArtifactRejection {
    fn code(&self) -> &'static str {
        use ArtifactRejection::*;
        match self {
            Invalid(_) => "INVALID_COMMAND",
            ReasonRequired(_) => "REASON_REQUIRED",
            RefConflict { .. } => "REF_CONFLICT",
            UnknownArtifact(_) => "UNKNOWN_ARTIFACT",
            NotReadable { .. } => "GATE_NOT_PASS",
            Tombstoned(_) => "ARTIFACT_TOMBSTONED",
            GateValue => "INVALID_COMMAND",
            DerivationExists(_) => "DERIVATION_EXISTS",
            UnknownDerivation(_) => "UNKNOWN_DERIVATION",
            NotActive(..) => "DERIVATION_NOT_ACTIVE",
            Lockability { .. } => "LOCKABILITY",
            SeparationOfDuties(_) => "SEPARATION_OF_DUTIES",
            ModelExists(_) => "MODEL_VERSION_EXISTS",
        }
    }
}
