//! Event-bus streams (seed 001, section 5): creation, retention and partition changes are
//! explicit, audited events with before and after; a retention change that shortens the replay
//! window says so as an operational fact, is safety-reducing and takes two steps.
//!
//! - `CREATE_STREAM`: a name, partitions, retention (hours) and access (who may publish, who
//!   may subscribe). Creating an existing stream again with the same settings is idempotent;
//!   with other settings it is refused (change it explicitly instead).
//! - `CHANGE_STREAM_RETENTION` (human-only): lengthening is one step; shortening is two-step
//!   and its event carries `shortens_replay_window: true` and the operational note.
//! - `CHANGE_STREAM_PARTITIONS` (human-only): partitions only grow (shrinking would reassign
//!   keys and lose ordering).
//! - Queries: `STREAMS` lists them; `may_publish`/`may_subscribe` answer access.

use std::collections::{BTreeMap, BTreeSet};

use ro_core::ActorId;
use serde::{Deserialize, Serialize};

/// The most partitions a stream may have.
pub const MAX_PARTITIONS: u32 = 4_096;
/// The longest retention, in hours (ten years).
pub const MAX_RETENTION_HOURS: u64 = 87_600;
/// The most principals in an access list.
pub const MAX_ACCESS: usize = 256;
/// What a retention change that shortens the replay window records.
pub const REPLAY_WINDOW_NOTE: &str = "retention changes can affect replay windows: events older than the new retention can no longer be replayed from this stream";

ro_core::id_kind!(
    /// Names an event-bus stream (topic).
    StreamName,
    StreamTag,
    "stream name"
);

/// A stream's settings.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    /// The stream.
    pub stream: StreamName,
    /// 1 to [`MAX_PARTITIONS`].
    pub partitions: u32,
    /// How long events are kept, in hours (1 to [`MAX_RETENTION_HOURS`]).
    pub retention_hours: u64,
    /// Who may publish.
    #[serde(default)]
    pub publishers: BTreeSet<ActorId>,
    /// Who may subscribe.
    #[serde(default)]
    pub subscribers: BTreeSet<ActorId>,
}

impl StreamSpec {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), String> {
        check_partitions(self.partitions)?;
        check_retention(self.retention_hours)?;
        if self.publishers.len() > MAX_ACCESS || self.subscribers.len() > MAX_ACCESS {
            return Err(format!("at most {MAX_ACCESS} principals per access list"));
        }
        Ok(())
    }
}

/// Checks a partition count.
pub fn check_partitions(partitions: u32) -> Result<(), String> {
    if (1..=MAX_PARTITIONS).contains(&partitions) {
        Ok(())
    } else {
        Err(format!("partitions are 1 to {MAX_PARTITIONS}"))
    }
}

/// Checks a retention.
pub fn check_retention(hours: u64) -> Result<(), String> {
    if (1..=MAX_RETENTION_HOURS).contains(&hours) {
        Ok(())
    } else {
        Err(format!(
            "retention_hours is 1 to {MAX_RETENTION_HOURS} (ten years)"
        ))
    }
}

/// The streams.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Streams {
    streams: BTreeMap<StreamName, StreamSpec>,
}

impl Streams {
    /// A stream's settings.
    pub fn get(&self, name: &StreamName) -> Option<&StreamSpec> {
        self.streams.get(name)
    }

    /// Every stream, by name.
    pub fn all(&self) -> impl Iterator<Item = &StreamSpec> {
        self.streams.values()
    }

    /// Whether `actor` may publish to `stream`.
    pub fn may_publish(&self, stream: &StreamName, actor: &ActorId) -> bool {
        self.streams
            .get(stream)
            .is_some_and(|s| s.publishers.contains(actor))
    }

    /// Whether `actor` may subscribe to `stream`.
    pub fn may_subscribe(&self, stream: &StreamName, actor: &ActorId) -> bool {
        self.streams
            .get(stream)
            .is_some_and(|s| s.subscribers.contains(actor))
    }

    pub(crate) fn create(&mut self, spec: &StreamSpec) {
        self.streams.insert(spec.stream.clone(), spec.clone());
    }

    pub(crate) fn set_retention(&mut self, stream: &StreamName, hours: u64) {
        if let Some(s) = self.streams.get_mut(stream) {
            s.retention_hours = hours;
        }
    }

    pub(crate) fn set_partitions(&mut self, stream: &StreamName, partitions: u32) {
        if let Some(s) = self.streams.get_mut(stream) {
            s.partitions = partitions;
        }
    }
}
