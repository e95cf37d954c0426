//! Properties of generated job histories driven by the planner.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use ro_core::{Actor, ActorId, Context, Kernel, Timestamp, testing::check_replay};
use ro_jobs::{
    AttemptStatus, Jobs, JobsCommand, JobsEvent, RunId,
    testing::{self, Move},
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn planner_respects_limits_gates_and_history(steps in proptest::collection::vec(testing::moves(), 1..80)) {
        let mut kernel: Kernel<Jobs> = Kernel::new();
        let mut ctx = Context::new(Timestamp::parse_rfc3339("2026-11-01T04:00:00Z").unwrap(), Actor::service(ActorId::new("host").unwrap()));
        for c in testing::sample_setup() {
            kernel.execute(&c, &ctx).unwrap();
        }
        let mut finished: BTreeMap<(RunId, u32), AttemptStatus> = BTreeMap::new();
        for mv in steps {
            if let Move::Advance(secs) = mv {
                ctx.at = ctx.at.checked_add(time::Duration::seconds(secs)).unwrap();
            }
            for c in testing::commands(kernel.state(), &mv, ctx.at) {
                if let JobsCommand::StartAttempt { run_id } = &c {
                    let state = kernel.state();
                    let run = state.run(run_id).unwrap();
                    prop_assert!(state.waiting_for(run).is_empty(), "the planner started {} before its inputs PASS", run_id);
                }
                let result = kernel.execute(&c, &ctx);
                // Only the planner's proposals and gate observations may be refused (a gate
                // observed twice with the same status, a start the pool no longer allows).
                if !matches!(mv, Move::Plan | Move::Gate(_)) {
                    prop_assert!(result.is_ok(), "{:?} refused: {:?}", c, result);
                }
            }
            testing::check_invariants(kernel.state()).unwrap();
            let state = kernel.state();
            // Concurrency limits hold for every job and the shared pool.
            for (job, limit) in testing::SAMPLE_LIMITS {
                prop_assert!(state.running(&job.parse().unwrap()) <= limit, "{} runs beyond its limit", job);
            }
            prop_assert!(state.running(&"job-1".parse().unwrap()) + state.running(&"job-2".parse().unwrap()) <= 2, "the pool is over its limit");
            // Attempt history is append-only: a finished attempt never changes.
            for (id, run) in state.open_runs() {
                for a in &run.attempts {
                    if let Some(status) = finished.get(&(id.clone(), a.number)) {
                        prop_assert_eq!(*status, a.status);
                    }
                }
            }
            for ((id, n), status) in &finished {
                let run = state.run(id).unwrap();
                prop_assert_eq!(run.attempts[(*n - 1) as usize].status, *status);
            }
            for (id, run) in state.open_runs().map(|(i, r)| (i.clone(), r.clone())).collect::<Vec<_>>() {
                for a in run.attempts.iter().filter(|a| a.status.is_terminal()) {
                    finished.insert((id.clone(), a.number), a.status);
                }
            }
        }
        // No run id is ever requested twice.
        let mut seen = BTreeSet::new();
        for r in kernel.journal().records() {
            if let JobsEvent::RunRequested { run_id, .. } = r.decode::<JobsEvent>().unwrap().event {
                prop_assert!(seen.insert(run_id.clone()), "run {} requested twice", run_id);
            }
        }
        check_replay(&kernel);
    }
}

/// The kit's sample setup decodes whole (its documents are parsed leniently at runtime).
#[test]
fn the_sample_setup_is_complete() {
    let setup = testing::sample_setup();
    assert_eq!(setup.len(), 4);
    let mut kernel: Kernel<Jobs> = Kernel::new();
    let ctx = Context::new(
        ro_core::testing::t0(),
        Actor::service(ActorId::new("host").unwrap()),
    );
    for c in &setup {
        kernel.execute(c, &ctx).unwrap();
    }
    for (job, _) in testing::SAMPLE_LIMITS {
        assert!(kernel.state().job(&job.parse().unwrap()).is_some(), "{job}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The kit's event histories are histories the decider accepts: folded through a kernel
    /// they keep every invariant and replay to the same state.
    #[test]
    fn kit_event_histories_replay(events in testing::events()) {
        let scenario = ro_core::testing::given::<ro_jobs::Jobs>(events.clone());
        prop_assert_eq!(scenario.kernel().head().seq, events.len() as u64);
        prop_assert!(testing::check_invariants(scenario.kernel().state()).is_ok());
        ro_core::testing::check_replay(scenario.kernel());
    }
}

/// Redefining a scheduled job with a schedule whose next slot differs moves the job in the
/// due index instead of leaving its old slot there (found by the protocol_lines fuzzer: the
/// invariant check failed after the second definition).
#[test]
fn redefining_a_schedule_moves_the_job_in_the_due_index() {
    let mut kernel: Kernel<Jobs> = Kernel::new();
    let ctx = Context::new(
        ro_core::testing::t0(),
        Actor::service(ActorId::new("host").unwrap()),
    );
    for (version, cron) in [
        (1, "15 8 * * 1-5"),
        (2, "30 8 * * 1-5"),
        (3, "30 8 * * 1-5"),
    ] {
        let command: ro_jobs::JobsCommand = serde_json::from_value(serde_json::json!({
            "type": "DEFINE_JOB",
            "definition": {"job_id": "report", "version": version,
                "schedule": {"cron": cron, "timezone": "America/New_York"}}
        }))
        .unwrap();
        kernel.execute(&command, &ctx).unwrap();
        assert_eq!(
            ro_core::Decider::check_invariants(kernel.state()),
            Ok(()),
            "after version {version}"
        );
    }
    check_replay(&kernel);
}
