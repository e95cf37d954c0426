//! Properties of derivation histories and addressing templates.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use ro_artifacts::{
    AddressTemplate, ArtifactCommand, Artifacts, CostTier, DerivationId, DerivationStatus, testing,
};
use ro_core::{
    Actor, Context, Kernel, Reason,
    testing::{check_replay, t0},
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn derivation_histories_keep_their_promises(steps in proptest::collection::vec(testing::derivation_command(8), 1..60)) {
        let mut k: Kernel<Artifacts> = Kernel::new();
        let mut known: BTreeMap<DerivationId, DerivationStatus> = BTreeMap::new();
        for (author, command) in steps {
            let ctx = Context::new(t0(), Actor::human(author)).with_reason(Reason::new("test").unwrap());
            let before = k.state().clone();
            let accepted = k.execute(&command, &ctx).is_ok();
            let state = k.state();
            // Nothing is ever removed, and a status never returns to active.
            for (id, status) in &known {
                let now = state.derivation(id).expect("a derivation disappeared");
                if *status != DerivationStatus::Active {
                    prop_assert_eq!(now.status, *status, "{} changed back", id);
                }
            }
            for id in ids(state) {
                known.insert(id.clone(), state.derivation(&id).unwrap().status);
            }
            // Tier C and D never become eligible; superseded or invalidated never either.
            for id in ids(state) {
                let d = state.derivation(&id).unwrap();
                if d.eligible_for_lock() {
                    prop_assert!(!matches!(d.record.cost_tier, CostTier::C | CostTier::D));
                    prop_assert_eq!(d.status, DerivationStatus::Active);
                }
            }
            // Invalidation reaches every transitive dependent of what was superseded or rolled back.
            if accepted {
                let root = match &command {
                    ArtifactCommand::SupersedeDerivation { derivation_id, .. } | ArtifactCommand::RollbackDerivation { derivation_id } => Some(derivation_id.clone()),
                    _ => None,
                };
                if let Some(root) = root {
                    let mut reach = BTreeSet::from([root.clone()]);
                    loop {
                        let more: Vec<DerivationId> = ids(&before).into_iter().filter(|id| {
                            !reach.contains(id) && before.derivation(id).unwrap().record.depends_on.iter().any(|u| reach.contains(u))
                        }).collect();
                        if more.is_empty() { break; }
                        reach.extend(more);
                    }
                    for id in reach.iter().filter(|id| **id != root) {
                        if before.derivation(id).unwrap().status == DerivationStatus::Active {
                            prop_assert_eq!(state.derivation(id).unwrap().status, DerivationStatus::Invalidated, "{} was not invalidated", id);
                        }
                    }
                }
            }
            testing::check_invariants(state).unwrap();
        }
        check_replay(&k);
    }

    #[test]
    fn rendered_locators_parse_back(run in "[a-zA-Z0-9._:@-]{1,20}", fp in "[a-f0-9]{1,64}", day in "[0-9]{8}") {
        let t = AddressTemplate::parse("runs/{run_id}/fingerprint={manifest_fingerprint}/day={day}/report.json").unwrap();
        let values: BTreeMap<String, String> = [("run_id", run), ("manifest_fingerprint", fp), ("day", day)]
            .into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let locator = match t.render(&values) {
            Ok(locator) => locator,
            Err(e) => {
                // Only a value of dots alone is refused, and it is named.
                prop_assert!(values["run_id"].chars().all(|c| c == '.'), "{e}");
                prop_assert!(matches!(e, ro_artifacts::LocatorError::BadValue(..)));
                return Ok(());
            }
        };
        prop_assert_eq!(t.parse_locator(&locator).unwrap(), values);
        prop_assert_eq!(t.render(&t.parse_locator(&locator).unwrap()).unwrap(), locator);
    }
}

fn ids(state: &Artifacts) -> Vec<DerivationId> {
    (0..8)
        .flat_map(|i| [format!("d-{i}"), format!("d-{i}-r")])
        .filter_map(|s| {
            let id = DerivationId::new(s).ok()?;
            state.derivation(&id).map(|_| id)
        })
        .collect()
}

/// The plane authorizes retention changes by direction: shortening is the human-only action.
#[test]
fn shortening_retention_is_the_safety_reducing_action() {
    use ro_artifacts::{ArtifactClass, RetentionPolicy};
    use ro_core::Kernel;
    use ro_policy::{Action, Safety};
    let class = ArtifactClass::new("reports").unwrap();
    let set = |keep_last, keep_days, trading_days| ArtifactCommand::SetRetention {
        class: class.clone(),
        policy: RetentionPolicy {
            keep_last,
            keep_days,
            trading_days,
        },
        holidays: Default::default(),
    };
    let mut k: Kernel<Artifacts> = Kernel::new();
    let ctx = Context::new(t0(), ro_core::testing::human("olga"))
        .with_reason(Reason::new("policy").unwrap());
    assert_eq!(
        k.state().action_of(&set(5, 30, false)),
        Action::ExtendRetention
    );
    k.execute(&set(5, 30, false), &ctx).unwrap();
    for (command, want) in [
        (set(5, 31, false), Action::ExtendRetention),
        (set(6, 30, false), Action::ExtendRetention),
        (set(4, 30, false), Action::ShortenRetention),
        (set(5, 29, false), Action::ShortenRetention),
        (set(5, 30, true), Action::ShortenRetention),
        (set(9, 90, true), Action::ShortenRetention),
    ] {
        assert_eq!(k.state().action_of(&command), want, "{command:?}");
    }
    assert_eq!(Action::ShortenRetention.safety(), Safety::Reducing);
    assert_eq!(Action::SetMismatchPosture.safety(), Safety::Reducing);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The kit's event histories are histories the decider accepts: folded through a kernel
    /// they keep every invariant and replay to the same state.
    #[test]
    fn kit_event_histories_replay(events in testing::events(4)) {
        let scenario = ro_core::testing::given::<ro_artifacts::Artifacts>(events.clone());
        prop_assert_eq!(scenario.kernel().head().seq, events.len() as u64);
        prop_assert!(testing::check_invariants(scenario.kernel().state()).is_ok());
        ro_core::testing::check_replay(scenario.kernel());
    }
}
