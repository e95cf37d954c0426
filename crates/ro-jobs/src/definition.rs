//! Job definitions: retry policies, timeouts, overlap and catch-up, what a job runs and when.

use std::collections::BTreeSet;

use ro_core::Digest;
use ro_policy::ConfigVersionRef;
use serde::{Deserialize, Serialize};

use crate::RunId;

use crate::{calendar::CalendarName, schedule::ScheduleSpec};

ro_core::id_kind!(
    /// Identifies a job.
    JobId,
    JobTag,
    "job id"
);

ro_core::id_kind!(
    /// Identifies a concurrency pool shared by jobs.
    PoolId,
    PoolTag,
    "pool id"
);

/// The most attempts a retry policy may allow.
pub const MAX_ATTEMPTS_LIMIT: u32 = 100;

/// How failed attempts are retried. A retry is a new attempt; history is append-only.
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
pub struct RetryPolicy {
    /// Attempts allowed in all, counting the first (1 = no retry).
    pub max_attempts: u32,
    /// Delay before the first retry, in milliseconds.
    pub initial_interval_ms: u64,
    /// Multiplier between successive delays, in basis points (20000 = ×2).
    #[serde(default = "default_coefficient")]
    pub backoff_coefficient_bp: u32,
    /// Longest delay, in milliseconds.
    pub max_interval_ms: u64,
    /// Added jitter as a share of the delay, in basis points (0 to 10000), derived from the
    /// run id and attempt number: the same run always waits the same.
    #[serde(default)]
    pub jitter_bp: u16,
    /// Error codes that are never retried.
    #[serde(default)]
    pub non_retryable_error_codes: BTreeSet<String>,
}

fn default_coefficient() -> u32 {
    20_000
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 1,
            initial_interval_ms: 1_000,
            backoff_coefficient_bp: default_coefficient(),
            max_interval_ms: 60_000,
            jitter_bp: 0,
            non_retryable_error_codes: BTreeSet::new(),
        }
    }
}

impl RetryPolicy {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_ATTEMPTS_LIMIT).contains(&self.max_attempts) {
            return Err(format!("max_attempts is 1 to {MAX_ATTEMPTS_LIMIT}"));
        }
        if !(10_000..=100_000).contains(&self.backoff_coefficient_bp) {
            return Err("backoff_coefficient_bp is 10000 (×1) to 100000 (×10)".into());
        }
        if self.max_interval_ms < self.initial_interval_ms {
            return Err("max_interval_ms is less than initial_interval_ms".into());
        }
        if self.max_interval_ms > 30 * 86_400_000 {
            return Err("max_interval_ms is at most 30 days".into());
        }
        if self.jitter_bp > 10_000 {
            return Err("jitter_bp is 0 to 10000".into());
        }
        Ok(())
    }

    /// The delay before attempt `failed + 1`, after attempt number `failed` (from 1) failed.
    pub fn delay_ms(&self, run_id: &RunId, failed: u32) -> u64 {
        let mut base = u128::from(self.initial_interval_ms);
        for _ in 1..failed {
            base = base * u128::from(self.backoff_coefficient_bp) / 10_000;
            if base >= u128::from(self.max_interval_ms) {
                break;
            }
        }
        let base = base.min(u128::from(self.max_interval_ms));
        let h = Digest::of_parts(&[
            b"ro.retry-jitter.v1\0",
            run_id.as_bytes(),
            &failed.to_le_bytes(),
        ]);
        let mut eight = [0u8; 8];
        eight.copy_from_slice(h.as_bytes().get(..8).unwrap_or(&[0; 8]));
        let fraction = u128::from(u64::from_le_bytes(eight) % 10_001);
        let jitter = base * u128::from(self.jitter_bp) / 10_000 * fraction / 10_000;
        u64::try_from((base + jitter).min(u128::from(self.max_interval_ms)))
            .unwrap_or(self.max_interval_ms)
    }
}

/// Timeouts, evaluated against explicit time.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// From when an attempt may start to when it starts.
    #[serde(default)]
    pub schedule_to_start_ms: Option<u64>,
    /// From start to completion.
    #[serde(default)]
    pub start_to_close_ms: Option<u64>,
    /// Longest silence between heartbeats (from the start, then from each heartbeat).
    #[serde(default)]
    pub heartbeat_ms: Option<u64>,
}

/// What a scheduled slot does when a run of the job is still open.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum OverlapPolicy {
    /// Skip the slot (the default).
    #[default]
    Skip,
    /// Queue it unless a run is already waiting to start.
    BufferOne,
    /// Queue every slot.
    BufferAll,
    /// Cancel the open runs and start this one.
    CancelOther,
}

/// A job definition. Redefining a job needs a higher version.
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
pub struct JobDefinition {
    /// The job.
    pub job_id: JobId,
    /// Its version.
    pub version: u32,
    /// The config versions it runs with.
    #[serde(default)]
    pub config_versions: Vec<ConfigVersionRef>,
    /// Retries.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Timeouts.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Most attempts of this job running at once (at least 1).
    #[serde(default = "one")]
    pub max_concurrent: u32,
    /// A shared pool whose limit also applies.
    #[serde(default)]
    pub pool: Option<PoolId>,
    /// Artifacts that must be PASS before a run starts (locators).
    #[serde(default)]
    pub inputs: Vec<String>,
    /// What it produces (locators or addressing templates).
    #[serde(default)]
    pub outputs: Vec<String>,
    /// When it runs by itself.
    #[serde(default)]
    pub schedule: Option<ScheduleSpec>,
    /// The trading calendar its schedule follows (defined with `DEFINE_CALENDAR`).
    #[serde(default)]
    pub calendar: Option<CalendarName>,
    /// What a slot does when a run is still open.
    #[serde(default)]
    pub overlap: OverlapPolicy,
    /// How many missed slots a planner catches up after downtime (the most recent ones; the
    /// older are skipped and recorded). At least 1.
    #[serde(default = "one")]
    pub max_catch_up: u32,
    /// The job only reads and reports (a readiness check, a report): its runs start under the
    /// production lock and the kill switch, which close everything else that enables
    /// execution. Only a human declares a job read-only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
}

fn one() -> u32 {
    1
}

fn is_false(b: &bool) -> bool {
    !*b
}
