//! Why the plane refused: every refusal is a value with a stable code.

use ro_artifacts::{ArtifactRejection, ModelVersion};
use ro_jobs::JobsRejection;
use ro_policy::{Action, PolicyRejection};

use crate::deploy::EnvironmentName;
use crate::registry::FailureMode;
use crate::streams::StreamName;

/// Why the plane refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaneRejection {
    /// A policy refusal (including authorization).
    #[error(transparent)]
    Policy(PolicyRejection),
    /// An artifact refusal.
    #[error(transparent)]
    Artifacts(ArtifactRejection),
    /// A jobs refusal.
    #[error(transparent)]
    Jobs(JobsRejection),
    /// The lockdown refuses management commands: only what the facts table lets through
    /// passes (see [`lockdown_passes`]).
    #[error("lockdown is active: {}", lockdown_passes())]
    LockdownActive,
    /// Production is locked: nothing may enable execution.
    #[error("production is locked: nothing may enable execution until a human unlocks it")]
    ProductionLocked,
    /// The kill switch is engaged: execution is halted.
    #[error("the kill switch is engaged: execution is halted until a human releases it")]
    KillSwitchEngaged,
    /// A deviation whose type halts or pauses is open: nothing may enable execution.
    #[error(
        "a deviation that halts or pauses the plane is open: nothing may enable execution until a human resolves it (RESOLVE_DEVIATION)"
    )]
    DeviationOpen,
    /// A reported input gate contradicts the artifact store, which holds gates: an artifact's
    /// gate is set there (`SET_ARTIFACT_GATE`), and a PASS is never taken on a caller's word.
    #[error(
        "the artifact store holds {locator}'s gate as {store}, not {reported}: gates are set in \
         the artifact store (REGISTER_ARTIFACT, SET_ARTIFACT_GATE) and reach the jobs with it"
    )]
    GateContradictsStore {
        /// The input.
        locator: String,
        /// What the caller reported.
        reported: &'static str,
        /// What the store holds (`UNREGISTERED` for an artifact it does not know).
        store: &'static str,
    },
    /// An admin action without a reason: every admin record says why (see
    /// `audit::reason_optional` for the few that may not).
    #[error(
        "{0} is an admin action: give a reason (the document's \"reason\" field): \
         it is kept on the audit record"
    )]
    ReasonRequired(Action),
    /// The command takes two steps: this is the first, answered with the token to send back
    /// with the same command (its digest is recorded, never the token; Debug redacts it).
    #[error("confirmation required: re-send the same command with the confirmation token")]
    ConfirmationRequired(ro_core::ConfirmationToken),
    /// The token is wrong, reused, expired, or another actor's.
    #[error("confirmation token refused: {0}")]
    ConfirmationRefused(&'static str),
    /// Nothing to do (e.g. releasing a lockdown that is not raised).
    #[error("{0}")]
    Invalid(&'static str),
    /// A command's values are wrong.
    #[error("{0}")]
    InvalidArgument(String),
    /// The action needs a signed command.
    #[error("{0} needs a signed command: send it with a `signature` from a registered key")]
    SignatureRequired(Action),
    /// The signature does not verify.
    #[error("signature refused: {0}")]
    SignatureInvalid(String),
    /// A key registration without a valid proof that its registrant holds the key.
    #[error("key registration refused: {0}")]
    KeyUnproven(String),
    /// No such environment.
    #[error("unknown environment {0}; define it with DEFINE_ENVIRONMENT")]
    UnknownEnvironment(EnvironmentName),
    /// No such stream.
    #[error("unknown stream {0}; create it with CREATE_STREAM")]
    UnknownStream(StreamName),
    /// No such model version is registered.
    #[error("model version {0} is not registered; register it with REGISTER_MODEL")]
    UnknownModel(ModelVersion),
    /// The candidate has not completed its shadow window.
    #[error("the shadow window is not complete: {cycles} of {window} cycles")]
    ShadowWindowIncomplete {
        /// Shadow cycles completed.
        cycles: u64,
        /// Shadow cycles needed.
        window: u64,
    },
    /// The candidate has no approval and the promoter may not approve it.
    #[error(
        "candidate {0} is not approved for promotion: a holder of APPROVE_PROMOTION (the risk owner) approves it first (APPROVE_PROMOTION)"
    )]
    PromotionNotApproved(ModelVersion),
    /// The failure status is not `NORMAL`: investigate and reset it first.
    #[error("the failure status is {0}: investigate the open incidents and reset it first")]
    FailureStatusActive(FailureMode),
    /// A query's arguments are wrong (an unknown calendar, a cron expression that does not
    /// parse, too many runs asked).
    #[error("{0}")]
    InvalidQuery(String),
}

impl ro_core::Rejection for PlaneRejection {
    fn code(&self) -> &'static str {
        match self {
            PlaneRejection::Policy(r) => r.code(),
            PlaneRejection::Artifacts(r) => r.code(),
            PlaneRejection::Jobs(r) => r.code(),
            PlaneRejection::LockdownActive => "LOCKDOWN_ACTIVE",
            PlaneRejection::ProductionLocked => "PRODUCTION_LOCKED",
            PlaneRejection::KillSwitchEngaged => "KILL_SWITCH",
            PlaneRejection::DeviationOpen => "DEVIATION_OPEN",
            PlaneRejection::GateContradictsStore { .. } => "GATE_CONTRADICTS_STORE",
            PlaneRejection::ReasonRequired(_) => "REASON_REQUIRED",
            PlaneRejection::ConfirmationRequired(_) => "CONFIRMATION_REQUIRED",
            PlaneRejection::ConfirmationRefused(_) => "CONFIRMATION_REFUSED",
            PlaneRejection::Invalid(_) | PlaneRejection::InvalidArgument(_) => "INVALID_COMMAND",
            PlaneRejection::UnknownModel(_) => "UNKNOWN_MODEL",
            PlaneRejection::UnknownStream(_) => "UNKNOWN_STREAM",
            PlaneRejection::UnknownEnvironment(_) => "UNKNOWN_ENVIRONMENT",
            PlaneRejection::SignatureRequired(_) => "SIGNATURE_REQUIRED",
            PlaneRejection::SignatureInvalid(_) => "SIGNATURE_INVALID",
            PlaneRejection::KeyUnproven(_) => "KEY_POSSESSION_UNPROVEN",
            PlaneRejection::ShadowWindowIncomplete { .. } => "SHADOW_WINDOW_INCOMPLETE",
            PlaneRejection::PromotionNotApproved(_) => "PROMOTION_NOT_APPROVED",
            PlaneRejection::FailureStatusActive(_) => "FAILURE_STATUS_ACTIVE",
            PlaneRejection::InvalidQuery(_) => "INVALID_QUERY",
        }
    }
}

/// What passes an emergency lockdown, read from the facts tables: the commands marked to pass
/// it, and every command whose action makes the plane safer.
pub fn lockdown_passes() -> String {
    let commands: Vec<&str> = crate::AdminCommand::FACTS
        .iter()
        .filter(|f| f.passes_lockdown)
        .map(|f| f.ty)
        .collect();
    let safer: Vec<&str> = Action::ALL
        .iter()
        .filter(|a| a.safety() == ro_policy::Safety::Increasing)
        .map(|a| a.as_str())
        .collect();
    format!(
        "only {} (cycles forced to STOP), commands whose action makes the plane safer ({}), and queries are accepted",
        commands.join(", "),
        safer.join(", ")
    )
}
