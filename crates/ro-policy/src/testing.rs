//! proptest strategies for principals, grants, actions and policy commands (feature
//! `testing`), and the policy's invariant check as a public function.

use proptest::prelude::*;
use ro_core::{Actor, ActorKind, Decider, InvariantViolation, testing::strategy};

use crate::{
    Access, Action, ActionSet, Effect, Policy, PolicyCommand, PrincipalMatch, RoleName, Rule,
    SubjectId,
};

/// Any action.
pub fn action() -> impl Strategy<Value = Action> {
    proptest::sample::select(Action::ALL)
}

/// One of the built-in roles.
pub fn builtin_role() -> impl Strategy<Value = RoleName> {
    proptest::sample::select(&["admin", "operator", "analyst", "reviewer", "risk_owner"][..])
        .prop_filter_map("valid role", |r| RoleName::new(r).ok())
}

/// Actors drawn from a small pool (`p-0` … `p-{n-1}`), of any kind.
pub fn principal(n: u32) -> impl Strategy<Value = Actor> {
    (strategy::pooled_id("p", n), strategy::actor_kind()).prop_map(|(id, kind)| Actor { id, kind })
}

/// Subjects drawn from a small pool.
pub fn subject() -> impl Strategy<Value = Option<SubjectId>> {
    proptest::option::of(strategy::pooled_id::<crate::authz::SubjectTag>("s", 3))
}

/// Grant and revoke commands over a pool of `n` principals.
pub fn grant_command(n: u32) -> impl Strategy<Value = PolicyCommand> {
    (
        strategy::pooled_id("p", n),
        builtin_role(),
        subject(),
        any::<bool>(),
    )
        .prop_map(|(principal, role, subject, grant)| {
            if grant {
                PolicyCommand::GrantRole {
                    principal,
                    role,
                    subject,
                }
            } else {
                PolicyCommand::RevokeRole {
                    principal,
                    role,
                    subject,
                }
            }
        })
}

/// Any set of actions (each action in or out with equal odds).
pub fn action_set() -> impl Strategy<Value = ActionSet> {
    proptest::collection::vec(any::<bool>(), Action::ALL.len()).prop_map(|bits| {
        Action::ALL
            .iter()
            .zip(bits)
            .filter(|(_, on)| *on)
            .map(|(a, _)| *a)
            .collect()
    })
}

/// Resources for requests: some match the prefixes [`rule`] draws, some match none.
pub fn resource() -> impl Strategy<Value = String> {
    proptest::sample::select(&["env:prod/api", "env:staging", "artifact:runs/1", "clock"][..])
        .prop_map(str::to_string)
}

/// A custom rule (`r-0` … `r-5`): either effect; any principal, one of `n` actors, a
/// built-in role or a kind; one to three actions; an optional resource prefix.
pub fn rule(n: u32) -> impl Strategy<Value = Rule> {
    (
        strategy::pooled_id::<crate::authz::RuleTag>("r", 6),
        prop_oneof![Just(Effect::Permit), Just(Effect::Forbid)],
        prop_oneof![
            Just(PrincipalMatch::Any),
            strategy::pooled_id("p", n).prop_map(PrincipalMatch::Actor),
            builtin_role().prop_map(PrincipalMatch::Role),
            strategy::actor_kind().prop_map(PrincipalMatch::Kind),
        ],
        proptest::collection::vec(action(), 1..4),
        proptest::option::of(
            proptest::sample::select(&["env:prod", "env:", "artifact:"][..])
                .prop_map(str::to_string),
        ),
    )
        .prop_map(|(id, effect, principal, actions, resource_prefix)| Rule {
            id,
            effect,
            principal,
            actions: actions.into_iter().collect(),
            resource_prefix,
        })
}

/// Everything authorization reads, built straight through [`Access`]'s methods: the
/// built-in roles plus a user-defined role `custom` with random permissions, up to ten grants
/// over `n` principals (global or scoped to a subject) and up to five rules.
pub fn access(n: u32) -> impl Strategy<Value = Access> {
    (
        action_set(),
        proptest::collection::vec(
            (
                strategy::pooled_id("p", n),
                prop_oneof![
                    4 => builtin_role(),
                    1 => Just("custom").prop_filter_map("valid role", |r| RoleName::new(r).ok()),
                ],
                subject(),
            ),
            0..10,
        ),
        proptest::collection::vec(rule(n), 0..6),
    )
        .prop_map(|(custom, grants, rules)| {
            let mut access = Access::with_builtin_roles();
            if let Ok(role) = RoleName::new("custom") {
                access.define_role(role, custom);
            }
            for (p, role, subject) in grants {
                access.grant(p, role, subject);
            }
            for r in rules {
                access.add_rule(r);
            }
            access
        })
}

/// Event histories the policy itself produced: grants and revocations over `n` principals
/// by humans of the same pool at [`ro_core::testing::t0`] (the first grant bootstraps; refused
/// ones leave their denial records).
pub fn events(n: u32) -> impl Strategy<Value = Vec<crate::PolicyEvent>> {
    proptest::collection::vec((strategy::pooled_id("p", n), grant_command(n)), 0..24).prop_map(
        |commands| {
            let mut kernel = ro_core::Kernel::<Policy>::new();
            let at = ro_core::testing::t0();
            ro_core::testing::events_of(
                &mut kernel,
                commands
                    .into_iter()
                    .map(|(id, c)| (ro_core::Context::new(at, Actor::human(id)), c)),
            )
        },
    )
}

/// Whether `kind` may ever perform `action` (humans anything; others never a reducing one).
pub fn kind_may(kind: ActorKind, action: Action) -> bool {
    kind == ActorKind::Human || action.safety() != crate::Safety::Reducing
}

/// The policy's invariants, for downstream suites.
pub fn check_invariants(policy: &Policy) -> Result<(), InvariantViolation> {
    policy.check_invariants()
}

/// Checks a command enum's facts table (`command_facts!`) against the enum itself: every
/// command type the enum's JSON Schema names has exactly one entry, every entry (and alias)
/// names a type serde decodes, and no two entries share a name. A command added without an
/// entry, or an entry whose name drifted from serde's, fails here.
pub fn check_command_facts<T, R>(facts: &[crate::CommandFacts<R>]) -> Result<(), String>
where
    T: schemars::JsonSchema + serde::de::DeserializeOwned,
{
    use std::collections::BTreeSet;
    let schema = serde_json::to_value(schemars::schema_for!(T)).map_err(|e| e.to_string())?;
    let mut in_schema = BTreeSet::new();
    for key in ["oneOf", "anyOf"] {
        for variant in schema
            .get(key)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let ty = variant.pointer("/properties/type");
            let name = ty
                .and_then(|t| t.get("const"))
                .or_else(|| ty.and_then(|t| t.pointer("/enum/0")))
                .and_then(|v| v.as_str());
            if let Some(name) = name {
                in_schema.insert(name.to_owned());
            }
        }
    }
    let mut in_table = BTreeSet::new();
    for entry in facts {
        if !in_table.insert(entry.ty.to_owned()) {
            return Err(format!("{} has two entries", entry.ty));
        }
        for name in std::iter::once(&entry.ty).chain(entry.aliases) {
            if let Err(e) = serde_json::from_value::<T>(serde_json::json!({ "type": name }))
                && e.to_string()
                    .starts_with(&format!("unknown variant `{name}`"))
            {
                return Err(format!(
                    "{name} is in the facts table but serde does not know it"
                ));
            }
        }
    }
    if in_schema != in_table {
        return Err(format!(
            "the schema's command types and the facts table differ: only in the schema {:?}, only in the table {:?}",
            in_schema.difference(&in_table).collect::<Vec<_>>(),
            in_table.difference(&in_schema).collect::<Vec<_>>()
        ));
    }
    Ok(())
}
