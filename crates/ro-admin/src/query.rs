//! The read-only queries ([`PlaneQuery`]) and what the plane answers: query answers and the
//! `result` of a command. Queries append nothing and are answered during a lockdown too.

use std::collections::{BTreeMap, BTreeSet};

use ro_artifacts::{ArtifactRef, HandoffPackage, Locator, StoryId};
use ro_core::{Actor, Timestamp};
use ro_jobs::{CalendarName, Schedule, ScheduleSpec};
use ro_policy::{Action, Day};
use serde::{Deserialize, Serialize};

use crate::deploy::{DeployedService, EnvironmentName};
use crate::health::ComponentView;
use crate::registry::{HealthChecklist, Heartbeat, Intent};
use crate::streams::StreamView;
use crate::{AdminEvent, Plane, PlaneEvent, PlaneRejection, attestation, deploy, health, observe};

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
    /// The artifacts whose locator carries the given token values by their class's addressing
    /// template (`{"run_id": "r-1"}`, `{"bundle_id": "b-7"}`), with all their tokens.
    Artifacts {
        /// Only this class's.
        #[serde(default)]
        class: Option<ro_artifacts::ArtifactClass>,
        /// Token values every artifact listed carries (none: every artifact with a template).
        #[serde(default)]
        tokens: BTreeMap<String, String>,
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
        /// Only the instants inside the calendar's trading session.
        #[serde(default)]
        market_hours: bool,
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
    /// The pending two-step confirmations, soonest expiry first, with whether each has expired
    /// at the query's time (tokens themselves are never shown).
    PendingConfirmations {},
    /// The daily cost report of a UTC day.
    CostReport {
        /// `YYYY-MM-DD`.
        day: Day,
    },
    /// The attestation of a period: compliance, economic safety,
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
    /// The experiences kept out of learning, by id.
    Quarantine {},
    /// The deviations, by id, with their type's severity and action, due time, escalation and
    /// resolution.
    Deviations {
        /// Only those not yet resolved.
        #[serde(default)]
        open_only: bool,
    },
    /// Change control: the frozen baseline and every change request with where it stands.
    ChangeControl {},
    /// The alerts raised, oldest first, and the routing in force.
    Alerts {
        /// Only the alerts not yet resolved.
        #[serde(default)]
        open_only: bool,
    },
}

impl PlaneQuery {
    /// Every query type, as the protocol names it (`"type"`). `HEARTBEAT` is also a jobs
    /// command: a document naming a `run_id` is the command, one without is the query.
    pub const TYPES: &'static [&'static str] = &[
        "READ_ARTIFACT",
        "HANDOFF_PACKAGE",
        "ARTIFACTS",
        "NEXT_RUNS",
        "OPS_STATUS",
        "MISSION_CONTROL",
        "STREAMS",
        "DEPLOY_REPORT",
        "RUN_STATUS",
        "HEARTBEAT",
        "COST_REPORT",
        "ATTESTATION",
        "HEALTH_CHECKLIST",
        "PENDING_CONFIRMATIONS",
        "ALERTS",
        "QUARANTINE",
        "DEVIATIONS",
        "CHANGE_CONTROL",
    ];
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
    /// `ARTIFACTS`.
    Artifacts {
        /// By locator.
        artifacts: Vec<FoundArtifact>,
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
        /// `HALTED` on a fault (a critical component stale or unhealthy, the emergency
        /// lockdown); otherwise `MARKET_CLOSED` outside the calendar's trading days, else `OK`.
        /// The production lock, the kill switch and a readiness NO-GO leave it `OK`
        /// (observe-only) and close execution.
        state: &'static str,
        /// Every reason something is not open, sorted: the faults, the closed execution gates
        /// (`KILL_SWITCH`, `PRODUCTION_LOCKED`, `READINESS_NO_GO`) and `MARKET_CLOSED`; empty
        /// when all is open.
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
        /// By name, with their settings versions.
        streams: Vec<StreamView>,
    },
    /// `RUN_STATUS`.
    Run {
        /// The run.
        run_id: ro_jobs::RunId,
        /// The job.
        job_id: ro_jobs::JobId,
        /// The job's version the run was requested under.
        job_version: u32,
        /// The config versions that version pinned (what the run ran with).
        config_versions: Vec<ro_policy::ConfigVersionRef>,
        /// Where it stands.
        status: ro_jobs::RunStatus,
        /// Its attempts, oldest first.
        attempts: Vec<ro_jobs::JobAttemptRecord>,
    },
    /// `HEARTBEAT`.
    Heartbeat(Heartbeat),
    /// `PENDING_CONFIRMATIONS`.
    PendingConfirmations {
        /// Soonest expiry first.
        pending: Vec<crate::confirm::PendingView>,
    },
    /// `HEALTH_CHECKLIST`.
    HealthChecklist(HealthChecklist),
    /// `COST_REPORT`.
    Cost(ro_policy::CostReport),
    /// `ATTESTATION`.
    Attestation(attestation::Attestation),
    /// `DEVIATIONS`.
    Deviations {
        /// By id.
        deviations: Vec<DeviationView>,
    },
    /// `CHANGE_CONTROL`.
    ChangeControl {
        /// The frozen baseline, if any.
        baseline: Option<ro_policy::change::Baseline>,
        /// Every change request, by id.
        change_requests: Vec<ChangeView>,
    },
    /// `QUARANTINE`.
    Quarantine {
        /// By experience id.
        quarantine: Vec<crate::learning::QuarantineView>,
    },
    /// `ALERTS`.
    Alerts {
        /// Oldest first.
        alerts: Vec<crate::alerts::AlertView>,
        /// The routing in force.
        routing: crate::alerts::AlertConfig,
    },
    /// A query with nothing to report (`HEALTH_CHECKLIST` before any cycle, `COST_REPORT`
    /// before limits are set).
    Nothing {},
}

/// One row of the `DEVIATIONS` query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DeviationView {
    /// Its id.
    pub deviation_id: ro_policy::deviation::DeviationId,
    /// The record.
    #[serde(flatten)]
    pub deviation: ro_policy::deviation::Deviation,
    /// Its type's severity, when the type is defined.
    pub severity: Option<ro_policy::deviation::Severity>,
    /// What its type does while it is open.
    pub action: Option<ro_policy::deviation::DeviationAction>,
    /// Past its SLA window at the query's time and not resolved.
    pub overdue: bool,
    /// While open, when its next status update is due (its type's cadence after the
    /// detection or the last update).
    pub next_update_due: Option<ro_core::Timestamp>,
    /// Open with its status update past due at the query's time.
    pub update_overdue: bool,
    /// Who its status updates and alerts go to (the alert routing's owners of
    /// `DEVIATION_OPENED`).
    pub recipients: Vec<crate::alerts::OwnerName>,
}

/// One row of the `CHANGE_CONTROL` query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ChangeView {
    /// Its id.
    pub change_id: ro_policy::change::ChangeId,
    /// The request.
    #[serde(flatten)]
    pub request: ro_policy::change::ChangeRequest,
}

/// The safety part of the status contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]

pub struct SafetyPosture {
    /// True only when every gate is open: no fault, no kill switch, no production lock, no
    /// readiness NO-GO, the market open when a calendar is named (fail-closed).
    pub safe_to_execute_orders: bool,
    /// False on a fault: a critical component stale or unhealthy, the emergency lockdown
    /// (strategies may run observe-only under the production lock and the kill switch).
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
    /// A command that appended nothing: an idempotent repeat (the same registration again,
    /// raising what is raised), said so rather than answered silently.
    Unchanged {
        /// Always `true`.
        unchanged: bool,
    },
    /// Every other command.
    Empty {},
}

/// The `result` of a command whose events are `events`.
pub fn command_result<'a>(events: impl IntoIterator<Item = &'a PlaneEvent>) -> CommandResult {
    let mut any = false;
    for event in events {
        any = true;
        if let PlaneEvent::Admin(AdminEvent::CycleRecorded(cycle)) = event {
            return CommandResult::Cycle {
                intent: cycle.intent.clone(),
                forced_stop: cycle.forced_stop,
                shadow: cycle.shadow,
            };
        }
    }
    if any {
        CommandResult::Empty {}
    } else {
        CommandResult::Unchanged { unchanged: true }
    }
}

impl Plane {
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
            PlaneQuery::Artifacts { class, tokens } => {
                self.authorize(Action::ReadArtifact, "artifacts", actor)?;
                Ok(QueryAnswer::Artifacts {
                    artifacts: self
                        .artifacts
                        .find(class.as_ref(), tokens)
                        .into_iter()
                        .map(|(a, tokens)| FoundArtifact {
                            artifact: a.artifact.clone(),
                            class: a.class.clone(),
                            gate: a.gate,
                            tombstoned: a.tombstoned_at.is_some(),
                            tokens,
                        })
                        .collect(),
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
                market_hours,
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
                    allow_legacy_zone: false,
                    market_hours: *market_hours,
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
                // Faults halt the plane: a critical component stale or unhealthy, the
                // emergency lockdown. The production lock, the kill switch and a readiness
                // NO-GO only close execution (observe-only): the state still says whether the
                // market is open and the data fresh. Execution is fail-closed: every gate must
                // be open.
                let plane = self.halt_reasons();
                let mut faults = self.components.halt_reasons(now);
                let mut gates: Vec<String> = Vec::new();
                for reason in plane {
                    if matches!(reason, "LOCKDOWN_ACTIVE" | "DEVIATION_HALT") {
                        faults.push(reason.to_owned());
                    } else {
                        gates.push(reason.to_owned());
                    }
                }
                if self.readiness.no_go.is_some() {
                    gates.push("READINESS_NO_GO".to_owned());
                }
                let state = if !faults.is_empty() {
                    "HALTED"
                } else if !market_open {
                    gates.push("MARKET_CLOSED".into());
                    "MARKET_CLOSED"
                } else {
                    "OK"
                };
                let safety = SafetyPosture {
                    safe_to_execute_orders: faults.is_empty() && gates.is_empty(),
                    safe_to_run_strategies: faults.is_empty(),
                };
                let mut reason_codes: Vec<String> = faults.into_iter().chain(gates).collect();
                reason_codes.sort();
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
                streams: self
                    .streams
                    .all()
                    .map(|spec| StreamView {
                        spec: spec.clone(),
                        version: self.streams.version(&spec.stream),
                    })
                    .collect(),
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
                    job_version: run.job_version,
                    config_versions: self
                        .jobs
                        .config_versions_of(&run.job_id, run.job_version)
                        .map(<[_]>::to_vec)
                        .unwrap_or_default(),
                    status: run.status,
                    attempts: run.attempt_records(run_id),
                })
            }
            PlaneQuery::PendingConfirmations {} => Ok(QueryAnswer::PendingConfirmations {
                pending: self.pending_views(now),
            }),
            PlaneQuery::Heartbeat {} => {
                let mut heartbeat = self.registry.heartbeat(self.lockdown.is_some());
                let of = |m: &Option<ro_artifacts::ModelVersion>| {
                    m.as_ref().and_then(|m| self.learning.metrics(m)).cloned()
                };
                heartbeat.online_ml_metrics = crate::registry::OnlineMlMetrics {
                    active: of(&heartbeat.active_model),
                    candidate: of(&heartbeat.candidate_model),
                };
                heartbeat.quarantined_experiences = self.learning.quarantined();
                Ok(QueryAnswer::Heartbeat(heartbeat))
            }
            PlaneQuery::Deviations { open_only } => Ok(QueryAnswer::Deviations {
                deviations: self
                    .policy
                    .deviations()
                    .iter()
                    .filter(|(_, d)| !open_only || d.resolved_at.is_none())
                    .map(|(id, d)| {
                        let t = self.policy.deviation_type(&d.deviation_type);
                        let next_update_due = match (d.resolved_at, t) {
                            (None, Some(t)) => {
                                d.last_update_at.unwrap_or(d.detected_at).checked_add(
                                    time::Duration::seconds(i64::from(t.update_every_seconds)),
                                )
                            }
                            _ => None,
                        };
                        DeviationView {
                            deviation_id: id.clone(),
                            deviation: d.clone(),
                            severity: t.map(|t| t.severity),
                            action: t.map(|t| t.action),
                            overdue: d.resolved_at.is_none() && d.due_at <= now,
                            next_update_due,
                            update_overdue: next_update_due.is_some_and(|due| due <= now),
                            recipients: self
                                .alerts()
                                .config()
                                .owners(crate::alerts::AlertTrigger::DeviationOpened),
                        }
                    })
                    .collect(),
            }),
            PlaneQuery::ChangeControl {} => Ok(QueryAnswer::ChangeControl {
                baseline: self.policy.baseline().cloned(),
                change_requests: self
                    .policy
                    .changes()
                    .iter()
                    .map(|(id, r)| ChangeView {
                        change_id: id.clone(),
                        request: r.clone(),
                    })
                    .collect(),
            }),
            PlaneQuery::Quarantine {} => Ok(QueryAnswer::Quarantine {
                quarantine: self.learning.quarantine(),
            }),
            PlaneQuery::Attestation { from, to } => Ok(QueryAnswer::Attestation(
                attestation::attest(self, *from, *to).map_err(PlaneRejection::InvalidQuery)?,
            )),
            PlaneQuery::CostReport { day } => Ok(match self.policy.cost_report(*day) {
                Some(mut report) => {
                    report.daily_summary.total_cycles = self
                        .registry
                        .day(report.report_date)
                        .map_or(0, |d| d.cycles);
                    QueryAnswer::Cost(report)
                }
                None => QueryAnswer::Nothing {},
            }),
            PlaneQuery::HealthChecklist { day } => Ok(match day.or(self.registry.last_day()) {
                Some(day) => QueryAnswer::HealthChecklist(self.registry.health_checklist(day)),
                None => QueryAnswer::Nothing {},
            }),
            PlaneQuery::Alerts { open_only } => Ok(QueryAnswer::Alerts {
                alerts: self
                    .alerts
                    .iter()
                    .filter(|a| !open_only || a.resolved_at.is_none())
                    .cloned()
                    .collect(),
                routing: self.alerts.config().clone(),
            }),
        }
    }
}

/// An artifact the `ARTIFACTS` query found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FoundArtifact {
    /// The reference.
    pub artifact: ArtifactRef,
    /// Its class.
    pub class: ro_artifacts::ArtifactClass,
    /// Its gate (read it with `READ_ARTIFACT`, which needs PASS).
    pub gate: ro_policy::gate::Gate,
    /// Whether retention expired it.
    pub tombstoned: bool,
    /// Its token values, read from its locator by its class's template.
    pub tokens: BTreeMap<String, String>,
}
