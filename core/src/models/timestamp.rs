//! Timestamps: RFC 3339 on the wire, written as the platform does
//! (`2019-12-12T07:34:14.202Z`, milliseconds and `Z`).

use serde::{Deserialize, Deserializer, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// A point in time (UTC on output).
pub type Timestamp = OffsetDateTime;

/// Formats as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format(ts: &Timestamp) -> String {
    let t = ts.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses RFC 3339 with any offset; also accepts a space instead of `T` (the local storage
/// format of the Python SDK).
pub fn parse(s: &str) -> Result<Timestamp, time::error::Parse> {
    if s.as_bytes().get(10) == Some(&b' ') {
        let mut fixed = s.to_owned();
        fixed.replace_range(10..11, "T");
        return OffsetDateTime::parse(&fixed, &Rfc3339);
    }
    OffsetDateTime::parse(s, &Rfc3339)
}

/// `#[serde(with = "timestamp")]`
pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format(ts))
}

/// `#[serde(with = "timestamp")]`
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    parse(&s).map_err(serde::de::Error::custom)
}

/// `#[serde(with = "timestamp::option")]`
pub mod option {
    use super::*;

    /// Serialises `None` as `null`.
    pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match ts {
            Some(t) => s.serialize_str(&format(t)),
            None => s.serialize_none(),
        }
    }

    /// Accepts `null` or a timestamp.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        let s = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        s.map(|s| parse(&s).map_err(serde::de::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_local_format() {
        let t = parse("2019-12-12T07:34:14.202Z").unwrap();
        assert_eq!(format(&t), "2019-12-12T07:34:14.202Z");
        let t = parse("2026-11-21 18:41:14.213441+00:00").unwrap();
        assert_eq!(format(&t), "2026-11-21T18:41:14.213Z");
        let t = parse("2024-01-01T02:00:00+02:00").unwrap();
        assert_eq!(format(&t), "2024-01-01T00:00:00.000Z");
        assert!(parse("yesterday").is_err());
    }
}
