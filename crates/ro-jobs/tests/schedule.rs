//! Schedules across daylight-saving transitions, calendars and odd zones, snapshotted; and a
//! differential property test against a brute-force scan of real minutes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

use proptest::prelude::*;
use ro_core::Timestamp;
use ro_jobs::{
    CalendarName, FoldPolicy, GapPolicy, Override, Schedule, ScheduleSpec, TradingCalendar,
};

fn schedule(cron: &str, tz: &str, gap: GapPolicy, fold: FoldPolicy) -> Schedule {
    Schedule::new(ScheduleSpec {
        cron: cron.into(),
        timezone: tz.into(),
        gap,
        fold,
        allow_legacy_zone: false,
        market_hours: false,
    })
    .unwrap()
}

/// `cron | zone | gap | fold | after | count [| calendar]` → the runs, in UTC and local time.
fn check(cases: &str) -> String {
    let mut out = String::new();
    for line in cases.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('|').map(str::trim).collect();
        let gap = serde_json::from_value(serde_json::Value::String(f[2].into())).unwrap();
        let fold = serde_json::from_value(serde_json::Value::String(f[3].into())).unwrap();
        let spec = ScheduleSpec {
            cron: f[0].into(),
            timezone: f[1].into(),
            gap,
            fold,
            allow_legacy_zone: false,
            market_hours: false,
        };
        out.push_str(&format!("{line}\n"));
        let s = match Schedule::new(spec) {
            Ok(s) => s,
            Err(e) => {
                out.push_str(&format!("  → {e}\n"));
                continue;
            }
        };
        let calendar = f.get(6).map(|name| {
            let mut c = TradingCalendar::weekdays(CalendarName::new("weekdays").unwrap(), f[1]);
            if *name == "with-holiday" {
                c.holidays.push("2026-07-03".parse().unwrap());
                c.overrides
                    .insert("2026-07-06".parse().unwrap(), Override::Closed);
                c.overrides
                    .insert("2026-07-11".parse().unwrap(), Override::Open);
            }
            c
        });
        match s.runs(
            Timestamp::parse_rfc3339(f[4]).unwrap(),
            f[5].parse().unwrap(),
            calendar.as_ref(),
        ) {
            Ok(runs) => {
                for r in runs {
                    let zone = jiff::tz::TimeZone::get(f[1]).unwrap();
                    let ts = jiff::Timestamp::from_second(r.unix_seconds()).unwrap();
                    let local = zone.to_datetime(ts);
                    out.push_str(&format!(
                        "  {r}  {} {}\n",
                        local.strftime("%a %Y-%m-%d %H:%M"),
                        zone.to_offset(ts)
                    ));
                }
            }
            Err(e) => out.push_str(&format!("  → {e}\n")),
        }
    }
    out
}

#[test]
fn daylight_saving_and_calendars() {
    insta::assert_snapshot!(check(
        r#"
        30 8 * * 1-5 | America/New_York | skip | first | 2026-03-05T00:00:00Z | 5
        30 2 * * * | America/New_York | skip | first | 2026-03-07T00:00:00Z | 3
        30 2 * * * | America/New_York | run_at_end | first | 2026-03-07T00:00:00Z | 3
        15,45 2 * * * | America/New_York | run_at_end | first | 2026-03-07T12:00:00Z | 3
        30 1 * * * | America/New_York | skip | first | 2026-10-31T00:00:00Z | 3
        30 1 * * * | America/New_York | skip | second | 2026-10-31T00:00:00Z | 3
        30 1 * * * | America/New_York | skip | both | 2026-10-31T00:00:00Z | 4
        0 * * * * | America/New_York | skip | first | 2026-11-01T03:30:00Z | 5
        0 * * * * | America/New_York | run_at_end | second | 2026-03-08T05:30:00Z | 4
        */30 1-2 * * * | America/New_York | skip | first | 2026-11-01T04:50:00Z | 6
        0 2 * * * | Australia/Lord_Howe | run_at_end | both | 2026-04-04T00:00:00Z | 2
        45 1 * * * | Australia/Lord_Howe | skip | both | 2026-04-04T00:00:00Z | 3
        15 2 * * * | Australia/Lord_Howe | run_at_end | first | 2026-10-03T00:00:00Z | 2
        0 12 29 2 * | Europe/London | skip | first | 2026-01-01T00:00:00Z | 2
        0 9 L * * | Asia/Kathmandu | skip | first | 2026-01-15T00:00:00Z | 3
        0 9 * * 1#1 | UTC | skip | first | 2026-01-01T00:00:00Z | 3
        0 16 * * * | America/New_York | skip | first | 2026-07-01T00:00:00Z | 7 | with-holiday
        0 16 * * * | America/New_York | skip | first | 2026-07-01T00:00:00Z | 3 | weekdays
        0 0 30 2 * | UTC | skip | first | 2026-01-01T00:00:00Z | 1
        0 0 * * * | Mars/Olympus_Mons | skip | first | 2026-01-01T00:00:00Z | 1
        0 0 * * | UTC | skip | first | 2026-01-01T00:00:00Z | 1
        0 0 0 * * * | UTC | skip | first | 2026-01-01T00:00:00Z | 1
        61 0 * * * | UTC | skip | first | 2026-01-01T00:00:00Z | 1
    "#
    ));
}

/// The oracle for gap = skip, fold = both: every real minute whose local wall time matches.
fn brute_force_next(
    s: &Schedule,
    tz: &str,
    after: Timestamp,
    horizon_minutes: i64,
) -> Option<Timestamp> {
    let zone = jiff::tz::TimeZone::get(tz).unwrap();
    let cron: croner::Cron = s.spec().cron.parse().unwrap();
    let start = after.unix_seconds().div_euclid(60) * 60 + 60;
    (0..horizon_minutes)
        .map(|i| start + i * 60)
        .find_map(|secs| {
            let local = zone.to_datetime(jiff::Timestamp::from_second(secs).unwrap());
            let p = &cron.pattern;
            let weekday = match local.date().weekday() {
                jiff::civil::Weekday::Sunday => croner::Weekday::Sunday,
                jiff::civil::Weekday::Monday => croner::Weekday::Monday,
                jiff::civil::Weekday::Tuesday => croner::Weekday::Tuesday,
                jiff::civil::Weekday::Wednesday => croner::Weekday::Wednesday,
                jiff::civil::Weekday::Thursday => croner::Weekday::Thursday,
                jiff::civil::Weekday::Friday => croner::Weekday::Friday,
                jiff::civil::Weekday::Saturday => croner::Weekday::Saturday,
            };
            let matches = p.minute_match(local.minute() as u32).unwrap()
                && p.hour_match(local.hour() as u32).unwrap()
                && p.month_match(local.month() as u32).unwrap()
                && p.day_match(
                    local.year() as i32,
                    local.month() as u32,
                    local.day() as u32,
                    weekday,
                )
                .unwrap();
            matches.then(|| Timestamp::from_unix_seconds(secs).unwrap())
        })
}

const ZONES: &[&str] = &[
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "America/Santiago",
    "UTC",
];

/// Instants near the 2026 transitions of the zones above.
fn instant() -> impl Strategy<Value = Timestamp> {
    const ANCHORS: &[&str] = &[
        "2026-03-08T06:00:00Z",
        "2026-11-01T05:00:00Z",
        "2026-03-29T00:30:00Z",
        "2026-10-25T00:30:00Z",
        "2026-04-04T14:00:00Z",
        "2026-10-03T15:30:00Z",
        "2026-04-05T02:00:00Z",
        "2026-09-06T03:00:00Z",
        "2026-06-01T00:00:00Z",
    ];
    (proptest::sample::select(ANCHORS), -180i64..180).prop_map(|(a, m)| {
        Timestamp::parse_rfc3339(a)
            .unwrap()
            .checked_add(time::Duration::minutes(m))
            .unwrap()
    })
}

fn cron() -> impl Strategy<Value = String> {
    let minute = prop_oneof![
        Just("*".to_string()),
        Just("*/15".to_string()),
        (0u8..60).prop_map(|m| m.to_string()),
        Just("0,30".to_string())
    ];
    let hour = prop_oneof![
        Just("*".to_string()),
        Just("*/2".to_string()),
        (0u8..24).prop_map(|h| h.to_string()),
        Just("1-3".to_string()),
        Just("0,2".to_string())
    ];
    (minute, hour).prop_map(|(m, h)| format!("{m} {h} * * *"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// With gap = skip and fold = both, a schedule is exactly "every real instant whose local
    /// wall time matches": compare with a scan of every minute.
    #[test]
    fn matches_a_brute_force_scan(cron in cron(), zone in proptest::sample::select(ZONES), after in instant()) {
        let s = schedule(&cron, zone, GapPolicy::Skip, FoldPolicy::Both);
        let want = brute_force_next(&s, zone, after, 3 * 24 * 60);
        if let Some(want) = want {
            prop_assert_eq!(s.next_after(after, None).unwrap(), want);
        }
    }

    /// next_after from any instant gives exactly the sequence iteration gives, for every policy.
    #[test]
    fn next_after_equals_iteration(cron in cron(), zone in proptest::sample::select(ZONES), after in instant(),
        gap in prop_oneof![Just(GapPolicy::Skip), Just(GapPolicy::RunAtEnd)],
        fold in prop_oneof![Just(FoldPolicy::First), Just(FoldPolicy::Second), Just(FoldPolicy::Both)],
        probes in proptest::collection::vec(0i64..(2 * 24 * 60), 8)) {
        let s = schedule(&cron, zone, gap, fold);
        let runs = s.runs(after, 30, None).unwrap();
        prop_assert!(runs.windows(2).all(|w| w[0] < w[1]), "runs are strictly increasing");
        for p in probes {
            let t = after.checked_add(time::Duration::minutes(p)).unwrap();
            if t >= *runs.last().unwrap() {
                continue;
            }
            let expected = runs.iter().find(|r| **r > t).copied().unwrap();
            prop_assert_eq!(s.next_after(t, None).unwrap(), expected, "from {}", t);
        }
    }
}

#[test]
fn legacy_zone_names_are_refused_with_a_hint_unless_allowed() {
    insta::assert_snapshot!(check(
        "30 8 * * 1-5 | EST | skip | first | 2026-03-06T00:00:00Z | 2
         30 8 * * 1-5 | EST5EDT | skip | first | 2026-03-06T00:00:00Z | 2
         30 8 * * 1-5 | Etc/GMT+5 | skip | first | 2026-03-06T00:00:00Z | 2
         30 8 * * 1-5 | UTC | skip | first | 2026-03-06T00:00:00Z | 2"
    ));
    // Allowed explicitly, EST is a fixed UTC−5: 08:30 EST is 13:30Z on both sides of 8 March.
    let spec: ScheduleSpec = serde_json::from_str(
        r#"{"cron":"30 8 * * 1-5","timezone":"EST","allow_legacy_zone":true}"#,
    )
    .unwrap();
    let runs = Schedule::new(spec)
        .unwrap()
        .runs(
            ro_core::Timestamp::parse_rfc3339("2026-03-06T00:00:00Z").unwrap(),
            2,
            None,
        )
        .unwrap();
    let runs: Vec<String> = runs.iter().map(ToString::to_string).collect();
    assert_eq!(runs, ["2026-03-06T13:30:00Z", "2026-03-09T13:30:00Z"]);
}

/// The shipped exchange calendar (`calendars/nyse-2026.json`, a `DEFINE_CALENDAR` document).
fn shipped_calendar() -> TradingCalendar {
    let text = include_str!("../../../calendars/nyse-2026.json");
    let doc: serde_json::Value = serde_json::from_str(text).unwrap();
    serde_json::from_value(doc["calendar"].clone()).unwrap()
}

#[test]
fn market_hours_keep_the_occurrences_inside_the_session() {
    let calendar = shipped_calendar();
    let spec = |cron: &str| ScheduleSpec {
        cron: cron.into(),
        timezone: "America/New_York".into(),
        gap: GapPolicy::Skip,
        fold: FoldPolicy::First,
        allow_legacy_zone: false,
        market_hours: true,
    };
    let mut out = String::new();
    // Every half hour in market hours across Thanksgiving (closed) and its early close
    // (13:00), then every 15 minutes across the return to standard time (1 November).
    for (cron, after, count) in [
        ("*/30 * * * *", "2026-11-25T00:00:00Z", 21),
        ("*/15 * * * 1-5", "2026-10-30T19:00:00Z", 8),
    ] {
        out.push_str(&format!("{cron} after {after}\n"));
        let s = Schedule::new(spec(cron)).unwrap();
        let runs = s
            .runs(
                Timestamp::parse_rfc3339(after).unwrap(),
                count,
                Some(&calendar),
            )
            .unwrap();
        let zone = jiff::tz::TimeZone::get("America/New_York").unwrap();
        for r in runs {
            assert_eq!(calendar.is_trading_at(r), Some(true), "{r}");
            let ts = jiff::Timestamp::from_second(r.unix_seconds()).unwrap();
            out.push_str(&format!(
                "  {r}  {}\n",
                zone.to_datetime(ts).strftime("%a %Y-%m-%d %H:%M")
            ));
        }
    }
    // Before the open every day: never in market hours.
    let never = Schedule::new(spec("30 8 * * 1-5")).unwrap();
    out.push_str(&format!(
        "30 8 * * 1-5 → {}\n",
        never
            .next_after(
                Timestamp::parse_rfc3339("2026-11-25T00:00:00Z").unwrap(),
                Some(&calendar)
            )
            .unwrap_err()
    ));
    // Without a calendar that has a session, refused.
    let mut sessionless = calendar.clone();
    sessionless.session = None;
    out.push_str(&format!(
        "no session → {}\n",
        Schedule::new(spec("*/30 * * * *"))
            .unwrap()
            .next_after(
                Timestamp::parse_rfc3339("2026-11-25T00:00:00Z").unwrap(),
                Some(&sessionless)
            )
            .unwrap_err()
    ));
    insta::assert_snapshot!(out);
}
