//! The plane's own commands, with the facts table every guard reads (see
//! `ro_policy::facts`): for each command, its wire name, its room (the module that decides it
//! and folds its events), whether it takes two steps, whether it passes a lockdown, and
//! whether it enables execution; and [`AdminCommand::action`], its policy action and resource.

use std::borrow::Cow;

use ro_artifacts::{Locator, ModelVersion};
use ro_core::{ActorId, Ratio};
use ro_policy::Action;
use serde::{Deserialize, Serialize};

use crate::deploy::{DeploymentSpec, EnvironmentName, EnvironmentSpec, RolloutState};
use crate::health::{ComponentReport, ReadinessResult};
use crate::observe;
use crate::registry::{FailureMode, Intent};
use crate::signing::KeyId;
use crate::streams::{StreamName, StreamSpec};

/// The feature module (room) that decides a command and folds its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// The emergency lockdown, the production lock and the kill switch ([`crate::posture`]).
    Posture,
    /// Two-step confirmations and four-eyes ([`crate::confirm`]).
    Confirmations,
    /// Models, the promotion path, cycles and the failure status ([`crate::registry`]).
    Registry,
    /// Components, readiness and observability signals ([`crate::health`]).
    Health,
    /// Signing keys and required signatures ([`crate::signing`]).
    Signing,
    /// Environments, deployments and last-known-good captures ([`crate::deploy`]).
    Deploy,
    /// Event-bus streams ([`crate::streams`]).
    Streams,
    /// API tokens ([`crate::credentials`]).
    Credentials,
    /// Alert routing and alerts ([`crate::alerts`]).
    Alerts,
    /// Online ML metrics and the quarantine ([`crate::learning`]).
    Learning,
}

// The facts of every admin command. Actions that make the plane safer pass a lockdown by their
// action (`Safety::Increasing`); `passes_lockdown` marks the others that still pass: the
// release itself and what the plane observes (cycles, forced to STOP; component reports;
// signals).
ro_policy::command_facts! { AdminCommand in Room;
    EmergencyLockdown = "EMERGENCY_LOCKDOWN" in Room::Posture;
    ReleaseLockdown = "RELEASE_LOCKDOWN" | "UNRELEASE_LOCKDOWN" in Room::Posture, two_step, passes_lockdown;
    ProductionLock = "PRODUCTION_LOCK" in Room::Posture;
    ProductionUnlock = "PRODUCTION_UNLOCK" in Room::Posture, two_step;
    EngageKillSwitch = "ENGAGE_KILL_SWITCH" in Room::Posture;
    ReleaseKillSwitch = "RELEASE_KILL_SWITCH" in Room::Posture, two_step;
    ConfigureConfirmations = "CONFIGURE_CONFIRMATIONS" in Room::Confirmations, when_loosening;
    SetCandidateModel = "SET_CANDIDATE_MODEL" in Room::Registry;
    RecordCycle = "RECORD_CYCLE" in Room::Registry, passes_lockdown;
    SetCanaryRatio = "SET_CANARY_RATIO" in Room::Registry;
    ApprovePromotion = "APPROVE_PROMOTION" in Room::Registry;
    PromoteCandidate = "PROMOTE_CANDIDATE" in Room::Registry, two_step, enables_execution;
    RollbackModel = "ROLLBACK_MODEL" in Room::Registry, two_step;
    ConfigureShadowWindow = "CONFIGURE_SHADOW_WINDOW" in Room::Registry, when_loosening;
    DefineIntents = "DEFINE_INTENTS" in Room::Registry;
    ReportFailure = "REPORT_FAILURE" in Room::Registry;
    ResetFailureStatus = "RESET_FAILURE_STATUS" in Room::Registry, two_step;
    ReportComponent = "REPORT_COMPONENT" in Room::Health, passes_lockdown;
    ReportSignal = "REPORT_SIGNAL" in Room::Health, passes_lockdown;
    RecordReadiness = "RECORD_READINESS" in Room::Health;
    ClearNoGo = "CLEAR_NO_GO" in Room::Health, two_step;
    CreateStream = "CREATE_STREAM" in Room::Streams;
    ChangeStreamRetention = "CHANGE_STREAM_RETENTION" in Room::Streams, when_loosening;
    ChangeStreamPartitions = "CHANGE_STREAM_PARTITIONS" in Room::Streams;
    ChangeStreamAccess = "CHANGE_STREAM_ACCESS" in Room::Streams, when_loosening;
    RegisterSigningKey = "REGISTER_SIGNING_KEY" in Room::Signing, when_loosening;
    RevokeSigningKey = "REVOKE_SIGNING_KEY" in Room::Signing;
    RequireSignatures = "REQUIRE_SIGNATURES" in Room::Signing;
    DefineEnvironment = "DEFINE_ENVIRONMENT" in Room::Deploy;
    Deploy = "DEPLOY" in Room::Deploy, when_loosening;
    RecordRollout = "RECORD_ROLLOUT" in Room::Deploy;
    CaptureLkg = "CAPTURE_LKG" in Room::Deploy;
    RestoreLkg = "RESTORE_LKG" in Room::Deploy, two_step;
    IssueToken = "ISSUE_TOKEN" in Room::Credentials;
    RevokeToken = "REVOKE_TOKEN" in Room::Credentials;
    ConfigureAlerts = "CONFIGURE_ALERTS" in Room::Alerts;
    AcknowledgeAlert = "ACKNOWLEDGE_ALERT" in Room::Alerts, passes_lockdown;
    ResolveAlert = "RESOLVE_ALERT" in Room::Alerts, passes_lockdown;
    ReportMlMetrics = "REPORT_ML_METRICS" in Room::Learning, passes_lockdown;
    QuarantineExperience = "QUARANTINE_EXPERIENCE" in Room::Learning;
}

/// The plane's own commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum AdminCommand {
    /// Raises the emergency lockdown: management commands are refused until it is released.
    EmergencyLockdown {},
    /// Releases the lockdown (human-only, two-step). The operator runbook's name
    /// `UNRELEASE_LOCKDOWN` is accepted as the same command.
    #[serde(alias = "UNRELEASE_LOCKDOWN")]
    ReleaseLockdown {},
    /// Locks production: nothing may enable execution until a human unlocks it.
    ProductionLock {},
    /// Unlocks production (human-only, two-step).
    ProductionUnlock {},
    /// Engages the kill switch: execution halts until a human releases it.
    EngageKillSwitch {},
    /// Releases the kill switch (human-only, two-step).
    ReleaseKillSwitch {},
    /// Turns four-eyes confirmation on or off (human-only): when on, the second step of a
    /// two-step command must come from a different human than the first, who hands the token
    /// over.
    ConfigureConfirmations {
        /// Whether a different human must confirm.
        four_eyes: bool,
    },
    /// Makes a registered model version the candidate, starting its shadow window.
    SetCandidateModel {
        /// The version (registered with `REGISTER_MODEL`).
        version: ModelVersion,
    },
    /// Records one cycle of the governed system; its intent is forced to `STOP` while the
    /// plane is halted.
    RecordCycle {
        /// What the system intends to do.
        intent: Intent,
        /// How long the cycle took.
        #[serde(default)]
        latency_ms: Option<u64>,
        /// Whether the cycle violated a rule.
        #[serde(default)]
        violation: Option<bool>,
        /// Whether the cycle survived.
        #[serde(default)]
        survived: Option<bool>,
        /// Whether the cycle's output was deterministic (replayed identically).
        #[serde(default)]
        deterministic: Option<bool>,
    },
    /// Sends a share of live traffic to the candidate (human-only).
    SetCanaryRatio {
        /// From 0 to 1, at most 4 decimal places (held in basis points).
        ratio: Ratio,
    },
    /// Approves the candidate for promotion (a holder of `APPROVE_PROMOTION`, such as the risk
    /// owner): a promoter without that permission promotes only an approved candidate.
    ApprovePromotion {
        /// The candidate version approved.
        version: ModelVersion,
    },
    /// Promotes the candidate to active (human-only, two-step; refused before the shadow
    /// window is complete, and without an approval unless the promoter may approve).
    PromoteCandidate {},
    /// Makes the previous active model active again (human-only, two-step).
    RollbackModel {},
    /// Sets how many shadow cycles a candidate needs before promotion (human-only).
    ConfigureShadowWindow {
        /// At least 1.
        cycles: u64,
    },
    /// Declares a failure mode beyond `NORMAL` and records an incident.
    ReportFailure {
        /// `DEGRADED`, `SAFE_MODE` or `FAILED`.
        mode: FailureMode,
        /// What was detected.
        description: String,
        /// A registered artifact holding a state snapshot to reproduce it offline.
        #[serde(default)]
        snapshot: Option<Locator>,
    },
    /// Reports a component's heartbeat and health (the host's monitor).
    ReportComponent(ro_core::Valid<ComponentReport>),
    /// Reports an observability signal (the host's monitor): artifact-store errors, stream
    /// lag or storage pressure, with what it concerns.
    ReportSignal(ro_core::Valid<observe::Signal>),
    /// Issues an API token for a registered principal (human-only). Hosts send it with the
    /// token's secret kept outside the journal; the journal records the id, never the secret.
    IssueToken {
        /// The token's public id.
        token_id: crate::credentials::TokenId,
        /// Whom it authenticates.
        principal: ActorId,
        /// When it stops authenticating (never when absent).
        #[serde(default)]
        expires_at: Option<ro_core::Timestamp>,
    },
    /// Revokes an API token.
    RevokeToken {
        /// The token.
        token_id: crate::credentials::TokenId,
    },
    /// Creates an event-bus stream with its partitions, retention and access.
    CreateStream(ro_core::Valid<StreamSpec>),
    /// Changes a stream's retention (human-only; two-step when it shortens the replay window).
    ChangeStreamRetention {
        /// The stream.
        stream: StreamName,
        /// The new retention, in hours.
        retention_hours: u64,
    },
    /// Registers a principal's Ed25519 public key: by the principal itself with `proof`, or
    /// by a human for another principal in two steps.
    RegisterSigningKey {
        /// The key's id.
        key_id: KeyId,
        /// Whose key it is.
        principal: ActorId,
        /// The public key, 64 lowercase hex digits.
        public_key: String,
        /// Proof of possession: the new key's signature (128 hex digits) over
        /// `signing::key_registration_message`. Required when a principal registers its own
        /// key; checked whenever given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proof: Option<String>,
    },
    /// Revokes a signing key (its principal, or a human).
    RevokeSigningKey {
        /// The key's id.
        key_id: KeyId,
    },
    /// Sets which actions need a signed command (human-only).
    RequireSignatures {
        /// The actions.
        actions: ro_policy::ActionSet,
    },
    /// Records a readiness check (GO or NO-GO) with its evidence artifact (the host).
    RecordReadiness {
        /// The verdict.
        result: ReadinessResult,
        /// The readiness report, a registered artifact.
        evidence: Locator,
    },
    /// Clears a NO-GO posture (human-only, two-step).
    ClearNoGo {},
    /// Defines or redefines an environment (human-only).
    DefineEnvironment(EnvironmentSpec),
    /// Deploys a service version pinned to an artifact digest (human-only; two-step into
    /// production; refused into production under the production lock or the kill switch).
    Deploy(DeploymentSpec),
    /// Records a rollout step of a deployment (the host).
    RecordRollout {
        /// The deployment.
        deployment: u64,
        /// `applied`, `verified` or `failed`.
        outcome: RolloutState,
    },
    /// Captures an environment's current deployments as last known good.
    CaptureLkg {
        /// The environment.
        environment: EnvironmentName,
    },
    /// Deploys a last-known-good capture again (human-only, two-step).
    RestoreLkg {
        /// The environment.
        environment: EnvironmentName,
        /// The capture's number.
        lkg: u64,
    },
    /// Grows a stream's partitions (human-only).
    ChangeStreamPartitions {
        /// The stream.
        stream: StreamName,
        /// The new partition count (more than before).
        partitions: u32,
    },
    /// Replaces who may publish to or subscribe to a stream (human-only; two-step when it
    /// admits anyone new). A list not given stays as it is.
    ChangeStreamAccess {
        /// The stream.
        stream: StreamName,
        /// Who may publish, from now on.
        #[serde(default)]
        publishers: Option<std::collections::BTreeSet<ro_core::ActorId>>,
        /// Who may subscribe, from now on.
        #[serde(default)]
        subscribers: Option<std::collections::BTreeSet<ro_core::ActorId>>,
    },
    /// Returns the failure status to `NORMAL`, resolving open incidents (human-only,
    /// two-step).
    ResetFailureStatus {},
    /// Defines the closed set of intents a cycle may carry (human-only; `STOP` always in it).
    DefineIntents {
        /// The intents.
        intents: Vec<Intent>,
    },
    /// Reports a registered model's latest online figures, as exact decimals.
    ReportMlMetrics {
        /// The model version.
        model: ModelVersion,
        /// The figures, by name (1 to 32): decimal strings or integers.
        metrics: std::collections::BTreeMap<crate::learning::MetricName, crate::learning::Decimal>,
    },
    /// Keeps an experience out of learning, with why.
    QuarantineExperience {
        /// The experience.
        experience: crate::learning::ExperienceId,
        /// Why, as a code (`A-Z`, `0-9`, `_`).
        reason_code: String,
        /// What was seen (at most 512 bytes).
        #[serde(default)]
        detail: String,
        /// A registered artifact showing it.
        #[serde(default)]
        evidence: Option<Locator>,
    },
    /// Replaces the alert routing: a rule per trigger and the market calendar (human-only).
    ConfigureAlerts(ro_core::Valid<crate::alerts::AlertConfig>),
    /// Acknowledges an open alert: someone is on it.
    AcknowledgeAlert {
        /// The alert's number.
        alert: u64,
    },
    /// Resolves an open alert (a component fault resolves itself once the component is OK).
    ResolveAlert {
        /// The alert's number.
        alert: u64,
    },
}

impl AdminCommand {
    /// The policy action this command is authorized as, and the resource it touches.
    pub fn action(&self) -> (Action, Cow<'static, str>) {
        use AdminCommand as C;
        let fixed = |action, resource: &'static str| (action, Cow::Borrowed(resource));
        match self {
            C::EmergencyLockdown {} => fixed(Action::EmergencyLockdown, "plane"),
            C::ReleaseLockdown {} => fixed(Action::ReleaseLockdown, "plane"),
            C::ProductionLock {} => fixed(Action::ProductionLock, "production"),
            C::ProductionUnlock {} => fixed(Action::ProductionUnlock, "production"),
            C::EngageKillSwitch {} => fixed(Action::EngageKillSwitch, "production"),
            C::ReleaseKillSwitch {} => fixed(Action::ReleaseKillSwitch, "production"),
            C::ConfigureConfirmations { .. } => fixed(Action::ConfigureConfirmations, "plane"),
            C::SetCandidateModel { .. } => fixed(Action::SetCandidateModel, "registry"),
            C::RecordCycle { .. } => fixed(Action::RecordCycle, "registry"),
            C::SetCanaryRatio { .. } => fixed(Action::SetCanaryRatio, "registry"),
            C::ApprovePromotion { .. } => fixed(Action::ApprovePromotion, "registry"),
            C::PromoteCandidate {} => fixed(Action::PromoteModel, "registry"),
            C::RollbackModel {} => fixed(Action::RollbackModel, "registry"),
            C::ConfigureShadowWindow { .. } => fixed(Action::ConfigureShadowWindow, "registry"),
            C::DefineIntents { .. } => fixed(Action::DefineIntents, "registry"),
            C::ReportFailure { .. } => fixed(Action::ReportFailure, "plane"),
            C::ReportComponent(_) => fixed(Action::ReportComponent, "components"),
            // A signal is a monitor's report like a component's heartbeat.
            C::ReportSignal(_) => fixed(Action::ReportComponent, "signals"),
            C::RegisterSigningKey { key_id, .. } => {
                (Action::RegisterSigningKey, format!("key:{key_id}").into())
            }
            C::RevokeSigningKey { key_id } => {
                (Action::RevokeSigningKey, format!("key:{key_id}").into())
            }
            C::RequireSignatures { .. } => fixed(Action::RequireSignatures, "signing"),
            C::RecordReadiness { .. } => fixed(Action::RecordReadiness, "readiness"),
            C::ClearNoGo {} => fixed(Action::ClearNoGo, "readiness"),
            C::DefineEnvironment(spec) => (
                Action::DefineEnvironment,
                format!("environment:{}", spec.environment).into(),
            ),
            C::Deploy(spec) => (
                Action::Deploy,
                format!("environment:{}", spec.environment).into(),
            ),
            C::RecordRollout { deployment, .. } => (
                Action::ReportRollout,
                format!("deployment:{deployment}").into(),
            ),
            C::CaptureLkg { environment } => (
                Action::CaptureLkg,
                format!("environment:{environment}").into(),
            ),
            C::RestoreLkg { environment, .. } => (
                Action::RestoreLkg,
                format!("environment:{environment}").into(),
            ),
            C::CreateStream(spec) => (
                Action::CreateStream,
                format!("stream:{}", spec.stream).into(),
            ),
            C::ChangeStreamRetention { stream, .. } => (
                Action::ChangeStreamRetention,
                format!("stream:{stream}").into(),
            ),
            C::ChangeStreamPartitions { stream, .. } => (
                Action::ChangeStreamPartitions,
                format!("stream:{stream}").into(),
            ),
            C::ChangeStreamAccess { stream, .. } => (
                Action::ChangeStreamAccess,
                format!("stream:{stream}").into(),
            ),
            C::ResetFailureStatus {} => fixed(Action::ResetFailureStatus, "plane"),
            C::IssueToken { principal, .. } => {
                (Action::IssueToken, format!("principal:{principal}").into())
            }
            C::RevokeToken { token_id } => {
                (Action::RevokeToken, format!("token:{token_id}").into())
            }
            C::ConfigureAlerts(_) => fixed(Action::ConfigureAlerts, "alerts"),
            // Figures are reported like cycles, by the governed system.
            C::ReportMlMetrics { .. } => fixed(Action::RecordCycle, "registry"),
            C::QuarantineExperience { .. } => fixed(Action::QuarantineExperience, "quarantine"),
            C::AcknowledgeAlert { alert } => {
                (Action::AcknowledgeAlert, format!("alert:{alert}").into())
            }
            C::ResolveAlert { alert } => (Action::ResolveAlert, format!("alert:{alert}").into()),
        }
    }
}
