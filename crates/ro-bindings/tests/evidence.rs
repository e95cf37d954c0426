//! Evidence on disk, end to end through the `ro` binary: bundles whose manifest verifies
//! against the journal (and fails, naming the file, when anything is changed, added or
//! belongs to another plane), and incident files named by their UUID.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod common;

use common::{json_lines, ro, scratch};
use serde_json::Value;

const T0: &str = "2026-03-02T12:00:00Z";
const AT: &str = "2026-03-02T14:05:00Z";

/// A plane in the default (locked) posture with a component, a readiness NO-GO, a job run
/// that reported its command line, and a failure.
fn history(name: &str) -> common::Scratch {
    let store = scratch("evidence", name);
    let out = ro(&store, &["init", "--admin", "alice", "--at", T0], "");
    assert!(out.status.success(), "{out:?}");
    let out = ro(
        &store,
        &[
            "principal",
            "add",
            "runner",
            "--kind",
            "service",
            "--role",
            "operator",
            "--actor",
            "alice",
            "--reason",
            "onboarding",
            "--at",
            T0,
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    let lines = [
        r#"{"type":"DEFINE_CALENDAR","calendar":{"name":"nyse","version":1,"timezone":"America/New_York","weekmask":[true,true,true,true,true,false,false],"session":{"open":"09:30","close":"16:00"}},"at":"2026-03-02T12:00:00Z"}"#,
        r#"{"type":"CONFIGURE_ALERTS","calendar":"nyse","rules":[],"at":"2026-03-02T12:00:00Z"}"#,
        r#"{"type":"DEFINE_JOB","definition":{"job_id":"readiness","version":1,"read_only":true,"schedule":{"cron":"30 8 * * 1-5","timezone":"America/New_York"}},"at":"2026-03-02T12:00:00Z"}"#,
        r#"{"type":"REPORT_COMPONENT","component":"marketdata","healthy":true,"critical":true,"fresh_for_ms":7200000,"at":"2026-03-02T13:00:00Z"}"#,
        r#"{"type":"REGISTER_ARTIFACT","ref":"audit/readiness.json","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001","at":"2026-03-02T13:30:00Z"}"#,
        r#"{"type":"RECORD_READINESS","result":"NO_GO","evidence":"audit/readiness.json","at":"2026-03-02T13:30:00Z"}"#,
        r#"{"type":"REQUEST_RUN","job_id":"readiness","intent":"manual","partition":"2026-03-02","at":"2026-03-02T13:31:00Z"}"#,
    ];
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
        &(lines.join("\n") + "\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let run = json_lines(&out)[6]["events"][0]["event"]["event"]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let runner = [
        format!(r#"{{"type":"START_ATTEMPT","run_id":"{run}","at":"2026-03-02T13:32:00Z"}}"#),
        format!(
            r#"{{"type":"COMPLETE_ATTEMPT","run_id":"{run}","outcome":"succeeded","process":{{"argv":["./scripts/readiness_check.sh","--namespace","trading-floor"],"exit_code":0}},"at":"2026-03-02T13:33:00Z"}}"#
        ),
    ];
    let out = ro(
        &store,
        &[
            "apply",
            "--reason",
            "per runbook",
            "--history",
            "--actor",
            "runner",
        ],
        &(runner.join("\n") + "\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
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
        "{\"type\":\"REPORT_FAILURE\",\"mode\":\"DEGRADED\",\"description\":\"latency above 50 ms\",\"at\":\"2026-03-02T13:40:00Z\"}\n",
    );
    assert!(out.status.success(), "{out:?}");
    store
}

fn one(out: &std::process::Output) -> Value {
    let lines = json_lines(out);
    assert_eq!(lines.len(), 1, "{out:?}");
    lines[0].clone()
}

#[test]
fn a_bundle_verifies_against_the_journal_and_any_change_is_named() {
    let store = history("bundle");
    let dir = store.with_file_name("audit_artifacts");
    let dir_arg = dir.to_str().unwrap();
    let out = ro(
        &store,
        &[
            "evidence",
            "--dir",
            dir_arg,
            "--bundle",
            "pre-market",
            "--at",
            AT,
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    let written = one(&out);
    let bundle = std::path::PathBuf::from(written["bundle_dir"].as_str().unwrap());
    assert!(
        bundle.ends_with("ops_runs/20260302T140500Z_pre_market"),
        "{bundle:?}"
    );
    let manifest = &written["manifest"];
    let files: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for expected in [
        "readiness_report.json",
        "readiness_report.md",
        "deploy_report.json",
        "lkg_manifest.yaml",
        "lkg_metadata.json",
        "config_snapshot.json",
        "inventory.json",
        "runs.json",
        "alerts.json",
        "status.json",
    ] {
        assert!(files.contains(&expected), "{expected} in {files:?}");
    }
    // What the files say: a NO-GO under the locked posture, market open (09:05 New York is
    // before the open: MARKET_CLOSED), the run's command line and exit code, the alerts.
    let read = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(bundle.join(name)).unwrap()).unwrap()
    };
    let readiness = read("readiness_report.json");
    assert_eq!(readiness["verdict"], "NO_GO");
    assert_eq!(readiness["status"]["state"], "MARKET_CLOSED", "{readiness}");
    assert_eq!(
        readiness["status"]["safety"]["safe_to_execute_orders"],
        false
    );
    let runs = read("runs.json");
    let attempt = &runs["runs"][0]["attempts"][0];
    assert_eq!(attempt["process"]["exit_code"], 0, "{runs}");
    assert_eq!(
        attempt["process"]["argv"][0],
        "./scripts/readiness_check.sh"
    );
    let alerts = read("alerts.json");
    let triggers: Vec<&str> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["trigger"].as_str().unwrap())
        .collect();
    assert_eq!(
        triggers,
        ["READINESS_NOT_GO", "FAILURE_REPORTED"],
        "{alerts}"
    );
    let inventory = read("inventory.json");
    assert_eq!(inventory["scheduled_jobs"][0]["job_id"], "readiness");
    // The latest reports are also where the playbook looks for them.
    assert_eq!(
        std::fs::read(dir.join("readiness_report.json")).unwrap(),
        std::fs::read(bundle.join("readiness_report.json")).unwrap()
    );

    let verify = |store: &std::path::Path| {
        let out = ro(
            store,
            &["evidence", "--verify", bundle.to_str().unwrap()],
            "",
        );
        (out.status.code(), one(&out))
    };
    let (code, report) = verify(&store);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["files_checked"], files.len());
    // The same instant again: evidence is never overwritten.
    let again = ro(
        &store,
        &[
            "evidence",
            "--dir",
            dir_arg,
            "--bundle",
            "pre-market",
            "--at",
            AT,
        ],
        "",
    );
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    assert_eq!(one(&again)["error"]["code"], "INVALID_ARGUMENT");
    // Later records do not change what the journal proves of the bundle.
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
        "{\"type\":\"REPORT_COMPONENT\",\"component\":\"marketdata\",\"healthy\":false,\"critical\":true,\"at\":\"2026-03-02T14:10:00Z\"}\n",
    );
    assert!(out.status.success());
    assert_eq!(verify(&store).0, Some(0));

    // An edited file, named.
    let path = bundle.join("readiness_report.json");
    let original = std::fs::read(&path).unwrap();
    std::fs::write(
        &path,
        String::from_utf8_lossy(&original).replace("NO_GO", "GO"),
    )
    .unwrap();
    let (code, report) = verify(&store);
    assert_eq!(code, Some(1));
    assert_eq!(
        report["problems"][0], "readiness_report.json: its digest differs from the manifest",
        "{report}"
    );
    std::fs::write(&path, &original).unwrap();
    // A file slipped in.
    std::fs::write(bundle.join("extra.json"), "{}").unwrap();
    let (code, report) = verify(&store);
    assert_eq!(code, Some(1));
    assert_eq!(
        report["problems"][0],
        "extra.json: not listed in the manifest"
    );
    std::fs::remove_file(bundle.join("extra.json")).unwrap();
    // A file and its manifest entry edited together: the journal does not give it.
    let manifest_path = bundle.join("manifest.json");
    let manifest_text = std::fs::read_to_string(&manifest_path).unwrap();
    let forged = String::from_utf8_lossy(&original).replace("NO_GO", "GO");
    std::fs::write(&path, &forged).unwrap();
    let mut forged_manifest: Value = serde_json::from_str(&manifest_text).unwrap();
    for f in forged_manifest["files"].as_array_mut().unwrap() {
        if f["path"] == "readiness_report.json" {
            f["blake3"] = Value::String(ro_core::Digest::of(forged.as_bytes()).to_string());
            f["bytes"] = forged.len().into();
        }
    }
    std::fs::write(&manifest_path, forged_manifest.to_string()).unwrap();
    let (code, report) = verify(&store);
    assert_eq!(code, Some(1));
    assert_eq!(
        report["problems"][0],
        format!(
            "readiness_report.json: not what the journal gives at seq {}",
            manifest["journal"]["head_seq"]
        ),
        "{report}"
    );
    std::fs::write(&path, &original).unwrap();
    std::fs::write(&manifest_path, &manifest_text).unwrap();
    assert_eq!(verify(&store).0, Some(0));
    // Another plane's journal does not hold this bundle's head (the same history would: a
    // plane is its journal).
    let other = scratch("evidence", "other-plane");
    assert!(
        ro(&other, &["init", "--admin", "bob", "--at", T0], "")
            .status
            .success()
    );
    let (code, report) = verify(&other);
    assert_eq!(code, Some(1));
    assert!(
        report["problems"][0]
            .as_str()
            .unwrap()
            .contains("is not the manifest's head"),
        "{report}"
    );
}

#[test]
fn incidents_are_written_once_by_uuid_with_the_state_at_detection() {
    let store = history("incidents");
    let dir = store.with_file_name("failures");
    let dir_arg = dir.to_str().unwrap();
    let out = ro(&store, &["report", "incidents", "--dir", dir_arg], "");
    assert!(out.status.success(), "{out:?}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["written"], true);
    let id = lines[0]["incident_id"].as_str().unwrap();
    // A version-8 UUID, the one HEARTBEAT names.
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "8");
    let heartbeat = json_lines(&ro(
        &store,
        &[
            "apply",
            "--reason",
            "per runbook",
            "--history",
            "--actor",
            "alice",
        ],
        "{\"type\":\"HEARTBEAT\"}\n",
    ))[0]
        .clone();
    assert_eq!(heartbeat["result"]["open_incidents"][0]["incident_id"], id);
    let file = dir.join(format!("incident_{id}.json"));
    let body: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(body["mode"], "DEGRADED");
    assert_eq!(
        body["audit_hash"],
        heartbeat["result"]["open_incidents"][0]["audit_hash"]
    );
    let seq = body["audit_seq"].as_u64().unwrap();
    assert_eq!(body["state_snapshot"]["summary"]["head_seq"], seq);
    assert_eq!(
        body["reproduce"],
        format!("ro --store STORE status --at-seq {seq}")
    );
    // The snapshot is the state `status --at-seq` rebuilds.
    let rebuilt = one(&ro(&store, &["status", "--at-seq", &seq.to_string()], ""));
    assert_eq!(
        body["state_snapshot"]["summary"]["state_digest"],
        rebuilt["state_digest"]
    );
    // Again: the same bytes, nothing written; an edited file is refused, not overwritten.
    let again = json_lines(&ro(&store, &["report", "incidents", "--dir", dir_arg], ""));
    assert_eq!(again[0]["written"], false);
    assert_eq!(again[0]["blake3"], lines[0]["blake3"]);
    std::fs::write(&file, "{}").unwrap();
    let out = ro(&store, &["report", "incidents", "--dir", dir_arg], "");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{}");
}
