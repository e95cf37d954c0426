//! Who may do what, and within which limits.
//!
//! ```
//! use ro_core::{Context, Kernel, testing::{agent, human, t0}};
//! use ro_policy::{Policy, PolicyCommand, Action, Request};
//!
//! let mut policy: Kernel<Policy> = Kernel::new();
//! let ctx = Context::new(t0(), human("alice"));
//! // The first grant of an empty plane bootstraps its admin.
//! policy.execute(&serde_json::from_str(r#"{"type":"GRANT_ROLE","principal":"alice","role":"admin"}"#)?, &ctx)?;
//! policy.execute(&serde_json::from_str(r#"{"type":"GRANT_ROLE","principal":"bot","role":"operator"}"#)?, &ctx)?;
//!
//! // An agent holding the operator role may lock down (safer), never promote (less safe).
//! let bot = agent("bot");
//! let ask = |action| policy.state().authorize(&Request { actor: &bot, action, resource: "", subject: None });
//! assert!(ask(Action::EmergencyLockdown).allowed);
//! let refused = ask(Action::PromoteModel);
//! assert!(!refused.allowed);
//! assert_eq!(refused.reasons[0].label(), "human-only");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Overview
//!
//! - [`Action`]: the closed set of actions, each classified by [`Safety`]: safety-reducing or
//!   production-changing actions are for humans only, whatever an agent's roles.
//! - [`authz`]: roles (built-in `admin`, `operator`, `analyst`, `reviewer`, `risk_owner`, and
//!   user-defined), grants (global or per subject), permit and forbid rules, and
//!   [`Access::authorize`]: default deny, forbid wins, order-independent, sorted reasons.
//! - Separation of duties: mutually exclusive roles per subject, and distinct actors for
//!   review and approval ([`require_distinct`]).
//! - Freeze discipline: a baseline of frozen components; a change goes request → review →
//!   approval (approver ≠ requester) → apply, which moves the baseline version.
//! - Config versions ([`ConfigVersionRef`]), secret references ([`secret`]) and rotation.
//! - Economic limits ([`limits`]): per-unit ceiling, daily budget and rate, alerts once per
//!   crossing, breaches blocked and recorded as deviations; the daily cost report.
//! - Deviation SLAs: types with severity, window and action; `TICK` raises escalations for
//!   windows passed unresolved.
//!
//! [`Policy`] is a [`ro_core::Decider`]: every change is an event, every refusal a typed
//! [`PolicyRejection`] with a stable code, and denied attempts are recorded
//! ([`PolicyEvent::AccessDenied`]).
//!
//! # Features
//!
//! - `testing`: proptest strategies for principals, grants, actions and commands.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod action;
pub mod authz;
pub mod facts;
pub mod gate;
pub mod limits;
pub mod model;
pub mod secret;
#[cfg(feature = "testing")]
pub mod testing;

use std::collections::{BTreeMap, BTreeSet};

use ro_core::{
    ActorId, ActorKind, Context, Decider, Digest, EventMeta, InvariantViolation, Reason, Timestamp,
};
use serde::{Deserialize, Serialize};

pub use action::{Action, ActionSet, Safety};
pub use authz::{
    Access, ConstraintId, Decision, DecisionReason, Effect, Grant, PrincipalMatch, Request,
    RoleName, Rule, RuleId, SubjectId,
};
pub use facts::{CommandFacts, TwoStep};
pub use gate::Gate;
pub use limits::{CostReport, Day, DayStats, LimitKind, Limits};
pub use model::{
    BaselineVersion, ChangeId, ChangeRequest, ChangeStatus, ComponentId, ConfigName, ConfigVersion,
    ConfigVersionRef, Deviation, DeviationAction, DeviationId, DeviationType, DeviationTypeId,
    Severity, UnitId,
};
pub use secret::{SecretName, SecretRef, SecretVersion};

pub use ro_core::text::MAX_TEXT_LEN;

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
        limits: Limits,
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
command_facts! { PolicyCommand;
    GrantRole = "GRANT_ROLE":;
    RevokeRole = "REVOKE_ROLE":;
    DefineRole = "DEFINE_ROLE":;
    AddRule = "ADD_RULE":;
    RemoveRule = "REMOVE_RULE":;
    DefineExclusiveRoles = "DEFINE_EXCLUSIVE_ROLES":;
    Freeze = "FREEZE":;
    RequestChange = "REQUEST_CHANGE":;
    ReviewChange = "REVIEW_CHANGE":;
    ApproveChange = "APPROVE_CHANGE":;
    RejectChange = "REJECT_CHANGE":;
    ApplyChange = "APPLY_CHANGE":;
    PublishConfig = "PUBLISH_CONFIG":;
    RegisterSecret = "REGISTER_SECRET":;
    RotateSecret = "ROTATE_SECRET":;
    SetLimits = "SET_LIMITS":;
    RecordCost = "RECORD_COST":;
    DefineDeviationType = "DEFINE_DEVIATION_TYPE":;
    RecordDeviation = "RECORD_DEVIATION":;
    UpdateDeviation = "UPDATE_DEVIATION":;
    ResolveDeviation = "RESOLVE_DEVIATION":;
    Tick = "TICK":;
}

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
    },
    /// Components were frozen.
    BaselineFrozen {
        /// The baseline version.
        version: BaselineVersion,
        /// The components newly frozen.
        components: BTreeSet<ComponentId>,
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
    },
    /// A change was reviewed.
    ChangeReviewed {
        /// The change.
        change_id: ChangeId,
    },
    /// A change was approved.
    ChangeApproved {
        /// The change.
        change_id: ChangeId,
    },
    /// A change was rejected.
    ChangeRejected {
        /// The change.
        change_id: ChangeId,
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
    },
    /// A config version was published.
    ConfigPublished {
        /// The version.
        config: ConfigVersionRef,
    },
    /// A secret was registered.
    SecretRegistered {
        /// The reference.
        secret: SecretRef,
    },
    /// A secret was rotated (the seed's SecretRotationEvent).
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

/// Why the policy refused. Each has a stable code ([`ro_core::Rejection::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyRejection {
    /// Authorization denied the action.
    #[error("{action} is not allowed: {}", reasons.iter().map(DecisionReason::label).collect::<Vec<_>>().join(", "))]
    Unauthorized {
        /// The action.
        action: Action,
        /// The decision's reasons.
        reasons: Vec<DecisionReason>,
    },
    /// The command is malformed (a value out of range, an empty field).
    #[error("invalid command: {0}")]
    Invalid(String),
    /// A reason is required and none was given.
    #[error("{0} requires a reason: say why in the command's \"reason\"")]
    ReasonRequired(Action),
    /// The role is not defined.
    #[error("role {0} is not defined")]
    UnknownRole(RoleName),
    /// Built-in roles cannot be redefined.
    #[error("role {0} is built in and cannot be redefined")]
    BuiltinRole(RoleName),
    /// The grant does not exist.
    #[error("{principal} does not hold {role}")]
    NotGranted {
        /// Whose.
        principal: ActorId,
        /// The role.
        role: RoleName,
    },
    /// A separation-of-duties constraint would be broken.
    #[error("separation of duties: {0}")]
    SeparationOfDuties(String),
    /// The rule id exists already, or does not exist.
    #[error("rule {0}: {1}")]
    Rule(RuleId, &'static str),
    /// The constraint id is taken.
    #[error("constraint {0} already exists")]
    ConstraintExists(ConstraintId),
    /// Freeze or change-request discipline refuses.
    #[error("{0}")]
    Freeze(String),
    /// The change request does not exist.
    #[error("change {0} does not exist")]
    UnknownChange(ChangeId),
    /// The change request is not at the right step.
    #[error("change {change_id} is {status}; {needed}")]
    ChangeState {
        /// The change.
        change_id: ChangeId,
        /// Where it stands.
        status: &'static str,
        /// What the command needs.
        needed: &'static str,
    },
    /// That config version exists with another digest.
    #[error("config {name} version {version} exists with another digest: publish a new version")]
    ConfigVersionConflict {
        /// The config.
        name: ConfigName,
        /// The version.
        version: ConfigVersion,
    },
    /// The secret exists, does not exist, or the version was used before.
    #[error("secret {0}: {1}")]
    Secret(SecretName, &'static str),
    /// No limits are set: costs cannot be checked (fail-closed).
    #[error("no economic limits are set: SET_LIMITS first")]
    LimitsNotSet,
    /// A limit would be breached: the unit is blocked and a deviation opened.
    #[error("the {limit} limit would be breached: the unit is blocked")]
    LimitBreached {
        /// Which limit.
        limit: LimitKind,
    },
    /// The deviation type is not defined.
    #[error("deviation type {0} is not defined")]
    UnknownDeviationType(DeviationTypeId),
    /// The deviation does not exist.
    #[error("deviation {0} does not exist")]
    UnknownDeviation(DeviationId),
    /// The deviation is already resolved.
    #[error("deviation {0} is already resolved")]
    DeviationResolved(DeviationId),
}

impl ro_core::Rejection for PolicyRejection {
    fn code(&self) -> &'static str {
        use PolicyRejection::*;
        match self {
            Unauthorized { reasons, .. } if reasons.contains(&DecisionReason::HumanOnly) => {
                "HUMAN_ONLY_ACTION"
            }
            Unauthorized { .. } => "UNAUTHORIZED",
            Invalid(_) => "INVALID_COMMAND",
            ReasonRequired(_) => "REASON_REQUIRED",
            UnknownRole(_) => "UNKNOWN_ROLE",
            BuiltinRole(_) => "BUILTIN_ROLE",
            NotGranted { .. } => "NOT_GRANTED",
            SeparationOfDuties(_) => "SEPARATION_OF_DUTIES",
            Rule(_, "already exists") => "RULE_EXISTS",
            Rule(..) => "UNKNOWN_RULE",
            ConstraintExists(_) => "CONSTRAINT_EXISTS",
            Freeze(_) => "FREEZE_DISCIPLINE",
            UnknownChange(_) => "UNKNOWN_CHANGE",
            ChangeState { .. } => "CHANGE_STATE",
            ConfigVersionConflict { .. } => "CONFIG_VERSION_CONFLICT",
            Secret(..) => "SECRET_REFUSED",
            LimitsNotSet => "LIMITS_NOT_SET",
            LimitBreached { .. } => "LIMIT_BREACHED",
            UnknownDeviationType(_) => "UNKNOWN_DEVIATION_TYPE",
            UnknownDeviation(_) => "UNKNOWN_DEVIATION",
            DeviationResolved(_) => "DEVIATION_RESOLVED",
        }
    }
}

/// The frozen baseline.
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
pub struct Baseline {
    /// Its version.
    pub version: BaselineVersion,
    /// The frozen components.
    pub frozen: BTreeSet<ComponentId>,
}

/// The policy's state.
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
pub struct Policy {
    access: Access,
    baseline: Option<Baseline>,
    changes: BTreeMap<ChangeId, ChangeRequest>,
    configs: BTreeMap<ConfigName, BTreeMap<ConfigVersion, ConfigVersionRef>>,
    days: BTreeMap<Day, DayStats>,
    deviation_types: BTreeMap<DeviationTypeId, DeviationType>,
    deviations: BTreeMap<DeviationId, Deviation>,
    deviations_opened: u64,
    limits: Option<Limits>,
    secrets: BTreeMap<SecretName, Vec<SecretRef>>,
}

impl Default for Policy {
    fn default() -> Self {
        let mut deviation_types = BTreeMap::new();
        for (name, t) in model::builtin_deviation_types() {
            if let Ok(id) = DeviationTypeId::new(name) {
                deviation_types.insert(id, t);
            }
        }
        Policy {
            access: Access::with_builtin_roles(),
            baseline: None,
            changes: BTreeMap::new(),
            configs: BTreeMap::new(),
            secrets: BTreeMap::new(),
            limits: None,
            days: BTreeMap::new(),
            deviation_types,
            deviations: BTreeMap::new(),
            deviations_opened: 0,
        }
    }
}

/// Refuses when `second` is the same actor as `first`, naming `constraint` (e.g.
/// `"reviewer-not-author"`, `"approver-not-requester"`).
pub fn require_distinct(
    constraint: &str,
    first: &ActorId,
    second: &ActorId,
) -> Result<(), PolicyRejection> {
    if first == second {
        return Err(PolicyRejection::SeparationOfDuties(format!(
            "{constraint}: {second} may not act on their own work"
        )));
    }
    Ok(())
}

/// Checks required free text (see [`ro_core::text::check_text`]).
fn check_text(field: &str, text: &str) -> Result<(), PolicyRejection> {
    ro_core::text::check_text(text, true)
        .map_err(|e| PolicyRejection::Invalid(format!("{field} {e}")))
}

fn deviation_id(n: u64) -> DeviationId {
    // "dev-" and up to 20 digits is always a valid id.
    DeviationId::new(format!("dev-{n:06}")).unwrap_or_else(|_| unreachable_id())
}

#[allow(clippy::panic)] // only reached if the id rules stop admitting "dev-<digits>": a bug
fn unreachable_id() -> DeviationId {
    panic!("deviation ids are always valid")
}

impl Policy {
    /// Everything authorization reads.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Decides a request against the current grants and rules.
    pub fn authorize(&self, req: &Request<'_>) -> Decision {
        self.access.authorize(req)
    }

    /// The frozen baseline, if any.
    pub fn baseline(&self) -> Option<&Baseline> {
        self.baseline.as_ref()
    }

    /// A change request.
    pub fn change(&self, id: &ChangeId) -> Option<&ChangeRequest> {
        self.changes.get(id)
    }

    /// Refuses a change to `component` while it is frozen (changes go through
    /// `REQUEST_CHANGE` … `APPLY_CHANGE`).
    pub fn check_unfrozen(&self, component: &ComponentId) -> Result<(), PolicyRejection> {
        match &self.baseline {
            Some(b) if b.frozen.contains(component) => Err(PolicyRejection::Freeze(format!(
                "{component} is frozen in baseline {}: request, review and approve a change",
                b.version
            ))),
            _ => Ok(()),
        }
    }

    /// A published config version.
    pub fn config(&self, name: &ConfigName, version: &ConfigVersion) -> Option<&ConfigVersionRef> {
        self.configs.get(name)?.get(version)
    }

    /// The current version of a secret.
    pub fn secret(&self, name: &SecretName) -> Option<&SecretRef> {
        self.secrets.get(name)?.last()
    }

    /// The economic limits in force.
    pub fn limits(&self) -> Option<&Limits> {
        self.limits.as_ref()
    }

    /// A day's spending.
    pub fn day(&self, day: Day) -> Option<&DayStats> {
        self.days.get(&day)
    }

    /// The daily cost report for `day` (`None` until limits are set).
    pub fn cost_report(&self, day: Day) -> Option<CostReport> {
        Some(limits::cost_report(&self.days, self.limits.as_ref()?, day))
    }

    /// Every deviation, by id.
    pub fn deviations(&self) -> &BTreeMap<DeviationId, Deviation> {
        &self.deviations
    }

    /// The open deviations whose type's action is `action`.
    pub fn open_deviations_with(&self, action: DeviationAction) -> Vec<&DeviationId> {
        self.deviations
            .iter()
            .filter(|(_, d)| {
                d.resolved_at.is_none()
                    && self
                        .deviation_types
                        .get(&d.deviation_type)
                        .is_some_and(|t| t.action == action)
            })
            .map(|(id, _)| id)
            .collect()
    }

    /// What a denied request leaves in the journal: `AccessDenied` with the decision's
    /// reasons and, when a non-human attempted a human-only action, an
    /// `agent_attempted_human_only_action` deviation (if that deviation type is defined).
    /// Composing planes use it for the commands they authorize themselves.
    pub fn access_denied_events(
        &self,
        action: Action,
        resource: &str,
        reasons: &[DecisionReason],
        ctx: &Context,
    ) -> Vec<PolicyEvent> {
        let mut events = vec![PolicyEvent::AccessDenied {
            action,
            resource: resource.to_owned(),
            reasons: reasons.iter().map(DecisionReason::label).collect(),
        }];
        if reasons.contains(&DecisionReason::HumanOnly)
            && let Some(e) = self.open_deviation_event(
                1,
                "agent_attempted_human_only_action",
                ctx.at,
                format!("{} attempted {action} on {resource}", ctx.actor),
            )
        {
            events.push(e);
        }
        events
    }

    /// The event that opens a deviation of type `kind` detected at `at` (`None` when that
    /// type is not defined). Composing planes use it for deviations they detect (a failed
    /// signature).
    pub fn deviation_event(
        &self,
        kind: &str,
        at: Timestamp,
        summary: String,
    ) -> Option<PolicyEvent> {
        self.open_deviation_event(1, kind, at, summary)
    }

    fn open_deviation_event(
        &self,
        offset: u64,
        kind: &str,
        detected_at: Timestamp,
        summary: String,
    ) -> Option<PolicyEvent> {
        let deviation_type = DeviationTypeId::new(kind).ok()?;
        let t = self.deviation_types.get(&deviation_type)?;
        let due_at = detected_at
            .checked_add(time::Duration::seconds(i64::from(t.sla_seconds)))
            .unwrap_or(Timestamp::MAX);
        Some(PolicyEvent::DeviationOpened {
            deviation_id: deviation_id(self.deviations_opened + offset),
            deviation_type,
            detected_at,
            due_at,
            summary,
        })
    }

    fn change_mut_status(&self, id: &ChangeId) -> Result<&ChangeRequest, PolicyRejection> {
        self.changes
            .get(id)
            .ok_or_else(|| PolicyRejection::UnknownChange(id.clone()))
    }

    fn is_bootstrap(&self, command: &PolicyCommand, ctx: &Context) -> bool {
        matches!(command, PolicyCommand::GrantRole { principal, role, subject: None }
            if role.as_str() == "admin" && principal == &ctx.actor.id)
            && ctx.actor.kind == ActorKind::Human
            && self.access.grants().is_empty()
    }

    fn record_cost(
        &self,
        unit_id: &UnitId,
        cost_micros: u64,
        ctx: &Context,
    ) -> Result<Vec<PolicyEvent>, PolicyRejection> {
        let limits = self.limits.as_ref().ok_or(PolicyRejection::LimitsNotSet)?;
        if cost_micros > limits::MAX_MICROS {
            return Err(PolicyRejection::Invalid(format!(
                "cost is at most {} micro-units",
                limits::MAX_MICROS
            )));
        }
        let day = Day::of(ctx.at);
        let empty = DayStats::default();
        let stats = self.days.get(&day).unwrap_or(&empty);
        if cost_micros > limits.per_unit_ceiling_micros {
            return Err(PolicyRejection::LimitBreached {
                limit: LimitKind::CostCeiling,
            });
        }
        if stats.total_micros.saturating_add(cost_micros) > limits.daily_budget_micros {
            return Err(PolicyRejection::LimitBreached {
                limit: LimitKind::DailyBudget,
            });
        }
        if stats.units.saturating_add(1) > limits.daily_rate {
            return Err(PolicyRejection::LimitBreached {
                limit: LimitKind::DailyRate,
            });
        }
        let mut events = vec![PolicyEvent::CostRecorded {
            unit_id: unit_id.clone(),
            cost_micros,
            day,
        }];
        let mut alert = |limit, used_bp: u64, threshold: u16| {
            if used_bp >= u64::from(threshold) && !stats.alerts.contains_key(&limit) {
                events.push(PolicyEvent::LimitAlertRaised {
                    limit,
                    day,
                    used_bp,
                });
            }
        };
        alert(
            LimitKind::CostCeiling,
            limits::basis_points(cost_micros, limits.per_unit_ceiling_micros),
            limits.ceiling_alert_bp,
        );
        alert(
            LimitKind::DailyBudget,
            limits::basis_points(stats.total_micros + cost_micros, limits.daily_budget_micros),
            limits.budget_alert_bp,
        );
        alert(
            LimitKind::DailyRate,
            limits::basis_points(stats.units + 1, limits.daily_rate),
            limits.rate_alert_bp,
        );
        Ok(events)
    }
}

impl Decider for Policy {
    type Command = PolicyCommand;
    type Event = PolicyEvent;
    type Rejection = PolicyRejection;

    fn decide(
        &self,
        command: &PolicyCommand,
        ctx: &Context,
    ) -> Result<Vec<PolicyEvent>, PolicyRejection> {
        use PolicyCommand as C;
        use PolicyEvent as E;
        use PolicyRejection as R;
        let bootstrap = self.is_bootstrap(command, ctx);
        if !bootstrap {
            let (action, resource, subject) = command.action();
            let decision = self.access.authorize(&Request {
                actor: &ctx.actor,
                action,
                resource: &resource,
                subject,
            });
            if !decision.allowed {
                return Err(R::Unauthorized {
                    action,
                    reasons: decision.reasons,
                });
            }
        }
        let reason = ctx.reason.clone();
        match command {
            C::GrantRole {
                principal,
                role,
                subject,
            } => {
                if !self.access.roles().contains_key(role) {
                    return Err(R::UnknownRole(role.clone()));
                }
                if self.access.holds(principal, role, subject.as_ref())
                    && self
                        .access
                        .grants()
                        .get(principal)
                        .is_some_and(|g| g.iter().any(|g| &g.role == role && &g.subject == subject))
                {
                    return Ok(Vec::new());
                }
                if let Some(constraint) =
                    self.access
                        .exclusive_violation(principal, role, subject.as_ref())
                {
                    return Err(R::SeparationOfDuties(format!(
                        "{constraint}: {principal} would hold two of its roles{}",
                        subject
                            .as_ref()
                            .map(|s| format!(" for {s}"))
                            .unwrap_or_default()
                    )));
                }
                Ok(vec![E::RoleGranted {
                    principal: principal.clone(),
                    role: role.clone(),
                    subject: subject.clone(),
                    bootstrap,
                    reason,
                }])
            }
            C::RevokeRole {
                principal,
                role,
                subject,
            } => {
                let held =
                    self.access.grants().get(principal).is_some_and(|g| {
                        g.iter().any(|g| &g.role == role && &g.subject == subject)
                    });
                if !held {
                    return Err(R::NotGranted {
                        principal: principal.clone(),
                        role: role.clone(),
                    });
                }
                Ok(vec![E::RoleRevoked {
                    principal: principal.clone(),
                    role: role.clone(),
                    subject: subject.clone(),
                    reason,
                }])
            }
            C::DefineRole { role, permissions } => {
                if authz::builtin_roles().contains_key(role.as_str()) {
                    return Err(R::BuiltinRole(role.clone()));
                }
                let before = self.access.roles().get(role).copied();
                if before == Some(*permissions) {
                    return Ok(Vec::new());
                }
                Ok(vec![E::RoleDefined {
                    role: role.clone(),
                    before,
                    after: *permissions,
                    reason,
                }])
            }
            C::AddRule { rule } => {
                if self.access.rules().contains_key(&rule.id) {
                    return Err(R::Rule(rule.id.clone(), "already exists"));
                }
                if rule.actions == ActionSet::EMPTY {
                    return Err(R::Invalid("a rule names at least one action".into()));
                }
                if let Some(prefix) = &rule.resource_prefix {
                    check_text("resource_prefix", prefix)?;
                }
                if let PrincipalMatch::Role(role) = &rule.principal
                    && !self.access.roles().contains_key(role)
                {
                    return Err(R::UnknownRole(role.clone()));
                }
                Ok(vec![E::RuleAdded {
                    rule: rule.clone(),
                    reason,
                }])
            }
            C::RemoveRule { rule_id } => match self.access.rules().get(rule_id) {
                Some(rule) => Ok(vec![E::RuleRemoved {
                    rule: rule.clone(),
                    reason,
                }]),
                None => Err(R::Rule(rule_id.clone(), "does not exist")),
            },
            C::DefineExclusiveRoles { constraint, roles } => {
                if self.access.exclusive().contains_key(constraint) {
                    return Err(R::ConstraintExists(constraint.clone()));
                }
                if roles.len() < 2 {
                    return Err(R::Invalid(
                        "an exclusive-roles constraint names at least two roles".into(),
                    ));
                }
                if let Some(role) = roles.iter().find(|r| !self.access.roles().contains_key(*r)) {
                    return Err(R::UnknownRole(role.clone()));
                }
                // Refuse a constraint the current grants already break: it could never hold.
                for (principal, grants) in self.access.grants() {
                    for (i, a) in grants.iter().enumerate() {
                        for b in grants.iter().skip(i + 1) {
                            let same_scope = a.subject.is_none()
                                || b.subject.is_none()
                                || a.subject == b.subject;
                            if a.role != b.role
                                && roles.contains(&a.role)
                                && roles.contains(&b.role)
                                && same_scope
                            {
                                return Err(R::SeparationOfDuties(format!(
                                    "{constraint}: {principal} already holds {} and {}",
                                    a.role, b.role
                                )));
                            }
                        }
                    }
                }
                Ok(vec![E::ExclusiveRolesDefined {
                    constraint: constraint.clone(),
                    roles: roles.clone(),
                }])
            }
            C::Freeze {
                version,
                components,
            } => {
                if components.is_empty() {
                    return Err(R::Invalid("freeze at least one component".into()));
                }
                let new: BTreeSet<ComponentId> = match &self.baseline {
                    Some(b) if b.version != *version => {
                        return Err(R::Freeze(format!(
                            "the baseline is {}; freeze components into it, or change it through a change request",
                            b.version
                        )));
                    }
                    Some(b) => components.difference(&b.frozen).cloned().collect(),
                    None => components.clone(),
                };
                if new.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(vec![E::BaselineFrozen {
                    version: *version,
                    components: new,
                }])
            }
            C::RequestChange {
                change_id,
                component,
                description,
                breaking,
            } => {
                check_text("description", description)?;
                if self.changes.contains_key(change_id) {
                    return Err(R::Invalid(format!(
                        "change {change_id} already exists: one request, one change"
                    )));
                }
                if self.check_unfrozen(component).is_ok() {
                    return Err(R::Freeze(format!(
                        "{component} is not frozen: no change request is needed"
                    )));
                }
                Ok(vec![E::ChangeRequested {
                    change_id: change_id.clone(),
                    component: component.clone(),
                    description: description.clone(),
                    breaking: *breaking,
                }])
            }
            C::ReviewChange { change_id } => {
                let cr = self.change_mut_status(change_id)?;
                if cr.status != ChangeStatus::Requested {
                    return Err(R::ChangeState {
                        change_id: change_id.clone(),
                        status: cr.status.name(),
                        needed: "only a requested change can be reviewed",
                    });
                }
                require_distinct("reviewer-not-requester", &cr.requested_by, &ctx.actor.id)?;
                Ok(vec![E::ChangeReviewed {
                    change_id: change_id.clone(),
                }])
            }
            C::ApproveChange { change_id } => {
                let cr = self.change_mut_status(change_id)?;
                if !matches!(cr.status, ChangeStatus::Reviewed { .. }) {
                    return Err(R::ChangeState {
                        change_id: change_id.clone(),
                        status: cr.status.name(),
                        needed: "a change is reviewed before it is approved",
                    });
                }
                require_distinct("approver-not-requester", &cr.requested_by, &ctx.actor.id)?;
                Ok(vec![E::ChangeApproved {
                    change_id: change_id.clone(),
                }])
            }
            C::RejectChange { change_id } => {
                let cr = self.change_mut_status(change_id)?;
                if matches!(
                    cr.status,
                    ChangeStatus::Applied { .. } | ChangeStatus::Rejected { .. }
                ) {
                    return Err(R::ChangeState {
                        change_id: change_id.clone(),
                        status: cr.status.name(),
                        needed: "only an open change can be rejected",
                    });
                }
                Ok(vec![E::ChangeRejected {
                    change_id: change_id.clone(),
                }])
            }
            C::ApplyChange { change_id } => {
                let cr = self.change_mut_status(change_id)?;
                if !matches!(cr.status, ChangeStatus::Approved { .. }) {
                    return Err(R::ChangeState {
                        change_id: change_id.clone(),
                        status: cr.status.name(),
                        needed: "only an approved change can be applied",
                    });
                }
                let before = self
                    .baseline
                    .as_ref()
                    .map(|b| b.version)
                    .ok_or_else(|| R::Freeze("no baseline".into()))?;
                Ok(vec![E::ChangeApplied {
                    change_id: change_id.clone(),
                    component: cr.component.clone(),
                    before,
                    after: before.next(cr.breaking),
                }])
            }
            C::PublishConfig {
                config_name,
                config_version,
                digest,
                locator,
            } => {
                if let Some(l) = locator {
                    check_text("ref", l)?;
                }
                match self.config(config_name, config_version) {
                    Some(existing) if existing.digest == Some(*digest) => Ok(Vec::new()),
                    Some(_) => Err(R::ConfigVersionConflict {
                        name: config_name.clone(),
                        version: config_version.clone(),
                    }),
                    None => Ok(vec![E::ConfigPublished {
                        config: ConfigVersionRef {
                            config_name: config_name.clone(),
                            config_version: config_version.clone(),
                            digest: Some(*digest),
                            locator: locator.clone(),
                        },
                    }]),
                }
            }
            C::RegisterSecret {
                name,
                version,
                fingerprint,
            } => {
                if self.secrets.contains_key(name) {
                    return Err(R::Secret(name.clone(), "already exists: rotate it instead"));
                }
                Ok(vec![E::SecretRegistered {
                    secret: SecretRef {
                        name: name.clone(),
                        version: version.clone(),
                        fingerprint: *fingerprint,
                    },
                }])
            }
            C::RotateSecret {
                name,
                version,
                fingerprint,
            } => {
                let reason = ctx
                    .reason
                    .clone()
                    .ok_or(R::ReasonRequired(Action::RotateSecret))?;
                let history = self
                    .secrets
                    .get(name)
                    .ok_or_else(|| R::Secret(name.clone(), "does not exist"))?;
                if history.iter().any(|s| &s.version == version) {
                    return Err(R::Secret(
                        name.clone(),
                        "that version was used before: versions are never reused",
                    ));
                }
                if history.iter().any(|s| &s.fingerprint == fingerprint) {
                    return Err(R::Secret(
                        name.clone(),
                        "the new value equals an earlier one",
                    ));
                }
                let from_version = history
                    .last()
                    .map(|s| s.version.clone())
                    .ok_or_else(|| R::Secret(name.clone(), "has no version"))?;
                Ok(vec![E::SecretRotated {
                    name: name.clone(),
                    from_version,
                    to_version: version.clone(),
                    fingerprint: *fingerprint,
                    actor: ctx.actor.id.clone(),
                    reason,
                }])
            }
            C::SetLimits { limits } => {
                limits.validate().map_err(R::Invalid)?;
                if self.limits.as_ref() == Some(limits) {
                    return Ok(Vec::new());
                }
                Ok(vec![E::LimitsSet {
                    before: self.limits,
                    after: *limits,
                    reason,
                }])
            }
            C::RecordCost {
                unit_id,
                cost_micros,
            } => self.record_cost(unit_id, *cost_micros, ctx),
            C::DefineDeviationType {
                deviation_type,
                severity,
                sla_seconds,
                action,
            } => {
                if !(60..=2_592_000).contains(sla_seconds) {
                    return Err(R::Invalid("sla_seconds is 60 to 2592000 (30 days)".into()));
                }
                let after = DeviationType {
                    severity: *severity,
                    sla_seconds: *sla_seconds,
                    action: *action,
                };
                let before = self.deviation_types.get(deviation_type).cloned();
                if before.as_ref() == Some(&after) {
                    return Ok(Vec::new());
                }
                Ok(vec![E::DeviationTypeDefined {
                    deviation_type: deviation_type.clone(),
                    before,
                    after,
                    reason,
                }])
            }
            C::RecordDeviation {
                deviation_type,
                detected_at,
                summary,
            } => {
                check_text("summary", summary)?;
                let detected_at = detected_at.unwrap_or(ctx.at);
                if detected_at > ctx.at {
                    return Err(R::Invalid("detected_at is after the command's time".into()));
                }
                if !self.deviation_types.contains_key(deviation_type) {
                    return Err(R::UnknownDeviationType(deviation_type.clone()));
                }
                let event = self
                    .open_deviation_event(1, deviation_type.as_str(), detected_at, summary.clone())
                    .ok_or_else(|| R::UnknownDeviationType(deviation_type.clone()))?;
                Ok(vec![event])
            }
            C::UpdateDeviation { deviation_id, note } => {
                check_text("note", note)?;
                let d = self
                    .deviations
                    .get(deviation_id)
                    .ok_or_else(|| R::UnknownDeviation(deviation_id.clone()))?;
                if d.resolved_at.is_some() {
                    return Err(R::DeviationResolved(deviation_id.clone()));
                }
                Ok(vec![E::DeviationUpdated {
                    deviation_id: deviation_id.clone(),
                    note: note.clone(),
                }])
            }
            C::ResolveDeviation {
                deviation_id,
                resolution,
            } => {
                check_text("resolution", resolution)?;
                let d = self
                    .deviations
                    .get(deviation_id)
                    .ok_or_else(|| R::UnknownDeviation(deviation_id.clone()))?;
                if d.resolved_at.is_some() {
                    return Err(R::DeviationResolved(deviation_id.clone()));
                }
                Ok(vec![E::DeviationResolved {
                    deviation_id: deviation_id.clone(),
                    resolution: resolution.clone(),
                }])
            }
            C::Tick {} => Ok(self
                .deviations
                .iter()
                .filter(|(_, d)| d.resolved_at.is_none() && !d.escalated && d.due_at <= ctx.at)
                .map(|(id, d)| E::SlaMissed {
                    deviation_id: id.clone(),
                    due_at: d.due_at,
                })
                .collect()),
        }
    }

    fn refusal_events(
        &self,
        command: &PolicyCommand,
        rejection: &PolicyRejection,
        ctx: &Context,
    ) -> Vec<PolicyEvent> {
        match rejection {
            PolicyRejection::Unauthorized { action, reasons } => {
                let (_, resource, _) = command.action();
                self.access_denied_events(*action, &resource, reasons, ctx)
            }
            PolicyRejection::LimitBreached { limit } => {
                let PolicyCommand::RecordCost {
                    unit_id,
                    cost_micros,
                } = command
                else {
                    return Vec::new();
                };
                let kind = match limit {
                    LimitKind::CostCeiling => "cost_ceiling_breach",
                    LimitKind::DailyBudget => "budget_breach",
                    LimitKind::DailyRate => "rate_limit_breach",
                };
                let mut events = vec![PolicyEvent::CostBlocked {
                    unit_id: unit_id.clone(),
                    cost_micros: *cost_micros,
                    day: Day::of(ctx.at),
                    limit: *limit,
                }];
                events.extend(self.open_deviation_event(
                    1,
                    kind,
                    ctx.at,
                    format!("unit {unit_id} costing {cost_micros} micro-units was blocked"),
                ));
                events
            }
            _ => Vec::new(),
        }
    }

    fn evolve(&mut self, event: &PolicyEvent, meta: &EventMeta<'_>) {
        use PolicyEvent as E;
        match event {
            E::RoleGranted {
                principal,
                role,
                subject,
                ..
            } => {
                self.access
                    .grant(principal.clone(), role.clone(), subject.clone());
            }
            E::RoleRevoked {
                principal,
                role,
                subject,
                ..
            } => {
                self.access.revoke(principal, role, subject.as_ref());
            }
            E::RoleDefined { role, after, .. } => {
                self.access.define_role(role.clone(), *after);
            }
            E::RuleAdded { rule, .. } => self.access.add_rule(rule.clone()),
            E::RuleRemoved { rule, .. } => {
                self.access.remove_rule(&rule.id);
            }
            E::ExclusiveRolesDefined { constraint, roles } => {
                self.access.add_exclusive(constraint.clone(), roles.clone());
            }
            E::BaselineFrozen {
                version,
                components,
            } => {
                let baseline = self.baseline.get_or_insert_with(|| Baseline {
                    version: *version,
                    frozen: BTreeSet::new(),
                });
                baseline.frozen.extend(components.iter().cloned());
            }
            E::ChangeRequested {
                change_id,
                component,
                description,
                breaking,
            } => {
                self.changes.insert(
                    change_id.clone(),
                    ChangeRequest {
                        component: component.clone(),
                        description: description.clone(),
                        breaking: *breaking,
                        requested_by: meta.actor.id.clone(),
                        status: ChangeStatus::Requested,
                    },
                );
            }
            E::ChangeReviewed { change_id } => self.set_change_status(
                change_id,
                ChangeStatus::Reviewed {
                    by: meta.actor.id.clone(),
                },
            ),
            E::ChangeApproved { change_id } => self.set_change_status(
                change_id,
                ChangeStatus::Approved {
                    by: meta.actor.id.clone(),
                },
            ),
            E::ChangeRejected { change_id } => self.set_change_status(
                change_id,
                ChangeStatus::Rejected {
                    by: meta.actor.id.clone(),
                },
            ),
            E::ChangeApplied {
                change_id, after, ..
            } => {
                self.set_change_status(change_id, ChangeStatus::Applied { version: *after });
                if let Some(b) = &mut self.baseline {
                    b.version = *after;
                }
            }
            E::ConfigPublished { config } => {
                self.configs
                    .entry(config.config_name.clone())
                    .or_default()
                    .insert(config.config_version.clone(), config.clone());
            }
            E::SecretRegistered { secret } => {
                self.secrets
                    .entry(secret.name.clone())
                    .or_default()
                    .push(secret.clone());
            }
            E::SecretRotated {
                name,
                to_version,
                fingerprint,
                ..
            } => {
                self.secrets
                    .entry(name.clone())
                    .or_default()
                    .push(SecretRef {
                        name: name.clone(),
                        version: to_version.clone(),
                        fingerprint: *fingerprint,
                    });
            }
            E::LimitsSet { after, .. } => self.limits = Some(*after),
            E::CostRecorded {
                cost_micros, day, ..
            } => {
                let stats = self.days.entry(*day).or_default();
                stats.min_micros = if stats.units == 0 {
                    *cost_micros
                } else {
                    stats.min_micros.min(*cost_micros)
                };
                stats.units = stats.units.saturating_add(1);
                stats.total_micros = stats.total_micros.saturating_add(*cost_micros);
                stats.max_micros = stats.max_micros.max(*cost_micros);
            }
            E::LimitAlertRaised {
                limit,
                day,
                used_bp,
            } => {
                let bp = u16::try_from(*used_bp).unwrap_or(u16::MAX);
                self.days
                    .entry(*day)
                    .or_default()
                    .alerts
                    .entry(*limit)
                    .or_insert(bp);
            }
            E::CostBlocked { day, limit, .. } => {
                *self
                    .days
                    .entry(*day)
                    .or_default()
                    .breaches
                    .entry(*limit)
                    .or_insert(0) += 1;
            }
            E::DeviationTypeDefined {
                deviation_type,
                after,
                ..
            } => {
                self.deviation_types
                    .insert(deviation_type.clone(), after.clone());
            }
            E::DeviationOpened {
                deviation_id,
                deviation_type,
                detected_at,
                due_at,
                summary,
            } => {
                self.deviations_opened += 1;
                self.deviations.insert(
                    deviation_id.clone(),
                    Deviation {
                        deviation_type: deviation_type.clone(),
                        detected_at: *detected_at,
                        due_at: *due_at,
                        summary: summary.clone(),
                        updates: 0,
                        escalated: false,
                        resolved_at: None,
                    },
                );
            }
            E::DeviationUpdated { deviation_id, .. } => {
                if let Some(d) = self.deviations.get_mut(deviation_id) {
                    d.updates = d.updates.saturating_add(1);
                }
            }
            E::DeviationResolved { deviation_id, .. } => {
                if let Some(d) = self.deviations.get_mut(deviation_id) {
                    d.resolved_at = Some(meta.at);
                }
            }
            E::SlaMissed { deviation_id, .. } => {
                if let Some(d) = self.deviations.get_mut(deviation_id) {
                    d.escalated = true;
                }
            }
            E::AccessDenied { .. } => {}
        }
    }

    fn check_invariants(&self) -> Result<(), InvariantViolation> {
        for (principal, grants) in self.access.grants() {
            if grants.is_empty() {
                return Err(InvariantViolation(format!(
                    "{principal} has an empty grant list"
                )));
            }
            if let Some(g) = grants
                .iter()
                .find(|g| !self.access.roles().contains_key(&g.role))
            {
                return Err(InvariantViolation(format!(
                    "{principal} holds undefined role {}",
                    g.role
                )));
            }
            for g in grants {
                if let Some(c) =
                    self.access
                        .exclusive_violation(principal, &g.role, g.subject.as_ref())
                {
                    return Err(InvariantViolation(format!(
                        "{principal} breaks constraint {c}"
                    )));
                }
            }
        }
        if let Some(b) = &self.baseline {
            for (id, cr) in &self.changes {
                if let ChangeStatus::Applied { version } = cr.status
                    && version > b.version
                {
                    return Err(InvariantViolation(format!(
                        "change {id} applied beyond the baseline"
                    )));
                }
            }
        }
        if u64::try_from(self.deviations.len()).ok() != Some(self.deviations_opened) {
            return Err(InvariantViolation(
                "deviation count disagrees with the ids issued".into(),
            ));
        }
        for (id, d) in &self.deviations {
            if d.due_at < d.detected_at {
                return Err(InvariantViolation(format!(
                    "deviation {id} is due before it was detected"
                )));
            }
        }
        Ok(())
    }
}

impl Policy {
    fn set_change_status(&mut self, id: &ChangeId, status: ChangeStatus) {
        if let Some(cr) = self.changes.get_mut(id) {
            cr.status = status;
        }
    }
}
