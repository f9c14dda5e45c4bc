//! Linking rules of change failure rate and recovery time (`crate::dora::linking`): which
//! deployment a rollback rolled back, which deployments needed intervention, and how each
//! recovered.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::super::facts::{Deployment, DeploymentKind, DoraConfig, Incident};
use super::targets::{is_production, latest, same_target};

/// The deployment a production rollback rolled back: the production deployment of the same
/// service and environment right before it (by time, ties by id). `None` when `rollback` is
/// not a production rollback or has no predecessor among `candidates`.
pub fn rolled_back_deployment<'a>(
    rollback: &Deployment,
    candidates: &[&'a Deployment],
    config: &DoraConfig,
) -> Option<&'a Deployment> {
    if rollback.kind != DeploymentKind::Rolledback || !is_production(&rollback.environment, config)
    {
        return None;
    }
    latest(
        candidates
            .iter()
            .copied()
            .filter(|d| same_target(d, rollback) && d.order_key() < rollback.order_key()),
    )
}

/// Why a deployment needed intervention (several can hold at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InterventionReason {
    /// At least one incident is attributed to it.
    Incident,
    /// A later rollback rolled it back.
    RolledBack,
    /// The rollout itself failed.
    FailedRollout,
}

/// The reasons a production deployment needed intervention (empty = it did not).
pub fn intervention_reasons(
    deployment: &Deployment,
    attributed_incidents: usize,
    rolled_back: bool,
) -> Vec<InterventionReason> {
    let mut reasons = Vec::new();
    if attributed_incidents > 0 {
        reasons.push(InterventionReason::Incident);
    }
    if rolled_back {
        reasons.push(InterventionReason::RolledBack);
    }
    if deployment.failed {
        reasons.push(InterventionReason::FailedRollout);
    }
    reasons
}

/// What ended a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RecoveredBy {
    /// The last of its attributed incidents was resolved.
    IncidentsResolved,
    /// The next successful deployment of the same service and environment.
    Deployment { deployment_id: i64 },
}

/// Recovery of one deployment that needed intervention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Recovery {
    Recovered {
        started_at: DateTime<Utc>,
        recovered_at: DateTime<Utc>,
        seconds: i64,
        by: RecoveredBy,
    },
    /// Not recovered yet: an attributed incident is unresolved, or (no incident) no later
    /// successful deployment exists.
    Open { started_at: DateTime<Utc> },
    /// The facts put the recovery before the failure (e.g. resolved before detected): no sample.
    InvalidTimes {
        started_at: DateTime<Utc>,
        recovered_at: DateTime<Utc>,
    },
}

/// Recovery of `failed` (a deployment that needed intervention) given the incidents attributed
/// to it and `candidates` for the next deployment.
///
/// With incidents: start = earliest detection; end = latest resolution when all are resolved,
/// else open. Without: start = the deployment's own time; end = the next deployment after it
/// (by time, ties by id) of the same service and environment whose rollout did not fail,
/// else open.
pub fn recovery(
    failed: &Deployment,
    incidents: &[&Incident],
    candidates: &[&Deployment],
    config: &DoraConfig,
) -> Recovery {
    let ended = |started_at: DateTime<Utc>, recovered_at: DateTime<Utc>, by: RecoveredBy| {
        if recovered_at < started_at {
            Recovery::InvalidTimes {
                started_at,
                recovered_at,
            }
        } else {
            Recovery::Recovered {
                started_at,
                recovered_at,
                seconds: (recovered_at - started_at).num_seconds(),
                by,
            }
        }
    };
    if let Some(started_at) = incidents.iter().map(|i| i.detected_at).min() {
        let resolved: Option<Vec<DateTime<Utc>>> =
            incidents.iter().map(|i| i.resolved_at).collect();
        return match resolved.and_then(|r| r.into_iter().max()) {
            Some(recovered_at) => ended(started_at, recovered_at, RecoveredBy::IncidentsResolved),
            None => Recovery::Open { started_at },
        };
    }
    let next = candidates
        .iter()
        .copied()
        .filter(|d| {
            is_production(&d.environment, config)
                && same_target(d, failed)
                && d.order_key() > failed.order_key()
                && !d.failed
        })
        .min_by_key(|d| d.order_key());
    match next {
        Some(d) => ended(
            failed.at,
            d.at,
            RecoveredBy::Deployment {
                deployment_id: d.id,
            },
        ),
        None => Recovery::Open {
            started_at: failed.at,
        },
    }
}
