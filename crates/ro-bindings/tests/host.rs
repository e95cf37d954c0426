//! The `ro` host end to end: the binary on real stores, and the store's guarantees.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use std::{
    io::{BufReader, Write},
    path::PathBuf,
    process::{Command, Output, Stdio},
};

use ro_bindings::{host, store::Store};
use ro_core::{ActorId, Timestamp};
use serde_json::Value;

/// A scratch store in a directory of its own, removed with everything beside it when the
/// value goes out of scope (also when the test fails).
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<std::path::Path> for Scratch {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl From<&Scratch> for ro_bindings::store::Location {
    fn from(scratch: &Scratch) -> Self {
        ro_bindings::store::Location::file(&scratch.0)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
            // Gone once the last test of the process cleaned up.
            let _ = dir.parent().map(std::fs::remove_dir);
        }
    }
}

fn temp_store(name: &str) -> Scratch {
    let dir = std::env::temp_dir()
        .join(format!("ro-host-test-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir.join("store.db"))
}

fn ro(store: &PathBuf, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ro"))
        .arg("--store")
        .arg(store)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The host may exit before reading its input (a missing store): a broken pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const COMMANDS: &str = r#"{"type":"REGISTER_PRINCIPAL","principal":"ana","kind":"human","at":"2026-01-05T14:31:00Z"}
{"type":"GRANT_ROLE","principal":"ana","role":"analyst","at":"2026-01-05T14:31:00Z"}
{"type":"REGISTER_ARTIFACT","ref":"runs/r-1/report.json","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001","operator_id":"ana","at":"2026-01-05T14:32:00Z"}
{"type":"REGISTER_ARTIFACT","ref":"runs/r-1/report.json","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000002","operator_id":"ana","at":"2026-01-05T14:33:00Z"}
this is not json
{"type":"EMERGENCY_LOCKDOWN","operator_id":"ana","at":"2026-01-05T14:34:00Z","colour":"red"}
{"type":"EMERGENCY_LOCKDOWN","actor":{"id":"alice","kind":"human"},"at":"2026-01-05T14:35:00Z"}
"#;

#[test]
fn apply_answers_every_line_in_order_and_stores_are_deterministic() {
    let mut status = Vec::new();
    for name in ["det-a", "det-b"] {
        let store = temp_store(name);
        let init = init_open(&store, Some("2026-01-05T14:30:00Z"));
        assert!(init.status.success(), "{init:?}");
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
            COMMANDS,
        );
        assert_eq!(out.status.code(), Some(1), "some lines are refused");
        let responses = lines(&out);
        let codes: Vec<String> = responses
            .iter()
            .map(|r| match r["ok"].as_bool().unwrap() {
                true => "ok".to_string(),
                false => r["error"]["code"].as_str().unwrap().to_string(),
            })
            .collect();
        assert_eq!(
            codes,
            [
                "ok",
                "ok",
                "ok",
                "REF_CONFLICT",
                "INVALID_JSON",
                "INVALID_COMMAND",
                "ok"
            ],
        );
        assert!(
            responses[5]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("colour")
        );
        // The registration's events are in the response, with seq and hash (ro init wrote 1
        // and 2: the bootstrap grant and alice's registration).
        assert_eq!(responses[0]["seq"], 3);
        assert_eq!(responses[0]["events"][0]["seq"], 3);
        let verify = ro(&store, &["verify"], "");
        assert!(verify.status.success(), "{verify:?}");
        let audit = ro(&store, &["audit"], "");
        assert_eq!(
            lines(&audit).len() as u64,
            lines(&ro(&store, &["status"], ""))[0]["head_seq"]
                .as_u64()
                .unwrap()
        );
        status.push(lines(&ro(&store, &["status"], ""))[0].clone());
    }
    assert_eq!(status[0]["head_hash"], status[1]["head_hash"]);
    assert_eq!(status[0]["state_digest"], status[1]["state_digest"]);
    assert_eq!(status[0]["plane"]["lockdown"], true);
}

#[test]
fn every_accepted_line_exits_zero_and_host_errors_exit_two() {
    let store = temp_store("exit");
    assert_eq!(ro(&store, &["status"], "").status.code(), Some(2));
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
        "{}\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(lines(&out)[0]["error"]["code"], "STORE_MISSING");
    assert!(init_open(&store, None).status.success());
    let again = init_open(&store, None);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(lines(&again)[0]["error"]["code"], "STORE_EXISTS");
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--history"],
        r#"{"type":"EMERGENCY_LOCKDOWN"}"#,
    );
    assert_eq!(lines(&out)[0]["error"]["code"], "ACTOR_REQUIRED");
    assert_eq!(out.status.code(), Some(1));
    let out = ro(
        &store,
        &[
            "apply",
            "--reason",
            "per runbook",
            "--history",
            "--actor",
            "alice",
            "-",
        ],
        "{\"type\":\"EMERGENCY_LOCKDOWN\"}\n\n",
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(lines(&out).len(), 1, "blank lines are skipped");
}

#[test]
fn a_changed_byte_in_any_row_fails_verify_naming_its_seq() {
    let store = temp_store("tamper");
    assert!(
        init_open(&store, Some("2026-01-05T14:30:00Z"))
            .status
            .success()
    );
    assert_eq!(
        ro(
            &store,
            &[
                "apply",
                "--reason",
                "per runbook",
                "--history",
                "--actor",
                "alice"
            ],
            COMMANDS
        )
        .status
        .code(),
        Some(1)
    );
    let head = lines(&ro(&store, &["status"], ""))[0]["head_seq"]
        .as_u64()
        .unwrap();
    for seq in 1..=head {
        for column in ["body", "prev", "hash"] {
            let conn = rusqlite::Connection::open(&store).unwrap();
            let original: Vec<u8> = conn
                .query_row(
                    &format!("SELECT {column} FROM journal WHERE seq = ?1"),
                    [seq],
                    |r| r.get(0),
                )
                .unwrap();
            let mut changed = original.clone();
            let i = changed.len() / 2;
            changed[i] ^= 0x01;
            conn.execute(
                &format!("UPDATE journal SET {column} = ?1 WHERE seq = ?2"),
                rusqlite::params![changed, seq],
            )
            .unwrap();
            let out = ro(&store, &["verify"], "");
            assert_eq!(out.status.code(), Some(1), "seq {seq} {column}");
            let message = lines(&out)[0]["error"]["message"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(
                message.contains(&format!("seq {seq}")),
                "seq {seq} {column}: {message}"
            );
            conn.execute(
                &format!("UPDATE journal SET {column} = ?1 WHERE seq = ?2"),
                rusqlite::params![original, seq],
            )
            .unwrap();
        }
    }
    assert!(ro(&store, &["verify"], "").status.success());
}

fn at(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

#[test]
fn two_step_tokens_work_once_and_survive_a_reopen() {
    let path = temp_store("two-step");
    let alice = ActorId::new("alice").unwrap();
    let mut store = host::init(&path, &alice, at("2026-01-05T14:30:00Z")).unwrap();
    let now = at("2026-01-05T14:31:00Z");
    let (ok, _) = host::execute_line(
        store.kernel_mut(),
        r#"{"type":"EMERGENCY_LOCKDOWN"}"#,
        Some(&alice),
        now,
    );
    assert!(ok);
    let release = r#"{"type":"RELEASE_LOCKDOWN"}"#;
    let (ok, first) = host::execute_line(store.kernel_mut(), release, Some(&alice), now);
    assert!(ok && first["confirmation_required"] == true, "{first}");
    let token = first["confirmation_token"].as_str().unwrap().to_string();
    store.commit().unwrap();
    drop(store);
    // The key lives in the store, outside the journal: the token is still good after reopening.
    let mut store = Store::open(&path).unwrap();
    let audit = {
        let mut out = Vec::new();
        host::audit(&store, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    assert!(!audit.contains(&token), "the audit log never holds a token");
    let second = format!(r#"{{"type":"RELEASE_LOCKDOWN","confirmation_token":"{token}"}}"#);
    let bob = ActorId::new("bob").unwrap();
    let (ok, other) = host::execute_line(store.kernel_mut(), &second, Some(&bob), now);
    assert!(!ok, "another actor's token is refused: {other}");
    let (ok, done) = host::execute_line(store.kernel_mut(), &second, Some(&alice), now);
    assert!(ok && done["seq"].as_u64().is_some(), "{done}");
    assert!(!store.kernel().state().lockdown());
    let (ok, reused) = host::execute_line(store.kernel_mut(), &second, Some(&alice), now);
    assert!(!ok, "a token works once: {reused}");
    store.commit().unwrap();
}

#[test]
fn pending_confirmations_are_listed_with_their_expiry_and_never_their_token() {
    let path = temp_store("pending");
    let alice = ActorId::new("alice").unwrap();
    let mut store = host::init(&path, &alice, at("2026-01-05T14:30:00Z")).unwrap();
    let now = at("2026-01-05T14:31:00Z");
    let query = r#"{"type":"PENDING_CONFIRMATIONS"}"#;
    let (ok, empty) = host::execute_line(store.kernel_mut(), query, Some(&alice), now);
    assert!(
        ok && empty["result"]["pending"] == serde_json::json!([]),
        "{empty}"
    );
    for line in [
        r#"{"type":"EMERGENCY_LOCKDOWN"}"#,
        r#"{"type":"RELEASE_LOCKDOWN"}"#,
    ] {
        host::execute_line(store.kernel_mut(), line, Some(&alice), now);
    }
    let (_, first) = host::execute_line(
        store.kernel_mut(),
        r#"{"type":"RELEASE_LOCKDOWN"}"#,
        Some(&alice),
        at("2026-01-05T14:32:00Z"),
    );
    let token = first["confirmation_token"].as_str().unwrap().to_string();
    // Queried after the first token's five minutes but before the second's.
    let later = at("2026-01-05T14:36:30Z");
    let before = store.kernel().journal().len();
    let (ok, listed) = host::execute_line(store.kernel_mut(), query, Some(&alice), later);
    assert_eq!(
        store.kernel().journal().len(),
        before,
        "a query appends nothing"
    );
    assert!(ok, "{listed}");
    let pending = listed["result"]["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 2, "{listed}");
    assert_eq!(pending[0]["expires_at"], "2026-01-05T14:36:00Z");
    assert_eq!(pending[0]["expired"], true);
    assert_eq!(pending[1]["expires_at"], "2026-01-05T14:37:00Z");
    assert_eq!(pending[1]["expired"], false);
    assert_eq!(pending[1]["actor"], "alice");
    assert!(
        !listed.to_string().contains(&token),
        "a token is never shown"
    );
}

#[test]
fn a_second_writer_gets_a_conflict_not_a_fork() {
    let path = temp_store("writers");
    let alice = ActorId::new("alice").unwrap();
    drop(host::init(&path, &alice, at("2026-01-05T14:30:00Z")).unwrap());
    let mut a = Store::open(&path).unwrap();
    let mut b = Store::open(&path).unwrap();
    let now = at("2026-01-05T14:31:00Z");
    let line = r#"{"type":"EMERGENCY_LOCKDOWN"}"#;
    assert!(host::execute_line(a.kernel_mut(), line, Some(&alice), now).0);
    assert!(host::execute_line(b.kernel_mut(), line, Some(&alice), now).0);
    a.commit().unwrap();
    let e = b.commit().unwrap_err();
    assert_eq!(e.code(), "STALE_SEQUENCE", "{e}");
    let reopened = Store::open(&path).unwrap();
    assert_eq!(reopened.head(), a.head());
}

#[test]
fn group_commit_acknowledges_only_after_the_commit() {
    let path = temp_store("group");
    let alice = ActorId::new("alice").unwrap();
    let mut store = host::init(&path, &alice, at("2026-01-05T14:30:00Z")).unwrap();
    let mut input = String::new();
    for i in 0..200 {
        input.push_str(&format!(
            "{{\"type\":\"REGISTER_ARTIFACT\",\"ref\":\"a/{i}\",\"digest\":\"blake3:{:064x}\",\"at\":\"2026-01-05T14:31:00Z\"}}\n",
            i + 1
        ));
    }
    let mut reader = BufReader::new(input.as_bytes());
    let mut out = Vec::new();
    let tally = host::apply(&mut store, &mut reader, &mut out, Some(&alice), &mut || {
        at("2026-01-05T14:31:00Z")
    })
    .unwrap();
    assert_eq!(
        tally,
        host::Tally {
            accepted: 200,
            pending: 0,
            refused: 0
        }
    );
    let printed = String::from_utf8(out).unwrap();
    assert_eq!(printed.lines().count(), 200);
    let last: Value = serde_json::from_str(printed.lines().last().unwrap()).unwrap();
    let reopened = Store::open(&path).unwrap();
    assert_eq!(reopened.head().seq, last["seq"].as_u64().unwrap());
}

#[test]
fn response_events_are_the_audit_records() {
    let store = temp_store("events");
    assert!(
        init_open(&store, Some("2026-01-05T14:30:00Z"))
            .status
            .success()
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
        COMMANDS,
    );
    let mut from_responses: Vec<Value> = Vec::new();
    for r in lines(&out) {
        if let Some(events) = r["events"].as_array() {
            from_responses.extend(events.iter().cloned());
        }
    }
    let audit = lines(&ro(&store, &["audit"], ""));
    // Every acknowledged event is in the audit log exactly as reported; the audit also holds
    // the init grant and the trace of refusals.
    for event in &from_responses {
        let seq = event["seq"].as_u64().unwrap();
        assert_eq!(&audit[(seq - 1) as usize], event);
    }
    assert!(from_responses.len() >= 3);
}

/// `ro apply` killed with SIGKILL mid-stream, repeatedly: after each kill the store verifies,
/// and every response printed before the kill has its events in the journal.
#[test]
fn nothing_acknowledged_is_lost_when_apply_is_killed() {
    use std::io::BufRead;
    let store = temp_store("sigkill");
    assert!(
        init_open(&store, Some("2026-01-05T14:30:00Z"))
            .status
            .success()
    );
    for (round, kill_after) in [1usize, 37, 400, 1500, 2999].into_iter().enumerate() {
        let mut input = String::new();
        for i in 0..3000 {
            input.push_str(&format!(
                "{{\"type\":\"REGISTER_ARTIFACT\",\"ref\":\"k/{round}/{i}\",\"digest\":\"blake3:{:064x}\"}}\n",
                i + 1
            ));
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_ro"))
            .arg("--store")
            .arg(&store)
            .args([
                "apply",
                "--reason",
                "per runbook",
                "--history",
                "--actor",
                "alice",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            // Line by line, so batches stay small and the kill lands between commits.
            for line in input.lines() {
                if writeln!(stdin, "{line}").is_err() {
                    break;
                }
            }
        });
        let mut acknowledged: Vec<Value> = Vec::new();
        let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while acknowledged.len() < kill_after {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 {
                break;
            }
            acknowledged.push(serde_json::from_str(&line).unwrap());
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let _ = writer.join();
        assert_eq!(acknowledged.len(), kill_after, "round {round}");
        let verify = ro(&store, &["verify"], "");
        assert!(verify.status.success(), "round {round}: {verify:?}");
        let audit = lines(&ro(&store, &["audit"], ""));
        for response in &acknowledged {
            assert_eq!(response["ok"], true, "round {round}: {response}");
            for event in response["events"].as_array().unwrap() {
                let seq = event["seq"].as_u64().unwrap();
                assert_eq!(
                    audit.get((seq - 1) as usize),
                    Some(event),
                    "round {round}: seq {seq} lost"
                );
            }
        }
    }
}

#[test]
fn queries_answer_in_result_and_append_nothing() {
    let store = temp_store("queries");
    assert!(
        init_open(&store, Some("2026-01-05T14:30:00Z"))
            .status
            .success()
    );
    let input = r#"{"type":"REGISTER_ARTIFACT","ref":"runs/r-1/report.json","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001","at":"2026-01-05T14:31:00Z"}
{"type":"READ_ARTIFACT","ref":"runs/r-1/report.json","at":"2026-01-05T14:31:00Z"}
{"type":"SET_ARTIFACT_GATE","ref":"runs/r-1/report.json","status":"PASS","at":"2026-01-05T14:31:00Z"}
{"type":"READ_ARTIFACT","ref":"runs/r-1/report.json","at":"2026-01-05T14:31:00Z"}
{"type":"OPS_STATUS","at":"2026-01-05T14:31:00Z"}
{"type":"EMERGENCY_LOCKDOWN","at":"2026-01-05T14:32:00Z"}
{"type":"OPS_STATUS","at":"2026-01-05T14:32:00Z"}
{"type":"READ_ARTIFACT","ref":"runs/r-1/report.json","at":"2026-01-05T14:32:00Z"}
{"type":"NEXT_RUNS","cron":"30 9 * * 1-5","timezone":"America/New_York","after":"2026-03-06T00:00:00Z","count":3,"at":"2026-01-05T14:32:00Z"}
{"type":"NEXT_RUNS","cron":"30 9 * * 1-5","timezone":"Mars/Olympus","after":"2026-03-06T00:00:00Z","count":3,"at":"2026-01-05T14:32:00Z"}
{"type":"NEXT_RUNS","cron":"30 9 * * 1-5","timezone":"UTC","after":"2026-03-06T00:00:00Z","count":3,"calendar":"nope","at":"2026-01-05T14:32:00Z"}
{"type":"OPS_STATUS","verbose":true}
"#;
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
        input,
    );
    let r = lines(&out);
    assert_eq!(r.len(), 12);
    assert_eq!(r[1]["ok"], false, "no PASS, no read: {}", r[1]);
    assert_eq!(
        r[3]["result"]["artifact"]["ref"], "runs/r-1/report.json",
        "{}",
        r[3]
    );
    assert_eq!(r[3]["events"], serde_json::json!([]));
    let quiet = serde_json::json!({"jobs": [], "artifact_store_errors": [], "stream_lag": [],
        "storage_pressure": [], "warnings": []});
    assert_eq!(
        r[4]["result"],
        serde_json::json!({"state": "OK", "reason_codes": [],
            "safety": {"safe_to_execute_orders": true, "safe_to_run_strategies": true},
            "observability": quiet})
    );
    assert_eq!(
        r[6]["result"],
        serde_json::json!({"state": "HALTED", "reason_codes": ["LOCKDOWN_ACTIVE"],
            "safety": {"safe_to_execute_orders": false, "safe_to_run_strategies": false},
            "observability": quiet})
    );
    assert_eq!(
        r[7]["ok"], true,
        "read-only queries pass the lockdown: {}",
        r[7]
    );
    assert_eq!(
        r[8]["result"]["runs"],
        serde_json::json!([
            "2026-03-06T14:30:00Z",
            "2026-03-09T13:30:00Z",
            "2026-03-10T13:30:00Z"
        ]),
        "across the daylight-saving change"
    );
    assert_eq!(r[9]["error"]["code"], "INVALID_QUERY", "{}", r[9]);
    assert!(
        r[9]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Mars/Olympus")
    );
    assert_eq!(r[10]["error"]["code"], "INVALID_QUERY", "{}", r[10]);
    assert_eq!(
        r[11]["error"]["code"], "INVALID_COMMAND",
        "unknown fields are refused: {}",
        r[11]
    );
    // Only the three commands appended: queries leave the journal as it was.
    let seqs: Vec<u64> = r.iter().filter_map(|x| x["seq"].as_u64()).collect();
    let head = lines(&ro(&store, &["status"], ""))[0]["head_seq"]
        .as_u64()
        .unwrap();
    assert_eq!(head, 5, "init (2) + register + gate + lockdown");
    assert_eq!(seqs.last(), Some(&5));
}

#[test]
fn unreadable_input_still_commits_and_answers_what_ran_before_it() {
    let path = temp_store("utf8");
    let alice = ActorId::new("alice").unwrap();
    let mut store = host::init(&path, &alice, at("2026-01-05T14:30:00Z")).unwrap();
    let mut input = br#"{"type":"EMERGENCY_LOCKDOWN","at":"2026-01-05T14:31:00Z"}"#.to_vec();
    input.extend_from_slice(b"\n\xff\xfe\n");
    let mut reader = BufReader::new(input.as_slice());
    let mut out = Vec::new();
    let e = host::apply(&mut store, &mut reader, &mut out, Some(&alice), &mut || {
        at("2026-01-05T14:31:00Z")
    })
    .unwrap_err();
    assert_eq!(e.code(), "IO_ERROR");
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1);
    drop(store);
    assert_eq!(Store::open(&path).unwrap().head().seq, 3);
}

/// Sends one line as Op-01 at a fixed time.
fn send(store: &mut Store, line: &str) -> (bool, Value) {
    let op = ActorId::new("Op-01").unwrap();
    host::execute_line(
        store.kernel_mut(),
        line,
        Some(&op),
        at("2026-01-05T14:31:00Z"),
    )
}

/// Sends a two-step command, then again with the token it was given.
fn two_step(store: &mut Store, line: &str) -> Value {
    let (ok, first) = send(store, line);
    assert!(
        ok && first["confirmation_required"] == true,
        "{line}: {first}"
    );
    let token = first["confirmation_token"].as_str().unwrap().to_string();
    let mut doc: Value = serde_json::from_str(line).unwrap();
    doc["confirmation_token"] = Value::String(token);
    let (ok, done) = send(store, &doc.to_string());
    assert!(ok, "{line}: {done}");
    done
}

/// The operator runbook's documents, exactly as written there, through the protocol: model
/// promotion on the shadow path, the canary ratio as a decimal, the heartbeat query, cycles
/// forced to STOP in a lockdown, rollback and the failure status, each two-step with tokens.
#[test]
fn the_runbook_documents_work_as_written() {
    let path = temp_store("runbook");
    let op = ActorId::new("Op-01").unwrap();
    let store = &mut host::init(&path, &op, at("2026-01-05T14:30:00Z")).unwrap();
    for line in [
        r#"{"type":"REGISTER_MODEL","metadata":{"version":"M-Base-V0"}}"#,
        r#"{"type":"SET_CANDIDATE_MODEL","version":"M-Base-V0"}"#,
    ] {
        let (ok, response) = send(store, line);
        assert!(ok, "{line}: {response}");
    }
    // Shortening the shadow window is safety-reducing: two steps, the token in a field the
    // command does not have of its own.
    two_step(
        store,
        r#"{"type":"CONFIGURE_SHADOW_WINDOW","cycles":3,"reason":"a short window for the drill"}"#,
    );
    for _ in 0..3 {
        assert!(send(store, r#"{"type":"RECORD_CYCLE","intent":"HOLD"}"#).0);
    }
    two_step(
        store,
        r#"{ "type": "PROMOTE_CANDIDATE", "operator_id": "Op-01" }"#,
    );
    // Steps 1 to 3 of the shadow path, as the runbook writes them.
    for line in [
        "{\n  \"type\": \"REGISTER_MODEL\",\n  \"metadata\": { \"version\": \"M-MyModel-V1\" }\n}"
            .replace('\n', ""),
        r#"{ "type": "SET_CANDIDATE_MODEL", "version": "M-MyModel-V1" }"#.into(),
        r#"{ "type": "SET_CANARY_RATIO", "ratio": 0.05 }"#.into(),
    ] {
        let (ok, response) = send(store, &line);
        assert!(ok, "{line}: {response}");
    }
    let (ok, early) = send(
        store,
        r#"{ "type": "PROMOTE_CANDIDATE", "operator_id": "Op-01" }"#,
    );
    assert!(
        !ok && early["error"]["code"] == "SHADOW_WINDOW_INCOMPLETE",
        "{early}"
    );
    let (ok, cycle) = send(
        store,
        r#"{"type":"RECORD_CYCLE","intent":"BUY","latency_ms":12,"survived":true}"#,
    );
    assert!(ok && cycle["result"]["intent"] == "BUY", "{cycle}");
    let (ok, heartbeat) = send(store, r#"{"type":"HEARTBEAT"}"#);
    assert!(
        ok && heartbeat["events"] == serde_json::json!([]),
        "{heartbeat}"
    );
    let result = &heartbeat["result"];
    assert_eq!(result["active_model"], "M-Base-V0");
    assert_eq!(result["candidate_model"], "M-MyModel-V1");
    assert_eq!(result["canary_ratio_bp"], 500);
    assert_eq!(result["lockdown"], false);
    assert_eq!(result["failure_status"], "NORMAL");
    assert_eq!(result["monitoring"]["shadow_cycles"], 1);
    // The jobs plane's HEARTBEAT names a run: it is decoded as the jobs command.
    let (ok, job_heartbeat) = send(store, r#"{"type":"HEARTBEAT","run_id":"run-x"}"#);
    assert!(!ok, "{job_heartbeat}");
    assert_ne!(
        job_heartbeat["error"]["code"], "INVALID_COMMAND",
        "{job_heartbeat}"
    );
    // The panic button: cycles are forced to STOP, management refused, release two-step.
    assert!(
        send(
            store,
            r#"{ "type": "EMERGENCY_LOCKDOWN", "operator_id": "Op-01" }"#
        )
        .0
    );
    let (ok, stopped) = send(store, r#"{"type":"RECORD_CYCLE","intent":"BUY"}"#);
    assert!(ok && stopped["result"]["intent"] == "STOP", "{stopped}");
    let (ok, frozen) = send(store, r#"{ "type": "SET_CANARY_RATIO", "ratio": 0.1 }"#);
    assert!(
        !ok && frozen["error"]["code"] == "LOCKDOWN_ACTIVE",
        "{frozen}"
    );
    two_step(
        store,
        r#"{ "type": "UNRELEASE_LOCKDOWN", "operator_id": "Op-01" }"#,
    );
    for _ in 0..2 {
        assert!(send(store, r#"{"type":"RECORD_CYCLE","intent":"HOLD"}"#).0);
    }
    two_step(
        store,
        r#"{ "type": "PROMOTE_CANDIDATE", "operator_id": "Op-01" }"#,
    );
    two_step(
        store,
        r#"{ "type": "ROLLBACK_MODEL", "operator_id": "Op-01" }"#,
    );
    let (_, heartbeat) = send(store, r#"{"type":"HEARTBEAT"}"#);
    assert_eq!(
        heartbeat["result"]["active_model"], "M-Base-V0",
        "{heartbeat}"
    );
    // Incident investigation: the audit hash is the journal's head at detection.
    let head_before = store.kernel().head().hash;
    let (ok, failed) = send(
        store,
        r#"{"type":"REPORT_FAILURE","mode":"FAILED","description":"limits breached"}"#,
    );
    assert!(ok, "{failed}");
    let (_, heartbeat) = send(store, r#"{"type":"HEARTBEAT"}"#);
    assert_eq!(heartbeat["result"]["failure_status"], "FAILED");
    let incident = &heartbeat["result"]["open_incidents"][0];
    // The failure's own record (its alert follows it in the same append).
    assert_eq!(incident["audit_seq"], failed["events"][0]["seq"]);
    assert_eq!(failed["events"][1]["event"]["event"]["type"], "AlertRaised");
    assert_eq!(
        incident["audit_hash"],
        head_before.to_string().as_str(),
        "{incident}"
    );
    two_step(
        store,
        r#"{ "type": "RESET_FAILURE_STATUS", "operator_id": "Op-01" }"#,
    );
    let (_, heartbeat) = send(store, r#"{"type":"HEARTBEAT"}"#);
    assert_eq!(heartbeat["result"]["failure_status"], "NORMAL");
    // Out-of-range ratios are refused, naming the field.
    let (ok, bad) = send(store, r#"{ "type": "SET_CANARY_RATIO", "ratio": 1.5 }"#);
    assert!(
        !ok && bad["error"]["message"].as_str().unwrap().contains("ratio"),
        "{bad}"
    );
    store.commit().unwrap();
}

/// `ro demo` runs its scenario; `ro report` answers from the store it left; `ro schema`
/// prints the checked-in contracts.
#[test]
fn demo_reports_and_schema_through_the_binary() {
    let store = temp_store("demo-reports");
    let demo = ro(&store, &["demo"], "");
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let text = String::from_utf8(demo.stdout).unwrap();
    for expected in [
        "CandidatePromoted",
        "ModelRolledBack",
        "DerivationSuperseded",
        "HandedOff",
        "RetryScheduled",
        "\"intent\":\"STOP\"",
        "reopened and verified",
        "SIGNATURE_REQUIRED",
        "SignatureVerified",
        "SIGNATURE_INVALID",
        "STORAGE_PRESSURE_JOURNAL_DISK",
        "\"failure_rate_bp\":5000",
    ] {
        assert!(text.contains(expected), "the demo shows no {expected}");
    }
    let report = |args: &[&str]| -> Value {
        let out = ro(&store, args, "");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // The signature log: one line per cycle; the last cycle holds the verified signature and,
    // before it in the same window, nothing else; the forged one waits for the next cycle.
    let logs = ro(&store, &["report", "signatures"], "");
    assert!(logs.status.success());
    let logs: Vec<Value> = String::from_utf8(logs.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = logs.last().unwrap();
    assert_eq!(
        last["signature_verification_summary"]["verification_status"],
        "PASS"
    );
    assert_eq!(last["operation_signatures"][0]["operation"], "RECORD_CYCLE");
    assert_eq!(last["operation_signatures"][0]["agent"], "worker");
    assert_eq!(last["operation_signatures"][0]["verified"], true);
    assert!(
        last["operation_signatures"][0]["public_key"]
            .as_str()
            .unwrap()
            .starts_with("ed25519:d759")
    );
    let one = report(&[
        "report",
        "signatures",
        "--cycle",
        &last["cycle"].to_string(),
    ]);
    assert_eq!(&one, last);
    let missing = ro(&store, &["report", "signatures", "--cycle", "100000"], "");
    assert_eq!(missing.status.code(), Some(1));
    let health = report(&["report", "health"]);
    assert_eq!(health["day"], "2026-03-02");
    assert_eq!(health["active_model"], "M-Base-V1");
    assert_eq!(health["pass"], false, "{health}");
    let handoff = report(&["report", "handoff", "--story", "s-q1"]);
    assert_eq!(
        handoff["eligible_for_lock"],
        serde_json::json!(["cap-v2"]),
        "{handoff}"
    );
    let cost = report(&["report", "cost", "--day", "2026-03-02"]);
    assert_eq!(cost["daily_summary"]["total_units"], 2, "{cost}");
    let bad = ro(&store, &["report", "cost", "--day", "soon"], "");
    assert_eq!(bad.status.code(), Some(1));
    let schema = ro(&store, &["schema"], "");
    let checked_in = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../contracts/ro_public_contracts_v0.schema.json"),
    )
    .unwrap();
    assert!(
        schema.stdout == checked_in,
        "ro schema differs from the checked-in contracts"
    );
}

/// A snapshot in the store: the next open restores from it and replays only the tail, to the
/// state a full replay builds; a truncated, damaged or foreign snapshot falls back to full
/// replay (and says why); the snapshot never holds the confirmation key.
#[test]
fn store_snapshots_restore_the_tail_or_fall_back() {
    let path = temp_store("snapshots");
    let op = ActorId::new("Op-01").unwrap();
    let mut store = host::init(&path, &op, at("2026-01-05T14:30:00Z")).unwrap();
    for i in 0..50 {
        let line = format!(
            r#"{{"type":"REGISTER_ARTIFACT","ref":"runs/r-{i}/a.json","digest":"blake3:{:064x}"}}"#,
            i + 1
        );
        assert!(send(&mut store, &line).0);
    }
    let (seq, _) = store.snapshot().unwrap();
    assert_eq!(seq, 52);
    for line in [
        r#"{"type":"REGISTER_MODEL","metadata":{"version":"M-1"}}"#,
        r#"{"type":"EMERGENCY_LOCKDOWN"}"#,
    ] {
        assert!(send(&mut store, line).0);
    }
    let (ok, first) = send(&mut store, r#"{"type":"RELEASE_LOCKDOWN"}"#);
    assert!(ok && first["confirmation_required"] == true);
    store.commit().unwrap();
    drop(store);
    let replayed = Store::open_replaying(&path).unwrap();
    let expected = replayed.kernel().state_digest().unwrap();
    drop(replayed);
    let mut store = Store::open(&path).unwrap();
    assert_eq!(
        store.restored(),
        Some(&ro_core::Restored::FromSnapshot { seq: 52 })
    );
    assert_eq!(store.kernel().state_digest().unwrap(), expected);
    // The key was read from the key file, not the snapshot: the token still works.
    let second = format!(
        r#"{{"type":"RELEASE_LOCKDOWN","confirmation_token":"{}"}}"#,
        first["confirmation_token"].as_str().unwrap()
    );
    assert!(send(&mut store, &second).0);
    store.commit().unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let key = ro_bindings::keys::Keys::read(&ro_bindings::keys::key_file_for(&path))
        .unwrap()
        .unwrap()
        .confirmation;
    let stored: Vec<u8> = conn
        .query_row("SELECT bytes FROM snapshots", [], |r| r.get(0))
        .unwrap();
    assert!(
        !stored.windows(32).any(|w| w == key.as_slice()),
        "the snapshot holds the key"
    );
    // The snapshot, then the MAC trailer its writer added.
    assert_eq!(
        &stored[stored.len() - 40..stored.len() - 32],
        b"ROSMAC\0\x01"
    );
    let snapshot = stored[..stored.len() - 40].to_vec();
    let expected = Store::open_replaying(&path)
        .unwrap()
        .kernel()
        .state_digest()
        .unwrap();
    let mut flipped = snapshot.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    // Another state type's snapshot: a different kind fingerprint under a valid checksum.
    let mut foreign = snapshot[..snapshot.len() - 32].to_vec();
    foreign[90] ^= 1;
    let checksum = ro_core::Digest::of(&foreign);
    foreign.extend_from_slice(checksum.as_bytes());
    for (what, bytes) in [
        ("truncated", snapshot[..snapshot.len() / 3].to_vec()),
        ("flipped", flipped),
        ("foreign", foreign),
    ] {
        conn.execute("UPDATE snapshots SET bytes = ?1", [&bytes])
            .unwrap();
        let store = Store::open(&path).unwrap();
        let Some(ro_core::Restored::FullReplay { reason }) = store.restored() else {
            panic!("{what}: {:?}", store.restored());
        };
        if what == "foreign" {
            assert_eq!(*reason, ro_core::snapshot::SnapshotError::ForeignKind);
        }
        assert_eq!(store.kernel().state_digest().unwrap(), expected, "{what}");
    }
}

/// `Store::open_lean` (status, apply, snapshot, serve): restored from a snapshot this build
/// wrote (its MAC checked) reading only the rows after it, holding no committed record, and
/// answering as a full open does; anything else about the snapshot and it checks every row.
#[test]
fn a_lean_open_trusts_only_its_own_snapshot_and_holds_no_record() {
    let path = temp_store("lean");
    let op = ActorId::new("Op-01").unwrap();
    let mut store = host::init(&path, &op, at("2026-01-05T14:30:00Z")).unwrap();
    for i in 0..40 {
        let line = format!(
            r#"{{"type":"REGISTER_ARTIFACT","ref":"runs/r-{i}/a.json","digest":"blake3:{:064x}"}}"#,
            i + 1
        );
        assert!(send(&mut store, &line).0);
    }
    let (ok, failed) = send(
        &mut store,
        r#"{"type":"REPORT_FAILURE","mode":"FAILED","description":"limits breached"}"#,
    );
    assert!(ok, "{failed}");
    let (seq, _) = store.snapshot().unwrap();
    for i in 40..45 {
        let line = format!(
            r#"{{"type":"REGISTER_ARTIFACT","ref":"runs/r-{i}/a.json","digest":"blake3:{:064x}"}}"#,
            i + 1
        );
        assert!(send(&mut store, &line).0);
    }
    store.commit().unwrap();
    drop(store);
    let full = Store::open_replaying(&path).unwrap();
    let digest = full.kernel().state_digest().unwrap();
    let records = full.kernel().journal().records().to_vec();
    let head = full.head();
    drop(full);
    let heartbeat = |store: &mut Store| {
        let (_, answer) = send(store, r#"{"type":"HEARTBEAT"}"#);
        answer["result"]["open_incidents"].clone()
    };

    let mut lean = Store::open_lean(&path).unwrap();
    assert_eq!(
        lean.restored(),
        Some(&ro_core::Restored::FromSnapshot { seq })
    );
    assert_eq!(lean.head(), head);
    assert_eq!(lean.kernel().state_digest().unwrap(), digest);
    assert_eq!(lean.kernel().journal().len(), 0, "no committed record held");
    // Records are read back from the store, in pages, from anywhere.
    assert_eq!(lean.records_after(0, usize::MAX).unwrap(), records);
    assert_eq!(
        lean.records_after(seq - 2, 3).unwrap(),
        records[seq as usize - 2..seq as usize + 1]
    );
    assert_eq!(lean.records_after(head.seq, 10).unwrap(), []);
    // The incident's audit hash (the prev of a record before the snapshot) is still there.
    let incidents = heartbeat(&mut lean);
    assert_eq!(
        incidents[0]["audit_hash"],
        records[incidents[0]["audit_seq"].as_u64().unwrap() as usize - 1]
            .prev
            .to_string()
            .as_str()
    );
    let mut full = Store::open(&path).unwrap();
    assert_eq!(heartbeat(&mut full), incidents);
    drop(full);
    // Writing on: the batch is committed, then forgotten when the next one starts.
    assert!(send(&mut lean, r#"{"type":"EMERGENCY_LOCKDOWN"}"#).0);
    lean.commit().unwrap();
    assert!(
        !lean.kernel().journal().is_empty(),
        "the last batch stays for its publisher"
    );
    lean.begin(|_| false).unwrap();
    assert_eq!(lean.kernel().journal().len(), 0);
    lean.commit().unwrap();
    let head = lean.head();
    let digest = lean.kernel().state_digest().unwrap();
    drop(lean);
    assert_eq!(
        Store::open_replaying(&path)
            .unwrap()
            .kernel()
            .state_digest()
            .unwrap(),
        digest
    );

    let conn = rusqlite::Connection::open(&path).unwrap();
    let stored: Vec<u8> = conn
        .query_row(
            "SELECT bytes FROM snapshots ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // A changed MAC, or none (a snapshot put there by someone without the key file): every
    // row is checked, and the plane is the same.
    let mut forged = stored.clone();
    *forged.last_mut().unwrap() ^= 1;
    for (what, bytes) in [
        ("forged MAC", forged),
        ("no MAC", stored[..stored.len() - 40].to_vec()),
    ] {
        conn.execute("UPDATE snapshots SET bytes = ?1", [&bytes])
            .unwrap();
        let lean = Store::open_lean(&path).unwrap();
        assert_eq!(lean.restored(), None, "{what}");
        assert_eq!(lean.head(), head, "{what}");
        assert_eq!(lean.kernel().state_digest().unwrap(), digest, "{what}");
        assert_eq!(lean.kernel().journal().len(), 0, "{what}");
    }
    conn.execute("UPDATE snapshots SET bytes = ?1", [&stored])
        .unwrap();
    // A row after the snapshot is checked at every open; one before it is proven by `ro
    // verify` (and `ro serve`'s check at start), which the lean open leaves to them.
    let damage = |seq: u64| {
        conn.execute(
            "UPDATE journal SET body = CAST(replace(CAST(body AS TEXT), 'runs/', 'runz/') AS BLOB) WHERE seq = ?1",
            [seq as i64],
        )
        .unwrap()
    };
    assert_eq!(damage(seq + 2), 1);
    let err = Store::open_lean(&path).unwrap_err();
    assert!(
        err.to_string().contains(&format!("seq {}", seq + 2)),
        "{err}"
    );
    conn.execute("UPDATE journal SET body = CAST(replace(CAST(body AS TEXT), 'runz/', 'runs/') AS BLOB) WHERE seq = ?1", [(seq + 2) as i64]).unwrap();
    assert!(Store::open_lean(&path).is_ok());
    assert_eq!(damage(10), 1);
    assert!(
        Store::open_lean(&path).is_ok(),
        "rows before the snapshot are not re-read"
    );
    let err = Store::open_replaying(&path).unwrap_err();
    assert!(err.to_string().contains("seq 10"), "{err}");
    // A lean read-back of a changed row is refused, never served.
    let mut lean = Store::open_lean(&path).unwrap();
    assert!(lean.records_after(0, usize::MAX).is_err());
}

/// A signed command through the protocol: the `signature` field is verified against the
/// actor's registered key over the signing message of the command's digest.
#[test]
fn signed_documents_through_the_protocol() {
    use ed25519_dalek::{Signer, SigningKey};
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let path = temp_store("signed");
    let op = ActorId::new("Op-01").unwrap();
    let store = &mut host::init(&path, &op, at("2026-01-05T14:30:00Z")).unwrap();
    let key = SigningKey::from_bytes(&[7; 32]);
    let plane_id = store.kernel().state().signing().plane_id();
    let public = *key.verifying_key().as_bytes();
    let proof = key.sign(&ro_admin::signing::key_registration_message(
        &plane_id,
        &op,
        &ro_admin::signing::KeyId::new("k-op").unwrap(),
        &public,
    ));
    let register = format!(
        r#"{{"type":"REGISTER_SIGNING_KEY","key_id":"k-op","principal":"Op-01","public_key":"{}","proof":"{}","reason":"the operator signs"}}"#,
        hex(&public),
        hex(&proof.to_bytes())
    );
    let (ok, registered) = send(store, &register);
    assert!(ok, "{registered}");
    assert!(
        send(
            store,
            r#"{"type":"REQUIRE_SIGNATURES","actions":["EMERGENCY_LOCKDOWN"],"reason":"stops are signed"}"#
        )
        .0
    );
    let (ok, unsigned) = send(store, r#"{"type":"EMERGENCY_LOCKDOWN"}"#);
    assert!(
        !ok && unsigned["error"]["code"] == "SIGNATURE_REQUIRED",
        "{unsigned}"
    );
    let lockdown = ro_admin::PlaneCommand::Admin(ro_admin::AdminCommand::EmergencyLockdown {});
    // The signature binds the plane, the actor, the nonce, the command and the instant it
    // applies at (here the host's `now`).
    let message = ro_admin::signing::signing_message(
        &plane_id,
        &ro_core::Actor::human(op.clone()),
        "nonce-0001",
        &ro_admin::command_digest(&lockdown),
        at("2026-01-05T14:31:00Z"),
    );
    let sig = hex(&key.sign(&message).to_bytes());
    let doc = format!(
        r#"{{"type":"EMERGENCY_LOCKDOWN","signature":{{"key_id":"k-op","sig":"{sig}","nonce":"nonce-0001"}}}}"#
    );
    let (ok, response) = send(store, &doc);
    assert!(ok, "{response}");
    assert_eq!(
        response["events"][0]["event"]["event"]["type"],
        "SignatureVerified"
    );
    let tampered = doc.replace(&sig[..2], if &sig[..2] == "00" { "11" } else { "00" });
    let (ok, refused) = send(
        store,
        &tampered.replace("EMERGENCY_LOCKDOWN", "PRODUCTION_LOCK"),
    );
    assert!(
        !ok && refused["error"]["code"] == "SIGNATURE_INVALID",
        "{refused}"
    );
    let (ok, malformed) = send(store, r#"{"type":"EMERGENCY_LOCKDOWN","signature":"yes"}"#);
    assert!(
        !ok && malformed["error"]["details"]["field"] == "signature",
        "{malformed}"
    );
    store.commit().unwrap();
}

/// A new store at `path` holding `n` registered artifacts (one record each after the role
/// grant), every command accepted.
fn store_with_artifacts(path: &std::path::Path, n: u64) -> Store {
    let alice = ActorId::new("alice").unwrap();
    let t = at("2026-01-05T14:30:00Z");
    let mut store = host::init(path, &alice, t).unwrap();
    let input: String = (1..=n)
        .map(|i| {
            format!(
                "{{\"type\":\"REGISTER_ARTIFACT\",\"ref\":\"runs/r-{i}/report.json\",\"digest\":\"blake3:{i:064x}\"}}\n"
            )
        })
        .collect();
    let mut out = Vec::new();
    let tally = host::apply(
        &mut store,
        &mut BufReader::new(input.as_bytes()),
        &mut out,
        Some(&alice),
        &mut || t,
    )
    .unwrap();
    assert_eq!(tally.refused, 0);
    store
}

/// Opening a store checks records on a second thread, batch by batch, while the first reads
/// and folds (or, with a snapshot, links them into the journal); whatever the damage and
/// wherever it falls (first, middle or last record of a batch, or two damages in different
/// batches), both opens fail naming the first damaged seq, as a sequential read would, and an
/// undamaged store reopens to the same plane.
#[test]
fn opening_a_large_store_names_the_first_damaged_seq_in_any_batch() {
    let path = temp_store("large");
    let mut store = store_with_artifacts(&path, 1500);
    // A snapshot at the head: `Store::open` then reads the rows into a journal (shape checked
    // ahead), `Store::open_replaying` folds them (decoded ahead).
    store.snapshot().unwrap();
    let head = store.head();
    let digest = store.kernel().state_digest().unwrap();
    drop(store);
    assert!(head.seq > 5 * 256, "the store spans several batches");
    let reopened = Store::open_replaying(&path).unwrap();
    assert_eq!(reopened.head(), head);
    assert_eq!(reopened.kernel().state_digest().unwrap(), digest);
    drop(reopened);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let get = |seq: u64, column: &str| -> Vec<u8> {
        conn.query_row(
            &format!("SELECT {column} FROM journal WHERE seq = ?1"),
            [seq],
            |r| r.get(0),
        )
        .unwrap()
    };
    let set = |seq: u64, column: &str, value: &[u8]| {
        conn.execute(
            &format!("UPDATE journal SET {column} = ?1 WHERE seq = ?2"),
            rusqlite::params![value, seq],
        )
        .unwrap();
    };
    // A damage that the checking thread finds (a changed body byte), and one that the reading
    // thread finds (a stored hash of the wrong length).
    let flip_body = |seq: u64| {
        let mut body = get(seq, "body");
        let i = body.len() / 2;
        body[i] ^= 0x01;
        body
    };
    let expect_damaged_at = |seq: u64, what: &str| {
        for (how, opened) in [
            ("replaying", Store::open_replaying(&path)),
            ("from the snapshot", Store::open(&path)),
        ] {
            match opened {
                Err(ro_bindings::store::StoreError::Damaged { seq: at, message }) => {
                    assert_eq!(at, seq, "{what}, {how}: {message}");
                }
                Err(other) => panic!("{what}, {how}: {other}"),
                Ok(_) => panic!("{what}, {how}: the damage went unnoticed"),
            }
        }
    };
    let last = head.seq;
    for seq in [1, 255, 256, 257, 512, 700, last - 1, last] {
        let body = get(seq, "body");
        set(seq, "body", &flip_body(seq));
        expect_damaged_at(seq, &format!("body of {seq}"));
        set(seq, "body", &body);
        let hash = get(seq, "hash");
        set(seq, "hash", &hash[..31]);
        expect_damaged_at(seq, &format!("short hash of {seq}"));
        set(seq, "hash", &hash);
    }
    // Two damages: whichever kind comes first is the one named.
    for (early, late, early_body) in [(300, 1100, true), (300, 1100, false)] {
        let (body, hash) = (get(early, "body"), get(late, "hash"));
        let (late_body, early_hash) = (get(late, "body"), get(early, "hash"));
        if early_body {
            set(early, "body", &flip_body(early));
            set(late, "hash", &hash[..31]);
        } else {
            set(early, "hash", &early_hash[..31]);
            set(late, "body", &flip_body(late));
        }
        expect_damaged_at(early, &format!("two damages, early body {early_body}"));
        set(early, "body", &body);
        set(early, "hash", &early_hash);
        set(late, "hash", &hash);
        set(late, "body", &late_body);
    }
    drop(conn);
    let reopened = Store::open_replaying(&path).unwrap();
    assert_eq!(reopened.kernel().state_digest().unwrap(), digest);
    drop(reopened);
    let reopened = Store::open(&path).unwrap();
    assert!(matches!(
        reopened.restored(),
        Some(ro_core::Restored::FromSnapshot { .. })
    ));
    assert_eq!(reopened.kernel().state_digest().unwrap(), digest);
}

/// A snapshot is trusted as its writer is: one written whole by someone else (its checksum and
/// recorded digest consistent) is used by an open. `ro verify` replays the journal to each
/// kept snapshot's seq and refuses one that records a state the journal does not produce.
#[test]
fn verify_refuses_a_snapshot_the_journal_does_not_produce() {
    use ro_admin::Plane;
    use ro_core::{Journal, Kernel, Restored};
    let path = temp_store("forged-snapshot");
    let mut store = store_with_artifacts(&path, 20);
    store.snapshot().unwrap();
    assert_eq!(
        store.verify_snapshots().unwrap(),
        1,
        "an honest snapshot passes"
    );
    assert!(ro(&path, &["verify"], "").status.success());
    let head = store.head();
    let honest = store.kernel().state_digest().unwrap();
    // The state one record earlier, claimed at the head.
    let records = store.kernel().journal().records().to_vec();
    let earlier = Journal::from_records(records[..records.len() - 1].iter().cloned()).unwrap();
    let (earlier, _) = Kernel::resume(Plane::default(), 0, earlier)
        .unwrap()
        .into_parts();
    let forged = Kernel::resume(earlier, head.seq, store.kernel().journal().clone())
        .unwrap()
        .snapshot()
        .unwrap();
    // And the state at the head claimed at seq 0 (the empty journal), which an open would use
    // as the start of a full replay on top.
    let (at_head, _) = store.kernel().clone().into_parts();
    let forged_at_zero = Kernel::resume(at_head, 0, Journal::new())
        .unwrap()
        .snapshot()
        .unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let changed = conn
        .execute(
            "UPDATE snapshots SET bytes = ?1 WHERE seq = ?2",
            rusqlite::params![forged, head.seq],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let mut opened = Store::open(&path).unwrap();
    assert!(matches!(
        opened.restored(),
        Some(Restored::FromSnapshot { .. })
    ));
    assert_ne!(opened.kernel().state_digest().unwrap(), honest);
    match opened.verify_snapshots() {
        Err(ro_bindings::store::StoreError::SnapshotMismatch { seq }) => assert_eq!(seq, head.seq),
        other => panic!("the forged snapshot passed: {other:?}"),
    }
    drop(opened);
    let out = ro(&path, &["verify"], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let error = &lines(&out)[0]["error"];
    assert_eq!(error["code"], "SNAPSHOT_MISMATCH", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains(&format!("seq {}", head.seq)),
        "{error}"
    );
    // The forged snapshot at seq 0 alone.
    conn.execute("DELETE FROM snapshots", []).unwrap();
    conn.execute(
        "INSERT INTO snapshots (seq, bytes) VALUES (0, ?1)",
        rusqlite::params![forged_at_zero],
    )
    .unwrap();
    drop(conn);
    match Store::open(&path).unwrap().verify_snapshots() {
        Err(ro_bindings::store::StoreError::SnapshotMismatch { seq }) => assert_eq!(seq, 0),
        other => panic!("the forged snapshot at seq 0 passed: {other:?}"),
    }
}

/// A script learns that a two-step command is not done (exit 3, its answer says when the token
/// expires and what to send next), and which input line each refusal answers.
#[test]
fn a_pending_confirmation_exits_three_and_refusals_name_their_line() {
    let store = temp_store("pending");
    let init = init_open(&store, Some("2026-01-05T14:30:00Z"));
    assert!(init.status.success(), "{init:?}");
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
        "{\"type\":\"EMERGENCY_LOCKDOWN\"}\n{\"type\":\"RELEASE_LOCKDOWN\"}\n",
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let answers = lines(&out);
    let pending = &answers[1];
    assert_eq!(pending["confirmation_required"], true, "{pending}");
    assert!(
        pending["next"]
            .as_str()
            .unwrap()
            .contains("confirmation_token")
    );
    let expires = Timestamp::parse_rfc3339(pending["expires_at"].as_str().unwrap()).unwrap();
    let status = lines(&ro(&store, &["status"], ""))[0].clone();
    let head_at = Timestamp::parse_rfc3339(status["head_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        expires.unix_seconds() - head_at.unix_seconds(),
        ro_admin::CONFIRMATION_TTL_SECONDS,
        "the token lives {} s from its request",
        ro_admin::CONFIRMATION_TTL_SECONDS
    );
    // Refusals name their input line; blank lines count.
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
        "{\"type\":\"ENGAGE_KILL_SWITCH\"}\n\n{\"type\":\"NOPE\"}\nnot json\n",
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let answers = lines(&out);
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["ok"], true);
    assert_eq!(answers[1]["error"]["details"]["line"], 3, "{}", answers[1]);
    assert_eq!(answers[2]["error"]["details"]["line"], 4, "{}", answers[2]);
}

#[test]
fn documents_printed_over_several_lines_are_read_whole_and_named_by_their_first_line() {
    let store = temp_store("blocks");
    assert!(init_open(&store, None).status.success());
    // As a runbook prints them: one-line documents and pretty-printed blocks, a bracket
    // inside a string, an unfinished document followed by a new one.
    let input = r#"{"type":"REPORT_COMPONENT","component":"a","healthy":true}
{
  "type": "REPORT_COMPONENT",
  "component": "b",
  "healthy": true
}

{
  "type": "NOPE",
  "x": [1, 2, {"y": "}"}]
}
{"type":"REPORT_COMPONENT",
{"type":"REPORT_COMPONENT","component":"c","healthy":true}
"#;
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--actor", "alice"],
        input,
    );
    let answers = lines(&out);
    let summary: Vec<(bool, Option<&str>, Option<u64>)> = answers
        .iter()
        .map(|a| {
            (
                a["ok"] == true,
                a["error"]["code"].as_str(),
                a["error"]["details"]["line"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (true, None, None),
            (true, None, None),
            (false, Some("UNKNOWN_COMMAND"), Some(8)),
            (false, Some("INVALID_JSON"), Some(12)),
            (true, None, None),
        ],
        "{answers:?}"
    );
    assert_eq!(out.status.code(), Some(1));
    let components: Vec<String> = answers
        .iter()
        .filter_map(|a| a["events"][0]["event"]["event"]["component"].as_str())
        .map(str::to_owned)
        .collect();
    assert_eq!(components, ["a", "b", "c"]);
}

#[test]
fn a_new_plane_starts_locked_and_observe_only() {
    let store = temp_store("posture");
    let out = ro(&store, &["init", "--admin", "alice"], "");
    assert!(out.status.success());
    let plane = &lines(&out)[0]["plane"];
    assert_eq!(plane["production_locked"], true, "{plane}");
    assert_eq!(plane["kill_switch"], true, "{plane}");
    assert_eq!(plane["safe_to_execute"], false, "{plane}");
    // Observe-only: the status is OK, execution closed, strategies may run.
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--actor", "alice"],
        "{\"type\":\"OPS_STATUS\"}\n",
    );
    let status = &lines(&out)[0]["result"];
    assert_eq!(status["state"], "OK", "{status}");
    assert_eq!(status["safety"]["safe_to_execute_orders"], false);
    assert_eq!(status["safety"]["safe_to_run_strategies"], true);
    assert_eq!(
        status["reason_codes"],
        serde_json::json!(["KILL_SWITCH", "PRODUCTION_LOCKED"])
    );
    // The unlocked start is explicit.
    let open = temp_store("posture-open");
    let out = init_open(&open, None);
    assert_eq!(lines(&out)[0]["plane"]["safe_to_execute"], true);
    let bad = ro(
        &temp_store("posture-bad"),
        &["init", "--posture", "open", "--admin", "alice"],
        "",
    );
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_plane_is_rebuilt_as_of_any_seq() {
    let store = temp_store("at-seq");
    assert!(
        init_open(&store, Some("2026-03-02T13:00:00Z"))
            .status
            .success()
    );
    let mut seen = Vec::new();
    for (i, doc) in [
        r#"{"type":"EMERGENCY_LOCKDOWN","at":"2026-03-02T13:01:00Z"}"#,
        r#"{"type":"REPORT_COMPONENT","component":"feed","healthy":true,"at":"2026-03-02T13:02:00Z"}"#,
        r#"{"type":"ENGAGE_KILL_SWITCH","at":"2026-03-02T13:03:00Z"}"#,
    ]
    .iter()
    .enumerate()
    {
        let out = ro(&store, &["apply", "--reason", "per runbook", "--history", "--actor", "alice"], &format!("{doc}\n"));
        assert!(out.status.success(), "{i}: {out:?}");
        seen.push(lines(&ro(&store, &["status"], ""))[0].clone());
    }
    for then in &seen {
        let seq = then["head_seq"].as_u64().unwrap().to_string();
        let now = lines(&ro(&store, &["status", "--at-seq", &seq], ""))[0].clone();
        for field in ["head_seq", "head_hash", "head_at", "state_digest", "plane"] {
            assert_eq!(now[field], then[field], "{field} at seq {seq}");
        }
        assert_eq!(
            now["opened_from"]["replayed_to_seq"].as_u64(),
            then["head_seq"].as_u64()
        );
    }
    let beyond = ro(&store, &["status", "--at-seq", "999"], "");
    assert_eq!(beyond.status.code(), Some(2));
    assert_eq!(lines(&beyond)[0]["error"]["code"], "INVALID_ARGUMENT");
}

/// `ro init` of an open plane (no production lock, no kill switch) with alice as admin.
fn init_open(store: &PathBuf, at: Option<&str>) -> Output {
    let mut args = vec!["init", "--posture", "unlocked", "--admin", "alice"];
    args.extend(at.map(|at| ["--at", at]).into_iter().flatten());
    ro(store, &args, "")
}

#[test]
fn model_metadata_keeps_decimals_exactly_and_a_repeat_says_it_changed_nothing() {
    let path = temp_store("decimals");
    let alice = ActorId::new("alice").unwrap();
    let mut store = host::init(&path, &alice, at("2026-01-05T14:30:00Z")).unwrap();
    let now = at("2026-01-05T14:31:00Z");
    // As an operator writes it, pretty-printed or not: every decimal held as its text.
    let register = r#"{"type":"REGISTER_MODEL","metadata":{"version":"M-A-V1","auc":0.91,"loss":1e-3,"precise":0.123456789012345678901234567890,"curve":[0.5,2,{"x":-0.25}],"note":"3.14 in a string stays"}}"#;
    let (ok, answer) = host::execute_line(store.kernel_mut(), register, Some(&alice), now);
    assert!(ok, "{answer}");
    let metadata: Value = serde_json::from_str(
        answer["events"][0]["event"]["event"]["metadata"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(metadata["auc"], "0.91");
    assert_eq!(metadata["loss"], "1e-3");
    assert_eq!(metadata["precise"], "0.123456789012345678901234567890");
    assert_eq!(
        metadata["curve"],
        serde_json::json!(["0.5", 2, {"x": "-0.25"}])
    );
    assert_eq!(metadata["note"], "3.14 in a string stays");
    // The same registration again: accepted, nothing recorded, and the answer says so.
    let (ok, again) = host::execute_line(store.kernel_mut(), register, Some(&alice), now);
    assert!(ok, "{again}");
    assert_eq!(again["events"], serde_json::json!([]));
    assert_eq!(again["result"], serde_json::json!({ "unchanged": true }));
    // Other metadata under the same version: refused.
    let (ok, other) = host::execute_line(
        store.kernel_mut(),
        r#"{"type":"REGISTER_MODEL","metadata":{"version":"M-A-V1","auc":0.92}}"#,
        Some(&alice),
        now,
    );
    assert!(!ok);
    assert_eq!(other["error"]["code"], "MODEL_VERSION_EXISTS", "{other}");
    // Decimals elsewhere are still read exactly or refused, never rounded.
    let (ok, ratio) = host::execute_line(
        store.kernel_mut(),
        r#"{"type":"SET_CANARY_RATIO","ratio":0.99999999999999999999}"#,
        Some(&alice),
        now,
    );
    assert!(!ok);
    assert_eq!(ratio["error"]["code"], "INVALID_JSON", "{ratio}");
}

/// New York's offset from UTC at `t`, by the rule, not the zone database: daylight time from
/// the second Sunday of March at 02:00 local to the first Sunday of November at 02:00 local.
fn new_york_offset_hours(t: time::OffsetDateTime) -> i64 {
    let nth_sunday = |month: time::Month, n: u8| {
        let first = time::Date::from_calendar_date(t.year(), month, 1).unwrap();
        let to_sunday = (7 - first.weekday().number_days_from_sunday()) % 7;
        first + time::Duration::days(i64::from(to_sunday) + 7 * (i64::from(n) - 1))
    };
    // 02:00 EST is 07:00Z; 02:00 EDT is 06:00Z.
    let starts = nth_sunday(time::Month::March, 2)
        .with_hms(7, 0, 0)
        .unwrap()
        .assume_utc();
    let ends = nth_sunday(time::Month::November, 1)
        .with_hms(6, 0, 0)
        .unwrap()
        .assume_utc();
    if t >= starts && t < ends { -4 } else { -5 }
}

/// Whether the exchange is open at `t`, computed independently of the plane: weekdays, the
/// published holidays and 13:00 early closes of the period, 09:30 to 16:00 local.
fn exchange_open(t: time::OffsetDateTime) -> bool {
    let local = t + time::Duration::hours(new_york_offset_hours(t));
    let date = local.date().to_string();
    let weekend = matches!(
        local.weekday(),
        time::Weekday::Saturday | time::Weekday::Sunday
    );
    if weekend || ["2026-11-26", "2026-12-25"].contains(&date.as_str()) {
        return false;
    }
    let minute = u32::from(local.hour()) * 60 + u32::from(local.minute());
    let close = if ["2026-11-27", "2026-12-24"].contains(&date.as_str()) {
        13 * 60
    } else {
        16 * 60
    };
    (9 * 60 + 30..close).contains(&minute)
}

#[test]
fn the_locked_posture_reports_ok_in_market_hours_and_market_closed_outside_every_quarter_hour() {
    // Five weeks: the return to standard time (1 November), Thanksgiving (closed) and the
    // early close the day after, under the default posture (production locked, kill switch
    // engaged), with the shipped calendar and fresh market data.
    let path = temp_store("quarter-hours");
    let alice = ActorId::new("alice").unwrap();
    let start = time::macros::datetime!(2026-10-26 04:00 UTC);
    let stamp =
        |t: time::OffsetDateTime| Timestamp::from_unix_nanos(t.unix_timestamp_nanos()).unwrap();
    let mut store = host::init_with_posture(&path, &alice, stamp(start), true).unwrap();
    let calendar = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../calendars/nyse-2026.json"),
    )
    .unwrap();
    let (ok, defined) =
        host::execute_line(store.kernel_mut(), &calendar, Some(&alice), stamp(start));
    assert!(ok, "{defined}");
    let report = r#"{"type":"REPORT_COMPONENT","component":"marketdata","healthy":true,"critical":true,"fresh_for_ms":1200000}"#;
    let status = r#"{"type":"OPS_STATUS","calendar":"nyse"}"#;
    let (mut open, mut closed) = (0, 0);
    let mut t = start;
    while t < time::macros::datetime!(2026-11-30 05:00 UTC) {
        let now = stamp(t);
        assert!(host::execute_line(store.kernel_mut(), report, Some(&alice), now).0);
        let (ok, answer) = host::execute_line(store.kernel_mut(), status, Some(&alice), now);
        assert!(ok, "{answer}");
        let result = &answer["result"];
        let expected = if exchange_open(t) {
            "OK"
        } else {
            "MARKET_CLOSED"
        };
        assert_eq!(result["state"], expected, "{t}: {result}");
        assert_eq!(result["safety"]["safe_to_execute_orders"], false, "{t}");
        assert_eq!(result["safety"]["safe_to_run_strategies"], true, "{t}");
        if expected == "OK" {
            open += 1;
        } else {
            closed += 1;
        }
        t += time::Duration::minutes(15);
    }
    // 23 full sessions of 26 quarter hours, and the early close's 14.
    assert_eq!((open, closed), (23 * 26 + 14, 3364 - 23 * 26 - 14));
}

/// The operator runbook run as a script would run it: its documents exactly as printed there
/// (pretty-printed blocks, `operator_id`, `UNRELEASE_LOCKDOWN`), through `ro apply`, each
/// two-step command sent again with the token the first answer gave, and the incident
/// investigation through the files `ro report incidents` writes.
#[test]
fn a_script_completes_the_operator_runbook_from_its_printed_documents() {
    let store = temp_store("runbook-script");
    assert!(
        ro(
            &store,
            &["init", "--admin", "Op-01", "--posture", "unlocked"],
            ""
        )
        .status
        .success()
    );
    let apply = |input: &str| -> (Option<i32>, Vec<Value>) {
        let out = ro(
            &store,
            &["apply", "--reason", "per runbook", "--actor", "Op-01"],
            input,
        );
        (out.status.code(), lines(&out))
    };
    // A document sent again with its confirmation token, as the answer says.
    let confirm = |block: &str, token: &str| {
        block.replacen(
            '{',
            &format!("{{ \"confirmation_token\": \"{token}\",\n"),
            1,
        )
    };
    let two_step = |block: &str| -> Value {
        let (code, first) = apply(block);
        assert_eq!(code, Some(3), "the first step is pending: {first:?}");
        assert_eq!(first[0]["confirmation_required"], true);
        assert!(first[0]["expires_at"].is_string(), "{:?}", first[0]);
        let token = first[0]["confirmation_token"].as_str().unwrap().to_owned();
        let (code, second) = apply(&confirm(block, &token));
        assert_eq!(code, Some(0), "{second:?}");
        second[0].clone()
    };
    let cycles = |n: usize| "{\"type\":\"RECORD_CYCLE\",\"intent\":\"HOLD\"}\n".repeat(n);
    // The model in production before the runbook starts (what rollback returns to).
    let (code, _) = apply(
        "{\"type\":\"REGISTER_MODEL\",\"metadata\":{\"version\":\"M-Base-V0\"}}\n{\"type\":\"SET_CANDIDATE_MODEL\",\"version\":\"M-Base-V0\"}\n",
    );
    assert_eq!(code, Some(0));
    assert_eq!(apply(&cycles(1000)).0, Some(0));
    two_step("{ \"type\": \"PROMOTE_CANDIDATE\", \"operator_id\": \"Op-01\" }");

    // 1. Model promotion: registration, shadow evaluation, canary, promotion.
    let (code, registered) = apply(
        r#"{
  "type": "REGISTER_MODEL",
  "metadata": { "version": "M-MyModel-V1" }
}
"#,
    );
    assert_eq!(code, Some(0), "{registered:?}");
    assert_eq!(
        apply(r#"{ "type": "SET_CANDIDATE_MODEL", "version": "M-MyModel-V1" }"#).0,
        Some(0)
    );
    assert_eq!(apply(&cycles(1000)).0, Some(0));
    let (_, heartbeat) = apply(r#"{ "type": "HEARTBEAT" }"#);
    let result = &heartbeat[0]["result"];
    assert_eq!(result["monitoring"]["shadow_complete"], true, "{result}");
    assert!(result["online_ml_metrics"].is_object(), "{result}");
    let (code, canary) = apply(r#"{ "type": "SET_CANARY_RATIO", "ratio": 0.05 }"#);
    assert_eq!(code, Some(0), "{canary:?}");
    let (code, first) = apply(r#"{ "type": "PROMOTE_CANDIDATE", "operator_id": "Op-01" }"#);
    assert_eq!(code, Some(3));
    let token = first[0]["confirmation_token"].as_str().unwrap();
    let (code, promoted) = apply(
        &r#"{ "type": "PROMOTE_CANDIDATE", "operator_id": "Op-01", "confirmation_token": "TOKEN_HERE" }"#
            .replace("TOKEN_HERE", token),
    );
    assert_eq!(code, Some(0), "{promoted:?}");
    let (_, heartbeat) = apply(r#"{ "type": "HEARTBEAT" }"#);
    assert_eq!(heartbeat[0]["result"]["active_model"], "M-MyModel-V1");

    // 2. Emergency responses: the panic button, its release, the instant rollback.
    assert_eq!(
        apply(r#"{ "type": "EMERGENCY_LOCKDOWN", "operator_id": "Op-01" }"#).0,
        Some(0)
    );
    let (_, cycle) = apply(&cycles(1));
    assert_eq!(cycle[0]["result"]["intent"], "STOP", "{cycle:?}");
    let (code, blocked) = apply(r#"{ "type": "SET_CANARY_RATIO", "ratio": 0.1 }"#);
    assert_eq!(code, Some(1));
    assert_eq!(blocked[0]["error"]["code"], "LOCKDOWN_ACTIVE");
    two_step(
        r#"{ "type": "UNRELEASE_LOCKDOWN", "operator_id": "Op-01" }
"#,
    );
    two_step(r#"{ "type": "ROLLBACK_MODEL", "operator_id": "Op-01" }"#);
    let (_, heartbeat) = apply(r#"{ "type": "HEARTBEAT" }"#);
    assert_eq!(heartbeat[0]["result"]["active_model"], "M-Base-V0");
    assert_eq!(heartbeat[0]["result"]["lockdown"], false);

    // 3. Incident investigation: the failure, its file, the reset.
    let (code, _) = apply(
        "{\"type\":\"REPORT_FAILURE\",\"mode\":\"FAILED\",\"description\":\"position limits breached\"}\n",
    );
    assert_eq!(code, Some(0));
    let (_, heartbeat) = apply(r#"{ "type": "HEARTBEAT" }"#);
    assert_eq!(heartbeat[0]["result"]["failure_status"], "FAILED");
    let failures = store.with_file_name("failures");
    let out = ro(
        &store,
        &["report", "incidents", "--dir", failures.to_str().unwrap()],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    let id = heartbeat[0]["result"]["open_incidents"][0]["incident_id"]
        .as_str()
        .unwrap();
    let incident: Value = serde_json::from_slice(
        &std::fs::read(failures.join(format!("incident_{id}.json"))).unwrap(),
    )
    .unwrap();
    assert!(
        incident["audit_hash"]
            .as_str()
            .unwrap()
            .starts_with("blake3:")
    );
    assert_eq!(
        incident["state_snapshot"]["heartbeat"]["failure_status"],
        "FAILED"
    );
    two_step(
        r#"{ "type": "RESET_FAILURE_STATUS", "operator_id": "Op-01" }
"#,
    );
    let (_, heartbeat) = apply(r#"{ "type": "HEARTBEAT" }"#);
    assert_eq!(heartbeat[0]["result"]["failure_status"], "NORMAL");

    // 4. The daily checklist: the figures, the active model, the quarantine.
    let health = ro(&store, &["report", "health"], "");
    assert!(health.status.success(), "{health:?}");
    let quarantine = ro(&store, &["report", "quarantine"], "");
    assert!(quarantine.status.success());
    assert_eq!(lines(&quarantine)[0]["quarantine"], serde_json::json!([]));
}

#[test]
fn an_infeasible_record_goes_through_the_host_with_its_typed_reason() {
    let path = temp_store("infeasible");
    let alice = ActorId::new("alice").unwrap();
    let mut store = host::init(&path, &alice, at("2026-01-05T14:30:00Z")).unwrap();
    let now = at("2026-01-05T14:31:00Z");
    let record = r#"{"type":"RECORD_INFEASIBLE","infeasible_id":"inf-1","story":"s-2","reason":"cost-data","trigger":"only tier D quotes","evidence_attempted":"three vendor quotes","allowed_next_action":"obtain audited cost data","blocked_downstream":"charter lock","required_remediation_artifact":"audited cost report","author":"alice"}"#;
    let (ok, answer) = host::execute_line(store.kernel_mut(), record, Some(&alice), now);
    assert!(ok, "{answer}");
    let event = &answer["events"][0]["event"]["event"];
    assert_eq!(event["record"]["reason"], "cost-data", "{answer}");
    // A reason outside the typed set is refused, naming the field.
    let (ok, bad) = host::execute_line(
        store.kernel_mut(),
        &record
            .replace("cost-data", "vibes")
            .replace("inf-1", "inf-2"),
        Some(&alice),
        now,
    );
    assert!(!ok);
    assert!(
        bad["error"]["message"].as_str().unwrap().contains("vibes"),
        "{bad}"
    );
}

/// Issue 28's first rule through the host: a violating cycle opens its compliance deviation,
/// which pauses production until a human resolves it; operators see it in the deviations
/// report and the change control in its own.
#[test]
fn a_violation_pauses_production_until_a_human_resolves_it_through_the_host() {
    let store = temp_store("deviation-acts");
    assert!(init_open(&store, None).status.success());
    let apply = |input: &str| {
        lines(&ro(
            &store,
            &["apply", "--reason", "per runbook", "--actor", "alice"],
            input,
        ))
    };
    let cycle = apply("{\"type\":\"RECORD_CYCLE\",\"intent\":\"BUY\",\"violation\":true}\n");
    assert_eq!(
        cycle[0]["events"][1]["event"]["event"]["type"],
        "DeviationOpened"
    );
    let next = apply("{\"type\":\"RECORD_CYCLE\",\"intent\":\"BUY\"}\n");
    assert_eq!(next[0]["result"]["intent"], "STOP", "{next:?}");
    let status = apply("{\"type\":\"OPS_STATUS\"}\n");
    assert_eq!(
        status[0]["result"]["reason_codes"],
        serde_json::json!(["DEVIATION_PAUSE"])
    );
    let report = lines(&ro(&store, &["report", "deviations", "--open"], ""));
    let open = &report[0]["deviations"];
    assert_eq!(open[0]["deviation_type"], "compliance_failure");
    assert_eq!(open[0]["action"], "pause");
    let id = open[0]["deviation_id"].as_str().unwrap().to_owned();
    let resolved = apply(&format!(
        "{{\"type\":\"RESOLVE_DEVIATION\",\"deviation_id\":\"{id}\",\"resolution\":\"reviewed\",\"reason\":\"the rule was fixed\"}}\n"
    ));
    assert_eq!(resolved[0]["ok"], true, "{resolved:?}");
    let after = apply("{\"type\":\"RECORD_CYCLE\",\"intent\":\"BUY\"}\n");
    assert_eq!(after[0]["result"]["intent"], "BUY");
    let changes = lines(&ro(&store, &["report", "changes"], ""));
    assert_eq!(changes[0]["baseline"], Value::Null);
}

/// Issue 28's freeze rule through the host: a frozen component refuses a controlled command.
#[test]
fn a_frozen_component_refuses_a_controlled_command_through_the_host() {
    let store = temp_store("freeze-holds");
    assert!(init_open(&store, None).status.success());
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--actor", "alice"],
        "{\"type\":\"FREEZE\",\"version\":{\"major\":1,\"minor\":0},\"components\":[\"limits\"]}\n{\"type\":\"SET_LIMITS\",\"limits\":{\"per_unit_ceiling_micros\":90000,\"daily_budget_micros\":100000,\"daily_rate\":4},\"reason\":\"raise it\"}\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let answers = lines(&out);
    assert_eq!(answers[0]["ok"], true);
    assert_eq!(
        answers[1]["error"]["code"], "FREEZE_DISCIPLINE",
        "{answers:?}"
    );
    assert_eq!(answers[1]["error"]["details"]["line"], 2);
}

/// Issue 28's tier rule through the host: a lockable tier-A value resting on tier-C context is
/// not eligible for lock.
#[test]
fn a_value_resting_on_tier_c_is_not_lockable_through_the_host() {
    let store = temp_store("tier-c");
    assert!(init_open(&store, None).status.success());
    assert!(
        ro(
            &store,
            &[
                "principal",
                "add",
                "rev",
                "--kind",
                "human",
                "--role",
                "reviewer",
                "--actor",
                "alice",
                "--reason",
                "onboarding"
            ],
            ""
        )
        .status
        .success()
    );
    let record = |id: &str, tier: &str, lockability: &str, deps: &str| {
        format!(
            "{{\"type\":\"RECORD_DERIVATION\",\"derivation_id\":\"{id}\",\"story\":\"s-1\",\"value_name\":\"{id}_value\",\"value\":\"0.7\",\"units\":\"ratio\",\"lockability\":\"{lockability}\",\"cost_tier\":\"{tier}\",\"artifact_path\":\"derivations/{id}.yaml\",\"git_sha\":\"b06d4e3\",\"input_hashes\":[\"blake3:{}\"],\"code_version\":\"1.4.0\",\"parameters\":{{}},\"author\":\"alice\",\"repro_command\":\"make derive\",\"depends_on\":[{deps}]}}\n",
            "0".repeat(63) + "1"
        )
    };
    let input =
        record("ctx", "C", "non-lockable", "") + &record("lean", "A", "lockable", "\"ctx\"");
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--actor", "alice"],
        &input,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let reviews = "{\"type\":\"REVIEW_DERIVATION\",\"derivation_id\":\"ctx\"}\n{\"type\":\"REVIEW_DERIVATION\",\"derivation_id\":\"lean\"}\n";
    assert!(
        ro(
            &store,
            &["apply", "--reason", "per runbook", "--actor", "rev"],
            reviews
        )
        .status
        .success()
    );
    let package = lines(&ro(&store, &["report", "handoff", "--story", "s-1"], ""));
    assert_eq!(
        package[0]["eligible_for_lock"],
        serde_json::json!([]),
        "{package:?}"
    );
    assert_eq!(package[0]["blocking"], serde_json::json!(["ctx", "lean"]));
}

/// Issue 28's permissions through the host: the built-in analyst launches nothing.
#[test]
fn an_analyst_launches_nothing_through_the_host() {
    let store = temp_store("analyst-runs");
    assert!(init_open(&store, None).status.success());
    assert!(
        ro(
            &store,
            &[
                "principal",
                "add",
                "ana",
                "--kind",
                "human",
                "--role",
                "analyst",
                "--actor",
                "alice",
                "--reason",
                "onboarding"
            ],
            ""
        )
        .status
        .success()
    );
    let defined = ro(
        &store,
        &["apply", "--reason", "per runbook", "--actor", "alice"],
        "{\"type\":\"DEFINE_JOB\",\"definition\":{\"job_id\":\"report\",\"version\":1}}\n",
    );
    assert!(defined.status.success());
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--actor", "ana"],
        "{\"type\":\"REQUEST_RUN\",\"job_id\":\"report\",\"intent\":\"manual\",\"partition\":\"p-1\"}\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let answer = &lines(&out)[0];
    assert_eq!(answer["error"]["code"], "UNAUTHORIZED", "{answer}");
}

/// Issue 28's derivation content rules through the host: placeholders and non-digests are
/// refused; the template's `mlflow_run_id` is the run id.
#[test]
fn derivation_content_rules_hold_through_the_host() {
    let store = temp_store("derivation-content");
    assert!(init_open(&store, None).status.success());
    let doc = |value: &str, hash: &str| {
        format!(
            "{{\"type\":\"RECORD_DERIVATION\",\"derivation_id\":\"v-1\",\"story\":\"s-1\",\"value_name\":\"capacity\",\"value\":\"{value}\",\"units\":\"ratio\",\"lockability\":\"lockable\",\"cost_tier\":\"A\",\"mlflow_run_id\":\"run-42\",\"git_sha\":\"b06d4e3\",\"input_hashes\":[\"{hash}\"],\"code_version\":\"1.4.0\",\"author\":\"alice\",\"repro_command\":\"make derive\"}}\n"
        )
    };
    let digest = format!("blake3:{}", "0".repeat(63) + "1");
    let input = doc("TBD", &digest) + &doc("0.7", "not-a-hash") + &doc("0.7", &digest);
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--actor", "alice"],
        &input,
    );
    let answers = lines(&out);
    assert!(
        answers[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("placeholder")
    );
    assert!(
        answers[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a digest")
    );
    assert_eq!(answers[2]["ok"], true, "{:?}", answers[2]);
    assert_eq!(
        answers[2]["events"][0]["event"]["event"]["record"]["run_id"],
        "run-42"
    );
}

/// Issue 28's complete audit through the host: change control, config publication, rule and
/// role definitions and deviation resolutions are admin actions in `audit --admin`.
#[test]
fn change_control_configs_rules_and_resolutions_are_in_the_admin_audit() {
    let store = temp_store("admin-audit");
    assert!(init_open(&store, None).status.success());
    let input = [
        r#"{"type":"FREEZE","version":{"major":1,"minor":0},"components":["orchestrator"]}"#,
        r#"{"type":"REQUEST_CHANGE","change_id":"cr-1","component":"orchestrator","description":"raise the rate"}"#,
        r#"{"type":"PUBLISH_CONFIG","config_name":"risk","config_version":"1.0.0","ref":"configs/risk.json","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001"}"#,
        r#"{"type":"DEFINE_ROLE","role":"auditor","permissions":["READ_ARTIFACT"]}"#,
        r#"{"type":"RECORD_DEVIATION","deviation_type":"determinism_threshold_failure","summary":"94 % over 100 cycles"}"#,
    ]
    .join("\n")
        + "\n";
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--actor", "alice"],
        &input,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let id = lines(&out)[4]["events"][0]["event"]["event"]["deviation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resolve = format!(
        "{{\"type\":\"RESOLVE_DEVIATION\",\"deviation_id\":\"{id}\",\"resolution\":\"threshold back above 95 %\"}}\n"
    );
    assert!(
        ro(
            &store,
            &["apply", "--reason", "per runbook", "--actor", "alice"],
            &resolve
        )
        .status
        .success()
    );
    let audit = lines(&ro(&store, &["audit", "--admin"], ""));
    let actions: Vec<&str> = audit
        .iter()
        .map(|r| r["action_type"].as_str().unwrap())
        .collect();
    for expected in [
        "FREEZE",
        "REQUEST_CHANGE",
        "PUBLISH_CONFIG",
        "DEFINE_ROLE",
        "RESOLVE_DEVIATION",
    ] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
}

/// Issue 28's config rule through the host: a job names only published config versions.
#[test]
fn a_job_names_only_published_config_versions_through_the_host() {
    let store = temp_store("job-configs");
    assert!(init_open(&store, None).status.success());
    let job = |version: u32, config_version: &str| {
        format!(
            "{{\"type\":\"DEFINE_JOB\",\"definition\":{{\"job_id\":\"report\",\"version\":{version},\"config_versions\":[{{\"config_name\":\"risk\",\"config_version\":\"{config_version}\"}}]}}}}\n"
        )
    };
    let input = job(1, "2.0.0")
        + "{\"type\":\"PUBLISH_CONFIG\",\"config_name\":\"risk\",\"config_version\":\"2.0.0\",\"ref\":\"configs/risk.json\",\"digest\":\"blake3:0000000000000000000000000000000000000000000000000000000000000001\"}\n"
        + &job(1, "2.0.0");
    let answers = lines(&ro(
        &store,
        &["apply", "--reason", "per runbook", "--actor", "alice"],
        &input,
    ));
    assert!(
        answers[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("was never published"),
        "{:?}",
        answers[0]
    );
    assert_eq!(answers[1]["ok"], true);
    assert_eq!(answers[2]["ok"], true, "{:?}", answers[2]);
    // A run shows the config versions it ran with, even after the job moved on.
    let request = "{\"type\":\"REQUEST_RUN\",\"job_id\":\"report\",\"intent\":\"manual\",\"partition\":\"p-1\"}\n";
    let requested = lines(&ro(&store, &["apply", "--actor", "alice"], request));
    let run_id = requested[0]["events"][0]["event"]["event"]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let moved_on = "{\"type\":\"PUBLISH_CONFIG\",\"config_name\":\"risk\",\"config_version\":\"2.1.0\",\"ref\":\"configs/risk-2.1.json\",\"digest\":\"blake3:0000000000000000000000000000000000000000000000000000000000000002\"}\n".to_owned()
        + &job(2, "2.1.0");
    let moved = lines(&ro(
        &store,
        &["apply", "--actor", "alice", "--reason", "risk 2.1"],
        &moved_on,
    ));
    assert!(moved.iter().all(|a| a["ok"] == true), "{moved:?}");
    let status = lines(&ro(
        &store,
        &["apply", "--actor", "alice"],
        &format!("{{\"type\":\"RUN_STATUS\",\"run_id\":\"{run_id}\"}}\n"),
    ));
    let result = &status[0]["result"];
    assert_eq!(result["job_version"], 1, "{status:?}");
    assert_eq!(result["config_versions"][0]["config_version"], "2.0.0");
}

/// Issue 28's breaches under alerts through the host: a unit a limit blocked raises an alert.
#[test]
fn a_limit_breach_is_listed_under_alerts_through_the_host() {
    let store = temp_store("limit-alerts");
    assert!(init_open(&store, None).status.success());
    let input = "{\"type\":\"SET_LIMITS\",\"limits\":{\"per_unit_ceiling_micros\":50000,\"daily_budget_micros\":100000,\"daily_rate\":4}}\n{\"type\":\"RECORD_COST\",\"unit_id\":\"u-1\",\"cost_micros\":90000}\n";
    let answers = lines(&ro(
        &store,
        &["apply", "--reason", "per runbook", "--actor", "alice"],
        input,
    ));
    assert_eq!(answers[0]["ok"], true);
    assert_eq!(answers[1]["ok"], false, "{:?}", answers[1]);
    let alerts = lines(&ro(&store, &["report", "alerts", "--open"], ""));
    let subjects: Vec<&str> = alerts[0]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["trigger"] == "LIMIT_BREACH")
        .map(|a| a["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["COST_CEILING_BLOCKED"], "{alerts:?}");
}

/// Issue 28's gates rule through the host: a job's input gate is the artifact store's; a
/// caller's PASS for an unregistered or failed input is refused and recorded, and a PASS set in
/// the store unblocks the run.
#[test]
fn job_input_gates_come_from_the_artifact_store_through_the_host() {
    let store = temp_store("job-gates");
    assert!(init_open(&store, None).status.success());
    let apply = |input: &str| {
        lines(&ro(
            &store,
            &["apply", "--reason", "per runbook", "--actor", "alice"],
            input,
        ))
    };
    let defined = apply(
        "{\"type\":\"DEFINE_JOB\",\"definition\":{\"job_id\":\"report\",\"version\":1,\"inputs\":[\"data/prices.parquet\"]}}\n{\"type\":\"REQUEST_RUN\",\"job_id\":\"report\",\"intent\":\"manual\",\"partition\":\"p-1\"}\n",
    );
    assert_eq!(defined[1]["ok"], true, "{defined:?}");
    let run_id = defined[1]["events"][0]["event"]["event"]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = format!("{{\"type\":\"START_ATTEMPT\",\"run_id\":\"{run_id}\"}}\n");
    let pass = "{\"type\":\"OBSERVE_GATE\",\"ref\":\"data/prices.parquet\",\"status\":\"PASS\"}\n";
    // Never registered: a caller's PASS is refused, and the run does not start.
    let unregistered = apply(&(pass.to_owned() + &start));
    assert_eq!(
        unregistered[0]["error"]["code"], "GATE_CONTRADICTS_STORE",
        "{unregistered:?}"
    );
    assert!(
        unregistered[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("as UNREGISTERED, not PASS")
    );
    assert_eq!(unregistered[1]["error"]["code"], "INPUTS_NOT_PASS");
    // Registered and failed in the store: still refused.
    let failed = apply(&format!(
        "{{\"type\":\"REGISTER_ARTIFACT\",\"ref\":\"data/prices.parquet\",\"digest\":\"blake3:{:064x}\"}}\n{{\"type\":\"SET_ARTIFACT_GATE\",\"ref\":\"data/prices.parquet\",\"status\":\"FAIL\"}}\n{pass}{start}",
        7
    ));
    assert_eq!(failed[0]["ok"], true, "{failed:?}");
    assert_eq!(failed[1]["ok"], true, "{failed:?}");
    assert_eq!(failed[2]["error"]["code"], "GATE_CONTRADICTS_STORE");
    assert_eq!(failed[3]["error"]["code"], "INPUTS_NOT_PASS");
    // Both refusals are on the record.
    let audit = String::from_utf8(ro(&store, &["audit"], "").stdout).unwrap();
    assert_eq!(
        audit.matches("gate_contradicts_store").count(),
        2,
        "{audit}"
    );
    // A PASS set in the store reaches the job in the same append, and the run starts.
    let passed = apply(&format!(
        "{{\"type\":\"SET_ARTIFACT_GATE\",\"ref\":\"data/prices.parquet\",\"status\":\"PASS\",\"reason\":\"checked\"}}\n{pass}{start}"
    ));
    let types: Vec<&str> = passed[0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["event"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["GateSet", "GateObserved"], "{passed:?}");
    assert_eq!(passed[1]["ok"], true, "an agreeing report is accepted");
    assert_eq!(passed[2]["ok"], true, "{:?}", passed[2]);
    // A gate set while no job read the artifact reaches a job defined later, with its
    // definition.
    let later = apply(&format!(
        "{{\"type\":\"REGISTER_ARTIFACT\",\"ref\":\"data/fx.parquet\",\"digest\":\"blake3:{:064x}\"}}\n{{\"type\":\"SET_ARTIFACT_GATE\",\"ref\":\"data/fx.parquet\",\"status\":\"PASS\"}}\n{{\"type\":\"DEFINE_JOB\",\"definition\":{{\"job_id\":\"fx\",\"version\":1,\"inputs\":[\"data/fx.parquet\"]}}}}\n",
        8
    ));
    assert_eq!(
        later[1]["events"].as_array().unwrap().len(),
        1,
        "not mirrored: {later:?}"
    );
    let defined: Vec<&str> = later[2]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["event"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(defined, ["JobDefined", "GateObserved"], "{later:?}");
}

/// Issue 28's audit rule through the host: an admin action without a reason is refused
/// (`REASON_REQUIRED`, on the first step of a two-step one too); given by the document or by
/// `--reason`, the reason is on its `audit --admin` record, change-control steps included.
#[test]
fn every_admin_action_says_why_through_the_host() {
    let store = temp_store("reasons");
    assert!(init_open(&store, None).status.success());
    let bare = |input: &str| lines(&ro(&store, &["apply", "--actor", "alice"], input));
    // A stop is never held back for want of words.
    let stop = bare("{\"type\":\"ENGAGE_KILL_SWITCH\"}\n");
    assert_eq!(stop[0]["ok"], true, "{stop:?}");
    let head = |store: &PathBuf| lines(&ro(store, &["status"], ""))[0]["head_seq"].clone();
    let before = head(&store);
    let refused = bare(
        "{\"type\":\"DEFINE_JOB\",\"definition\":{\"job_id\":\"report\",\"version\":1}}\n{\"type\":\"CREATE_STREAM\",\"stream\":\"prices\",\"partitions\":2,\"retention_hours\":168}\n{\"type\":\"RELEASE_KILL_SWITCH\"}\n",
    );
    for (i, answer) in refused.iter().enumerate() {
        assert_eq!(
            answer["error"]["code"], "REASON_REQUIRED",
            "line {i}: {answer}"
        );
    }
    assert_eq!(head(&store), before, "nothing recorded");
    // The document's reason, or the console's --reason for documents that give none.
    let given = lines(&ro(
        &store,
        &["apply", "--actor", "alice", "--reason", "nightly report"],
        "{\"type\":\"DEFINE_JOB\",\"definition\":{\"job_id\":\"report\",\"version\":1}}\n{\"type\":\"PAUSE_JOB\",\"job_id\":\"report\",\"reason\":\"upstream late\"}\n{\"type\":\"FREEZE\",\"version\":{\"major\":1,\"minor\":0},\"components\":[\"limits\"]}\n{\"type\":\"REQUEST_CHANGE\",\"change_id\":\"cr-1\",\"component\":\"limits\",\"description\":\"raise the ceiling\"}\n",
    ));
    assert!(given.iter().all(|a| a["ok"] == true), "{given:?}");
    let resume = bare("{\"type\":\"DRAIN_JOB\",\"job_id\":\"report\"}\n");
    assert_eq!(resume[0]["error"]["code"], "REASON_REQUIRED", "{resume:?}");
    let admin = lines(&ro(&store, &["audit", "--admin"], ""));
    let reason_of = |action: &str| {
        admin
            .iter()
            .find(|r| r["action_type"] == action)
            .map(|r| r["reason"].clone())
            .unwrap_or_else(|| panic!("no {action} record: {admin:?}"))
    };
    assert_eq!(reason_of("DEFINE_JOB"), "nightly report");
    assert_eq!(reason_of("PAUSE_JOB"), "upstream late");
    assert_eq!(reason_of("FREEZE"), "nightly report");
    assert_eq!(reason_of("REQUEST_CHANGE"), "nightly report");
    // A quarantine is an admin action too, with its reason on the record.
    let quarantine = "{\"type\":\"QUARANTINE_EXPERIENCE\",\"experience\":\"exp-1\",\"reason_code\":\"LABEL_LEAK\",\"detail\":\"labels from the future\"}\n";
    assert_eq!(bare(quarantine)[0]["error"]["code"], "REASON_REQUIRED");
    let kept = lines(&ro(
        &store,
        &[
            "apply",
            "--actor",
            "alice",
            "--reason",
            "leak found in review",
        ],
        quarantine,
    ));
    assert_eq!(kept[0]["ok"], true, "{kept:?}");
    let admin = lines(&ro(&store, &["audit", "--admin"], ""));
    let record = admin
        .iter()
        .find(|r| r["action_type"] == "QUARANTINE_EXPERIENCE")
        .expect("the quarantine is on the admin audit");
    assert_eq!(record["reason"], "leak found in review");
    // The runbook's documents stay accepted as written (a protocol fixed point).
    let runbook = bare(
        "{\"type\":\"REGISTER_MODEL\",\"metadata\":{\"version\":\"M-1\"}}\n{\"type\":\"SET_CANDIDATE_MODEL\",\"version\":\"M-1\"}\n",
    );
    assert!(runbook.iter().all(|a| a["ok"] == true), "{runbook:?}");
}

/// Issue 28's promotion approval through the host: an operator promotes only a candidate a
/// holder of APPROVE_PROMOTION approved; the approval is on the admin audit.
#[test]
fn an_operator_promotes_only_an_approved_candidate_through_the_host() {
    let store = temp_store("promotion-approval");
    assert!(init_open(&store, None).status.success());
    add_humans(&store, &[("olga", "operator"), ("rita", "risk_owner")]);
    let as_who = |who: &str, input: &str| {
        lines(&ro(
            &store,
            &["apply", "--actor", who, "--reason", "shadow passed"],
            input,
        ))
    };
    let setup = "{\"type\":\"REGISTER_MODEL\",\"metadata\":{\"version\":\"M-1\"}}\n{\"type\":\"SET_CANDIDATE_MODEL\",\"version\":\"M-1\"}\n";
    assert!(as_who("alice", setup).iter().all(|a| a["ok"] == true));
    let window = "{\"type\":\"CONFIGURE_SHADOW_WINDOW\",\"cycles\":5}\n";
    let token = as_who("alice", window)[0]["confirmation_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let confirmed = as_who(
        "alice",
        &format!(
            "{{\"type\":\"CONFIGURE_SHADOW_WINDOW\",\"cycles\":5,\"confirmation_token\":\"{token}\"}}\n"
        ),
    );
    assert_eq!(confirmed[0]["ok"], true, "{confirmed:?}");
    let cycles = "{\"type\":\"RECORD_CYCLE\",\"intent\":\"HOLD\"}\n".repeat(5);
    assert!(as_who("olga", &cycles).iter().all(|a| a["ok"] == true));
    let promote = "{\"type\":\"PROMOTE_CANDIDATE\"}\n";
    let refused = as_who("olga", promote);
    assert_eq!(
        refused[0]["error"]["code"], "PROMOTION_NOT_APPROVED",
        "{refused:?}"
    );
    // The operator cannot approve it; the risk owner can.
    let approve = "{\"type\":\"APPROVE_PROMOTION\",\"version\":\"M-1\"}\n";
    assert_eq!(as_who("olga", approve)[0]["ok"], false);
    assert_eq!(as_who("rita", approve)[0]["ok"], true);
    let first = as_who("olga", promote);
    assert_eq!(first[0]["confirmation_required"], true, "{first:?}");
    let token = first[0]["confirmation_token"].as_str().unwrap();
    let second = as_who(
        "olga",
        &format!("{{\"type\":\"PROMOTE_CANDIDATE\",\"confirmation_token\":\"{token}\"}}\n"),
    );
    assert_eq!(second[0]["ok"], true, "{second:?}");
    let admin = lines(&ro(&store, &["audit", "--admin"], ""));
    let approval = admin
        .iter()
        .find(|r| r["action_type"] == "APPROVE_PROMOTION" && r["result"] == "APPLIED")
        .expect("the approval is on the admin audit");
    assert_eq!(approval["actor"]["id"], "rita");
}

/// Issue 28's stream permissions through the host: only a principal a role lets publish
/// (subscribe) is listed; access changes after creation, two-step when it admits anyone new,
/// and every change moves the stream's version.
#[test]
fn stream_access_is_checked_changed_and_versioned_through_the_host() {
    let store = temp_store("stream-access");
    assert!(init_open(&store, None).status.success());
    let apply = |input: &str| {
        lines(&ro(
            &store,
            &["apply", "--actor", "alice", "--reason", "the order feed"],
            input,
        ))
    };
    let create = "{\"type\":\"CREATE_STREAM\",\"stream\":\"orders\",\"partitions\":4,\"retention_hours\":24,\"publishers\":[\"gateway\"],\"subscribers\":[\"risk\"]}\n";
    let refused = apply(create);
    assert!(
        refused[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no role grants it PUBLISH_STREAM"),
        "{refused:?}"
    );
    let grants = "{\"type\":\"REGISTER_PRINCIPAL\",\"principal\":\"gateway\",\"kind\":\"service\"}\n{\"type\":\"REGISTER_PRINCIPAL\",\"principal\":\"risk\",\"kind\":\"service\"}\n{\"type\":\"REGISTER_PRINCIPAL\",\"principal\":\"audit\",\"kind\":\"human\"}\n{\"type\":\"GRANT_ROLE\",\"principal\":\"gateway\",\"role\":\"operator\"}\n{\"type\":\"GRANT_ROLE\",\"principal\":\"risk\",\"role\":\"reviewer\"}\n{\"type\":\"GRANT_ROLE\",\"principal\":\"audit\",\"role\":\"reviewer\"}\n";
    assert!(
        apply(&(grants.to_owned() + create))
            .iter()
            .all(|a| a["ok"] == true)
    );
    // Narrowing is one step; admitting someone new takes two.
    let narrow =
        apply("{\"type\":\"CHANGE_STREAM_ACCESS\",\"stream\":\"orders\",\"publishers\":[]}\n");
    assert_eq!(narrow[0]["ok"], true, "{narrow:?}");
    let widen = "{\"type\":\"CHANGE_STREAM_ACCESS\",\"stream\":\"orders\",\"subscribers\":[\"risk\",\"audit\"]}";
    let first = apply(&format!("{widen}\n"));
    assert_eq!(first[0]["confirmation_required"], true, "{first:?}");
    let token = first[0]["confirmation_token"].as_str().unwrap();
    let second = apply(&format!(
        "{},\"confirmation_token\":\"{token}\"}}\n",
        widen.trim_end_matches('}')
    ));
    assert_eq!(second[0]["ok"], true, "{second:?}");
    let streams = apply("{\"type\":\"STREAMS\"}\n");
    let orders = &streams[0]["result"]["streams"][0];
    assert_eq!(orders["version"], 3, "{orders}");
    assert_eq!(orders["publishers"], serde_json::json!([]));
    assert_eq!(orders["subscribers"], serde_json::json!(["audit", "risk"]));
    let admin = lines(&ro(&store, &["audit", "--admin"], ""));
    let changes = admin
        .iter()
        .filter(|r| r["action_type"] == "CHANGE_STREAM_ACCESS" && r["result"] == "APPLIED")
        .count();
    assert_eq!(changes, 2);
}

/// Issue 28's determinism rule through the host: a cycle that takes the day's determinism
/// below the floor opens its deviation by itself (once); it alerts, as its type says, until a
/// human makes the type stricter (then it pauses production); its status updates are due every
/// 30 minutes while it is open.
#[test]
fn determinism_below_the_floor_opens_its_deviation_through_the_host() {
    let store = temp_store("determinism");
    assert!(
        init_open(&store, Some("2026-03-02T13:00:00Z"))
            .status
            .success()
    );
    let apply = |input: &str| {
        lines(&ro(
            &store,
            &[
                "apply",
                "--history",
                "--actor",
                "alice",
                "--reason",
                "drill",
            ],
            input,
        ))
    };
    let good = "{\"type\":\"RECORD_CYCLE\",\"intent\":\"HOLD\",\"deterministic\":true,\"at\":\"2026-03-02T14:00:00Z\"}\n";
    let bad = "{\"type\":\"RECORD_CYCLE\",\"intent\":\"BUY\",\"deterministic\":false,\"at\":\"2026-03-02T14:00:00Z\"}\n";
    // 19 deterministic cycles and 1 that is not: 95 %, at the floor, nothing opens.
    let at_floor = apply(&(good.repeat(19) + bad));
    assert!(at_floor.iter().all(|a| a["ok"] == true));
    let opened = |answers: &[Value]| {
        answers
            .iter()
            .flat_map(|a| a["events"].as_array().cloned().unwrap_or_default())
            .filter(|e| e["event"]["event"]["type"] == "DeviationOpened")
            .count()
    };
    assert_eq!(opened(&at_floor), 0);
    // One more below it: the deviation opens with the cycle, once.
    let below = apply(&(bad.to_owned() + bad));
    assert_eq!(opened(&below), 1, "{below:?}");
    let status = |apply: &dyn Fn(&str) -> Vec<Value>| {
        apply("{\"type\":\"OPS_STATUS\"}\n")[0]["result"]["reason_codes"].clone()
    };
    assert_eq!(
        status(&apply),
        serde_json::json!([]),
        "it alerts, it does not pause"
    );
    let report = lines(&ro(&store, &["report", "deviations", "--open"], ""));
    let deviation = &report[0]["deviations"][0];
    assert_eq!(deviation["deviation_type"], "determinism_threshold_failure");
    assert_eq!(deviation["next_update_due"], "2026-03-02T14:30:00Z");
    assert_eq!(deviation["update_overdue"], true, "{deviation}");
    assert_eq!(deviation["recipients"], serde_json::json!(["ops-on-call"]));
    // A status update moves the next one; a stricter type pauses production.
    let id = deviation["deviation_id"].as_str().unwrap().to_owned();
    let now = lines(&ro(
        &store,
        &["apply", "--actor", "alice", "--reason", "investigating"],
        &format!(
            "{{\"type\":\"UPDATE_DEVIATION\",\"deviation_id\":\"{id}\",\"note\":\"replaying the cycles\"}}\n{{\"type\":\"DEFINE_DEVIATION_TYPE\",\"deviation_type\":\"determinism_threshold_failure\",\"severity\":\"high\",\"sla_seconds\":86400,\"action\":\"pause\"}}\n{{\"type\":\"OPS_STATUS\"}}\n"
        ),
    ));
    assert_eq!(now[0]["ok"], true, "{now:?}");
    assert_eq!(now[1]["ok"], true, "{now:?}");
    assert_eq!(
        now[2]["result"]["reason_codes"],
        serde_json::json!(["DEVIATION_PAUSE"])
    );
    let report = lines(&ro(&store, &["report", "deviations", "--open"], ""));
    assert_eq!(report[0]["deviations"][0]["update_overdue"], false);
}

/// Issue 28's addressing through the host: a class's template refuses a registration that
/// does not follow it, and its tokens find the artifacts of a run or a bundle.
#[test]
fn addressing_templates_hold_and_find_artifacts_by_run_through_the_host() {
    let store = temp_store("addressing");
    assert!(init_open(&store, None).status.success());
    let apply = |input: &str| {
        lines(&ro(
            &store,
            &["apply", "--actor", "alice", "--reason", "run outputs"],
            input,
        ))
    };
    let register = |locator: &str, n: u32| {
        format!(
            "{{\"type\":\"REGISTER_ARTIFACT\",\"ref\":\"{locator}\",\"class\":\"reports\",\"digest\":\"blake3:{n:064x}\"}}\n"
        )
    };
    let set = "{\"type\":\"SET_ADDRESSING\",\"class\":\"reports\",\"template\":\"runs/{run_id}/bundle={bundle_id}/report.json\"}\n";
    let answers = apply(
        &(set.to_owned()
            + &register("runs/r-1/bundle=b-7/report.json", 1)
            + &register("runs/r-2/bundle=b-7/report.json", 2)
            + &register("elsewhere/report.json", 3)
            + "{\"type\":\"SET_ADDRESSING\",\"class\":\"reports\",\"template\":\"runs/{run_id}{bundle_id}\"}\n"),
    );
    assert_eq!(answers[0]["ok"], true, "{answers:?}");
    assert_eq!(answers[1]["ok"], true);
    assert_eq!(answers[2]["ok"], true);
    assert!(
        answers[3]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not follow class reports's addressing template"),
        "{answers:?}"
    );
    assert_eq!(
        answers[4]["ok"], false,
        "a template whose tokens cannot be told apart"
    );
    let find = |tokens: &str| {
        apply(&format!(
            "{{\"type\":\"ARTIFACTS\",\"tokens\":{tokens}}}\n"
        ))[0]["result"]["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["artifact"]["ref"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        find("{\"run_id\":\"r-2\"}"),
        ["runs/r-2/bundle=b-7/report.json"]
    );
    assert_eq!(find("{\"bundle_id\":\"b-7\"}").len(), 2);
    assert!(find("{\"run_id\":\"r-9\"}").is_empty());
    let admin = lines(&ro(&store, &["audit", "--admin"], ""));
    assert!(admin.iter().any(|r| r["action_type"] == "SET_ADDRESSING"));
}

/// Issue 28's protected SLA windows through the host: a built-in deviation type is redefined
/// only stricter.
#[test]
fn built_in_deviation_types_are_only_made_stricter_through_the_host() {
    let store = temp_store("builtin-slas");
    assert!(init_open(&store, None).status.success());
    let define = |sla: u32, severity: &str, action: &str| {
        format!(
            "{{\"type\":\"DEFINE_DEVIATION_TYPE\",\"deviation_type\":\"signature_verification_failure\",\"severity\":\"{severity}\",\"sla_seconds\":{sla},\"action\":\"{action}\"}}\n"
        )
    };
    let answers = lines(&ro(
        &store,
        &["apply", "--actor", "alice", "--reason", "tune the SLAs"],
        &(define(7200, "critical", "halt")
            + &define(3600, "high", "halt")
            + &define(3600, "critical", "alert")
            + &define(1800, "critical", "halt")),
    ));
    for (i, refused) in answers.iter().take(3).enumerate() {
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("may only be made stricter"),
            "line {i}: {refused}"
        );
    }
    assert_eq!(answers[3]["ok"], true, "{:?}", answers[3]);
}

/// Issue 28's cycle counts through the host: the daily cost report counts the day's cycles.
#[test]
fn the_cost_report_counts_the_days_cycles_through_the_host() {
    let store = temp_store("cost-cycles");
    assert!(
        init_open(&store, Some("2026-03-02T13:00:00Z"))
            .status
            .success()
    );
    let at = "\"at\":\"2026-03-02T14:00:00Z\"";
    let input = format!(
        "{{\"type\":\"SET_LIMITS\",\"limits\":{{\"per_unit_ceiling_micros\":50000,\"daily_budget_micros\":100000,\"daily_rate\":4}},{at}}}\n{{\"type\":\"RECORD_COST\",\"unit_id\":\"u-1\",\"cost_micros\":20000,{at}}}\n{{\"type\":\"RECORD_CYCLE\",\"intent\":\"HOLD\",{at}}}\n{{\"type\":\"RECORD_CYCLE\",\"intent\":\"BUY\",{at}}}\n"
    );
    let answers = lines(&ro(
        &store,
        &[
            "apply",
            "--history",
            "--actor",
            "alice",
            "--reason",
            "budget",
        ],
        &input,
    ));
    assert!(answers.iter().all(|a| a["ok"] == true), "{answers:?}");
    let report = lines(&ro(&store, &["report", "cost", "--day", "2026-03-02"], ""));
    assert_eq!(report[0]["daily_summary"]["total_cycles"], 2, "{report:?}");
    assert_eq!(report[0]["daily_summary"]["total_units"], 1);
}

/// Issue 28's story rules through the host: a forbidden action invalidates the story's values
/// and opens its compliance deviation; a blocker holds the handoff until an operator decides
/// it; a story whose every value is INFEASIBLE hands off its records.
#[test]
fn violations_invalidate_and_blockers_hold_a_story_through_the_host() {
    let store = temp_store("story-rules");
    assert!(init_open(&store, None).status.success());
    let apply = |input: &str| {
        lines(&ro(
            &store,
            &["apply", "--actor", "alice", "--reason", "story s-1"],
            input,
        ))
    };
    let hash = format!("blake3:{:064x}", 5);
    let derive = format!(
        "{{\"type\":\"RECORD_DERIVATION\",\"derivation_id\":\"v-1\",\"story\":\"s-1\",\"value_name\":\"capacity\",\"value\":\"0.42\",\"units\":\"ratio\",\"lockability\":\"lockable\",\"cost_tier\":\"A\",\"run_id\":\"run-42\",\"git_sha\":\"b06d4e3\",\"input_hashes\":[\"{hash}\"],\"code_version\":\"1.4.0\",\"author\":\"alice\",\"repro_command\":\"make derive\"}}\n"
    );
    let violation = "{\"type\":\"RECORD_VIOLATION\",\"story\":\"s-1\",\"description\":\"a training job was launched to check a value\"}\n";
    let answers = apply(&(derive + violation));
    assert_eq!(answers[0]["ok"], true, "{answers:?}");
    let types: Vec<&str> = answers[1]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["event"]["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"DeviationOpened"), "{types:?}");
    assert_eq!(
        answers[1]["events"][0]["event"]["event"]["invalidated"],
        serde_json::json!(["v-1"])
    );
    let status = apply("{\"type\":\"OPS_STATUS\"}\n");
    assert_eq!(
        status[0]["result"]["reason_codes"],
        serde_json::json!(["DEVIATION_PAUSE"])
    );
    // Another story: every value INFEASIBLE, stopped on a question until an operator decides.
    let infeasible = r#"{"type":"RECORD_INFEASIBLE","infeasible_id":"inf-1","story":"s-2","reason":"cost-data","trigger":"only tier D quotes","evidence_attempted":"three vendor quotes","allowed_next_action":"obtain audited cost data","blocked_downstream":"charter lock","required_remediation_artifact":"audited cost report","author":"alice"}"#;
    let blocker = "{\"type\":\"RAISE_BLOCKER\",\"story\":\"s-2\",\"blocker_id\":\"b-1\",\"question\":\"may the estimate use last year's quotes?\"}\n";
    let hand_off = "{\"type\":\"HAND_OFF\",\"story\":\"s-2\",\"consumer\":\"lock-desk\"}\n";
    let held = apply(&format!("{infeasible}\n{blocker}{hand_off}"));
    assert_eq!(held[0]["ok"], true, "{held:?}");
    assert_eq!(held[1]["ok"], true, "{held:?}");
    assert!(
        held[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("stopped on blocker b-1"),
        "{held:?}"
    );
    let decided = apply(&format!(
        "{{\"type\":\"DECIDE_BLOCKER\",\"story\":\"s-2\",\"blocker_id\":\"b-1\",\"decision\":\"no: wait for audited data\"}}\n{hand_off}{{\"type\":\"HANDOFF_PACKAGE\",\"story\":\"s-2\"}}\n"
    ));
    assert_eq!(decided[0]["ok"], true, "{decided:?}");
    assert_eq!(
        decided[1]["ok"], true,
        "an all-INFEASIBLE story hands off: {decided:?}"
    );
    let package = &decided[2]["result"];
    assert_eq!(
        package["blockers"][0]["blocker"]["decision"],
        "no: wait for audited data"
    );
    assert_eq!(package["infeasible"][0]["infeasible_id"], "inf-1");
}

/// Issue 28's story requirements through the host: a defined story is handed off only when
/// every required value is derived or answered INFEASIBLE, and a value its risk owner reviews
/// is eligible for lock only once reviewed; the package carries the review and the threats.
#[test]
fn required_values_and_risk_review_hold_a_story_through_the_host() {
    let store = temp_store("story-owes");
    assert!(init_open(&store, None).status.success());
    add_humans(&store, &[("rev", "reviewer"), ("rita", "risk_owner")]);
    let as_who = |who: &str, input: &str| {
        lines(&ro(
            &store,
            &["apply", "--actor", who, "--reason", "story s-3"],
            input,
        ))
    };
    let define = "{\"type\":\"DEFINE_STORY\",\"story\":\"s-3\",\"required_values\":[\"capacity\",\"unit_cost\"],\"risk_reviewed_values\":[\"capacity\"],\"threats_to_validity\":\"one vendor's quotes\"}\n";
    let hash = format!("blake3:{:064x}", 9);
    let derive = format!(
        "{{\"type\":\"RECORD_DERIVATION\",\"derivation_id\":\"cap-1\",\"story\":\"s-3\",\"value_name\":\"capacity\",\"value\":\"0.42\",\"units\":\"ratio\",\"lockability\":\"lockable\",\"cost_tier\":\"A\",\"run_id\":\"run-7\",\"git_sha\":\"b06d4e3\",\"input_hashes\":[\"{hash}\"],\"code_version\":\"1.4.0\",\"author\":\"alice\",\"repro_command\":\"make derive\"}}\n"
    );
    let hand_off = "{\"type\":\"HAND_OFF\",\"story\":\"s-3\",\"consumer\":\"lock-desk\"}\n";
    let first = as_who("alice", &(define.to_owned() + &derive + hand_off));
    assert_eq!(first[0]["ok"], true, "{first:?}");
    assert_eq!(first[1]["ok"], true, "{first:?}");
    assert!(
        first[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("owes required value unit_cost"),
        "{first:?}"
    );
    let infeasible = r#"{"type":"RECORD_INFEASIBLE","infeasible_id":"inf-3","story":"s-3","value_name":"unit_cost","reason":"cost-data","trigger":"only tier D quotes","evidence_attempted":"three vendor quotes","allowed_next_action":"obtain audited cost data","blocked_downstream":"charter lock","required_remediation_artifact":"audited cost report","author":"alice"}"#;
    assert_eq!(as_who("alice", &format!("{infeasible}\n"))[0]["ok"], true);
    assert_eq!(
        as_who(
            "rev",
            "{\"type\":\"REVIEW_DERIVATION\",\"derivation_id\":\"cap-1\"}\n"
        )[0]["ok"],
        true
    );
    let package = "{\"type\":\"HANDOFF_PACKAGE\",\"story\":\"s-3\"}\n";
    let before = &as_who("alice", package)[0]["result"];
    assert_eq!(
        before["eligible_for_lock"],
        serde_json::json!([]),
        "not before its risk owner reviews it: {before}"
    );
    let review = "{\"type\":\"RISK_REVIEW\",\"derivation_id\":\"cap-1\",\"note\":\"capacity within the approved envelope\"}\n";
    assert_eq!(
        as_who("rev", review)[0]["ok"],
        false,
        "a reviewer is not a risk owner"
    );
    assert_eq!(as_who("rita", review)[0]["ok"], true);
    let after = as_who("alice", &(hand_off.to_owned() + package));
    assert_eq!(after[0]["ok"], true, "{after:?}");
    let package = &after[1]["result"];
    assert_eq!(package["eligible_for_lock"], serde_json::json!(["cap-1"]));
    assert_eq!(package["threats_to_validity"], "one vendor's quotes");
    assert_eq!(
        package["derivations"][0]["risk_review"]["by"], "rita",
        "{package}"
    );
    assert_eq!(
        package["required_values"],
        serde_json::json!([
            {"value_name": "capacity", "status": "derived"},
            {"value_name": "unit_cost", "status": "infeasible"}
        ])
    );
}

/// Registers humans with their roles at the console, as `alice`.
fn add_humans(store: &PathBuf, who_roles: &[(&str, &str)]) {
    for (who, role) in who_roles {
        let out = ro(
            store,
            &[
                "principal",
                "add",
                who,
                "--kind",
                "human",
                "--role",
                role,
                "--actor",
                "alice",
                "--reason",
                "onboarding",
            ],
            "",
        );
        assert!(out.status.success(), "{out:?}");
    }
}
