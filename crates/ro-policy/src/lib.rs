//! Who may do what, and within which limits: roles, grants, authorization with explained
//! decisions, human-only and safety-direction rules, separation of duties, freeze and change
//! requests, config versions, secret references, budgets and rate limits, deviation SLAs.
//!
//! **Skeleton.** This crate is planned (issue "ro-policy: who may do what, within which
//! limits") and holds no items yet. It depends only on `ro-core`.

#![forbid(unsafe_code)]
