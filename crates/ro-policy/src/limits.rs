//! Economic limits: a per-unit cost ceiling, a daily budget and a daily rate, in integer
//! micro-units and keyed by UTC day; alerts at thresholds; and the daily cost report.

use std::{collections::BTreeMap, fmt};

use ro_core::{Context, EventMeta, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Policy, PolicyCommand, PolicyEvent, PolicyRejection};

ro_core::id_kind!(
    /// Identifies a unit of work whose cost is recorded.
    UnitId,
    UnitTag,
    "unit id"
);

/// A UTC calendar day (`YYYY-MM-DD` on the wire).
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[rkyv(derive(Debug, PartialEq, Eq, PartialOrd, Ord))]
pub struct Day(i32);

impl Day {
    /// The UTC day of an instant.
    pub fn of(at: Timestamp) -> Day {
        // The Julian day number of 1970-01-01 is 2,440,588; timestamps span years 1 to 9999,
        // so the day number always fits an i32 (the fallback is never taken).
        let days = at.unix_seconds().div_euclid(86_400) + 2_440_588;
        Day(i32::try_from(days).unwrap_or(i32::MAX))
    }

    /// The day `n` days earlier.
    pub fn minus(self, n: i32) -> Day {
        Day(self.0.saturating_sub(n))
    }

    /// The day after.
    pub fn next(self) -> Day {
        Day(self.0.saturating_add(1))
    }

    /// Whether the day is a Saturday or a Sunday.
    pub fn is_weekend(self) -> bool {
        self.date()
            .is_some_and(|d| matches!(d.weekday(), time::Weekday::Saturday | time::Weekday::Sunday))
    }

    fn date(self) -> Option<time::Date> {
        time::Date::from_julian_day(self.0).ok()
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Day> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(text, &format)
            .ok()
            .map(|d| Day(d.to_julian_day()))
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.date() {
            Some(d) => write!(
                f,
                "{:04}-{:02}-{:02}",
                d.year(),
                u8::from(d.month()),
                d.day()
            ),
            None => write!(f, "julian-{}", self.0),
        }
    }
}

impl fmt::Debug for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Day::parse(&text).ok_or_else(|| serde::de::Error::custom("a day is YYYY-MM-DD"))
    }
}

/// The largest amount of money accepted, in micro-units (2^53 - 1).
pub const MAX_MICROS: u64 = ro_core::canonical::MAX_SAFE_INTEGER;

/// Economic limits. Thresholds are in basis points of the limit (9000 = 90 %).
#[derive(
    Debug,
    Clone,
    Copy,
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
pub struct Limits {
    /// The most one unit of work may cost.
    pub per_unit_ceiling_micros: u64,
    /// The most a UTC day may cost.
    pub daily_budget_micros: u64,
    /// The most units a UTC day may hold.
    pub daily_rate: u64,
    /// Alert when a unit costs at least this share of the ceiling (default 9000).
    #[serde(default = "default_ceiling_alert")]
    pub ceiling_alert_bp: u16,
    /// Alert when the day's spend reaches this share of the budget (default 8000).
    #[serde(default = "default_usage_alert")]
    pub budget_alert_bp: u16,
    /// Alert when the day's units reach this share of the rate (default 8000).
    #[serde(default = "default_usage_alert")]
    pub rate_alert_bp: u16,
}

fn default_ceiling_alert() -> u16 {
    9000
}

fn default_usage_alert() -> u16 {
    8000
}

impl ro_core::Check for Limits {
    /// Checks ranges: positive limits, money within [`MAX_MICROS`], thresholds within 1..=10000.
    fn check(&self) -> Result<(), String> {
        if self.per_unit_ceiling_micros == 0
            || self.daily_budget_micros == 0
            || self.daily_rate == 0
        {
            return Err("limits must be more than zero".into());
        }
        if self.per_unit_ceiling_micros > MAX_MICROS || self.daily_budget_micros > MAX_MICROS {
            return Err(format!("money is at most {MAX_MICROS} micro-units"));
        }
        if self.daily_rate > MAX_MICROS {
            return Err(format!("the daily rate is at most {MAX_MICROS}"));
        }
        for bp in [
            self.ceiling_alert_bp,
            self.budget_alert_bp,
            self.rate_alert_bp,
        ] {
            if bp == 0 || bp > 10_000 {
                return Err("alert thresholds are 1 to 10000 basis points".into());
            }
        }
        Ok(())
    }
}

/// `part / whole` in basis points, rounded down; 0 when `whole` is 0.
pub fn basis_points(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        return 0;
    }
    u64::try_from(u128::from(part) * 10_000 / u128::from(whole)).unwrap_or(u64::MAX)
}

/// Which limit.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
    schemars::JsonSchema,
)]
#[rkyv(derive(Debug, PartialEq, Eq, PartialOrd, Ord))]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// The per-unit cost ceiling.
    CostCeiling,
    /// The daily budget.
    DailyBudget,
    /// The daily rate.
    DailyRate,
}

impl LimitKind {
    /// The limit's name as the JSON contracts spell it (`cost_ceiling`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::CostCeiling => "cost_ceiling",
            LimitKind::DailyBudget => "daily_budget",
            LimitKind::DailyRate => "daily_rate",
        }
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One day's spending.
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
pub struct DayStats {
    /// Units recorded.
    pub units: u64,
    /// Their total cost.
    pub total_micros: u64,
    /// The most one unit cost.
    pub max_micros: u64,
    /// The least one unit cost (0 when none).
    pub min_micros: u64,
    /// Breaches per limit (each blocked a unit).
    pub breaches: BTreeMap<LimitKind, u64>,
    /// Alerts raised (once per limit per day).
    pub alerts: BTreeMap<LimitKind, u16>,
}

/// The daily cost report: money in micro-units, shares in
/// basis points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CostReport {
    /// The day reported.
    pub report_date: Day,
    /// Totals.
    pub daily_summary: DailySummary,
    /// The limits and their breaches.
    pub limits_compliance: LimitsCompliance,
    /// How much of the limits was used.
    pub budget_utilization: BudgetUtilization,
    /// Averages over 7 and 30 days and their trend.
    pub cost_trajectory: CostTrajectory,
    /// The alerts raised that day, e.g. `daily_budget at 8000 bp`.
    pub alerts: Vec<String>,
}

/// Totals of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DailySummary {
    /// Cycles of the governed system that day (the plane, which records cycles, fills it;
    /// 0 from the policy alone).
    #[serde(default)]
    pub total_cycles: u64,
    /// Units recorded.
    pub total_units: u64,
    /// Total cost.
    pub total_cost_micros: u64,
    /// Average cost per unit (rounded down).
    pub average_cost_per_unit_micros: u64,
    /// Highest unit cost.
    pub max_cost_per_unit_micros: u64,
    /// Lowest unit cost.
    pub min_cost_per_unit_micros: u64,
}

/// The limits in force and the day's breaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LimitsCompliance {
    /// Per-unit ceiling.
    pub per_unit_ceiling_micros: u64,
    /// Daily budget.
    pub daily_budget_cap_micros: u64,
    /// Daily rate.
    pub daily_rate_limit: u64,
    /// Units blocked by the ceiling.
    pub ceiling_breaches: u64,
    /// Units blocked by the budget.
    pub budget_breaches: u64,
    /// Units blocked by the rate.
    pub rate_limit_breaches: u64,
    /// `PASS` when nothing was breached, else `FAIL`.
    pub compliance_status: String,
}

/// Usage of the limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BudgetUtilization {
    /// Share of the budget used.
    pub daily_budget_used_bp: u64,
    /// Share of the rate used.
    pub daily_rate_used_bp: u64,
    /// Budget left.
    pub budget_headroom_micros: u64,
}

/// Cost over time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CostTrajectory {
    /// Average daily cost over the 7 days ending with the report date.
    pub avg_7day_cost_micros: u64,
    /// Average daily cost over 30 days.
    pub avg_30day_cost_micros: u64,
    /// `increasing` when the 7-day average exceeds the 30-day one by more than 10 %,
    /// `decreasing` when it is more than 10 % below, else `stable`.
    pub trend: String,
}

/// Builds the report for `day` from per-day stats and the limits in force.
pub fn cost_report(days: &BTreeMap<Day, DayStats>, limits: &Limits, day: Day) -> CostReport {
    let empty = DayStats::default();
    let stats = days.get(&day).unwrap_or(&empty);
    let breaches = |k| stats.breaches.get(&k).copied().unwrap_or(0);
    let average = |n: i32| -> u64 {
        let total: u64 = days
            .range(day.minus(n - 1)..=day)
            .map(|(_, s)| s.total_micros)
            .sum();
        total / u64::try_from(n).unwrap_or(1)
    };
    let (avg7, avg30) = (average(7), average(30));
    let trend = if u128::from(avg7) * 10 > u128::from(avg30) * 11 {
        "increasing"
    } else if u128::from(avg7) * 10 < u128::from(avg30) * 9 {
        "decreasing"
    } else {
        "stable"
    };
    let failed = stats.breaches.values().any(|n| *n > 0);
    CostReport {
        report_date: day,
        daily_summary: DailySummary {
            total_cycles: 0,
            total_units: stats.units,
            total_cost_micros: stats.total_micros,
            average_cost_per_unit_micros: stats.total_micros.checked_div(stats.units).unwrap_or(0),
            max_cost_per_unit_micros: stats.max_micros,
            min_cost_per_unit_micros: stats.min_micros,
        },
        limits_compliance: LimitsCompliance {
            per_unit_ceiling_micros: limits.per_unit_ceiling_micros,
            daily_budget_cap_micros: limits.daily_budget_micros,
            daily_rate_limit: limits.daily_rate,
            ceiling_breaches: breaches(LimitKind::CostCeiling),
            budget_breaches: breaches(LimitKind::DailyBudget),
            rate_limit_breaches: breaches(LimitKind::DailyRate),
            compliance_status: if failed { "FAIL" } else { "PASS" }.into(),
        },
        budget_utilization: BudgetUtilization {
            daily_budget_used_bp: basis_points(stats.total_micros, limits.daily_budget_micros),
            daily_rate_used_bp: basis_points(stats.units, limits.daily_rate),
            budget_headroom_micros: limits
                .daily_budget_micros
                .saturating_sub(stats.total_micros),
        },
        cost_trajectory: CostTrajectory {
            avg_7day_cost_micros: avg7,
            avg_30day_cost_micros: avg30,
            trend: trend.into(),
        },
        alerts: stats
            .alerts
            .iter()
            .map(|(kind, bp)| {
                format!(
                    "{} at {bp} bp",
                    serde_json::to_value(kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                )
            })
            .collect(),
    }
}

ro_core::json_schema_for!(Day, "Day", {
    "type": "string",
    "format": "date",
    "description": "A UTC calendar day, YYYY-MM-DD."
});

impl Policy {
    pub(crate) fn decide_limits(
        &self,
        command: &PolicyCommand,
        ctx: &Context,
    ) -> Result<Vec<PolicyEvent>, PolicyRejection> {
        use PolicyCommand as C;
        use PolicyEvent as E;
        let reason = ctx.reason.clone();
        match command {
            C::SetLimits { limits } => {
                if self.limits.as_ref() == Some(&**limits) {
                    return Ok(Vec::new());
                }
                Ok(vec![E::LimitsSet {
                    before: self.limits,
                    after: **limits,
                    reason,
                }])
            }
            C::RecordCost {
                unit_id,
                cost_micros,
            } => self.record_cost(unit_id, *cost_micros, ctx),
            _ => Err(crate::misrouted()),
        }
    }

    pub(crate) fn evolve_limits(&mut self, event: &PolicyEvent, _meta: &EventMeta<'_>) {
        use PolicyEvent as E;
        match event {
            E::LimitsSet { after, .. } => self.limits = Some(*after),
            E::CostRecorded {
                cost_micros, day, ..
            } => {
                let stats = self.days.entry(*day).or_default();
                stats.min_micros = if stats.units == 0 {
                    *cost_micros
                } else {
                    stats.min_micros.min(*cost_micros)
                };
                stats.units = stats.units.saturating_add(1);
                stats.total_micros = stats.total_micros.saturating_add(*cost_micros);
                stats.max_micros = stats.max_micros.max(*cost_micros);
            }
            E::LimitAlertRaised {
                limit,
                day,
                used_bp,
            } => {
                let bp = u16::try_from(*used_bp).unwrap_or(u16::MAX);
                self.days
                    .entry(*day)
                    .or_default()
                    .alerts
                    .entry(*limit)
                    .or_insert(bp);
            }
            E::CostBlocked { day, limit, .. } => {
                *self
                    .days
                    .entry(*day)
                    .or_default()
                    .breaches
                    .entry(*limit)
                    .or_insert(0) += 1;
            }
            _ => {}
        }
    }
}

impl Policy {
    pub(crate) fn record_cost(
        &self,
        unit_id: &UnitId,
        cost_micros: u64,
        ctx: &Context,
    ) -> Result<Vec<PolicyEvent>, PolicyRejection> {
        let limits = self.limits.as_ref().ok_or(PolicyRejection::LimitsNotSet)?;
        if cost_micros > MAX_MICROS {
            return Err(PolicyRejection::Invalid(format!(
                "cost is at most {} micro-units",
                MAX_MICROS
            )));
        }
        let day = Day::of(ctx.at);
        let empty = DayStats::default();
        let stats = self.days.get(&day).unwrap_or(&empty);
        if cost_micros > limits.per_unit_ceiling_micros {
            return Err(PolicyRejection::LimitBreached {
                limit: LimitKind::CostCeiling,
            });
        }
        if stats.total_micros.saturating_add(cost_micros) > limits.daily_budget_micros {
            return Err(PolicyRejection::LimitBreached {
                limit: LimitKind::DailyBudget,
            });
        }
        if stats.units.saturating_add(1) > limits.daily_rate {
            return Err(PolicyRejection::LimitBreached {
                limit: LimitKind::DailyRate,
            });
        }
        let mut events = vec![PolicyEvent::CostRecorded {
            unit_id: unit_id.clone(),
            cost_micros,
            day,
        }];
        let mut alert = |limit, used_bp: u64, threshold: u16| {
            if used_bp >= u64::from(threshold) && !stats.alerts.contains_key(&limit) {
                events.push(PolicyEvent::LimitAlertRaised {
                    limit,
                    day,
                    used_bp,
                });
            }
        };
        alert(
            LimitKind::CostCeiling,
            basis_points(cost_micros, limits.per_unit_ceiling_micros),
            limits.ceiling_alert_bp,
        );
        alert(
            LimitKind::DailyBudget,
            basis_points(stats.total_micros + cost_micros, limits.daily_budget_micros),
            limits.budget_alert_bp,
        );
        alert(
            LimitKind::DailyRate,
            basis_points(stats.units + 1, limits.daily_rate),
            limits.rate_alert_bp,
        );
        Ok(events)
    }
}

#[cfg(test)]
mod day_tests {
    use super::*;

    proptest::proptest! {
        /// The integer day number agrees with the calendar's Julian day everywhere.
        #[test]
        fn day_of_is_the_julian_day(secs in -62_135_596_800i64..=253_402_300_799, nanos in 0u32..1_000_000_000) {
            let at = Timestamp::from_unix(secs, nanos).unwrap();
            proptest::prop_assert_eq!(Day::of(at).0, at.utc_date().to_julian_day());
        }
    }

    #[test]
    fn day_of_at_the_edges() {
        for secs in [
            -62_135_596_800i64,
            -86_401,
            -86_400,
            -1,
            0,
            86_399,
            86_400,
            253_402_300_799,
        ] {
            let at = Timestamp::from_unix_seconds(secs).unwrap();
            assert_eq!(Day::of(at).0, at.utc_date().to_julian_day(), "{at}");
        }
    }
}

#[cfg(test)]
mod limit_kind_tests {
    use super::*;

    #[test]
    fn a_limit_is_named_in_messages_as_the_contracts_spell_it() {
        for kind in [
            LimitKind::CostCeiling,
            LimitKind::DailyBudget,
            LimitKind::DailyRate,
        ] {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::from(kind.to_string())
            );
        }
    }
}
