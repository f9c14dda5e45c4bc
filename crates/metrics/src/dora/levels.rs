//! DORA performance levels (elite / high / medium / low) and their configurable thresholds,
//! part of the pure DORA computation (`crate::dora`) used by the API. Defaults are the DORA 2023
//! report's clusters (see METRICS.md for the table and sources).

use serde::{Deserialize, Serialize};

/// A DORA performance level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Elite,
    High,
    Medium,
    Low,
}

/// Deployment frequency thresholds, in deploy days per week.
///
/// Elite and high compare the **median** deploy days per week; medium compares the **mean**
/// (deploy days / complete weeks), because a median of weekly counts can only say "once a month"
/// by being 0. Default medium = 12/52: one deploy day a month, twelve a year, per 52-week year.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrequencyThresholds {
    pub elite_at_least: f64,
    pub high_at_least: f64,
    pub medium_at_least: f64,
}

impl Default for FrequencyThresholds {
    fn default() -> Self {
        FrequencyThresholds {
            elite_at_least: 5.0,
            high_at_least: 1.0,
            medium_at_least: 12.0 / 52.0,
        }
    }
}

impl FrequencyThresholds {
    /// Level from the median and the mean deploy days per week.
    pub fn level(&self, median_days_per_week: f64, mean_days_per_week: f64) -> Level {
        if median_days_per_week >= self.elite_at_least {
            Level::Elite
        } else if median_days_per_week >= self.high_at_least {
            Level::High
        } else if mean_days_per_week >= self.medium_at_least {
            Level::Medium
        } else {
            Level::Low
        }
    }
}

/// Thresholds on a duration in seconds (lead time, recovery time): strictly below is better.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DurationThresholds {
    pub elite_below_seconds: f64,
    pub high_below_seconds: f64,
    pub medium_below_seconds: f64,
}

const HOUR: f64 = 3_600.0;
const DAY: f64 = 86_400.0;

impl DurationThresholds {
    /// Lead time defaults: < 1 day elite, < 1 week high, < 1 month (30 days) medium.
    pub fn lead_time_default() -> Self {
        DurationThresholds {
            elite_below_seconds: DAY,
            high_below_seconds: 7.0 * DAY,
            medium_below_seconds: 30.0 * DAY,
        }
    }

    /// Recovery time defaults: < 1 hour elite, < 1 day high, < 1 week medium.
    pub fn recovery_time_default() -> Self {
        DurationThresholds {
            elite_below_seconds: HOUR,
            high_below_seconds: DAY,
            medium_below_seconds: 7.0 * DAY,
        }
    }

    pub fn level(&self, seconds: f64) -> Level {
        if seconds < self.elite_below_seconds {
            Level::Elite
        } else if seconds < self.high_below_seconds {
            Level::High
        } else if seconds < self.medium_below_seconds {
            Level::Medium
        } else {
            Level::Low
        }
    }
}

/// Thresholds on a ratio from 0 to 1: at most is better (exactly 5 % is elite by default).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateThresholds {
    pub elite_at_most: f64,
    pub high_at_most: f64,
    pub medium_at_most: f64,
}

impl RateThresholds {
    /// Change failure rate defaults: <= 5 % elite, <= 10 % high, <= 15 % medium.
    pub fn change_failure_rate_default() -> Self {
        RateThresholds {
            elite_at_most: 0.05,
            high_at_most: 0.10,
            medium_at_most: 0.15,
        }
    }

    pub fn level(&self, ratio: f64) -> Level {
        if ratio <= self.elite_at_most {
            Level::Elite
        } else if ratio <= self.high_at_most {
            Level::High
        } else if ratio <= self.medium_at_most {
            Level::Medium
        } else {
            Level::Low
        }
    }
}

/// All level thresholds. `rework_rate` has no DORA cluster: `None` by default (level `null`);
/// set it to have dora-events grade rework with thresholds of your own.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Thresholds {
    pub deployment_frequency: FrequencyThresholds,
    pub lead_time: DurationThresholds,
    pub change_failure_rate: RateThresholds,
    pub recovery_time: DurationThresholds,
    pub rework_rate: Option<RateThresholds>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            deployment_frequency: FrequencyThresholds::default(),
            lead_time: DurationThresholds::lead_time_default(),
            change_failure_rate: RateThresholds::change_failure_rate_default(),
            recovery_time: DurationThresholds::recovery_time_default(),
            rework_rate: None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn frequency_boundaries() {
        let t = FrequencyThresholds::default();
        // median 5 is elite, just under is high.
        assert_eq!(t.level(5.0, 5.0), Level::Elite);
        assert_eq!(t.level(4.5, 4.5), Level::High);
        // median 1 is high, 0.5 falls through to the mean test.
        assert_eq!(t.level(1.0, 1.0), Level::High);
        assert_eq!(t.level(0.5, 0.5), Level::Medium);
        // mean exactly 12/52 (= 3 deploy days over 13 complete weeks) is medium.
        assert_eq!(t.level(0.0, 3.0 / 13.0), Level::Medium);
        // 2 deploy days over 13 weeks is low.
        assert_eq!(t.level(0.0, 2.0 / 13.0), Level::Low);
        assert_eq!(t.level(0.0, 0.0), Level::Low);
    }

    #[test]
    fn lead_time_boundaries() {
        let t = DurationThresholds::lead_time_default();
        assert_eq!(t.level(0.0), Level::Elite);
        assert_eq!(t.level(86_399.0), Level::Elite);
        assert_eq!(t.level(86_400.0), Level::High); // exactly one day is not < 1 day
        assert_eq!(t.level(604_799.0), Level::High);
        assert_eq!(t.level(604_800.0), Level::Medium);
        assert_eq!(t.level(2_591_999.0), Level::Medium);
        assert_eq!(t.level(2_592_000.0), Level::Low);
    }

    #[test]
    fn recovery_time_boundaries() {
        let t = DurationThresholds::recovery_time_default();
        assert_eq!(t.level(3_599.0), Level::Elite);
        assert_eq!(t.level(3_600.0), Level::High);
        assert_eq!(t.level(86_399.5), Level::High);
        assert_eq!(t.level(86_400.0), Level::Medium);
        assert_eq!(t.level(604_799.0), Level::Medium);
        assert_eq!(t.level(604_800.0), Level::Low);
    }

    #[test]
    fn change_failure_rate_boundaries_with_real_ratios() {
        let t = RateThresholds::change_failure_rate_default();
        // Ratios computed as the API computes them: failures as f64 / deployments as f64.
        let r = |a: u32, b: u32| f64::from(a) / f64::from(b);
        assert_eq!(t.level(r(0, 20)), Level::Elite);
        assert_eq!(t.level(r(1, 20)), Level::Elite); // exactly 5 %
        assert_eq!(t.level(r(3, 60)), Level::Elite); // exactly 5 % again
        assert_eq!(t.level(r(6, 100)), Level::High);
        assert_eq!(t.level(r(2, 20)), Level::High); // exactly 10 %
        assert_eq!(t.level(r(11, 100)), Level::Medium);
        assert_eq!(t.level(r(3, 20)), Level::Medium); // exactly 15 %
        assert_eq!(t.level(r(16, 100)), Level::Low);
        assert_eq!(t.level(r(1, 1)), Level::Low);
    }

    #[test]
    fn thresholds_serialize_with_documented_names() {
        let json = serde_json::to_value(Thresholds::default()).unwrap();
        assert_eq!(json["lead_time"]["elite_below_seconds"], 86_400.0);
        assert_eq!(json["recovery_time"]["medium_below_seconds"], 604_800.0);
        assert_eq!(json["change_failure_rate"]["high_at_most"], 0.10);
        assert_eq!(json["deployment_frequency"]["medium_at_least"], 12.0 / 52.0);
        assert!(json["rework_rate"].is_null());
        assert_eq!(serde_json::to_value(Level::Elite).unwrap(), "elite");
    }
}
