//! [`ArtifactCommand`]: what may be asked of the artifact store, and its facts (with the room
//! that decides each command).

use serde::{Deserialize, Serialize};

use crate::*;

/// The feature module (room) that decides an artifact command and folds its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// Artifacts, gates and digest mismatches ([`crate::store`]).
    Store,
    /// Retention and expiry ([`crate::retention`]).
    Retention,
    /// Signed derivations and INFEASIBLE records ([`crate::derivation`]).
    Derivations,
    /// Handoff packages and violations ([`crate::story`]).
    Stories,
    /// Model versions ([`crate::models`]).
    Models,
}

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
    /// Sets the addressing template a class's artifacts follow from now on (such as
    /// `runs/{run_id}/report.json`): a registration of that class whose locator does not
    /// follow it is refused, and its tokens find the artifact (the `ARTIFACTS` query).
    SetAddressing {
        /// The class.
        class: ArtifactClass,
        /// The template.
        template: String,
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
    /// Defines what a story owes: the values it must derive (or record INFEASIBLE) before it
    /// is handed off, those a risk owner reviews before they are eligible for lock (cost,
    /// capacity), and its threats to validity (carried in the handoff package).
    DefineStory {
        /// The story.
        story: StoryId,
        /// The value names it must answer for.
        #[serde(default)]
        required_values: std::collections::BTreeSet<String>,
        /// The value names a risk owner reviews.
        #[serde(default)]
        risk_reviewed_values: std::collections::BTreeSet<String>,
        /// What could make its values wrong.
        #[serde(default)]
        threats_to_validity: String,
    },
    /// A risk owner's review of a derivation (a holder of `RISK_REVIEW`, never its author).
    RiskReview {
        /// The derivation.
        derivation_id: DerivationId,
        /// The risk owner's note (carried in the handoff package).
        note: String,
    },
    /// Stops a story on a question only an operator can answer (STOP and ask): the story is
    /// not handed off until the blocker is decided.
    RaiseBlocker {
        /// The story.
        story: StoryId,
        /// The blocker's id (1 to 64 letters, digits, `-`, `_`).
        blocker_id: String,
        /// The question.
        question: String,
    },
    /// Decides a blocker (human-only).
    DecideBlocker {
        /// The story.
        story: StoryId,
        /// The blocker.
        blocker_id: String,
        /// The decision.
        decision: String,
    },
    /// Records that a forbidden action happened in a story: its attestation fails, and its
    /// values (and what rests on them) are invalidated.
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
ro_policy::command_facts! { ArtifactCommand in Room;
    RegisterArtifact = "REGISTER_ARTIFACT" in Room::Store;
    SetArtifactGate = "SET_ARTIFACT_GATE" in Room::Store;
    ReportDigestMismatch = "REPORT_DIGEST_MISMATCH" in Room::Store;
    SetMismatchPosture = "SET_MISMATCH_POSTURE" in Room::Store;
    SetAddressing = "SET_ADDRESSING" in Room::Store;
    SetRetention = "SET_RETENTION" in Room::Retention, when_loosening;
    ExpireArtifacts = "EXPIRE_ARTIFACTS" in Room::Retention;
    RecordDerivation = "RECORD_DERIVATION" in Room::Derivations;
    ReviewDerivation = "REVIEW_DERIVATION" in Room::Derivations;
    SupersedeDerivation = "SUPERSEDE_DERIVATION" in Room::Derivations;
    RecordInfeasible = "RECORD_INFEASIBLE" in Room::Derivations;
    RollbackDerivation = "ROLLBACK_DERIVATION" in Room::Derivations;
    HandOff = "HAND_OFF" in Room::Stories;
    RaiseBlocker = "RAISE_BLOCKER" in Room::Stories;
    DefineStory = "DEFINE_STORY" in Room::Stories;
    RiskReview = "RISK_REVIEW" in Room::Stories;
    DecideBlocker = "DECIDE_BLOCKER" in Room::Stories;
    RecordViolation = "RECORD_VIOLATION" in Room::Stories;
    RegisterModel = "REGISTER_MODEL" in Room::Models;
}
