//! [`Linked`]: every linking rule (`crate::dora::linking`) applied to a whole [`DoraFacts`] once,
//! with indexes that narrow each rule's candidates so that the cost stays `O(n log n)`; the keys
//! then read it for any window.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use chrono::{DateTime, Utc};

use super::super::facts::{Change, Deployment, DeploymentKind, DoraConfig, DoraFacts, Incident};
use super::super::window::{in_window, Window};
use super::attribution::{attribute_incident, Attribution};
use super::intervention::{
    intervention_reasons, recovery, rolled_back_deployment, InterventionReason, Recovery,
};
use super::lead_time::{change_start, contains, first_production_deployment, ChangeStart};
use super::rework::open_at;
use super::rework::ReworkReason;
use super::targets::is_production;

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

/// Indexes of the deployments that narrow each rule's candidates. Every list is in deployment
/// order (by time, ties by id), because it is filled in that order.
struct DeploymentIndex<'a> {
    deps: &'a [Deployment],
    /// All deployment indices by (time, id).
    ordered: Vec<usize>,
    by_id: HashMap<i64, usize>,
    by_artifact: HashMap<&'a str, Vec<usize>>,
    /// By lowercase revision.
    by_revision: HashMap<String, Vec<usize>>,
    /// By service and environment.
    by_target: HashMap<(&'a str, &'a str), Vec<usize>>,
    production_by_service: HashMap<&'a str, Vec<usize>>,
    /// Position of each deployment in its (service, environment) list.
    target_position: Vec<usize>,
}

impl<'a> DeploymentIndex<'a> {
    fn new(deps: &'a [Deployment], production: &[bool]) -> Self {
        let mut ordered: Vec<usize> = (0..deps.len()).collect();
        ordered.sort_by_key(|&i| deps[i].order_key());
        let mut index = DeploymentIndex {
            deps,
            ordered: Vec::new(),
            by_id: HashMap::new(),
            by_artifact: HashMap::new(),
            by_revision: HashMap::new(),
            by_target: HashMap::new(),
            production_by_service: HashMap::new(),
            target_position: vec![0; deps.len()],
        };
        for &i in &ordered {
            let d = &deps[i];
            index.by_id.entry(d.id).or_insert(i);
            if let Some(a) = d.artifact_id.as_deref().filter(|a| !a.is_empty()) {
                index.by_artifact.entry(a).or_default().push(i);
            }
            if let Some(r) = d.revision.as_deref().filter(|r| !r.is_empty()) {
                let list = index.by_revision.entry(r.to_ascii_lowercase()).or_default();
                list.push(i);
            }
            let target = (d.service.as_str(), d.environment.as_str());
            index.by_target.entry(target).or_default().push(i);
            if production[i] {
                let list = index.production_by_service.entry(&d.service).or_default();
                list.push(i);
            }
        }
        for list in index.by_target.values() {
            for (position, &i) in list.iter().enumerate() {
                index.target_position[i] = position;
            }
        }
        index.ordered = ordered;
        index
    }

    /// The deployments of `d`'s service and environment, in order.
    fn target_of<'s>(&'s self, d: &'s Deployment) -> &'s [usize] {
        // Keys borrowed for as long as `d` (the map is covariant in them).
        let by_target: &'s HashMap<(&'s str, &'s str), Vec<usize>> = &self.by_target;
        by_target
            .get(&(d.service.as_str(), d.environment.as_str()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The deployments (indices, in order) containing `change`.
    fn containing(&self, change: &Change) -> Vec<usize> {
        let deps = self.deps;
        let mut candidates: Vec<usize> = Vec::new();
        for a in &change.artifact_ids {
            if let Some(list) = self.by_artifact.get(a.as_str()) {
                candidates.extend(list);
            }
        }
        let shas = change
            .merge_sha
            .iter()
            .chain(change.commits.iter().map(|c| &c.sha));
        for sha in shas {
            if let Some(list) = self.by_revision.get(&sha.to_ascii_lowercase()) {
                candidates.extend(list);
            }
        }
        let refs = change.deployment_refs.iter();
        candidates.extend(refs.filter_map(|id| self.by_id.get(id)));
        candidates.sort_by_key(|&i| deps[i].order_key());
        candidates.dedup();
        candidates.retain(|&i| contains(&deps[i], change));
        candidates
    }

    /// The deployments an attribution rule can pick for `incident`: the one it names, those of
    /// its artifact up to its detection, and those of its service (and environment) within the
    /// horizon before it.
    fn blame_candidates(&self, incident: &Incident, config: &DoraConfig) -> Vec<&'a Deployment> {
        let deps = self.deps;
        let refs = |indices: &[usize]| indices.iter().map(|&i| &deps[i]).collect::<Vec<_>>();
        let up_to_detection = |list: &[usize]| {
            let end = list.partition_point(|&i| deps[i].at <= incident.detected_at);
            refs(list.get(..end).unwrap_or(&[]))
        };
        let mut candidates: Vec<&Deployment> = Vec::new();
        if let Some(&i) = incident.deployment_ref.and_then(|r| self.by_id.get(&r)) {
            candidates.push(&deps[i]);
        }
        let artifact = incident.artifact_id.as_deref();
        if let Some(list) = artifact.and_then(|a| self.by_artifact.get(a)) {
            candidates.extend(up_to_detection(list));
        }
        if let Some(service) = incident.service.as_deref() {
            let list = match incident.environment.as_deref() {
                Some(environment) => self.by_target.get(&(service, environment)),
                None => self.production_by_service.get(service),
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
        candidates
    }
}

/// Incident indices by (detection, id).
fn by_detection(incidents: &[Incident]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..incidents.len()).collect();
    order.sort_by(|&a, &b| {
        (incidents[a].detected_at, &incidents[a].id)
            .cmp(&(incidents[b].detected_at, &incidents[b].id))
    });
    order
}

/// Changes: containment, first production deployment, start; and which deployment ships each
/// first in its service and environment. Returns the changes' states and the shipped changes in
/// the order of their first production deployment.
fn link_changes(
    facts: &DoraFacts,
    config: &DoraConfig,
    index: &DeploymentIndex<'_>,
    states: &mut [DeploymentState],
) -> (Vec<ChangeState>, Vec<usize>) {
    let deps = &facts.deployments;
    let mut change_states = Vec::with_capacity(facts.changes.len());
    let mut shipped_changes = Vec::new();
    for (ci, change) in facts.changes.iter().enumerate() {
        let candidates = index.containing(change);
        let first =
            first_production_deployment(change, candidates.iter().map(|&i| &deps[i]), config)
                .and_then(|d| index.by_id.get(&d.id).copied());
        // Shipped: the first containing deployment of each (service, environment).
        let mut seen: Vec<(&str, &str)> = Vec::new();
        for &i in &candidates {
            let key = (deps[i].service.as_str(), deps[i].environment.as_str());
            if !seen.contains(&key) {
                seen.push(key);
                states[i].shipped.push(ci);
            }
        }
        if first.is_some() {
            shipped_changes.push(ci);
        }
        change_states.push(ChangeState {
            contained_in: candidates,
            first_production: first,
            start: first.map(|i| change_start(change, deps[i].at)),
        });
    }
    shipped_changes.sort_by_key(|&ci| {
        change_states[ci]
            .first_production
            .map(|i| deps[i].order_key())
    });
    for state in states.iter_mut() {
        state
            .shipped
            .sort_by(|&a, &b| facts.changes[a].id.cmp(&facts.changes[b].id));
    }
    (change_states, shipped_changes)
}

/// Incidents: the deployment each is blamed on.
fn attribute_incidents(
    facts: &DoraFacts,
    config: &DoraConfig,
    index: &DeploymentIndex<'_>,
) -> Vec<IncidentState> {
    facts
        .incidents
        .iter()
        .map(|incident| {
            let candidates = index.blame_candidates(incident, config);
            let attribution = attribute_incident(incident, &candidates, config);
            let deployment = match attribution {
                Attribution::Deployment { id, .. } => index.by_id.get(&id).copied(),
                _ => None,
            };
            IncidentState {
                attribution,
                deployment,
            }
        })
        .collect()
}

/// Rollbacks: each production rollback and the deployment before it that it rolled back.
fn link_rollbacks(
    config: &DoraConfig,
    index: &DeploymentIndex<'_>,
    production: &[usize],
    states: &mut [DeploymentState],
) {
    let deps = index.deps;
    for &r in production {
        let rollback = &deps[r];
        let previous = index.target_position[r]
            .checked_sub(1)
            .and_then(|p| index.target_of(rollback).get(p))
            .map(|&p| &deps[p]);
        let candidates: Vec<&Deployment> = previous.into_iter().collect();
        if let Some(d) = rolled_back_deployment(rollback, &candidates, config) {
            if let Some(&p) = index.by_id.get(&d.id) {
                states[p].rolled_back_by = Some(r);
                states[r].rolls_back = Some(p);
            }
        }
    }
}

/// Intervention and recovery of each production deployment (after incidents and rollbacks).
fn link_interventions(
    facts: &DoraFacts,
    config: &DoraConfig,
    index: &DeploymentIndex<'_>,
    production: &[usize],
    states: &mut [DeploymentState],
) {
    let deps = index.deps;
    for &i in production {
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
            .map(|&ii| &facts.incidents[ii])
            .collect();
        let later = index
            .target_of(d)
            .get(index.target_position[i] + 1..)
            .unwrap_or(&[])
            .iter()
            .map(|&n| &deps[n])
            .find(|n| !n.failed);
        let candidates: Vec<&Deployment> = later.into_iter().collect();
        states[i].recovery = Some(recovery(d, &attributed, &candidates, config));
        states[i].reasons = reasons;
    }
}

/// Rework: per (service, environment), sweep deployments in order over incidents in detection
/// order, keeping the incidents open at each deployment in a heap by resolution.
fn link_rework(
    incidents: &[Incident],
    index: &DeploymentIndex<'_>,
    incident_states: &[IncidentState],
    incidents_by_detection: &[usize],
    states: &mut [DeploymentState],
) {
    let deps = index.deps;
    let mut attributed_by_target: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    for &ii in incidents_by_detection {
        if let Some(i) = incident_states[ii].deployment {
            attributed_by_target
                .entry((deps[i].service.as_str(), deps[i].environment.as_str()))
                .or_default()
                .push(ii);
        }
    }
    for (target, list) in &index.by_target {
        let Some(first) = list.first() else { continue };
        if !states[*first].production {
            continue;
        }
        let blamed = attributed_by_target
            .get(target)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let sweep = ReworkSweep {
            deps,
            incidents,
            incident_states,
        };
        sweep.run(list, blamed, states);
    }
}

/// The rework sweep over one service and environment.
struct ReworkSweep<'s> {
    deps: &'s [Deployment],
    incidents: &'s [Incident],
    incident_states: &'s [IncidentState],
}

impl ReworkSweep<'_> {
    /// `list`: the deployments in order; `blamed`: the incidents attributed to them, by detection.
    fn run(&self, list: &[usize], blamed: &[usize], states: &mut [DeploymentState]) {
        let incidents = self.incidents;
        let mut next_incident = 0;
        // Min-heap by (unresolved, resolved_at): resolved incidents pop in resolution order;
        // unresolved ones stay open forever.
        let mut open: BinaryHeap<Reverse<(bool, DateTime<Utc>, usize)>> = BinaryHeap::new();
        for &i in list {
            let d = &self.deps[i];
            if d.kind == DeploymentKind::Rolledback {
                states[i].rework = Some(ReworkReason::Rollback);
            }
            while let Some(&ii) = blamed.get(next_incident) {
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
            if let Some(ii) = self.earliest_open_blame(&open, d) {
                states[i].rework = Some(ReworkReason::DuringIncident {
                    incident_id: incidents[ii].id.clone(),
                });
            }
        }
    }

    /// The earliest detected incident (ties by id) open at `d` and blamed on an earlier
    /// deployment.
    fn earliest_open_blame(
        &self,
        open: &BinaryHeap<Reverse<(bool, DateTime<Utc>, usize)>>,
        d: &Deployment,
    ) -> Option<usize> {
        let incidents = self.incidents;
        open.iter()
            .map(|Reverse((_, _, ii))| *ii)
            .filter(|&ii| {
                self.incident_states[ii]
                    .deployment
                    .is_some_and(|b| self.deps[b].order_key() < d.order_key())
                    && open_at(&incidents[ii], d.at)
            })
            .min_by(|&a, &b| {
                (incidents[a].detected_at, &incidents[a].id)
                    .cmp(&(incidents[b].detected_at, &incidents[b].id))
            })
    }
}

impl<'a> Linked<'a> {
    /// Resolves every link of `facts` under `config`. Deterministic whatever the order of facts.
    pub fn new(facts: &'a DoraFacts, config: &'a DoraConfig) -> Linked<'a> {
        let deps = &facts.deployments;
        let mut states: Vec<DeploymentState> = deps
            .iter()
            .map(|d| DeploymentState {
                production: is_production(&d.environment, config),
                ..DeploymentState::default()
            })
            .collect();
        let flags: Vec<bool> = states.iter().map(|s| s.production).collect();
        let index = DeploymentIndex::new(deps, &flags);
        let production: Vec<usize> = index
            .ordered
            .iter()
            .copied()
            .filter(|&i| states[i].production)
            .collect();
        let (change_states, shipped_changes) = link_changes(facts, config, &index, &mut states);
        let incident_states = attribute_incidents(facts, config, &index);
        let incidents_by_detection = by_detection(&facts.incidents);
        for &ii in &incidents_by_detection {
            if let Some(i) = incident_states[ii].deployment {
                states[i].incidents.push(ii);
            }
        }
        link_rollbacks(config, &index, &production, &mut states);
        link_interventions(facts, config, &index, &production, &mut states);
        link_rework(
            &facts.incidents,
            &index,
            &incident_states,
            &incidents_by_detection,
            &mut states,
        );
        let change_by_id = facts
            .changes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i))
            .collect();
        let incident_by_id = facts
            .incidents
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.as_str(), i))
            .collect();
        Linked {
            facts,
            config,
            ordered: index.ordered,
            production,
            deployments: states,
            changes: change_states,
            incidents: incident_states,
            shipped_changes,
            incidents_by_detection,
            deployment_by_id: index.by_id,
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
