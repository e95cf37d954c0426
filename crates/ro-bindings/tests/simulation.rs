//! A seeded simulation of the host around the plane: the demo's documents (and random picks
//! of them) submitted with irregular time, duplicated, replayed late with their original time,
//! interleaved with group commits, snapshots, clean restarts and crashes (the store dropped
//! with records not yet committed), against the real SQLite store.
//!
//! A reference kernel in memory, which never restarts, receives the same submissions. After
//! every step the store-backed plane answered exactly as the reference did (the whole response
//! document, byte for byte, the
//! store side through `execute_line_text` as `apply` prints it); after every reopen the journal verifies, the plane equals the reference's
//! (rolled back to the committed prefix after a crash: nothing acknowledged is lost, nothing
//! unacknowledged survives) whether it was rebuilt from a snapshot or by replay; a late
//! submission whose time is before the head appends nothing (a command is refused, a query
//! answered). The kernel
//! checks every crate's invariants after every event (debug builds). At the end, replay equals
//! incremental application.
//!
//! 24 seeded histories run in CI; `RO_SIM_SEEDS=N` runs N more. A failure is shrunk by proptest
//! to a minimal list of steps, printed with its seed and kept in
//! `simulation.proptest-regressions`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use std::path::PathBuf;

use proptest::prelude::*;
use ro_admin::Plane;
use ro_bindings::{host, store::Store};
use ro_core::{ActorId, Journal, Kernel, Timestamp, testing::check_replay};
use serde_json::Value;

/// The demo's documents without their `at` (the simulation's clock stamps them).
fn documents() -> Vec<String> {
    include_str!("../src/demo.jsonl")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .map(|l| {
            let mut doc: serde_json::Map<String, Value> = serde_json::from_str(l).unwrap();
            doc.remove("at");
            Value::Object(doc).to_string()
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Step {
    /// The demo's next document.
    Next,
    /// Any demo document.
    Pick(usize),
    /// Time moves on by this many seconds.
    Advance(u16),
    /// The submission `back` submissions ago, again, now (a client retrying).
    Again(usize),
    /// The submission `back` submissions ago, again, with its original time (arriving late).
    Late(usize),
    /// Group commit of everything answered so far.
    Commit,
    /// A snapshot (commits first).
    Snapshot,
    /// Commit, close and reopen.
    Restart,
    /// Drop the store without committing, reopen.
    Crash,
}

fn step(n_docs: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => Just(Step::Next),
        3 => (0..n_docs).prop_map(Step::Pick),
        3 => (0u16..900).prop_map(Step::Advance),
        2 => (0usize..6).prop_map(Step::Again),
        1 => (1usize..6).prop_map(Step::Late),
        3 => Just(Step::Commit),
        1 => Just(Step::Snapshot),
        1 => Just(Step::Restart),
        1 => Just(Step::Crash),
    ]
}

#[allow(clippy::disallowed_methods)] // test configuration, not domain code
fn simulation_cases() -> u32 {
    24 + std::env::var("RO_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0)
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

fn temp_store(case: u64) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ro-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("case-{case}.db"));
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

/// The reference rolled back to its first `seq` records, folded from `initial`.
fn rolled_back(initial: &Plane, reference: &Kernel<Plane>, seq: u64) -> Kernel<Plane> {
    let records = reference.journal().records()[..seq as usize].to_vec();
    Kernel::resume(initial.clone(), 0, Journal::from_records(records).unwrap()).unwrap()
}

fn reopen(path: &std::path::Path) -> Store {
    let store = Store::open(path).unwrap();
    store.kernel().journal().verify().unwrap();
    store
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(simulation_cases()))]

    #[test]
    fn the_host_survives_restarts_duplicates_and_reordering(steps in proptest::collection::vec(step(documents().len()), 1..90)) {
        static CASE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let docs = documents();
        let path = temp_store(CASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let _gone = Gone(path.clone());
        let admin = ActorId::new("alice").unwrap();
        let mut at = Timestamp::parse_rfc3339("2026-03-02T12:00:00Z").unwrap();
        let mut store = Store::create(&path).unwrap();
        // The empty plane with the store's confirmation key: what a rollback folds from.
        let initial = store.kernel().state().clone();
        let grant = r#"{"type":"GRANT_ROLE","principal":"alice","role":"admin","operator_id":"alice","reason":"bootstrap"}"#;
        prop_assert!(host::execute_line(store.kernel_mut(), grant, Some(&admin), at).0);
        store.commit().unwrap();
        let mut reference = store.kernel().clone();
        let mut cursor = 0usize;
        let mut sent: Vec<(String, Timestamp)> = Vec::new();
        for step in steps {
            let (line, when) = match step {
                Step::Next => {
                    let Some(doc) = docs.get(cursor) else { continue };
                    cursor += 1;
                    (doc.clone(), at)
                }
                Step::Pick(i) => (docs[i].clone(), at),
                Step::Advance(secs) => {
                    at = Timestamp::from_unix_seconds(at.unix_seconds() + i64::from(secs)).unwrap();
                    continue;
                }
                Step::Again(back) | Step::Late(back) if back >= sent.len() => continue,
                Step::Again(back) => (sent[sent.len() - 1 - back].0.clone(), at),
                Step::Late(back) => sent[sent.len() - 1 - back].clone(),
                Step::Commit => {
                    store.commit().unwrap();
                    continue;
                }
                Step::Snapshot => {
                    store.snapshot().unwrap();
                    continue;
                }
                Step::Restart => {
                    store.commit().unwrap();
                    drop(store);
                    store = reopen(&path);
                    prop_assert_eq!(store.head(), reference.head());
                    prop_assert!(store.kernel().state() == reference.state(), "the plane changed across a restart");
                    continue;
                }
                Step::Crash => {
                    drop(store);
                    store = reopen(&path);
                    let durable = store.head().seq;
                    prop_assert!(durable <= reference.head().seq);
                    reference = rolled_back(&initial, &reference, durable);
                    prop_assert_eq!(store.head(), reference.head());
                    prop_assert!(store.kernel().state() == reference.state(), "the plane after a crash is not the committed prefix");
                    continue;
                }
            };
            let head_before = store.head();
            // The store side answers as `apply` does (text, events spliced from the stored
            // bodies); the reference through the JSON API: the same bytes.
            let (ok, text) = host::execute_line_text(store.kernel_mut(), &line, None, when);
            let (ref_ok, ref_response) = host::execute_line(&mut reference, &line, None, when);
            prop_assert_eq!(ok, ref_ok);
            prop_assert_eq!(&text, &host::response_text(&ref_response), "the store-backed plane answered {} differently", line);
            let response: Value = serde_json::from_str(&text).unwrap();
            if head_before.at.is_some_and(|head_at| when < head_at) {
                // Commands are refused; queries may be answered; nothing is appended either way.
                prop_assert_eq!(store.head(), head_before, "a submission older than the head appended: {}", line);
            }
            if !ok {
                prop_assert!(response["error"]["code"].is_string(), "{}", response);
            }
            sent.push((line, when));
        }
        store.commit().unwrap();
        drop(store);
        let store = reopen(&path);
        prop_assert!(store.kernel().state() == reference.state());
        check_replay(store.kernel());
        drop(store);
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
