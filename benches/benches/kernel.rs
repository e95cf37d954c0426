//! ro's kernel alone: journal verification, replay, snapshots, export.
//! `cargo bench -p ro-benches`; figures: BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // benchmark harness

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ro_benches::bank_with_history;
use ro_core::{Journal, Kernel, testing::bank::Bank};

fn journal(c: &mut Criterion) {
    let events = 100_000;
    let kernel = bank_with_history(1000, events);
    let journal = kernel.journal().clone();
    let snapshot = kernel.snapshot().unwrap();
    let exported = journal.export_jsonl().unwrap();

    let mut g = c.benchmark_group("journal_100k");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(events as u64));
    g.bench_function("verify", |b| b.iter(|| journal.verify().unwrap()));
    g.bench_function("replay (decode + fold)", |b| {
        b.iter(|| black_box(Kernel::<Bank>::replay(journal.clone()).unwrap()))
    });
    g.bench_function("restore from snapshot", |b| {
        b.iter(|| black_box(Kernel::<Bank>::restore(&snapshot, journal.clone()).unwrap()))
    });
    g.bench_function("clone journal (baseline of the two above)", |b| {
        b.iter(|| black_box(journal.clone()))
    });
    g.bench_function("export jsonl", |b| {
        b.iter(|| black_box(journal.export_jsonl().unwrap()))
    });
    g.bench_function("import jsonl (full verification)", |b| {
        b.iter(|| black_box(Journal::import_jsonl(&exported).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, journal);
criterion_main!(benches);
