//! The JSON Schema contracts: the checked-in file is what `ro schema` prints, and documents
//! the host reads and writes validate against it (checked by an independent validator).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use std::path::PathBuf;

use ro_bindings::{host, protocol, schema};
use ro_core::{ActorId, Timestamp};
use serde_json::{Value, json};

fn contracts_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(schema::CONTRACTS_PATH)
}

#[test]
fn the_checked_in_schema_is_current() {
    check_current(
        &contracts_file(),
        &schema::contracts_text(),
        &format!("ro schema > {}", schema::CONTRACTS_PATH),
    );
}

/// Fails unless the file at `path` holds `generated` (with `RO_UPDATE_CONTRACTS` set, writes
/// it instead); `by_hand` says how to regenerate it.
fn check_current(path: &std::path::Path, generated: &str, by_hand: &str) {
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    if generated != checked_in {
        if std::env::var_os("RO_UPDATE_CONTRACTS").is_some() {
            std::fs::write(path, generated).unwrap();
            return;
        }
        panic!(
            "{} is out of date: run `RO_UPDATE_CONTRACTS=1 cargo test -p ro-bindings --test contracts` \
             (or `{by_hand}`) and review the diff",
            path.display(),
        );
    }
}

#[test]
fn the_checked_in_openapi_description_is_current() {
    let generated = ro_bindings::openapi::document_text();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contracts/ro_http_api_v0.openapi.json");
    check_current(
        &path,
        &generated,
        "ro schema --openapi > contracts/ro_http_api_v0.openapi.json",
    );
    // Every schema it references is one it holds.
    let document: Value = serde_json::from_str(&generated).unwrap();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let mut missing = Vec::new();
    collect_missing_refs(&document, schemas, &mut missing);
    assert!(missing.is_empty(), "{missing:?}");
}

fn collect_missing_refs(
    value: &Value,
    schemas: &serde_json::Map<String, Value>,
    missing: &mut Vec<String>,
) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                match target.strip_prefix("#/components/schemas/") {
                    Some(name) if schemas.contains_key(name) => {}
                    _ => missing.push(target.clone()),
                }
            }
            map.values()
                .for_each(|v| collect_missing_refs(v, schemas, missing));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| collect_missing_refs(v, schemas, missing)),
        _ => {}
    }
}

/// A validator for one definition of the contract document (the root for `Request`).
fn validator(def: &str) -> jsonschema::Validator {
    let mut document = schema::contracts();
    document["$ref"] = Value::String(format!("#/$defs/{def}"));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&document)
        .unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(5)
        .collect();
    assert!(
        errors.is_empty(),
        "{what} is invalid: {errors:#?}\n{instance}"
    );
}

const RUNBOOK: &[&str] = &[
    r#"{ "type": "REGISTER_MODEL", "metadata": { "version": "M-MyModel-V1" } }"#,
    r#"{ "type": "SET_CANDIDATE_MODEL", "version": "M-MyModel-V1" }"#,
    r#"{ "type": "SET_CANARY_RATIO", "ratio": 0.05 }"#,
    r#"{ "type": "PROMOTE_CANDIDATE", "operator_id": "Op-01" }"#,
    r#"{ "type": "PROMOTE_CANDIDATE", "operator_id": "Op-01", "confirmation_token": "TOKEN_HERE" }"#,
    r#"{ "type": "EMERGENCY_LOCKDOWN", "operator_id": "Op-01" }"#,
    r#"{ "type": "UNRELEASE_LOCKDOWN", "operator_id": "Op-01" }"#,
    r#"{ "type": "ROLLBACK_MODEL", "operator_id": "Op-01" }"#,
    r#"{ "type": "RESET_FAILURE_STATUS", "operator_id": "Op-01" }"#,
    r#"{ "type": "HEARTBEAT" }"#,
    r#"{ "type": "TICK" }"#,
    r#"{ "type": "RECORD_COST", "unit_id": "u-1", "cost_micros": 9007199254740991 }"#,
    r#"{ "type": "RECORD_CYCLE", "intent": "HOLD", "latency_ms": 12, "violation": false, "survived": true }"#,
    r#"{ "type": "RESUME_JOB", "job_id": "report", "operator_id": "Op-01", "confirmation_token": "TOKEN_HERE" }"#,
    r#"{ "type": "EMERGENCY_LOCKDOWN", "operator_id": "Op-01", "signature": { "key_id": "k-1", "sig": "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000", "nonce": "runbook-0001" } }"#,
];

/// Documents the schema must refuse, each for a reason the decoder refuses them too.
const REFUSED: &[&str] = &[
    r#"{ "type": "DEFINE_POOL", "pool": "batch", "max_running": 4294967296 }"#,
    r#"{ "type": "RECORD_COST", "unit_id": "u-1", "cost_micros": 9007199254740992 }"#,
    r#"{ "type": "RECORD_COST", "unit_id": "u-1", "cost_micros": 18446744073709551615 }"#,
    r#"{ "type": "EMERGENCY_LOCKDOWN", "operator_id": "Op-01", "actor": { "id": "Op-01", "kind": "human" } }"#,
    r#"{ "type": "EMERGENCY_LOCKDOWN", "operator_id": "Op-01", "signature": { "key_id": "k-1", "sig": "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" } }"#,
    r#"{ "type": "EMERGENCY_LOCKDOWN", "operator_id": "Op-01", "signature": { "key_id": "k-1", "sig": "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000", "nonce": "short" } }"#,
    r#"{ "type": "EMERGENCY_LOCKDOWN", "operator_id": "Op-01", "colour": "red" }"#,
    r#"{ "type": "LAUNCH_MISSILES" }"#,
    r#"{ "operator_id": "Op-01" }"#,
    r#"{ "type": "SET_CANARY_RATIO", "ratio": 1.5 }"#,
    r#"{ "type": "SET_CANARY_RATIO", "ratio": "lots" }"#,
    r#"{ "type": "GRANT_ROLE", "principal": "ana" }"#,
    r#"{ "type": "GRANT_ROLE", "principal": "ana smith", "role": "analyst" }"#,
    r#"{ "type": "REGISTER_ARTIFACT", "ref": "a/b", "digest": "md5:00" }"#,
    r#"{ "type": "EMERGENCY_LOCKDOWN", "at": "yesterday" }"#,
    r#"{ "type": "EMERGENCY_LOCKDOWN", "operator_id": "a", "actor": {"id": "b", "kind": "human"} }"#,
    r#"{ "type": "RECORD_CYCLE", "intent": "hold" }"#,
    r#"{ "type": "HEARTBEAT", "run_id": "run-1", "extra": 1 }"#,
    r#"{ "type": "EMERGENCY_LOCKDOWN", "signature": { "key_id": "k-1" } }"#,
];

#[test]
fn every_document_the_decoder_accepts_validates_and_refused_ones_do_not() {
    let requests = validator("Request");
    let demo = include_str!("../src/demo.jsonl");
    // The host clock is past every document's `at` (a document may not be ahead of it).
    let now = Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").unwrap();
    let alice = ro_core::Actor::human(ActorId::new("alice").unwrap());
    for line in demo
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("//"))
        .chain(RUNBOOK.iter().copied())
    {
        assert!(
            protocol::decode(line, Some(&alice), now).is_ok(),
            "the decoder refuses {line}"
        );
        assert_valid(&requests, &serde_json::from_str(line).unwrap(), line);
    }
    for line in REFUSED {
        assert!(
            protocol::decode(line, Some(&alice), now).is_err(),
            "the decoder accepts {line}"
        );
        assert!(
            !requests.is_valid(&serde_json::from_str(line).unwrap()),
            "the schema accepts {line}"
        );
    }
}

#[test]
fn responses_events_and_admin_records_validate() {
    let responses = validator("Response");
    let envelopes = validator("Envelope");
    let admin = validator("AdminEvent");
    let dir = std::env::temp_dir().join(format!("ro-contracts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("contracts.db");
    for suffix in ["", "-wal", "-shm", ".keys"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let at = Timestamp::parse_rfc3339("2026-03-02T13:00:00Z").unwrap();
    // The demo's administrator, so that the demo's lines take effect; the extra lines come
    // after them in time.
    let op = ActorId::new("alice").unwrap();
    let mut store = host::init(&path, &op, at).unwrap();
    // The host clock follows the documents' `at` (a simulated host, as `ro demo` runs): a
    // document may not be ahead of it, and a confirmation is dated by it.
    let mut clock = at;
    let extra = [
        r#"{"type":"CONFIGURE_SHADOW_WINDOW","cycles":1,"at":"2026-03-02T13:40:00Z"}"#,
        r#"{"type":"REGISTER_MODEL","metadata":{"version":"M-A-V1"},"at":"2026-03-02T13:40:00Z"}"#,
        r#"{"type":"SET_CANDIDATE_MODEL","version":"M-A-V1","at":"2026-03-02T13:40:00Z"}"#,
        r#"{"type":"RECORD_CYCLE","intent":"HOLD","latency_ms":3,"survived":true,"at":"2026-03-02T13:40:00Z"}"#,
        r#"{"type":"PROMOTE_CANDIDATE","at":"2026-03-02T13:40:00Z"}"#,
        r#"{"type":"REPORT_FAILURE","mode":"DEGRADED","description":"drift","at":"2026-03-02T13:40:00Z"}"#,
        r#"{"type":"HEARTBEAT","at":"2026-03-02T13:40:00Z"}"#,
        r#"{"type":"HEALTH_CHECKLIST","at":"2026-03-02T13:40:00Z"}"#,
        r#"{"type":"HANDOFF_PACKAGE","story":"s-1","at":"2026-03-02T13:40:00Z"}"#,
        "not json",
    ];
    let demo = include_str!("../src/demo.jsonl");
    let mut seen = 0;
    let mut typed_results = 0;
    for line in demo
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("//"))
        .chain(extra)
    {
        if let Some(named) = serde_json::from_str::<Value>(line)
            .ok()
            .and_then(|v| v.get("at")?.as_str().map(Timestamp::parse_rfc3339))
            .and_then(Result::ok)
        {
            clock = clock.max(named);
        }
        let (_, response) = host::execute_line(store.kernel_mut(), line, Some(&op), clock);
        assert_valid(&responses, &response, &format!("the response to {line}"));
        // A query's result has the shape the schema names for its type.
        let alice = ro_core::Actor::human(op.clone());
        if let Ok(protocol::Decoded {
            request: protocol::Request::Query(_),
            ..
        }) = protocol::decode(line, Some(&alice), clock)
            && response["ok"] == true
        {
            let ty = serde_json::from_str::<Value>(line).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned();
            let typed = validator(&format!("QueryResults/properties/{ty}"));
            assert_valid(
                &typed,
                &response["result"],
                &format!("the result of {line}"),
            );
            typed_results += 1;
        }
        if let Some(token) = response.get("confirmation_token").and_then(Value::as_str) {
            let second = protocol::with_confirmation_token(line, token).unwrap();
            let (ok, response) = host::execute_line(store.kernel_mut(), &second, Some(&op), clock);
            assert!(ok, "{response}");
            assert_valid(&responses, &response, &format!("the response to {second}"));
        }
        seen += 1;
    }
    assert!(seen > 30);
    assert!(
        typed_results >= 10,
        "{typed_results} query results checked by type"
    );
    // Every query type has its result shape.
    let document = schema::contracts();
    let defs = &document["$defs"];
    for variant in defs["Request"]["oneOf"].as_array().unwrap() {
        let is_query = variant["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Query ("));
        if let (true, Some(ty)) = (is_query, variant["properties"]["type"]["const"].as_str()) {
            assert!(
                defs["QueryResults"]["properties"].get(ty).is_some(),
                "no result shape for the query {ty}"
            );
        }
    }
    store.commit().unwrap();
    let mut audit = Vec::new();
    host::audit(&store, &mut audit).unwrap();
    for line in String::from_utf8(audit).unwrap().lines() {
        assert_valid(&envelopes, &serde_json::from_str(line).unwrap(), line);
    }
    let mut records = Vec::new();
    host::admin_audit(&store, &mut records).unwrap();
    let records = String::from_utf8(records).unwrap();
    assert!(records.lines().count() > 10);
    for line in records.lines() {
        assert_valid(&admin, &serde_json::from_str(line).unwrap(), line);
    }
    let signature_log = validator("SignatureLog");
    let mut logs = Vec::new();
    assert!(host::signature_logs(&store, None, &mut logs).unwrap() > 0);
    let logs = String::from_utf8(logs).unwrap();
    assert!(logs.contains("\"verified\":true"), "{logs}");
    for line in logs.lines() {
        assert_valid(&signature_log, &serde_json::from_str(line).unwrap(), line);
    }
    // The definitions refuse what they should.
    assert!(!responses.is_valid(&json!({ "ok": true })));
    assert!(
        !responses
            .is_valid(&json!({ "ok": true, "seq": 1, "events": [], "result": {}, "extra": 1 }))
    );
    assert!(!envelopes.is_valid(&json!({ "seq": 1 })));
    assert!(!admin.is_valid(&json!({ "admin_event_id": "adm-1" })));
    // Every reference resolves.
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let document = schema::contracts();
    let mut all = Vec::new();
    refs(&document, &mut all);
    assert!(all.len() > 100);
    for r in all {
        let name = r.strip_prefix("#/$defs/").expect("local refs only");
        assert!(document["$defs"][name].is_object(), "dangling {r}");
    }
    let error = validator("ErrorResponse");
    assert!(!error.is_valid(
        &json!({ "ok": false, "error": { "code": "lower", "message": "", "details": {} } })
    ));
    let document = schema::contracts();
    for def in [
        "ArtifactRef",
        "JobStatus",
        "JobAttemptRecord",
        "ConfigVersionRef",
        "AdminActionType",
        "AdminEvent",
        "SecretRotationEvent",
        "ErrorResponse",
    ] {
        assert!(document["$defs"][def].is_object(), "$defs/{def} is missing");
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
