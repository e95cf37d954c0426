//! The only IO of ro: the JSON protocol, JSON Schema contracts, the embedded SQLite store and
//! the `ro` command-line host.
//!
//! **Skeleton.** This crate is planned (issue "ro-bindings") and holds no items yet.

#![forbid(unsafe_code)]
