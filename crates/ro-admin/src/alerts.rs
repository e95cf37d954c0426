//! Alerts: routing rules as data, and alerts as events derived in the same decision as what
//! raised them (so replay raises nothing new and the audit shows who caused each).
//!
//! | trigger | raised by | severity | default route |
//! |---|---|---|---|
//! | `EXECUTION_ENABLED` | every release of an execution gate: the kill switch, the production lock, the lockdown, a readiness NO-GO, a deviation that halted or paused the plane; by anyone | SEV0 | page (fixed) |
//! | `COMPONENT_FAULT` | a critical component turning stale or unhealthy (seen at the clock's `TICK` and at each `REPORT_COMPONENT`); resolved by the plane when it is `OK` again | SEV1 | page, ignored while the market is closed |
//! | `FAILURE_REPORTED` | `REPORT_FAILURE` | SEV1 | page |
//! | `READINESS_NOT_GO` | a readiness `NO_GO` or `UNKNOWN` | SEV2 | page when the market opens within 15 minutes or is open, ticket before |
//! | `DEVIATION_OPENED` | a recorded deviation | SEV3 | ticket |
//! | `LIMIT_BREACH` | an economic limit near its alert threshold, a unit blocked by a limit | SEV2 | ticket |
//!
//! `CONFIGURE_ALERTS` (human-only) replaces the rules: each trigger's route (`PAGE`, `TICKET`,
//! `IGNORE_WHEN_CLOSED`) and owners (primary first), and the market calendar that says when
//! the market is closed (without one, the market is always open). An `IGNORE_WHEN_CLOSED`
//! condition raises nothing while the market is closed; one still present when it opens is
//! raised then, as a page. `EXECUTION_ENABLED` always pages.
//!
//! `ACKNOWLEDGE_ALERT` and `RESOLVE_ALERT` close the loop; a component fault cannot be resolved
//! by hand while it persists. Delivery to a pager is the host's (`ro serve --alert-hook`).

use std::collections::BTreeMap;

use ro_core::{ActorId, Context, EventMeta, Timestamp};
use ro_jobs::CalendarName;
use ro_policy::Action;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{Classified, applied};
use crate::{AdminCommand, AdminEvent, Plane, PlaneCommand, PlaneEvent, PlaneRejection};

/// The most rules one configuration holds (one per trigger).
const MAX_OWNERS: usize = 8;
/// How long before the open a readiness failure pages rather than tickets (minutes).
pub const PRE_OPEN_PAGE_MINUTES: i64 = 15;

ro_core::id_kind!(
    /// Names who an alert is routed to (an on-call rotation, an owner).
    OwnerName,
    OwnerTag,
    "owner name"
);

/// What raises an alert (a closed set).
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
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlertTrigger {
    /// A release of an execution gate (Sev-0).
    ExecutionEnabled,
    /// A critical component stale or unhealthy.
    ComponentFault,
    /// A reported failure.
    FailureReported,
    /// A readiness check that is not GO.
    ReadinessNotGo,
    /// A recorded deviation.
    DeviationOpened,
    /// An economic limit near its threshold (ticket) or a unit blocked by one (page).
    LimitBreach,
}

impl AlertTrigger {
    /// Every trigger.
    pub const ALL: [AlertTrigger; 6] = [
        AlertTrigger::ExecutionEnabled,
        AlertTrigger::ComponentFault,
        AlertTrigger::FailureReported,
        AlertTrigger::ReadinessNotGo,
        AlertTrigger::DeviationOpened,
        AlertTrigger::LimitBreach,
    ];

    /// The trigger's fixed severity.
    pub fn severity(self) -> Severity {
        match self {
            AlertTrigger::ExecutionEnabled => Severity::Sev0,
            AlertTrigger::ComponentFault | AlertTrigger::FailureReported => Severity::Sev1,
            AlertTrigger::ReadinessNotGo | AlertTrigger::LimitBreach => Severity::Sev2,
            AlertTrigger::DeviationOpened => Severity::Sev3,
        }
    }

    fn default_route(self) -> AlertClass {
        match self {
            AlertTrigger::ExecutionEnabled
            | AlertTrigger::FailureReported
            | AlertTrigger::ReadinessNotGo => AlertClass::Page,
            AlertTrigger::ComponentFault => AlertClass::IgnoreWhenClosed,
            AlertTrigger::DeviationOpened | AlertTrigger::LimitBreach => AlertClass::Ticket,
        }
    }
}

/// How severe an alert is, `SEV0` the most.
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
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// Execution may have been enabled.
    Sev0,
    /// The plane or what it depends on is failing.
    Sev1,
    /// The day's readiness is in doubt.
    Sev2,
    /// Something to look into.
    Sev3,
}

/// A rule's route.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlertClass {
    /// Immediate human response.
    Page,
    /// Informational, handled asynchronously.
    Ticket,
    /// Nothing while the market is closed; a page when it is open.
    IgnoreWhenClosed,
}

/// How a raised alert is delivered.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Route {
    /// Page the owners.
    Page,
    /// Open a ticket for the owners.
    Ticket,
}

/// One trigger's routing.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// The trigger.
    pub trigger: AlertTrigger,
    /// The route.
    pub class: AlertClass,
    /// Who is alerted, primary first (1 to 8).
    pub owners: Vec<OwnerName>,
}

/// The alert routing: a rule per trigger (the default for a trigger without one) and the
/// market calendar.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// The calendar whose sessions say when the market is open (a calendar defined with
    /// `DEFINE_CALENDAR`); without one the market is always open.
    #[serde(default)]
    pub calendar: Option<CalendarName>,
    /// The rules, at most one per trigger.
    #[serde(default)]
    pub rules: Vec<AlertRule>,
}

impl AlertConfig {
    /// Who a trigger's alerts go to (the routing's owners, `ops-on-call` by default).
    pub fn owners(&self, trigger: AlertTrigger) -> Vec<OwnerName> {
        self.rule(trigger).1
    }

    fn rule(&self, trigger: AlertTrigger) -> (AlertClass, Vec<OwnerName>) {
        match self.rules.iter().find(|r| r.trigger == trigger) {
            Some(rule) => (rule.class, rule.owners.clone()),
            None => (trigger.default_route(), vec![default_owner()]),
        }
    }
}

fn default_owner() -> OwnerName {
    OwnerName::new("ops-on-call").unwrap_or_else(|_| unreachable!("a valid literal name"))
}

impl ro_core::Check for AlertConfig {
    /// One rule per trigger, 1 to 8 distinct owners each, `EXECUTION_ENABLED` always paged.
    fn check(&self) -> Result<(), String> {
        for (i, rule) in self.rules.iter().enumerate() {
            if self
                .rules
                .iter()
                .skip(i + 1)
                .any(|r| r.trigger == rule.trigger)
            {
                return Err(format!("two rules for {}", json!(rule.trigger)));
            }
            if rule.owners.is_empty() || rule.owners.len() > MAX_OWNERS {
                return Err(format!("a rule names 1 to {MAX_OWNERS} owners"));
            }
            if rule
                .owners
                .iter()
                .enumerate()
                .any(|(j, o)| rule.owners.iter().skip(j + 1).any(|p| p == o))
            {
                return Err("a rule names each owner once".into());
            }
            if rule.trigger == AlertTrigger::ExecutionEnabled && rule.class != AlertClass::Page {
                return Err(
                    "EXECUTION_ENABLED always pages (Sev-0): its class is PAGE; only its owners \
                     may change"
                        .into(),
                );
            }
        }
        Ok(())
    }
}

/// A raised alert.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct AlertRaised {
    /// Its number (1, 2, …).
    pub alert: u64,
    /// What raised it.
    pub trigger: AlertTrigger,
    /// What it is about: a reason code (`MARKETDATA_STALE`), a released gate
    /// (`KILL_SWITCH`), a failure mode, a deviation id.
    pub subject: String,
    /// Its severity.
    pub severity: Severity,
    /// How it is delivered.
    pub route: Route,
    /// Who is alerted, primary first.
    pub owners: Vec<OwnerName>,
    /// Whose command raised it (the plane's clock for a fault seen at a tick).
    pub caused_by: ActorId,
}

/// An alert as the plane holds it.
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
pub struct AlertView {
    /// The alert as raised.
    #[serde(flatten)]
    pub raised: AlertRaised,
    /// When it was raised.
    pub raised_at: Timestamp,
    /// Who acknowledged it, if anyone.
    pub acknowledged_by: Option<ActorId>,
    /// When it was resolved, if it was.
    pub resolved_at: Option<Timestamp>,
}

/// The alert routing and every alert raised.
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
pub struct Alerts {
    alerts: BTreeMap<u64, AlertView>,
    config: AlertConfig,
    /// Open alerts by (trigger, subject), for the conditions the plane resolves itself.
    open_conditions: BTreeMap<String, u64>,
}

impl Alerts {
    /// The routing in force.
    pub fn config(&self) -> &AlertConfig {
        &self.config
    }

    /// Every alert, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &AlertView> {
        self.alerts.values()
    }

    /// One alert.
    pub fn get(&self, alert: u64) -> Option<&AlertView> {
        self.alerts.get(&alert)
    }
}

impl Plane {
    /// The alert routing and the alerts raised.
    pub fn alerts(&self) -> &Alerts {
        &self.alerts
    }

    /// Whether the alert market is open at `at` (always, without a calendar or with one
    /// that cannot answer: fail-closed toward alerting).
    fn alert_market_open(&self, at: Timestamp) -> bool {
        self.alerts
            .config
            .calendar
            .as_ref()
            .and_then(|name| self.jobs.calendar(name))
            .and_then(|c| c.is_trading_at(at))
            .unwrap_or(true)
    }

    /// The alerts the events of one decision raise or resolve, appended to them. Cheap when
    /// nothing matches: one pass over the events, and the components only at a tick or a
    /// report.
    /// `command` is `None` for a refusal's events (a refused command changed nothing the
    /// components' faults depend on).
    pub(crate) fn derive_alerts(
        &self,
        command: Option<&PlaneCommand>,
        events: &mut Vec<PlaneEvent>,
        ctx: &Context,
    ) {
        let mut raised: Vec<(AlertTrigger, String)> = Vec::new();
        for event in events.iter() {
            match event {
                PlaneEvent::Admin(e) => match e {
                    AdminEvent::KillSwitchReleased { .. } => {
                        raised.push((AlertTrigger::ExecutionEnabled, "KILL_SWITCH".into()));
                    }
                    AdminEvent::ProductionUnlocked { .. } => {
                        raised.push((AlertTrigger::ExecutionEnabled, "PRODUCTION_LOCKED".into()));
                    }
                    AdminEvent::LockdownReleased { .. } => {
                        raised.push((AlertTrigger::ExecutionEnabled, "LOCKDOWN_ACTIVE".into()));
                    }
                    AdminEvent::NoGoCleared { .. } => {
                        raised.push((AlertTrigger::ExecutionEnabled, "READINESS_NO_GO".into()));
                    }
                    AdminEvent::FailureReported { mode, .. } => {
                        raised.push((AlertTrigger::FailureReported, json_name(mode)));
                    }
                    AdminEvent::ReadinessRecorded { check, .. }
                        if check.result != crate::health::ReadinessResult::Go =>
                    {
                        raised.push((AlertTrigger::ReadinessNotGo, json_name(&check.result)));
                    }
                    _ => {}
                },
                PlaneEvent::Policy(ro_policy::PolicyEvent::DeviationOpened {
                    deviation_id,
                    ..
                }) => {
                    raised.push((AlertTrigger::DeviationOpened, deviation_id.to_string()));
                }
                // A limit near its threshold, and a unit a limit blocked.
                PlaneEvent::Policy(ro_policy::PolicyEvent::LimitAlertRaised { limit, .. }) => {
                    raised.push((
                        AlertTrigger::LimitBreach,
                        json_name(limit).to_ascii_uppercase(),
                    ));
                }
                PlaneEvent::Policy(ro_policy::PolicyEvent::CostBlocked { limit, .. }) => {
                    raised.push((
                        AlertTrigger::LimitBreach,
                        format!("{}_BLOCKED", json_name(limit).to_ascii_uppercase()),
                    ));
                }
                // Resolving a deviation that halted or paused the plane reopens execution.
                PlaneEvent::Policy(ro_policy::PolicyEvent::DeviationResolved {
                    deviation_id,
                    ..
                }) if matches!(
                    self.policy.deviation_action(deviation_id),
                    Some(
                        ro_policy::deviation::DeviationAction::Halt
                            | ro_policy::deviation::DeviationAction::Pause
                    )
                ) =>
                {
                    raised.push((
                        AlertTrigger::ExecutionEnabled,
                        format!("DEVIATION_{deviation_id}"),
                    ));
                }
                _ => {}
            }
        }
        let report = match command {
            Some(PlaneCommand::Admin(AdminCommand::ReportComponent(report))) => Some(&**report),
            Some(PlaneCommand::Policy(ro_policy::PolicyCommand::Tick {})) => None,
            _ if raised.is_empty() => return,
            _ => {
                self.append_raised(raised, Vec::new(), events, ctx);
                return;
            }
        };
        // The faults as they stand once this decision is applied, against the open ones (the
        // common case, nothing at fault and nothing open, allocates nothing).
        let faults = self.components.halt_reasons_after(report, ctx.at);
        if faults.is_empty() && self.alerts.open_conditions.is_empty() {
            if !raised.is_empty() {
                self.append_raised(raised, Vec::new(), events, ctx);
            }
            return;
        }
        let mut new_faults = faults
            .iter()
            .filter(|f| {
                !self
                    .alerts
                    .open_conditions
                    .contains_key(&condition_key(AlertTrigger::ComponentFault, f))
            })
            .peekable();
        if new_faults.peek().is_some() {
            let ignored = self
                .alerts
                .config
                .rules
                .iter()
                .find(|r| r.trigger == AlertTrigger::ComponentFault)
                .map_or(AlertTrigger::ComponentFault.default_route(), |r| r.class)
                == AlertClass::IgnoreWhenClosed
                && !self.alert_market_open(ctx.at);
            if !ignored {
                raised.extend(new_faults.map(|f| (AlertTrigger::ComponentFault, f.clone())));
            }
        }
        let cleared: Vec<u64> = self
            .alerts
            .open_conditions
            .iter()
            .filter(|(key, _)| {
                key.strip_prefix("COMPONENT_FAULT:")
                    .is_some_and(|subject| !faults.iter().any(|f| f == subject))
            })
            .map(|(_, id)| *id)
            .collect();
        self.append_raised(raised, cleared, events, ctx);
    }

    fn append_raised(
        &self,
        raised: Vec<(AlertTrigger, String)>,
        cleared: Vec<u64>,
        events: &mut Vec<PlaneEvent>,
        ctx: &Context,
    ) {
        let mut next = self.alerts.alerts.keys().next_back().copied().unwrap_or(0);
        let market_open = self.alert_market_open(ctx.at);
        for (trigger, subject) in raised {
            let (class, owners) = self.alerts.config.rule(trigger);
            let route = match (trigger, class) {
                (AlertTrigger::ReadinessNotGo, AlertClass::Page) => {
                    let soon = ctx
                        .at
                        .checked_add(time::Duration::minutes(PRE_OPEN_PAGE_MINUTES))
                        .is_some_and(|t| self.alert_market_open(t));
                    if market_open || soon {
                        Route::Page
                    } else {
                        Route::Ticket
                    }
                }
                (_, AlertClass::Ticket) => Route::Ticket,
                (_, AlertClass::IgnoreWhenClosed) if !market_open => continue,
                _ => Route::Page,
            };
            next += 1;
            events.push(PlaneEvent::Admin(AdminEvent::AlertRaised(AlertRaised {
                alert: next,
                trigger,
                subject,
                severity: trigger.severity(),
                route,
                owners,
                caused_by: ctx.actor.id.clone(),
            })));
        }
        for alert in cleared {
            events.push(PlaneEvent::Admin(AdminEvent::AlertResolved {
                alert,
                by: ctx.actor.id.clone(),
                automatic: true,
                reason: None,
            }));
        }
    }

    pub(crate) fn decide_alerts(
        &self,
        admin: &AdminCommand,
        ctx: &Context,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        let (by, reason) = (ctx.actor.id.clone(), ctx.reason.clone());
        let open = |alert: u64| match self.alerts.alerts.get(&alert) {
            None => Err(PlaneRejection::InvalidArgument(format!(
                "no alert {alert}; list them with the ALERTS query"
            ))),
            Some(a) if a.resolved_at.is_some() => {
                Err(PlaneRejection::Invalid("that alert is resolved already"))
            }
            Some(a) => Ok(a),
        };
        match admin {
            AdminCommand::ConfigureAlerts(config) => {
                if let Some(name) = &config.calendar
                    && self.jobs.calendar(name).is_none()
                {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "unknown calendar {name}; define it with DEFINE_CALENDAR"
                    )));
                }
                if **config == self.alerts.config {
                    return Ok(Vec::new());
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::AlertsConfigured {
                    before: self.alerts.config.clone(),
                    after: (**config).clone(),
                    by,
                    reason,
                })])
            }
            AdminCommand::AcknowledgeAlert { alert } => {
                let a = open(*alert)?;
                if a.acknowledged_by.is_some() {
                    return Ok(Vec::new());
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::AlertAcknowledged {
                    alert: *alert,
                    by,
                    reason,
                })])
            }
            AdminCommand::ResolveAlert { alert } => {
                let a = open(*alert)?;
                if a.raised.trigger == AlertTrigger::ComponentFault
                    && self
                        .components
                        .halt_reasons(ctx.at)
                        .contains(&a.raised.subject)
                {
                    return Err(PlaneRejection::Invalid(
                        "the fault persists: acknowledge the alert; the plane resolves it when \
                         the component is OK again",
                    ));
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::AlertResolved {
                    alert: *alert,
                    by,
                    automatic: false,
                    reason,
                })])
            }
            _ => Err(crate::misrouted()),
        }
    }

    pub(crate) fn evolve_alerts(&mut self, event: &AdminEvent, meta: &EventMeta<'_>) {
        let alerts = &mut self.alerts;
        match event {
            AdminEvent::AlertsConfigured { after, .. } => alerts.config = after.clone(),
            AdminEvent::AlertRaised(raised) => {
                if raised.trigger == AlertTrigger::ComponentFault {
                    alerts
                        .open_conditions
                        .insert(condition_key(raised.trigger, &raised.subject), raised.alert);
                }
                alerts.alerts.insert(
                    raised.alert,
                    AlertView {
                        raised: raised.clone(),
                        raised_at: meta.at,
                        acknowledged_by: None,
                        resolved_at: None,
                    },
                );
            }
            AdminEvent::AlertAcknowledged { alert, by, .. } => {
                if let Some(a) = alerts.alerts.get_mut(alert) {
                    a.acknowledged_by = Some(by.clone());
                }
            }
            AdminEvent::AlertResolved { alert, .. } => {
                if let Some(a) = alerts.alerts.get_mut(alert) {
                    a.resolved_at = Some(meta.at);
                    let key = condition_key(a.raised.trigger, &a.raised.subject);
                    if alerts.open_conditions.get(&key) == Some(alert) {
                        alerts.open_conditions.remove(&key);
                    }
                }
            }
            _ => {}
        }
    }
}

fn condition_key(trigger: AlertTrigger, subject: &str) -> String {
    format!("{}:{subject}", json_name(&trigger))
}

/// A unit enum's wire name (`"NO_GO"`).
fn json_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The audit record's shape of an alert event (raised and resolved-by-the-plane alerts are
/// observations; configuring, acknowledging and resolving by hand are admin actions).
pub(crate) fn classify(event: &AdminEvent) -> Option<Classified> {
    match event {
        AdminEvent::AlertsConfigured {
            before,
            after,
            reason,
            ..
        } => applied(
            Action::ConfigureAlerts,
            vec!["alerts".to_owned()],
            reason,
            (json!(before), json!(after)),
        ),
        AdminEvent::AlertAcknowledged { alert, reason, .. } => applied(
            Action::AcknowledgeAlert,
            vec![format!("alert:{alert}")],
            reason,
            (
                json!({ "acknowledged": false }),
                json!({ "acknowledged": true }),
            ),
        ),
        AdminEvent::AlertResolved {
            alert,
            reason,
            automatic: false,
            ..
        } => applied(
            Action::ResolveAlert,
            vec![format!("alert:{alert}")],
            reason,
            (json!({ "resolved": false }), json!({ "resolved": true })),
        ),
        _ => None,
    }
}
