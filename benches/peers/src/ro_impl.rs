//! The workload through ro: one stream, one `Kernel`, state kept in memory. Accounts are
//! numbered ([`AccountNo`]) as in every other implementation here.

use std::collections::BTreeMap;

use ro_core::{
    Context, Decider, Digest, Envelope, Event, EventMeta, Kernel, Rejection, Timestamp,
    testing::human,
};
use serde::{Deserialize, Serialize};

use crate::{AccountNo, Cmd, Op};

/// A fixed context (time does not matter to the bank).
pub fn ctx() -> Context {
    Context::new(
        Timestamp::from_unix_seconds(1_767_623_400).unwrap(),
        human("bench"),
    )
}

/// A command: an operation on one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountCommand {
    /// The account.
    pub account: AccountNo,
    /// What to do.
    pub op: Op,
}

/// What happened to an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum AccountEvent {
    /// Opened.
    Opened {
        /// The account.
        account: AccountNo,
    },
    /// Deposited.
    Deposited {
        /// The account.
        account: AccountNo,
        /// Micro-units.
        amount: u64,
    },
    /// Withdrawn.
    Withdrawn {
        /// The account.
        account: AccountNo,
        /// Micro-units.
        amount: u64,
    },
}

impl Event for AccountEvent {
    const SCHEMA_VERSION: u32 = 1;
}

/// Refusals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// Already open.
    #[error("exists")]
    Exists,
    /// Not open.
    #[error("unknown")]
    Unknown,
    /// Overdraft.
    #[error("insufficient")]
    Insufficient,
}

impl Rejection for AccountError {
    fn code(&self) -> &'static str {
        match self {
            AccountError::Exists => "EXISTS",
            AccountError::Unknown => "UNKNOWN",
            AccountError::Insufficient => "INSUFFICIENT",
        }
    }
}

/// One account: the state shape the peers fold (an aggregate per account).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Account {
    opened: bool,
    balance: u64,
}

impl Account {
    fn decide(&self, command: &AccountCommand) -> Result<AccountEvent, AccountError> {
        let account = command.account;
        Ok(match command.op {
            Op::Open if self.opened => return Err(AccountError::Exists),
            Op::Open => AccountEvent::Opened { account },
            _ if !self.opened => return Err(AccountError::Unknown),
            Op::Deposit(amount) => AccountEvent::Deposited { account, amount },
            Op::Withdraw(amount) if amount > self.balance => {
                return Err(AccountError::Insufficient);
            }
            Op::Withdraw(amount) => AccountEvent::Withdrawn { account, amount },
        })
    }

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened { .. } => self.opened = true,
            AccountEvent::Deposited { amount, .. } => self.balance += amount,
            AccountEvent::Withdrawn { amount, .. } => self.balance -= amount,
        }
    }
}

impl Decider for Account {
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Rejection = AccountError;

    fn decide(
        &self,
        command: &AccountCommand,
        _ctx: &Context,
    ) -> Result<Vec<AccountEvent>, AccountError> {
        Account::decide(self, command).map(|e| vec![e])
    }

    fn evolve(&mut self, event: &AccountEvent, _meta: &EventMeta<'_>) {
        self.apply(event);
    }
}

/// Every account in one state: ro's way (one stream, one kernel).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Bank {
    accounts: BTreeMap<AccountNo, Account>,
}

impl Decider for Bank {
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Rejection = AccountError;

    fn decide(
        &self,
        command: &AccountCommand,
        _ctx: &Context,
    ) -> Result<Vec<AccountEvent>, AccountError> {
        let account = self
            .accounts
            .get(&command.account)
            .copied()
            .unwrap_or_default();
        account.decide(command).map(|e| vec![e])
    }

    fn evolve(&mut self, event: &AccountEvent, _meta: &EventMeta<'_>) {
        let (AccountEvent::Opened { account }
        | AccountEvent::Deposited { account, .. }
        | AccountEvent::Withdrawn { account, .. }) = event;
        self.accounts.entry(*account).or_default().apply(event);
    }
}

/// The workload as ro commands (built outside the timed loop, as every peer's is).
pub fn prepare(cmds: &[Cmd]) -> Vec<AccountCommand> {
    cmds.iter()
        .map(|c| AccountCommand {
            account: c.account as AccountNo,
            op: c.op,
        })
        .collect()
}

/// The full kernel: decide → canonical encoding → hash chain → evolve.
pub fn run_hashed(cmds: &[AccountCommand]) -> Kernel<Bank> {
    let ctx = ctx();
    let mut kernel = Kernel::new();
    for cmd in cmds {
        kernel.execute(cmd, &ctx).unwrap();
    }
    kernel
}

/// The same loop without the hash chain: decide → evolve → keep the envelope in memory.
pub fn run_unhashed(cmds: &[AccountCommand]) -> (Bank, Vec<Envelope<AccountEvent>>) {
    let ctx = ctx();
    let mut state = Bank::default();
    let mut log: Vec<Envelope<AccountEvent>> = Vec::with_capacity(cmds.len());
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
                schema_version: AccountEvent::SCHEMA_VERSION,
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
            bank.accounts
                .get(&(i as AccountNo))
                .map_or(0, |a| a.balance)
        })
        .collect()
}

/// One account opened, then `n - 1` deposits and withdrawals.
pub fn bank_events(n: usize) -> Vec<AccountEvent> {
    (0..n)
        .map(|i| match i {
            0 => AccountEvent::Opened { account: 0 },
            i if i % 2 == 1 => AccountEvent::Deposited {
                account: 0,
                amount: 100,
            },
            _ => AccountEvent::Withdrawn {
                account: 0,
                amount: 50,
            },
        })
        .collect()
}

/// Folds decoded events into `state` as replay does (`Kernel::push_checked`): each event handed
/// over with its own metadata (seq, time, actor), through [`Decider::evolve_owned`].
pub fn fold<D: Decider>(mut state: D, events: Vec<D::Event>) -> D {
    let ctx = ctx();
    for (seq, event) in (1u64..).zip(events) {
        let meta = EventMeta {
            seq,
            at: ctx.at,
            actor: &ctx.actor,
            correlation_id: None,
            causation: None,
        };
        state.evolve_owned(event, &meta);
    }
    state
}

/// Folds bank events into one account; returns its balance.
pub fn fold_bank(events: Vec<AccountEvent>) -> u64 {
    fold(Account::default(), events).balance
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

    fn evolve(&mut self, event: &LedgerEvent, meta: &EventMeta<'_>) {
        self.evolve_owned(event.clone(), meta);
    }

    /// The posting's memo is moved into the ledger, not cloned.
    fn evolve_owned(&mut self, event: LedgerEvent, _meta: &EventMeta<'_>) {
        let LedgerEvent::Posted {
            amount_micros,
            memo,
        } = event;
        self.postings.push((amount_micros, memo));
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
pub fn fold_ledger(events: Vec<LedgerEvent>) -> (usize, u64) {
    let ledger = fold(Ledger::default(), events);
    (
        ledger.postings.len(),
        ledger.postings.iter().map(|p| p.0).sum(),
    )
}
