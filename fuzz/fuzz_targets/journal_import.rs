//! Arbitrary bytes as an exported journal: import must never panic, and whatever it accepts
//! must verify, re-export to the same bytes, and replay.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ro_core::{Journal, Kernel, testing::bank::Bank};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(journal) = Journal::import_jsonl(text) {
        assert!(journal.verify().is_ok());
        assert_eq!(journal.export_jsonl().unwrap(), text);
        let _ = Kernel::<Bank>::replay(journal);
    }
});
