//! The workload through ro: one stream, one `Kernel`, state kept in memory.

use ro_core::{
    Context, Decider, Digest, Envelope, Event, EventMeta, Kernel, Rejection, Timestamp,
    testing::{bank::*, human},
};
use serde::{Deserialize, Serialize};

use crate::{Cmd, Op, account_name};

/// A fixed context (time does not matter to the bank).
pub fn ctx() -> Context {
    Context::new(
        Timestamp::from_unix_seconds(1_767_623_400).unwrap(),
        human("bench"),
    )
}

/// The workload as ro commands (built outside the timed loop, as every peer's is).
pub fn prepare(cmds: &[Cmd]) -> Vec<BankCommand> {
    cmds.iter()
        .map(|c| {
            let account = AccountId::new(account_name(c.account)).unwrap();
            match c.op {
                Op::Open => BankCommand::OpenAccount { account },
                Op::Deposit(amount_micros) => BankCommand::Deposit {
                    account,
                    amount_micros,
                },
                Op::Withdraw(amount_micros) => BankCommand::Withdraw {
                    account,
                    amount_micros,
                },
            }
        })
        .collect()
}

/// The full kernel: decide → canonical encoding → hash chain → evolve.
pub fn run_hashed(cmds: &[BankCommand]) -> Kernel<Bank> {
    let ctx = ctx();
    let mut kernel = Kernel::new();
    for cmd in cmds {
        kernel.execute(cmd, &ctx).unwrap();
    }
    kernel
}

/// The same loop without the hash chain: decide → evolve → keep the envelope in memory.
pub fn run_unhashed(cmds: &[BankCommand]) -> (Bank, Vec<Envelope<BankEvent>>) {
    let ctx = ctx();
    let mut state = Bank::default();
    let mut log: Vec<Envelope<BankEvent>> = Vec::with_capacity(cmds.len());
    for cmd in cmds {
        for event in state.decide(cmd, &ctx).unwrap() {
            let envelope = Envelope {
                seq: log.len() as u64 + 1,
                prev: Digest::ZERO,
                hash: Digest::ZERO,
                at: ctx.at,
                actor: ctx.actor.clone(),
                correlation_id: None,
                causation: None,
                schema_version: BankEvent::SCHEMA_VERSION,
                event,
            };
            state.evolve(&envelope.event, &envelope.meta());
            log.push(envelope);
        }
    }
    (state, log)
}

/// Balances of accounts `0..n` in a kernel.
pub fn balances(kernel: &Kernel<Bank>, n: usize) -> Vec<u64> {
    balances_unhashed(kernel.state(), n)
}

/// Balances of accounts `0..n` in a bank.
pub fn balances_unhashed(bank: &Bank, n: usize) -> Vec<u64> {
    (0..n)
        .map(|i| {
            bank.account(&AccountId::new(account_name(i)).unwrap())
                .map_or(0, |a| a.balance_micros)
        })
        .collect()
}

/// One account as its own stream: the state shape the peers fold (an aggregate per account).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Account {
    opened: bool,
    balance_micros: u64,
}

impl Decider for Account {
    type Command = BankCommand;
    type Event = BankEvent;
    type Rejection = BankRejection;

    fn decide(
        &self,
        command: &BankCommand,
        _ctx: &Context,
    ) -> Result<Vec<BankEvent>, BankRejection> {
        Ok(match command.clone() {
            BankCommand::OpenAccount { account } if self.opened => {
                return Err(BankRejection::AccountExists(account));
            }
            BankCommand::OpenAccount { account } => vec![BankEvent::AccountOpened { account }],
            BankCommand::Deposit { account, .. } | BankCommand::Withdraw { account, .. }
                if !self.opened =>
            {
                return Err(BankRejection::UnknownAccount(account));
            }
            BankCommand::Deposit {
                account,
                amount_micros,
            } => vec![BankEvent::MoneyDeposited {
                account,
                amount_micros,
            }],
            BankCommand::Withdraw { amount_micros, .. } if amount_micros > self.balance_micros => {
                return Err(BankRejection::InsufficientFunds {
                    balance_micros: self.balance_micros,
                    amount_micros,
                });
            }
            BankCommand::Withdraw {
                account,
                amount_micros,
            } => vec![BankEvent::MoneyWithdrawn {
                account,
                amount_micros,
            }],
        })
    }

    fn evolve(&mut self, event: &BankEvent, _meta: &EventMeta<'_>) {
        match event {
            BankEvent::AccountOpened { .. } => self.opened = true,
            BankEvent::MoneyDeposited { amount_micros, .. } => self.balance_micros += amount_micros,
            BankEvent::MoneyWithdrawn { amount_micros, .. } => self.balance_micros -= amount_micros,
        }
    }
}

/// One account opened, then `n - 1` deposits and withdrawals.
pub fn bank_events(n: usize) -> Vec<BankEvent> {
    let account = AccountId::new(account_name(0)).unwrap();
    (0..n)
        .map(|i| match i {
            0 => BankEvent::AccountOpened {
                account: account.clone(),
            },
            i if i % 2 == 1 => BankEvent::MoneyDeposited {
                account: account.clone(),
                amount_micros: 100,
            },
            _ => BankEvent::MoneyWithdrawn {
                account: account.clone(),
                amount_micros: 50,
            },
        })
        .collect()
}

/// Folds `events` into `state`, as replay does: each event with its own metadata.
pub fn fold<D: Decider>(mut state: D, events: &[D::Event]) -> D {
    let actor = ctx().actor;
    let at = ctx().at;
    for (seq, event) in (1u64..).zip(events) {
        let meta = EventMeta {
            seq,
            at,
            actor: &actor,
            correlation_id: None,
            causation: None,
        };
        state.evolve(event, &meta);
    }
    state
}

/// Folds bank events into one account; returns its balance.
pub fn fold_bank(events: &[BankEvent]) -> u64 {
    fold(Account::default(), events).balance_micros
}

/// A ledger event: one posting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum LedgerEvent {
    /// A posting was made.
    Posted {
        /// Amount in micro-units.
        amount_micros: u64,
        /// A memo.
        memo: String,
    },
}

impl Event for LedgerEvent {
    const SCHEMA_VERSION: u32 = 1;
}

/// A ledger that keeps every posting: a state that grows with every event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ledger {
    /// Every posting, in order.
    pub postings: Vec<(u64, String)>,
}

/// Ledger rejections (none occur in the workload).
#[derive(Debug, Clone, thiserror::Error)]
#[error("never")]
pub struct Never;

impl Rejection for Never {
    fn code(&self) -> &'static str {
        "NEVER"
    }
}

impl Decider for Ledger {
    type Command = u64;
    type Event = LedgerEvent;
    type Rejection = Never;

    fn decide(&self, amount: &u64, _ctx: &Context) -> Result<Vec<LedgerEvent>, Never> {
        Ok(vec![LedgerEvent::Posted {
            amount_micros: *amount,
            memo: format!("posting {}", self.postings.len()),
        }])
    }

    fn evolve(&mut self, event: &LedgerEvent, _meta: &EventMeta<'_>) {
        let LedgerEvent::Posted {
            amount_micros,
            memo,
        } = event;
        self.postings.push((*amount_micros, memo.clone()));
    }
}

/// `n` postings.
pub fn ledger_events(n: usize) -> Vec<LedgerEvent> {
    (0..n)
        .map(|i| LedgerEvent::Posted {
            amount_micros: i as u64,
            memo: format!("posting {i}"),
        })
        .collect()
}

/// Folds ledger events; returns (postings, total).
pub fn fold_ledger(events: &[LedgerEvent]) -> (usize, u64) {
    let ledger = fold(Ledger::default(), events);
    (
        ledger.postings.len(),
        ledger.postings.iter().map(|p| p.0).sum(),
    )
}
