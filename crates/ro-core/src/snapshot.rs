//! Snapshots: a cache of a kernel's state, never the truth.
//!
//! A snapshot records the head it reflects (seq and hash), the state digest, a fingerprint of
//! the state type, and the state as rkyv bytes, all under a blake3 checksum. Loading checks
//! the checksum, the fingerprint, the archive's structure (bytecheck) and that the journal
//! holds the same hash at that seq, and that the state read back has the recorded state digest
//! (so a snapshot of another layout can never pass for this one); anything wrong falls back to
//! full replay.
//!
//! Layout (little-endian): `ROSNAP\0\x01` ‖ head_seq u64 ‖ head_hash 32 ‖ state_digest 32 ‖
//! state_kind 32 ‖ payload_len u64 ‖ payload ‖ blake3 checksum of everything before it.

use rkyv::{
    Archive,
    api::high::{HighDeserializer, HighSerializer, HighValidator},
    bytecheck::CheckBytes,
    rancor,
    ser::allocator::ArenaHandle,
    util::AlignedVec,
};
use serde::Serialize;

use crate::{
    Decider, Digest, Event, Kernel,
    decider::{ReplayError, state_digest},
    journal::Journal,
};

const MAGIC: &[u8; 8] = b"ROSNAP\0\x01";
const HEADER_LEN: usize = 8 + 8 + 32 + 32 + 32 + 8;

/// What a snapshot says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// The last seq the state reflects.
    pub head_seq: u64,
    /// The journal's hash at `head_seq`.
    pub head_hash: Digest,
    /// The state digest at `head_seq`.
    pub state_digest: Digest,
}

impl SnapshotHeader {
    /// Whether `journal` holds the snapshot's head (seq 0 is the empty journal): the head
    /// check a restore makes before using a snapshot.
    pub fn matches(&self, journal: &Journal) -> bool {
        if self.head_seq == 0 {
            self.head_hash == Digest::ZERO
        } else if self.head_seq == journal.base().seq {
            journal.base().hash == self.head_hash
        } else {
            journal
                .get(self.head_seq)
                .is_some_and(|r| r.hash == self.head_hash)
        }
    }
}

/// Why a snapshot was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Too short, wrong magic or wrong length.
    #[error("not a snapshot (truncated, or not written by ro)")]
    Malformed,
    /// The checksum does not match: the bytes were damaged.
    #[error("snapshot checksum mismatch: the bytes are damaged")]
    Checksum,
    /// Written for another state type or event schema version.
    #[error("snapshot was written for another state type or schema version")]
    ForeignKind,
    /// The archive failed validation or decoding.
    #[error("snapshot archive is invalid: {0}")]
    Archive(String),
    /// The state read back does not have the digest the snapshot recorded (a writer of
    /// another layout, or bytes forged under a valid checksum).
    #[error("snapshot state does not match its recorded digest")]
    DigestMismatch,
    /// The journal does not hold the snapshot's head.
    #[error("snapshot head (seq {seq}) does not match the journal")]
    HeadMismatch {
        /// The snapshot's head seq.
        seq: u64,
    },
    /// The state could not be encoded.
    #[error("state could not be encoded: {0}")]
    Encode(String),
}

/// How a kernel was restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restored {
    /// From the snapshot, replaying only the records after `seq`.
    FromSnapshot {
        /// The snapshot's head seq.
        seq: u64,
    },
    /// The snapshot was unusable; the whole journal was replayed.
    FullReplay {
        /// Why the snapshot was not used.
        reason: SnapshotError,
    },
}

/// A fingerprint of the state type and its event schema version: a snapshot is only read back
/// into the same type.
fn state_kind<D: Decider>() -> Digest {
    Digest::of_parts(&[
        b"ro.snapshot-kind.v1\0",
        std::any::type_name::<D>().as_bytes(),
        &D::Event::SCHEMA_VERSION.to_le_bytes(),
    ])
}

fn read_array<const N: usize>(bytes: &[u8], at: usize) -> Result<[u8; N], SnapshotError> {
    bytes
        .get(at..at + N)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or(SnapshotError::Malformed)
}

/// Reads a snapshot's header after checking its checksum and that it was written for `D`,
/// without reading the state back.
pub fn snapshot_header<D: Decider>(bytes: &[u8]) -> Result<SnapshotHeader, SnapshotError> {
    header_and_payload::<D>(bytes).map(|(header, _)| header)
}

fn header_and_payload<D: Decider>(bytes: &[u8]) -> Result<(SnapshotHeader, &[u8]), SnapshotError> {
    if bytes.len() < HEADER_LEN + 32 || bytes.get(..8) != Some(&MAGIC[..]) {
        return Err(SnapshotError::Malformed);
    }
    let split = bytes.len() - 32;
    let (content, checksum) = bytes.split_at(split);
    if Digest::of(content).as_bytes().as_slice() != checksum {
        return Err(SnapshotError::Checksum);
    }
    let head_seq = u64::from_le_bytes(read_array(content, 8)?);
    let head_hash = Digest::from_bytes(read_array(content, 16)?);
    let digest = Digest::from_bytes(read_array(content, 48)?);
    let kind = Digest::from_bytes(read_array(content, 80)?);
    let len = u64::from_le_bytes(read_array(content, 112)?);
    if kind != state_kind::<D>() {
        return Err(SnapshotError::ForeignKind);
    }
    let payload = content.get(HEADER_LEN..).ok_or(SnapshotError::Malformed)?;
    if u64::try_from(payload.len()).ok() != Some(len) {
        return Err(SnapshotError::Malformed);
    }
    Ok((
        SnapshotHeader {
            head_seq,
            head_hash,
            state_digest: digest,
        },
        payload,
    ))
}

/// Reads a snapshot's header and state, checking everything that can be checked without the
/// journal.
pub fn decode_snapshot<D>(bytes: &[u8]) -> Result<(SnapshotHeader, D), SnapshotError>
where
    D: Decider + Archive,
    D::Archived: for<'a> CheckBytes<HighValidator<'a, rancor::Error>>
        + rkyv::Deserialize<D, HighDeserializer<rancor::Error>>,
{
    let (header, payload) = header_and_payload::<D>(bytes)?;
    // rkyv reads from aligned memory, and the validation checks every object's alignment:
    // a payload that happens to sit on an 8-byte boundary (the header is 120 bytes, so one
    // read into a heap buffer does) is read in place, saving a copy of the whole state.
    if payload.as_ptr().align_offset(8) == 0
        && let Ok(state) = rkyv::from_bytes::<D, rancor::Error>(payload)
    {
        return Ok((header, state));
    }
    let mut aligned = AlignedVec::<16>::with_capacity(payload.len());
    aligned.extend_from_slice(payload);
    let state = rkyv::from_bytes::<D, rancor::Error>(&aligned)
        .map_err(|e| SnapshotError::Archive(e.to_string()))?;
    Ok((header, state))
}

impl<D> Kernel<D>
where
    D: Decider
        + Serialize
        + Archive
        + for<'a> rkyv::Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>>,
    D::Archived: for<'a> CheckBytes<HighValidator<'a, rancor::Error>>
        + rkyv::Deserialize<D, HighDeserializer<rancor::Error>>,
{
    /// Writes a snapshot of the current state at the current head.
    pub fn snapshot(&self) -> Result<Vec<u8>, SnapshotError> {
        let head = self.head();
        let digest =
            state_digest(self.state()).map_err(|e| SnapshotError::Encode(e.to_string()))?;
        let payload = rkyv::to_bytes::<rancor::Error>(self.state())
            .map_err(|e| SnapshotError::Encode(e.to_string()))?;
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + 32);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&head.seq.to_le_bytes());
        out.extend_from_slice(head.hash.as_bytes());
        out.extend_from_slice(digest.as_bytes());
        out.extend_from_slice(state_kind::<D>().as_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&payload);
        let checksum = Digest::of(&out);
        out.extend_from_slice(checksum.as_bytes());
        Ok(out)
    }

    /// Restores from `snapshot` and the (verified) `journal`, replaying only the records after
    /// the snapshot's head. An unusable snapshot falls back to full replay and says why.
    pub fn restore(snapshot: &[u8], journal: Journal) -> Result<(Self, Restored), ReplayError> {
        Self::restore_with(snapshot, journal, D::default(), |_| {})
    }

    /// As [`Kernel::restore`] for a state that carries configuration outside the journal (a
    /// host's key): `fresh` is the initial state a full replay starts from, and `configure`
    /// is applied to a state read from the snapshot before its tail is replayed. Derived
    /// caches are rebuilt with [`Decider::restored`].
    pub fn restore_with(
        snapshot: &[u8],
        journal: Journal,
        fresh: D,
        configure: impl FnOnce(&mut D),
    ) -> Result<(Self, Restored), ReplayError> {
        match Self::check_snapshot(snapshot, &journal) {
            Ok((header, mut state)) => {
                state.restored();
                configure(&mut state);
                let kernel = Kernel::resume(state, header.head_seq, journal)?;
                Ok((
                    kernel,
                    Restored::FromSnapshot {
                        seq: header.head_seq,
                    },
                ))
            }
            Err(reason) => Ok((
                Kernel::resume(fresh, 0, journal)?,
                Restored::FullReplay { reason },
            )),
        }
    }

    /// As [`Kernel::restore_with`] for a snapshot whose origin the caller has authenticated
    /// (a store's keyed MAC made by the same build when it wrote the snapshot from a state it
    /// had folded): the state digest is not recomputed, the rest is checked as always
    /// (checksum, kind, archive, head). `journal` may start at the snapshot's head
    /// ([`Journal::starting_at`]); an unusable snapshot is an error then, since there is
    /// nothing to replay from.
    pub fn restore_authenticated(
        snapshot: &[u8],
        journal: Journal,
        configure: impl FnOnce(&mut D),
    ) -> Result<(Self, Restored), SnapshotError> {
        let (header, mut state) = Self::check_snapshot_with(snapshot, &journal, false)?;
        state.restored();
        configure(&mut state);
        let kernel = Kernel::resume(state, header.head_seq, journal)
            .map_err(|e| SnapshotError::Archive(e.to_string()))?;
        Ok((
            kernel,
            Restored::FromSnapshot {
                seq: header.head_seq,
            },
        ))
    }

    fn check_snapshot(
        snapshot: &[u8],
        journal: &Journal,
    ) -> Result<(SnapshotHeader, D), SnapshotError> {
        Self::check_snapshot_with(snapshot, journal, true)
    }

    fn check_snapshot_with(
        snapshot: &[u8],
        journal: &Journal,
        recompute_digest: bool,
    ) -> Result<(SnapshotHeader, D), SnapshotError> {
        let (header, state) = decode_snapshot::<D>(snapshot)?;
        if !header.matches(journal) {
            return Err(SnapshotError::HeadMismatch {
                seq: header.head_seq,
            });
        }
        if recompute_digest {
            let digest = state_digest(&state).map_err(|e| SnapshotError::Encode(e.to_string()))?;
            if digest != header.state_digest {
                return Err(SnapshotError::DigestMismatch);
            }
        }
        Ok((header, state))
    }
}
