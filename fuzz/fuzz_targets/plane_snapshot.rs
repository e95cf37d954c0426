//! Arbitrary bytes (seeded with a real snapshot of the journal below) as a plane snapshot:
//! restoring never panics, and whatever is restored equals what the journal replays to (a
//! snapshot that does not match the journal falls back to full replay). The first byte picks
//! the mode: the rest as is; the rest with a correct checksum appended; or the journal's real
//! snapshot with the rest written over it at an offset and the checksum recomputed, so that
//! mutations reach the archive's validation with a matching header. (The recorded state
//! digest is not recomputed: a snapshot forged whole, digest included, is used by an open by
//! design, and `Store::verify_snapshots` is what proves it against the journal.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use ro_admin::Plane;
use ro_core::{ActorId, Journal, Kernel, Timestamp};

fn kernel() -> Kernel<Plane> {
    let mut kernel = Kernel::resume(Plane::with_confirmation_key([3; 32]), 0, Journal::new()).unwrap();
    let admin = ActorId::new("alice").unwrap();
    let now = Timestamp::parse_rfc3339("2026-01-05T14:30:00Z").unwrap();
    for line in [
        r#"{"type":"GRANT_ROLE","principal":"alice","role":"admin"}"#,
        r#"{"type":"REGISTER_ARTIFACT","ref":"runs/r-1/a.json","digest":"blake3:0000000000000000000000000000000000000000000000000000000000000001"}"#,
        r#"{"type":"DEFINE_CALENDAR","calendar":{"name":"equities","version":1,"timezone":"America/New_York","weekmask":[true,true,true,true,true,false,false],"holidays":["2026-03-04"]}}"#,
        r#"{"type":"DEFINE_JOB","definition":{"job_id":"close","version":1,"schedule":{"cron":"0 16 * * *","timezone":"America/New_York"},"calendar":"equities"}}"#,
        r#"{"type":"REPORT_COMPONENT","component":"marketdata","healthy":true,"critical":true}"#,
    ] {
        assert!(ro_bindings::host::execute_line(&mut kernel, line, Some(&admin), now).0);
    }
    kernel
}

fuzz_target!(|data: &[u8]| {
    let kernel = kernel();
    let journal = kernel.journal().clone();
    let with_checksum = |mut content: Vec<u8>| {
        let checksum = ro_core::Digest::of(&content);
        content.extend_from_slice(checksum.as_bytes());
        content
    };
    let bytes = match data.split_first() {
        Some((flag, rest)) if flag % 3 == 1 => with_checksum(rest.to_vec()),
        Some((flag, rest)) if flag % 3 == 2 && rest.len() >= 2 => {
            let real = kernel.snapshot().unwrap();
            let mut content = real[..real.len() - 32].to_vec();
            let offset = usize::from(u16::from_le_bytes([rest[0], rest[1]])) % content.len();
            for (i, b) in rest[2..].iter().enumerate() {
                if let Some(slot) = content.get_mut(offset + i) {
                    *slot = *b;
                }
            }
            with_checksum(content)
        }
        _ => data.to_vec(),
    };
    let (restored, _) = Kernel::<Plane>::restore_with(
        &bytes,
        journal.clone(),
        Plane::with_confirmation_key([3; 32]),
        |p| p.set_confirmation_key([3; 32]),
    )
    .unwrap();
    let replayed = Kernel::resume(Plane::with_confirmation_key([3; 32]), 0, journal).unwrap();
    // A snapshot that passes every check is trusted for the state it holds; its digest is
    // recorded in it, so it must also match what replay builds.
    assert_eq!(restored.state_digest().unwrap(), replayed.state_digest().unwrap());
});
