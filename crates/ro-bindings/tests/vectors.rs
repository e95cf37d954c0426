//! The journal-format test vectors (`docs/vectors/`, described in `expected.json`): `ro verify
//! --export` accepts the valid ones and refuses each broken one at the line the document's
//! steps name. `.ci/run` runs `docs/verify_journal.py` over the same files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::{path::PathBuf, process::Command};

use serde_json::Value;

#[test]
fn ro_verify_agrees_with_every_vector() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/vectors");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let vectors = expected.as_object().unwrap();
    assert!(vectors.len() >= 20, "{} vectors", vectors.len());
    let no_store = std::env::temp_dir().join(format!("ro-vectors-{}.db", std::process::id()));
    for (name, want) in vectors {
        let out = Command::new(env!("CARGO_BIN_EXE_ro"))
            .arg("--store")
            .arg(&no_store)
            .args(["verify", "--export"])
            .arg(dir.join(name))
            .output()
            .unwrap();
        let answer: Value =
            serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap_or_default())
                .unwrap_or_else(|e| panic!("{name}: {e}: {out:?}"));
        if want["valid"] == true {
            assert_eq!(out.status.code(), Some(0), "{name}: {answer}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{name}: {answer}");
            let line = want["line"].as_u64().unwrap();
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(
                message.contains(&format!("seq {line}:")),
                "{name}: expected a refusal at line {line} ({}), got {message}",
                want["step"]
            );
        }
    }
}

/// The checkpoint vectors (`docs/vectors/checkpoint/`): an export of `ro demo` matches its
/// checkpoint; its tail dropped, a forged line appended, a record edited and the chain
/// re-hashed, a record dropped and the rest renumbered are each refused with the expected code.
#[test]
fn ro_verify_checks_every_export_against_the_checkpoint_vector() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/vectors/checkpoint");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let key = expected["public_key"].as_str().unwrap();
    let exports = expected["exports"].as_object().unwrap();
    assert_eq!(exports.len(), 5);
    let no_store = std::env::temp_dir().join(format!("ro-cp-vectors-{}.db", std::process::id()));
    for (name, want) in exports {
        let out = Command::new(env!("CARGO_BIN_EXE_ro"))
            .arg("--store")
            .arg(&no_store)
            .args(["verify", "--export"])
            .arg(dir.join(name))
            .arg("--checkpoint")
            .arg(dir.join("checkpoint.json"))
            .args(["--public-key", key])
            .output()
            .unwrap();
        let answer: Value =
            serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap_or_default())
                .unwrap();
        if want["valid"] == true {
            assert_eq!(out.status.code(), Some(0), "{name}: {answer}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{name}: {answer}");
            assert_eq!(answer["error"]["code"], want["code"], "{name}: {answer}");
        }
    }
}
