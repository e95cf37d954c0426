//! [`PolicyEvent`]: what happened to the policy, and the room that folds each event.

use std::collections::BTreeSet;

use ro_core::{ActorId, ActorKind, Digest, Reason, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{
    Action, ActionSet, BaselineVersion, ChangeId, ComponentId, ConfigVersionRef, ConstraintId, Day,
    DeviationId, DeviationType, DeviationTypeId, LimitKind, Limits, RoleName, Rule, SecretName,
    SecretRef, SecretVersion, SubjectId, UnitId,
};

use crate::Room;

/// What happened to the policy. Every change carries enough to audit it on its own: before
/// and after where something is replaced, and the reason given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum PolicyEvent {
    /// A role was granted.
    RoleGranted {
        /// To whom.
        principal: ActorId,
        /// The role.
        role: RoleName,
        /// Its subject.
        subject: Option<SubjectId>,
        /// Whether this was the bootstrap grant of an empty plane.
        bootstrap: bool,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// A role was revoked.
    RoleRevoked {
        /// From whom.
        principal: ActorId,
        /// The role.
        role: RoleName,
        /// Its subject.
        subject: Option<SubjectId>,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// A principal was registered (`before` is null) or its kind changed.
    PrincipalKindSet {
        /// Who.
        principal: ActorId,
        /// Its kind before (none when first registered).
        before: Option<ActorKind>,
        /// Its kind from now on.
        after: ActorKind,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// A user role was defined or redefined.
    RoleDefined {
        /// The role.
        role: RoleName,
        /// Its permissions before (none when new).
        before: Option<ActionSet>,
        /// Its permissions after.
        after: ActionSet,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// A rule was added.
    RuleAdded {
        /// The rule.
        rule: Rule,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// A rule was removed.
    RuleRemoved {
        /// The rule as it was.
        rule: Rule,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// A separation-of-duties constraint was declared.
    ExclusiveRolesDefined {
        /// Its id.
        constraint: ConstraintId,
        /// The mutually exclusive roles.
        roles: BTreeSet<RoleName>,
        /// Why (required of a person or agent acting; absent on records written before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    /// Components were frozen.
    BaselineFrozen {
        /// The baseline version.
        version: BaselineVersion,
        /// The components newly frozen.
        components: BTreeSet<ComponentId>,
        /// Why (required of a person or agent acting; absent on records written before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    /// A change was requested.
    ChangeRequested {
        /// The change.
        change_id: ChangeId,
        /// The component.
        component: ComponentId,
        /// What and why.
        description: String,
        /// Whether it breaks compatibility.
        breaking: bool,
        /// Why (required of a person or agent acting; absent on records written before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    /// A change was reviewed.
    ChangeReviewed {
        /// The change.
        change_id: ChangeId,
        /// Why (required of a person or agent acting; absent on records written before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    /// A change was approved.
    ChangeApproved {
        /// The change.
        change_id: ChangeId,
        /// Why (required of a person or agent acting; absent on records written before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    /// A change was rejected.
    ChangeRejected {
        /// The change.
        change_id: ChangeId,
        /// Why (required of a person or agent acting; absent on records written before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    /// A change was applied; the baseline moved.
    ChangeApplied {
        /// The change.
        change_id: ChangeId,
        /// The component changed.
        component: ComponentId,
        /// The baseline version before.
        before: BaselineVersion,
        /// The baseline version after.
        after: BaselineVersion,
        /// Why (required of a person or agent acting; absent on records written before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    /// A config version was published.
    ConfigPublished {
        /// The version.
        config: ConfigVersionRef,
        /// Why (required of a person or agent acting; absent on records written before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    /// A secret was registered.
    SecretRegistered {
        /// The reference.
        secret: SecretRef,
        /// Why (required of a person or agent acting; absent on records written before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    /// A secret was rotated (the contract's `SecretRotationEvent`).
    SecretRotated {
        /// The secret.
        name: SecretName,
        /// The version before.
        from_version: SecretVersion,
        /// The version after.
        to_version: SecretVersion,
        /// The new value's keyed fingerprint.
        fingerprint: Digest,
        /// Who rotated it.
        actor: ActorId,
        /// Why.
        reason: Reason,
    },
    /// Economic limits were set.
    LimitsSet {
        /// The limits before (none at first).
        before: Option<Limits>,
        /// The limits after.
        after: Limits,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// The cost of a unit was recorded.
    CostRecorded {
        /// The unit.
        unit_id: UnitId,
        /// Its cost.
        cost_micros: u64,
        /// The UTC day it counts toward.
        day: Day,
    },
    /// A limit's alert threshold was crossed (once per limit per day).
    LimitAlertRaised {
        /// Which limit.
        limit: LimitKind,
        /// The day.
        day: Day,
        /// The share used, in basis points.
        used_bp: u64,
    },
    /// A unit of work was blocked by a limit (recorded with the refusal).
    CostBlocked {
        /// The unit.
        unit_id: UnitId,
        /// Its cost.
        cost_micros: u64,
        /// The day.
        day: Day,
        /// The limit it would have breached.
        limit: LimitKind,
    },
    /// A deviation type was defined or redefined.
    DeviationTypeDefined {
        /// Its name.
        deviation_type: DeviationTypeId,
        /// Before (none when new).
        before: Option<DeviationType>,
        /// After.
        after: DeviationType,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// A deviation was detected; its SLA clock runs from `detected_at`.
    DeviationOpened {
        /// Its id.
        deviation_id: DeviationId,
        /// Its type.
        deviation_type: DeviationTypeId,
        /// When it was detected.
        detected_at: Timestamp,
        /// When its SLA window closes.
        due_at: Timestamp,
        /// What was seen.
        summary: String,
    },
    /// A status update on a deviation.
    DeviationUpdated {
        /// The deviation.
        deviation_id: DeviationId,
        /// The update.
        note: String,
    },
    /// A deviation was resolved.
    DeviationResolved {
        /// The deviation.
        deviation_id: DeviationId,
        /// How.
        resolution: String,
        /// Why (required of a person or agent acting; absent on records written before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    /// A deviation's SLA window passed unresolved: escalate.
    SlaMissed {
        /// The deviation.
        deviation_id: DeviationId,
        /// The deadline that passed.
        due_at: Timestamp,
    },
    /// An attempt was refused by authorization (recorded with the refusal).
    AccessDenied {
        /// What was attempted.
        action: Action,
        /// On what.
        resource: String,
        /// The decision's reasons, sorted (`human-only`, `rule:ID`, `default-deny`).
        reasons: Vec<String>,
    },
}

impl ro_core::Event for PolicyEvent {
    const SCHEMA_VERSION: u32 = 1;
}

impl PolicyEvent {
    /// The room that folds this event.
    #[inline]
    pub fn room(&self) -> Room {
        use PolicyEvent as E;
        match self {
            E::RoleGranted { .. }
            | E::RoleRevoked { .. }
            | E::RoleDefined { .. }
            | E::PrincipalKindSet { .. }
            | E::RuleAdded { .. }
            | E::RuleRemoved { .. }
            | E::ExclusiveRolesDefined { .. }
            | E::AccessDenied { .. } => Room::Roles,
            E::BaselineFrozen { .. }
            | E::ChangeRequested { .. }
            | E::ChangeReviewed { .. }
            | E::ChangeApproved { .. }
            | E::ChangeRejected { .. }
            | E::ChangeApplied { .. } => Room::Changes,
            E::ConfigPublished { .. } => Room::Configs,
            E::SecretRegistered { .. } | E::SecretRotated { .. } => Room::Secrets,
            E::LimitsSet { .. }
            | E::CostRecorded { .. }
            | E::LimitAlertRaised { .. }
            | E::CostBlocked { .. } => Room::Limits,
            E::DeviationTypeDefined { .. }
            | E::DeviationOpened { .. }
            | E::DeviationUpdated { .. }
            | E::DeviationResolved { .. }
            | E::SlaMissed { .. } => Room::Deviations,
        }
    }
}
