//! The stories room: the handoff package of a story and the violations recorded against it.

use ro_core::{ActorId, Context, EventMeta};

use crate::*;

use serde::{Deserialize, Serialize};

ro_core::id_kind!(
    /// Names a story (the unit of analysis work whose values are handed off).
    StoryId,
    StoryTag,
    "story id"
);

ro_core::id_kind!(
    /// Names a downstream consumer of handed-off values.
    ConsumerId,
    ConsumerTag,
    "consumer id"
);

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
#[schemars(rename = "StoryAttestation")]
pub struct Attestation {
    /// True when no violation was recorded.
    pub no_forbidden_action: bool,
    /// The violations recorded.
    pub violations: Vec<String>,
}

impl Artifacts {
    pub(crate) fn decide_story(
        &self,
        command: &ArtifactCommand,
        _ctx: &Context,
    ) -> Result<Vec<ArtifactEvent>, ArtifactRejection> {
        use ArtifactCommand as C;
        use ArtifactEvent as E;
        use ArtifactRejection as R;
        match command {
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
            _ => Err(misrouted()),
        }
    }

    pub(crate) fn evolve_story(&mut self, event: &ArtifactEvent, _meta: &EventMeta<'_>) {
        use ArtifactEvent as E;
        match event {
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
            _ => {}
        }
    }
}
