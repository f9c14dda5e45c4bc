//! What the five keys read of each linked fact, as plain rows: the input of [`KeyColumns`]
//! (facts -> [`Linked`] -> **key rows** -> [`KeyColumns`] -> keys).
//!
//! The rows carry the outcome of every link ([`Linked::new`]) and nothing else: no service,
//! environment or SHA. The linker stores them as the indexed columns of the link rows (flags,
//! lead time, recovery), and the API reads them back to rebuild the columns of the UTC days that
//! changed ([`KeyColumns::with_days_replaced`]).
//!
//! [`KeyColumns`]: super::columns::KeyColumns
//! [`KeyColumns::with_days_replaced`]: super::columns::KeyColumns::with_days_replaced

use chrono::{DateTime, Utc};

use super::facts::DeploymentKind;
use super::linking::{
    Attribution, ChangeStart, InterventionReason, Linked, Recovery, ReworkReason,
};

/// A lead time that is not one: every timestamp of the change is after its deployment.
pub const LEAD_CLOCK_SKEW: i32 = -1;
/// A lead time that is not one: the change has no timestamp.
pub const LEAD_NO_TIMESTAMP: i32 = -2;

/// Why a deployment is rework, as the rework key counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReworkKind {
    /// The deployment is a rollback.
    Rollback,
    /// It was made while an incident on an earlier deployment was open.
    DuringIncident,
}

/// Recovery of a deployment that needed intervention, as the recovery key reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryCell {
    /// Recovered after this many seconds.
    Recovered { seconds: i64 },
    /// Not recovered yet.
    Open,
    /// The facts put the recovery before the failure: no sample.
    InvalidTimes,
}

/// What the keys read of one production deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentKeyRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The deployment is a rollback (`DeploymentKind::Rolledback`).
    pub rollback: bool,
    /// The rollout itself failed (`Deployment::failed`).
    pub failed_rollout: bool,
    /// It needed intervention because incidents are attributed to it.
    pub reason_incident: bool,
    /// It needed intervention because a later rollback rolled it back.
    pub reason_rolled_back: bool,
    pub rework: Option<ReworkKind>,
    /// Some exactly when the deployment needed intervention (any reason).
    pub recovery: Option<RecoveryCell>,
    /// Detection times of the incidents attributed to it.
    pub detections: Vec<DateTime<Utc>>,
}

/// A change with a first production deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedKeyRow {
    pub change_id: String,
    /// When its first production deployment happened.
    pub at: DateTime<Utc>,
    /// Its first production deployment.
    pub deployment_id: i64,
    /// Lead time in whole seconds (saturated at `i32::MAX`, 68 years), or [`LEAD_CLOCK_SKEW`],
    /// or [`LEAD_NO_TIMESTAMP`].
    pub lead: i32,
    /// Commit timestamps after the deployment, ignored for the start.
    pub skewed_commits: u32,
}

/// An incident, whatever its attribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentKeyRow {
    pub id: String,
    pub detected_at: DateTime<Utc>,
    /// A production incident no deployment could be blamed for.
    pub unattributed: bool,
}

impl Linked<'_> {
    /// The links reduced to what the keys read: one row per production deployment, per change
    /// with a first production deployment and per incident, in no particular order.
    pub fn key_rows(
        &self,
    ) -> (
        Vec<DeploymentKeyRow>,
        Vec<ShippedKeyRow>,
        Vec<IncidentKeyRow>,
    ) {
        let deployments = self
            .production
            .iter()
            .map(|&i| self.deployment_key_row(i))
            .collect();
        let shipped = self
            .shipped_changes
            .iter()
            .filter_map(|&ci| self.shipped_key_row(ci))
            .collect();
        let incidents = self
            .facts
            .incidents
            .iter()
            .zip(&self.incidents)
            .map(|(incident, state)| IncidentKeyRow {
                id: incident.id.clone(),
                detected_at: incident.detected_at,
                unattributed: state.attribution == Attribution::Unattributed,
            })
            .collect();
        (deployments, shipped, incidents)
    }

    /// What the keys read of production deployment `i`.
    fn deployment_key_row(&self, i: usize) -> DeploymentKeyRow {
        let deps = &self.facts.deployments;
        let incidents = &self.facts.incidents;
        let (d, state) = (&deps[i], &self.deployments[i]);
        DeploymentKeyRow {
            id: d.id,
            at: d.at,
            rollback: d.kind == DeploymentKind::Rolledback,
            failed_rollout: d.failed,
            reason_incident: state.reasons.contains(&InterventionReason::Incident),
            reason_rolled_back: state.reasons.contains(&InterventionReason::RolledBack),
            rework: state.rework.as_ref().map(|rework| match rework {
                ReworkReason::Rollback => ReworkKind::Rollback,
                ReworkReason::DuringIncident { .. } => ReworkKind::DuringIncident,
            }),
            recovery: state.recovery.as_ref().map(|recovery| match recovery {
                Recovery::Recovered { seconds, .. } => {
                    RecoveryCell::Recovered { seconds: *seconds }
                }
                Recovery::Open { .. } => RecoveryCell::Open,
                Recovery::InvalidTimes { .. } => RecoveryCell::InvalidTimes,
            }),
            detections: state
                .incidents
                .iter()
                .map(|&ii| incidents[ii].detected_at)
                .collect(),
        }
    }

    /// What the keys read of change `ci`, when it has a first production deployment.
    fn shipped_key_row(&self, ci: usize) -> Option<ShippedKeyRow> {
        let deps = &self.facts.deployments;
        let state = &self.changes[ci];
        let first = &deps[state.first_production?];
        let (lead, skewed) = match state.start? {
            ChangeStart::Start {
                at: start,
                skewed_commits,
                ..
            } => {
                let seconds = (first.at - start)
                    .num_seconds()
                    .clamp(0, i64::from(i32::MAX));
                (i32::try_from(seconds).unwrap_or(i32::MAX), skewed_commits)
            }
            ChangeStart::ClockSkew { skewed_commits } => (LEAD_CLOCK_SKEW, skewed_commits),
            ChangeStart::NoTimestamp => (LEAD_NO_TIMESTAMP, 0),
        };
        Some(ShippedKeyRow {
            change_id: self.facts.changes[ci].id.clone(),
            at: first.at,
            deployment_id: first.id,
            lead,
            // More than 4 billion commits do not fit in memory anyway: saturate.
            skewed_commits: u32::try_from(skewed).unwrap_or(u32::MAX),
        })
    }
}
