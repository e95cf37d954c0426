//! Jobs, attempts and schedules.
//!
//! - [`schedule`]: cron expressions in an IANA time zone with an explicit, recorded
//!   daylight-saving policy, and `next_after` that agrees with iteration.
//! - [`calendar`]: trading calendars with holidays, early closes and overrides.
//! - [`definition`]: job definitions (versioned, with config versions, retry policy,
//!   timeouts, concurrency, inputs, outputs, schedule, overlap policy).
//! - [`run`]: runs with deterministic ids, and append-only attempts.
//! - [`jobs`]: the [`Jobs`] decider and the pure planner [`Jobs::plan`]; its rooms decide the
//!   commands of each capability: the catalog (definitions, pools, pause/drain/resume), runs
//!   (gating on input artifacts, intents, backfill, cancel), attempts (retries with
//!   deterministic jitter, timeouts and heartbeats against explicit time, job and pool limits)
//!   and calendars.
//!
//! ```
//! use ro_core::Timestamp;
//! use ro_jobs::schedule::{Schedule, ScheduleSpec, GapPolicy, FoldPolicy};
//!
//! let daily = Schedule::new(ScheduleSpec {
//!     cron: "30 8 * * 1-5".into(),
//!     timezone: "America/New_York".into(),
//!     gap: GapPolicy::Skip,
//!     fold: FoldPolicy::First,
//!     allow_legacy_zone: false,
//!     market_hours: false,
//! })?;
//! // Across the March 2026 daylight-saving change, 08:30 local stays 08:30 local.
//! let runs = daily.runs(Timestamp::parse_rfc3339("2026-03-06T00:00:00Z")?, 3, None)?;
//! let text: Vec<String> = runs.iter().map(|t| t.to_rfc3339()).collect();
//! assert_eq!(text, ["2026-03-06T13:30:00Z", "2026-03-09T12:30:00Z", "2026-03-10T12:30:00Z"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod calendar;
pub mod definition;
pub mod jobs;
pub mod run;
pub mod schedule;
#[cfg(feature = "testing")]
pub mod testing;

pub use calendar::{CalendarName, Override, Session, TradingCalendar};
pub use definition::{JobDefinition, JobId, OverlapPolicy, PoolId, RetryPolicy, Timeouts};
pub use jobs::{Gate, Jobs, JobsCommand, JobsEvent, JobsRejection, OutcomeKind, Room, TimeoutKind};
pub use run::{
    Attempt, AttemptStatus, CorrelationIds, Intent, JobAttemptRecord, LogicalKey, Run, RunId,
    RunStatus, run_id,
};
pub use schedule::{FoldPolicy, GapPolicy, Schedule, ScheduleError, ScheduleSpec, TZDB_VERSION};
