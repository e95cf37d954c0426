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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// A journal that forgets records durable elsewhere keeps its head, accepts the same
    /// appends and re-verifies what it holds; a kernel restored from an authenticated snapshot
    /// over a journal that starts at the snapshot's head, then given the rest of the records,
    /// equals the full replay.
    #[test]
    fn forgotten_records_change_nothing_but_memory(h in history(40), cut in any::<prop::sample::Index>(), forget in any::<prop::sample::Index>()) {
        let full = run(&h);
        let records = full.journal().records().to_vec();
        let split = cut.index(h.len() + 1);
        let partial = run(&h[..split]);
        let snap_seq = partial.head().seq;

        // Forgetting any prefix: same head, held records re-verify, records_after starts at
        // the base, older records are not served.
        let mut kernel = full.clone();
        let upto = forget.index(records.len() + 1) as u64;
        kernel.forget_records_through(upto);
        prop_assert_eq!(kernel.head(), full.head());
        prop_assert_eq!(kernel.journal().base().seq, upto);
        prop_assert_eq!(kernel.journal().len() as u64, full.head().seq - upto);
        prop_assert!(kernel.journal().verify().is_ok());
        prop_assert_eq!(kernel.journal().records_after(0).first().map(|r| r.seq), records.get(upto as usize).map(|r| r.seq));
        if upto > 0 {
            prop_assert!(kernel.journal().get(upto).is_none());
            prop_assert_eq!(kernel.journal().prev_of(upto), None);
            kernel.pin_prev(upto, records[upto as usize - 1].prev);
            prop_assert_eq!(kernel.journal().prev_of(upto), Some(records[upto as usize - 1].prev));
        }
        // A forgetting kernel and a full one decide the same next command to the same record.
        let (ctx, command) = h.last().unwrap().clone();
        let mut whole = full.clone();
        let a = kernel.execute(&command, &ctx).map(|e| e.len()).map_err(|e| e.code());
        let b = whole.execute(&command, &ctx).map(|e| e.len()).map_err(|e| e.code());
        prop_assert_eq!(a, b);
        prop_assert_eq!(kernel.head(), whole.head());
        prop_assert_eq!(kernel.journal().records_after(full.head().seq), whole.journal().records_after(full.head().seq));

        // Restored from the snapshot over a journal starting at its head.
        let base = match snap_seq {
            0 => ro_core::Head::EMPTY,
            seq => {
                let r = &records[seq as usize - 1];
                // The head's time, as a store reads it from the head row.
                let mut j = Journal::starting_at(ro_core::Head { seq: seq - 1, hash: r.prev, at: None });
                j.push_record(r.clone()).unwrap();
                j.head()
            }
        };
        let snapshot = partial.snapshot().unwrap();
        let (mut restored, how) = Kernel::<Bank>::restore_authenticated(&snapshot, Journal::starting_at(base), |_| {}).unwrap();
        prop_assert_eq!(how, Restored::FromSnapshot { seq: snap_seq });
        for r in &records[snap_seq as usize..] {
            restored.push_record(r.clone()).unwrap();
        }
        prop_assert_eq!(restored.head(), full.head());
        prop_assert_eq!(restored.state(), full.state());
        prop_assert!(restored.journal().verify().is_ok());

        // A state that does not start where the held records start is refused, not replayed
        // with a gap.
        if snap_seq > 0 {
            let mut later = full.journal().clone();
            later.forget_through(snap_seq);
            prop_assert!(Kernel::<Bank>::resume(Bank::default(), 0, later).is_err());
        }
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

/// Arbitrary JSON values: nested objects and arrays, non-ASCII keys, integers at the edges.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1i64 << 53) + 1..(1i64 << 53)).prop_map(Value::from),
        "[a-z\u{e9}\u{1f600}\u{fb33}\"\\\\\n\t\u{0}-\u{1f}]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z_\u{e9}\u{1f600}\u{fb33}]{0,4}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A map serialized with its members in the given order (as a struct or an internally tagged
/// enum would write them).
struct InOrder(Vec<(String, serde_json::Value)>);

impl serde::Serialize for InOrder {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Members arriving in any order come out sorted: ascending, with one member moved to
    /// the front (a tag written first), or reversed. A repeated key is refused in each shape.
    #[test]
    fn members_in_any_order_come_out_sorted(
        entries in proptest::collection::btree_map("[a-z_\u{e9}\u{1f600}\u{fb33}]{0,4}", json_value(), 1..8),
        pick in any::<prop::sample::Index>(),
        shape in 0u8..3,
    ) {
        let reference = ro_core::canonical::value_to_canonical_vec(
            &serde_json::Value::Object(entries.clone().into_iter().collect()),
        ).unwrap();
        let mut members: Vec<_> = entries.into_iter().collect();
        match shape {
            0 => {}
            1 => {
                let moved = members.remove(pick.index(members.len()));
                members.insert(0, moved);
            }
            _ => members.reverse(),
        }
        let direct = ro_core::canonical::to_canonical_vec(&InOrder(members.clone())).unwrap();
        prop_assert_eq!(&direct, &reference);
        let repeated = members[pick.index(members.len())].clone();
        members.insert(0, repeated);
        prop_assert!(ro_core::canonical::to_canonical_vec(&InOrder(members)).is_err());
    }

    /// The direct serializer writes exactly what the reference path (to `Value`, then write)
    /// writes, and its output is canonical.
    #[test]
    fn direct_serializer_matches_reference(value in json_value()) {
        let direct = ro_core::canonical::to_canonical_vec(&value).unwrap();
        let reference = ro_core::canonical::value_to_canonical_vec(&value).unwrap();
        prop_assert_eq!(&direct, &reference);
        prop_assert!(ro_core::canonical::parse_canonical(&direct).is_ok());
    }

    #[test]
    fn direct_serializer_matches_reference_on_events(commands in proptest::collection::vec(strategy::bank_command(3), 1..20), ctx in strategy::context()) {
        for command in &commands {
            let direct = ro_core::canonical::to_canonical_vec(command).unwrap();
            let reference = ro_core::canonical::value_to_canonical_vec(&serde_json::to_value(command).unwrap()).unwrap();
            prop_assert_eq!(direct, reference);
        }
        let direct = ro_core::canonical::to_canonical_vec(&ctx.actor).unwrap();
        let reference = ro_core::canonical::value_to_canonical_vec(&serde_json::to_value(&ctx.actor).unwrap()).unwrap();
        prop_assert_eq!(direct, reference);
    }
}

#[test]
fn direct_serializer_refuses_what_has_no_canonical_form() {
    use ro_core::canonical::{CanonicalError, to_canonical_vec};
    assert!(matches!(
        to_canonical_vec(&1.5f64),
        Err(CanonicalError::NotAnInteger(_))
    ));
    assert!(matches!(
        to_canonical_vec(&(1u64 << 53)),
        Err(CanonicalError::IntegerOutOfRange(_))
    ));
    assert!(matches!(
        to_canonical_vec(&i64::MIN),
        Err(CanonicalError::IntegerOutOfRange(_))
    ));
    let mut map = std::collections::BTreeMap::new();
    map.insert(vec![1u8], 1u8);
    assert!(matches!(
        to_canonical_vec(&map),
        Err(CanonicalError::NotJson(_))
    ));
    // Struct fields out of order are sorted; nested objects too.
    #[derive(serde::Serialize)]
    struct Outer {
        z: u8,
        a: Inner,
    }
    #[derive(serde::Serialize)]
    struct Inner {
        y: &'static str,
        b: Vec<u8>,
    }
    let bytes = to_canonical_vec(&Outer {
        z: 1,
        a: Inner {
            y: "é",
            b: vec![2, 3],
        },
    })
    .unwrap();
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        r#"{"a":{"b":[2,3],"y":"é"},"z":1}"#
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The export line splices `hash` and `prev` into the canonical body without re-encoding
    /// it; it must equal the reference path (parse, insert, re-encode) for any object body,
    /// including keys that sort around `hash` and `prev`, escaped and non-ASCII keys, and
    /// bodies that already name `hash` or `prev` (the general path replaces them).
    #[test]
    fn export_lines_splice_exactly(
        mut map in proptest::collection::btree_map(
            "(hash|prev|h|ha|hasi|has|i|p|pr|prex|q|z|A|_|\u{e9}|\u{1f600}|a\\\\b|\"[a-z]{0,3})",
            json_value(), 0..8),
        prev in strategy::digest(),
        hash in strategy::digest(),
    ) {
        use serde_json::Value;
        let body_value = Value::Object(std::mem::take(&mut map).into_iter().collect());
        let body = ro_core::canonical::value_to_canonical_vec(&body_value).unwrap();
        let record = ro_core::Record { seq: 1, prev, hash, body };
        let mut reference = body_value;
        let Value::Object(m) = &mut reference else { unreachable!() };
        m.insert("hash".into(), Value::String(hash.to_string()));
        m.insert("prev".into(), Value::String(prev.to_string()));
        let reference = String::from_utf8(ro_core::canonical::value_to_canonical_vec(&reference).unwrap()).unwrap();
        prop_assert_eq!(record.to_export_line().unwrap(), reference);
    }
}

/// Damages one record of `records` in one of six ways.
fn damage(records: &mut Vec<ro_core::Record>, at: usize, how: u8, byte: usize) {
    let flip = |d: ro_core::Digest| {
        let mut b = *d.as_bytes();
        b[byte % 32] ^= 1;
        ro_core::Digest::from_bytes(b)
    };
    match how % 6 {
        0 => {
            let body = &mut records[at].body;
            let i = byte % body.len();
            body[i] ^= 0x01;
        }
        1 => records[at].seq += 1,
        2 => records[at].prev = flip(records[at].prev),
        3 => records[at].hash = flip(records[at].hash),
        4 if at + 1 < records.len() => records.swap(at, at + 1),
        _ => {
            records.remove(at);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Reading records back through the kernel (each checked on its own, possibly ahead on
    /// another thread, then linked and folded in order) rebuilds the state, and stops at the
    /// first bad seq exactly where the journal's own check does; shape-checked records linked
    /// into a journal give exactly the journal's own answer.
    #[test]
    #[allow(clippy::disallowed_methods)] // checks records on another thread, as a host may
    fn records_checked_ahead_fold_like_replay_and_fail_where_verify_does(
        h in history(30),
        pick in any::<prop::sample::Index>(),
        how in any::<u8>(),
        byte in any::<usize>(),
        damaged in any::<bool>(),
    ) {
        let kernel = run(&h);
        let mut records = kernel.journal().records().to_vec();
        prop_assume!(!records.is_empty());
        if damaged {
            let at = pick.index(records.len());
            damage(&mut records, at, how, byte);
        }
        let expected = Journal::from_records(records.clone()).map(|j| j.head());
        // Checked on another thread, folded on this one.
        let checked: Vec<ro_core::CheckedRecord<BankEvent>> = std::thread::scope(|s| {
            s.spawn(|| records.iter().cloned().map(ro_core::Record::check).collect())
                .join()
                .unwrap()
        });
        let mut ahead = Kernel::<Bank>::new();
        let ahead_result = checked
            .into_iter()
            .try_for_each(|c| ahead.push_checked(c))
            .map(|()| ahead.head());
        let mut one_by_one = Kernel::<Bank>::new();
        let one_by_one_result = records
            .iter()
            .cloned()
            .try_for_each(|r| one_by_one.push_record(r))
            .map(|()| one_by_one.head());
        // Shape-checked ahead (records a snapshot covers) and linked into a journal: exactly
        // what the journal's own check answers.
        let shapes: Vec<ro_core::CheckedRecord<()>> =
            records.iter().cloned().map(ro_core::Record::check_shape).collect();
        let mut journal = Journal::new();
        let shape_result = shapes
            .into_iter()
            .try_for_each(|c| journal.push_checked(c).map(drop))
            .map(|()| journal.head());
        prop_assert_eq!(&shape_result, &expected);
        prop_assert_eq!(ahead_result.as_ref().map_err(|e| e.seq), expected.as_ref().map_err(|e| e.seq));
        prop_assert_eq!(&one_by_one_result, &ahead_result);
        prop_assert_eq!(ahead.state(), one_by_one.state());
        if !damaged {
            prop_assert_eq!(ahead.state(), kernel.state());
            prop_assert_eq!(ahead.journal().records(), kernel.journal().records());
        }
    }
}
