//! Signed checkpoints and Merkle proofs: trusted anchors for a journal.
//!
//! A checkpoint is the host's signed statement "this plane's journal has `size` records, the
//! last with hash `head_hash`, and their Merkle root ([`ro_core::merkle`]) is `merkle_root`,
//! as of `at`". It is signed with the host's Ed25519 checkpoint key, kept in the key file and
//! never in the store, over
//! `ro.checkpoint.v1\0 ‖ plane_id (32) ‖ size (8, big-endian) ‖ head_hash (32) ‖ merkle_root (32) ‖ at (RFC 3339)`.
//! Published anywhere (a ticket, a chat, another system), it lets anyone holding the public
//! key (`ro keys`) check an export without trusting whoever stored it: records removed,
//! rewritten and re-hashed, or renumbered before the checkpoint's size fail against it, and
//! records after it are reported as not covered. Inclusion and consistency proofs show a
//! record is in a checkpointed tree, or that one checkpoint's tree extends another's, with
//! `O(log n)` hashes.

use ed25519_dalek::{Signature, Signer, VerifyingKey};
use ro_core::{Actor, Digest, EventMeta, Record, Timestamp, merkle};
use serde::{Deserialize, Serialize};

use crate::keys::Keys;

/// The format of a checkpoint.
pub const CHECKPOINT_FORMAT: &str = "ro.checkpoint.v1";

/// A signed checkpoint, as `ro checkpoint` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// [`CHECKPOINT_FORMAT`].
    pub format: String,
    /// The plane's id (see `ro_admin::signing::plane_id_of`).
    pub plane_id: Digest,
    /// How many records it covers (its head's seq).
    pub size: u64,
    /// The hash of record `size` (zeros for an empty journal).
    pub head_hash: Digest,
    /// The Merkle root of the first `size` record hashes.
    pub merkle_root: Digest,
    /// When the host signed it.
    pub at: Timestamp,
    /// The signing key, 64 hex digits: compare it with the key the host published.
    pub public_key: String,
    /// The Ed25519 signature, 128 hex digits.
    pub signature: String,
}

/// Why a checkpoint or a proof was refused: each with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Not a checkpoint of this format, or its signature does not verify.
    #[error("the checkpoint is not valid: {0}")]
    Invalid(String),
    /// Signed by a key other than the trusted one.
    #[error("the checkpoint is signed by {found}, not by the trusted key {trusted}")]
    KeyMismatch {
        /// The key that signed.
        found: String,
        /// The key trusted.
        trusted: String,
    },
    /// The journal has fewer records than the checkpoint covers: records were removed.
    #[error(
        "the journal has {records} records, the checkpoint covers {size}: records were removed"
    )]
    Missing {
        /// Records in the journal.
        records: u64,
        /// Records the checkpoint covers.
        size: u64,
    },
    /// The journal's records up to the checkpoint are not the ones it covers.
    #[error(
        "the journal's first {size} records do not match the checkpoint ({what}): they were rewritten"
    )]
    Mismatch {
        /// Records the checkpoint covers.
        size: u64,
        /// What differs.
        what: &'static str,
    },
    /// Records after the checkpoint: nothing proves them.
    #[error(
        "records {from} to {to} come after the checkpoint: nothing proves them (take a newer checkpoint, or allow an unproven tail)"
    )]
    UnprovenTail {
        /// The first record not covered.
        from: u64,
        /// The last record.
        to: u64,
    },
    /// A proof does not verify against its checkpoints.
    #[error("the proof does not verify: {0}")]
    Proof(String),
}

impl CheckpointError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            CheckpointError::Invalid(_) => "CHECKPOINT_INVALID",
            CheckpointError::KeyMismatch { .. } => "CHECKPOINT_KEY_MISMATCH",
            CheckpointError::Missing { .. } => "CHECKPOINT_RECORDS_MISSING",
            CheckpointError::Mismatch { .. } => "CHECKPOINT_MISMATCH",
            CheckpointError::UnprovenTail { .. } => "UNPROVEN_TAIL",
            CheckpointError::Proof(_) => "PROOF_INVALID",
        }
    }
}

use ro_admin::signing::to_hex as hex;

/// The bytes a checkpoint's signature covers.
pub fn checkpoint_message(
    plane_id: &Digest,
    size: u64,
    head_hash: &Digest,
    merkle_root: &Digest,
    at: Timestamp,
) -> Vec<u8> {
    let mut message = b"ro.checkpoint.v1\0".to_vec();
    message.extend_from_slice(plane_id.as_bytes());
    message.extend_from_slice(&size.to_be_bytes());
    message.extend_from_slice(head_hash.as_bytes());
    message.extend_from_slice(merkle_root.as_bytes());
    message.extend_from_slice(at.to_rfc3339().as_bytes());
    message
}

/// The Merkle leaves of `records` (in order).
pub fn leaves(records: &[Record]) -> Vec<Digest> {
    records.iter().map(|r| merkle::leaf_hash(&r.hash)).collect()
}

/// The plane's id, from its first record (all zeros for an empty journal or a first record
/// that is not a plane's).
pub fn plane_id(records: &[Record]) -> Digest {
    #[derive(Deserialize)]
    struct Head {
        at: Timestamp,
        actor: Actor,
        causation: Option<Digest>,
    }
    let Some(first) = records.first() else {
        return Digest::from_bytes([0; 32]);
    };
    match serde_json::from_slice::<Head>(&first.body) {
        Ok(head) => ro_admin::signing::plane_id_of(&EventMeta {
            seq: first.seq,
            at: head.at,
            actor: &head.actor,
            correlation_id: None,
            causation: head.causation.as_ref(),
        }),
        Err(_) => Digest::from_bytes([0; 32]),
    }
}

/// Signs a checkpoint of `records` (a whole journal) at `at`.
pub fn sign(first: Option<&Record>, hashes: &[Digest], keys: &Keys, at: Timestamp) -> Checkpoint {
    let size = hashes.len() as u64;
    let head_hash = hashes
        .last()
        .copied()
        .unwrap_or(Digest::from_bytes([0; 32]));
    let leaves: Vec<Digest> = hashes.iter().map(merkle::leaf_hash).collect();
    let merkle_root = merkle::root(&leaves);
    let plane_id = plane_id(first.map(std::slice::from_ref).unwrap_or_default());
    let key = keys.checkpoint_signing_key();
    let signature = key.sign(&checkpoint_message(
        &plane_id,
        size,
        &head_hash,
        &merkle_root,
        at,
    ));
    Checkpoint {
        format: CHECKPOINT_FORMAT.to_owned(),
        plane_id,
        size,
        head_hash,
        merkle_root,
        at,
        public_key: hex(key.verifying_key().as_bytes()),
        signature: hex(&signature.to_bytes()),
    }
}

impl Checkpoint {
    /// Checks the format and the signature, and that the signer is `trusted` (64 hex digits)
    /// when given. Without a trusted key, the checkpoint proves only that whoever holds its
    /// own key signed it.
    pub fn verify_signature(&self, trusted: Option<&str>) -> Result<(), CheckpointError> {
        if self.format != CHECKPOINT_FORMAT {
            return Err(CheckpointError::Invalid(format!(
                "format {:?}, expected {CHECKPOINT_FORMAT:?}",
                self.format
            )));
        }
        if let Some(trusted) = trusted
            && trusted != self.public_key
        {
            return Err(CheckpointError::KeyMismatch {
                found: self.public_key.clone(),
                trusted: trusted.to_owned(),
            });
        }
        let public = ro_admin::signing::parse_hex::<32>(&self.public_key, "public_key")
            .map_err(CheckpointError::Invalid)?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| CheckpointError::Invalid("public_key is not an Ed25519 key".into()))?;
        let signature = ro_admin::signing::parse_hex::<64>(&self.signature, "signature")
            .map_err(CheckpointError::Invalid)?;
        let message = checkpoint_message(
            &self.plane_id,
            self.size,
            &self.head_hash,
            &self.merkle_root,
            self.at,
        );
        key.verify_strict(&message, &Signature::from_bytes(&signature))
            .map_err(|_| CheckpointError::Invalid("the signature does not verify".into()))
    }

    /// Checks a journal's records (already chain-verified) against the checkpoint: the first
    /// `size` records must be the ones it covers. Records after it are refused unless
    /// `allow_tail`; returns how many there are.
    pub fn check_records(
        &self,
        records: &[Record],
        allow_tail: bool,
    ) -> Result<u64, CheckpointError> {
        let covered = records
            .get(..usize::try_from(self.size).unwrap_or(usize::MAX))
            .unwrap_or(records);
        let hashes: Vec<Digest> = covered.iter().map(|r| r.hash).collect();
        self.check_hashes(records.first(), &hashes, records.len() as u64, allow_tail)
    }

    /// As [`Checkpoint::check_records`] from what a journal read once yields: its first record
    /// (the plane's id), the hashes of its first `size` records (or all, when it has fewer),
    /// and how many records it holds.
    pub fn check_hashes(
        &self,
        first: Option<&Record>,
        hashes: &[Digest],
        total: u64,
        allow_tail: bool,
    ) -> Result<u64, CheckpointError> {
        if total < self.size {
            return Err(CheckpointError::Missing {
                records: total,
                size: self.size,
            });
        }
        let covered = hashes
            .get(..usize::try_from(self.size).unwrap_or(usize::MAX))
            .unwrap_or(hashes);
        if plane_id(first.map(std::slice::from_ref).unwrap_or_default()) != self.plane_id
            && self.size > 0
        {
            return Err(CheckpointError::Mismatch {
                size: self.size,
                what: "plane id",
            });
        }
        let head = covered
            .last()
            .copied()
            .unwrap_or(Digest::from_bytes([0; 32]));
        if head != self.head_hash {
            return Err(CheckpointError::Mismatch {
                size: self.size,
                what: "head hash",
            });
        }
        let leaves: Vec<Digest> = covered.iter().map(merkle::leaf_hash).collect();
        if merkle::root(&leaves) != self.merkle_root {
            return Err(CheckpointError::Mismatch {
                size: self.size,
                what: "Merkle root",
            });
        }
        let tail = total - self.size;
        if tail > 0 && !allow_tail {
            return Err(CheckpointError::UnprovenTail {
                from: self.size + 1,
                to: total,
            });
        }
        Ok(tail)
    }
}

/// An inclusion proof: record `seq` (its hash) is in the tree of the first `size` records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// The record's seq (its leaf index is `seq - 1`).
    pub seq: u64,
    /// The tree's size.
    pub size: u64,
    /// The record's hash.
    pub record_hash: Digest,
    /// The audit path, leaf to root.
    pub path: Vec<Digest>,
}

/// A consistency proof: the tree of the first `old_size` records is a prefix of the tree of
/// the first `new_size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// The older tree's size.
    pub old_size: u64,
    /// The newer tree's size.
    pub new_size: u64,
    /// The proof's nodes.
    pub path: Vec<Digest>,
}

/// The leaves of the tree of the first `size` records, from the records' hashes.
fn prefix_leaves(hashes: &[Digest], size: u64) -> Option<Vec<Digest>> {
    let tree = hashes.get(..usize::try_from(size).ok()?)?;
    Some(tree.iter().map(merkle::leaf_hash).collect())
}

/// The inclusion proof of record `seq` in the tree of the first `size` records, from the
/// journal's record hashes (in seq order).
pub fn inclusion(hashes: &[Digest], seq: u64, size: u64) -> Option<InclusionProof> {
    let leaves = prefix_leaves(hashes, size)?;
    let index = usize::try_from(seq.checked_sub(1)?).ok()?;
    let record_hash = *hashes.get(..leaves.len())?.get(index)?;
    Some(InclusionProof {
        seq,
        size,
        record_hash,
        path: merkle::inclusion_proof(&leaves, index)?,
    })
}

/// The consistency proof between the trees of the first `old_size` and `new_size` records,
/// from the journal's record hashes (in seq order).
pub fn consistency(hashes: &[Digest], old_size: u64, new_size: u64) -> Option<ConsistencyProof> {
    let leaves = prefix_leaves(hashes, new_size)?;
    Some(ConsistencyProof {
        old_size,
        new_size,
        path: merkle::consistency_proof(&leaves, usize::try_from(old_size).ok()?)?,
    })
}

impl InclusionProof {
    /// Checks the proof against a checkpoint of the same size (whose signature the caller
    /// checked).
    pub fn verify(&self, checkpoint: &Checkpoint) -> Result<(), CheckpointError> {
        if checkpoint.size != self.size {
            return Err(CheckpointError::Proof(format!(
                "the proof is for a tree of {} records, the checkpoint covers {}",
                self.size, checkpoint.size
            )));
        }
        let leaf = merkle::leaf_hash(&self.record_hash);
        let index = self
            .seq
            .checked_sub(1)
            .ok_or_else(|| CheckpointError::Proof("seq starts at 1".into()))?;
        if merkle::verify_inclusion(&leaf, index, self.size, &self.path, &checkpoint.merkle_root) {
            Ok(())
        } else {
            Err(CheckpointError::Proof(format!(
                "record {} with hash {} is not in the checkpointed tree",
                self.seq, self.record_hash
            )))
        }
    }
}

impl ConsistencyProof {
    /// Checks the proof between two checkpoints of its sizes (whose signatures the caller
    /// checked).
    pub fn verify(&self, old: &Checkpoint, new: &Checkpoint) -> Result<(), CheckpointError> {
        if (old.size, new.size) != (self.old_size, self.new_size) {
            return Err(CheckpointError::Proof(format!(
                "the proof is between {} and {} records, the checkpoints cover {} and {}",
                self.old_size, self.new_size, old.size, new.size
            )));
        }
        if old.plane_id != new.plane_id {
            return Err(CheckpointError::Proof(
                "the checkpoints are of different planes".into(),
            ));
        }
        if merkle::verify_consistency(
            self.old_size,
            self.new_size,
            &old.merkle_root,
            &new.merkle_root,
            &self.path,
        ) {
            Ok(())
        } else {
            Err(CheckpointError::Proof(
                "the newer tree does not extend the older one: history was rewritten".into(),
            ))
        }
    }
}
