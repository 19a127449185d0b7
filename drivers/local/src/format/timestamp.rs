//! Timestamps as the Python SDK writes them (`str()` of an aware UTC datetime, spec §3), as the Apify
//! API writes them, and a lenient reader for both and for other ISO 8601 / RFC 3339 forms.

use std::fmt::Write as _;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Formats `ts` like Python's `str(datetime)` of an aware UTC datetime:
/// `2026-11-21 18:41:14.213441+00:00`, or `2024-01-01 00:00:00+00:00` when the microseconds are 0.
///
/// `ts` is converted to UTC first and sub-microsecond precision is truncated, as a Python datetime
/// cannot hold it. Only years 1–9999 have a Python equivalent; the result for others is unspecified.
pub fn format_python(ts: OffsetDateTime) -> String {
    // Converting can only fail at the very edge of the supported range; then the same instant is
    // written with its own offset, as Python writes a non-UTC aware datetime.
    let ts = ts.checked_to_offset(UtcOffset::UTC).unwrap_or(ts);
    let mut out = String::with_capacity(32);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        ts.year(),
        u8::from(ts.month()),
        ts.day(),
        ts.hour(),
        ts.minute(),
        ts.second()
    );
    let micros = ts.microsecond();
    if micros != 0 {
        let _ = write!(out, ".{micros:06}");
    }
    let (hours, minutes, seconds) = ts.offset().as_hms();
    let sign = if ts.offset().is_negative() { '-' } else { '+' };
    let _ = write!(out, "{sign}{:02}:{:02}", hours.unsigned_abs(), minutes.unsigned_abs());
    if seconds != 0 {
        let _ = write!(out, ":{:02}", seconds.unsigned_abs());
    }
    out
}

/// Formats `ts` as the Apify API does (JavaScript's `toISOString`): `2019-12-12T07:34:14.202Z`,
/// in UTC, always with milliseconds, truncated.
pub fn format_api(ts: OffsetDateTime) -> String {
    let ts = ts.checked_to_offset(UtcOffset::UTC).unwrap_or(ts);
    let mut out = String::with_capacity(24);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        ts.year(),
        u8::from(ts.month()),
        ts.day(),
        ts.hour(),
        ts.minute(),
        ts.second(),
        ts.millisecond()
    );
    out
}

/// Parses a timestamp written by the Python SDK, Crawlee for JavaScript, the Apify CLI or the API.
///
/// Accepted: `YYYY-MM-DD`, then `T`, `t` or a space, then `HH:MM`, optionally `:SS` and a fraction
/// (`.` or `,`, one or more digits; digits beyond nanoseconds are truncated), then `Z`, `z`, an
/// offset `±HH:MM[:SS]`, `±HHMM` or `±HH`, or nothing, which is read as UTC. The result is in UTC
/// (unless that falls outside the supported years). Returns `None` for anything else, including
/// impossible dates and times.
pub fn parse_any(s: &str) -> Option<OffsetDateTime> {
    let mut p = Cursor { bytes: s.as_bytes(), pos: 0 };
    let year = p.number(4)?;
    p.expect(b'-')?;
    let month = p.number(2)?;
    p.expect(b'-')?;
    let day = p.number(2)?;
    if !(p.eat(b'T') || p.eat(b't') || p.eat(b' ')) {
        return None;
    }
    let hour = p.number(2)?;
    p.expect(b':')?;
    let minute = p.number(2)?;
    let (mut second, mut nanos) = (0, 0);
    if p.eat(b':') {
        second = p.number(2)?;
        if p.eat(b'.') || p.eat(b',') {
            nanos = p.fraction()?;
        }
    }
    let offset = match p.peek() {
        None => UtcOffset::UTC,
        Some(b'Z' | b'z') => {
            p.pos += 1;
            UtcOffset::UTC
        }
        Some(sign @ (b'+' | b'-')) => {
            p.pos += 1;
            let hours = p.number(2)?;
            let minutes = match p.peek() {
                None => 0,
                Some(b':') => {
                    p.pos += 1;
                    p.number(2)?
                }
                Some(_) => p.number(2)?,
            };
            let seconds = if p.eat(b':') { p.number(2)? } else { 0 };
            let sign = if sign == b'-' { -1 } else { 1 };
            let part = |v: u32| i8::try_from(v).ok().map(|v| sign * v);
            UtcOffset::from_hms(part(hours)?, part(minutes)?, part(seconds)?).ok()?
        }
        Some(_) => return None,
    };
    if p.pos != p.bytes.len() {
        return None;
    }
    let date = Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let time =
        Time::from_hms_nano(u8::try_from(hour).ok()?, u8::try_from(minute).ok()?, u8::try_from(second).ok()?, nanos)
            .ok()?;
    let ts = PrimitiveDateTime::new(date, time).assume_offset(offset);
    Some(ts.checked_to_offset(UtcOffset::UTC).unwrap_or(ts))
}

/// A byte cursor for [`parse_any`]; every accessor is bounds-checked.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let found = self.peek() == Some(b);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        self.eat(b).then_some(())
    }

    /// Exactly `len` ASCII digits.
    fn number(&mut self, len: usize) -> Option<u32> {
        let digits = self.bytes.get(self.pos..self.pos + len)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.pos += len;
        Some(digits.iter().fold(0, |acc, &d| acc * 10 + u32::from(d - b'0')))
    }

    /// One or more digits of a fraction of a second, as nanoseconds (truncated).
    fn fraction(&mut self) -> Option<u32> {
        let start = self.pos;
        let mut nanos = 0;
        let mut scale = 100_000_000;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            nanos += u32::from(d - b'0') * scale;
            scale /= 10;
            self.pos += 1;
        }
        (self.pos > start).then_some(nanos)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn python_format_with_microseconds() {
        assert_eq!(format_python(datetime!(2026-11-21 18:41:14.213441 UTC)), "2026-11-21 18:41:14.213441+00:00");
        assert_eq!(format_python(datetime!(2026-11-21 18:41:14.000001 UTC)), "2026-11-21 18:41:14.000001+00:00");
        assert_eq!(format_python(datetime!(2026-11-21 18:41:14.1 UTC)), "2026-11-21 18:41:14.100000+00:00");
    }

    #[test]
    fn python_format_omits_zero_microseconds() {
        assert_eq!(format_python(datetime!(2024-01-01 00:00:00 UTC)), "2024-01-01 00:00:00+00:00");
        // Sub-microsecond precision is truncated, which can leave no fraction at all.
        assert_eq!(format_python(datetime!(2024-01-01 00:00:00.000000999 UTC)), "2024-01-01 00:00:00+00:00");
        assert_eq!(format_python(datetime!(2024-01-01 00:00:00.123456999 UTC)), "2024-01-01 00:00:00.123456+00:00");
    }

    #[test]
    fn python_format_converts_to_utc() {
        assert_eq!(format_python(datetime!(2024-01-01 01:30:00.5 +02:00)), "2023-12-31 23:30:00.500000+00:00");
        assert_eq!(format_python(datetime!(2024-02-28 22:00:00 -05:00)), "2024-02-29 03:00:00+00:00");
        assert_eq!(format_python(datetime!(0001-01-01 00:00:00 UTC)), "0001-01-01 00:00:00+00:00");
        assert_eq!(format_python(datetime!(9999-12-31 23:59:59.999999 UTC)), "9999-12-31 23:59:59.999999+00:00");
    }

    #[test]
    fn python_format_out_of_range_keeps_offset() {
        // 9999-12-31 23:00 -05:00 is in year 10000 in UTC, which `time` cannot hold.
        let ts = datetime!(9999-12-31 23:00:00 -05:00);
        assert_eq!(format_python(ts), "9999-12-31 23:00:00-05:00");
        assert_eq!(parse_any(&format_python(ts)), Some(ts));
    }

    #[test]
    fn api_format() {
        assert_eq!(format_api(datetime!(2019-12-12 07:34:14.202 UTC)), "2019-12-12T07:34:14.202Z");
        assert_eq!(format_api(datetime!(2019-12-12 07:34:14 UTC)), "2019-12-12T07:34:14.000Z");
        assert_eq!(format_api(datetime!(2019-12-12 07:34:14.2029 UTC)), "2019-12-12T07:34:14.202Z");
        assert_eq!(format_api(datetime!(2019-12-12 08:34:14.999999 +01:00)), "2019-12-12T07:34:14.999Z");
    }

    #[test]
    fn parse_python_format() {
        assert_eq!(parse_any("2026-11-21 18:41:14.213441+00:00"), Some(datetime!(2026-11-21 18:41:14.213441 UTC)));
        assert_eq!(parse_any("2024-01-01 00:00:00+00:00"), Some(datetime!(2024-01-01 00:00:00 UTC)));
    }

    #[test]
    fn parse_iso_forms() {
        let expected = datetime!(2019-12-12 07:34:14.202 UTC);
        for text in [
            "2019-12-12T07:34:14.202Z",
            "2019-12-12t07:34:14.202z",
            "2019-12-12T07:34:14.202000Z",
            "2019-12-12T07:34:14.202000000Z",
            "2019-12-12T07:34:14,202Z",
            "2019-12-12T07:34:14.202+00:00",
            "2019-12-12T07:34:14.202-00:00",
            "2019-12-12T09:34:14.202+02:00",
            "2019-12-12T09:34:14.202+0200",
            "2019-12-12T09:34:14.202+02",
            "2019-12-11T21:04:14.202-10:30",
            "2019-12-12 07:34:14.202",
        ] {
            let parsed = parse_any(text).unwrap_or_else(|| panic!("{text} not parsed"));
            assert_eq!(parsed, expected, "{text}");
            assert_eq!(parsed.offset(), UtcOffset::UTC, "{text}");
        }
        assert_eq!(parse_any("2019-12-12T07:34Z"), Some(datetime!(2019-12-12 07:34:00 UTC)));
        assert_eq!(parse_any("2019-12-12T07:34:14Z"), Some(datetime!(2019-12-12 07:34:14 UTC)));
        assert_eq!(parse_any("2019-12-12T07:34:14.1Z"), Some(datetime!(2019-12-12 07:34:14.1 UTC)));
        assert_eq!(parse_any("2019-12-12T07:34:14.123456789Z"), Some(datetime!(2019-12-12 07:34:14.123456789 UTC)));
        assert_eq!(parse_any("2019-12-12T07:34:14.1234567899Z"), Some(datetime!(2019-12-12 07:34:14.123456789 UTC)));
        assert_eq!(parse_any("2019-12-12T07:34:14+05:30:15"), Some(datetime!(2019-12-12 02:03:59 UTC)));
    }

    #[test]
    fn parse_rejects() {
        for text in [
            "",
            "2019",
            "2019-12-12",
            "2019-12-12T",
            "2019-12-12T07",
            "2019-12-12T07:34:14.",
            "2019-12-12T07:34:14.Z",
            "2019-12-12T07:34:14Z ",
            " 2019-12-12T07:34:14Z",
            "2019-12-12T07:34:14ZZ",
            "2019-12-12T07:34:14+",
            "2019-12-12T07:34:14+2",
            "2019-12-12T07:34:14+02:0",
            "2019-12-12T07:34:14+02:00:",
            "2019-12-12X07:34:14Z",
            "19-12-12T07:34:14Z",
            "2019-13-12T07:34:14Z",
            "2019-02-30T07:34:14Z",
            "2019-12-12T24:00:00Z",
            "2019-12-12T07:60:00Z",
            "2019-12-12T07:34:60Z",
            "2019-12-12T07:34:14+26:00",
            "2019-12-12T07:34:14+02:60",
            "+019-12-12T07:34:14Z",
            "２０19-12-12T07:34:14Z",
            "2019-12-12T07:34:14.2\u{663}Z",
        ] {
            assert_eq!(parse_any(text), None, "{text:?}");
        }
    }

    #[test]
    fn round_trips() {
        for ts in [
            datetime!(2026-11-21 18:41:14.213441 UTC),
            datetime!(2024-01-01 00:00:00 UTC),
            datetime!(2000-02-29 12:00:00.000001 UTC),
            datetime!(0001-01-01 00:00:00 UTC),
            datetime!(9999-12-31 23:59:59.999999 UTC),
        ] {
            assert_eq!(parse_any(&format_python(ts)), Some(ts));
            assert_eq!(parse_any(&format_api(ts)), Some(ts.replace_millisecond(ts.millisecond()).unwrap()));
        }
    }
}
