//! The embedded SQLite store: durable `apply` with group commit, and open (read + verify +
//! fold). `cargo bench -p ro-benches --bench store`. Uses the system's temporary directory.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // benchmark harness

use std::hint::black_box;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ro_bindings::{host, store::Store};
use ro_core::{ActorId, Timestamp};

fn fresh(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ro-bench-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn lines(n: u64) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "{{\"type\":\"REGISTER_ARTIFACT\",\"ref\":\"runs/r-{i}/report.json\",\"digest\":\"blake3:{:064x}\",\"at\":\"2026-01-05T14:31:00Z\"}}\n",
            i + 1
        ));
    }
    s
}

fn at() -> Timestamp {
    Timestamp::parse_rfc3339("2026-01-05T14:30:00Z").unwrap()
}

fn store(c: &mut Criterion) {
    let n = 20_000u64;
    let input = lines(n);
    let alice = ActorId::new("alice").unwrap();
    let mut g = c.benchmark_group("store_20k");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(n));
    g.bench_function("durable apply (group commit)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let path = fresh("apply.db");
                let mut store = host::init(&path, &alice, at()).unwrap();
                let mut reader = BufReader::with_capacity(1 << 16, input.as_bytes());
                let mut out = Vec::with_capacity(input.len() * 4);
                let start = Instant::now();
                let tally =
                    host::apply(&mut store, &mut reader, &mut out, Some(&alice), &mut at).unwrap();
                total += start.elapsed();
                assert_eq!(tally.refused, 0);
            }
            total
        })
    });
    let path = fresh("open.db");
    let mut s = host::init(&path, &alice, at()).unwrap();
    let mut reader = BufReader::new(input.as_bytes());
    host::apply(
        &mut s,
        &mut reader,
        &mut std::io::sink(),
        Some(&alice),
        &mut at,
    )
    .unwrap();
    drop(s);
    g.bench_function("open (read + verify + fold)", |b| {
        b.iter(|| black_box(Store::open(&path).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, store);
criterion_main!(benches);
