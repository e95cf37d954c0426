//! Arbitrary bytes as lines of the JSON protocol through the whole plane (decode, authorize,
//! guard, decide, append, evolve): the host never panics, every line gets a JSON answer with
//! `ok`, a refused line's answer has an error code, and replay equals incremental application.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ro_admin::Plane;
use ro_core::{ActorId, Journal, Kernel, Timestamp};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut kernel = Kernel::resume(Plane::with_confirmation_key([3; 32]), 0, Journal::new()).unwrap();
    let admin = ActorId::new("alice").unwrap();
    let now = Timestamp::parse_rfc3339("2026-01-05T14:30:00Z").unwrap();
    // A bootstrap grant so that commands get past authorization.
    let grant = r#"{"type":"GRANT_ROLE","principal":"alice","role":"admin"}"#;
    assert!(ro_bindings::host::execute_line(&mut kernel, grant, Some(&admin), now).0);
    for line in text.lines().take(64) {
        let (ok, response) = ro_bindings::host::execute_line(&mut kernel, line, Some(&admin), now);
        assert_eq!(response["ok"].as_bool(), Some(ok), "{response}");
        if !ok {
            assert!(response["error"]["code"].is_string(), "{response}");
        }
    }
    let replayed = Kernel::resume(Plane::with_confirmation_key([3; 32]), 0, kernel.journal().clone()).unwrap();
    assert_eq!(replayed.state(), kernel.state());
});
