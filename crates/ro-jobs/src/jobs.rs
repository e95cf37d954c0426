//! The jobs decider: definitions, runs, attempts, retries, timeouts, concurrency, gating,
//! pause/resume/drain/cancel, backfill; and the pure planner.

use std::collections::{BTreeMap, BTreeSet};

use ro_core::{Context, Decider, EventMeta, InvariantViolation, Timestamp};
use ro_policy::ConfigVersionRef;
use serde::{Deserialize, Serialize};

mod attempts;
mod calendars;
mod catalog;
mod command;
mod event;
mod rejection;
mod runs;

pub use command::{JobsCommand, Room};
pub use event::JobsEvent;
pub use rejection::JobsRejection;

use crate::{
    AttemptStatus, Intent, JobDefinition, JobId, LogicalKey, OverlapPolicy, PoolId, Run, RunId,
    RunStatus,
    calendar::{CalendarName, TradingCalendar},
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
    /// The config versions pinned by definitions since replaced, by job and version (what a
    /// run requested under an earlier version ran with).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    past_pins: BTreeMap<JobId, BTreeMap<u32, Vec<ConfigVersionRef>>>,
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

    /// Every job, by id.
    pub fn jobs(&self) -> impl Iterator<Item = (&JobId, &JobEntry)> {
        self.jobs.iter()
    }

    /// Every calendar, by name.
    pub fn calendars(&self) -> impl Iterator<Item = &TradingCalendar> {
        self.calendars.values()
    }

    /// Every run, open or closed, by id.
    pub fn runs(&self) -> impl Iterator<Item = (&RunId, &Run)> {
        self.open.iter().chain(self.closed.iter())
    }

    /// A job.
    pub fn job(&self, id: &JobId) -> Option<&JobEntry> {
        self.jobs.get(id)
    }

    /// Whether `command` starts or requests a run of a read-only job (such commands pass the
    /// production lock and the kill switch).
    pub fn of_read_only_job(&self, command: &JobsCommand) -> bool {
        let job = match command {
            JobsCommand::RequestRun { job_id, .. } => Some(job_id),
            JobsCommand::StartAttempt { run_id } => self.run(run_id).map(|r| &r.job_id),
            _ => None,
        };
        job.and_then(|id| self.jobs.get(id))
            .is_some_and(|j| j.definition.read_only)
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

    /// The config versions `job` pinned at `version` (its current definition's, or a replaced
    /// one's); `None` for a job or version never defined with pins.
    pub fn config_versions_of(&self, job: &JobId, version: u32) -> Option<&[ConfigVersionRef]> {
        let current = self.jobs.get(job).map(|j| &j.definition);
        match current {
            Some(d) if d.version == version => Some(&d.config_versions),
            _ => self
                .past_pins
                .get(job)
                .and_then(|v| v.get(&version))
                .map(Vec::as_slice),
        }
    }

    /// Whether some job's definition reads `locator` as an input (a scan of the definitions:
    /// jobs are few, gates many).
    pub fn reads(&self, locator: &str) -> bool {
        self.jobs
            .values()
            .any(|j| j.definition.inputs.iter().any(|i| i == locator))
    }

    /// Whether any job reads an input at all.
    pub fn reads_any(&self) -> bool {
        self.jobs.values().any(|j| !j.definition.inputs.is_empty())
    }

    /// The gate last observed for an input.
    pub fn gate(&self, locator: &str) -> Option<Gate> {
        self.gates.get(locator).copied()
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

/// The refusal of a command sent to a room that does not hold it: the facts table routes
/// every command to its room, so this answers only a table that disagrees with a room.
fn misrouted() -> JobsRejection {
    JobsRejection::Invalid(
        "internal: this command was routed to a room that does not decide it".into(),
    )
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
        match command.facts().room {
            Room::Catalog => self.decide_catalog(command, ctx),
            Room::Runs => self.decide_runs(command, ctx),
            Room::Attempts => self.decide_attempts(command, ctx),
            Room::Calendars => self.decide_calendars(command, ctx),
        }
    }

    fn evolve(&mut self, event: &JobsEvent, meta: &EventMeta<'_>) {
        match event.room() {
            Room::Catalog => self.evolve_catalog(event, meta),
            Room::Runs => self.evolve_runs(event, meta),
            Room::Attempts => self.evolve_attempts(event, meta),
            Room::Calendars => self.evolve_calendars(event, meta),
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
    /// Keeps the process a runner reported on the run's latest attempt.
    fn record_process(&mut self, run_id: &RunId, process: &Option<crate::run::ProcessRecord>) {
        if process.is_none() {
            return;
        }
        if let Some(a) = self
            .open
            .get_mut(run_id)
            .or_else(|| self.closed.get_mut(run_id))
            .and_then(|r| r.attempts.last_mut())
        {
            a.process.clone_from(process);
        }
    }

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
