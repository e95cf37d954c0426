//! The jobs test kit (feature `testing`): a sample setup, proptest strategies for the moves of
//! a job history, the commands each move stands for in a given state, and the invariant check
//! as a public function.
//!
//! A move is abstract ("complete the third running attempt") and becomes concrete commands
//! only against the state it is played on, so generated histories stay meaningful as the
//! state evolves and shrink to short, readable scripts.

use proptest::prelude::*;
use ro_core::{Decider, InvariantViolation, Timestamp};

use crate::{AttemptStatus, Gate, Intent, Jobs, JobsCommand, OutcomeKind, RunId};

/// The sample setup: a pool `shared` (two running at most) and three jobs: `job-0` (one at a
/// time, gated on input `data/a`, retried three times, with start-to-close and
/// schedule-to-start timeouts), `job-1` (scheduled every 20 minutes in New York, in the pool,
/// buffering overlaps) and `job-2` (in the pool, one quick retry, a heartbeat timeout).
pub fn sample_setup() -> Vec<JobsCommand> {
    [
        r#"{"type":"DEFINE_POOL","pool":"shared","max_running":2}"#,
        r#"{"type":"DEFINE_JOB","definition":{"job_id":"job-0","version":1,"max_concurrent":1,"inputs":["data/a"],"retry":{"max_attempts":3,"initial_interval_ms":1000,"max_interval_ms":60000,"jitter_bp":5000},"timeouts":{"start_to_close_ms":3600000,"schedule_to_start_ms":7200000}}}"#,
        r#"{"type":"DEFINE_JOB","definition":{"job_id":"job-1","version":1,"max_concurrent":2,"pool":"shared","schedule":{"cron":"*/20 * * * *","timezone":"America/New_York"},"overlap":"buffer_all","max_catch_up":2}}"#,
        r#"{"type":"DEFINE_JOB","definition":{"job_id":"job-2","version":1,"max_concurrent":3,"pool":"shared","retry":{"max_attempts":2,"initial_interval_ms":500,"max_interval_ms":500},"timeouts":{"heartbeat_ms":600000}}}"#,
    ]
    .iter()
    .filter_map(|c| serde_json::from_str(c).ok())
    .collect()
}

/// The concurrency limits of [`sample_setup`]: per job, and the pool's.
pub const SAMPLE_LIMITS: [(&str, u32); 3] = [("job-0", 1), ("job-1", 2), ("job-2", 3)];

/// One move of a job history over [`sample_setup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    /// Time moves on by this many seconds (the caller advances its clock; no command).
    Advance(i64),
    /// The input `data/a` is observed passing or failing.
    Gate(bool),
    /// A manual run of `job-{0}` for partition `p{1}`.
    Request(u8, u8),
    /// Everything the planner proposes now.
    Plan,
    /// The `n`-th running attempt (modulo their number) completes: succeeded, or failed
    /// (retryable or not).
    Complete(u8, bool, bool),
    /// The `n`-th open run (modulo their number) is cancelled.
    Cancel(u8),
    /// `job-{0}` paused (`true`) or resumed.
    Pause(u8, bool),
}

/// Moves, weighted towards planning, requests and completions.
pub fn moves() -> impl Strategy<Value = Move> {
    prop_oneof![
        2 => (0i64..5400).prop_map(Move::Advance),
        1 => any::<bool>().prop_map(Move::Gate),
        3 => (0u8..3, 0u8..6).prop_map(|(j, p)| Move::Request(j, p)),
        4 => Just(Move::Plan),
        3 => (any::<u8>(), any::<bool>(), any::<bool>()).prop_map(|(r, ok, retry)| Move::Complete(r, ok, retry)),
        1 => any::<u8>().prop_map(Move::Cancel),
        1 => (0u8..3, any::<bool>()).prop_map(|(j, p)| Move::Pause(j, p)),
    ]
}

fn job(j: u8) -> Option<crate::JobId> {
    crate::JobId::new(format!("job-{j}")).ok()
}

fn nth<T: Clone>(items: &[T], n: u8) -> Option<T> {
    items.get(usize::from(n).checked_rem(items.len())?).cloned()
}

/// The commands `mv` stands for in `state` at `now` (none when it has nothing to act on, e.g.
/// completing an attempt when none is running).
pub fn commands(state: &Jobs, mv: &Move, now: Timestamp) -> Vec<JobsCommand> {
    let command = match mv {
        Move::Advance(_) => None,
        Move::Plan => return state.plan(now),
        Move::Gate(pass) => Some(JobsCommand::ObserveGate {
            locator: "data/a".into(),
            status: if *pass { Gate::Pass } else { Gate::Fail },
        }),
        Move::Request(j, p) => job(*j).map(|job_id| JobsCommand::RequestRun {
            job_id,
            intent: Intent::Manual,
            logical_time: None,
            partition: Some(format!("p{p}")),
        }),
        Move::Complete(n, ok, retryable) => {
            let running: Vec<RunId> = state
                .open_runs()
                .filter(|(_, r)| {
                    r.attempts
                        .last()
                        .is_some_and(|a| a.status == AttemptStatus::Running)
                })
                .map(|(id, _)| id.clone())
                .collect();
            nth(&running, *n).map(|run_id| {
                if *ok {
                    JobsCommand::CompleteAttempt {
                        run_id,
                        outcome: OutcomeKind::Succeeded,
                        error_code: None,
                        retryable: None,
                        process: None,
                    }
                } else {
                    JobsCommand::CompleteAttempt {
                        run_id,
                        outcome: OutcomeKind::Failed,
                        error_code: Some("E".into()),
                        retryable: Some(*retryable),
                        process: None,
                    }
                }
            })
        }
        Move::Cancel(n) => {
            let open: Vec<RunId> = state.open_runs().map(|(id, _)| id.clone()).collect();
            nth(&open, *n).map(|run_id| JobsCommand::CancelRun { run_id })
        }
        Move::Pause(j, pause) => job(*j).map(|job_id| {
            if *pause {
                JobsCommand::PauseJob { job_id }
            } else {
                JobsCommand::ResumeJob { job_id }
            }
        }),
    };
    command.into_iter().collect()
}

/// Event histories the jobs state itself produced: [`sample_setup`] then a list of [`moves`]
/// played by a service from 2026-11-01T04:00:00Z (the setup's events included).
pub fn events() -> impl Strategy<Value = Vec<crate::JobsEvent>> {
    proptest::collection::vec(moves(), 0..40).prop_map(|moves| {
        let mut kernel = ro_core::Kernel::<Jobs>::new();
        let host = ro_core::ActorId::new("host").map(ro_core::Actor::service);
        let start = Timestamp::parse_rfc3339("2026-11-01T04:00:00Z");
        let (Ok(host), Ok(mut at)) = (host, start) else {
            return Vec::new();
        };
        let mut events = ro_core::testing::events_of(
            &mut kernel,
            sample_setup()
                .into_iter()
                .map(|c| (ro_core::Context::new(at, host.clone()), c)),
        );
        for mv in &moves {
            if let Move::Advance(secs) = mv {
                at = at.checked_add(time::Duration::seconds(*secs)).unwrap_or(at);
            }
            let commands = commands(kernel.state(), mv, at);
            events.extend(ro_core::testing::events_of(
                &mut kernel,
                commands
                    .into_iter()
                    .map(|c| (ro_core::Context::new(at, host.clone()), c)),
            ));
        }
        events
    })
}

/// The jobs state's invariants, for downstream suites.
pub fn check_invariants(jobs: &Jobs) -> Result<(), InvariantViolation> {
    jobs.check_invariants()
}
