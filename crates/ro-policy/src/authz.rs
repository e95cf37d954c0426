//! Roles, grants, rules and the authorization decision.
//!
//! `authorize` is a pure function of the policy state and a request. Default deny; a forbid
//! always wins; the answer never depends on the order rules or grants were added, and its
//! reasons come sorted.

use std::collections::{BTreeMap, BTreeSet};

use ro_core::{Actor, ActorId, ActorKind};
use serde::{Deserialize, Serialize};

use crate::action::{Action, ActionSet, Safety};

ro_core::id_kind!(
    /// Names a role (built-in or user-defined).
    RoleName,
    RoleTag,
    "role name"
);
ro_core::id_kind!(
    /// Names what a grant is scoped to (a story, a release): separation of duties applies per
    /// subject.
    SubjectId,
    SubjectTag,
    "subject id"
);
ro_core::id_kind!(
    /// Identifies a custom rule.
    RuleId,
    RuleTag,
    "rule id"
);
ro_core::id_kind!(
    /// Identifies a separation-of-duties constraint.
    ConstraintId,
    ConstraintTag,
    "constraint id"
);

/// The built-in roles and their permissions.
pub fn builtin_roles() -> BTreeMap<&'static str, ActionSet> {
    use Action::*;
    let routine = ActionSet::of_safety(Safety::Routine);
    let increasing = ActionSet::of_safety(Safety::Increasing);
    let mut roles = BTreeMap::new();
    roles.insert("admin", ActionSet::all());
    roles.insert(
        "operator",
        routine.union(increasing).union(
            [
                PromoteModel,
                RollbackModel,
                SetCanaryRatio,
                ConfigureShadowWindow,
                ReleaseLockdown,
                ReleaseKillSwitch,
                ProductionUnlock,
                ResetFailureStatus,
                ResumeJob,
                Deploy,
                ApplyChange,
                ResolveDeviation,
                DecideBlocker,
            ]
            .into_iter()
            .collect(),
        ),
    );
    roles.insert(
        "analyst",
        [
            ReadArtifact,
            RegisterArtifact,
            RecordDerivation,
            SupersedeDerivation,
            RecordInfeasible,
            HandOff,
            // An analyst derives and records; it launches nothing (no TRIGGER_RUN).
            SubscribeStream,
            DefineStory,
            RaiseBlocker,
            RequestChange,
            RecordDeviation,
            UpdateDeviation,
        ]
        .into_iter()
        .collect(),
    );
    roles.insert(
        "reviewer",
        [
            ReadArtifact,
            ReviewDerivation,
            ReviewChange,
            SubscribeStream,
            UpdateDeviation,
        ]
        .into_iter()
        .collect(),
    );
    roles.insert(
        "risk_owner",
        [
            ReadArtifact,
            ReviewDerivation,
            ApproveChange,
            RejectChange,
            ApprovePromotion,
            RiskReview,
            SetLimits,
            DefineDeviationType,
            RecordDeviation,
            UpdateDeviation,
            ResolveDeviation,
        ]
        .into_iter()
        .collect(),
    );
    roles
}

/// One role held by a principal, globally or for one subject, with the role's current
/// permissions (kept current when the role is redefined, so a decision reads no role table).
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
#[rkyv(derive(Debug))]
pub struct Grant {
    /// The role.
    pub role: RoleName,
    /// The subject it is limited to; `None` means everywhere.
    pub subject: Option<SubjectId>,
    /// The role's permissions.
    pub permissions: ActionSet,
}

/// Permit or forbid.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Allows, unless something forbids.
    Permit,
    /// Denies, whatever permits.
    Forbid,
}

/// Whom a rule applies to.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalMatch {
    /// Everyone.
    Any,
    /// One actor.
    Actor(ActorId),
    /// Holders of a role (for the request's subject, or globally).
    Role(RoleName),
    /// Every actor of a kind.
    Kind(ActorKind),
}

/// A custom rule: who, which actions, on which resources, with which effect.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The rule's id (named in decisions).
    pub id: RuleId,
    /// Permit or forbid.
    pub effect: Effect,
    /// Whom it applies to.
    pub principal: PrincipalMatch,
    /// Which actions.
    pub actions: crate::action::ActionSet,
    /// Resources it applies to: those starting with this prefix (all when absent).
    #[serde(default)]
    pub resource_prefix: Option<String>,
}

/// What is being asked.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Who asks.
    pub actor: &'a Actor,
    /// What for.
    pub action: Action,
    /// On what (e.g. `artifact:runs/…`, `env:prod`), for rules with a resource prefix.
    pub resource: &'a str,
    /// The subject, for grants and constraints scoped to one.
    pub subject: Option<&'a SubjectId>,
}

/// Why a decision came out as it did.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DecisionReason {
    /// Nothing permits: the default.
    DefaultDeny,
    /// A safety-reducing action by an agent or a service.
    HumanOnly,
    /// The first grant of a plane with no grants at all, to a human.
    Bootstrap,
    /// A role held by the actor permits the action.
    Role(RoleName),
    /// A custom rule.
    Rule(RuleId),
    /// The actor names a kind other than the one its principal is registered with.
    KindMismatch(ActorKind),
    /// Principals are registered and this actor is not one of them.
    UnregisteredPrincipal,
    /// The document names an actor other than the principal the host authenticated.
    ActorMismatch(ActorId),
    /// The credential the host authenticated the actor with was revoked (its id).
    CredentialRevoked(String),
    /// The credential the host authenticated the actor with has expired (its id).
    CredentialExpired(String),
    /// The credential is unknown to the plane or authenticates another principal (its id).
    CredentialInvalid(String),
}

impl DecisionReason {
    /// A short stable label: `default-deny`, `human-only`, `bootstrap`, `role:NAME`,
    /// `rule:ID`, `kind-mismatch:REGISTERED_KIND`, `unregistered-principal`,
    /// `actor-mismatch:CLAIMED_ID`, `credential-revoked:ID`, `credential-expired:ID`,
    /// `credential-invalid:ID`.
    pub fn label(&self) -> String {
        match self {
            DecisionReason::DefaultDeny => "default-deny".into(),
            DecisionReason::HumanOnly => "human-only".into(),
            DecisionReason::Bootstrap => "bootstrap".into(),
            DecisionReason::Role(r) => format!("role:{r}"),
            DecisionReason::Rule(r) => format!("rule:{r}"),
            DecisionReason::KindMismatch(registered) => format!("kind-mismatch:{registered}"),
            DecisionReason::UnregisteredPrincipal => "unregistered-principal".into(),
            DecisionReason::ActorMismatch(claimed) => format!("actor-mismatch:{claimed}"),
            DecisionReason::CredentialRevoked(id) => format!("credential-revoked:{id}"),
            DecisionReason::CredentialExpired(id) => format!("credential-expired:{id}"),
            DecisionReason::CredentialInvalid(id) => format!("credential-invalid:{id}"),
        }
    }
}

/// An explained decision: allowed or not, and the sorted reasons that decided it (the
/// forbidding rules when denied by a forbid, the permitting ones when allowed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Decision {
    /// Whether the request is allowed.
    pub allowed: bool,
    /// The reasons, sorted and without duplicates.
    pub reasons: Vec<DecisionReason>,
}

/// Roles, grants, rules and constraints: everything authorization reads.
///
/// Changed only through its methods, which keep the derived parts (each grant's permissions,
/// the actions any forbid or permit rule names) consistent with the rest.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Default,
    Serialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
pub struct Access {
    exclusive: BTreeMap<ConstraintId, BTreeSet<RoleName>>,
    /// The union of the actions named by forbid rules.
    forbid_actions: ActionSet,
    grants: BTreeMap<ActorId, Vec<Grant>>,
    /// Registered principals and their kinds. While none is registered the kind an actor
    /// names is taken as given; from the first registration on, every actor must be
    /// registered and name its registered kind. Left out of the serialized state while empty.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    principals: BTreeMap<ActorId, ActorKind>,
    /// The union of the actions named by permit rules.
    permit_actions: ActionSet,
    roles: BTreeMap<RoleName, ActionSet>,
    rules: BTreeMap<RuleId, Rule>,
}

impl Access {
    /// Built-in roles, no grants, no rules.
    pub fn with_builtin_roles() -> Self {
        let mut access = Access::default();
        for (name, set) in builtin_roles() {
            if let Ok(role) = RoleName::new(name) {
                access.roles.insert(role, set);
            }
        }
        access
    }

    /// Role permissions (built-in and user-defined).
    pub fn roles(&self) -> &BTreeMap<RoleName, ActionSet> {
        &self.roles
    }

    /// Registered principals and their kinds.
    pub fn principals(&self) -> &BTreeMap<ActorId, ActorKind> {
        &self.principals
    }

    /// Why `actor` may not act as it says it is: a kind other than its registered one, or no
    /// registration while principals are registered. `None` when its identity holds.
    pub fn identity_forbid(&self, actor: &Actor) -> Option<DecisionReason> {
        match self.principals.get(&actor.id) {
            Some(kind) if *kind != actor.kind => Some(DecisionReason::KindMismatch(*kind)),
            Some(_) => None,
            None if self.principals.is_empty() => None,
            None => Some(DecisionReason::UnregisteredPrincipal),
        }
    }

    pub(crate) fn set_principal_kind(&mut self, principal: ActorId, kind: ActorKind) {
        self.principals.insert(principal, kind);
    }

    /// Grants per principal, sorted.
    pub fn grants(&self) -> &BTreeMap<ActorId, Vec<Grant>> {
        &self.grants
    }

    /// Custom rules by id.
    pub fn rules(&self) -> &BTreeMap<RuleId, Rule> {
        &self.rules
    }

    /// Mutually exclusive role sets.
    pub fn exclusive(&self) -> &BTreeMap<ConstraintId, BTreeSet<RoleName>> {
        &self.exclusive
    }

    /// Defines or redefines a role, updating every grant of it. Returns the permissions
    /// before.
    pub fn define_role(&mut self, role: RoleName, permissions: ActionSet) -> Option<ActionSet> {
        for grants in self.grants.values_mut() {
            for g in grants.iter_mut().filter(|g| g.role == role) {
                g.permissions = permissions;
            }
        }
        self.roles.insert(role, permissions)
    }

    /// Grants `role` (which must be defined) to `principal`; returns whether anything changed.
    pub fn grant(
        &mut self,
        principal: ActorId,
        role: RoleName,
        subject: Option<SubjectId>,
    ) -> bool {
        let Some(permissions) = self.roles.get(&role).copied() else {
            return false;
        };
        let grants = self.grants.entry(principal).or_default();
        let grant = Grant {
            role,
            subject,
            permissions,
        };
        match grants.binary_search(&grant) {
            Ok(_) => false,
            Err(at) => {
                grants.insert(at, grant);
                true
            }
        }
    }

    /// Revokes a grant; returns whether it existed.
    pub fn revoke(
        &mut self,
        principal: &ActorId,
        role: &RoleName,
        subject: Option<&SubjectId>,
    ) -> bool {
        let Some(grants) = self.grants.get_mut(principal) else {
            return false;
        };
        let before = grants.len();
        grants.retain(|g| !(&g.role == role && g.subject.as_ref() == subject));
        let removed = grants.len() != before;
        if grants.is_empty() {
            self.grants.remove(principal);
        }
        removed
    }

    /// Adds or replaces a rule.
    pub fn add_rule(&mut self, rule: Rule) {
        self.rules.insert(rule.id.clone(), rule);
        self.reindex_rules();
    }

    /// Removes a rule, returning it.
    pub fn remove_rule(&mut self, id: &RuleId) -> Option<Rule> {
        let removed = self.rules.remove(id);
        self.reindex_rules();
        removed
    }

    /// Declares an exclusive-roles constraint.
    pub fn add_exclusive(&mut self, id: ConstraintId, roles: BTreeSet<RoleName>) {
        self.exclusive.insert(id, roles);
    }

    fn reindex_rules(&mut self) {
        let union = |effect| {
            self.rules
                .values()
                .filter(|r| r.effect == effect)
                .fold(ActionSet::EMPTY, |acc, r| acc.union(r.actions))
        };
        self.forbid_actions = union(Effect::Forbid);
        self.permit_actions = union(Effect::Permit);
    }

    /// Whether `actor` holds `role` for `subject` (a global grant counts everywhere).
    pub fn holds(&self, actor: &ActorId, role: &RoleName, subject: Option<&SubjectId>) -> bool {
        self.grants.get(actor).is_some_and(|grants| {
            grants
                .iter()
                .any(|g| &g.role == role && (g.subject.is_none() || g.subject.as_ref() == subject))
        })
    }

    fn rule_matches(&self, rule: &Rule, req: &Request<'_>) -> bool {
        if !rule.actions.contains(req.action) {
            return false;
        }
        if let Some(prefix) = &rule.resource_prefix
            && !req.resource.starts_with(prefix.as_str())
        {
            return false;
        }
        match &rule.principal {
            PrincipalMatch::Any => true,
            PrincipalMatch::Actor(id) => id == &req.actor.id,
            PrincipalMatch::Role(role) => self.holds(&req.actor.id, role, req.subject),
            PrincipalMatch::Kind(kind) => *kind == req.actor.kind,
        }
    }

    /// Decides `req`: forbids first (human-only, forbid rules), then permits (roles, permit
    /// rules), else the default deny.
    pub fn authorize(&self, req: &Request<'_>) -> Decision {
        let mut forbids = Vec::new();
        forbids.extend(self.identity_forbid(req.actor));
        if req.action.safety() == Safety::Reducing && req.actor.kind != ActorKind::Human {
            forbids.push(DecisionReason::HumanOnly);
        }
        if self.forbid_actions.contains(req.action) {
            for rule in self.rules.values() {
                if rule.effect == Effect::Forbid && self.rule_matches(rule, req) {
                    forbids.push(DecisionReason::Rule(rule.id.clone()));
                }
            }
        }
        if !forbids.is_empty() {
            forbids.sort();
            return Decision {
                allowed: false,
                reasons: forbids,
            };
        }
        let mut permits = Vec::new();
        if let Some(grants) = self.grants.get(&req.actor.id) {
            for grant in grants {
                let in_scope = grant.subject.is_none() || grant.subject.as_ref() == req.subject;
                if in_scope && grant.permissions.contains(req.action) {
                    permits.push(DecisionReason::Role(grant.role.clone()));
                }
            }
        }
        if self.permit_actions.contains(req.action) {
            for rule in self.rules.values() {
                if rule.effect == Effect::Permit && self.rule_matches(rule, req) {
                    permits.push(DecisionReason::Rule(rule.id.clone()));
                }
            }
        }
        if permits.is_empty() {
            return Decision {
                allowed: false,
                reasons: vec![DecisionReason::DefaultDeny],
            };
        }
        permits.sort();
        permits.dedup();
        Decision {
            allowed: true,
            reasons: permits,
        }
    }

    /// The first exclusive-roles constraint that granting `role` for `subject` to `actor`
    /// would break.
    pub fn exclusive_violation(
        &self,
        actor: &ActorId,
        role: &RoleName,
        subject: Option<&SubjectId>,
    ) -> Option<&ConstraintId> {
        let held = self.grants.get(actor)?;
        self.exclusive.iter().find_map(|(id, roles)| {
            if !roles.contains(role) {
                return None;
            }
            let clash = held.iter().any(|g| {
                &g.role != role
                    && roles.contains(&g.role)
                    && (g.subject.is_none() || subject.is_none() || g.subject.as_ref() == subject)
            });
            clash.then_some(id)
        })
    }
}
