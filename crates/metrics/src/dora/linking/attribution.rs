//! Linking rule of change failure rate and recovery time (`crate::dora::linking`): which
//! deployment an incident is blamed on.

use serde::{Deserialize, Serialize};

use super::super::facts::{Deployment, DoraConfig, Incident};
use super::targets::{is_production, latest};

/// Which attribution rule blamed an incident on a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributionRule {
    /// The incident names the deployment (`deployment_ref`).
    DeploymentRef,
    /// The incident names the artifact; the latest production deployment of it before detection.
    Artifact,
    /// The latest production deployment of the incident's service (and environment, when the
    /// incident names one) before detection, within the attribution horizon.
    ServiceEnvironmentTime,
}

/// Outcome of attributing one incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Attribution {
    Deployment {
        id: i64,
        rule: AttributionRule,
    },
    /// The incident is about a non-production environment (its `environment`, or the deployment
    /// it names, is not production): it takes no part in any key.
    NonProduction,
    /// A production incident no deployment can be blamed for.
    Unattributed,
}

/// Attribution of `incident` among `candidates`, rules in order:
/// 1. `deployment_ref` names a candidate: that deployment (if it is not production, the incident
///    is [`Attribution::NonProduction`]). A reference to no known deployment falls through.
/// 2. The incident's `environment`, when given, is not production: `NonProduction`.
/// 3. `artifact_id`: the latest production deployment of that artifact at or before detection
///    (in the incident's environment when it names one). No horizon.
/// 4. The latest production deployment of the incident's service (in its environment when it
///    names one; any production environment otherwise) at or before detection, at most
///    `attribution_horizon` before it. An incident without a service cannot match.
/// 5. Otherwise [`Attribution::Unattributed`].
pub fn attribute_incident(
    incident: &Incident,
    candidates: &[&Deployment],
    config: &DoraConfig,
) -> Attribution {
    let production = |d: &&Deployment| is_production(&d.environment, config);
    if let Some(reference) = incident.deployment_ref {
        if let Some(d) = candidates.iter().find(|d| d.id == reference) {
            return if production(d) {
                Attribution::Deployment {
                    id: d.id,
                    rule: AttributionRule::DeploymentRef,
                }
            } else {
                Attribution::NonProduction
            };
        }
    }
    if let Some(environment) = &incident.environment {
        if !is_production(environment, config) {
            return Attribution::NonProduction;
        }
    }
    let same_environment = |d: &&Deployment| {
        incident
            .environment
            .as_ref()
            .is_none_or(|e| e == &d.environment)
    };
    let before = |d: &&Deployment| d.at <= incident.detected_at;
    // The latest production deployment (in the incident's environment when it names one) at or
    // before detection that `rule` accepts.
    let latest_where = |rule: &dyn Fn(&Deployment) -> bool| {
        latest(
            candidates
                .iter()
                .copied()
                .filter(production)
                .filter(same_environment)
                .filter(before)
                .filter(|d| rule(d)),
        )
    };
    let by_artifact = incident
        .artifact_id
        .as_ref()
        .and_then(|artifact| latest_where(&|d| d.artifact_id.as_ref() == Some(artifact)));
    if let Some(d) = by_artifact {
        return Attribution::Deployment {
            id: d.id,
            rule: AttributionRule::Artifact,
        };
    }
    let by_service = incident.service.as_ref().and_then(|service| {
        latest_where(&|d| {
            &d.service == service && incident.detected_at - d.at <= config.attribution_horizon
        })
    });
    if let Some(d) = by_service {
        return Attribution::Deployment {
            id: d.id,
            rule: AttributionRule::ServiceEnvironmentTime,
        };
    }
    Attribution::Unattributed
}
