//! Artifacts by reference and digest, gates, retention, derivations that are superseded but
//! never edited, typed INFEASIBLE records, the handoff package and model versions.
//!
//! ```
//! use ro_core::{Context, Kernel, testing::{human, t0}};
//! use ro_artifacts::{Artifacts, ArtifactCommand};
//!
//! let mut store: Kernel<Artifacts> = Kernel::new();
//! let ctx = Context::new(t0(), human("alice"));
//! let register: ArtifactCommand = serde_json::from_str(r#"{"type":"REGISTER_ARTIFACT",
//!     "ref":"runs/r-1/report.json",
//!     "digest":"blake3:1111111111111111111111111111111111111111111111111111111111111111"}"#)?;
//! store.execute(&register, &ctx)?;
//! let locator = "runs/r-1/report.json".parse()?;
//! // No PASS, no read.
//! assert_eq!(store.state().read(&locator).unwrap_err().to_string(), "artifact runs/r-1/report.json is not readable: its gate is PENDING");
//! store.execute(&serde_json::from_str(r#"{"type":"SET_ARTIFACT_GATE","ref":"runs/r-1/report.json","status":"PASS"}"#)?, &ctx)?;
//! assert!(store.state().read(&locator).is_ok());
//! // The same ref with another digest is refused: no silent mutation.
//! let changed = serde_json::from_str(r#"{"type":"REGISTER_ARTIFACT","ref":"runs/r-1/report.json",
//!     "digest":"blake3:2222222222222222222222222222222222222222222222222222222222222222"}"#)?;
//! assert_eq!(store.execute(&changed, &ctx).unwrap_err().code(), "REF_CONFLICT");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Overview
//!
//! - [`locator`]: [`Locator`]s and [`AddressTemplate`]s that render deterministically and parse
//!   back to their tokens.
//! - Artifacts ([`ArtifactRef`]): write-once by locator; gates PENDING → PASS/FAIL, and
//!   [`Artifacts::read`] refuses anything not PASS; reported digest mismatches fail the gate
//!   (or only warn) per artifact class; retention per class by count and age (calendar or
//!   trading days), expiring into tombstones that keep the record.
//! - Derivations ([`DerivationRecord`]): the signed template fields; tiers A/B may be lockable,
//!   tier C never, tier D only as a typed [`InfeasibleRecord`]; review by someone other than
//!   the author; supersede (never edit) invalidates every transitive dependent and notifies
//!   consumers it was handed to; rollback invalidates and records why.
//! - [`Artifacts::handoff_package`]: values eligible for lock, values blocking, reviewers, and
//!   the attestation that no forbidden action was recorded.
//! - Model versions for the registry (the promotion path lives in ro-admin).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod class_index;
pub mod command;
pub mod derivation;
pub mod event;
pub mod locator;
pub mod models;
pub mod rejection;
pub mod retention;
pub mod store;
pub mod story;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use class_index::ClassIndex;
use ro_core::{ActorId, Context, Decider, EventMeta, InvariantViolation, Reason, Timestamp};
use ro_policy::{Action, Day};
use serde::Serialize;
use serde_json::Value;

pub use command::{ArtifactCommand, Room};
pub use derivation::{
    CostTier, Derivation, DerivationId, DerivationRecord, DerivationStatus, InfeasibleReason,
    InfeasibleRecord, Lockability,
};
pub use event::ArtifactEvent;
pub use locator::{AddressTemplate, Locator, LocatorError};
pub use models::{ModelRecord, ModelVersion};
pub use rejection::ArtifactRejection;
pub use retention::RetentionPolicy;
pub use store::{
    Artifact, ArtifactClass, ArtifactRef, ContentDigest, DigestAlg, Gate, MismatchPosture,
};
pub use story::{
    Attestation, Blocker, BlockerView, ConsumerId, HandoffEntry, HandoffPackage, RequiredValue,
    RiskNote, StoryId, StorySpec,
};

/// The class artifacts belong to when none is named.
pub const DEFAULT_CLASS: &str = "default";
pub use ro_core::text::MAX_TEXT_LEN;
/// The most artifacts one expiry pass tombstones (the rest wait for the next pass).
pub const MAX_EXPIRED_PER_PASS: usize = 10_000;
/// The largest model metadata accepted, as canonical JSON bytes.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// The artifact store's state.
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
    schemars::JsonSchema,
)]
pub struct Artifacts {
    /// Each class's addressing template, once a human set one.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    addressing: BTreeMap<ArtifactClass, String>,
    /// Boxed: a registration inserts into the middle of this map, and a B-tree insert shifts
    /// the values after it; a pointer shifts far cheaper than a whole record.
    artifacts: BTreeMap<Locator, Box<Artifact>>,
    /// Each class's artifacts in (registration time, locator) order (see `class_index`).
    #[schemars(with = "Vec<(Timestamp, Locator)>")]
    by_class: BTreeMap<ArtifactClass, ClassIndex>,
    dependents: BTreeMap<DerivationId, BTreeSet<DerivationId>>,
    derivations: BTreeMap<DerivationId, Derivation>,
    infeasible: BTreeMap<DerivationId, InfeasibleRecord>,
    models: BTreeMap<ModelVersion, ModelRecord>,
    postures: BTreeMap<ArtifactClass, MismatchPosture>,
    retention: BTreeMap<ArtifactClass, (RetentionPolicy, BTreeSet<Day>)>,
    violations: BTreeMap<StoryId, Vec<String>>,
    /// Each story's definition (required values, risk-reviewed values, threats to validity).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    stories: BTreeMap<StoryId, StorySpec>,
    /// Risk owners' reviews, by derivation.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    risk_reviews: BTreeMap<DerivationId, RiskNote>,
    /// Each story's blockers: the question, and the decision once there is one.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    blockers: BTreeMap<StoryId, BTreeMap<String, Blocker>>,
}

/// A record's author is the actor recording it: nobody signs in another's name.
pub(crate) fn check_author(author: &ActorId, ctx: &Context) -> Result<(), ArtifactRejection> {
    if *author != ctx.actor.id {
        return Err(ArtifactRejection::Invalid(format!(
            "author {author} is not the actor recording it ({})",
            ctx.actor.id
        )));
    }
    Ok(())
}

/// Checks free text (see [`ro_core::text::check_text`]); `required` refuses blank text.
pub(crate) fn check_text(field: &str, text: &str, required: bool) -> Result<(), ArtifactRejection> {
    ro_core::text::check_text(text, required)
        .map_err(|e| ArtifactRejection::Invalid(format!("{field} {e}")))
}

pub(crate) fn default_class() -> ArtifactClass {
    // "default" is a valid class id.
    ArtifactClass::new(DEFAULT_CLASS).unwrap_or_else(|_| unreachable_class())
}

#[allow(clippy::panic)] // only reached if the id rules stop admitting "default": a bug
fn unreachable_class() -> ArtifactClass {
    panic!("\"default\" is a valid class")
}

impl Artifacts {
    /// An artifact's record.
    pub fn artifact(&self, locator: &Locator) -> Option<&Artifact> {
        self.artifacts.get(locator).map(|a| &**a)
    }

    /// The gate the artifact store holds for `locator`, as jobs reading it see it: its gate,
    /// FAIL once retention tombstoned it, `None` when it is not registered.
    pub fn gate_of(&self, locator: &str) -> Option<Gate> {
        let a = self.artifacts.get(&Locator::new(locator).ok()?)?;
        Some(if a.tombstoned_at.is_some() {
            Gate::Fail
        } else {
            a.gate
        })
    }

    /// A class's addressing template, if one was set.
    pub fn addressing(&self, class: &ArtifactClass) -> Option<&str> {
        self.addressing.get(class).map(String::as_str)
    }

    /// The artifacts whose locator, read by their class's addressing template, carries every
    /// token value asked for (`run_id`, `bundle_id`, ...), with all their token values; only
    /// `class`'s when given. Artifacts of classes without a template have no tokens.
    pub fn find(
        &self,
        class: Option<&ArtifactClass>,
        tokens: &BTreeMap<String, String>,
    ) -> Vec<(&Artifact, BTreeMap<String, String>)> {
        let templates: BTreeMap<&ArtifactClass, AddressTemplate> = self
            .addressing
            .iter()
            .filter(|(c, _)| class.is_none_or(|want| want == *c))
            .filter_map(|(c, t)| Some((c, AddressTemplate::parse(t).ok()?)))
            .collect();
        self.artifacts
            .values()
            .filter_map(|a| {
                let template = templates.get(&a.class)?;
                let values = template.parse_locator(&a.artifact.locator).ok()?;
                tokens
                    .iter()
                    .all(|(k, v)| values.get(k) == Some(v))
                    .then_some((&**a, values))
            })
            .collect()
    }

    /// How many artifacts are registered (tombstoned ones included).
    pub fn len(&self) -> usize {
        self.artifacts.len()
    }

    /// Whether no artifact is registered.
    pub fn is_empty(&self) -> bool {
        self.artifacts.is_empty()
    }

    /// Reads an artifact's reference: refused unless registered, not tombstoned and PASS.
    pub fn read(&self, locator: &Locator) -> Result<&ArtifactRef, ArtifactRejection> {
        let a = self
            .artifacts
            .get(locator)
            .ok_or_else(|| ArtifactRejection::UnknownArtifact(locator.clone()))?;
        if a.tombstoned_at.is_some() {
            return Err(ArtifactRejection::Tombstoned(locator.clone()));
        }
        if a.gate != Gate::Pass {
            return Err(ArtifactRejection::NotReadable {
                locator: locator.clone(),
                why: format!("its gate is {}", a.gate.name()),
            });
        }
        Ok(&a.artifact)
    }

    /// A derivation.
    pub fn derivation(&self, id: &DerivationId) -> Option<&Derivation> {
        self.derivations.get(id)
    }

    /// A model version.
    pub fn model(&self, version: &ModelVersion) -> Option<&ModelRecord> {
        self.models.get(version)
    }

    /// The ro-policy action a command asks for (for the plane's authorization): changing
    /// retention is `SHORTEN_RETENTION` when it keeps less than before in any way.
    pub fn action_of(&self, command: &ArtifactCommand) -> Action {
        use ArtifactCommand as C;
        match command {
            C::RegisterArtifact { .. } => Action::RegisterArtifact,
            C::SetArtifactGate { .. } | C::ReportDigestMismatch { .. } => Action::SetArtifactGate,
            C::SetMismatchPosture { .. } => Action::SetMismatchPosture,
            C::SetAddressing { .. } => Action::SetAddressing,
            C::SetRetention { class, policy, .. } => match self.retention.get(class) {
                Some((before, _)) if !policy.shortens(before) => Action::ExtendRetention,
                None => Action::ExtendRetention,
                Some(_) => Action::ShortenRetention,
            },
            C::ExpireArtifacts {} => Action::ExpireArtifacts,
            C::RecordDerivation(_) => Action::RecordDerivation,
            C::ReviewDerivation { .. } => Action::ReviewDerivation,
            C::SupersedeDerivation { .. } => Action::SupersedeDerivation,
            C::RecordInfeasible(_) => Action::RecordInfeasible,
            C::RollbackDerivation { .. } => Action::RollbackDerivation,
            C::HandOff { .. } => Action::HandOff,
            C::RecordViolation { .. } => Action::RecordViolation,
            C::RaiseBlocker { .. } => Action::RaiseBlocker,
            C::DefineStory { .. } => Action::DefineStory,
            C::RiskReview { .. } => Action::RiskReview,
            C::DecideBlocker { .. } => Action::DecideBlocker,
            C::RegisterModel { .. } => Action::RegisterModel,
        }
    }

    /// Whether derivation `id` is eligible for lock and so is everything it depends on,
    /// transitively: a lockable value resting on tier C or D evidence, or on anything not
    /// eligible itself (unreviewed, superseded, invalidated, unknown), is not lockable.
    pub fn lockable_with_upstream(&self, id: &DerivationId) -> bool {
        let mut seen = std::collections::BTreeSet::new();
        let mut stack = vec![id];
        while let Some(next) = stack.pop() {
            if !seen.insert(next) {
                continue;
            }
            match self.derivations.get(next) {
                Some(d) if d.eligible_for_lock() && self.risk_cleared(next, d) => {
                    stack.extend(d.record.depends_on.iter());
                }
                _ => return false,
            }
        }
        true
    }

    /// Whether a derivation's value, when its story has a risk owner review it, was reviewed.
    fn risk_cleared(&self, id: &DerivationId, d: &Derivation) -> bool {
        let reviewed_by_risk = self
            .stories
            .get(&d.record.story)
            .is_some_and(|s| s.risk_reviewed_values.contains(&d.record.value_name));
        !reviewed_by_risk || self.risk_reviews.contains_key(id)
    }

    /// The handoff package of `story`.
    pub fn handoff_package(&self, story: &StoryId) -> HandoffPackage {
        let mut eligible = Vec::new();
        let mut blocking = Vec::new();
        let mut entries = Vec::new();
        for (id, d) in self
            .derivations
            .iter()
            .filter(|(_, d)| &d.record.story == story)
        {
            let status = match d.status {
                DerivationStatus::Active => "active",
                DerivationStatus::Superseded => "superseded",
                DerivationStatus::Invalidated => "invalidated",
            };
            if self.lockable_with_upstream(id) {
                eligible.push(id.clone());
            } else if d.status == DerivationStatus::Active {
                blocking.push(id.clone());
            }
            entries.push(HandoffEntry {
                derivation_id: id.clone(),
                value_name: d.record.value_name.clone(),
                value: d.record.value.clone(),
                units: d.record.units.clone(),
                cost_tier: d.record.cost_tier,
                lockability: d.record.lockability,
                reviewer: d.reviewed_by.clone(),
                status: status.into(),
                record: d.record.clone(),
                risk_review: self.risk_reviews.get(id).cloned(),
            });
        }
        let infeasible: Vec<InfeasibleRecord> = self
            .infeasible
            .values()
            .filter(|r| &r.story == story)
            .cloned()
            .collect();
        blocking.extend(infeasible.iter().map(|r| r.infeasible_id.clone()));
        blocking.sort();
        let spec = self.stories.get(story);
        let required_values = spec
            .into_iter()
            .flat_map(|s| &s.required_values)
            .map(|name| {
                let derived = entries
                    .iter()
                    .any(|e| &e.value_name == name && e.status == "active");
                let answered = infeasible
                    .iter()
                    .any(|r| r.value_name.as_ref() == Some(name));
                RequiredValue {
                    value_name: name.clone(),
                    status: if derived {
                        "derived"
                    } else if answered {
                        "infeasible"
                    } else {
                        "missing"
                    }
                    .into(),
                }
            })
            .collect();
        let violations = self.violations.get(story).cloned().unwrap_or_default();
        HandoffPackage {
            story: story.clone(),
            eligible_for_lock: eligible,
            blocking,
            derivations: entries,
            infeasible,
            attestation: Attestation {
                no_forbidden_action: violations.is_empty(),
                violations,
            },
            blockers: self
                .blockers
                .get(story)
                .into_iter()
                .flatten()
                .map(|(id, b)| BlockerView {
                    blocker_id: id.clone(),
                    blocker: b.clone(),
                })
                .collect(),
            required_values,
            threats_to_validity: spec
                .map(|s| s.threats_to_validity.clone())
                .unwrap_or_default(),
        }
    }

    /// The notices owed to every consumer that received one of `ids`, now invalidated.
    pub(crate) fn downstream_notices(&self, ids: &[DerivationId]) -> Vec<ArtifactEvent> {
        ids.iter()
            .filter_map(|id| self.derivations.get(id).map(|d| (id, d)))
            .flat_map(|(id, d)| {
                d.handed_to
                    .iter()
                    .map(move |c| ArtifactEvent::DownstreamNotified {
                        derivation_id: id.clone(),
                        consumer: c.clone(),
                    })
            })
            .collect()
    }

    /// Every active transitive dependent of `root` (not `root` itself), sorted.
    pub fn transitive_dependents(&self, root: &DerivationId) -> Vec<DerivationId> {
        let mut seen = BTreeSet::new();
        let mut queue = VecDeque::from([root.clone()]);
        while let Some(id) = queue.pop_front() {
            for dep in self.dependents.get(&id).into_iter().flatten() {
                if self
                    .derivations
                    .get(dep)
                    .is_some_and(|d| d.status == DerivationStatus::Active)
                    && seen.insert(dep.clone())
                {
                    queue.push_back(dep.clone());
                }
            }
        }
        seen.remove(root);
        seen.into_iter().collect()
    }

    fn active(&self, id: &DerivationId) -> Result<&Derivation, ArtifactRejection> {
        let d = self
            .derivations
            .get(id)
            .ok_or_else(|| ArtifactRejection::UnknownDerivation(id.clone()))?;
        match d.status {
            DerivationStatus::Active => Ok(d),
            DerivationStatus::Superseded => {
                Err(ArtifactRejection::NotActive(id.clone(), "superseded"))
            }
            DerivationStatus::Invalidated => {
                Err(ArtifactRejection::NotActive(id.clone(), "invalidated"))
            }
        }
    }

    fn check_record(
        &self,
        r: &DerivationRecord,
        ctx: &Context,
    ) -> Result<DerivationRecord, ArtifactRejection> {
        if self.derivations.contains_key(&r.derivation_id)
            || self.infeasible.contains_key(&r.derivation_id)
        {
            return Err(ArtifactRejection::DerivationExists(r.derivation_id.clone()));
        }
        for (field, text) in [
            ("value_name", &r.value_name),
            ("value", &r.value),
            ("units", &r.units),
            ("git_sha", &r.git_sha),
            ("code_version", &r.code_version),
            ("repro_command", &r.repro_command),
            ("notes", &r.notes),
        ] {
            // Which of these must be filled is checked next, with why.
            check_text(field, text, false)?;
        }
        for (field, text) in [
            ("value_name", &r.value_name),
            ("value", &r.value),
            ("units", &r.units),
            ("git_sha", &r.git_sha),
            ("code_version", &r.code_version),
            ("repro_command", &r.repro_command),
        ] {
            if text.trim().is_empty() {
                return Err(ArtifactRejection::Invalid(format!(
                    "{field} is required: every value carries its provenance"
                )));
            }
        }
        // A signed derivation records a value: a placeholder is what a typed INFEASIBLE record
        // replaces.
        const PLACEHOLDERS: [&str; 8] =
            ["tbd", "todo", "tba", "n/a", "na", "?", "xxx", "placeholder"];
        if PLACEHOLDERS.contains(&r.value.trim().to_ascii_lowercase().as_str()) {
            return Err(ArtifactRejection::Invalid(format!(
                "value {:?} is a placeholder: derive the value, or record it INFEASIBLE with why",
                r.value
            )));
        }
        for hash in &r.input_hashes {
            if !is_content_digest(hash) {
                return Err(ArtifactRejection::Invalid(format!(
                    "input hash {:?} is not a digest: write ALG:HEX, e.g. blake3: and 64 hex digits",
                    hash.chars().take(80).collect::<String>()
                )));
            }
        }
        if r.artifact_path.is_none() && r.run_id.is_none() {
            return Err(ArtifactRejection::Invalid(
                "a signed derivation names its artifact_path or run_id".into(),
            ));
        }
        check_author(&r.author, ctx)?;
        if r.reviewer.is_some() {
            return Err(ArtifactRejection::Invalid(
                "reviewer is set by REVIEW_DERIVATION, not by the author".into(),
            ));
        }
        if r.depends_on.contains(&r.derivation_id) {
            return Err(ArtifactRejection::Invalid(
                "a derivation cannot depend on itself".into(),
            ));
        }
        for upstream in &r.depends_on {
            // Only a standing value can be built on.
            self.active(upstream)?;
        }
        match (r.cost_tier, r.lockability) {
            (CostTier::D, _) => {
                return Err(ArtifactRejection::Lockability {
                    tier: CostTier::D,
                    declared: r.lockability,
                    why: "tier D is unsupported: record a typed INFEASIBLE (reason cost-data)",
                });
            }
            (_, Lockability::Infeasible) => {
                return Err(ArtifactRejection::Lockability {
                    tier: r.cost_tier,
                    declared: r.lockability,
                    why: "an infeasible value is recorded with RECORD_INFEASIBLE, not as a derivation",
                });
            }
            (CostTier::C, Lockability::Lockable) => {
                return Err(ArtifactRejection::Lockability {
                    tier: CostTier::C,
                    declared: r.lockability,
                    why: "tier C is non-lockable context only; no approval promotes it",
                });
            }
            _ => {}
        }
        let mut record = r.clone();
        record.timestamp = Some(r.timestamp.unwrap_or(ctx.at));
        Ok(record)
    }

    fn expire(&self, at: Timestamp) -> Vec<ArtifactEvent> {
        let mut out = Vec::new();
        for (class, (policy, holidays)) in &self.retention {
            let Some(members) = self.by_class.get(class) else {
                continue;
            };
            let today = Day::of(at);
            let cutoff_day = if policy.trading_days {
                let mut day = today;
                let mut counted = 0;
                while counted < policy.keep_days {
                    day = day.minus(1);
                    if !day.is_weekend() && !holidays.contains(&day) {
                        counted += 1;
                    }
                }
                day
            } else {
                today.minus(i32::try_from(policy.keep_days).unwrap_or(i32::MAX))
            };
            let keep_last = usize::try_from(policy.keep_last).unwrap_or(usize::MAX);
            let alive = members.iter().rev().filter(|(_, l)| {
                self.artifacts
                    .get(*l)
                    .is_some_and(|a| a.tombstoned_at.is_none())
            });
            for (registered_at, locator) in alive.skip(keep_last) {
                let too_old = if policy.trading_days {
                    Day::of(registered_at) < cutoff_day
                } else {
                    at.since(registered_at) >= time::Duration::days(i64::from(policy.keep_days))
                };
                if too_old {
                    out.push(ArtifactEvent::ArtifactTombstoned {
                        locator: locator.clone(),
                        class: class.clone(),
                        policy: *policy,
                    });
                    if out.len() >= MAX_EXPIRED_PER_PASS {
                        return out;
                    }
                }
            }
        }
        out
    }
}

/// The refusal of a command sent to a room that does not hold it: the facts table routes
/// every command to its room, so this answers only a table that disagrees with a room.
pub(crate) fn misrouted() -> ArtifactRejection {
    ArtifactRejection::Invalid(
        "internal: this command was routed to a room that does not decide it".into(),
    )
}

impl Decider for Artifacts {
    type Command = ArtifactCommand;
    type Event = ArtifactEvent;
    type Rejection = ArtifactRejection;

    fn decide(
        &self,
        command: &ArtifactCommand,
        ctx: &Context,
    ) -> Result<Vec<ArtifactEvent>, ArtifactRejection> {
        match command.facts().room {
            Room::Store => self.decide_store(command, ctx),
            Room::Retention => self.decide_retention(command, ctx),
            Room::Derivations => self.decide_derivation(command, ctx),
            Room::Stories => self.decide_story(command, ctx),
            Room::Models => self.decide_models(command, ctx),
        }
    }

    fn evolve(&mut self, event: &ArtifactEvent, meta: &EventMeta<'_>) {
        match event.room() {
            Room::Store => self.evolve_store(event, meta),
            Room::Retention => self.evolve_retention(event, meta),
            Room::Derivations => self.evolve_derivation(event, meta),
            Room::Stories => self.evolve_story(event, meta),
            Room::Models => self.evolve_models(event, meta),
        }
    }

    fn check_invariants(&self) -> Result<(), InvariantViolation> {
        if !self.by_class.values().all(ClassIndex::is_consistent) {
            return Err(InvariantViolation(
                "a class index is out of order or miscounted".into(),
            ));
        }
        let indexed: usize = self.by_class.values().map(ClassIndex::len).sum();
        if indexed != self.artifacts.len() {
            return Err(InvariantViolation(
                "the class index disagrees with the artifacts".into(),
            ));
        }
        for (id, d) in &self.derivations {
            if matches!(d.record.cost_tier, CostTier::C | CostTier::D) && d.eligible_for_lock() {
                return Err(InvariantViolation(format!(
                    "tier {:?} derivation {id} is eligible for lock",
                    d.record.cost_tier
                )));
            }
            if d.status != DerivationStatus::Active && d.eligible_for_lock() {
                return Err(InvariantViolation(format!(
                    "{id} is not active yet eligible"
                )));
            }
            if d.reviewed_by.as_ref() == Some(&d.record.author) {
                return Err(InvariantViolation(format!(
                    "{id} was reviewed by its author"
                )));
            }
            if d.status == DerivationStatus::Active
                && let Some(up) = d.record.depends_on.iter().find(|u| {
                    self.derivations
                        .get(*u)
                        .is_some_and(|u| u.status == DerivationStatus::Invalidated)
                })
            {
                return Err(InvariantViolation(format!(
                    "{id} is active but depends on invalidated {up}"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(feature = "testing")]
pub mod testing;

/// `ALG:HEX`: a lowercase algorithm name and 32 to 128 lowercase hex digits, an even count.
fn is_content_digest(text: &str) -> bool {
    let Some((alg, hex)) = text.split_once(':') else {
        return false;
    };
    !alg.is_empty()
        && alg.len() <= 16
        && alg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && (32..=128).contains(&hex.len())
        && hex.len() % 2 == 0
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
