//! proptest strategies for artifact commands and derivation graphs (feature `testing`), and
//! the store's invariant check as a public function.

use proptest::prelude::*;
use ro_core::{ActorId, Decider, InvariantViolation, testing::strategy};

use crate::{
    ArtifactCommand, Artifacts, CostTier, DerivationId, DerivationRecord, Lockability, StoryId,
};

/// A derivation record by `author` for value `value_name` in story `s-1`, depending on
/// `depends_on`.
pub fn record(
    id: &str,
    author: &ActorId,
    value_name: &str,
    cost_tier: CostTier,
    depends_on: Vec<DerivationId>,
) -> Option<DerivationRecord> {
    Some(DerivationRecord {
        derivation_id: DerivationId::new(id).ok()?,
        story: StoryId::new("s-1").ok()?,
        value_name: value_name.into(),
        value: "42".into(),
        units: "bp".into(),
        lockability: Lockability::for_tier(cost_tier),
        cost_tier,
        artifact_path: crate::Locator::new(format!("derivations/{id}.yaml")).ok(),
        run_id: None,
        git_sha: "0123abcd".into(),
        input_hashes: vec!["blake3:00".into()],
        code_version: "1.0.0".into(),
        parameters: Default::default(),
        author: author.clone(),
        reviewer: None,
        timestamp: None,
        repro_command: "make derive".into(),
        notes: String::new(),
        depends_on,
    })
}

/// A cost tier, including the unsupported D.
pub fn cost_tier() -> impl Strategy<Value = CostTier> {
    prop_oneof![
        Just(CostTier::A),
        Just(CostTier::B),
        Just(CostTier::C),
        Just(CostTier::D),
        Just(CostTier::NotApplicable)
    ]
}

/// Derivation commands over ids `d-0 … d-{n-1}` by authors `p-0 … p-2`: records (depending on
/// earlier ids), reviews, supersedes and rollbacks, in any order.
pub fn derivation_command(n: u32) -> impl Strategy<Value = (ActorId, ArtifactCommand)> {
    let id = move || (0..n).prop_map(|i| format!("d-{i}"));
    let author = strategy::pooled_id::<ro_core::actor::ActorTag>("p", 3).boxed();
    prop_oneof![
        3 => (author.clone(), id(), cost_tier(), proptest::collection::vec(id(), 0..3)).prop_filter_map("valid", |(a, id, tier, deps): (ActorId, String, CostTier, Vec<String>)| {
            let deps = deps.into_iter().filter(|d| *d < id).filter_map(|d| DerivationId::new(d).ok()).collect();
            let value = format!("v-{id}");
            record(&id, &a, &value, tier, deps).map(|r| (a, ArtifactCommand::RecordDerivation(r)))
        }),
        2 => (author.clone(), id()).prop_filter_map("valid", |(a, id)| Some((a, ArtifactCommand::ReviewDerivation { derivation_id: DerivationId::new(id).ok()? }))),
        1 => (author.clone(), id(), id(), cost_tier()).prop_filter_map("valid", |(a, old, new, tier)| {
            let replacement = record(&format!("{new}-r"), &a, &format!("v-{old}"), tier, Vec::new())?;
            Some((a, ArtifactCommand::SupersedeDerivation { derivation_id: DerivationId::new(old).ok()?, replacement }))
        }),
        1 => (author, id()).prop_filter_map("valid", |(a, id)| Some((a, ArtifactCommand::RollbackDerivation { derivation_id: DerivationId::new(id).ok()? }))),
    ]
}

/// Event histories the artifact store itself produced from [`derivation_command`]s (by
/// human authors, at [`ro_core::testing::t0`]).
pub fn events(n: u32) -> impl Strategy<Value = Vec<crate::ArtifactEvent>> {
    proptest::collection::vec(derivation_command(n), 0..24).prop_map(|commands| {
        let mut kernel = ro_core::Kernel::<Artifacts>::new();
        let at = ro_core::testing::t0();
        ro_core::testing::events_of(
            &mut kernel,
            commands
                .into_iter()
                .map(|(id, c)| (ro_core::Context::new(at, ro_core::Actor::human(id)), c)),
        )
    })
}

/// The store's invariants, for downstream suites.
pub fn check_invariants(store: &Artifacts) -> Result<(), InvariantViolation> {
    store.check_invariants()
}
