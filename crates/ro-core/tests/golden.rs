//! Golden journals: the exact bytes ro writes, kept forever, for every event schema version.
//!
//! `golden/bank-mixed.jsonl` holds version-1 bank events written by an older build, followed by
//! version-2 events written by this one. These tests check that:
//! - today's encoder still produces those bytes exactly (the format did not drift);
//! - the file verifies (every hash, link, seq and timestamp);
//! - the version-1 events decode through the upcaster into today's events;
//! - `docs/journal-format.md` quotes the file's first record and hash correctly, so a verifier
//!   written in another language can be checked against both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use ro_core::{
    Actor, ActorId, Context, Event, Journal, Kernel, Timestamp,
    journal::chain_hash,
    testing::bank::{AccountId, Bank, BankEvent},
};
use serde::{Deserialize, Serialize};

const GOLDEN: &str = include_str!("golden/bank-mixed.jsonl");
const FORMAT_DOC: &str = include_str!("../../../docs/journal-format.md");

/// The bank's events as version 1 wrote them: whole currency units in `amount`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type")]
enum BankEventV1 {
    AccountOpened { account: String },
    MoneyDeposited { account: String, amount: u64 },
}

impl Event for BankEventV1 {
    const SCHEMA_VERSION: u32 = 1;
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn build() -> Journal {
    let alice = Actor::human(ActorId::new("alice").unwrap());
    let bot = Actor::agent(ActorId::new("teller-bot").unwrap());
    let mut journal = Journal::new();
    let ctx = Context::new(ts("2026-01-05T14:30:00Z"), alice.clone());
    journal
        .append(
            0,
            &ctx,
            vec![
                BankEventV1::AccountOpened {
                    account: "acc-1".into(),
                },
                BankEventV1::MoneyDeposited {
                    account: "acc-1".into(),
                    amount: 12,
                },
            ],
        )
        .unwrap();
    let ctx = Context::new(ts("2026-01-05T14:31:00.25Z"), bot)
        .with_correlation("req-7".parse().unwrap())
        .with_causation(ro_core::Digest::of(b"{\"type\":\"WITHDRAW\"}"))
        .with_reason(ro_core::Reason::new("scheduled payout").unwrap());
    journal
        .append(
            2,
            &ctx,
            vec![BankEvent::MoneyWithdrawn {
                account: AccountId::new("acc-1").unwrap(),
                amount_micros: 2_500_000,
            }],
        )
        .unwrap();
    let ctx = Context::new(ts("2026-01-05T14:31:00.25Z"), alice);
    journal
        .append(
            3,
            &ctx,
            vec![BankEvent::MoneyDeposited {
                account: AccountId::new("acc-1").unwrap(),
                amount_micros: 1,
            }],
        )
        .unwrap();
    journal
}

#[test]
fn encoder_still_writes_the_golden_bytes() {
    let exported = build().export_jsonl().unwrap();
    if exported != GOLDEN {
        panic!("the encoding drifted from golden/bank-mixed.jsonl; today's bytes:\n{exported}");
    }
}

#[test]
fn golden_verifies_and_upcasts() {
    let journal = Journal::import_jsonl(GOLDEN).unwrap();
    journal.verify().unwrap();
    let kernel: Kernel<Bank> = Kernel::replay(journal).unwrap();
    let account = kernel
        .state()
        .account(&AccountId::new("acc-1").unwrap())
        .unwrap();
    // 12 whole units (version 1) - 2.5 units + 1 micro-unit (version 2).
    assert_eq!(account.balance_micros, 9_500_001);
    assert_eq!(account.operations, 3);
    let first: ro_core::Envelope<BankEvent> = kernel.journal().get(2).unwrap().decode().unwrap();
    assert_eq!(first.schema_version, 1);
    assert_eq!(
        first.event,
        BankEvent::MoneyDeposited {
            account: AccountId::new("acc-1").unwrap(),
            amount_micros: 12_000_000
        }
    );
}

#[test]
fn format_doc_quotes_the_golden_file() {
    let journal = Journal::import_jsonl(GOLDEN).unwrap();
    let first = journal.get(1).unwrap();
    let body = std::str::from_utf8(&first.body).unwrap();
    assert!(
        FORMAT_DOC.contains(body),
        "docs/journal-format.md must quote the first body:\n{body}"
    );
    assert!(
        FORMAT_DOC.contains(&first.hash.to_hex()),
        "docs must quote the first hash {}",
        first.hash
    );
    assert_eq!(
        chain_hash(&ro_core::Digest::ZERO, body.as_bytes()),
        first.hash
    );
    for line in GOLDEN.lines() {
        assert!(
            FORMAT_DOC.contains(line),
            "docs/journal-format.md must quote every golden line:\n{line}"
        );
    }
}

/// An event stored under an older version is always lifted, even when its bytes also read as
/// the current version (decoding them directly would give them today's meaning).
#[test]
fn an_older_version_is_lifted_even_when_it_parses_as_the_current_one() {
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Tens {
        n: u64,
    }
    fn times_ten(mut value: serde_json::Value) -> Result<serde_json::Value, String> {
        let n = value["n"].as_u64().ok_or("no n")?;
        value["n"] = serde_json::Value::from(n * 10);
        Ok(value)
    }
    impl ro_core::Event for Tens {
        const SCHEMA_VERSION: u32 = 2;
        fn upcasters() -> &'static [ro_core::Upcaster] {
            const UP: &[ro_core::Upcaster] = &[ro_core::Upcaster {
                from: 1,
                lift: times_ten,
            }];
            UP
        }
    }
    let body = |version: u32| {
        format!(
            "{{\"actor\":{{\"id\":\"alice\",\"kind\":\"human\"}},\"at\":\"2026-01-05T14:30:00Z\",\"causation\":null,\"correlation_id\":null,\"event\":{{\"n\":1}},\"schema_version\":{version},\"seq\":1}}"
        )
        .into_bytes()
    };
    let record = |version: u32| ro_core::Record {
        seq: 1,
        prev: ro_core::Digest::ZERO,
        hash: chain_hash(&ro_core::Digest::ZERO, &body(version)),
        body: body(version),
    };
    let old: ro_core::Envelope<Tens> = record(1).decode().unwrap();
    assert_eq!((old.event.n, old.schema_version), (10, 1));
    let current: ro_core::Envelope<Tens> = record(2).decode().unwrap();
    assert_eq!((current.event.n, current.schema_version), (1, 2));
    assert!(record(3).decode::<Tens>().is_err());
}

/// The Merkle tree of the golden journal: its root, and an inclusion and a consistency proof,
/// are the vectors `docs/journal-format.md` quotes (so a verifier in another language can be
/// checked against them).
#[test]
fn format_doc_quotes_the_golden_merkle_vectors() {
    use ro_core::merkle;
    let journal = Journal::import_jsonl(GOLDEN).unwrap();
    let leaves: Vec<_> = journal
        .records()
        .iter()
        .map(|r| merkle::leaf_hash(&r.hash))
        .collect();
    let root = merkle::root(&leaves);
    let root3 = merkle::root(&leaves[..3]);
    let inclusion = merkle::inclusion_proof(&leaves, 2).unwrap();
    let consistency = merkle::consistency_proof(&leaves, 3).unwrap();
    assert!(merkle::verify_inclusion(
        &leaves[2], 2, 4, &inclusion, &root
    ));
    assert!(merkle::verify_consistency(
        3,
        4,
        &root3,
        &root,
        &consistency
    ));
    let list = |v: &[ro_core::Digest]| {
        v.iter()
            .map(|d| format!("`{d}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for quoted in [
        format!("root of all 4 records: `{root}`"),
        format!("root of the first 3: `{root3}`"),
        format!(
            "inclusion proof of seq 3 in the tree of 4: [{}]",
            list(&inclusion)
        ),
        format!("consistency proof from 3 to 4: [{}]", list(&consistency)),
    ] {
        assert!(
            FORMAT_DOC.contains(&quoted),
            "docs/journal-format.md must quote:\n{quoted}"
        );
    }
}
