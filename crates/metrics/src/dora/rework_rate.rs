//! Deployment rework rate (DORA 2024), one of the five DORA keys of the pure computation
//! (`crate::dora`) used by the API: production deployments in the window that were unplanned
//! fixes (rollbacks, or made while an incident on an earlier deployment of the same service and
//! environment was open) / production deployments in the window.
//!
//! DORA publishes no clusters for rework: the level is `null` unless the configuration sets
//! thresholds of its own (`thresholds.rework_rate`).

use serde::{Deserialize, Serialize};

use super::columns::KeyColumns;
use super::levels::{Level, RateThresholds};
use super::stats::ratio;
use super::window::Window;

/// Deployment rework rate over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReworkRate {
    /// `rework_deployments / sample_size`, from 0 to 1; `null` without deployments.
    pub value: Option<f64>,
    /// `"ratio"`.
    pub unit: String,
    /// `null` unless rework thresholds are configured (DORA has none).
    pub level: Option<Level>,
    /// The configured thresholds (dora-events' own, not DORA's), or `null`.
    pub thresholds: Option<RateThresholds>,
    /// Production deployments in the window.
    pub sample_size: u64,
    pub rework_deployments: u64,
    /// Of `rework_deployments`, rollbacks.
    pub rollbacks: u64,
    /// Of `rework_deployments`, deployments made during an open incident (not rollbacks).
    pub during_incident: u64,
}

/// Computes rework rate for `window`.
pub fn compute(columns: &KeyColumns, window: &Window) -> ReworkRate {
    let in_window = columns.deployments_in(window);
    let rework = in_window.rework_rollback + in_window.rework_during_incident;
    let value = ratio(rework, in_window.deployments);
    let thresholds = columns.config.thresholds.rework_rate;
    ReworkRate {
        value,
        unit: "ratio".to_string(),
        level: value.zip(thresholds).map(|(v, t)| t.level(v)),
        thresholds,
        sample_size: in_window.deployments,
        rework_deployments: rework,
        rollbacks: in_window.rework_rollback,
        during_incident: in_window.rework_during_incident,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::dora::facts::{DoraConfig, DoraFacts};
    use crate::dora::testkit::{dep, incident, january_window, linked_columns};

    fn facts() -> DoraFacts {
        // Service a, prod:
        //   1 Jan 2 10:00; incident i1 detected 11:00 (blamed on 1 by time), resolved 15:00.
        //   2 Jan 2 12:00 (i1 open: 11:00 <= 12:00 < 15:00)               -> rework
        //   3 Jan 2 15:00 (i1 resolved at 15:00: not open any more)        -> not rework
        //   4 Jan 3 10:00 rollback                                         -> rework
        //   5 Jan 4 10:00; incident i2 detected Jan 4 11:00, never resolved.
        //   6 Jan 5 10:00 (i2 open, blamed on 5, earlier)                  -> rework
        // Service b, prod: 7 Jan 4 12:00 (i2 is on service a)              -> not rework
        // 7 deployments, rework 3 (1 rollback, 2 during incident): 3/7.
        DoraFacts {
            deployments: vec![
                dep(1, "a", "prod", "2024-01-02T10:00:00Z"),
                dep(2, "a", "prod", "2024-01-02T12:00:00Z"),
                dep(3, "a", "prod", "2024-01-02T15:00:00Z"),
                dep(4, "a", "prod", "2024-01-03T10:00:00Z").rollback(),
                dep(5, "a", "prod", "2024-01-04T10:00:00Z"),
                dep(6, "a", "prod", "2024-01-05T10:00:00Z"),
                dep(7, "b", "prod", "2024-01-04T12:00:00Z"),
            ],
            incidents: vec![
                incident("i1", "a", "prod", "2024-01-02T11:00:00Z")
                    .resolved("2024-01-02T15:00:00Z"),
                incident("i2", "a", "prod", "2024-01-04T11:00:00Z"),
            ],
            ..DoraFacts::default()
        }
    }

    #[test]
    fn rollbacks_and_fixes_during_incidents() {
        let facts = facts();
        let config = DoraConfig::default();
        let r = compute(&linked_columns(&facts, &config), &january_window());
        assert_eq!(r.sample_size, 7);
        assert_eq!(r.rework_deployments, 3);
        assert_eq!(r.rollbacks, 1);
        assert_eq!(r.during_incident, 2);
        assert_eq!(r.value, Some(3.0 / 7.0));
        assert_eq!(r.level, None);
        assert_eq!(r.thresholds, None);
    }

    #[test]
    fn own_thresholds_give_a_level() {
        let facts = facts();
        let config = DoraConfig {
            thresholds: crate::dora::levels::Thresholds {
                rework_rate: Some(RateThresholds {
                    elite_at_most: 0.1,
                    high_at_most: 0.2,
                    medium_at_most: 0.5,
                }),
                ..Default::default()
            },
            ..DoraConfig::default()
        };
        let r = compute(&linked_columns(&facts, &config), &january_window());
        // 3/7 = 0.43 <= 0.5 -> medium.
        assert_eq!(r.level, Some(Level::Medium));
    }
}
