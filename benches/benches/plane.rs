//! The whole plane on a mixed command stream (authorization, lockdown guard, domain decision,
//! hash chain, fold), against the bank decider through the same kernel as the baseline; and
//! the replay of the stream's decoded events. `cargo bench -p ro-benches --bench plane`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)] // benchmark harness

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ro_admin::{Plane, PlaneEvent};
use ro_benches::plane::{setup, step};
use ro_core::{
    Context, Decider, Envelope, Kernel, Timestamp,
    testing::{bank::*, human},
};

fn mixed(c: &mut Criterion) {
    let mut g = c.benchmark_group("plane_per_command");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(1));
    let mut kernel = setup();
    let mut next = 0u64;
    // The journal and state grow across every sample: by the end millions of records are in
    // memory, and a sample can include copying the record vector as it doubles.
    g.bench_function("mixed stream through the plane", |b| {
        b.iter_custom(|iters| {
            let batch: Vec<_> = (next..next + iters).map(step).collect();
            next += iters;
            let start = Instant::now();
            for (cmd, ctx) in &batch {
                black_box(kernel.execute(cmd, ctx).unwrap());
            }
            start.elapsed()
        })
    });
    // The same stream from a plane that already holds 100k commands: each sample starts from
    // a copy of it (made outside the measurement) and continues the stream, so the history
    // stays between 100k commands and 100k plus one sample's.
    const HISTORY: u64 = 100_000;
    let mut base = setup();
    for i in 0..HISTORY {
        let (cmd, ctx) = step(i);
        base.execute(&cmd, &ctx).unwrap();
    }
    g.bench_function("mixed stream, from a 100k-command history", |b| {
        b.iter_custom(|iters| {
            let mut kernel = base.clone();
            let batch: Vec<_> = (HISTORY..HISTORY + iters).map(step).collect();
            let start = Instant::now();
            for (cmd, ctx) in &batch {
                black_box(kernel.execute(cmd, ctx).unwrap());
            }
            let took = start.elapsed();
            drop(kernel);
            took
        })
    });
    let mut bank: Kernel<Bank> = Kernel::new();
    let ctx = Context::new(
        Timestamp::from_unix_seconds(1_767_623_400).unwrap(),
        human("bench"),
    );
    let account = AccountId::new("acc-0").unwrap();
    bank.execute(
        &BankCommand::OpenAccount {
            account: account.clone(),
        },
        &ctx,
    )
    .unwrap();
    g.bench_function("baseline: bank deposit through the kernel", |b| {
        b.iter(|| {
            let cmd = BankCommand::Deposit {
                account: account.clone(),
                amount_micros: 1,
            };
            black_box(bank.execute(&cmd, &ctx).unwrap())
        })
    });
    g.finish();
}

fn replay(c: &mut Criterion) {
    let n = 100_000u64;
    let mut kernel = setup();
    for i in 0..n {
        let (cmd, ctx) = step(i);
        kernel.execute(&cmd, &ctx).unwrap();
    }
    let journal = kernel.journal().clone();
    let decoded: Vec<Envelope<PlaneEvent>> = journal
        .records()
        .iter()
        .map(|r| r.decode().unwrap())
        .collect();
    let mut g = c.benchmark_group("plane_replay_100k");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(journal.len() as u64));
    // The state is dropped after each iteration, outside the measurement (`PerIteration`):
    // replay builds a state, freeing it is not part of replaying. (`iter_with_large_drop`
    // kept every iteration's state until the end of the sample, so each fold ran in fresh
    // pages.)
    g.bench_function("fold decoded events", |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut state = Plane::with_confirmation_key([1; 32]);
                for e in &decoded {
                    state.evolve(&e.event, &e.meta());
                }
                state
            },
            BatchSize::PerIteration,
        )
    });
    // The journal is cloned before, and the kernel dropped after, the measurement.
    g.bench_function("replay (decode + fold)", |b| {
        b.iter_batched(
            || journal.clone(),
            |journal| Kernel::<Plane>::replay(journal).unwrap(),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// Restoring a 1M-event plane from its snapshot (check the snapshot, read the state back,
/// rebuild derived caches; no tail) against replaying the 1M events, both from the same
/// in-memory journal (cloned outside the measurement).
fn restore(c: &mut Criterion) {
    let n = 1_000_000u64;
    let mut kernel = setup();
    for i in 0..n {
        let (cmd, ctx) = step(i);
        kernel.execute(&cmd, &ctx).unwrap();
    }
    let snapshot = kernel.snapshot().unwrap();
    let journal = kernel.journal().clone();
    drop(kernel);
    let mut g = c.benchmark_group("plane_restore_1m");
    g.sample_size(10).measurement_time(Duration::from_secs(30));
    g.bench_function("restore from snapshot", |b| {
        b.iter_batched(
            || journal.clone(),
            |journal| {
                let (k, how) = Kernel::<Plane>::restore_with(
                    &snapshot,
                    journal,
                    Plane::with_confirmation_key([1; 32]),
                    |p| p.set_confirmation_key([1; 32]),
                )
                .unwrap();
                assert!(matches!(how, ro_core::Restored::FromSnapshot { .. }));
                black_box(k)
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.bench_function("full replay", |b| {
        b.iter_batched(
            || journal.clone(),
            |journal| black_box(Kernel::<Plane>::replay(journal).unwrap()),
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
    println!("snapshot of {} events: {} bytes", n, snapshot.len());
}

/// One RECORD_CYCLE through the plane, unsigned, and signed by a registered Ed25519 key when
/// policy requires it (the signature is made outside the measurement; verifying it is inside).
fn signed(c: &mut Criterion) {
    use ed25519_dalek::{Signer, SigningKey};
    use ro_admin::{AdminCommand, PlaneCommand, command_digest, signing};
    use ro_core::CommandSignature;
    use ro_core::{Actor, ActorId};
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let key = SigningKey::from_bytes(&[3; 32]);
    let alice = Actor::human(ActorId::new("alice").unwrap());
    let worker = Actor::service(ActorId::new("worker").unwrap());
    let t0 = 1_767_700_000i64;
    let at = |i: u64| {
        Timestamp::from_unix_nanos(i128::from(t0) * 1_000_000_000 + i128::from(i) * 1_000_000)
            .unwrap()
    };
    let cycle: PlaneCommand = serde_json::from_value(serde_json::json!({"domain": "admin", "command": {"type": "RECORD_CYCLE", "intent": "HOLD", "latency_ms": 5}})).unwrap();
    let mut plain = setup();
    let mut signed_kernel = setup();
    let ctx = Context::new(at(0), alice.clone())
        .with_reason(ro_core::Reason::new("bench setup").unwrap());
    let plane_id = signed_kernel.state().signing().plane_id();
    // Each registers its own key with proof of possession; then alice (who holds a key)
    // requires signatures for cycles.
    let alice_key = SigningKey::from_bytes(&[4; 32]);
    for (who, key_id, k) in [(&worker, "k-worker", &key), (&alice, "k-alice", &alice_key)] {
        let key_id = signing::KeyId::new(key_id).unwrap();
        let public = *k.verifying_key().as_bytes();
        let proof = k.sign(&signing::key_registration_message(
            &plane_id, &who.id, &key_id, &public,
        ));
        let register = PlaneCommand::Admin(AdminCommand::RegisterSigningKey {
            key_id,
            principal: who.id.clone(),
            public_key: hex(&public),
            proof: Some(hex(&proof.to_bytes())),
        });
        signed_kernel
            .execute(
                &register,
                &Context::new(at(0), who.clone())
                    .with_reason(ro_core::Reason::new("bench setup").unwrap()),
            )
            .unwrap();
    }
    let require: PlaneCommand = serde_json::from_value(serde_json::json!({"domain": "admin", "command": {"type": "REQUIRE_SIGNATURES", "actions": ["RECORD_CYCLE"]}})).unwrap();
    signed_kernel.execute(&require, &ctx).unwrap();
    let digest = command_digest(&cycle);
    let mut g = c.benchmark_group("plane_signed_command");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(1));
    let mut next = 1u64;
    g.bench_function("unsigned RECORD_CYCLE", |b| {
        b.iter_custom(|iters| {
            let batch: Vec<Context> = (next..next + iters)
                .map(|i| Context::new(at(i), worker.clone()))
                .collect();
            next += iters;
            let start = Instant::now();
            for ctx in &batch {
                black_box(plain.execute(&cycle, ctx).unwrap());
            }
            start.elapsed()
        })
    });
    let mut next = 1u64;
    g.bench_function("signed RECORD_CYCLE (Ed25519 verify)", |b| {
        b.iter_custom(|iters| {
            let batch: Vec<Context> = (next..next + iters)
                .map(|i| {
                    let nonce = format!("nonce-{i:016}");
                    let sig = key.sign(&signing::signing_message(
                        &plane_id,
                        &worker,
                        &nonce,
                        &digest,
                        at(i),
                    ));
                    Context::new(at(i), worker.clone()).with_signature(CommandSignature {
                        key_id: signing::KeyId::new("k-worker").unwrap(),
                        signature: hex(&sig.to_bytes()),
                        nonce,
                    })
                })
                .collect();
            next += iters;
            let start = Instant::now();
            for ctx in &batch {
                black_box(signed_kernel.execute(&cycle, ctx).unwrap());
            }
            start.elapsed()
        })
    });
    g.finish();
}

/// Verifying 64 signed commands that arrive together: one at a time against one batch
/// verification (ed25519-dalek's `verify_batch`, which checks them all at once and says only
/// whether all are valid; a failed batch must be verified one by one to find the culprit).
fn batch_verification(c: &mut Criterion) {
    use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
    use ro_admin::signing;
    const N: usize = 64;
    let keys: Vec<SigningKey> = (0..8u8)
        .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
        .collect();
    let t0 = 1_767_700_000i64;
    let messages: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let digest = ro_core::Digest::of(format!("command {i}").as_bytes());
            let at = Timestamp::from_unix_nanos(
                i128::from(t0) * 1_000_000_000 + i128::try_from(i).unwrap(),
            )
            .unwrap();
            let actor =
                ro_core::Actor::agent(ro_core::ActorId::new(format!("agent-{}", i % 8)).unwrap());
            let plane = ro_core::Digest::of(b"plane");
            signing::signing_message(&plane, &actor, &format!("nonce-{i:08}"), &digest, at)
        })
        .collect();
    let signatures: Vec<Signature> = messages
        .iter()
        .zip(keys.iter().cycle())
        .map(|(m, k)| k.sign(m))
        .collect();
    let verifying: Vec<VerifyingKey> = keys
        .iter()
        .cycle()
        .take(N)
        .map(SigningKey::verifying_key)
        .collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let mut g = c.benchmark_group("signature_batch_64");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("one by one", |b| {
        b.iter(|| {
            for ((m, s), k) in messages.iter().zip(&signatures).zip(&verifying) {
                black_box(k.verify_strict(m, s)).unwrap();
            }
        })
    });
    g.bench_function("verify_batch", |b| {
        b.iter(|| black_box(ed25519_dalek::verify_batch(&refs, &signatures, &verifying)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, mixed, replay, restore, signed, batch_verification);
criterion_main!(benches);
