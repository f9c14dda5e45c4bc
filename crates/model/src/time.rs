//! Timestamps: everything is stored and compared in UTC.

use chrono::{DateTime, SecondsFormat, Utc};

/// Parses an RFC 3339 timestamp into UTC. Times whose UTC year falls outside 1..=9999 (possible
/// with offsets at the edges, e.g. `9999-12-31T23:30:00-01:00`) are refused: every store and
/// format downstream assumes four-digit years.
pub fn parse_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .filter(|t| (1..=9999).contains(&chrono::Datelike::year(t)))
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
    fn years_outside_four_digits_in_utc_are_refused() {
        assert!(parse_rfc3339("9999-12-31T23:30:00-01:00").is_none());
        assert!(parse_rfc3339("0000-01-01T00:30:00+01:00").is_none());
        assert!(parse_rfc3339("9999-12-31T22:30:00-01:00").is_some());
    }

    #[test]
    fn garbage_is_not_a_time() {
        assert!(parse_rfc3339("yesterday").is_none());
        assert!(parse_rfc3339("2023-08-05").is_none());
    }
}
