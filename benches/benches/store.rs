//! The embedded SQLite store: durable `apply` with group commit, and open (read + verify +
//! fold). `cargo bench -p ro-benches --bench store`. Uses the system's temporary directory.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // benchmark harness

use std::io::BufReader;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ro_bindings::{host, store::Store};
use ro_core::{ActorId, Timestamp};

/// This run's scratch directory, removed when the last group is done.
fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!("ro-bench-store-{}", std::process::id()))
}

fn fresh(name: &str) -> PathBuf {
    let dir = scratch_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm", ".keys"] {
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

/// A journal table laid out as the store's (one row per record: seq, prev, hash, canonical
/// body) in a file set up as the store's (WAL, `synchronous=FULL`).
fn plain_journal(path: &PathBuf) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch(
        "CREATE TABLE journal (seq INTEGER PRIMARY KEY, prev BLOB NOT NULL,
                               hash BLOB NOT NULL, body BLOB NOT NULL) STRICT;",
    )
    .unwrap();
    conn
}

/// Inserts `records` as the store writes them, in the transaction the caller opened.
fn insert_rows(conn: &rusqlite::Connection, records: &[ro_core::Record]) {
    let mut stmt = conn
        .prepare_cached("INSERT INTO journal (seq, prev, hash, body) VALUES (?1, ?2, ?3, ?4)")
        .unwrap();
    for r in records {
        stmt.execute(rusqlite::params![
            r.seq as i64,
            &r.prev.as_bytes()[..],
            &r.hash.as_bytes()[..],
            &r.body
        ])
        .unwrap();
    }
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
                let mut reader = BufReader::with_capacity(host::INPUT_CAPACITY, input.as_bytes());
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
    // The floor under it: the same rows (seq, prev, hash, body) inserted with plain rusqlite
    // in transactions of the same size (`MAX_BATCH`), on a file set up as the store's (WAL,
    // synchronous=FULL), nothing decided, encoded or hashed.
    let rows = {
        let path = fresh("rows.db");
        let mut store = host::init(&path, &alice, at()).unwrap();
        let mut reader = BufReader::with_capacity(host::INPUT_CAPACITY, input.as_bytes());
        host::apply(
            &mut store,
            &mut reader,
            &mut std::io::sink(),
            Some(&alice),
            &mut at,
        )
        .unwrap();
        drop(store);
        Store::open(&path)
            .unwrap()
            .kernel()
            .journal()
            .records()
            .to_vec()
    };
    g.bench_function("plain rusqlite inserts (same rows, same batches)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let conn = plain_journal(&fresh("plain.db"));
                let start = Instant::now();
                for batch in rows.chunks(host::MAX_BATCH) {
                    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                    insert_rows(&conn, batch);
                    conn.execute_batch("COMMIT").unwrap();
                }
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
    // Opens of the stores a 20k- and a 100k-command `ro apply` leave (the apply is
    // 100k commands; the smaller shows the fixed part). The opened store is dropped outside
    // the measurement: freeing the state and the journal is not part of opening them.
    for n in [20_000u64, 100_000] {
        let path = fresh(&format!("open-{n}.db"));
        let mut s = host::init(&path, &alice, at()).unwrap();
        let input = lines(n);
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
        let mut g = c.benchmark_group(format!("store_open_{}k", n / 1000));
        g.sample_size(10).measurement_time(Duration::from_secs(10));
        g.throughput(Throughput::Elements(n));
        g.bench_function("open (read + verify + fold)", |b| {
            b.iter_batched(
                || (),
                |()| Store::open(&path).unwrap(),
                criterion::BatchSize::PerIteration,
            )
        });
        // The floor under an open: one thread reading every row and hashing it as the chain
        // check does, nothing decoded, checked for canonical form or folded.
        g.bench_function("floor: read + blake3 of every row", |b| {
            b.iter(|| {
                let conn = rusqlite::Connection::open(&path).unwrap();
                let mut stmt = conn
                    .prepare("SELECT seq, prev, hash, body FROM journal ORDER BY seq")
                    .unwrap();
                let mut rows = stmt.query([]).unwrap();
                let mut last = [0u8; 32];
                while let Some(row) = rows.next().unwrap() {
                    let prev = row.get_ref(1).unwrap().as_blob().unwrap();
                    let body = row.get_ref(3).unwrap().as_blob().unwrap();
                    let prev = ro_core::Digest::from_bytes(prev.try_into().unwrap());
                    last = *ro_core::journal::chain_hash(&prev, body).as_bytes();
                }
                last
            })
        });
        g.finish();
    }
}

/// The bank-account workload of `benches/peers` (10 accounts × 20 commands) made durable in a
/// SQLite journal laid out and written as ro's store does (WAL, `synchronous=FULL`, one row
/// per record: seq, prev, hash, canonical body; `BEGIN IMMEDIATE`, head check, inserts,
/// `COMMIT`). The store itself holds the plane only, so the bank's journal is written here with
/// the same statements. The peer side is `benches/sqlite-es-peer` (cqrs-es on sqlite-es, its
/// own workspace because sqlx links another SQLite); `benches/sqlite-compare.sh` runs both.
fn bank_durable(c: &mut Criterion) {
    use ro_core::testing::bank::Bank;
    use ro_core::{Context, Kernel, testing::human};
    let cmds = ro_benches::bank_rounds(10, 20);
    let write = |conn: &rusqlite::Connection, durable: u64, records: &[ro_core::Record]| {
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let head: i64 = conn
            .query_row("SELECT coalesce(max(seq), 0) FROM journal", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(head as u64, durable);
        insert_rows(conn, records);
        conn.execute_batch("COMMIT").unwrap();
    };
    let ctx = Context::new(at(), human("teller"));
    let mut g = c.benchmark_group("bank_durable_200");
    g.sample_size(10);
    for group_commit in [false, true] {
        let name = if group_commit {
            "ro (group commit)"
        } else {
            "ro (commit per command)"
        };
        g.bench_function(name, |b| {
            b.iter(|| {
                let path = fresh("bank.db");
                let conn = plain_journal(&path);
                let mut kernel: Kernel<Bank> = Kernel::new();
                let mut durable = 0;
                for cmd in &cmds {
                    kernel.execute(cmd, &ctx).unwrap();
                    if !group_commit {
                        write(&conn, durable, kernel.journal().records_after(durable));
                        durable = kernel.head().seq;
                    }
                }
                write(&conn, durable, kernel.journal().records_after(durable));
                assert_eq!(kernel.head().seq, 200);
            })
        });
    }
    g.finish();
}

/// Removes the run's scratch directory (registered last, so it runs after every group).
fn clean_up(_: &mut Criterion) {
    let _ = std::fs::remove_dir_all(scratch_dir());
}

criterion_group!(benches, store, bank_durable, clean_up);
criterion_main!(benches);
