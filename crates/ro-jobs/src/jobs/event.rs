//! [`JobsEvent`]: what happened in the jobs plane, and the room that folds each event.

use ro_core::{Reason, Timestamp};
use serde::{Deserialize, Serialize};

use super::*;
use crate::{
    Intent, JobDefinition, JobId, LogicalKey, PoolId, RunId,
    calendar::{CalendarName, Override, TradingCalendar},
};

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
        /// Why (required of a person or agent acting; absent on records written before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    /// A pool's limit was set.
    PoolDefined {
        /// The pool.
        pool: PoolId,
        /// Its limit.
        max_running: u32,
        /// Why (required of a person or agent acting; absent on records written before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
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
        /// Why (required of a person or agent acting; absent on records written before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
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
        /// The process the runner ran, when it reported one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        process: Option<crate::run::ProcessRecord>,
        /// The run.
        run_id: RunId,
    },
    /// An attempt failed.
    AttemptFailed {
        /// The error code.
        error_code: String,
        /// The attempt.
        number: u32,
        /// The process the runner ran, when it reported one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        process: Option<crate::run::ProcessRecord>,
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
        /// Why (required of a person or agent acting; absent on records written before).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<Reason>,
    },
    /// A dated override was set or removed.
    CalendarOverridden {
        /// The calendar.
        name: CalendarName,
        /// The date.
        #[schemars(with = "crate::run::CivilDate")]
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

impl JobsEvent {
    /// The room that folds this event.
    #[inline]
    pub fn room(&self) -> Room {
        use JobsEvent as E;
        match self {
            E::JobDefined { .. }
            | E::PoolDefined { .. }
            | E::JobPaused { .. }
            | E::JobDrained { .. }
            | E::JobResumed { .. } => Room::Catalog,
            E::GateObserved { .. }
            | E::RunRequested { .. }
            | E::SlotSkipped { .. }
            | E::RunCancelled { .. } => Room::Runs,
            E::AttemptStarted { .. }
            | E::AttemptHeartbeat { .. }
            | E::AttemptSucceeded { .. }
            | E::AttemptFailed { .. }
            | E::AttemptTimedOut { .. }
            | E::RetryScheduled { .. }
            | E::RunFailed { .. } => Room::Attempts,
            E::CalendarDefined { .. } | E::CalendarOverridden { .. } => Room::Calendars,
        }
    }
}
