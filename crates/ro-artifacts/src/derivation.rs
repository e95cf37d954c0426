//! The derivations room: signed derivations, recorded by their author, reviewed by another,
//! superseded (never edited) with every transitive dependent invalidated and notified, rolled
//! back; and typed INFEASIBLE records.

use ro_core::{Context, EventMeta};
use ro_policy::require_distinct;

use crate::*;

use crate::locator::Locator;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

ro_core::id_kind!(
    /// Identifies a derivation record.
    DerivationId,
    DerivationTag,
    "derivation id"
);

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
    /// The run id that produced it, if any (provenance only; the derivation template's
    /// `mlflow_run_id` is accepted as the same field).
    #[serde(default, alias = "mlflow_run_id")]
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
    /// The required value it answers for (see `DEFINE_STORY`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_name: Option<String>,
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

impl Artifacts {
    pub(crate) fn decide_derivation(
        &self,
        command: &ArtifactCommand,
        ctx: &Context,
    ) -> Result<Vec<ArtifactEvent>, ArtifactRejection> {
        use ArtifactCommand as C;
        use ArtifactEvent as E;
        use ArtifactRejection as R;
        match command {
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
                let notify = self.downstream_notices(&affected);
                let mut events = vec![E::DerivationRolledBack {
                    derivation_id: derivation_id.clone(),
                    affected,
                    operator: ctx.actor.id.clone(),
                    reason,
                }];
                events.extend(notify);
                Ok(events)
            }
            _ => Err(misrouted()),
        }
    }

    pub(crate) fn evolve_derivation(&mut self, event: &ArtifactEvent, _meta: &EventMeta<'_>) {
        use ArtifactEvent as E;
        match event {
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
            _ => {}
        }
    }
}
