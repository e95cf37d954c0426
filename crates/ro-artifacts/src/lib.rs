//! Artifacts by reference and digest, gates ("no PASS, no read"), retention, signed
//! derivations that are superseded but never edited, typed INFEASIBLE records, the handoff
//! package, model versions.
//!
//! **Skeleton.** This crate is planned (issue "ro-artifacts") and holds no items yet.

#![forbid(unsafe_code)]
