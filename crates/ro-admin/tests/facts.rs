//! The admin commands' facts table agrees with the commands serde and the schema know, and the
//! guards' facts of every domain hold what the runbooks ask of them.

use ro_admin::{AdminCommand, Room};
use ro_policy::TwoStep;

#[test]
fn every_admin_command_has_facts() {
    ro_policy::testing::check_command_facts::<AdminCommand, Room>(AdminCommand::FACTS).unwrap();
}

/// A domain's command names: each type with its aliases.
type Names = Vec<(&'static str, &'static [&'static str])>;

/// No command type is known to two domains' tables except `TICK`, which the policy and the jobs
/// plane both answer (the protocol sends it to the policy).
#[test]
fn command_types_are_unique_across_domains() {
    let mut seen = std::collections::BTreeMap::new();
    let tables: [(&str, Names); 4] = [
        (
            "policy",
            ro_policy::PolicyCommand::FACTS
                .iter()
                .map(|f| (f.ty, f.aliases))
                .collect(),
        ),
        (
            "artifacts",
            ro_artifacts::ArtifactCommand::FACTS
                .iter()
                .map(|f| (f.ty, f.aliases))
                .collect(),
        ),
        (
            "jobs",
            ro_jobs::JobsCommand::FACTS
                .iter()
                .map(|f| (f.ty, f.aliases))
                .collect(),
        ),
        (
            "admin",
            AdminCommand::FACTS
                .iter()
                .map(|f| (f.ty, f.aliases))
                .collect(),
        ),
    ];
    for (domain, facts) in &tables {
        for (ty, aliases) in facts {
            for name in std::iter::once(ty).chain(aliases.iter()) {
                if let Some(first) = seen.insert(*name, *domain) {
                    assert_eq!(*name, "TICK", "{name} is in both {first} and {domain}");
                }
            }
        }
    }
}

/// Every release of a control and every promotion takes two steps; the raises take one.
#[test]
fn releases_take_two_steps_and_raises_one() {
    let two = |ty: &str| {
        AdminCommand::FACTS
            .iter()
            .find(|f| f.ty == ty)
            .map(|f| f.two_step)
            .unwrap()
    };
    for ty in [
        "RELEASE_LOCKDOWN",
        "PRODUCTION_UNLOCK",
        "RELEASE_KILL_SWITCH",
        "PROMOTE_CANDIDATE",
        "ROLLBACK_MODEL",
        "RESET_FAILURE_STATUS",
        "RESTORE_LKG",
        "CLEAR_NO_GO",
    ] {
        assert_eq!(two(ty), TwoStep::Always, "{ty}");
    }
    for ty in [
        "EMERGENCY_LOCKDOWN",
        "PRODUCTION_LOCK",
        "ENGAGE_KILL_SWITCH",
    ] {
        assert_eq!(two(ty), TwoStep::Never, "{ty}");
    }
}

/// The lockdown's refusal names what the table lets through, and nothing it refuses.
#[test]
fn the_lockdown_message_is_the_table() {
    let message = ro_admin::PlaneRejection::LockdownActive.to_string();
    for f in AdminCommand::FACTS.iter().filter(|f| f.passes_lockdown) {
        assert!(
            message.contains(f.ty),
            "{} passes but is not named: {message}",
            f.ty
        );
    }
    for refused in ["PROMOTE_MODEL", "SET_CANARY_RATIO", "GRANT_ROLE", "DEPLOY"] {
        assert!(!message.contains(refused), "{refused} is named: {message}");
    }
    assert!(message.contains("ENGAGE_KILL_SWITCH") && message.contains("PAUSE_JOB"));
}
