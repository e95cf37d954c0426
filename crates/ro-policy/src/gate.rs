//! [`Gate`]: the verdict of a data-quality gate, shared by the artifact store (which records it)
//! and the jobs plane (which observes it before it runs anything that reads the data).

use serde::{Deserialize, Serialize};

/// An artifact's gate: no PASS, no read.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Gate {
    /// Not yet evaluated.
    Pending,
    /// Passed: may be read.
    Pass,
    /// Failed: may not be read.
    Fail,
}

impl Gate {
    /// The gate's wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Gate::Pending => "PENDING",
            Gate::Pass => "PASS",
            Gate::Fail => "FAIL",
        }
    }
}
