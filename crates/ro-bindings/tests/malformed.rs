//! Bad input, systematically: a corpus of malformed documents, each answered with a typed
//! error and no state change (nothing appended, the state digest unchanged).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use std::io::{BufReader, Cursor};

use ro_bindings::{host, store::Store};
use ro_core::{ActorId, Timestamp};

fn at(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

/// Removes a scratch store's files (and its directory once empty) when dropped, also when the
/// test fails.
struct Gone(std::path::PathBuf);

impl Drop for Gone {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal", ".keys", ".lock", ".yield"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn store(name: &str) -> (Gone, Store) {
    let dir = std::env::temp_dir().join(format!("ro-malformed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm", ".keys"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let alice = ActorId::new("alice").unwrap();
    let mut store = host::init(&path, &alice, at("2026-01-05T14:30:00Z")).unwrap();
    // Some state worth protecting: a pool, an artifact, a job.
    for line in [
        r#"{"type":"DEFINE_POOL","pool":"batch","max_running":2,"reason":"batch capacity"}"#,
        r#"{"type":"REGISTER_ARTIFACT","ref":"runs/r-1/a.json","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001"}"#,
        r#"{"type":"DEFINE_JOB","definition":{"job_id":"report","version":1},"reason":"nightly"}"#,
    ] {
        let (ok, response) = host::execute_line(
            store.kernel_mut(),
            line,
            Some(&alice),
            at("2026-01-05T14:31:00Z"),
        );
        assert!(ok, "{response}");
    }
    store.commit().unwrap();
    (Gone(path), store)
}

/// (what, line, expected error code)
fn corpus() -> Vec<(&'static str, String, &'static str)> {
    let deep = format!(
        r#"{{"type":"REGISTER_MODEL","metadata":{{"version":"M-1","x":{}1{}}}}}"#,
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    let long_reason = format!(
        r#"{{"type":"EMERGENCY_LOCKDOWN","reason":"{}"}}"#,
        "x".repeat(5_000)
    );
    let long_id = format!(
        r#"{{"type":"GRANT_ROLE","principal":"{}","role":"analyst"}}"#,
        "a".repeat(200)
    );
    let long_ref = format!(
        r#"{{"type":"REGISTER_ARTIFACT","ref":"{}","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000002"}}"#,
        "a/".repeat(600)
    );
    let s = |t: &str| t.to_owned();
    vec![
        ("empty object", s("{}"), "INVALID_FIELD"),
        ("not an object", s("[1,2,3]"), "INVALID_JSON"),
        ("a bare string", s(r#""GRANT_ROLE""#), "INVALID_JSON"),
        (
            "truncated",
            s(r#"{"type":"GRANT_ROLE","principal":"ana""#),
            "INVALID_JSON",
        ),
        (
            "trailing garbage",
            s(r#"{"type":"OPS_STATUS"} x"#),
            "INVALID_JSON",
        ),
        (
            "NaN",
            s(r#"{"type":"SET_CANARY_RATIO","ratio":NaN}"#),
            "INVALID_JSON",
        ),
        (
            "huge exponent",
            s(r#"{"type":"DEFINE_POOL","pool":"p","max_running":1e400}"#),
            "INVALID_JSON",
        ),
        ("deep nesting", deep, "INVALID_JSON"),
        (
            "duplicate field",
            s(r#"{"type":"EMERGENCY_LOCKDOWN","reason":"a","reason":"b"}"#),
            "INVALID_JSON",
        ),
        (
            "duplicate type",
            s(r#"{"type":"OPS_STATUS","type":"EMERGENCY_LOCKDOWN"}"#),
            "INVALID_JSON",
        ),
        ("type not a string", s(r#"{"type":7}"#), "INVALID_FIELD"),
        (
            "unknown type",
            s(r#"{"type":"LAUNCH_MISSILES"}"#),
            "UNKNOWN_COMMAND",
        ),
        (
            "lower-case type",
            s(r#"{"type":"grant_role","principal":"ana","role":"analyst"}"#),
            "UNKNOWN_COMMAND",
        ),
        (
            "unknown field",
            s(r#"{"type":"GRANT_ROLE","principal":"ana","role":"analyst","colour":"red"}"#),
            "INVALID_COMMAND",
        ),
        (
            "wrong type",
            s(r#"{"type":"GRANT_ROLE","principal":5,"role":"analyst"}"#),
            "INVALID_COMMAND",
        ),
        (
            "missing field",
            s(r#"{"type":"GRANT_ROLE","principal":"ana"}"#),
            "INVALID_COMMAND",
        ),
        (
            "negative count",
            s(r#"{"type":"DEFINE_POOL","pool":"p","max_running":-1}"#),
            "INVALID_COMMAND",
        ),
        (
            "integer overflow",
            s(r#"{"type":"DEFINE_POOL","pool":"p","max_running":99999999999999999999}"#),
            "INVALID_COMMAND",
        ),
        (
            "fraction for an integer",
            s(r#"{"type":"DEFINE_POOL","pool":"p","max_running":1.5}"#),
            "INVALID_COMMAND",
        ),
        (
            "ratio above one",
            s(r#"{"type":"SET_CANARY_RATIO","ratio":1.01}"#),
            "INVALID_COMMAND",
        ),
        (
            "ratio too fine",
            s(r#"{"type":"SET_CANARY_RATIO","ratio":0.00001}"#),
            "INVALID_COMMAND",
        ),
        (
            "bad id",
            s(r#"{"type":"GRANT_ROLE","principal":"ana smith","role":"analyst"}"#),
            "INVALID_COMMAND",
        ),
        ("oversized id", long_id, "INVALID_COMMAND"),
        ("oversized locator", long_ref, "INVALID_COMMAND"),
        ("oversized reason", long_reason, "INVALID_FIELD"),
        (
            "control character in reason",
            s(r#"{"type":"EMERGENCY_LOCKDOWN","reason":"a\u0000b"}"#),
            "INVALID_FIELD",
        ),
        (
            "bad timestamp",
            s(r#"{"type":"EMERGENCY_LOCKDOWN","at":"2026-13-01T00:00:00Z"}"#),
            "INVALID_FIELD",
        ),
        (
            "timestamp without zone",
            s(r#"{"type":"EMERGENCY_LOCKDOWN","at":"2026-01-05T14:35:00"}"#),
            "INVALID_FIELD",
        ),
        (
            "time going backwards",
            s(r#"{"type":"EMERGENCY_LOCKDOWN","at":"2020-01-01T00:00:00Z"}"#),
            "TIME_WENT_BACKWARDS",
        ),
        (
            "actor and operator_id",
            s(
                r#"{"type":"EMERGENCY_LOCKDOWN","operator_id":"a","actor":{"id":"b","kind":"human"}}"#,
            ),
            "INVALID_FIELD",
        ),
        (
            "unknown actor kind",
            s(r#"{"type":"EMERGENCY_LOCKDOWN","actor":{"id":"b","kind":"robot"}}"#),
            "INVALID_FIELD",
        ),
        (
            "bad digest",
            s(r#"{"type":"REGISTER_ARTIFACT","ref":"a/b","digest":"md5:00"}"#),
            "INVALID_COMMAND",
        ),
        (
            "dot-dot locator",
            s(
                r#"{"type":"REGISTER_ARTIFACT","ref":"a/../b","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000003"}"#,
            ),
            "INVALID_COMMAND",
        ),
        (
            "query with an unknown field",
            s(r#"{"type":"OPS_STATUS","verbose":true}"#),
            "INVALID_COMMAND",
        ),
    ]
}

#[test]
fn every_malformed_document_is_refused_with_its_code_and_changes_nothing() {
    let (_gone, mut store) = store("corpus");
    let alice = ActorId::new("alice").unwrap();
    let head = store.head();
    let digest = store.kernel().state_digest().unwrap();
    let mut codes = Vec::new();
    for (what, line, expected) in corpus() {
        let (ok, response) = host::execute_line(
            store.kernel_mut(),
            &line,
            Some(&alice),
            at("2026-01-05T14:40:00Z"),
        );
        assert!(!ok, "{what}: accepted: {response}");
        assert_eq!(response["ok"], false, "{what}");
        let code = response["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(code, expected, "{what}: {response}");
        assert!(
            !response["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{what}: no message"
        );
        assert_eq!(store.head(), head, "{what}: something was appended");
        codes.push(code);
    }
    assert_eq!(store.kernel().state_digest().unwrap(), digest);
    assert_eq!(store.commit().unwrap(), 0, "nothing to write");
}

#[test]
fn oversized_lines_and_invalid_utf8_through_apply() {
    let (_gone, mut store) = store("apply");
    let head = store.head();
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"type\":\"OPS_STATUS\",\"reason\":\"");
    input.extend(std::iter::repeat_n(b'x', host::MAX_LINE_BYTES + 10));
    input.extend_from_slice(b"\"}\n");
    input.extend_from_slice(b"{\"type\":\"OPS_STATUS\"}\n");
    input.extend_from_slice(b"{\"type\":\"OPS_STATUS\",\"reason\":\"\xff\xfe\"}\n");
    input.extend_from_slice(b"{\"type\":\"OPS_STATUS\"}\n");
    let mut output = Vec::new();
    let alice = ActorId::new("alice").unwrap();
    let result = host::apply(
        &mut store,
        &mut BufReader::new(Cursor::new(input)),
        &mut output,
        Some(&alice),
        &mut || at("2026-01-05T14:40:00Z"),
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The long line is answered (without being held whole), the next one runs, then the
    // unreadable line stops the apply after answering what came before it.
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["error"]["code"], "LINE_TOO_LONG");
    assert_eq!(lines[1]["ok"], true);
    assert!(result.is_err(), "invalid UTF-8 is unreadable input");
    assert_eq!(store.head(), head);
}
