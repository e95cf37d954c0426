//! ro against cqrs-es, esrs, fmodel-rust and disintegrate on the bank-account workload.
//! `cargo bench -p ro-peer-benches`; figures and how to read them: BENCHMARKS.md.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)] // benchmark harness

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ro_peer_benches::{commands, cqrs, disint, esrs_impl, fmodel_impl, ro_impl};

/// Each implementation folds the events in the form its load path hands them over: owned and
/// moved into the state (ro's replay, cqrs-es, esrs, disintegrate's state parts), or borrowed
/// (fmodel-rust's `compute_new_events`). Owned events are made outside the timed region.
fn fold(c: &mut Criterion) {
    let mut g = c.benchmark_group("fold_1m_small_state");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    let n = 1_000_000;
    g.throughput(Throughput::Elements(n as u64));
    let e = ro_impl::bank_events(n);
    g.bench_function("ro", |b| {
        b.iter_batched(|| e.clone(), ro_impl::fold_bank, BatchSize::LargeInput)
    });
    let e = cqrs::bank_events(n);
    g.bench_function("cqrs-es", |b| {
        b.iter_batched(|| e.clone(), cqrs::fold_bank, BatchSize::LargeInput)
    });
    let e = esrs_impl::bank_events(n);
    g.bench_function("esrs", |b| {
        b.iter_batched(|| e.clone(), esrs_impl::fold_bank, BatchSize::LargeInput)
    });
    let e = fmodel_impl::bank_events(n);
    g.bench_function("fmodel-rust", |b| {
        b.iter(|| black_box(fmodel_impl::fold_bank(&e)))
    });
    let e = disint::bank_events(n);
    g.bench_function("disintegrate", |b| {
        b.iter_batched(|| e.clone(), disint::fold_bank, BatchSize::LargeInput)
    });
    g.finish();

    let mut g = c.benchmark_group("fold_20k_growing_state");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    let n = 20_000;
    g.throughput(Throughput::Elements(n as u64));
    let e = ro_impl::ledger_events(n);
    g.bench_function("ro", |b| {
        b.iter_batched(|| e.clone(), ro_impl::fold_ledger, BatchSize::LargeInput)
    });
    let e = cqrs::ledger_events(n);
    g.bench_function("cqrs-es", |b| {
        b.iter_batched(|| e.clone(), cqrs::fold_ledger, BatchSize::LargeInput)
    });
    let e = esrs_impl::ledger_events(n);
    g.bench_function("esrs", |b| {
        b.iter_batched(|| e.clone(), esrs_impl::fold_ledger, BatchSize::LargeInput)
    });
    let e = fmodel_impl::ledger_events(n);
    g.bench_function("fmodel-rust", |b| {
        b.iter(|| black_box(fmodel_impl::fold_ledger(&e)))
    });
    let e = disint::ledger_events(n);
    g.bench_function("disintegrate", |b| {
        b.iter_batched(|| e.clone(), disint::fold_ledger, BatchSize::LargeInput)
    });
    g.finish();
}

fn command_loop(c: &mut Criterion) {
    for (aggregates, per) in [(1000, 10), (100, 100), (1, 2000)] {
        let mut g = c.benchmark_group(format!("command_loop_{aggregates}x{per}"));
        g.sample_size(10).measurement_time(Duration::from_secs(4));
        let cmds = commands(aggregates, per);
        g.throughput(Throughput::Elements(cmds.len() as u64));
        let p = ro_impl::prepare(&cmds);
        g.bench_function("ro (hash chain)", |b| {
            b.iter(|| black_box(ro_impl::run_hashed(&p)))
        });
        g.bench_function("ro (no hash chain)", |b| {
            b.iter(|| black_box(ro_impl::run_unhashed(&p)))
        });
        let p = cqrs::prepare(&cmds);
        g.bench_function("cqrs-es", |b| {
            b.iter_batched(
                cqrs::Harness::default,
                |h| h.exec_all(&p),
                BatchSize::PerIteration,
            )
        });
        let p = esrs_impl::prepare(&cmds);
        g.bench_function("esrs", |b| {
            b.iter_batched(
                esrs_impl::Harness::default,
                |h| h.exec_all(&p),
                BatchSize::PerIteration,
            )
        });
        let p = fmodel_impl::prepare(&cmds);
        g.bench_function("fmodel-rust", |b| {
            b.iter_batched(
                fmodel_impl::Harness::default,
                |h| h.exec_all(&p),
                BatchSize::PerIteration,
            )
        });
        let p = disint::prepare(&cmds);
        g.bench_function("disintegrate", |b| {
            b.iter_batched(
                disint::Harness::default,
                |h| h.exec_all(&p),
                BatchSize::PerIteration,
            )
        });
        g.finish();
    }
}

/// Runs `command` `iters` times, timing only it, with `reset` between runs.
fn timed(iters: u64, mut command: impl FnMut(), mut reset: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        command();
        total += start.elapsed();
        reset();
    }
    total
}

/// The cost of one more command on an aggregate with `history` events: flat for ro, linear for
/// stores that replay the aggregate's stream per command.
fn command_after_history(c: &mut Criterion) {
    let mut g = c.benchmark_group("one_command_after_history");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    for history in [1_000usize, 10_000, 100_000, 1_000_000] {
        let cmds = commands(1, history);
        let next = commands(1, history + 2)[history..history + 2].to_vec();
        let p = ro_impl::prepare(&cmds);
        let step = ro_impl::prepare(&next);
        let mut kernel = ro_impl::run_hashed(&p);
        let ctx = ro_impl::ctx();
        let mut i = 0usize;
        g.bench_with_input(
            BenchmarkId::new("ro (hash chain)", history),
            &history,
            |b, _| {
                b.iter(|| {
                    i += 1;
                    kernel.execute(&step[i % 2], &ctx).unwrap()
                })
            },
        );
        // fmodel-rust's state-stored aggregate keeps the state, not the events: the next command
        // fetches it, decides, evolves and saves it (each timed command changes the balance;
        // deposits and withdrawals alternate, so it stays within bounds).
        let h = fmodel_impl::StateHarness::default();
        h.exec_all(&fmodel_impl::prepare(&cmds));
        let s = fmodel_impl::prepare(&next);
        let mut j = 0usize;
        g.bench_with_input(
            BenchmarkId::new("fmodel-rust (state-stored)", history),
            &history,
            |b, _| {
                b.iter(|| {
                    j += 1;
                    h.exec_all(&s[j % 2..j % 2 + 1])
                })
            },
        );
        if history <= 10_000 {
            // Each timed command appends an event; the stream is cut back to `history` events
            // outside the timed region, so every sample sees the same history.
            let acc = ro_peer_benches::account_name(0);
            let h = cqrs::Harness::default();
            h.exec_all(&cqrs::prepare(&cmds));
            let s = cqrs::prepare(&next);
            g.bench_with_input(BenchmarkId::new("cqrs-es", history), &history, |b, _| {
                b.iter_custom(|iters| {
                    timed(iters, || h.exec_all(&s[..1]), || h.truncate(&acc, history))
                })
            });
            let h = cqrs::SnapshotHarness::default();
            h.exec_all(&cqrs::prepare(&cmds));
            let kept = h.snapshot(&acc);
            let s = cqrs::prepare(&next);
            g.bench_with_input(
                BenchmarkId::new("cqrs-es (snapshot store)", history),
                &history,
                |b, _| {
                    b.iter_custom(|iters| {
                        timed(
                            iters,
                            || h.exec_all(&s[..1]),
                            || h.truncate(&acc, history, &kept),
                        )
                    })
                },
            );
            let h = esrs_impl::Harness::default();
            h.exec_all(&esrs_impl::prepare(&cmds));
            let s = esrs_impl::prepare(&next);
            g.bench_with_input(BenchmarkId::new("esrs", history), &history, |b, _| {
                b.iter_custom(|iters| {
                    timed(iters, || h.exec_all(&s[..1]), || h.truncate(0, history))
                })
            });
            let h = fmodel_impl::Harness::default();
            h.exec_all(&fmodel_impl::prepare(&cmds));
            let s = fmodel_impl::prepare(&next);
            g.bench_with_input(
                BenchmarkId::new("fmodel-rust", history),
                &history,
                |b, _| {
                    b.iter_custom(|iters| {
                        timed(iters, || h.exec_all(&s[..1]), || h.truncate(0, history))
                    })
                },
            );
            let h = disint::Harness::default();
            h.exec_all(&disint::prepare(&cmds));
            let s = disint::prepare(&next);
            g.bench_with_input(
                BenchmarkId::new("disintegrate", history),
                &history,
                |b, _| {
                    b.iter_custom(|iters| {
                        timed(iters, || h.exec_all(&s[..1]), || h.truncate(history))
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, fold, command_loop, command_after_history);
criterion_main!(benches);
