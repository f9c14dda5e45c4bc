//! Change lead time, one of the five DORA keys of the pure computation (`crate::dora`) used by
//! the API: for each change whose first production deployment falls in the window, that
//! deployment's time minus the change's start; median and nearest-rank p90, in seconds.

use serde::{Deserialize, Serialize};

use super::columns::KeyColumns;
use super::levels::{DurationThresholds, Level};
use super::stats;
use super::window::Window;

/// Change lead time over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadTime {
    /// Median lead time in seconds (even count: mean of the two middle values); `null` without
    /// a sample.
    pub value: Option<f64>,
    /// `"seconds"`.
    pub unit: String,
    /// From the median.
    pub level: Option<Level>,
    pub thresholds: DurationThresholds,
    /// Changes with a lead time: first production deployment in the window, and a start.
    pub sample_size: u64,
    /// Nearest-rank 90th percentile in seconds; `null` without a sample.
    pub p90: Option<f64>,
    /// Changes first deployed in the window whose every timestamp is after that deployment.
    pub excluded_clock_skew: u64,
    /// Changes first deployed in the window with no timestamp at all.
    pub excluded_no_timestamp: u64,
    /// Commit timestamps after the deployment ignored when finding the starts (clock skew),
    /// over the changes first deployed in the window.
    pub skewed_commits: u64,
}

/// Computes change lead time for `window`.
pub fn compute(columns: &KeyColumns, window: &Window) -> LeadTime {
    let shipped = columns.shipped_in(window);
    let (value, p90, sample_size) = columns.with_lead_times(&shipped, |samples| {
        let (median, p90) = stats::median_and_percentile_of_seconds(samples, 90);
        (median, p90, samples.len() as u64)
    });
    let counts = columns.shipped_counts(&shipped);
    let thresholds = columns.config.thresholds.lead_time;
    LeadTime {
        value,
        unit: "seconds".to_string(),
        level: value.map(|v| thresholds.level(v)),
        thresholds,
        sample_size,
        p90,
        excluded_clock_skew: counts.clock_skew,
        excluded_no_timestamp: counts.no_timestamp,
        skewed_commits: counts.skewed_commits,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::dora::facts::{DoraConfig, DoraFacts};
    use crate::dora::testkit::{change, dep, january_window, linked_columns, window};

    fn run(facts: &DoraFacts, config: &DoraConfig, w: &Window) -> LeadTime {
        compute(&linked_columns(facts, config), w)
    }

    #[test]
    fn odd_count_median_and_p90() {
        // One deployment at 2024-01-10T00:00Z shipping three changes (by commit SHA) whose
        // earliest commits are 1 h, 2 h and 30 h earlier: samples 3600, 7200, 108000.
        // median (odd) = 7200; p90 rank ceil(2.7) = 3 -> 108000. 7200 s < 1 day -> elite.
        let facts = DoraFacts {
            deployments: vec![dep(1, "a", "prod", "2024-01-10T00:00:00Z").rev("r1")],
            changes: vec![
                change("c1").commit("r1", Some("2024-01-09T23:00:00Z")),
                change("c2")
                    .commit("x", Some("2024-01-09T22:00:00Z"))
                    .commit("r1", None),
                change("c3").commit("r1", Some("2024-01-08T18:00:00Z")),
            ],
            ..DoraFacts::default()
        };
        let w = january_window();
        let l = run(&facts, &DoraConfig::default(), &w);
        assert_eq!(l.sample_size, 3);
        assert_eq!(l.value, Some(7_200.0));
        assert_eq!(l.p90, Some(108_000.0));
        assert_eq!(l.level, Some(Level::Elite));
    }

    #[test]
    fn even_count_median_is_mean_of_middle_two() {
        // Four changes of 1 h, 2 h, 3 days, 10 days before the deployment:
        // samples 3600, 7200, 259200, 864000. median = (7200 + 259200) / 2 = 133200
        // (1.54 days -> high). p90 rank ceil(3.6) = 4 -> 864000.
        let facts = DoraFacts {
            deployments: vec![dep(1, "a", "prod", "2024-01-20T00:00:00Z").art("img:1")],
            changes: vec![
                change("c1")
                    .created("2024-01-19T23:00:00Z")
                    .artifact("img:1"),
                change("c2")
                    .created("2024-01-19T22:00:00Z")
                    .artifact("img:1"),
                change("c3")
                    .created("2024-01-17T00:00:00Z")
                    .artifact("img:1"),
                change("c4")
                    .merged("2024-01-10T00:00:00Z")
                    .artifact("img:1"),
            ],
            ..DoraFacts::default()
        };
        let w = january_window();
        let l = run(&facts, &DoraConfig::default(), &w);
        assert_eq!(l.sample_size, 4);
        assert_eq!(l.value, Some(133_200.0));
        assert_eq!(l.p90, Some(864_000.0));
        assert_eq!(l.level, Some(Level::High));
    }

    #[test]
    fn clock_skew_and_missing_timestamps_are_excluded_and_counted() {
        // Deployment at 12:00.
        // c1: commits at 11:00 and 13:00 (skewed) -> start 11:00, sample 3600, 1 skewed commit.
        // c2: only commit at 12:30 (skewed), no other timestamp -> excluded_clock_skew.
        // c3: commit at 12:30 (skewed) but created 10:00 -> start 10:00 (created), sample 7200.
        // c4: no timestamps -> excluded_no_timestamp.
        // samples [3600, 7200]: median 5400; skewed commits 3.
        let facts = DoraFacts {
            deployments: vec![dep(1, "a", "prod", "2024-01-10T12:00:00Z").rev("abc")],
            changes: vec![
                change("c1")
                    .commit("x1", Some("2024-01-10T11:00:00Z"))
                    .commit("abc", Some("2024-01-10T13:00:00Z")),
                change("c2").commit("ABC", Some("2024-01-10T12:30:00Z")),
                change("c3")
                    .commit("abc", Some("2024-01-10T12:30:00Z"))
                    .created("2024-01-10T10:00:00Z"),
                change("c4").merge_sha("abc"),
            ],
            ..DoraFacts::default()
        };
        let w = january_window();
        let l = run(&facts, &DoraConfig::default(), &w);
        assert_eq!(l.sample_size, 2);
        assert_eq!(l.value, Some(5_400.0));
        assert_eq!(l.excluded_clock_skew, 1);
        assert_eq!(l.excluded_no_timestamp, 1);
        assert_eq!(l.skewed_commits, 3);
    }

    #[test]
    fn window_is_by_first_production_deployment() {
        // c1 deployed to prod on Jan 31 (id 1) and again Feb 2 (id 2): counts in January only,
        // lead time 1 day (created Jan 30) -> exactly 86400 is high, not elite.
        // c2 only reaches prod on Feb 2 -> February.
        let facts = DoraFacts {
            deployments: vec![
                dep(2, "a", "prod", "2024-02-02T00:00:00Z").art("v2"),
                dep(1, "a", "prod", "2024-01-31T00:00:00Z").art("v1"),
            ],
            changes: vec![
                change("c1")
                    .created("2024-01-30T00:00:00Z")
                    .artifact("v1")
                    .artifact("v2"),
                change("c2").created("2024-02-01T00:00:00Z").artifact("v2"),
            ],
            ..DoraFacts::default()
        };
        let config = DoraConfig::default();
        let jan = run(&facts, &config, &january_window());
        assert_eq!(jan.sample_size, 1);
        assert_eq!(jan.value, Some(86_400.0));
        assert_eq!(jan.level, Some(Level::High));
        let feb = run(
            &facts,
            &config,
            &window("2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"),
        );
        assert_eq!(feb.sample_size, 1);
        assert_eq!(feb.value, Some(86_400.0));
    }

    #[test]
    fn no_sample_is_null() {
        let facts = DoraFacts::default();
        let l = run(&facts, &DoraConfig::default(), &january_window());
        assert_eq!(l.sample_size, 0);
        assert_eq!(l.value, None);
        assert_eq!(l.p90, None);
        assert_eq!(l.level, None);
        let json = serde_json::to_value(&l).unwrap();
        assert!(json["value"].is_null());
        assert!(json["level"].is_null());
    }
}
