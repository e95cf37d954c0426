//! The closed set of [`Action`]s, each classified by its [`Safety`] direction.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which way an action moves the plane.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Safety {
    /// Makes the plane safer (lockdown, halt, pause, revoke): agents holding the role may act.
    Increasing,
    /// Neither loosens a control nor changes what runs in production (reads, records, routine
    /// runs).
    Routine,
    /// Loosens a control or changes what runs in production: humans only, whatever an agent's
    /// roles. Every action that could be read either way is classified here (fail-closed).
    Reducing,
}

macro_rules! actions {
    ($($variant:ident = $name:literal, $safety:ident, $doc:literal;)*) => {
        /// Everything an actor can ask of the plane. The set is closed: an unknown name is
        /// refused when parsed, and nothing outside it can be permitted.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum Action {
            $(#[doc = $doc] $variant,)*
        }

        impl Action {
            /// Every action, in declaration order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The wire name, e.g. `"READ_ARTIFACT"`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            /// The action's safety direction.
            pub fn safety(self) -> Safety {
                match self {
                    $(Action::$variant => Safety::$safety,)*
                }
            }

            /// Parses a wire name.
            pub fn parse(name: &str) -> Option<Action> {
                match name {
                    $($name => Some(Action::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

actions! {
    ReadArtifact = "READ_ARTIFACT", Routine, "Read an artifact (only once its gate is PASS).";
    RegisterArtifact = "REGISTER_ARTIFACT", Routine, "Register an artifact by reference and digest.";
    SetArtifactGate = "SET_ARTIFACT_GATE", Routine, "Record an artifact's gate result.";
    ShortenRetention = "SHORTEN_RETENTION", Reducing, "Shorten a retention policy (evidence may expire sooner).";
    ExtendRetention = "EXTEND_RETENTION", Increasing, "Extend a retention policy.";
    RecordDerivation = "RECORD_DERIVATION", Routine, "Record a signed derivation.";
    ReviewDerivation = "REVIEW_DERIVATION", Routine, "Review a derivation.";
    SupersedeDerivation = "SUPERSEDE_DERIVATION", Routine, "Re-derive a value, superseding the prior derivation.";
    RecordInfeasible = "RECORD_INFEASIBLE", Routine, "Record a typed INFEASIBLE outcome.";
    RollbackDerivation = "ROLLBACK_DERIVATION", Increasing, "Invalidate derivations.";
    TriggerRun = "TRIGGER_RUN", Routine, "Trigger a job run.";
    RequestReplay = "REQUEST_REPLAY", Routine, "Request a replay or backfill window.";
    PauseJob = "PAUSE_JOB", Increasing, "Pause a job: no new starts.";
    DrainJob = "DRAIN_JOB", Increasing, "Drain a job or queue: no new starts, running attempts finish.";
    CancelRun = "CANCEL_RUN", Increasing, "Cancel a run.";
    ResumeJob = "RESUME_JOB", Reducing, "Resume a paused or drained job.";
    Deploy = "DEPLOY", Reducing, "Deploy a service or job version to an environment.";
    CreateStream = "CREATE_STREAM", Routine, "Create an event-bus stream.";
    PublishStream = "PUBLISH_STREAM", Routine, "Publish to a stream.";
    SubscribeStream = "SUBSCRIBE_STREAM", Routine, "Subscribe to a stream.";
    ChangeStreamRetention = "CHANGE_STREAM_RETENTION", Reducing, "Change a stream's retention (may shorten its replay window).";
    ChangeStreamPartitions = "CHANGE_STREAM_PARTITIONS", Reducing, "Change a stream's partitions.";
    ChangeStreamAccess = "CHANGE_STREAM_ACCESS", Reducing, "Change who may publish to or subscribe to a stream.";
    RegisterModel = "REGISTER_MODEL", Routine, "Register a model version.";
    SetCandidateModel = "SET_CANDIDATE_MODEL", Routine, "Set the candidate model (starts the shadow window).";
    RecordCycle = "RECORD_CYCLE", Routine, "Record one cycle of the governed system.";
    SetCanaryRatio = "SET_CANARY_RATIO", Reducing, "Send a share of live traffic to the candidate.";
    ApprovePromotion = "APPROVE_PROMOTION", Reducing, "Approve a model promotion.";
    PromoteModel = "PROMOTE_MODEL", Reducing, "Promote the candidate model to active.";
    RollbackModel = "ROLLBACK_MODEL", Reducing, "Make the previous active model active again.";
    EmergencyLockdown = "EMERGENCY_LOCKDOWN", Increasing, "Raise the emergency lockdown.";
    ReleaseLockdown = "RELEASE_LOCKDOWN", Reducing, "Release the emergency lockdown.";
    EngageKillSwitch = "ENGAGE_KILL_SWITCH", Increasing, "Halt execution with the kill switch.";
    ReleaseKillSwitch = "RELEASE_KILL_SWITCH", Reducing, "Release the kill switch.";
    ProductionLock = "PRODUCTION_LOCK", Increasing, "Lock production.";
    ProductionUnlock = "PRODUCTION_UNLOCK", Reducing, "Unlock production.";
    Halt = "HALT", Increasing, "Halt operations with a reason code.";
    ResetFailureStatus = "RESET_FAILURE_STATUS", Reducing, "Reset the failure status to NORMAL.";
    GrantRole = "GRANT_ROLE", Reducing, "Grant a role.";
    RevokeRole = "REVOKE_ROLE", Increasing, "Revoke a role.";
    DefineRole = "DEFINE_ROLE", Reducing, "Define a role and its permissions.";
    AddPermitRule = "ADD_PERMIT_RULE", Reducing, "Add a rule that permits.";
    AddForbidRule = "ADD_FORBID_RULE", Increasing, "Add a rule that forbids.";
    RemoveRule = "REMOVE_RULE", Reducing, "Remove a rule (either way: fail-closed).";
    DefineConstraint = "DEFINE_CONSTRAINT", Increasing, "Declare a separation-of-duties constraint.";
    Freeze = "FREEZE", Increasing, "Freeze a baseline of components.";
    RequestChange = "REQUEST_CHANGE", Routine, "Request a change to a frozen component.";
    ReviewChange = "REVIEW_CHANGE", Routine, "Review a change request.";
    ApproveChange = "APPROVE_CHANGE", Reducing, "Approve a change request.";
    RejectChange = "REJECT_CHANGE", Increasing, "Reject a change request.";
    ApplyChange = "APPLY_CHANGE", Reducing, "Apply an approved change (a new baseline version).";
    PublishConfig = "PUBLISH_CONFIG", Reducing, "Publish a config version.";
    RegisterSecret = "REGISTER_SECRET", Routine, "Register a secret reference.";
    RotateSecret = "ROTATE_SECRET", Routine, "Rotate a secret to a new version.";
    SetLimits = "SET_LIMITS", Reducing, "Set economic limits (could raise them: fail-closed).";
    RecordCost = "RECORD_COST", Routine, "Record the cost of one unit of work.";
    DefineDeviationType = "DEFINE_DEVIATION_TYPE", Reducing, "Define a deviation type and its SLA.";
    RecordDeviation = "RECORD_DEVIATION", Increasing, "Record a detected deviation.";
    UpdateDeviation = "UPDATE_DEVIATION", Routine, "Post a status update on a deviation.";
    ResolveDeviation = "RESOLVE_DEVIATION", Reducing, "Resolve a deviation.";
    Tick = "TICK", Routine, "Advance explicit time: raise escalations that are due.";
    SetAddressing = "SET_ADDRESSING", Reducing, "Set the addressing template a class's artifacts must follow.";
    SetMismatchPosture = "SET_MISMATCH_POSTURE", Reducing, "Set how a class of artifacts answers digest mismatches (fail-closed or warn: either way, fail-closed).";
    ExpireArtifacts = "EXPIRE_ARTIFACTS", Routine, "Apply retention: tombstone expired artifacts.";
    DefineStory = "DEFINE_STORY", Increasing, "Define a story's required values, the values a risk owner reviews, and its threats to validity.";
    RiskReview = "RISK_REVIEW", Reducing, "Review a cost or capacity value as its risk owner.";
    RaiseBlocker = "RAISE_BLOCKER", Increasing, "Stop a story on a question for an operator.";
    DecideBlocker = "DECIDE_BLOCKER", Reducing, "Decide a story's blocker, letting it go on.";
    HandOff = "HAND_OFF", Routine, "Hand a story's eligible values to a downstream consumer.";
    RecordViolation = "RECORD_VIOLATION", Increasing, "Record that a forbidden action happened.";
    DefineJob = "DEFINE_JOB", Reducing, "Define or redefine a job (changes what runs).";
    DefinePool = "DEFINE_POOL", Reducing, "Set a concurrency pool's limit.";
    DefineCalendar = "DEFINE_CALENDAR", Reducing, "Define or override a trading calendar (either way: fail-closed).";
    ObserveGate = "OBSERVE_GATE", Routine, "Report an input artifact's gate to the jobs plane.";
    ReportAttempt = "REPORT_ATTEMPT", Routine, "Start, heartbeat or complete an attempt (the host's worker).";
    ConfigureConfirmations = "CONFIGURE_CONFIRMATIONS", Reducing, "Turn four-eyes confirmation on or off.";
    ReportFailure = "REPORT_FAILURE", Increasing, "Declare a failure mode and record an incident.";
    ConfigureShadowWindow = "CONFIGURE_SHADOW_WINDOW", Reducing, "Set how many shadow cycles a candidate needs before promotion.";
    ReportComponent = "REPORT_COMPONENT", Routine, "Report a component's heartbeat and health (the host's monitor).";
    DefineEnvironment = "DEFINE_ENVIRONMENT", Reducing, "Define an environment and its services.";
    ReportRollout = "REPORT_ROLLOUT", Routine, "Report a deployment's rollout (the host).";
    CaptureLkg = "CAPTURE_LKG", Increasing, "Capture the last-known-good deployment set of an environment.";
    RestoreLkg = "RESTORE_LKG", Reducing, "Deploy a last-known-good capture again.";
    RecordReadiness = "RECORD_READINESS", Routine, "Record a readiness check's GO or NO-GO (the host).";
    ClearNoGo = "CLEAR_NO_GO", Reducing, "Clear a NO-GO readiness posture.";
    RegisterSigningKey = "REGISTER_SIGNING_KEY", Routine, "Register a principal's Ed25519 public key (its own with proof of possession; another's only by a human, in two steps).";
    RequireSignatures = "REQUIRE_SIGNATURES", Reducing, "Set which actions need a signed command (either way: fail-closed).";
    RegisterPrincipal = "REGISTER_PRINCIPAL", Reducing, "Register a principal once, as a human, an agent or a service.";
    SetPrincipalKind = "SET_PRINCIPAL_KIND", Reducing, "Change a registered principal's kind.";
    RevokeSigningKey = "REVOKE_SIGNING_KEY", Increasing, "Revoke a signing key: it never verifies again.";
    IssueToken = "ISSUE_TOKEN", Reducing, "Issue an API token that authenticates a principal to a host.";
    RevokeToken = "REVOKE_TOKEN", Increasing, "Revoke an API token: it never authenticates again.";
    ConfigureAlerts = "CONFIGURE_ALERTS", Reducing, "Replace the alert routing (could silence an alert: fail-closed).";
    AcknowledgeAlert = "ACKNOWLEDGE_ALERT", Routine, "Acknowledge an open alert.";
    ResolveAlert = "RESOLVE_ALERT", Routine, "Resolve an open alert.";
    DefineIntents = "DEFINE_INTENTS", Reducing, "Define the closed set of intents a cycle may carry.";
    QuarantineExperience = "QUARANTINE_EXPERIENCE", Increasing, "Keep an experience out of learning.";
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of actions, as a bit set (every action has a bit).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Default,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq))]
pub struct ActionSet(u128);

impl ActionSet {
    /// No action.
    pub const EMPTY: ActionSet = ActionSet(0);

    fn bit(action: Action) -> u128 {
        // Fewer than 128 actions exist (checked by a test), so the shift is in range.
        1u128 << (action as u32)
    }

    /// Every action.
    pub fn all() -> Self {
        Action::ALL.iter().copied().collect()
    }

    /// Every action of the given safety direction.
    pub fn of_safety(safety: Safety) -> Self {
        Action::ALL
            .iter()
            .copied()
            .filter(|a| a.safety() == safety)
            .collect()
    }

    /// Whether `action` is in the set.
    pub fn contains(self, action: Action) -> bool {
        self.0 & Self::bit(action) != 0
    }

    /// The set with `action` added.
    pub fn with(self, action: Action) -> Self {
        ActionSet(self.0 | Self::bit(action))
    }

    /// The union of two sets.
    pub fn union(self, other: ActionSet) -> Self {
        ActionSet(self.0 | other.0)
    }

    /// The actions, in declaration order.
    pub fn iter(self) -> impl Iterator<Item = Action> {
        Action::ALL
            .iter()
            .copied()
            .filter(move |a| self.contains(*a))
    }
}

impl FromIterator<Action> for ActionSet {
    fn from_iter<I: IntoIterator<Item = Action>>(iter: I) -> Self {
        iter.into_iter().fold(ActionSet::EMPTY, ActionSet::with)
    }
}

impl Serialize for ActionSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for ActionSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let actions = Vec::<Action>::deserialize(deserializer)?;
        Ok(actions.into_iter().collect())
    }
}

impl schemars::JsonSchema for ActionSet {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ActionSet".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let action = generator.subschema_for::<Action>();
        schemars::json_schema!({
            "type": "array",
            "items": action,
            "uniqueItems": true,
            "description": "A set of actions, written in declaration order.",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_fit_the_bit_set() {
        assert!(Action::ALL.len() < 128);
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(*action));
            let json = serde_json::to_string(action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.as_str()));
        }
        assert_eq!(Action::parse("LAUNCH_MISSILES"), None);
        assert!(serde_json::from_str::<Action>("\"LAUNCH_MISSILES\"").is_err());
        let set: ActionSet = [Action::Deploy, Action::Tick].into_iter().collect();
        assert_eq!(serde_json::to_string(&set).unwrap(), r#"["DEPLOY","TICK"]"#);
        assert_eq!(ActionSet::all().iter().count(), Action::ALL.len());
    }

    #[test]
    fn safety_classes_match_the_runbooks() {
        use Action::*;
        for a in [
            EmergencyLockdown,
            EngageKillSwitch,
            PauseJob,
            DrainJob,
            Halt,
            ProductionLock,
        ] {
            assert_eq!(a.safety(), Safety::Increasing, "{a}");
        }
        for a in [
            PromoteModel,
            RollbackModel,
            ReleaseLockdown,
            ProductionUnlock,
            ResetFailureStatus,
            GrantRole,
            ShortenRetention,
            Deploy,
            ReleaseKillSwitch,
            SetCanaryRatio,
        ] {
            assert_eq!(a.safety(), Safety::Reducing, "{a}");
        }
    }
}
