//! The event kernel of ro, the Run/Operate plane: every state change is an immutable,
//! hash-chained event folded into deterministic state.
//!
//! ```
//! use ro_core::{Context, Kernel, testing::{bank::*, human, t0}};
//!
//! let mut bank: Kernel<Bank> = Kernel::new();
//! let ctx = Context::new(t0(), human("alice"));
//! let acc = AccountId::new("acc-1")?;
//! bank.execute(&BankCommand::OpenAccount { account: acc.clone() }, &ctx)?;
//! bank.execute(&BankCommand::Deposit { account: acc.clone(), amount_micros: 500 }, &ctx)?;
//!
//! // Refusals are values with stable codes, and append nothing.
//! let refused = bank.execute(&BankCommand::Withdraw { account: acc.clone(), amount_micros: 900 }, &ctx);
//! assert_eq!(refused.unwrap_err().code(), "INSUFFICIENT_FUNDS");
//! assert_eq!(bank.head().seq, 2);
//!
//! // The journal is a hash chain; its export verifies anywhere, and replays to the same state.
//! let exported = bank.journal().export_jsonl()?;
//! let imported = ro_core::Journal::import_jsonl(&exported)?;
//! let replayed: Kernel<Bank> = Kernel::replay(imported)?;
//! assert_eq!(replayed.state_digest()?, bank.state_digest()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The core types
//!
//! - [`Timestamp`]: an instant in UTC, RFC 3339 on the wire. Always passed in: nothing here
//!   reads a clock.
//! - [`Actor`]: who acted, with an [`ActorKind`] (human, agent or service).
//! - [`Id`]: validated identifiers, typed by an [`IdKind`] marker ([`id_kind!`]).
//! - [`Digest`]: blake3, `blake3:<hex>` on the wire.
//! - [`Ratio`]: a ratio from 0 to 1 in basis points, read exactly from a decimal.
//! - [`canonical`]: the canonical JSON (RFC 8785, integers only) every hash is taken over.
//! - [`Event`] and [`Envelope`]: a domain event and its record (seq, prev, hash, at, actor,
//!   correlation, causation, schema version), with [`Upcaster`]s for older schema versions.
//! - [`Journal`]: the append-only hash chain; expected-sequence appends, monotonic time,
//!   [`Journal::verify`] naming the first bad seq, JSON-lines export and import.
//! - [`Decider`] and [`Kernel`]: decide → append → evolve, with [`Decider::check_invariants`]
//!   after every event in debug, test and fuzz builds; [`replay`]; [`state_digest`].
//! - [`snapshot`]: rkyv snapshots, validated on load, falling back to replay.
//!
//! The byte-level journal format is specified in `docs/journal-format.md`, with test vectors.
//!
//! # Features
//!
//! - `testing`: the test kit for downstream property suites ([`testing`]): given/when/then
//!   helpers, proptest strategies for the core types, and a sample bank-account decider.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod actor;
pub mod canonical;
pub mod context;
pub mod decider;
pub mod digest;
pub mod event;
pub mod id;
pub mod journal;
pub mod merkle;
pub mod ratio;
pub mod snapshot;
pub mod text;
pub mod timestamp;
pub mod valid;

#[cfg(feature = "testing")]
pub mod testing;

/// Implements `schemars::JsonSchema` for a type with hand-written serde impls, from a literal
/// JSON Schema (the calling crate depends on `schemars`). The public contracts (`ro schema`)
/// are generated from these and the derived impls.
#[macro_export]
macro_rules! json_schema_for {
    ($ty:ty, $name:literal, $($schema:tt)+) => {
        impl ::schemars::JsonSchema for $ty {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed($name)
            }
            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!($($schema)+)
            }
        }
    };
}

pub use actor::{Actor, ActorId, ActorKind};
pub use context::{CommandSignature, ConfirmationToken, Context, CorrelationId, KeyId, Reason};
pub use decider::{
    Decider, ExecuteError, InvariantViolation, Kernel, Rejection, ReplayError, replay, state_digest,
};
pub use digest::Digest;
pub use event::{Envelope, Event, EventMeta, Upcaster};
pub use id::{Id, IdError, IdKind};
pub use journal::{CheckedRecord, Head, Journal, Record, VerifyError};
pub use ratio::Ratio;
pub use snapshot::Restored;
pub use text::SharedStr;
pub use timestamp::Timestamp;
pub use valid::{Check, Valid};
