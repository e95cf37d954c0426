//! The AdminEvent record of every admin action, as a pure projection of the journal.
//!
//! Every admin action already leaves an event in the one hash-chained journal; this module
//! reads those events back in the shape the public contract names: `{admin_event_id,
//! action_type, actor, observed_at_utc, reason, targets, before, after, result}`. Denied
//! attempts appear too (`result: "DENIED"`, with the decision's reasons), so nothing is silent.
//! Because it is a projection, the records are as trustworthy as the journal they are read
//! from: they cannot be edited without breaking its chain.
//!
//! The record's id is `adm-<seq>`: one journal record holds one event, so it is unique and
//! stable.

use ro_artifacts::ArtifactEvent;
use ro_core::{Actor, Envelope, Reason, Timestamp};
use ro_jobs::JobsEvent;
use ro_policy::{Action, PolicyEvent};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{PlaneEvent, command::Room};

/// What became of an admin action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdminResult {
    /// It took effect.
    Applied,
    /// It was refused; `after` holds the reasons.
    Denied,
}

/// One admin action, in the public contract's shape (`AdminEvent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "AdminEvent")]
pub struct AdminRecord {
    /// `adm-<seq>`.
    pub admin_event_id: String,
    /// The action.
    pub action_type: Action,
    /// Who acted.
    pub actor: Actor,
    /// When the plane recorded it.
    pub observed_at_utc: Timestamp,
    /// The reason given (`null` when none was).
    pub reason: Option<Reason>,
    /// What it touched: `job:<id>`, `run:<id>`, `artifact:<ref>`, `model:<version>`,
    /// `secret:<name>`, `role:<name>`, `principal:<id>`, `class:<name>`, `plane`,
    /// `production`, `registry`.
    pub targets: Vec<String>,
    /// The state it changed, before.
    pub before: Value,
    /// The state it changed, after (for a denial: the reasons).
    pub after: Value,
    /// Applied or denied.
    pub result: AdminResult,
    /// The journal position of the event it was read from.
    pub seq: u64,
    /// The command's digest, when the journal recorded it (ties the two steps of a two-step
    /// command together).
    pub causation: Option<ro_core::Digest>,
}

/// The admin record of one journal envelope, if its event is an admin action (or a denied
/// attempt at one).
pub fn admin_record(envelope: &Envelope<PlaneEvent>) -> Option<AdminRecord> {
    let (action, targets, reason, (before, after), result) = classify(&envelope.event)?;
    Some(AdminRecord {
        admin_event_id: format!("adm-{}", envelope.seq),
        action_type: action,
        actor: envelope.actor.clone(),
        observed_at_utc: envelope.at,
        reason,
        targets,
        before,
        after,
        result,
        seq: envelope.seq,
        causation: envelope.causation,
    })
}

/// Whether `event` is the admin record of `action` taking effect (the command's own record,
/// not one its decision raised on the way, such as an alert or a deviation).
pub(crate) fn records_applied(event: &PlaneEvent, action: Action) -> bool {
    classify(event)
        .is_some_and(|(a, _, _, _, result)| a == action && result == AdminResult::Applied)
}

/// The admin actions that may be taken without a reason (their record then says none was
/// given): the stops (a stop is never held back for want of words), reports whose record is
/// their own account (a readiness check's evidence, a failure's description), and the operator
/// runbook's documents, which the protocol accepts exactly as written (the model promotion
/// path and the lockdown's release).
pub(crate) fn reason_optional(action: Action) -> bool {
    matches!(
        action,
        Action::EmergencyLockdown
            | Action::EngageKillSwitch
            | Action::Halt
            | Action::ProductionLock
            | Action::RecordReadiness
            | Action::ReportFailure
            | Action::RegisterModel
            | Action::SetCandidateModel
            | Action::SetCanaryRatio
            | Action::PromoteModel
            | Action::RollbackModel
            | Action::ReleaseLockdown
            | Action::ResetFailureStatus
    )
}

/// What the audit reads from one event: the action, its targets, the reason, before and after,
/// and the result. Each room classifies its own events.
pub(crate) type Classified = (
    Action,
    Vec<String>,
    Option<Reason>,
    (Value, Value),
    AdminResult,
);

/// A change request's step: its status before and after.
fn change_step(
    action: Action,
    change_id: &ro_policy::ChangeId,
    reason: &Option<Reason>,
    before: &str,
    after: &str,
) -> Option<Classified> {
    applied(
        action,
        vec![format!("change:{change_id}")],
        reason,
        (json!({ "status": before }), json!({ "status": after })),
    )
}

/// An applied action's classification.
pub(crate) fn applied(
    action: Action,
    targets: Vec<String>,
    reason: &Option<Reason>,
    change: (Value, Value),
) -> Option<Classified> {
    Some((
        action,
        targets,
        reason.clone(),
        change,
        AdminResult::Applied,
    ))
}

fn classify(event: &PlaneEvent) -> Option<Classified> {
    let plane = || vec!["plane".to_owned()];
    match event {
        PlaneEvent::Admin(e) => match e.room() {
            Room::Posture => crate::posture::classify(e),
            Room::Confirmations => crate::confirm::classify(e),
            Room::Registry => crate::registry::classify(e),
            Room::Health => crate::health::classify(e),
            Room::Signing => crate::signing::classify(e),
            Room::Deploy => crate::deploy::classify(e),
            Room::Streams => crate::streams::classify(e),
            Room::Credentials => crate::credentials::classify(e),
            Room::Alerts => crate::alerts::classify(e),
            Room::Learning => crate::learning::classify(e),
        },
        PlaneEvent::Jobs(e) => {
            let job = |action, job_id: &ro_jobs::JobId, reason, before: &str, after: &str| {
                applied(
                    action,
                    vec![format!("job:{job_id}")],
                    reason,
                    (json!({ "state": before }), json!({ "state": after })),
                )
            };
            match e {
                JobsEvent::JobDefined {
                    definition, reason, ..
                } => applied(
                    Action::DefineJob,
                    vec![format!("job:{}", definition.job_id)],
                    reason,
                    (Value::Null, json!(definition)),
                ),
                JobsEvent::PoolDefined {
                    pool,
                    max_running,
                    reason,
                } => applied(
                    Action::DefinePool,
                    vec![format!("pool:{pool}")],
                    reason,
                    (Value::Null, json!({ "max_running": max_running })),
                ),
                JobsEvent::CalendarDefined {
                    calendar, reason, ..
                } => applied(
                    Action::DefineCalendar,
                    vec![format!("calendar:{}", calendar.name)],
                    reason,
                    (Value::Null, json!(calendar)),
                ),
                JobsEvent::CalendarOverridden {
                    name,
                    date,
                    before,
                    after,
                    reason,
                    ..
                } => applied(
                    Action::DefineCalendar,
                    vec![format!("calendar:{name}"), format!("date:{date}")],
                    reason,
                    (json!(before), json!(after)),
                ),
                JobsEvent::JobPaused { job_id, reason } => {
                    job(Action::PauseJob, job_id, reason, "active", "paused")
                }
                JobsEvent::JobDrained { job_id, reason } => {
                    job(Action::DrainJob, job_id, reason, "active", "draining")
                }
                JobsEvent::JobResumed { job_id, reason } => {
                    job(Action::ResumeJob, job_id, reason, "paused", "active")
                }
                JobsEvent::RunCancelled { run_id, reason } => applied(
                    Action::CancelRun,
                    vec![format!("run:{run_id}")],
                    reason,
                    (Value::Null, json!({ "run": "cancelled" })),
                ),
                JobsEvent::RunRequested {
                    run_id,
                    job_id,
                    intent: ro_jobs::Intent::Replay | ro_jobs::Intent::Backfill,
                    logical,
                    reason,
                    ..
                } => applied(
                    Action::RequestReplay,
                    vec![format!("job:{job_id}"), format!("run:{run_id}")],
                    reason,
                    (Value::Null, json!({ "logical": logical })),
                ),
                _ => None,
            }
        }
        PlaneEvent::Policy(e) => match e {
            PolicyEvent::RoleGranted {
                principal,
                role,
                subject,
                reason,
                ..
            } => applied(
                Action::GrantRole,
                vec![format!("principal:{principal}"), format!("role:{role}")],
                reason,
                (Value::Null, json!({ "role": role, "subject": subject })),
            ),
            PolicyEvent::PrincipalKindSet {
                principal,
                before,
                after,
                reason,
            } => applied(
                if before.is_some() {
                    Action::SetPrincipalKind
                } else {
                    Action::RegisterPrincipal
                },
                vec![format!("principal:{principal}")],
                reason,
                (
                    before.map_or(Value::Null, |k| json!({ "kind": k })),
                    json!({ "kind": after }),
                ),
            ),
            PolicyEvent::RoleRevoked {
                principal,
                role,
                subject,
                reason,
            } => applied(
                Action::RevokeRole,
                vec![format!("principal:{principal}"), format!("role:{role}")],
                reason,
                (json!({ "role": role, "subject": subject }), Value::Null),
            ),
            PolicyEvent::SecretRotated {
                name,
                from_version,
                to_version,
                fingerprint,
                reason,
                ..
            } => applied(
                Action::RotateSecret,
                vec![format!("secret:{name}")],
                &Some(reason.clone()),
                (
                    json!({ "version": from_version }),
                    json!({ "version": to_version, "fingerprint": fingerprint }),
                ),
            ),
            PolicyEvent::LimitsSet {
                before,
                after,
                reason,
            } => applied(
                Action::SetLimits,
                plane(),
                reason,
                (json!(before), json!(after)),
            ),
            PolicyEvent::RoleDefined {
                role,
                before,
                after,
                reason,
            } => applied(
                Action::DefineRole,
                vec![format!("role:{role}")],
                reason,
                (
                    before.map_or(Value::Null, |b| json!({ "actions": b })),
                    json!({ "actions": after }),
                ),
            ),
            PolicyEvent::RuleAdded { rule, reason } => applied(
                match rule.effect {
                    ro_policy::authz::Effect::Permit => Action::AddPermitRule,
                    ro_policy::authz::Effect::Forbid => Action::AddForbidRule,
                },
                vec![format!("rule:{}", rule.id)],
                reason,
                (Value::Null, json!(rule)),
            ),
            PolicyEvent::RuleRemoved { rule, reason } => applied(
                Action::RemoveRule,
                vec![format!("rule:{}", rule.id)],
                reason,
                (json!(rule), Value::Null),
            ),
            PolicyEvent::ExclusiveRolesDefined {
                constraint,
                roles,
                reason,
            } => applied(
                Action::DefineConstraint,
                vec![format!("constraint:{constraint}")],
                reason,
                (Value::Null, json!({ "exclusive_roles": roles })),
            ),
            PolicyEvent::BaselineFrozen {
                version,
                components,
                reason,
            } => applied(
                Action::Freeze,
                components
                    .iter()
                    .map(|c| format!("component:{c}"))
                    .collect(),
                reason,
                (
                    Value::Null,
                    json!({ "baseline": version, "frozen": components }),
                ),
            ),
            PolicyEvent::ChangeRequested {
                change_id,
                component,
                description,
                breaking,
                reason,
            } => applied(
                Action::RequestChange,
                vec![
                    format!("change:{change_id}"),
                    format!("component:{component}"),
                ],
                reason,
                (
                    Value::Null,
                    json!({ "status": "requested", "description": description, "breaking": breaking }),
                ),
            ),
            PolicyEvent::ChangeReviewed { change_id, reason } => change_step(
                Action::ReviewChange,
                change_id,
                reason,
                "requested",
                "reviewed",
            ),
            PolicyEvent::ChangeApproved { change_id, reason } => change_step(
                Action::ApproveChange,
                change_id,
                reason,
                "reviewed",
                "approved",
            ),
            PolicyEvent::ChangeRejected { change_id, reason } => change_step(
                Action::RejectChange,
                change_id,
                reason,
                "in review",
                "rejected",
            ),
            PolicyEvent::ChangeApplied {
                change_id,
                component,
                before,
                after,
                reason,
            } => applied(
                Action::ApplyChange,
                vec![
                    format!("change:{change_id}"),
                    format!("component:{component}"),
                ],
                reason,
                (json!({ "baseline": before }), json!({ "baseline": after })),
            ),
            PolicyEvent::ConfigPublished { config, reason } => applied(
                Action::PublishConfig,
                vec![format!("config:{}", config.config_name)],
                reason,
                (Value::Null, json!(config)),
            ),
            PolicyEvent::SecretRegistered { secret, reason } => applied(
                Action::RegisterSecret,
                vec![format!("secret:{}", secret.name)],
                reason,
                (
                    Value::Null,
                    json!({ "version": secret.version, "fingerprint": secret.fingerprint }),
                ),
            ),
            PolicyEvent::DeviationTypeDefined {
                deviation_type,
                before,
                after,
                reason,
            } => applied(
                Action::DefineDeviationType,
                vec![format!("deviation_type:{deviation_type}")],
                reason,
                (json!(before), json!(after)),
            ),
            PolicyEvent::DeviationResolved {
                deviation_id,
                resolution,
                reason,
            } => applied(
                Action::ResolveDeviation,
                vec![format!("deviation:{deviation_id}")],
                reason,
                (
                    json!({ "status": "open" }),
                    json!({ "status": "resolved", "resolution": resolution }),
                ),
            ),
            PolicyEvent::AccessDenied {
                action,
                resource,
                reasons,
            } => Some((
                *action,
                vec![resource.clone()],
                None,
                (Value::Null, json!({ "reasons": reasons })),
                AdminResult::Denied,
            )),
            _ => None,
        },
        PlaneEvent::Artifacts(e) => match e {
            ArtifactEvent::RetentionChanged {
                class,
                before,
                after,
                reason,
                ..
            } => {
                let shortens = before.as_ref().is_some_and(|b| after.shortens(b));
                applied(
                    if shortens {
                        Action::ShortenRetention
                    } else {
                        Action::ExtendRetention
                    },
                    vec![format!("class:{class}")],
                    &Some(reason.clone()),
                    (json!(before), json!(after)),
                )
            }
            ArtifactEvent::AddressingSet {
                class,
                before,
                after,
                reason,
            } => applied(
                Action::SetAddressing,
                vec![format!("class:{class}")],
                reason,
                (json!({ "template": before }), json!({ "template": after })),
            ),
            ArtifactEvent::MismatchPostureSet {
                class,
                before,
                after,
                reason,
            } => applied(
                Action::SetMismatchPosture,
                vec![format!("class:{class}")],
                reason,
                (json!(before), json!(after)),
            ),
            ArtifactEvent::DerivationRolledBack {
                derivation_id,
                affected,
                reason,
                ..
            } => applied(
                Action::RollbackDerivation,
                vec![format!("derivation:{derivation_id}")],
                &Some(reason.clone()),
                (Value::Null, json!({ "invalidated": affected })),
            ),
            _ => None,
        },
    }
}
