//! The five keys put together: the last step of the pure DORA computation (`crate::dora`)
//! before the API answer (facts -> [`Linked`] -> key rows -> [`KeyColumns`] -> one module per
//! key -> **report**). It reads each key module; none of them reads it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::columns::KeyColumns;
use super::linking::Linked;
use super::window::{self, Bucket, Window};
use super::{change_failure_rate, deployment_frequency, lead_time, recovery_time, rework_rate};
use change_failure_rate::ChangeFailureRate;
use deployment_frequency::DeploymentFrequency;
use lead_time::LeadTime;
use recovery_time::RecoveryTime;
use rework_rate::ReworkRate;

/// The five keys over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoraKeys {
    pub deployment_frequency: DeploymentFrequency,
    pub lead_time: LeadTime,
    pub change_failure_rate: ChangeFailureRate,
    pub recovery_time: RecoveryTime,
    pub rework_rate: ReworkRate,
}

/// `{"window": {"from", "to"}, "keys": {...}}`; the API adds `"filters"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoraReport {
    pub window: Window,
    pub keys: DoraKeys,
}

/// One key, for the per-key endpoints and series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    DeploymentFrequency,
    LeadTime,
    ChangeFailureRate,
    RecoveryTime,
    ReworkRate,
}

impl Key {
    /// The five keys, in the order of a report's `keys`.
    pub const ALL: [Key; 5] = [
        Key::DeploymentFrequency,
        Key::LeadTime,
        Key::ChangeFailureRate,
        Key::RecoveryTime,
        Key::ReworkRate,
    ];

    /// Its name in a report's `keys`: `deployment_frequency`, `lead_time`, ...
    pub fn name(self) -> &'static str {
        match self {
            Key::DeploymentFrequency => "deployment_frequency",
            Key::LeadTime => "lead_time",
            Key::ChangeFailureRate => "change_failure_rate",
            Key::RecoveryTime => "recovery_time",
            Key::ReworkRate => "rework_rate",
        }
    }

    /// From the URL form, the name with `-` for `_`: `deployment-frequency`, `lead-time`,
    /// `change-failure-rate`, `recovery-time`, `rework-rate`.
    pub fn from_path(segment: &str) -> Option<Key> {
        Self::ALL
            .into_iter()
            .find(|key| key.name().replace('_', "-") == segment)
    }
}

/// One key's result, serialized as that key's object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeyReport {
    DeploymentFrequency(DeploymentFrequency),
    LeadTime(LeadTime),
    ChangeFailureRate(ChangeFailureRate),
    RecoveryTime(RecoveryTime),
    ReworkRate(ReworkRate),
}

impl KeyReport {
    /// The headline number: deployments, seconds, or a ratio; `None` without a sample.
    pub fn value(&self) -> Option<f64> {
        match self {
            Self::DeploymentFrequency(key) => Some(key.value as f64),
            Self::LeadTime(key) => key.value,
            Self::ChangeFailureRate(key) => key.value,
            Self::RecoveryTime(key) => key.value,
            Self::ReworkRate(key) => key.value,
        }
    }

    /// How many facts the number stands on.
    pub fn sample_size(&self) -> u64 {
        match self {
            Self::DeploymentFrequency(key) => key.sample_size,
            Self::LeadTime(key) => key.sample_size,
            Self::ChangeFailureRate(key) => key.sample_size,
            Self::RecoveryTime(key) => key.sample_size,
            Self::ReworkRate(key) => key.sample_size,
        }
    }
}

/// One point of a time series: the aligned bucket start and the report over the bucket clipped
/// to the requested window (`report.window`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    pub bucket_start: DateTime<Utc>,
    pub report: DoraReport,
}

/// One point of a one-key time series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeySeriesPoint {
    pub bucket_start: DateTime<Utc>,
    pub window: Window,
    pub value: KeyReport,
}

impl KeyColumns {
    /// The five keys over `window`.
    pub fn report(&self, window: &Window) -> DoraReport {
        DoraReport {
            window: *window,
            keys: DoraKeys {
                deployment_frequency: deployment_frequency::compute(self, window),
                lead_time: lead_time::compute(self, window),
                change_failure_rate: change_failure_rate::compute(self, window),
                recovery_time: recovery_time::compute(self, window),
                rework_rate: rework_rate::compute(self, window),
            },
        }
    }

    /// One key over `window`.
    pub fn key(&self, key: Key, window: &Window) -> KeyReport {
        match key {
            Key::DeploymentFrequency => {
                KeyReport::DeploymentFrequency(deployment_frequency::compute(self, window))
            }
            Key::LeadTime => KeyReport::LeadTime(lead_time::compute(self, window)),
            Key::ChangeFailureRate => {
                KeyReport::ChangeFailureRate(change_failure_rate::compute(self, window))
            }
            Key::RecoveryTime => KeyReport::RecoveryTime(recovery_time::compute(self, window)),
            Key::ReworkRate => KeyReport::ReworkRate(rework_rate::compute(self, window)),
        }
    }

    /// The five keys per bucket of `window`, as [`series`](super::series).
    pub fn series(&self, window: &Window, bucket: Bucket) -> Vec<SeriesPoint> {
        window::buckets(window, bucket)
            .into_iter()
            .map(|(bucket_start, w)| SeriesPoint {
                bucket_start,
                report: self.report(&w),
            })
            .collect()
    }

    /// One key per bucket of `window`, as [`key_series`](super::key_series).
    pub fn key_series(&self, window: &Window, key: Key, bucket: Bucket) -> Vec<KeySeriesPoint> {
        window::buckets(window, bucket)
            .into_iter()
            .map(|(bucket_start, w)| KeySeriesPoint {
                bucket_start,
                window: w,
                value: self.key(key, &w),
            })
            .collect()
    }
}

impl Linked<'_> {
    /// The five keys over `window`.
    pub fn report(&self, window: &Window) -> DoraReport {
        self.columns().report(window)
    }

    /// One key over `window`.
    pub fn key(&self, key: Key, window: &Window) -> KeyReport {
        self.columns().key(key, window)
    }
}
