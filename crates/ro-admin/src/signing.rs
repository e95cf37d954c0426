//! Signed operations: principals register Ed25519 public keys (their own with proof of
//! possession, another's only by a human in two steps); policy can require a signature for
//! chosen actions; a command then carries a signature in its context, and the plane verifies
//! it over [`signing_message`] (signatures v2: the plane's id, the actor's id and kind, the
//! signer's nonce, the command's digest and its instant) before anything else. A verified
//! signature is recorded (`SignatureVerified`: key id, command digest, nonce) and is good
//! once: a second use is refused forever. A failed one is refused (`SIGNATURE_INVALID`),
//! recorded (`SignatureRejected`) and opens the `signature_verification_failure` deviation
//! (critical, halt, one hour). Once any action needs a signature, registering or revoking a
//! key and changing the requirement need one too.
//!
//! The per-cycle signature log is a projection of the journal:
//! [`SignatureLogs`] reads envelopes in order and closes one [`SignatureLog`] per recorded cycle,
//! holding every signature verified or rejected since the previous cycle. Because the journal
//! keeps each signature with its command digest and time, the log can be verified again by
//! anyone holding the public keys, without trusting the plane.
//!
//! Placement: signing wraps commands of every domain, so it lives where the plane decides;
//! ro-policy stays free of cryptography and its authorization rules unchanged.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::{Signature, VerifyingKey};
use ro_core::{Actor, ActorId, ActorKind, Context, Digest, Envelope, EventMeta, Timestamp};
use ro_policy::{Action, ActionSet, Day};
use serde::Serialize;
use serde_json::{Value, json};

use crate::audit::{Classified, applied};
use crate::{AdminCommand, AdminEvent, Plane, PlaneCommand, PlaneEvent, PlaneRejection, raise};

pub use ro_core::KeyId;

/// A registered public key.
#[derive(
    Debug, Clone, PartialEq, Eq, Serialize, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct RegisteredKey {
    /// Whose key it is.
    pub principal: ActorId,
    /// The Ed25519 public key.
    pub public_key: [u8; 32],
    /// Revoked: it never verifies again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub revoked: bool,
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
    /// Signed operations per UTC day: (verified, failed). Left out of the serialized state
    /// while empty, so a plane that never saw a signature digests as before.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    daily: BTreeMap<Day, (u64, u64)>,
    /// The digests of every signature verified: each is good once.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    used: BTreeSet<Digest>,
    /// The plane's id, fixed by its first record (see [`plane_id_of`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    plane_id: Option<Digest>,
}

/// The plane's id: the digest of `ro.plane.v1\0`, then its first record's time (RFC 3339),
/// actor id and command digest (`causation`, or nothing), each followed by a zero byte. It
/// is the same for every copy of the plane and can be computed from its export.
pub fn plane_id_of(meta: &EventMeta<'_>) -> Digest {
    let mut input = b"ro.plane.v1\0".to_vec();
    input.extend_from_slice(meta.at.to_rfc3339().as_bytes());
    input.push(0);
    input.extend_from_slice(meta.actor.id.as_str().as_bytes());
    input.push(0);
    if let Some(causation) = meta.causation {
        input.extend_from_slice(causation.to_string().as_bytes());
    }
    input.push(0);
    Digest::of(&input)
}

/// The longest and shortest nonce accepted, in characters.
pub const NONCE_LEN: std::ops::RangeInclusive<usize> = 8..=64;

/// Checks a signer's nonce: 8 to 64 characters, ASCII letters, digits, `-` or `_`.
pub fn check_nonce(nonce: &str) -> Result<(), String> {
    if !NONCE_LEN.contains(&nonce.len())
        || !nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "the nonce is {} to {} characters of ASCII letters, digits, '-' and '_'",
            NONCE_LEN.start(),
            NONCE_LEN.end()
        ));
    }
    Ok(())
}

/// The bytes a signature covers (signatures v2): the tag `ro.signature.v2\0`, the plane's id
/// (32 bytes), the actor's kind and id, the signer's nonce (each followed by a zero byte), the
/// command's digest (32 bytes: its canonical JSON without any confirmation token, so one
/// signature serves both steps of a two-step command) and the instant the command applies at
/// (RFC 3339). It cannot be used on another plane, by another actor or kind, for another
/// command or at another time; and the plane accepts it once.
pub fn signing_message(
    plane_id: &Digest,
    actor: &Actor,
    nonce: &str,
    command_digest: &Digest,
    at: Timestamp,
) -> Vec<u8> {
    let mut message = b"ro.signature.v2\0".to_vec();
    message.extend_from_slice(plane_id.as_bytes());
    for part in [actor.kind.as_str(), actor.id.as_str(), nonce] {
        message.extend_from_slice(part.as_bytes());
        message.push(0);
    }
    message.extend_from_slice(command_digest.as_bytes());
    message.extend_from_slice(at.to_rfc3339().as_bytes());
    message
}

/// The bytes a key's proof of possession covers: the tag `ro.key-registration.v1\0`, the
/// plane's id (32 bytes), the principal and the key id (each followed by a zero byte) and the
/// public key (32 bytes).
pub fn key_registration_message(
    plane_id: &Digest,
    principal: &ActorId,
    key_id: &KeyId,
    public_key: &[u8; 32],
) -> Vec<u8> {
    let mut message = b"ro.key-registration.v1\0".to_vec();
    message.extend_from_slice(plane_id.as_bytes());
    for part in [principal.as_str(), key_id.as_str()] {
        message.extend_from_slice(part.as_bytes());
        message.push(0);
    }
    message.extend_from_slice(public_key);
    message
}

/// Writes bytes as lowercase hex (what [`parse_hex`] reads).
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

    /// Signed operations from day `from` to day `to`: (verified, failed).
    pub fn verifications_between(&self, from: Day, to: Day) -> (u64, u64) {
        self.daily
            .range(from..=to)
            .fold((0, 0), |(v, f), (_, (dv, df))| (v + dv, f + df))
    }

    /// Whether `action` needs a signature. Once any action does, so do the actions that
    /// manage keys and the requirement itself.
    pub fn requires(&self, action: Action) -> bool {
        self.required.contains(action)
            || (self.required != ActionSet::EMPTY
                && matches!(
                    action,
                    Action::RegisterSigningKey
                        | Action::RevokeSigningKey
                        | Action::RequireSignatures
                ))
    }

    /// The plane's id ([`plane_id_of`]); all zeros before its first record.
    pub fn plane_id(&self) -> Digest {
        self.plane_id.unwrap_or(Digest::from_bytes([0; 32]))
    }

    /// Whether `principal` holds a key that is not revoked.
    pub fn has_active_key(&self, principal: &ActorId) -> bool {
        self.keys
            .values()
            .any(|k| &k.principal == principal && !k.revoked)
    }

    /// Checks that `signature` (hex) by `key_id`, a live key of `actor`, signs `command_digest`
    /// at `at` with `nonce` on this plane, and that it was never used before.
    pub fn verify(
        &self,
        key_id: &KeyId,
        actor: &Actor,
        nonce: &str,
        command_digest: &Digest,
        at: Timestamp,
        signature: &str,
    ) -> Result<(), String> {
        let key = self
            .keys
            .get(key_id)
            .ok_or_else(|| format!("unknown key {key_id}"))?;
        if key.principal != actor.id {
            return Err(format!("key {key_id} is not a key of {}", actor.id));
        }
        if key.revoked {
            return Err(format!("key {key_id} was revoked"));
        }
        check_nonce(nonce)?;
        let bytes = parse_hex::<64>(signature, "signature")?;
        let message = signing_message(&self.plane_id(), actor, nonce, command_digest, at);
        verify_strict(&key.public_key, &message, &bytes)
            .map_err(|why| format!("key {key_id}: {why}"))?;
        if self.used.contains(&Digest::of(&bytes)) {
            return Err(
                "this signature was used already: a signature is good for one command, once; sign again with a new nonce"
                    .to_owned(),
            );
        }
        Ok(())
    }

    pub(crate) fn register(&mut self, key_id: &KeyId, key: RegisteredKey) {
        self.keys.insert(key_id.clone(), key);
    }

    pub(crate) fn set_plane_id(&mut self, plane_id: Digest) {
        self.plane_id = Some(plane_id);
    }

    pub(crate) fn set_required(&mut self, actions: ActionSet) {
        self.required = actions;
    }
}

/// Verifies an Ed25519 signature strictly (canonical encodings, no small-order key), so that a
/// signature has one encoding and its digest identifies it.
fn verify_strict(
    public_key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), String> {
    let verifying = VerifyingKey::from_bytes(public_key)
        .map_err(|_| "not a valid Ed25519 public key".to_owned())?;
    verifying
        .verify_strict(message, &Signature::from_bytes(signature))
        .map_err(|_| "the signature does not verify".to_owned())
}

/// Checks that `public_key` (hex) is a valid Ed25519 public key.
pub fn parse_public_key(public_key: &str) -> Result<[u8; 32], String> {
    let bytes = parse_hex::<32>(public_key, "public_key")?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| "public_key is not a valid Ed25519 point".to_owned())?;
    Ok(bytes)
}

/// Whether a cycle's signatures all verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerificationStatus {
    /// Every signed operation of the cycle verified (or there was none).
    Pass,
    /// At least one signature failed.
    Fail,
}

/// The counts of a cycle's signature log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SignatureSummary {
    /// Signed operations seen (verified and failed).
    pub total_operations: u64,
    /// Those whose signature verified.
    pub signatures_verified: u64,
    /// Those whose signature failed (each refused).
    pub signatures_failed: u64,
    /// Verified / total, in basis points (rounded down); `null` without signed operations.
    pub verification_rate_bp: Option<u32>,
    /// `PASS` when nothing failed.
    pub verification_status: VerificationStatus,
}

/// One signed operation in a cycle's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct OperationSignature {
    /// Its place in the cycle, from 1.
    pub step: u64,
    /// Who sent it.
    pub agent: ActorId,
    /// Its kind, as the signature binds it.
    pub agent_kind: ActorKind,
    /// The signer's nonce (signatures v2), when the record holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The action of the command.
    pub operation: Action,
    /// The key named.
    pub key_id: KeyId,
    /// `ed25519:<hex>`, when the signature was well-formed.
    pub signature: Option<String>,
    /// `ed25519:<hex>`, when the key is registered.
    pub public_key: Option<String>,
    /// The command's digest (what, with the time, the signature covers).
    pub command_digest: Digest,
    /// Whether it verified.
    pub verified: bool,
    /// When the plane verified it (the command's time).
    pub verification_timestamp: Timestamp,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The journal position of the record.
    pub seq: u64,
}

/// The signature log of one recorded cycle : every signed
/// operation since the previous cycle, the cycle's own `RECORD_CYCLE` included when it was
/// signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SignatureLog {
    /// The cycle's number: the n-th cycle recorded, from 1.
    pub cycle: u64,
    /// The journal position of the cycle's record.
    pub cycle_seq: u64,
    /// When the cycle was recorded.
    pub cycle_timestamp: Timestamp,
    /// The plane's id, which every signature binds ([`plane_id_of`]).
    pub plane_id: Digest,
    /// The counts.
    pub signature_verification_summary: SignatureSummary,
    /// The operations, in journal order.
    pub operation_signatures: Vec<OperationSignature>,
    /// One line per failed signature.
    pub alerts: Vec<String>,
}

/// Builds signature logs from the journal, one envelope at a time (memory: the registered
/// public keys and the operations of the open cycle).
#[derive(Debug, Clone, Default)]
pub struct SignatureLogs {
    keys: BTreeMap<KeyId, String>,
    open: Vec<OperationSignature>,
    cycles: u64,
    plane_id: Option<Digest>,
}

impl SignatureLogs {
    /// Reads the next envelope of the journal; returns the log of the cycle it closes, if it
    /// records a cycle.
    pub fn push(&mut self, envelope: &Envelope<PlaneEvent>) -> Option<SignatureLog> {
        if envelope.seq == 1 {
            self.plane_id = Some(plane_id_of(&envelope.meta()));
        }
        let PlaneEvent::Admin(event) = &envelope.event else {
            return None;
        };
        let step = u64::try_from(self.open.len())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        match event {
            AdminEvent::SigningKeyRegistered {
                key_id, public_key, ..
            } => {
                self.keys.insert(key_id.clone(), public_key.clone());
                None
            }
            AdminEvent::SignatureVerified {
                key_id,
                action,
                command_digest,
                signature,
                nonce,
            } => {
                self.open.push(OperationSignature {
                    step,
                    agent: envelope.actor.id.clone(),
                    agent_kind: envelope.actor.kind,
                    nonce: nonce.clone(),
                    operation: *action,
                    key_id: key_id.clone(),
                    signature: Some(format!("ed25519:{signature}")),
                    public_key: self.public_key(key_id),
                    command_digest: *command_digest,
                    verified: true,
                    verification_timestamp: envelope.at,
                    failure: None,
                    seq: envelope.seq,
                });
                None
            }
            AdminEvent::SignatureRejected {
                key_id,
                action,
                command_digest,
                signature,
                reason,
            } => {
                self.open.push(OperationSignature {
                    step,
                    agent: envelope.actor.id.clone(),
                    agent_kind: envelope.actor.kind,
                    nonce: None,
                    operation: *action,
                    key_id: key_id.clone(),
                    signature: signature.as_ref().map(|s| format!("ed25519:{s}")),
                    public_key: self.public_key(key_id),
                    command_digest: *command_digest,
                    verified: false,
                    verification_timestamp: envelope.at,
                    failure: Some(reason.clone()),
                    seq: envelope.seq,
                });
                None
            }
            AdminEvent::CycleRecorded(_) => {
                self.cycles = self.cycles.saturating_add(1);
                let operations = std::mem::take(&mut self.open);
                let plane_id = self.plane_id.unwrap_or(Digest::from_bytes([0; 32]));
                Some(close(self.cycles, envelope, plane_id, operations))
            }
            _ => None,
        }
    }

    /// The signed operations since the last recorded cycle (they will be in the next cycle's
    /// log).
    pub fn pending(&self) -> &[OperationSignature] {
        &self.open
    }

    fn public_key(&self, key_id: &KeyId) -> Option<String> {
        self.keys.get(key_id).map(|k| format!("ed25519:{k}"))
    }
}

fn close(
    cycle: u64,
    envelope: &Envelope<PlaneEvent>,
    plane_id: Digest,
    operations: Vec<OperationSignature>,
) -> SignatureLog {
    let total = u64::try_from(operations.len()).unwrap_or(u64::MAX);
    let verified = u64::try_from(operations.iter().filter(|o| o.verified).count()).unwrap_or(0);
    let failed = total.saturating_sub(verified);
    let alerts = operations
        .iter()
        .filter(|o| !o.verified)
        .map(|o| {
            format!(
                "step {}: signature of {} by {} with key {} failed: {}",
                o.step,
                o.operation,
                o.agent,
                o.key_id,
                o.failure.as_deref().unwrap_or("unknown")
            )
        })
        .collect();
    SignatureLog {
        cycle,
        cycle_seq: envelope.seq,
        cycle_timestamp: envelope.at,
        plane_id,
        signature_verification_summary: SignatureSummary {
            total_operations: total,
            signatures_verified: verified,
            signatures_failed: failed,
            verification_rate_bp: ro_core::ratio::basis_points(verified, total),
            verification_status: if failed == 0 {
                VerificationStatus::Pass
            } else {
                VerificationStatus::Fail
            },
        },
        operation_signatures: operations,
        alerts,
    }
}

impl Plane {
    /// Signing keys and the actions that need a signature.
    pub fn signing(&self) -> &Signing {
        &self.signing
    }

    /// Signatures come first: a signed command is verified before anything else, and an
    /// action that needs a signature is refused without one. `digest` is the command's
    /// digest, `action` its policy action. Returns the events recording the verification (none
    /// for an unsigned command).
    pub(crate) fn check_signature(
        &self,
        action: Action,
        ctx: &Context,
        digest: impl FnOnce() -> Digest,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        let Some(signed) = &ctx.signature else {
            if self.signing.requires(action) {
                return Err(PlaneRejection::SignatureRequired(action));
            }
            return Ok(Vec::new());
        };
        let digest = digest();
        self.signing
            .verify(
                &signed.key_id,
                &ctx.actor,
                &signed.nonce,
                &digest,
                ctx.at,
                &signed.signature,
            )
            .map_err(PlaneRejection::SignatureInvalid)?;
        Ok(vec![PlaneEvent::Admin(AdminEvent::SignatureVerified {
            key_id: signed.key_id.clone(),
            action,
            command_digest: digest,
            signature: signed.signature.clone(),
            nonce: Some(signed.nonce.clone()),
        })])
    }

    /// What a refused signature leaves in the journal: the rejection, and the
    /// `signature_verification_failure` deviation.
    pub(crate) fn signature_rejected(
        &self,
        command: &PlaneCommand,
        why: &str,
        ctx: &Context,
    ) -> Vec<PlaneEvent> {
        let Some(signed) = &ctx.signature else {
            return Vec::new();
        };
        let mut events = vec![PlaneEvent::Admin(AdminEvent::SignatureRejected {
            key_id: signed.key_id.clone(),
            action: self.action_of(command).0,
            command_digest: crate::digest_of(command, ctx),
            signature: parse_hex::<64>(&signed.signature, "signature")
                .is_ok()
                .then(|| signed.signature.clone()),
            reason: why.to_owned(),
        })];
        if let Some(e) = self.policy.deviation_event(
            "signature_verification_failure",
            ctx.at,
            format!("{} sent a command whose signature failed: {why}", ctx.actor),
        ) {
            events.push(PlaneEvent::Policy(e));
        }
        events
    }

    pub(crate) fn decide_signing(
        &self,
        admin: &AdminCommand,
        ctx: &Context,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        let (by, reason) = (ctx.actor.id.clone(), ctx.reason.clone());
        match admin {
            AdminCommand::RegisterSigningKey {
                key_id,
                principal,
                public_key,
                proof,
            } => {
                let bytes =
                    parse_public_key(public_key).map_err(PlaneRejection::InvalidArgument)?;
                // Another principal's key only by a human (in two steps, by the facts table);
                // one's own only with proof that one holds it.
                if *principal != ctx.actor.id && ctx.actor.kind != ActorKind::Human {
                    return Err(PlaneRejection::Policy(
                        ro_policy::PolicyRejection::Unauthorized {
                            action: Action::RegisterSigningKey,
                            reasons: vec![ro_policy::DecisionReason::HumanOnly],
                        },
                    ));
                }
                match proof {
                    Some(proof) => {
                        let message = key_registration_message(
                            &self.signing.plane_id(),
                            principal,
                            key_id,
                            &bytes,
                        );
                        let proof =
                            parse_hex::<64>(proof, "proof").map_err(PlaneRejection::KeyUnproven)?;
                        verify_strict(&bytes, &message, &proof).map_err(|why| {
                            PlaneRejection::KeyUnproven(format!("proof of possession: {why}"))
                        })?;
                    }
                    None if *principal == ctx.actor.id => {
                        return Err(PlaneRejection::KeyUnproven(
                            "registering one's own key needs `proof`: the new key's signature over the key registration message".into(),
                        ));
                    }
                    None => {}
                }
                match self.signing.key(key_id) {
                    Some(k) if k.principal == *principal && k.public_key == bytes => Ok(Vec::new()),
                    Some(_) => Err(PlaneRejection::InvalidArgument(format!(
                        "key {key_id} is registered already; keys are never replaced, register a new id"
                    ))),
                    None => Ok(vec![PlaneEvent::Admin(AdminEvent::SigningKeyRegistered {
                        key_id: key_id.clone(),
                        principal: principal.clone(),
                        public_key: public_key.clone(),
                        by,
                        reason,
                    })]),
                }
            }
            AdminCommand::RevokeSigningKey { key_id } => match self.signing.key(key_id) {
                None => Err(PlaneRejection::InvalidArgument(format!(
                    "unknown key {key_id}"
                ))),
                Some(k) if k.principal != ctx.actor.id && ctx.actor.kind != ActorKind::Human => {
                    Err(PlaneRejection::Policy(
                        ro_policy::PolicyRejection::Unauthorized {
                            action: Action::RevokeSigningKey,
                            reasons: vec![ro_policy::DecisionReason::HumanOnly],
                        },
                    ))
                }
                Some(k) if k.revoked => Ok(Vec::new()),
                Some(k) => Ok(vec![PlaneEvent::Admin(AdminEvent::SigningKeyRevoked {
                    key_id: key_id.clone(),
                    principal: k.principal.clone(),
                    by,
                    reason,
                })]),
            },
            AdminCommand::RequireSignatures { actions }
                if *actions != ActionSet::EMPTY && !self.signing.has_active_key(&ctx.actor.id) =>
            {
                Err(PlaneRejection::InvalidArgument(format!(
                    "{} holds no signing key: once signatures are required, changing the requirement needs one; register your key first",
                    ctx.actor.id
                )))
            }
            AdminCommand::RequireSignatures { actions } => Ok(raise(
                *actions == self.signing.required(),
                AdminEvent::SignaturesRequired {
                    before: self.signing.required(),
                    after: *actions,
                    by,
                    reason,
                },
            )),
            _ => Err(crate::misrouted()),
        }
    }

    pub(crate) fn evolve_signing(&mut self, event: &AdminEvent, meta: &EventMeta<'_>) {
        match event {
            AdminEvent::SigningKeyRegistered {
                key_id,
                principal,
                public_key,
                ..
            } => {
                if let Ok(bytes) = parse_public_key(public_key) {
                    self.signing.register(
                        key_id,
                        RegisteredKey {
                            principal: principal.clone(),
                            public_key: bytes,
                            revoked: false,
                        },
                    );
                }
            }
            AdminEvent::SigningKeyRevoked { key_id, .. } => {
                if let Some(key) = self.signing.keys.get_mut(key_id) {
                    key.revoked = true;
                }
            }
            AdminEvent::SignaturesRequired { after, .. } => self.signing.set_required(*after),
            AdminEvent::SignatureVerified { signature, .. } => {
                self.signing.daily.entry(Day::of(meta.at)).or_default().0 += 1;
                if let Ok(bytes) = parse_hex::<64>(signature, "signature") {
                    self.signing.used.insert(Digest::of(&bytes));
                }
            }
            AdminEvent::SignatureRejected { .. } => {
                self.signing.daily.entry(Day::of(meta.at)).or_default().1 += 1;
            }
            _ => {}
        }
    }
}

/// The audit record's shape of a signing event (verifications are part of the command they
/// sign).
pub(crate) fn classify(event: &AdminEvent) -> Option<Classified> {
    match event {
        AdminEvent::SigningKeyRegistered {
            key_id,
            principal,
            reason,
            ..
        } => applied(
            Action::RegisterSigningKey,
            vec![format!("key:{key_id}"), format!("principal:{principal}")],
            reason,
            (
                Value::Null,
                json!({ "key_id": key_id, "principal": principal }),
            ),
        ),
        AdminEvent::SigningKeyRevoked {
            key_id,
            principal,
            reason,
            ..
        } => applied(
            Action::RevokeSigningKey,
            vec![format!("key:{key_id}"), format!("principal:{principal}")],
            reason,
            (
                json!({ "key_id": key_id, "principal": principal }),
                json!({ "key_id": key_id, "revoked": true }),
            ),
        ),
        AdminEvent::SignaturesRequired {
            before,
            after,
            reason,
            ..
        } => applied(
            Action::RequireSignatures,
            vec!["signing".to_owned()],
            reason,
            (json!({ "actions": before }), json!({ "actions": after })),
        ),
        _ => None,
    }
}
