//! proptest strategies for principals, grants, actions and policy commands (feature
//! `testing`), and the policy's invariant check as a public function.

use proptest::prelude::*;
use ro_core::{Actor, ActorKind, Decider, InvariantViolation, testing::strategy};

use crate::{Action, Policy, PolicyCommand, RoleName, SubjectId};

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

/// Whether `kind` may ever perform `action` (humans anything; others never a reducing one).
pub fn kind_may(kind: ActorKind, action: Action) -> bool {
    kind == ActorKind::Human || action.safety() != crate::Safety::Reducing
}

/// The policy's invariants, for downstream suites.
pub fn check_invariants(policy: &Policy) -> Result<(), InvariantViolation> {
    policy.check_invariants()
}
