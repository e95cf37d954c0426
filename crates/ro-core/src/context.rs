//! What comes with every command: [`Context`] (time, actor, correlation, causation, reason,
//! and the proofs that are not part of the command: a confirmation token, a signature).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Actor, ActorId, Digest, Timestamp};

crate::id_kind!(
    /// Ties the events of one request or workflow together.
    CorrelationId,
    CorrelationTag,
    "correlation id"
);

crate::id_kind!(
    /// Names a registered signing key.
    KeyId,
    KeyTag,
    "key id"
);

/// The token the first step of a two-step command was answered with, sent back on the
/// second. It proves the holder saw the first answer, so it is shown to nobody else: Debug
/// redacts it and only [`ConfirmationToken::reveal`] gives its text.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfirmationToken(String);

impl ConfirmationToken {
    /// A token as sent by a client.
    pub fn new(token: impl Into<String>) -> Self {
        ConfirmationToken(token.into())
    }

    /// The token's text, for the one answer that hands it to its holder.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ConfirmationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConfirmationToken([redacted])")
    }
}

/// A command's signature by a key of its actor: the plane checks it against the key registered
/// under `key_id`, over a message binding the plane, the actor, the nonce, the command's digest
/// and the instant it applies at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSignature {
    /// The key that signed.
    pub key_id: KeyId,
    /// The signature, as sent (Ed25519: 128 lowercase hex digits).
    pub signature: String,
    /// The signer's nonce: two signatures of the same command at the same instant differ by
    /// it (a signature is good for one command, once).
    pub nonce: String,
}

/// The longest reason accepted, in bytes.
pub const MAX_REASON_LEN: usize = 2048;

/// Why an actor did something: free text, 1 to [`MAX_REASON_LEN`] bytes, no control
/// characters other than newline and tab.
#[derive(
    Clone, PartialEq, Eq, PartialOrd, Ord, Hash, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Reason(String);

/// Why a reason was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReasonError {
    /// The reason is empty or only white space.
    #[error("reason is empty: say why")]
    Empty,
    /// The reason is too long.
    #[error("reason is {0} bytes long; at most {MAX_REASON_LEN} are allowed")]
    TooLong(usize),
    /// The reason holds a control character.
    #[error("reason holds control character U+{0:04X}")]
    Control(u32),
}

impl Reason {
    /// Validates and wraps `text`.
    pub fn new(text: impl Into<String>) -> Result<Self, ReasonError> {
        let text = text.into();
        if text.trim().is_empty() {
            return Err(ReasonError::Empty);
        }
        if text.len() > MAX_REASON_LEN {
            return Err(ReasonError::TooLong(text.len()));
        }
        if let Some(c) = text
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        {
            return Err(ReasonError::Control(u32::from(c)));
        }
        Ok(Reason(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Reason::new(text).map_err(serde::de::Error::custom)
    }
}

/// Everything a command carries besides itself: the instant it applies at (the host's clock,
/// passed in), who issued it, and optional correlation, causation and reason; and the proofs
/// any command may come with, which are not part of it (its digest never covers them): the
/// token of a two-step command's second step and a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// When the command applies. Never earlier than the journal's head.
    pub at: Timestamp,
    /// Who issued it.
    pub actor: Actor,
    /// Ties it to a request or workflow.
    pub correlation_id: Option<CorrelationId>,
    /// The digest of the command itself (hosts compute it from the command's canonical bytes),
    /// recorded on every event it produces. Like the actor and the time, it is the host's
    /// statement: a decider may bind confirmations and signatures to it rather than hash the
    /// command again.
    pub causation: Option<Digest>,
    /// Why.
    pub reason: Option<Reason>,
    /// The second step of a two-step command: the token its first step was answered with.
    pub confirmation_token: Option<ConfirmationToken>,
    /// The command's signature.
    pub signature: Option<CommandSignature>,
    /// The actor the document named when the host authenticated someone else (`actor` is
    /// then the authenticated principal): a decider refuses such a command and records the
    /// attempt against the principal who sent it.
    pub claimed_actor: Option<ActorId>,
    /// The id of the credential (an API token) the host authenticated the actor with: a
    /// decider refuses, and records, a command whose credential is no longer valid at `at`
    /// (revoked or expired) or names another principal. `None` at a trusted console.
    pub credential: Option<String>,
}

impl Context {
    /// A context with just a time and an actor.
    pub fn new(at: Timestamp, actor: Actor) -> Self {
        Context {
            at,
            actor,
            correlation_id: None,
            causation: None,
            reason: None,
            confirmation_token: None,
            signature: None,
            claimed_actor: None,
            credential: None,
        }
    }

    /// The same context with a reason.
    pub fn with_reason(mut self, reason: Reason) -> Self {
        self.reason = Some(reason);
        self
    }

    /// The same context with a correlation id.
    pub fn with_correlation(mut self, correlation_id: CorrelationId) -> Self {
        self.correlation_id = Some(correlation_id);
        self
    }

    /// The same context with a causation digest.
    pub fn with_causation(mut self, causation: Digest) -> Self {
        self.causation = Some(causation);
        self
    }

    /// The same context carrying a confirmation token (a two-step command's second step).
    pub fn with_confirmation_token(mut self, token: ConfirmationToken) -> Self {
        self.confirmation_token = Some(token);
        self
    }

    /// The same context carrying a signature of the command.
    pub fn with_signature(mut self, signature: CommandSignature) -> Self {
        self.signature = Some(signature);
        self
    }
}

crate::json_schema_for!(Reason, "Reason", {
    "type": "string",
    "minLength": 1,
    "maxLength": 2048,
    "description": "Why: free text without control characters other than newline and tab."
});
