//! The plane: one decider over one totally ordered stream, composing policy, artifacts and
//! jobs, with the plane's own admin actions on top.
//!
//! Every command goes authorize → guard → decide → append → evolve ([`Plane`]'s
//! [`Decider`] implementation, below). The guards read one table: each command's facts
//! (`ro_policy::facts`), declared next to its definition ([`AdminCommand`]'s in [`command`],
//! the domains' in their crates). The plane's own commands are decided, and their events
//! folded and classified for the audit, in one room per capability:
//!
//! | room | holds |
//! |---|---|
//! | [`posture`] | the emergency lockdown, the production lock, the kill switch |
//! | [`confirm`] | two-step confirmations, their tokens and expiry, four-eyes |
//! | [`registry`] | models, the promotion path, cycles, the failure status and incidents |
//! | [`health`] | components, freshness, readiness GO/NO-GO; [`observe`]: signals and job outcomes |
//! | [`signing`] | Ed25519 keys, required signatures, the signature log |
//! | [`deploy`] | environments, deployments, rollouts, last-known-good |
//! | [`streams`] | event-bus streams, retention and partitions |
//! | [`credentials`] | API tokens: issued, expiring, revoked (never their secrets) |
//! | [`alerts`] | alert routing as data; alerts raised, acknowledged, resolved |
//! | [`learning`] | online ML metrics and the quarantine of experiences |
//! | [`query`] | the read-only queries and reports; [`attestation`], [`audit`] |
//!
//! ```
//! use ro_admin::{Plane, PlaneCommand, AdminCommand};
//! use ro_core::{Context, Kernel, Reason, testing::{agent, human, t0}};
//!
//! let plane = Plane::with_confirmation_key([7; 32]);
//! let mut kernel = Kernel::resume(plane, 0, ro_core::Journal::new())?;
//! // Every admin action gives a reason; it is kept on its audit record.
//! let ctx = Context::new(t0(), human("alice")).with_reason(Reason::new("onboarding")?);
//! kernel.execute(&PlaneCommand::Policy(serde_json::from_str(r#"{"type":"GRANT_ROLE","principal":"alice","role":"admin"}"#)?), &ctx)?;
//! kernel.execute(&PlaneCommand::Policy(serde_json::from_str(r#"{"type":"GRANT_ROLE","principal":"bot","role":"operator"}"#)?), &ctx)?;
//! // An agent may raise the lockdown (safer) …
//! kernel.execute(&PlaneCommand::Admin(AdminCommand::EmergencyLockdown {}), &Context::new(t0(), agent("bot")))?;
//! // … after which management commands are refused.
//! let refused = kernel.execute(&PlaneCommand::Policy(serde_json::from_str(r#"{"type":"GRANT_ROLE","principal":"carol","role":"analyst"}"#)?), &ctx);
//! assert_eq!(refused.unwrap_err().code(), "LOCKDOWN_ACTIVE");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod alerts;
pub mod attestation;
pub mod audit;
pub mod command;
pub mod confirm;
pub mod credentials;
pub mod deploy;
pub mod event;
pub mod health;
pub mod learning;
pub mod observe;
pub mod posture;
pub mod query;
pub mod registry;
pub mod rejection;
pub mod signing;
pub mod streams;
#[cfg(feature = "testing")]
pub mod testing;

use std::borrow::Cow;
use std::collections::BTreeMap;

use ro_artifacts::{ArtifactCommand, ArtifactEvent, Artifacts};
use ro_core::{Actor, ActorId, Context, Decider, Digest, EventMeta, InvariantViolation};
use ro_jobs::{Jobs, JobsCommand, JobsEvent};
use ro_policy::{
    Action, Policy, PolicyCommand, PolicyEvent, PolicyRejection, Request, Safety, gate::Gate,
};
use serde::{Deserialize, Serialize};

pub use command::{AdminCommand, Room};
pub use confirm::{CONFIRMATION_TTL_SECONDS, Pending, command_digest};
pub use event::AdminEvent;
pub use query::{CommandResult, PlaneQuery, QueryAnswer, SafetyPosture, command_result};
pub use rejection::PlaneRejection;

use confirm::ConfirmationKey;
use deploy::Deployments;
use health::{Components, Readiness};
use registry::Registry;
use signing::Signing;
use streams::Streams;

/// Anything that may be asked of the plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "domain", content = "command", rename_all = "snake_case")]
#[expect(
    clippy::large_enum_variant,
    reason = "values are moved once into the journal; boxing would add an allocation per command and event"
)]
pub enum PlaneCommand {
    /// A policy command.
    Policy(PolicyCommand),
    /// An artifact command.
    Artifacts(ArtifactCommand),
    /// A jobs command.
    Jobs(JobsCommand),
    /// An admin command.
    Admin(AdminCommand),
}

impl PlaneCommand {
    /// The command's wire name (`"type"`), read from the facts table.
    pub fn type_name(&self) -> &'static str {
        self.facts().ty
    }

    /// Decodes a command in the flat form operators send (`{"type": "...", fields}`, without
    /// the context fields): its domain is found by one lookup of the type (or alias) in the
    /// facts tables, then the document is decoded with that domain's enum. `None` for a type
    /// no domain holds. `TICK`, the one type two domains share, is the policy's.
    pub fn from_flat(
        ty: &str,
        body: serde_json::Value,
    ) -> Option<Result<PlaneCommand, serde_json::Error>> {
        fn holds<R: Copy>(facts: &[ro_policy::CommandFacts<R>], ty: &str) -> bool {
            facts.iter().any(|f| f.is_named(ty))
        }
        Some(if holds(PolicyCommand::FACTS, ty) {
            PolicyCommand::deserialize(body).map(PlaneCommand::Policy)
        } else if holds(AdminCommand::FACTS, ty) {
            AdminCommand::deserialize(body).map(PlaneCommand::Admin)
        } else if holds(JobsCommand::FACTS, ty) {
            JobsCommand::deserialize(body).map(PlaneCommand::Jobs)
        } else if holds(ArtifactCommand::FACTS, ty) {
            ArtifactCommand::deserialize(body).map(PlaneCommand::Artifacts)
        } else {
            return None;
        })
    }

    /// The command's facts (`ro_policy::facts`), read from its domain's table.
    pub fn facts(&self) -> ro_policy::CommandFacts {
        match self {
            PlaneCommand::Policy(c) => c.facts().plain(),
            PlaneCommand::Artifacts(c) => c.facts().plain(),
            PlaneCommand::Jobs(c) => c.facts().plain(),
            PlaneCommand::Admin(c) => c.facts().plain(),
        }
    }
}

/// Everything that happens on the plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "domain", content = "event", rename_all = "snake_case")]
pub enum PlaneEvent {
    /// A policy event.
    Policy(PolicyEvent),
    /// An artifact event.
    Artifacts(ArtifactEvent),
    /// A jobs event.
    Jobs(JobsEvent),
    /// An admin event.
    Admin(AdminEvent),
}

impl ro_core::Event for PlaneEvent {
    const SCHEMA_VERSION: u32 = 1;
}

/// The plane's state: every domain's state and the plane's own.
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
pub struct Plane {
    alerts: alerts::Alerts,
    artifacts: Artifacts,
    components: Components,
    credentials: credentials::Credentials,
    deployments: Deployments,
    four_eyes: bool,
    /// Issued confirmations, for unique tokens (part of the token's input).
    issued: u64,
    jobs: Jobs,
    kill_switch: Option<ActorId>,
    learning: learning::Learning,
    lockdown: Option<ActorId>,
    observability: observe::Observability,
    pending: BTreeMap<Digest, Pending>,
    policy: Policy,
    production_lock: Option<ActorId>,
    readiness: Readiness,
    registry: Registry,
    signing: Signing,
    streams: Streams,
    #[serde(skip)]
    #[rkyv(with = rkyv::with::Skip)]
    key: ConfirmationKey,
}

impl Plane {
    /// The policy state.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The artifact store's state.
    pub fn artifacts(&self) -> &Artifacts {
        &self.artifacts
    }

    /// The jobs plane's state.
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// The model registry, cycles and failure status.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The ro-policy action of a command and the resource it touches, from the command's own
    /// domain (policy commands authorize themselves inside ro-policy).
    pub fn action_of(&self, command: &PlaneCommand) -> (Action, Cow<'static, str>) {
        match command {
            PlaneCommand::Policy(c) => {
                let (a, r, _) = c.action();
                (a, Cow::Owned(r))
            }
            PlaneCommand::Artifacts(c) => (self.artifacts.action_of(c), "artifacts".into()),
            PlaneCommand::Jobs(c) => (c.action(), "jobs".into()),
            PlaneCommand::Admin(c) => c.action(),
        }
    }

    fn authorize(
        &self,
        action: Action,
        resource: &str,
        actor: &Actor,
    ) -> Result<(), PlaneRejection> {
        let decision = self.policy.authorize(&Request {
            actor,
            action,
            resource,
            subject: None,
        });
        if decision.allowed {
            Ok(())
        } else {
            Err(PlaneRejection::Policy(PolicyRejection::Unauthorized {
                action,
                reasons: decision.reasons,
            }))
        }
    }

    /// Authorize → guard → decide, for one command (the signature is checked before, the
    /// confirmation after).
    fn decide_one(
        &self,
        command: &PlaneCommand,
        facts: &ro_policy::CommandFacts,
        (action, resource): (Action, &str),
        ctx: &Context,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        // 1. Identity first, for every command: an actor naming a kind other than its
        //    registered one, or unregistered while principals are, is refused whatever the
        //    command and the posture. Then authorize (policy commands authorize themselves,
        //    with the bootstrap grant).
        //    A document naming someone other than the principal the host authenticated is
        //    refused before anything else, and recorded against the principal.
        //    So is a command whose credential no longer authenticates its principal at the
        //    command's time.
        let mismatch = ctx
            .claimed_actor
            .as_ref()
            .filter(|claimed| **claimed != ctx.actor.id)
            .map(|claimed| ro_policy::DecisionReason::ActorMismatch(claimed.clone()));
        if let Some(reason) = self
            .credential_forbid(ctx)
            .or(mismatch)
            .or_else(|| self.policy.access().identity_forbid(&ctx.actor))
        {
            return Err(PlaneRejection::Policy(PolicyRejection::Unauthorized {
                action,
                reasons: vec![reason],
            }));
        }
        if !matches!(command, PlaneCommand::Policy(_)) {
            self.authorize(action, resource, &ctx.actor)?;
        }
        // 2. Guard, from the facts table: during a lockdown only what passes it or makes the
        //    plane safer; under a production lock or the kill switch nothing that enables
        //    execution.
        //    A read-only job's runs are not execution.
        let read_only = matches!(command, PlaneCommand::Jobs(c) if self.jobs.of_read_only_job(c));
        self.guard_posture(
            facts.passes_lockdown || action.safety() == Safety::Increasing,
            facts.enables_execution && !read_only,
        )?;
        //    Freeze discipline: a controlled (safety-reducing) command on a frozen component (its
        //    resource, or the resource's kind) passes only by applying an approved change
        //    request for it, in the same append; change control itself is exempt.
        let applies = match self.controlled_component(action, resource) {
            None => None,
            Some(component) => Some(
                self.policy
                    .approved_change_for(component)
                    .cloned()
                    .ok_or_else(|| {
                        PlaneRejection::Policy(PolicyRejection::Freeze(format!(
                            "{component} is frozen: request a change (REQUEST_CHANGE), have it \
                             reviewed and approved; the approved change lets this command \
                             through once and is applied with it"
                        )))
                    })?,
            ),
        };
        // A job runs only with config versions that were published (and, when it pins a
        // digest, with that content).
        if let PlaneCommand::Jobs(ro_jobs::JobsCommand::DefineJob { definition }) = command {
            for pin in &definition.config_versions {
                let published = self.policy.config(&pin.config_name, &pin.config_version);
                let matches =
                    published.is_some_and(|p| pin.digest.is_none() || pin.digest == p.digest);
                if !matches {
                    return Err(PlaneRejection::InvalidArgument(format!(
                        "config {} {} {}: publish it with PUBLISH_CONFIG first",
                        pin.config_name,
                        pin.config_version,
                        if published.is_some() {
                            "was published with another digest"
                        } else {
                            "was never published"
                        }
                    )));
                }
            }
        }
        // A job's input gate is the artifact store's: a report that contradicts it (or a PASS
        // for an artifact the store does not hold) is refused, and recorded.
        if let PlaneCommand::Jobs(ro_jobs::JobsCommand::ObserveGate { locator, status }) = command {
            let store = self.artifacts.gate_of(locator);
            if store.map_or(*status == Gate::Pass, |g| g != *status) {
                return Err(PlaneRejection::GateContradictsStore {
                    locator: locator.clone(),
                    reported: status.name(),
                    store: store.map_or("UNREGISTERED", Gate::name),
                });
            }
        }
        // 3. Decide, in the command's domain or room.
        let events = match command {
            PlaneCommand::Policy(c) => wrap(
                self.policy.decide(c, ctx),
                PlaneRejection::Policy,
                PlaneEvent::Policy,
            )?,
            PlaneCommand::Artifacts(c) => wrap(
                self.artifacts.decide(c, ctx),
                PlaneRejection::Artifacts,
                PlaneEvent::Artifacts,
            )?,
            PlaneCommand::Jobs(c) => wrap(
                self.jobs.decide(c, ctx),
                PlaneRejection::Jobs,
                PlaneEvent::Jobs,
            )?,
            PlaneCommand::Admin(admin) => match admin.facts().room {
                Room::Posture => self.decide_posture(admin, ctx)?,
                Room::Confirmations => self.decide_confirmations(admin, ctx)?,
                Room::Registry => self.decide_registry(admin, ctx)?,
                Room::Health => self.decide_health(admin, ctx)?,
                Room::Signing => self.decide_signing(admin, ctx)?,
                Room::Deploy => self.decide_deploy(admin, ctx)?,
                Room::Streams => self.decide_streams(admin, ctx)?,
                Room::Credentials => self.decide_credentials(admin, ctx)?,
                Room::Alerts => self.decide_alerts(admin, ctx)?,
                Room::Learning => self.decide_learning(admin, ctx)?,
            },
        };
        let mut events = events;
        if matches!(command, PlaneCommand::Artifacts(_)) {
            self.gates_reach_jobs(&mut events);
        }
        // A job defined with inputs sees the gates the artifact store already holds for them.
        if let PlaneCommand::Jobs(ro_jobs::JobsCommand::DefineJob { definition }) = command
            && !events.is_empty()
        {
            for input in &definition.inputs {
                let (store, seen) = (self.artifacts.gate_of(input), self.jobs.gate(input));
                if let Some(gate) = store
                    && seen != Some(gate)
                    && (seen.is_some() || gate == Gate::Pass)
                {
                    events.push(PlaneEvent::Jobs(ro_jobs::JobsEvent::GateObserved {
                        locator: input.clone(),
                        status: gate,
                    }));
                }
            }
        }
        // A forbidden action recorded in a story opens its compliance deviation (which pauses
        // production until a human resolves it), in the same append.
        if let PlaneCommand::Artifacts(ArtifactCommand::RecordViolation { story, .. }) = command
            && !events.is_empty()
            && let Some(opened) = self.policy.deviation_event(
                "compliance_failure",
                ctx.at,
                format!("a forbidden action was recorded in story {story}"),
            )
        {
            events.push(PlaneEvent::Policy(opened));
        }
        if let Some(change) = applies
            && !events.is_empty()
            && let Some(applied) = self
                .policy
                .change_applied_event(&change, ctx.reason.as_ref())
        {
            events.push(PlaneEvent::Policy(applied));
        }
        Ok(events)
    }
}

impl Plane {
    /// The jobs see the artifact store's gates: every gate the store's events set (registered
    /// PENDING, set, failed closed on a digest mismatch, FAIL once tombstoned) on an input some
    /// job reads is observed by the jobs in the same append, when it changes what they see (a
    /// job defined later is shown the store's gates of its inputs then).
    fn gates_reach_jobs(&self, events: &mut Vec<PlaneEvent>) {
        use ro_artifacts::ArtifactEvent as A;
        if !self.jobs.reads_any() {
            return;
        }
        let mut observed = Vec::new();
        for event in events.iter() {
            let (locator, gate) = match event {
                PlaneEvent::Artifacts(A::ArtifactRegistered { artifact, .. }) => {
                    (&artifact.locator, Gate::Pending)
                }
                PlaneEvent::Artifacts(A::GateSet { locator, after, .. }) => (locator, *after),
                PlaneEvent::Artifacts(A::DigestMismatchDetected { locator, gate, .. }) => {
                    (locator, *gate)
                }
                PlaneEvent::Artifacts(A::ArtifactTombstoned { locator, .. }) => {
                    (locator, Gate::Fail)
                }
                _ => continue,
            };
            let locator = locator.as_str();
            if !self.jobs.reads(locator) {
                continue;
            }
            let last = observed
                .iter()
                .rev()
                .find_map(|(l, g): &(&str, Gate)| (*l == locator).then_some(*g))
                .or_else(|| self.jobs.gate(locator));
            // An input the jobs never saw is not PASS already: a gate other than PASS for it
            // changes nothing they decide, so it is not repeated.
            if last != Some(gate) && (last.is_some() || gate == Gate::Pass) {
                observed.push((locator, gate));
            }
        }
        let observed: Vec<PlaneEvent> = observed
            .into_iter()
            .map(|(locator, status)| {
                PlaneEvent::Jobs(ro_jobs::JobsEvent::GateObserved {
                    locator: locator.to_owned(),
                    status,
                })
            })
            .collect();
        events.extend(observed);
    }

    /// The frozen component a command falls under when it is controlled (safety-reducing,
    /// and not change control itself).
    fn controlled_component(
        &self,
        action: Action,
        resource: &str,
    ) -> Option<&ro_policy::ComponentId> {
        let change_control = matches!(
            action,
            Action::Freeze
                | Action::RequestChange
                | Action::ReviewChange
                | Action::ApproveChange
                | Action::RejectChange
                | Action::ApplyChange
        );
        if change_control || action.safety() != Safety::Reducing {
            return None;
        }
        self.policy.frozen_component(resource)
    }
}

/// The digest of `command`, the one its confirmation and signature are bound to: the host's
/// causation when it gave one (it computes it from the same bytes), otherwise computed here.
pub(crate) fn digest_of(command: &PlaneCommand, ctx: &Context) -> Digest {
    ctx.causation.unwrap_or_else(|| command_digest(command))
}

/// A domain's decision as the plane's events.
/// (Generic over the two constructors, not function pointers, so each call site inlines
/// them: an event is moved once, into its place in the new vector.)
#[inline]
fn wrap<E, R>(
    decided: Result<Vec<E>, R>,
    rejection: impl FnOnce(R) -> PlaneRejection,
    event: impl FnMut(E) -> PlaneEvent,
) -> Result<Vec<PlaneEvent>, PlaneRejection> {
    Ok(decided.map_err(rejection)?.into_iter().map(event).collect())
}

/// A release of something raised: refused when nothing is raised (the plane checks the
/// release's confirmation after its room has decided).
pub(crate) fn release(
    raised: bool,
    nothing_raised: &'static str,
    event: AdminEvent,
) -> Result<Vec<PlaneEvent>, PlaneRejection> {
    if raised {
        Ok(vec![PlaneEvent::Admin(event)])
    } else {
        Err(PlaneRejection::Invalid(nothing_raised))
    }
}

/// A one-step raise: nothing to record when already raised.
pub(crate) fn raise(already: bool, event: AdminEvent) -> Vec<PlaneEvent> {
    if already {
        Vec::new()
    } else {
        vec![PlaneEvent::Admin(event)]
    }
}

/// The refusal of a command sent to a room that does not hold it: the facts table routes
/// every command to its room, so this answers only a table that disagrees with a room.
pub(crate) fn misrouted() -> PlaneRejection {
    PlaneRejection::Invalid("internal: this command was routed to a room that does not decide it")
}

impl Decider for Plane {
    type Command = PlaneCommand;
    type Event = PlaneEvent;
    type Rejection = PlaneRejection;

    fn decide(
        &self,
        command: &PlaneCommand,
        ctx: &Context,
    ) -> Result<Vec<PlaneEvent>, PlaneRejection> {
        // The digest is computed at most once, and only for a signed or two-step command.
        let digest = std::cell::OnceCell::new();
        let digest = || *digest.get_or_init(|| digest_of(command, ctx));
        // The facts and the action are read once, for every guard.
        let facts = command.facts();
        let (action, resource) = self.action_of(command);
        let mut signed = self.check_signature(action, ctx, digest)?;
        let two_step = self.takes_two_steps(command, facts.two_step, &ctx.actor.id);
        if !two_step && ctx.confirmation_token.is_some() {
            return Err(PlaneRejection::Invalid(
                if command.facts().two_step == ro_policy::TwoStep::WhenLoosening {
                    "this command takes two steps only when it loosens a control, and this one \
                     does not: send it without a confirmation token"
                } else {
                    "this command takes one step: send it without a confirmation token"
                },
            ));
        }
        let mut events = self.decide_one(command, &facts, (action, &resource), ctx)?;
        // Every admin action says why, on both steps of a two-step one.
        if ctx.reason.is_none()
            && !audit::reason_optional(action)
            && events.iter().any(|e| audit::records_applied(e, action))
        {
            return Err(PlaneRejection::ReasonRequired(action));
        }
        if two_step {
            let consumed = self.confirm(digest(), ctx)?;
            events.insert(0, PlaneEvent::Admin(consumed));
        }
        // What the decision raises or resolves, in the same append.
        self.derive_alerts(Some(command), &mut events, ctx);
        if events.is_empty() || signed.is_empty() {
            // An idempotent repeat records nothing, not even the verification.
            return Ok(events);
        }
        signed.append(&mut events);
        Ok(signed)
    }

    fn refusal_events(
        &self,
        command: &PlaneCommand,
        rejection: &PlaneRejection,
        ctx: &Context,
    ) -> Vec<PlaneEvent> {
        let mut events = self.refusal_events_of(command, rejection, ctx);
        // A refusal that opens a deviation (an agent attempting a human-only action) alerts.
        if !events.is_empty() {
            self.derive_alerts(None, &mut events, ctx);
        }
        events
    }

    fn evolve(&mut self, event: &PlaneEvent, meta: &EventMeta<'_>) {
        if meta.seq == 1 {
            self.signing.set_plane_id(signing::plane_id_of(meta));
        }
        match event {
            PlaneEvent::Policy(e) => self.policy.evolve(e, meta),
            PlaneEvent::Artifacts(e) => self.artifacts.evolve(e, meta),
            PlaneEvent::Jobs(e) => {
                // Counted first: the outcomes counted never create a run and a run's job never
                // changes, so the answer is the same either way, but before `evolve` closes the
                // run it is found among the few open runs rather than the many closed ones.
                self.count_outcome(e, meta.at);
                self.jobs.evolve(e, meta);
            }
            PlaneEvent::Admin(e) => match e.room() {
                Room::Registry => self.evolve_registry(e, meta),
                Room::Health => self.evolve_health(e, meta),
                Room::Posture => self.evolve_posture(e, meta),
                Room::Confirmations => self.evolve_confirmations(e, meta),
                Room::Signing => self.evolve_signing(e, meta),
                Room::Deploy => self.evolve_deploy(e, meta),
                Room::Streams => self.evolve_streams(e),
                Room::Credentials => self.evolve_credentials(e),
                Room::Alerts => self.evolve_alerts(e, meta),
                Room::Learning => self.evolve_learning(e, meta),
            },
        }
    }

    fn restored(&mut self) {
        self.policy.restored();
        self.artifacts.restored();
        self.jobs.restored();
    }

    fn check_invariants(&self) -> Result<(), InvariantViolation> {
        self.policy.check_invariants()?;
        self.artifacts.check_invariants()?;
        self.jobs.check_invariants()?;
        self.registry.check().map_err(InvariantViolation)?;
        if self.pending.len() as u64 > self.issued {
            return Err(InvariantViolation(
                "more pending confirmations than were issued".into(),
            ));
        }
        Ok(())
    }
}

impl Plane {
    /// The events a refusal records: a confirmation issued, an access denied (and the
    /// deviation it opens), a signature rejected.
    fn refusal_events_of(
        &self,
        command: &PlaneCommand,
        rejection: &PlaneRejection,
        ctx: &Context,
    ) -> Vec<PlaneEvent> {
        let denied = |reason: &str| {
            let (action, resource) = self.action_of(command);
            vec![PlaneEvent::Policy(PolicyEvent::AccessDenied {
                action,
                resource: resource.into_owned(),
                reasons: vec![reason.into()],
            })]
        };
        match rejection {
            PlaneRejection::ConfirmationRequired(token) => {
                vec![self.confirmation_requested(command, token, ctx)]
            }
            PlaneRejection::Policy(r @ PolicyRejection::Unauthorized { reasons, .. }) => {
                if let PlaneCommand::Policy(c) = command {
                    return wrap_all(self.policy.refusal_events(c, r, ctx), PlaneEvent::Policy);
                }
                let (action, resource) = self.action_of(command);
                wrap_all(
                    self.policy
                        .access_denied_events(action, &resource, reasons, ctx),
                    PlaneEvent::Policy,
                )
            }
            PlaneRejection::SignatureInvalid(why) => self.signature_rejected(command, why, ctx),
            PlaneRejection::SignatureRequired(_) => denied("signature-required"),
            PlaneRejection::KeyUnproven(_) => denied("key-possession-unproven"),
            PlaneRejection::LockdownActive => denied("lockdown"),
            PlaneRejection::ProductionLocked => denied("production_lock"),
            PlaneRejection::KillSwitchEngaged => denied("kill_switch"),
            PlaneRejection::DeviationOpen => denied("deviation"),
            PlaneRejection::GateContradictsStore { .. } => denied("gate_contradicts_store"),
            PlaneRejection::Policy(r) => match command {
                PlaneCommand::Policy(c) => {
                    wrap_all(self.policy.refusal_events(c, r, ctx), PlaneEvent::Policy)
                }
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }
}

/// A domain's events as the plane's.
fn wrap_all<E>(events: Vec<E>, event: fn(E) -> PlaneEvent) -> Vec<PlaneEvent> {
    events.into_iter().map(event).collect()
}

#[cfg(test)]
mod state_layout_tests {
    use super::*;

    /// The state structs declare their fields in key order, so the canonical serializer, which
    /// re-orders an object only when its members arrive out of order, copies nothing when
    /// digesting a state (a fifth of a large state's digest when they did not). Serialized as
    /// declared, the initial plane must already be its canonical form.
    #[test]
    fn the_state_is_declared_in_key_order() {
        let plane = Plane::with_confirmation_key([7; 32]);
        let as_declared = String::from_utf8(serde_json::to_vec(&plane).unwrap()).unwrap();
        let canonical =
            String::from_utf8(ro_core::canonical::to_canonical_vec(&plane).unwrap()).unwrap();
        assert_eq!(as_declared, canonical);
    }
}
