//! Arbitrary bytes as JSON: whatever parses must canonicalize, canonical output must parse
//! back as canonical, and the direct serializer must agree with the reference path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ro_core::canonical::{parse_canonical, to_canonical_vec, value_to_canonical_vec};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    match value_to_canonical_vec(&value) {
        Ok(bytes) => {
            assert!(parse_canonical(&bytes).is_ok());
            assert_eq!(to_canonical_vec(&value).unwrap(), bytes);
        }
        Err(_) => assert!(to_canonical_vec(&value).is_err()),
    }
});
