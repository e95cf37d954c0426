//! The workload through esrs 0.18: `AggregateManager` over an in-memory `EventStore`.
//!
//! esrs ships only a PostgreSQL store; `MemStore` here keeps each aggregate's `StoreEvent`s in
//! a map, and the loop does what esrs's manager does: load (replay), handle, persist, apply.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use esrs::manager::AggregateManager;
use esrs::store::{EventStore, EventStoreLockGuard, StoreEvent, UnlockOnDrop};
use esrs::{Aggregate, AggregateState};
use uuid::Uuid;

use crate::{AccountNo, Cmd, Op, runtime};

/// The account aggregate.
pub struct Account;

/// Its state.
#[derive(Debug, Default, Clone)]
pub struct State {
    opened: bool,
    balance: u64,
}

/// Events.
#[derive(Debug, Clone)]
pub enum AccountEvent {
    /// Opened.
    Opened { account: AccountNo },
    /// Deposited.
    Deposited { account: AccountNo, amount: u64 },
    /// Withdrawn.
    Withdrawn { account: AccountNo, amount: u64 },
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
pub struct Command {
    id: Uuid,
    account: AccountNo,
    op: Op,
}

impl Aggregate for Account {
    const NAME: &'static str = "account";
    type State = State;
    type Command = Command;
    type Event = AccountEvent;
    type Error = AccountError;

    fn handle_command(state: &State, command: Command) -> Result<Vec<AccountEvent>, AccountError> {
        let event = match command.op {
            Op::Open if state.opened => return Err(AccountError::Exists),
            Op::Open => AccountEvent::Opened {
                account: command.account,
            },
            _ if !state.opened => return Err(AccountError::Unknown),
            Op::Deposit(amount) => AccountEvent::Deposited {
                account: command.account,
                amount,
            },
            Op::Withdraw(amount) if amount > state.balance => {
                return Err(AccountError::Insufficient);
            }
            Op::Withdraw(amount) => AccountEvent::Withdrawn {
                account: command.account,
                amount,
            },
        };
        Ok(vec![event])
    }

    fn apply_event(mut state: State, payload: AccountEvent) -> State {
        match payload {
            AccountEvent::Opened { .. } => state.opened = true,
            AccountEvent::Deposited { amount, .. } => state.balance += amount,
            AccountEvent::Withdrawn { amount, .. } => state.balance -= amount,
        }
        state
    }
}

struct NoLock;
impl UnlockOnDrop for NoLock {}

/// Store errors (none occur).
#[derive(Debug, thiserror::Error)]
#[error("store")]
pub struct StoreError;

/// An in-memory esrs event store: rows per aggregate, turned into `StoreEvent`s on load as
/// esrs's PostgreSQL store does.
#[derive(Default, Clone)]
pub struct MemStore {
    events: Arc<Mutex<Rows>>,
}

/// Each aggregate's rows.
type Rows = HashMap<Uuid, Vec<(AccountEvent, u64)>>;

fn store_event(
    aggregate_id: Uuid,
    payload: AccountEvent,
    sequence_number: u64,
) -> StoreEvent<AccountEvent> {
    StoreEvent {
        id: Uuid::nil(),
        aggregate_id,
        payload,
        occurred_on: DateTime::<Utc>::UNIX_EPOCH,
        sequence_number: sequence_number as _,
        version: None,
    }
}

#[async_trait]
impl EventStore for MemStore {
    type Aggregate = Account;
    type Error = StoreError;

    async fn lock(&self, _: Uuid) -> Result<EventStoreLockGuard, StoreError> {
        Ok(EventStoreLockGuard::new(NoLock))
    }

    async fn by_aggregate_id(&self, id: Uuid) -> Result<Vec<StoreEvent<AccountEvent>>, StoreError> {
        let map = self.events.lock().unwrap();
        Ok(map
            .get(&id)
            .into_iter()
            .flatten()
            .map(|(e, seq)| store_event(id, e.clone(), *seq))
            .collect())
    }

    async fn persist(
        &self,
        state: &mut AggregateState<State>,
        events: Vec<AccountEvent>,
    ) -> Result<Vec<StoreEvent<AccountEvent>>, StoreError> {
        let id = *state.id();
        let mut map = self.events.lock().unwrap();
        let rows = map.entry(id).or_default();
        let mut stored = Vec::with_capacity(events.len());
        for payload in events {
            let seq = state.next_sequence_number() as u64;
            rows.push((payload.clone(), seq));
            stored.push(store_event(id, payload, seq));
        }
        Ok(stored)
    }

    async fn publish(&self, _: &[StoreEvent<AccountEvent>]) {}

    async fn delete(&self, id: Uuid) -> Result<(), StoreError> {
        self.events.lock().unwrap().remove(&id);
        Ok(())
    }
}

/// The workload as esrs commands.
pub fn prepare(cmds: &[Cmd]) -> Vec<Command> {
    cmds.iter()
        .map(|c| Command {
            id: Uuid::from_u128(c.account as u128 + 1),
            account: c.account as AccountNo,
            op: c.op,
        })
        .collect()
}

/// A manager over a fresh store, with its runtime.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    manager: AggregateManager<MemStore>,
    store: MemStore,
}

impl Default for Harness {
    fn default() -> Self {
        let store = MemStore::default();
        Harness {
            rt: runtime(),
            manager: AggregateManager::new(store.clone()),
            store,
        }
    }
}

impl Harness {
    /// Cuts account `i`'s stream back to its first `len` events (between timed commands).
    pub fn truncate(&self, i: usize, len: usize) {
        let id = Uuid::from_u128(i as u128 + 1);
        if let Some(rows) = self.store.events.lock().unwrap().get_mut(&id) {
            rows.truncate(len);
        }
    }

    /// Executes prepared commands in order: load (replay), handle, persist, apply.
    pub fn exec_all(&self, cmds: &[Command]) {
        self.rt.block_on(async {
            for cmd in cmds {
                let state = self
                    .manager
                    .load(cmd.id)
                    .await
                    .unwrap()
                    .unwrap_or_else(|| AggregateState::with_id(cmd.id));
                self.manager
                    .handle_command(state, cmd.clone())
                    .await
                    .unwrap()
                    .unwrap();
            }
        });
    }
}

/// Runs prepared commands through a fresh manager and store.
pub fn run_prepared(cmds: &[Command]) -> AggregateManager<MemStore> {
    let harness = Harness::default();
    harness.exec_all(cmds);
    harness.manager
}

/// Runs the commands; returns the balances of accounts `0..n`.
pub fn run(cmds: &[Cmd], n: usize) -> Vec<u64> {
    let manager = run_prepared(&prepare(cmds));
    let rt = runtime();
    (0..n)
        .map(|i| {
            rt.block_on(manager.load(Uuid::from_u128(i as u128 + 1)))
                .unwrap()
                .map_or(0, |s| s.inner().balance)
        })
        .collect()
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

/// Folds as esrs loads an aggregate: `apply_event` takes the state and each loaded event's
/// payload by value.
pub fn fold_bank(events: Vec<AccountEvent>) -> u64 {
    events
        .into_iter()
        .fold(State::default(), Account::apply_event)
        .balance
}

/// The growing ledger.
pub struct Ledger;

/// Ledger events.
#[derive(Debug, Clone)]
pub enum LedgerEvent {
    /// A posting.
    Posted { amount: u64, memo: String },
}

impl Aggregate for Ledger {
    const NAME: &'static str = "ledger";
    type State = Vec<(u64, String)>;
    type Command = u64;
    type Event = LedgerEvent;
    type Error = AccountError;

    fn handle_command(state: &Self::State, amount: u64) -> Result<Vec<LedgerEvent>, AccountError> {
        Ok(vec![LedgerEvent::Posted {
            amount,
            memo: format!("posting {}", state.len()),
        }])
    }

    fn apply_event(mut state: Self::State, payload: LedgerEvent) -> Self::State {
        let LedgerEvent::Posted { amount, memo } = payload;
        state.push((amount, memo));
        state
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
    let state = events.into_iter().fold(Vec::new(), Ledger::apply_event);
    (state.len(), state.iter().map(|p| p.0).sum())
}
