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
use ro_jobs::{AttemptStatus, InputGate, Jobs, JobsCommand, JobsEvent, OutcomeKind, RunId};

#[derive(Debug, Clone)]
enum Step {
    Advance(i64),
    Gate(bool),
    Request(u8, u8),
    Plan,
    Complete(u8, bool, bool),
    Cancel(u8),
    Pause(u8, bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (0i64..5400).prop_map(Step::Advance),
        1 => any::<bool>().prop_map(Step::Gate),
        3 => (0u8..3, 0u8..6).prop_map(|(j, p)| Step::Request(j, p)),
        4 => Just(Step::Plan),
        3 => (any::<u8>(), any::<bool>(), any::<bool>()).prop_map(|(r, ok, retry)| Step::Complete(r, ok, retry)),
        1 => any::<u8>().prop_map(Step::Cancel),
        1 => (0u8..3, any::<bool>()).prop_map(|(j, p)| Step::Pause(j, p)),
    ]
}

fn setup(kernel: &mut Kernel<Jobs>, ctx: &Context) {
    let commands = [
        r#"{"type":"DEFINE_POOL","pool":"shared","max_running":2}"#,
        r#"{"type":"DEFINE_JOB","definition":{"job_id":"job-0","version":1,"max_concurrent":1,"inputs":["data/a"],"retry":{"max_attempts":3,"initial_interval_ms":1000,"max_interval_ms":60000,"jitter_bp":5000},"timeouts":{"start_to_close_ms":3600000,"schedule_to_start_ms":7200000}}}"#,
        r#"{"type":"DEFINE_JOB","definition":{"job_id":"job-1","version":1,"max_concurrent":2,"pool":"shared","schedule":{"cron":"*/20 * * * *","timezone":"America/New_York"},"overlap":"buffer_all","max_catch_up":2}}"#,
        r#"{"type":"DEFINE_JOB","definition":{"job_id":"job-2","version":1,"max_concurrent":3,"pool":"shared","retry":{"max_attempts":2,"initial_interval_ms":500,"max_interval_ms":500},"timeouts":{"heartbeat_ms":600000}}}"#,
    ];
    for c in commands {
        kernel
            .execute(&serde_json::from_str(c).unwrap(), ctx)
            .unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn planner_respects_limits_gates_and_history(steps in proptest::collection::vec(step(), 1..80)) {
        let mut kernel: Kernel<Jobs> = Kernel::new();
        let mut ctx = Context::new(Timestamp::parse_rfc3339("2026-11-01T04:00:00Z").unwrap(), Actor::service(ActorId::new("host").unwrap()));
        setup(&mut kernel, &ctx);
        let mut finished: BTreeMap<(RunId, u32), AttemptStatus> = BTreeMap::new();
        for s in steps {
            match s {
                Step::Advance(secs) => ctx.at = ctx.at.checked_add(time::Duration::seconds(secs)).unwrap(),
                Step::Gate(pass) => {
                    let status = if pass { InputGate::Pass } else { InputGate::Fail };
                    let _ = kernel.execute(&JobsCommand::ObserveGate { locator: "data/a".into(), status }, &ctx);
                }
                Step::Request(j, p) => {
                    let c = JobsCommand::RequestRun { job_id: format!("job-{j}").parse().unwrap(), intent: ro_jobs::Intent::Manual, logical_time: None, partition: Some(format!("p{p}")) };
                    kernel.execute(&c, &ctx).unwrap();
                }
                Step::Plan => {
                    for c in kernel.state().plan(ctx.at) {
                        if let JobsCommand::StartAttempt { run_id } = &c {
                            let state = kernel.state();
                            let run = state.run(run_id).unwrap();
                            prop_assert!(state.waiting_for(run).is_empty(), "the planner started {} before its inputs PASS", run_id);
                        }
                        let _ = kernel.execute(&c, &ctx);
                    }
                }
                Step::Complete(r, ok, retryable) => {
                    let running: Vec<RunId> = kernel.state().open_runs().filter(|(_, r)| r.attempts.last().unwrap().status == AttemptStatus::Running).map(|(id, _)| id.clone()).collect();
                    if !running.is_empty() {
                        let id = running[r as usize % running.len()].clone();
                        let c = if ok {
                            JobsCommand::CompleteAttempt { run_id: id, outcome: OutcomeKind::Succeeded, error_code: None, retryable: None }
                        } else {
                            JobsCommand::CompleteAttempt { run_id: id, outcome: OutcomeKind::Failed, error_code: Some("E".into()), retryable: Some(retryable) }
                        };
                        kernel.execute(&c, &ctx).unwrap();
                    }
                }
                Step::Cancel(r) => {
                    let open: Vec<RunId> = kernel.state().open_runs().map(|(id, _)| id.clone()).collect();
                    if !open.is_empty() {
                        kernel.execute(&JobsCommand::CancelRun { run_id: open[r as usize % open.len()].clone() }, &ctx).unwrap();
                    }
                }
                Step::Pause(j, pause) => {
                    let job_id = format!("job-{j}").parse().unwrap();
                    let c = if pause { JobsCommand::PauseJob { job_id } } else { JobsCommand::ResumeJob { job_id } };
                    kernel.execute(&c, &ctx).unwrap();
                }
            }
            let state = kernel.state();
            // Concurrency limits hold for every job and the shared pool.
            let limits = [("job-0", 1u32), ("job-1", 2), ("job-2", 3)];
            for (job, limit) in limits {
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
