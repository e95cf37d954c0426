//! A profiling target for the plane: runs the full mixed stream of the `plane` bench through
//! `Kernel<Plane>` (`execute`), then folds its decoded events repeatedly; prints both rates.
//! `cargo build --release -p ro-benches --example plane_profile && perf record -g
//! target/release/examples/plane_profile [execute|fold|decode|sizes|digest|restore|none] [N]`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)] // a profiling harness

use std::hint::black_box;
use std::time::Instant;

use ro_admin::{Plane, PlaneEvent};
use ro_benches::plane::{setup, step};
use ro_core::{Decider, Envelope};

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "both".to_owned());
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let batch: Vec<_> = (0..n).map(step).collect();
    let mut kernel = setup();
    if what == "none" {
        // Only the setup: the baseline to subtract when counting instructions.
        black_box(batch);
        return;
    }
    let start = Instant::now();
    for (cmd, ctx) in &batch {
        black_box(kernel.execute(cmd, ctx).unwrap());
    }
    let took = start.elapsed();
    println!(
        "execute: {n} commands in {took:?}: {} ns/command",
        took.as_nanos() / u128::from(n)
    );
    if what == "sizes" {
        let records = kernel.journal().records();
        let bytes: usize = records.iter().map(|r| r.body.len()).sum();
        println!(
            "{} records, {} body bytes each on average",
            records.len(),
            bytes / records.len().max(1)
        );
        for r in records.iter().take(20) {
            println!("{}", String::from_utf8_lossy(&r.body));
        }
        return;
    }
    if what == "execute" {
        return;
    }
    if what == "digest" {
        // The state digest (what a snapshot restore and `ro status` recompute): its canonical
        // JSON's size, then the time of building that JSON and of the whole digest.
        let state = kernel.state();
        let start = Instant::now();
        let json = ro_core::canonical::to_canonical_vec(state).unwrap();
        let encode = start.elapsed();
        let start = Instant::now();
        black_box(ro_core::state_digest(state).unwrap());
        println!(
            "state: {} bytes of canonical JSON, encoded in {encode:?}; digest in {:?}",
            json.len(),
            start.elapsed()
        );
        return;
    }
    if what == "restore" {
        // A snapshot restore taken apart (the floor of a restore): the checksum, the copy into
        // aligned memory, the archive check alone, check + read back, the state digest, then
        // the whole restore and a full replay, three rounds. The payload sits between the
        // 120-byte header (magic, head seq and hash, state digest, kind, length) and the
        // 32-byte checksum.
        let snapshot = kernel.snapshot().unwrap();
        let journal = kernel.journal().clone();
        let payload = snapshot.get(120..snapshot.len() - 32).unwrap();
        for round in 0..3 {
            let t = Instant::now();
            black_box(ro_core::Digest::of(&snapshot));
            let checksum = t.elapsed();
            let t = Instant::now();
            let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(payload.len());
            aligned.extend_from_slice(payload);
            let copy = t.elapsed();
            let t = Instant::now();
            black_box(
                rkyv::access::<rkyv::Archived<Plane>, rkyv::rancor::Error>(&aligned).unwrap(),
            );
            let check = t.elapsed();
            let t = Instant::now();
            let state = rkyv::from_bytes::<Plane, rkyv::rancor::Error>(&aligned).unwrap();
            let check_deser = t.elapsed();
            let t = Instant::now();
            black_box(ro_core::state_digest(&state).unwrap());
            let digest = t.elapsed();
            let t = Instant::now();
            let (k, _) = ro_core::Kernel::<Plane>::restore_with(
                &snapshot,
                journal.clone(),
                Plane::with_confirmation_key([1; 32]),
                |p| p.set_confirmation_key([1; 32]),
            )
            .unwrap();
            let whole = t.elapsed();
            drop(k);
            let j = journal.clone();
            let t = Instant::now();
            let k = ro_core::Kernel::<Plane>::replay(j).unwrap();
            let replay = t.elapsed();
            drop(k);
            println!(
                "round {round}: {} bytes; checksum {checksum:?}, copy {copy:?}, bytecheck {check:?}, check+deserialize {check_deser:?}, digest {digest:?}; restore {whole:?}, replay {replay:?}",
                snapshot.len()
            );
        }
        return;
    }
    if what == "decode" {
        // Decoding every record's body into its typed envelope (what replay and open do
        // before folding), five times over.
        let records = kernel.journal().records();
        let start = Instant::now();
        for _ in 0..5 {
            for r in records {
                black_box(r.decode::<PlaneEvent>().unwrap());
            }
        }
        let took = start.elapsed() / 5;
        println!(
            "decode: {} records in {took:?}: {} records/s",
            records.len(),
            u128::from(records.len() as u64) * 1_000_000_000 / took.as_nanos().max(1)
        );
        return;
    }
    let decoded: Vec<Envelope<PlaneEvent>> = kernel
        .journal()
        .records()
        .iter()
        .map(|r| r.decode().unwrap())
        .collect();
    let rounds = if what == "fold" { 200u32 } else { 20 };
    // Each round's state is dropped outside the measurement, as in the bench.
    let mut took = std::time::Duration::ZERO;
    for _ in 0..rounds {
        let start = Instant::now();
        let mut state = Plane::with_confirmation_key([1; 32]);
        for e in &decoded {
            state.evolve(&e.event, &e.meta());
        }
        took += start.elapsed();
        black_box(state);
    }
    let took = took / rounds;
    println!(
        "fold: {} events in {took:?}: {} events/s",
        decoded.len(),
        u128::from(decoded.len() as u64) * 1_000_000_000 / took.as_nanos().max(1)
    );
}
