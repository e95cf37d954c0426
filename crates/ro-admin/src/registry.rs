//! The model registry's promotion path, the governed system's cycles and their monitoring,
//! and the failure status with its incidents (the operator runbook).
//!
//! - A registered model version (`REGISTER_MODEL`, in ro-artifacts) becomes the candidate
//!   (`SET_CANDIDATE_MODEL`), which starts its shadow window: every recorded cycle outside a
//!   halt counts one step. Promotion (`PROMOTE_CANDIDATE`, two-step) is refused until the
//!   window is complete (default [`DEFAULT_SHADOW_WINDOW`] cycles, set with
//!   `CONFIGURE_SHADOW_WINDOW`) and while the failure status is not `NORMAL`.
//! - A canary ratio (`SET_CANARY_RATIO`) sends a share of live traffic to the candidate; it is
//!   held in basis points and returns to zero when the candidate changes or is promoted.
//! - Rollback (`ROLLBACK_MODEL`, two-step) makes the previous active version active again.
//! - `RECORD_CYCLE` records one cycle; while the plane is halted (lockdown, kill switch or
//!   production lock) its intent is forced to `STOP` and it does not count toward the shadow
//!   window (learning is frozen).
//! - `REPORT_FAILURE` raises the failure status to a mode beyond `NORMAL` and records an
//!   incident with the journal position of its detection (the record before it carries the
//!   audit hash) and an optional snapshot artifact; `RESET_FAILURE_STATUS` (two-step) returns
//!   to `NORMAL` and resolves the open incidents.

use std::collections::BTreeMap;
use std::fmt;

use ro_artifacts::{Locator, ModelVersion};
use ro_core::{ActorId, Context, EventMeta, Ratio, Timestamp};
use ro_policy::{Action, Day};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{Classified, applied};
use crate::{AdminCommand, AdminEvent, Plane, PlaneEvent, PlaneRejection, raise};

/// Shadow cycles a candidate needs before promotion, unless configured otherwise.
pub const DEFAULT_SHADOW_WINDOW: u64 = 1_000;
/// The largest latency recorded for a cycle, in milliseconds (one hour); larger values are
/// refused.
pub const MAX_LATENCY_MS: u64 = 3_600_000;
/// The longest incident description, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 2_000;
/// The health checklist's survival-rate floor, in basis points (the rate must be above it).
pub const SURVIVAL_FLOOR_BP: u32 = 9_000;
/// The health checklist's violation-rate ceiling, in basis points (the rate must be below it).
pub const VIOLATION_CEILING_BP: u32 = 100;
/// The health checklist's 99th-percentile latency ceiling, in milliseconds (below it).
pub const LATENCY_P99_CEILING_MS: u64 = 50;

/// The intent of one cycle of the governed system: 1 to 32 characters of `A-Z`, `0-9` and
/// `_` (e.g. `HOLD`, `BUY`, `STOP`).
#[derive(
    Debug,
    Clone,
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
#[serde(try_from = "String", into = "String")]
#[schemars(rename = "CycleIntent", extend("pattern" = "^[A-Z0-9_]{1,32}$"))]
pub struct Intent(String);

impl Intent {
    /// The intent every cycle is forced to while the plane is halted.
    pub fn stop() -> Intent {
        Intent("STOP".into())
    }

    /// The intent's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Intent {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let ok = (1..=32).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Intent(text))
        } else {
            Err(format!(
                "intent {:?}: 1 to 32 characters of A-Z, 0-9 and _ (e.g. HOLD, STOP)",
                text.chars().take(40).collect::<String>()
            ))
        }
    }
}

impl From<Intent> for String {
    fn from(intent: Intent) -> String {
        intent.0
    }
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The failure status: `NORMAL`, or a mode beyond it, in increasing severity.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
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
pub enum FailureMode {
    /// Nothing is wrong.
    #[default]
    Normal,
    /// Working, with reduced quality (e.g. a health threshold breached).
    Degraded,
    /// Running only safe, pre-agreed behaviour.
    SafeMode,
    /// Failed: a human must investigate and reset.
    Failed,
}

impl fmt::Display for FailureMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailureMode::Normal => "NORMAL",
            FailureMode::Degraded => "DEGRADED",
            FailureMode::SafeMode => "SAFE_MODE",
            FailureMode::Failed => "FAILED",
        })
    }
}

/// One incident: a failure reported, with where in the journal it was detected.
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
pub struct Incident {
    /// The incident's number (1, 2, …).
    pub incident: u64,
    /// The mode it raised.
    pub mode: FailureMode,
    /// What was detected.
    pub description: String,
    /// Who reported it.
    pub reported_by: ActorId,
    /// When.
    pub detected_at: Timestamp,
    /// The seq of the event that recorded it: the `prev` of that record is the journal's head
    /// hash at detection (the audit hash).
    pub audit_seq: u64,
    /// An artifact holding the state snapshot to reproduce it offline, if any.
    pub snapshot: Option<Locator>,
    /// When the failure status was reset, if it was.
    pub resolved_at: Option<Timestamp>,
}

/// Cycle figures of one UTC day.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct CycleStats {
    /// Cycles recorded.
    pub cycles: u64,
    /// Cycles whose intent was forced to `STOP`.
    pub forced_stops: u64,
    /// Cycles that reported whether they survived.
    pub survival_reported: u64,
    /// Of those, how many survived.
    pub survived: u64,
    /// Cycles that reported a violation.
    pub violations: u64,
    /// Cycles that reported whether their output was deterministic (replayed identically).
    pub determinism_reported: u64,
    /// Of those, how many were.
    pub deterministic: u64,
    /// Latencies reported, in milliseconds → how many cycles.
    latencies: BTreeMap<u64, u64>,
}

impl CycleStats {
    fn record(&mut self, cycle: &CycleRecorded) {
        self.cycles += 1;
        if cycle.forced_stop {
            self.forced_stops += 1;
        }
        if let Some(survived) = cycle.survived {
            self.survival_reported += 1;
            if survived {
                self.survived += 1;
            }
        }
        if cycle.violation {
            self.violations += 1;
        }
        if let Some(deterministic) = cycle.deterministic {
            self.determinism_reported += 1;
            if deterministic {
                self.deterministic += 1;
            }
        }
        if let Some(ms) = cycle.latency_ms {
            *self.latencies.entry(ms).or_default() += 1;
        }
    }

    /// Survived / reported, in basis points (rounded down); `None` when none reported.
    pub fn survival_rate_bp(&self) -> Option<u32> {
        ro_core::ratio::basis_points(self.survived, self.survival_reported)
    }

    /// Violations / cycles, in basis points (rounded up: a rate is never understated);
    /// `None` without cycles.
    pub fn violation_rate_bp(&self) -> Option<u32> {
        if self.cycles == 0 {
            return None;
        }
        let scaled = u128::from(self.violations) * 10_000;
        let rate = scaled.div_ceil(u128::from(self.cycles));
        u32::try_from(rate).ok()
    }

    /// The 99th-percentile latency in milliseconds (nearest rank); `None` without latencies.
    pub fn latency_p99_ms(&self) -> Option<u64> {
        let total: u64 = self.latencies.values().sum();
        if total == 0 {
            return None;
        }
        // Nearest rank: the smallest value with at least ceil(0.99 · n) values at or below it.
        let rank = (u128::from(total) * 99).div_ceil(100);
        let mut seen = 0u128;
        for (ms, count) in &self.latencies {
            seen += u128::from(*count);
            if seen >= rank {
                return Some(*ms);
            }
        }
        self.latencies.keys().next_back().copied()
    }
}

/// The facts of one recorded cycle (the body of the `CycleRecorded` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CycleRecorded {
    // Declared in key order, like the other records written on every command: the canonical
    // encoder then only moves the event's tag `type` to its place instead of sorting.
    /// Whether its output was deterministic, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deterministic: Option<bool>,
    /// Whether the given intent was overridden by `STOP`.
    #[serde(default)]
    pub forced_stop: bool,
    /// The intent in effect: `STOP` while the plane is halted.
    pub intent: Intent,
    /// The cycle's latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// The intent the system asked for, when it was overridden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_intent: Option<Intent>,
    /// Whether it counted toward the candidate's shadow window.
    #[serde(default)]
    pub shadow: bool,
    /// Whether it survived, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survived: Option<bool>,
    /// Whether it reported a violation.
    #[serde(default)]
    pub violation: bool,
}

/// The intents a cycle may carry until a human defines the set (`DEFINE_INTENTS`).
pub const DEFAULT_INTENTS: [&str; 4] = ["BUY", "HOLD", "SELL", "STOP"];

/// The registry's state.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Registry {
    active: Option<ModelVersion>,
    /// Who approved the current candidate for promotion, if anyone has.
    #[serde(skip_serializing_if = "Option::is_none")]
    approved_by: Option<ActorId>,
    canary: Ratio,
    candidate: Option<ModelVersion>,
    days: BTreeMap<Day, CycleStats>,
    failure: FailureMode,
    incidents: Vec<Incident>,
    /// The intents a cycle may carry, once a human defined them ([`DEFAULT_INTENTS`] before).
    #[serde(skip_serializing_if = "Option::is_none")]
    intents: Option<Vec<Intent>>,
    last_day: Option<Day>,
    /// Earlier active versions, most recent last (what rollback returns to).
    previous: Vec<ModelVersion>,
    shadow_cycles: u64,
    shadow_window: u64,
}

impl Registry {
    /// The intents a cycle may carry, sorted.
    pub fn intents(&self) -> Vec<Intent> {
        match &self.intents {
            Some(set) => set.clone(),
            None => DEFAULT_INTENTS
                .iter()
                .map(|i| Intent((*i).to_owned()))
                .collect(),
        }
    }

    fn allows(&self, intent: &Intent) -> bool {
        match &self.intents {
            Some(set) => set.contains(intent),
            None => DEFAULT_INTENTS.contains(&intent.as_str()),
        }
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            active: None,
            approved_by: None,
            previous: Vec::new(),
            candidate: None,
            shadow_cycles: 0,
            shadow_window: DEFAULT_SHADOW_WINDOW,
            canary: Ratio::ZERO,
            failure: FailureMode::Normal,
            incidents: Vec::new(),
            intents: None,
            days: BTreeMap::new(),
            last_day: None,
        }
    }
}

/// What happened in the registry (wrapped in [`crate::AdminEvent`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change<'a> {
    Candidate(&'a ModelVersion),
    Cycle(&'a CycleRecorded),
    Canary(Ratio),
    Promoted(&'a ModelVersion),
    RolledBack(&'a ModelVersion),
    ShadowWindow(u64),
    Failure {
        mode: FailureMode,
        description: &'a str,
        snapshot: Option<&'a Locator>,
        by: &'a ActorId,
    },
    Reset,
}

impl Registry {
    /// The active model version.
    pub fn active(&self) -> Option<&ModelVersion> {
        self.active.as_ref()
    }

    /// The candidate model version.
    pub fn candidate(&self) -> Option<&ModelVersion> {
        self.candidate.as_ref()
    }

    /// The version rollback would make active.
    pub fn rollback_target(&self) -> Option<&ModelVersion> {
        self.previous.last()
    }

    /// Shadow cycles the candidate has completed.
    pub fn shadow_cycles(&self) -> u64 {
        self.shadow_cycles
    }

    /// Shadow cycles a candidate needs.
    pub fn shadow_window(&self) -> u64 {
        self.shadow_window
    }

    /// The canary ratio.
    pub fn canary(&self) -> Ratio {
        self.canary
    }

    /// The failure status.
    pub fn failure(&self) -> FailureMode {
        self.failure
    }

    /// Every incident, oldest first.
    pub fn incidents(&self) -> &[Incident] {
        &self.incidents
    }

    /// The cycle figures of a UTC day.
    pub fn day(&self, day: Day) -> Option<&CycleStats> {
        self.days.get(&day)
    }

    /// The UTC day of the latest cycle.
    pub fn last_day(&self) -> Option<Day> {
        self.last_day
    }

    /// Whether the candidate may be promoted: the shadow window is complete.
    pub fn shadow_complete(&self) -> bool {
        self.candidate.is_some() && self.shadow_cycles >= self.shadow_window
    }

    pub(crate) fn apply(&mut self, change: Change<'_>, at: Timestamp, seq: u64) {
        match change {
            Change::Candidate(version) => {
                self.candidate = Some(version.clone());
                self.approved_by = None;
                self.shadow_cycles = 0;
                self.canary = Ratio::ZERO;
            }
            Change::Cycle(cycle) => {
                if cycle.shadow {
                    self.shadow_cycles = self.shadow_cycles.saturating_add(1);
                }
                let day = Day::of(at);
                self.days.entry(day).or_default().record(cycle);
                self.last_day = Some(day);
            }
            Change::Canary(ratio) => self.canary = ratio,
            Change::Promoted(version) => {
                if let Some(old) = self.active.replace(version.clone()) {
                    self.previous.push(old);
                }
                self.candidate = None;
                self.approved_by = None;
                self.shadow_cycles = 0;
                self.canary = Ratio::ZERO;
            }
            Change::RolledBack(to) => {
                if self.previous.last() == Some(to) {
                    self.previous.pop();
                }
                self.active = Some(to.clone());
            }
            Change::ShadowWindow(cycles) => self.shadow_window = cycles,
            Change::Failure {
                mode,
                description,
                snapshot,
                by,
            } => {
                self.failure = self.failure.max(mode);
                let incident = u64::try_from(self.incidents.len()).unwrap_or(u64::MAX) + 1;
                self.incidents.push(Incident {
                    incident,
                    mode,
                    description: description.to_owned(),
                    reported_by: by.clone(),
                    detected_at: at,
                    audit_seq: seq,
                    snapshot: snapshot.cloned(),
                    resolved_at: None,
                });
            }
            Change::Reset => {
                self.failure = FailureMode::Normal;
                for incident in &mut self.incidents {
                    incident.resolved_at.get_or_insert(at);
                }
            }
        }
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        if self.candidate.is_none() && (self.shadow_cycles != 0 || self.canary != Ratio::ZERO) {
            return Err("shadow progress or a canary ratio without a candidate".into());
        }
        if self.failure == FailureMode::Normal
            && self.incidents.iter().any(|i| i.resolved_at.is_none())
        {
            return Err("an open incident while the failure status is NORMAL".into());
        }
        if self.shadow_window == 0 {
            return Err("a shadow window of zero cycles".into());
        }
        Ok(())
    }

    /// The cycle figures of the days `from` to `to`, summed.
    pub fn cycles_between(&self, from: Day, to: Day) -> CycleStats {
        let mut total = CycleStats::default();
        for stats in self.days.range(from..=to).map(|(_, s)| s) {
            total.cycles += stats.cycles;
            total.forced_stops += stats.forced_stops;
            total.survival_reported += stats.survival_reported;
            total.survived += stats.survived;
            total.violations += stats.violations;
            total.determinism_reported += stats.determinism_reported;
            total.deterministic += stats.deterministic;
            for (ms, n) in &stats.latencies {
                *total.latencies.entry(*ms).or_default() += n;
            }
        }
        total
    }

    /// The runbook's `HEARTBEAT` answer.
    pub fn heartbeat(&self, lockdown: bool) -> Heartbeat {
        let today = self.last_day.and_then(|d| self.days.get(&d));
        Heartbeat {
            active_model: self.active.clone(),
            candidate_model: self.candidate.clone(),
            canary_ratio: self.canary,
            canary_ratio_bp: self.canary.basis_points(),
            lockdown,
            failure_status: self.failure,
            monitoring: Monitoring {
                shadow_cycles: self.shadow_cycles,
                shadow_window: self.shadow_window,
                shadow_complete: self.shadow_complete(),
                day: self.last_day,
                cycles: today.map_or(0, |s| s.cycles),
                survival_rate_bp: today.and_then(CycleStats::survival_rate_bp),
                violation_rate_bp: today.and_then(CycleStats::violation_rate_bp),
                latency_p99_ms: today.and_then(CycleStats::latency_p99_ms),
            },
            open_incidents: self
                .incidents
                .iter()
                .filter(|i| i.resolved_at.is_none())
                .cloned()
                .collect(),
            online_ml_metrics: OnlineMlMetrics::default(),
            quarantined_experiences: 0,
        }
    }

    /// The daily health checklist of a UTC day : survival rate above
    /// 90 %, violation rate below 1 %, 99th-percentile latency below 50 ms, and the active
    /// model. A figure with no data fails its check (nothing is assumed healthy).
    pub fn health_checklist(&self, day: Day) -> HealthChecklist {
        let stats = self.days.get(&day).cloned().unwrap_or_default();
        let survival = stats.survival_rate_bp();
        let violation = stats.violation_rate_bp();
        let latency = stats.latency_p99_ms();
        let checks = vec![
            Check {
                check: "survival_rate_bp",
                value: survival.map(u64::from),
                threshold: format!("> {SURVIVAL_FLOOR_BP}"),
                pass: survival.is_some_and(|v| v > SURVIVAL_FLOOR_BP),
            },
            Check {
                check: "violation_rate_bp",
                value: violation.map(u64::from),
                threshold: format!("< {VIOLATION_CEILING_BP}"),
                pass: violation.is_some_and(|v| v < VIOLATION_CEILING_BP),
            },
            Check {
                check: "latency_p99_ms",
                value: latency,
                threshold: format!("< {LATENCY_P99_CEILING_MS}"),
                pass: latency.is_some_and(|v| v < LATENCY_P99_CEILING_MS),
            },
        ];
        HealthChecklist {
            day,
            pass: checks.iter().all(|c| c.pass),
            checks,
            cycles: stats.cycles,
            forced_stops: stats.forced_stops,
            active_model: self.active.clone(),
            failure_status: self.failure,
        }
    }
}

/// Checks a cycle's figures.
pub(crate) fn validate_cycle(latency_ms: Option<u64>) -> Result<(), String> {
    match latency_ms {
        Some(ms) if ms > MAX_LATENCY_MS => Err(format!(
            "latency_ms {ms} is more than {MAX_LATENCY_MS} (one hour)"
        )),
        _ => Ok(()),
    }
}

/// Checks an incident description.
pub(crate) fn validate_description(description: &str) -> Result<(), String> {
    if description.trim().is_empty() {
        return Err("describe what was detected".into());
    }
    if description.len() > MAX_DESCRIPTION_BYTES {
        return Err(format!(
            "the description is longer than {MAX_DESCRIPTION_BYTES} bytes"
        ));
    }
    Ok(())
}

/// The `HEARTBEAT` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Heartbeat {
    /// The active model version.
    pub active_model: Option<ModelVersion>,
    /// The candidate.
    pub candidate_model: Option<ModelVersion>,
    /// The canary ratio as an exact decimal string (`"0.05"`).
    pub canary_ratio: Ratio,
    /// The same in basis points.
    pub canary_ratio_bp: u32,
    /// Whether the lockdown is raised.
    pub lockdown: bool,
    /// `NORMAL` when nothing is wrong.
    pub failure_status: FailureMode,
    /// Shadow progress and the latest day's figures.
    pub monitoring: Monitoring,
    /// Incidents not yet resolved.
    pub open_incidents: Vec<Incident>,
    /// The latest online figures of the active and the candidate model.
    pub online_ml_metrics: OnlineMlMetrics,
    /// How many experiences are kept out of learning (the `QUARANTINE` query lists them).
    pub quarantined_experiences: u64,
}

/// The online figures of the models in play.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct OnlineMlMetrics {
    /// The active model's latest report.
    pub active: Option<crate::learning::MetricsReport>,
    /// The candidate's latest report.
    pub candidate: Option<crate::learning::MetricsReport>,
}

/// The monitoring part of the heartbeat: rates in basis points, `null` without data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Monitoring {
    /// Shadow cycles completed by the candidate.
    pub shadow_cycles: u64,
    /// Shadow cycles needed.
    pub shadow_window: u64,
    /// Whether promotion is allowed by the window.
    pub shadow_complete: bool,
    /// The UTC day of the figures below (the latest cycle's).
    pub day: Option<Day>,
    /// Cycles that day.
    pub cycles: u64,
    /// Survival rate that day.
    pub survival_rate_bp: Option<u32>,
    /// Violation rate that day.
    pub violation_rate_bp: Option<u32>,
    /// 99th-percentile latency that day.
    pub latency_p99_ms: Option<u64>,
}

/// One check of the health checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Check {
    /// The figure checked.
    pub check: &'static str,
    /// Its value, `null` without data.
    pub value: Option<u64>,
    /// What it must be.
    pub threshold: String,
    /// Whether it passed.
    pub pass: bool,
}

/// The daily health checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct HealthChecklist {
    /// The UTC day.
    pub day: Day,
    /// Whether every check passed.
    pub pass: bool,
    /// The checks.
    pub checks: Vec<Check>,
    /// Cycles that day.
    pub cycles: u64,
    /// Cycles forced to `STOP` that day.
    pub forced_stops: u64,
    /// The active model (verify it matches expectations).
    pub active_model: Option<ModelVersion>,
    /// The failure status.
    pub failure_status: FailureMode,
}

/// The deviation a day's determinism below the floor opens.
const DETERMINISM_DEVIATION: &str = "determinism_threshold_failure";

impl Plane {
    /// The day's determinism rate with this cycle, in basis points, when the cycle was not
    /// deterministic, the rate falls below the floor, and no such deviation is open.
    fn determinism_below_floor(&self, deterministic: Option<bool>, at: Timestamp) -> Option<u32> {
        if deterministic != Some(false) {
            return None;
        }
        let (yes, reported) = self
            .registry
            .day(Day::of(at))
            .map_or((0, 0), |d| (d.deterministic, d.determinism_reported));
        let bp = ro_core::ratio::basis_points(yes, reported.saturating_add(1))?;
        let open =
            self.policy.deviations().values().any(|d| {
                d.resolved_at.is_none() && d.deviation_type.as_str() == DETERMINISM_DEVIATION
            });
        (bp < crate::attestation::DETERMINISM_FLOOR_BP && !open).then_some(bp)
    }

    pub(crate) fn decide_registry(
        &self,
        admin: &AdminCommand,
        ctx: &Context,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        let (by, reason) = (ctx.actor.id.clone(), ctx.reason.clone());
        match admin {
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
                validate_cycle(*latency_ms).map_err(PlaneRejection::InvalidArgument)?;
                if !self.registry.allows(intent) {
                    let known: Vec<String> = self
                        .registry
                        .intents()
                        .iter()
                        .map(|i| i.as_str().to_owned())
                        .collect();
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "unknown intent {intent}: one of {}; DEFINE_INTENTS changes the set",
                        known.join(", ")
                    )));
                }
                let halted = !self.safe_to_execute();
                let stop = Intent::stop();
                let forced_stop = halted && *intent != stop;
                // A cycle that violated a rule opens its compliance deviation by itself (its
                // type pauses production until a human resolves it).
                let mut opened = Vec::new();
                if *violation == Some(true) {
                    opened.push((
                        "compliance_failure",
                        format!("a cycle reported a rule violation (intent {intent})"),
                    ));
                }
                // A cycle that was not deterministic and takes the day's determinism below the
                // floor opens its deviation by itself, once while one is open.
                if let Some(bp) = self.determinism_below_floor(*deterministic, ctx.at) {
                    opened.push((
                        DETERMINISM_DEVIATION,
                        format!(
                            "the day's determinism is {bp} bp, below the floor of {} bp",
                            crate::attestation::DETERMINISM_FLOOR_BP
                        ),
                    ));
                }
                let deviations =
                    opened
                        .into_iter()
                        .zip(1u64..)
                        .filter_map(|((kind, summary), offset)| {
                            self.policy
                                .open_deviation_event(offset, kind, ctx.at, summary)
                                .map(PlaneEvent::Policy)
                        });
                let cycle = PlaneEvent::Admin(AdminEvent::CycleRecorded(CycleRecorded {
                    intent: if halted { stop } else { intent.clone() },
                    forced_stop,
                    requested_intent: forced_stop.then(|| intent.clone()),
                    latency_ms: *latency_ms,
                    violation: violation.unwrap_or(false),
                    survived: *survived,
                    deterministic: *deterministic,
                    shadow: !halted && self.registry.candidate().is_some(),
                }));
                Ok(std::iter::once(cycle).chain(deviations).collect())
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
            AdminCommand::ApprovePromotion { version } => {
                if self.registry.candidate() != Some(version) {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "{version} is not the candidate model ({}): approve the candidate",
                        self.registry
                            .candidate()
                            .map_or_else(|| "there is none".to_owned(), ToString::to_string)
                    )));
                }
                Ok(raise(
                    self.registry.approved_by.is_some(),
                    AdminEvent::PromotionApproved {
                        version: version.clone(),
                        by,
                        reason,
                    },
                ))
            }
            AdminCommand::PromoteCandidate {} => {
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
                // A promoter who may not approve promotes only an approved candidate.
                if self.registry.approved_by.is_none()
                    && self
                        .authorize(Action::ApprovePromotion, "registry", &ctx.actor)
                        .is_err()
                {
                    return Err(PlaneRejection::PromotionNotApproved(version.clone()));
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::CandidatePromoted {
                    version: version.clone(),
                    previous: self.registry.active().cloned(),
                    shadow_cycles: self.registry.shadow_cycles(),
                    by,
                    reason,
                })])
            }
            AdminCommand::RollbackModel {} => {
                let (Some(from), Some(to)) =
                    (self.registry.active(), self.registry.rollback_target())
                else {
                    return Err(PlaneRejection::Invalid(
                        "no previous active model to roll back to",
                    ));
                };
                Ok(vec![PlaneEvent::Admin(AdminEvent::ModelRolledBack {
                    from: from.clone(),
                    to: to.clone(),
                    by,
                    reason,
                })])
            }
            AdminCommand::DefineIntents { intents } => {
                let mut after = intents.clone();
                after.sort();
                after.dedup();
                if after.len() != intents.len() {
                    return Err(PlaneRejection::InvalidArgument(
                        "each intent is named once".into(),
                    ));
                }
                if !after.contains(&Intent::stop()) || after.len() > 64 {
                    return Err(PlaneRejection::InvalidArgument(
                        "the intents include STOP (what a halted plane forces), at most 64".into(),
                    ));
                }
                let before = self.registry.intents();
                Ok(raise(
                    before == after,
                    AdminEvent::IntentsDefined {
                        before,
                        after,
                        by,
                        reason,
                    },
                ))
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
                validate_description(description).map_err(PlaneRejection::InvalidArgument)?;
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
            AdminCommand::ResetFailureStatus {} => crate::release(
                self.registry.failure() != FailureMode::Normal,
                "the failure status is already NORMAL",
                AdminEvent::FailureStatusReset {
                    before: self.registry.failure(),
                    by,
                    reason,
                },
            ),
            _ => Err(crate::misrouted()),
        }
    }

    pub(crate) fn evolve_registry(&mut self, event: &AdminEvent, meta: &EventMeta<'_>) {
        let (at, seq) = (meta.at, meta.seq);
        let change = match event {
            AdminEvent::CandidateSet { version, .. } => Change::Candidate(version),
            AdminEvent::CycleRecorded(cycle) => Change::Cycle(cycle),
            AdminEvent::CanaryRatioSet { after, .. } => Change::Canary(*after),
            AdminEvent::CandidatePromoted { version, .. } => Change::Promoted(version),
            AdminEvent::PromotionApproved { by, .. } => {
                self.registry.approved_by = Some(by.clone());
                return;
            }
            AdminEvent::ModelRolledBack { to, .. } => Change::RolledBack(to),
            AdminEvent::ShadowWindowConfigured { after, .. } => Change::ShadowWindow(*after),
            AdminEvent::FailureReported {
                mode,
                description,
                snapshot,
                by,
            } => Change::Failure {
                mode: *mode,
                description,
                snapshot: snapshot.as_ref(),
                by,
            },
            AdminEvent::FailureStatusReset { .. } => Change::Reset,
            AdminEvent::IntentsDefined { after, .. } => {
                self.registry.intents = Some(after.clone());
                return;
            }
            _ => return,
        };
        self.registry.apply(change, at, seq);
    }
}

/// The audit record's shape of a registry event (cycles are not admin actions).
pub(crate) fn classify(event: &AdminEvent) -> Option<Classified> {
    let registry = || vec!["registry".to_owned()];
    match event {
        AdminEvent::CandidateSet {
            version,
            before,
            reason,
            ..
        } => applied(
            Action::SetCandidateModel,
            vec![format!("model:{version}")],
            reason,
            (
                json!({ "candidate": before }),
                json!({ "candidate": version }),
            ),
        ),
        AdminEvent::CanaryRatioSet {
            before,
            after,
            reason,
            ..
        } => applied(
            Action::SetCanaryRatio,
            registry(),
            reason,
            (
                json!({ "canary_ratio": before }),
                json!({ "canary_ratio": after }),
            ),
        ),
        AdminEvent::PromotionApproved {
            version, reason, ..
        } => applied(
            Action::ApprovePromotion,
            vec![format!("model:{version}")],
            reason,
            (json!({ "approved": false }), json!({ "approved": true })),
        ),
        AdminEvent::CandidatePromoted {
            version,
            previous,
            reason,
            ..
        } => applied(
            Action::PromoteModel,
            vec![format!("model:{version}")],
            reason,
            (json!({ "active": previous }), json!({ "active": version })),
        ),
        AdminEvent::ModelRolledBack {
            from, to, reason, ..
        } => applied(
            Action::RollbackModel,
            vec![format!("model:{from}"), format!("model:{to}")],
            reason,
            (json!({ "active": from }), json!({ "active": to })),
        ),
        AdminEvent::IntentsDefined {
            before,
            after,
            reason,
            ..
        } => applied(
            Action::DefineIntents,
            registry(),
            reason,
            (json!({ "intents": before }), json!({ "intents": after })),
        ),
        AdminEvent::ShadowWindowConfigured {
            before,
            after,
            reason,
            ..
        } => applied(
            Action::ConfigureShadowWindow,
            registry(),
            reason,
            (
                json!({ "shadow_window": before }),
                json!({ "shadow_window": after }),
            ),
        ),
        AdminEvent::FailureReported {
            mode, description, ..
        } => applied(
            Action::ReportFailure,
            vec!["plane".to_owned()],
            &None,
            (
                Value::Null,
                json!({ "failure_status_at_least": mode, "description": description }),
            ),
        ),
        AdminEvent::FailureStatusReset { before, reason, .. } => applied(
            Action::ResetFailureStatus,
            vec!["plane".to_owned()],
            reason,
            (
                json!({ "failure_status": before }),
                json!({ "failure_status": "NORMAL" }),
            ),
        ),
        _ => None,
    }
}
