//! Event-bus streams: creation, retention and partition changes are
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

use ro_core::{ActorId, Context};
use ro_policy::Action;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{Classified, applied};
use crate::{AdminCommand, AdminEvent, Plane, PlaneEvent, PlaneRejection, raise};

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

impl ro_core::Check for StreamSpec {
    /// Checks the settings.
    fn check(&self) -> Result<(), String> {
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

impl Plane {
    /// The event-bus streams.
    pub fn streams(&self) -> &Streams {
        &self.streams
    }

    pub(crate) fn decide_streams(
        &self,
        admin: &AdminCommand,
        ctx: &Context,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        let (by, reason) = (ctx.actor.id.clone(), ctx.reason.clone());
        match admin {
            AdminCommand::CreateStream(spec) => match self.streams.get(&spec.stream) {
                Some(existing) if existing == &**spec => Ok(Vec::new()),
                Some(_) => Err(PlaneRejection::InvalidArgument(format!(
                    "stream {} exists with other settings; change its retention or partitions explicitly",
                    spec.stream
                ))),
                None => Ok(vec![PlaneEvent::Admin(AdminEvent::StreamCreated {
                    spec: (**spec).clone(),
                    by,
                    reason,
                })]),
            },
            AdminCommand::ChangeStreamRetention {
                stream,
                retention_hours,
            } => {
                let current = self
                    .streams
                    .get(stream)
                    .ok_or_else(|| PlaneRejection::UnknownStream(stream.clone()))?;
                check_retention(*retention_hours).map_err(PlaneRejection::InvalidArgument)?;
                let before = current.retention_hours;
                if *retention_hours == before {
                    return Ok(Vec::new());
                }
                // Shortening takes two steps (the plane checks the confirmation).
                let shortens = *retention_hours < before;
                Ok(vec![PlaneEvent::Admin(
                    AdminEvent::StreamRetentionChanged {
                        stream: stream.clone(),
                        before,
                        after: *retention_hours,
                        shortens_replay_window: shortens,
                        note: shortens.then(|| REPLAY_WINDOW_NOTE.to_owned()),
                        by,
                        reason,
                    },
                )])
            }
            AdminCommand::ChangeStreamPartitions { stream, partitions } => {
                let current = self
                    .streams
                    .get(stream)
                    .ok_or_else(|| PlaneRejection::UnknownStream(stream.clone()))?;
                check_partitions(*partitions).map_err(PlaneRejection::InvalidArgument)?;
                let before = current.partitions;
                if *partitions < before {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "partitions only grow ({before} now): shrinking would reassign keys and lose ordering"
                    )));
                }
                Ok(raise(
                    *partitions == before,
                    AdminEvent::StreamPartitionsChanged {
                        stream: stream.clone(),
                        before,
                        after: *partitions,
                        by,
                        reason,
                    },
                ))
            }
            _ => Err(crate::misrouted()),
        }
    }

    pub(crate) fn evolve_streams(&mut self, event: &AdminEvent) {
        match event {
            AdminEvent::StreamCreated { spec, .. } => self.streams.create(spec),
            AdminEvent::StreamRetentionChanged { stream, after, .. } => {
                self.streams.set_retention(stream, *after);
            }
            AdminEvent::StreamPartitionsChanged { stream, after, .. } => {
                self.streams.set_partitions(stream, *after);
            }
            _ => {}
        }
    }
}

/// The audit record's shape of a stream event.
pub(crate) fn classify(event: &AdminEvent) -> Option<Classified> {
    match event {
        AdminEvent::StreamCreated { spec, reason, .. } => applied(
            Action::CreateStream,
            vec![format!("stream:{}", spec.stream)],
            reason,
            (Value::Null, json!(spec)),
        ),
        AdminEvent::StreamRetentionChanged {
            stream,
            before,
            after,
            shortens_replay_window,
            note,
            reason,
            ..
        } => applied(
            Action::ChangeStreamRetention,
            vec![format!("stream:{stream}")],
            reason,
            (
                json!({ "retention_hours": before }),
                json!({ "retention_hours": after, "shortens_replay_window": shortens_replay_window, "note": note }),
            ),
        ),
        AdminEvent::StreamPartitionsChanged {
            stream,
            before,
            after,
            reason,
            ..
        } => applied(
            Action::ChangeStreamPartitions,
            vec![format!("stream:{stream}")],
            reason,
            (
                json!({ "partitions": before }),
                json!({ "partitions": after }),
            ),
        ),
        _ => None,
    }
}
