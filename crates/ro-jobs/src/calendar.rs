//! Trading calendars: a weekmask, regular holidays, early closes, and dated overrides layered
//! on top (ad-hoc closures announced days ahead).

use std::collections::BTreeMap;

use jiff::civil::{Date, Weekday};
use serde::{Deserialize, Serialize};

ro_core::id_kind!(
    /// Names a trading calendar.
    CalendarName,
    CalendarTag,
    "calendar name"
);

pub use override_kind::Override;

// rkyv's derive generates a resolver whose variant fields carry no docs.
#[allow(missing_docs)]
mod override_kind {
    use serde::{Deserialize, Serialize};

    /// A dated exception to the regular calendar.
    #[derive(
        Debug,
        Clone,
        Copy,
        PartialEq,
        Eq,
        Serialize,
        Deserialize,
        schemars::JsonSchema,
        rkyv::Archive,
        rkyv::Serialize,
        rkyv::Deserialize,
    )]
    #[serde(rename_all = "snake_case", tag = "kind")]
    pub enum Override {
        /// Closed all day.
        Closed,
        /// Open although the weekmask or a holiday says closed.
        Open,
        /// Open, closing early at this local time.
        EarlyClose {
            /// Hour (0–23).
            hour: u8,
            /// Minute (0–59).
            minute: u8,
        },
    }
}

/// A versioned trading calendar. Dates are local dates of the calendar's zone, `YYYY-MM-DD`.
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
pub struct TradingCalendar {
    /// Its name.
    pub name: CalendarName,
    /// Its version (incremented by every change).
    pub version: u32,
    /// The IANA zone its dates and closes are in.
    pub timezone: String,
    /// Trading weekdays, Monday first (`[true, true, true, true, true, false, false]`).
    pub weekmask: [bool; 7],
    /// Regular holidays.
    #[serde(default)]
    #[schemars(with = "Vec<crate::run::CivilDate>")]
    #[rkyv(with = rkyv::with::Map<DateAsNumber>)]
    pub holidays: Vec<Date>,
    /// Regular early closes: date → local `HH:MM`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<crate::run::CivilDate, String>")]
    #[rkyv(with = rkyv::with::MapKV<DateAsNumber, rkyv::with::Identity>)]
    pub early_closes: BTreeMap<Date, String>,
    /// User overrides layered on top, which win over everything else.
    #[serde(default)]
    #[schemars(with = "BTreeMap<crate::run::CivilDate, Override>")]
    #[rkyv(with = rkyv::with::MapKV<DateAsNumber, rkyv::with::Identity>)]
    pub overrides: BTreeMap<Date, Override>,
    /// The trading session of a trading day, in local time; absent: the whole day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Session>,
}

/// A trading day's session in the calendar's zone: open from `open`, closed from `close` (or
/// from the day's early close, if sooner).
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
pub struct Session {
    /// Local opening time, `HH:MM`.
    pub open: String,
    /// Local closing time, `HH:MM`.
    pub close: String,
}

/// `HH:MM` as minutes after midnight.
fn minutes(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    let (h, m) = (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?);
    (text.len() == 5 && h < 24 && m < 60).then_some(h * 60 + m)
}

impl TradingCalendar {
    /// A Monday-to-Friday calendar with no holidays.
    pub fn weekdays(name: CalendarName, timezone: &str) -> Self {
        TradingCalendar {
            name,
            version: 1,
            timezone: timezone.into(),
            weekmask: [true, true, true, true, true, false, false],
            holidays: Vec::new(),
            early_closes: BTreeMap::new(),
            overrides: BTreeMap::new(),
            session: None,
        }
    }

    /// Whether `date` is a trading day: overrides first, then holidays, then the weekmask.
    pub fn is_trading_day(&self, date: Date) -> bool {
        match self.overrides.get(&date) {
            Some(Override::Closed) => return false,
            Some(Override::Open | Override::EarlyClose { .. }) => return true,
            None => {}
        }
        if self.holidays.contains(&date) {
            return false;
        }
        let index = match date.weekday() {
            Weekday::Monday => 0,
            Weekday::Tuesday => 1,
            Weekday::Wednesday => 2,
            Weekday::Thursday => 3,
            Weekday::Friday => 4,
            Weekday::Saturday => 5,
            Weekday::Sunday => 6,
        };
        self.weekmask.get(index).copied().unwrap_or(false)
    }

    /// Whether the instant `at` falls in a trading session in the calendar's zone: on a
    /// trading day, and within the session (closing at the day's early close, if sooner) when
    /// the calendar has one (`None` when the zone is unknown to the bundled database or `at`
    /// is out of range).
    pub fn is_trading_at(&self, at: ro_core::Timestamp) -> Option<bool> {
        let tz = jiff::tz::TimeZoneDatabase::bundled()
            .get(&self.timezone)
            .ok()?;
        let instant = jiff::Timestamp::from_nanosecond(at.unix_nanos()).ok()?;
        let local = tz.to_datetime(instant);
        let date = local.date();
        if !self.is_trading_day(date) {
            return Some(false);
        }
        let Some(session) = &self.session else {
            return Some(true);
        };
        let now = u16::try_from(local.hour()).ok()? * 60 + u16::try_from(local.minute()).ok()?;
        let open = minutes(&session.open)?;
        let close = minutes(&session.close)?;
        let close = self
            .early_close(date)
            .map_or(close, |(h, m)| close.min(u16::from(h) * 60 + u16::from(m)));
        Some(open <= now && now < close)
    }

    /// The first instant at or after `at` inside a trading session: `at` itself when the
    /// market is open, else the next trading day's open (`None` without a session, with an
    /// unknown zone, or when no session opens within a year).
    pub fn session_open_at_or_after(&self, at: ro_core::Timestamp) -> Option<ro_core::Timestamp> {
        if self.is_trading_at(at)? {
            return Some(at);
        }
        let session = self.session.as_ref()?;
        let open = minutes(&session.open)?;
        let tz = jiff::tz::TimeZoneDatabase::bundled()
            .get(&self.timezone)
            .ok()?;
        let instant = jiff::Timestamp::from_nanosecond(at.unix_nanos()).ok()?;
        let start = tz.to_datetime(instant).date();
        for offset in 0..=370 {
            let date = start.checked_add(jiff::Span::new().days(offset)).ok()?;
            if !self.is_trading_day(date) {
                continue;
            }
            let local = date.at(
                i8::try_from(open / 60).ok()?,
                i8::try_from(open % 60).ok()?,
                0,
                0,
            );
            let t = tz.to_ambiguous_timestamp(local).later().ok()?;
            let t = ro_core::Timestamp::from_unix_nanos(t.as_nanosecond()).ok()?;
            if t >= at {
                return Some(t);
            }
        }
        None
    }

    /// The early close of `date`, if any, as local (hour, minute).
    pub fn early_close(&self, date: Date) -> Option<(u8, u8)> {
        if let Some(Override::EarlyClose { hour, minute }) = self.overrides.get(&date) {
            return Some((*hour, *minute));
        }
        let text = self.early_closes.get(&date)?;
        let (h, m) = text.split_once(':')?;
        Some((h.parse().ok()?, m.parse().ok()?))
    }
}

/// rkyv: a calendar date archived as the number `YYYYMMDD` (jiff's dates have no archived
/// form of their own).
pub(crate) struct DateAsNumber;

fn date_number(date: Date) -> i32 {
    i32::from(date.year()) * 10_000 + i32::from(date.month()) * 100 + i32::from(date.day())
}

impl ro_core::Check for TradingCalendar {
    /// Checks the calendar: a known zone, valid early-close times, at least one trading
    /// weekday.
    fn check(&self) -> Result<(), String> {
        if jiff::tz::TimeZoneDatabase::bundled()
            .get(&self.timezone)
            .is_err()
        {
            return Err(format!("unknown time zone {:?}", self.timezone));
        }
        if !self.weekmask.iter().any(|d| *d) {
            return Err("a calendar trades on at least one weekday".into());
        }
        for (date, text) in &self.early_closes {
            let ok = text
                .split_once(':')
                .and_then(|(h, m)| Some((h.parse::<u8>().ok()?, m.parse::<u8>().ok()?)))
                .is_some_and(|(h, m)| h < 24 && m < 60 && text.len() == 5);
            if !ok {
                return Err(format!("early close on {date} is {text:?}: write HH:MM"));
            }
        }
        if let Some(session) = &self.session {
            match (minutes(&session.open), minutes(&session.close)) {
                (Some(open), Some(close)) if open < close => {}
                (Some(_), Some(_)) => {
                    return Err(format!(
                        "session opens at {} and closes at {}: it must open before it closes",
                        session.open, session.close
                    ));
                }
                _ => return Err("session open and close are HH:MM local times".into()),
            }
        }
        for (date, o) in &self.overrides {
            if let Override::EarlyClose { hour, minute } = o
                && (*hour > 23 || *minute > 59)
            {
                return Err(format!("early close on {date} is out of range"));
            }
        }
        Ok(())
    }
}

impl rkyv::with::ArchiveWith<Date> for DateAsNumber {
    type Archived = rkyv::Archived<i32>;
    type Resolver = ();

    fn resolve_with(field: &Date, (): (), out: rkyv::Place<Self::Archived>) {
        rkyv::Archive::resolve(&date_number(*field), (), out);
    }
}

impl<S: rkyv::rancor::Fallible + ?Sized> rkyv::with::SerializeWith<Date, S> for DateAsNumber {
    fn serialize_with(_: &Date, _: &mut S) -> Result<(), S::Error> {
        Ok(())
    }
}

impl<D> rkyv::with::DeserializeWith<rkyv::Archived<i32>, Date, D> for DateAsNumber
where
    D: rkyv::rancor::Fallible + ?Sized,
    D::Error: rkyv::rancor::Source,
{
    fn deserialize_with(field: &rkyv::Archived<i32>, _: &mut D) -> Result<Date, D::Error> {
        let n = field.to_native();
        let (year, rest) = (n.div_euclid(10_000), n.rem_euclid(10_000));
        let part = |v: i32| i8::try_from(v).unwrap_or(0);
        let year = i16::try_from(year).unwrap_or(i16::MIN);
        Date::new(year, part(rest / 100), part(rest % 100))
            .map_err(<D::Error as rkyv::rancor::Source>::new)
    }
}
