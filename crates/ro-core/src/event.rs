//! Events and their schema versions: the [`Event`] trait, [`Upcaster`]s and [`Envelope`].

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{Actor, Digest, Timestamp, context::CorrelationId};

/// A domain event: a closed enum of past-tense facts, serialisable to canonical JSON.
///
/// `SCHEMA_VERSION` is the version this build writes. Journals may hold older versions; each
/// is lifted to the current one on decoding by the [`Upcaster`]s, one version step at a time,
/// while the stored bytes (and so every hash) stay exactly as they were written.
pub trait Event: Serialize + DeserializeOwned + Clone + std::fmt::Debug {
    /// The schema version this build writes (1 or more).
    const SCHEMA_VERSION: u32;

    /// Upcasters from older versions, at most one per `from` version.
    fn upcasters() -> &'static [Upcaster] {
        &[]
    }
}

/// Lifts the JSON of an event from schema version `from` to `from + 1`.
#[derive(Debug, Clone, Copy)]
pub struct Upcaster {
    /// The version this upcaster reads.
    pub from: u32,
    /// The transformation; an error names what it could not lift.
    pub lift: fn(Value) -> Result<Value, String>,
}

/// Why a stored event could not be decoded into the current event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpcastError {
    /// The event was written by a newer build than this one.
    #[error("event schema version {found} is newer than this build's {current}: upgrade ro")]
    FromTheFuture {
        /// The stored version.
        found: u32,
        /// This build's version.
        current: u32,
    },
    /// No upcaster lifts this version.
    #[error("no upcaster from event schema version {0}")]
    Missing(u32),
    /// An upcaster refused the event.
    #[error("upcasting from schema version {from} failed: {message}")]
    Failed {
        /// The version being lifted.
        from: u32,
        /// The upcaster's message.
        message: String,
    },
    /// The (lifted) JSON does not decode as the current event type.
    #[error("event does not decode: {0}")]
    Decode(String),
}

/// Lifts `value`, written at schema version `version`, to `E::SCHEMA_VERSION` and decodes it.
pub fn upcast<E: Event>(version: u32, mut value: Value) -> Result<E, UpcastError> {
    let current = E::SCHEMA_VERSION;
    if version > current {
        return Err(UpcastError::FromTheFuture {
            found: version,
            current,
        });
    }
    if version == 0 {
        return Err(UpcastError::Missing(0));
    }
    for from in version..current {
        let upcaster = E::upcasters()
            .iter()
            .find(|u| u.from == from)
            .ok_or(UpcastError::Missing(from))?;
        value = (upcaster.lift)(value).map_err(|message| UpcastError::Failed { from, message })?;
    }
    serde_json::from_value(value).map_err(|e| UpcastError::Decode(e.to_string()))
}

/// What `evolve` learns about an event besides the event itself: where it sits in the stream,
/// when it happened, who caused it. Borrowed from the envelope, so folding costs no copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventMeta<'a> {
    /// Position in the stream.
    pub seq: u64,
    /// When the command that produced it applied.
    pub at: Timestamp,
    /// Who issued that command.
    pub actor: &'a Actor,
    /// The correlation id, if any.
    pub correlation_id: Option<&'a CorrelationId>,
    /// The command's digest, if any.
    pub causation: Option<&'a Digest>,
}

impl<E> Envelope<E> {
    /// The envelope's metadata, for [`crate::Decider::evolve`].
    pub fn meta(&self) -> EventMeta<'_> {
        EventMeta {
            seq: self.seq,
            at: self.at,
            actor: &self.actor,
            correlation_id: self.correlation_id.as_ref(),
            causation: self.causation.as_ref(),
        }
    }
}

/// An event as recorded: its place in the chain, when, by whom, and why.
///
/// `hash = blake3("ro.journal.v1\0" ‖ prev ‖ canonical body)`, where the body is the canonical
/// JSON of every field but `prev` and `hash` (`docs/journal-format.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<E> {
    /// Position in the stream, from 1, without gaps.
    pub seq: u64,
    /// The previous envelope's hash ([`Digest::ZERO`] for the first).
    pub prev: Digest,
    /// This envelope's hash.
    pub hash: Digest,
    /// When the command that produced it was applied (never earlier than `prev`'s).
    pub at: Timestamp,
    /// Who issued the command.
    pub actor: Actor,
    /// Ties the events of one request or workflow together across commands.
    pub correlation_id: Option<CorrelationId>,
    /// The digest of the command that produced this event, when the host supplied one.
    pub causation: Option<Digest>,
    /// The schema version the event was written with (the stored bytes' version; `event` is
    /// always lifted to the current one).
    pub schema_version: u32,
    /// The fact itself.
    pub event: E,
}
