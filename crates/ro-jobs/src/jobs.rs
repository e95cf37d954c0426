//! The jobs decider: definitions, runs, attempts, retries, timeouts, concurrency, gating,
//! pause/resume/drain/cancel, backfill; and the pure planner.

use std::collections::{BTreeMap, BTreeSet};

use ro_core::{Context, Decider, EventMeta, InvariantViolation, Reason, Timestamp};
use ro_policy::Action;
use serde::{Deserialize, Serialize};

use crate::{
    calendar::{CalendarName, Override, TradingCalendar},
    model::{
        Attempt, AttemptStatus, Intent, JobDefinition, JobId, LogicalKey, OverlapPolicy, PoolId,
        Run, RunId, RunStatus, run_id,
    },
    schedule::{Schedule, ScheduleError},
};

/// The most runs one backfill may request.
pub const MAX_BACKFILL: u32 = 10_000;

/// An artifact gate as the jobs plane sees it (observed from the artifact store).
pub use ro_policy::gate::Gate;

/// How an attempt ended.
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
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// It succeeded.
    Succeeded,
    /// It failed.
    Failed,
}

/// Which timeout expired.
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
#[serde(rename_all = "snake_case")]
pub enum TimeoutKind {
    /// The attempt did not start in time.
    ScheduleToStart,
    /// It ran too long.
    StartToClose,
    /// Its heartbeat stopped.
    Heartbeat,
}

impl TimeoutKind {
    fn code(self) -> &'static str {
        match self {
            TimeoutKind::ScheduleToStart => "TIMEOUT_SCHEDULE_TO_START",
            TimeoutKind::StartToClose => "TIMEOUT_START_TO_CLOSE",
            TimeoutKind::Heartbeat => "TIMEOUT_HEARTBEAT",
        }
    }
}

/// What may be asked of the jobs plane. `"type"` names the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum JobsCommand {
    /// Defines or redefines (with a higher version) a job.
    DefineJob {
        /// The definition.
        definition: Box<JobDefinition>,
    },
    /// Defines a pool's limit.
    DefinePool {
        /// The pool.
        pool: PoolId,
        /// Most attempts running in it at once.
        max_running: u32,
    },
    /// Records an input artifact's gate, as observed from the artifact store.
    ObserveGate {
        /// The artifact's locator.
        #[serde(rename = "ref")]
        locator: String,
        /// Its gate.
        status: Gate,
    },
    /// Requests a run (deduplicated by its deterministic id).
    RequestRun {
        /// The job.
        job_id: JobId,
        /// Why.
        intent: Intent,
        /// Its logical time (defaults to the command's time for manual runs).
        #[serde(default)]
        logical_time: Option<Timestamp>,
        /// Or a partition.
        #[serde(default)]
        partition: Option<String>,
    },
    /// Records that a scheduled slot was not run (overlap or catch-up limit).
    SkipSlot {
        /// The job.
        job_id: JobId,
        /// The slot.
        logical_time: Timestamp,
        /// Why: `overlap` or `catch_up_limit`.
        reason: String,
    },
    /// Requests every scheduled slot in `[from, to)`, in order, refused if more than
    /// `max_runs`.
    Backfill {
        /// The job (it must have a schedule).
        job_id: JobId,
        /// Window start (inclusive).
        from: Timestamp,
        /// Window end (exclusive).
        to: Timestamp,
        /// The most runs the window may produce.
        max_runs: u32,
    },
    /// Starts a run's waiting attempt.
    StartAttempt {
        /// The run.
        run_id: RunId,
    },
    /// A running attempt is alive.
    Heartbeat {
        /// The run.
        run_id: RunId,
    },
    /// A running attempt ended.
    CompleteAttempt {
        /// The run.
        run_id: RunId,
        /// `succeeded` or `failed`.
        outcome: OutcomeKind,
        /// The error code (required when failed).
        #[serde(default)]
        error_code: Option<String>,
        /// Whether the failure may be retried (required when failed).
        #[serde(default)]
        retryable: Option<bool>,
    },
    /// Cancels a run.
    CancelRun {
        /// The run.
        run_id: RunId,
    },
    /// Pauses a job: no new starts.
    PauseJob {
        /// The job.
        job_id: JobId,
    },
    /// Drains a job: no new starts, running attempts finish.
    DrainJob {
        /// The job.
        job_id: JobId,
    },
    /// Resumes a paused or drained job.
    ResumeJob {
        /// The job.
        job_id: JobId,
    },
    /// Evaluates timeouts at the command's time.
    Tick {},
    /// Defines a trading calendar, or a new version of it.
    DefineCalendar {
        /// The calendar (its version must exceed the current one).
        calendar: Box<TradingCalendar>,
    },
    /// Layers a dated override on a calendar (an ad-hoc closure, an extra session, an early
    /// close), or removes one; the calendar's version increases.
    OverrideCalendarDate {
        /// The calendar.
        name: CalendarName,
        /// The local date.
        #[schemars(with = "crate::model::CivilDate")]
        date: jiff::civil::Date,
        /// The override, or none to remove it.
        #[serde(rename = "override")]
        change: Option<Override>,
    },
}

// The guards' facts of every jobs command (see `ro_policy::facts`): what starts work enables
// execution (refused under the production lock or the kill switch); resuming a job also takes
// two steps.
ro_policy::command_facts! { JobsCommand;
    DefineJob = "DEFINE_JOB":;
    DefinePool = "DEFINE_POOL":;
    ObserveGate = "OBSERVE_GATE":;
    RequestRun = "REQUEST_RUN": enables_execution;
    SkipSlot = "SKIP_SLOT":;
    Backfill = "BACKFILL": enables_execution;
    StartAttempt = "START_ATTEMPT": enables_execution;
    Heartbeat = "HEARTBEAT":;
    CompleteAttempt = "COMPLETE_ATTEMPT":;
    CancelRun = "CANCEL_RUN":;
    PauseJob = "PAUSE_JOB":;
    DrainJob = "DRAIN_JOB":;
    ResumeJob = "RESUME_JOB": two_step enables_execution;
    Tick = "TICK":;
    DefineCalendar = "DEFINE_CALENDAR":;
    OverrideCalendarDate = "OVERRIDE_CALENDAR_DATE":;
}

impl JobsCommand {
    /// The policy action this command is authorized as; its resource is `jobs`.
    pub fn action(&self) -> Action {
        use JobsCommand as J;
        match self {
            J::DefineJob { .. } => Action::DefineJob,
            J::DefinePool { .. } => Action::DefinePool,
            J::DefineCalendar { .. } | J::OverrideCalendarDate { .. } => Action::DefineCalendar,
            J::ObserveGate { .. } => Action::ObserveGate,
            J::RequestRun { .. } | J::SkipSlot { .. } => Action::TriggerRun,
            J::Backfill { .. } => Action::RequestReplay,
            J::StartAttempt { .. } | J::Heartbeat { .. } | J::CompleteAttempt { .. } => {
                Action::ReportAttempt
            }
            J::CancelRun { .. } => Action::CancelRun,
            J::PauseJob { .. } => Action::PauseJob,
            J::DrainJob { .. } => Action::DrainJob,
            J::ResumeJob { .. } => Action::ResumeJob,
            J::Tick {} => Action::Tick,
        }
    }
}

/// What happened in the jobs plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum JobsEvent {
    // The variants every run writes (requested, attempts, retries) declare their fields in key
    // order: the canonical encoder then only moves the tag `type`, written first, to its
    // place, instead of sorting the whole event (see `ro_core::canonical`).
    /// A job was defined.
    JobDefined {
        /// The definition.
        definition: Box<JobDefinition>,
        /// The tz database version its schedule was checked against.
        tzdb_version: String,
    },
    /// A pool's limit was set.
    PoolDefined {
        /// The pool.
        pool: PoolId,
        /// Its limit.
        max_running: u32,
    },
    /// An input gate was observed.
    GateObserved {
        /// The artifact.
        #[serde(rename = "ref")]
        locator: String,
        /// Its gate.
        status: Gate,
    },
    /// A run was requested, with its first attempt queued.
    RunRequested {
        /// Why.
        intent: Intent,
        /// The job.
        job_id: JobId,
        /// The job's version.
        job_version: u32,
        /// What for.
        logical: LogicalKey,
        /// The run.
        run_id: RunId,
    },
    /// A scheduled slot was skipped.
    SlotSkipped {
        /// The job.
        job_id: JobId,
        /// The slot.
        logical_time: Timestamp,
        /// Why.
        reason: String,
    },
    /// An attempt started.
    AttemptStarted {
        /// The attempt.
        number: u32,
        /// The run.
        run_id: RunId,
    },
    /// A heartbeat.
    AttemptHeartbeat {
        /// The attempt.
        number: u32,
        /// The run.
        run_id: RunId,
    },
    /// An attempt succeeded (and so did its run).
    AttemptSucceeded {
        /// The attempt.
        number: u32,
        /// The run.
        run_id: RunId,
    },
    /// An attempt failed.
    AttemptFailed {
        /// The error code.
        error_code: String,
        /// The attempt.
        number: u32,
        /// Whether it was retryable.
        retryable: bool,
        /// The run.
        run_id: RunId,
    },
    /// An attempt timed out.
    AttemptTimedOut {
        /// Which timeout.
        kind: TimeoutKind,
        /// The attempt.
        number: u32,
        /// The run.
        run_id: RunId,
    },
    /// A retry was scheduled: a new attempt, not before `not_before`.
    RetryScheduled {
        /// When it may start.
        not_before: Timestamp,
        /// The new attempt's number.
        number: u32,
        /// The run.
        run_id: RunId,
    },
    /// The run failed for good.
    RunFailed {
        /// The run.
        run_id: RunId,
        /// Why no retry: `max_attempts`, `non_retryable` or `not_retryable`.
        reason: String,
    },
    /// The run was cancelled.
    RunCancelled {
        /// The run.
        run_id: RunId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// A job was paused.
    JobPaused {
        /// The job.
        job_id: JobId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// A job was set draining.
    JobDrained {
        /// The job.
        job_id: JobId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// A job was resumed.
    JobResumed {
        /// The job.
        job_id: JobId,
        /// The reason given.
        reason: Option<Reason>,
    },
    /// A calendar was defined (or a new version of it).
    CalendarDefined {
        /// The calendar.
        calendar: Box<TradingCalendar>,
        /// The tz database version its zone was checked against.
        tzdb_version: String,
    },
    /// A dated override was set or removed.
    CalendarOverridden {
        /// The calendar.
        name: CalendarName,
        /// The date.
        #[schemars(with = "crate::model::CivilDate")]
        date: jiff::civil::Date,
        /// The override before.
        before: Option<Override>,
        /// The override after.
        after: Option<Override>,
        /// The calendar's new version.
        version: u32,
        /// The reason given.
        reason: Option<Reason>,
    },
}

impl ro_core::Event for JobsEvent {
    const SCHEMA_VERSION: u32 = 1;
}

/// Why the jobs plane refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobsRejection {
    /// Malformed.
    #[error("invalid command: {0}")]
    Invalid(String),
    /// No such job.
    #[error("job {0} is not defined")]
    UnknownJob(JobId),
    /// No such run.
    #[error("run {0} does not exist")]
    UnknownRun(RunId),
    /// The run is not in a state the command needs.
    #[error("run {run_id} is {status}: {needed}")]
    RunState {
        /// The run.
        run_id: RunId,
        /// Where it stands.
        status: &'static str,
        /// What the command needs.
        needed: &'static str,
    },
    /// The job is paused or draining.
    #[error("job {0} is {1}: no new starts")]
    NotStarting(JobId, &'static str),
    /// Inputs are not PASS.
    #[error("run waits for inputs to PASS: {0:?}")]
    InputsNotPass(Vec<String>),
    /// A concurrency limit is reached.
    #[error("{0} is at its limit of {1} running")]
    ConcurrencyLimit(String, u32),
    /// The attempt may not start yet.
    #[error("attempt {0} may not start before {1}")]
    TooEarly(u32, Timestamp),
    /// The schedule is invalid or has no slot.
    #[error(transparent)]
    Schedule(ScheduleError),
    /// A backfill window holds more runs than allowed.
    #[error(
        "backfill window holds more than max_runs ({0}) runs: narrow the window or raise max_runs"
    )]
    BackfillTooLarge(u32),
}

impl ro_core::Rejection for JobsRejection {
    fn code(&self) -> &'static str {
        use JobsRejection::*;
        match self {
            Invalid(_) => "INVALID_COMMAND",
            UnknownJob(_) => "UNKNOWN_JOB",
            UnknownRun(_) => "UNKNOWN_RUN",
            RunState { .. } => "RUN_STATE",
            NotStarting(..) => "JOB_NOT_STARTING",
            InputsNotPass(_) => "INPUTS_NOT_PASS",
            ConcurrencyLimit(..) => "CONCURRENCY_LIMIT",
            TooEarly(..) => "ATTEMPT_NOT_DUE",
            Schedule(_) => "INVALID_SCHEDULE",
            BackfillTooLarge(..) => "BACKFILL_TOO_LARGE",
        }
    }
}

/// A job as the state holds it.
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
pub struct JobEntry {
    /// Attempts of the job running now.
    pub running: u32,
    /// The compiled schedule (derived from the definition; not serialized, not compared).
    #[serde(skip)]
    #[rkyv(with = rkyv::with::Skip)]
    compiled: CompiledSchedule,
    /// The current definition.
    pub definition: JobDefinition,
    /// Paused: no new starts.
    pub paused: bool,
    /// Draining: no new starts, running attempts finish.
    pub draining: bool,
    /// The latest scheduled slot requested or skipped.
    pub last_slot: Option<Timestamp>,
    /// When it was first defined (scheduling starts after this).
    pub defined_at: Timestamp,
}

impl JobEntry {
    fn refresh_next_slot(&mut self, calendars: &BTreeMap<CalendarName, TradingCalendar>) {
        let from = self.last_slot.unwrap_or(self.defined_at);
        let calendar = self
            .definition
            .calendar
            .as_ref()
            .and_then(|c| calendars.get(c));
        self.compiled.1 = self
            .compiled
            .0
            .as_ref()
            .and_then(|s| s.next_after(from, calendar).ok());
    }
}

/// The jobs by next slot: derived (rebuilt by replay), excluded from equality and
/// serialization.
#[derive(Clone, Default)]
struct DueIndex(BTreeSet<(Timestamp, JobId)>);

impl PartialEq for DueIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for DueIndex {}

impl std::fmt::Debug for DueIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} scheduled jobs", self.0.len())
    }
}

/// A job's compiled schedule and its next slot after the last one requested or skipped:
/// derived from the definition and the events (rebuilt by replay), so excluded from equality
/// and serialization (the state digest does not depend on the time-zone database).
#[derive(Clone, Default)]
struct CompiledSchedule(Option<Schedule>, Option<Timestamp>);

impl PartialEq for CompiledSchedule {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for CompiledSchedule {}

impl std::fmt::Debug for CompiledSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "compiled" } else { "none" })
    }
}

/// The jobs plane's state.
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
pub struct Jobs {
    calendars: BTreeMap<CalendarName, TradingCalendar>,
    /// Runs that are over.
    closed: BTreeMap<RunId, Run>,
    gates: BTreeMap<String, Gate>,
    jobs: BTreeMap<JobId, JobEntry>,
    /// Runs not yet over (the planner walks these without lookups).
    open: BTreeMap<RunId, Run>,
    pools: BTreeMap<PoolId, u32>,
    running_by_pool: BTreeMap<PoolId, u32>,
    /// (next slot, job) for every scheduled job: the planner reads only the due prefix.
    #[serde(skip)]
    #[rkyv(with = rkyv::with::Skip)]
    due: DueIndex,
}

fn add_ms(t: Timestamp, ms: u64) -> Timestamp {
    t.checked_add(time::Duration::milliseconds(
        i64::try_from(ms).unwrap_or(i64::MAX),
    ))
    .unwrap_or(Timestamp::MAX)
}

impl Jobs {
    /// The current version of calendar `name`.
    pub fn calendar(&self, name: &CalendarName) -> Option<&TradingCalendar> {
        self.calendars.get(name)
    }

    /// A job.
    pub fn job(&self, id: &JobId) -> Option<&JobEntry> {
        self.jobs.get(id)
    }

    /// A run.
    pub fn run(&self, id: &RunId) -> Option<&Run> {
        self.open.get(id).or_else(|| self.closed.get(id))
    }

    /// The runs not yet over.
    pub fn open_runs(&self) -> impl Iterator<Item = (&RunId, &Run)> {
        self.open.iter()
    }

    /// How many attempts of `job` are running.
    pub fn running(&self, job: &JobId) -> u32 {
        self.jobs.get(job).map_or(0, |j| j.running)
    }

    /// The inputs a run still waits for (not PASS), in definition order.
    pub fn waiting_for(&self, run: &Run) -> Vec<String> {
        self.jobs
            .get(&run.job_id)
            .map(|j| {
                j.definition
                    .inputs
                    .iter()
                    .filter(|l| self.gates.get(*l) != Some(&Gate::Pass))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether `run` may start its waiting attempt at `now`, counting `extra` starts already
    /// planned per job and per pool.
    fn can_start(&self, run_id: &RunId, now: Timestamp) -> Result<u32, JobsRejection> {
        let run = self
            .run(run_id)
            .ok_or_else(|| JobsRejection::UnknownRun(run_id.clone()))?;
        let job = self
            .jobs
            .get(&run.job_id)
            .ok_or_else(|| JobsRejection::UnknownJob(run.job_id.clone()))?;
        self.check_start(run_id, run, job, now, &BTreeMap::new(), &BTreeMap::new())
    }

    /// Whether `run` (of `job`) may start its waiting attempt at `now`, counting starts already
    /// planned this tick per job and per pool.
    fn check_start(
        &self,
        run_id: &RunId,
        run: &Run,
        job: &JobEntry,
        now: Timestamp,
        extra_job: &BTreeMap<&JobId, u32>,
        extra_pool: &BTreeMap<&PoolId, u32>,
    ) -> Result<u32, JobsRejection> {
        if run.status != RunStatus::Queued {
            return Err(JobsRejection::RunState {
                run_id: run_id.clone(),
                status: run.status.name(),
                needed: "only a queued run starts an attempt",
            });
        }
        let attempt = run
            .attempts
            .last()
            .ok_or_else(|| JobsRejection::Invalid("run without attempts".into()))?;
        if job.paused {
            return Err(JobsRejection::NotStarting(run.job_id.clone(), "paused"));
        }
        if job.draining {
            return Err(JobsRejection::NotStarting(run.job_id.clone(), "draining"));
        }
        if now < attempt.not_before {
            return Err(JobsRejection::TooEarly(attempt.number, attempt.not_before));
        }
        let pass = |l: &String| self.gates.get(l) == Some(&Gate::Pass);
        if !job.definition.inputs.iter().all(pass) {
            return Err(JobsRejection::InputsNotPass(self.waiting_for(run)));
        }
        let running = job.running + extra_job.get(&run.job_id).copied().unwrap_or(0);
        if running >= job.definition.max_concurrent {
            return Err(JobsRejection::ConcurrencyLimit(
                format!("job {}", run.job_id),
                job.definition.max_concurrent,
            ));
        }
        if let Some(pool) = &job.definition.pool {
            let limit = self.pools.get(pool).copied().unwrap_or(0);
            let in_pool = self.running_by_pool.get(pool).copied().unwrap_or(0)
                + extra_pool.get(pool).copied().unwrap_or(0);
            if in_pool >= limit {
                return Err(JobsRejection::ConcurrencyLimit(
                    format!("pool {pool}"),
                    limit,
                ));
            }
        }
        Ok(attempt.number)
    }

    /// The events that follow a failed or timed-out attempt: a retry, or the run's failure.
    fn after_failure(
        &self,
        run_id: &RunId,
        run: &Run,
        number: u32,
        error_code: &str,
        retryable: bool,
        at: Timestamp,
    ) -> JobsEvent {
        let Some(job) = self.jobs.get(&run.job_id) else {
            return JobsEvent::RunFailed {
                run_id: run_id.clone(),
                reason: "job_undefined".into(),
            };
        };
        let policy = &job.definition.retry;
        if !retryable {
            return JobsEvent::RunFailed {
                run_id: run_id.clone(),
                reason: "not_retryable".into(),
            };
        }
        if policy.non_retryable_error_codes.contains(error_code) {
            return JobsEvent::RunFailed {
                run_id: run_id.clone(),
                reason: "non_retryable".into(),
            };
        }
        if number >= policy.max_attempts {
            return JobsEvent::RunFailed {
                run_id: run_id.clone(),
                reason: "max_attempts".into(),
            };
        }
        JobsEvent::RetryScheduled {
            run_id: run_id.clone(),
            number: number + 1,
            not_before: add_ms(at, policy.delay_ms(run_id, number)),
        }
    }

    fn timeouts_due<'a>(
        &self,
        open: &[(&'a RunId, &'a Run)],
        now: Timestamp,
    ) -> Vec<(&'a RunId, u32, TimeoutKind)> {
        let mut out = Vec::new();
        for &(id, run) in open {
            let (Some(job), Some(a)) = (self.jobs.get(&run.job_id), run.attempts.last()) else {
                continue;
            };
            let t = &job.definition.timeouts;
            match a.status {
                AttemptStatus::Queued => {
                    if let Some(ms) = t.schedule_to_start_ms
                        && add_ms(a.not_before, ms) <= now
                    {
                        out.push((id, a.number, TimeoutKind::ScheduleToStart));
                    }
                }
                AttemptStatus::Running => {
                    let started = a.started_at.unwrap_or(a.updated_at_utc);
                    if let Some(ms) = t.start_to_close_ms
                        && add_ms(started, ms) <= now
                    {
                        out.push((id, a.number, TimeoutKind::StartToClose));
                    } else if let Some(ms) = t.heartbeat_ms
                        && add_ms(a.last_heartbeat_at.unwrap_or(started), ms) <= now
                    {
                        out.push((id, a.number, TimeoutKind::Heartbeat));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// What is due at `now`, as commands for the host to submit in order: a `TICK` when a
    /// timeout has expired, scheduled slots (under each job's overlap and catch-up policy),
    /// and attempt starts within every concurrency limit and only for runs whose inputs PASS.
    pub fn plan(&self, now: Timestamp) -> Vec<JobsCommand> {
        let mut out = Vec::new();
        let open_runs: Vec<(&RunId, &Run)> = self.open_runs().collect();
        let timed_out: BTreeSet<&RunId> = self
            .timeouts_due(&open_runs, now)
            .into_iter()
            .map(|(id, _, _)| id)
            .collect();
        if !timed_out.is_empty() {
            out.push(JobsCommand::Tick {});
        }
        let mut open_by_job: BTreeMap<&JobId, Vec<(&RunId, &Run)>> = BTreeMap::new();
        let any_due = self.due.0.first().is_some_and(|(t, _)| *t <= now);
        if any_due {
            for &(id, run) in &open_runs {
                open_by_job.entry(&run.job_id).or_default().push((id, run));
            }
        }
        // Only jobs whose cached next slot has come: the index is sorted by that slot.
        for (_, job_id) in self.due.0.iter().take_while(|(t, _)| *t <= now) {
            let Some(job) = self.jobs.get(job_id) else {
                continue;
            };
            let open: &[(&RunId, &Run)] = open_by_job
                .get(job_id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let Some(spec) = &job.definition.schedule else {
                continue;
            };
            if job.paused || job.draining {
                continue;
            }
            let _ = spec;
            let Some(schedule) = &job.compiled.0 else {
                continue;
            };
            // The next slot is cached by evolve: a job with nothing due costs no schedule work.
            if job.compiled.1.is_none_or(|next| next > now) {
                continue;
            }
            let mut slots = Vec::new();
            let mut at = job.last_slot.unwrap_or(job.defined_at);
            while let Ok(next) = schedule.next_after(
                at,
                job.definition
                    .calendar
                    .as_ref()
                    .and_then(|c| self.calendars.get(c)),
            ) {
                if next > now || slots.len() > 10_000 {
                    break;
                }
                slots.push(next);
                at = next;
            }
            let keep = usize::try_from(job.definition.max_catch_up.max(1)).unwrap_or(1);
            let skipped = slots.len().saturating_sub(keep);
            for slot in slots.iter().take(skipped) {
                out.push(JobsCommand::SkipSlot {
                    job_id: job_id.clone(),
                    logical_time: *slot,
                    reason: "catch_up_limit".into(),
                });
            }
            let due: Vec<Timestamp> = slots.iter().skip(skipped).copied().collect();
            let last = due.len().saturating_sub(1);
            for (i, slot) in due.iter().enumerate() {
                let request = JobsCommand::RequestRun {
                    job_id: job_id.clone(),
                    intent: Intent::Scheduled,
                    logical_time: Some(*slot),
                    partition: None,
                };
                let skip = JobsCommand::SkipSlot {
                    job_id: job_id.clone(),
                    logical_time: *slot,
                    reason: "overlap".into(),
                };
                // Skip and buffer-one run only the most recent slot; the older ones overlap it.
                match job.definition.overlap {
                    OverlapPolicy::Skip if i < last || !open.is_empty() => out.push(skip),
                    OverlapPolicy::BufferOne
                        if i < last || open.iter().any(|(_, r)| r.status == RunStatus::Queued) =>
                    {
                        out.push(skip)
                    }
                    OverlapPolicy::CancelOther if i == last => {
                        for (id, _) in open {
                            out.push(JobsCommand::CancelRun {
                                run_id: (*id).clone(),
                            });
                        }
                        out.push(request);
                    }
                    OverlapPolicy::CancelOther => out.push(skip),
                    _ => out.push(request),
                }
            }
        }
        let mut extra_job: BTreeMap<&JobId, u32> = BTreeMap::new();
        let mut extra_pool: BTreeMap<&PoolId, u32> = BTreeMap::new();
        // Oldest first: by when the attempt may start, then by logical time or partition.
        let mut queued: Vec<(Timestamp, &LogicalKey, &RunId, &Run)> = open_runs
            .iter()
            .filter(|(id, r)| r.status == RunStatus::Queued && !timed_out.contains(id))
            .filter_map(|&(id, r)| r.attempts.last().map(|a| (a.not_before, &r.logical, id, r)))
            .collect();
        // Stable: ties keep the open map's run-id order without comparing ids again.
        queued.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        for (_, _, id, run) in queued {
            let Some(job) = self.jobs.get(&run.job_id) else {
                continue;
            };
            if self
                .check_start(id, run, job, now, &extra_job, &extra_pool)
                .is_ok()
            {
                *extra_job.entry(&run.job_id).or_insert(0) += 1;
                if let Some(pool) = &job.definition.pool {
                    *extra_pool.entry(pool).or_insert(0) += 1;
                }
                out.push(JobsCommand::StartAttempt { run_id: id.clone() });
            }
        }
        out
    }
}

impl Decider for Jobs {
    type Command = JobsCommand;
    type Event = JobsEvent;
    type Rejection = JobsRejection;

    fn decide(
        &self,
        command: &JobsCommand,
        ctx: &Context,
    ) -> Result<Vec<JobsEvent>, JobsRejection> {
        use JobsCommand as C;
        use JobsEvent as E;
        use JobsRejection as R;
        let job = |id: &JobId| self.jobs.get(id).ok_or_else(|| R::UnknownJob(id.clone()));
        let run = |id: &RunId| self.run(id).ok_or_else(|| R::UnknownRun(id.clone()));
        match command {
            C::DefineJob { definition } => {
                let d = definition.as_ref();
                d.retry.validate().map_err(R::Invalid)?;
                if d.max_concurrent == 0 || d.max_catch_up == 0 {
                    return Err(R::Invalid(
                        "max_concurrent and max_catch_up are at least 1".into(),
                    ));
                }
                if let Some(spec) = &d.schedule {
                    Schedule::new(spec.clone()).map_err(R::Schedule)?;
                }
                if let Some(c) = &d.calendar
                    && !self.calendars.contains_key(c)
                {
                    return Err(R::Invalid(format!("calendar {c} is not defined")));
                }
                if let Some(pool) = &d.pool
                    && !self.pools.contains_key(pool)
                {
                    return Err(R::Invalid(format!("pool {pool} is not defined")));
                }
                if let Some(existing) = self.jobs.get(&d.job_id) {
                    if &existing.definition == d {
                        return Ok(Vec::new());
                    }
                    if d.version <= existing.definition.version {
                        return Err(R::Invalid(format!(
                            "job {} is at version {}: a new definition needs a higher version",
                            d.job_id, existing.definition.version
                        )));
                    }
                }
                Ok(vec![E::JobDefined {
                    definition: definition.clone(),
                    tzdb_version: crate::TZDB_VERSION.into(),
                }])
            }
            C::DefinePool { pool, max_running } => {
                if *max_running == 0 {
                    return Err(R::Invalid("max_running is at least 1".into()));
                }
                if self.pools.get(pool) == Some(max_running) {
                    return Ok(Vec::new());
                }
                Ok(vec![E::PoolDefined {
                    pool: pool.clone(),
                    max_running: *max_running,
                }])
            }
            C::ObserveGate { locator, status } => {
                if locator.is_empty() || locator.len() > 1024 {
                    return Err(R::Invalid("ref is 1 to 1024 bytes".into()));
                }
                if self.gates.get(locator) == Some(status) {
                    return Ok(Vec::new());
                }
                Ok(vec![E::GateObserved {
                    locator: locator.clone(),
                    status: *status,
                }])
            }
            C::RequestRun {
                job_id,
                intent,
                logical_time,
                partition,
            } => {
                let j = job(job_id)?;
                let logical = match (logical_time, partition) {
                    (Some(_), Some(_)) => {
                        return Err(R::Invalid(
                            "give logical_time or partition, not both".into(),
                        ));
                    }
                    (None, Some(p)) if p.is_empty() || p.len() > 256 => {
                        return Err(R::Invalid("partition is 1 to 256 bytes".into()));
                    }
                    (None, Some(p)) => LogicalKey::Partition(p.clone()),
                    (Some(t), None) => LogicalKey::Time(*t),
                    (None, None) => LogicalKey::Time(ctx.at),
                };
                let id = run_id(job_id, &logical, *intent);
                if self.run(&id).is_some() {
                    return Ok(Vec::new());
                }
                Ok(vec![E::RunRequested {
                    run_id: id,
                    job_id: job_id.clone(),
                    job_version: j.definition.version,
                    intent: *intent,
                    logical,
                }])
            }
            C::SkipSlot {
                job_id,
                logical_time,
                reason,
            } => {
                job(job_id)?;
                if !matches!(reason.as_str(), "overlap" | "catch_up_limit") {
                    return Err(R::Invalid("reason is overlap or catch_up_limit".into()));
                }
                Ok(vec![E::SlotSkipped {
                    job_id: job_id.clone(),
                    logical_time: *logical_time,
                    reason: reason.clone(),
                }])
            }
            C::Backfill {
                job_id,
                from,
                to,
                max_runs,
            } => {
                let j = job(job_id)?;
                let spec = j.definition.schedule.clone().ok_or_else(|| {
                    R::Invalid(format!("job {job_id} has no schedule to backfill"))
                })?;
                if *max_runs == 0 || *max_runs > MAX_BACKFILL {
                    return Err(R::Invalid(format!("max_runs is 1 to {MAX_BACKFILL}")));
                }
                if from >= to {
                    return Err(R::Invalid("from is before to".into()));
                }
                let schedule = Schedule::new(spec).map_err(R::Schedule)?;
                let start = from
                    .checked_sub(time::Duration::nanoseconds(1))
                    .unwrap_or(*from);
                let mut slots = Vec::new();
                let mut at = start;
                while let Ok(next) = schedule.next_after(
                    at,
                    j.definition
                        .calendar
                        .as_ref()
                        .and_then(|c| self.calendars.get(c)),
                ) {
                    if next >= *to {
                        break;
                    }
                    slots.push(next);
                    if slots.len() > usize::try_from(*max_runs).unwrap_or(usize::MAX) {
                        return Err(R::BackfillTooLarge(*max_runs));
                    }
                    at = next;
                }
                Ok(slots
                    .into_iter()
                    .map(|t| (run_id(job_id, &LogicalKey::Time(t), Intent::Backfill), t))
                    .filter(|(id, _)| self.run(id).is_none())
                    .map(|(id, t)| E::RunRequested {
                        run_id: id,
                        job_id: job_id.clone(),
                        job_version: j.definition.version,
                        intent: Intent::Backfill,
                        logical: LogicalKey::Time(t),
                    })
                    .collect())
            }
            C::StartAttempt { run_id } => {
                let number = self.can_start(run_id, ctx.at)?;
                Ok(vec![E::AttemptStarted {
                    run_id: run_id.clone(),
                    number,
                }])
            }
            C::Heartbeat { run_id } => {
                let r = run(run_id)?;
                match r.attempts.last() {
                    Some(a) if a.status == AttemptStatus::Running => {
                        Ok(vec![E::AttemptHeartbeat {
                            run_id: run_id.clone(),
                            number: a.number,
                        }])
                    }
                    _ => Err(R::RunState {
                        run_id: run_id.clone(),
                        status: r.status.name(),
                        needed: "only a running attempt heartbeats",
                    }),
                }
            }
            C::CompleteAttempt {
                run_id,
                outcome,
                error_code,
                retryable,
            } => {
                let r = run(run_id)?;
                let Some(a) = r
                    .attempts
                    .last()
                    .filter(|a| a.status == AttemptStatus::Running)
                else {
                    return Err(R::RunState {
                        run_id: run_id.clone(),
                        status: r.status.name(),
                        needed: "only a running attempt completes",
                    });
                };
                match (outcome, error_code, retryable) {
                    (OutcomeKind::Succeeded, None, None) => Ok(vec![E::AttemptSucceeded {
                        run_id: run_id.clone(),
                        number: a.number,
                    }]),
                    (OutcomeKind::Succeeded, _, _) => Err(R::Invalid(
                        "a success carries no error_code or retryable".into(),
                    )),
                    (OutcomeKind::Failed, None, _) | (OutcomeKind::Failed, _, None) => Err(
                        R::Invalid("a failure carries error_code and retryable".into()),
                    ),
                    (OutcomeKind::Failed, Some(error_code), Some(retryable)) => {
                        if error_code.is_empty() || error_code.len() > 128 {
                            return Err(R::Invalid("error_code is 1 to 128 bytes".into()));
                        }
                        Ok(vec![
                            E::AttemptFailed {
                                run_id: run_id.clone(),
                                number: a.number,
                                error_code: error_code.clone(),
                                retryable: *retryable,
                            },
                            self.after_failure(run_id, r, a.number, error_code, *retryable, ctx.at),
                        ])
                    }
                }
            }
            C::CancelRun { run_id } => {
                let r = run(run_id)?;
                if r.status.is_terminal() {
                    return Err(R::RunState {
                        run_id: run_id.clone(),
                        status: r.status.name(),
                        needed: "only an open run is cancelled",
                    });
                }
                Ok(vec![E::RunCancelled {
                    run_id: run_id.clone(),
                    reason: ctx.reason.clone(),
                }])
            }
            C::PauseJob { job_id } => Ok(if job(job_id)?.paused {
                vec![]
            } else {
                vec![E::JobPaused {
                    job_id: job_id.clone(),
                    reason: ctx.reason.clone(),
                }]
            }),
            C::DrainJob { job_id } => Ok(if job(job_id)?.draining {
                vec![]
            } else {
                vec![E::JobDrained {
                    job_id: job_id.clone(),
                    reason: ctx.reason.clone(),
                }]
            }),
            C::ResumeJob { job_id } => {
                let j = job(job_id)?;
                Ok(if j.paused || j.draining {
                    vec![E::JobResumed {
                        job_id: job_id.clone(),
                        reason: ctx.reason.clone(),
                    }]
                } else {
                    vec![]
                })
            }
            C::DefineCalendar { calendar } => {
                calendar.validate().map_err(R::Invalid)?;
                if let Some(existing) = self.calendars.get(&calendar.name) {
                    if existing == calendar.as_ref() {
                        return Ok(Vec::new());
                    }
                    if calendar.version <= existing.version {
                        return Err(R::Invalid(format!(
                            "calendar {} is at version {}: a new definition needs a higher version",
                            calendar.name, existing.version
                        )));
                    }
                }
                Ok(vec![E::CalendarDefined {
                    calendar: calendar.clone(),
                    tzdb_version: crate::TZDB_VERSION.into(),
                }])
            }
            C::OverrideCalendarDate { name, date, change } => {
                let c = self
                    .calendars
                    .get(name)
                    .ok_or_else(|| R::Invalid(format!("calendar {name} is not defined")))?;
                if let Some(Override::EarlyClose { hour, minute }) = change
                    && (*hour > 23 || *minute > 59)
                {
                    return Err(R::Invalid("an early close is HH:MM within the day".into()));
                }
                let before = c.overrides.get(date).copied();
                if before == *change {
                    return Ok(Vec::new());
                }
                Ok(vec![E::CalendarOverridden {
                    name: name.clone(),
                    date: *date,
                    before,
                    after: *change,
                    version: c.version.saturating_add(1),
                    reason: ctx.reason.clone(),
                }])
            }
            C::Tick {} => {
                let mut events = Vec::new();
                let open: Vec<(&RunId, &Run)> = self.open_runs().collect();
                for (id, number, kind) in self.timeouts_due(&open, ctx.at) {
                    if let Some(r) = self.run(id) {
                        events.push(E::AttemptTimedOut {
                            run_id: id.clone(),
                            number,
                            kind,
                        });
                        events.push(self.after_failure(id, r, number, kind.code(), true, ctx.at));
                    }
                }
                Ok(events)
            }
        }
    }

    fn evolve(&mut self, event: &JobsEvent, meta: &EventMeta<'_>) {
        use JobsEvent as E;
        let at = meta.at;
        match event {
            E::JobDefined { definition, .. } => {
                let entry = self
                    .jobs
                    .entry(definition.job_id.clone())
                    .or_insert_with(|| JobEntry {
                        definition: definition.as_ref().clone(),
                        paused: false,
                        draining: false,
                        last_slot: None,
                        defined_at: at,
                        compiled: CompiledSchedule(None, None),
                        running: 0,
                    });
                // A redefinition replaces the schedule: its cached next slot leaves the due
                // index here, before the cache is reset (refresh_job only moves an entry it
                // can still see).
                let stale_slot = entry.compiled.1.take();
                entry.definition = definition.as_ref().clone();
                // Definitions are validated before they are recorded, so this compiles.
                entry.compiled = CompiledSchedule(
                    definition
                        .schedule
                        .clone()
                        .and_then(|s| Schedule::new(s).ok()),
                    None,
                );
                let job_id = definition.job_id.clone();
                if let Some(t) = stale_slot {
                    self.due.0.remove(&(t, job_id.clone()));
                }
                self.refresh_job(&job_id);
            }
            E::PoolDefined { pool, max_running } => {
                self.pools.insert(pool.clone(), *max_running);
            }
            E::GateObserved { locator, status } => {
                self.gates.insert(locator.clone(), *status);
            }
            E::RunRequested {
                run_id,
                job_id,
                job_version,
                intent,
                logical,
            } => {
                if let (Intent::Scheduled, LogicalKey::Time(t), Some(j)) =
                    (intent, logical, self.jobs.get_mut(job_id))
                {
                    j.last_slot = Some(j.last_slot.map_or(*t, |l| l.max(*t)));
                    self.refresh_job(job_id);
                }
                let attempt = Attempt {
                    number: 1,
                    status: AttemptStatus::Queued,
                    created_at_utc: at,
                    updated_at_utc: at,
                    not_before: at,
                    started_at: None,
                    last_heartbeat_at: None,
                    error_code: None,
                    retryable: None,
                };
                self.open.insert(
                    run_id.clone(),
                    Run {
                        job_id: job_id.clone(),
                        job_version: *job_version,
                        intent: *intent,
                        logical: logical.clone(),
                        status: RunStatus::Queued,
                        attempts: vec![attempt],
                    },
                );
            }
            E::SlotSkipped {
                job_id,
                logical_time,
                ..
            } => {
                if let Some(j) = self.jobs.get_mut(job_id) {
                    j.last_slot = Some(j.last_slot.map_or(*logical_time, |l| l.max(*logical_time)));
                    self.refresh_job(job_id);
                }
            }
            E::AttemptStarted { run_id, .. } => {
                let pool = self
                    .open
                    .get(run_id)
                    .and_then(|r| self.jobs.get(&r.job_id))
                    .and_then(|j| j.definition.pool.clone());
                if let Some(r) = self.open.get_mut(run_id) {
                    r.status = RunStatus::Running;
                    if let Some(a) = r.attempts.last_mut() {
                        a.status = AttemptStatus::Running;
                        a.started_at = Some(at);
                        a.updated_at_utc = at;
                    }
                    if let Some(j) = self.jobs.get_mut(&r.job_id) {
                        j.running = j.running.saturating_add(1);
                    }
                    if let Some(pool) = pool {
                        *self.running_by_pool.entry(pool).or_insert(0) += 1;
                    }
                }
            }
            E::AttemptHeartbeat { run_id, .. } => {
                if let Some(a) = self
                    .open
                    .get_mut(run_id)
                    .and_then(|r| r.attempts.last_mut())
                {
                    a.last_heartbeat_at = Some(at);
                    a.updated_at_utc = at;
                }
            }
            E::AttemptSucceeded { run_id, .. } => {
                self.end_attempt(run_id, AttemptStatus::Succeeded, None, None, at);
                self.close_run(run_id, RunStatus::Succeeded);
            }
            E::AttemptFailed {
                run_id,
                error_code,
                retryable,
                ..
            } => {
                self.end_attempt(
                    run_id,
                    AttemptStatus::Failed,
                    Some(error_code.clone()),
                    Some(*retryable),
                    at,
                );
            }
            E::AttemptTimedOut { run_id, kind, .. } => {
                self.end_attempt(
                    run_id,
                    AttemptStatus::TimedOut,
                    Some(kind.code().into()),
                    Some(true),
                    at,
                );
            }
            E::RetryScheduled {
                run_id,
                number,
                not_before,
            } => {
                if let Some(r) = self.open.get_mut(run_id) {
                    r.status = RunStatus::Queued;
                    r.attempts.push(Attempt {
                        number: *number,
                        status: AttemptStatus::Queued,
                        created_at_utc: at,
                        updated_at_utc: at,
                        not_before: *not_before,
                        started_at: None,
                        last_heartbeat_at: None,
                        error_code: None,
                        retryable: None,
                    });
                }
            }
            E::RunFailed { run_id, .. } => self.close_run(run_id, RunStatus::Failed),
            E::RunCancelled { run_id, .. } => {
                let running = self
                    .open
                    .get(run_id)
                    .and_then(|r| r.attempts.last())
                    .is_some_and(|a| !a.status.is_terminal());
                if running {
                    self.end_attempt(run_id, AttemptStatus::Cancelled, None, None, at);
                }
                self.close_run(run_id, RunStatus::Cancelled);
            }
            E::CalendarDefined { calendar, .. } => {
                self.calendars
                    .insert(calendar.name.clone(), calendar.as_ref().clone());
                self.refresh_calendar_jobs(&calendar.name);
            }
            E::CalendarOverridden {
                name,
                date,
                after,
                version,
                ..
            } => {
                if let Some(c) = self.calendars.get_mut(name) {
                    match after {
                        Some(o) => {
                            c.overrides.insert(*date, *o);
                        }
                        None => {
                            c.overrides.remove(date);
                        }
                    }
                    c.version = *version;
                }
                self.refresh_calendar_jobs(name);
            }
            E::JobPaused { job_id, .. } => {
                if let Some(j) = self.jobs.get_mut(job_id) {
                    j.paused = true;
                }
            }
            E::JobDrained { job_id, .. } => {
                if let Some(j) = self.jobs.get_mut(job_id) {
                    j.draining = true;
                }
            }
            E::JobResumed { job_id, .. } => {
                if let Some(j) = self.jobs.get_mut(job_id) {
                    j.paused = false;
                    j.draining = false;
                }
            }
        }
    }

    fn restored(&mut self) {
        self.rebuild_derived();
    }

    fn check_invariants(&self) -> Result<(), InvariantViolation> {
        let mut running_by_job: BTreeMap<&JobId, u32> = BTreeMap::new();
        for (id, r) in self.open.iter().chain(self.closed.iter()) {
            if r.attempts.is_empty() {
                return Err(InvariantViolation(format!("run {id} has no attempt")));
            }
            for (i, a) in r.attempts.iter().enumerate() {
                if usize::try_from(a.number).ok() != Some(i + 1) {
                    return Err(InvariantViolation(format!(
                        "run {id}: attempt numbers are not 1, 2, …"
                    )));
                }
                if i + 1 < r.attempts.len() && !a.status.is_terminal() {
                    return Err(InvariantViolation(format!(
                        "run {id}: attempt {} is open but not the latest",
                        a.number
                    )));
                }
            }
            if r.status.is_terminal() == self.open.contains_key(id) {
                return Err(InvariantViolation(format!(
                    "run {id}: the open index disagrees with its status"
                )));
            }
            if r.attempts
                .last()
                .is_some_and(|a| a.status == AttemptStatus::Running)
            {
                *running_by_job.entry(&r.job_id).or_insert(0) += 1;
            }
        }
        let scheduled = self
            .jobs
            .values()
            .filter(|j| j.compiled.1.is_some())
            .count();
        if scheduled != self.due.0.len() {
            return Err(InvariantViolation(
                "the due index disagrees with the jobs' next slots".into(),
            ));
        }
        for (job, entry) in &self.jobs {
            if let Some(t) = entry.compiled.1
                && !self.due.0.contains(&(t, job.clone()))
            {
                return Err(InvariantViolation(format!(
                    "job {job} is missing from the due index"
                )));
            }
            let count = &entry.running;
            let actual = running_by_job.get(job).copied().unwrap_or(0);
            if *count != actual {
                return Err(InvariantViolation(format!(
                    "job {job}: running count {count} but {actual} attempts run"
                )));
            }
        }
        Ok(())
    }
}

impl Jobs {
    fn end_attempt(
        &mut self,
        run_id: &RunId,
        status: AttemptStatus,
        error_code: Option<String>,
        retryable: Option<bool>,
        at: Timestamp,
    ) {
        let pool = self
            .open
            .get(run_id)
            .and_then(|r| self.jobs.get(&r.job_id))
            .and_then(|j| j.definition.pool.clone());
        let Some(r) = self.open.get_mut(run_id) else {
            return;
        };
        let Some(a) = r.attempts.last_mut() else {
            return;
        };
        let was_running = a.status == AttemptStatus::Running;
        a.status = status;
        a.error_code = error_code;
        a.retryable = retryable;
        a.updated_at_utc = at;
        if was_running {
            if let Some(j) = self.jobs.get_mut(&r.job_id) {
                j.running = j.running.saturating_sub(1);
            }
            if let Some(pool) = pool
                && let Some(n) = self.running_by_pool.get_mut(&pool)
            {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// Recompiles every schedule and rebuilds the due index (after a snapshot restore).
    fn rebuild_derived(&mut self) {
        self.due.0.clear();
        let ids: Vec<JobId> = self.jobs.keys().cloned().collect();
        for entry in self.jobs.values_mut() {
            entry.compiled = CompiledSchedule(
                entry
                    .definition
                    .schedule
                    .clone()
                    .and_then(|s| Schedule::new(s).ok()),
                None,
            );
        }
        for id in ids {
            self.refresh_job(&id);
        }
    }

    fn refresh_calendar_jobs(&mut self, name: &CalendarName) {
        let ids: Vec<JobId> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.definition.calendar.as_ref() == Some(name))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.refresh_job(&id);
        }
    }

    /// Recomputes a job's next slot and keeps the due index in step.
    fn refresh_job(&mut self, job_id: &JobId) {
        let Some(job) = self.jobs.get_mut(job_id) else {
            return;
        };
        let before = job.compiled.1;
        job.refresh_next_slot(&self.calendars);
        let after = job.compiled.1;
        if before != after {
            if let Some(t) = before {
                self.due.0.remove(&(t, job_id.clone()));
            }
            if let Some(t) = after {
                self.due.0.insert((t, job_id.clone()));
            }
        }
    }

    fn close_run(&mut self, run_id: &RunId, status: RunStatus) {
        if let Some(mut r) = self.open.remove(run_id) {
            r.status = status;
            self.closed.insert(run_id.clone(), r);
        }
    }
}
