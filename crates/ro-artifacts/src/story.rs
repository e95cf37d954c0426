//! The stories room: the handoff package of a story, the violations recorded against it (each
//! invalidates the story's values, and what rests on them) and its blockers (a question only
//! an operator answers: no handoff until it is decided).

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
    /// The story's blockers, decided or not.
    #[serde(default)]
    pub blockers: Vec<BlockerView>,
    /// Its required values and where each stands (empty until the story is defined).
    #[serde(default)]
    pub required_values: Vec<RequiredValue>,
    /// Its threats to validity.
    #[serde(default)]
    pub threats_to_validity: String,
}

/// What a story owes before it is handed off.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
pub struct StorySpec {
    /// The value names it must derive or record INFEASIBLE.
    pub required_values: BTreeSet<String>,
    /// The value names a risk owner reviews before they are eligible for lock.
    pub risk_reviewed_values: BTreeSet<String>,
    /// What could make its values wrong.
    pub threats_to_validity: String,
}

/// A risk owner's review of a value.
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
pub struct RiskNote {
    /// The risk owner.
    pub by: ActorId,
    /// The note.
    pub note: String,
}

/// Where one of a story's required values stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequiredValue {
    /// The value's name.
    pub value_name: String,
    /// `derived` (an active derivation), `infeasible` (a typed record answers for it) or
    /// `missing`.
    pub status: String,
}

/// A question that stops a story until an operator decides it.
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
pub struct Blocker {
    /// The question.
    pub question: String,
    /// Who raised it.
    pub raised_by: ActorId,
    /// The decision, once there is one.
    pub decision: Option<String>,
    /// Who decided it.
    pub decided_by: Option<ActorId>,
}

/// A blocker in a handoff package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BlockerView {
    /// Its id.
    pub blocker_id: String,
    /// The blocker.
    pub blocker: Blocker,
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
    /// The whole record, as signed off (provenance, parameters, reproduction, notes).
    pub record: DerivationRecord,
    /// The risk owner's review, when the value has one.
    #[serde(default)]
    pub risk_review: Option<RiskNote>,
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
        ctx: &Context,
    ) -> Result<Vec<ArtifactEvent>, ArtifactRejection> {
        use ArtifactCommand as C;
        use ArtifactEvent as E;
        use ArtifactRejection as R;
        match command {
            C::HandOff { story, consumer } => {
                let package = self.handoff_package(story);
                if let Some(missing) = package
                    .required_values
                    .iter()
                    .find(|v| v.status == "missing")
                {
                    return Err(R::Invalid(format!(
                        "story {story} owes required value {}: derive it, or record it INFEASIBLE naming it",
                        missing.value_name
                    )));
                }
                // A story whose every value is typed INFEASIBLE hands off its records.
                if package.eligible_for_lock.is_empty() && package.infeasible.is_empty() {
                    return Err(R::Invalid(format!(
                        "story {story} has no value eligible for lock and no INFEASIBLE record"
                    )));
                }
                if !package.attestation.no_forbidden_action {
                    return Err(R::Invalid(format!(
                        "story {story} recorded a forbidden action: its attestation fails"
                    )));
                }
                if let Some(open) = package
                    .blockers
                    .iter()
                    .find(|b| b.blocker.decision.is_none())
                {
                    return Err(R::Invalid(format!(
                        "story {story} is stopped on blocker {} ({}): an operator decides it first (DECIDE_BLOCKER)",
                        open.blocker_id, open.blocker.question
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
                // A forbidden action taints the story's values and everything resting on them.
                let mut invalidated: BTreeSet<DerivationId> = BTreeSet::new();
                for (id, _) in self.derivations.iter().filter(|(_, d)| {
                    &d.record.story == story && d.status == DerivationStatus::Active
                }) {
                    invalidated.insert(id.clone());
                    invalidated.extend(self.transitive_dependents(id));
                }
                let invalidated: Vec<DerivationId> = invalidated.into_iter().collect();
                let notify = self.downstream_notices(&invalidated);
                let mut events = vec![E::ViolationRecorded {
                    story: story.clone(),
                    description: description.clone(),
                    invalidated,
                }];
                events.extend(notify);
                Ok(events)
            }
            C::DefineStory {
                story,
                required_values,
                risk_reviewed_values,
                threats_to_validity,
            } => {
                for name in required_values.iter().chain(risk_reviewed_values) {
                    check_text("value name", name, true)?;
                }
                if required_values.len() + risk_reviewed_values.len() > 1_024 {
                    return Err(R::Invalid("at most 1024 value names".into()));
                }
                check_text("threats_to_validity", threats_to_validity, false)?;
                let spec = StorySpec {
                    required_values: required_values.clone(),
                    risk_reviewed_values: risk_reviewed_values.clone(),
                    threats_to_validity: threats_to_validity.clone(),
                };
                if self.stories.get(story) == Some(&spec) {
                    return Ok(Vec::new());
                }
                Ok(vec![E::StoryDefined {
                    story: story.clone(),
                    spec,
                    reason: ctx.reason.clone(),
                }])
            }
            C::RiskReview {
                derivation_id,
                note,
            } => {
                let d = self
                    .derivations
                    .get(derivation_id)
                    .ok_or_else(|| R::UnknownDerivation(derivation_id.clone()))?;
                check_text("note", note, true)?;
                if d.record.author == ctx.actor.id {
                    return Err(R::Invalid(
                        "a risk owner does not review a value they derived".into(),
                    ));
                }
                let review = RiskNote {
                    by: ctx.actor.id.clone(),
                    note: note.clone(),
                };
                if self.risk_reviews.get(derivation_id) == Some(&review) {
                    return Ok(Vec::new());
                }
                Ok(vec![E::RiskReviewed {
                    derivation_id: derivation_id.clone(),
                    review,
                }])
            }
            C::RaiseBlocker {
                story,
                blocker_id,
                question,
            } => {
                check_blocker_id(blocker_id)?;
                check_text("question", question, true)?;
                if let Some(existing) = self.blockers.get(story).and_then(|b| b.get(blocker_id)) {
                    if existing.question == *question {
                        return Ok(Vec::new());
                    }
                    return Err(R::Invalid(format!(
                        "blocker {blocker_id} of story {story} exists with another question"
                    )));
                }
                Ok(vec![E::BlockerRaised {
                    story: story.clone(),
                    blocker_id: blocker_id.clone(),
                    question: question.clone(),
                    by: ctx.actor.id.clone(),
                }])
            }
            C::DecideBlocker {
                story,
                blocker_id,
                decision,
            } => {
                check_text("decision", decision, true)?;
                let blocker = self
                    .blockers
                    .get(story)
                    .and_then(|b| b.get(blocker_id))
                    .ok_or_else(|| {
                        R::Invalid(format!("story {story} has no blocker {blocker_id}"))
                    })?;
                match &blocker.decision {
                    Some(d) if d == decision => Ok(Vec::new()),
                    Some(_) => Err(R::Invalid(format!(
                        "blocker {blocker_id} was decided already; raise a new one"
                    ))),
                    None => Ok(vec![E::BlockerDecided {
                        story: story.clone(),
                        blocker_id: blocker_id.clone(),
                        decision: decision.clone(),
                        by: ctx.actor.id.clone(),
                    }]),
                }
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
            E::ViolationRecorded {
                story,
                description,
                invalidated,
            } => {
                self.violations
                    .entry(story.clone())
                    .or_default()
                    .push(description.clone());
                for id in invalidated {
                    if let Some(d) = self.derivations.get_mut(id) {
                        d.status = DerivationStatus::Invalidated;
                    }
                }
            }
            E::StoryDefined { story, spec, .. } => {
                self.stories.insert(story.clone(), spec.clone());
            }
            E::RiskReviewed {
                derivation_id,
                review,
            } => {
                self.risk_reviews
                    .insert(derivation_id.clone(), review.clone());
            }
            E::BlockerRaised {
                story,
                blocker_id,
                question,
                by,
            } => {
                self.blockers.entry(story.clone()).or_default().insert(
                    blocker_id.clone(),
                    Blocker {
                        question: question.clone(),
                        raised_by: by.clone(),
                        decision: None,
                        decided_by: None,
                    },
                );
            }
            E::BlockerDecided {
                story,
                blocker_id,
                decision,
                by,
            } => {
                if let Some(b) = self
                    .blockers
                    .get_mut(story)
                    .and_then(|b| b.get_mut(blocker_id))
                {
                    b.decision = Some(decision.clone());
                    b.decided_by = Some(by.clone());
                }
            }
            _ => {}
        }
    }
}

/// Checks a blocker id: 1 to 64 ASCII letters, digits, `-` or `_`.
fn check_blocker_id(id: &str) -> Result<(), ArtifactRejection> {
    if (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(())
    } else {
        Err(ArtifactRejection::Invalid(
            "blocker_id is 1 to 64 letters, digits, - or _".into(),
        ))
    }
}
