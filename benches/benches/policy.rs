//! Authorization with 1,000 principals and 50 roles. `cargo bench -p ro-benches --bench policy`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)] // benchmark harness

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ro_core::{Actor, ActorId, ActorKind};
use ro_policy::{
    Access, Action, ActionSet, Effect, PrincipalMatch, Request, RoleName, Rule, RuleId,
};

/// 1,000 principals, 50 roles (5 built in, 45 defined with 8 actions each), 3 grants each,
/// and 10 custom rules (5 forbid, 5 permit).
fn access() -> Access {
    let mut access = Access::with_builtin_roles();
    for r in 0..45usize {
        let set: ActionSet = (0..8)
            .map(|i| Action::ALL[(r * 7 + i) % Action::ALL.len()])
            .collect();
        access.define_role(RoleName::new(format!("role-{r:02}")).unwrap(), set);
    }
    let roles: Vec<RoleName> = access.roles().keys().cloned().collect();
    for p in 0..1000usize {
        for g in 0..3 {
            let principal = ActorId::new(format!("principal-{p:04}")).unwrap();
            access.grant(principal, roles[(p * 3 + g) % roles.len()].clone(), None);
        }
    }
    for i in 0..10usize {
        access.add_rule(Rule {
            id: RuleId::new(format!("rule-{i}")).unwrap(),
            effect: if i % 2 == 0 {
                Effect::Forbid
            } else {
                Effect::Permit
            },
            principal: PrincipalMatch::Actor(
                ActorId::new(format!("principal-{:04}", i * 97)).unwrap(),
            ),
            actions: [Action::ALL[i * 3]].into_iter().collect(),
            resource_prefix: Some("env:prod".into()),
        });
    }
    assert_eq!(access.roles().len(), 50);
    assert_eq!(access.grants().len(), 1000);
    access
}

fn authorize(c: &mut Criterion) {
    let access = access();
    let actors: Vec<Actor> = (0..1000usize)
        .map(|p| Actor {
            id: ActorId::new(format!("principal-{p:04}")).unwrap(),
            kind: if p % 5 == 0 {
                ActorKind::Agent
            } else {
                ActorKind::Human
            },
        })
        .collect();
    let mut g = c.benchmark_group("authorize_1000_principals_50_roles");
    g.measurement_time(Duration::from_secs(4));
    let mut i = 0usize;
    g.bench_function("authorize (explained)", |b| {
        b.iter(|| {
            i = i.wrapping_add(7919);
            let actor = &actors[i % actors.len()];
            let action = Action::ALL[i % Action::ALL.len()];
            black_box(access.authorize(&Request {
                actor,
                action,
                resource: "env:prod/api",
                subject: None,
            }))
        })
    });
    g.finish();
}

criterion_group!(benches, authorize);
criterion_main!(benches);
