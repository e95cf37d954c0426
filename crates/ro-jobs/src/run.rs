//! Runs and their attempts: why a run exists, its logical key and deterministic id, where it
//! and each attempt stand.

use ro_core::{Digest, Timestamp};
use serde::{Deserialize, Serialize};

use crate::JobId;

ro_core::id_kind!(
    /// Identifies a run: derived from (job, logical time or partition, intent), never drawn.
    RunId,
    RunTag,
    "run id"
);

/// Why a run exists.
#[derive(
    Debug,
    Clone,
    Copy,
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
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// Asked for by someone.
    Manual,
    /// Due by the schedule.
    Scheduled,
    /// A replay of a logical time or partition.
    Replay,
    /// Part of a backfill window.
    Backfill,
}

impl Intent {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Manual => "manual",
            Intent::Scheduled => "scheduled",
            Intent::Replay => "replay",
            Intent::Backfill => "backfill",
        }
    }
}

/// What a run is for: a logical time or a partition.
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
#[serde(rename_all = "snake_case")]
pub enum LogicalKey {
    /// A logical time (the scheduled instant).
    Time(Timestamp),
    /// A partition name.
    Partition(String),
}

/// The deterministic run id of (job, logical key, intent): `run-` and 20 hex digits of blake3.
pub fn run_id(job: &JobId, key: &LogicalKey, intent: Intent) -> RunId {
    // The hashed text is `time:<rfc3339>` or `partition:<p>`, fed in parts (no allocation).
    let time_text;
    let (kind, value): (&[u8], &[u8]) = match key {
        LogicalKey::Time(t) => {
            time_text = t.to_rfc3339();
            (b"time:", time_text.as_bytes())
        }
        LogicalKey::Partition(p) => (b"partition:", p.as_bytes()),
    };
    let d = Digest::of_parts(&[
        b"ro.run-id.v1\0",
        job.as_bytes(),
        b"\0",
        kind,
        value,
        b"\0",
        intent.as_str().as_bytes(),
    ]);
    // "run-" and the first 20 hex digits.
    let mut text = *b"run-00000000000000000000";
    if let (Some(out), Some(hex)) = (text.get_mut(4..), d.hex_ascii().get(..20)) {
        out.copy_from_slice(hex);
    }
    // "run-" and hex digits always form a valid id.
    RunId::new(std::str::from_utf8(&text).unwrap_or_default())
        .unwrap_or_else(|_| unreachable_run_id())
}

#[allow(clippy::panic)] // only reached if the id rules stop admitting "run-<hex>": a bug
fn unreachable_run_id() -> RunId {
    panic!("run ids are always valid")
}

/// Where an attempt stands (the contract's `JobStatus`).
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
#[schemars(rename = "JobStatus")]
pub enum AttemptStatus {
    /// Waiting to start.
    Queued,
    /// Started.
    Running,
    /// Finished well.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// A timeout expired.
    TimedOut,
    /// Cancelled.
    Cancelled,
}

impl AttemptStatus {
    /// Whether the attempt is over.
    pub fn is_terminal(self) -> bool {
        !matches!(self, AttemptStatus::Queued | AttemptStatus::Running)
    }
}

/// One attempt of a run (the contract's `JobAttemptRecord`).
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
pub struct Attempt {
    // The fields are declared in the order of their JSON keys, the canonical order, so
    // encoding one (a state digest encodes every attempt) re-orders nothing.
    /// When it was created.
    pub created_at_utc: Timestamp,
    /// The error code, if it failed or timed out.
    pub error_code: Option<String>,
    /// Its last heartbeat.
    pub last_heartbeat_at: Option<Timestamp>,
    /// Not started before this.
    pub not_before: Timestamp,
    /// 1, 2, … within the run.
    pub number: u32,
    /// The process the runner ran, when it reported one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessRecord>,
    /// Whether its failure was retryable.
    pub retryable: Option<bool>,
    /// When it started.
    pub started_at: Option<Timestamp>,
    /// Where it stands.
    pub status: AttemptStatus,
    /// When it last changed.
    pub updated_at_utc: Timestamp,
}

/// Ids an attempt correlates with.
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
pub struct CorrelationIds {
    /// The run.
    pub run_id: RunId,
}

/// One attempt in the public contract's shape (`JobAttemptRecord`).
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
pub struct JobAttemptRecord {
    /// The job.
    pub job_id: JobId,
    /// `<run_id>/<number>`: unique across the plane.
    pub attempt_id: String,
    /// Where it stands.
    pub status: AttemptStatus,
    /// When it was created.
    pub created_at_utc: Timestamp,
    /// When it last changed.
    pub updated_at_utc: Timestamp,
    /// What it correlates with.
    pub correlation_ids: CorrelationIds,
    /// The error code, if it failed or timed out.
    pub error_code: Option<String>,
    /// Whether its failure was retryable.
    pub retryable: Option<bool>,
    /// The process the runner ran, when it reported one: the evidence of what ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessRecord>,
}

/// The most arguments a reported command line holds.
pub const MAX_ARGS: usize = 64;
/// The longest one argument, in bytes.
pub const MAX_ARG_BYTES: usize = 1024;

/// What a runner ran for an attempt: its command line and exit code. Command lines are
/// evidence kept forever: an argument that looks like a secret (`password=`, `token=`,
/// `secret=`, `key=` …) is refused; pass a secret reference instead.
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
pub struct ProcessRecord {
    /// The command line, program first (1 to 64 arguments of at most 1024 bytes).
    pub argv: Vec<String>,
    /// The exit code.
    pub exit_code: i32,
}

impl ro_core::Check for ProcessRecord {
    fn check(&self) -> Result<(), String> {
        if self.argv.is_empty() || self.argv.len() > MAX_ARGS {
            return Err(format!("argv holds 1 to {MAX_ARGS} arguments"));
        }
        for (i, arg) in self.argv.iter().enumerate() {
            if arg.len() > MAX_ARG_BYTES {
                return Err(format!("argv[{i}] is longer than {MAX_ARG_BYTES} bytes"));
            }
            let lower = arg.to_ascii_lowercase();
            let secretive = ["password", "passwd", "secret", "token", "api_key", "apikey"]
                .iter()
                .any(|word| {
                    // `password=…`, `token:…`, or a flag whose next argument is the value.
                    lower.contains(&format!("{word}="))
                        || lower.contains(&format!("{word}:"))
                        || lower == format!("--{word}")
                        || lower == format!("-{word}")
                });
            if secretive {
                return Err(format!(
                    "argv[{i}] looks like it carries a secret; command lines are kept forever: \
                     pass a secret reference (REGISTER_SECRET) instead"
                ));
            }
        }
        Ok(())
    }
}

/// Where a run stands.
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
pub enum RunStatus {
    /// Its latest attempt waits to start.
    Queued,
    /// Its latest attempt is running.
    Running,
    /// Done.
    Succeeded,
    /// Out of attempts, or failed without retry.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl RunStatus {
    /// The status's name, as serialized (a test holds the two together).
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Whether the run is over.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled
        )
    }
}

/// A run and its attempts (append-only).
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
pub struct Run {
    // Declared in key order, the canonical order (see `Attempt`).
    /// Its attempts, in order.
    pub attempts: Vec<Attempt>,
    /// Why it exists.
    pub intent: Intent,
    /// The job.
    pub job_id: JobId,
    /// The job's version when requested.
    pub job_version: u32,
    /// What it is for.
    pub logical: LogicalKey,
    /// Where it stands.
    pub status: RunStatus,
}

impl Run {
    /// Its attempts as public records, oldest first.
    pub fn attempt_records(&self, run_id: &RunId) -> Vec<JobAttemptRecord> {
        self.attempts
            .iter()
            .map(|a| JobAttemptRecord {
                job_id: self.job_id.clone(),
                attempt_id: format!("{run_id}/{}", a.number),
                status: a.status,
                created_at_utc: a.created_at_utc,
                updated_at_utc: a.updated_at_utc,
                correlation_ids: CorrelationIds {
                    run_id: run_id.clone(),
                },
                error_code: a.error_code.clone(),
                retryable: a.retryable,
                process: a.process.clone(),
            })
            .collect()
    }
}

/// The schema of a local calendar date (`YYYY-MM-DD`), for fields held as `jiff::civil::Date`.
pub(crate) enum CivilDate {}

ro_core::json_schema_for!(CivilDate, "CivilDate", {
    "type": "string",
    "format": "date",
    "description": "A local calendar date, YYYY-MM-DD."
});

#[cfg(test)]
mod key_order_tests {
    use super::*;

    /// A state holds a `Run` with its `Attempt`s per run, tens of thousands in a large plane:
    /// declared in key order, they encode as declared, and the canonical serializer (which
    /// re-orders an object only when its members arrive out of order) copies and sorts
    /// nothing for them when it digests the state.
    #[test]
    fn runs_and_attempts_are_declared_in_key_order() {
        let at = Timestamp::parse_rfc3339("2026-03-02T13:00:00.5Z").unwrap();
        let attempt = Attempt {
            created_at_utc: at,
            error_code: Some("E_TIMEOUT".into()),
            last_heartbeat_at: Some(at),
            not_before: at,
            number: 2,
            process: Some(ProcessRecord {
                argv: vec!["./check.sh".into()],
                exit_code: 1,
            }),
            retryable: Some(true),
            started_at: Some(at),
            status: AttemptStatus::Failed,
            updated_at_utc: at,
        };
        let run = Run {
            attempts: vec![attempt.clone(), attempt],
            intent: Intent::Backfill,
            job_id: JobId::new("report").unwrap(),
            job_version: 3,
            logical: LogicalKey::Partition("2026-03-02".into()),
            status: RunStatus::Failed,
        };
        let as_declared = serde_json::to_vec(&run).unwrap();
        let canonical = ro_core::canonical::to_canonical_vec(&run).unwrap();
        assert_eq!(
            String::from_utf8(as_declared).unwrap(),
            String::from_utf8(canonical).unwrap()
        );
    }
}
