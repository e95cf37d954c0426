#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    clippy::print_stderr
)] // benchmark harness
//! Merkle proofs over a 1M-record journal: the size of an inclusion and a consistency proof
//! (as `ro proof` prints them) and the time to verify each, against the tree's root computed
//! once. Building the leaves and the proofs is outside the verification measurements.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ro_core::{Digest, merkle};

const N: usize = 1_000_000;

fn merkle_proofs(c: &mut Criterion) {
    let leaves: Vec<Digest> = (0..N as u64)
        .map(|i| merkle::leaf_hash(&Digest::of(&i.to_le_bytes())))
        .collect();
    let root = merkle::root(&leaves);
    let old = 765_432usize;
    let old_root = merkle::root(&leaves[..old]);
    let index = 123_456usize;
    let inclusion = merkle::inclusion_proof(&leaves, index).unwrap();
    let consistency = merkle::consistency_proof(&leaves, old).unwrap();
    let size = |path: &[Digest]| serde_json::to_string(path).unwrap().len();
    eprintln!(
        "1M records: inclusion proof {} hashes, {} bytes as JSON; consistency proof ({old} -> {N}) {} hashes, {} bytes",
        inclusion.len(),
        size(&inclusion),
        consistency.len(),
        size(&consistency)
    );
    let mut g = c.benchmark_group("merkle_1M");
    g.sample_size(30).measurement_time(Duration::from_secs(5));
    g.bench_function("verify inclusion", |b| {
        b.iter(|| {
            assert!(merkle::verify_inclusion(
                black_box(&leaves[index]),
                index as u64,
                N as u64,
                black_box(&inclusion),
                &root
            ))
        })
    });
    g.bench_function("verify consistency", |b| {
        b.iter(|| {
            assert!(merkle::verify_consistency(
                old as u64,
                N as u64,
                &old_root,
                &root,
                black_box(&consistency)
            ))
        })
    });
    g.sample_size(10);
    g.bench_function("root of 1M leaves", |b| {
        b.iter(|| black_box(merkle::root(black_box(&leaves))))
    });
    g.finish();
}

criterion_group!(benches, merkle_proofs);
criterion_main!(benches);
