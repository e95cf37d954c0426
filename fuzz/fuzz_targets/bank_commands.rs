//! Arbitrary bytes as lines of bank commands run through the kernel: decoding refuses bad
//! input with an error, the kernel never panics (invariants are checked after every event in
//! fuzz builds), and replay equals incremental application.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ro_core::{Context, Kernel, testing::{bank::{Bank, BankCommand}, human, t0}};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let ctx = Context::new(t0(), human("fuzz"));
    let mut kernel: Kernel<Bank> = Kernel::new();
    for line in text.lines().take(256) {
        if let Ok(command) = serde_json::from_str::<BankCommand>(line) {
            let _ = kernel.execute(&command, &ctx);
        }
    }
    let replayed = Kernel::<Bank>::replay(kernel.journal().clone()).unwrap();
    assert_eq!(replayed.state(), kernel.state());
});
