//! The linked facts reduced to what the five keys read, for any window: the last step of the
//! pure DORA computation (`crate::dora`) before the numbers (facts -> [`Linked`] ->
//! **[`KeyColumns`]** -> keys).
//!
//! Every link (what a deployment shipped, the incident blamed on it, its rollback, recovery and
//! rework, each change's lead time) is resolved once by [`Linked::new`] and does not depend on the
//! window. [`KeyColumns`] keeps one small row per production deployment, per shipped change and
//! per incident, each list sorted by time, so a window is two binary searches and one sequential
//! scan of its rows: no pointer chasing through the facts, no hashing, no allocation per row.
//! The API caches the columns per scope and answers any window from them.

use chrono::{DateTime, Utc};

use super::facts::{DeploymentKind, DoraConfig};
use super::linking::{
    in_window, Attribution, ChangeStart, InterventionReason, Linked, Recovery, ReworkReason,
};
use super::window::Window;
use super::{
    change_failure_rate, deployment_frequency, lead_time, recovery_time, rework_rate, DoraKeys,
    DoraReport, Key, KeyReport,
};

/// Recovery of a production deployment, as the recovery key reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecoveryCell {
    /// It did not need intervention.
    NotFailed,
    Recovered {
        seconds: i64,
    },
    Open,
    InvalidTimes,
}

/// Why a production deployment is rework, as the rework key reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReworkCell {
    No,
    Rollback,
    DuringIncident,
}

/// One production deployment.
#[derive(Debug, Clone)]
pub(crate) struct DeploymentRow {
    pub at: DateTime<Utc>,
    /// The rollout itself failed.
    pub failed_rollout: bool,
    /// It is a rollback.
    pub rollback: bool,
    /// It needed intervention because of an attributed incident.
    pub incident: bool,
    /// It needed intervention because a later rollback rolled it back.
    pub rolled_back: bool,
    pub recovery: RecoveryCell,
    pub rework: ReworkCell,
    /// Its attributed incidents' detection times: `incident_detections[start..end]`.
    pub detections: (u32, u32),
}

impl DeploymentRow {
    pub fn needed_intervention(&self) -> bool {
        self.incident || self.rolled_back || self.failed_rollout
    }
}

/// Lead time of a change, relative to its first production deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeadCell {
    Seconds(i64),
    ClockSkew,
    NoTimestamp,
}

/// One change with a first production deployment.
#[derive(Debug, Clone)]
pub(crate) struct ShippedRow {
    /// When its first production deployment happened.
    pub at: DateTime<Utc>,
    pub lead: LeadCell,
    /// Commit timestamps after that deployment (clock skew), ignored for the start.
    pub skewed_commits: u32,
}

/// One incident.
#[derive(Debug, Clone)]
pub(crate) struct IncidentRow {
    pub detected_at: DateTime<Utc>,
    /// A production incident no deployment could be blamed for.
    pub unattributed: bool,
}

/// What the five keys need of one set of linked facts, for any window. Build with
/// [`Linked::columns`]; owns its data, so it can be cached and shared between requests.
#[derive(Debug, Clone)]
pub struct KeyColumns {
    pub(crate) config: DoraConfig,
    /// Production deployments by (time, id).
    pub(crate) deployments: Vec<DeploymentRow>,
    /// Detection times of the incidents attributed to each production deployment, grouped by
    /// deployment ([`DeploymentRow::detections`]).
    pub(crate) incident_detections: Vec<DateTime<Utc>>,
    /// Changes with a first production deployment, by that deployment's (time, id).
    pub(crate) shipped: Vec<ShippedRow>,
    /// Incidents by (detection, id).
    pub(crate) incidents: Vec<IncidentRow>,
}

/// Bounds of the [`DeploymentRow::detections`] range (more than 4 billion incidents do not fit
/// in memory anyway; saturate rather than wrap).
fn offset(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

impl Linked<'_> {
    /// The links reduced to the keys' columns.
    pub fn columns(&self) -> KeyColumns {
        let deps = &self.facts.deployments;
        let incidents = &self.facts.incidents;
        let mut incident_detections = Vec::new();
        let deployments = self
            .production
            .iter()
            .map(|&i| {
                let d = &deps[i];
                let state = &self.deployments[i];
                let start = offset(incident_detections.len());
                incident_detections
                    .extend(state.incidents.iter().map(|&ii| incidents[ii].detected_at));
                let recovery = match &state.recovery {
                    None => RecoveryCell::NotFailed,
                    Some(Recovery::Recovered { seconds, .. }) => {
                        RecoveryCell::Recovered { seconds: *seconds }
                    }
                    Some(Recovery::Open { .. }) => RecoveryCell::Open,
                    Some(Recovery::InvalidTimes { .. }) => RecoveryCell::InvalidTimes,
                };
                let rework = match &state.rework {
                    None => ReworkCell::No,
                    Some(ReworkReason::Rollback) => ReworkCell::Rollback,
                    Some(ReworkReason::DuringIncident { .. }) => ReworkCell::DuringIncident,
                };
                DeploymentRow {
                    at: d.at,
                    failed_rollout: state.reasons.contains(&InterventionReason::FailedRollout),
                    rollback: d.kind == DeploymentKind::Rolledback,
                    incident: state.reasons.contains(&InterventionReason::Incident),
                    rolled_back: state.reasons.contains(&InterventionReason::RolledBack),
                    recovery,
                    rework,
                    detections: (start, offset(incident_detections.len())),
                }
            })
            .collect();
        let shipped = self
            .shipped_changes
            .iter()
            .filter_map(|&ci| {
                let state = &self.changes[ci];
                let at = deps[state.first_production?].at;
                let (lead, skewed) = match state.start? {
                    ChangeStart::Start {
                        at: start,
                        skewed_commits,
                        ..
                    } => (
                        LeadCell::Seconds((at - start).num_seconds()),
                        skewed_commits,
                    ),
                    ChangeStart::ClockSkew { skewed_commits } => {
                        (LeadCell::ClockSkew, skewed_commits)
                    }
                    ChangeStart::NoTimestamp => (LeadCell::NoTimestamp, 0),
                };
                Some(ShippedRow {
                    at,
                    lead,
                    skewed_commits: offset(skewed),
                })
            })
            .collect();
        let incident_rows = self
            .incidents_by_detection
            .iter()
            .map(|&ii| IncidentRow {
                detected_at: incidents[ii].detected_at,
                unattributed: self.incidents[ii].attribution == Attribution::Unattributed,
            })
            .collect();
        KeyColumns {
            config: self.config.clone(),
            deployments,
            incident_detections,
            shipped,
            incidents: incident_rows,
        }
    }

    /// The five keys over `window`.
    pub fn report(&self, window: &Window) -> DoraReport {
        self.columns().report(window)
    }

    /// One key over `window`.
    pub fn key(&self, key: Key, window: &Window) -> KeyReport {
        self.columns().key(key, window)
    }
}

impl KeyColumns {
    /// The configuration the links were made with.
    pub fn config(&self) -> &DoraConfig {
        &self.config
    }

    /// Production deployments in `window`, in deployment order.
    pub(crate) fn production_in(&self, window: &Window) -> &[DeploymentRow] {
        in_window(&self.deployments, window, |row| row.at)
    }

    /// Changes whose first production deployment is in `window`.
    pub(crate) fn shipped_in(&self, window: &Window) -> &[ShippedRow] {
        in_window(&self.shipped, window, |row| row.at)
    }

    /// Incidents detected in `window`.
    pub(crate) fn incidents_detected_in(&self, window: &Window) -> &[IncidentRow] {
        in_window(&self.incidents, window, |row| row.detected_at)
    }

    /// Detection times of the incidents attributed to `row`.
    pub(crate) fn detections(&self, row: &DeploymentRow) -> &[DateTime<Utc>] {
        let (start, end) = row.detections;
        self.incident_detections
            .get(start as usize..end as usize)
            .unwrap_or(&[])
    }

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
}
