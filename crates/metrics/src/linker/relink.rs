//! Linking again what a pass found (`crate::linker`): changes and incidents with the
//! deployments their rules can pick, then each range of deployments; only rows that differ from
//! the stored ones are written.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use dora_store::{
    ChangeLinkRow, DeploymentLinkRow, DeploymentMatch, DeploymentRecord, IncidentLinkRow,
    Neighbour, StoreError,
};

use super::touched::named_deployments;
use super::{bounded, far_past, order_key, through, Linker, Pass, Range};
use crate::dora::facts::DoraFacts;
use crate::dora::link_rows::day_number;
use crate::dora::linking::{is_production, Linked};
use crate::folding::fold_observed;
use crate::observation::{read_all, FactKind};

impl Linker {
    /// Folds and links `changes` (whole fold groups) and `incidents`; records their rows and
    /// the deployment ranges changed incidents affect.
    pub(super) async fn link_changes_and_incidents(
        &self,
        changes: BTreeSet<String>,
        incidents: BTreeSet<String>,
        pass: &mut Pass,
    ) -> Result<(), StoreError> {
        if changes.is_empty() && incidents.is_empty() {
            return Ok(());
        }
        let change_ids: Vec<String> = changes.into_iter().collect();
        let incident_ids: Vec<String> = incidents.into_iter().collect();
        let change = FactKind::Change.as_str();
        let mut observations = self.store.observations_of(change, &change_ids).await?;
        let incident = FactKind::Incident.as_str();
        observations.extend(self.store.observations_of(incident, &incident_ids).await?);
        // Those that do not read were recorded when they were new.
        let (observed, _) = read_all(&observations);
        let named = DeploymentMatch {
            cdevent_ids: named_deployments(&observed),
            ..DeploymentMatch::default()
        };
        let named = self.store.deployments_matching(&named).await?;
        let folded = fold_observed(&named, &observed, &BTreeMap::new());
        let candidates = self.blame_and_ship_candidates(&folded).await?;
        let facts = DoraFacts {
            deployments: candidates
                .values()
                .map(crate::folding::deployment_fact)
                .collect(),
            changes: folded.changes,
            incidents: folded.incidents,
        };
        let linked = Linked::new(&facts, &self.config);
        self.write_changes(&linked, &change_ids, pass).await?;
        self.write_incidents(&linked, &incident_ids, &candidates, pass)
            .await
    }

    /// Every deployment a rule can pick for `folded`'s changes and incidents.
    async fn blame_and_ship_candidates(
        &self,
        folded: &DoraFacts,
    ) -> Result<BTreeMap<i64, DeploymentRecord>, StoreError> {
        let mut wanted = DeploymentMatch::default();
        for change in &folded.changes {
            wanted.ids.extend(&change.deployment_refs);
            wanted.artifacts.extend(change.artifact_ids.iter().cloned());
            let shas = change
                .merge_sha
                .iter()
                .chain(change.commits.iter().map(|c| &c.sha));
            wanted
                .revisions
                .extend(shas.map(|sha| sha.to_ascii_lowercase()));
        }
        for incident in &folded.incidents {
            wanted.ids.extend(incident.deployment_ref);
            wanted.artifacts.extend(incident.artifact_id.clone());
        }
        let mut candidates: BTreeMap<i64, DeploymentRecord> = self
            .store
            .deployments_matching(&wanted)
            .await?
            .into_iter()
            .map(|d| (d.id, d))
            .collect();
        let horizon = self.config.attribution_horizon;
        for incident in &folded.incidents {
            let Some(service) = &incident.service else {
                continue;
            };
            let since = incident
                .detected_at
                .checked_sub_signed(horizon)
                .unwrap_or_else(far_past);
            // The time rule picks the latest production deployment of the service (in the
            // incident's environment) within the horizon: that one is the only candidate.
            let environments = match &incident.environment {
                Some(environment) if is_production(environment, &self.config) => {
                    Some(vec![environment.clone()])
                }
                Some(_) => continue,
                None if self.config.production_environments.is_empty() => None,
                None => Some(self.config.production_environments.clone()),
            };
            if let Some(d) = self
                .store
                .latest_deployment(
                    service,
                    environments.as_deref(),
                    bounded(since),
                    bounded(incident.detected_at),
                )
                .await?
            {
                candidates.insert(d.id, d);
            }
        }
        Ok(candidates)
    }

    /// Changes: writes what differs; a change folded into another is removed.
    async fn write_changes(
        &self,
        linked: &Linked<'_>,
        change_ids: &[String],
        pass: &mut Pass,
    ) -> Result<(), StoreError> {
        let stored: HashMap<String, ChangeLinkRow> = self
            .store
            .change_links(change_ids)
            .await?
            .into_iter()
            .map(|row| (row.change_id.clone(), row))
            .collect();
        let mut kept = HashSet::new();
        for ci in 0..linked.facts().changes.len() {
            let row = linked.change_row(ci);
            kept.insert(row.change_id.clone());
            let old = stored.get(&row.change_id);
            if old != Some(&row) {
                pass.dirty_days
                    .extend(old.and_then(|o| o.first_at).map(day_number));
                pass.dirty_days.extend(row.first_at.map(day_number));
                pass.writes.changes.push(row);
                pass.writes.containments.extend(linked.containment_rows(ci));
            }
        }
        for (id, old) in &stored {
            if !kept.contains(id) {
                pass.dirty_days.extend(old.first_at.map(day_number));
                pass.writes.removed_changes.push(id.clone());
            }
        }
        Ok(())
    }

    /// Incidents: writes what differs, and relinks the deployments they are (were) blamed on.
    async fn write_incidents(
        &self,
        linked: &Linked<'_>,
        incident_ids: &[String],
        candidates: &BTreeMap<i64, DeploymentRecord>,
        pass: &mut Pass,
    ) -> Result<(), StoreError> {
        let stored: HashMap<String, IncidentLinkRow> = self
            .store
            .incident_links(incident_ids)
            .await?
            .into_iter()
            .map(|row| (row.incident_id.clone(), row))
            .collect();
        let mut kept = HashSet::new();
        for ii in 0..linked.facts().incidents.len() {
            let row = linked.incident_row(ii);
            kept.insert(row.incident_id.clone());
            let old = stored.get(&row.incident_id);
            if old == Some(&row) {
                continue;
            }
            pass.dirty_days.insert(day_number(row.detected_at));
            if let Some(old) = old {
                pass.dirty_days.insert(day_number(old.detected_at));
            }
            // Rework of later deployments changes only if the incident's times or its service
            // and environment changed: blamed on another deployment of the same one, it was
            // open over the same deployments, each later than either (but for ties at the
            // detection, which the range up to the detection covers).
            let same_span = old.is_some_and(|o| {
                o.deployment_id.is_some() == row.deployment_id.is_some()
                    && o.target_service == row.target_service
                    && o.target_environment == row.target_environment
                    && o.detected_at == row.detected_at
                    && o.resolved_at == row.resolved_at
            });
            let open_until = if same_span {
                Some(row.detected_at)
            } else {
                match old.map(|o| o.resolved_at) {
                    Some(None) => None,
                    Some(Some(old)) => row.resolved_at.map(|new| new.max(old)),
                    None => row.resolved_at,
                }
            };
            for blamed in [old, Some(&row)].into_iter().flatten() {
                self.blamed_range(blamed, open_until, candidates, pass)
                    .await?;
            }
            pass.incidents.insert(row.incident_id.clone(), row.clone());
            pass.writes.incidents.push(row);
        }
        for (id, old) in &stored {
            if !kept.contains(id) {
                pass.dirty_days.insert(day_number(old.detected_at));
                self.blamed_range(old, old.resolved_at, candidates, pass)
                    .await?;
                pass.writes.removed_incidents.push(id.clone());
            }
        }
        Ok(())
    }

    /// The deployments an incident blamed on `row.deployment_id` affects: that one (reasons,
    /// recovery) and the later ones of its service and environment while it was open (rework).
    async fn blamed_range(
        &self,
        row: &IncidentLinkRow,
        open_until: Option<DateTime<Utc>>,
        candidates: &BTreeMap<i64, DeploymentRecord>,
        pass: &mut Pass,
    ) -> Result<(), StoreError> {
        let Some(id) = row.deployment_id else {
            return Ok(());
        };
        let blamed = match candidates.get(&id) {
            Some(d) => d.clone(),
            None => {
                let wanted = DeploymentMatch {
                    ids: vec![id],
                    ..DeploymentMatch::default()
                };
                match self.store.deployments_matching(&wanted).await?.pop() {
                    Some(d) => d,
                    None => return Ok(()),
                }
            }
        };
        pass.touched_deployments.insert(id);
        let until = open_until.map(|until| through(until.max(blamed.deployed_at)));
        pass.range(
            &blamed.service,
            &blamed.environment,
            Range {
                from: order_key(&blamed),
                until,
            },
        );
        Ok(())
    }

    /// Links each range of deployments again, with what their links depend on: the deployment
    /// before the range, those after it up to the first whose rollout did not fail, and the
    /// incidents blamed on the range or open during it.
    pub(super) async fn link_ranges(&self, pass: &mut Pass) -> Result<(), StoreError> {
        let ranges = std::mem::take(&mut pass.ranges);
        for ((service, environment), range) in ranges {
            let target = (service.as_str(), environment.as_str());
            let inside = self
                .store
                .target_deployments(&service, &environment, range.from, range.until)
                .await?;
            let (Some(first), Some(last)) = (inside.first(), inside.last()) else {
                continue;
            };
            let context = self.range_context(target, first, last).await?;
            let ids: Vec<i64> = inside.iter().map(|d| d.id).collect();
            let blamed = self
                .blamed_in_range(target, range, first, &ids, pass)
                .await?;
            let mut deployments: BTreeMap<i64, DeploymentRecord> = inside
                .iter()
                .cloned()
                .map(|d| (d.id, d))
                .chain(context)
                .collect();
            let missing: Vec<i64> = blamed
                .values()
                .filter_map(|row| row.deployment_id)
                .filter(|id| !deployments.contains_key(id))
                .collect();
            if !missing.is_empty() {
                let wanted = DeploymentMatch {
                    ids: missing,
                    ..DeploymentMatch::default()
                };
                for d in self.store.deployments_matching(&wanted).await? {
                    deployments.insert(d.id, d);
                }
            }
            let facts = DoraFacts {
                deployments: deployments
                    .values()
                    .map(crate::folding::deployment_fact)
                    .collect(),
                changes: Vec::new(),
                // Blamed as stored: named by reference, so linking picks the same deployment.
                incidents: blamed
                    .values()
                    .filter_map(|row| {
                        let detail: crate::dora::link_rows::IncidentDetail =
                            serde_json::from_str(&row.detail).ok()?;
                        let mut incident = detail.incident;
                        incident.deployment_ref = row.deployment_id;
                        Some(incident)
                    })
                    .collect(),
            };
            self.write_range_rows(&facts, &ids, pass).await?;
        }
        Ok(())
    }

    /// What a range's links depend on beside the range: the deployment before `first`, and
    /// those after `last` up to the first whose rollout did not fail.
    async fn range_context(
        &self,
        (service, environment): (&str, &str),
        first: &DeploymentRecord,
        last: &DeploymentRecord,
    ) -> Result<BTreeMap<i64, DeploymentRecord>, StoreError> {
        let mut context: BTreeMap<i64, DeploymentRecord> = BTreeMap::new();
        let around = [
            (order_key(first), Neighbour::Before, false),
            (order_key(last), Neighbour::After, false),
            (order_key(last), Neighbour::After, true),
        ];
        for (key, side, not_failed) in around {
            if let Some(d) = self
                .store
                .target_neighbour(service, environment, key, side, not_failed)
                .await?
            {
                context.insert(d.id, d);
            }
        }
        if let Some(next_ok) = context
            .values()
            .filter(|d| order_key(d) > order_key(last) && !d.failed)
            .min_by_key(|d| order_key(d))
            .cloned()
        {
            // Everything between the range and the next successful rollout.
            for d in self
                .store
                .target_deployments(
                    service,
                    environment,
                    order_key(last),
                    Some(order_key(&next_ok)),
                )
                .await?
            {
                context.insert(d.id, d);
            }
        }
        Ok(context)
    }

    /// The incidents blamed on a range's deployments (`ids`) or open during it, in their
    /// service and environment; this pass's rows replace the stored ones.
    async fn blamed_in_range(
        &self,
        (service, environment): (&str, &str),
        range: Range,
        first: &DeploymentRecord,
        ids: &[i64],
        pass: &Pass,
    ) -> Result<HashMap<String, IncidentLinkRow>, StoreError> {
        let mut blamed: HashMap<String, IncidentLinkRow> = HashMap::new();
        let open = self
            .store
            .incidents_of_target(
                service,
                environment,
                range.until.map(|(at, _)| at),
                first.deployed_at,
            )
            .await?;
        for row in open
            .into_iter()
            .chain(self.store.incidents_attributed_to(ids).await?)
        {
            blamed.insert(row.incident_id.clone(), row);
        }
        for row in pass.incidents.values() {
            blamed.insert(row.incident_id.clone(), row.clone());
        }
        blamed.retain(|_, row| {
            row.deployment_id.is_some()
                && row.target_service.as_deref() == Some(service)
                && row.target_environment.as_deref() == Some(environment)
        });
        Ok(blamed)
    }

    /// Links `facts` and writes the rows of the range's deployments (`ids`) that differ from the
    /// stored ones, marking their days.
    async fn write_range_rows(
        &self,
        facts: &DoraFacts,
        ids: &[i64],
        pass: &mut Pass,
    ) -> Result<(), StoreError> {
        let linked = Linked::new(facts, &self.config);
        let in_range: HashSet<i64> = ids.iter().copied().collect();
        let stored: HashMap<i64, DeploymentLinkRow> = self
            .store
            .deployment_links(ids)
            .await?
            .into_iter()
            .map(|row| (row.deployment_id, row))
            .collect();
        for (i, d) in facts.deployments.iter().enumerate() {
            if !in_range.contains(&d.id) {
                continue;
            }
            let row = linked.deployment_row(i);
            let touched = pass.touched_deployments.contains(&d.id);
            if stored.get(&d.id) != Some(&row) || touched {
                pass.dirty_days.insert(day_number(d.at));
            }
            if stored.get(&d.id) != Some(&row) {
                pass.writes.deployments.push(row);
            }
        }
        Ok(())
    }
}
