//! Attacks on the plane through the real `ro` binary, each now failing for the attacker with a
//! stable code and nothing recorded in the attacker's favour (SECURITY.md names the boundary
//! each one crosses):
//!
//! - clock poisoning: a document dated far ahead of the host clock;
//! - forgery of the store file: a record rewritten with the chain re-hashed after it, and
//!   records removed from the tail, caught against a published anchor;
//! - inexact numbers: a ratio written with more digits than a double holds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use ro_core::{Digest, journal::chain_hash};
use serde_json::Value;

/// A scratch store of this test process, removed first if a run left one behind.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ro-attacks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn ro(store: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ro"))
        .arg("--store")
        .arg(store)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn status(store: &Path) -> Value {
    let out = ro(store, &["status"], "");
    assert!(out.status.success(), "{out:?}");
    json_lines(&out).remove(0)
}

/// A store with an admin (`alice`) and a few recorded commands.
fn store_with_history(name: &str) -> PathBuf {
    let store = scratch(name);
    let init = ro(
        &store,
        &["init", "--admin", "alice", "--at", "2026-01-05T14:30:00Z"],
        "",
    );
    assert!(init.status.success(), "{init:?}");
    let history = r#"{"type":"GRANT_ROLE","principal":"ana","role":"analyst","at":"2026-01-05T14:31:00Z"}
{"type":"GRANT_ROLE","principal":"olga","role":"operator","at":"2026-01-05T14:32:00Z"}
{"type":"EMERGENCY_LOCKDOWN","at":"2026-01-05T14:33:00Z"}
"#;
    let out = ro(&store, &["apply", "--actor", "alice"], history);
    assert!(out.status.success(), "{out:?}");
    store
}

#[test]
fn a_document_dated_ahead_of_the_host_clock_is_refused_and_nothing_is_poisoned() {
    let store = store_with_history("clock");
    let before = status(&store);
    let poison = r#"{"type":"GRANT_ROLE","principal":"nobody","role":"admin","actor":{"id":"nobody","kind":"agent"},"at":"9999-12-31T23:59:59.999999999Z"}"#;
    let out = ro(
        &store,
        &["apply", "--actor", "alice"],
        &format!("{poison}\n"),
    );
    let answer = &json_lines(&out)[0];
    assert_eq!(answer["ok"], false);
    assert_eq!(answer["error"]["code"], "INVALID_FIELD", "{answer}");
    assert_eq!(answer["error"]["details"]["field"], "at", "{answer}");
    let after = status(&store);
    assert_eq!(
        after["head_seq"], before["head_seq"],
        "nothing was recorded"
    );
    assert_eq!(after["head_at"], before["head_at"]);
    // The panic button still lands at the host's time.
    let out = ro(
        &store,
        &["apply", "--actor", "olga"],
        "{\"type\":\"ENGAGE_KILL_SWITCH\"}\n",
    );
    let answer = &json_lines(&out)[0];
    assert_eq!(answer["ok"], true, "{answer}");
    assert!(status(&store)["plane"]["kill_switch"].as_bool().unwrap());
}

/// Rewrites record `seq`'s body with `edit` and re-hashes the chain from there, as whoever
/// holds the store file can; drops the snapshots, which would betray the edit.
fn forge(store: &Path, seq: i64, edit: impl Fn(&str) -> String) {
    let conn = rusqlite::Connection::open(store).unwrap();
    let rows: Vec<(i64, Vec<u8>)> = conn
        .prepare("SELECT seq, body FROM journal WHERE seq >= ?1 ORDER BY seq")
        .unwrap()
        .query_map([seq], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let prev: Vec<u8> = conn
        .query_row("SELECT hash FROM journal WHERE seq = ?1", [seq - 1], |r| {
            r.get(0)
        })
        .unwrap();
    let mut prev = Digest::from_bytes(prev.try_into().unwrap());
    for (n, body) in rows {
        let body = if n == seq {
            let text = String::from_utf8(body).unwrap();
            let forged = edit(&text);
            assert_ne!(forged, text, "the edit changes the record");
            forged.into_bytes()
        } else {
            body
        };
        let hash = chain_hash(&prev, &body);
        conn.execute(
            "UPDATE journal SET prev = ?1, hash = ?2, body = ?3 WHERE seq = ?4",
            rusqlite::params![&prev.as_bytes()[..], &hash.as_bytes()[..], body, n],
        )
        .unwrap();
        prev = hash;
    }
    conn.execute("DELETE FROM snapshots", []).unwrap();
}

#[test]
fn a_rewritten_or_truncated_journal_fails_against_a_published_anchor() {
    let store = store_with_history("forgery");
    let head = status(&store);
    let anchor = format!(
        "{}:{}",
        head["head_seq"].as_u64().unwrap(),
        head["head_hash"].as_str().unwrap()
    );
    // Before any tampering the anchor matches.
    let out = ro(&store, &["verify", "--expect-head", &anchor], "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(json_lines(&out)[0]["anchor"]["matched"], true);

    // Ana's analyst grant becomes an admin grant, the chain re-hashed after it: the chain
    // alone cannot tell (the file's writer is the plane's operator), the anchor can.
    forge(&store, 2, |text| text.replace("\"analyst\"", "\"admin\""));
    let plain = ro(&store, &["verify"], "");
    assert!(
        plain.status.success(),
        "a re-hashed chain verifies alone: {plain:?}"
    );
    let out = ro(&store, &["verify", "--expect-head", &anchor], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(json_lines(&out)[0]["error"]["code"], "ANCHOR_MISMATCH");

    // Records removed from the tail (the lockdown vanishes): caught too.
    let store = store_with_history("truncation");
    let head = status(&store);
    let anchor = format!(
        "{}:{}",
        head["head_seq"].as_u64().unwrap(),
        head["head_hash"].as_str().unwrap()
    );
    let conn = rusqlite::Connection::open(&store).unwrap();
    conn.execute(
        "DELETE FROM journal WHERE seq = (SELECT MAX(seq) FROM journal)",
        [],
    )
    .unwrap();
    conn.execute("DELETE FROM snapshots", []).unwrap();
    drop(conn);
    assert!(ro(&store, &["verify"], "").status.success());
    let out = ro(&store, &["verify", "--expect-head", &anchor], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(json_lines(&out)[0]["error"]["code"], "ANCHOR_MISSING");

    // A malformed anchor is the caller's mistake, said as such.
    let out = ro(&store, &["verify", "--expect-head", "twelve"], "");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_lines(&out)[0]["error"]["code"], "INVALID_ARGUMENT");
}

#[test]
fn a_ratio_written_beyond_a_doubles_precision_is_refused_not_rounded() {
    let store = store_with_history("ratio");
    let before = status(&store)["head_seq"].clone();
    let lines = [
        r#"{"type":"SET_CANARY_RATIO","ratio":0.99999999999999999999,"at":"2026-01-05T14:40:00Z"}"#,
        r#"{"type":"SET_CANARY_RATIO","ratio":1e-400,"at":"2026-01-05T14:40:00Z"}"#,
        r#"{"type":"SET_CANARY_RATIO","ratio":"0.99999999999999999999","at":"2026-01-05T14:40:00Z"}"#,
    ];
    let out = ro(&store, &["apply", "--actor", "alice"], &lines.join("\n"));
    let answers = json_lines(&out);
    assert_eq!(answers.len(), 3);
    for (line, answer) in lines.iter().zip(&answers) {
        assert_eq!(answer["ok"], false, "{line}: {answer}");
    }
    assert_eq!(
        answers[0]["error"]["code"], "INVALID_JSON",
        "{}",
        answers[0]
    );
    assert_eq!(
        answers[1]["error"]["code"], "INVALID_JSON",
        "{}",
        answers[1]
    );
    assert_eq!(
        answers[2]["error"]["code"], "INVALID_COMMAND",
        "{}",
        answers[2]
    );
    assert_eq!(status(&store)["head_seq"], before, "nothing was recorded");
}
