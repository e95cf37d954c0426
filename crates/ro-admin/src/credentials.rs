//! API tokens: which credential authenticates which principal to a host, until when, and
//! whether it was revoked. The journal records each token's id, principal and expiry, never
//! its secret: the host keeps a keyed hash of the secret outside the journal and checks a
//! presented token against both.
//!
//! - `ISSUE_TOKEN` (human-only): a new token id for a registered principal, optionally
//!   expiring. An id is issued once.
//! - `REVOKE_TOKEN`: the token never authenticates again (revoking a revoked token records
//!   nothing).

use std::collections::BTreeMap;

use ro_core::{ActorId, Context, Timestamp};
use ro_policy::Action;
use serde::Serialize;
use serde_json::{Value, json};

use crate::audit::{Classified, applied};
use crate::{AdminCommand, AdminEvent, Plane, PlaneEvent, PlaneRejection, raise};

ro_core::id_kind!(
    /// Names an API token (public: the secret is not derived from it).
    TokenId,
    TokenTag,
    "token id"
);

/// What the plane knows of a token.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct TokenRecord {
    /// Whom it authenticates.
    pub principal: ActorId,
    /// When it stops authenticating (never when absent).
    pub expires_at: Option<Timestamp>,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// Why a token does not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// No token with that id was issued.
    Unknown,
    /// It was revoked.
    Revoked,
    /// It expired.
    Expired,
}

impl TokenProblem {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            TokenProblem::Unknown => "TOKEN_UNKNOWN",
            TokenProblem::Revoked => "TOKEN_REVOKED",
            TokenProblem::Expired => "TOKEN_EXPIRED",
        }
    }
}

/// The issued tokens.
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
pub struct Credentials {
    tokens: BTreeMap<TokenId, TokenRecord>,
}

impl Credentials {
    /// A token, revoked or expired ones included.
    pub fn get(&self, id: &TokenId) -> Option<&TokenRecord> {
        self.tokens.get(id)
    }

    /// Every issued token, by id.
    pub fn iter(&self) -> impl Iterator<Item = (&TokenId, &TokenRecord)> {
        self.tokens.iter()
    }

    /// The token's record if it authenticates at `now`.
    pub fn valid(&self, id: &TokenId, now: Timestamp) -> Result<&TokenRecord, TokenProblem> {
        let record = self.tokens.get(id).ok_or(TokenProblem::Unknown)?;
        if record.revoked {
            Err(TokenProblem::Revoked)
        } else if record.expires_at.is_some_and(|t| t <= now) {
            Err(TokenProblem::Expired)
        } else {
            Ok(record)
        }
    }
}

impl Plane {
    /// Why the credential the host authenticated `ctx.actor` with does not authenticate it at
    /// `ctx.at` (none at a console, where no credential is named).
    pub(crate) fn credential_forbid(&self, ctx: &Context) -> Option<ro_policy::DecisionReason> {
        use ro_policy::DecisionReason as R;
        let id = ctx.credential.as_deref()?;
        let Ok(token) = TokenId::new(id) else {
            return Some(R::CredentialInvalid(id.to_owned()));
        };
        match self.credentials.valid(&token, ctx.at) {
            Ok(record) if record.principal == ctx.actor.id => None,
            Ok(_) | Err(TokenProblem::Unknown) => Some(R::CredentialInvalid(id.to_owned())),
            Err(TokenProblem::Revoked) => Some(R::CredentialRevoked(id.to_owned())),
            Err(TokenProblem::Expired) => Some(R::CredentialExpired(id.to_owned())),
        }
    }

    /// The issued API tokens.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub(crate) fn decide_credentials(
        &self,
        admin: &AdminCommand,
        ctx: &Context,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        let (by, reason) = (ctx.actor.id.clone(), ctx.reason.clone());
        match admin {
            AdminCommand::IssueToken {
                token_id,
                principal,
                expires_at,
            } => {
                if self.credentials.tokens.contains_key(token_id) {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "token {token_id} was issued already: every token has a new id"
                    )));
                }
                if !self.policy.access().principals().contains_key(principal) {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "{principal} is not a registered principal: register it with REGISTER_PRINCIPAL first"
                    )));
                }
                if expires_at.is_some_and(|t| t <= ctx.at) {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "expires_at must be after the command's time ({})",
                        ctx.at
                    )));
                }
                Ok(vec![PlaneEvent::Admin(AdminEvent::TokenIssued {
                    token_id: token_id.clone(),
                    principal: principal.clone(),
                    expires_at: *expires_at,
                    by,
                    reason,
                })])
            }
            AdminCommand::RevokeToken { token_id } => {
                let record = self.credentials.tokens.get(token_id).ok_or_else(|| {
                    PlaneRejection::InvalidArgument(format!("no token {token_id} was issued"))
                })?;
                Ok(raise(
                    record.revoked,
                    AdminEvent::TokenRevoked {
                        token_id: token_id.clone(),
                        principal: record.principal.clone(),
                        by,
                        reason,
                    },
                ))
            }
            _ => Err(crate::misrouted()),
        }
    }

    pub(crate) fn evolve_credentials(&mut self, event: &AdminEvent) {
        match event {
            AdminEvent::TokenIssued {
                token_id,
                principal,
                expires_at,
                ..
            } => {
                self.credentials.tokens.insert(
                    token_id.clone(),
                    TokenRecord {
                        principal: principal.clone(),
                        expires_at: *expires_at,
                        revoked: false,
                    },
                );
            }
            AdminEvent::TokenRevoked { token_id, .. } => {
                if let Some(t) = self.credentials.tokens.get_mut(token_id) {
                    t.revoked = true;
                }
            }
            _ => {}
        }
    }
}

/// The audit record's shape of a token event.
pub(crate) fn classify(event: &AdminEvent) -> Option<Classified> {
    match event {
        AdminEvent::TokenIssued {
            token_id,
            principal,
            expires_at,
            reason,
            ..
        } => applied(
            Action::IssueToken,
            vec![
                format!("token:{token_id}"),
                format!("principal:{principal}"),
            ],
            reason,
            (
                Value::Null,
                json!({ "principal": principal, "expires_at": expires_at, "revoked": false }),
            ),
        ),
        AdminEvent::TokenRevoked {
            token_id,
            principal,
            reason,
            ..
        } => applied(
            Action::RevokeToken,
            vec![
                format!("token:{token_id}"),
                format!("principal:{principal}"),
            ],
            reason,
            (json!({ "revoked": false }), json!({ "revoked": true })),
        ),
        _ => None,
    }
}
