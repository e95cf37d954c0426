//! One planner tick over 10k scheduled jobs and 100k attempts.
//! `cargo bench -p ro-benches --bench planner`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // benchmark harness

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ro_core::{Actor, ActorId, Decider, EventMeta, Timestamp};
use ro_jobs::{Intent, JobDefinition, Jobs, JobsEvent, LogicalKey, run_id};

fn build(jobs: u32, runs_per_job: u32) -> (Jobs, Timestamp) {
    let actor = Actor::service(ActorId::new("host").unwrap());
    let t0 = Timestamp::parse_rfc3339("2026-03-02T00:00:00Z").unwrap();
    let mut state = Jobs::default();
    let apply = |state: &mut Jobs, at: Timestamp, e: JobsEvent| {
        state.evolve(
            &e,
            &EventMeta {
                seq: 1,
                at,
                actor: &actor,
                correlation_id: None,
                causation: None,
            },
        );
    };
    for j in 0..jobs {
        let definition: JobDefinition = serde_json::from_value(serde_json::json!({
            "job_id": format!("job-{j:05}"), "version": 1, "max_concurrent": 2,
            "retry": {"max_attempts": 3, "initial_interval_ms": 1000, "max_interval_ms": 60000},
            "schedule": {"cron": format!("{} * * * *", j % 60), "timezone": if j % 2 == 0 { "UTC" } else { "America/New_York" }},
        }))
        .unwrap();
        let job_id = definition.job_id.clone();
        apply(
            &mut state,
            t0,
            JobsEvent::JobDefined {
                reason: None,
                definition: Box::new(definition),
                tzdb_version: ro_jobs::TZDB_VERSION.into(),
            },
        );
        for r in 0..runs_per_job {
            let at = t0.checked_add(time::Duration::hours(i64::from(r))).unwrap();
            let logical = LogicalKey::Time(at);
            let id = run_id(&job_id, &logical, Intent::Scheduled);
            apply(
                &mut state,
                at,
                JobsEvent::RunRequested {
                    reason: None,
                    run_id: id.clone(),
                    job_id: job_id.clone(),
                    job_version: 1,
                    intent: Intent::Scheduled,
                    logical,
                },
            );
            apply(
                &mut state,
                at,
                JobsEvent::AttemptStarted {
                    run_id: id.clone(),
                    number: 1,
                },
            );
            apply(
                &mut state,
                at,
                JobsEvent::AttemptFailed {
                    run_id: id.clone(),
                    number: 1,
                    error_code: "E".into(),
                    process: None,
                    retryable: true,
                },
            );
            apply(
                &mut state,
                at,
                JobsEvent::RetryScheduled {
                    run_id: id.clone(),
                    number: 2,
                    not_before: at,
                },
            );
            // One run in ten stays queued; the rest finish.
            if r != runs_per_job - 1 || j % 2 == 0 {
                apply(
                    &mut state,
                    at,
                    JobsEvent::AttemptStarted {
                        run_id: id.clone(),
                        number: 2,
                    },
                );
                apply(
                    &mut state,
                    at,
                    JobsEvent::AttemptSucceeded {
                        run_id: id,
                        number: 2,
                        process: None,
                    },
                );
            }
        }
    }
    let now = t0
        .checked_add(time::Duration::hours(i64::from(runs_per_job)))
        .unwrap();
    (state, now)
}

fn planner(c: &mut Criterion) {
    let (state, now) = build(10_000, 5);
    let attempts: usize = (0..10_000u32).map(|_| 10).sum();
    assert_eq!(attempts, 100_000);
    let plan = state.plan(now);
    assert!(!plan.is_empty());
    let mut g = c.benchmark_group("planner_10k_jobs_100k_attempts");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.bench_function("plan, every job due (worst case)", |b| {
        b.iter(|| black_box(state.plan(now)))
    });
    // Thirty seconds after the last slot requested: no schedule is due, 5k runs are queued.
    let quiet = Timestamp::parse_rfc3339("2026-03-02T04:00:30Z").unwrap();
    assert!(state.plan(quiet).iter().all(|c| matches!(
        c,
        ro_jobs::JobsCommand::StartAttempt { .. } | ro_jobs::JobsCommand::RequestRun { .. }
    )));
    g.bench_function("plan, no schedule due (steady state)", |b| {
        b.iter(|| black_box(state.plan(quiet)))
    });
    g.finish();
}

criterion_group!(benches, planner);
criterion_main!(benches);
