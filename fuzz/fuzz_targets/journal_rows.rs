//! Arbitrary bytes as rows of the store's journal table, decoded and verified as `Store::open`
//! does (`decode_row`, then `Journal::push_record`, then the envelope's decoding). Two modes,
//! chosen by the first byte:
//!
//! - **rows**: the rest is a sequence of framed rows `seq:i64le, len:u8 prev, len:u8 hash,
//!   len:u16le body`; if the rehash flag (second byte, bit 0) is set, `prev` and `hash` are
//!   replaced by the correct chain so the deeper checks (canonical body, seq agreement, time
//!   order, envelope decoding) are reached. Nothing panics; whatever is accepted verifies again
//!   from scratch and every accepted body decodes as a plane envelope or is named by seq.
//! - **damage**: a real plane journal (the demo, played through the host) with one byte of one
//!   row's seq, prev, hash or body flipped, or one row dropped: reading it must fail at exactly
//!   that row's seq, whether read into a journal or checked ahead and folded into a plane as a
//!   replaying open does (`Record::check`, then `Kernel::push_checked`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ro_admin::{Plane, PlaneEvent};
use ro_bindings::store::decode_row;
use ro_core::{ActorId, Digest, Journal, Kernel, Timestamp, journal::chain_hash};

type Row = (i64, Vec<u8>, Vec<u8>, Vec<u8>);

/// The demo's journal as rows.
fn demo_rows() -> &'static [Row] {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let mut kernel = Kernel::resume(Plane::with_confirmation_key([3; 32]), 0, Journal::new()).unwrap();
        let admin = ActorId::new("alice").unwrap();
        let start = Timestamp::parse_rfc3339("2026-03-02T12:00:00Z").unwrap();
        let grant = r#"{"type":"GRANT_ROLE","principal":"alice","role":"admin"}"#;
        assert!(ro_bindings::host::execute_line(&mut kernel, grant, Some(&admin), start).0);
        for line in include_str!("../../crates/ro-bindings/src/demo.jsonl").lines().take(80) {
            let line = line.trim();
            if line.is_empty() || line.starts_with("//") {
                continue;
            }
            let _ = ro_bindings::host::execute_line(&mut kernel, line, Some(&admin), start);
        }
        kernel
            .journal()
            .records()
            .iter()
            .map(|r| (r.seq as i64, r.prev.as_bytes().to_vec(), r.hash.as_bytes().to_vec(), r.body.clone()))
            .collect()
    })
}

/// Reads rows as the store does; the first bad seq on failure.
fn read(rows: &[Row]) -> Result<Journal, u64> {
    let mut journal = Journal::new();
    for (seq, prev, hash, body) in rows {
        let record = decode_row(*seq, prev, hash, body.clone()).map_err(|e| match e {
            ro_bindings::store::StoreError::Damaged { seq, .. } => seq,
            other => panic!("decode_row answered {other}"),
        })?;
        let seq = record.seq;
        let decoded = record.decode::<PlaneEvent>();
        journal.push_record(record).map_err(|e| e.seq)?;
        // A record that continues the chain is canonical JSON; its envelope decodes or is a
        // typed error naming it (what `Kernel::resume` reports as damaged).
        if let Err(e) = decoded {
            assert!(!e.to_string().is_empty());
            return Err(seq);
        }
    }
    Ok(journal)
}

/// Reads rows as a replaying open does: each record checked on its own (`Record::check`, on
/// another thread in the store), then linked and folded in order (`Kernel::push_checked`);
/// the head's seq, or the first bad seq. Only for journals of real plane events: folding
/// arbitrary events could break the plane's invariants, which fuzz builds assert.
fn read_into_kernel(rows: &[Row]) -> Result<u64, u64> {
    let mut kernel = Kernel::resume(Plane::with_confirmation_key([3; 32]), 0, Journal::new()).unwrap();
    for (seq, prev, hash, body) in rows {
        let record = decode_row(*seq, prev, hash, body.clone()).map_err(|e| match e {
            ro_bindings::store::StoreError::Damaged { seq, .. } => seq,
            other => panic!("decode_row answered {other}"),
        })?;
        kernel.push_checked(record.check()).map_err(|e| e.seq)?;
    }
    Ok(kernel.head().seq)
}

fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if data.len() < n {
        return None;
    }
    let (head, rest) = data.split_at(n);
    *data = rest;
    Some(head)
}

fn framed_rows(mut data: &[u8], rehash: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut prev_hash = Digest::from_bytes([0; 32]);
    while rows.len() < 64 {
        let Some(seq) = take(&mut data, 8) else { break };
        let seq = i64::from_le_bytes(seq.try_into().unwrap());
        let Some(n) = take(&mut data, 1) else { break };
        let Some(prev) = take(&mut data, n[0] as usize) else { break };
        let Some(n) = take(&mut data, 1) else { break };
        let Some(hash) = take(&mut data, n[0] as usize) else { break };
        let Some(n) = take(&mut data, 2) else { break };
        let Some(body) = take(&mut data, u16::from_le_bytes([n[0], n[1]]) as usize) else { break };
        let (prev, hash) = if rehash {
            let hash = chain_hash(&prev_hash, body);
            let prev = prev_hash;
            prev_hash = hash;
            (prev.as_bytes().to_vec(), hash.as_bytes().to_vec())
        } else {
            (prev.to_vec(), hash.to_vec())
        };
        rows.push((seq, prev, hash, body.to_vec()));
    }
    rows
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        let Some((&flags, rest)) = rest.split_first() else { return };
        let rows = framed_rows(rest, flags & 1 == 1);
        if let Ok(journal) = read(&rows) {
            assert_eq!(journal.head().seq, rows.len() as u64);
            journal.verify().unwrap();
        }
        return;
    }
    let rows = demo_rows();
    assert!(read(rows).is_ok(), "the demo journal reads back");
    assert_eq!(read_into_kernel(rows), Ok(rows.len() as u64));
    let pick = |n: usize| -> usize {
        let Some((&b0, r)) = rest.split_first() else { return 0 };
        let Some((&b1, r)) = r.split_first() else { return b0 as usize % n };
        let _ = r;
        (u16::from_le_bytes([b0, b1]) as usize) % n
    };
    let at = pick(rows.len());
    let bytes: Vec<u8> = rest.iter().skip(2).copied().collect();
    let [field, offset_lo, offset_hi, xor] = match bytes.as_slice() {
        [a, b, c, d, ..] => [*a, *b, *c, *d],
        _ => [0, 0, 0, 1],
    };
    let xor = if xor == 0 { 1 } else { xor };
    let offset = u16::from_le_bytes([offset_lo, offset_hi]) as usize;
    let mut damaged = rows.to_vec();
    let seq = rows[at].0 as u64;
    match field % 5 {
        0 => damaged[at].0 ^= i64::from(xor),
        1 => {
            let v = &mut damaged[at].1;
            let i = offset % v.len();
            v[i] ^= xor;
        }
        2 => {
            let v = &mut damaged[at].2;
            let i = offset % v.len();
            v[i] ^= xor;
        }
        3 => {
            let v = &mut damaged[at].3;
            let i = offset % v.len();
            v[i] ^= xor;
        }
        _ => {
            damaged.remove(at);
            if at == damaged.len() {
                // Dropping the last row leaves a shorter valid journal: nothing to detect.
                assert!(read(&damaged).is_ok());
                assert_eq!(read_into_kernel(&damaged), Ok(damaged.len() as u64));
                return;
            }
        }
    }
    // Checked ahead and folded, the damage is named at the same seq as by the journal alone.
    assert_eq!(read_into_kernel(&damaged), read(&damaged).map(|j| j.head().seq));
    match read(&damaged) {
        Ok(_) => panic!("a damaged row at seq {seq} was accepted"),
        Err(bad) => {
            // Named by the seq the chain expected there (a negative seq cannot even be read as
            // one and is reported as 0).
            assert!(
                bad == seq || (field % 5 == 0 && bad == 0),
                "damage at seq {seq} reported at seq {bad}"
            );
        }
    }
});
