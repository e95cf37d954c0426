//! proptest strategies for the core types.

use proptest::prelude::*;

use crate::{
    Actor, ActorKind, Context, Digest, Id, IdKind, Reason, Timestamp,
    testing::bank::{AccountId, BankCommand},
};

/// Instants between 2000-01-01 and 2100-01-01, with nanosecond fractions.
pub fn timestamp() -> impl Strategy<Value = Timestamp> {
    (946_684_800i64..4_102_444_800i64, 0u32..1_000_000_000u32)
        .prop_filter_map("in range", |(s, n)| Timestamp::from_unix(s, n).ok())
}

/// Any representable instant.
pub fn any_timestamp() -> impl Strategy<Value = Timestamp> {
    (
        Timestamp::MIN.unix_seconds()..=Timestamp::MAX.unix_seconds(),
        0u32..1_000_000_000u32,
    )
        .prop_filter_map("in range", |(s, n)| Timestamp::from_unix(s, n).ok())
}

/// Valid identifiers of kind `K` (1 to 24 bytes, the whole allowed charset).
pub fn id<K: IdKind>() -> impl Strategy<Value = Id<K>> {
    "[A-Za-z0-9][A-Za-z0-9._:@-]{0,23}".prop_filter_map("valid id", |s| Id::new(s).ok())
}

/// Identifiers drawn from a small pool (`prefix-0` .. `prefix-{n-1}`), so that generated
/// histories refer to the same things again.
pub fn pooled_id<K: IdKind>(prefix: &'static str, n: u32) -> impl Strategy<Value = Id<K>> {
    (0..n.max(1)).prop_filter_map("valid id", move |i| Id::new(format!("{prefix}-{i}")).ok())
}

/// Human, agent or service.
pub fn actor_kind() -> impl Strategy<Value = ActorKind> {
    prop_oneof![
        Just(ActorKind::Human),
        Just(ActorKind::Agent),
        Just(ActorKind::Service)
    ]
}

/// Any actor.
pub fn actor() -> impl Strategy<Value = Actor> {
    (id(), actor_kind()).prop_map(|(id, kind)| Actor { id, kind })
}

/// Any digest.
pub fn digest() -> impl Strategy<Value = Digest> {
    any::<[u8; 32]>().prop_map(Digest::from_bytes)
}

/// Valid reasons, including non-ASCII text, newlines and tabs.
pub fn reason() -> impl Strategy<Value = Reason> {
    "[a-zA-Z0-9 é✓\n\t]{0,40}[a-z]".prop_filter_map("valid reason", |s| Reason::new(s).ok())
}

/// A context with any actor and optional correlation, causation and reason.
pub fn context() -> impl Strategy<Value = Context> {
    (
        timestamp(),
        actor(),
        proptest::option::of(id()),
        proptest::option::of(digest()),
        proptest::option::of(reason()),
    )
        .prop_map(|(at, actor, correlation_id, causation, reason)| Context {
            at,
            actor,
            correlation_id,
            causation,
            reason,
            confirmation_token: None,
            signature: None,
            claimed_actor: None,
            credential: None,
        })
}

/// Bank commands over `accounts` accounts, amounts small enough to both succeed and fail.
pub fn bank_command(accounts: u32) -> impl Strategy<Value = BankCommand> {
    let account = pooled_id::<crate::testing::bank::AccountTag>("acc", accounts).boxed();
    prop_oneof![
        1 => account.clone().prop_map(|account: AccountId| BankCommand::OpenAccount { account }),
        3 => (account.clone(), 0u64..1_000).prop_map(|(account, amount_micros)| BankCommand::Deposit { account, amount_micros }),
        3 => (account, 0u64..1_000).prop_map(|(account, amount_micros)| BankCommand::Withdraw { account, amount_micros }),
    ]
}
