//! Timestamps: everything is stored and compared in UTC.

use chrono::{DateTime, SecondsFormat, Utc};

/// Parses an RFC 3339 timestamp into UTC.
pub fn parse_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Formats a UTC time as RFC 3339 with a `Z` suffix and only the fractional digits it needs.
pub fn format_rfc3339(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Microseconds since the Unix epoch: the integer form the SQLite store keeps.
pub fn to_micros(time: &DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

/// The inverse of [`to_micros`].
pub fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_normalised_to_utc() {
        let t = parse_rfc3339("2023-08-05T02:00:00+02:00").map(|t| format_rfc3339(&t));
        assert_eq!(t.as_deref(), Some("2023-08-05T00:00:00Z"));
    }

    #[test]
    fn micros_round_trip() {
        let t = parse_rfc3339("2020-07-28T19:14:54.719501Z").unwrap_or_default();
        assert_eq!(from_micros(to_micros(&t)), t);
    }

    #[test]
    fn garbage_is_not_a_time() {
        assert!(parse_rfc3339("yesterday").is_none());
        assert!(parse_rfc3339("2023-08-05").is_none());
    }
}
