//! [`ArtifactEvent`]: what happened in the artifact store, and the room that folds each event.

use serde::{Deserialize, Serialize};

use crate::*;

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
    /// A class's addressing template was set.
    AddressingSet {
        /// The class.
        class: ArtifactClass,
        /// The template before, if any.
        before: Option<String>,
        /// The template after.
        after: String,
        /// Why.
        reason: Option<Reason>,
    },
    /// A class's mismatch posture was set.
    MismatchPostureSet {
        /// The class.
        class: ArtifactClass,
        /// Before.
        before: MismatchPosture,
        /// After.
        after: MismatchPosture,
        /// Why (required of a person or agent acting; absent on records written before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
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
        /// The story's values it invalidated, with every value resting on them, sorted
        /// (absent on records written before violations invalidated).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        invalidated: Vec<DerivationId>,
    },
    /// A story's definition was set.
    StoryDefined {
        /// The story.
        story: StoryId,
        /// What it owes.
        spec: StorySpec,
        /// Why.
        reason: Option<Reason>,
    },
    /// A risk owner reviewed a derivation.
    RiskReviewed {
        /// The derivation.
        derivation_id: DerivationId,
        /// The review.
        review: RiskNote,
    },
    /// A story was stopped on a question only an operator can answer: it is not handed off
    /// until the blocker is decided.
    BlockerRaised {
        /// The story.
        story: StoryId,
        /// The blocker.
        blocker_id: String,
        /// The question.
        question: String,
        /// Who raised it.
        by: ActorId,
    },
    /// An operator decided a blocker.
    BlockerDecided {
        /// The story.
        story: StoryId,
        /// The blocker.
        blocker_id: String,
        /// The decision.
        decision: String,
        /// Who decided.
        by: ActorId,
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

impl ArtifactEvent {
    /// The room that folds this event.
    #[inline]
    pub fn room(&self) -> Room {
        use ArtifactEvent as E;
        match self {
            E::ArtifactRegistered { .. }
            | E::GateSet { .. }
            | E::DigestMismatchDetected { .. }
            | E::MismatchPostureSet { .. }
            | E::AddressingSet { .. } => Room::Store,
            E::RetentionChanged { .. } | E::ArtifactTombstoned { .. } => Room::Retention,
            E::DerivationRecorded { .. }
            | E::DerivationReviewed { .. }
            | E::DerivationSuperseded { .. }
            | E::DerivationsInvalidated { .. }
            | E::DerivationRolledBack { .. }
            | E::DownstreamNotified { .. }
            | E::LockabilityReevaluated { .. }
            | E::InfeasibleRecorded { .. } => Room::Derivations,
            E::HandedOff { .. }
            | E::ViolationRecorded { .. }
            | E::BlockerRaised { .. }
            | E::BlockerDecided { .. }
            | E::StoryDefined { .. }
            | E::RiskReviewed { .. } => Room::Stories,
            E::ModelRegistered { .. } => Room::Models,
        }
    }
}
