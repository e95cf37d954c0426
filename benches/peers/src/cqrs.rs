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

/// An in-memory `PersistedEventRepository`: what cqrs-es's snapshot store runs on (its
/// database repositories keep the same rows: serialized events, and one serialized aggregate
/// per instance with the sequence it reflects).
#[derive(Default, Clone)]
pub struct SnapshotRepo {
    rows: Arc<RwLock<SnapshotRows>>,
}

#[derive(Default)]
struct SnapshotRows {
    events: HashMap<String, Vec<cqrs_es::persist::SerializedEvent>>,
    snapshots: HashMap<String, cqrs_es::persist::SerializedSnapshot>,
}

impl cqrs_es::persist::PersistedEventRepository for SnapshotRepo {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<cqrs_es::persist::SerializedEvent>, cqrs_es::persist::PersistenceError> {
        Ok(self
            .rows
            .read()
            .unwrap()
            .events
            .get(aggregate_id)
            .cloned()
            .unwrap_or_default())
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<cqrs_es::persist::SerializedEvent>, cqrs_es::persist::PersistenceError> {
        let rows = self.rows.read().unwrap();
        let events = rows.events.get(aggregate_id).map_or(&[][..], Vec::as_slice);
        // Sequences run from 1 without gaps: the events after `last_sequence` are a suffix.
        Ok(events
            .get(last_sequence.min(events.len())..)
            .unwrap_or_default()
            .to_vec())
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<cqrs_es::persist::SerializedSnapshot>, cqrs_es::persist::PersistenceError>
    {
        Ok(self
            .rows
            .read()
            .unwrap()
            .snapshots
            .get(aggregate_id)
            .map(|s| cqrs_es::persist::SerializedSnapshot {
                aggregate_id: s.aggregate_id.clone(),
                aggregate: s.aggregate.clone(),
                current_sequence: s.current_sequence,
                current_snapshot: s.current_snapshot,
            }))
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[cqrs_es::persist::SerializedEvent],
        snapshot_update: Option<(String, serde_json::Value, usize)>,
    ) -> Result<(), cqrs_es::persist::PersistenceError> {
        let mut rows = self.rows.write().unwrap();
        let mut last = None;
        for event in events {
            last = Some((event.aggregate_id.clone(), event.sequence));
            rows.events
                .entry(event.aggregate_id.clone())
                .or_default()
                .push(event.clone());
        }
        if let Some((aggregate_id, aggregate, current_snapshot)) = snapshot_update {
            let current_sequence = last.map_or(0, |(_, seq)| seq);
            rows.snapshots.insert(
                aggregate_id.clone(),
                cqrs_es::persist::SerializedSnapshot {
                    aggregate_id,
                    aggregate,
                    current_sequence,
                    current_snapshot,
                },
            );
        }
        Ok(())
    }

    async fn stream_events<A: Aggregate>(
        &self,
        _aggregate_id: &str,
    ) -> Result<cqrs_es::persist::ReplayStream, cqrs_es::persist::PersistenceError> {
        Ok(cqrs_es::persist::ReplayStream::new(1).1)
    }

    async fn stream_all_events<A: Aggregate>(
        &self,
    ) -> Result<cqrs_es::persist::ReplayStream, cqrs_es::persist::PersistenceError> {
        Ok(cqrs_es::persist::ReplayStream::new(1).1)
    }
}

/// How many events cqrs-es's snapshot store applies between snapshots here.
pub const SNAPSHOT_SIZE: usize = 100;

type SnapshotStore = cqrs_es::persist::PersistedEventStore<SnapshotRepo, Account>;

/// cqrs-es's framework over its snapshot store (`PersistedEventStore::new_snapshot_store`),
/// with its runtime.
pub struct SnapshotHarness {
    rt: tokio::runtime::Runtime,
    cqrs: CqrsFramework<Account, SnapshotStore>,
    repo: SnapshotRepo,
}

impl Default for SnapshotHarness {
    fn default() -> Self {
        let repo = SnapshotRepo::default();
        SnapshotHarness {
            rt: runtime(),
            cqrs: CqrsFramework::new(
                cqrs_es::persist::PersistedEventStore::new_snapshot_store(
                    repo.clone(),
                    SNAPSHOT_SIZE,
                ),
                vec![],
                (),
            ),
            repo,
        }
    }
}

impl SnapshotHarness {
    /// Executes prepared commands in order.
    pub fn exec_all(&self, cmds: &[(String, AccountCommand)]) {
        self.rt.block_on(async {
            for (id, cmd) in cmds {
                self.cqrs.execute(id, cmd.clone()).await.unwrap();
            }
        });
    }

    /// Cuts `id`'s stream back to its first `len` events and puts back the snapshot `kept`
    /// holds, as if the commands after them had not run (between timed commands).
    pub fn truncate(&self, id: &str, len: usize, kept: &cqrs_es::persist::SerializedSnapshot) {
        let mut rows = self.repo.rows.write().unwrap();
        if let Some(events) = rows.events.get_mut(id) {
            events.truncate(len);
        }
        rows.snapshots.insert(
            id.to_owned(),
            cqrs_es::persist::SerializedSnapshot {
                aggregate_id: kept.aggregate_id.clone(),
                aggregate: kept.aggregate.clone(),
                current_sequence: kept.current_sequence,
                current_snapshot: kept.current_snapshot,
            },
        );
    }

    /// `id`'s snapshot as it stands.
    pub fn snapshot(&self, id: &str) -> cqrs_es::persist::SerializedSnapshot {
        let rows = self.repo.rows.read().unwrap();
        let s = &rows.snapshots[id];
        cqrs_es::persist::SerializedSnapshot {
            aggregate_id: s.aggregate_id.clone(),
            aggregate: s.aggregate.clone(),
            current_sequence: s.current_sequence,
            current_snapshot: s.current_snapshot,
        }
    }

    /// Account `i`'s balance, loaded through the snapshot store.
    pub fn balance(&self, i: usize) -> u64 {
        use cqrs_es::EventStore;
        let store =
            cqrs_es::persist::PersistedEventStore::<SnapshotRepo, Account>::new_snapshot_store(
                self.repo.clone(),
                SNAPSHOT_SIZE,
            );
        self.rt
            .block_on(store.load_aggregate(&account_name(i)))
            .unwrap()
            .aggregate()
            .balance
    }
}
