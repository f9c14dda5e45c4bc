//! Drill-down of the pure DORA computation (`crate::dora`) used by the API: the evidence behind
//! each number. For each deployment, the changes it shipped, the incidents blamed on it, its
//! rollback and what recovered it; for each change, its first production deployment and lead
//! time; for each incident, the deployment it is attributed to and by which rule.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::facts::{Change, Deployment, DeploymentKind, Incident};
use super::link_rows::DeploymentDetail;
use super::linking::{
    Attribution, AttributionRule, ChangeStart, InterventionReason, Linked, Recovery, ReworkReason,
    StartSource,
};
use super::window::Window;

/// One deployment and its links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentLinks {
    pub id: i64,
    pub service: String,
    pub environment: String,
    pub team: Option<String>,
    pub at: DateTime<Utc>,
    pub kind: DeploymentKind,
    pub failed: bool,
    pub artifact_id: Option<String>,
    pub revision: Option<String>,
    pub production: bool,
    /// Changes (ids, sorted) this deployment is the first of its service and environment to
    /// contain: what it shipped.
    pub changes: Vec<String>,
    /// Incidents (ids, by detection) attributed to it.
    pub incidents: Vec<String>,
    /// The rollback that rolled it back.
    pub rolled_back_by: Option<i64>,
    /// For a rollback: the deployment it rolled back.
    pub rolls_back: Option<i64>,
    /// Empty unless it is a production deployment that needed intervention.
    pub intervention: Vec<InterventionReason>,
    /// Set for production deployments that needed intervention.
    pub recovery: Option<Recovery>,
    pub rework: Option<ReworkReason>,
}

/// One change and its links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeLinks {
    pub id: String,
    pub service: Option<String>,
    pub repository: Option<String>,
    /// Every deployment (ids, in deployment order, any environment) that contains it.
    pub deployments: Vec<i64>,
    /// Where it counts for lead time.
    pub first_production_deployment: Option<i64>,
    pub deployed_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub start_source: Option<StartSource>,
    pub lead_time_seconds: Option<i64>,
    /// Commit timestamps after the first production deployment, ignored.
    pub skewed_commits: usize,
    /// Why a change that reached production has no lead time.
    pub excluded: Option<LeadTimeExclusion>,
}

/// Why a deployed change has no lead time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadTimeExclusion {
    ClockSkew,
    NoTimestamp,
}

/// One incident and its attribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentLinks {
    pub id: String,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub detected_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The deployment it is attributed to.
    pub deployment: Option<i64>,
    pub rule: Option<AttributionRule>,
    /// `attributed`, `unattributed` or `non_production`.
    pub status: IncidentStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Attributed,
    Unattributed,
    NonProduction,
}

impl DeploymentLinks {
    /// A deployment with links made elsewhere (the link tables): what it shipped (sorted), the
    /// incidents blamed on it (by detection), and its rollback, intervention, recovery and
    /// rework.
    pub fn new(
        d: &Deployment,
        production: bool,
        changes: Vec<String>,
        incidents: Vec<String>,
        detail: DeploymentDetail,
    ) -> Self {
        DeploymentLinks {
            id: d.id,
            service: d.service.clone(),
            environment: d.environment.clone(),
            team: d.team.clone(),
            at: d.at,
            kind: d.kind,
            failed: d.failed,
            artifact_id: d.artifact_id.clone(),
            revision: d.revision.clone(),
            production,
            changes,
            incidents,
            rolled_back_by: detail.rolled_back_by,
            rolls_back: detail.rolls_back,
            intervention: detail.reasons,
            recovery: detail.recovery,
            rework: detail.rework,
        }
    }
}

impl ChangeLinks {
    /// A change with its containing deployments (ids, in deployment order), its first
    /// production deployment (id and time) and its start relative to it.
    pub fn new(
        c: &Change,
        deployments: Vec<i64>,
        first: Option<(i64, DateTime<Utc>)>,
        start: Option<ChangeStart>,
    ) -> Self {
        let deployed_at = first.map(|(_, at)| at);
        let (started_at, start_source, skewed_commits, excluded) = match start {
            Some(ChangeStart::Start {
                at,
                source,
                skewed_commits,
            }) => (Some(at), Some(source), skewed_commits, None),
            Some(ChangeStart::ClockSkew { skewed_commits }) => (
                None,
                None,
                skewed_commits,
                Some(LeadTimeExclusion::ClockSkew),
            ),
            Some(ChangeStart::NoTimestamp) => (None, None, 0, Some(LeadTimeExclusion::NoTimestamp)),
            None => (None, None, 0, None),
        };
        ChangeLinks {
            id: c.id.clone(),
            service: c.service.clone(),
            repository: c.repository.clone(),
            deployments,
            first_production_deployment: first.map(|(id, _)| id),
            deployed_at,
            started_at,
            start_source,
            lead_time_seconds: deployed_at
                .zip(started_at)
                .map(|(end, start)| (end - start).num_seconds()),
            skewed_commits,
            excluded,
        }
    }
}

impl IncidentLinks {
    /// An incident and its attribution.
    pub fn new(incident: &Incident, attribution: Attribution) -> Self {
        let (deployment, rule, status) = match attribution {
            Attribution::Deployment { id, rule } => {
                (Some(id), Some(rule), IncidentStatus::Attributed)
            }
            Attribution::Unattributed => (None, None, IncidentStatus::Unattributed),
            Attribution::NonProduction => (None, None, IncidentStatus::NonProduction),
        };
        IncidentLinks {
            id: incident.id.clone(),
            service: incident.service.clone(),
            environment: incident.environment.clone(),
            detected_at: incident.detected_at,
            resolved_at: incident.resolved_at,
            deployment,
            rule,
            status,
        }
    }
}

impl Linked<'_> {
    fn deployment_links_at(&self, i: usize) -> DeploymentLinks {
        let state = &self.deployments[i];
        let id_of = |j: usize| self.facts.deployments[j].id;
        DeploymentLinks::new(
            &self.facts.deployments[i],
            state.production,
            state
                .shipped
                .iter()
                .map(|&c| self.facts.changes[c].id.clone())
                .collect(),
            state
                .incidents
                .iter()
                .map(|&ii| self.facts.incidents[ii].id.clone())
                .collect(),
            DeploymentDetail {
                rolls_back: state.rolls_back.map(id_of),
                rolled_back_by: state.rolled_back_by.map(id_of),
                reasons: state.reasons.clone(),
                recovery: state.recovery.clone(),
                rework: state.rework.clone(),
            },
        )
    }

    fn change_links_at(&self, ci: usize) -> ChangeLinks {
        let state = &self.changes[ci];
        let deps = &self.facts.deployments;
        ChangeLinks::new(
            &self.facts.changes[ci],
            state.contained_in.iter().map(|&i| deps[i].id).collect(),
            state.first_production.map(|i| (deps[i].id, deps[i].at)),
            state.start,
        )
    }

    fn incident_links_at(&self, ii: usize) -> IncidentLinks {
        IncidentLinks::new(&self.facts.incidents[ii], self.incidents[ii].attribution)
    }

    /// Links of the deployment with this id.
    pub fn deployment_links(&self, id: i64) -> Option<DeploymentLinks> {
        self.deployment_by_id
            .get(&id)
            .map(|&i| self.deployment_links_at(i))
    }

    /// Links of every deployment (any environment) whose time is in `window`, by time then id.
    pub fn deployments_in(&self, window: &Window) -> Vec<DeploymentLinks> {
        super::window::in_window(&self.ordered, window, |&i| self.facts.deployments[i].at)
            .iter()
            .map(|&i| self.deployment_links_at(i))
            .collect()
    }

    /// Links of the change with this id.
    pub fn change_links(&self, id: &str) -> Option<ChangeLinks> {
        self.change_by_id
            .get(id)
            .map(|&ci| self.change_links_at(ci))
    }

    /// Links of every change, those reaching production first (by their first production
    /// deployment's time), then the others by id.
    pub fn changes_all(&self) -> Vec<ChangeLinks> {
        let mut rest: Vec<usize> = (0..self.changes.len())
            .filter(|&ci| self.changes[ci].first_production.is_none())
            .collect();
        rest.sort_by(|&a, &b| self.facts.changes[a].id.cmp(&self.facts.changes[b].id));
        self.shipped_changes
            .iter()
            .chain(rest.iter())
            .map(|&ci| self.change_links_at(ci))
            .collect()
    }

    /// Links of the changes whose first production deployment is in `window` (the lead time
    /// sample and its exclusions), by that deployment's time.
    pub fn changes_in(&self, window: &Window) -> Vec<ChangeLinks> {
        self.shipped_in(window)
            .iter()
            .map(|&ci| self.change_links_at(ci))
            .collect()
    }

    /// Links of the incident with this id.
    pub fn incident_links(&self, id: &str) -> Option<IncidentLinks> {
        self.incident_by_id
            .get(id)
            .map(|&ii| self.incident_links_at(ii))
    }

    /// Links of the incidents detected in `window`, by detection then id.
    pub fn incidents_in(&self, window: &Window) -> Vec<IncidentLinks> {
        self.incidents_detected_in(window)
            .iter()
            .map(|&ii| self.incident_links_at(ii))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::dora::facts::{DoraConfig, DoraFacts};
    use crate::dora::linking::RecoveredBy;
    use crate::dora::testkit::{change, dep, incident, t, window};

    /// Deployment 1 (staging) and 2 (prod) of artifact v1, shipping c1 (by artifact); 2 is rolled
    /// back by 3; incident i1 names artifact v1 -> blamed on 2 (not staging 1).
    fn rolled_back_release() -> (DoraFacts, DoraConfig) {
        let facts = DoraFacts {
            deployments: vec![
                dep(1, "a", "staging", "2024-01-01T00:00:00Z").art("v1"),
                dep(2, "a", "prod", "2024-01-02T00:00:00Z").art("v1"),
                dep(3, "a", "prod", "2024-01-02T01:00:00Z")
                    .rollback()
                    .art("v0"),
            ],
            changes: vec![
                change("c1").created("2023-12-31T00:00:00Z").artifact("v1"),
                change("c2").created("2023-12-31T00:00:00Z"),
            ],
            incidents: vec![incident("i1", "a", "prod", "2024-01-02T00:30:00Z").art("v1")],
        };
        let config = DoraConfig {
            production_environments: vec!["prod".into()],
            ..DoraConfig::default()
        };
        (facts, config)
    }

    #[test]
    fn evidence_for_each_fact() {
        let (facts, config) = rolled_back_release();
        let linked = Linked::new(&facts, &config);
        let d2 = linked.deployment_links(2).unwrap();
        assert_eq!(d2.changes, vec!["c1".to_string()]);
        assert_eq!(d2.incidents, vec!["i1".to_string()]);
        assert_eq!(d2.rolled_back_by, Some(3));
        assert_eq!(
            d2.intervention,
            vec![InterventionReason::Incident, InterventionReason::RolledBack]
        );
        // Incident open: no recovery yet even though rolled back (incidents take precedence).
        assert_eq!(
            d2.recovery,
            Some(Recovery::Open {
                started_at: t("2024-01-02T00:30:00Z")
            })
        );
        let d1 = linked.deployment_links(1).unwrap();
        assert!(!d1.production);
        assert_eq!(d1.changes, vec!["c1".to_string()]); // shipped to staging too
        assert!(d1.intervention.is_empty());
        let d3 = linked.deployment_links(3).unwrap();
        assert_eq!(d3.rolls_back, Some(2));
        assert_eq!(d3.rework, Some(ReworkReason::Rollback));
        assert!(linked.deployment_links(99).is_none());

        let c1 = linked.change_links("c1").unwrap();
        assert_eq!(c1.deployments, vec![1, 2]);
        assert_eq!(c1.first_production_deployment, Some(2));
        assert_eq!(c1.lead_time_seconds, Some(2 * 86_400));
        assert_eq!(c1.start_source, Some(StartSource::Created));
        let c2 = linked.change_links("c2").unwrap();
        assert_eq!(c2.first_production_deployment, None);
        assert_eq!(c2.lead_time_seconds, None);
        assert_eq!(linked.changes_all().len(), 2);
        assert_eq!(linked.changes_all()[0].id, "c1");

        let i1 = linked.incident_links("i1").unwrap();
        assert_eq!(i1.deployment, Some(2));
        assert_eq!(i1.rule, Some(AttributionRule::Artifact));
        assert_eq!(i1.status, IncidentStatus::Attributed);

        let jan = window("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z");
        assert_eq!(
            linked
                .deployments_in(&jan)
                .iter()
                .map(|d| d.id)
                .collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(linked.changes_in(&jan).len(), 1);
        assert_eq!(linked.incidents_in(&jan).len(), 1);

        // Resolve the incident: recovery ends at resolution, not at the rollback.
        let mut resolved = facts.clone();
        resolved.incidents[0].resolved_at = Some(t("2024-01-02T02:00:00Z"));
        let linked = Linked::new(&resolved, &config);
        let d2 = linked.deployment_links(2).unwrap();
        assert_eq!(
            d2.recovery,
            Some(Recovery::Recovered {
                started_at: t("2024-01-02T00:30:00Z"),
                recovered_at: t("2024-01-02T02:00:00Z"),
                seconds: 5_400,
                by: RecoveredBy::IncidentsResolved,
            })
        );
        let json = serde_json::to_value(&d2).unwrap();
        assert_eq!(json["recovery"]["status"], "recovered");
        assert_eq!(json["recovery"]["by"]["kind"], "incidents_resolved");
        assert_eq!(json["intervention"][1], "rolled_back");
    }
}
