//! Timestamps: everything is stored and compared in UTC.
//!
//! [`parse_rfc3339`] is for the formats that are RFC 3339 by contract (CloudEvent `time`, CDEvent
//! `timestamp`); [`parse_timestamp`] and [`from_unix`] read the times tools actually send
//! (GitLab's three formats, GitHub's Unix seconds, epoch milliseconds), for the transformers and
//! the user-defined rules.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

/// Parses an RFC 3339 timestamp into UTC. Times whose UTC year falls outside 1..=9999 (possible
/// with offsets at the edges, e.g. `9999-12-31T23:30:00-01:00`) are refused: every store and
/// format downstream assumes four-digit years.
pub fn parse_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .filter(in_range)
}

/// Below this magnitude a Unix time is in seconds, from it on in milliseconds. 10^11 seconds is in
/// the year 5138, 10^11 milliseconds is March 1973: no time a tool sends in one unit can be
/// mistaken for the other.
pub const UNIX_MILLIS_FROM: i64 = 100_000_000_000;

/// Parses a time as tools write it, into UTC:
///
/// * RFC 3339: `2016-08-12T15:23:28Z`, `2016-08-12T17:23:28+02:00`, also with `+0200`;
/// * `2016-08-12 15:23:28 UTC` (GitLab pipelines, older merge requests);
/// * `2016-08-12 17:23:28 +0200` or `+02:00` (GitLab pushes);
/// * Unix seconds or epoch milliseconds as decimal text (`1471015408`, `1471015408000`,
///   `1471015408.25`), told apart by magnitude ([`UNIX_MILLIS_FROM`]).
///
/// Fractional seconds are allowed in each; surrounding whitespace is ignored. `None` for anything
/// else, and for times whose UTC year is outside 1..=9999 (as [`parse_rfc3339`]).
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Some(time) = parse_rfc3339(text) {
        return Some(time);
    }
    if is_decimal(text) {
        return match text.parse::<i64>() {
            Ok(whole) => from_unix_int(whole),
            Err(_) => text.parse::<f64>().ok().and_then(from_unix),
        };
    }
    let time = if let Some(naive) = text.strip_suffix(" UTC") {
        NaiveDateTime::parse_from_str(naive.trim_end(), "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .map(|time| time.and_utc())
    } else {
        // `%z` takes `+0200` and `+02:00`.
        [
            "%Y-%m-%d %H:%M:%S%.f %z",
            "%Y-%m-%dT%H:%M:%S%.f%z",
            "%Y-%m-%d %H:%M:%S%.f%z",
        ]
        .iter()
        .find_map(|format| DateTime::parse_from_str(text, format).ok())
        .map(|time| time.with_timezone(&Utc))
    };
    time.filter(in_range)
}

/// A Unix time in seconds or, from [`UNIX_MILLIS_FROM`] on, in milliseconds (fractions allowed).
/// `None` when not finite or outside the years 1..=9999.
pub fn from_unix(number: f64) -> Option<DateTime<Utc>> {
    if !number.is_finite() {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let micros = if number.abs() >= UNIX_MILLIS_FROM as f64 {
        number * 1_000.0
    } else {
        number * 1_000_000.0
    }
    .round();
    // Outside i64, the year is far outside 1..=9999 anyway.
    if micros.abs() >= 9.2e18 {
        return None;
    }
    #[allow(clippy::cast_possible_truncation)]
    DateTime::from_timestamp_micros(micros as i64).filter(in_range)
}

/// [`from_unix`] for whole numbers, without going through floating point.
pub fn from_unix_int(number: i64) -> Option<DateTime<Utc>> {
    if number.unsigned_abs() >= UNIX_MILLIS_FROM.unsigned_abs() {
        DateTime::from_timestamp_millis(number)
    } else {
        DateTime::from_timestamp(number, 0)
    }
    .filter(in_range)
}

/// Optional `-`, digits, optionally `.` and more digits.
fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

fn in_range(time: &DateTime<Utc>) -> bool {
    (1..=9999).contains(&chrono::Datelike::year(time))
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

    fn text(time: Option<DateTime<Utc>>) -> Option<String> {
        time.map(|t| format_rfc3339(&t))
    }

    #[test]
    fn tool_formats_parse_to_the_same_instant() {
        for written in [
            "2016-08-12T15:23:28Z",
            "2016-08-12T17:23:28+02:00",
            "2016-08-12T17:23:28+0200",
            "2016-08-12 15:23:28 UTC",
            "2016-08-12 17:23:28 +0200",
            "2016-08-12 17:23:28 +02:00",
            "2016-08-12 10:23:28 -0500",
            "2016-08-12 17:23:28+0200",
            " 2016-08-12 15:23:28 UTC ",
            "1471015408",
            "1471015408000",
            "1471015408.000",
        ] {
            assert_eq!(
                text(parse_timestamp(written)).as_deref(),
                Some("2016-08-12T15:23:28Z"),
                "{written:?}"
            );
        }
    }

    #[test]
    fn fractions_are_kept() {
        for (written, expected) in [
            ("2016-08-12 15:23:28.250 UTC", "2016-08-12T15:23:28.250Z"),
            ("2016-08-12 15:23:28.5 +0000", "2016-08-12T15:23:28.500Z"),
            ("1471015408.25", "2016-08-12T15:23:28.250Z"),
            ("1471015408250", "2016-08-12T15:23:28.250Z"),
        ] {
            assert_eq!(
                text(parse_timestamp(written)).as_deref(),
                Some(expected),
                "{written:?}"
            );
        }
    }

    #[test]
    fn unix_seconds_and_milliseconds_are_told_apart_by_magnitude() {
        assert_eq!(
            text(from_unix_int(1_700_000_000)).as_deref(),
            Some("2023-11-14T22:13:20Z")
        );
        assert_eq!(
            text(from_unix_int(1_700_000_000_123)).as_deref(),
            Some("2023-11-14T22:13:20.123Z")
        );
        assert_eq!(
            text(from_unix(1_700_000_000.5)).as_deref(),
            Some("2023-11-14T22:13:20.500Z")
        );
        assert_eq!(
            text(from_unix(1_700_000_000_123.0)).as_deref(),
            Some("2023-11-14T22:13:20.123Z")
        );
        // Just below the boundary: seconds (year 5138); at it: milliseconds (1973).
        assert_eq!(
            text(from_unix_int(UNIX_MILLIS_FROM - 1)).as_deref(),
            Some("5138-11-16T09:46:39Z")
        );
        assert_eq!(
            text(from_unix_int(UNIX_MILLIS_FROM)).as_deref(),
            Some("1973-03-03T09:46:40Z")
        );
        assert_eq!(
            text(from_unix_int(0)).as_deref(),
            Some("1970-01-01T00:00:00Z")
        );
    }

    #[test]
    fn garbage_and_out_of_range_numbers_are_not_times() {
        for bad in [
            "",
            "yesterday",
            "2016-08-12",
            "2016-08-12 15:23:28",
            "2016-08-12 15:23:28 CEST",
            "2016-08-12 15:23:28 +2",
            "2016-13-12 15:23:28 UTC",
            "2016-08-12T15:23:28",
            "1e9",
            "0x10",
            "12.",
            ".5",
            "-",
            "1471015408000000",
            "99999999999999999999999",
            "NaN",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
        assert_eq!(from_unix(f64::NAN), None);
        assert_eq!(from_unix(f64::INFINITY), None);
        assert_eq!(from_unix(1e300), None);
        // Microseconds read as milliseconds land past the year 9999.
        assert_eq!(from_unix_int(1_700_000_000_000_000), None);
        assert_eq!(from_unix_int(i64::MIN), None);
    }
}
