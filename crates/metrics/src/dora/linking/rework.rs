//! Linking rule of rework rate (`crate::dora::linking`): which deployments were rework.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::super::facts::{Deployment, DeploymentKind, DoraConfig, Incident};
use super::targets::{is_production, same_target};

/// Why a deployment is rework.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReworkReason {
    /// The deployment is a rollback.
    Rollback,
    /// It was made while this incident, attributed to an earlier deployment of the same service
    /// and environment, was open (the earliest detected such incident, ties by id).
    DuringIncident { incident_id: String },
}

/// Whether `incident` was open at `at`.
pub(super) fn open_at(incident: &Incident, at: DateTime<Utc>) -> bool {
    incident.detected_at <= at && incident.resolved_at.is_none_or(|r| at < r)
}

/// Rework: a production deployment that is a rollback, or that was made while an incident
/// attributed to an earlier production deployment of the same service and environment was open
/// (`detected_at <= at < resolved_at`, or unresolved). `attributed` pairs incidents with the
/// deployment they are attributed to.
pub fn rework_reason(
    deployment: &Deployment,
    attributed: &[(&Incident, &Deployment)],
    config: &DoraConfig,
) -> Option<ReworkReason> {
    if !is_production(&deployment.environment, config) {
        return None;
    }
    if deployment.kind == DeploymentKind::Rolledback {
        return Some(ReworkReason::Rollback);
    }
    attributed
        .iter()
        .filter(|(incident, blamed)| {
            same_target(blamed, deployment)
                && blamed.order_key() < deployment.order_key()
                && open_at(incident, deployment.at)
        })
        .map(|(incident, _)| *incident)
        .min_by(|a, b| (a.detected_at, &a.id).cmp(&(b.detected_at, &b.id)))
        .map(|incident| ReworkReason::DuringIncident {
            incident_id: incident.id.clone(),
        })
}
