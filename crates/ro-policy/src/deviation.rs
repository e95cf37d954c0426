//! The deviations room: deviation types with their SLA and action, deviations opened,
//! updated and resolved, and the clock tick that escalates those past their SLA.

use ro_core::{Context, EventMeta, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{Policy, PolicyCommand, PolicyEvent, PolicyRejection, check_text};

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
    /// While open, a status update (`UPDATE_DEVIATION`) is due this many seconds after the
    /// detection or the last update ([`STATUS_UPDATE_SECONDS`] unless defined otherwise).
    #[serde(default = "default_update_every")]
    pub update_every_seconds: u32,
}

/// How often an open deviation's status is updated, unless its type says otherwise: every
/// 30 minutes during an active investigation.
pub const STATUS_UPDATE_SECONDS: u32 = 1_800;

fn default_update_every() -> u32 {
    STATUS_UPDATE_SECONDS
}

impl DeviationType {
    /// Whether this type is at least as strict as `other`: an SLA window no longer, a
    /// severity no lower, an action no weaker (halt, pause, block, alert, strongest first).
    pub fn at_least_as_strict_as(&self, other: &DeviationType) -> bool {
        let rank = |a: DeviationAction| match a {
            DeviationAction::Halt => 0,
            DeviationAction::Pause => 1,
            DeviationAction::Block => 2,
            DeviationAction::Alert => 3,
        };
        self.sla_seconds <= other.sla_seconds
            && self.update_every_seconds <= other.update_every_seconds
            && self.severity <= other.severity
            && rank(self.action) <= rank(other.action)
    }
}

/// The built-in deviation types.
pub fn builtin_deviation_types() -> Vec<(&'static str, DeviationType)> {
    use DeviationAction::*;
    use Severity::*;
    let t = |severity, hours: u32, action| DeviationType {
        severity,
        sla_seconds: hours * 3600,
        action,
        update_every_seconds: STATUS_UPDATE_SECONDS,
    };
    vec![
        ("signature_verification_failure", t(Critical, 1, Halt)),
        ("cost_ceiling_breach", t(Critical, 2, Block)),
        ("budget_breach", t(Critical, 2, Block)),
        ("rate_limit_breach", t(Critical, 2, Block)),
        ("compliance_failure", t(Critical, 4, Pause)),
        // Alert and investigate; a human may make it pause production (built-in types are
        // only made stricter).
        ("determinism_threshold_failure", t(High, 24, Alert)),
        ("agent_attempted_human_only_action", t(Critical, 1, Alert)),
        // A bus stream that does not hold the plane's settings (changed, created or deleted
        // outside the plane), seen by the host's check.
        ("bus_drift", t(High, 4, Alert)),
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
    /// When the last status update was posted, if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_at: Option<Timestamp>,
    /// Whether the SLA was missed (escalated).
    pub escalated: bool,
    /// When it was resolved, if it was.
    pub resolved_at: Option<Timestamp>,
}

impl Policy {
    pub(crate) fn decide_deviations(
        &self,
        command: &PolicyCommand,
        ctx: &Context,
    ) -> Result<Vec<PolicyEvent>, PolicyRejection> {
        use PolicyCommand as C;
        use PolicyEvent as E;
        use PolicyRejection as R;
        let reason = ctx.reason.clone();
        match command {
            C::DefineDeviationType {
                deviation_type,
                severity,
                sla_seconds,
                action,
                update_every_seconds,
            } => {
                if !(60..=2_592_000).contains(sla_seconds) {
                    return Err(R::Invalid("sla_seconds is 60 to 2592000 (30 days)".into()));
                }
                let update_every_seconds = update_every_seconds.unwrap_or(STATUS_UPDATE_SECONDS);
                if !(60..=2_592_000).contains(&update_every_seconds) {
                    return Err(R::Invalid(
                        "update_every_seconds is 60 to 2592000 (30 days)".into(),
                    ));
                }
                let after = DeviationType {
                    severity: *severity,
                    sla_seconds: *sla_seconds,
                    action: *action,
                    update_every_seconds,
                };
                // A built-in type is a floor: redefined only stricter (a shorter SLA window, a
                // higher severity, a stronger action), never looser than shipped.
                if let Some(floor) = builtin_deviation_types()
                    .into_iter()
                    .find(|(name, _)| *name == deviation_type.as_str())
                    .map(|(_, t)| t)
                    && !after.at_least_as_strict_as(&floor)
                {
                    return Err(R::Invalid(format!(
                        "{deviation_type} is built in: its SLA window ({} s), status updates (every {} s), severity ({:?}) and action ({:?}) may only be made stricter",
                        floor.sla_seconds, floor.update_every_seconds, floor.severity, floor.action
                    )));
                }
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
                    reason: ctx.reason.clone(),
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
            _ => Err(crate::misrouted()),
        }
    }

    pub(crate) fn evolve_deviations(&mut self, event: &PolicyEvent, meta: &EventMeta<'_>) {
        use PolicyEvent as E;
        match event {
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
                        last_update_at: None,
                        escalated: false,
                        resolved_at: None,
                    },
                );
            }
            E::DeviationUpdated { deviation_id, .. } => {
                if let Some(d) = self.deviations.get_mut(deviation_id) {
                    d.updates = d.updates.saturating_add(1);
                    d.last_update_at = Some(meta.at);
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
            _ => {}
        }
    }
}

impl Policy {
    /// Whether an open deviation's type halts, and whether one pauses, in one pass over the
    /// deviations (until a human resolves them, the plane acts on them: see `ro_admin`'s
    /// posture).
    pub fn open_halt_and_pause(&self) -> (bool, bool) {
        let (mut halt, mut pause) = (false, false);
        for d in self.deviations.values().filter(|d| d.resolved_at.is_none()) {
            match self
                .deviation_types
                .get(&d.deviation_type)
                .map(|t| t.action)
            {
                Some(DeviationAction::Halt) => halt = true,
                Some(DeviationAction::Pause) => pause = true,
                _ => {}
            }
            if halt && pause {
                break;
            }
        }
        (halt, pause)
    }

    /// A deviation type.
    pub fn deviation_type(&self, id: &DeviationTypeId) -> Option<&DeviationType> {
        self.deviation_types.get(id)
    }

    /// What deviation `id`'s type does while it is open.
    pub fn deviation_action(&self, id: &DeviationId) -> Option<DeviationAction> {
        let d = self.deviations.get(id)?;
        self.deviation_types
            .get(&d.deviation_type)
            .map(|t| t.action)
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

    /// The event opening a deviation of type `kind`, the `offset`-th one opened by the same
    /// decision (1 for the first); `None` if the type is not defined.
    pub fn open_deviation_event(
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
}

fn deviation_id(n: u64) -> DeviationId {
    // "dev-" and up to 20 digits is always a valid id.
    DeviationId::new(format!("dev-{n:06}")).unwrap_or_else(|_| unreachable_id())
}

#[allow(clippy::panic)] // only reached if the id rules stop admitting "dev-<digits>": a bug
fn unreachable_id() -> DeviationId {
    panic!("deviation ids are always valid")
}
