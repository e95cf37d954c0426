//! The plane: one decider over one totally ordered stream, composing policy, artifacts and
//! jobs, with admin actions on top.
//!
//! **Built so far (issue "ro-admin", in progress):** the composition ([`Plane`],
//! [`PlaneCommand`], [`PlaneEvent`]) following authorize → guard → decide → append → evolve;
//! authorization of every artifact and job command through ro-policy (policy commands authorize
//! themselves), with denied attempts recorded (an agent's attempt at a human-only action also
//! opens a Sev-0 deviation); the emergency lockdown, which refuses every management command
//! with `LOCKDOWN_ACTIVE` and forces every recorded cycle to `STOP`; the production lock and
//! kill switch, under which nothing may enable execution; two-step confirmations, whose tokens
//! are keyed by a host secret so they cannot be derived from the journal, with an optional
//! four-eyes mode; the model promotion path, cycles and their monitoring, the failure status
//! and incidents ([`registry`]); the AdminEvent record of every admin action, read from the
//! journal ([`audit`]); components, freshness, the status contract and mission control
//! ([`health`]); and the read-only queries ([`PlaneQuery`]).
//!
//! ```
//! use ro_admin::{Plane, PlaneCommand, AdminCommand};
//! use ro_core::{Context, Kernel, testing::{agent, human, t0}};
//!
//! let plane = Plane::with_confirmation_key([7; 32]);
//! let mut kernel = Kernel::resume(plane, 0, ro_core::Journal::new())?;
//! let ctx = Context::new(t0(), human("alice"));
//! kernel.execute(&PlaneCommand::Policy(serde_json::from_str(r#"{"type":"GRANT_ROLE","principal":"alice","role":"admin"}"#)?), &ctx)?;
//! kernel.execute(&PlaneCommand::Policy(serde_json::from_str(r#"{"type":"GRANT_ROLE","principal":"bot","role":"operator"}"#)?), &ctx)?;
//! // An agent may raise the lockdown (safer) …
//! kernel.execute(&PlaneCommand::Admin(AdminCommand::EmergencyLockdown {}), &Context::new(t0(), agent("bot")))?;
//! // … after which management commands are refused.
//! let refused = kernel.execute(&PlaneCommand::Policy(serde_json::from_str(r#"{"type":"GRANT_ROLE","principal":"carol","role":"analyst"}"#)?), &ctx);
//! assert_eq!(refused.unwrap_err().code(), "LOCKDOWN_ACTIVE");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod attestation;
pub mod audit;
pub mod deploy;
pub mod health;
pub mod observe;
pub mod registry;
pub mod signing;
pub mod streams;
#[cfg(feature = "testing")]
pub mod testing;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use deploy::{
    DeployedService, DeploymentSpec, Deployments, EnvironmentName, EnvironmentSpec, Lkg,
    RolloutState,
};
use health::{
    ComponentReport, ComponentView, Components, Readiness, ReadinessCheck, ReadinessResult,
};
use registry::{Change, CycleRecorded, FailureMode, HealthChecklist, Heartbeat, Intent, Registry};
use ro_artifacts::{
    ArtifactCommand, ArtifactEvent, ArtifactRef, ArtifactRejection, Artifacts, HandoffPackage,
    Locator, ModelVersion, StoryId,
};
use ro_core::{
    Actor, ActorId, Context, Decider, Digest, EventMeta, InvariantViolation, Ratio, Timestamp,
};
use ro_jobs::{CalendarName, Jobs, JobsCommand, JobsEvent, JobsRejection, Schedule, ScheduleSpec};
use ro_policy::Day;
use ro_policy::{Action, Policy, PolicyCommand, PolicyEvent, PolicyRejection, Request, Safety};
use serde::{Deserialize, Serialize};
use signing::{KeyId, RegisteredKey, Signing};
use streams::{StreamName, StreamSpec, Streams};

/// How long a pending confirmation stays valid.
pub const CONFIRMATION_TTL_SECONDS: i64 = 300;

/// The plane's own commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum AdminCommand {
    /// Raises the emergency lockdown: management commands are refused until it is released.
    EmergencyLockdown {},
    /// Releases the lockdown (human-only, two-step). The operator runbook's name
    /// `UNRELEASE_LOCKDOWN` is accepted as the same command.
    #[serde(alias = "UNRELEASE_LOCKDOWN")]
    ReleaseLockdown {
        /// The token from the first request.
        #[serde(default)]
        confirmation_token: Option<String>,
    },
    /// Locks production: nothing may enable execution until a human unlocks it.
    ProductionLock {},
    /// Unlocks production (human-only, two-step).
    ProductionUnlock {
        /// The token from the first request.
        #[serde(default)]
        confirmation_token: Option<String>,
    },
    /// Engages the kill switch: execution halts until a human releases it.
    EngageKillSwitch {},
    /// Releases the kill switch (human-only, two-step).
    ReleaseKillSwitch {
        /// The token from the first request.
        #[serde(default)]
        confirmation_token: Option<String>,
    },
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
    /// Promotes the candidate to active (human-only, two-step; refused before the shadow
    /// window is complete).
    PromoteCandidate {
        /// The token from the first request.
        #[serde(default)]
        confirmation_token: Option<String>,
    },
    /// Makes the previous active model active again (human-only, two-step).
    RollbackModel {
        /// The token from the first request.
        #[serde(default)]
        confirmation_token: Option<String>,
    },
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
    ReportComponent(ComponentReport),
    /// Reports an observability signal (the host's monitor): artifact-store errors, stream
    /// lag or storage pressure, with what it concerns.
    ReportSignal(observe::Signal),
    /// Creates an event-bus stream with its partitions, retention and access.
    CreateStream(StreamSpec),
    /// Changes a stream's retention (human-only; two-step when it shortens the replay window).
    ChangeStreamRetention {
        /// The stream.
        stream: StreamName,
        /// The new retention, in hours.
        retention_hours: u64,
        /// The token from the first request (shortening only).
        #[serde(default)]
        confirmation_token: Option<String>,
    },
    /// Registers a principal's Ed25519 public key (human-only).
    RegisterSigningKey {
        /// The key's id.
        key_id: KeyId,
        /// Whose key it is.
        principal: ActorId,
        /// The public key, 64 lowercase hex digits.
        public_key: String,
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
        /// The token from the first request.
        #[serde(default)]
        confirmation_token: Option<String>,
    },
    /// Grows a stream's partitions (human-only).
    ChangeStreamPartitions {
        /// The stream.
        stream: StreamName,
        /// The new partition count (more than before).
        partitions: u32,
    },
    /// Returns the failure status to `NORMAL`, resolving open incidents (human-only,
    /// two-step).
    ResetFailureStatus {
        /// The token from the first request.
        #[serde(default)]
        confirmation_token: Option<String>,
    },
}

impl AdminCommand {
    /// The confirmation token slot of a two-step command; `None` for one-step commands.
    fn token_slot(&mut self) -> Option<&mut Option<String>> {
        match self {
            AdminCommand::ReleaseLockdown { confirmation_token }
            | AdminCommand::ProductionUnlock { confirmation_token }
            | AdminCommand::ReleaseKillSwitch { confirmation_token }
            | AdminCommand::PromoteCandidate { confirmation_token }
            | AdminCommand::RollbackModel { confirmation_token }
            | AdminCommand::ResetFailureStatus { confirmation_token }
            | AdminCommand::ChangeStreamRetention {
                confirmation_token, ..
            }
            | AdminCommand::RestoreLkg {
                confirmation_token, ..
            } => Some(confirmation_token),
            AdminCommand::EmergencyLockdown {}
            | AdminCommand::ProductionLock {}
            | AdminCommand::EngageKillSwitch {}
            | AdminCommand::ConfigureConfirmations { .. }
            | AdminCommand::SetCandidateModel { .. }
            | AdminCommand::RecordCycle { .. }
            | AdminCommand::SetCanaryRatio { .. }
            | AdminCommand::ConfigureShadowWindow { .. }
            | AdminCommand::ReportFailure { .. }
            | AdminCommand::ReportComponent(_)
            | AdminCommand::ReportSignal(_)
            | AdminCommand::CreateStream(_)
            | AdminCommand::ChangeStreamPartitions { .. }
            | AdminCommand::DefineEnvironment(_)
            | AdminCommand::RecordReadiness { .. }
            | AdminCommand::RegisterSigningKey { .. }
            | AdminCommand::RequireSignatures { .. }
            | AdminCommand::ClearNoGo {}
            | AdminCommand::Deploy(_)
            | AdminCommand::RecordRollout { .. }
            | AdminCommand::CaptureLkg { .. } => None,
        }
    }

    /// The same command carrying `token` (what a client sends on the second step); one-step
    /// commands are returned unchanged.
    pub fn with_confirmation_token(mut self, token: String) -> Self {
        if let Some(slot) = self.token_slot() {
            *slot = Some(token);
        }
        self
    }
}

/// Anything that may be asked of the plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "domain", content = "command", rename_all = "snake_case")]
#[expect(
    clippy::large_enum_variant,
    reason = "values are moved once into the journal; boxing would add an allocation per command and event"
)]
pub enum PlaneCommand {
    /// A policy command.
    Policy(PolicyCommand),
    /// An artifact command.
    Artifacts(ArtifactCommand),
    /// A jobs command.
    Jobs(JobsCommand),
    /// An admin command.
    Admin(AdminCommand),
    /// A command signed by its actor's registered key (required for the actions policy
    /// names): the signature covers [`signing::signing_message`] of the command's digest.
    Signed {
        /// The command.
        command: Box<PlaneCommand>,
        /// The key that signed it.
        key_id: KeyId,
        /// The Ed25519 signature, 128 lowercase hex digits.
        signature: String,
    },
    /// The second step of a two-step command that has no token field of its own (resuming a
    /// job, shortening an artifact retention, shortening the shadow window, turning four-eyes
    /// off): the command and the token from the first step. The token is bound to the inner
    /// command's digest.
    Confirmed {
        /// The command being confirmed.
        command: Box<PlaneCommand>,
        /// The token from the first request.
        confirmation_token: String,
    },
}

impl PlaneCommand {
    /// The second step of this command: the token in the command's own field when it has one
    /// (the runbook's two-step commands), otherwise the command wrapped in
    /// [`PlaneCommand::Confirmed`].
    pub fn with_confirmation_token(self, token: String) -> PlaneCommand {
        match self {
            PlaneCommand::Admin(mut admin) => match admin.token_slot() {
                Some(slot) => {
                    *slot = Some(token);
                    PlaneCommand::Admin(admin)
                }
                None => PlaneCommand::Confirmed {
                    command: Box::new(PlaneCommand::Admin(admin)),
                    confirmation_token: token,
                },
            },
            PlaneCommand::Confirmed { command, .. } => command.with_confirmation_token(token),
            PlaneCommand::Signed {
                command,
                key_id,
                signature,
            } => PlaneCommand::Signed {
                command: Box::new(command.with_confirmation_token(token)),
                key_id,
                signature,
            },
            other => PlaneCommand::Confirmed {
                command: Box::new(other),
                confirmation_token: token,
            },
        }
    }
}

/// The plane's own events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
#[schemars(rename = "PlaneAdminEvent")]
pub enum AdminEvent {
    /// The lockdown was raised.
    LockdownRaised {
        /// Who raised it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// The lockdown was released.
    LockdownReleased {
        /// Who released it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// Production was locked.
    ProductionLocked {
        /// Who locked it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// Production was unlocked.
    ProductionUnlocked {
        /// Who unlocked it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// The kill switch was engaged.
    KillSwitchEngaged {
        /// Who engaged it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// The kill switch was released.
    KillSwitchReleased {
        /// Who released it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// The confirmation mode changed.
    ConfirmationsConfigured {
        /// Four-eyes before.
        before: bool,
        /// Four-eyes after.
        after: bool,
        /// Who changed it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// A model version became the candidate (its shadow window starts; the canary ratio
    /// returns to zero).
    CandidateSet {
        /// The new candidate.
        version: ModelVersion,
        /// The candidate it replaced.
        before: Option<ModelVersion>,
        /// Who set it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// One cycle of the governed system.
    CycleRecorded(CycleRecorded),
    /// The canary ratio changed.
    CanaryRatioSet {
        /// Before.
        before: Ratio,
        /// After.
        after: Ratio,
        /// Who set it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// The candidate became the active model.
    CandidatePromoted {
        /// The new active version.
        version: ModelVersion,
        /// The version it replaced (what rollback returns to).
        previous: Option<ModelVersion>,
        /// Shadow cycles it completed.
        shadow_cycles: u64,
        /// Who promoted it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// The previous active model became active again.
    ModelRolledBack {
        /// The version that was active.
        from: ModelVersion,
        /// The version active now.
        to: ModelVersion,
        /// Who rolled back.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// The shadow window changed.
    ShadowWindowConfigured {
        /// Cycles before.
        before: u64,
        /// Cycles after.
        after: u64,
        /// Who changed it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// A failure was reported: an incident is open.
    FailureReported {
        /// The mode it raises the status to (at least).
        mode: FailureMode,
        /// What was detected.
        description: String,
        /// The state snapshot artifact, if any.
        snapshot: Option<Locator>,
        /// Who reported it.
        by: ActorId,
    },
    /// A component reported its heartbeat and health.
    ComponentReported(ComponentReport),
    /// The host reported an observability signal.
    SignalReported(observe::Signal),
    /// A signing key was registered.
    SigningKeyRegistered {
        /// The key's id.
        key_id: KeyId,
        /// Whose key it is.
        principal: ActorId,
        /// The public key, hex.
        public_key: String,
        /// Who registered it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// The actions needing a signature changed.
    SignaturesRequired {
        /// Before.
        before: ro_policy::ActionSet,
        /// After.
        after: ro_policy::ActionSet,
        /// Who changed them.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// A command's signature verified.
    SignatureVerified {
        /// The key.
        key_id: KeyId,
        /// The action of the command signed.
        action: Action,
        /// The command signed.
        command_digest: Digest,
        /// The signature (128 hex digits), kept so that anyone holding the public key can
        /// verify it again from the journal alone.
        signature: String,
    },
    /// A command's signature failed: the command was refused.
    SignatureRejected {
        /// The key named.
        key_id: KeyId,
        /// The action of the command.
        action: Action,
        /// The command.
        command_digest: Digest,
        /// The signature sent, when it was well-formed (128 lowercase hex digits).
        signature: Option<String>,
        /// Why.
        reason: String,
    },
    /// A readiness check was recorded.
    ReadinessRecorded {
        /// The check.
        check: ReadinessCheck,
        /// Who recorded it.
        by: ActorId,
    },
    /// A NO-GO posture was cleared.
    NoGoCleared {
        /// The NO-GO it cleared.
        check: ReadinessCheck,
        /// Who cleared it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// An environment was defined.
    EnvironmentDefined {
        /// Its settings.
        spec: EnvironmentSpec,
        /// Its settings before, if it existed.
        before: Option<EnvironmentSpec>,
        /// Who defined it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// A deployment was requested.
    DeploymentRequested {
        /// Its number.
        deployment: u64,
        /// What it deploys.
        spec: DeploymentSpec,
        /// The capture it restores, if any.
        from_lkg: Option<u64>,
        /// Who asked.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// A rollout moved.
    RolloutRecorded {
        /// The deployment.
        deployment: u64,
        /// Before.
        before: RolloutState,
        /// After.
        after: RolloutState,
    },
    /// A last-known-good capture was recorded.
    LkgCaptured {
        /// The capture.
        lkg: Lkg,
        /// Who captured it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// A stream was created.
    StreamCreated {
        /// Its settings.
        spec: StreamSpec,
        /// Who created it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// A stream's retention changed.
    StreamRetentionChanged {
        /// The stream.
        stream: StreamName,
        /// Hours before.
        before: u64,
        /// Hours after.
        after: u64,
        /// Whether the replay window shrank (the change was safety-reducing).
        shortens_replay_window: bool,
        /// The operational fact, when it shrank.
        note: Option<String>,
        /// Who changed it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// A stream's partitions grew.
    StreamPartitionsChanged {
        /// The stream.
        stream: StreamName,
        /// Partitions before.
        before: u32,
        /// Partitions after.
        after: u32,
        /// Who changed them.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// The failure status returned to `NORMAL`.
    FailureStatusReset {
        /// The status before.
        before: FailureMode,
        /// Who reset it.
        by: ActorId,
        /// The reason given.
        reason: Option<ro_core::Reason>,
    },
    /// A two-step command is pending confirmation.
    ConfirmationRequested {
        /// The digest of the command (what the token is bound to).
        command_digest: Digest,
        /// Who must confirm.
        actor: ActorId,
        /// The digest of the token (the token itself never enters the journal).
        token_digest: Digest,
        /// When it expires.
        expires_at: Timestamp,
    },
    /// A confirmation was used.
    ConfirmationConsumed {
        /// The token's digest.
        token_digest: Digest,
    },
}

/// Everything that happens on the plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "domain", content = "event", rename_all = "snake_case")]
pub enum PlaneEvent {
    /// A policy event.
    Policy(PolicyEvent),
    /// An artifact event.
    Artifacts(ArtifactEvent),
    /// A jobs event.
    Jobs(JobsEvent),
    /// An admin event.
    Admin(AdminEvent),
}

impl ro_core::Event for PlaneEvent {
    const SCHEMA_VERSION: u32 = 1;
}

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
    /// The lockdown refuses management commands.
    #[error("lockdown is active: only its release and read-only queries are accepted")]
    LockdownActive,
    /// Production is locked: nothing may enable execution.
    #[error("production is locked: nothing may enable execution until a human unlocks it")]
    ProductionLocked,
    /// The kill switch is engaged: execution is halted.
    #[error("the kill switch is engaged: execution is halted until a human releases it")]
    KillSwitchEngaged,
    /// The command needs confirmation: a token was issued (see the recorded request).
    #[error("confirmation required: re-send the same command with the confirmation token")]
    ConfirmationRequired,
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
            PlaneRejection::ConfirmationRequired => "CONFIRMATION_REQUIRED",
            PlaneRejection::ConfirmationRefused(_) => "CONFIRMATION_REFUSED",
            PlaneRejection::Invalid(_) | PlaneRejection::InvalidArgument(_) => "INVALID_COMMAND",
            PlaneRejection::UnknownModel(_) => "UNKNOWN_MODEL",
            PlaneRejection::UnknownStream(_) => "UNKNOWN_STREAM",
            PlaneRejection::UnknownEnvironment(_) => "UNKNOWN_ENVIRONMENT",
            PlaneRejection::SignatureRequired(_) => "SIGNATURE_REQUIRED",
            PlaneRejection::SignatureInvalid(_) => "SIGNATURE_INVALID",
            PlaneRejection::ShadowWindowIncomplete { .. } => "SHADOW_WINDOW_INCOMPLETE",
            PlaneRejection::FailureStatusActive(_) => "FAILURE_STATUS_ACTIVE",
            PlaneRejection::InvalidQuery(_) => "INVALID_QUERY",
        }
    }
}

/// A read-only question to the plane: answered from the state, appending nothing, and
/// answered during a lockdown too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum PlaneQuery {
    /// An artifact's reference, refused unless its gate is PASS (authorized as
    /// `READ_ARTIFACT`).
    ReadArtifact {
        /// The artifact.
        #[serde(rename = "ref")]
        locator: Locator,
    },
    /// The handoff package of a story.
    HandoffPackage {
        /// The story.
        story: StoryId,
    },
    /// The next `count` instants of a schedule after `after`, on trading days of `calendar`
    /// when one is named.
    NextRuns {
        /// Five-field cron expression.
        cron: String,
        /// IANA zone name.
        timezone: String,
        /// Instants strictly after this one.
        after: Timestamp,
        /// How many.
        count: u32,
        /// A calendar defined on the plane.
        #[serde(default)]
        calendar: Option<CalendarName>,
    },
    /// The status contract: `OK`, `MARKET_CLOSED` or `HALTED` with reason codes, at the
    /// query's time.
    OpsStatus {
        /// A trading calendar: `MARKET_CLOSED` on its non-trading days.
        #[serde(default)]
        calendar: Option<CalendarName>,
    },
    /// Every component watched, with its status at the query's time.
    MissionControl {},
    /// Every event-bus stream with its settings.
    Streams {},
    /// What is deployed where, pinned to digests, and whether it is healthy.
    DeployReport {
        /// One environment (all when absent).
        #[serde(default)]
        environment: Option<EnvironmentName>,
    },
    /// A run and its attempts, as public attempt records.
    RunStatus {
        /// The run.
        run_id: ro_jobs::RunId,
    },
    /// The operator runbook's heartbeat: models, canary, lockdown, failure status and
    /// monitoring. (A `HEARTBEAT` with a `run_id` is the jobs command of a running attempt.)
    Heartbeat {},
    /// The daily cost report of a UTC day (seed 003).
    CostReport {
        /// `YYYY-MM-DD`.
        day: Day,
    },
    /// The attestation of a period (seed 003, section 2.2): compliance, economic safety,
    /// determinism and deviations, with an outcome.
    Attestation {
        /// The first UTC day, `YYYY-MM-DD`.
        from: Day,
        /// The last UTC day (at most 366 days after `from`).
        to: Day,
    },
    /// The daily health checklist of a UTC day (the latest cycle's day when absent).
    HealthChecklist {
        /// `YYYY-MM-DD`.
        #[serde(default)]
        day: Option<Day>,
    },
}

/// The answer to a [`PlaneQuery`]; serialized as the response's `result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum QueryAnswer {
    /// `READ_ARTIFACT`.
    Artifact {
        /// The reference.
        artifact: ArtifactRef,
    },
    /// `HANDOFF_PACKAGE`.
    Handoff(HandoffPackage),
    /// `NEXT_RUNS`.
    Runs {
        /// The instants, in order.
        runs: Vec<Timestamp>,
    },
    /// `OPS_STATUS`.
    Status {
        /// `OK`, `MARKET_CLOSED` or `HALTED`.
        state: &'static str,
        /// Why, sorted; empty when `OK`.
        reason_codes: Vec<String>,
        /// What may run.
        safety: SafetyPosture,
        /// The observability minimums: job success and failure rates, artifact-store
        /// errors, stream lag, storage pressure, and their warnings (which never halt).
        observability: observe::ObservabilityView,
    },
    /// `MISSION_CONTROL`.
    MissionControl {
        /// Always `OK`: the view itself never halts.
        state: &'static str,
        /// The plane's own halt reasons.
        plane_halt_reasons: Vec<&'static str>,
        /// Every component, by name.
        components: Vec<ComponentView>,
    },
    /// `DEPLOY_REPORT`.
    DeployReport {
        /// Every service of the environments asked about.
        services: Vec<DeployedService>,
        /// The kept last-known-good captures, by environment.
        last_known_good: BTreeMap<EnvironmentName, Vec<u64>>,
    },
    /// `STREAMS`.
    Streams {
        /// By name.
        streams: Vec<StreamSpec>,
    },
    /// `RUN_STATUS`.
    Run {
        /// The run.
        run_id: ro_jobs::RunId,
        /// The job.
        job_id: ro_jobs::JobId,
        /// Where it stands.
        status: ro_jobs::RunStatus,
        /// Its attempts, oldest first.
        attempts: Vec<ro_jobs::JobAttemptRecord>,
    },
    /// `HEARTBEAT`.
    Heartbeat(Heartbeat),
    /// `HEALTH_CHECKLIST`.
    HealthChecklist(HealthChecklist),
    /// `COST_REPORT`.
    Cost(ro_policy::CostReport),
    /// `ATTESTATION`.
    Attestation(attestation::Attestation),
    /// A query with nothing to report (`HEALTH_CHECKLIST` before any cycle, `COST_REPORT`
    /// before limits are set).
    Nothing {},
}

/// The safety part of the status contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]

pub struct SafetyPosture {
    /// False under the kill switch, a lockdown or a production lock.
    pub safe_to_execute_orders: bool,
    /// False when halted for any reason (a stale critical component included).
    pub safe_to_run_strategies: bool,
}

/// What a command's response carries in `result`, derived from the events it appended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum CommandResult {
    /// `RECORD_CYCLE`: the intent in effect (`STOP` while halted).
    Cycle {
        /// The intent in effect.
        intent: Intent,
        /// Whether it was forced to `STOP`.
        forced_stop: bool,
        /// Whether the cycle counted toward the shadow window.
        shadow: bool,
    },
    /// Every other command.
    Empty {},
}

/// The `result` of a command whose events are `events`.
pub fn command_result<'a>(events: impl IntoIterator<Item = &'a PlaneEvent>) -> CommandResult {
    for event in events {
        if let PlaneEvent::Admin(AdminEvent::CycleRecorded(cycle)) = event {
            return CommandResult::Cycle {
                intent: cycle.intent.clone(),
                forced_stop: cycle.forced_stop,
                shadow: cycle.shadow,
            };
        }
    }
    CommandResult::Empty {}
}

/// A pending two-step confirmation.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Pending {
    /// The command it is bound to.
    pub command_digest: Digest,
    /// Who must confirm.
    pub actor: ActorId,
    /// When it expires.
    pub expires_at: Timestamp,
}

/// The host's key for confirmation tokens: configuration kept outside the journal, so it is
/// not part of the state (equality ignores it, serialization and snapshots skip it), and
/// redacted in Debug.
#[derive(Clone, Default)]
struct ConfirmationKey([u8; 32]);

impl PartialEq for ConfirmationKey {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ConfirmationKey {}

impl fmt::Debug for ConfirmationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The plane's state: every domain's state and the plane's own.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Plane {
    artifacts: Artifacts,
    components: Components,
    deployments: Deployments,
    four_eyes: bool,
    /// Issued confirmations, for unique tokens (part of the token's input).
    issued: u64,
    jobs: Jobs,
    kill_switch: Option<ActorId>,
    lockdown: Option<ActorId>,
    observability: observe::Observability,
    pending: BTreeMap<Digest, Pending>,
    policy: Policy,
    production_lock: Option<ActorId>,
    readiness: Readiness,
    registry: Registry,
    signing: Signing,
    streams: Streams,
    #[serde(skip)]
    #[rkyv(with = rkyv::with::Skip)]
    key: ConfirmationKey,
}

impl Plane {
    /// Counts a job's attempt outcome for the observability minimums.
    fn count_outcome(&mut self, event: &JobsEvent, at: Timestamp) {
        let (run_id, failure) = match event {
            JobsEvent::AttemptSucceeded { run_id, .. } | JobsEvent::RunFailed { run_id, .. } => {
                (run_id, None)
            }
            JobsEvent::AttemptFailed {
                run_id,
                number,
                error_code,
                ..
            } => (run_id, Some((*number, error_code.clone(), false))),
            JobsEvent::AttemptTimedOut { run_id, number, .. } => {
                (run_id, Some((*number, "TIMEOUT".to_owned(), true)))
            }
            _ => return,
        };
        let Some(job) = self.jobs.run(run_id).map(|r| r.job_id.clone()) else {
            return;
        };
        match (event, failure) {
            (JobsEvent::AttemptSucceeded { .. }, _) => self.observability.attempt_succeeded(&job),
            (JobsEvent::RunFailed { .. }, _) => self.observability.run_failed(&job),
            (_, Some((attempt, error_code, timed_out))) => self.observability.attempt_failed(
                &job,
                observe::LastFailure {
                    run_id: run_id.clone(),
                    attempt,
                    error_code,
                    at,
                },
                timed_out,
            ),
            _ => {}
        }
    }
}

/// The digest a two-step command's token is bound to: the canonical JSON of the command
/// without its token.
pub fn command_digest(command: &PlaneCommand) -> Digest {
    if let PlaneCommand::Confirmed { command, .. } | PlaneCommand::Signed { command, .. } = command
    {
        return command_digest(command);
    }
    let mut bare = command.clone();
    if let PlaneCommand::Admin(admin) = &mut bare
        && let Some(slot) = admin.token_slot()
    {
        *slot = None;
    }
    let bytes = ro_core::canonical::to_canonical_vec(&bare).unwrap_or_default();
    Digest::of_parts(&[b"ro.command.v1\0", &bytes])
}

impl Plane {
    /// A plane whose confirmation tokens are keyed by `key` (the host keeps it secret).
    pub fn with_confirmation_key(key: [u8; 32]) -> Self {
        Plane {
            key: ConfirmationKey(key),
            ..Plane::default()
        }
    }

    /// Sets the host's confirmation key (after a snapshot restore, which never holds it).
    pub fn set_confirmation_key(&mut self, key: [u8; 32]) {
        self.key = ConfirmationKey(key);
    }

    /// The policy state.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The artifact store's state.
    pub fn artifacts(&self) -> &Artifacts {
        &self.artifacts
    }

    /// The jobs plane's state.
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// The model registry, cycles and failure status.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Whether the lockdown is raised.
    pub fn lockdown(&self) -> bool {
        self.lockdown.is_some()
    }

    /// Whether four-eyes confirmation is on.
    pub fn four_eyes(&self) -> bool {
        self.four_eyes
    }

    /// Whether production is locked.
    pub fn production_locked(&self) -> bool {
        self.production_lock.is_some()
    }

    /// Whether the kill switch is engaged.
    pub fn kill_switch(&self) -> bool {
        self.kill_switch.is_some()
    }

    /// Whether execution may go on: no lockdown, no production lock, no kill switch.
    pub fn safe_to_execute(&self) -> bool {
        self.lockdown.is_none() && self.production_lock.is_none() && self.kill_switch.is_none()
    }

    /// Why the plane is halted, as sorted reason codes (empty when execution may go on).
    pub fn halt_reasons(&self) -> Vec<&'static str> {
        let mut reasons = Vec::new();
        if self.kill_switch.is_some() {
            reasons.push("KILL_SWITCH");
        }
        if self.lockdown.is_some() {
            reasons.push("LOCKDOWN_ACTIVE");
        }
        if self.production_lock.is_some() {
            reasons.push("PRODUCTION_LOCKED");
        }
        reasons
    }

    /// The token of the confirmation issued as number `n` for `command_digest` and `actor`:
    /// the host calls this after a `ConfirmationRequested` event to tell the actor the token.
    pub fn confirmation_token(&self, command_digest: &Digest, actor: &ActorId, n: u64) -> String {
        let mut input = Vec::with_capacity(96);
        input.extend_from_slice(command_digest.as_bytes());
        input.extend_from_slice(actor.as_bytes());
        input.extend_from_slice(&n.to_le_bytes());
        Digest::keyed(&self.key.0, &input).to_hex()
    }

    /// Signing keys and the actions that need a signature.
    pub fn signing(&self) -> &Signing {
        &self.signing
    }

    /// The readiness posture.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// Environments, deployments and captures.
    pub fn deployments(&self) -> &Deployments {
        &self.deployments
    }

    /// The event-bus streams.
    pub fn streams(&self) -> &Streams {
        &self.streams
    }

    /// The components the plane watches.
    pub fn components(&self) -> &Components {
        &self.components
    }

    /// Answers a read-only query asked by `actor` at `now` (freshness is judged against it).
    pub fn query(
        &self,
        query: &PlaneQuery,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<QueryAnswer, PlaneRejection> {
        match query {
            PlaneQuery::ReadArtifact { locator } => {
                self.authorize(Action::ReadArtifact, "artifacts", actor)?;
                let artifact = self
                    .artifacts
                    .read(locator)
                    .map_err(PlaneRejection::Artifacts)?;
                Ok(QueryAnswer::Artifact {
                    artifact: artifact.clone(),
                })
            }
            PlaneQuery::HandoffPackage { story } => {
                Ok(QueryAnswer::Handoff(self.artifacts.handoff_package(story)))
            }
            PlaneQuery::NextRuns {
                cron,
                timezone,
                after,
                count,
                calendar,
            } => {
                let calendar = match calendar {
                    None => None,
                    Some(name) => Some(self.jobs.calendar(name).ok_or_else(|| {
                        PlaneRejection::InvalidQuery(format!(
                            "unknown calendar {name}; define it with DEFINE_CALENDAR"
                        ))
                    })?),
                };
                let invalid =
                    |e: ro_jobs::ScheduleError| PlaneRejection::InvalidQuery(e.to_string());
                let schedule = Schedule::new(ScheduleSpec {
                    cron: cron.clone(),
                    timezone: timezone.clone(),
                    gap: Default::default(),
                    fold: Default::default(),
                })
                .map_err(invalid)?;
                let count = usize::try_from(*count).unwrap_or(usize::MAX);
                let runs = schedule.runs(*after, count, calendar).map_err(invalid)?;
                Ok(QueryAnswer::Runs { runs })
            }
            PlaneQuery::OpsStatus { calendar } => {
                let market_open = match calendar {
                    None => true,
                    Some(name) => self
                        .jobs
                        .calendar(name)
                        .ok_or_else(|| {
                            PlaneRejection::InvalidQuery(format!(
                                "unknown calendar {name}; define it with DEFINE_CALENDAR"
                            ))
                        })?
                        .is_trading_at(now)
                        .ok_or_else(|| {
                            PlaneRejection::InvalidQuery(format!(
                                "calendar {name}: its time zone is unknown"
                            ))
                        })?,
                };
                let plane = self.halt_reasons();
                let mut components = self.components.halt_reasons(now);
                if self.readiness.no_go.is_some() {
                    components.push("READINESS_NO_GO".to_owned());
                }
                let safety = SafetyPosture {
                    safe_to_execute_orders: plane.is_empty(),
                    safe_to_run_strategies: plane.is_empty() && components.is_empty(),
                };
                let mut reason_codes: Vec<String> = plane
                    .iter()
                    .map(|r| (*r).to_owned())
                    .chain(components)
                    .collect();
                reason_codes.sort();
                let state = if !reason_codes.is_empty() {
                    "HALTED"
                } else if !market_open {
                    reason_codes.push("MARKET_CLOSED".into());
                    "MARKET_CLOSED"
                } else {
                    "OK"
                };
                Ok(QueryAnswer::Status {
                    state,
                    reason_codes,
                    safety,
                    observability: self.observability.view(),
                })
            }
            PlaneQuery::DeployReport { environment } => {
                let mut services = Vec::new();
                let mut last_known_good = BTreeMap::new();
                for env in self.deployments.environments() {
                    if environment.as_ref().is_some_and(|e| *e != env.environment) {
                        continue;
                    }
                    let current = self.deployments.current(&env.environment);
                    let names: BTreeSet<&deploy::ServiceName> = env
                        .services
                        .iter()
                        .chain(current.iter().map(|d| &d.spec.service))
                        .collect();
                    for service in names {
                        let health = health::ComponentName::new(service.as_str())
                            .map(|c| self.components.status(&c, now))
                            .unwrap_or(health::ComponentStatus::Offline);
                        services.push(DeployedService {
                            environment: env.environment.clone(),
                            production: env.production,
                            service: service.clone(),
                            deployment: current
                                .iter()
                                .find(|d| d.spec.service == *service)
                                .map(|d| (*d).clone()),
                            health,
                        });
                    }
                    last_known_good.insert(
                        env.environment.clone(),
                        self.deployments
                            .lkgs(&env.environment)
                            .iter()
                            .map(|l| l.lkg)
                            .collect(),
                    );
                }
                if let Some(name) = environment
                    && self.deployments.environment(name).is_none()
                {
                    return Err(PlaneRejection::InvalidQuery(format!(
                        "unknown environment {name}"
                    )));
                }
                Ok(QueryAnswer::DeployReport {
                    services,
                    last_known_good,
                })
            }
            PlaneQuery::Streams {} => Ok(QueryAnswer::Streams {
                streams: self.streams.all().cloned().collect(),
            }),
            PlaneQuery::MissionControl {} => Ok(QueryAnswer::MissionControl {
                state: "OK",
                plane_halt_reasons: self.halt_reasons(),
                components: self.components.view(now),
            }),
            PlaneQuery::RunStatus { run_id } => {
                let run = self
                    .jobs
                    .run(run_id)
                    .ok_or_else(|| PlaneRejection::InvalidQuery(format!("unknown run {run_id}")))?;
                Ok(QueryAnswer::Run {
                    run_id: run_id.clone(),
                    job_id: run.job_id.clone(),
                    status: run.status,
                    attempts: run.attempt_records(run_id),
                })
            }
            PlaneQuery::Heartbeat {} => Ok(QueryAnswer::Heartbeat(
                self.registry.heartbeat(self.lockdown.is_some()),
            )),
            PlaneQuery::Attestation { from, to } => Ok(QueryAnswer::Attestation(
                attestation::attest(self, *from, *to).map_err(PlaneRejection::InvalidQuery)?,
            )),
            PlaneQuery::CostReport { day } => Ok(match self.policy.cost_report(*day) {
                Some(report) => QueryAnswer::Cost(report),
                None => QueryAnswer::Nothing {},
            }),
            PlaneQuery::HealthChecklist { day } => Ok(match day.or(self.registry.last_day()) {
                Some(day) => QueryAnswer::HealthChecklist(self.registry.health_checklist(day)),
                None => QueryAnswer::Nothing {},
            }),
        }
    }

    /// How many confirmations are pending (issued, not used, and not yet forgotten: expired
    /// ones are forgotten one TTL after their expiry).
    pub fn pending_confirmations(&self) -> usize {
        self.pending.len()
    }

    /// How many confirmations have been issued (the next one's number is this plus one).
    pub fn confirmations_issued(&self) -> u64 {
        self.issued
    }

    fn authorize(
        &self,
        action: Action,
        resource: &str,
        actor: &Actor,
    ) -> Result<(), PlaneRejection> {
        let decision = self.policy.authorize(&Request {
            actor,
            action,
            resource,
            subject: None,
        });
        if decision.allowed {
            Ok(())
        } else {
            Err(PlaneRejection::Policy(PolicyRejection::Unauthorized {
                action,
                reasons: decision.reasons,
            }))
        }
    }

    /// The ro-policy action of a command and the resource it touches (policy commands
    /// authorize themselves inside ro-policy).
    pub fn action_of(&self, command: &PlaneCommand) -> (Action, Cow<'static, str>) {
        use JobsCommand as J;
        match command {
            PlaneCommand::Confirmed { command, .. } | PlaneCommand::Signed { command, .. } => {
                self.action_of(command)
            }
            PlaneCommand::Policy(c) => {
                let (a, r, _) = c.action();
                (a, Cow::Owned(r))
            }
            PlaneCommand::Artifacts(c) => (self.artifacts.action_of(c), "artifacts".into()),
            PlaneCommand::Jobs(c) => (
                match c {
                    J::DefineJob { .. } => Action::DefineJob,
                    J::DefinePool { .. } => Action::DefinePool,
                    J::DefineCalendar { .. } | J::OverrideCalendarDate { .. } => {
                        Action::DefineCalendar
                    }
                    J::ObserveGate { .. } => Action::ObserveGate,
                    J::RequestRun { .. } | J::SkipSlot { .. } => Action::TriggerRun,
                    J::Backfill { .. } => Action::RequestReplay,
                    J::StartAttempt { .. } | J::Heartbeat { .. } | J::CompleteAttempt { .. } => {
                        Action::ReportAttempt
                    }
                    J::CancelRun { .. } => Action::CancelRun,
                    J::PauseJob { .. } => Action::PauseJob,
                    J::DrainJob { .. } => Action::DrainJob,
                    J::ResumeJob { .. } => Action::ResumeJob,
                    J::Tick {} => Action::Tick,
                },
                "jobs".into(),
            ),
            PlaneCommand::Admin(AdminCommand::EmergencyLockdown {}) => {
                (Action::EmergencyLockdown, "plane".into())
            }
            PlaneCommand::Admin(AdminCommand::ReleaseLockdown { .. }) => {
                (Action::ReleaseLockdown, "plane".into())
            }
            PlaneCommand::Admin(AdminCommand::ProductionLock {}) => {
                (Action::ProductionLock, "production".into())
            }
            PlaneCommand::Admin(AdminCommand::ProductionUnlock { .. }) => {
                (Action::ProductionUnlock, "production".into())
            }
            PlaneCommand::Admin(AdminCommand::EngageKillSwitch {}) => {
                (Action::EngageKillSwitch, "production".into())
            }
            PlaneCommand::Admin(AdminCommand::ReleaseKillSwitch { .. }) => {
                (Action::ReleaseKillSwitch, "production".into())
            }
            PlaneCommand::Admin(AdminCommand::ConfigureConfirmations { .. }) => {
                (Action::ConfigureConfirmations, "plane".into())
            }
            PlaneCommand::Admin(AdminCommand::SetCandidateModel { .. }) => {
                (Action::SetCandidateModel, "registry".into())
            }
            PlaneCommand::Admin(AdminCommand::RecordCycle { .. }) => {
                (Action::RecordCycle, "registry".into())
            }
            PlaneCommand::Admin(AdminCommand::SetCanaryRatio { .. }) => {
                (Action::SetCanaryRatio, "registry".into())
            }
            PlaneCommand::Admin(AdminCommand::PromoteCandidate { .. }) => {
                (Action::PromoteModel, "registry".into())
            }
            PlaneCommand::Admin(AdminCommand::RollbackModel { .. }) => {
                (Action::RollbackModel, "registry".into())
            }
            PlaneCommand::Admin(AdminCommand::ConfigureShadowWindow { .. }) => {
                (Action::ConfigureShadowWindow, "registry".into())
            }
            PlaneCommand::Admin(AdminCommand::ReportFailure { .. }) => {
                (Action::ReportFailure, "plane".into())
            }
            PlaneCommand::Admin(AdminCommand::ReportComponent(_)) => {
                (Action::ReportComponent, "components".into())
            }
            // A signal is a monitor's report like a component's heartbeat.
            PlaneCommand::Admin(AdminCommand::ReportSignal(_)) => {
                (Action::ReportComponent, "signals".into())
            }
            PlaneCommand::Admin(AdminCommand::RegisterSigningKey { key_id, .. }) => {
                (Action::RegisterSigningKey, format!("key:{key_id}").into())
            }
            PlaneCommand::Admin(AdminCommand::RequireSignatures { .. }) => {
                (Action::RequireSignatures, "signing".into())
            }
            PlaneCommand::Admin(AdminCommand::RecordReadiness { .. }) => {
                (Action::RecordReadiness, "readiness".into())
            }
            PlaneCommand::Admin(AdminCommand::ClearNoGo {}) => {
                (Action::ClearNoGo, "readiness".into())
            }
            PlaneCommand::Admin(AdminCommand::DefineEnvironment(spec)) => (
                Action::DefineEnvironment,
                format!("environment:{}", spec.environment).into(),
            ),
            PlaneCommand::Admin(AdminCommand::Deploy(spec)) => (
                Action::Deploy,
                format!("environment:{}", spec.environment).into(),
            ),
            PlaneCommand::Admin(AdminCommand::RecordRollout { deployment, .. }) => (
                Action::ReportRollout,
                format!("deployment:{deployment}").into(),
            ),
            PlaneCommand::Admin(AdminCommand::CaptureLkg { environment }) => (
                Action::CaptureLkg,
                format!("environment:{environment}").into(),
            ),
            PlaneCommand::Admin(AdminCommand::RestoreLkg { environment, .. }) => (
                Action::RestoreLkg,
                format!("environment:{environment}").into(),
            ),
            PlaneCommand::Admin(AdminCommand::CreateStream(spec)) => (
                Action::CreateStream,
                format!("stream:{}", spec.stream).into(),
            ),
            PlaneCommand::Admin(AdminCommand::ChangeStreamRetention { stream, .. }) => (
                Action::ChangeStreamRetention,
                format!("stream:{stream}").into(),
            ),
            PlaneCommand::Admin(AdminCommand::ChangeStreamPartitions { stream, .. }) => (
                Action::ChangeStreamPartitions,
                format!("stream:{stream}").into(),
            ),
            PlaneCommand::Admin(AdminCommand::ResetFailureStatus { .. }) => {
                (Action::ResetFailureStatus, "plane".into())
            }
        }
    }

    /// The environment a deployment goes to, refused into production while the production
    /// lock or the kill switch holds.
    fn deployable(&self, name: &EnvironmentName) -> Result<&EnvironmentSpec, PlaneRejection> {
        let env = self
            .deployments
            .environment(name)
            .ok_or_else(|| PlaneRejection::UnknownEnvironment(name.clone()))?;
        if env.production {
            if self.kill_switch.is_some() {
                return Err(PlaneRejection::KillSwitchEngaged);
            }
            if self.production_lock.is_some() {
                return Err(PlaneRejection::ProductionLocked);
            }
        }
        Ok(env)
    }

    /// Whether a command is a safety-reducing admin action confirmed through
    /// [`PlaneCommand::Confirmed`] (the admin commands with a token field of their own check it
    /// themselves): resuming a job, shortening an artifact retention, shortening the shadow
    /// window, turning four-eyes off.
    pub fn needs_confirmation(&self, command: &PlaneCommand) -> bool {
        match command {
            PlaneCommand::Jobs(JobsCommand::ResumeJob { .. }) => true,
            PlaneCommand::Artifacts(c) => self.artifacts.action_of(c) == Action::ShortenRetention,
            PlaneCommand::Admin(AdminCommand::ConfigureShadowWindow { cycles }) => {
                *cycles < self.registry.shadow_window()
            }
            PlaneCommand::Admin(AdminCommand::ConfigureConfirmations { four_eyes }) => {
                self.four_eyes && !*four_eyes
            }
            PlaneCommand::Admin(AdminCommand::ClearNoGo {}) => true,
            PlaneCommand::Admin(AdminCommand::Deploy(spec)) => self
                .deployments
                .environment(&spec.environment)
                .is_some_and(|e| e.production),
            _ => false,
        }
    }

    /// Checks a two-step command: without a token, records a pending confirmation and refuses
    /// with `CONFIRMATION_REQUIRED` (the request is recorded by `refusal_events`); with one,
    /// checks it and returns the event that consumes it.
    fn confirm(
        &self,
        command: &PlaneCommand,
        token: Option<&String>,
        ctx: &Context,
    ) -> Result<AdminEvent, PlaneRejection> {
        let Some(token) = token else {
            return Err(PlaneRejection::ConfirmationRequired);
        };
        let token_digest = Digest::of(token.as_bytes());
        let pending =
            self.pending
                .get(&token_digest)
                .ok_or(PlaneRejection::ConfirmationRefused(
                    "unknown or already used",
                ))?;
        if self.four_eyes {
            if pending.actor == ctx.actor.id {
                return Err(PlaneRejection::ConfirmationRefused(
                    "four-eyes: a different human must confirm",
                ));
            }
        } else if pending.actor != ctx.actor.id {
            return Err(PlaneRejection::ConfirmationRefused(
                "issued to another actor",
            ));
        }
        if pending.command_digest != command_digest(command) {
            return Err(PlaneRejection::ConfirmationRefused(
                "issued for another command",
            ));
        }
        if ctx.at > pending.expires_at {
            return Err(PlaneRejection::ConfirmationRefused("expired"));
        }
        Ok(AdminEvent::ConfirmationConsumed { token_digest })
    }
}

/// Whether a command would enable execution (refused under a production lock or the kill
/// switch): requesting or backfilling runs, starting attempts, resuming a job, promoting a
/// model.
fn enables_execution(command: &PlaneCommand) -> bool {
    matches!(
        command,
        PlaneCommand::Jobs(
            JobsCommand::RequestRun { .. }
                | JobsCommand::Backfill { .. }
                | JobsCommand::StartAttempt { .. }
                | JobsCommand::ResumeJob { .. }
        ) | PlaneCommand::Admin(AdminCommand::PromoteCandidate { .. })
    )
}

/// A one-step raise: nothing to record when already raised.
fn raise(already: bool, event: AdminEvent) -> Vec<PlaneEvent> {
    if already {
        Vec::new()
    } else {
        vec![PlaneEvent::Admin(event)]
    }
}

impl Plane {
    /// Authorize → guard → decide, for one command (the two-step check comes after).
    fn decide_one(
        &self,
        command: &PlaneCommand,
        ctx: &Context,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        let (action, resource) = self.action_of(command);
        // 1. Authorize (policy commands authorize themselves, with the bootstrap grant).
        if !matches!(command, PlaneCommand::Policy(_)) {
            self.authorize(action, &resource, &ctx.actor)?;
        }
        // 2. Guard: during lockdown only its release and what makes the plane safer pass;
        //    under a production lock or the kill switch nothing may enable execution.
        if self.lockdown.is_some() {
            // Cycles are still recorded (their intent forced to STOP).
            let passes = matches!(
                command,
                PlaneCommand::Admin(
                    AdminCommand::ReleaseLockdown { .. }
                        | AdminCommand::RecordCycle { .. }
                        | AdminCommand::ReportComponent(_)
                        | AdminCommand::ReportSignal(_)
                )
            ) || action.safety() == Safety::Increasing;
            if !passes {
                return Err(PlaneRejection::LockdownActive);
            }
        }
        if enables_execution(command) {
            if self.kill_switch.is_some() {
                return Err(PlaneRejection::KillSwitchEngaged);
            }
            if self.production_lock.is_some() {
                return Err(PlaneRejection::ProductionLocked);
            }
        }
        // 3. Decide.
        match command {
            PlaneCommand::Policy(c) => Ok(self
                .policy
                .decide(c, ctx)
                .map_err(PlaneRejection::Policy)?
                .into_iter()
                .map(PlaneEvent::Policy)
                .collect()),
            PlaneCommand::Artifacts(c) => Ok(self
                .artifacts
                .decide(c, ctx)
                .map_err(PlaneRejection::Artifacts)?
                .into_iter()
                .map(PlaneEvent::Artifacts)
                .collect()),
            PlaneCommand::Jobs(c) => Ok(self
                .jobs
                .decide(c, ctx)
                .map_err(PlaneRejection::Jobs)?
                .into_iter()
                .map(PlaneEvent::Jobs)
                .collect()),
            PlaneCommand::Admin(admin) => self.decide_admin(command, admin, ctx),
            PlaneCommand::Confirmed { .. } | PlaneCommand::Signed { .. } => Err(
                PlaneRejection::Invalid("a signature or confirmation cannot be nested here"),
            ),
        }
    }

    /// The plane's own commands (authorized and guarded already).
    fn decide_admin(
        &self,
        command: &PlaneCommand,
        admin: &AdminCommand,
        ctx: &Context,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        let (by, reason) = (ctx.actor.id.clone(), ctx.reason.clone());
        match admin {
            AdminCommand::EmergencyLockdown {} => Ok(raise(
                self.lockdown.is_some(),
                AdminEvent::LockdownRaised { by, reason },
            )),
            AdminCommand::ProductionLock {} => Ok(raise(
                self.production_lock.is_some(),
                AdminEvent::ProductionLocked { by, reason },
            )),
            AdminCommand::EngageKillSwitch {} => Ok(raise(
                self.kill_switch.is_some(),
                AdminEvent::KillSwitchEngaged { by, reason },
            )),
            AdminCommand::ReleaseLockdown { confirmation_token } => self.release(
                self.lockdown.is_some(),
                "no lockdown is raised",
                command,
                confirmation_token.as_ref(),
                ctx,
                AdminEvent::LockdownReleased { by, reason },
            ),
            AdminCommand::ProductionUnlock { confirmation_token } => self.release(
                self.production_lock.is_some(),
                "production is not locked",
                command,
                confirmation_token.as_ref(),
                ctx,
                AdminEvent::ProductionUnlocked { by, reason },
            ),
            AdminCommand::ReleaseKillSwitch { confirmation_token } => self.release(
                self.kill_switch.is_some(),
                "the kill switch is not engaged",
                command,
                confirmation_token.as_ref(),
                ctx,
                AdminEvent::KillSwitchReleased { by, reason },
            ),
            AdminCommand::ConfigureConfirmations { four_eyes } => Ok(raise(
                *four_eyes == self.four_eyes,
                AdminEvent::ConfirmationsConfigured {
                    before: self.four_eyes,
                    after: *four_eyes,
                    by,
                    reason,
                },
            )),
            AdminCommand::SetCandidateModel { version } => {
                if self.artifacts.model(version).is_none() {
                    return Err(PlaneRejection::UnknownModel(version.clone()));
                }
                if self.registry.active() == Some(version) {
                    return Err(PlaneRejection::Invalid(
                        "that version is already the active model",
                    ));
                }
                Ok(raise(
                    self.registry.candidate() == Some(version),
                    AdminEvent::CandidateSet {
                        version: version.clone(),
                        before: self.registry.candidate().cloned(),
                        by,
                        reason,
                    },
                ))
            }
            AdminCommand::RecordCycle {
                intent,
                latency_ms,
                violation,
                survived,
                deterministic,
            } => {
                registry::validate_cycle(*latency_ms).map_err(PlaneRejection::InvalidArgument)?;
                let halted = !self.safe_to_execute();
                let stop = Intent::stop();
                let forced_stop = halted && *intent != stop;
                Ok(vec![PlaneEvent::Admin(AdminEvent::CycleRecorded(
                    CycleRecorded {
                        intent: if halted { stop } else { intent.clone() },
                        forced_stop,
                        requested_intent: forced_stop.then(|| intent.clone()),
                        latency_ms: *latency_ms,
                        violation: violation.unwrap_or(false),
                        survived: *survived,
                        deterministic: *deterministic,
                        shadow: !halted && self.registry.candidate().is_some(),
                    },
                ))])
            }
            AdminCommand::SetCanaryRatio { ratio } => {
                if self.registry.candidate().is_none() && *ratio != Ratio::ZERO {
                    return Err(PlaneRejection::Invalid(
                        "no candidate model: set one with SET_CANDIDATE_MODEL first",
                    ));
                }
                Ok(raise(
                    *ratio == self.registry.canary(),
                    AdminEvent::CanaryRatioSet {
                        before: self.registry.canary(),
                        after: *ratio,
                        by,
                        reason,
                    },
                ))
            }
            AdminCommand::PromoteCandidate { confirmation_token } => {
                let Some(version) = self.registry.candidate() else {
                    return Err(PlaneRejection::Invalid(
                        "no candidate model: set one with SET_CANDIDATE_MODEL first",
                    ));
                };
                if !self.registry.shadow_complete() {
                    return Err(PlaneRejection::ShadowWindowIncomplete {
                        cycles: self.registry.shadow_cycles(),
                        window: self.registry.shadow_window(),
                    });
                }
                if self.registry.failure() != FailureMode::Normal {
                    return Err(PlaneRejection::FailureStatusActive(self.registry.failure()));
                }
                let consumed = self.confirm(command, confirmation_token.as_ref(), ctx)?;
                Ok(vec![
                    PlaneEvent::Admin(consumed),
                    PlaneEvent::Admin(AdminEvent::CandidatePromoted {
                        version: version.clone(),
                        previous: self.registry.active().cloned(),
                        shadow_cycles: self.registry.shadow_cycles(),
                        by,
                        reason,
                    }),
                ])
            }
            AdminCommand::RollbackModel { confirmation_token } => {
                let (Some(from), Some(to)) =
                    (self.registry.active(), self.registry.rollback_target())
                else {
                    return Err(PlaneRejection::Invalid(
                        "no previous active model to roll back to",
                    ));
                };
                let consumed = self.confirm(command, confirmation_token.as_ref(), ctx)?;
                Ok(vec![
                    PlaneEvent::Admin(consumed),
                    PlaneEvent::Admin(AdminEvent::ModelRolledBack {
                        from: from.clone(),
                        to: to.clone(),
                        by,
                        reason,
                    }),
                ])
            }
            AdminCommand::ConfigureShadowWindow { cycles } => {
                if *cycles == 0 {
                    return Err(PlaneRejection::Invalid(
                        "a shadow window is at least 1 cycle",
                    ));
                }
                Ok(raise(
                    *cycles == self.registry.shadow_window(),
                    AdminEvent::ShadowWindowConfigured {
                        before: self.registry.shadow_window(),
                        after: *cycles,
                        by,
                        reason,
                    },
                ))
            }
            AdminCommand::ReportFailure {
                mode,
                description,
                snapshot,
            } => {
                if *mode == FailureMode::Normal {
                    return Err(PlaneRejection::Invalid(
                        "report a mode beyond NORMAL; RESET_FAILURE_STATUS returns to NORMAL",
                    ));
                }
                registry::validate_description(description)
                    .map_err(PlaneRejection::InvalidArgument)?;
                if let Some(locator) = snapshot
                    && self.artifacts.artifact(locator).is_none()
                {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "snapshot {locator} is not a registered artifact"
                    )));
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::FailureReported {
                    mode: *mode,
                    description: description.clone(),
                    snapshot: snapshot.clone(),
                    by,
                })])
            }
            AdminCommand::ReportSignal(signal) => {
                signal.validate().map_err(PlaneRejection::InvalidArgument)?;
                if let observe::Signal::StreamLag { stream, .. } = signal
                    && self.streams.get(stream).is_none()
                {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "unknown stream {stream}; create it with CREATE_STREAM"
                    )));
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::SignalReported(
                    signal.clone(),
                ))])
            }
            AdminCommand::ReportComponent(report) => {
                report.validate().map_err(PlaneRejection::InvalidArgument)?;
                Ok(vec![PlaneEvent::Admin(AdminEvent::ComponentReported(
                    report.clone(),
                ))])
            }
            AdminCommand::RegisterSigningKey {
                key_id,
                principal,
                public_key,
            } => {
                let bytes = signing::parse_public_key(public_key)
                    .map_err(PlaneRejection::InvalidArgument)?;
                match self.signing.key(key_id) {
                    Some(k) if k.principal == *principal && k.public_key == bytes => Ok(Vec::new()),
                    Some(_) => Err(PlaneRejection::InvalidArgument(format!(
                        "key {key_id} is registered already; keys are never replaced, register a new id"
                    ))),
                    None => Ok(vec![PlaneEvent::Admin(AdminEvent::SigningKeyRegistered {
                        key_id: key_id.clone(),
                        principal: principal.clone(),
                        public_key: public_key.clone(),
                        by,
                        reason,
                    })]),
                }
            }
            AdminCommand::RequireSignatures { actions } => Ok(raise(
                *actions == self.signing.required(),
                AdminEvent::SignaturesRequired {
                    before: self.signing.required(),
                    after: *actions,
                    by,
                    reason,
                },
            )),
            AdminCommand::RecordReadiness { result, evidence } => {
                if self.artifacts.artifact(evidence).is_none() {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "evidence {evidence} is not a registered artifact"
                    )));
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::ReadinessRecorded {
                    check: ReadinessCheck {
                        result: *result,
                        evidence: evidence.clone(),
                        at: ctx.at,
                    },
                    by,
                })])
            }
            AdminCommand::ClearNoGo {} => {
                let Some(check) = self.readiness.no_go.clone() else {
                    return Err(PlaneRejection::Invalid("no NO-GO is in force"));
                };
                Ok(vec![PlaneEvent::Admin(AdminEvent::NoGoCleared {
                    check,
                    by,
                    reason,
                })])
            }
            AdminCommand::DefineEnvironment(spec) => {
                if spec.services.len() > deploy::MAX_SERVICES {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "at most {} services per environment",
                        deploy::MAX_SERVICES
                    )));
                }
                let before = self.deployments.environment(&spec.environment).cloned();
                Ok(raise(
                    before.as_ref() == Some(spec),
                    AdminEvent::EnvironmentDefined {
                        spec: spec.clone(),
                        before,
                        by,
                        reason,
                    },
                ))
            }
            AdminCommand::Deploy(spec) => {
                let env = self.deployable(&spec.environment)?;
                deploy::check_version(&spec.version).map_err(PlaneRejection::InvalidArgument)?;
                if !env.services.is_empty() && !env.services.contains(&spec.service) {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "service {} is not one of environment {}'s services",
                        spec.service, spec.environment
                    )));
                }
                let registered = self
                    .artifacts
                    .read(&spec.artifact.locator)
                    .map_err(PlaneRejection::Artifacts)?;
                if registered.digest != spec.artifact.digest {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "artifact {} is registered with digest {}, not {}",
                        spec.artifact.locator, registered.digest, spec.artifact.digest
                    )));
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::DeploymentRequested {
                    deployment: self.deployments.next_deployment(),
                    spec: spec.clone(),
                    from_lkg: None,
                    by,
                    reason,
                })])
            }
            AdminCommand::RecordRollout {
                deployment,
                outcome,
            } => {
                let d = self.deployments.deployment(*deployment).ok_or_else(|| {
                    PlaneRejection::InvalidArgument(format!("unknown deployment {deployment}"))
                })?;
                if !d.state.may_become(*outcome) {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "a {} rollout cannot become {} (requested → applied → verified; failed before verified)",
                        d.state.as_str(),
                        outcome.as_str()
                    )));
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::RolloutRecorded {
                    deployment: *deployment,
                    before: d.state,
                    after: *outcome,
                })])
            }
            AdminCommand::CaptureLkg { environment } => {
                if self.deployments.environment(environment).is_none() {
                    return Err(PlaneRejection::UnknownEnvironment(environment.clone()));
                }
                let deployments: Vec<DeploymentSpec> = self
                    .deployments
                    .current(environment)
                    .into_iter()
                    .filter(|d| d.state == RolloutState::Verified)
                    .map(|d| d.spec.clone())
                    .collect();
                if deployments.is_empty() {
                    return Err(PlaneRejection::Invalid(
                        "nothing verified to capture: record verified rollouts first",
                    ));
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::LkgCaptured {
                    lkg: Lkg {
                        lkg: self.deployments.next_lkg(),
                        environment: environment.clone(),
                        captured_at: ctx.at,
                        deployments,
                    },
                    by,
                    reason,
                })])
            }
            AdminCommand::RestoreLkg {
                environment,
                lkg,
                confirmation_token,
            } => {
                self.deployable(environment)?;
                let capture = self
                    .deployments
                    .lkgs(environment)
                    .iter()
                    .find(|l| l.lkg == *lkg)
                    .ok_or_else(|| {
                        PlaneRejection::InvalidArgument(format!(
                            "no kept capture {lkg} for environment {environment}"
                        ))
                    })?;
                let consumed = self.confirm(command, confirmation_token.as_ref(), ctx)?;
                let first = self.deployments.next_deployment();
                let mut events = vec![PlaneEvent::Admin(consumed)];
                for (n, spec) in (first..).zip(&capture.deployments) {
                    events.push(PlaneEvent::Admin(AdminEvent::DeploymentRequested {
                        deployment: n,
                        spec: spec.clone(),
                        from_lkg: Some(*lkg),
                        by: by.clone(),
                        reason: reason.clone(),
                    }));
                }
                Ok(events)
            }
            AdminCommand::CreateStream(spec) => {
                spec.validate().map_err(PlaneRejection::InvalidArgument)?;
                match self.streams.get(&spec.stream) {
                    Some(existing) if existing == spec => Ok(Vec::new()),
                    Some(_) => Err(PlaneRejection::InvalidArgument(format!(
                        "stream {} exists with other settings; change its retention or partitions explicitly",
                        spec.stream
                    ))),
                    None => Ok(vec![PlaneEvent::Admin(AdminEvent::StreamCreated {
                        spec: spec.clone(),
                        by,
                        reason,
                    })]),
                }
            }
            AdminCommand::ChangeStreamRetention {
                stream,
                retention_hours,
                confirmation_token,
            } => {
                let current = self
                    .streams
                    .get(stream)
                    .ok_or_else(|| PlaneRejection::UnknownStream(stream.clone()))?;
                streams::check_retention(*retention_hours)
                    .map_err(PlaneRejection::InvalidArgument)?;
                let before = current.retention_hours;
                if *retention_hours == before {
                    return Ok(Vec::new());
                }
                let shortens = *retention_hours < before;
                let mut events = Vec::new();
                if shortens {
                    let consumed = self.confirm(command, confirmation_token.as_ref(), ctx)?;
                    events.push(PlaneEvent::Admin(consumed));
                } else if confirmation_token.is_some() {
                    return Err(PlaneRejection::InvalidArgument(
                        "lengthening a retention needs no confirmation token".into(),
                    ));
                }
                events.push(PlaneEvent::Admin(AdminEvent::StreamRetentionChanged {
                    stream: stream.clone(),
                    before,
                    after: *retention_hours,
                    shortens_replay_window: shortens,
                    note: shortens.then(|| streams::REPLAY_WINDOW_NOTE.to_owned()),
                    by,
                    reason,
                }));
                Ok(events)
            }
            AdminCommand::ChangeStreamPartitions { stream, partitions } => {
                let current = self
                    .streams
                    .get(stream)
                    .ok_or_else(|| PlaneRejection::UnknownStream(stream.clone()))?;
                streams::check_partitions(*partitions).map_err(PlaneRejection::InvalidArgument)?;
                let before = current.partitions;
                if *partitions < before {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "partitions only grow ({before} now): shrinking would reassign keys and lose ordering"
                    )));
                }
                Ok(raise(
                    *partitions == before,
                    AdminEvent::StreamPartitionsChanged {
                        stream: stream.clone(),
                        before,
                        after: *partitions,
                        by,
                        reason,
                    },
                ))
            }
            AdminCommand::ResetFailureStatus { confirmation_token } => self.release(
                self.registry.failure() != FailureMode::Normal,
                "the failure status is already NORMAL",
                command,
                confirmation_token.as_ref(),
                ctx,
                AdminEvent::FailureStatusReset {
                    before: self.registry.failure(),
                    by,
                    reason,
                },
            ),
        }
    }

    /// A two-step release: refused when nothing is raised; otherwise the confirmation is
    /// checked and consumed, then `event` is recorded.
    fn release(
        &self,
        raised: bool,
        nothing_raised: &'static str,
        command: &PlaneCommand,
        token: Option<&String>,
        ctx: &Context,
        event: AdminEvent,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        if !raised {
            return Err(PlaneRejection::Invalid(nothing_raised));
        }
        let consumed = self.confirm(command, token, ctx)?;
        Ok(vec![PlaneEvent::Admin(consumed), PlaneEvent::Admin(event)])
    }
}

impl Decider for Plane {
    type Command = PlaneCommand;
    type Event = PlaneEvent;
    type Rejection = PlaneRejection;

    fn decide(
        &self,
        command: &PlaneCommand,
        ctx: &Context,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        // Signatures first: a signed command is verified before anything else; an action that
        // needs a signature is refused without one.
        let (command, mut signed) = match command {
            PlaneCommand::Signed {
                command: inner,
                key_id,
                signature,
            } => {
                if matches!(**inner, PlaneCommand::Signed { .. }) {
                    return Err(PlaneRejection::Invalid("a signature cannot be nested"));
                }
                let digest = command_digest(inner);
                self.signing
                    .verify(key_id, &ctx.actor.id, &digest, ctx.at, signature)
                    .map_err(PlaneRejection::SignatureInvalid)?;
                (
                    inner.as_ref(),
                    vec![PlaneEvent::Admin(AdminEvent::SignatureVerified {
                        key_id: key_id.clone(),
                        action: self.action_of(inner).0,
                        command_digest: digest,
                        signature: signature.clone(),
                    })],
                )
            }
            other => {
                let (action, _) = self.action_of(other);
                if self.signing.requires(action) {
                    return Err(PlaneRejection::SignatureRequired(action));
                }
                (other, Vec::new())
            }
        };
        // A safety-reducing admin action without a token field of its own takes two steps:
        // the first is refused with CONFIRMATION_REQUIRED, the second comes wrapped with its
        // token.
        let (inner, token) = match command {
            PlaneCommand::Confirmed {
                command,
                confirmation_token,
            } => {
                if matches!(**command, PlaneCommand::Confirmed { .. }) {
                    return Err(PlaneRejection::Invalid("a confirmation cannot be nested"));
                }
                if !self.needs_confirmation(command) {
                    return Err(PlaneRejection::InvalidArgument(
                        "this command takes one step: send it without a confirmation token".into(),
                    ));
                }
                (command.as_ref(), Some(confirmation_token))
            }
            other => (other, None),
        };
        let mut events = self.decide_one(inner, ctx)?;
        if self.needs_confirmation(inner) {
            let consumed = self.confirm(inner, token, ctx)?;
            events.insert(0, PlaneEvent::Admin(consumed));
        }
        if events.is_empty() {
            // Nothing happened (an idempotent repeat): nothing to record, not even the
            // verification.
            return Ok(events);
        }
        if signed.is_empty() {
            return Ok(events);
        }
        signed.append(&mut events);
        Ok(signed)
    }

    fn refusal_events(
        &self,
        command: &PlaneCommand,
        rejection: &PlaneRejection,
        ctx: &Context,
    ) -> Vec<PlaneEvent> {
        match rejection {
            PlaneRejection::ConfirmationRequired => {
                let digest = command_digest(command);
                let n = self.issued + 1;
                let token = self.confirmation_token(&digest, &ctx.actor.id, n);
                let expires_at = ctx
                    .at
                    .checked_add(time::Duration::seconds(CONFIRMATION_TTL_SECONDS))
                    .unwrap_or(Timestamp::MAX);
                vec![PlaneEvent::Admin(AdminEvent::ConfirmationRequested {
                    command_digest: digest,
                    actor: ctx.actor.id.clone(),
                    token_digest: Digest::of(token.as_bytes()),
                    expires_at,
                })]
            }
            PlaneRejection::Policy(r @ PolicyRejection::Unauthorized { reasons, .. }) => {
                if let PlaneCommand::Policy(c) = command {
                    return self
                        .policy
                        .refusal_events(c, r, ctx)
                        .into_iter()
                        .map(PlaneEvent::Policy)
                        .collect();
                }
                let (action, resource) = self.action_of(command);
                self.policy
                    .access_denied_events(action, &resource, reasons, ctx)
                    .into_iter()
                    .map(PlaneEvent::Policy)
                    .collect()
            }
            PlaneRejection::SignatureInvalid(why) => {
                let PlaneCommand::Signed {
                    command,
                    key_id,
                    signature,
                } = command
                else {
                    return Vec::new();
                };
                let digest = command_digest(command);
                let mut events = vec![PlaneEvent::Admin(AdminEvent::SignatureRejected {
                    key_id: key_id.clone(),
                    action: self.action_of(command).0,
                    command_digest: digest,
                    signature: signing::parse_hex::<64>(signature, "signature")
                        .is_ok()
                        .then(|| signature.clone()),
                    reason: why.clone(),
                })];
                if let Some(e) = self.policy.deviation_event(
                    "signature_verification_failure",
                    ctx.at,
                    format!("{} sent a command whose signature failed: {why}", ctx.actor),
                ) {
                    events.push(PlaneEvent::Policy(e));
                }
                events
            }
            PlaneRejection::SignatureRequired(action) => {
                let (_, resource) = self.action_of(command);
                vec![PlaneEvent::Policy(PolicyEvent::AccessDenied {
                    action: *action,
                    resource: resource.into_owned(),
                    reasons: vec!["signature-required".into()],
                })]
            }
            PlaneRejection::LockdownActive
            | PlaneRejection::ProductionLocked
            | PlaneRejection::KillSwitchEngaged => {
                let (action, resource) = self.action_of(command);
                let reason = match rejection {
                    PlaneRejection::LockdownActive => "lockdown",
                    PlaneRejection::ProductionLocked => "production_lock",
                    _ => "kill_switch",
                };
                vec![PlaneEvent::Policy(PolicyEvent::AccessDenied {
                    action,
                    resource: resource.into_owned(),
                    reasons: vec![reason.into()],
                })]
            }
            PlaneRejection::Policy(r) => match command {
                PlaneCommand::Policy(c) => self
                    .policy
                    .refusal_events(c, r, ctx)
                    .into_iter()
                    .map(PlaneEvent::Policy)
                    .collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    fn evolve(&mut self, event: &PlaneEvent, meta: &EventMeta<'_>) {
        match event {
            PlaneEvent::Policy(e) => self.policy.evolve(e, meta),
            PlaneEvent::Artifacts(e) => self.artifacts.evolve(e, meta),
            PlaneEvent::Jobs(e) => {
                // Counted first: the outcomes counted never create a run and a run's job never
                // changes, so the answer is the same either way, but before `evolve` closes the
                // run it is found among the few open runs rather than the many closed ones.
                self.count_outcome(e, meta.at);
                self.jobs.evolve(e, meta);
            }
            PlaneEvent::Admin(e) => match e {
                // A lockdown or the kill switch takes priority over every pending
                // confirmation: those issued before it are void.
                AdminEvent::LockdownRaised { by, .. } => {
                    self.lockdown = Some(by.clone());
                    self.pending.clear();
                }
                AdminEvent::LockdownReleased { .. } => self.lockdown = None,
                AdminEvent::ProductionLocked { by, .. } => self.production_lock = Some(by.clone()),
                AdminEvent::ProductionUnlocked { .. } => self.production_lock = None,
                AdminEvent::KillSwitchEngaged { by, .. } => {
                    self.kill_switch = Some(by.clone());
                    self.pending.clear();
                }
                AdminEvent::KillSwitchReleased { .. } => self.kill_switch = None,
                AdminEvent::ConfirmationsConfigured { after, .. } => self.four_eyes = *after,
                AdminEvent::CandidateSet { version, .. } => {
                    self.registry
                        .apply(Change::Candidate(version), meta.at, meta.seq);
                }
                AdminEvent::CycleRecorded(cycle) => {
                    self.registry.apply(Change::Cycle(cycle), meta.at, meta.seq);
                }
                AdminEvent::CanaryRatioSet { after, .. } => {
                    self.registry
                        .apply(Change::Canary(*after), meta.at, meta.seq);
                }
                AdminEvent::CandidatePromoted { version, .. } => {
                    self.registry
                        .apply(Change::Promoted(version), meta.at, meta.seq);
                }
                AdminEvent::ModelRolledBack { to, .. } => {
                    self.registry
                        .apply(Change::RolledBack(to), meta.at, meta.seq);
                }
                AdminEvent::ShadowWindowConfigured { after, .. } => {
                    self.registry
                        .apply(Change::ShadowWindow(*after), meta.at, meta.seq);
                }
                AdminEvent::FailureReported {
                    mode,
                    description,
                    snapshot,
                    by,
                } => self.registry.apply(
                    Change::Failure {
                        mode: *mode,
                        description,
                        snapshot: snapshot.as_ref(),
                        by,
                    },
                    meta.at,
                    meta.seq,
                ),
                AdminEvent::ComponentReported(report) => {
                    self.components.record(report, meta.at);
                }
                AdminEvent::SignalReported(signal) => self.observability.record(signal, meta.at),
                AdminEvent::SigningKeyRegistered {
                    key_id,
                    principal,
                    public_key,
                    ..
                } => {
                    if let Ok(bytes) = signing::parse_public_key(public_key) {
                        self.signing.register(
                            key_id,
                            RegisteredKey {
                                principal: principal.clone(),
                                public_key: bytes,
                            },
                        );
                    }
                }
                AdminEvent::SignaturesRequired { after, .. } => self.signing.set_required(*after),
                AdminEvent::SignatureVerified { .. } | AdminEvent::SignatureRejected { .. } => {}
                AdminEvent::ReadinessRecorded { check, .. } => {
                    if check.result == ReadinessResult::NoGo && self.readiness.no_go.is_none() {
                        self.readiness.no_go = Some(check.clone());
                    }
                    self.readiness.latest = Some(check.clone());
                }
                AdminEvent::NoGoCleared { .. } => self.readiness.no_go = None,
                AdminEvent::EnvironmentDefined { spec, .. } => self.deployments.define(spec),
                AdminEvent::DeploymentRequested {
                    deployment,
                    spec,
                    from_lkg,
                    by,
                    ..
                } => self
                    .deployments
                    .request(*deployment, spec, by, meta.at, *from_lkg),
                AdminEvent::RolloutRecorded {
                    deployment, after, ..
                } => self.deployments.rollout(*deployment, *after, meta.at),
                AdminEvent::LkgCaptured { lkg, .. } => self.deployments.capture(lkg.clone()),
                AdminEvent::StreamCreated { spec, .. } => self.streams.create(spec),
                AdminEvent::StreamRetentionChanged { stream, after, .. } => {
                    self.streams.set_retention(stream, *after);
                }
                AdminEvent::StreamPartitionsChanged { stream, after, .. } => {
                    self.streams.set_partitions(stream, *after);
                }
                AdminEvent::FailureStatusReset { .. } => {
                    self.registry.apply(Change::Reset, meta.at, meta.seq);
                }
                AdminEvent::ConfirmationRequested {
                    command_digest,
                    actor,
                    token_digest,
                    expires_at,
                } => {
                    self.issued += 1;
                    // Forget confirmations that expired more than a TTL ago (a late token
                    // is still told it expired for one more TTL), so the pending set stays
                    // bounded by the requests of the last two TTLs.
                    let horizon = meta
                        .at
                        .checked_add(time::Duration::seconds(-CONFIRMATION_TTL_SECONDS))
                        .unwrap_or(meta.at);
                    self.pending.retain(|_, p| p.expires_at >= horizon);
                    self.pending.insert(
                        *token_digest,
                        Pending {
                            command_digest: *command_digest,
                            actor: actor.clone(),
                            expires_at: *expires_at,
                        },
                    );
                }
                AdminEvent::ConfirmationConsumed { token_digest } => {
                    self.pending.remove(token_digest);
                }
            },
        }
    }

    fn restored(&mut self) {
        self.policy.restored();
        self.artifacts.restored();
        self.jobs.restored();
    }

    fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.policy.check_invariants()?;
        self.artifacts.check_invariants()?;
        self.jobs.check_invariants()?;
        self.registry.check().map_err(InvariantViolation)?;
        if self.pending.len() as u64 > self.issued {
            return Err(InvariantViolation(
                "more pending confirmations than were issued".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod state_layout_tests {
    use super::*;

    /// The state structs declare their fields in key order, so the canonical serializer, which
    /// re-orders an object only when its members arrive out of order, copies nothing when
    /// digesting a state (a fifth of a large state's digest when they did not). Serialized as
    /// declared, the initial plane must already be its canonical form.
    #[test]
    fn the_state_is_declared_in_key_order() {
        let plane = Plane::with_confirmation_key([7; 32]);
        let as_declared = String::from_utf8(serde_json::to_vec(&plane).unwrap()).unwrap();
        let canonical =
            String::from_utf8(ro_core::canonical::to_canonical_vec(&plane).unwrap()).unwrap();
        assert_eq!(as_declared, canonical);
    }
}
