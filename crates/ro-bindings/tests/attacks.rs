//! Attacks on the plane through the real `ro` binary, each now failing for the attacker with a
//! stable code and nothing recorded in the attacker's favour (SECURITY.md names the boundary
//! each one crosses):
//!
//! - F1 identity as a label: an agent naming itself human by each route a document has;
//! - F2 clock poisoning: a document dated far ahead of the host clock;
//! - F3 the panic button kept out by a writer streaming at full speed;
//! - F4 forgery of the store file: a record rewritten with the chain re-hashed after it, and
//!   records removed from the tail, caught against a published anchor;
//! - F5 signature replay: the same signature again, with another kind, for another plane, and
//!   a signed release rebuilt from the audit log;
//! - F6 key registration by a claim: unproven keys, another principal's key, a key planted
//!   while signatures are required; revoked keys;
//! - F7 tokens minted from the store or kept alive by the caller's clock;
//! - F8 inexact numbers: a ratio written with more digits than a double holds.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use std::{
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
};

mod common;

use ro_core::{Digest, journal::chain_hash};
use serde_json::Value;

/// A scratch store of this test process in a directory of its own, removed with everything
/// beside it when dropped, also when the test fails.
fn scratch(name: &str) -> common::Scratch {
    common::scratch("attacks", name)
}

/// Removes scratch stores (their directories, with every file a test wrote beside them).
fn clean(stores: &[&Path]) {
    for store in stores {
        if let Some(dir) = store.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some(top) = store.parent().and_then(Path::parent) {
            // Gone once the last test of the process cleaned up.
            let _ = std::fs::remove_dir(top);
        }
    }
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

/// A store with an admin (`alice`, seqs 1 and 2), two registered humans (3, 4), an analyst
/// grant (5), an operator grant (6) and a lockdown (7).
fn store_with_history(name: &str) -> common::Scratch {
    let store = scratch(name);
    let init = ro(
        &store,
        &[
            "init",
            "--posture",
            "unlocked",
            "--admin",
            "alice",
            "--at",
            "2026-01-05T14:30:00Z",
        ],
        "",
    );
    assert!(init.status.success(), "{init:?}");
    let history = r#"{"type":"REGISTER_PRINCIPAL","principal":"ana","kind":"human","at":"2026-01-05T14:31:00Z"}
{"type":"REGISTER_PRINCIPAL","principal":"olga","kind":"human","at":"2026-01-05T14:31:00Z"}
{"type":"GRANT_ROLE","principal":"ana","role":"analyst","at":"2026-01-05T14:31:00Z"}
{"type":"GRANT_ROLE","principal":"olga","role":"operator","at":"2026-01-05T14:32:00Z"}
{"type":"EMERGENCY_LOCKDOWN","at":"2026-01-05T14:33:00Z"}
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
        history,
    );
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
        &[
            "apply",
            "--reason",
            "per runbook",
            "--history",
            "--actor",
            "alice",
        ],
        &format!("{poison}\n"),
    );
    let answer = &json_lines(&out)[0];
    assert_eq!(answer["ok"], false);
    assert_eq!(answer["error"]["code"], "CLOCK_SKEW", "{answer}");
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
        &[
            "apply",
            "--reason",
            "per runbook",
            "--history",
            "--actor",
            "olga",
        ],
        "{\"type\":\"ENGAGE_KILL_SWITCH\"}\n",
    );
    let answer = &json_lines(&out)[0];
    assert_eq!(answer["ok"], true, "{answer}");
    assert!(status(&store)["plane"]["kill_switch"].as_bool().unwrap());
    clean(&[&store]);
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
    forge(&store, 5, |text| text.replace("\"analyst\"", "\"admin\""));
    let plain = ro(&store, &["verify"], "");
    assert!(
        plain.status.success(),
        "a re-hashed chain verifies alone: {plain:?}"
    );
    let out = ro(&store, &["verify", "--expect-head", &anchor], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(json_lines(&out)[0]["error"]["code"], "ANCHOR_MISMATCH");

    // Records removed from the tail (the lockdown vanishes): caught too.
    clean(&[&store]);
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
    clean(&[&store]);
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
        &lines.join("\n"),
    );
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
    clean(&[&store]);
}

/// How many records a refusal left in the journal.
fn recorded(answer: &Value) -> usize {
    answer["error"]["details"]["recorded_seqs"]
        .as_array()
        .map_or(0, Vec::len)
}

fn code(answer: &Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or("ok")
}

/// F1: identity is a registration, not a label. `bot` is registered as an agent and holds the
/// admin role, so only its kind stands between it and the human-only actions; by each of the
/// three routes a document can name an actor, every attempt is refused with a stable code and
/// recorded (the denial, and the Sev-0 deviation of an agent attempting a human-only action).
#[test]
fn an_agent_cannot_act_as_a_human_by_any_route() {
    let store = scratch("identity");
    let init = ro(
        &store,
        &["init", "--posture", "unlocked", "--admin", "alice"],
        "",
    );
    assert!(init.status.success(), "{init:?}");
    let setup = r#"{"type":"REGISTER_PRINCIPAL","principal":"bot","kind":"agent"}
{"type":"GRANT_ROLE","principal":"bot","role":"admin"}
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
        setup,
    );
    let answers = json_lines(&out);
    assert_eq!(answers[0]["ok"], true, "{}", answers[0]);
    assert_eq!(answers[1]["ok"], true, "{}", answers[1]);
    let human_only = [
        r#""type":"RELEASE_LOCKDOWN""#,
        r#""type":"GRANT_ROLE","principal":"bot","role":"operator""#,
        r#""type":"SET_LIMITS","limits":{"per_unit_ceiling_micros":1,"daily_budget_micros":1,"daily_rate":1}"#,
        r#""type":"DEFINE_POOL","pool":"p","max_running":9"#,
        r#""type":"SET_PRINCIPAL_KIND","principal":"bot","kind":"human""#,
        r#""type":"REGISTER_PRINCIPAL","principal":"bot2","kind":"human""#,
        r#""type":"REQUIRE_SIGNATURES","actions":[]"#,
    ];
    for (route, actor_field, args, expected) in [
        (
            "actor names human",
            r#","actor":{"id":"bot","kind":"human"}"#,
            vec!["apply", "--reason", "per runbook", "--history"],
            "PRINCIPAL_KIND_MISMATCH",
        ),
        (
            "operator_id",
            r#","operator_id":"bot""#,
            vec!["apply", "--reason", "per runbook", "--history"],
            "PRINCIPAL_KIND_MISMATCH",
        ),
        (
            "--actor",
            "",
            vec![
                "apply",
                "--reason",
                "per runbook",
                "--history",
                "--actor",
                "bot",
            ],
            "HUMAN_ONLY_ACTION",
        ),
    ] {
        let before = status(&store)["head_seq"].as_u64().unwrap();
        let input: String = human_only
            .iter()
            .map(|fields| format!("{{{fields}{actor_field}}}\n"))
            .collect();
        let out = ro(&store, &args, &input);
        assert_eq!(out.status.code(), Some(1), "{route}: {out:?}");
        let answers = json_lines(&out);
        assert_eq!(answers.len(), human_only.len());
        for (fields, answer) in human_only.iter().zip(&answers) {
            assert_eq!(code(answer), expected, "{route}: {fields}: {answer}");
            assert_eq!(
                recorded(answer),
                3,
                "{route}: {fields}: the denial, the deviation and its alert are recorded: {answer}"
            );
        }
        let after = status(&store);
        assert_eq!(
            after["head_seq"].as_u64().unwrap(),
            before + 3 * human_only.len() as u64,
            "{route}: only the records of the denials"
        );
        assert_eq!(after["plane"]["lockdown"], false, "{route}");
    }
    // Someone nobody registered is refused whatever it calls itself, and recorded.
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--history"],
        "{\"type\":\"ENGAGE_KILL_SWITCH\",\"actor\":{\"id\":\"mallory\",\"kind\":\"human\"}}\n",
    );
    let answer = &json_lines(&out)[0];
    assert_eq!(code(answer), "UNREGISTERED_PRINCIPAL", "{answer}");
    assert_eq!(recorded(answer), 1);
    // A kind changes only by a human, in two steps, audited with before and after.
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
        "{\"type\":\"SET_PRINCIPAL_KIND\",\"principal\":\"bot\",\"kind\":\"service\",\"reason\":\"now a scheduler\"}\n",
    );
    let first = &json_lines(&out)[0];
    assert_eq!(first["confirmation_required"], true, "{first}");
    let second = format!(
        "{{\"type\":\"SET_PRINCIPAL_KIND\",\"principal\":\"bot\",\"kind\":\"service\",\"reason\":\"now a scheduler\",\"confirmation_token\":\"{}\"}}\n",
        first["confirmation_token"].as_str().unwrap()
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
        &second,
    );
    assert_eq!(json_lines(&out)[0]["ok"], true, "{out:?}");
    let admin = json_lines(&ro(&store, &["audit", "--admin"], ""));
    let changed = admin
        .iter()
        .find(|r| r["action_type"] == "SET_PRINCIPAL_KIND" && r["result"] == "APPLIED")
        .unwrap_or_else(|| panic!("no audited kind change in {admin:?}"));
    assert_eq!(changed["before"]["kind"], "agent");
    assert_eq!(changed["after"]["kind"], "service");
    assert_eq!(changed["actor"]["id"], "alice");
    let denied = admin
        .iter()
        .filter(|r| r["actor"]["id"] == "bot" && r["result"] != "APPLIED")
        .count();
    assert!(denied >= 3 * human_only.len(), "{denied} denials audited");
    clean(&[&store]);
}

/// F7: the confirmation key is not in the store, and a token's life is counted on the host
/// clock. A copy of the store (or its audit export) holds nothing to mint a token with; a
/// copy without the key file reads and verifies but refuses to write; a key file others can
/// read is refused; a store that kept its key inside is migrated out on open.
#[test]
fn tokens_cannot_be_minted_from_the_store_nor_kept_alive_by_the_callers_clock() {
    let store = store_with_history("keys");
    let keys_path = ro_bindings::keys::key_file_for(&store);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keys_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "owner-only");
    }
    let key = ro_bindings::keys::Keys::read(&keys_path)
        .unwrap()
        .unwrap()
        .confirmation;
    let _ = ro(&store, &["snapshot"], "");
    let mut bytes = std::fs::read(&store).unwrap();
    bytes.extend(std::fs::read(format!("{}-wal", store.display())).unwrap_or_default());
    bytes.extend(ro(&store, &["audit"], "").stdout);
    assert!(
        !bytes.windows(32).any(|w| w == key),
        "the key is in the store, its log or its export"
    );

    // A first step dated (legitimately) in the past; its second step keeps that `at` to stay
    // inside the token's 300 s: refused, nothing recorded. Sent on the host clock, the token
    // has expired, and the refusal is recorded.
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
        "{\"type\":\"RELEASE_LOCKDOWN\",\"at\":\"2026-01-05T14:40:00Z\"}\n",
    );
    let first = &json_lines(&out)[0];
    let token = first["confirmation_token"].as_str().unwrap().to_owned();
    let before = status(&store)["head_seq"].as_u64().unwrap();
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
        &format!(
            "{{\"type\":\"RELEASE_LOCKDOWN\",\"at\":\"2026-01-05T14:40:00Z\",\"confirmation_token\":\"{token}\"}}\n"
        ),
    );
    let answer = &json_lines(&out)[0];
    assert_eq!(code(answer), "CLOCK_SKEW", "{answer}");
    assert_eq!(answer["error"]["details"]["field"], "at");
    assert_eq!(status(&store)["head_seq"].as_u64().unwrap(), before);
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
        &format!("{{\"type\":\"RELEASE_LOCKDOWN\",\"confirmation_token\":\"{token}\"}}\n"),
    );
    let answer = &json_lines(&out)[0];
    assert_eq!(code(answer), "CONFIRMATION_REFUSED", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    assert_eq!(status(&store)["plane"]["lockdown"], true);

    // A copy without its key file: read and verified, never written.
    let copy = scratch("keys-copy");
    std::fs::copy(&*store, &*copy).unwrap();
    assert!(ro(&copy, &["verify"], "").status.success());
    let out = ro(
        &copy,
        &[
            "apply",
            "--reason",
            "per runbook",
            "--history",
            "--actor",
            "alice",
        ],
        "{\"type\":\"REVOKE_ROLE\",\"principal\":\"ana\",\"role\":\"analyst\"}\n",
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(json_lines(&out)[0]["error"]["code"], "KEY_FILE_MISSING");
    assert_eq!(status(&copy)["head_seq"], status(&store)["head_seq"]);

    // A key file others can read is refused.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&keys_path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = ro(&store, &["status"], "");
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(json_lines(&out)[0]["error"]["code"], "KEY_UNAVAILABLE");
        std::fs::set_permissions(&keys_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // A store from before the key file, its key in `meta`: moved out on open.
    let legacy = scratch("keys-legacy");
    std::fs::copy(&*store, &*legacy).unwrap();
    let conn = rusqlite::Connection::open(&*legacy).unwrap();
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('confirmation_key', ?1)",
        [&[7u8; 32][..]],
    )
    .unwrap();
    drop(conn);
    assert!(ro(&legacy, &["status"], "").status.success());
    let conn = rusqlite::Connection::open(&*legacy).unwrap();
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM meta WHERE key = 'confirmation_key'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
    drop(conn);
    let moved = ro_bindings::keys::Keys::read(&ro_bindings::keys::key_file_for(&legacy))
        .unwrap()
        .unwrap();
    assert_ne!(
        moved.confirmation, [7u8; 32],
        "a new key, not the exposed one"
    );
    let file = std::fs::read(&legacy).unwrap();
    assert!(
        !file.windows(32).any(|w| w == [7u8; 32]),
        "the old key's bytes are erased"
    );
    let out = ro(
        &legacy,
        &[
            "apply",
            "--reason",
            "per runbook",
            "--history",
            "--actor",
            "alice",
        ],
        "{\"type\":\"REVOKE_ROLE\",\"principal\":\"ana\",\"role\":\"analyst\"}\n",
    );
    assert!(out.status.success(), "{out:?}");
    clean(&[&store, &copy, &legacy]);
}

/// The host's clock now, as a document's `at` (a second step is dated by it).
#[allow(clippy::disallowed_methods)] // test code reads the clock the host under test reads
fn host_now() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    ro_core::Timestamp::from_unix_nanos(i128::try_from(nanos).unwrap())
        .unwrap()
        .to_rfc3339()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn plane_id(store: &Path) -> Digest {
    status(store)["plane_id"].as_str().unwrap().parse().unwrap()
}

/// A `REGISTER_SIGNING_KEY` line for `principal`'s `key`, with its proof of possession.
fn registration(
    store: &Path,
    principal: &str,
    key_id: &str,
    key: &ed25519_dalek::SigningKey,
    at: &str,
) -> String {
    use ed25519_dalek::Signer;
    let public = *key.verifying_key().as_bytes();
    let proof = key.sign(&ro_admin::signing::key_registration_message(
        &plane_id(store),
        &ro_core::ActorId::new(principal).unwrap(),
        &ro_admin::signing::KeyId::new(key_id).unwrap(),
        &public,
    ));
    serde_json::json!({"type": "REGISTER_SIGNING_KEY", "key_id": key_id, "principal": principal,
        "public_key": hex(&public), "proof": hex(&proof.to_bytes()), "at": at})
    .to_string()
}

/// `document` (which names its `at`) signed by `key` for `actor` with `nonce`.
fn signed_line(
    store: &Path,
    document: &Value,
    actor: &ro_core::Actor,
    key_id: &str,
    key: &ed25519_dalek::SigningKey,
    nonce: &str,
) -> String {
    use ed25519_dalek::Signer;
    let at = ro_core::Timestamp::parse_rfc3339(document["at"].as_str().unwrap()).unwrap();
    let decoded = ro_bindings::protocol::decode(&document.to_string(), Some(actor), at).unwrap();
    let digest = decoded.ctx.causation.unwrap();
    let message = ro_admin::signing::signing_message(&plane_id(store), actor, nonce, &digest, at);
    let mut signed = document.clone();
    signed["signature"] = serde_json::json!({"key_id": key_id, "sig": hex(&key.sign(&message).to_bytes()), "nonce": nonce});
    signed.to_string()
}

/// F5 and F6: a signature is bound to the plane, the actor and its kind, a nonce, the
/// command and its instant, and is good once; a key is registered by its own principal with
/// proof of possession (or by a human for another, in two steps), and once any action needs
/// a signature, so do key registration and the requirement itself.
#[test]
fn signatures_cannot_be_replayed_nor_keys_registered_by_a_claim() {
    use ed25519_dalek::SigningKey;
    let store = scratch("signatures");
    let init = ro(
        &store,
        &[
            "init",
            "--posture",
            "unlocked",
            "--admin",
            "alice",
            "--at",
            "2026-01-05T14:30:00Z",
        ],
        "",
    );
    assert!(init.status.success(), "{init:?}");
    let alice_key = SigningKey::from_bytes(&[1; 32]);
    let svc_key = SigningKey::from_bytes(&[2; 32]);
    let setup = [
        r#"{"type":"REGISTER_PRINCIPAL","principal":"svc","kind":"service","at":"2026-01-05T14:31:00Z"}"#.to_owned(),
        r#"{"type":"GRANT_ROLE","principal":"svc","role":"operator","at":"2026-01-05T14:31:00Z"}"#.to_owned(),
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
        &(setup.join("\n") + "\n"),
    );
    assert!(out.status.success(), "{out:?}");
    // Registering one's own key without proof, or with a proof by another key: refused and
    // recorded.
    let mut unproven: Value = serde_json::from_str(&registration(
        &store,
        "svc",
        "k-svc",
        &svc_key,
        "2026-01-05T14:31:30Z",
    ))
    .unwrap();
    unproven.as_object_mut().unwrap().remove("proof");
    let mut wrong: Value = serde_json::from_str(&registration(
        &store,
        "svc",
        "k-svc",
        &alice_key,
        "2026-01-05T14:31:30Z",
    ))
    .unwrap();
    wrong["public_key"] = Value::String(hex(svc_key.verifying_key().as_bytes()));
    let out = ro(
        &store,
        &[
            "apply",
            "--reason",
            "per runbook",
            "--history",
            "--actor",
            "svc",
        ],
        &format!("{unproven}\n{wrong}\n"),
    );
    for answer in json_lines(&out) {
        assert_eq!(code(&answer), "KEY_POSSESSION_UNPROVEN", "{answer}");
        assert_eq!(recorded(&answer), 1);
    }
    // A service registering a key for someone else: a human's act only.
    let for_alice = registration(
        &store,
        "alice",
        "k-alice-by-svc",
        &svc_key,
        "2026-01-05T14:31:30Z",
    );
    let out = ro(
        &store,
        &[
            "apply",
            "--reason",
            "per runbook",
            "--history",
            "--actor",
            "svc",
        ],
        &format!("{for_alice}\n"),
    );
    assert_eq!(code(&json_lines(&out)[0]), "HUMAN_ONLY_ACTION");
    // Each registers its own key with proof; alice then requires signatures for cycles and
    // for releasing a lockdown.
    let out = ro(
        &store,
        &[
            "apply",
            "--reason",
            "per runbook",
            "--history",
            "--actor",
            "svc",
        ],
        &format!(
            "{}\n",
            registration(&store, "svc", "k-svc", &svc_key, "2026-01-05T14:31:30Z")
        ),
    );
    assert!(out.status.success(), "{out:?}");
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
        &format!(
            "{}\n{}\n",
            registration(
                &store,
                "alice",
                "k-alice",
                &alice_key,
                "2026-01-05T14:31:30Z"
            ),
            r#"{"type":"REQUIRE_SIGNATURES","actions":["RECORD_CYCLE","RELEASE_LOCKDOWN"],"at":"2026-01-05T14:32:00Z"}"#
        ),
    );
    assert!(out.status.success(), "{out:?}");

    // F5: a signed cycle lands once; sent again it is refused, recorded, forever.
    let svc = ro_core::Actor::service(ro_core::ActorId::new("svc").unwrap());
    let cycle = serde_json::json!({"type":"RECORD_CYCLE","intent":"HOLD","at":"2026-01-05T14:33:00Z","actor":{"id":"svc","kind":"service"}});
    let line = signed_line(&store, &cycle, &svc, "k-svc", &svc_key, "cycle-000001");
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--history"],
        &format!("{line}\n"),
    );
    assert!(out.status.success(), "{out:?}");
    for (what, attempt) in [
        ("the same line", line.clone()),
        ("the kind changed", line.replace("\"service\"", "\"human\"")),
    ] {
        let before = status(&store)["head_seq"].as_u64().unwrap();
        let out = ro(
            &store,
            &["apply", "--reason", "per runbook", "--history"],
            &format!("{attempt}\n"),
        );
        let answer = &json_lines(&out)[0];
        assert_eq!(answer["ok"], false, "{what}: {answer}");
        assert!(
            ["SIGNATURE_INVALID", "PRINCIPAL_KIND_MISMATCH"].contains(&code(answer)),
            "{what}: {answer}"
        );
        assert!(
            status(&store)["head_seq"].as_u64().unwrap() > before,
            "{what}: the refusal is recorded"
        );
    }
    // The same command signed for another plane (or by another actor) does not verify here.
    let foreign = {
        use ed25519_dalek::Signer;
        let at = ro_core::Timestamp::parse_rfc3339("2026-01-05T14:34:00Z").unwrap();
        let mut doc = cycle.clone();
        doc["at"] = Value::String("2026-01-05T14:34:00Z".into());
        let digest = ro_bindings::protocol::decode(&doc.to_string(), Some(&svc), at)
            .unwrap()
            .ctx
            .causation
            .unwrap();
        let message = ro_admin::signing::signing_message(
            &Digest::of(b"another plane"),
            &svc,
            "cycle-000002",
            &digest,
            at,
        );
        doc["signature"] = serde_json::json!({"key_id": "k-svc",
            "sig": hex(&svc_key.sign(&message).to_bytes()), "nonce": "cycle-000002"});
        doc.to_string()
    };
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--history"],
        &format!("{foreign}\n"),
    );
    assert_eq!(code(&json_lines(&out)[0]), "SIGNATURE_INVALID");

    // A signed two-step release, then a later lockdown at the same instant: the release
    // rebuilt from the audit log (signature and nonce are in it) is refused.
    // From here on documents are dated on the host clock: a second step must be.
    let now = host_now();
    let alice = ro_core::Actor::human(ro_core::ActorId::new("alice").unwrap());
    let raise = serde_json::json!({"type":"EMERGENCY_LOCKDOWN","at": now}).to_string();
    assert!(
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
            &format!("{raise}\n")
        )
        .status
        .success()
    );
    let release = serde_json::json!({"type":"RELEASE_LOCKDOWN","at": now,"operator_id":"alice"});
    let signed_release = signed_line(
        &store,
        &release,
        &alice,
        "k-alice",
        &alice_key,
        "release-0001",
    );
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--history"],
        &format!("{signed_release}\n"),
    );
    let first = &json_lines(&out)[0];
    assert_eq!(first["confirmation_required"], true, "{first}");
    let mut second: Value = serde_json::from_str(&signed_release).unwrap();
    second["confirmation_token"] = first["confirmation_token"].clone();
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--history"],
        &format!("{second}\n"),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(status(&store)["plane"]["lockdown"], false);
    assert!(
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
            &format!("{raise}\n")
        )
        .status
        .success()
    );
    let audit = String::from_utf8(ro(&store, &["audit"], "").stdout).unwrap();
    let verified = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| {
            r["event"]["event"]["type"] == "SignatureVerified"
                && r["event"]["event"]["action"] == "RELEASE_LOCKDOWN"
        })
        .unwrap();
    let rebuilt = serde_json::json!({"type":"RELEASE_LOCKDOWN","at": now,"operator_id":"alice",
        "signature": {"key_id": "k-alice", "sig": verified["event"]["event"]["signature"], "nonce": verified["event"]["event"]["nonce"]}});
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--history"],
        &format!("{rebuilt}\n"),
    );
    assert_eq!(code(&json_lines(&out)[0]), "SIGNATURE_INVALID", "{out:?}");
    assert_eq!(status(&store)["plane"]["lockdown"], true);

    // F6: with signatures required for anything, a caller claiming alice cannot register a
    // key for her without signing with a key she already holds.
    let mallory_key = SigningKey::from_bytes(&[9; 32]);
    let claim = registration(&store, "alice", "k-alice-2", &mallory_key, &now);
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
        &format!("{claim}\n"),
    );
    let answer = &json_lines(&out)[0];
    assert_eq!(code(answer), "SIGNATURE_REQUIRED", "{answer}");
    assert_eq!(recorded(answer), 1);
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
        &format!(
            "{}\n",
            serde_json::json!({"type":"REQUIRE_SIGNATURES","actions":[],"at": now})
        ),
    );
    assert_eq!(code(&json_lines(&out)[0]), "SIGNATURE_REQUIRED");
    // Revoked, a key never verifies again.
    let revoke = serde_json::json!({"type":"REVOKE_SIGNING_KEY","key_id":"k-svc","at": now,"operator_id":"alice"});
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--history"],
        &format!(
            "{}\n",
            signed_line(
                &store,
                &revoke,
                &alice,
                "k-alice",
                &alice_key,
                "revoke-00001"
            )
        ),
    );
    assert!(out.status.success(), "{out:?}");
    let mut late = cycle.clone();
    late["at"] = Value::String(now.clone());
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--history"],
        &format!(
            "{}\n",
            signed_line(&store, &late, &svc, "k-svc", &svc_key, "cycle-000003")
        ),
    );
    let answer = &json_lines(&out)[0];
    assert_eq!(code(answer), "SIGNATURE_INVALID", "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    clean(&[&store]);
}

/// The journal's head seq, read straight from the store file (cheap while it grows).
fn head_seq(store: &Path) -> i64 {
    let conn = rusqlite::Connection::open(store).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    conn.query_row("SELECT coalesce(max(seq), 0) FROM journal", [], |r| {
        r.get(0)
    })
    .unwrap()
}

/// F3: the panic button cannot be kept out. An agent streams cycles through one `ro apply` as
/// fast as it can; a human's `EMERGENCY_LOCKDOWN` from a second process, five times, lands
/// every time (it takes the lock, reads the agent's tail and decides on it; the agent yields
/// to it), and the agent's stream goes on, every line answered.
#[test]
fn the_panic_button_lands_while_another_writer_streams() {
    use std::io::BufRead;
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };
    let store = scratch("panic");
    assert!(
        ro(
            &store,
            &["init", "--posture", "unlocked", "--admin", "alice"],
            ""
        )
        .status
        .success()
    );
    let setup = "{\"type\":\"REGISTER_PRINCIPAL\",\"principal\":\"bot\",\"kind\":\"agent\"}\n\
                 {\"type\":\"GRANT_ROLE\",\"principal\":\"bot\",\"role\":\"operator\"}\n";
    assert!(
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
            setup
        )
        .status
        .success()
    );
    let mut agent = Command::new(env!("CARGO_BIN_EXE_ro"))
        .arg("--store")
        .arg(&store)
        .args([
            "apply",
            "--reason",
            "per runbook",
            "--history",
            "--actor",
            "bot",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut stdin = agent.stdin.take().unwrap();
    let writer = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let chunk = "{\"type\":\"RECORD_CYCLE\",\"intent\":\"BUY\",\"latency_ms\":1,\"survived\":true}\n"
                .repeat(256);
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if stdin.write_all(chunk.as_bytes()).is_err() {
                    break;
                }
                sent += 256;
            }
            sent
        })
    };
    let stdout = agent.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut answered = 0u64;
        let mut refused = Vec::new();
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            answered += 1;
            if !line.contains("\"ok\":true") && refused.len() < 3 {
                refused.push(line);
            }
        }
        (answered, refused)
    });
    // Bounded waits only: the agent must be streaming before the lockdowns start.
    let base = head_seq(&store);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while head_seq(&store) < base + 500 {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never streamed"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let mut landed_between = Vec::new();
    for round in 0..5 {
        let before = head_seq(&store);
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
            "{\"type\":\"EMERGENCY_LOCKDOWN\",\"reason\":\"panic button\"}\n",
        );
        let answers = json_lines(&out);
        assert_eq!(answers.len(), 1, "round {round}: {out:?}");
        assert_eq!(answers[0]["ok"], true, "round {round}: {}", answers[0]);
        assert!(out.status.success(), "round {round}: {out:?}");
        landed_between.push(head_seq(&store) - before);
    }
    stop.store(true, Ordering::Relaxed);
    let sent = writer.join().unwrap();
    let status = agent.wait().unwrap();
    let (answered, refused) = reader.join().unwrap();
    assert!(status.success(), "the agent's apply failed: {refused:?}");
    assert_eq!(answered, sent, "every line the agent sent was answered");
    assert!(refused.is_empty(), "{refused:?}");
    assert!(
        landed_between.iter().all(|n| *n > 1),
        "the agent kept landing cycles around every lockdown: {landed_between:?}"
    );
    let lockdowns = ro(&store, &["audit", "--admin"], "");
    let raised = json_lines(&lockdowns)
        .iter()
        .filter(|r| r["action_type"] == "EMERGENCY_LOCKDOWN" && r["result"] == "APPLIED")
        .count();
    assert_eq!(
        raised, 1,
        "the first lockdown raised it; the others found it raised"
    );
    assert!(ro(&store, &["verify"], "").status.success());
    clean(&[&store]);
}

/// Re-chains `records` from the first (renumbered from 1, each `prev` the hash before it, each
/// hash recomputed) as whoever holds an export can, and writes them as an export.
fn rechain(records: Vec<ro_core::Record>) -> String {
    let mut prev = Digest::from_bytes([0; 32]);
    let mut out = String::new();
    for (i, mut record) in records.into_iter().enumerate() {
        let seq = i as u64 + 1;
        if record.seq != seq {
            let mut body: Value = serde_json::from_slice(&record.body).unwrap();
            body["seq"] = Value::from(seq);
            record.body = ro_core::canonical::value_to_canonical_vec(&body).unwrap();
            record.seq = seq;
        }
        record.prev = prev;
        record.hash = chain_hash(&prev, &record.body);
        prev = record.hash;
        out.push_str(&record.to_export_line().unwrap());
        out.push('\n');
    }
    out
}

fn records_of(export: &str) -> Vec<ro_core::Record> {
    export
        .lines()
        .map(|l| ro_core::Record::from_export_line(l).unwrap())
        .collect()
}

/// F4 with a trusted anchor: a checkpoint signed by the host's key (outside the store),
/// published before the tampering, catches every rewrite of an export: the tail dropped, a
/// forged line appended with a valid hash, a line edited and the chain re-hashed, a line
/// dropped and the rest renumbered. Proofs show later checkpoints extend it.
#[test]
fn a_signed_checkpoint_catches_every_rewrite_of_an_export() {
    let store = store_with_history("checkpoint");
    let dir = store.parent().unwrap().to_owned();
    let file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let key = json_lines(&ro(&store, &["keys"], ""))[0]["checkpoint_public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let cp_out = ro(&store, &["checkpoint"], "");
    assert!(cp_out.status.success(), "{cp_out:?}");
    let cp_text = String::from_utf8(cp_out.stdout).unwrap();
    let cp = file("cp.json", &cp_text);
    let export = String::from_utf8(ro(&store, &["audit"], "").stdout).unwrap();
    let verify = |export_file: &Path, extra: &[&str]| -> (Option<i32>, Value) {
        let mut args = vec![
            "verify",
            "--export",
            export_file.to_str().unwrap(),
            "--checkpoint",
            cp.to_str().unwrap(),
            "--public-key",
            &key,
        ];
        args.extend_from_slice(extra);
        let out = ro(&dir.join("no-store.db"), &args, "");
        (out.status.code(), json_lines(&out).remove(0))
    };
    let (code_ok, report) = verify(&file("export.jsonl", &export), &[]);
    assert_eq!(code_ok, Some(0), "{report}");
    assert_eq!(report["checkpoint"]["unproven_tail"], 0);

    let records = records_of(&export);
    let n = records.len();
    // The tail dropped.
    let dropped = export
        .lines()
        .take(n - 1)
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    // A forged line appended, with a hash that chains.
    let mut appended = records.clone();
    let mut forged = records[n - 1].clone();
    let mut body: Value = serde_json::from_slice(&forged.body).unwrap();
    body["seq"] = Value::from(n as u64 + 1);
    forged.body = ro_core::canonical::value_to_canonical_vec(&body).unwrap();
    forged.seq = n as u64 + 1;
    appended.push(forged);
    // A line edited (ana becomes admin) and the chain re-hashed.
    let mut edited = records.clone();
    let text = String::from_utf8(edited[4].body.clone()).unwrap();
    assert!(text.contains("\"analyst\""), "{text}");
    edited[4].body = text.replace("\"analyst\"", "\"admin\"").into_bytes();
    // A line dropped (the lockdown's predecessor), the rest renumbered, and a line added at
    // the end so the count is the checkpoint's.
    let mut renumbered = records.clone();
    renumbered.remove(n - 2);
    renumbered.push(records[n - 1].clone());
    for (what, tampered, code) in [
        ("the tail dropped", dropped, "CHECKPOINT_RECORDS_MISSING"),
        ("a forged line appended", rechain(appended), "UNPROVEN_TAIL"),
        (
            "a line edited, the chain re-hashed",
            rechain(edited),
            "CHECKPOINT_MISMATCH",
        ),
        (
            "a line dropped, the rest renumbered",
            rechain(renumbered),
            "CHECKPOINT_MISMATCH",
        ),
    ] {
        let path = file("tampered.jsonl", &tampered);
        // The chain alone cannot tell (except for what no longer chains).
        let alone = ro(
            &dir.join("no-store.db"),
            &["verify", "--export", path.to_str().unwrap()],
            "",
        );
        assert!(alone.status.success(), "{what}: {alone:?}");
        let (exit, report) = verify(&path, &[]);
        assert_eq!(exit, Some(1), "{what}: {report}");
        assert_eq!(report["error"]["code"], code, "{what}: {report}");
    }
    // An unproven tail can be accepted, and is reported as such.
    let (exit, report) = verify(
        &file("tail.jsonl", &rechain(records_of(&export))),
        &["--allow-unproven-tail"],
    );
    assert_eq!(exit, Some(0), "{report}");

    // A checkpoint from another key, or edited after signing, is refused.
    let (exit, report) = {
        let mut args_key = key.clone();
        args_key.replace_range(0..2, if key.starts_with("00") { "11" } else { "00" });
        let out = ro(
            &dir.join("no-store.db"),
            &[
                "verify",
                "--export",
                dir.join("export.jsonl").to_str().unwrap(),
                "--checkpoint",
                cp.to_str().unwrap(),
                "--public-key",
                &args_key,
            ],
            "",
        );
        (out.status.code(), json_lines(&out).remove(0))
    };
    assert_eq!(
        (exit, report["error"]["code"].as_str()),
        (Some(1), Some("CHECKPOINT_KEY_MISMATCH"))
    );
    let mut edited_cp: Value = serde_json::from_str(&cp_text).unwrap();
    edited_cp["size"] = Value::from(n as u64 - 1);
    let bad = file("bad-cp.json", &edited_cp.to_string());
    let out = ro(
        &dir.join("no-store.db"),
        &[
            "verify",
            "--export",
            dir.join("export.jsonl").to_str().unwrap(),
            "--checkpoint",
            bad.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(json_lines(&out)[0]["error"]["code"], "CHECKPOINT_INVALID");

    // The store grows; a later checkpoint extends the first (consistency proof), and a record
    // is in it (inclusion proof), each checked against checkpoints alone.
    let more = "{\"type\":\"REVOKE_ROLE\",\"principal\":\"ana\",\"role\":\"analyst\"}\n";
    assert!(
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
            more
        )
        .status
        .success()
    );
    let cp2 = file(
        "cp2.json",
        &String::from_utf8(ro(&store, &["checkpoint"], "").stdout).unwrap(),
    );
    let size2 = status(&store)["head_seq"].as_u64().unwrap();
    // `ro proof verify PROOF [--old-checkpoint OLD] --checkpoint NEW [--public-key KEY]`,
    // without a store.
    let verify_proof = |proof: &Path, old: Option<&Path>, new: &Path, trusted: bool| {
        let mut args = vec!["proof", "verify", proof.to_str().unwrap()];
        if let Some(old) = old {
            args.extend(["--old-checkpoint", old.to_str().unwrap()]);
        }
        args.extend(["--checkpoint", new.to_str().unwrap()]);
        if trusted {
            args.extend(["--public-key", key.as_str()]);
        }
        ro(&dir.join("no-store.db"), &args, "")
    };
    let printed = |args: &[&str]| {
        let out = ro(&store, args, "");
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let consistency = file(
        "consistency.json",
        &printed(&["proof", "consistency", &n.to_string()]),
    );
    let checked = verify_proof(&consistency, Some(&cp), &cp2, true);
    assert!(checked.status.success(), "{checked:?}");
    let inclusion = file(
        "inclusion.json",
        &printed(&["proof", "inclusion", "3", "--size", &size2.to_string()]),
    );
    let checked = verify_proof(&inclusion, None, &cp2, true);
    assert!(checked.status.success(), "{checked:?}");
    // Against the first checkpoint's tree, the inclusion proof of the larger tree fails.
    let checked = verify_proof(&inclusion, None, &cp, false);
    assert_eq!(json_lines(&checked)[0]["error"]["code"], "PROOF_INVALID");
    // The store rewritten under the first checkpoint (ana's grant edited, chain re-hashed):
    // its consistency proof no longer links the two checkpoints.
    forge(&store, 5, |text| text.replace("\"analyst\"", "\"admin\""));
    let cp3 = file("cp3.json", &printed(&["checkpoint"]));
    let forged = file(
        "forged-consistency.json",
        &printed(&["proof", "consistency", &n.to_string()]),
    );
    let checked = verify_proof(&forged, Some(&cp), &cp3, true);
    assert_eq!(
        json_lines(&checked)[0]["error"]["code"],
        "PROOF_INVALID",
        "{checked:?}"
    );
    // And the store itself fails against the first checkpoint.
    let out = ro(
        &store,
        &[
            "verify",
            "--checkpoint",
            cp.to_str().unwrap(),
            "--allow-unproven-tail",
        ],
        "",
    );
    assert_eq!(json_lines(&out)[0]["error"]["code"], "CHECKPOINT_MISMATCH");
    clean(&[&store]);
}

/// A record whose `at` names its instant in another spelling (re-hashed, so the chain holds)
/// is not a record a verifier following docs/journal-format.md accepts; `ro verify` refuses
/// it too, naming its seq, in the store and in an export.
#[test]
fn a_non_canonical_time_fails_verification_naming_its_seq() {
    for (i, (what, respell)) in [
        ("+00:00", ":00+00:00\""),
        (".000Z", ":00.000Z\""),
        ("lowercase z", ":00z\""),
    ]
    .into_iter()
    .enumerate()
    {
        let store = store_with_history(&format!("spelling-{i}"));
        forge(&store, 3, |text| text.replacen(":00Z\"", respell, 1));
        let out = ro(&store, &["verify"], "");
        assert_eq!(out.status.code(), Some(1), "{what}: {out:?}");
        let answer = &json_lines(&out)[0];
        assert_eq!(
            answer["error"]["code"], "JOURNAL_DAMAGED",
            "{what}: {answer}"
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("seq 3"),
            "{what}: {answer}"
        );
        clean(&[&store]);
    }
    // The same in an export.
    let store = store_with_history("spelling-export");
    let export = String::from_utf8(ro(&store, &["audit"], "").stdout).unwrap();
    let mut records = records_of(&export);
    let text = String::from_utf8(records[2].body.clone()).unwrap();
    records[2].body = text.replacen(":00Z\"", ":00+00:00\"", 1).into_bytes();
    let path = store.parent().unwrap().join("respelled.jsonl");
    std::fs::write(&path, rechain(records)).unwrap();
    let out = ro(&store, &["verify", "--export", path.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        json_lines(&out)[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("seq 3")
    );
    clean(&[&store]);
}

#[test]
fn the_console_bounds_a_documents_time_both_ways_unless_importing_a_history() {
    let store = store_with_history("console-skew");
    let hour_ago = (time::OffsetDateTime::now_utc() - time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let late = format!(
        "{{\"type\":\"REPORT_COMPONENT\",\"component\":\"feed\",\"healthy\":true,\"at\":\"{hour_ago}\"}}\n"
    );
    let before = status(&store)["head_seq"].as_u64().unwrap();
    let out = ro(
        &store,
        &["apply", "--reason", "per runbook", "--actor", "alice"],
        &late,
    );
    assert_eq!(out.status.code(), Some(1));
    let answer = &json_lines(&out)[0];
    assert_eq!(code(answer), "CLOCK_SKEW", "{answer}");
    assert_eq!(status(&store)["head_seq"].as_u64().unwrap(), before);
    // A wider bound, or an import, admits it.
    let wide = ro(
        &store,
        &[
            "apply",
            "--reason",
            "per runbook",
            "--actor",
            "alice",
            "--max-skew",
            "7200",
        ],
        &late,
    );
    assert!(
        wide.status.success(),
        "{}",
        String::from_utf8_lossy(&wide.stdout)
    );
    let imported = ro(
        &store,
        &[
            "apply",
            "--reason",
            "per runbook",
            "--history",
            "--actor",
            "alice",
        ],
        &late,
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stdout)
    );
    clean(&[&store]);
}
