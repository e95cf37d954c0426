//! The confirmations room: two-step commands and four-eyes.
//!
//! A two-step command (the facts table says which, see [`crate::command`]) is refused the
//! first time with `CONFIRMATION_REQUIRED`, and the refusal records a pending confirmation
//! bound to the command's digest and the actor. Its token is keyed by a host secret (never in
//! the journal or the state), so it cannot be derived from the audit log; the journal holds
//! only the token's digest. The same command sent again by the same actor (another human
//! under four-eyes) with the token as a context field (`Context::confirmation_token`, never
//! one of the command's own fields) executes it; a wrong, reused, expired or another actor's
//! token is refused, and so is a token sent with a command that takes one step. A token expires [`CONFIRMATION_TTL_SECONDS`] after it was issued;
//! raising the lockdown or the kill switch voids every pending one.

use std::fmt;

use ro_core::{ActorId, ConfirmationToken, Context, Digest, EventMeta, Timestamp};
use ro_jobs::JobsCommand;
use ro_policy::{Action, TwoStep};
use serde::Serialize;
use serde_json::json;

use crate::audit::{Classified, applied};
use crate::{AdminCommand, AdminEvent, Plane, PlaneCommand, PlaneEvent, PlaneRejection, raise};

/// How long a pending confirmation stays valid.
pub const CONFIRMATION_TTL_SECONDS: i64 = 300;

/// A pending two-step confirmation.
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
pub struct Pending {
    /// The command it is bound to.
    pub command_digest: Digest,
    /// Who must confirm.
    pub actor: ActorId,
    /// When it expires.
    pub expires_at: Timestamp,
}

/// A pending confirmation as `PENDING_CONFIRMATIONS` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PendingView {
    /// The command it is bound to.
    pub command_digest: Digest,
    /// Who must confirm (under four-eyes: who may not).
    pub actor: ActorId,
    /// When it expires.
    pub expires_at: Timestamp,
    /// Whether it has expired at the query's time (kept one more TTL to say so).
    pub expired: bool,
}

/// The host's key for confirmation tokens: configuration kept outside the journal, so it is
/// not part of the state (equality ignores it, serialization and snapshots skip it), and
/// redacted in Debug.
#[derive(Clone, Default)]
pub(crate) struct ConfirmationKey(pub(crate) [u8; 32]);

impl PartialEq for ConfirmationKey {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ConfirmationKey {}

impl fmt::Debug for ConfirmationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The digest of a command: what its confirmation token and its signature are bound to, and
/// the causation its events carry. The canonical JSON of the command, under a domain prefix.
pub fn command_digest(command: &PlaneCommand) -> Digest {
    let bytes = match command {
        PlaneCommand::Admin(admin) if kept_token_field(admin) => {
            ro_core::canonical::to_canonical_vec(&WithTokenField {
                domain: "admin",
                command: TokenField {
                    command: admin,
                    confirmation_token: None,
                },
            })
        }
        _ => ro_core::canonical::to_canonical_vec(command),
    };
    Digest::of_parts(&[b"ro.command.v1\0", &bytes.unwrap_or_default()])
}

/// Whether a command's digest keeps a `"confirmation_token": null` member: these runbook
/// commands carried the token among their own fields before it became a context field, and
/// the journals recorded then name them by that digest (as causation and in confirmation
/// and signature events), so their digest stays what it was.
fn kept_token_field(admin: &AdminCommand) -> bool {
    matches!(
        admin,
        AdminCommand::ReleaseLockdown {}
            | AdminCommand::ProductionUnlock {}
            | AdminCommand::ReleaseKillSwitch {}
            | AdminCommand::PromoteCandidate {}
            | AdminCommand::RollbackModel {}
            | AdminCommand::ResetFailureStatus {}
            | AdminCommand::ChangeStreamRetention { .. }
            | AdminCommand::RestoreLkg { .. }
    )
}

/// `{"domain": "admin", "command": {…, "confirmation_token": null}}` (canonical JSON sorts
/// the members, so the order here does not matter).
#[derive(Serialize)]
struct WithTokenField<'a> {
    domain: &'static str,
    command: TokenField<'a>,
}

#[derive(Serialize)]
struct TokenField<'a> {
    #[serde(flatten)]
    command: &'a AdminCommand,
    confirmation_token: Option<()>,
}

impl Plane {
    /// A plane whose confirmation tokens are keyed by `key` (the host keeps it secret).
    pub fn with_confirmation_key(key: [u8; 32]) -> Self {
        Plane {
            key: ConfirmationKey(key),
            ..Plane::default()
        }
    }

    /// Sets the host's confirmation key (after a snapshot restore, which never holds it).
    pub fn set_confirmation_key(&mut self, key: [u8; 32]) {
        self.key = ConfirmationKey(key);
    }

    /// Whether four-eyes confirmation is on.
    pub fn four_eyes(&self) -> bool {
        self.four_eyes
    }

    /// The token of the confirmation issued as number `n` for `command_digest` and `actor`,
    /// keyed by the host's secret.
    fn confirmation_token(
        &self,
        command_digest: &Digest,
        actor: &ActorId,
        n: u64,
    ) -> ConfirmationToken {
        let mut input = Vec::with_capacity(96);
        input.extend_from_slice(command_digest.as_bytes());
        input.extend_from_slice(actor.as_bytes());
        input.extend_from_slice(&n.to_le_bytes());
        ConfirmationToken::new(Digest::keyed(&self.key.0, &input).to_hex())
    }

    /// How many confirmations are pending (issued, not used, and not yet forgotten: expired
    /// ones are forgotten one TTL after their expiry).
    pub fn pending_confirmations(&self) -> usize {
        self.pending.len()
    }

    /// The pending confirmations at `now`, soonest expiry first.
    pub fn pending_views(&self, now: Timestamp) -> Vec<PendingView> {
        let mut views: Vec<PendingView> = self
            .pending
            .values()
            .map(|p| PendingView {
                command_digest: p.command_digest,
                actor: p.actor.clone(),
                expires_at: p.expires_at,
                expired: now > p.expires_at,
            })
            .collect();
        views.sort_by(|a, b| {
            (a.expires_at, &a.command_digest, &a.actor).cmp(&(
                b.expires_at,
                &b.command_digest,
                &b.actor,
            ))
        });
        views
    }

    /// How many confirmations have been issued (the next one's number is this plus one).
    pub fn confirmations_issued(&self) -> u64 {
        self.issued
    }

    /// Whether a command takes two steps now when `actor` sends it: by the facts table,
    /// always, or when it loosens a control.
    pub fn needs_confirmation(&self, command: &PlaneCommand, actor: &ActorId) -> bool {
        self.takes_two_steps(command, command.facts().two_step, actor)
    }

    /// As [`Plane::needs_confirmation`], with the command's two-step rule already read.
    #[inline]
    pub(crate) fn takes_two_steps(
        &self,
        command: &PlaneCommand,
        two_step: TwoStep,
        actor: &ActorId,
    ) -> bool {
        match two_step {
            TwoStep::Never => false,
            TwoStep::Always => true,
            TwoStep::WhenLoosening => self.loosens(command, actor),
        }
    }

    /// Whether a command whose facts say "two steps when loosening" loosens a control now.
    fn loosens(&self, command: &PlaneCommand, actor: &ActorId) -> bool {
        match command {
            // Registering another principal's key: whoever holds it may then sign as them.
            PlaneCommand::Admin(AdminCommand::RegisterSigningKey { principal, .. }) => {
                principal != actor
            }
            PlaneCommand::Artifacts(c) => self.artifacts.action_of(c) == Action::ShortenRetention,
            PlaneCommand::Admin(AdminCommand::ConfigureShadowWindow { cycles }) => {
                *cycles < self.registry.shadow_window()
            }
            PlaneCommand::Admin(AdminCommand::ConfigureConfirmations { four_eyes }) => {
                self.four_eyes && !*four_eyes
            }
            PlaneCommand::Admin(AdminCommand::Deploy(spec)) => self
                .deployments
                .environment(&spec.environment)
                .is_some_and(|e| e.production),
            PlaneCommand::Admin(AdminCommand::ChangeStreamRetention {
                stream,
                retention_hours,
            }) => self
                .streams
                .get(stream)
                .is_some_and(|s| *retention_hours < s.retention_hours),
            PlaneCommand::Admin(AdminCommand::ChangeStreamAccess {
                stream,
                publishers,
                subscribers,
            }) => self.streams.get(stream).is_some_and(|s| {
                publishers
                    .as_ref()
                    .is_some_and(|p| !p.is_subset(&s.publishers))
                    || subscribers
                        .as_ref()
                        .is_some_and(|p| !p.is_subset(&s.subscribers))
            }),
            PlaneCommand::Jobs(JobsCommand::ResumeJob { .. }) => true,
            _ => false,
        }
    }

    /// Checks the second step of a two-step command bound to `digest`: without a token,
    /// refuses with `CONFIRMATION_REQUIRED` carrying the token it issues (the request is
    /// recorded by `refusal_events`); with one, checks it and returns the event that
    /// consumes it.
    pub(crate) fn confirm(
        &self,
        digest: Digest,
        ctx: &Context,
    ) -> Result<AdminEvent, PlaneRejection> {
        let Some(token) = &ctx.confirmation_token else {
            let n = self.issued + 1;
            return Err(PlaneRejection::ConfirmationRequired(
                self.confirmation_token(&digest, &ctx.actor.id, n),
            ));
        };
        let token_digest = Digest::of(token.reveal().as_bytes());
        let pending =
            self.pending
                .get(&token_digest)
                .ok_or(PlaneRejection::ConfirmationRefused(
                    "unknown or already used",
                ))?;
        if self.four_eyes {
            if pending.actor == ctx.actor.id {
                return Err(PlaneRejection::ConfirmationRefused(
                    "four-eyes: a different human must confirm",
                ));
            }
        } else if pending.actor != ctx.actor.id {
            return Err(PlaneRejection::ConfirmationRefused(
                "issued to another actor",
            ));
        }
        if pending.command_digest != digest {
            return Err(PlaneRejection::ConfirmationRefused(
                "issued for another command",
            ));
        }
        if ctx.at > pending.expires_at {
            return Err(PlaneRejection::ConfirmationRefused("expired"));
        }
        Ok(AdminEvent::ConfirmationConsumed { token_digest })
    }

    /// The event recording a confirmation request: what the refusal `CONFIRMATION_REQUIRED`
    /// leaves in the journal (the token's digest, never the token).
    pub(crate) fn confirmation_requested(
        &self,
        command: &PlaneCommand,
        token: &ConfirmationToken,
        ctx: &Context,
    ) -> PlaneEvent {
        let expires_at = ctx
            .at
            .checked_add(time::Duration::seconds(CONFIRMATION_TTL_SECONDS))
            .unwrap_or(Timestamp::MAX);
        PlaneEvent::Admin(AdminEvent::ConfirmationRequested {
            command_digest: crate::digest_of(command, ctx),
            actor: ctx.actor.id.clone(),
            token_digest: Digest::of(token.reveal().as_bytes()),
            expires_at,
        })
    }

    pub(crate) fn decide_confirmations(
        &self,
        admin: &AdminCommand,
        ctx: &Context,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        match admin {
            AdminCommand::ConfigureConfirmations { four_eyes } => Ok(raise(
                *four_eyes == self.four_eyes,
                AdminEvent::ConfirmationsConfigured {
                    before: self.four_eyes,
                    after: *four_eyes,
                    by: ctx.actor.id.clone(),
                    reason: ctx.reason.clone(),
                },
            )),
            _ => Err(crate::misrouted()),
        }
    }

    pub(crate) fn evolve_confirmations(&mut self, event: &AdminEvent, meta: &EventMeta<'_>) {
        match event {
            AdminEvent::ConfirmationsConfigured { after, .. } => self.four_eyes = *after,
            AdminEvent::ConfirmationRequested {
                command_digest,
                actor,
                token_digest,
                expires_at,
            } => {
                self.issued += 1;
                // Forget confirmations that expired more than a TTL ago (a late token is
                // still told it expired for one more TTL), so the pending set stays bounded
                // by the requests of the last two TTLs.
                let horizon = meta
                    .at
                    .checked_add(time::Duration::seconds(-CONFIRMATION_TTL_SECONDS))
                    .unwrap_or(meta.at);
                self.pending.retain(|_, p| p.expires_at >= horizon);
                self.pending.insert(
                    *token_digest,
                    Pending {
                        command_digest: *command_digest,
                        actor: actor.clone(),
                        expires_at: *expires_at,
                    },
                );
            }
            AdminEvent::ConfirmationConsumed { token_digest } => {
                self.pending.remove(token_digest);
            }
            _ => {}
        }
    }
}

/// The audit record's shape of a confirmations event (requests and their use are not admin
/// actions of their own: the command they confirm is).
pub(crate) fn classify(event: &AdminEvent) -> Option<Classified> {
    match event {
        AdminEvent::ConfirmationsConfigured {
            before,
            after,
            reason,
            ..
        } => applied(
            Action::ConfigureConfirmations,
            vec!["plane".to_owned()],
            reason,
            (
                json!({ "four_eyes": before }),
                json!({ "four_eyes": after }),
            ),
        ),
        _ => None,
    }
}
