//! The bank-account workload through ro and through four other Rust event-sourcing crates,
//! so their figures come from the same run on the same machine.
//!
//! Every implementation decides the same commands under the same rules (open, deposit,
//! withdraw, no overdraft) and folds the same events. Peers without an in-memory store
//! (esrs, disintegrate), or whose in-memory store prints a line per call (cqrs-es's
//! `MemStore`), get a quiet in-memory store here that does what their own stores do: load the
//! aggregate's events, fold them, decide, append. The tests check that every implementation
//! ends with the same balances.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // benchmark harness: a broken workload must stop the run
#![allow(missing_docs)] // benchmark harness, not an API

pub mod cqrs;
pub mod disint;
pub mod esrs_impl;
pub mod fmodel_impl;
pub mod ro_impl;

/// An account's number: the one id type every implementation's events and commands carry
/// (disintegrate, whose ids are strings, `i64` or UUIDs, takes it as `i64`). Where a
/// framework's store API keys aggregates by its own id type (cqrs-es's `&str`, esrs's `Uuid`),
/// that key is made once per command outside the timed loop.
pub type AccountNo = u64;

/// One command of the workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    /// Account index.
    pub account: usize,
    /// What to do.
    pub op: Op,
}

/// The operation of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Open the account.
    Open,
    /// Deposit micro-units.
    Deposit(u64),
    /// Withdraw micro-units.
    Withdraw(u64),
}

/// The aggregate id cqrs-es's store keys an account by.
pub fn account_name(i: usize) -> String {
    format!("acc-{i}")
}

/// `aggregates` accounts, each opened and then given `per - 1` deposits and withdrawals (all
/// accepted), interleaved round-robin as concurrent traffic would be.
pub fn commands(aggregates: usize, per: usize) -> Vec<Cmd> {
    let mut out = Vec::with_capacity(aggregates * per);
    for round in 0..per {
        for account in 0..aggregates {
            let op = match round {
                0 => Op::Open,
                r if r % 2 == 1 => Op::Deposit(100),
                _ => Op::Withdraw(50),
            };
            out.push(Cmd { account, op });
        }
    }
    out
}

/// The balance each account ends with after `commands(_, per)`.
pub fn expected_balance(per: usize) -> u64 {
    let ops = per.saturating_sub(1) as u64;
    let deposits = ops.div_ceil(2);
    let withdrawals = ops / 2;
    deposits * 100 - withdrawals * 50
}

/// A single-threaded runtime for the async peers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_implementation_ends_with_the_same_balances() {
        for (aggregates, per) in [(3, 10), (1, 25), (7, 4)] {
            let cmds = commands(aggregates, per);
            let want = vec![expected_balance(per); aggregates];
            assert_eq!(
                ro_impl::balances(&ro_impl::run_hashed(&ro_impl::prepare(&cmds)), aggregates),
                want,
                "ro hashed"
            );
            assert_eq!(
                ro_impl::balances_unhashed(
                    &ro_impl::run_unhashed(&ro_impl::prepare(&cmds)).0,
                    aggregates
                ),
                want,
                "ro"
            );
            assert_eq!(cqrs::run(&cmds, aggregates), want, "cqrs-es");
            assert_eq!(esrs_impl::run(&cmds, aggregates), want, "esrs");
            assert_eq!(fmodel_impl::run(&cmds, aggregates), want, "fmodel-rust");
            let h = fmodel_impl::StateHarness::default();
            h.exec_all(&fmodel_impl::prepare(&cmds));
            let got: Vec<u64> = (0..aggregates).map(|i| h.balance(i as AccountNo)).collect();
            assert_eq!(got, want, "fmodel-rust, state-stored");
            let h = cqrs::SnapshotHarness::default();
            h.exec_all(&cqrs::prepare(&cmds));
            let got: Vec<u64> = (0..aggregates).map(|i| h.balance(i)).collect();
            assert_eq!(got, want, "cqrs-es, snapshot store");
            assert_eq!(disint::run(&cmds, aggregates), want, "disintegrate");
        }
    }

    #[test]
    fn every_fold_agrees() {
        let n = 1000;
        let want = ro_impl::fold_bank(ro_impl::bank_events(n));
        assert_eq!(want, expected_balance(n));
        assert_eq!(cqrs::fold_bank(cqrs::bank_events(n)), want);
        assert_eq!(esrs_impl::fold_bank(esrs_impl::bank_events(n)), want);
        assert_eq!(fmodel_impl::fold_bank(&fmodel_impl::bank_events(n)), want);
        assert_eq!(disint::fold_bank(disint::bank_events(n)), want);
        let want = ro_impl::fold_ledger(ro_impl::ledger_events(n));
        assert_eq!(want, (n, (0..n as u64).sum()));
        assert_eq!(cqrs::fold_ledger(cqrs::ledger_events(n)), want);
        assert_eq!(esrs_impl::fold_ledger(esrs_impl::ledger_events(n)), want);
        assert_eq!(
            fmodel_impl::fold_ledger(&fmodel_impl::ledger_events(n)),
            want
        );
        assert_eq!(disint::fold_ledger(disint::ledger_events(n)), want);
        // Replay through the kernel (owned events, `evolve_owned`) equals deciding and
        // applying them one by one (`evolve`).
        let cmds: Vec<u64> = (0..50).collect();
        let ctx = ro_impl::ctx();
        let mut kernel = ro_core::Kernel::<ro_impl::Ledger>::new();
        for c in &cmds {
            kernel.execute(c, &ctx).unwrap();
        }
        let replayed =
            ro_core::Kernel::<ro_impl::Ledger>::replay(kernel.journal().clone()).unwrap();
        assert_eq!(replayed.state(), kernel.state());
    }
}
