//! Schedules that fire: `TICK` turns due occurrences into runs, through the `ro` binary on real
//! stores, over a simulated week that crosses the March daylight-saving change and a holiday.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod common;

use common::{json_lines, ro, scratch};
use serde_json::Value;

/// The day-1 schedule table (America/New_York, Monday to Friday, trading days only).
const JOBS: [(&str, &str); 5] = [
    ("pre-market-t60", "30 8 * * 1-5"),
    ("pre-market-t15", "15 9 * * 1-5"),
    ("open-posture-t5", "35 9 * * 1-5"),
    ("post-market-t30", "30 16 * * 1-5"),
    ("lkg-capture", "0 17 * * 1-5"),
];

/// The definitions: an equities calendar with a closure on Tuesday 2026-03-10, and the five
/// jobs on it.
fn definitions() -> String {
    let mut out = String::from(
        r#"{"type":"DEFINE_CALENDAR","calendar":{"name":"equities","version":1,"timezone":"America/New_York","weekmask":[true,true,true,true,true,false,false],"holidays":["2026-03-10"]},"at":"2026-03-05T00:00:00Z"}"#,
    );
    out.push('\n');
    for (job, cron) in JOBS {
        out.push_str(&format!(
            r#"{{"type":"DEFINE_JOB","definition":{{"job_id":"{job}","version":1,"max_concurrent":1,"schedule":{{"cron":"{cron}","timezone":"America/New_York"}},"calendar":"equities","overlap":"buffer_all","max_catch_up":1}},"at":"2026-03-05T00:00:00Z"}}"#
        ));
        out.push('\n');
    }
    out
}

/// `TICK` lines every five minutes in `[from, to)` (Unix seconds).
fn ticks(from: i64, to: i64) -> String {
    let mut out = String::new();
    let mut t = from;
    while t < to {
        let at = time::OffsetDateTime::from_unix_timestamp(t)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        out.push_str(&format!("{{\"type\":\"TICK\",\"at\":\"{at}\"}}\n"));
        t += 300;
    }
    out
}

const THU_MAR_5: i64 = 1_772_668_800; // 2026-03-05T00:00:00Z
const MON_MAR_9: i64 = THU_MAR_5 + 4 * 86_400;
const THU_MAR_12: i64 = THU_MAR_5 + 7 * 86_400;

/// Every event of every response, as `(type, job, logical time or run, run id)`.
fn scheduled(responses: &[Value]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for response in responses {
        for event in response["events"].as_array().into_iter().flatten() {
            let body = &event["event"]["event"];
            match body["type"].as_str() {
                Some("RunRequested") => out.push((
                    body["job_id"].as_str().unwrap().to_owned(),
                    body["logical"]["time"].as_str().unwrap().to_owned(),
                    body["run_id"].as_str().unwrap().to_owned(),
                )),
                Some("SlotSkipped") => out.push((
                    body["job_id"].as_str().unwrap().to_owned(),
                    body["logical_time"].as_str().unwrap().to_owned(),
                    format!("skipped:{}", body["reason"].as_str().unwrap()),
                )),
                _ => {}
            }
        }
    }
    out
}

fn init(store: &std::path::Path) {
    let out = ro(
        store,
        &[
            "init",
            "--posture",
            "unlocked",
            "--admin",
            "alice",
            "--at",
            "2026-03-05T00:00:00Z",
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    let out = ro(
        store,
        &[
            "apply",
            "--reason",
            "per runbook",
            "--history",
            "--actor",
            "alice",
        ],
        &definitions(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn apply(store: &std::path::Path, lines: &str) -> Vec<Value> {
    let out = ro(
        store,
        &[
            "apply",
            "--reason",
            "per runbook",
            "--history",
            "--actor",
            "alice",
        ],
        lines,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    json_lines(&out)
}

/// The expected runs, written out by hand: before Sunday 2026-03-08 New York is at UTC−5,
/// after it at UTC−4; Tuesday 2026-03-10 is closed; Saturday and Sunday are not trading days.
fn expected() -> Vec<(String, String)> {
    let days = [
        ("2026-03-05", 5),
        ("2026-03-06", 5),
        ("2026-03-09", 4),
        ("2026-03-11", 4),
    ];
    let local = [(8, 30), (9, 15), (9, 35), (16, 30), (17, 0)];
    let mut out = Vec::new();
    for (day, offset) in days {
        for ((job, _), (h, m)) in JOBS.iter().zip(local) {
            out.push((
                job.to_string(),
                format!("{day}T{:02}:{m:02}:00Z", h + offset),
            ));
        }
    }
    out.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    out
}

#[test]
fn the_day_one_table_fires_exactly_its_runs_across_dst_a_holiday_and_a_restart() {
    let whole = scratch("schedule", "whole");
    init(&whole);
    let once = scheduled(&apply(&whole, &ticks(THU_MAR_5, THU_MAR_12)));

    let mut fired: Vec<(String, String)> = once
        .iter()
        .map(|(j, t, _)| (j.clone(), t.clone()))
        .collect();
    fired.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    assert_eq!(
        fired,
        expected(),
        "exactly the day-1 occurrences, each once"
    );
    assert!(
        once.iter().all(|(_, _, r)| !r.starts_with("skipped")),
        "nothing skipped"
    );

    // The same week with a restart in the middle (two processes): the same runs, same ids.
    let split = scratch("schedule", "split");
    init(&split);
    let mut twice = scheduled(&apply(&split, &ticks(THU_MAR_5, MON_MAR_9)));
    twice.extend(scheduled(&apply(&split, &ticks(MON_MAR_9, THU_MAR_12))));
    assert_eq!(
        twice, once,
        "a restart changes nothing: same occurrences, same run ids"
    );

    // Ticking the last instant again fires nothing more (at most once per occurrence).
    let again = scheduled(&apply(&split, &ticks(THU_MAR_12 - 300, THU_MAR_12)));
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn downtime_is_caught_up_by_each_jobs_limit_and_the_rest_recorded_as_skipped() {
    let store = scratch("schedule", "downtime");
    init(&store);
    // The host is down from Thursday 00:00 to Saturday 00:00 New York time: Thursday's and
    // Friday's occurrences are missed; with max_catch_up 1, only Friday's run, Thursday's are
    // recorded as skipped.
    let events = scheduled(&apply(
        &store,
        &ticks(
            THU_MAR_5 + 2 * 86_400 + 5 * 3_600,
            THU_MAR_5 + 2 * 86_400 + 5 * 3_600 + 300,
        ),
    ));
    let runs: Vec<_> = events
        .iter()
        .filter(|(_, _, r)| !r.starts_with("skipped"))
        .collect();
    let skipped: Vec<_> = events
        .iter()
        .filter(|(_, _, r)| r == "skipped:catch_up_limit")
        .collect();
    assert_eq!(runs.len(), 5, "{events:?}");
    assert!(
        runs.iter().all(|(_, t, _)| t.starts_with("2026-03-06")),
        "{runs:?}"
    );
    assert_eq!(skipped.len(), 5, "{events:?}");
    assert!(
        skipped.iter().all(|(_, t, _)| t.starts_with("2026-03-05")),
        "{skipped:?}"
    );
}

#[test]
fn under_the_locked_posture_only_read_only_jobs_fire_and_nothing_is_refused_per_tick() {
    let store = scratch("schedule", "locked");
    let out = ro(
        &store,
        &["init", "--admin", "alice", "--at", "2026-03-05T00:00:00Z"],
        "",
    );
    assert!(out.status.success());
    let definitions = [("report", true), ("trade", false)]
        .map(|(job, read_only)| {
            format!(
                r#"{{"type":"DEFINE_JOB","definition":{{"job_id":"{job}","version":1,"schedule":{{"cron":"0 * * * *","timezone":"UTC"}},"read_only":{read_only}}},"at":"2026-03-05T00:00:00Z"}}"#
            )
        })
        .join("\n");
    let input = format!(
        "{definitions}\n{}",
        ticks(THU_MAR_5, THU_MAR_5 + 3 * 3600 + 1)
    );
    let out = ro(
        &store,
        &[
            "apply",
            "--reason",
            "per runbook",
            "--history",
            "--actor",
            "alice",
        ],
        &input,
    );
    let responses = json_lines(&out);
    let events: Vec<&Value> = responses
        .iter()
        .flat_map(|r| r["events"].as_array().unwrap())
        .collect();
    let requested: Vec<&str> = events
        .iter()
        .filter(|e| e["event"]["event"]["type"] == "RunRequested")
        .map(|e| e["event"]["event"]["job_id"].as_str().unwrap())
        .collect();
    // The read-only report fires (then its later slots overlap the attempt still running);
    // the trading job waits for execution to open, its older slots skipped by its catch-up
    // limit as they fall behind.
    assert_eq!(requested, ["report"], "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| e["event"]["event"]["type"] == "AttemptStarted")
    );
    assert!(
        !events
            .iter()
            .any(|e| e["event"]["event"]["type"] == "AccessDenied"),
        "no refusal is recorded tick after tick"
    );
}
