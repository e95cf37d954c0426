//! The bank workload made durable on PostgreSQL, as the shared store writes it: ro's kernel
//! deciding 200 commands (10 accounts × 20) and its journal rows written to the store's own
//! schema (`crates/ro-bindings/migrations/postgres/`, the trigger that refuses a fork
//! included), a transaction per command or one for all (group commit). Each iteration is a
//! new plane in a database of its own on `$PGURL` (default
//! `postgres://postgres@127.0.0.1:5432/test`'s server). `cargo bench -p ro-benches --bench
//! store_pg`; the peer (cqrs-es on postgres-es) is `benches/sqlite-es-peer`'s `postgres_es`
//! bench, and `benches/postgres-compare.sh` runs both.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // benchmark harness

use criterion::{Criterion, criterion_group, criterion_main};
use ro_core::testing::bank::Bank;
use ro_core::{Context, Kernel, Timestamp, testing::human};

const SCHEMA: &str = include_str!("../../crates/ro-bindings/migrations/postgres/0001_journal.sql");

fn bank_durable_pg(c: &mut Criterion) {
    let admin = std::env::var("PGURL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let db = format!("ro_bench_pg_{}", std::process::id());
    let mut a = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    a.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    let url = format!("{}/{db}", admin.rsplit_once('/').unwrap().0);
    let mut conn = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    conn.batch_execute(SCHEMA).unwrap();
    let lock = conn
        .prepare("SELECT head_seq FROM ro_planes WHERE plane = $1 FOR UPDATE")
        .unwrap();
    let insert = conn
        .prepare(
            "INSERT INTO ro_journal (plane, seq, prev, hash, body)
             SELECT $1, * FROM unnest($2::bigint[], $3::bytea[], $4::bytea[], $5::bytea[])",
        )
        .unwrap();
    let cmds = ro_benches::bank_rounds(10, 20);
    let ctx = Context::new(
        Timestamp::parse_rfc3339("2026-01-05T14:30:00Z").unwrap(),
        human("teller"),
    );
    // One transaction: the plane row's lock, the head check, the rows, the commit.
    let write =
        |conn: &mut postgres::Client, plane: &str, durable: u64, records: &[ro_core::Record]| {
            conn.batch_execute("BEGIN").unwrap();
            let head: i64 = conn.query_one(&lock, &[&plane]).unwrap().get(0);
            assert_eq!(head as u64, durable);
            let seqs: Vec<i64> = records.iter().map(|r| r.seq as i64).collect();
            let prevs: Vec<&[u8]> = records.iter().map(|r| &r.prev.as_bytes()[..]).collect();
            let hashes: Vec<&[u8]> = records.iter().map(|r| &r.hash.as_bytes()[..]).collect();
            let bodies: Vec<&[u8]> = records.iter().map(|r| &r.body[..]).collect();
            conn.execute(&insert, &[&plane, &seqs, &prevs, &hashes, &bodies])
                .unwrap();
            conn.batch_execute("COMMIT").unwrap();
        };
    let mut g = c.benchmark_group("bank_durable_pg_200");
    g.sample_size(10);
    let mut n = 0u32;
    for group_commit in [false, true] {
        let name = if group_commit {
            "ro (group commit)"
        } else {
            "ro (commit per command)"
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                n += 1;
                let plane = format!("bank-{n}");
                conn.execute(
                    "INSERT INTO ro_planes (plane, format) VALUES ($1, 'bench')",
                    &[&plane],
                )
                .unwrap();
                let mut kernel: Kernel<Bank> = Kernel::new();
                let mut durable = 0;
                for cmd in &cmds {
                    kernel.execute(cmd, &ctx).unwrap();
                    if !group_commit {
                        write(
                            &mut conn,
                            &plane,
                            durable,
                            kernel.journal().records_after(durable),
                        );
                        durable = kernel.head().seq;
                    }
                }
                write(
                    &mut conn,
                    &plane,
                    durable,
                    kernel.journal().records_after(durable),
                );
                assert_eq!(kernel.head().seq, 200);
            })
        });
    }
    g.finish();
    drop(conn);
    a.batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
}

criterion_group!(benches, bank_durable_pg);
criterion_main!(benches);
