//! A year of a weekday schedule in a zone with daylight saving.
//! `cargo bench -p ro-benches --bench schedule`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // benchmark harness

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ro_core::Timestamp;
use ro_jobs::{CalendarName, FoldPolicy, GapPolicy, Schedule, ScheduleSpec, TradingCalendar};

fn year(c: &mut Criterion) {
    let spec = ScheduleSpec {
        cron: "30 8 * * 1-5".into(),
        timezone: "America/New_York".into(),
        gap: GapPolicy::Skip,
        fold: FoldPolicy::First,
        allow_legacy_zone: false,
        market_hours: false,
    };
    let start = Timestamp::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
    let end = Timestamp::parse_rfc3339("2027-01-01T00:00:00Z").unwrap();
    let schedule = Schedule::new(spec.clone()).unwrap();
    let runs = schedule.runs(start, 400, None).unwrap();
    let in_year = runs.iter().filter(|t| **t < end).count();
    assert_eq!(in_year, 261);
    let calendar =
        TradingCalendar::weekdays(CalendarName::new("weekdays").unwrap(), "America/New_York");
    let mut g = c.benchmark_group("schedule_year_30_8_weekdays_new_york");
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("261 runs (parse + zone lookup + iterate)", |b| {
        b.iter(|| {
            black_box(
                Schedule::new(spec.clone())
                    .unwrap()
                    .runs(start, 261, None)
                    .unwrap(),
            )
        })
    });
    g.bench_function("261 runs (compiled schedule)", |b| {
        b.iter(|| black_box(schedule.runs(start, 261, None).unwrap()))
    });
    g.bench_function("261 runs with a trading calendar", |b| {
        b.iter(|| black_box(schedule.runs(start, 261, Some(&calendar)).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, year);
criterion_main!(benches);
