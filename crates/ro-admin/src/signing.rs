//! Signed operations (seed 003): principals register Ed25519 public keys; policy can require a
//! signature for chosen actions; a command then arrives wrapped in `PlaneCommand::Signed`, and
//! the plane verifies the signature over [`signing_message`] before anything else. A verified
//! signature is recorded (`SignatureVerified`: key id, command digest); a failed one is
//! refused (`SIGNATURE_INVALID`), recorded (`SignatureRejected`) and opens the
//! `signature_verification_failure` deviation (critical, halt, one hour).
//!
//! Placement: signing wraps commands of every domain, so it lives where the plane decides;
//! ro-policy stays free of cryptography and its authorization rules unchanged.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use ro_core::{ActorId, Digest, Timestamp};
use ro_policy::{Action, ActionSet};
use serde::Serialize;

ro_core::id_kind!(
    /// Names a registered signing key.
    KeyId,
    KeyTag,
    "key id"
);

/// A registered public key.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct RegisteredKey {
    /// Whose key it is.
    pub principal: ActorId,
    /// The Ed25519 public key.
    pub public_key: [u8; 32],
}

/// Keys and the actions that need a signature.
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
pub struct Signing {
    keys: BTreeMap<KeyId, RegisteredKey>,
    required: ActionSet,
}

/// The bytes a signature covers: a domain tag, the command's digest (its canonical JSON
/// without any confirmation token, so one signature serves both steps of a two-step command)
/// and the instant the command applies at (its `at`, RFC 3339), so that a signed command cannot
/// be replayed at another time.
pub fn signing_message(command_digest: &Digest, at: Timestamp) -> Vec<u8> {
    let mut message = b"ro.signature.v1\0".to_vec();
    message.extend_from_slice(command_digest.as_bytes());
    message.extend_from_slice(at.to_rfc3339().as_bytes());
    message
}

/// Parses a lowercase hex string of exactly `N` bytes.
pub fn parse_hex<const N: usize>(text: &str, what: &str) -> Result<[u8; N], String> {
    let bytes = text.as_bytes();
    if bytes.len() != 2 * N {
        return Err(format!("{what} is {} hex digits", 2 * N));
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let (Some(&hi), Some(&lo)) = (pair.first(), pair.get(1)) else {
            return Err(format!("{what} is not hex"));
        };
        match (digit(hi), digit(lo)) {
            (Some(h), Some(l)) => *slot = (h << 4) | l,
            _ => {
                return Err(format!(
                    "{what} holds a character that is not lowercase hex"
                ));
            }
        }
    }
    Ok(out)
}

impl Signing {
    /// A registered key.
    pub fn key(&self, id: &KeyId) -> Option<&RegisteredKey> {
        self.keys.get(id)
    }

    /// The actions that need a signature.
    pub fn required(&self) -> ActionSet {
        self.required
    }

    /// Whether `action` needs a signature.
    pub fn requires(&self, action: Action) -> bool {
        self.required.contains(action)
    }

    /// Checks that `signature` (hex) by `key_id`, a key of `actor`, signs `command_digest` at
    /// `at`.
    pub fn verify(
        &self,
        key_id: &KeyId,
        actor: &ActorId,
        command_digest: &Digest,
        at: Timestamp,
        signature: &str,
    ) -> Result<(), String> {
        let key = self
            .keys
            .get(key_id)
            .ok_or_else(|| format!("unknown key {key_id}"))?;
        if &key.principal != actor {
            return Err(format!("key {key_id} is not a key of {actor}"));
        }
        let verifying = VerifyingKey::from_bytes(&key.public_key)
            .map_err(|_| format!("key {key_id} is not a valid Ed25519 public key"))?;
        let signature = Signature::from_bytes(&parse_hex::<64>(signature, "signature")?);
        verifying
            .verify(&signing_message(command_digest, at), &signature)
            .map_err(|_| "the signature does not verify".to_owned())
    }

    pub(crate) fn register(&mut self, key_id: &KeyId, key: RegisteredKey) {
        self.keys.insert(key_id.clone(), key);
    }

    pub(crate) fn set_required(&mut self, actions: ActionSet) {
        self.required = actions;
    }
}

/// Checks that `public_key` (hex) is a valid Ed25519 public key.
pub fn parse_public_key(public_key: &str) -> Result<[u8; 32], String> {
    let bytes = parse_hex::<32>(public_key, "public_key")?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| "public_key is not a valid Ed25519 point".to_owned())?;
    Ok(bytes)
}
