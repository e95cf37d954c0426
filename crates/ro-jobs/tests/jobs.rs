//! Data-driven job cases: commands → events or rejections, and `PLAN` lines printing what the
//! planner proposes at the current time; snapshotted with insta.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use ro_core::{Actor, ActorId, Context, Kernel, Timestamp, testing::check_replay};
use ro_jobs::{Jobs, JobsCommand};

fn check(script: &str) -> String {
    let mut kernel: Kernel<Jobs> = Kernel::new();
    let mut ctx = Context::new(
        Timestamp::parse_rfc3339("2026-03-06T13:00:00Z").unwrap(),
        Actor::service(ActorId::new("scheduler").unwrap()),
    );
    let mut out = String::new();
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix('@') {
            let (at, reason) = match rest.split_once(" | ") {
                Some((at, r)) => (at, Some(ro_core::Reason::new(r).unwrap())),
                None => (rest, None),
            };
            ctx.at = Timestamp::parse_rfc3339(at).unwrap();
            ctx.reason = reason;
            out.push_str(&format!("@{rest}\n"));
            continue;
        }
        if line == "PLAN" {
            for c in kernel.state().plan(ctx.at) {
                out.push_str(&format!("  plan {}\n", serde_json::to_string(&c).unwrap()));
            }
            continue;
        }
        if line == "RUN PLAN" {
            for c in kernel.state().plan(ctx.at) {
                out.push_str(&format!("  plan {}\n", serde_json::to_string(&c).unwrap()));
                apply(&mut kernel, &ctx, &c, &mut out);
            }
            continue;
        }
        out.push_str(&format!("{line}\n"));
        match serde_json::from_str::<JobsCommand>(line) {
            Ok(c) => apply(&mut kernel, &ctx, &c, &mut out),
            Err(e) => out.push_str(&format!("  → BAD_COMMAND: {e}\n")),
        }
    }
    out.push_str(&format!("state {}\n", check_replay(&kernel)));
    out
}

fn apply(kernel: &mut Kernel<Jobs>, ctx: &Context, command: &JobsCommand, out: &mut String) {
    out.push_str(&ro_core::testing::script::run(kernel, ctx, command, "    "));
}

const NIGHTLY: &str = r#"{"type":"DEFINE_JOB","definition":{"job_id":"report","version":1,"retry":{"max_attempts":3,"initial_interval_ms":60000,"max_interval_ms":600000,"jitter_bp":1000,"non_retryable_error_codes":["BAD_INPUT"]},"timeouts":{"schedule_to_start_ms":600000,"start_to_close_ms":1800000,"heartbeat_ms":300000},"inputs":["marketdata/today"],"schedule":{"cron":"30 8 * * 1-5","timezone":"America/New_York"},"max_catch_up":2}}"#;

#[test]
fn scheduled_runs_gating_retries_and_timeouts() {
    insta::assert_snapshot!(check(&format!(r#"
        {NIGHTLY}
        {NIGHTLY}
        @2026-03-06T13:31:00Z
        PLAN
        RUN PLAN
        {{"type":"START_ATTEMPT","run_id":"run-0000"}}
        RUN PLAN
        {{"type":"OBSERVE_GATE","ref":"marketdata/today","status":"PASS"}}
        RUN PLAN
        RUN PLAN
        @2026-03-06T13:40:00Z
        {{"type":"HEARTBEAT","run_id":"RUNID"}}
        {{"type":"COMPLETE_ATTEMPT","run_id":"RUNID","outcome":"failed","error_code":"UPSTREAM_503","retryable":true}}
        RUN PLAN
        @2026-03-06T13:41:30Z
        RUN PLAN
        @2026-03-06T14:00:00Z
        PLAN
        RUN PLAN
        @2026-03-06T15:00:00Z
        RUN PLAN
        {{"type":"COMPLETE_ATTEMPT","run_id":"RUNID","outcome":"succeeded","retryable":true}}
    "#).replace("RUNID", ro_jobs::run_id(&"report".parse().unwrap(), &ro_jobs::LogicalKey::Time(Timestamp::parse_rfc3339("2026-03-06T13:30:00Z").unwrap()), ro_jobs::Intent::Scheduled).as_str())));
}

#[test]
fn catch_up_overlap_pause_drain_backfill_and_limits() {
    insta::assert_snapshot!(check(&format!(
        r#"
        {{"type":"DEFINE_POOL","pool":"gpu","max_running":1}}
        {NIGHTLY}
        {{"type":"DEFINE_JOB","definition":{{"job_id":"hourly","version":1,"pool":"gpu","max_concurrent":2,"schedule":{{"cron":"0 */12 * * *","timezone":"UTC"}},"overlap":"buffer_all","max_catch_up":3}}}}
        {{"type":"DEFINE_JOB","definition":{{"job_id":"hourly","version":1,"max_concurrent":0}}}}
        {{"type":"DEFINE_JOB","definition":{{"job_id":"bad","version":1,"schedule":{{"cron":"0 25 * * *","timezone":"UTC"}}}}}}
        @2026-03-09T18:05:00Z
        PLAN
        RUN PLAN
        @2026-03-09T18:06:00Z | the GPU pool is being serviced
        {{"type":"PAUSE_JOB","job_id":"hourly"}}
        @2026-03-09T19:05:00Z
        PLAN
        {{"type":"RESUME_JOB","job_id":"hourly"}}
        {{"type":"DRAIN_JOB","job_id":"report"}}
        {{"type":"BACKFILL","job_id":"report","from":"2026-03-02T00:00:00Z","to":"2026-03-07T00:00:00Z","max_runs":3}}
        {{"type":"BACKFILL","job_id":"report","from":"2026-03-02T00:00:00Z","to":"2026-03-07T00:00:00Z","max_runs":10}}
        {{"type":"BACKFILL","job_id":"report","from":"2026-03-02T00:00:00Z","to":"2026-03-07T00:00:00Z","max_runs":10}}
        {{"type":"REQUEST_RUN","job_id":"report","intent":"manual","partition":"2026-Q1"}}
        {{"type":"REQUEST_RUN","job_id":"report","intent":"manual","partition":"2026-Q1"}}
        {{"type":"REQUEST_RUN","job_id":"nope","intent":"manual"}}
        PLAN
    "#
    )));
}

#[test]
fn calendars_versions_and_ad_hoc_closures() {
    insta::assert_snapshot!(check(
        r#"
        @2026-07-01T12:00:00Z | calendar for the closing jobs
        {"type":"DEFINE_CALENDAR","calendar":{"name":"equities","version":1,"timezone":"America/New_York","weekmask":[true,true,true,true,true,false,false],"holidays":["2026-07-03"],"early_closes":{"2026-11-27":"13:00"}}}
        {"type":"DEFINE_CALENDAR","calendar":{"name":"equities","version":1,"timezone":"America/New_York","weekmask":[true,true,true,true,true,false,false]}}
        {"type":"DEFINE_CALENDAR","calendar":{"name":"broken","version":1,"timezone":"Nowhere/Atlantis","weekmask":[true,true,true,true,true,false,false]}}
        {"type":"DEFINE_JOB","definition":{"job_id":"close","version":1,"schedule":{"cron":"0 16 * * *","timezone":"America/New_York"},"calendar":"equities"}}
        {"type":"DEFINE_JOB","definition":{"job_id":"other","version":1,"calendar":"missing"}}
        @2026-07-02T21:00:00Z | closing auction
        PLAN
        @2026-07-06T21:00:00Z | closure announced for the 7th
        {"type":"OVERRIDE_CALENDAR_DATE","name":"equities","date":"2026-07-07","override":{"kind":"closed"}}
        {"type":"OVERRIDE_CALENDAR_DATE","name":"equities","date":"2026-07-07","override":{"kind":"closed"}}
        {"type":"OVERRIDE_CALENDAR_DATE","name":"nope","date":"2026-07-07","override":{"kind":"closed"}}
        RUN PLAN
        @2026-07-08T21:00:00Z
        PLAN
    "#
    ));
}

#[test]
fn a_run_records_the_command_line_and_exit_code_its_runner_reports() {
    let run = ro_jobs::run_id(
        &"readiness".parse().unwrap(),
        &ro_jobs::LogicalKey::Partition("2026-03-06".into()),
        ro_jobs::Intent::Manual,
    );
    insta::assert_snapshot!(check(&r#"
        {"type":"DEFINE_JOB","definition":{"job_id":"readiness","version":1,"retry":{"max_attempts":2,"initial_interval_ms":1000,"max_interval_ms":1000,"jitter_bp":0}}}
        {"type":"REQUEST_RUN","job_id":"readiness","intent":"manual","partition":"2026-03-06"}
        {"type":"START_ATTEMPT","run_id":"RUNID"}
        {"type":"COMPLETE_ATTEMPT","run_id":"RUNID","outcome":"succeeded","process":{"argv":["./scripts/readiness_check.sh"],"exit_code":2}}
        {"type":"COMPLETE_ATTEMPT","run_id":"RUNID","outcome":"failed","error_code":"EXIT_2","retryable":true,"process":{"argv":["./scripts/readiness_check.sh","--password=hunter2"],"exit_code":2}}
        {"type":"COMPLETE_ATTEMPT","run_id":"RUNID","outcome":"failed","error_code":"EXIT_2","retryable":true,"process":{"argv":[],"exit_code":2}}
        {"type":"COMPLETE_ATTEMPT","run_id":"RUNID","outcome":"failed","error_code":"EXIT_2","retryable":true,"process":{"argv":["./scripts/readiness_check.sh","--namespace","trading-floor"],"exit_code":2}}
        @2026-03-06T13:00:02Z
        RUN PLAN
        {"type":"START_ATTEMPT","run_id":"RUNID"}
        {"type":"COMPLETE_ATTEMPT","run_id":"RUNID","outcome":"succeeded","process":{"argv":["./scripts/readiness_check.sh","--namespace","trading-floor"],"exit_code":0}}
    "#.replace("RUNID", run.as_str())));
}
