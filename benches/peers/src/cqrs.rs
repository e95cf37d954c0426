//! The workload through cqrs-es 0.5: `CqrsFramework` over an in-memory store.
//!
//! cqrs-es's own `MemStore` prints a line on every load and commit; `QuietMemStore` is the
//! same store (a map of aggregate id → envelopes, cloned on load and replayed) without the
//! printing, so the figures measure the framework rather than the terminal.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use cqrs_es::{
    Aggregate, AggregateContext, AggregateError, CqrsFramework, DomainEvent, EventEnvelope,
    EventStore, event_sink::EventSink,
};
use serde::{Deserialize, Serialize};

use crate::{AccountNo, Cmd, Op, account_name, runtime};

/// The account aggregate.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Account {
    opened: bool,
    balance: u64,
}

/// Account events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccountEvent {
    /// Opened.
    Opened { account: AccountNo },
    /// Deposited.
    Deposited { account: AccountNo, amount: u64 },
    /// Withdrawn.
    Withdrawn { account: AccountNo, amount: u64 },
}

impl DomainEvent for AccountEvent {
    fn event_type(&self) -> String {
        match self {
            AccountEvent::Opened { .. } => "Opened".into(),
            AccountEvent::Deposited { .. } => "Deposited".into(),
            AccountEvent::Withdrawn { .. } => "Withdrawn".into(),
        }
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

/// Refusals.
#[derive(Debug, thiserror::Error)]
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

/// Commands.
#[derive(Debug, Clone)]
pub struct AccountCommand {
    account: AccountNo,
    op: Op,
}

impl Aggregate for Account {
    const TYPE: &'static str = "account";
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = AccountError;
    type Services = ();

    async fn handle(
        &mut self,
        command: AccountCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), AccountError> {
        let event = match command.op {
            Op::Open if self.opened => return Err(AccountError::Exists),
            Op::Open => AccountEvent::Opened {
                account: command.account,
            },
            _ if !self.opened => return Err(AccountError::Unknown),
            Op::Deposit(amount) => AccountEvent::Deposited {
                account: command.account,
                amount,
            },
            Op::Withdraw(amount) if amount > self.balance => {
                return Err(AccountError::Insufficient);
            }
            Op::Withdraw(amount) => AccountEvent::Withdrawn {
                account: command.account,
                amount,
            },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: AccountEvent) {
        match event {
            AccountEvent::Opened { .. } => self.opened = true,
            AccountEvent::Deposited { amount, .. } => self.balance += amount,
            AccountEvent::Withdrawn { amount, .. } => self.balance -= amount,
        }
    }
}

/// cqrs-es's `MemStore`, without the printing.
#[derive(Default, Clone)]
pub struct QuietMemStore {
    events: Arc<RwLock<HashMap<String, Vec<EventEnvelope<Account>>>>>,
}

/// The loaded aggregate.
pub struct Ctx {
    id: String,
    aggregate: Account,
    sequence: usize,
}

impl AggregateContext<Account> for Ctx {
    fn aggregate(&mut self) -> &mut Account {
        &mut self.aggregate
    }
}

impl EventStore<Account> for QuietMemStore {
    type AC = Ctx;

    async fn load_events(
        &self,
        id: &str,
    ) -> Result<Vec<EventEnvelope<Account>>, AggregateError<AccountError>> {
        Ok(self
            .events
            .read()
            .unwrap()
            .get(id)
            .into_iter()
            .flatten()
            .cloned()
            .collect())
    }

    async fn load_aggregate(&self, id: &str) -> Result<Ctx, AggregateError<AccountError>> {
        let mut aggregate = Account::default();
        let mut sequence = 0;
        for envelope in self.load_events(id).await? {
            sequence = envelope.sequence;
            aggregate.apply(envelope.payload);
        }
        Ok(Ctx {
            id: id.to_string(),
            aggregate,
            sequence,
        })
    }

    async fn commit(
        &self,
        events: Vec<AccountEvent>,
        ctx: Ctx,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<Account>>, AggregateError<AccountError>> {
        let mut sequence = ctx.sequence;
        let wrapped: Vec<EventEnvelope<Account>> = events
            .into_iter()
            .map(|payload| {
                sequence += 1;
                EventEnvelope {
                    aggregate_id: ctx.id.clone(),
                    sequence,
                    payload,
                    metadata: metadata.clone(),
                }
            })
            .collect();
        let mut map = self.events.write().unwrap();
        let stored = map.entry(ctx.id.clone()).or_default();
        if stored.len() != ctx.sequence {
            return Err(AggregateError::AggregateConflict);
        }
        stored.extend(wrapped.iter().cloned());
        Ok(wrapped)
    }
}

/// Runs the commands; returns the balances of accounts `0..n`.
pub fn run(cmds: &[Cmd], n: usize) -> Vec<u64> {
    let store = run_store(cmds);
    let rt = runtime();
    (0..n)
        .map(|i| {
            rt.block_on(store.load_aggregate(&account_name(i)))
                .unwrap()
                .aggregate
                .balance
        })
        .collect()
}

/// The workload as cqrs-es commands.
pub fn prepare(cmds: &[Cmd]) -> Vec<(String, AccountCommand)> {
    cmds.iter()
        .map(|c| {
            (
                account_name(c.account),
                AccountCommand {
                    account: c.account as AccountNo,
                    op: c.op,
                },
            )
        })
        .collect()
}

/// A framework over a fresh store, with its runtime.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    cqrs: CqrsFramework<Account, QuietMemStore>,
    store: QuietMemStore,
}

impl Default for Harness {
    fn default() -> Self {
        let store = QuietMemStore::default();
        Harness {
            rt: runtime(),
            cqrs: CqrsFramework::new(store.clone(), vec![], ()),
            store,
        }
    }
}

impl Harness {
    /// Cuts `id`'s stream back to its first `len` events (between timed commands).
    pub fn truncate(&self, id: &str, len: usize) {
        if let Some(events) = self.store.events.write().unwrap().get_mut(id) {
            events.truncate(len);
        }
    }

    /// Executes prepared commands in order.
    pub fn exec_all(&self, cmds: &[(String, AccountCommand)]) {
        self.rt.block_on(async {
            for (id, cmd) in cmds {
                self.cqrs.execute(id, cmd.clone()).await.unwrap();
            }
        });
    }
}

/// Runs prepared commands through a fresh framework and store.
pub fn run_prepared(cmds: &[(String, AccountCommand)]) -> QuietMemStore {
    let harness = Harness::default();
    harness.exec_all(cmds);
    harness.store
}

fn run_store(cmds: &[Cmd]) -> QuietMemStore {
    run_prepared(&prepare(cmds))
}

/// One account opened, then `n - 1` deposits and withdrawals.
pub fn bank_events(n: usize) -> Vec<AccountEvent> {
    let account: AccountNo = 0;
    (0..n)
        .map(|i| match i {
            0 => AccountEvent::Opened { account },
            i if i % 2 == 1 => AccountEvent::Deposited {
                account,
                amount: 100,
            },
            _ => AccountEvent::Withdrawn {
                account,
                amount: 50,
            },
        })
        .collect()
}

/// Folds as cqrs-es does on load: `apply` takes each event by value.
/// Folds as cqrs-es loads an aggregate: each event's payload moved into `apply`.
pub fn fold_bank(events: Vec<AccountEvent>) -> u64 {
    let mut account = Account::default();
    for e in events {
        account.apply(e);
    }
    account.balance
}

/// The growing ledger.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ledger {
    postings: Vec<(u64, String)>,
}

/// Ledger events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LedgerEvent {
    /// A posting.
    Posted { amount: u64, memo: String },
}

impl DomainEvent for LedgerEvent {
    fn event_type(&self) -> String {
        "Posted".into()
    }
    fn event_version(&self) -> String {
        "1".into()
    }
}

impl Aggregate for Ledger {
    const TYPE: &'static str = "ledger";
    type Command = u64;
    type Event = LedgerEvent;
    type Error = AccountError;
    type Services = ();

    async fn handle(
        &mut self,
        amount: u64,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), AccountError> {
        let memo = format!("posting {}", self.postings.len());
        sink.write(LedgerEvent::Posted { amount, memo }, self).await;
        Ok(())
    }

    fn apply(&mut self, event: LedgerEvent) {
        let LedgerEvent::Posted { amount, memo } = event;
        self.postings.push((amount, memo));
    }
}

/// `n` postings.
pub fn ledger_events(n: usize) -> Vec<LedgerEvent> {
    (0..n)
        .map(|i| LedgerEvent::Posted {
            amount: i as u64,
            memo: format!("posting {i}"),
        })
        .collect()
}

/// Folds the ledger.
pub fn fold_ledger(events: Vec<LedgerEvent>) -> (usize, u64) {
    let mut ledger = Ledger::default();
    for e in events {
        ledger.apply(e);
    }
    (
        ledger.postings.len(),
        ledger.postings.iter().map(|p| p.0).sum(),
    )
}
