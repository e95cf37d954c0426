//! The plane that composes policy, artifacts and jobs: admin actions and their audit events,
//! two-step confirmations, lockdown and kill switch, model promotion, health and reports.
//!
//! **Skeleton.** This crate is planned (issue "ro-admin") and holds no items yet.

#![forbid(unsafe_code)]
