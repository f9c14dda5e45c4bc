//! Linked facts as the rows the linker stores (facts -> [`Linked`] -> **link rows** -> link
//! tables): per change its containment, first production deployment and lead time; per
//! incident its attribution; per deployment its rollback, intervention, recovery and rework.
//!
//! The incremental linker (`crate::linker`) and a from-scratch linking both produce their rows
//! here, from the same [`Linked`], so the two can only differ in which facts they link.

use chrono::{DateTime, Utc};
use dora_store::{ChangeLinkRow, ContainmentRow, DeploymentLinkRow, IncidentLinkRow};
use serde::{Deserialize, Serialize};

use super::facts::{Change, DeploymentKind, Incident};
use super::key_rows::{LEAD_CLOCK_SKEW, LEAD_NO_TIMESTAMP};
use super::linking::{
    Attribution, ChangeStart, InterventionReason, Linked, Recovery, ReworkReason,
};

/// Bits of [`DeploymentLinkRow::flags`]: what the keys count of a deployment.
pub mod flags {
    pub const PRODUCTION: i64 = 1;
    pub const ROLLBACK: i64 = 1 << 1;
    pub const FAILED_ROLLOUT: i64 = 1 << 2;
    pub const REASON_INCIDENT: i64 = 1 << 3;
    pub const REASON_ROLLED_BACK: i64 = 1 << 4;
    pub const REWORK_ROLLBACK: i64 = 1 << 5;
    pub const REWORK_DURING_INCIDENT: i64 = 1 << 6;
    pub const RECOVERED: i64 = 1 << 7;
    pub const RECOVERY_OPEN: i64 = 1 << 8;
    pub const RECOVERY_INVALID: i64 = 1 << 9;
}

/// The `detail` of a change row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeDetail {
    /// The change as folded from its observations.
    pub change: Change,
    /// Every deployment containing it, in deployment order.
    pub contained_in: Vec<i64>,
    /// The deployments that shipped it (the first containing one of each service and
    /// environment).
    pub shipped_by: Vec<i64>,
    /// Its start relative to the first production deployment.
    pub start: Option<ChangeStart>,
}

/// The `detail` of an incident row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentDetail {
    pub incident: Incident,
    pub attribution: Attribution,
}

/// The `detail` of a deployment row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentDetail {
    pub rolls_back: Option<i64>,
    pub rolled_back_by: Option<i64>,
    pub reasons: Vec<InterventionReason>,
    pub recovery: Option<Recovery>,
    pub rework: Option<ReworkReason>,
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl Linked<'_> {
    /// The row of the change at index `ci` of the facts.
    pub fn change_row(&self, ci: usize) -> ChangeLinkRow {
        let deps = &self.facts.deployments;
        let change = &self.facts.changes[ci];
        let state = &self.changes[ci];
        let first = state.first_production.map(|i| &deps[i]);
        let (lead, skewed) = match (first, state.start) {
            (
                Some(d),
                Some(ChangeStart::Start {
                    at, skewed_commits, ..
                }),
            ) => {
                let seconds = (d.at - at).num_seconds().clamp(0, i64::from(i32::MAX));
                (
                    Some(i32::try_from(seconds).unwrap_or(i32::MAX)),
                    skewed_commits,
                )
            }
            (Some(_), Some(ChangeStart::ClockSkew { skewed_commits })) => {
                (Some(LEAD_CLOCK_SKEW), skewed_commits)
            }
            (Some(_), _) => (Some(LEAD_NO_TIMESTAMP), 0),
            (None, _) => (None, 0),
        };
        let shipped_by = state
            .contained_in
            .iter()
            .copied()
            .filter(|&i| self.deployments[i].shipped.contains(&ci))
            .map(|i| deps[i].id)
            .collect();
        let detail = ChangeDetail {
            change: change.clone(),
            contained_in: state.contained_in.iter().map(|&i| deps[i].id).collect(),
            shipped_by,
            start: state.start,
        };
        ChangeLinkRow {
            change_id: change.id.clone(),
            first_deployment: first.map(|d| d.id),
            first_at: first.map(|d| d.at),
            lead,
            skewed: i32::try_from(skewed).unwrap_or(i32::MAX),
            detail: json(&detail),
        }
    }

    /// The deployments containing the change at index `ci`, as rows.
    pub fn containment_rows(&self, ci: usize) -> impl Iterator<Item = ContainmentRow> + '_ {
        let change = &self.facts.changes[ci];
        self.changes[ci].contained_in.iter().map(move |&i| {
            let d = &self.facts.deployments[i];
            ContainmentRow {
                change_id: change.id.clone(),
                deployment_id: d.id,
                service: d.service.clone(),
                environment: d.environment.clone(),
                shipped: self.deployments[i].shipped.contains(&ci),
            }
        })
    }

    /// The row of the incident at index `ii` of the facts.
    pub fn incident_row(&self, ii: usize) -> IncidentLinkRow {
        let incident = &self.facts.incidents[ii];
        let state = &self.incidents[ii];
        let target = state.deployment.map(|i| &self.facts.deployments[i]);
        IncidentLinkRow {
            incident_id: incident.id.clone(),
            detected_at: incident.detected_at,
            resolved_at: incident.resolved_at,
            service: incident.service.clone(),
            environment: incident.environment.clone(),
            artifact_id: incident.artifact_id.clone(),
            deployment_id: target.map(|d| d.id),
            target_service: target.map(|d| d.service.clone()),
            target_environment: target.map(|d| d.environment.clone()),
            unattributed: state.attribution == Attribution::Unattributed,
            detail: json(&IncidentDetail {
                incident: incident.clone(),
                attribution: state.attribution,
            }),
        }
    }

    /// The row of the deployment at index `i` of the facts.
    pub fn deployment_row(&self, i: usize) -> DeploymentLinkRow {
        let deps = &self.facts.deployments;
        let d = &deps[i];
        let state = &self.deployments[i];
        let mut bits = 0;
        let mut set = |on: bool, bit: i64| {
            if on {
                bits |= bit;
            }
        };
        set(state.production, flags::PRODUCTION);
        set(d.kind == DeploymentKind::Rolledback, flags::ROLLBACK);
        set(d.failed, flags::FAILED_ROLLOUT);
        let has = |reason| state.reasons.contains(&reason);
        set(has(InterventionReason::Incident), flags::REASON_INCIDENT);
        set(
            has(InterventionReason::RolledBack),
            flags::REASON_ROLLED_BACK,
        );
        set(
            matches!(state.rework, Some(ReworkReason::Rollback)),
            flags::REWORK_ROLLBACK,
        );
        set(
            matches!(state.rework, Some(ReworkReason::DuringIncident { .. })),
            flags::REWORK_DURING_INCIDENT,
        );
        let mut recovery_seconds = None;
        match &state.recovery {
            Some(Recovery::Recovered { seconds, .. }) => {
                bits |= flags::RECOVERED;
                recovery_seconds = Some(*seconds);
            }
            Some(Recovery::Open { .. }) => bits |= flags::RECOVERY_OPEN,
            Some(Recovery::InvalidTimes { .. }) => bits |= flags::RECOVERY_INVALID,
            None => {}
        }
        let detail = DeploymentDetail {
            rolls_back: state.rolls_back.map(|p| deps[p].id),
            rolled_back_by: state.rolled_back_by.map(|r| deps[r].id),
            reasons: state.reasons.clone(),
            recovery: state.recovery.clone(),
            rework: state.rework.clone(),
        };
        DeploymentLinkRow {
            deployment_id: d.id,
            flags: bits,
            recovery_seconds,
            detail: json(&detail),
        }
    }

    /// Every row, from scratch: what the incremental linker must have stored for these facts.
    pub fn all_rows(&self) -> dora_store::AllLinks {
        let mut rows = dora_store::AllLinks {
            changes: (0..self.facts.changes.len())
                .map(|ci| self.change_row(ci))
                .collect(),
            containments: (0..self.facts.changes.len())
                .flat_map(|ci| self.containment_rows(ci))
                .collect(),
            incidents: (0..self.facts.incidents.len())
                .map(|ii| self.incident_row(ii))
                .collect(),
            deployments: (0..self.facts.deployments.len())
                .map(|i| self.deployment_row(i))
                .collect(),
        };
        rows.changes.sort_by(|a, b| a.change_id.cmp(&b.change_id));
        rows.containments
            .sort_by(|a, b| (&a.change_id, a.deployment_id).cmp(&(&b.change_id, b.deployment_id)));
        rows.incidents
            .sort_by(|a, b| a.incident_id.cmp(&b.incident_id));
        rows.deployments.sort_by_key(|d| d.deployment_id);
        rows
    }
}

/// The UTC day of an instant, as days since 1970-01-01.
pub fn day_number(at: DateTime<Utc>) -> i32 {
    i32::try_from(at.timestamp().div_euclid(86_400)).unwrap_or(i32::MAX)
}
