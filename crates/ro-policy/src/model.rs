//! Freeze baselines and change requests, config versions, and deviation SLAs.

use std::fmt;

use ro_core::{ActorId, Digest, Timestamp};
use serde::{Deserialize, Serialize};

ro_core::id_kind!(
    /// Names a component under freeze discipline.
    ComponentId,
    ComponentTag,
    "component id"
);
ro_core::id_kind!(
    /// Identifies a change request.
    ChangeId,
    ChangeTag,
    "change id"
);
ro_core::id_kind!(
    /// Names a config.
    ConfigName,
    ConfigNameTag,
    "config name"
);
ro_core::id_kind!(
    /// A config version.
    ConfigVersion,
    ConfigVersionTag,
    "config version"
);
ro_core::id_kind!(
    /// Names a deviation type.
    DeviationTypeId,
    DeviationTypeTag,
    "deviation type"
);
ro_core::id_kind!(
    /// Identifies a deviation (`dev-N`, in order of detection records).
    DeviationId,
    DeviationTag,
    "deviation id"
);
ro_core::id_kind!(
    /// Identifies a unit of work whose cost is recorded.
    UnitId,
    UnitTag,
    "unit id"
);

/// A baseline version, `v{major}.{minor}`.
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
#[serde(deny_unknown_fields)]
pub struct BaselineVersion {
    /// Incremented by a breaking change (minor resets to 0).
    pub major: u32,
    /// Incremented by a non-breaking change.
    pub minor: u32,
}

impl BaselineVersion {
    /// The version after a change.
    pub fn next(self, breaking: bool) -> Self {
        if breaking {
            BaselineVersion {
                major: self.major.saturating_add(1),
                minor: 0,
            }
        } else {
            BaselineVersion {
                major: self.major,
                minor: self.minor.saturating_add(1),
            }
        }
    }
}

impl fmt::Display for BaselineVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}", self.major, self.minor)
    }
}

pub use change_status::ChangeStatus;

mod change_status {
    // rkyv generates a resolver type for this enum whose fields carry no docs.
    #![allow(missing_docs)]

    use ro_core::ActorId;
    use serde::{Deserialize, Serialize};

    use super::BaselineVersion;

    /// Where a change request stands.
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
    #[serde(rename_all = "snake_case", tag = "status")]
    pub enum ChangeStatus {
        /// Requested, awaiting review.
        Requested,
        /// Reviewed by someone other than the requester.
        Reviewed {
            /// The reviewer.
            by: ActorId,
        },
        /// Approved by someone other than the requester.
        Approved {
            /// The approver.
            by: ActorId,
        },
        /// Rejected.
        Rejected {
            /// Who rejected it.
            by: ActorId,
        },
        /// Applied: the baseline moved to `version`.
        Applied {
            /// The new baseline version.
            version: BaselineVersion,
        },
    }
}

impl ChangeStatus {
    /// The status's name, as serialized in its `status` tag (a test holds the two together).
    pub fn name(&self) -> &'static str {
        match self {
            ChangeStatus::Requested => "requested",
            ChangeStatus::Reviewed { .. } => "reviewed",
            ChangeStatus::Approved { .. } => "approved",
            ChangeStatus::Rejected { .. } => "rejected",
            ChangeStatus::Applied { .. } => "applied",
        }
    }
}

/// A request to change one frozen component.
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
pub struct ChangeRequest {
    /// The component to change (one request, one change).
    pub component: ComponentId,
    /// What and why.
    pub description: String,
    /// Whether the change breaks compatibility (a major version).
    pub breaking: bool,
    /// Who asked.
    pub requested_by: ActorId,
    /// Where it stands.
    pub status: ChangeStatus,
}

/// A published config version, as runs and derivations record it.
#[derive(
    Debug,
    Clone,
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
#[serde(deny_unknown_fields)]
pub struct ConfigVersionRef {
    /// The config.
    pub config_name: ConfigName,
    /// Its version.
    pub config_version: ConfigVersion,
    /// The digest of its content.
    #[serde(default)]
    pub digest: Option<Digest>,
    /// Where its content lives.
    #[serde(default, rename = "ref")]
    pub locator: Option<String>,
}

/// How serious a deviation is.
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
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Stop now (Sev-0).
    Critical,
    /// Serious.
    High,
    /// Needs attention.
    Medium,
    /// Informational.
    Low,
}

/// What a deviation of a type does to the plane while open.
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
#[serde(rename_all = "snake_case")]
pub enum DeviationAction {
    /// Halt everything.
    Halt,
    /// Block the offending kind of action.
    Block,
    /// Pause production: no new cycles.
    Pause,
    /// Alert and investigate.
    Alert,
}

/// A deviation type: severity, SLA window and action.
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
pub struct DeviationType {
    /// What it does while open.
    pub action: DeviationAction,
    /// How serious.
    pub severity: Severity,
    /// Seconds from detection to the SLA deadline (1 to 30 days).
    pub sla_seconds: u32,
}

/// The built-in deviation types.
pub fn builtin_deviation_types() -> Vec<(&'static str, DeviationType)> {
    use DeviationAction::*;
    use Severity::*;
    let t = |severity, hours: u32, action| DeviationType {
        severity,
        sla_seconds: hours * 3600,
        action,
    };
    vec![
        ("signature_verification_failure", t(Critical, 1, Halt)),
        ("cost_ceiling_breach", t(Critical, 2, Block)),
        ("budget_breach", t(Critical, 2, Block)),
        ("rate_limit_breach", t(Critical, 2, Block)),
        ("compliance_failure", t(Critical, 4, Pause)),
        ("determinism_threshold_failure", t(High, 24, Alert)),
        ("agent_attempted_human_only_action", t(Critical, 1, Alert)),
    ]
}

/// A recorded deviation and its SLA clock.
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
pub struct Deviation {
    /// Its type.
    pub deviation_type: DeviationTypeId,
    /// When it was detected (the SLA clock starts here).
    pub detected_at: Timestamp,
    /// When the SLA window closes.
    pub due_at: Timestamp,
    /// What was seen.
    pub summary: String,
    /// Status updates posted.
    pub updates: u32,
    /// Whether the SLA was missed (escalated).
    pub escalated: bool,
    /// When it was resolved, if it was.
    pub resolved_at: Option<Timestamp>,
}
