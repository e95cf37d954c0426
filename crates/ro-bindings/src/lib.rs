//! The only IO of ro: the JSON protocol ([`protocol`]), its JSON Schema contracts
//! ([`schema`]), the embedded SQLite store ([`store`]) and the `ro` command-line host
//! ([`host`], `src/main.rs`).
//!
//! The fixed points are those of `../shared/design/protocol.md`: one JSON command per line in,
//! one JSON response per line out, printed only once the command's events are durable.
//!
//! Queries (`READ_ARTIFACT`, `HANDOFF_PACKAGE`, `NEXT_RUNS`, `OPS_STATUS`, `RUN_STATUS`,
//! `HEARTBEAT`, `HEALTH_CHECKLIST`) answer in `result` and append nothing.
//!
//! Not built yet (see ARCHITECTURE.md): rkyv snapshots in the store, and reports.

#![forbid(unsafe_code)]

#[cfg(feature = "serve")]
pub mod bus;
pub mod checkpoint;
pub mod client;
pub mod evidence;
pub mod host;
pub mod keys;
pub mod openapi;
pub mod pg;
pub mod protocol;
pub mod schema;
#[cfg(feature = "serve")]
pub mod serve;
pub mod store;
