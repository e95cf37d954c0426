//! The workload through fmodel-rust 0.9: `EventSourcedAggregate` over an in-memory
//! `EventRepository`. fmodel's evolve builds each new state from a reference to the previous
//! one (`Fn(&S, &E) -> S`), so a state that holds a collection is cloned per event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fmodel_rust::aggregate::{
    EventRepository, EventSourcedAggregate, StateRepository, StateStoredAggregate,
};
use fmodel_rust::decider::Decider;

use crate::{AccountNo, Cmd, Op, runtime};

/// Commands.
#[derive(Debug, Clone)]
pub struct Command {
    account: AccountNo,
    op: Op,
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

impl AccountEvent {
    fn account(&self) -> AccountNo {
        match self {
            AccountEvent::Opened { account }
            | AccountEvent::Deposited { account, .. }
            | AccountEvent::Withdrawn { account, .. } => *account,
        }
    }
}

/// State.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// The account (what a state-stored aggregate saves the state under).
    account: AccountNo,
    opened: bool,
    balance: u64,
}

/// Refusals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountError {
    /// Already open.
    Exists,
    /// Not open.
    Unknown,
    /// Overdraft.
    Insufficient,
}

/// The account decider.
pub fn decider<'a>() -> Decider<'a, Command, State, AccountEvent, AccountError> {
    Decider {
        decide: Box::new(|command: &Command, state: &State| {
            let account = command.account;
            let event = match command.op {
                Op::Open if state.opened => return Err(AccountError::Exists),
                Op::Open => AccountEvent::Opened { account },
                _ if !state.opened => return Err(AccountError::Unknown),
                Op::Deposit(amount) => AccountEvent::Deposited { account, amount },
                Op::Withdraw(amount) if amount > state.balance => {
                    return Err(AccountError::Insufficient);
                }
                Op::Withdraw(amount) => AccountEvent::Withdrawn { account, amount },
            };
            Ok(vec![event])
        }),
        evolve: Box::new(|state: &State, event: &AccountEvent| {
            let mut next = state.clone();
            next.account = event.account();
            match event {
                AccountEvent::Opened { .. } => next.opened = true,
                AccountEvent::Deposited { amount, .. } => next.balance += amount,
                AccountEvent::Withdrawn { amount, .. } => next.balance -= amount,
            }
            next
        }),
        initial_state: Box::new(State::default),
    }
}

/// Each account's events with their versions.
type Streams = HashMap<AccountNo, Vec<(AccountEvent, u64)>>;

/// An in-memory event repository: events per account, with versions. Clones share the map.
#[derive(Default, Clone)]
pub struct Repository {
    events: Arc<Mutex<Streams>>,
}

impl EventRepository<Command, AccountEvent, u64, AccountError> for Repository {
    async fn fetch_events(
        &self,
        command: &Command,
    ) -> Result<Vec<(AccountEvent, u64)>, AccountError> {
        Ok(self
            .events
            .lock()
            .unwrap()
            .get(&command.account)
            .cloned()
            .unwrap_or_default())
    }

    async fn save(
        &self,
        events: &[AccountEvent],
    ) -> Result<Vec<(AccountEvent, u64)>, AccountError> {
        let mut map = self.events.lock().unwrap();
        let mut saved = Vec::with_capacity(events.len());
        for event in events {
            let stream = map.entry(event.account()).or_default();
            let version = stream.len() as u64 + 1;
            stream.push((event.clone(), version));
            saved.push((event.clone(), version));
        }
        Ok(saved)
    }

    async fn version_provider(&self, event: &AccountEvent) -> Result<Option<u64>, AccountError> {
        Ok(self
            .events
            .lock()
            .unwrap()
            .get(&event.account())
            .map(|s| s.len() as u64))
    }
}

/// The workload as fmodel commands.
pub fn prepare(cmds: &[Cmd]) -> Vec<Command> {
    cmds.iter()
        .map(|c| Command {
            account: c.account as AccountNo,
            op: c.op,
        })
        .collect()
}

type Aggregate<'a> = EventSourcedAggregate<
    Command,
    State,
    AccountEvent,
    Repository,
    Decider<'a, Command, State, AccountEvent, AccountError>,
    u64,
    AccountError,
>;

/// An aggregate over a fresh repository, with its runtime.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    aggregate: Aggregate<'static>,
    repository: Repository,
}

impl Default for Harness {
    fn default() -> Self {
        let repository = Repository::default();
        Harness {
            rt: runtime(),
            aggregate: EventSourcedAggregate::new(repository.clone(), decider()),
            repository,
        }
    }
}

impl Harness {
    /// Cuts `account`'s stream back to its first `len` events (between timed commands).
    pub fn truncate(&self, account: AccountNo, len: usize) {
        if let Some(events) = self.repository.events.lock().unwrap().get_mut(&account) {
            events.truncate(len);
        }
    }

    /// Executes prepared commands in order: fetch events, fold, decide, save.
    pub fn exec_all(&self, cmds: &[Command]) {
        self.rt.block_on(async {
            for cmd in cmds {
                self.aggregate.handle(cmd).await.unwrap();
            }
        });
    }
}

/// Runs prepared commands through a fresh aggregate and repository; returns the repository.
pub fn run_prepared(cmds: &[Command]) -> Repository {
    let harness = Harness::default();
    harness.exec_all(cmds);
    harness.repository
}

/// Runs the commands; returns the balances of accounts `0..n`.
pub fn run(cmds: &[Cmd], n: usize) -> Vec<u64> {
    let repository = run_prepared(&prepare(cmds));
    let map = repository.events.lock().unwrap();
    (0..n)
        .map(|i| {
            let events: Vec<AccountEvent> = map
                .get(&(i as AccountNo))
                .into_iter()
                .flatten()
                .map(|(e, _)| e.clone())
                .collect();
            events
                .iter()
                .fold(State::default(), |s, e| (decider().evolve)(&s, e))
                .balance
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

/// Folds as fmodel does in `compute_new_events`.
pub fn fold_bank(events: &[AccountEvent]) -> u64 {
    let d = decider();
    events
        .iter()
        .fold((d.initial_state)(), |s, e| (d.evolve)(&s, e))
        .balance
}

/// Ledger events.
#[derive(Debug, Clone)]
pub enum LedgerEvent {
    /// A posting.
    Posted { amount: u64, memo: String },
}

/// The growing ledger decider.
pub fn ledger<'a>() -> Decider<'a, u64, Vec<(u64, String)>, LedgerEvent, AccountError> {
    Decider {
        decide: Box::new(|amount: &u64, state: &Vec<(u64, String)>| {
            Ok(vec![LedgerEvent::Posted {
                amount: *amount,
                memo: format!("posting {}", state.len()),
            }])
        }),
        evolve: Box::new(|state: &Vec<(u64, String)>, event: &LedgerEvent| {
            let LedgerEvent::Posted { amount, memo } = event;
            let mut next = state.clone();
            next.push((*amount, memo.clone()));
            next
        }),
        initial_state: Box::new(Vec::new),
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
pub fn fold_ledger(events: &[LedgerEvent]) -> (usize, u64) {
    let d = ledger();
    let state = events
        .iter()
        .fold((d.initial_state)(), |s, e| (d.evolve)(&s, e));
    (state.len(), state.iter().map(|p| p.0).sum())
}

/// Each account's current state and version: what fmodel's state-stored aggregate keeps
/// instead of the events (its snapshotting: the state is the stored truth).
#[derive(Default, Clone)]
pub struct StateStore {
    states: Arc<Mutex<HashMap<AccountNo, (State, u64)>>>,
}

impl StateRepository<Command, State, u64, AccountError> for StateStore {
    async fn fetch_state(&self, command: &Command) -> Result<Option<(State, u64)>, AccountError> {
        Ok(self.states.lock().unwrap().get(&command.account).cloned())
    }

    async fn save(
        &self,
        state: &State,
        version: &Option<u64>,
    ) -> Result<(State, u64), AccountError> {
        let version = version.map_or(1, |v| v + 1);
        self.states
            .lock()
            .unwrap()
            .insert(state.account, (state.clone(), version));
        Ok((state.clone(), version))
    }
}

type Stored<'a> = StateStoredAggregate<
    Command,
    State,
    AccountEvent,
    StateStore,
    Decider<'a, Command, State, AccountEvent, AccountError>,
    u64,
    AccountError,
>;

/// fmodel-rust's state-stored aggregate over an in-memory state store, with its runtime.
pub struct StateHarness {
    rt: tokio::runtime::Runtime,
    aggregate: Stored<'static>,
    store: StateStore,
}

impl Default for StateHarness {
    fn default() -> Self {
        let store = StateStore::default();
        StateHarness {
            rt: runtime(),
            aggregate: StateStoredAggregate::new(store.clone(), decider()),
            store,
        }
    }
}

impl StateHarness {
    /// Executes prepared commands in order: fetch the state, decide, evolve, save the state.
    pub fn exec_all(&self, cmds: &[Command]) {
        self.rt.block_on(async {
            for cmd in cmds {
                self.aggregate.handle(cmd).await.unwrap();
            }
        });
    }

    /// Account `account`'s balance.
    pub fn balance(&self, account: AccountNo) -> u64 {
        self.store
            .states
            .lock()
            .unwrap()
            .get(&account)
            .map_or(0, |(s, _)| s.balance)
    }
}
