//! The plane's own events, and the room that folds each (see [`crate::command::Room`]).

use ro_artifacts::{Locator, ModelVersion};
use ro_core::{ActorId, Digest, Ratio, Reason, Timestamp};
use ro_policy::{Action, ActionSet};
use serde::{Deserialize, Serialize};

use crate::command::Room;
use crate::deploy::{DeploymentSpec, EnvironmentSpec, Lkg, RolloutState};
use crate::health::{ComponentReport, ReadinessCheck};
use crate::observe;
use crate::registry::{CycleRecorded, FailureMode};
use crate::signing::KeyId;
use crate::streams::{StreamName, StreamSpec};

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
        reason: Option<Reason>,
    },
    /// The lockdown was released.
    LockdownReleased {
        /// Who released it.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// Production was locked.
    ProductionLocked {
        /// Who locked it.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// Production was unlocked.
    ProductionUnlocked {
        /// Who unlocked it.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// The kill switch was engaged.
    KillSwitchEngaged {
        /// Who engaged it.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// The kill switch was released.
    KillSwitchReleased {
        /// Who released it.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// The lockdown or the kill switch was pressed again while raised: every pending
    /// confirmation (a release awaiting its second step among them) is void.
    ConfirmationsVoided {
        /// Who pressed it.
        by: ActorId,
        /// What was pressed: `EMERGENCY_LOCKDOWN` or `ENGAGE_KILL_SWITCH`.
        pressed: Action,
        /// How many confirmations were pending.
        count: u64,
        /// The reason given.
        reason: Option<Reason>,
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
        reason: Option<Reason>,
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
        reason: Option<Reason>,
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
        reason: Option<Reason>,
    },
    /// The candidate was approved for promotion.
    PromotionApproved {
        /// The candidate version.
        version: ModelVersion,
        /// Who approved it.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
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
        reason: Option<Reason>,
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
        reason: Option<Reason>,
    },
    /// The set of intents a cycle may carry was defined.
    IntentsDefined {
        /// Before, sorted.
        before: Vec<crate::registry::Intent>,
        /// After, sorted.
        after: Vec<crate::registry::Intent>,
        /// Who defined it.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
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
        reason: Option<Reason>,
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
        reason: Option<Reason>,
    },
    /// A signing key was revoked: it never verifies again, and its id is never reused.
    SigningKeyRevoked {
        /// The key's id.
        key_id: KeyId,
        /// Whose key it was.
        principal: ActorId,
        /// Who revoked it.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// The actions needing a signature changed.
    SignaturesRequired {
        /// Before.
        before: ActionSet,
        /// After.
        after: ActionSet,
        /// Who changed them.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
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
        /// The signer's nonce (signatures v2; absent in records of v1 signatures).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
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
        reason: Option<Reason>,
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
        reason: Option<Reason>,
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
        reason: Option<Reason>,
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
        reason: Option<Reason>,
    },
    /// An API token was issued (its secret is not recorded).
    TokenIssued {
        /// The token's public id.
        token_id: crate::credentials::TokenId,
        /// Whom it authenticates.
        principal: ActorId,
        /// When it stops authenticating.
        expires_at: Option<ro_core::Timestamp>,
        /// Who issued it.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// An API token was revoked.
    TokenRevoked {
        /// The token.
        token_id: crate::credentials::TokenId,
        /// Whom it authenticated.
        principal: ActorId,
        /// Who revoked it.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// A model's online figures were reported.
    MlMetricsReported {
        /// The model version.
        model: ModelVersion,
        /// The figures.
        metrics: std::collections::BTreeMap<crate::learning::MetricName, crate::learning::Decimal>,
    },
    /// An experience was kept out of learning.
    ExperienceQuarantined(crate::learning::Quarantined),
    /// The alert routing was replaced.
    AlertsConfigured {
        /// Before.
        before: crate::alerts::AlertConfig,
        /// After.
        after: crate::alerts::AlertConfig,
        /// Who changed it.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// An alert was raised, in the same append as what raised it.
    AlertRaised(crate::alerts::AlertRaised),
    /// An alert was acknowledged.
    AlertAcknowledged {
        /// The alert.
        alert: u64,
        /// Who acknowledged it.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// An alert was resolved: by hand, or by the plane when its condition cleared.
    AlertResolved {
        /// The alert.
        alert: u64,
        /// Who resolved it (whose command saw the condition clear, when automatic).
        by: ActorId,
        /// Whether the plane resolved it.
        automatic: bool,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// A stream was created.
    StreamCreated {
        /// Its settings.
        spec: StreamSpec,
        /// Who created it.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// Who may publish to or subscribe to a stream changed.
    StreamAccessChanged {
        /// The stream.
        stream: StreamName,
        /// Publishers and subscribers before.
        before: crate::streams::StreamAccess,
        /// Publishers and subscribers after.
        after: crate::streams::StreamAccess,
        /// The stream's settings version after.
        version: u32,
        /// Who changed it.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
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
        /// The stream's settings version after (absent on records written before versions).
        #[serde(default, skip_serializing_if = "is_zero")]
        version: u32,
        /// Who changed it.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// A stream's partitions grew.
    StreamPartitionsChanged {
        /// The stream.
        stream: StreamName,
        /// Partitions before.
        before: u32,
        /// Partitions after.
        after: u32,
        /// The stream's settings version after (absent on records written before versions).
        #[serde(default, skip_serializing_if = "is_zero")]
        version: u32,
        /// Who changed them.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// The failure status returned to `NORMAL`.
    FailureStatusReset {
        /// The status before.
        before: FailureMode,
        /// Who reset it.
        by: ActorId,
        /// The reason given.
        reason: Option<Reason>,
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

impl AdminEvent {
    /// The room that folds this event and classifies it for the audit.
    #[inline]
    pub fn room(&self) -> Room {
        use AdminEvent as E;
        match self {
            E::LockdownRaised { .. }
            | E::LockdownReleased { .. }
            | E::ProductionLocked { .. }
            | E::ProductionUnlocked { .. }
            | E::KillSwitchEngaged { .. }
            | E::KillSwitchReleased { .. }
            | E::ConfirmationsVoided { .. } => Room::Posture,
            E::ConfirmationsConfigured { .. }
            | E::ConfirmationRequested { .. }
            | E::ConfirmationConsumed { .. } => Room::Confirmations,
            E::CandidateSet { .. }
            | E::CycleRecorded(_)
            | E::CanaryRatioSet { .. }
            | E::PromotionApproved { .. }
            | E::CandidatePromoted { .. }
            | E::ModelRolledBack { .. }
            | E::ShadowWindowConfigured { .. }
            | E::IntentsDefined { .. }
            | E::FailureReported { .. }
            | E::FailureStatusReset { .. } => Room::Registry,
            E::ComponentReported(_)
            | E::SignalReported(_)
            | E::ReadinessRecorded { .. }
            | E::NoGoCleared { .. } => Room::Health,
            E::SigningKeyRegistered { .. }
            | E::SigningKeyRevoked { .. }
            | E::SignaturesRequired { .. }
            | E::SignatureVerified { .. }
            | E::SignatureRejected { .. } => Room::Signing,
            E::EnvironmentDefined { .. }
            | E::DeploymentRequested { .. }
            | E::RolloutRecorded { .. }
            | E::LkgCaptured { .. } => Room::Deploy,
            E::StreamCreated { .. }
            | E::StreamRetentionChanged { .. }
            | E::StreamPartitionsChanged { .. }
            | E::StreamAccessChanged { .. } => Room::Streams,
            E::TokenIssued { .. } | E::TokenRevoked { .. } => Room::Credentials,
            E::MlMetricsReported { .. } | E::ExperienceQuarantined(_) => Room::Learning,
            E::AlertsConfigured { .. }
            | E::AlertRaised(_)
            | E::AlertAcknowledged { .. }
            | E::AlertResolved { .. } => Room::Alerts,
        }
    }
}

/// Whether a count is zero (a field absent on records written before it existed).
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u32) -> bool {
    *n == 0
}
