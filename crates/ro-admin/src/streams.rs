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
//! - `CHANGE_STREAM_ACCESS` (human-only): replaces who may publish or subscribe; two-step when
//!   it admits anyone new.
//! - Every change moves the stream's settings version (1 at creation), carried by its event.
//! - A principal is listed as a publisher (subscriber) only if a role grants it
//!   `PUBLISH_STREAM` (`SUBSCRIBE_STREAM`); [`Plane::may_publish`] and
//!   [`Plane::may_subscribe`] need both, the list and the permission, at the time asked.
//! - Queries: `STREAMS` lists them with their versions.

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

/// The partition a key goes to on a stream of `partitions` (on the bus, the subject
/// `<stream>.<partition>`): the first eight bytes of the key's BLAKE3 digest, little-endian,
/// modulo the count. Producers compute the same, so one key keeps one partition and its order.
pub fn partition_of(key: &[u8], partitions: u32) -> u32 {
    let digest = ro_core::Digest::of(key);
    let mut first = [0u8; 8];
    for (to, from) in first.iter_mut().zip(digest.as_bytes()) {
        *to = *from;
    }
    let n = u64::from(partitions.max(1));
    u32::try_from(u64::from_le_bytes(first) % n).unwrap_or(0)
}

/// Who may publish to and subscribe to a stream.
#[derive(
    Debug,
    Clone,
    Default,
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
pub struct StreamAccess {
    /// Who may publish.
    pub publishers: BTreeSet<ActorId>,
    /// Who may subscribe.
    pub subscribers: BTreeSet<ActorId>,
}

/// A stream as the `STREAMS` query lists it: its settings and their version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct StreamView {
    /// Its settings.
    #[serde(flatten)]
    pub spec: StreamSpec,
    /// 1 at creation, one more at each change of retention, partitions or access.
    pub version: u32,
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
    /// Each stream's settings version (absent: 1, a stream created before versions).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    versions: BTreeMap<StreamName, u32>,
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

    /// A stream's settings version (1 at creation).
    pub fn version(&self, name: &StreamName) -> u32 {
        self.versions.get(name).copied().unwrap_or(1)
    }

    /// Whether `actor` is listed as a publisher of `stream` (see [`Plane::may_publish`] for
    /// whether it may publish).
    pub fn lists_publisher(&self, stream: &StreamName, actor: &ActorId) -> bool {
        self.streams
            .get(stream)
            .is_some_and(|s| s.publishers.contains(actor))
    }

    /// Whether `actor` is listed as a subscriber of `stream`.
    pub fn lists_subscriber(&self, stream: &StreamName, actor: &ActorId) -> bool {
        self.streams
            .get(stream)
            .is_some_and(|s| s.subscribers.contains(actor))
    }

    pub(crate) fn create(&mut self, spec: &StreamSpec) {
        self.streams.insert(spec.stream.clone(), spec.clone());
        self.versions.insert(spec.stream.clone(), 1);
    }

    fn set_version(&mut self, stream: &StreamName, version: u32) {
        if version > 0 {
            self.versions.insert(stream.clone(), version);
        }
    }

    pub(crate) fn set_access(&mut self, stream: &StreamName, access: &StreamAccess) {
        if let Some(s) = self.streams.get_mut(stream) {
            s.publishers.clone_from(&access.publishers);
            s.subscribers.clone_from(&access.subscribers);
        }
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

    /// Whether `actor` may publish to `stream` now: listed as a publisher, and a role grants
    /// it `PUBLISH_STREAM`.
    pub fn may_publish(&self, stream: &StreamName, actor: &ro_core::Actor) -> bool {
        self.streams.lists_publisher(stream, &actor.id)
            && self
                .authorize(Action::PublishStream, &format!("stream:{stream}"), actor)
                .is_ok()
    }

    /// Whether `actor` may subscribe to `stream` now: listed, and a role grants it
    /// `SUBSCRIBE_STREAM`.
    pub fn may_subscribe(&self, stream: &StreamName, actor: &ro_core::Actor) -> bool {
        self.streams.lists_subscriber(stream, &actor.id)
            && self
                .authorize(Action::SubscribeStream, &format!("stream:{stream}"), actor)
                .is_ok()
    }

    /// Refuses an access list naming a principal no role lets publish (subscribe).
    fn check_access(
        &self,
        stream: &StreamName,
        publishers: &BTreeSet<ActorId>,
        subscribers: &BTreeSet<ActorId>,
    ) -> Result<(), PlaneRejection> {
        let resource = format!("stream:{stream}");
        let lists = [
            (publishers, Action::PublishStream),
            (subscribers, Action::SubscribeStream),
        ];
        for (list, action) in lists {
            for id in list {
                let kind = self
                    .policy
                    .access()
                    .principals()
                    .get(id)
                    .copied()
                    .unwrap_or(ro_core::ActorKind::Human);
                let actor = ro_core::Actor {
                    id: id.clone(),
                    kind,
                };
                if self.authorize(action, &resource, &actor).is_err() {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "{id} is listed for {stream} but no role grants it {action}: grant one first"
                    )));
                }
            }
        }
        Ok(())
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
                None => {
                    self.check_access(&spec.stream, &spec.publishers, &spec.subscribers)?;
                    Ok(vec![PlaneEvent::Admin(AdminEvent::StreamCreated {
                        spec: (**spec).clone(),
                        by,
                        reason,
                    })])
                }
            },
            AdminCommand::ChangeStreamAccess {
                stream,
                publishers,
                subscribers,
            } => {
                let current = self
                    .streams
                    .get(stream)
                    .ok_or_else(|| PlaneRejection::UnknownStream(stream.clone()))?;
                let before = StreamAccess {
                    publishers: current.publishers.clone(),
                    subscribers: current.subscribers.clone(),
                };
                let after = StreamAccess {
                    publishers: publishers
                        .clone()
                        .unwrap_or_else(|| before.publishers.clone()),
                    subscribers: subscribers
                        .clone()
                        .unwrap_or_else(|| before.subscribers.clone()),
                };
                if after.publishers.len() > MAX_ACCESS || after.subscribers.len() > MAX_ACCESS {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "at most {MAX_ACCESS} principals per access list"
                    )));
                }
                if after == before {
                    return Ok(Vec::new());
                }
                self.check_access(stream, &after.publishers, &after.subscribers)?;
                Ok(vec![PlaneEvent::Admin(AdminEvent::StreamAccessChanged {
                    stream: stream.clone(),
                    before,
                    after,
                    version: self.streams.version(stream).saturating_add(1),
                    by,
                    reason,
                })])
            }
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
                        version: self.streams.version(stream).saturating_add(1),
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
                        version: self.streams.version(stream).saturating_add(1),
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
            AdminEvent::StreamRetentionChanged {
                stream,
                after,
                version,
                ..
            } => {
                self.streams.set_retention(stream, *after);
                self.streams.set_version(stream, *version);
            }
            AdminEvent::StreamPartitionsChanged {
                stream,
                after,
                version,
                ..
            } => {
                self.streams.set_partitions(stream, *after);
                self.streams.set_version(stream, *version);
            }
            AdminEvent::StreamAccessChanged {
                stream,
                after,
                version,
                ..
            } => {
                self.streams.set_access(stream, after);
                self.streams.set_version(stream, *version);
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
        AdminEvent::StreamAccessChanged {
            stream,
            before,
            after,
            version,
            reason,
            ..
        } => applied(
            Action::ChangeStreamAccess,
            vec![format!("stream:{stream}")],
            reason,
            (
                json!(before),
                json!({ "access": after, "version": version }),
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
