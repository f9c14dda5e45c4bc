//! What a links pass must link again (`crate::linker`): the keys of new observations, the
//! changes and incidents new deployments can change, the fold groups of changes, and the
//! deployment ranges around new deployments.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use dora_store::{DeploymentRecord, Neighbour, OrderKey, StoreError};

use super::{bounded, far_future, far_past, order_key, Linker, Pass, Range};
use crate::observation::{FactKind, Observed};

/// The `link_keys` of one observation: a change's SHAs, artifact and named deployment; an
/// incident's named deployment.
pub(super) fn observation_keys(observed: &Observed, out: &mut Vec<(String, String)>) {
    let id = &observed.fact_id;
    let observation = &observed.observation;
    let named = |text: Option<&str>| text.filter(|v| !v.is_empty()).map(str::to_owned);
    match observation.kind() {
        FactKind::Change => {
            let shas = observation
                .commits()
                .into_iter()
                .map(|c| c.sha)
                .chain(named(observation.merge_sha()));
            for sha in shas.filter(|sha| !sha.is_empty()) {
                out.push((format!("s:{}", sha.to_ascii_lowercase()), id.clone()));
            }
            if let Some(artifact) = named(observation.artifact_id()) {
                out.push((format!("a:{artifact}"), id.clone()));
            }
            if let Some(deployment) = named(observation.deployment()) {
                out.push((format!("r:{deployment}"), id.clone()));
            }
        }
        FactKind::Incident => {
            if let Some(deployment) = named(observation.deployment()) {
                out.push((format!("i:{deployment}"), id.clone()));
            }
        }
    }
}

/// CDEvent ids of deployments the observations name.
pub(super) fn named_deployments(observed: &[Observed]) -> Vec<String> {
    let names: BTreeSet<&str> = observed
        .iter()
        .filter_map(|o| o.observation.deployment())
        .collect();
    names.into_iter().map(str::to_owned).collect()
}
impl Linker {
    /// Changes and incidents new deployments can change: those naming them, sharing their
    /// revision or artifact, or detected after them within reach of the attribution rules.
    pub(super) async fn touched_by_new_deployments(
        &self,
        deployments: &[DeploymentRecord],
        pass: &mut Pass,
        changes: &mut BTreeSet<String>,
        incidents: &mut BTreeSet<String>,
    ) -> Result<(), StoreError> {
        if deployments.is_empty() {
            return Ok(());
        }
        let mut keys = BTreeSet::new();
        for d in deployments {
            if let Some(revision) = d.revision.as_deref().filter(|r| !r.is_empty()) {
                keys.insert(format!("s:{}", revision.to_ascii_lowercase()));
            }
            if let Some(artifact) = d.artifact_id.as_deref().filter(|a| !a.is_empty()) {
                keys.insert(format!("a:{artifact}"));
            }
            keys.insert(format!("r:{}", d.cdevent_id));
            keys.insert(format!("i:{}", d.cdevent_id));
        }
        let keys: Vec<String> = keys.into_iter().collect();
        let stored = self.store.facts_with_keys(&keys).await?;
        let wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
        let fresh = pass
            .writes
            .keys
            .iter()
            .filter(|(key, _)| wanted.contains(key.as_str()));
        for (key, id) in stored.iter().chain(fresh) {
            if key.starts_with("i:") {
                incidents.insert(id.clone());
            } else {
                changes.insert(id.clone());
            }
        }
        // Incidents the time and artifact rules could now blame on a new deployment.
        let horizon = self.config.attribution_horizon;
        let services: BTreeSet<String> = deployments.iter().map(|d| d.service.clone()).collect();
        let artifacts: BTreeSet<String> = deployments
            .iter()
            .filter_map(|d| d.artifact_id.clone())
            .collect();
        let earliest = deployments.iter().map(|d| d.deployed_at).min();
        let latest = deployments.iter().map(|d| d.deployed_at).max();
        let (Some(earliest), Some(latest)) = (earliest, latest) else {
            return Ok(());
        };
        let services: Vec<String> = services.into_iter().collect();
        let artifacts: Vec<String> = artifacts.into_iter().collect();
        let near = self
            .store
            .incidents_near(
                &services,
                bounded(earliest),
                bounded(
                    latest
                        .checked_add_signed(horizon)
                        .unwrap_or_else(far_future),
                ),
                &artifacts,
            )
            .await?;
        for incident in near {
            let reachable = deployments.iter().any(|d| {
                let after = d.deployed_at <= incident.detected_at;
                let by_service = incident.service.as_deref() == Some(d.service.as_str())
                    && after
                    && incident.detected_at - d.deployed_at <= horizon;
                let by_artifact =
                    d.artifact_id.is_some() && incident.artifact_id == d.artifact_id && after;
                by_service || by_artifact
            });
            if reachable {
                incidents.insert(incident.incident_id);
            }
        }
        Ok(())
    }

    /// Every change sharing a SHA with `changes`, transitively: the groups folding decides on.
    pub(super) async fn fold_groups(
        &self,
        changes: BTreeSet<String>,
        fresh_keys: &[(String, String)],
    ) -> Result<BTreeSet<String>, StoreError> {
        let mut group = changes;
        let mut frontier: Vec<String> = group.iter().cloned().collect();
        let mut seen_keys: HashSet<String> = HashSet::new();
        while !frontier.is_empty() {
            let in_frontier: HashSet<&str> = frontier.iter().map(String::as_str).collect();
            let mut shas: Vec<String> = self
                .store
                .keys_of_facts(&frontier)
                .await?
                .into_iter()
                .chain(
                    fresh_keys
                        .iter()
                        .filter(|(_, id)| in_frontier.contains(id.as_str()))
                        .cloned(),
                )
                .filter(|(key, _)| key.starts_with("s:"))
                .map(|(key, _)| key)
                .filter(|key| seen_keys.insert(key.clone()))
                .collect();
            shas.sort();
            shas.dedup();
            let wanted: HashSet<&str> = shas.iter().map(String::as_str).collect();
            let sharing = self.store.facts_with_keys(&shas).await?.into_iter().chain(
                fresh_keys
                    .iter()
                    .filter(|(key, _)| wanted.contains(key.as_str()))
                    .cloned(),
            );
            frontier = sharing
                .map(|(_, id)| id)
                .filter(|id| group.insert(id.clone()))
                .collect();
        }
        Ok(group)
    }

    /// The deployments new deployments can change: from the last one before each whose rollout
    /// did not fail to the one after it. Many new deployments of one service and environment (a
    /// bulk load, a backfill) make one range, from before the first to after the last, rather
    /// than two lookups each.
    pub(super) async fn ranges_around(
        &self,
        deployments: &[DeploymentRecord],
        pass: &mut Pass,
    ) -> Result<(), StoreError> {
        /// Up to this many new deployments of a service and environment are ranged one by one.
        const ONE_BY_ONE: usize = 8;
        let mut by_target: BTreeMap<(&str, &str), Vec<OrderKey>> = BTreeMap::new();
        for d in deployments {
            by_target
                .entry((d.service.as_str(), d.environment.as_str()))
                .or_default()
                .push(order_key(d));
        }
        for ((service, environment), mut keys) in by_target {
            keys.sort_unstable();
            let spans: Vec<(OrderKey, OrderKey)> = match (keys.first(), keys.last()) {
                (Some(&first), Some(&last)) if keys.len() > ONE_BY_ONE => vec![(first, last)],
                _ => keys.iter().map(|&key| (key, key)).collect(),
            };
            for (first, last) in spans {
                let from = self
                    .store
                    .target_neighbour(service, environment, first, Neighbour::Before, true)
                    .await?
                    .map_or((far_past(), i64::MIN), |p| order_key(&p));
                let next = self
                    .store
                    .target_neighbour(service, environment, last, Neighbour::After, false)
                    .await?;
                let until = next.map_or(last, |n| order_key(&n));
                pass.range(
                    service,
                    environment,
                    Range {
                        from,
                        until: Some(until),
                    },
                );
            }
        }
        Ok(())
    }
}
