//! cqrs-es on postgres-es: 200 bank commands (10 accounts × 20), one durable transaction per
//! command, on fresh tables each iteration, in a database of its own on `$PGURL` (default
//! `postgres://postgres@127.0.0.1:5432/test`'s server). The ro side is `cargo bench -p
//! ro-benches --bench store -- bank_durable_pg` in the main workspace; `benches/postgres-compare.sh`
//! runs both.
#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use ro_sqlite_es_peer::{commands, run_postgres, runtime};

fn bench(c: &mut Criterion) {
    let admin = std::env::var("PGURL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let db = format!("ro_peer_{}", std::process::id());
    let rt = runtime();
    let exec = |sql: String| {
        rt.block_on(async {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&admin)
                .await
                .unwrap();
            sqlx::raw_sql(&sql).execute(&pool).await.unwrap();
            pool.close().await;
        })
    };
    exec(format!("CREATE DATABASE {db}"));
    let url = format!("{}/{db}", admin.rsplit_once('/').unwrap().0);
    let cmds = commands(10, 20);
    let mut g = c.benchmark_group("bank_durable_pg_200");
    g.sample_size(10);
    g.bench_function("cqrs-es + postgres-es (commit per command)", |b| {
        b.iter(|| assert_eq!(run_postgres(&rt, &url, &cmds), 200))
    });
    g.finish();
    exec(format!("DROP DATABASE {db} WITH (FORCE)"));
}

criterion_group!(benches, bench);
criterion_main!(benches);
