//! [`JobsRejection`]: why the jobs plane refused, each with a stable code.

use super::*;
use crate::{JobId, RunId};

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
