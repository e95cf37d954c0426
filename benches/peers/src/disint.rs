//! The workload through disintegrate 4: `DecisionMaker` over `EventSourcedStateStore` and an
//! in-memory `EventStore`.
//!
//! disintegrate ships only a PostgreSQL store, which finds a decision's events through an index
//! on their domain ids. `MemStore` here keeps every event in one ordered log plus an index from
//! domain-id set to positions, so a query reads only the events it asks for, as the database
//! would.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use disintegrate::{
    Decision, DecisionMaker, Event, EventSourcedStateStore, EventStore, Identifier,
    IdentifierValue, IntoStatePart, MultiState, NoSnapshot, PersistedEvent, StateMutate,
    StateQuery, StreamItem, StreamQuery,
};
use futures::stream::{self, BoxStream, StreamExt};
use serde::{Deserialize, Serialize};

use crate::{Cmd, Op, runtime};

/// Events.
#[derive(Debug, Clone, PartialEq, Eq, Event, Serialize, Deserialize)]
#[stream(AccountEvent, [AccountOpened, AmountDeposited, AmountWithdrawn])]
#[stream(LedgerEvent, [Posted])]
pub enum DomainEvent {
    /// Opened.
    AccountOpened {
        /// The account.
        #[id]
        account_id: i64,
    },
    /// Deposited.
    AmountDeposited {
        /// The account.
        #[id]
        account_id: i64,
        /// Amount.
        amount: u64,
    },
    /// Withdrawn.
    AmountWithdrawn {
        /// The account.
        #[id]
        account_id: i64,
        /// Amount.
        amount: u64,
    },
    /// A ledger posting.
    Posted {
        /// The ledger.
        #[id]
        ledger_id: i64,
        /// Amount.
        amount: u64,
        /// Memo.
        memo: String,
    },
}

/// The account state.
#[derive(Debug, Default, StateQuery, Clone, Serialize, Deserialize)]
#[state_query(AccountEvent)]
pub struct Account {
    #[id]
    account_id: i64,
    opened: bool,
    balance: u64,
}

impl StateMutate for Account {
    fn mutate(&mut self, event: AccountEvent) {
        match event {
            AccountEvent::AccountOpened { .. } => self.opened = true,
            AccountEvent::AmountDeposited { amount, .. } => self.balance += amount,
            AccountEvent::AmountWithdrawn { amount, .. } => self.balance -= amount,
        }
    }
}

/// Refusals.
#[derive(Debug, Clone, thiserror::Error)]
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

/// A command as a disintegrate decision.
#[derive(Debug, Clone)]
pub struct AccountDecision {
    account_id: i64,
    op: Op,
}

impl Decision for AccountDecision {
    type Event = DomainEvent;
    type StateQuery = Account;
    type Error = AccountError;

    fn state_query(&self) -> Account {
        Account {
            account_id: self.account_id,
            ..Default::default()
        }
    }

    fn process(&self, state: &Account) -> Result<Vec<DomainEvent>, AccountError> {
        let account_id = self.account_id;
        let event = match self.op {
            Op::Open if state.opened => return Err(AccountError::Exists),
            Op::Open => DomainEvent::AccountOpened { account_id },
            _ if !state.opened => return Err(AccountError::Unknown),
            Op::Deposit(amount) => DomainEvent::AmountDeposited { account_id, amount },
            Op::Withdraw(amount) if amount > state.balance => {
                return Err(AccountError::Insufficient);
            }
            Op::Withdraw(amount) => DomainEvent::AmountWithdrawn { account_id, amount },
        };
        Ok(vec![event])
    }
}

/// Store errors.
#[derive(Debug, thiserror::Error)]
#[error("concurrency conflict")]
pub struct Conflict;

#[derive(Default)]
struct Log {
    events: Vec<PersistedEvent<i64, DomainEvent>>,
    by_ids: BTreeMap<Key, Vec<usize>>,
}

/// The index key: an event's (or a query's) one domain id, by name and value.
type Key = (Identifier, i64);

/// The key of a set of domain ids holding exactly one integer id.
fn key_of_ids(ids: &BTreeMap<Identifier, IdentifierValue>) -> Option<Key> {
    match (ids.len(), ids.iter().next()) {
        (1, Some((name, IdentifierValue::i64(value)))) => Some((*name, *value)),
        _ => None,
    }
}

/// An in-memory disintegrate event store with a domain-id index. Clones share the log.
#[derive(Default, Clone)]
pub struct MemStore {
    log: Arc<Mutex<Log>>,
}

fn key_of_event(event: &DomainEvent) -> Option<Key> {
    key_of_ids(&event.domain_ids())
}

fn key_of_query<QE: Event + Clone>(query: &StreamQuery<i64, QE>) -> Option<Key> {
    match query.filters() {
        [filter] => key_of_ids(filter.identifiers()),
        _ => None,
    }
}

impl MemStore {
    fn matching<QE>(&self, query: &StreamQuery<i64, QE>) -> (Vec<PersistedEvent<i64, QE>>, i64)
    where
        QE: TryFrom<DomainEvent> + Event + Clone,
    {
        let log = self.log.lock().unwrap();
        let candidates: Box<dyn Iterator<Item = &PersistedEvent<i64, DomainEvent>>> =
            match key_of_query(query) {
                Some(key) => Box::new(
                    log.by_ids
                        .get(&key)
                        .into_iter()
                        .flatten()
                        .map(|&i| &log.events[i]),
                ),
                None => Box::new(log.events.iter()),
            };
        let found = candidates
            .filter_map(|e| {
                QE::try_from(e.clone().into_inner())
                    .ok()
                    .map(|qe| PersistedEvent::new(e.id(), qe))
            })
            .filter(|e| query.matches(e))
            .collect();
        (found, log.events.len() as i64)
    }

    fn push(&self, events: Vec<DomainEvent>) -> Vec<PersistedEvent<i64, DomainEvent>> {
        let mut log = self.log.lock().unwrap();
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            let position = log.events.len();
            let persisted = PersistedEvent::new(position as i64 + 1, event);
            if let Some(key) = key_of_event(persisted.deref_event()) {
                log.by_ids.entry(key).or_default().push(position);
            }
            log.events.push(persisted.clone());
            out.push(persisted);
        }
        out
    }
}

trait DerefEvent {
    fn deref_event(&self) -> &DomainEvent;
}

impl DerefEvent for PersistedEvent<i64, DomainEvent> {
    fn deref_event(&self) -> &DomainEvent {
        self
    }
}

#[async_trait]
impl EventStore<i64, DomainEvent> for MemStore {
    type Error = Conflict;

    fn stream<'a, QE>(
        &'a self,
        query: &'a StreamQuery<i64, QE>,
    ) -> BoxStream<'a, Result<StreamItem<i64, QE>, Conflict>>
    where
        QE: TryFrom<DomainEvent> + Event + 'static + Clone + Send + Sync,
        <QE as TryFrom<DomainEvent>>::Error: std::error::Error + 'static + Send + Sync,
    {
        let (found, end) = self.matching(query);
        let items = found
            .into_iter()
            .map(|e| Ok(StreamItem::Event(e)))
            .chain(std::iter::once(Ok(StreamItem::End(end))));
        stream::iter(items).boxed()
    }

    async fn append<QE>(
        &self,
        events: Vec<DomainEvent>,
        query: StreamQuery<i64, QE>,
        last_event_id: i64,
    ) -> Result<Vec<PersistedEvent<i64, DomainEvent>>, Conflict>
    where
        DomainEvent: Clone + 'async_trait,
        QE: Event + 'static + Clone + Send + Sync,
    {
        let key = key_of_query(&query);
        {
            let log = self.log.lock().unwrap();
            let newer = match &key {
                Some(key) => log
                    .by_ids
                    .get(key)
                    .and_then(|v| v.last())
                    .is_some_and(|&i| log.events[i].id() > last_event_id),
                None => false,
            };
            if newer {
                return Err(Conflict);
            }
        }
        Ok(self.push(events))
    }

    async fn append_without_validation(
        &self,
        events: Vec<DomainEvent>,
    ) -> Result<Vec<PersistedEvent<i64, DomainEvent>>, Conflict>
    where
        DomainEvent: Clone + 'async_trait,
    {
        Ok(self.push(events))
    }
}

/// The workload as disintegrate decisions.
pub fn prepare(cmds: &[Cmd]) -> Vec<AccountDecision> {
    cmds.iter()
        .map(|c| AccountDecision {
            account_id: c.account as i64,
            op: c.op,
        })
        .collect()
}

/// A decision maker over a fresh store, with its runtime.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    maker: DecisionMaker<EventSourcedStateStore<i64, DomainEvent, MemStore, NoSnapshot>>,
    store: MemStore,
}

impl Default for Harness {
    fn default() -> Self {
        let store = MemStore::default();
        Harness {
            rt: runtime(),
            maker: DecisionMaker::new(EventSourcedStateStore::new(store.clone(), NoSnapshot)),
            store,
        }
    }
}

impl Harness {
    /// Cuts the log back to its first `len` events (between timed commands; the bench uses
    /// one account, so the whole log is that account's stream).
    pub fn truncate(&self, len: usize) {
        let mut log = self.store.log.lock().unwrap();
        log.events.truncate(len);
        for positions in log.by_ids.values_mut() {
            positions.retain(|&p| p < len);
        }
    }

    /// Makes prepared decisions in order: load state (query + fold), process, append.
    pub fn exec_all(&self, cmds: &[AccountDecision]) {
        self.rt.block_on(async {
            for decision in cmds {
                self.maker.make(decision.clone()).await.unwrap();
            }
        });
    }
}

/// Runs prepared decisions through a fresh store; returns the store.
pub fn run_prepared(cmds: &[AccountDecision]) -> MemStore {
    let harness = Harness::default();
    harness.exec_all(cmds);
    harness.store
}

/// Runs the commands; returns the balances of accounts `0..n`.
pub fn run(cmds: &[Cmd], n: usize) -> Vec<u64> {
    let store = run_prepared(&prepare(cmds));
    let log = store.log.lock().unwrap();
    (0..n)
        .map(|i| {
            let mut account = Account { account_id: i as i64, ..Default::default() };
            for e in &log.events {
                if let Ok(ev) = AccountEvent::try_from(e.clone().into_inner())
                    && matches!(&ev, AccountEvent::AccountOpened { account_id } | AccountEvent::AmountDeposited { account_id, .. } | AccountEvent::AmountWithdrawn { account_id, .. } if *account_id == account.account_id)
                {
                    account.mutate(ev);
                }
            }
            account.balance
        })
        .collect()
}

/// One account opened, then `n - 1` deposits and withdrawals, as the store streams them.
pub fn bank_events(n: usize) -> Vec<PersistedEvent<i64, DomainEvent>> {
    (0..n)
        .map(|i| {
            let event = match i {
                0 => DomainEvent::AccountOpened { account_id: 0 },
                i if i % 2 == 1 => DomainEvent::AmountDeposited {
                    account_id: 0,
                    amount: 100,
                },
                _ => DomainEvent::AmountWithdrawn {
                    account_id: 0,
                    amount: 50,
                },
            };
            PersistedEvent::new(i as i64 + 1, event)
        })
        .collect()
}

/// Folds as disintegrate's state store loads a decision's state: each streamed event handed
/// to the state part (`MultiState::mutate_all`: the query match, the conversion from the
/// domain event, `mutate`).
pub fn fold_bank(events: Vec<PersistedEvent<i64, DomainEvent>>) -> u64 {
    let account = Account {
        account_id: 0,
        ..Default::default()
    };
    let mut part = IntoStatePart::<i64, Account>::into_state_part(account);
    for e in events {
        part.mutate_all(e);
    }
    part.balance
}

/// The growing ledger.
#[derive(Debug, Default, StateQuery, Clone, Serialize, Deserialize)]
#[state_query(LedgerEvent)]
pub struct Ledger {
    #[id]
    ledger_id: i64,
    postings: Vec<(u64, String)>,
}

impl StateMutate for Ledger {
    fn mutate(&mut self, event: LedgerEvent) {
        let LedgerEvent::Posted { amount, memo, .. } = event;
        self.postings.push((amount, memo));
    }
}

/// `n` postings, as the store streams them.
pub fn ledger_events(n: usize) -> Vec<PersistedEvent<i64, DomainEvent>> {
    (0..n)
        .map(|i| {
            let event = DomainEvent::Posted {
                ledger_id: 0,
                amount: i as u64,
                memo: format!("posting {i}"),
            };
            PersistedEvent::new(i as i64 + 1, event)
        })
        .collect()
}

/// Folds the ledger through its state part, as [`fold_bank`] does.
pub fn fold_ledger(events: Vec<PersistedEvent<i64, DomainEvent>>) -> (usize, u64) {
    let mut part = IntoStatePart::<i64, Ledger>::into_state_part(Ledger::default());
    for e in events {
        part.mutate_all(e);
    }
    (part.postings.len(), part.postings.iter().map(|p| p.0).sum())
}
