//! Explicit time: [`Timestamp`], always passed in, never read from a clock.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// Smallest accepted Unix second: `0001-01-01T00:00:00Z`.
const MIN_SECS: i64 = -62_135_596_800;
/// Largest accepted Unix second: `9999-12-31T23:59:59Z`.
const MAX_SECS: i64 = 253_402_300_799;
const NANOS_PER_SEC: u32 = 1_000_000_000;

/// An instant in UTC with nanosecond precision, between `0001-01-01T00:00:00Z` and
/// `9999-12-31T23:59:59.999999999Z`.
///
/// On the wire it is an RFC 3339 string in UTC (`Z`), with the fraction trimmed of trailing
/// zeros and omitted when zero, so every instant has exactly one spelling
/// (`docs/journal-format.md`). Input in any offset is accepted and converted to UTC.
///
/// The domain never reads a clock: hosts stamp commands and pass the instant in.
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
#[rkyv(derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash))]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
}

/// Why a [`Timestamp`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// The text is not an RFC 3339 date-time with an offset.
    #[error("not an RFC 3339 timestamp (expected e.g. 2026-03-09T13:30:00Z): {0}")]
    Syntax(String),
    /// The instant lies outside years 0001 to 9999.
    #[error("timestamp out of range: only years 0001 to 9999 are accepted")]
    OutOfRange,
    /// A valid instant not spelled canonically (UTC with `Z`, no trailing zero in the
    /// fraction): records hold only the canonical spelling.
    #[error("{found} is not the canonical spelling of its instant, {canonical}")]
    NotCanonical {
        /// The text read.
        found: String,
        /// The canonical spelling.
        canonical: String,
    },
}

impl Timestamp {
    /// The Unix epoch, `1970-01-01T00:00:00Z`.
    pub const UNIX_EPOCH: Timestamp = Timestamp { secs: 0, nanos: 0 };
    /// The earliest representable instant.
    pub const MIN: Timestamp = Timestamp {
        secs: MIN_SECS,
        nanos: 0,
    };
    /// The latest representable instant.
    pub const MAX: Timestamp = Timestamp {
        secs: MAX_SECS,
        nanos: NANOS_PER_SEC - 1,
    };

    /// Builds an instant from Unix seconds and a nanosecond fraction (`0..1_000_000_000`).
    pub fn from_unix(secs: i64, nanos: u32) -> Result<Self, TimestampError> {
        if !(MIN_SECS..=MAX_SECS).contains(&secs) || nanos >= NANOS_PER_SEC {
            return Err(TimestampError::OutOfRange);
        }
        Ok(Timestamp { secs, nanos })
    }

    /// Builds an instant from whole Unix seconds.
    pub fn from_unix_seconds(secs: i64) -> Result<Self, TimestampError> {
        Self::from_unix(secs, 0)
    }

    /// Parses an RFC 3339 date-time (any offset; converted to UTC).
    pub fn parse_rfc3339(text: &str) -> Result<Self, TimestampError> {
        let odt = OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|e| TimestampError::Syntax(e.to_string()))?;
        Self::try_from(odt)
    }

    /// Parses the canonical spelling only (what [`Timestamp::to_rfc3339`] writes: UTC with an
    /// uppercase `Z`, a `T`, the fraction without trailing zeros). Journal records are read
    /// with it: `+00:00`, `.000Z`, a lowercase `z` or a space are refused, so that a record
    /// that verifies is one a verifier following the format accepts.
    pub fn parse_canonical(text: &str) -> Result<Self, TimestampError> {
        let ts = Self::parse_rfc3339(text)?;
        let canonical = ts.rfc3339_buf();
        if canonical.as_str() != text {
            return Err(TimestampError::NotCanonical {
                found: text.to_owned(),
                canonical: canonical.as_str().to_owned(),
            });
        }
        Ok(ts)
    }

    /// Whole seconds since the Unix epoch (negative before 1970).
    pub fn unix_seconds(self) -> i64 {
        self.secs
    }

    /// The nanosecond fraction of the second, `0..1_000_000_000`.
    pub fn subsec_nanos(self) -> u32 {
        self.nanos
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(self) -> i128 {
        i128::from(self.secs) * i128::from(NANOS_PER_SEC) + i128::from(self.nanos)
    }

    /// Builds an instant from nanoseconds since the Unix epoch.
    pub fn from_unix_nanos(nanos: i128) -> Result<Self, TimestampError> {
        let per = i128::from(NANOS_PER_SEC);
        let secs = i64::try_from(nanos.div_euclid(per)).map_err(|_| TimestampError::OutOfRange)?;
        let frac = u32::try_from(nanos.rem_euclid(per)).map_err(|_| TimestampError::OutOfRange)?;
        Self::from_unix(secs, frac)
    }

    /// This instant as a `time::OffsetDateTime` in UTC.
    pub fn to_offset_date_time(self) -> OffsetDateTime {
        // Every Timestamp is within years 1..=9999, which `time` always represents.
        OffsetDateTime::from_unix_timestamp_nanos(self.unix_nanos())
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The UTC calendar date of this instant (for per-day budgets and reports).
    pub fn utc_date(self) -> time::Date {
        self.to_offset_date_time().date()
    }

    /// `self + duration`, or `None` when the result leaves the representable range.
    pub fn checked_add(self, duration: time::Duration) -> Option<Self> {
        let nanos = self
            .unix_nanos()
            .checked_add(duration.whole_nanoseconds())?;
        Self::from_unix_nanos(nanos).ok()
    }

    /// `self - duration`, or `None` when the result leaves the representable range.
    pub fn checked_sub(self, duration: time::Duration) -> Option<Self> {
        let nanos = self
            .unix_nanos()
            .checked_sub(duration.whole_nanoseconds())?;
        Self::from_unix_nanos(nanos).ok()
    }

    /// The signed duration from `earlier` to `self`.
    pub fn since(self, earlier: Timestamp) -> time::Duration {
        let secs = self.secs - earlier.secs;
        let nanos = i64::from(self.nanos) - i64::from(earlier.nanos);
        // Both parts are bounded (|secs| < 2^39), so this cannot overflow.
        time::Duration::seconds(secs) + time::Duration::nanoseconds(nanos)
    }

    /// Writes the canonical RFC 3339 spelling (see the type's documentation).
    fn write_rfc3339(self, out: &mut impl fmt::Write) -> fmt::Result {
        out.write_str(self.rfc3339_buf().as_str())
    }

    /// The canonical spelling in a stack buffer: integer arithmetic only (the civil date of a
    /// day count, after Howard Hinnant's `civil_from_days`), no formatter and no allocation.
    fn rfc3339_buf(self) -> Rfc3339Buf {
        let days = self.secs.div_euclid(86_400);
        let second_of_day = self.secs.rem_euclid(86_400);
        // Days since 0000-03-01, so that leap days fall at the end of a 400-year era.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let day_of_era = z.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        let mut buf = Rfc3339Buf {
            bytes: *b"0000-00-00T00:00:00.000000000Z",
            len: 20,
        };
        put_digits(&mut buf.bytes, 0, 4, year);
        put_digits(&mut buf.bytes, 5, 2, month);
        put_digits(&mut buf.bytes, 8, 2, day);
        put_digits(&mut buf.bytes, 11, 2, second_of_day / 3_600);
        put_digits(&mut buf.bytes, 14, 2, second_of_day / 60 % 60);
        put_digits(&mut buf.bytes, 17, 2, second_of_day % 60);
        if self.nanos == 0 {
            if let Some(z) = buf.bytes.get_mut(19) {
                *z = b'Z';
            }
        } else {
            let mut digits = 9;
            let mut frac = self.nanos;
            while frac.is_multiple_of(10) {
                frac /= 10;
                digits -= 1;
            }
            put_digits(&mut buf.bytes, 20, digits, i64::from(frac));
            if let Some(z) = buf.bytes.get_mut(20 + digits) {
                *z = b'Z';
            }
            buf.len = 21 + digits;
        }
        buf
    }

    /// Calls `f` with the canonical spelling, built on the stack.
    pub(crate) fn with_rfc3339<T>(self, f: impl FnOnce(&str) -> T) -> T {
        f(self.rfc3339_buf().as_str())
    }

    /// The canonical RFC 3339 spelling, e.g. `2026-03-09T13:30:00.25Z`.
    pub fn to_rfc3339(self) -> String {
        let mut s = String::with_capacity(30);
        // Writing into a String cannot fail.
        let _ = self.write_rfc3339(&mut s);
        s
    }
}

impl TryFrom<OffsetDateTime> for Timestamp {
    type Error = TimestampError;

    fn try_from(odt: OffsetDateTime) -> Result<Self, Self::Error> {
        Self::from_unix(odt.unix_timestamp(), odt.nanosecond())
    }
}

impl From<Timestamp> for OffsetDateTime {
    fn from(ts: Timestamp) -> Self {
        ts.to_offset_date_time()
    }
}

/// A timestamp's canonical spelling, on the stack.
struct Rfc3339Buf {
    bytes: [u8; 30],
    len: usize,
}

impl Rfc3339Buf {
    fn as_str(&self) -> &str {
        // Only ASCII digits, `-`, `T`, `:`, `.` and `Z` are ever written.
        std::str::from_utf8(self.bytes.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }
}

/// The two-digit spellings `00` to `99`, back to back.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849\
5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/// Writes `value` (non-negative, below `10^width`) as `width` zero-padded decimal digits at
/// `at`, two digits at a time from a table (a timestamp has up to 23 digits; this is most of
/// the work of spelling one, which every encoded envelope and state record does).
fn put_digits(bytes: &mut [u8; 30], at: usize, width: usize, value: i64) {
    let mut n = u64::try_from(value).unwrap_or_default();
    let mut end = at + width;
    while end >= at + 2 {
        // `n % 100` is below 100, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let pair = 2 * (n % 100) as usize;
        n /= 100;
        end -= 2;
        if let (Some(to), Some(from)) = (bytes.get_mut(end..end + 2), PAIRS.get(pair..pair + 2)) {
            to.copy_from_slice(from);
        }
    }
    if end > at
        && let Some(slot) = bytes.get_mut(at)
    {
        // `n % 10` is below 10, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (n % 10) as u8;
        *slot = b'0' + digit;
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_rfc3339(f)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_rfc3339(f)
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_rfc3339(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.rfc3339_buf().as_str())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// Deserializes a [`Timestamp`] in its canonical spelling only ([`Timestamp::parse_canonical`]),
/// for `#[serde(deserialize_with = …)]`.
pub fn deserialize_canonical<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Timestamp, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = Timestamp;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an RFC 3339 timestamp in its canonical spelling")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
            Timestamp::parse_canonical(v).map_err(E::custom)
        }
    }
    deserializer.deserialize_str(Visitor)
}

crate::json_schema_for!(Timestamp, "Timestamp", {
    "type": "string",
    "format": "date-time",
    "description": "An instant, RFC 3339 (e.g. 2026-01-05T14:30:00Z); written back in UTC with Z."
});

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> String {
        Timestamp::parse_rfc3339(text)
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    /// The spelling through `time`'s calendar and `write!`, as it was before the hand-written
    /// one: the reference the fast path is held to.
    fn reference_spelling(t: Timestamp) -> String {
        let odt = t.to_offset_date_time();
        let (year, month, day) = odt.to_calendar_date();
        let (hour, minute, second) = odt.to_hms();
        let mut s = format!(
            "{year:04}-{:02}-{day:02}T{hour:02}:{minute:02}:{second:02}",
            u8::from(month)
        );
        if t.nanos != 0 {
            let frac = format!("{:09}", t.nanos);
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        s.push('Z');
        s
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        #[test]
        fn spelling_matches_the_calendar(
            secs in MIN_SECS..=MAX_SECS,
            nanos in proptest::prop_oneof![
                proptest::strategy::Just(0u32),
                0..NANOS_PER_SEC,
                (0u32..1000).prop_map(|n| n * 1_000_000),
            ],
        ) {
            let t = Timestamp::from_unix(secs, nanos).unwrap();
            let spelled = t.to_rfc3339();
            proptest::prop_assert_eq!(&spelled, &reference_spelling(t));
            proptest::prop_assert_eq!(Timestamp::parse_rfc3339(&spelled).unwrap(), t);
        }
    }

    #[test]
    fn spelling_at_the_edges() {
        for secs in [
            MIN_SECS,
            MIN_SECS + 86_399,
            -1,
            0,
            951_782_400,
            4_107_542_400,
            MAX_SECS,
        ] {
            for nanos in [0, 1, 500_000_000, NANOS_PER_SEC - 1] {
                let t = Timestamp::from_unix(secs, nanos).unwrap();
                assert_eq!(t.to_rfc3339(), reference_spelling(t));
            }
        }
    }

    #[test]
    fn canonical_spelling() {
        let cases = [
            ("2026-03-09T13:30:00Z", "2026-03-09T13:30:00Z"),
            ("2026-03-09T13:30:00.000Z", "2026-03-09T13:30:00Z"),
            // RFC 3339 §5.6 lets a space stand for the T.
            ("2026-03-09 13:30:00Z", "2026-03-09T13:30:00Z"),
            ("2026-03-09T13:30:00.250Z", "2026-03-09T13:30:00.25Z"),
            ("2026-03-09T09:30:00-04:00", "2026-03-09T13:30:00Z"),
            (
                "2026-03-09t13:30:00.000000001z",
                "2026-03-09T13:30:00.000000001Z",
            ),
            ("1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.5Z"),
            ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
            (
                "9999-12-31T23:59:59.999999999Z",
                "9999-12-31T23:59:59.999999999Z",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(canon(input), want, "input {input}");
        }
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "",
            "2026-03-09",
            "2026-13-09T13:30:00Z",
            "2026-03-09T13:30:00",
            "0000-12-31T23:59:59Z",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "accepted {bad:?}");
        }
        assert_eq!(
            Timestamp::from_unix(MAX_SECS + 1, 0),
            Err(TimestampError::OutOfRange)
        );
        assert_eq!(
            Timestamp::from_unix(0, NANOS_PER_SEC),
            Err(TimestampError::OutOfRange)
        );
    }

    #[test]
    fn arithmetic_and_order() {
        let a = Timestamp::parse_rfc3339("2026-03-09T13:30:00Z").unwrap();
        let b = a.checked_add(time::Duration::milliseconds(1500)).unwrap();
        assert!(b > a);
        assert_eq!(b.to_rfc3339(), "2026-03-09T13:30:01.5Z");
        assert_eq!(b.since(a), time::Duration::milliseconds(1500));
        assert_eq!(a.since(b), time::Duration::milliseconds(-1500));
        assert_eq!(b.checked_sub(time::Duration::milliseconds(1500)), Some(a));
        assert_eq!(Timestamp::MAX.checked_add(time::Duration::NANOSECOND), None);
        assert_eq!(Timestamp::from_unix_nanos(a.unix_nanos()), Ok(a));
    }
}
