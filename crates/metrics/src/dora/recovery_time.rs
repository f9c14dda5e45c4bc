//! Failed deployment recovery time, one of the five DORA keys of the pure computation
//! (`crate::dora`) used by the API: median seconds from failure to recovery over the production
//! deployments in the window that needed intervention and have recovered.

use serde::{Deserialize, Serialize};

use super::columns::KeyColumns;
use super::key_rows::RecoveryCell;
use super::levels::{DurationThresholds, Level};
use super::stats;
use super::window::Window;

/// Failed deployment recovery time over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryTime {
    /// Median recovery time in seconds (even count: mean of the two middle values); `null`
    /// without a sample.
    pub value: Option<f64>,
    /// `"seconds"`.
    pub unit: String,
    pub level: Option<Level>,
    pub thresholds: DurationThresholds,
    /// Failed deployments in the window that recovered.
    pub sample_size: u64,
    /// Production deployments in the window that needed intervention.
    pub failed_deployments: u64,
    /// Of those, not recovered yet (an attributed incident unresolved, or no later good
    /// deployment): no sample.
    pub open: u64,
    /// Of those, with a recovery before the failure in the facts: no sample.
    pub excluded_invalid_times: u64,
}

/// Computes recovery time for `window`.
pub fn compute(columns: &KeyColumns, window: &Window) -> RecoveryTime {
    let mut samples = Vec::new();
    let mut failed = 0;
    let mut open = 0;
    let mut invalid = 0;
    for row in columns.failed_in(window) {
        failed += 1;
        match row.recovery {
            RecoveryCell::Recovered { seconds } => samples.push(seconds as f64),
            RecoveryCell::Open => open += 1,
            RecoveryCell::InvalidTimes => invalid += 1,
        }
    }
    let (value, _) = stats::median_and_percentile(&mut samples, 50);
    let thresholds = columns.config.thresholds.recovery_time;
    RecoveryTime {
        value,
        unit: "seconds".to_string(),
        level: value.map(|v| thresholds.level(v)),
        thresholds,
        sample_size: samples.len() as u64,
        failed_deployments: failed,
        open,
        excluded_invalid_times: invalid,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::dora::facts::{DoraConfig, DoraFacts};
    use crate::dora::testkit::{dep, incident, january_window, linked_columns};

    #[test]
    fn recoveries_by_incident_by_rollback_and_by_next_deployment() {
        // Service a, prod:
        //   1 Jan 2 10:00; incidents i1 detected 10:30 (resolved 11:00) and i2 detected 10:45
        //     (resolved 12:00), both by time -> start 10:30, end 12:00: 5400 s.
        //   2 Jan 3 10:00, rolled back by 3 (Jan 3 10:20) -> start 10:00, end at 3: 1200 s.
        //   4 Jan 4 10:00 failed rollout; 5 Jan 4 10:05 also failed; 6 Jan 4 12:00 good
        //     -> 4: 7200 s (5 is failed so it does not recover 4); 5: 6900 s.
        //   7 Jan 5 10:00 with incident i3 detected 11:00, never resolved -> open.
        //   8 Jan 6 10:00 failed rollout, nothing after -> open.
        // Samples [1200, 5400, 6900, 7200]: median (5400 + 6900) / 2 = 6150 s -> high.
        // Failed deployments in window: 1, 2, 4, 5, 7, 8 = 6; open 2.
        let facts = DoraFacts {
            deployments: vec![
                dep(1, "a", "prod", "2024-01-02T10:00:00Z"),
                dep(2, "a", "prod", "2024-01-03T10:00:00Z"),
                dep(3, "a", "prod", "2024-01-03T10:20:00Z").rollback(),
                dep(4, "a", "prod", "2024-01-04T10:00:00Z").failed(),
                dep(5, "a", "prod", "2024-01-04T10:05:00Z").failed(),
                dep(6, "a", "prod", "2024-01-04T12:00:00Z"),
                dep(7, "a", "prod", "2024-01-05T10:00:00Z"),
                dep(8, "a", "prod", "2024-01-06T10:00:00Z").failed(),
            ],
            incidents: vec![
                incident("i1", "a", "prod", "2024-01-02T10:30:00Z")
                    .resolved("2024-01-02T11:00:00Z"),
                incident("i2", "a", "prod", "2024-01-02T10:45:00Z")
                    .resolved("2024-01-02T12:00:00Z"),
                incident("i3", "a", "prod", "2024-01-05T11:00:00Z"),
            ],
            ..DoraFacts::default()
        };
        let config = DoraConfig::default();
        let r = compute(&linked_columns(&facts, &config), &january_window());
        assert_eq!(r.failed_deployments, 6);
        assert_eq!(r.open, 2);
        assert_eq!(r.sample_size, 4);
        assert_eq!(r.value, Some(6_150.0));
        assert_eq!(r.level, Some(Level::High));
    }

    #[test]
    fn recovery_after_the_window_still_counts() {
        // Deployment 1 on Jan 31 23:00 fails with an incident detected 23:30 and resolved
        // Feb 1 00:10 (after the window end): the recovery is known, so January has a sample of
        // 2400 s (40 min) -> elite. Incident resolved before detection -> invalid, no sample.
        let facts = DoraFacts {
            deployments: vec![
                dep(1, "a", "prod", "2024-01-31T23:00:00Z"),
                dep(2, "b", "prod", "2024-01-10T00:00:00Z"),
            ],
            incidents: vec![
                incident("i1", "a", "prod", "2024-01-31T23:30:00Z")
                    .resolved("2024-02-01T00:10:00Z"),
                incident("bad", "b", "prod", "2024-01-10T05:00:00Z")
                    .resolved("2024-01-10T04:00:00Z"),
            ],
            ..DoraFacts::default()
        };
        let config = DoraConfig::default();
        let r = compute(&linked_columns(&facts, &config), &january_window());
        assert_eq!(r.sample_size, 1);
        assert_eq!(r.value, Some(2_400.0));
        assert_eq!(r.level, Some(Level::Elite));
        assert_eq!(r.excluded_invalid_times, 1);
        assert_eq!(r.open, 0);
    }
}
