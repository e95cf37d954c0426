//! Artifacts by reference and digest, gates, retention, derivations that are superseded but
//! never edited, typed INFEASIBLE records, the handoff package and model versions.
//!
//! ```
//! use ro_core::{Context, Kernel, testing::{human, t0}};
//! use ro_artifacts::{Artifacts, ArtifactCommand};
//!
//! let mut store: Kernel<Artifacts> = Kernel::new();
//! let ctx = Context::new(t0(), human("alice"));
//! let register: ArtifactCommand = serde_json::from_str(r#"{"type":"REGISTER_ARTIFACT",
//!     "ref":"runs/r-1/report.json",
//!     "digest":"blake3:1111111111111111111111111111111111111111111111111111111111111111"}"#)?;
//! store.execute(&register, &ctx)?;
//! let locator = "runs/r-1/report.json".parse()?;
//! // No PASS, no read.
//! assert_eq!(store.state().read(&locator).unwrap_err().to_string(), "artifact runs/r-1/report.json is not readable: its gate is PENDING");
//! store.execute(&serde_json::from_str(r#"{"type":"SET_ARTIFACT_GATE","ref":"runs/r-1/report.json","status":"PASS"}"#)?, &ctx)?;
//! assert!(store.state().read(&locator).is_ok());
//! // The same ref with another digest is refused: no silent mutation.
//! let changed = serde_json::from_str(r#"{"type":"REGISTER_ARTIFACT","ref":"runs/r-1/report.json",
//!     "digest":"blake3:2222222222222222222222222222222222222222222222222222222222222222"}"#)?;
//! assert_eq!(store.execute(&changed, &ctx).unwrap_err().code(), "REF_CONFLICT");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Overview
//!
//! - [`locator`]: [`Locator`]s and [`AddressTemplate`]s that render deterministically and parse
//!   back to their tokens.
//! - Artifacts ([`ArtifactRef`]): write-once by locator; gates PENDING → PASS/FAIL, and
//!   [`Artifacts::read`] refuses anything not PASS; reported digest mismatches fail the gate
//!   (or only warn) per artifact class; retention per class by count and age (calendar or
//!   trading days), expiring into tombstones that keep the record.
//! - Derivations ([`DerivationRecord`]): the signed template fields; tiers A/B may be lockable,
//!   tier C never, tier D only as a typed [`InfeasibleRecord`]; review by someone other than
//!   the author; supersede (never edit) invalidates every transitive dependent and notifies
//!   consumers it was handed to; rollback invalidates and records why.
//! - [`Artifacts::handoff_package`]: values eligible for lock, values blocking, reviewers, and
//!   the attestation that no forbidden action was recorded.
//! - Model versions for the registry (the promotion path lives in ro-admin).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod class_index;
pub mod locator;
pub mod model;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use class_index::ClassIndex;
use ro_core::{ActorId, Context, Decider, EventMeta, InvariantViolation, Reason, Timestamp};
use ro_policy::{Action, Day, require_distinct};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use locator::{AddressTemplate, Locator, LocatorError};
pub use model::{
    Artifact, ArtifactClass, ArtifactRef, ConsumerId, ContentDigest, CostTier, Derivation,
    DerivationId, DerivationRecord, DerivationStatus, DigestAlg, Gate, InfeasibleReason,
    InfeasibleRecord, Lockability, MismatchPosture, ModelRecord, ModelVersion, RetentionPolicy,
    StoryId,
};

/// The class artifacts belong to when none is named.
pub const DEFAULT_CLASS: &str = "default";
pub use ro_core::text::MAX_TEXT_LEN;
/// The most artifacts one expiry pass tombstones (the rest wait for the next pass).
pub const MAX_EXPIRED_PER_PASS: usize = 10_000;
/// The largest model metadata accepted, as canonical JSON bytes.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// What may be asked of the artifact store. `"type"` names the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum ArtifactCommand {
    /// Registers an artifact (idempotent for the same digest; refused for another).
    RegisterArtifact {
        /// Where it lives.
        #[serde(rename = "ref")]
        locator: Locator,
        /// Its digest, `alg:hex`.
        digest: ContentDigest,
        /// The digest's algorithm (defaults to the digest's prefix; must agree with it).
        #[serde(default)]
        digest_alg: Option<DigestAlg>,
        /// Its size.
        #[serde(default)]
        size_bytes: Option<u64>,
        /// Its content's schema version.
        #[serde(default)]
        schema_version: Option<String>,
        /// Its class (default `default`).
        #[serde(default)]
        class: Option<ArtifactClass>,
    },
    /// Records an artifact's gate result.
    SetArtifactGate {
        /// The artifact.
        #[serde(rename = "ref")]
        locator: Locator,
        /// `PASS` or `FAIL`.
        status: Gate,
    },
    /// Reports that a host read an artifact whose content did not match its digest.
    ReportDigestMismatch {
        /// The artifact.
        #[serde(rename = "ref")]
        locator: Locator,
        /// The digest the host computed.
        observed: ContentDigest,
    },
    /// Sets how a class responds to digest mismatches.
    SetMismatchPosture {
        /// The class.
        class: ArtifactClass,
        /// Fail closed (default) or warn.
        posture: MismatchPosture,
    },
    /// Sets a class's retention policy (a reason is required; shortening is human-only).
    SetRetention {
        /// The class.
        class: ArtifactClass,
        /// The policy.
        policy: RetentionPolicy,
        /// Holidays not counted as trading days.
        #[serde(default)]
        holidays: BTreeSet<Day>,
    },
    /// Tombstones every artifact whose class's retention has expired at the command's time.
    ExpireArtifacts {},
    /// Records a signed derivation.
    RecordDerivation(DerivationRecord),
    /// Reviews a derivation (the reviewer is the actor, never the author).
    ReviewDerivation {
        /// The derivation.
        derivation_id: DerivationId,
    },
    /// Re-derives a value: the prior derivation is superseded (kept) and its dependents
    /// invalidated.
    SupersedeDerivation {
        /// The derivation to supersede.
        derivation_id: DerivationId,
        /// The full new record (same story and value name, new id).
        replacement: DerivationRecord,
    },
    /// Records a typed INFEASIBLE.
    RecordInfeasible(InfeasibleRecord),
    /// Invalidates a derivation and its dependents (a reason is required).
    RollbackDerivation {
        /// The derivation.
        derivation_id: DerivationId,
    },
    /// Hands a story's eligible values to a downstream consumer.
    HandOff {
        /// The story.
        story: StoryId,
        /// Who receives them.
        consumer: ConsumerId,
    },
    /// Records that a forbidden action happened in a story (the attestation then fails).
    RecordViolation {
        /// The story.
        story: StoryId,
        /// What happened.
        description: String,
    },
    /// Registers a model version with its metadata (an object with at least `version`).
    RegisterModel {
        /// The metadata.
        metadata: Value,
        /// Its artifacts.
        #[serde(default)]
        artifacts: Vec<Locator>,
    },
}

// The guards' facts of every artifact command (see `ro_policy::facts`). Shortening a
// retention takes two steps; actions that make the plane safer (extending a retention, rolling
// a derivation back, recording a violation) pass a lockdown by their action.
ro_policy::command_facts! { ArtifactCommand;
    RegisterArtifact = "REGISTER_ARTIFACT":;
    SetArtifactGate = "SET_ARTIFACT_GATE":;
    ReportDigestMismatch = "REPORT_DIGEST_MISMATCH":;
    SetMismatchPosture = "SET_MISMATCH_POSTURE":;
    SetRetention = "SET_RETENTION": when_loosening;
    ExpireArtifacts = "EXPIRE_ARTIFACTS":;
    RecordDerivation = "RECORD_DERIVATION":;
    ReviewDerivation = "REVIEW_DERIVATION":;
    SupersedeDerivation = "SUPERSEDE_DERIVATION":;
    RecordInfeasible = "RECORD_INFEASIBLE":;
    RollbackDerivation = "ROLLBACK_DERIVATION":;
    HandOff = "HAND_OFF":;
    RecordViolation = "RECORD_VIOLATION":;
    RegisterModel = "REGISTER_MODEL":;
}

/// What happened in the artifact store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum ArtifactEvent {
    /// An artifact was registered (gate PENDING).
    ArtifactRegistered {
        /// The reference.
        artifact: ArtifactRef,
        /// Its class.
        class: ArtifactClass,
    },
    /// A gate was set.
    GateSet {
        /// After.
        after: Gate,
        /// Before.
        before: Gate,
        /// The artifact.
        #[serde(rename = "ref")]
        locator: Locator,
    },
    /// A digest mismatch was reported.
    DigestMismatchDetected {
        /// The artifact.
        #[serde(rename = "ref")]
        locator: Locator,
        /// The registered digest.
        expected: ContentDigest,
        /// The digest observed.
        observed: ContentDigest,
        /// The class's posture.
        posture: MismatchPosture,
        /// The gate after (FAIL when failing closed).
        gate: Gate,
    },
    /// A class's mismatch posture was set.
    MismatchPostureSet {
        /// The class.
        class: ArtifactClass,
        /// Before.
        before: MismatchPosture,
        /// After.
        after: MismatchPosture,
    },
    /// A class's retention changed.
    RetentionChanged {
        /// The class.
        class: ArtifactClass,
        /// Before (none at first).
        before: Option<RetentionPolicy>,
        /// After.
        after: RetentionPolicy,
        /// Holidays after.
        holidays: BTreeSet<Day>,
        /// Who.
        actor: ActorId,
        /// Why.
        reason: Reason,
    },
    /// Retention expired an artifact: reads are refused, the record stays.
    ArtifactTombstoned {
        /// The artifact.
        #[serde(rename = "ref")]
        locator: Locator,
        /// Its class.
        class: ArtifactClass,
        /// The policy that expired it.
        policy: RetentionPolicy,
    },
    /// A derivation was recorded.
    DerivationRecorded {
        /// The record.
        record: DerivationRecord,
    },
    /// A derivation was reviewed.
    DerivationReviewed {
        /// The derivation.
        derivation_id: DerivationId,
        /// The reviewer.
        reviewer: ActorId,
    },
    /// A derivation was superseded by a re-derivation.
    DerivationSuperseded {
        /// The prior derivation (kept).
        derivation_id: DerivationId,
        /// Its replacement.
        replacement_id: DerivationId,
    },
    /// Derivations were invalidated because of `cause`.
    DerivationsInvalidated {
        /// The derivation whose change caused it.
        cause: DerivationId,
        /// Every transitive dependent invalidated, sorted.
        invalidated: Vec<DerivationId>,
    },
    /// A consumer that received a value was told it no longer stands.
    DownstreamNotified {
        /// The value's derivation.
        derivation_id: DerivationId,
        /// The consumer.
        consumer: ConsumerId,
    },
    /// A re-derivation changed the cost tier; lockability was re-evaluated.
    LockabilityReevaluated {
        /// The new derivation.
        derivation_id: DerivationId,
        /// The tier before.
        from_tier: CostTier,
        /// The tier after.
        to_tier: CostTier,
        /// The most lockability the new tier allows.
        lockability: Lockability,
    },
    /// A typed INFEASIBLE was recorded.
    InfeasibleRecorded {
        /// The record.
        record: InfeasibleRecord,
    },
    /// Derivations were rolled back.
    DerivationRolledBack {
        /// The derivation rolled back.
        derivation_id: DerivationId,
        /// It and every transitive dependent invalidated, sorted.
        affected: Vec<DerivationId>,
        /// Who.
        operator: ActorId,
        /// Why.
        reason: Reason,
    },
    /// A story's eligible values were handed to a consumer.
    HandedOff {
        /// The story.
        story: StoryId,
        /// The consumer.
        consumer: ConsumerId,
        /// The values handed off.
        derivations: Vec<DerivationId>,
    },
    /// A forbidden action was recorded against a story.
    ViolationRecorded {
        /// The story.
        story: StoryId,
        /// What happened.
        description: String,
    },
    /// A model version was registered.
    ModelRegistered {
        /// The version.
        version: ModelVersion,
        /// Its metadata, canonical JSON.
        metadata: String,
        /// Its artifacts.
        artifacts: Vec<Locator>,
    },
}

impl ro_core::Event for ArtifactEvent {
    const SCHEMA_VERSION: u32 = 1;
}

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

/// The handoff package of a story, a pure projection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HandoffPackage {
    /// The story.
    pub story: StoryId,
    /// Values eligible for lock: tier A/B, reviewed, neither superseded nor invalidated.
    pub eligible_for_lock: Vec<DerivationId>,
    /// Values blocking the lock: tier C, unreviewed, and typed INFEASIBLE records.
    pub blocking: Vec<DerivationId>,
    /// Every derivation of the story with its standing.
    pub derivations: Vec<HandoffEntry>,
    /// The typed INFEASIBLE records.
    pub infeasible: Vec<InfeasibleRecord>,
    /// The attestation that no forbidden action was recorded.
    pub attestation: Attestation,
}

/// One derivation in a handoff package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HandoffEntry {
    /// The derivation.
    pub derivation_id: DerivationId,
    /// The value's name.
    pub value_name: String,
    /// The value.
    pub value: String,
    /// Units.
    pub units: String,
    /// Cost tier.
    pub cost_tier: CostTier,
    /// Declared lockability.
    pub lockability: Lockability,
    /// Reviewer, if reviewed.
    pub reviewer: Option<ActorId>,
    /// `active`, `superseded` or `invalidated`.
    pub status: String,
}

/// Whether the story's journal records any forbidden action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Attestation {
    /// True when no violation was recorded.
    pub no_forbidden_action: bool,
    /// The violations recorded.
    pub violations: Vec<String>,
}

/// The artifact store's state.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
pub struct Artifacts {
    /// Boxed: a registration inserts into the middle of this map, and a B-tree insert shifts
    /// the values after it; a pointer shifts far cheaper than a whole record.
    artifacts: BTreeMap<Locator, Box<Artifact>>,
    /// Each class's artifacts in (registration time, locator) order (see `class_index`).
    #[schemars(with = "Vec<(Timestamp, Locator)>")]
    by_class: BTreeMap<ArtifactClass, ClassIndex>,
    dependents: BTreeMap<DerivationId, BTreeSet<DerivationId>>,
    derivations: BTreeMap<DerivationId, Derivation>,
    infeasible: BTreeMap<DerivationId, InfeasibleRecord>,
    models: BTreeMap<ModelVersion, ModelRecord>,
    postures: BTreeMap<ArtifactClass, MismatchPosture>,
    retention: BTreeMap<ArtifactClass, (RetentionPolicy, BTreeSet<Day>)>,
    violations: BTreeMap<StoryId, Vec<String>>,
}

/// A record's author is the actor recording it: nobody signs in another's name.
fn check_author(author: &ActorId, ctx: &Context) -> Result<(), ArtifactRejection> {
    if *author != ctx.actor.id {
        return Err(ArtifactRejection::Invalid(format!(
            "author {author} is not the actor recording it ({})",
            ctx.actor.id
        )));
    }
    Ok(())
}

/// Checks free text (see [`ro_core::text::check_text`]); `required` refuses blank text.
fn check_text(field: &str, text: &str, required: bool) -> Result<(), ArtifactRejection> {
    ro_core::text::check_text(text, required)
        .map_err(|e| ArtifactRejection::Invalid(format!("{field} {e}")))
}

fn default_class() -> ArtifactClass {
    // "default" is a valid class id.
    ArtifactClass::new(DEFAULT_CLASS).unwrap_or_else(|_| unreachable_class())
}

#[allow(clippy::panic)] // only reached if the id rules stop admitting "default": a bug
fn unreachable_class() -> ArtifactClass {
    panic!("\"default\" is a valid class")
}

impl Artifacts {
    /// An artifact's record.
    pub fn artifact(&self, locator: &Locator) -> Option<&Artifact> {
        self.artifacts.get(locator).map(|a| &**a)
    }

    /// How many artifacts are registered (tombstoned ones included).
    pub fn len(&self) -> usize {
        self.artifacts.len()
    }

    /// Whether no artifact is registered.
    pub fn is_empty(&self) -> bool {
        self.artifacts.is_empty()
    }

    /// Reads an artifact's reference: refused unless registered, not tombstoned and PASS.
    pub fn read(&self, locator: &Locator) -> Result<&ArtifactRef, ArtifactRejection> {
        let a = self
            .artifacts
            .get(locator)
            .ok_or_else(|| ArtifactRejection::UnknownArtifact(locator.clone()))?;
        if a.tombstoned_at.is_some() {
            return Err(ArtifactRejection::Tombstoned(locator.clone()));
        }
        if a.gate != Gate::Pass {
            let gate = match a.gate {
                Gate::Pending => "PENDING",
                Gate::Fail => "FAIL",
                Gate::Pass => "PASS",
            };
            return Err(ArtifactRejection::NotReadable {
                locator: locator.clone(),
                why: format!("its gate is {gate}"),
            });
        }
        Ok(&a.artifact)
    }

    /// A derivation.
    pub fn derivation(&self, id: &DerivationId) -> Option<&Derivation> {
        self.derivations.get(id)
    }

    /// A model version.
    pub fn model(&self, version: &ModelVersion) -> Option<&ModelRecord> {
        self.models.get(version)
    }

    /// The ro-policy action a command asks for (for the plane's authorization): changing
    /// retention is `SHORTEN_RETENTION` when it keeps less than before in any way.
    pub fn action_of(&self, command: &ArtifactCommand) -> Action {
        use ArtifactCommand as C;
        match command {
            C::RegisterArtifact { .. } => Action::RegisterArtifact,
            C::SetArtifactGate { .. } | C::ReportDigestMismatch { .. } => Action::SetArtifactGate,
            C::SetMismatchPosture { .. } => Action::SetMismatchPosture,
            C::SetRetention { class, policy, .. } => match self.retention.get(class) {
                Some((before, _)) if !policy.shortens(before) => Action::ExtendRetention,
                None => Action::ExtendRetention,
                Some(_) => Action::ShortenRetention,
            },
            C::ExpireArtifacts {} => Action::ExpireArtifacts,
            C::RecordDerivation(_) => Action::RecordDerivation,
            C::ReviewDerivation { .. } => Action::ReviewDerivation,
            C::SupersedeDerivation { .. } => Action::SupersedeDerivation,
            C::RecordInfeasible(_) => Action::RecordInfeasible,
            C::RollbackDerivation { .. } => Action::RollbackDerivation,
            C::HandOff { .. } => Action::HandOff,
            C::RecordViolation { .. } => Action::RecordViolation,
            C::RegisterModel { .. } => Action::RegisterModel,
        }
    }

    /// The handoff package of `story`.
    pub fn handoff_package(&self, story: &StoryId) -> HandoffPackage {
        let mut eligible = Vec::new();
        let mut blocking = Vec::new();
        let mut entries = Vec::new();
        for (id, d) in self
            .derivations
            .iter()
            .filter(|(_, d)| &d.record.story == story)
        {
            let status = match d.status {
                DerivationStatus::Active => "active",
                DerivationStatus::Superseded => "superseded",
                DerivationStatus::Invalidated => "invalidated",
            };
            if d.eligible_for_lock() {
                eligible.push(id.clone());
            } else if d.status == DerivationStatus::Active {
                blocking.push(id.clone());
            }
            entries.push(HandoffEntry {
                derivation_id: id.clone(),
                value_name: d.record.value_name.clone(),
                value: d.record.value.clone(),
                units: d.record.units.clone(),
                cost_tier: d.record.cost_tier,
                lockability: d.record.lockability,
                reviewer: d.reviewed_by.clone(),
                status: status.into(),
            });
        }
        let infeasible: Vec<InfeasibleRecord> = self
            .infeasible
            .values()
            .filter(|r| &r.story == story)
            .cloned()
            .collect();
        blocking.extend(infeasible.iter().map(|r| r.infeasible_id.clone()));
        blocking.sort();
        let violations = self.violations.get(story).cloned().unwrap_or_default();
        HandoffPackage {
            story: story.clone(),
            eligible_for_lock: eligible,
            blocking,
            derivations: entries,
            infeasible,
            attestation: Attestation {
                no_forbidden_action: violations.is_empty(),
                violations,
            },
        }
    }

    /// Every active transitive dependent of `root` (not `root` itself), sorted.
    pub fn transitive_dependents(&self, root: &DerivationId) -> Vec<DerivationId> {
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([root.clone()]);
        while let Some(id) = queue.pop_front() {
            for dep in self.dependents.get(&id).into_iter().flatten() {
                if self
                    .derivations
                    .get(dep)
                    .is_some_and(|d| d.status == DerivationStatus::Active)
                    && seen.insert(dep.clone())
                {
                    queue.push_back(dep.clone());
                }
            }
        }
        seen.remove(root);
        seen.into_iter().collect()
    }

    fn active(&self, id: &DerivationId) -> Result<&Derivation, ArtifactRejection> {
        let d = self
            .derivations
            .get(id)
            .ok_or_else(|| ArtifactRejection::UnknownDerivation(id.clone()))?;
        match d.status {
            DerivationStatus::Active => Ok(d),
            DerivationStatus::Superseded => {
                Err(ArtifactRejection::NotActive(id.clone(), "superseded"))
            }
            DerivationStatus::Invalidated => {
                Err(ArtifactRejection::NotActive(id.clone(), "invalidated"))
            }
        }
    }

    fn check_record(
        &self,
        r: &DerivationRecord,
        ctx: &Context,
    ) -> Result<DerivationRecord, ArtifactRejection> {
        if self.derivations.contains_key(&r.derivation_id)
            || self.infeasible.contains_key(&r.derivation_id)
        {
            return Err(ArtifactRejection::DerivationExists(r.derivation_id.clone()));
        }
        for (field, text) in [
            ("value_name", &r.value_name),
            ("value", &r.value),
            ("units", &r.units),
            ("git_sha", &r.git_sha),
            ("code_version", &r.code_version),
            ("repro_command", &r.repro_command),
            ("notes", &r.notes),
        ] {
            // Which of these must be filled is checked next, with why.
            check_text(field, text, false)?;
        }
        for (field, text) in [
            ("value_name", &r.value_name),
            ("git_sha", &r.git_sha),
            ("repro_command", &r.repro_command),
        ] {
            if text.trim().is_empty() {
                return Err(ArtifactRejection::Invalid(format!(
                    "{field} is required: every value carries its provenance"
                )));
            }
        }
        if r.artifact_path.is_none() && r.run_id.is_none() {
            return Err(ArtifactRejection::Invalid(
                "a signed derivation names its artifact_path or run_id".into(),
            ));
        }
        check_author(&r.author, ctx)?;
        if r.reviewer.is_some() {
            return Err(ArtifactRejection::Invalid(
                "reviewer is set by REVIEW_DERIVATION, not by the author".into(),
            ));
        }
        if r.depends_on.contains(&r.derivation_id) {
            return Err(ArtifactRejection::Invalid(
                "a derivation cannot depend on itself".into(),
            ));
        }
        for upstream in &r.depends_on {
            // Only a standing value can be built on.
            self.active(upstream)?;
        }
        match (r.cost_tier, r.lockability) {
            (CostTier::D, _) => {
                return Err(ArtifactRejection::Lockability {
                    tier: CostTier::D,
                    declared: r.lockability,
                    why: "tier D is unsupported: record a typed INFEASIBLE (reason cost-data)",
                });
            }
            (_, Lockability::Infeasible) => {
                return Err(ArtifactRejection::Lockability {
                    tier: r.cost_tier,
                    declared: r.lockability,
                    why: "an infeasible value is recorded with RECORD_INFEASIBLE, not as a derivation",
                });
            }
            (CostTier::C, Lockability::Lockable) => {
                return Err(ArtifactRejection::Lockability {
                    tier: CostTier::C,
                    declared: r.lockability,
                    why: "tier C is non-lockable context only; no approval promotes it",
                });
            }
            _ => {}
        }
        let mut record = r.clone();
        record.timestamp = Some(r.timestamp.unwrap_or(ctx.at));
        Ok(record)
    }

    fn expire(&self, at: Timestamp) -> Vec<ArtifactEvent> {
        let mut out = Vec::new();
        for (class, (policy, holidays)) in &self.retention {
            let Some(members) = self.by_class.get(class) else {
                continue;
            };
            let today = Day::of(at);
            let cutoff_day = if policy.trading_days {
                let mut day = today;
                let mut counted = 0;
                while counted < policy.keep_days {
                    day = day.minus(1);
                    if !day.is_weekend() && !holidays.contains(&day) {
                        counted += 1;
                    }
                }
                day
            } else {
                today.minus(i32::try_from(policy.keep_days).unwrap_or(i32::MAX))
            };
            let keep_last = usize::try_from(policy.keep_last).unwrap_or(usize::MAX);
            let alive = members.iter().rev().filter(|(_, l)| {
                self.artifacts
                    .get(*l)
                    .is_some_and(|a| a.tombstoned_at.is_none())
            });
            for (registered_at, locator) in alive.skip(keep_last) {
                let too_old = if policy.trading_days {
                    Day::of(registered_at) < cutoff_day
                } else {
                    at.since(registered_at) >= time::Duration::days(i64::from(policy.keep_days))
                };
                if too_old {
                    out.push(ArtifactEvent::ArtifactTombstoned {
                        locator: locator.clone(),
                        class: class.clone(),
                        policy: *policy,
                    });
                    if out.len() >= MAX_EXPIRED_PER_PASS {
                        return out;
                    }
                }
            }
        }
        out
    }
}

impl Decider for Artifacts {
    type Command = ArtifactCommand;
    type Event = ArtifactEvent;
    type Rejection = ArtifactRejection;

    fn decide(
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
                Ok(vec![E::ArtifactRegistered {
                    artifact: ArtifactRef {
                        locator: locator.clone(),
                        digest: *digest,
                        digest_alg: digest.alg,
                        schema_version: schema_version.clone(),
                        size_bytes: *size_bytes,
                    },
                    class: class.clone().unwrap_or_else(default_class),
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
                    class: class.clone(),
                    before,
                    after: *posture,
                }])
            }
            C::SetRetention {
                class,
                policy,
                holidays,
            } => {
                let reason = ctx
                    .reason
                    .clone()
                    .ok_or(R::ReasonRequired("SET_RETENTION"))?;
                if policy.keep_days > 36_500 {
                    return Err(R::Invalid("keep_days is at most 36500".into()));
                }
                if holidays.len() > 10_000 {
                    return Err(R::Invalid("at most 10000 holidays".into()));
                }
                let before = self.retention.get(class);
                if before.is_some_and(|(p, h)| p == policy && h == holidays) {
                    return Ok(Vec::new());
                }
                Ok(vec![E::RetentionChanged {
                    class: class.clone(),
                    before: before.map(|(p, _)| *p),
                    after: *policy,
                    holidays: holidays.clone(),
                    actor: ctx.actor.id.clone(),
                    reason,
                }])
            }
            C::ExpireArtifacts {} => Ok(self.expire(ctx.at)),
            C::RecordDerivation(record) => {
                let record = self.check_record(record, ctx)?;
                Ok(vec![E::DerivationRecorded { record }])
            }
            C::ReviewDerivation { derivation_id } => {
                let d = self.active(derivation_id)?;
                require_distinct("reviewer-not-author", &d.record.author, &ctx.actor.id)
                    .map_err(|e| R::SeparationOfDuties(e.to_string()))?;
                if d.reviewed_by.is_some() {
                    return Ok(Vec::new());
                }
                Ok(vec![E::DerivationReviewed {
                    derivation_id: derivation_id.clone(),
                    reviewer: ctx.actor.id.clone(),
                }])
            }
            C::SupersedeDerivation {
                derivation_id,
                replacement,
            } => {
                let old = self.active(derivation_id)?;
                let record = self.check_record(replacement, ctx)?;
                if record.story != old.record.story || record.value_name != old.record.value_name {
                    return Err(R::Invalid(
                        "a replacement re-derives the same story and value_name".into(),
                    ));
                }
                if record.depends_on.contains(derivation_id) {
                    return Err(R::Invalid(
                        "a replacement cannot depend on what it supersedes".into(),
                    ));
                }
                let new_id = record.derivation_id.clone();
                let (from_tier, to_tier) = (old.record.cost_tier, record.cost_tier);
                let invalidated = self.transitive_dependents(derivation_id);
                let mut events = vec![
                    E::DerivationRecorded { record },
                    E::DerivationSuperseded {
                        derivation_id: derivation_id.clone(),
                        replacement_id: new_id.clone(),
                    },
                ];
                if from_tier != to_tier {
                    events.push(E::LockabilityReevaluated {
                        derivation_id: new_id,
                        from_tier,
                        to_tier,
                        lockability: Lockability::for_tier(to_tier),
                    });
                }
                let mut notify: Vec<(DerivationId, ConsumerId)> = old
                    .handed_to
                    .iter()
                    .map(|c| (derivation_id.clone(), c.clone()))
                    .collect();
                for id in &invalidated {
                    if let Some(d) = self.derivations.get(id) {
                        notify.extend(d.handed_to.iter().map(|c| (id.clone(), c.clone())));
                    }
                }
                if !invalidated.is_empty() {
                    events.push(E::DerivationsInvalidated {
                        cause: derivation_id.clone(),
                        invalidated,
                    });
                }
                events.extend(notify.into_iter().map(|(derivation_id, consumer)| {
                    E::DownstreamNotified {
                        derivation_id,
                        consumer,
                    }
                }));
                Ok(events)
            }
            C::RecordInfeasible(r) => {
                if self.derivations.contains_key(&r.infeasible_id)
                    || self.infeasible.contains_key(&r.infeasible_id)
                {
                    return Err(R::DerivationExists(r.infeasible_id.clone()));
                }
                for (field, text) in [
                    ("trigger", &r.trigger),
                    ("evidence_attempted", &r.evidence_attempted),
                    ("allowed_next_action", &r.allowed_next_action),
                    ("blocked_downstream", &r.blocked_downstream),
                    (
                        "required_remediation_artifact",
                        &r.required_remediation_artifact,
                    ),
                ] {
                    check_text(field, text, false)?;
                    if text.trim().is_empty() {
                        return Err(R::Invalid(format!(
                            "{field} is required: an INFEASIBLE is a full record, never a placeholder"
                        )));
                    }
                }
                check_author(&r.author, ctx)?;
                if let Some(reviewer) = &r.reviewer {
                    require_distinct("reviewer-not-author", &r.author, reviewer)
                        .map_err(|e| R::SeparationOfDuties(e.to_string()))?;
                }
                if let Some(failed) = &r.failed_derivation
                    && !self.derivations.contains_key(failed)
                {
                    return Err(R::UnknownDerivation(failed.clone()));
                }
                let mut record = r.clone();
                record.timestamp = Some(r.timestamp.unwrap_or(ctx.at));
                Ok(vec![E::InfeasibleRecorded { record }])
            }
            C::RollbackDerivation { derivation_id } => {
                let reason = ctx
                    .reason
                    .clone()
                    .ok_or(R::ReasonRequired("ROLLBACK_DERIVATION"))?;
                self.active(derivation_id)?;
                let mut affected = self.transitive_dependents(derivation_id);
                affected.push(derivation_id.clone());
                affected.sort();
                let notify: Vec<ArtifactEvent> = affected
                    .iter()
                    .filter_map(|id| self.derivations.get(id).map(|d| (id, d)))
                    .flat_map(|(id, d)| {
                        d.handed_to.iter().map(move |c| E::DownstreamNotified {
                            derivation_id: id.clone(),
                            consumer: c.clone(),
                        })
                    })
                    .collect();
                let mut events = vec![E::DerivationRolledBack {
                    derivation_id: derivation_id.clone(),
                    affected,
                    operator: ctx.actor.id.clone(),
                    reason,
                }];
                events.extend(notify);
                Ok(events)
            }
            C::HandOff { story, consumer } => {
                let package = self.handoff_package(story);
                if package.eligible_for_lock.is_empty() {
                    return Err(R::Invalid(format!(
                        "story {story} has no value eligible for lock"
                    )));
                }
                if !package.attestation.no_forbidden_action {
                    return Err(R::Invalid(format!(
                        "story {story} recorded a forbidden action: its attestation fails"
                    )));
                }
                Ok(vec![E::HandedOff {
                    story: story.clone(),
                    consumer: consumer.clone(),
                    derivations: package.eligible_for_lock,
                }])
            }
            C::RecordViolation { story, description } => {
                check_text("description", description, false)?;
                if description.trim().is_empty() {
                    return Err(R::Invalid("description is required".into()));
                }
                Ok(vec![E::ViolationRecorded {
                    story: story.clone(),
                    description: description.clone(),
                }])
            }
            C::RegisterModel {
                metadata,
                artifacts,
            } => {
                let Some(version) = metadata.get("version").and_then(Value::as_str) else {
                    return Err(R::Invalid(
                        "metadata is an object with a string \"version\"".into(),
                    ));
                };
                let version = ModelVersion::new(version).map_err(|e| R::Invalid(e.to_string()))?;
                let canonical = ro_core::canonical::value_to_canonical_vec(metadata)
                    .map_err(|e| R::Invalid(format!("metadata: {e}")))?;
                if canonical.len() > MAX_METADATA_BYTES {
                    return Err(R::Invalid(format!(
                        "metadata is larger than {MAX_METADATA_BYTES} bytes"
                    )));
                }
                let canonical =
                    String::from_utf8(canonical).map_err(|e| R::Invalid(e.to_string()))?;
                if let Some(missing) = artifacts.iter().find(|l| !self.artifacts.contains_key(*l)) {
                    return Err(R::UnknownArtifact(missing.clone()));
                }
                match self.models.get(&version) {
                    Some(m) if m.metadata == canonical && &m.artifacts == artifacts => {
                        Ok(Vec::new())
                    }
                    Some(_) => Err(R::ModelExists(version)),
                    None => Ok(vec![E::ModelRegistered {
                        version,
                        metadata: canonical,
                        artifacts: artifacts.clone(),
                    }]),
                }
            }
        }
    }

    fn evolve(&mut self, event: &ArtifactEvent, meta: &EventMeta<'_>) {
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
            E::RetentionChanged {
                class,
                after,
                holidays,
                ..
            } => {
                self.retention
                    .insert(class.clone(), (*after, holidays.clone()));
            }
            E::ArtifactTombstoned { locator, .. } => {
                if let Some(a) = self.artifacts.get_mut(locator) {
                    a.tombstoned_at = Some(meta.at);
                }
            }
            E::DerivationRecorded { record } => {
                for upstream in &record.depends_on {
                    self.dependents
                        .entry(upstream.clone())
                        .or_default()
                        .insert(record.derivation_id.clone());
                }
                self.derivations.insert(
                    record.derivation_id.clone(),
                    Derivation {
                        record: record.clone(),
                        reviewed_by: None,
                        status: DerivationStatus::Active,
                        superseded_by: None,
                        handed_to: Vec::new(),
                    },
                );
            }
            E::DerivationReviewed {
                derivation_id,
                reviewer,
            } => {
                if let Some(d) = self.derivations.get_mut(derivation_id) {
                    d.reviewed_by = Some(reviewer.clone());
                }
            }
            E::DerivationSuperseded {
                derivation_id,
                replacement_id,
            } => {
                if let Some(d) = self.derivations.get_mut(derivation_id) {
                    d.status = DerivationStatus::Superseded;
                    d.superseded_by = Some(replacement_id.clone());
                }
            }
            E::DerivationsInvalidated { invalidated, .. } => {
                for id in invalidated {
                    if let Some(d) = self.derivations.get_mut(id) {
                        d.status = DerivationStatus::Invalidated;
                    }
                }
            }
            E::DerivationRolledBack { affected, .. } => {
                for id in affected {
                    if let Some(d) = self.derivations.get_mut(id) {
                        d.status = DerivationStatus::Invalidated;
                    }
                }
            }
            E::DownstreamNotified { .. } | E::LockabilityReevaluated { .. } => {}
            E::InfeasibleRecorded { record } => {
                self.infeasible
                    .insert(record.infeasible_id.clone(), record.clone());
            }
            E::HandedOff {
                consumer,
                derivations,
                ..
            } => {
                for id in derivations {
                    if let Some(d) = self.derivations.get_mut(id)
                        && !d.handed_to.contains(consumer)
                    {
                        d.handed_to.push(consumer.clone());
                    }
                }
            }
            E::ViolationRecorded { story, description } => {
                self.violations
                    .entry(story.clone())
                    .or_default()
                    .push(description.clone());
            }
            E::ModelRegistered {
                version,
                metadata,
                artifacts,
            } => {
                self.models.insert(
                    version.clone(),
                    ModelRecord {
                        metadata: metadata.clone(),
                        artifacts: artifacts.clone(),
                        registered_at: meta.at,
                    },
                );
            }
        }
    }

    fn check_invariants(&self) -> Result<(), InvariantViolation> {
        if !self.by_class.values().all(ClassIndex::is_consistent) {
            return Err(InvariantViolation(
                "a class index is out of order or miscounted".into(),
            ));
        }
        let indexed: usize = self.by_class.values().map(ClassIndex::len).sum();
        if indexed != self.artifacts.len() {
            return Err(InvariantViolation(
                "the class index disagrees with the artifacts".into(),
            ));
        }
        for (id, d) in &self.derivations {
            if matches!(d.record.cost_tier, CostTier::C | CostTier::D) && d.eligible_for_lock() {
                return Err(InvariantViolation(format!(
                    "tier {:?} derivation {id} is eligible for lock",
                    d.record.cost_tier
                )));
            }
            if d.status != DerivationStatus::Active && d.eligible_for_lock() {
                return Err(InvariantViolation(format!(
                    "{id} is not active yet eligible"
                )));
            }
            if d.reviewed_by.as_ref() == Some(&d.record.author) {
                return Err(InvariantViolation(format!(
                    "{id} was reviewed by its author"
                )));
            }
            if d.status == DerivationStatus::Active
                && let Some(up) = d.record.depends_on.iter().find(|u| {
                    self.derivations
                        .get(*u)
                        .is_some_and(|u| u.status == DerivationStatus::Invalidated)
                })
            {
                return Err(InvariantViolation(format!(
                    "{id} is active but depends on invalidated {up}"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(feature = "testing")]
pub mod testing;
