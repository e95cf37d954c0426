//! The periodic attestation : over a period of UTC days,
//! compliance (cycles without a violation), economic safety (no unit blocked by a limit),
//! determinism (cycles whose output replayed identically) and deviations, with an outcome.
//!
//! - `FAIL`: a cycle violated a rule, a limit blocked a unit, or the determinism rate is below
//!   [`DETERMINISM_FLOOR_BP`] (95 %).
//! - `PASS_WITH_CONDITIONS`: none of those, but a deviation is still open or missed its SLA, or
//!   no cycle reported its determinism (nothing is assumed).
//! - `PASS`: otherwise.
//!
//! Rates are basis points; a rate with nothing to measure is `null` (the signature
//! verification rate of a period without signed operations, for one).

use std::collections::BTreeMap;

use ro_policy::{Day, LimitKind};
use serde::Serialize;

use crate::Plane;

/// The determinism rate an attestation needs, in basis points.
pub const DETERMINISM_FLOOR_BP: u32 = 9_500;
/// The longest period attested at once, in days.
pub const MAX_PERIOD_DAYS: i32 = 366;

/// The outcome of an attestation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// Production continues as normal.
    Pass,
    /// Production continues under the conditions listed.
    PassWithConditions,
    /// Production should pause and escalate.
    Fail,
}

/// An attestation of a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Attestation {
    /// The first day.
    pub from: Day,
    /// The last day.
    pub to: Day,
    /// The outcome.
    pub outcome: Outcome,
    /// Why it is not `PASS`, in plain words (empty when it is).
    pub findings: Vec<String>,
    /// Cycles recorded in the period.
    pub cycles: u64,
    /// Cycles that reported a violation.
    pub violations: u64,
    /// Cycles without a violation, in basis points.
    pub compliance_rate_bp: Option<u32>,
    /// Cycles that reported their determinism.
    pub determinism_reported: u64,
    /// Deterministic cycles among those, in basis points.
    pub determinism_rate_bp: Option<u32>,
    /// Signed operations in the period.
    pub signed_operations: u64,
    /// Of those, the ones whose signature verified, in basis points (`null`: none signed).
    pub signature_verification_rate_bp: Option<u32>,
    /// Units whose cost was recorded.
    pub cost_units: u64,
    /// Units blocked, per limit.
    pub limit_breaches: BTreeMap<LimitKind, u64>,
    /// Deviations detected in the period.
    pub deviations_opened: u64,
    /// Of all deviations, those still open now.
    pub deviations_open: u64,
    /// Of all deviations, those that missed their SLA.
    pub deviations_escalated: u64,
}

/// Attests the days `from` to `to` of `plane`.
pub fn attest(plane: &Plane, from: Day, to: Day) -> Result<Attestation, String> {
    if to < from {
        return Err(format!("the period ends ({to}) before it starts ({from})"));
    }
    if from.minus(-MAX_PERIOD_DAYS) < to {
        return Err(format!("attest at most {MAX_PERIOD_DAYS} days at once"));
    }
    let cycles = plane.registry().cycles_between(from, to);
    let mut cost_units = 0;
    let mut limit_breaches: BTreeMap<LimitKind, u64> = BTreeMap::new();
    let mut day = from;
    while day <= to {
        if let Some(stats) = plane.policy().day(day) {
            cost_units += stats.units;
            for (kind, n) in &stats.breaches {
                *limit_breaches.entry(*kind).or_default() += n;
            }
        }
        day = day.next();
    }
    let deviations = plane.policy().deviations();
    let deviations_opened = deviations
        .values()
        .filter(|d| (from..=to).contains(&Day::of(d.detected_at)))
        .count() as u64;
    let deviations_open = deviations
        .values()
        .filter(|d| d.resolved_at.is_none())
        .count() as u64;
    let deviations_escalated = deviations.values().filter(|d| d.escalated).count() as u64;
    let compliance_rate_bp = ro_core::ratio::basis_points(
        cycles.cycles.saturating_sub(cycles.violations),
        cycles.cycles,
    );
    let determinism_rate_bp =
        ro_core::ratio::basis_points(cycles.deterministic, cycles.determinism_reported);
    let (verified, failed) = plane.signing().verifications_between(from, to);
    let signed_operations = verified + failed;
    let mut fails = Vec::new();
    let mut conditions = Vec::new();
    if cycles.violations > 0 {
        fails.push(format!("{} cycles violated a rule", cycles.violations));
    }
    let breaches: u64 = limit_breaches.values().sum();
    if breaches > 0 {
        fails.push(format!(
            "{breaches} units were blocked by an economic limit"
        ));
    }
    match determinism_rate_bp {
        Some(bp) if bp < DETERMINISM_FLOOR_BP => fails.push(format!(
            "determinism {bp} bp is below {DETERMINISM_FLOOR_BP} bp"
        )),
        Some(_) => {}
        None => conditions.push("no cycle reported its determinism".to_owned()),
    }
    if deviations_open > 0 {
        conditions.push(format!("{deviations_open} deviations are open"));
    }
    if deviations_escalated > 0 {
        conditions.push(format!(
            "{deviations_escalated} deviations missed their SLA"
        ));
    }
    let outcome = if !fails.is_empty() {
        Outcome::Fail
    } else if !conditions.is_empty() {
        Outcome::PassWithConditions
    } else {
        Outcome::Pass
    };
    fails.extend(conditions);
    Ok(Attestation {
        from,
        to,
        outcome,
        findings: fails,
        cycles: cycles.cycles,
        violations: cycles.violations,
        compliance_rate_bp,
        determinism_reported: cycles.determinism_reported,
        determinism_rate_bp,
        signed_operations,
        signature_verification_rate_bp: ro_core::ratio::basis_points(verified, signed_operations),
        cost_units,
        limit_breaches,
        deviations_opened,
        deviations_open,
        deviations_escalated,
    })
}
