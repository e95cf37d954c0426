//! The bank-account workload of `benches/peers` through cqrs-es 0.5 on its SQLite store
//! (sqlite-es 0.5, sqlx 0.8) and on its PostgreSQL store (postgres-es 0.5):
//! `CqrsFramework::execute` per command, each loading the aggregate's events, deciding, and
//! committing its events in a transaction.
//! The database uses WAL and `synchronous=FULL`, as ro's store does (sqlite-es's own
//! `default_sqlite_pool` uses `NORMAL`, which does not sync each commit).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // benchmark harness

use std::path::Path;
use std::str::FromStr;

use cqrs_es::{Aggregate, DomainEvent, event_sink::EventSink};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// The operation of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Open,
    Deposit(u64),
    Withdraw(u64),
}

/// One command of the workload: account index and operation.
#[derive(Debug, Clone, Copy)]
pub struct Cmd {
    pub account: usize,
    pub op: Op,
}

/// The account's name.
pub fn account_name(i: usize) -> String {
    format!("acc-{i}")
}

/// `aggregates` accounts, each opened and then given `per - 1` deposits and withdrawals,
/// interleaved round-robin (the same workload as `benches/peers`).
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
    Opened { account: String },
    /// Deposited.
    Deposited { account: String, amount: u64 },
    /// Withdrawn.
    Withdrawn { account: String, amount: u64 },
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
    account: String,
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


/// A single-threaded runtime.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS events (
  aggregate_type text NOT NULL, aggregate_id text NOT NULL,
  sequence integer CHECK (sequence >= 0) NOT NULL, event_type text NOT NULL,
  event_version text NOT NULL, payload text NOT NULL, metadata text NOT NULL,
  PRIMARY KEY (aggregate_type, aggregate_id, sequence)) STRICT;
CREATE TABLE IF NOT EXISTS snapshots (
  aggregate_type text NOT NULL, aggregate_id text NOT NULL,
  last_sequence integer CHECK (last_sequence >= 0) NOT NULL,
  current_snapshot integer CHECK (current_snapshot >= 0) NOT NULL, payload text NOT NULL,
  PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)) STRICT;";

/// Runs `cmds` against a fresh database at `path`, one durable transaction per command, and
/// returns the number of events stored.
pub fn run(rt: &tokio::runtime::Runtime, path: &Path, cmds: &[Cmd]) -> i64 {
    rt.block_on(async {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .unwrap()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        sqlx::raw_sql(SCHEMA).execute(&pool).await.unwrap();
        let cqrs = sqlite_es::sqlite_cqrs::<Account>(pool.clone(), vec![], ());
        for cmd in cmds {
            let name = account_name(cmd.account);
            cqrs.execute(&name, AccountCommand { account: name.clone(), op: cmd.op })
                .await
                .unwrap();
        }
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    })
}

const PG_SCHEMA: &str = "DROP TABLE IF EXISTS events, snapshots;
CREATE TABLE events (
  aggregate_type text NOT NULL, aggregate_id text NOT NULL,
  sequence bigint CHECK (sequence >= 0) NOT NULL, event_type text NOT NULL,
  event_version text NOT NULL, payload json NOT NULL, metadata json NOT NULL,
  PRIMARY KEY (aggregate_type, aggregate_id, sequence));
CREATE TABLE snapshots (
  aggregate_type text NOT NULL, aggregate_id text NOT NULL,
  last_sequence bigint CHECK (last_sequence >= 0) NOT NULL,
  current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL, payload json NOT NULL,
  PRIMARY KEY (aggregate_type, aggregate_id, last_sequence));";

/// Runs `cmds` against fresh tables in the PostgreSQL database at `url` (postgres-es's own
/// schema, `db/init.sql`), one transaction per command, and returns the number of events
/// stored.
pub fn run_postgres(rt: &tokio::runtime::Runtime, url: &str, cmds: &[Cmd]) -> i64 {
    rt.block_on(async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .unwrap();
        sqlx::raw_sql(PG_SCHEMA).execute(&pool).await.unwrap();
        let cqrs = postgres_es::postgres_cqrs::<Account>(pool.clone(), vec![], ());
        for cmd in cmds {
            let name = account_name(cmd.account);
            cqrs.execute(&name, AccountCommand { account: name.clone(), op: cmd.op })
                .await
                .unwrap();
        }
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await
            .unwrap();
        pool.close().await;
        n
    })
}
