//! Linking rules of the pure DORA computation (`crate::dora`) used by the API: which changes a
//! deployment shipped, when a change started, which deployment an incident is blamed on, which
//! deployments needed intervention, how they recovered, and which deployments were rework.
//!
//! Each rule is a pure function over facts and a set of candidate deployments (any order; the
//! function itself filters by production, service, environment and time), so it can be read and
//! tested on its own. [`Linked`] applies them to a whole [`DoraFacts`] once, narrowing the
//! candidates with indexes so that the cost stays `O(n log n)`; the key modules then read
//! `Linked` for any window. The rules are written out in METRICS.md.
//!
//! The one total order of deployments is by time, ties by id ([`Deployment::order_key`]).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::facts::{Change, Deployment, DeploymentKind, DoraConfig, DoraFacts, Incident};
use super::window::{in_window, Window};

/// Whether deployments and incidents of `environment` count (empty list = every environment).
pub fn is_production(environment: &str, config: &DoraConfig) -> bool {
    config.production_environments.is_empty()
        || config
            .production_environments
            .iter()
            .any(|e| e == environment)
}

/// Commit SHAs compare case-insensitively, whole string (no short-SHA prefix matching).
fn same_sha(a: &str, b: &str) -> bool {
    !a.is_empty() && a.eq_ignore_ascii_case(b)
}

/// Containment: `change` is contained in `deployment` when the change names no service or the
/// deployment's service, and the deployment's artifact is one built from the change, or the
/// deployment's revision is the change's merge SHA or one of its commit SHAs, or the deployment
/// says it ships the change (`deployment_refs`).
///
/// There is no git graph: a deployment of a later commit does not contain earlier changes
/// unless they are linked to it by artifact or by their own SHAs.
pub fn contains(deployment: &Deployment, change: &Change) -> bool {
    if let Some(service) = &change.service {
        if service != &deployment.service {
            return false;
        }
    }
    let by_artifact = deployment
        .artifact_id
        .as_deref()
        .is_some_and(|a| !a.is_empty() && change.artifact_ids.iter().any(|x| x == a));
    let by_revision = deployment.revision.as_deref().is_some_and(|r| {
        change.merge_sha.as_deref().is_some_and(|m| same_sha(m, r))
            || change.commits.iter().any(|c| same_sha(&c.sha, r))
    });
    by_artifact || by_revision || change.deployment_refs.contains(&deployment.id)
}

/// The first production deployment (by time, ties by id) among `candidates` that contains
/// `change`: where the change counts for lead time.
pub fn first_production_deployment<'a>(
    change: &Change,
    candidates: impl IntoIterator<Item = &'a Deployment>,
    config: &DoraConfig,
) -> Option<&'a Deployment> {
    candidates
        .into_iter()
        .filter(|d| is_production(&d.environment, config) && contains(d, change))
        .min_by_key(|d| d.order_key())
}

/// Which timestamp a change's start came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartSource {
    /// The earliest commit timestamp not after the deployment.
    Commit,
    /// The change's creation (pull/merge request opened).
    Created,
    /// The change's merge.
    Merged,
}

/// The start of a change relative to the deployment that shipped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ChangeStart {
    /// A start at or before the deployment. `skewed_commits` commit timestamps after the
    /// deployment were ignored.
    Start {
        at: DateTime<Utc>,
        source: StartSource,
        skewed_commits: usize,
    },
    /// Every timestamp the change has is after the deployment (clock skew): no lead time.
    ClockSkew { skewed_commits: usize },
    /// The change has no timestamp at all: no lead time.
    NoTimestamp,
}

/// Start of `change` for a deployment at `deployed_at`: the earliest commit timestamp among
/// those not after the deployment; if there is none, `created_at` if not after the deployment;
/// else `merged_at` if not after the deployment. Timestamps after the deployment are clock skew
/// and ignored; if that leaves nothing, the change is [`ChangeStart::ClockSkew`].
pub fn change_start(change: &Change, deployed_at: DateTime<Utc>) -> ChangeStart {
    let skewed_commits = change
        .commits
        .iter()
        .filter(|c| c.at.is_some_and(|at| at > deployed_at))
        .count();
    let not_after = |at: &Option<DateTime<Utc>>| at.filter(|at| *at <= deployed_at);
    if let Some(at) = change.commits.iter().filter_map(|c| not_after(&c.at)).min() {
        return ChangeStart::Start {
            at,
            source: StartSource::Commit,
            skewed_commits,
        };
    }
    if let Some(at) = not_after(&change.created_at) {
        return ChangeStart::Start {
            at,
            source: StartSource::Created,
            skewed_commits,
        };
    }
    if let Some(at) = not_after(&change.merged_at) {
        return ChangeStart::Start {
            at,
            source: StartSource::Merged,
            skewed_commits,
        };
    }
    let any_timestamp =
        skewed_commits > 0 || change.created_at.is_some() || change.merged_at.is_some();
    if any_timestamp {
        ChangeStart::ClockSkew { skewed_commits }
    } else {
        ChangeStart::NoTimestamp
    }
}

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

fn latest<'a>(deployments: impl Iterator<Item = &'a Deployment>) -> Option<&'a Deployment> {
    deployments.max_by_key(|d| d.order_key())
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
    if let Some(artifact) = &incident.artifact_id {
        let found = latest(
            candidates
                .iter()
                .copied()
                .filter(production)
                .filter(same_environment)
                .filter(before)
                .filter(|d| d.artifact_id.as_ref() == Some(artifact)),
        );
        if let Some(d) = found {
            return Attribution::Deployment {
                id: d.id,
                rule: AttributionRule::Artifact,
            };
        }
    }
    if let Some(service) = &incident.service {
        let found = latest(
            candidates
                .iter()
                .copied()
                .filter(production)
                .filter(same_environment)
                .filter(before)
                .filter(|d| &d.service == service)
                .filter(|d| incident.detected_at - d.at <= config.attribution_horizon),
        );
        if let Some(d) = found {
            return Attribution::Deployment {
                id: d.id,
                rule: AttributionRule::ServiceEnvironmentTime,
            };
        }
    }
    Attribution::Unattributed
}

fn same_target(a: &Deployment, b: &Deployment) -> bool {
    a.service == b.service && a.environment == b.environment
}

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

fn open_at(incident: &Incident, at: DateTime<Utc>) -> bool {
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

/// What the linking found about one deployment.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeploymentState {
    pub production: bool,
    /// Changes (indices) this deployment is the first of its service and environment to contain.
    pub shipped: Vec<usize>,
    /// Incidents (indices) attributed to it, by detection then id.
    pub incidents: Vec<usize>,
    /// The rollback (index) that rolled it back.
    pub rolled_back_by: Option<usize>,
    /// The deployment (index) this rollback rolled back.
    pub rolls_back: Option<usize>,
    pub reasons: Vec<InterventionReason>,
    /// Set for production deployments that needed intervention.
    pub recovery: Option<Recovery>,
    pub rework: Option<ReworkReason>,
}

/// What the linking found about one change.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChangeState {
    /// Every deployment (index) containing it, in deployment order.
    pub contained_in: Vec<usize>,
    pub first_production: Option<usize>,
    /// Start relative to the first production deployment.
    pub start: Option<ChangeStart>,
}

/// What the linking found about one incident.
#[derive(Debug, Clone)]
pub(crate) struct IncidentState {
    pub attribution: Attribution,
    pub deployment: Option<usize>,
}

/// Facts with every link resolved, ready for any window. Build once, query many windows.
#[derive(Debug)]
pub struct Linked<'a> {
    pub(crate) facts: &'a DoraFacts,
    pub(crate) config: &'a DoraConfig,
    /// All deployment indices by (time, id).
    pub(crate) ordered: Vec<usize>,
    /// Production deployment indices by (time, id).
    pub(crate) production: Vec<usize>,
    pub(crate) deployments: Vec<DeploymentState>,
    pub(crate) changes: Vec<ChangeState>,
    pub(crate) incidents: Vec<IncidentState>,
    /// Changes (indices) with a first production deployment, by that deployment's (time, id).
    pub(crate) shipped_changes: Vec<usize>,
    /// Incident indices by (detection, id).
    pub(crate) incidents_by_detection: Vec<usize>,
    pub(crate) deployment_by_id: HashMap<i64, usize>,
    pub(crate) change_by_id: HashMap<&'a str, usize>,
    pub(crate) incident_by_id: HashMap<&'a str, usize>,
}

impl<'a> Linked<'a> {
    /// Resolves every link of `facts` under `config`. Deterministic whatever the order of facts.
    pub fn new(facts: &'a DoraFacts, config: &'a DoraConfig) -> Linked<'a> {
        let deps = &facts.deployments;
        let mut ordered: Vec<usize> = (0..deps.len()).collect();
        ordered.sort_by_key(|&i| deps[i].order_key());
        let mut states: Vec<DeploymentState> = deps
            .iter()
            .map(|d| DeploymentState {
                production: is_production(&d.environment, config),
                ..DeploymentState::default()
            })
            .collect();
        let production: Vec<usize> = ordered
            .iter()
            .copied()
            .filter(|&i| states[i].production)
            .collect();

        // Indexes; every list is in deployment order because it is filled from `ordered`.
        let mut deployment_by_id = HashMap::new();
        let mut by_artifact: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut by_revision: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_target: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        let mut production_by_service: HashMap<&str, Vec<usize>> = HashMap::new();
        for &i in &ordered {
            let d = &deps[i];
            deployment_by_id.entry(d.id).or_insert(i);
            if let Some(a) = d.artifact_id.as_deref().filter(|a| !a.is_empty()) {
                by_artifact.entry(a).or_default().push(i);
            }
            if let Some(r) = d.revision.as_deref().filter(|r| !r.is_empty()) {
                by_revision
                    .entry(r.to_ascii_lowercase())
                    .or_default()
                    .push(i);
            }
            by_target
                .entry((d.service.as_str(), d.environment.as_str()))
                .or_default()
                .push(i);
            if states[i].production {
                production_by_service
                    .entry(d.service.as_str())
                    .or_default()
                    .push(i);
            }
        }
        // Position of each deployment in its (service, environment) list.
        let mut target_position = vec![0usize; deps.len()];
        for list in by_target.values() {
            for (position, &i) in list.iter().enumerate() {
                target_position[i] = position;
            }
        }
        fn target_list<'m>(
            map: &'m HashMap<(&'m str, &'m str), Vec<usize>>,
            d: &'m Deployment,
        ) -> &'m [usize] {
            map.get(&(d.service.as_str(), d.environment.as_str()))
                .map(Vec::as_slice)
                .unwrap_or(&[])
        }
        let target_of = |d: &'a Deployment| target_list(&by_target, d);
        let refs =
            |indices: &[usize]| -> Vec<&Deployment> { indices.iter().map(|&i| &deps[i]).collect() };

        // Changes: containment, first production deployment, start.
        let mut change_states = Vec::with_capacity(facts.changes.len());
        let mut shipped_changes = Vec::new();
        for (ci, change) in facts.changes.iter().enumerate() {
            let mut candidates: Vec<usize> = Vec::new();
            for a in &change.artifact_ids {
                if let Some(list) = by_artifact.get(a.as_str()) {
                    candidates.extend(list);
                }
            }
            let shas = change
                .merge_sha
                .iter()
                .chain(change.commits.iter().map(|c| &c.sha));
            for sha in shas {
                if let Some(list) = by_revision.get(&sha.to_ascii_lowercase()) {
                    candidates.extend(list);
                }
            }
            candidates.extend(
                change
                    .deployment_refs
                    .iter()
                    .filter_map(|id| deployment_by_id.get(id)),
            );
            candidates.sort_by_key(|&i| deps[i].order_key());
            candidates.dedup();
            candidates.retain(|&i| contains(&deps[i], change));
            let first =
                first_production_deployment(change, candidates.iter().map(|&i| &deps[i]), config)
                    .and_then(|d| deployment_by_id.get(&d.id).copied());
            // Shipped: the first containing deployment of each (service, environment).
            let mut seen: Vec<(&str, &str)> = Vec::new();
            for &i in &candidates {
                let key = (deps[i].service.as_str(), deps[i].environment.as_str());
                if !seen.contains(&key) {
                    seen.push(key);
                    states[i].shipped.push(ci);
                }
            }
            let start = first.map(|i| change_start(change, deps[i].at));
            if first.is_some() {
                shipped_changes.push(ci);
            }
            change_states.push(ChangeState {
                contained_in: candidates,
                first_production: first,
                start,
            });
        }
        shipped_changes.sort_by_key(|&ci| {
            change_states[ci]
                .first_production
                .map(|i| deps[i].order_key())
        });
        for state in &mut states {
            state
                .shipped
                .sort_by(|&a, &b| facts.changes[a].id.cmp(&facts.changes[b].id));
        }

        // Incidents: attribution.
        let mut incident_states = Vec::with_capacity(facts.incidents.len());
        for incident in &facts.incidents {
            let mut candidates: Vec<&Deployment> = Vec::new();
            if let Some(&i) = incident
                .deployment_ref
                .and_then(|r| deployment_by_id.get(&r))
            {
                candidates.push(&deps[i]);
            }
            let up_to_detection = |list: &[usize]| -> Vec<&Deployment> {
                let end = list.partition_point(|&i| deps[i].at <= incident.detected_at);
                refs(list.get(..end).unwrap_or(&[]))
            };
            if let Some(list) = incident
                .artifact_id
                .as_deref()
                .and_then(|a| by_artifact.get(a))
            {
                candidates.extend(up_to_detection(list));
            }
            if let Some(service) = incident.service.as_deref() {
                let list = match incident.environment.as_deref() {
                    Some(environment) => by_target.get(&(service, environment)),
                    None => production_by_service.get(service),
                };
                if let Some(list) = list {
                    let earliest = incident
                        .detected_at
                        .checked_sub_signed(config.attribution_horizon)
                        .unwrap_or(DateTime::<Utc>::MIN_UTC);
                    let end = list.partition_point(|&i| deps[i].at <= incident.detected_at);
                    let start = list.partition_point(|&i| deps[i].at < earliest).min(end);
                    candidates.extend(refs(list.get(start..end).unwrap_or(&[])));
                }
            }
            let attribution = attribute_incident(incident, &candidates, config);
            let deployment = match attribution {
                Attribution::Deployment { id, .. } => deployment_by_id.get(&id).copied(),
                _ => None,
            };
            incident_states.push(IncidentState {
                attribution,
                deployment,
            });
        }
        let incidents = &facts.incidents;
        let mut incidents_by_detection: Vec<usize> = (0..incidents.len()).collect();
        incidents_by_detection.sort_by(|&a, &b| {
            (incidents[a].detected_at, &incidents[a].id)
                .cmp(&(incidents[b].detected_at, &incidents[b].id))
        });
        for &ii in &incidents_by_detection {
            if let Some(i) = incident_states[ii].deployment {
                states[i].incidents.push(ii);
            }
        }

        // Rollbacks.
        for &r in &production {
            let rollback = &deps[r];
            let position = target_position[r];
            let previous = position
                .checked_sub(1)
                .and_then(|p| target_of(rollback).get(p))
                .map(|&p| &deps[p]);
            let candidates: Vec<&Deployment> = previous.into_iter().collect();
            if let Some(d) = rolled_back_deployment(rollback, &candidates, config) {
                if let Some(&p) = deployment_by_id.get(&d.id) {
                    states[p].rolled_back_by = Some(r);
                    states[r].rolls_back = Some(p);
                }
            }
        }

        // Intervention and recovery.
        for &i in &production {
            let d = &deps[i];
            let reasons = intervention_reasons(
                d,
                states[i].incidents.len(),
                states[i].rolled_back_by.is_some(),
            );
            if reasons.is_empty() {
                continue;
            }
            let attributed: Vec<&Incident> = states[i]
                .incidents
                .iter()
                .map(|&ii| &incidents[ii])
                .collect();
            let later = target_of(d)
                .get(target_position[i] + 1..)
                .unwrap_or(&[])
                .iter()
                .map(|&n| &deps[n])
                .find(|n| !n.failed);
            let candidates: Vec<&Deployment> = later.into_iter().collect();
            states[i].recovery = Some(recovery(d, &attributed, &candidates, config));
            states[i].reasons = reasons;
        }

        // Rework: per (service, environment), sweep deployments in order over incidents in
        // detection order, keeping the incidents open at each deployment in a heap by resolution.
        let mut attributed_by_target: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        for &ii in &incidents_by_detection {
            if let Some(i) = incident_states[ii].deployment {
                attributed_by_target
                    .entry((deps[i].service.as_str(), deps[i].environment.as_str()))
                    .or_default()
                    .push(ii);
            }
        }
        for (target, list) in &by_target {
            let Some(first) = list.first() else { continue };
            if !states[*first].production {
                continue;
            }
            let group_incidents = attributed_by_target
                .get(target)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let mut next_incident = 0;
            // Min-heap by (unresolved, resolved_at): resolved incidents pop in resolution order;
            // unresolved ones stay open forever.
            let mut open: BinaryHeap<Reverse<(bool, DateTime<Utc>, usize)>> = BinaryHeap::new();
            for &i in list {
                let d = &deps[i];
                if d.kind == DeploymentKind::Rolledback {
                    states[i].rework = Some(ReworkReason::Rollback);
                }
                while let Some(&ii) = group_incidents.get(next_incident) {
                    if incidents[ii].detected_at > d.at {
                        break;
                    }
                    let resolved = incidents[ii].resolved_at;
                    open.push(Reverse((
                        resolved.is_none(),
                        resolved.unwrap_or(DateTime::<Utc>::MAX_UTC),
                        ii,
                    )));
                    next_incident += 1;
                }
                while let Some(Reverse((false, resolved, _))) = open.peek() {
                    if *resolved > d.at {
                        break;
                    }
                    open.pop();
                }
                if states[i].rework.is_some() {
                    continue;
                }
                let blame = open
                    .iter()
                    .map(|Reverse((_, _, ii))| *ii)
                    .filter(|&ii| {
                        incident_states[ii]
                            .deployment
                            .is_some_and(|b| deps[b].order_key() < d.order_key())
                            && open_at(&incidents[ii], d.at)
                    })
                    .min_by(|&a, &b| {
                        (incidents[a].detected_at, &incidents[a].id)
                            .cmp(&(incidents[b].detected_at, &incidents[b].id))
                    });
                if let Some(ii) = blame {
                    states[i].rework = Some(ReworkReason::DuringIncident {
                        incident_id: incidents[ii].id.clone(),
                    });
                }
            }
        }

        let change_by_id = facts
            .changes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i))
            .collect();
        let incident_by_id = incidents
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i))
            .collect();
        Linked {
            facts,
            config,
            ordered,
            production,
            deployments: states,
            changes: change_states,
            incidents: incident_states,
            shipped_changes,
            incidents_by_detection,
            deployment_by_id,
            change_by_id,
            incident_by_id,
        }
    }

    /// The configuration the links were made with.
    pub fn config(&self) -> &DoraConfig {
        self.config
    }

    /// The facts the links were made from.
    pub fn facts(&self) -> &DoraFacts {
        self.facts
    }

    /// Change indices whose first production deployment is in `window`.
    pub(crate) fn shipped_in(&self, window: &Window) -> &[usize] {
        in_window(&self.shipped_changes, window, |&ci| {
            self.changes[ci]
                .first_production
                .map(|i| self.facts.deployments[i].at)
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        })
    }

    /// Incident indices detected in `window`.
    pub(crate) fn incidents_detected_in(&self, window: &Window) -> &[usize] {
        in_window(&self.incidents_by_detection, window, |&ii| {
            self.facts.incidents[ii].detected_at
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::dora::testkit::{change, dep, generated, incident, t};
    use chrono::Duration;

    fn prod_only() -> DoraConfig {
        DoraConfig {
            production_environments: vec!["prod".into(), "prod-eu".into()],
            ..DoraConfig::default()
        }
    }

    #[test]
    fn production_filter() {
        let all = DoraConfig::default();
        assert!(is_production("staging", &all));
        assert!(is_production("", &all));
        let config = prod_only();
        assert!(is_production("prod", &config));
        assert!(is_production("prod-eu", &config));
        assert!(!is_production("staging", &config));
        assert!(!is_production("Prod", &config)); // exact, case-sensitive
    }

    #[test]
    fn containment_rules() {
        let d = dep(1, "api", "prod", "2024-01-10T00:00:00Z")
            .art("img:7")
            .rev("ABCDEF");
        // By artifact.
        assert!(contains(&d, &change("c").artifact("img:7")));
        assert!(!contains(&d, &change("c").artifact("img:8")));
        // By merge SHA or a commit SHA, case-insensitively, whole SHA only.
        assert!(contains(&d, &change("c").merge_sha("abcdef")));
        assert!(contains(
            &d,
            &change("c").commit("x", None).commit("abcdef", None)
        ));
        assert!(!contains(&d, &change("c").commit("abcde", None)));
        // Service: must match when the change names one.
        assert!(contains(&d, &change("c").service("api").artifact("img:7")));
        assert!(!contains(&d, &change("c").service("web").artifact("img:7")));
        // No git ancestry: a deployment of a later commit does not contain an earlier change.
        let earlier = change("c0").commit("111111", Some("2024-01-01T00:00:00Z"));
        assert!(!contains(&d, &earlier));
        // Empty identifiers never match.
        let blank = dep(2, "api", "prod", "2024-01-10T00:00:00Z")
            .art("")
            .rev("");
        assert!(!contains(&blank, &change("c").artifact("").merge_sha("")));
    }

    #[test]
    fn first_production_deployment_ties_by_id_and_skips_staging() {
        let deps = [
            dep(9, "api", "prod", "2024-01-05T12:00:00Z").rev("s"),
            dep(4, "api", "prod", "2024-01-05T12:00:00Z").rev("s"),
            dep(1, "api", "staging", "2024-01-01T00:00:00Z").rev("s"),
            dep(2, "web", "prod", "2024-01-02T00:00:00Z").rev("s"),
            dep(3, "api", "prod", "2024-01-06T00:00:00Z").rev("s"),
        ];
        let config = prod_only();
        let c = change("c").service("api").commit("s", None);
        // Staging 1 and the other service's 2 are skipped; 4 and 9 are in the same second: 4.
        assert_eq!(
            first_production_deployment(&c, &deps, &config).map(|d| d.id),
            Some(4)
        );
        // Without a service, web's 2 (Jan 2) is first.
        let c = change("c").commit("s", None);
        assert_eq!(
            first_production_deployment(&c, &deps, &config).map(|d| d.id),
            Some(2)
        );
        // Staging only: no production deployment.
        let staging_only = [dep(1, "api", "staging", "2024-01-01T00:00:00Z").rev("s")];
        assert!(first_production_deployment(&c, &staging_only, &config).is_none());
        // Production filter off: staging counts.
        let all = DoraConfig::default();
        assert_eq!(
            first_production_deployment(&c, &staging_only, &all).map(|d| d.id),
            Some(1)
        );
    }

    #[test]
    fn change_start_tiers_and_skew() {
        let at = t("2024-01-10T12:00:00Z");
        let full = change("c")
            .commit("a", Some("2024-01-10T09:00:00Z"))
            .commit("b", Some("2024-01-10T08:00:00Z"))
            .commit("c", Some("2024-01-10T13:00:00Z"))
            .commit("d", None)
            .created("2024-01-09T00:00:00Z")
            .merged("2024-01-10T11:00:00Z");
        // Earliest commit wins over created (even though created is earlier).
        assert_eq!(
            change_start(&full, at),
            ChangeStart::Start {
                at: t("2024-01-10T08:00:00Z"),
                source: StartSource::Commit,
                skewed_commits: 1
            }
        );
        let created = change("c")
            .created("2024-01-09T00:00:00Z")
            .merged("2024-01-10T00:00:00Z");
        assert_eq!(
            change_start(&created, at),
            ChangeStart::Start {
                at: t("2024-01-09T00:00:00Z"),
                source: StartSource::Created,
                skewed_commits: 0
            }
        );
        let merged = change("c").commit("x", None).merged("2024-01-10T00:00:00Z");
        assert!(matches!(
            change_start(&merged, at),
            ChangeStart::Start {
                source: StartSource::Merged,
                ..
            }
        ));
        // A commit exactly at the deployment time is not skew: lead time 0.
        let same = change("c").commit("x", Some("2024-01-10T12:00:00Z"));
        assert!(matches!(change_start(&same, at), ChangeStart::Start { at: s, .. } if s == at));
        // Everything after the deployment: clock skew.
        let skewed = change("c")
            .commit("x", Some("2024-01-10T12:00:01Z"))
            .created("2024-01-10T12:30:00Z");
        assert_eq!(
            change_start(&skewed, at),
            ChangeStart::ClockSkew { skewed_commits: 1 }
        );
        assert_eq!(
            change_start(&change("c").commit("x", None), at),
            ChangeStart::NoTimestamp
        );
    }

    fn attribute(incident: &Incident, deps: &[Deployment], config: &DoraConfig) -> Attribution {
        let refs: Vec<&Deployment> = deps.iter().collect();
        attribute_incident(incident, &refs, config)
    }

    #[test]
    fn attribution_rules_in_order() {
        let deps = [
            dep(1, "api", "prod", "2024-01-01T00:00:00Z").art("v1"),
            dep(2, "api", "prod", "2024-01-03T00:00:00Z").art("v2"),
            dep(3, "api", "prod-eu", "2024-01-04T00:00:00Z").art("v1"),
            dep(4, "api", "staging", "2024-01-04T12:00:00Z").art("v1"),
            dep(5, "web", "prod", "2024-01-04T00:00:00Z"),
        ];
        let config = prod_only();
        let by = |id, rule| Attribution::Deployment { id, rule };
        let base = incident("i", "api", "prod", "2024-01-05T00:00:00Z");
        // Rule 4 (time): latest api/prod at or before detection: 2.
        assert_eq!(
            attribute(&base, &deps, &config),
            by(2, AttributionRule::ServiceEnvironmentTime)
        );
        // Rule 3 (artifact) wins over time: v1 in prod -> 1 (3 is prod-eu, 4 is staging).
        let art = base.clone().art("v1");
        assert_eq!(
            attribute(&art, &deps, &config),
            by(1, AttributionRule::Artifact)
        );
        // Without an environment the artifact rule takes any production environment: 3.
        assert_eq!(
            attribute(&art.clone().no_environment(), &deps, &config),
            by(3, AttributionRule::Artifact)
        );
        // Rule 1 (reference) wins over everything.
        assert_eq!(
            attribute(&art.clone().names(5), &deps, &config),
            by(5, AttributionRule::DeploymentRef)
        );
        // Reference to a staging deployment: non-production incident.
        assert_eq!(
            attribute(&base.clone().names(4), &deps, &config),
            Attribution::NonProduction
        );
        // Reference to an unknown deployment falls through to the other rules.
        assert_eq!(
            attribute(&base.clone().names(99), &deps, &config),
            by(2, AttributionRule::ServiceEnvironmentTime)
        );
        // An artifact deployed only after detection falls through to time.
        let later_artifact = incident("i", "api", "prod", "2024-01-02T00:00:00Z").art("v2");
        assert_eq!(
            attribute(&later_artifact, &deps, &config),
            by(1, AttributionRule::ServiceEnvironmentTime)
        );
        // Staging incident: non-production.
        let staging = incident("i", "api", "staging", "2024-01-05T00:00:00Z");
        assert_eq!(
            attribute(&staging, &deps, &config),
            Attribution::NonProduction
        );
        // No environment: latest api deployment in any production environment: 3 (prod-eu).
        assert_eq!(
            attribute(&base.clone().no_environment(), &deps, &config),
            by(3, AttributionRule::ServiceEnvironmentTime)
        );
        // No service and nothing else: unattributed. Unknown service: unattributed.
        assert_eq!(
            attribute(&base.clone().no_service(), &deps, &config),
            Attribution::Unattributed
        );
        let other = incident("i", "mobile", "prod", "2024-01-05T00:00:00Z");
        assert_eq!(attribute(&other, &deps, &config), Attribution::Unattributed);
        // Before any deployment: unattributed.
        let early = incident("i", "api", "prod", "2023-12-31T00:00:00Z");
        assert_eq!(attribute(&early, &deps, &config), Attribution::Unattributed);
    }

    #[test]
    fn attribution_horizon_is_inclusive() {
        let deps = [dep(1, "api", "prod", "2024-01-01T00:00:00Z")];
        let config = DoraConfig::default();
        // Exactly 7 days later: attributed.
        let at_horizon = incident("i", "api", "prod", "2024-01-08T00:00:00Z");
        assert!(matches!(
            attribute(&at_horizon, &deps, &config),
            Attribution::Deployment { id: 1, .. }
        ));
        // One second more: unattributed.
        let past = incident("i", "api", "prod", "2024-01-08T00:00:01Z");
        assert_eq!(attribute(&past, &deps, &config), Attribution::Unattributed);
        // A longer horizon brings it back.
        let long = DoraConfig {
            attribution_horizon: Duration::days(8),
            ..DoraConfig::default()
        };
        assert!(matches!(
            attribute(&past, &deps, &long),
            Attribution::Deployment { id: 1, .. }
        ));
        // Detected in the same second as the deployment: attributed (at or before).
        let same = incident("i", "api", "prod", "2024-01-01T00:00:00Z");
        assert!(matches!(
            attribute(&same, &deps, &config),
            Attribution::Deployment { id: 1, .. }
        ));
    }

    #[test]
    fn attribution_tie_takes_the_higher_id() {
        let deps = [
            dep(8, "api", "prod", "2024-01-01T00:00:00Z"),
            dep(7, "api", "prod", "2024-01-01T00:00:00Z"),
        ];
        let i = incident("i", "api", "prod", "2024-01-01T01:00:00Z");
        assert!(matches!(
            attribute(&i, &deps, &DoraConfig::default()),
            Attribution::Deployment { id: 8, .. }
        ));
    }

    #[test]
    fn rollback_predecessor() {
        let d1 = dep(1, "api", "prod", "2024-01-01T00:00:00Z");
        let d2 = dep(2, "api", "prod", "2024-01-02T00:00:00Z");
        let d3 = dep(3, "api", "staging", "2024-01-02T12:00:00Z");
        let r = dep(4, "api", "prod", "2024-01-03T00:00:00Z").rollback();
        let config = prod_only();
        let all = [&d1, &d2, &d3, &r];
        assert_eq!(
            rolled_back_deployment(&r, &all, &config).map(|d| d.id),
            Some(2)
        );
        assert_eq!(rolled_back_deployment(&d2, &all, &config), None); // not a rollback
        let first = [&r];
        assert_eq!(rolled_back_deployment(&r, &first, &config), None); // nothing before
        let staging_rb = dep(5, "api", "staging", "2024-01-03T00:00:00Z").rollback();
        assert_eq!(rolled_back_deployment(&staging_rb, &all, &config), None);
        // Same second as its predecessor: ordered by id.
        let tie = dep(6, "api", "prod", "2024-01-02T00:00:00Z").rollback();
        assert_eq!(
            rolled_back_deployment(&tie, &all, &config).map(|d| d.id),
            Some(2)
        );
    }

    #[test]
    fn intervention_reasons_listed_in_order() {
        let d = dep(1, "api", "prod", "2024-01-01T00:00:00Z");
        assert!(intervention_reasons(&d, 0, false).is_empty());
        assert_eq!(
            intervention_reasons(&d.clone().failed(), 2, true),
            vec![
                InterventionReason::Incident,
                InterventionReason::RolledBack,
                InterventionReason::FailedRollout
            ]
        );
    }

    #[test]
    fn recovery_rules() {
        let config = DoraConfig::default();
        let failed = dep(1, "api", "prod", "2024-01-01T00:00:00Z").failed();
        let also_failed = dep(2, "api", "prod", "2024-01-01T01:00:00Z").failed();
        let other_env = dep(3, "api", "staging", "2024-01-01T01:30:00Z");
        let good = dep(4, "api", "prod", "2024-01-01T02:00:00Z");
        let later_good = dep(5, "api", "prod", "2024-01-01T03:00:00Z");
        let candidates = [&failed, &also_failed, &other_env, &good, &later_good];
        assert_eq!(
            recovery(&failed, &[], &candidates, &config),
            Recovery::Recovered {
                started_at: t("2024-01-01T00:00:00Z"),
                recovered_at: t("2024-01-01T02:00:00Z"),
                seconds: 7_200,
                by: RecoveredBy::Deployment { deployment_id: 4 },
            }
        );
        assert_eq!(
            recovery(&later_good, &[], &candidates, &config),
            Recovery::Open {
                started_at: t("2024-01-01T03:00:00Z")
            }
        );
        let i1 =
            incident("i1", "api", "prod", "2024-01-01T00:10:00Z").resolved("2024-01-01T00:40:00Z");
        let i2 =
            incident("i2", "api", "prod", "2024-01-01T00:20:00Z").resolved("2024-01-01T00:30:00Z");
        assert_eq!(
            recovery(&failed, &[&i2, &i1], &candidates, &config),
            Recovery::Recovered {
                started_at: t("2024-01-01T00:10:00Z"),
                recovered_at: t("2024-01-01T00:40:00Z"),
                seconds: 1_800,
                by: RecoveredBy::IncidentsResolved,
            }
        );
        let open = incident("i3", "api", "prod", "2024-01-01T00:05:00Z");
        assert_eq!(
            recovery(&failed, &[&i1, &open], &candidates, &config),
            Recovery::Open {
                started_at: t("2024-01-01T00:05:00Z")
            }
        );
    }

    #[test]
    fn rework_rules() {
        let config = prod_only();
        let blamed = dep(1, "api", "prod", "2024-01-01T00:00:00Z");
        let i =
            incident("i", "api", "prod", "2024-01-01T01:00:00Z").resolved("2024-01-01T03:00:00Z");
        let pairs = [(&i, &blamed)];
        let at = |s: &str| dep(2, "api", "prod", s);
        assert_eq!(
            rework_reason(&at("2024-01-01T00:30:00Z"), &pairs, &config),
            None
        );
        assert_eq!(
            rework_reason(&at("2024-01-01T01:00:00Z"), &pairs, &config),
            Some(ReworkReason::DuringIncident {
                incident_id: "i".into()
            })
        );
        assert_eq!(
            rework_reason(&at("2024-01-01T03:00:00Z"), &pairs, &config),
            None
        );
        // Other environment or service: not rework.
        let eu = dep(2, "api", "prod-eu", "2024-01-01T02:00:00Z");
        assert_eq!(rework_reason(&eu, &pairs, &config), None);
        // Staging is never rework, even a rollback.
        let stg = dep(2, "api", "staging", "2024-01-01T02:00:00Z").rollback();
        assert_eq!(rework_reason(&stg, &pairs, &config), None);
        // A rollback is rework with no incident at all.
        let rb = dep(3, "api", "prod", "2024-01-05T00:00:00Z").rollback();
        assert_eq!(
            rework_reason(&rb, &[], &config),
            Some(ReworkReason::Rollback)
        );
        // The blamed deployment itself is not rework for its own incident.
        let self_blamed = dep(1, "api", "prod", "2024-01-01T02:00:00Z");
        let pairs = [(&i, &self_blamed)];
        assert_eq!(rework_reason(&self_blamed, &pairs, &config), None);
    }

    #[test]
    fn indexed_linking_matches_the_naive_rules() {
        for seed in 1..=20 {
            let facts = generated(seed);
            for config in [prod_only(), DoraConfig::default()] {
                let linked = Linked::new(&facts, &config);
                let all: Vec<&Deployment> = facts.deployments.iter().collect();
                let id_of = |i: Option<usize>| i.map(|i| facts.deployments[i].id);
                for (ci, c) in facts.changes.iter().enumerate() {
                    let naive =
                        first_production_deployment(c, &facts.deployments, &config).map(|d| d.id);
                    assert_eq!(
                        id_of(linked.changes[ci].first_production),
                        naive,
                        "seed {seed} change {ci}"
                    );
                }
                let mut pairs = Vec::new();
                for (ii, i) in facts.incidents.iter().enumerate() {
                    let naive = attribute_incident(i, &all, &config);
                    assert_eq!(
                        linked.incidents[ii].attribution, naive,
                        "seed {seed} incident {ii}"
                    );
                    if let Attribution::Deployment { id, .. } = naive {
                        let d = facts.deployments.iter().find(|d| d.id == id).unwrap();
                        pairs.push((i, d));
                    }
                }
                for (di, d) in facts.deployments.iter().enumerate() {
                    let state = &linked.deployments[di];
                    assert_eq!(
                        state.rework,
                        rework_reason(d, &pairs, &config),
                        "seed {seed} dep {}",
                        d.id
                    );
                    let naive_rb = rolled_back_deployment(d, &all, &config).map(|p| p.id);
                    assert_eq!(
                        id_of(state.rolls_back),
                        naive_rb,
                        "seed {seed} dep {}",
                        d.id
                    );
                    let attributed: Vec<&Incident> = pairs
                        .iter()
                        .filter(|(_, b)| b.id == d.id)
                        .map(|(i, _)| *i)
                        .collect();
                    let rolled_back = facts.deployments.iter().any(|r| {
                        rolled_back_deployment(r, &all, &config).is_some_and(|p| p.id == d.id)
                    });
                    let reasons = if state.production {
                        intervention_reasons(d, attributed.len(), rolled_back)
                    } else {
                        Vec::new()
                    };
                    assert_eq!(state.reasons, reasons, "seed {seed} dep {}", d.id);
                    let naive_recovery =
                        (!reasons.is_empty()).then(|| recovery(d, &attributed, &all, &config));
                    assert_eq!(state.recovery, naive_recovery, "seed {seed} dep {}", d.id);
                }
            }
        }
    }
}
