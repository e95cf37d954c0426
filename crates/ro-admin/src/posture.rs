//! The posture room: the emergency lockdown, the production lock and the kill switch.
//!
//! Raising any of them is one step and open to agents holding the role (it makes the plane
//! safer); releasing takes two steps and a human (see [`crate::confirm`]). While the lockdown
//! holds, only what the facts table lets through passes (its release, what makes the plane
//! safer, and what the plane observes); under the production lock or the kill switch nothing
//! that enables execution passes. Raising the lockdown or the kill switch voids every pending
//! confirmation.

use ro_core::{Context, EventMeta};
use ro_policy::Action;
use serde_json::json;

use crate::audit::{Classified, applied};
use crate::{AdminCommand, AdminEvent, Plane, PlaneEvent, PlaneRejection, raise};

impl Plane {
    /// Whether the lockdown is raised.
    pub fn lockdown(&self) -> bool {
        self.lockdown.is_some()
    }

    /// Whether production is locked.
    pub fn production_locked(&self) -> bool {
        self.production_lock.is_some()
    }

    /// Whether the kill switch is engaged.
    pub fn kill_switch(&self) -> bool {
        self.kill_switch.is_some()
    }

    /// Whether execution may go on: no lockdown, no production lock, no kill switch, and no
    /// open deviation whose type halts or pauses (until a human resolves it).
    pub fn safe_to_execute(&self) -> bool {
        self.lockdown.is_none()
            && self.production_lock.is_none()
            && self.kill_switch.is_none()
            && self.policy.open_halt_and_pause() == (false, false)
    }

    /// Why the plane is halted, as sorted reason codes (empty when execution may go on).
    pub fn halt_reasons(&self) -> Vec<&'static str> {
        let mut reasons = Vec::new();
        // An open deviation whose type halts (a failed signature) is a fault; one whose type
        // pauses (a compliance failure) closes execution, observe-only.
        let (halt, pause) = self.policy.open_halt_and_pause();
        if halt {
            reasons.push("DEVIATION_HALT");
        }
        if pause {
            reasons.push("DEVIATION_PAUSE");
        }
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

    /// The posture guards, read from the command's facts: during a lockdown only what passes
    /// it; under the production lock or the kill switch nothing that enables execution.
    pub(crate) fn guard_posture(
        &self,
        passes_lockdown: bool,
        enables_execution: bool,
    ) -> Result<(), PlaneRejection> {
        if self.lockdown.is_some() && !passes_lockdown {
            return Err(PlaneRejection::LockdownActive);
        }
        if enables_execution {
            if self.kill_switch.is_some() {
                return Err(PlaneRejection::KillSwitchEngaged);
            }
            if self.policy.open_halt_and_pause() != (false, false) {
                return Err(PlaneRejection::DeviationOpen);
            }
            if self.production_lock.is_some() {
                return Err(PlaneRejection::ProductionLocked);
            }
        }
        Ok(())
    }

    pub(crate) fn decide_posture(
        &self,
        admin: &AdminCommand,
        ctx: &Context,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        let (by, reason) = (ctx.actor.id.clone(), ctx.reason.clone());
        match admin {
            AdminCommand::EmergencyLockdown {} if self.lockdown.is_some() => {
                Ok(self.press_again(by, Action::EmergencyLockdown, reason))
            }
            AdminCommand::EngageKillSwitch {} if self.kill_switch.is_some() => {
                Ok(self.press_again(by, Action::EngageKillSwitch, reason))
            }
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
            AdminCommand::ReleaseLockdown {} => crate::release(
                self.lockdown.is_some(),
                "no lockdown is raised",
                AdminEvent::LockdownReleased { by, reason },
            ),
            AdminCommand::ProductionUnlock {} => crate::release(
                self.production_lock.is_some(),
                "production is not locked",
                AdminEvent::ProductionUnlocked { by, reason },
            ),
            AdminCommand::ReleaseKillSwitch {} => crate::release(
                self.kill_switch.is_some(),
                "the kill switch is not engaged",
                AdminEvent::KillSwitchReleased { by, reason },
            ),
            _ => Err(crate::misrouted()),
        }
    }

    /// The lockdown or the kill switch pressed while already raised: nothing changes but the
    /// pending confirmations, which are voided (a release someone began is cancelled).
    fn press_again(
        &self,
        by: ro_core::ActorId,
        pressed: Action,
        reason: Option<ro_core::Reason>,
    ) -> Vec<PlaneEvent> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        vec![PlaneEvent::Admin(AdminEvent::ConfirmationsVoided {
            by,
            pressed,
            count: self.pending.len() as u64,
            reason,
        })]
    }

    pub(crate) fn evolve_posture(&mut self, event: &AdminEvent, _meta: &EventMeta<'_>) {
        match event {
            AdminEvent::ConfirmationsVoided { .. } => self.pending.clear(),
            // A lockdown or the kill switch takes priority over every pending confirmation:
            // those issued before it are void.
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
            _ => {}
        }
    }
}

/// The audit record's shape of a posture event.
pub(crate) fn classify(event: &AdminEvent) -> Option<Classified> {
    let on = |flag: &str, before: bool| (json!({ flag: before }), json!({ flag: !before }));
    let plane = || vec!["plane".to_owned()];
    let production = || vec!["production".to_owned()];
    match event {
        AdminEvent::LockdownRaised { reason, .. } => applied(
            Action::EmergencyLockdown,
            plane(),
            reason,
            on("lockdown", false),
        ),
        AdminEvent::LockdownReleased { reason, .. } => applied(
            Action::ReleaseLockdown,
            plane(),
            reason,
            on("lockdown", true),
        ),
        AdminEvent::ProductionLocked { reason, .. } => applied(
            Action::ProductionLock,
            production(),
            reason,
            on("production_locked", false),
        ),
        AdminEvent::ProductionUnlocked { reason, .. } => applied(
            Action::ProductionUnlock,
            production(),
            reason,
            on("production_locked", true),
        ),
        AdminEvent::KillSwitchEngaged { reason, .. } => applied(
            Action::EngageKillSwitch,
            production(),
            reason,
            on("kill_switch", false),
        ),
        AdminEvent::KillSwitchReleased { reason, .. } => applied(
            Action::ReleaseKillSwitch,
            production(),
            reason,
            on("kill_switch", true),
        ),
        AdminEvent::ConfirmationsVoided {
            pressed,
            count,
            reason,
            ..
        } => applied(
            *pressed,
            plane(),
            reason,
            (
                json!({ "pending_confirmations": count }),
                json!({ "pending_confirmations": 0 }),
            ),
        ),
        _ => None,
    }
}
