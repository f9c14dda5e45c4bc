//! Deployment frequency, one of the five DORA keys of the pure computation (`crate::dora`) used
//! by the API: production deployments in the window, deploy days per week for the level, and
//! deployments per calendar bucket for the time series.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::columns::KeyColumns;
use super::levels::{FrequencyThresholds, Level};
use super::stats;
use super::window::{buckets, Bucket, Window};

/// Deployment frequency over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentFrequency {
    /// Production deployments in the window (every rollout: failed ones and rollbacks too).
    pub value: u64,
    /// `"deployments"`.
    pub unit: String,
    /// From `deploy_days_per_week` (elite, high) and `mean_deploy_days_per_week` (medium);
    /// `null` when the window holds no complete ISO week.
    pub level: Option<Level>,
    pub thresholds: FrequencyThresholds,
    /// Deployments counted (= `value`).
    pub sample_size: u64,
    /// Median over the complete ISO weeks of the window of the number of distinct UTC days
    /// with a production deployment; `null` without a complete week.
    pub deploy_days_per_week: Option<f64>,
    /// Deploy days in complete weeks / complete weeks; `null` without a complete week.
    pub mean_deploy_days_per_week: Option<f64>,
    /// Complete ISO weeks (Monday to Monday, UTC) inside the window: the sample of the level.
    pub complete_weeks: u64,
    /// Distinct UTC days with a production deployment in the whole window.
    pub deploy_days: u64,
    /// Of `value`, rollouts that failed.
    pub failed_rollouts: u64,
    /// Of `value`, rollbacks.
    pub rollbacks: u64,
}

/// Computes deployment frequency for `window`.
pub fn compute(columns: &KeyColumns, window: &Window) -> DeploymentFrequency {
    let in_window = columns.deployments_in(window);
    let weeks = window.complete_weeks();
    // Complete weeks run from Monday 00:00 to Monday 00:00 (UTC): the deployments in a week are
    // those of its seven dates.
    let mut per_week: Vec<f64> = weeks
        .iter()
        .map(|week| columns.deployments_in(week).deploy_days as f64)
        .collect();
    let total_days: f64 = per_week.iter().sum();
    let (median, _) = stats::median_and_percentile(&mut per_week, 50);
    let mean = (!weeks.is_empty()).then(|| total_days / weeks.len() as f64);
    let thresholds = columns.config.thresholds.deployment_frequency;
    let level = median
        .zip(mean)
        .map(|(median, mean)| thresholds.level(median, mean));
    let value = in_window.deployments;
    DeploymentFrequency {
        value,
        unit: "deployments".to_string(),
        level,
        thresholds,
        sample_size: value,
        deploy_days_per_week: median,
        mean_deploy_days_per_week: mean,
        complete_weeks: weeks.len() as u64,
        deploy_days: in_window.deploy_days,
        failed_rollouts: in_window.failed_rollouts,
        rollbacks: in_window.rollbacks,
    }
}

/// Production deployments in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketCount {
    /// Aligned start of the bucket (UTC; weeks from Monday).
    pub bucket_start: DateTime<Utc>,
    /// The part of the bucket inside the requested window.
    pub window: Window,
    pub deployments: u64,
}

/// Production deployments per bucket over `window`, every bucket listed (zeros included); the
/// first and last buckets are clipped to the window.
pub fn per_bucket(columns: &KeyColumns, window: &Window, bucket: Bucket) -> Vec<BucketCount> {
    buckets(window, bucket)
        .into_iter()
        .map(|(bucket_start, window)| BucketCount {
            bucket_start,
            window,
            deployments: columns.deployments_in(&window).deployments,
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::dora::facts::{DoraConfig, DoraFacts};
    use crate::dora::testkit::{dep, linked_columns, t, window};

    fn run(facts: &DoraFacts, config: &DoraConfig, w: &Window) -> DeploymentFrequency {
        compute(&linked_columns(facts, config), w)
    }

    /// Facts with a deployment of service `a` to `prod` at each of `times`, numbered from 1.
    fn prod_deployments_at(times: &[&str]) -> DoraFacts {
        DoraFacts {
            deployments: (1..)
                .zip(times)
                .map(|(id, at)| dep(id, "a", "prod", at))
                .collect(),
            ..DoraFacts::default()
        }
    }

    #[test]
    fn counts_days_per_complete_week() {
        // Window Wed 2024-01-03 .. Tue 2024-01-23. Complete weeks: Jan 8-14, Jan 15-21.
        // Deployments:
        //   Jan 03 (partial week: counted in value, not in weeks)
        //   Jan 08 twice (1 day), Jan 09, Jan 10   -> week 1: 3 days
        //   Jan 15                                  -> week 2: 1 day
        //   Jan 22 (partial week)                   -> counted in value only
        //   Jan 23 00:00 (window end, excluded), staging Jan 16 (not production)
        // value = 7; days/week = [3, 1]: median = 2.0 (even count: mean of the two), mean = 2.0
        // -> high (>= 1, < 5). Deploy days in the window = 6 (03, 08, 09, 10, 15, 22).
        let mut facts = prod_deployments_at(&[
            "2024-01-03T10:00:00Z",
            "2024-01-08T10:00:00Z",
            "2024-01-08T23:59:59Z",
            "2024-01-09T00:00:00Z",
            "2024-01-10T12:00:00Z",
            "2024-01-15T12:00:00Z",
            "2024-01-22T12:00:00Z",
            "2024-01-23T00:00:00Z",
        ]);
        facts
            .deployments
            .push(dep(9, "a", "staging", "2024-01-16T00:00:00Z"));
        let config = DoraConfig {
            production_environments: vec!["prod".into()],
            ..DoraConfig::default()
        };
        let w = window("2024-01-03T00:00:00Z", "2024-01-23T00:00:00Z");
        let f = run(&facts, &config, &w);
        assert_eq!(f.value, 7);
        assert_eq!(f.sample_size, 7);
        assert_eq!(f.complete_weeks, 2);
        assert_eq!(f.deploy_days, 6);
        assert_eq!(f.deploy_days_per_week, Some(2.0));
        assert_eq!(f.mean_deploy_days_per_week, Some(2.0));
        assert_eq!(f.level, Some(Level::High));
        // Production filter off: staging Jan 16 counts too -> value 8, week 2 has 2 days,
        // median of [3, 2] = 2.5.
        let all = run(&facts, &DoraConfig::default(), &w);
        assert_eq!(all.value, 8);
        assert_eq!(all.deploy_days_per_week, Some(2.5));
    }

    #[test]
    fn level_boundaries_from_weeks() {
        // Four complete weeks Jan 1 .. Jan 29 2024.
        let w = window("2024-01-01T00:00:00Z", "2024-01-29T00:00:00Z");
        let config = DoraConfig::default();
        // 5 weekdays deployed every week -> median 5 -> elite.
        let mut deployments = Vec::new();
        let mut id = 0;
        for week in 0..4 {
            for day in 0..5 {
                id += 1;
                let at = t("2024-01-01T09:00:00Z") + chrono::Duration::days(week * 7 + day);
                deployments.push(dep(id, "a", "prod", &at.to_rfc3339()));
            }
        }
        let facts = DoraFacts {
            deployments,
            ..DoraFacts::default()
        };
        let f = run(&facts, &config, &w);
        assert_eq!(f.deploy_days_per_week, Some(5.0));
        assert_eq!(f.level, Some(Level::Elite));
        // Drop one day from two weeks: [4, 4, 5, 5] -> median 4.5 -> high.
        let mut fewer = facts.clone();
        fewer.deployments.retain(|d| d.id != 1 && d.id != 6);
        let f = run(&fewer, &config, &w);
        assert_eq!(f.deploy_days_per_week, Some(4.5));
        assert_eq!(f.level, Some(Level::High));
    }

    #[test]
    fn monthly_deployer_is_medium_through_the_mean() {
        // 13 complete weeks from Mon 2024-01-01 to Mon 2024-04-01 (91 days).
        let w = window("2024-01-01T00:00:00Z", "2024-04-01T00:00:00Z");
        // 3 deploy days: mean = 3/13 = 12/52 exactly -> medium (median is 0).
        let three = prod_deployments_at(&[
            "2024-01-15T00:00:00Z",
            "2024-02-15T00:00:00Z",
            "2024-03-15T00:00:00Z",
        ]);
        let f = run(&three, &DoraConfig::default(), &w);
        assert_eq!(f.complete_weeks, 13);
        assert_eq!(f.deploy_days_per_week, Some(0.0));
        assert_eq!(f.mean_deploy_days_per_week, Some(3.0 / 13.0));
        assert_eq!(f.level, Some(Level::Medium));
        // 2 deploy days: 2/13 < 12/52 -> low.
        let mut two = three.clone();
        two.deployments.pop();
        assert_eq!(
            run(&two, &DoraConfig::default(), &w).level,
            Some(Level::Low)
        );
        // Two deployments on the same day count as one deploy day: still 2 days -> low.
        two.deployments
            .push(dep(4, "a", "prod", "2024-02-15T18:00:00Z"));
        let f = run(&two, &DoraConfig::default(), &w);
        assert_eq!(f.value, 3);
        assert_eq!(f.level, Some(Level::Low));
    }

    #[test]
    fn no_complete_week_no_level_and_empty_window() {
        let facts = prod_deployments_at(&["2024-01-02T00:00:00Z"]);
        let w = window("2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z");
        let f = run(&facts, &DoraConfig::default(), &w);
        assert_eq!(f.value, 1);
        assert_eq!(f.complete_weeks, 0);
        assert_eq!(f.deploy_days_per_week, None);
        assert_eq!(f.level, None);
        // No deployments over a complete week: value 0 (a count, not null), level low.
        let w = window("2024-02-05T00:00:00Z", "2024-02-12T00:00:00Z");
        let f = run(&facts, &DoraConfig::default(), &w);
        assert_eq!(f.value, 0);
        assert_eq!(f.level, Some(Level::Low));
    }

    #[test]
    fn buckets_include_zeros() {
        let facts = prod_deployments_at(&[
            "2024-01-01T00:00:00Z",
            "2024-01-07T23:59:59Z",
            "2024-01-20T00:00:00Z",
            "2023-12-31T23:59:59Z",
        ]);
        let config = DoraConfig::default();
        let linked = linked_columns(&facts, &config);
        let w = window("2024-01-01T00:00:00Z", "2024-01-22T00:00:00Z");
        let counts: Vec<u64> = per_bucket(&linked, &w, Bucket::Week)
            .iter()
            .map(|b| b.deployments)
            .collect();
        // Weeks of Jan 1 (ids 1, 2), Jan 8 (none), Jan 15 (id 3); id 4 is before the window.
        assert_eq!(counts, vec![2, 0, 1]);
        let months = per_bucket(&linked, &w, Bucket::Month);
        assert_eq!(months.len(), 1);
        assert_eq!(months[0].deployments, 3);
    }
}
