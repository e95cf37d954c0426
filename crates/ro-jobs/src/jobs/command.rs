//! [`JobsCommand`]: what may be asked of the jobs plane, its facts (with the room that decides
//! each command) and its policy actions.

use ro_policy::Action;
use serde::{Deserialize, Serialize};

use super::*;
use crate::{
    Intent, JobDefinition, JobId, PoolId, RunId,
    calendar::{CalendarName, Override, TradingCalendar},
};

/// The feature module (room) that decides a jobs command and folds its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// Job definitions, pools, pause, drain and resume (`jobs::catalog`).
    Catalog,
    /// Gates, run intents, skipped slots, cancellation (`jobs::runs`).
    Runs,
    /// Attempts, retries and timeouts (`jobs::attempts`).
    Attempts,
    /// Trading calendars (`jobs::calendars`).
    Calendars,
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
    /// Records an input artifact's gate, as observed from the artifact store. In the plane the
    /// store's gates reach the jobs by themselves; a report must agree with the store (a PASS
    /// for an artifact it does not hold, or any contradiction, is refused and recorded).
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
        /// The process the runner ran: its command line and exit code (a success exits 0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        process: Option<ro_core::Valid<crate::run::ProcessRecord>>,
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
        calendar: Box<ro_core::Valid<TradingCalendar>>,
    },
    /// Layers a dated override on a calendar (an ad-hoc closure, an extra session, an early
    /// close), or removes one; the calendar's version increases.
    OverrideCalendarDate {
        /// The calendar.
        name: CalendarName,
        /// The local date.
        #[schemars(with = "crate::run::CivilDate")]
        date: jiff::civil::Date,
        /// The override, or none to remove it.
        #[serde(rename = "override")]
        change: Option<Override>,
    },
}

// The guards' facts of every jobs command (see `ro_policy::facts`): what starts work enables
// execution (refused under the production lock or the kill switch); resuming a job also takes
// two steps.
ro_policy::command_facts! { JobsCommand in Room;
    DefineJob = "DEFINE_JOB" in Room::Catalog;
    DefinePool = "DEFINE_POOL" in Room::Catalog;
    ObserveGate = "OBSERVE_GATE" in Room::Runs;
    RequestRun = "REQUEST_RUN" in Room::Runs, enables_execution;
    SkipSlot = "SKIP_SLOT" in Room::Runs;
    Backfill = "BACKFILL" in Room::Runs, enables_execution;
    StartAttempt = "START_ATTEMPT" in Room::Attempts, enables_execution;
    Heartbeat = "HEARTBEAT" in Room::Attempts;
    CompleteAttempt = "COMPLETE_ATTEMPT" in Room::Attempts;
    CancelRun = "CANCEL_RUN" in Room::Runs;
    PauseJob = "PAUSE_JOB" in Room::Catalog;
    DrainJob = "DRAIN_JOB" in Room::Catalog;
    ResumeJob = "RESUME_JOB" in Room::Catalog, two_step, enables_execution;
    Tick = "TICK" in Room::Attempts;
    DefineCalendar = "DEFINE_CALENDAR" in Room::Calendars;
    OverrideCalendarDate = "OVERRIDE_CALENDAR_DATE" in Room::Calendars;
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
