//! Change failure rate, one of the five DORA keys of the pure computation (`crate::dora`) used
//! by the API: production deployments in the window that needed intervention (an attributed
//! incident, a rollback of them, or a failed rollout) / production deployments in the window.
//!
//! Incidents count whenever they are detected: an incident reported after the window still
//! fails a deployment inside it, so the rate of a past window rises as late incidents arrive.

use serde::{Deserialize, Serialize};

use super::columns::KeyColumns;
use super::levels::{Level, RateThresholds};
use super::stats::ratio;
use super::window::Window;

/// How many failed deployments had each reason (one deployment may have several).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterventionCounts {
    pub incident: u64,
    pub rolled_back: u64,
    pub failed_rollout: u64,
}

/// Change failure rate over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeFailureRate {
    /// `failed_deployments / sample_size`, from 0 to 1; `null` without deployments.
    pub value: Option<f64>,
    /// `"ratio"`.
    pub unit: String,
    pub level: Option<Level>,
    pub thresholds: RateThresholds,
    /// Production deployments in the window.
    pub sample_size: u64,
    /// Of those, the ones that needed intervention.
    pub failed_deployments: u64,
    pub reasons: InterventionCounts,
    /// Incidents attributed to deployments in the window but detected at or after its end.
    pub incidents_detected_after_window: u64,
    /// Production incidents (environment production or not given) detected in the window that no
    /// deployment could be blamed for.
    pub unattributed_incidents: u64,
}

/// Computes change failure rate for `window`.
pub fn compute(columns: &KeyColumns, window: &Window) -> ChangeFailureRate {
    let in_window = columns.deployments_in(window);
    let failed = in_window.needed_intervention;
    let reasons = InterventionCounts {
        incident: in_window.reason_incident,
        rolled_back: in_window.reason_rolled_back,
        failed_rollout: in_window.failed_rollouts,
    };
    let late = columns
        .failed_in(window)
        .map(|row| {
            row.detections
                .iter()
                .filter(|&&detected_at| detected_at >= window.to)
                .count() as u64
        })
        .sum();
    let unattributed = columns.unattributed_in(window);
    let sample_size = in_window.deployments;
    let value = ratio(failed, sample_size);
    let thresholds = columns.config.thresholds.change_failure_rate;
    ChangeFailureRate {
        value,
        unit: "ratio".to_string(),
        level: value.map(|v| thresholds.level(v)),
        thresholds,
        sample_size,
        failed_deployments: failed,
        reasons,
        incidents_detected_after_window: late,
        unattributed_incidents: unattributed,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::dora::facts::{DoraConfig, DoraFacts};
    use crate::dora::testkit::{dep, incident, january_window, linked_columns};

    fn run(facts: &DoraFacts, w: &Window) -> ChangeFailureRate {
        let config = DoraConfig {
            production_environments: vec!["prod".into()],
            ..DoraConfig::default()
        };
        compute(&linked_columns(facts, &config), w)
    }

    #[test]
    fn each_reason_fails_a_deployment() {
        // January, service a in prod: ids 1..=5 (5 deployments), plus staging id 9.
        //   1 (Jan 2) <- incident i1 detected Jan 2 13:00 (by time)          -> failed (incident)
        //   2 (Jan 5) rolled back by 3 (Jan 5 01:00, a rollback)             -> failed (rolled back)
        //   3 the rollback itself                                             -> not failed
        //   4 (Jan 10) failed rollout                                         -> failed (rollout)
        //   5 (Jan 20)                                                         -> ok
        //   9 staging, failed rollout: not production, not counted.
        // Incident i2 (service a, no environment) detected Jan 28: horizon 7 days -> latest prod
        // deployment at or before, within 7 days: 5 was Jan 20 (8 days) -> unattributed.
        // Rate 3/5 = 0.6 -> low.
        let facts = DoraFacts {
            deployments: vec![
                dep(1, "a", "prod", "2024-01-02T12:00:00Z"),
                dep(2, "a", "prod", "2024-01-05T00:00:00Z"),
                dep(3, "a", "prod", "2024-01-05T01:00:00Z").rollback(),
                dep(4, "a", "prod", "2024-01-10T00:00:00Z").failed(),
                dep(5, "a", "prod", "2024-01-20T00:00:00Z"),
                dep(9, "a", "staging", "2024-01-11T00:00:00Z").failed(),
            ],
            incidents: vec![
                incident("i1", "a", "prod", "2024-01-02T13:00:00Z")
                    .resolved("2024-01-02T14:00:00Z"),
                incident("i2", "a", "prod", "2024-01-28T00:00:00Z").no_environment(),
            ],
            ..DoraFacts::default()
        };
        let c = run(&facts, &january_window());
        assert_eq!(c.sample_size, 5);
        assert_eq!(c.failed_deployments, 3);
        assert_eq!(c.value, Some(0.6));
        assert_eq!(c.level, Some(Level::Low));
        assert_eq!(
            c.reasons,
            InterventionCounts {
                incident: 1,
                rolled_back: 1,
                failed_rollout: 1
            }
        );
        assert_eq!(c.unattributed_incidents, 1);
        assert_eq!(c.incidents_detected_after_window, 0);
    }

    #[test]
    fn a_late_incident_fails_an_old_deployment() {
        // 20 deployments in January (one a day, ids 1..=20, Jan 1..Jan 20 at 00:00), none failed:
        // rate 0/20 = 0 -> elite.
        let mut facts = DoraFacts::default();
        for id in 1..=20 {
            facts
                .deployments
                .push(dep(id, "a", "prod", &format!("2024-01-{id:02}T00:00:00Z")));
        }
        let w = january_window();
        assert_eq!(run(&facts, &w).value, Some(0.0));
        // On a later pass, an incident detected on Feb 3 names deployment 20 (Jan 20): now
        // 1/20 = 0.05 exactly -> still elite (<= 5 %), and it is counted as late.
        facts
            .incidents
            .push(incident("late", "a", "prod", "2024-02-03T00:00:00Z").names(20));
        let c = run(&facts, &w);
        assert_eq!(c.value, Some(0.05));
        assert_eq!(c.level, Some(Level::Elite));
        assert_eq!(c.incidents_detected_after_window, 1);
        // An incident detected Jan 21 without reference is blamed by time on the latest
        // deployment at or before it, 20 again: the rate stays 1/20.
        facts
            .incidents
            .push(incident("late2", "a", "prod", "2024-01-21T00:00:00Z"));
        assert_eq!(run(&facts, &w).value, Some(0.05));
        // Naming deployment 19 explicitly makes it 2/20 = 0.10 exactly -> high.
        facts
            .incidents
            .push(incident("late3", "a", "prod", "2024-02-04T00:00:00Z").names(19));
        let c = run(&facts, &w);
        assert_eq!(c.value, Some(0.10));
        assert_eq!(c.level, Some(Level::High));
        // And a third failed deployment (a failed rollout of 18): 3/20 = 0.15 -> medium.
        facts.deployments[17].failed = true;
        let c = run(&facts, &w);
        assert_eq!(c.value, Some(0.15));
        assert_eq!(c.level, Some(Level::Medium));
    }

    #[test]
    fn no_deployments_no_rate() {
        let facts = DoraFacts {
            incidents: vec![incident("i", "a", "prod", "2024-01-02T00:00:00Z")],
            ..DoraFacts::default()
        };
        let c = run(&facts, &january_window());
        assert_eq!(c.sample_size, 0);
        assert_eq!(c.value, None);
        assert_eq!(c.level, None);
        // The incident has nothing to blame: unattributed.
        assert_eq!(c.unattributed_incidents, 1);
    }

    #[test]
    fn staging_incidents_are_not_unattributed() {
        let facts = DoraFacts {
            deployments: vec![dep(1, "a", "staging", "2024-01-02T00:00:00Z")],
            incidents: vec![
                incident("s", "a", "staging", "2024-01-02T01:00:00Z"),
                incident("r", "a", "prod", "2024-01-02T01:00:00Z").names(1),
            ],
            ..DoraFacts::default()
        };
        let c = run(&facts, &january_window());
        assert_eq!(c.unattributed_incidents, 0);
        assert_eq!(c.sample_size, 0);
    }
}
