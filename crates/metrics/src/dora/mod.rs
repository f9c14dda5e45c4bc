//! The five DORA keys, computed purely (no I/O) from facts the API loads: the last stage
//! before the HTTP answer (... -> observer -> linker -> link tables -> **DORA computation** -> API).
//!
//! The caller loads deployments, changes and incidents already filtered by service,
//! environment and team ([`DoraFacts`]), picks a [`Window`] and a [`DoraConfig`], and calls
//! [`compute`] for `GET /api/v1/dora`, [`series`] for `GET /api/v1/metrics/{key}?bucket=`, or
//! [`Linked`]'s drill-down methods for `/api/v1/{deployments,changes,incidents}`. Every key
//! carries its unit, level, thresholds and sample size; the report carries its window (the
//! caller adds the filters). Definitions, linking rules and edge cases: METRICS.md.
//!
//! The modules, in the order they depend on each other (each reads only those before it):
//! [`facts`] the input, [`window`] the calendar, [`levels`] the thresholds, [`stats`] the median
//! and percentile; [`linking`] the rules that tie facts together; [`key_rows`] and [`columns`]
//! what the keys read of the links (plain rows, then day blocks that can be replaced one UTC day
//! at a time); one module per key, each reading the columns; [`report`] the five keys put
//! together. [`link_rows`] and [`drilldown`] are what the links show: the stored link rows and
//! the evidence behind each number.

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
pub mod report;
pub mod rework_rate;
pub mod stats;
pub mod window;

#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod testkit;

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
pub use report::{DoraKeys, DoraReport, Key, KeyReport, KeySeriesPoint, SeriesPoint};
pub use rework_rate::ReworkRate;
pub use window::{Bucket, Window};

/// The five DORA keys of `facts` over `window` under `config`.
pub fn compute(facts: &DoraFacts, window: &Window, config: &DoraConfig) -> DoraReport {
    Linked::new(facts, config).report(window)
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
