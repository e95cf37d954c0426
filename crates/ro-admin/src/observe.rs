//! The observability minimums: job success and failure rates, artifact
//! store errors, event-bus lag and storage pressure, shown in the status projection.
//!
//! Job outcomes are counted from the journal's own attempt events; the other signals are
//! reported by the host (`REPORT_SIGNAL`), each a recorded event like any other, correlated to
//! the runs, training runs or bundles they concern. Signals inform; they never halt the plane
//! nor change its posture: `OPS_STATUS` lists them with `warnings` (storage at or above 90 %,
//! an artifact store whose latest report counted errors), and the operator decides.

use std::collections::BTreeMap;

use ro_core::{CorrelationId, Timestamp};
use ro_jobs::{JobId, JobsEvent, RunId};
use serde::{Deserialize, Serialize};

use crate::{Plane, health::ComponentName, streams::StreamName};

/// Storage pressure at or above this share of capacity is a warning, in basis points (90 %).
pub const STORAGE_PRESSURE_WARN_BP: u32 = 9_000;
/// The most correlations one signal may carry.
pub const MAX_CORRELATIONS: usize = 16;

/// What a signal concerns.
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
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Correlation {
    /// A run of a job.
    Run(RunId),
    /// A training run.
    TrainRun(CorrelationId),
    /// A bundle (a release or handoff bundle).
    Bundle(CorrelationId),
}

/// A signal the host reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(
    tag = "signal",
    rename_all = "SCREAMING_SNAKE_CASE",
    deny_unknown_fields
)]
pub enum Signal {
    /// Errors an artifact store returned since the store's previous report.
    ArtifactStoreErrors {
        /// The store.
        store: ComponentName,
        /// How many errors.
        errors: u64,
        /// What they concern.
        #[serde(default)]
        correlation: Vec<Correlation>,
    },
    /// How many events a stream's slowest subscriber is behind.
    StreamLag {
        /// The stream (created with `CREATE_STREAM`).
        stream: StreamName,
        /// Events behind.
        lag_events: u64,
        /// What it concerns.
        #[serde(default)]
        correlation: Vec<Correlation>,
    },
    /// Storage used on a volume.
    StoragePressure {
        /// The volume.
        volume: ComponentName,
        /// Bytes used.
        used_bytes: u64,
        /// Bytes available in all (more than zero, at least `used_bytes`).
        capacity_bytes: u64,
    },
}

impl ro_core::Check for Signal {
    /// Checks the values (the stream's existence is checked by the plane).
    fn check(&self) -> Result<(), String> {
        match self {
            Signal::ArtifactStoreErrors { correlation, .. }
            | Signal::StreamLag { correlation, .. } => {
                if correlation.len() > MAX_CORRELATIONS {
                    return Err(format!("correlation: at most {MAX_CORRELATIONS} entries"));
                }
                Ok(())
            }
            Signal::StoragePressure {
                used_bytes,
                capacity_bytes,
                ..
            } => {
                if *capacity_bytes == 0 {
                    Err("capacity_bytes must be more than zero".into())
                } else if used_bytes > capacity_bytes {
                    Err("used_bytes exceeds capacity_bytes".into())
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// The last failed attempt of a job.
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
pub struct LastFailure {
    /// The run.
    pub run_id: RunId,
    /// The attempt.
    pub attempt: u32,
    /// The error code, or `TIMEOUT`.
    pub error_code: String,
    /// When.
    pub at: Timestamp,
}

/// A job's outcomes so far.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
struct Outcomes {
    succeeded: u64,
    failed: u64,
    timed_out: u64,
    runs_failed: u64,
    last_failure: Option<LastFailure>,
}

/// A signal as last reported.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
struct Reported<T> {
    value: T,
    correlation: Vec<Correlation>,
    at: Timestamp,
}

/// Counted job outcomes and the host's latest signals.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Observability {
    jobs: BTreeMap<JobId, Outcomes>,
    lag: BTreeMap<StreamName, Reported<u64>>,
    /// Per volume: (used, capacity).
    storage: BTreeMap<ComponentName, Reported<(u64, u64)>>,
    /// Per store: (errors in the latest report, errors in all reports).
    store_errors: BTreeMap<ComponentName, Reported<(u64, u64)>>,
}

/// A job's success and failure rates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct JobRates {
    /// The job.
    pub job_id: JobId,
    /// Attempts that succeeded.
    pub attempts_succeeded: u64,
    /// Attempts that failed (timeouts included).
    pub attempts_failed: u64,
    /// Of those, timeouts.
    pub attempts_timed_out: u64,
    /// Runs that failed for good.
    pub runs_failed: u64,
    /// Succeeded / finished attempts, in basis points (rounded down); `null` before any
    /// attempt finished.
    pub success_rate_bp: Option<u32>,
    /// Failed / finished attempts, in basis points (rounded up: never understated).
    pub failure_rate_bp: Option<u32>,
    /// The latest failure.
    pub last_failure: Option<LastFailure>,
}

/// An artifact store's errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct StoreErrors {
    /// The store.
    pub store: ComponentName,
    /// Errors in its latest report.
    pub errors: u64,
    /// Errors in all its reports.
    pub errors_total: u64,
    /// What the latest report concerned.
    pub correlation: Vec<Correlation>,
    /// When it was reported.
    pub reported_at: Timestamp,
}

/// A stream's lag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct StreamLag {
    /// The stream.
    pub stream: StreamName,
    /// Events behind.
    pub lag_events: u64,
    /// What it concerned.
    pub correlation: Vec<Correlation>,
    /// When it was reported.
    pub reported_at: Timestamp,
}

/// A volume's storage pressure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct StoragePressure {
    /// The volume.
    pub volume: ComponentName,
    /// Bytes used.
    pub used_bytes: u64,
    /// Bytes in all.
    pub capacity_bytes: u64,
    /// Used / capacity, in basis points (rounded up).
    pub pressure_bp: u32,
    /// When it was reported.
    pub reported_at: Timestamp,
}

/// The observability section of `OPS_STATUS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ObservabilityView {
    /// Every job with a finished attempt, by id.
    pub jobs: Vec<JobRates>,
    /// Every artifact store reported, by name.
    pub artifact_store_errors: Vec<StoreErrors>,
    /// Every stream with a reported lag, by name.
    pub stream_lag: Vec<StreamLag>,
    /// Every volume reported, by name.
    pub storage_pressure: Vec<StoragePressure>,
    /// `STORAGE_PRESSURE_<VOLUME>` at or above 90 %, `ARTIFACT_STORE_ERRORS_<STORE>` when the
    /// latest report counted errors; sorted. Warnings never halt.
    pub warnings: Vec<String>,
}

/// `part / whole` in basis points rounded up (a failure rate or a pressure is never
/// understated); rounded down is `ro_core::ratio::basis_points`.
fn bp_up(part: u64, whole: u64) -> Option<u32> {
    if whole == 0 {
        return None;
    }
    let scaled = u128::from(part).saturating_mul(10_000);
    u32::try_from(scaled.div_ceil(u128::from(whole))).ok()
}

impl Observability {
    pub(crate) fn attempt_succeeded(&mut self, job: &JobId) {
        let o = self.jobs.entry(job.clone()).or_default();
        o.succeeded = o.succeeded.saturating_add(1);
    }

    pub(crate) fn attempt_failed(&mut self, job: &JobId, failure: LastFailure, timed_out: bool) {
        let o = self.jobs.entry(job.clone()).or_default();
        o.failed = o.failed.saturating_add(1);
        if timed_out {
            o.timed_out = o.timed_out.saturating_add(1);
        }
        o.last_failure = Some(failure);
    }

    pub(crate) fn run_failed(&mut self, job: &JobId) {
        let o = self.jobs.entry(job.clone()).or_default();
        o.runs_failed = o.runs_failed.saturating_add(1);
    }

    pub(crate) fn record(&mut self, signal: &Signal, at: Timestamp) {
        match signal {
            Signal::ArtifactStoreErrors {
                store,
                errors,
                correlation,
            } => {
                let total = self
                    .store_errors
                    .get(store)
                    .map_or(0, |r| r.value.1)
                    .saturating_add(*errors)
                    // The state stays canonically encodable (exact integers only).
                    .min(ro_core::canonical::MAX_SAFE_INTEGER);
                self.store_errors.insert(
                    store.clone(),
                    Reported {
                        value: (*errors, total),
                        correlation: correlation.clone(),
                        at,
                    },
                );
            }
            Signal::StreamLag {
                stream,
                lag_events,
                correlation,
            } => {
                self.lag.insert(
                    stream.clone(),
                    Reported {
                        value: *lag_events,
                        correlation: correlation.clone(),
                        at,
                    },
                );
            }
            Signal::StoragePressure {
                volume,
                used_bytes,
                capacity_bytes,
            } => {
                self.storage.insert(
                    volume.clone(),
                    Reported {
                        value: (*used_bytes, *capacity_bytes),
                        correlation: Vec::new(),
                        at,
                    },
                );
            }
        }
    }

    /// The view shown by `OPS_STATUS`.
    pub fn view(&self) -> ObservabilityView {
        let jobs = self
            .jobs
            .iter()
            .map(|(job, o)| {
                let finished = o.succeeded.saturating_add(o.failed);
                JobRates {
                    job_id: job.clone(),
                    attempts_succeeded: o.succeeded,
                    attempts_failed: o.failed,
                    attempts_timed_out: o.timed_out,
                    runs_failed: o.runs_failed,
                    success_rate_bp: ro_core::ratio::basis_points(o.succeeded, finished),
                    failure_rate_bp: bp_up(o.failed, finished),
                    last_failure: o.last_failure.clone(),
                }
            })
            .collect();
        let mut warnings = Vec::new();
        let artifact_store_errors = self
            .store_errors
            .iter()
            .map(|(store, r)| {
                if r.value.0 > 0 {
                    warnings.push(format!(
                        "ARTIFACT_STORE_ERRORS_{}",
                        crate::health::reason_name(store.as_str())
                    ));
                }
                StoreErrors {
                    store: store.clone(),
                    errors: r.value.0,
                    errors_total: r.value.1,
                    correlation: r.correlation.clone(),
                    reported_at: r.at,
                }
            })
            .collect();
        let stream_lag = self
            .lag
            .iter()
            .map(|(stream, r)| StreamLag {
                stream: stream.clone(),
                lag_events: r.value,
                correlation: r.correlation.clone(),
                reported_at: r.at,
            })
            .collect();
        let storage_pressure = self
            .storage
            .iter()
            .map(|(volume, r)| {
                let pressure_bp = bp_up(r.value.0, r.value.1).unwrap_or(10_000);
                if pressure_bp >= STORAGE_PRESSURE_WARN_BP {
                    warnings.push(format!(
                        "STORAGE_PRESSURE_{}",
                        crate::health::reason_name(volume.as_str())
                    ));
                }
                StoragePressure {
                    volume: volume.clone(),
                    used_bytes: r.value.0,
                    capacity_bytes: r.value.1,
                    pressure_bp,
                    reported_at: r.at,
                }
            })
            .collect();
        warnings.sort();
        ObservabilityView {
            jobs,
            artifact_store_errors,
            stream_lag,
            storage_pressure,
            warnings,
        }
    }
}

impl Plane {
    /// Counts a job's attempt outcome for the observability minimums.
    pub(crate) fn count_outcome(&mut self, event: &JobsEvent, at: Timestamp) {
        let (run_id, failure) = match event {
            JobsEvent::AttemptSucceeded { run_id, .. } | JobsEvent::RunFailed { run_id, .. } => {
                (run_id, None)
            }
            JobsEvent::AttemptFailed {
                run_id,
                number,
                error_code,
                ..
            } => (run_id, Some((*number, error_code.clone(), false))),
            JobsEvent::AttemptTimedOut { run_id, number, .. } => {
                (run_id, Some((*number, "TIMEOUT".to_owned(), true)))
            }
            _ => return,
        };
        let Some(job) = self.jobs.run(run_id).map(|r| r.job_id.clone()) else {
            return;
        };
        match (event, failure) {
            (JobsEvent::AttemptSucceeded { .. }, _) => self.observability.attempt_succeeded(&job),
            (JobsEvent::RunFailed { .. }, _) => self.observability.run_failed(&job),
            (_, Some((attempt, error_code, timed_out))) => self.observability.attempt_failed(
                &job,
                LastFailure {
                    run_id: run_id.clone(),
                    attempt,
                    error_code,
                    at,
                },
                timed_out,
            ),
            _ => {}
        }
    }
}
