//! The five DORA keys, computed purely (no I/O) from facts the API loads: the last stage
//! before the HTTP answer (... -> calculators -> fact tables -> **DORA computation** -> API).
//!
//! The caller loads deployments, changes and incidents already filtered by service,
//! environment and team ([`DoraFacts`]), picks a [`Window`] and a [`DoraConfig`], and calls
//! [`compute`] for `GET /api/v1/dora`, [`series`] for `GET /api/v1/metrics/{key}?bucket=`, or
//! [`Linked`]'s drill-down methods for `/api/v1/{deployments,changes,incidents}`. Every key
//! carries its unit, level, thresholds and sample size; the report carries its window (the
//! caller adds the filters). Definitions, linking rules and edge cases: METRICS.md.
//!
//! One module per key; [`linking`] holds the rules that tie facts together, [`key_rows`] and
//! [`columns`] what the keys read of the links (plain rows, then day blocks that can be replaced
//! one UTC day at a time), [`levels`] the thresholds, [`window`] the calendar, [`stats`] the
//! median and percentile.

pub mod change_failure_rate;
pub mod columns;
pub mod deployment_frequency;
pub mod drilldown;
pub mod facts;
pub mod key_rows;
pub mod lead_time;
pub mod levels;
pub mod link_rows;
pub mod linking;
pub mod recovery_time;
pub mod rework_rate;
pub mod stats;
pub mod window;

#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod testkit;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use change_failure_rate::ChangeFailureRate;
pub use columns::{day_of, KeyColumns};
pub use deployment_frequency::{BucketCount, DeploymentFrequency};
pub use drilldown::{ChangeLinks, DeploymentLinks, IncidentLinks};
pub use facts::{Change, Commit, Deployment, DeploymentKind, DoraConfig, DoraFacts, Incident};
pub use key_rows::{
    DeploymentKeyRow, IncidentKeyRow, RecoveryCell, ReworkKind, ShippedKeyRow, LEAD_CLOCK_SKEW,
    LEAD_NO_TIMESTAMP,
};
pub use lead_time::LeadTime;
pub use levels::{Level, Thresholds};
pub use linking::Linked;
pub use recovery_time::RecoveryTime;
pub use rework_rate::ReworkRate;
pub use window::{Bucket, Window};

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
    /// From the URL form: `deployment-frequency`, `lead-time`, `change-failure-rate`,
    /// `recovery-time`, `rework-rate`.
    pub fn from_path(segment: &str) -> Option<Key> {
        match segment {
            "deployment-frequency" => Some(Key::DeploymentFrequency),
            "lead-time" => Some(Key::LeadTime),
            "change-failure-rate" => Some(Key::ChangeFailureRate),
            "recovery-time" => Some(Key::RecoveryTime),
            "rework-rate" => Some(Key::ReworkRate),
            _ => None,
        }
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

/// The five DORA keys of `facts` over `window` under `config`.
pub fn compute(facts: &DoraFacts, window: &Window, config: &DoraConfig) -> DoraReport {
    Linked::new(facts, config).report(window)
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

/// The five keys per bucket of `window` (every bucket, empty ones included; first and last
/// clipped to the window). Links are made once over all the facts, so each bucket sees the same
/// attributions as the whole window.
pub fn series(
    facts: &DoraFacts,
    window: &Window,
    config: &DoraConfig,
    bucket: Bucket,
) -> Vec<SeriesPoint> {
    Linked::new(facts, config).columns().series(window, bucket)
}

/// One key per bucket of `window`, as [`series`].
pub fn key_series(
    facts: &DoraFacts,
    window: &Window,
    config: &DoraConfig,
    key: Key,
    bucket: Bucket,
) -> Vec<KeySeriesPoint> {
    Linked::new(facts, config)
        .columns()
        .key_series(window, key, bucket)
}

/// Production deployments per bucket of `window` (every bucket, zeros included).
pub fn deployment_counts(
    facts: &DoraFacts,
    window: &Window,
    config: &DoraConfig,
    bucket: Bucket,
) -> Vec<BucketCount> {
    deployment_frequency::per_bucket(&Linked::new(facts, config).columns(), window, bucket)
}

impl KeyColumns {
    /// The five keys per bucket of `window`, as [`series`].
    pub fn series(&self, window: &Window, bucket: Bucket) -> Vec<SeriesPoint> {
        window::buckets(window, bucket)
            .into_iter()
            .map(|(bucket_start, w)| SeriesPoint {
                bucket_start,
                report: self.report(&w),
            })
            .collect()
    }

    /// One key per bucket of `window`, as [`key_series`].
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
