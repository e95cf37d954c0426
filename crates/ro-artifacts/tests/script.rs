//! Data-driven artifact cases: a script of commands → the events or rejection each produced,
//! snapshotted with insta.
//!
//! Script lines: `@TIME KIND:ID` or `@TIME KIND:ID | reason`; `READ ref` prints a read's
//! outcome; `HANDOFF story` prints the handoff package; any other line is a command as JSON.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use ro_artifacts::{ArtifactCommand, Artifacts, Locator, StoryId};
use ro_core::{
    Actor, ActorId, Context, Kernel, Timestamp,
    testing::{check_replay, script},
};

fn check(script: &str) -> String {
    let mut kernel: Kernel<Artifacts> = Kernel::new();
    let mut ctx = Context::new(
        Timestamp::parse_rfc3339("2026-01-05T14:30:00Z").unwrap(),
        Actor::human(ActorId::new("ana").unwrap()),
    );
    let mut out = String::new();
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if script::context_line(line, &mut ctx) {
            continue;
        }
        if let Some(r) = line.strip_prefix("READ ") {
            match kernel.state().read(&Locator::new(r).unwrap()) {
                Ok(a) => out.push_str(&format!(
                    "{line} → ok {}\n",
                    serde_json::to_string(a).unwrap()
                )),
                Err(e) => {
                    out.push_str(&format!("{line} → {}: {e}\n", ro_core::Rejection::code(&e)))
                }
            }
            continue;
        }
        if let Some(story) = line.strip_prefix("HANDOFF ") {
            let package = kernel
                .state()
                .handoff_package(&StoryId::new(story).unwrap());
            out.push_str(&format!(
                "{line}\n{}\n",
                serde_json::to_string_pretty(&package).unwrap()
            ));
            continue;
        }
        out.push_str(&format!("{} {line}\n", ctx.actor));
        let command: ArtifactCommand = match serde_json::from_str(line) {
            Ok(c) => c,
            Err(e) => {
                out.push_str(&format!("  → BAD_COMMAND: {e}\n"));
                continue;
            }
        };
        out.push_str(&script::run(&mut kernel, &ctx, &command, "  "));
    }
    out.push_str(&format!("state {}\n", check_replay(&kernel)));
    out
}

const D1: &str = "0000000000000000000000000000000000000000000000000000000000000001";
const D2: &str = "0000000000000000000000000000000000000000000000000000000000000002";

#[test]
fn write_once_gates_and_mismatches() {
    insta::assert_snapshot!(check(&format!(
        r#"
        {{"type":"REGISTER_ARTIFACT","ref":"runs/r-1/fingerprint=ab/report.json","digest":"blake3:{D1}","size_bytes":2048,"schema_version":"1"}}
        {{"type":"REGISTER_ARTIFACT","ref":"runs/r-1/fingerprint=ab/report.json","digest":"blake3:{D1}","size_bytes":2048,"schema_version":"1"}}
        {{"type":"REGISTER_ARTIFACT","ref":"runs/r-1/fingerprint=ab/report.json","digest":"blake3:{D2}"}}
        {{"type":"REGISTER_ARTIFACT","ref":"runs/r-2/x.json","digest":"sha256:{D2}","digest_alg":"blake3"}}
        {{"type":"REGISTER_ARTIFACT","ref":"/etc/passwd","digest":"blake3:{D2}"}}
        {{"type":"REGISTER_ARTIFACT","ref":"runs/r-2/x.json","digest":"md5:{D2}"}}
        {{"type":"REGISTER_ARTIFACT","ref":"images/api","digest":"sha256:{D2}","class":"images"}}
        READ runs/r-1/fingerprint=ab/report.json
        READ nothing/here
        {{"type":"SET_ARTIFACT_GATE","ref":"runs/r-1/fingerprint=ab/report.json","status":"PENDING"}}
        {{"type":"SET_ARTIFACT_GATE","ref":"runs/r-1/fingerprint=ab/report.json","status":"PASS"}}
        READ runs/r-1/fingerprint=ab/report.json
        {{"type":"REPORT_DIGEST_MISMATCH","ref":"runs/r-1/fingerprint=ab/report.json","observed":"blake3:{D2}"}}
        READ runs/r-1/fingerprint=ab/report.json
        {{"type":"SET_MISMATCH_POSTURE","class":"images","posture":"warn"}}
        {{"type":"SET_ARTIFACT_GATE","ref":"images/api","status":"PASS"}}
        {{"type":"REPORT_DIGEST_MISMATCH","ref":"images/api","observed":"sha256:{D1}"}}
        READ images/api
    "#
    )));
}

#[test]
fn retention_tombstones_and_never_deletes() {
    insta::assert_snapshot!(check(&format!(
        r#"
        @2026-01-01T10:00:00Z service:runner
        {{"type":"REGISTER_ARTIFACT","ref":"reports/d-01","digest":"blake3:{D1}","class":"reports"}}
        @2026-01-02T10:00:00Z service:runner
        {{"type":"REGISTER_ARTIFACT","ref":"reports/d-02","digest":"blake3:{D1}","class":"reports"}}
        @2026-01-05T10:00:00Z service:runner
        {{"type":"REGISTER_ARTIFACT","ref":"reports/d-05","digest":"blake3:{D1}","class":"reports"}}
        @2026-01-06T10:00:00Z service:runner
        {{"type":"REGISTER_ARTIFACT","ref":"reports/d-06","digest":"blake3:{D1}","class":"reports"}}
        {{"type":"SET_ARTIFACT_GATE","ref":"reports/d-01","status":"PASS"}}
        @2026-01-06T11:00:00Z human:olga
        {{"type":"SET_RETENTION","class":"reports","policy":{{"keep_last":1,"keep_days":2,"trading_days":true}}}}
        @2026-01-06T11:00:00Z human:olga | keep two trading days of daily reports
        {{"type":"SET_RETENTION","class":"reports","policy":{{"keep_last":1,"keep_days":2,"trading_days":true}},"holidays":["2026-01-02"]}}
        @2026-01-06T12:00:00Z service:runner
        {{"type":"EXPIRE_ARTIFACTS"}}
        READ reports/d-01
        @2026-01-07T12:00:00Z service:runner
        {{"type":"EXPIRE_ARTIFACTS"}}
        {{"type":"EXPIRE_ARTIFACTS"}}
        READ reports/d-01
        READ reports/d-05
        {{"type":"SET_ARTIFACT_GATE","ref":"reports/d-01","status":"FAIL"}}
        {{"type":"REGISTER_ARTIFACT","ref":"reports/d-01","digest":"blake3:{D2}","class":"reports"}}
    "#
    )));
}

fn record(
    id: &str,
    author: &str,
    value_name: &str,
    tier: &str,
    lockability: &str,
    deps: &str,
) -> String {
    format!(
        r#"{{"derivation_id":"{id}","story":"s-2","value_name":"{value_name}","value":"0.7","units":"ratio","lockability":"{lockability}","cost_tier":"{tier}","artifact_path":"derivations/{id}.yaml","git_sha":"b06d4e3","input_hashes":["blake3:{D1}"],"code_version":"1.4.0","parameters":{{"window":"90d"}},"author":"{author}","repro_command":"make derive VALUE={value_name}","depends_on":[{deps}]}}"#
    )
}

#[test]
fn derivations_supersede_invalidate_and_hand_off() {
    let r = |id, author, value, tier, lock, deps| {
        let rec = record(id, author, value, tier, lock, deps);
        let mut v: serde_json::Value = serde_json::from_str(&rec).unwrap();
        v["type"] = "RECORD_DERIVATION".into();
        // Sorted keys whatever serde_json's features (its map keeps insertion order when a
        // crate in the build enables `preserve_order`).
        String::from_utf8(ro_core::canonical::value_to_canonical_vec(&v).unwrap()).unwrap()
    };
    let script = format!(
        r#"
        @2026-01-05T14:30:00Z human:ana
        {}
        {}
        {}
        {}
        {}
        {}
        {}
        {}
        {{"type":"HAND_OFF","story":"s-2","consumer":"lock-desk"}}
        {{"type":"REVIEW_DERIVATION","derivation_id":"cap"}}
        @2026-01-05T15:00:00Z human:rev
        {{"type":"REVIEW_DERIVATION","derivation_id":"cap"}}
        {{"type":"REVIEW_DERIVATION","derivation_id":"p90"}}
        {{"type":"REVIEW_DERIVATION","derivation_id":"budget"}}
        {{"type":"REVIEW_DERIVATION","derivation_id":"ctx"}}
        {{"type":"REVIEW_DERIVATION","derivation_id":"lean"}}
        HANDOFF s-2
        {{"type":"HAND_OFF","story":"s-2","consumer":"lock-desk"}}
        @2026-01-06T09:00:00Z human:ana
        {{"type":"SUPERSEDE_DERIVATION","derivation_id":"cap","replacement":{}}}
        {{"type":"SUPERSEDE_DERIVATION","derivation_id":"cap","replacement":{}}}
        {{"type":"REVIEW_DERIVATION","derivation_id":"budget"}}
        {{"type":"RECORD_INFEASIBLE","infeasible_id":"inf-1","story":"s-2","reason":"cost-data","trigger":"only tier D quotes","evidence_attempted":"three vendor quotes","allowed_next_action":"obtain audited cost data","blocked_downstream":"charter lock","required_remediation_artifact":"audited cost report","author":"ana"}}
        {{"type":"RECORD_INFEASIBLE","infeasible_id":"inf-2","story":"s-2","reason":"power","trigger":"","evidence_attempted":"x","allowed_next_action":"x","blocked_downstream":"x","required_remediation_artifact":"x","author":"ana"}}
        {{"type":"ROLLBACK_DERIVATION","derivation_id":"ctx"}}
        @2026-01-06T09:05:00Z human:ana | ctx used an exploratory outcome
        {{"type":"ROLLBACK_DERIVATION","derivation_id":"ctx"}}
        {{"type":"ROLLBACK_DERIVATION","derivation_id":"p90"}}
        {{"type":"RECORD_VIOLATION","story":"s-2","description":"a training job was launched to check a value"}}
        HANDOFF s-2
        "#,
        r("cap", "ana", "capacity", "n/a", "lockable", ""),
        r("p90", "ana", "p90_cost", "B", "lockable", r#""cap""#),
        r("budget", "ana", "budget", "A", "lockable", r#""p90""#),
        r("ctx", "ana", "cost_context", "C", "non-lockable", ""),
        r("bad-c", "ana", "cost_context2", "C", "lockable", ""),
        r("bad-d", "ana", "cost_tier_d", "D", "non-lockable", ""),
        r("bad-author", "rev", "someone_elses", "A", "lockable", ""),
        // Tier A and lockable, but resting on tier C context: not lockable.
        r("lean", "ana", "lean_value", "A", "lockable", r#""ctx""#),
        record("cap-2", "ana", "other_value", "A", "lockable", ""),
        record("cap-2", "ana", "capacity", "C", "non-lockable", ""),
    );
    insta::assert_snapshot!(check(&script));
}

#[test]
fn model_versions() {
    insta::assert_snapshot!(check(&format!(
        r#"
        {{"type":"REGISTER_ARTIFACT","ref":"models/m1/weights.bin","digest":"blake3:{D1}"}}
        {{"type":"REGISTER_MODEL","metadata":{{"version":"M-MyModel-V1"}}}}
        {{"type":"REGISTER_MODEL","metadata":{{"version":"M-MyModel-V1"}}}}
        {{"type":"REGISTER_MODEL","metadata":{{"version":"M-MyModel-V1","note":"other"}}}}
        {{"type":"REGISTER_MODEL","metadata":{{"version":"M-MyModel-V2","lr":0.01}}}}
        {{"type":"REGISTER_MODEL","metadata":{{"name":"no version"}}}}
        {{"type":"REGISTER_MODEL","metadata":{{"version":"M-MyModel-V2","layers":12}},"artifacts":["models/m1/weights.bin"]}}
        {{"type":"REGISTER_MODEL","metadata":{{"version":"M-MyModel-V3"}},"artifacts":["models/missing.bin"]}}
    "#
    )));
}

#[test]
fn derivation_content_rules_no_placeholders_digests_that_are_digests() {
    let base = record("v-1", "ana", "capacity", "A", "lockable", "");
    let variant = |from: &str, to: &str| {
        let mut v: serde_json::Value = serde_json::from_str(&base.replace(from, to)).unwrap();
        v["type"] = "RECORD_DERIVATION".into();
        String::from_utf8(ro_core::canonical::value_to_canonical_vec(&v).unwrap()).unwrap()
    };
    let script = format!(
        "@2026-01-05T14:30:00Z human:ana\n{}\n{}\n{}\n{}\n{}\n",
        variant(r#""value":"0.7""#, r#""value":"TBD""#),
        variant(r#""units":"ratio""#, r#""units":"""#),
        variant(r#""code_version":"1.4.0""#, r#""code_version":" ""#),
        variant(&format!(r#""blake3:{D1}""#), r#""not-a-hash""#),
        variant(
            r#""artifact_path":"derivations/v-1.yaml""#,
            r#""mlflow_run_id":"run-42""#
        ),
    );
    insta::assert_snapshot!(check(&script));
}
