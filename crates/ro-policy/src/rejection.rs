//! [`PolicyRejection`]: why the policy refused, each with a stable code.

use ro_core::ActorId;

use crate::{
    Action, ChangeId, ConfigName, ConfigVersion, ConstraintId, DecisionReason, DeviationId,
    DeviationTypeId, LimitKind, RoleName, RuleId, SecretName,
};

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
            Unauthorized { reasons, .. }
                if reasons
                    .iter()
                    .any(|r| matches!(r, DecisionReason::CredentialRevoked(_))) =>
            {
                "TOKEN_REVOKED"
            }
            Unauthorized { reasons, .. }
                if reasons
                    .iter()
                    .any(|r| matches!(r, DecisionReason::CredentialExpired(_))) =>
            {
                "TOKEN_EXPIRED"
            }
            Unauthorized { reasons, .. }
                if reasons
                    .iter()
                    .any(|r| matches!(r, DecisionReason::CredentialInvalid(_))) =>
            {
                "TOKEN_INVALID"
            }
            Unauthorized { reasons, .. }
                if reasons
                    .iter()
                    .any(|r| matches!(r, DecisionReason::ActorMismatch(_))) =>
            {
                "ACTOR_MISMATCH"
            }
            Unauthorized { reasons, .. }
                if reasons
                    .iter()
                    .any(|r| matches!(r, DecisionReason::KindMismatch(_))) =>
            {
                "PRINCIPAL_KIND_MISMATCH"
            }
            Unauthorized { reasons, .. }
                if reasons.contains(&DecisionReason::UnregisteredPrincipal) =>
            {
                "UNREGISTERED_PRINCIPAL"
            }
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
