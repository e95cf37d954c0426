//! cqrs-es on sqlite-es: 200 bank commands (10 accounts × 20), one durable transaction per
//! command, on a fresh database each iteration. `cargo bench` here; the ro side is
//! `cargo bench -p ro-benches --bench store -- bank_durable` in the main workspace, and
//! `benches/sqlite-compare.sh` runs both.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use ro_sqlite_es_peer::{commands, run, runtime};

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("ro-sqlite-es-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cmds = commands(10, 20);
    let rt = runtime();
    let mut g = c.benchmark_group("bank_durable_200");
    g.sample_size(10);
    let mut i = 0u32;
    g.bench_function("cqrs-es + sqlite-es (commit per command)", |b| {
        b.iter(|| {
            i += 1;
            let path = dir.join(format!("bank-{i}.db"));
            let n = run(&rt, &path, &cmds);
            assert_eq!(n, 200);
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
