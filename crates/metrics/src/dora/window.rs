//! Time windows and calendar buckets (UTC) for the pure DORA computation (`crate::dora`) used
//! by the API: the half-open window `[from, to)` every number carries, the day/week/month/year
//! buckets of the time series (weeks start on Monday, ISO 8601), and the complete ISO weeks
//! the deployment frequency level is computed over.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

pub use dora_model::dora::Bucket;

/// A half-open time window `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    /// A window, or `None` unless `from < to`.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Option<Window> {
        (from < to).then_some(Window { from, to })
    }

    /// `from <= at < to`.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }

    /// The ISO weeks (Monday 00:00 UTC to the next Monday) lying entirely inside the window,
    /// in order.
    pub fn complete_weeks(&self) -> Vec<Window> {
        let mut weeks = Vec::new();
        let mut start = bucket_start(self.from, Bucket::Week);
        if start < self.from {
            match next_bucket_start(start, Bucket::Week) {
                Some(next) => start = next,
                None => return weeks,
            }
        }
        while let Some(end) = next_bucket_start(start, Bucket::Week) {
            if end > self.to {
                break;
            }
            weeks.push(Window {
                from: start,
                to: end,
            });
            start = end;
        }
        weeks
    }
}

/// The index range of `sorted` (by a time key) whose times fall in `window` (half-open).
pub fn range_in<T>(
    sorted: &[T],
    window: &Window,
    at: impl Fn(&T) -> DateTime<Utc>,
) -> std::ops::Range<usize> {
    let start = sorted.partition_point(|x| at(x) < window.from);
    let end = sorted.partition_point(|x| at(x) < window.to).max(start);
    start..end
}

/// The items of `sorted` (by a time key) whose times fall in `window`.
pub fn in_window<'s, T>(
    sorted: &'s [T],
    window: &Window,
    at: impl Fn(&T) -> DateTime<Utc>,
) -> &'s [T] {
    sorted.get(range_in(sorted, window, at)).unwrap_or(&[])
}

fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

/// Start of the bucket holding `at`.
pub fn bucket_start(at: DateTime<Utc>, bucket: Bucket) -> DateTime<Utc> {
    let date = at.date_naive();
    let start = match bucket {
        Bucket::Day => Some(date),
        Bucket::Week => date.checked_sub_signed(Duration::days(i64::from(
            date.weekday().num_days_from_monday(),
        ))),
        Bucket::Month => NaiveDate::from_ymd_opt(date.year(), date.month(), 1),
        Bucket::Year => NaiveDate::from_ymd_opt(date.year(), 1, 1),
    };
    // The fallbacks are unreachable for dates chrono can represent.
    midnight(start.unwrap_or(date))
}

/// Start of the bucket after the one starting at `start` (`None` past chrono's range).
pub fn next_bucket_start(start: DateTime<Utc>, bucket: Bucket) -> Option<DateTime<Utc>> {
    let date = bucket_start(start, bucket).date_naive();
    let next = match bucket {
        Bucket::Day => date.checked_add_signed(Duration::days(1)),
        Bucket::Week => date.checked_add_signed(Duration::days(7)),
        Bucket::Month if date.month() == 12 => NaiveDate::from_ymd_opt(date.year() + 1, 1, 1),
        Bucket::Month => NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1),
        Bucket::Year => NaiveDate::from_ymd_opt(date.year() + 1, 1, 1),
    };
    next.map(midnight)
}

/// The buckets overlapping `window`, in order: each bucket's aligned start, and its window
/// clipped to `window` (so the first and last may be partial). Empty when the window is.
pub fn buckets(window: &Window, bucket: Bucket) -> Vec<(DateTime<Utc>, Window)> {
    let mut out = Vec::new();
    if window.from >= window.to {
        return out;
    }
    let mut start = bucket_start(window.from, bucket);
    while start < window.to {
        let Some(end) = next_bucket_start(start, bucket) else {
            break;
        };
        out.push((
            start,
            Window {
                from: start.max(window.from),
                to: end.min(window.to),
            },
        ));
        start = end;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn half_open() {
        let w = Window::new(t("2024-01-01T00:00:00Z"), t("2024-01-02T00:00:00Z")).unwrap();
        assert!(w.contains(t("2024-01-01T00:00:00Z")));
        assert!(w.contains(t("2024-01-01T23:59:59Z")));
        assert!(!w.contains(t("2024-01-02T00:00:00Z")));
        assert!(Window::new(w.to, w.from).is_none());
        assert!(Window::new(w.from, w.from).is_none());
    }

    #[test]
    fn bucket_starts() {
        // 2024-01-03 is a Wednesday.
        let at = t("2024-01-03T15:04:05Z");
        assert_eq!(bucket_start(at, Bucket::Day), t("2024-01-03T00:00:00Z"));
        assert_eq!(bucket_start(at, Bucket::Week), t("2024-01-01T00:00:00Z"));
        assert_eq!(bucket_start(at, Bucket::Month), t("2024-01-01T00:00:00Z"));
        assert_eq!(bucket_start(at, Bucket::Year), t("2024-01-01T00:00:00Z"));
        // A Sunday belongs to the week that started the Monday before.
        let sunday = t("2024-03-10T23:00:00Z");
        assert_eq!(
            bucket_start(sunday, Bucket::Week),
            t("2024-03-04T00:00:00Z")
        );
        // Week across a year boundary: 2025-01-01 is a Wednesday.
        assert_eq!(
            bucket_start(t("2025-01-01T00:00:00Z"), Bucket::Week),
            t("2024-12-30T00:00:00Z")
        );
        assert_eq!(
            next_bucket_start(t("2024-12-01T00:00:00Z"), Bucket::Month),
            Some(t("2025-01-01T00:00:00Z"))
        );
        assert_eq!(
            next_bucket_start(t("2024-02-01T00:00:00Z"), Bucket::Month),
            Some(t("2024-03-01T00:00:00Z"))
        );
    }

    #[test]
    fn buckets_are_clipped_to_the_window() {
        let w = Window::new(t("2024-01-03T12:00:00Z"), t("2024-01-16T00:00:00Z")).unwrap();
        let weeks = buckets(&w, Bucket::Week);
        // Weeks of 2024-01-01, 01-08, 01-15.
        assert_eq!(weeks.len(), 3);
        assert_eq!(weeks[0].0, t("2024-01-01T00:00:00Z"));
        assert_eq!(weeks[0].1.from, t("2024-01-03T12:00:00Z"));
        assert_eq!(weeks[0].1.to, t("2024-01-08T00:00:00Z"));
        assert_eq!(
            weeks[2].1,
            Window::new(t("2024-01-15T00:00:00Z"), w.to).unwrap()
        );
        let months = buckets(&w, Bucket::Month);
        assert_eq!(months, vec![(t("2024-01-01T00:00:00Z"), w)]);
        let days = buckets(&w, Bucket::Day);
        assert_eq!(days.len(), 13); // Jan 3 (half) .. Jan 15
    }

    #[test]
    fn complete_weeks_only() {
        // Wed 2024-01-03 .. Tue 2024-01-23: complete weeks are those of Jan 8 and Jan 15.
        let w = Window::new(t("2024-01-03T00:00:00Z"), t("2024-01-23T00:00:00Z")).unwrap();
        let weeks = w.complete_weeks();
        assert_eq!(weeks.len(), 2);
        assert_eq!(weeks[0].from, t("2024-01-08T00:00:00Z"));
        assert_eq!(weeks[1].to, t("2024-01-22T00:00:00Z"));
        // A window starting exactly on a Monday and ending exactly on one.
        let w = Window::new(t("2024-01-01T00:00:00Z"), t("2024-01-15T00:00:00Z")).unwrap();
        assert_eq!(w.complete_weeks().len(), 2);
        // Six days: no complete week.
        let w = Window::new(t("2024-01-01T00:00:00Z"), t("2024-01-07T00:00:00Z")).unwrap();
        assert!(w.complete_weeks().is_empty());
    }

    #[test]
    fn bucket_names() {
        for b in [Bucket::Day, Bucket::Week, Bucket::Month, Bucket::Year] {
            assert_eq!(Bucket::parse(b.as_str()), Some(b));
            assert_eq!(serde_json::to_value(b).unwrap(), b.as_str());
        }
        assert_eq!(Bucket::parse("quarter"), None);
    }
}
