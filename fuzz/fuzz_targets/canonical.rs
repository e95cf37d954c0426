//! Arbitrary bytes as JSON: whatever parses must canonicalize, canonical output must parse
//! back as canonical, the direct serializer must agree with the reference path, and the
//! streaming canonical check must accept exactly what the reference check accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ro_core::canonical::{check_canonical, parse_canonical, to_canonical_vec, value_to_canonical_vec};

fuzz_target!(|data: &[u8]| {
    assert_eq!(check_canonical(data).is_ok(), parse_canonical(data).is_ok());
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    match value_to_canonical_vec(&value) {
        Ok(bytes) => {
            assert!(parse_canonical(&bytes).is_ok());
            assert_eq!(to_canonical_vec(&value).unwrap(), bytes);
        }
        Err(_) => assert!(to_canonical_vec(&value).is_err()),
    }
});
