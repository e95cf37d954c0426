//! Jobs, run intents, attempts and retries, timeouts, concurrency, gating, pause/resume/drain,
//! backfills, schedules in real time zones and trading calendars, and a pure planner.
//!
//! **Skeleton.** This crate is planned (issue "ro-jobs") and holds no items yet.

#![forbid(unsafe_code)]
