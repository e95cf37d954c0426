//! The bank account: the small domain the Rust event-sourcing crates benchmark on (open,
//! deposit, withdraw, no overdraft). ro uses it in its docs, tests and benchmarks.
//!
//! Its event schema is at version 2: version 1 recorded whole currency units in `amount`;
//! version 2 records micro-units in `amount_micros`. The upcaster shows how old journals keep
//! decoding while their bytes, and so their hashes, never change.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    Context, Decider, Event, EventMeta, InvariantViolation, Rejection, Timestamp, Upcaster,
    canonical::MAX_SAFE_INTEGER,
};

crate::id_kind!(
    /// Identifies a bank account.
    AccountId,
    AccountTag,
    "account id"
);

/// What may be asked of the bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum BankCommand {
    /// Opens an account with a zero balance.
    OpenAccount {
        /// The new account.
        account: AccountId,
    },
    /// Adds money.
    Deposit {
        /// The account.
        account: AccountId,
        /// How much, in micro-units (more than zero).
        amount_micros: u64,
    },
    /// Takes money out; refused if the balance would go below zero.
    Withdraw {
        /// The account.
        account: AccountId,
        /// How much, in micro-units (more than zero).
        amount_micros: u64,
    },
}

/// What happened at the bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum BankEvent {
    /// An account was opened.
    AccountOpened {
        /// The account.
        account: AccountId,
    },
    /// Money was deposited.
    MoneyDeposited {
        /// The account.
        account: AccountId,
        /// How much, in micro-units.
        amount_micros: u64,
    },
    /// Money was withdrawn.
    MoneyWithdrawn {
        /// The account.
        account: AccountId,
        /// How much, in micro-units.
        amount_micros: u64,
    },
}

fn lift_v1(mut value: Value) -> Result<Value, String> {
    let Value::Object(map) = &mut value else {
        return Err("a version 1 bank event is an object".into());
    };
    if let Some(amount) = map.remove("amount") {
        let units = amount
            .as_u64()
            .ok_or("version 1 amount is not a whole number")?;
        let micros = units
            .checked_mul(1_000_000)
            .filter(|m| *m <= MAX_SAFE_INTEGER)
            .ok_or("version 1 amount is too large")?;
        map.insert("amount_micros".into(), Value::from(micros));
    }
    Ok(value)
}

impl Event for BankEvent {
    const SCHEMA_VERSION: u32 = 2;

    fn upcasters() -> &'static [Upcaster] {
        const UPCASTERS: &[Upcaster] = &[Upcaster {
            from: 1,
            lift: lift_v1,
        }];
        UPCASTERS
    }
}

/// Why the bank refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BankRejection {
    /// The account is already open.
    #[error("account {0} is already open")]
    AccountExists(AccountId),
    /// No such account.
    #[error("account {0} does not exist")]
    UnknownAccount(AccountId),
    /// The amount is zero.
    #[error("amount must be more than zero")]
    ZeroAmount,
    /// The balance would go below zero.
    #[error("insufficient funds: balance {balance_micros}, asked {amount_micros}")]
    InsufficientFunds {
        /// The balance.
        balance_micros: u64,
        /// The amount asked.
        amount_micros: u64,
    },
    /// The balance would exceed 2^53-1 micro-units.
    #[error("balance would exceed the largest amount held")]
    BalanceTooLarge,
}

impl Rejection for BankRejection {
    fn code(&self) -> &'static str {
        match self {
            BankRejection::AccountExists(_) => "ACCOUNT_EXISTS",
            BankRejection::UnknownAccount(_) => "UNKNOWN_ACCOUNT",
            BankRejection::ZeroAmount => "ZERO_AMOUNT",
            BankRejection::InsufficientFunds { .. } => "INSUFFICIENT_FUNDS",
            BankRejection::BalanceTooLarge => "BALANCE_TOO_LARGE",
        }
    }
}

/// One account.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Account {
    /// The balance in micro-units.
    pub balance_micros: u64,
    /// When it was opened.
    pub opened_at: Timestamp,
    /// How many deposits and withdrawals it has seen.
    pub operations: u64,
}

/// The bank's state: every account, by id.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Bank {
    accounts: BTreeMap<AccountId, Account>,
}

impl Bank {
    /// The account, if open.
    pub fn account(&self, id: &AccountId) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// How many accounts are open.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether no account is open.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    fn open(&self, id: &AccountId) -> Result<&Account, BankRejection> {
        self.accounts
            .get(id)
            .ok_or_else(|| BankRejection::UnknownAccount(id.clone()))
    }
}

impl Decider for Bank {
    type Command = BankCommand;
    type Event = BankEvent;
    type Rejection = BankRejection;

    fn decide(
        &self,
        command: &BankCommand,
        _ctx: &Context,
    ) -> Result<Vec<BankEvent>, BankRejection> {
        match command {
            BankCommand::OpenAccount { account } => {
                if self.accounts.contains_key(account) {
                    return Err(BankRejection::AccountExists(account.clone()));
                }
                Ok(vec![BankEvent::AccountOpened {
                    account: account.clone(),
                }])
            }
            BankCommand::Deposit {
                account,
                amount_micros,
            } => {
                let current = self.open(account)?;
                if *amount_micros == 0 {
                    return Err(BankRejection::ZeroAmount);
                }
                let total = current.balance_micros.checked_add(*amount_micros);
                if total.is_none_or(|t| t > MAX_SAFE_INTEGER) {
                    return Err(BankRejection::BalanceTooLarge);
                }
                Ok(vec![BankEvent::MoneyDeposited {
                    account: account.clone(),
                    amount_micros: *amount_micros,
                }])
            }
            BankCommand::Withdraw {
                account,
                amount_micros,
            } => {
                let current = self.open(account)?;
                if *amount_micros == 0 {
                    return Err(BankRejection::ZeroAmount);
                }
                if current.balance_micros < *amount_micros {
                    return Err(BankRejection::InsufficientFunds {
                        balance_micros: current.balance_micros,
                        amount_micros: *amount_micros,
                    });
                }
                Ok(vec![BankEvent::MoneyWithdrawn {
                    account: account.clone(),
                    amount_micros: *amount_micros,
                }])
            }
        }
    }

    fn evolve(&mut self, event: &BankEvent, meta: &EventMeta<'_>) {
        match event {
            BankEvent::AccountOpened { account } => {
                self.accounts.entry(account.clone()).or_insert(Account {
                    balance_micros: 0,
                    opened_at: meta.at,
                    operations: 0,
                });
            }
            BankEvent::MoneyDeposited {
                account,
                amount_micros,
            } => {
                if let Some(a) = self.accounts.get_mut(account) {
                    a.balance_micros = a.balance_micros.saturating_add(*amount_micros);
                    a.operations += 1;
                }
            }
            BankEvent::MoneyWithdrawn {
                account,
                amount_micros,
            } => {
                if let Some(a) = self.accounts.get_mut(account) {
                    a.balance_micros = a.balance_micros.saturating_sub(*amount_micros);
                    a.operations += 1;
                }
            }
        }
    }

    fn check_invariants(&self) -> Result<(), InvariantViolation> {
        for (id, account) in &self.accounts {
            if account.balance_micros > MAX_SAFE_INTEGER {
                return Err(InvariantViolation(format!(
                    "account {id} holds more than 2^53-1 micro-units"
                )));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Bank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (id, a) in &self.accounts {
            writeln!(
                f,
                "{id}: {} micro-units after {} operations",
                a.balance_micros, a.operations
            )?;
        }
        Ok(())
    }
}
