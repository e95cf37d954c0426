//! Artifact registration and gate reads up to 1M artifacts; supersede with invalidation over a
//! 100k-derivation graph of depth 10. `cargo bench -p ro-benches --bench artifacts`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)] // benchmark harness

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ro_artifacts::{
    ArtifactClass, ArtifactCommand, ArtifactEvent, ArtifactRef, Artifacts, ContentDigest, CostTier,
    DerivationId, DigestAlg, Gate, Locator, testing::record,
};
use ro_core::{Actor, ActorId, Context, Decider, EventMeta, Timestamp};

fn ctx() -> Context {
    Context::new(
        Timestamp::from_unix_seconds(1_767_623_400).unwrap(),
        Actor::human(ActorId::new("ana").unwrap()),
    )
}

fn apply(state: &mut Artifacts, ctx: &Context, event: &ArtifactEvent) {
    let meta = EventMeta {
        seq: 1,
        at: ctx.at,
        actor: &ctx.actor,
        correlation_id: None,
        causation: None,
    };
    state.evolve(event, &meta);
}

fn digest(i: u64) -> ContentDigest {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&i.to_le_bytes());
    ContentDigest {
        alg: DigestAlg::Blake3,
        bytes,
    }
}

fn store_with(n: u64) -> Artifacts {
    let ctx = ctx();
    let mut state = Artifacts::default();
    let class = ArtifactClass::new("default").unwrap();
    for i in 0..n {
        let locator = Locator::new(format!("runs/r-{i:07}/report.json")).unwrap();
        let artifact = ArtifactRef {
            locator: locator.clone(),
            digest: digest(i),
            digest_alg: DigestAlg::Blake3,
            schema_version: None,
            size_bytes: None,
        };
        apply(
            &mut state,
            &ctx,
            &ArtifactEvent::ArtifactRegistered {
                artifact,
                class: class.clone(),
            },
        );
        if i % 2 == 0 {
            apply(
                &mut state,
                &ctx,
                &ArtifactEvent::GateSet {
                    locator,
                    before: Gate::Pending,
                    after: Gate::Pass,
                },
            );
        }
    }
    state
}

fn artifacts(c: &mut Criterion) {
    let ctx = ctx();
    let mut g = c.benchmark_group("artifacts");
    g.measurement_time(Duration::from_secs(3)).sample_size(50);
    for n in [1_000u64, 100_000, 1_000_000] {
        let state = store_with(n);
        let fresh = ArtifactCommand::RegisterArtifact {
            locator: Locator::new("runs/new/report.json").unwrap(),
            digest: digest(u64::MAX),
            digest_alg: None,
            size_bytes: None,
            schema_version: None,
            class: None,
        };
        g.bench_with_input(
            BenchmarkId::new("decide register (new ref)", n),
            &n,
            |b, _| b.iter(|| black_box(state.decide(&fresh, &ctx).unwrap())),
        );
        let existing = Locator::new(format!("runs/r-{:07}/report.json", n / 2)).unwrap();
        g.bench_with_input(BenchmarkId::new("read (gate PASS)", n), &n, |b, _| {
            b.iter(|| black_box(state.read(&existing).unwrap()))
        });
        let mut i = 0u64;
        g.bench_with_input(BenchmarkId::new("evolve register", n), &n, |b, _| {
            let mut state = state.clone();
            b.iter(|| {
                i += 1;
                let locator = Locator::new(format!("new/{i}")).unwrap();
                let artifact = ArtifactRef {
                    locator,
                    digest: digest(i),
                    digest_alg: DigestAlg::Blake3,
                    schema_version: None,
                    size_bytes: None,
                };
                apply(
                    &mut state,
                    &ctx,
                    &ArtifactEvent::ArtifactRegistered {
                        artifact,
                        class: ArtifactClass::new("default").unwrap(),
                    },
                );
            })
        });
    }
    g.finish();
}

/// 100k derivations in 10 layers of 10k; each derivation below the first layer depends on one
/// of the layer above (i → i of the next layer, i.e. 10k chains of depth 10).
fn derivations(c: &mut Criterion) {
    let ctx = ctx();
    let author = ActorId::new("ana").unwrap();
    let mut state = Artifacts::default();
    for layer in 0..10u32 {
        for i in 0..10_000u32 {
            let deps = if layer == 0 {
                vec![]
            } else {
                vec![DerivationId::new(format!("d-{}-{i}", layer - 1)).unwrap()]
            };
            let r = record(
                &format!("d-{layer}-{i}"),
                &author,
                &format!("v-{layer}-{i}"),
                CostTier::A,
                deps,
            )
            .unwrap();
            apply(
                &mut state,
                &ctx,
                &ArtifactEvent::DerivationRecorded { record: r },
            );
        }
    }
    let root = DerivationId::new("d-0-5000").unwrap();
    let replacement = record("d-0-5000-r", &author, "v-0-5000", CostTier::B, vec![]).unwrap();
    let supersede = ArtifactCommand::SupersedeDerivation {
        derivation_id: root,
        replacement,
    };
    let events = state.decide(&supersede, &ctx).unwrap();
    assert!(events.iter().any(|e| matches!(e, ArtifactEvent::DerivationsInvalidated { invalidated, .. } if invalidated.len() == 9)));
    let mut g = c.benchmark_group("derivations_100k_depth_10");
    g.measurement_time(Duration::from_secs(3));
    g.bench_function(
        "decide supersede (invalidates 9 transitive dependents)",
        |b| b.iter(|| black_box(state.decide(&supersede, &ctx).unwrap())),
    );
    g.bench_function("decide + apply supersede", |b| {
        b.iter_batched(
            || state.clone(),
            |mut s| {
                for e in s.decide(&supersede, &ctx).unwrap() {
                    apply(&mut s, &ctx, &e);
                }
                s
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, artifacts, derivations);
criterion_main!(benches);
