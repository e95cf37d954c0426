//! Shared workloads of ro's own benchmarks (`cargo bench -p ro-benches`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // benchmark harness: a broken workload must stop the run

use ro_core::{
    Context, Kernel, Timestamp,
    testing::{bank::*, human},
};

/// A bank kernel with `accounts` accounts and `events` events in all.
pub fn bank_with_history(accounts: usize, events: usize) -> Kernel<Bank> {
    let ctx = Context::new(
        Timestamp::from_unix_seconds(1_767_623_400).unwrap(),
        human("bench"),
    );
    let mut kernel = Kernel::new();
    let ids: Vec<AccountId> = (0..accounts.max(1))
        .map(|i| AccountId::new(format!("acc-{i}")).unwrap())
        .collect();
    for id in &ids {
        kernel
            .execute(
                &BankCommand::OpenAccount {
                    account: id.clone(),
                },
                &ctx,
            )
            .unwrap();
    }
    let mut n = ids.len();
    while n < events {
        let account = ids[n % ids.len()].clone();
        let command = if n.is_multiple_of(2) {
            BankCommand::Deposit {
                account,
                amount_micros: 100,
            }
        } else {
            BankCommand::Withdraw {
                account,
                amount_micros: 50,
            }
        };
        if kernel.execute(&command, &ctx).is_ok() {
            n += 1;
        } else {
            kernel
                .execute(
                    &BankCommand::Deposit {
                        account: ids[n % ids.len()].clone(),
                        amount_micros: 100,
                    },
                    &ctx,
                )
                .unwrap();
            n += 1;
        }
    }
    kernel
}
