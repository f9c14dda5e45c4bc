//! The time window of a backfill, and where an object's time falls in it (shared by the tools'
//! `kinds`).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// The time window of a backfill (both ends optional, inclusive).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Where an object's time falls relative to the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    Inside,
    /// After `until` (or without the time that decides): skipped.
    Outside,
    /// Before `since` in a list ordered newest first: this and every later object are skipped.
    Older,
}

impl Window {
    /// Where `time` falls (no time: outside).
    pub fn fit(&self, time: Option<DateTime<Utc>>) -> Fit {
        match time {
            None => Fit::Outside,
            Some(t) if self.since.is_some_and(|since| t < since) => Fit::Older,
            Some(t) if self.until.is_some_and(|until| t > until) => Fit::Outside,
            Some(_) => Fit::Inside,
        }
    }

    /// `since..until` for a checkpoint name.
    pub fn label(&self) -> String {
        let text = |t: Option<DateTime<Utc>>| t.map(|t| rfc3339(&t)).unwrap_or_default();
        format!("{}..{}", text(self.since), text(self.until))
    }
}

/// `2025-03-01T00:00:00Z`.
pub fn rfc3339(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The RFC 3339 time of `object[field]`, if it is one.
pub fn time_of(object: &Value, field: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(object.get(field)?.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Percent-encodes a query value (or a path segment).
pub fn query_value(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
