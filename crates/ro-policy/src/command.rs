//! [`PolicyCommand`]: what may be asked of the policy, its actions and its facts (with the room
//! that decides each command).

use std::collections::BTreeSet;

use ro_core::{ActorId, ActorKind, Digest, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{
    Action, ActionSet, BaselineVersion, ChangeId, ComponentId, ConfigName, ConfigVersion,
    ConstraintId, DeviationAction, DeviationId, DeviationTypeId, Effect, Limits, RoleName, Rule,
    RuleId, SecretName, SecretVersion, Severity, SubjectId, UnitId,
};

/// The feature module (room) that decides a policy command and folds its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// Roles, grants and rules ([`crate::roles`]).
    Roles,
    /// The baseline freeze and change requests ([`crate::change`]).
    Changes,
    /// Configuration versions ([`crate::config`]).
    Configs,
    /// Secret references ([`crate::secret`]).
    Secrets,
    /// Budgets, rate limits and recorded costs ([`crate::limits`]).
    Limits,
    /// Deviations and their SLAs ([`crate::deviation`]).
    Deviations,
}

/// What may be asked of the policy. `"type"` names the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum PolicyCommand {
    /// Grants a role, globally or for one subject.
    GrantRole {
        /// Who receives it.
        principal: ActorId,
        /// The role.
        role: RoleName,
        /// The subject it is limited to.
        #[serde(default)]
        subject: Option<SubjectId>,
    },
    /// Registers a principal once with its kind. From the first registration on, every
    /// actor must be registered and act with its registered kind.
    RegisterPrincipal {
        /// Who.
        principal: ActorId,
        /// Human, agent or service.
        kind: ActorKind,
    },
    /// Changes a registered principal's kind (two steps, humans only).
    SetPrincipalKind {
        /// Who.
        principal: ActorId,
        /// The new kind.
        kind: ActorKind,
    },
    /// Revokes a grant.
    RevokeRole {
        /// Whose.
        principal: ActorId,
        /// The role.
        role: RoleName,
        /// The subject of the grant.
        #[serde(default)]
        subject: Option<SubjectId>,
    },
    /// Defines (or redefines) a user role's permissions.
    DefineRole {
        /// The role (not a built-in one).
        role: RoleName,
        /// What it permits.
        permissions: ActionSet,
    },
    /// Adds a permit or forbid rule.
    AddRule {
        /// The rule.
        rule: Rule,
    },
    /// Removes a rule.
    RemoveRule {
        /// Its id.
        rule_id: RuleId,
    },
    /// Declares roles no one may hold two of for the same subject.
    DefineExclusiveRoles {
        /// The constraint's id (named when it refuses).
        constraint: ConstraintId,
        /// At least two roles.
        roles: BTreeSet<RoleName>,
    },
    /// Freezes components: the first freeze sets the baseline version; later ones add
    /// components to the current baseline.
    Freeze {
        /// The baseline version (must equal the current one once a baseline exists).
        version: BaselineVersion,
        /// The components to freeze.
        components: BTreeSet<ComponentId>,
    },
    /// Requests a change to one frozen component.
    RequestChange {
        /// A new change id.
        change_id: ChangeId,
        /// The component.
        component: ComponentId,
        /// What and why.
        description: String,
        /// Whether it breaks compatibility (a major version).
        #[serde(default)]
        breaking: bool,
    },
    /// Reviews a requested change (the reviewer is not the requester).
    ReviewChange {
        /// The change.
        change_id: ChangeId,
    },
    /// Approves a reviewed change (the approver is not the requester).
    ApproveChange {
        /// The change.
        change_id: ChangeId,
    },
    /// Rejects a change that is not yet applied.
    RejectChange {
        /// The change.
        change_id: ChangeId,
    },
    /// Applies an approved change: the baseline version moves.
    ApplyChange {
        /// The change.
        change_id: ChangeId,
    },
    /// Publishes a config version.
    PublishConfig {
        /// The config.
        config_name: ConfigName,
        /// Its new version.
        config_version: ConfigVersion,
        /// The digest of its content.
        digest: Digest,
        /// Where its content lives.
        #[serde(default, rename = "ref")]
        locator: Option<String>,
    },
    /// Registers a new secret by reference.
    RegisterSecret {
        /// The secret.
        name: SecretName,
        /// Its first version.
        version: SecretVersion,
        /// The keyed fingerprint of its value (computed by the host).
        fingerprint: Digest,
    },
    /// Rotates a secret to a new version (a reason is required).
    RotateSecret {
        /// The secret.
        name: SecretName,
        /// The new version (never used before).
        version: SecretVersion,
        /// The keyed fingerprint of the new value.
        fingerprint: Digest,
    },
    /// Sets the economic limits.
    SetLimits {
        /// The limits.
        limits: ro_core::Valid<Limits>,
    },
    /// Records the cost of one unit of work; a breach blocks it and opens a deviation.
    RecordCost {
        /// The unit.
        unit_id: UnitId,
        /// Its cost in micro-units.
        cost_micros: u64,
    },
    /// Defines (or redefines) a deviation type.
    DefineDeviationType {
        /// The type's name.
        deviation_type: DeviationTypeId,
        /// How serious.
        severity: Severity,
        /// The SLA window in seconds (60 to 2,592,000).
        sla_seconds: u32,
        /// What it does while open.
        action: DeviationAction,
        /// Seconds between status updates while open (60 to 2,592,000; default 1800).
        #[serde(default)]
        update_every_seconds: Option<u32>,
    },
    /// Records a detected deviation; its SLA clock starts at detection.
    RecordDeviation {
        /// Its type.
        deviation_type: DeviationTypeId,
        /// When it was detected (not after the command's time; defaults to it).
        #[serde(default)]
        detected_at: Option<Timestamp>,
        /// What was seen.
        summary: String,
    },
    /// Posts a status update on an open deviation.
    UpdateDeviation {
        /// The deviation.
        deviation_id: DeviationId,
        /// The update.
        note: String,
    },
    /// Resolves an open deviation.
    ResolveDeviation {
        /// The deviation.
        deviation_id: DeviationId,
        /// How it was resolved.
        resolution: String,
    },
    /// Advances explicit time: escalates every open deviation whose SLA window has passed.
    Tick {},
}

impl PolicyCommand {
    /// The action the command asks for, the resource it touches and its subject.
    pub fn action(&self) -> (Action, String, Option<&SubjectId>) {
        use PolicyCommand::*;
        match self {
            GrantRole { role, subject, .. } => {
                (Action::GrantRole, format!("role:{role}"), subject.as_ref())
            }
            RevokeRole { role, subject, .. } => {
                (Action::RevokeRole, format!("role:{role}"), subject.as_ref())
            }
            DefineRole { role, .. } => (Action::DefineRole, format!("role:{role}"), None),
            RegisterPrincipal { principal, .. } => (
                Action::RegisterPrincipal,
                format!("principal:{principal}"),
                None,
            ),
            SetPrincipalKind { principal, .. } => (
                Action::SetPrincipalKind,
                format!("principal:{principal}"),
                None,
            ),
            AddRule { rule } => (
                match rule.effect {
                    Effect::Permit => Action::AddPermitRule,
                    Effect::Forbid => Action::AddForbidRule,
                },
                format!("rule:{}", rule.id),
                None,
            ),
            RemoveRule { rule_id } => (Action::RemoveRule, format!("rule:{rule_id}"), None),
            DefineExclusiveRoles { constraint, .. } => (
                Action::DefineConstraint,
                format!("constraint:{constraint}"),
                None,
            ),
            Freeze { .. } => (Action::Freeze, "baseline".into(), None),
            RequestChange { component, .. } => (
                Action::RequestChange,
                format!("component:{component}"),
                None,
            ),
            ReviewChange { change_id } => {
                (Action::ReviewChange, format!("change:{change_id}"), None)
            }
            ApproveChange { change_id } => {
                (Action::ApproveChange, format!("change:{change_id}"), None)
            }
            RejectChange { change_id } => {
                (Action::RejectChange, format!("change:{change_id}"), None)
            }
            ApplyChange { change_id } => (Action::ApplyChange, format!("change:{change_id}"), None),
            PublishConfig { config_name, .. } => {
                (Action::PublishConfig, format!("config:{config_name}"), None)
            }
            RegisterSecret { name, .. } => (Action::RegisterSecret, format!("secret:{name}"), None),
            RotateSecret { name, .. } => (Action::RotateSecret, format!("secret:{name}"), None),
            SetLimits { .. } => (Action::SetLimits, "limits".into(), None),
            RecordCost { unit_id, .. } => (Action::RecordCost, format!("unit:{unit_id}"), None),
            DefineDeviationType { deviation_type, .. } => (
                Action::DefineDeviationType,
                format!("deviation-type:{deviation_type}"),
                None,
            ),
            RecordDeviation { deviation_type, .. } => (
                Action::RecordDeviation,
                format!("deviation-type:{deviation_type}"),
                None,
            ),
            UpdateDeviation { deviation_id, .. } => (
                Action::UpdateDeviation,
                format!("deviation:{deviation_id}"),
                None,
            ),
            ResolveDeviation { deviation_id, .. } => (
                Action::ResolveDeviation,
                format!("deviation:{deviation_id}"),
                None,
            ),
            Tick {} => (Action::Tick, "clock".into(), None),
        }
    }
}

// The guards' facts of every policy command (see `facts`). Policy commands pass a lockdown
// only when their action makes the plane safer (revoking a role, a forbid rule, a freeze).
crate::command_facts! { PolicyCommand in Room;
    GrantRole = "GRANT_ROLE" in Room::Roles;
    RevokeRole = "REVOKE_ROLE" in Room::Roles;
    RegisterPrincipal = "REGISTER_PRINCIPAL" in Room::Roles;
    SetPrincipalKind = "SET_PRINCIPAL_KIND" in Room::Roles, two_step;
    DefineRole = "DEFINE_ROLE" in Room::Roles;
    AddRule = "ADD_RULE" in Room::Roles;
    RemoveRule = "REMOVE_RULE" in Room::Roles;
    DefineExclusiveRoles = "DEFINE_EXCLUSIVE_ROLES" in Room::Roles;
    Freeze = "FREEZE" in Room::Changes;
    RequestChange = "REQUEST_CHANGE" in Room::Changes;
    ReviewChange = "REVIEW_CHANGE" in Room::Changes;
    ApproveChange = "APPROVE_CHANGE" in Room::Changes;
    RejectChange = "REJECT_CHANGE" in Room::Changes;
    ApplyChange = "APPLY_CHANGE" in Room::Changes;
    PublishConfig = "PUBLISH_CONFIG" in Room::Configs;
    RegisterSecret = "REGISTER_SECRET" in Room::Secrets;
    RotateSecret = "ROTATE_SECRET" in Room::Secrets;
    SetLimits = "SET_LIMITS" in Room::Limits;
    RecordCost = "RECORD_COST" in Room::Limits;
    DefineDeviationType = "DEFINE_DEVIATION_TYPE" in Room::Deviations;
    RecordDeviation = "RECORD_DEVIATION" in Room::Deviations;
    UpdateDeviation = "UPDATE_DEVIATION" in Room::Deviations;
    ResolveDeviation = "RESOLVE_DEVIATION" in Room::Deviations;
    Tick = "TICK" in Room::Deviations;
}
