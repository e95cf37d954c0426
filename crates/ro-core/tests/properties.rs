//! Properties of the kernel, the journal and snapshots over generated histories.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use proptest::prelude::*;
use ro_core::{
    Context, ExecuteError, Journal, Kernel, Restored,
    testing::{bank::*, check_replay, strategy},
};

/// A history: commands with contexts whose time never decreases.
fn history(max_len: usize) -> impl Strategy<Value = Vec<(Context, BankCommand)>> {
    proptest::collection::vec(
        (
            strategy::context(),
            0i64..3_600_000,
            strategy::bank_command(4),
        ),
        1..max_len,
    )
    .prop_map(|items| {
        let mut at = None;
        items
            .into_iter()
            .map(|(mut ctx, step_ms, command)| {
                let next = match at {
                    None => ctx.at,
                    Some(prev) => {
                        ro_core::Timestamp::checked_add(prev, time::Duration::milliseconds(step_ms))
                            .unwrap()
                    }
                };
                ctx.at = next;
                at = Some(next);
                (ctx, command)
            })
            .collect()
    })
}

fn run(history: &[(Context, BankCommand)]) -> Kernel<Bank> {
    let mut kernel = Kernel::new();
    for (ctx, command) in history {
        let before = kernel.head();
        match kernel.execute(command, ctx) {
            Ok(_) => {}
            // A refusal appends nothing.
            Err(_) => assert_eq!(kernel.head(), before),
        }
    }
    kernel
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn replay_equals_incremental_and_digests_agree(h in history(60)) {
        let kernel = run(&h);
        check_replay(&kernel);
        kernel.journal().verify().unwrap();
    }

    #[test]
    fn export_import_round_trips(h in history(40)) {
        let kernel = run(&h);
        let text = kernel.journal().export_jsonl().unwrap();
        let imported = Journal::import_jsonl(&text).unwrap();
        prop_assert_eq!(imported.records(), kernel.journal().records());
        prop_assert_eq!(imported.export_jsonl().unwrap(), text);
    }

    #[test]
    fn any_single_byte_change_is_caught(h in history(20), pick in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let kernel = run(&h);
        prop_assume!(!kernel.journal().is_empty());
        let text = kernel.journal().export_jsonl().unwrap();
        let mut bytes = text.into_bytes();
        let i = pick.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        // A change that breaks UTF-8 is caught before parsing; every other one by verification.
        if let Ok(changed) = String::from_utf8(bytes) {
            let result = Journal::import_jsonl(&changed);
            prop_assert!(result.is_err(), "a change at byte {} went unnoticed", i);
        }
    }

    #[test]
    fn stale_expected_sequence_is_refused(h in history(20), offset in 1u64..5) {
        let mut kernel = run(&h);
        let head = kernel.head();
        let (ctx, command) = h.last().unwrap().clone();
        let result = kernel.execute_expecting(head.seq + offset, &command, &ctx);
        let stale = matches!(result, Err(ExecuteError::StaleSequence { .. }));
        prop_assert!(stale);
        if head.seq > 0 {
            let result = kernel.execute_expecting(head.seq - 1, &command, &ctx);
            let stale = matches!(result, Err(ExecuteError::StaleSequence { .. }));
            prop_assert!(stale);
        }
        prop_assert_eq!(kernel.head(), head);
    }

    #[test]
    fn snapshot_restore_matches_and_damage_falls_back(h in history(40), cut in any::<prop::sample::Index>(), flip in any::<prop::sample::Index>()) {
        let full = run(&h);
        let split = cut.index(h.len() + 1);
        let partial = run(&h[..split]);
        let snapshot = partial.snapshot().unwrap();

        let (restored, how) = Kernel::<Bank>::restore(&snapshot, full.journal().clone()).unwrap();
        prop_assert_eq!(how, Restored::FromSnapshot { seq: partial.head().seq });
        prop_assert_eq!(restored.state(), full.state());
        prop_assert_eq!(restored.state_digest().unwrap(), full.state_digest().unwrap());

        let mut damaged = snapshot.clone();
        let i = flip.index(damaged.len());
        damaged[i] ^= 0x40;
        let (restored, how) = Kernel::<Bank>::restore(&damaged, full.journal().clone()).unwrap();
        let fell_back = matches!(how, Restored::FullReplay { .. });
        prop_assert!(fell_back);
        prop_assert_eq!(restored.state(), full.state());

        let truncated = &snapshot[..snapshot.len() / 2];
        let (restored, how) = Kernel::<Bank>::restore(truncated, full.journal().clone()).unwrap();
        let fell_back = matches!(how, Restored::FullReplay { .. });
        prop_assert!(fell_back);
        prop_assert_eq!(restored.state(), full.state());
    }
}

#[test]
fn a_snapshot_from_another_history_is_not_used() {
    let ctx = Context::new(ro_core::testing::t0(), ro_core::testing::human("alice"));
    let open = |name: &str| BankCommand::OpenAccount {
        account: AccountId::new(name).unwrap(),
    };
    let mut a: Kernel<Bank> = Kernel::new();
    a.execute(&open("a"), &ctx).unwrap();
    let mut b: Kernel<Bank> = Kernel::new();
    b.execute(&open("b"), &ctx).unwrap();
    let (restored, how) =
        Kernel::<Bank>::restore(&a.snapshot().unwrap(), b.journal().clone()).unwrap();
    assert!(
        matches!(
            how,
            Restored::FullReplay {
                reason: ro_core::snapshot::SnapshotError::HeadMismatch { seq: 1 }
            }
        ),
        "{how:?}"
    );
    assert_eq!(restored.state(), b.state());
}
