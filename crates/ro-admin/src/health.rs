//! Components, their heartbeats and freshness, the status contract and the mission-control
//! view, as projections over explicit time.
//!
//! The host's monitor reports each component (`REPORT_COMPONENT`): healthy or not, how long a
//! report stays fresh, whether the plane depends on it (critical) and what it depends on.
//! Reports are events like any other; whether a component is fresh is decided against the time
//! the question is asked, never a clock.
//!
//! - `OPS_STATUS` answers `HALTED` on a fault: a critical component stale (`<NAME>_STALE`, e.g.
//!   `MARKETDATA_STALE`) or unhealthy (`<NAME>_UNHEALTHY`), or the emergency lockdown;
//!   otherwise `MARKET_CLOSED` when a calendar is named and the instant is not one of its
//!   trading days (expected, not an alert); otherwise `OK`. The production lock, the kill switch
//!   and a readiness NO-GO leave the state alone (observe-only) and close execution:
//!   `safe_to_execute_orders` is true only when every gate is open.
//! - `MISSION_CONTROL` lists every component known by report or by being depended upon, each
//!   `OK`, `STALE`, `UNHEALTHY` or `OFFLINE` (never reported, or silent for three freshness
//!   periods), with the dependencies that are not `OK`; the view itself is always answered.

use std::collections::{BTreeMap, BTreeSet};

use ro_core::{Context, EventMeta, Timestamp};
use ro_policy::Action;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{Classified, applied};
use crate::{AdminCommand, AdminEvent, Plane, PlaneEvent, PlaneRejection, observe};

/// How long a report stays fresh unless the report says otherwise (five minutes).
pub const DEFAULT_FRESH_FOR_MS: u64 = 300_000;
/// The longest freshness period accepted (one day).
pub const MAX_FRESH_FOR_MS: u64 = 86_400_000;
/// The most dependencies one component may name.
pub const MAX_DEPENDENCIES: usize = 64;

ro_core::id_kind!(
    /// Names a component the plane watches (a service, a data feed).
    ComponentName,
    ComponentTag,
    "component name"
);

/// The latest report of one component.
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
pub struct ComponentReport {
    /// The component.
    pub component: ComponentName,
    /// Whether the plane halts when it is stale or unhealthy.
    #[serde(default)]
    pub critical: bool,
    /// What it depends on.
    #[serde(default)]
    pub depends_on: BTreeSet<ComponentName>,
    /// How long the report stays fresh, in milliseconds.
    #[serde(default = "default_fresh_for")]
    pub fresh_for_ms: u64,
    /// Whether it reported itself healthy.
    pub healthy: bool,
    /// The state a watched service answered with (mission control's poller records each
    /// change): its status contract's state, or `OFFLINE` when it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ServiceState>,
    /// Why: the service's own reason codes, or why it could not be read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason_codes: Vec<String>,
}

/// The most reason codes a report may carry.
pub const MAX_REASON_CODES: usize = 16;
/// The longest reason code, in bytes.
pub const MAX_REASON_CODE_BYTES: usize = 160;

/// A watched service's state, as its status contract (or its silence) says.
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
pub enum ServiceState {
    /// Answering `OK`.
    Ok,
    /// Answering `MARKET_CLOSED`.
    MarketClosed,
    /// Answering `HALTED`.
    Halted,
    /// Unreachable, too slow, or answering something that is not the status contract.
    Offline,
}

fn default_fresh_for() -> u64 {
    DEFAULT_FRESH_FOR_MS
}

impl ro_core::Check for ComponentReport {
    /// Checks the report's values.
    fn check(&self) -> Result<(), String> {
        if self.fresh_for_ms == 0 || self.fresh_for_ms > MAX_FRESH_FOR_MS {
            return Err(format!("fresh_for_ms is 1 to {MAX_FRESH_FOR_MS} (one day)"));
        }
        if self.depends_on.len() > MAX_DEPENDENCIES {
            return Err(format!("at most {MAX_DEPENDENCIES} dependencies"));
        }
        if self.depends_on.contains(&self.component) {
            return Err("a component does not depend on itself".into());
        }
        if self.reason_codes.len() > MAX_REASON_CODES {
            return Err(format!("at most {MAX_REASON_CODES} reason codes"));
        }
        if self.reason_codes.iter().any(|r| {
            r.is_empty() || r.len() > MAX_REASON_CODE_BYTES || r.chars().any(char::is_control)
        }) {
            return Err(format!(
                "a reason code is 1 to {MAX_REASON_CODE_BYTES} bytes without control characters"
            ));
        }
        Ok(())
    }
}

/// A component as last reported, and when.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
struct Seen {
    report: ComponentReport,
    at: Timestamp,
}

/// Where a component stands at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ComponentStatus {
    /// Fresh and healthy.
    Ok,
    /// Reported unhealthy (and still fresh).
    Unhealthy,
    /// Not heard from within its freshness period.
    Stale,
    /// Never reported, or silent for three freshness periods.
    Offline,
}

/// The components the plane watches.
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
pub struct Components {
    seen: BTreeMap<ComponentName, Seen>,
}

/// One row of the mission-control view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ComponentView {
    /// The component.
    pub component: ComponentName,
    /// Where it stands.
    pub status: ComponentStatus,
    /// Whether the plane halts on it.
    pub critical: bool,
    /// Its last report, if any.
    pub last_report_at: Option<Timestamp>,
    /// Its dependencies that are not `OK`.
    pub blocked_by: Vec<ComponentName>,
    /// The state its last report gave (a watched service's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ServiceState>,
    /// The reason codes its last report gave.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason_codes: Vec<String>,
}

impl Components {
    pub(crate) fn record(&mut self, report: &ComponentReport, at: Timestamp) {
        let seen = Seen {
            report: report.clone(),
            at,
        };
        // A known component is updated in place: its key is not cloned again.
        match self.seen.get_mut(&report.component) {
            Some(slot) => *slot = seen,
            None => {
                self.seen.insert(report.component.clone(), seen);
            }
        }
    }

    /// Where `name` stands at `now`.
    pub fn status(&self, name: &ComponentName, now: Timestamp) -> ComponentStatus {
        let Some(seen) = self.seen.get(name) else {
            return ComponentStatus::Offline;
        };
        let age_ms = u64::try_from(now.since(seen.at).whole_milliseconds()).unwrap_or(0);
        let fresh_for = seen.report.fresh_for_ms;
        if age_ms > fresh_for.saturating_mul(3) {
            ComponentStatus::Offline
        } else if age_ms > fresh_for {
            ComponentStatus::Stale
        } else if seen.report.healthy {
            ComponentStatus::Ok
        } else {
            ComponentStatus::Unhealthy
        }
    }

    /// The reason codes of critical components that are not `OK` at `now`, sorted.
    pub fn halt_reasons(&self, now: Timestamp) -> Vec<String> {
        self.halt_reasons_after(None, now)
    }

    /// [`Components::halt_reasons`] once `report` (received at `now`, so fresh) is recorded,
    /// without recording it.
    pub(crate) fn halt_reasons_after(
        &self,
        report: Option<&ComponentReport>,
        now: Timestamp,
    ) -> Vec<String> {
        let replaced = report.map(|r| &r.component);
        let mut reasons: Vec<String> = self
            .seen
            .iter()
            .filter(|(name, seen)| seen.report.critical && Some(*name) != replaced)
            .filter_map(|(name, _)| {
                let suffix = match self.status(name, now) {
                    ComponentStatus::Ok => return None,
                    ComponentStatus::Unhealthy => "UNHEALTHY",
                    ComponentStatus::Stale | ComponentStatus::Offline => "STALE",
                };
                Some(format!("{}_{suffix}", reason_name(name.as_str())))
            })
            .collect();
        if let Some(report) = report
            && report.critical
            && !report.healthy
        {
            reasons.push(format!(
                "{}_UNHEALTHY",
                reason_name(report.component.as_str())
            ));
        }
        reasons.sort();
        reasons
    }

    /// The mission-control rows at `now`: every reported component and every component named
    /// as a dependency, by name.
    pub fn view(&self, now: Timestamp) -> Vec<ComponentView> {
        let mut names: BTreeSet<&ComponentName> = self.seen.keys().collect();
        for seen in self.seen.values() {
            names.extend(seen.report.depends_on.iter());
        }
        names
            .into_iter()
            .map(|name| {
                let seen = self.seen.get(name);
                ComponentView {
                    component: name.clone(),
                    status: self.status(name, now),
                    critical: seen.is_some_and(|s| s.report.critical),
                    last_report_at: seen.map(|s| s.at),
                    blocked_by: seen
                        .map(|s| {
                            s.report
                                .depends_on
                                .iter()
                                .filter(|d| self.status(d, now) != ComponentStatus::Ok)
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default(),
                    state: seen.and_then(|s| s.report.state),
                    reason_codes: seen
                        .map(|s| s.report.reason_codes.clone())
                        .unwrap_or_default(),
                }
            })
            .collect()
    }
}

/// `marketdata-feed` → `MARKETDATA_FEED`.
pub(crate) fn reason_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// A readiness check's verdict.
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
pub enum ReadinessResult {
    /// Ready.
    Go,
    /// Not ready: the posture stays conservative until a human clears it.
    NoGo,
    /// Could not be decided (the check did not run through, an input was missing):
    /// fail-closed, held as a NO-GO until a human clears it.
    Unknown,
}

/// A recorded readiness check.
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
pub struct ReadinessCheck {
    /// The verdict.
    pub result: ReadinessResult,
    /// The report it rests on (a registered artifact).
    pub evidence: ro_artifacts::Locator,
    /// When the check ran (the command's time).
    pub at: Timestamp,
}

/// The day's readiness posture: the latest check, and a NO-GO that holds until a human clears
/// it (a later GO does not clear it: no automation changes posture because of a check).
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
pub struct Readiness {
    /// The latest check.
    pub latest: Option<ReadinessCheck>,
    /// The NO-GO in force, if any.
    pub no_go: Option<ReadinessCheck>,
}

impl Plane {
    /// The components the plane watches.
    pub fn components(&self) -> &Components {
        &self.components
    }

    /// The readiness posture.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    pub(crate) fn decide_health(
        &self,
        admin: &AdminCommand,
        ctx: &Context,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        let (by, reason) = (ctx.actor.id.clone(), ctx.reason.clone());
        match admin {
            AdminCommand::ReportSignal(signal) => {
                if let observe::Signal::StreamLag { stream, .. } = &**signal
                    && self.streams.get(stream).is_none()
                {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "unknown stream {stream}; create it with CREATE_STREAM"
                    )));
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::SignalReported(
                    (**signal).clone(),
                ))])
            }
            AdminCommand::ReportComponent(report) => Ok(vec![PlaneEvent::Admin(
                AdminEvent::ComponentReported((**report).clone()),
            )]),
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
            _ => Err(crate::misrouted()),
        }
    }

    pub(crate) fn evolve_health(&mut self, event: &AdminEvent, meta: &EventMeta<'_>) {
        match event {
            AdminEvent::ComponentReported(report) => self.components.record(report, meta.at),
            AdminEvent::SignalReported(signal) => self.observability.record(signal, meta.at),
            AdminEvent::ReadinessRecorded { check, .. } => {
                if check.result != ReadinessResult::Go && self.readiness.no_go.is_none() {
                    self.readiness.no_go = Some(check.clone());
                }
                self.readiness.latest = Some(check.clone());
            }
            AdminEvent::NoGoCleared { .. } => self.readiness.no_go = None,
            _ => {}
        }
    }
}

/// The audit record's shape of a health event (reports and signals are observations, not
/// admin actions).
pub(crate) fn classify(event: &AdminEvent) -> Option<Classified> {
    match event {
        AdminEvent::ReadinessRecorded { check, .. } => applied(
            Action::RecordReadiness,
            vec![format!("artifact:{}", check.evidence)],
            &None,
            (Value::Null, json!({ "result": check.result })),
        ),
        AdminEvent::NoGoCleared { check, reason, .. } => applied(
            Action::ClearNoGo,
            vec!["readiness".to_owned()],
            reason,
            (json!({ "no_go_since": check.at }), json!({ "no_go": null })),
        ),
        _ => None,
    }
}
