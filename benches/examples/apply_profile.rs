//! A profiling target: `ro apply` of 100k `REGISTER_ARTIFACT` lines to a fresh store (durable,
//! group commit), then opening it; prints both rates (`apply_profile N snapshot`: the store is
//! snapshotted before it is reopened; with `RO_PROFILE_STORE=postgres://…?plane=NAME` the store
//! is that plane, which must not exist yet). Run under a profiler:
//! `cargo build --release -p ro-benches --example apply_profile && perf record -g
//! target/release/examples/apply_profile`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    clippy::print_stdout,
    missing_docs
)] // a profiling harness

use std::io::BufReader;
use std::time::Instant;

use ro_bindings::{
    host,
    store::{Location, Store},
};
use ro_core::{ActorId, Timestamp};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    // `snapshot` as the second argument: snapshot the store before reopening it, so the open
    // reads the rows into a journal and restores the plane from the snapshot.
    let snapshot = std::env::args().nth(2).as_deref() == Some("snapshot");
    let dir = std::env::temp_dir().join(format!("ro-apply-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = match std::env::var("RO_PROFILE_STORE") {
        Ok(url) => Location::parse(&url)
            .unwrap()
            .with_key_file(dir.join("apply.keys")),
        Err(_) => Location::file(dir.join("apply.db")),
    };
    let mut input = String::new();
    for i in 0..n {
        input.push_str(&format!(
            "{{\"type\":\"REGISTER_ARTIFACT\",\"ref\":\"runs/r-{i}/report.json\",\"digest\":\"blake3:{:064x}\",\"at\":\"2026-01-05T14:31:00Z\"}}\n",
            i + 1
        ));
    }
    let at = Timestamp::parse_rfc3339("2026-01-05T14:30:00Z").unwrap();
    let alice = ActorId::new("alice").unwrap();
    let mut store = host::init(&path, &alice, at).unwrap();
    let mut reader = BufReader::with_capacity(1 << 16, input.as_bytes());
    let mut out = Vec::with_capacity(input.len() * 4);
    let start = Instant::now();
    let tally = host::apply(&mut store, &mut reader, &mut out, Some(&alice), &mut || at).unwrap();
    let apply = start.elapsed();
    assert_eq!(tally.refused, 0);
    if snapshot {
        store.snapshot().unwrap();
    }
    drop(store);
    let start = Instant::now();
    let store = Store::open(&path).unwrap();
    let open = start.elapsed();
    println!(
        "apply {n}: {} commands/s; open {}: {} events/s",
        u128::from(n) * 1_000_000 / apply.as_micros().max(1),
        store.head().seq,
        u128::from(store.head().seq) * 1_000_000 / open.as_micros().max(1)
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
