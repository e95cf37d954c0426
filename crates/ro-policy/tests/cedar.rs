//! Differential test: ro-policy's authorization against the Cedar policy engine.
//!
//! Cedar (cedar-policy, a dev-dependency only) has the same core semantics ro documents:
//! default deny, a satisfied `forbid` always wins, otherwise any satisfied `permit` allows, and
//! the answer names the policies that decided it. Everything ro's [`Access`] holds is
//! translated into Cedar policies and entities, independently of ro's evaluation code and from
//! the documented rules only:
//!
//! - human-only: `forbid` of every safety-reducing action when the principal is not a human;
//! - a role's permissions: one `permit` per role for principals in `Role::"R"` (a global grant)
//!   and one per role and subject for principals in `Role::"R@S"` (a grant scoped to S) when
//!   the request's subject is S;
//! - custom rules: `permit`/`forbid` on the named actions, matching any principal, one
//!   `User`, the holders of a role (globally or for the request's subject), or a kind, and
//!   optionally `context.resource like "PREFIX*"`.
//!
//! For random policies and requests both engines must agree on the decision and on the
//! reasons (Cedar's determining policies, mapped back to ro's reasons).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use std::collections::{BTreeMap, BTreeSet};

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, EntityUid, Policy, PolicyId,
    PolicySet, Request as CedarRequest, RestrictedExpression,
};
use proptest::prelude::*;
use ro_core::{Actor, ActorKind, testing::strategy};
use ro_policy::{
    Access, Action, ActionSet, DecisionReason, Effect, PrincipalMatch, Request, Safety, testing,
};

/// A Cedar string literal (ids are restricted to plain ASCII, but escape anyway).
fn lit(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn role_uid(role: &str, subject: Option<&str>) -> String {
    match subject {
        None => format!("Role::{}", lit(role)),
        Some(s) => format!("Role::{}", lit(&format!("{role}@{s}"))),
    }
}

fn action_list(set: ActionSet) -> String {
    let names: Vec<String> = set
        .iter()
        .map(|a| format!("Action::{}", lit(a.as_str())))
        .collect();
    format!("[{}]", names.join(", "))
}

/// A Cedar `like` pattern matching strings that start with `prefix`.
fn prefix_pattern(prefix: &str) -> String {
    let escaped = prefix
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('*', "\\*");
    format!("\"{escaped}*\"")
}

struct Translated {
    policies: PolicySet,
    entities: Entities,
    /// Cedar policy id → the ro reason it stands for.
    reasons: BTreeMap<String, DecisionReason>,
}

fn translate(access: &Access) -> Translated {
    let mut sources: Vec<(String, String, DecisionReason)> = Vec::new();
    let reducing = ActionSet::of_safety(Safety::Reducing);
    if reducing.iter().next().is_some() {
        sources.push((
            "human-only".into(),
            format!(
                "forbid(principal, action in {}, resource) when {{ context.kind != \"human\" }};",
                action_list(reducing)
            ),
            DecisionReason::HumanOnly,
        ));
    }
    // The subjects any grant is scoped to.
    let subjects: BTreeSet<String> = access
        .grants()
        .values()
        .flatten()
        .filter_map(|g| g.subject.as_ref().map(|s| s.as_str().to_string()))
        .collect();
    for (role, perms) in access.roles() {
        if perms.iter().next().is_none() {
            continue;
        }
        let reason = DecisionReason::Role(role.clone());
        sources.push((
            format!("role:{role}"),
            format!(
                "permit(principal in {}, action in {}, resource);",
                role_uid(role.as_str(), None),
                action_list(*perms)
            ),
            reason.clone(),
        ));
        for s in &subjects {
            sources.push((
                format!("role:{role}@{s}"),
                format!(
                    "permit(principal in {}, action in {}, resource) when {{ context.subject == {} }};",
                    role_uid(role.as_str(), Some(s)),
                    action_list(*perms),
                    lit(s)
                ),
                reason.clone(),
            ));
        }
    }
    for (id, rule) in access.rules() {
        let effect = match rule.effect {
            Effect::Permit => "permit",
            Effect::Forbid => "forbid",
        };
        let mut conditions = Vec::new();
        let principal = match &rule.principal {
            PrincipalMatch::Any => "principal".to_string(),
            PrincipalMatch::Actor(a) => format!("principal == User::{}", lit(a.as_str())),
            PrincipalMatch::Role(role) => {
                let mut holds = vec![format!("principal in {}", role_uid(role.as_str(), None))];
                for s in &subjects {
                    holds.push(format!(
                        "(context.subject == {} && principal in {})",
                        lit(s),
                        role_uid(role.as_str(), Some(s))
                    ));
                }
                conditions.push(format!("({})", holds.join(" || ")));
                "principal".to_string()
            }
            PrincipalMatch::Kind(kind) => {
                conditions.push(format!("context.kind == {}", lit(kind.as_str())));
                "principal".to_string()
            }
        };
        if let Some(prefix) = &rule.resource_prefix {
            conditions.push(format!("context.resource like {}", prefix_pattern(prefix)));
        }
        let when = if conditions.is_empty() {
            String::new()
        } else {
            format!(" when {{ {} }}", conditions.join(" && "))
        };
        sources.push((
            format!("rule:{id}"),
            format!(
                "{effect}({principal}, action in {}, resource){when};",
                action_list(rule.actions)
            ),
            DecisionReason::Rule(id.clone()),
        ));
    }

    let mut policies = PolicySet::new();
    let mut reasons = BTreeMap::new();
    for (id, src, reason) in sources {
        let policy = Policy::parse(Some(PolicyId::new(&id)), &src)
            .unwrap_or_else(|e| panic!("cedar refused {src}: {e}"));
        policies.add(policy).unwrap();
        reasons.insert(id, reason);
    }

    let mut entities = Vec::new();
    let mut roles = BTreeSet::new();
    for (actor, grants) in access.grants() {
        let parents: Vec<serde_json::Value> = grants
            .iter()
            .map(|g| {
                let id = match &g.subject {
                    None => g.role.as_str().to_string(),
                    Some(s) => format!("{}@{}", g.role, s),
                };
                roles.insert(id.clone());
                serde_json::json!({"type": "Role", "id": id})
            })
            .collect();
        entities.push(serde_json::json!({
            "uid": {"type": "User", "id": actor.as_str()},
            "attrs": {},
            "parents": parents,
        }));
    }
    for id in roles {
        entities.push(serde_json::json!({
            "uid": {"type": "Role", "id": id}, "attrs": {}, "parents": []
        }));
    }
    let entities = Entities::from_json_value(serde_json::Value::Array(entities), None).unwrap();
    Translated {
        policies,
        entities,
        reasons,
    }
}

/// Cedar's answer, in ro's terms.
fn cedar_decide(
    t: &Translated,
    actor: &Actor,
    action: Action,
    resource: &str,
    subject: Option<&str>,
) -> (bool, Vec<DecisionReason>) {
    let principal: EntityUid = format!("User::{}", lit(actor.id.as_str())).parse().unwrap();
    let action_uid: EntityUid = format!("Action::{}", lit(action.as_str())).parse().unwrap();
    let resource_uid: EntityUid = "Resource::\"any\"".parse().unwrap();
    let context = Context::from_pairs([
        (
            "kind".to_string(),
            RestrictedExpression::new_string(actor.kind.as_str().to_string()),
        ),
        (
            "resource".to_string(),
            RestrictedExpression::new_string(resource.to_string()),
        ),
        (
            "subject".to_string(),
            RestrictedExpression::new_string(subject.unwrap_or("").to_string()),
        ),
    ])
    .unwrap();
    let request = CedarRequest::new(principal, action_uid, resource_uid, context, None).unwrap();
    let response = Authorizer::new().is_authorized(&request, &t.policies, &t.entities);
    let errors: Vec<String> = response
        .diagnostics()
        .errors()
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "cedar evaluation errors: {errors:?}");
    let mut reasons: Vec<DecisionReason> = response
        .diagnostics()
        .reason()
        .map(|id| t.reasons[id.to_string().as_str()].clone())
        .collect();
    reasons.sort();
    reasons.dedup();
    let allowed = response.decision() == CedarDecision::Allow;
    if !allowed && reasons.is_empty() {
        reasons.push(DecisionReason::DefaultDeny);
    }
    (allowed, reasons)
}

fn request() -> impl Strategy<Value = (Actor, Action, String, Option<ro_policy::SubjectId>)> {
    // One principal more than the grants draw from: someone with no grant at all.
    (
        (strategy::pooled_id("p", 5), strategy::actor_kind())
            .prop_map(|(id, kind)| Actor { id, kind }),
        testing::action(),
        testing::resource(),
        testing::subject(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn ro_and_cedar_agree(access in testing::access(4), requests in proptest::collection::vec(request(), 24)) {
        let t = translate(&access);
        for (actor, action, resource, subject) in &requests {
            let req = Request { actor, action: *action, resource, subject: subject.as_ref() };
            let ro = access.authorize(&req);
            let (allowed, reasons) = cedar_decide(&t, actor, *action, resource, subject.as_ref().map(|s| s.as_str()));
            prop_assert_eq!(ro.allowed, allowed, "decision differs for {:?} {:?} on {} ({:?})", actor, action, resource, subject);
            prop_assert_eq!(&ro.reasons, &reasons, "reasons differ for {:?} {:?} on {} ({:?})", actor, action, resource, subject);
            prop_assert_eq!(access.authorize(&req).allowed, allowed);
        }
    }
}

/// The translation is not vacuous: on a fixed policy Cedar allows, forbids and default-denies.
#[test]
fn the_translation_decides_all_three_ways() {
    let mut access = Access::with_builtin_roles();
    let alice = ro_core::ActorId::new("alice").unwrap();
    access.grant(alice.clone(), "operator".parse().unwrap(), None);
    let t = translate(&access);
    let human = Actor {
        id: alice.clone(),
        kind: ActorKind::Human,
    };
    let agent = Actor {
        id: alice,
        kind: ActorKind::Agent,
    };
    let operator_action = access.roles()["operator"].iter().next().unwrap();
    let (allowed, reasons) = cedar_decide(&t, &human, operator_action, "env:prod", None);
    assert!(allowed);
    assert_eq!(
        reasons,
        vec![DecisionReason::Role("operator".parse().unwrap())]
    );
    let reducing = ActionSet::of_safety(Safety::Reducing)
        .iter()
        .next()
        .unwrap();
    let (allowed, reasons) = cedar_decide(&t, &agent, reducing, "env:prod", None);
    assert!(!allowed);
    assert_eq!(reasons, vec![DecisionReason::HumanOnly]);
    let nobody = Actor {
        id: "nobody".parse().unwrap(),
        kind: ActorKind::Human,
    };
    let (allowed, reasons) = cedar_decide(&t, &nobody, operator_action, "env:prod", None);
    assert!(!allowed);
    assert_eq!(reasons, vec![DecisionReason::DefaultDeny]);
}
