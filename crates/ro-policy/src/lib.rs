//! Who may do what, and within which limits.
//!
//! ```
//! use ro_core::{Context, Kernel, testing::{agent, human, t0}};
//! use ro_policy::{Policy, PolicyCommand, Action, Request};
//!
//! let mut policy: Kernel<Policy> = Kernel::new();
//! let ctx = Context::new(t0(), human("alice"));
//! // The first grant of an empty plane bootstraps its admin.
//! policy.execute(&serde_json::from_str(r#"{"type":"GRANT_ROLE","principal":"alice","role":"admin"}"#)?, &ctx)?;
//! policy.execute(&serde_json::from_str(r#"{"type":"GRANT_ROLE","principal":"bot","role":"operator"}"#)?, &ctx)?;
//!
//! // An agent holding the operator role may lock down (safer), never promote (less safe).
//! let bot = agent("bot");
//! let ask = |action| policy.state().authorize(&Request { actor: &bot, action, resource: "", subject: None });
//! assert!(ask(Action::EmergencyLockdown).allowed);
//! let refused = ask(Action::PromoteModel);
//! assert!(!refused.allowed);
//! assert_eq!(refused.reasons[0].label(), "human-only");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Rooms
//!
//! Each capability is a module that owns its commands' decisions, its events' folding and its
//! types; [`command`]'s facts table names the room of every command, [`PolicyEvent::room`]
//! the room of every event, and `Policy::decide` authorizes and then routes by them.
//!
//! - [`Action`]: the closed set of actions, each classified by [`Safety`]: safety-reducing or
//!   production-changing actions are for humans only, whatever an agent's roles.
//! - [`authz`]: the decision: built-in roles (`admin`, `operator`, `analyst`, `reviewer`,
//!   `risk_owner`) and user-defined ones, grants (global or per subject), permit and forbid
//!   rules, and [`Access::authorize`]: default deny, forbid wins, order-independent, sorted
//!   reasons. [`roles`]: the commands that change them, exclusive roles per subject, and the
//!   record of a denied request.
//! - [`change`]: freeze discipline: a baseline of frozen components; a change goes request →
//!   review → approval (approver ≠ requester, [`require_distinct`]) → apply, which moves the
//!   baseline version.
//! - [`config`] versions and [`secret`] references with rotation.
//! - [`limits`]: per-unit ceiling, daily budget and rate, alerts once per crossing, breaches
//!   blocked and recorded as deviations; the daily cost report.
//! - [`deviation`]: types with severity, SLA window and action; `TICK` escalates those whose
//!   window passed unresolved.
//!
//! [`Policy`] is a [`ro_core::Decider`]: every change is an event, every refusal a typed
//! [`PolicyRejection`] with a stable code, and denied attempts are recorded
//! ([`PolicyEvent::AccessDenied`]).
//!
//! # Features
//!
//! - `testing`: proptest strategies for principals, grants, actions and commands.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod action;
pub mod authz;
pub mod change;
pub mod command;
pub mod config;
pub mod deviation;
pub mod event;
pub mod facts;
pub mod gate;
pub mod limits;
pub mod rejection;
pub mod roles;
pub mod secret;
#[cfg(feature = "testing")]
pub mod testing;

use std::collections::BTreeMap;

use ro_core::{ActorId, Context, Decider, EventMeta, InvariantViolation};
use serde::Serialize;

pub use action::{Action, ActionSet, Safety};
pub use authz::{
    Access, ConstraintId, Decision, DecisionReason, Effect, Grant, PrincipalMatch, Request,
    RoleName, Rule, RuleId, SubjectId,
};
pub use change::Baseline;
pub use change::{BaselineVersion, ChangeId, ChangeRequest, ChangeStatus, ComponentId};
pub use command::{PolicyCommand, Room};
pub use config::{ConfigName, ConfigVersion, ConfigVersionRef};
pub use deviation::{
    Deviation, DeviationAction, DeviationId, DeviationType, DeviationTypeId, Severity,
};
pub use event::PolicyEvent;
pub use facts::{CommandFacts, TwoStep};
pub use gate::Gate;
pub use limits::{CostReport, Day, DayStats, LimitKind, Limits, UnitId};
pub use rejection::PolicyRejection;
pub use secret::{SecretName, SecretRef, SecretVersion};

pub use ro_core::text::MAX_TEXT_LEN;

/// The policy's state.
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
pub struct Policy {
    access: Access,
    baseline: Option<Baseline>,
    changes: BTreeMap<ChangeId, ChangeRequest>,
    configs: BTreeMap<ConfigName, BTreeMap<ConfigVersion, ConfigVersionRef>>,
    days: BTreeMap<Day, DayStats>,
    deviation_types: BTreeMap<DeviationTypeId, DeviationType>,
    deviations: BTreeMap<DeviationId, Deviation>,
    deviations_opened: u64,
    limits: Option<Limits>,
    secrets: BTreeMap<SecretName, Vec<SecretRef>>,
}

impl Default for Policy {
    fn default() -> Self {
        let mut deviation_types = BTreeMap::new();
        for (name, t) in deviation::builtin_deviation_types() {
            if let Ok(id) = DeviationTypeId::new(name) {
                deviation_types.insert(id, t);
            }
        }
        Policy {
            access: Access::with_builtin_roles(),
            baseline: None,
            changes: BTreeMap::new(),
            configs: BTreeMap::new(),
            secrets: BTreeMap::new(),
            limits: None,
            days: BTreeMap::new(),
            deviation_types,
            deviations: BTreeMap::new(),
            deviations_opened: 0,
        }
    }
}

/// Refuses when `second` is the same actor as `first`, naming `constraint` (e.g.
/// `"reviewer-not-author"`, `"approver-not-requester"`).
pub fn require_distinct(
    constraint: &str,
    first: &ActorId,
    second: &ActorId,
) -> Result<(), PolicyRejection> {
    if first == second {
        return Err(PolicyRejection::SeparationOfDuties(format!(
            "{constraint}: {second} may not act on their own work"
        )));
    }
    Ok(())
}

/// Checks required free text (see [`ro_core::text::check_text`]).
pub(crate) fn check_text(field: &str, text: &str) -> Result<(), PolicyRejection> {
    ro_core::text::check_text(text, true)
        .map_err(|e| PolicyRejection::Invalid(format!("{field} {e}")))
}

impl Policy {
    /// Everything authorization reads.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Decides a request against the current grants and rules.
    pub fn authorize(&self, req: &Request<'_>) -> Decision {
        self.access.authorize(req)
    }

    /// The frozen baseline, if any.
    pub fn baseline(&self) -> Option<&Baseline> {
        self.baseline.as_ref()
    }

    /// Every change request, by id.
    pub fn changes(&self) -> &BTreeMap<ChangeId, ChangeRequest> {
        &self.changes
    }

    /// A change request.
    pub fn change(&self, id: &ChangeId) -> Option<&ChangeRequest> {
        self.changes.get(id)
    }

    /// Refuses a change to `component` while it is frozen (changes go through
    /// `REQUEST_CHANGE` … `APPLY_CHANGE`).
    pub fn check_unfrozen(&self, component: &ComponentId) -> Result<(), PolicyRejection> {
        match &self.baseline {
            Some(b) if b.frozen.contains(component) => Err(PolicyRejection::Freeze(format!(
                "{component} is frozen in baseline {}: request, review and approve a change",
                b.version
            ))),
            _ => Ok(()),
        }
    }

    /// The frozen component a controlled command on `resource` falls under: the resource
    /// itself (`limits`, `environment:prod`) or its kind (`config` freezes every `config:…`).
    pub fn frozen_component(&self, resource: &str) -> Option<&ComponentId> {
        let frozen = &self.baseline.as_ref()?.frozen;
        let kind = resource.split_once(':').map(|(kind, _)| kind);
        frozen
            .iter()
            .find(|c| c.as_str() == resource || Some(c.as_str()) == kind)
    }

    /// The oldest approved change request for `component` not yet applied: what lets one
    /// controlled command on a frozen component through (and is applied by it).
    pub fn approved_change_for(&self, component: &ComponentId) -> Option<&ChangeId> {
        self.changes
            .iter()
            .find(|(_, cr)| {
                cr.component == *component && matches!(cr.status, ChangeStatus::Approved { .. })
            })
            .map(|(id, _)| id)
    }

    /// The event that applies approved change `id` (a new baseline version), with the reason of
    /// the command that applies it.
    pub fn change_applied_event(
        &self,
        id: &ChangeId,
        reason: Option<&ro_core::Reason>,
    ) -> Option<PolicyEvent> {
        let cr = self.changes.get(id)?;
        let before = self.baseline.as_ref()?.version;
        Some(PolicyEvent::ChangeApplied {
            reason: reason.cloned(),
            change_id: id.clone(),
            component: cr.component.clone(),
            before,
            after: before.next(cr.breaking),
        })
    }

    /// A published config version.
    pub fn config(&self, name: &ConfigName, version: &ConfigVersion) -> Option<&ConfigVersionRef> {
        self.configs.get(name)?.get(version)
    }

    /// The current version of a secret.
    pub fn secret(&self, name: &SecretName) -> Option<&SecretRef> {
        self.secrets.get(name)?.last()
    }

    /// The economic limits in force.
    pub fn limits(&self) -> Option<&Limits> {
        self.limits.as_ref()
    }

    /// A day's spending.
    pub fn day(&self, day: Day) -> Option<&DayStats> {
        self.days.get(&day)
    }

    /// The daily cost report for `day` (`None` until limits are set).
    pub fn cost_report(&self, day: Day) -> Option<CostReport> {
        Some(limits::cost_report(&self.days, self.limits.as_ref()?, day))
    }

    /// Every deviation, by id.
    pub fn deviations(&self) -> &BTreeMap<DeviationId, Deviation> {
        &self.deviations
    }
}

/// The refusal of a command sent to a room that does not hold it: the facts table routes
/// every command to its room, so this answers only a table that disagrees with a room.
pub(crate) fn misrouted() -> PolicyRejection {
    PolicyRejection::Invalid(
        "internal: this command was routed to a room that does not decide it".into(),
    )
}

impl Decider for Policy {
    type Command = PolicyCommand;
    type Event = PolicyEvent;
    type Rejection = PolicyRejection;

    fn decide(
        &self,
        command: &PolicyCommand,
        ctx: &Context,
    ) -> Result<Vec<PolicyEvent>, PolicyRejection> {
        use PolicyRejection as R;
        let bootstrap = self.is_bootstrap(command, ctx);
        if !bootstrap {
            let (action, resource, subject) = command.action();
            let decision = self.access.authorize(&Request {
                actor: &ctx.actor,
                action,
                resource: &resource,
                subject,
            });
            if !decision.allowed {
                return Err(R::Unauthorized {
                    action,
                    reasons: decision.reasons,
                });
            }
        }
        let _reason = ctx.reason.clone();
        match command.facts().room {
            Room::Roles => self.decide_roles(command, ctx, bootstrap),
            Room::Changes => self.decide_changes(command, ctx),
            Room::Configs => self.decide_configs(command, ctx),
            Room::Secrets => self.decide_secrets(command, ctx),
            Room::Limits => self.decide_limits(command, ctx),
            Room::Deviations => self.decide_deviations(command, ctx),
        }
    }

    fn refusal_events(
        &self,
        command: &PolicyCommand,
        rejection: &PolicyRejection,
        ctx: &Context,
    ) -> Vec<PolicyEvent> {
        match rejection {
            PolicyRejection::Unauthorized { action, reasons } => {
                let (_, resource, _) = command.action();
                self.access_denied_events(*action, &resource, reasons, ctx)
            }
            PolicyRejection::LimitBreached { limit } => {
                let PolicyCommand::RecordCost {
                    unit_id,
                    cost_micros,
                } = command
                else {
                    return Vec::new();
                };
                let kind = match limit {
                    LimitKind::CostCeiling => "cost_ceiling_breach",
                    LimitKind::DailyBudget => "budget_breach",
                    LimitKind::DailyRate => "rate_limit_breach",
                };
                let mut events = vec![PolicyEvent::CostBlocked {
                    unit_id: unit_id.clone(),
                    cost_micros: *cost_micros,
                    day: Day::of(ctx.at),
                    limit: *limit,
                }];
                events.extend(self.open_deviation_event(
                    1,
                    kind,
                    ctx.at,
                    format!("unit {unit_id} costing {cost_micros} micro-units was blocked"),
                ));
                events
            }
            _ => Vec::new(),
        }
    }

    fn evolve(&mut self, event: &PolicyEvent, meta: &EventMeta<'_>) {
        match event.room() {
            Room::Roles => self.evolve_roles(event, meta),
            Room::Changes => self.evolve_changes(event, meta),
            Room::Configs => self.evolve_configs(event, meta),
            Room::Secrets => self.evolve_secrets(event, meta),
            Room::Limits => self.evolve_limits(event, meta),
            Room::Deviations => self.evolve_deviations(event, meta),
        }
    }

    fn check_invariants(&self) -> Result<(), InvariantViolation> {
        for (principal, grants) in self.access.grants() {
            if grants.is_empty() {
                return Err(InvariantViolation(format!(
                    "{principal} has an empty grant list"
                )));
            }
            if let Some(g) = grants
                .iter()
                .find(|g| !self.access.roles().contains_key(&g.role))
            {
                return Err(InvariantViolation(format!(
                    "{principal} holds undefined role {}",
                    g.role
                )));
            }
            for g in grants {
                if let Some(c) =
                    self.access
                        .exclusive_violation(principal, &g.role, g.subject.as_ref())
                {
                    return Err(InvariantViolation(format!(
                        "{principal} breaks constraint {c}"
                    )));
                }
            }
        }
        if let Some(b) = &self.baseline {
            for (id, cr) in &self.changes {
                if let ChangeStatus::Applied { version } = cr.status
                    && version > b.version
                {
                    return Err(InvariantViolation(format!(
                        "change {id} applied beyond the baseline"
                    )));
                }
            }
        }
        if u64::try_from(self.deviations.len()).ok() != Some(self.deviations_opened) {
            return Err(InvariantViolation(
                "deviation count disagrees with the ids issued".into(),
            ));
        }
        for (id, d) in &self.deviations {
            if d.due_at < d.detected_at {
                return Err(InvariantViolation(format!(
                    "deviation {id} is due before it was detected"
                )));
            }
        }
        Ok(())
    }
}
