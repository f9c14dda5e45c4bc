//! The incremental linker: the stage after the observer (observer -> **linker** -> keys,
//! drill-down). It reads the deployment rows and observations of new CDEvents after its own
//! cursor (`calculator:links`, which follows the observer's), works out which stored links they can change, links only
//! those again, and writes the rows that changed in the same transaction as its cursor move.
//!
//! What a pass relinks, and why that is enough (docs/architecture.md has the long form):
//!
//! - **Changes**: those with new observations, and those a new deployment can contain (its
//!   revision, artifact or CDEvent id is one of their keys in `link_keys`). A change is folded
//!   with every change it shares a SHA with (a push and the request it landed, a listed commit
//!   and its owner: [`crate::folding::fold`] decides within such a group only), and linked
//!   against every deployment that can contain it (by artifact, revision or reference).
//! - **Incidents**: those with new observations, those naming a new deployment, and those a
//!   new production deployment could be blamed for (same artifact detected after it, same
//!   service within the attribution horizon after it). Each is linked against every deployment
//!   its rules can pick.
//! - **Deployments**: per service and environment, a range: from the last deployment before a
//!   new one whose rollout did not fail (the earlier failures' recovery may end at the new one)
//!   to the one after it (whose rollback target may change); and for an incident whose
//!   attribution or times changed, from the deployment it is (or was) blamed on until it was
//!   resolved (rework of later deployments), to the end if it is open.
//!
//! Each group is linked by [`Linked`] itself over the facts loaded for it, so the rules are the
//! ones of a from-scratch linking; a differential test holds the two equal. On a new
//! configuration (production environments, attribution horizon) every link is made again.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use dora_store::{
    AllLinks, Blame, ChangeLinkRow, DeploymentLinkRow, DeploymentMatch, DeploymentRecord,
    IncidentLinkRow, LinkWrites, Neighbour, NewFactFailure, OrderKey, Store, StoreError,
    DEPLOYMENTS_CURSOR, LINKS_CURSOR,
};

use crate::dora::facts::{Deployment, DoraConfig, DoraFacts};
use crate::dora::key_rows::{
    DeploymentKeyRow, IncidentKeyRow, RecoveryCell, ReworkKind, ShippedKeyRow,
};
use crate::dora::link_rows::day_number;
use crate::dora::linking::{is_production, Linked};
use crate::folding::fold_observed;
use crate::observation::{read_all, FactKind, Observed};

/// The linker over one store, under one configuration.
#[derive(Debug, Clone)]
pub struct Linker {
    store: Store,
    config: DoraConfig,
    batch_size: i64,
    /// Whether [`Linker::prepare`] ran (the first pass runs it).
    prepared: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// The configuration the links depend on, as text: links made under another are made again.
pub fn fingerprint(config: &DoraConfig) -> String {
    let mut environments = config.production_environments.clone();
    environments.sort();
    format!(
        "v1 production={environments:?} horizon={}",
        config.attribution_horizon.num_seconds()
    )
}

fn order_key(record: &DeploymentRecord) -> OrderKey {
    (record.deployed_at, record.id)
}

/// The `link_keys` of one observation: a change's SHAs, artifact and named deployment; an
/// incident's named deployment.
fn observation_keys(observed: &Observed, out: &mut Vec<(String, String)>) {
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
fn named_deployments(observed: &[Observed]) -> Vec<String> {
    let names: BTreeSet<&str> = observed
        .iter()
        .filter_map(|o| o.observation.deployment())
        .collect();
    names.into_iter().map(str::to_owned).collect()
}

/// A range of one service and environment's deployments to link again.
#[derive(Debug, Clone, Copy)]
struct Range {
    from: OrderKey,
    /// Inclusive; `None`: to the end.
    until: Option<DateTime<Utc>>,
}

impl Range {
    fn widen(&mut self, other: Range) {
        self.from = self.from.min(other.from);
        self.until = match (self.until, other.until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
}

/// Before every deployment (and inside the range of both databases' timestamps: year 1).
fn far_past() -> DateTime<Utc> {
    DateTime::from_timestamp(-62_135_596_800, 0).unwrap_or_default()
}

/// After every deployment, inside chrono's range (to the year 262143) and PostgreSQL's (294276).
fn far_future() -> DateTime<Utc> {
    DateTime::from_timestamp(8_000_000_000_000, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A time computed for a query (a detection minus the horizon, a deployment plus it), kept
/// inside what both databases store.
fn bounded(at: DateTime<Utc>) -> DateTime<Utc> {
    at.clamp(far_past(), far_future())
}

/// Whether a pass committed its rows.
enum Committed {
    Yes,
    /// The pass holds an observation that does not read, of one of several CDEvents.
    NoUnreadableInside,
}

/// What one pass found to relink, and the rows it wrote so far.
#[derive(Default)]
struct Pass {
    writes: LinkWrites,
    ranges: BTreeMap<(String, String), Range>,
    dirty_days: BTreeSet<i32>,
    /// Deployments whose attributed incidents changed (their day's key rows change).
    touched_deployments: BTreeSet<i64>,
    /// Incident rows written by this pass (they override the stored ones).
    incidents: HashMap<String, IncidentLinkRow>,
}

impl Pass {
    fn range(&mut self, service: &str, environment: &str, range: Range) {
        self.ranges
            .entry((service.to_owned(), environment.to_owned()))
            .and_modify(|r| r.widen(range))
            .or_insert(range);
    }
}

impl Linker {
    pub fn new(store: Store, config: DoraConfig, batch_size: i64) -> Self {
        Self {
            store,
            config,
            batch_size: batch_size.max(1),
            prepared: std::sync::Arc::default(),
        }
    }

    /// Makes sure the stored links were made under this configuration; if not (or never made),
    /// forgets them so that the next passes link every fact again.
    pub async fn prepare(&self) -> Result<(), StoreError> {
        let wanted = fingerprint(&self.config);
        if self.store.links_fingerprint().await?.as_deref() != Some(wanted.as_str()) {
            tracing::info!(configuration = %wanted, "linking every fact again");
            self.store.reset_links(&wanted).await?;
        }
        self.prepared
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Links the facts of the next CDEvents the observer has passed; returns how many
    /// CDEvent positions it covered (0: caught up).
    ///
    /// When the database refuses a pass's rows for something in them ([`Blame::Event`]), the
    /// pass is made again one CDEvent at a time, and the one at fault is recorded in
    /// `fact_failures` (as the linker's) and skipped, so that it holds nothing back; its links
    /// are then missing until `recompute`. So is a pass holding an observation that does not
    /// read: made again one CDEvent at a time, the observation is recorded as the linker's
    /// failure of its CDEvent and left out. A failure of the database itself is returned, to be
    /// retried.
    pub async fn run_pass(&self) -> Result<usize, StoreError> {
        if !self.prepared.load(std::sync::atomic::Ordering::Relaxed) {
            self.prepare().await?;
        }
        let from = self.store.cursor(LINKS_CURSOR).await?.seq;
        let facts_at = self.store.cursor(DEPLOYMENTS_CURSOR).await?.seq;
        if facts_at <= from {
            return Ok(0);
        }
        let to = facts_at.min(from.saturating_add(self.batch_size));
        match self.link_and_commit(from, to).await {
            Ok(Committed::Yes) => {}
            Ok(Committed::NoUnreadableInside) => {
                tracing::warn!(from, to,
                    "a links pass holds an observation that does not read; linking its CDEvents one by one");
                for seq in from + 1..=to {
                    self.link_one(seq).await?;
                }
            }
            Err(error) if error.blame() == Blame::Event => {
                tracing::warn!(error = %error, from, to,
                    "the database refused a links pass; linking its CDEvents one by one");
                for seq in from + 1..=to {
                    self.link_one(seq).await?;
                }
            }
            Err(error) => return Err(error),
        }
        Ok(usize::try_from(to - from).unwrap_or(usize::MAX))
    }

    /// Links the facts of the CDEvents `from < seq <= to` and commits the rows. Observations
    /// that do not read are recorded as failures when the pass is one CDEvent (`to` is theirs);
    /// in a longer pass nothing is committed ([`Committed::NoUnreadableInside`]).
    async fn link_and_commit(&self, from: i64, to: i64) -> Result<Committed, StoreError> {
        let new = self.store.facts_between(from, to).await?;
        let (observed, unreadable) = read_all(&new.observations);
        if !unreadable.is_empty() && to - from > 1 {
            return Ok(Committed::NoUnreadableInside);
        }
        let mut writes = self.relink(&new.deployments, &observed).await?;
        for observation in unreadable {
            tracing::warn!(seq = to, %observation, "observation left out; see GET /api/v1/failures");
            writes.failures.push(NewFactFailure {
                cdevent_seq: to,
                reason: observation.to_string(),
            });
        }
        tracing::debug!(
            from,
            to,
            changes = writes.changes.len(),
            incidents = writes.incidents.len(),
            deployments = writes.deployments.len(),
            "links pass"
        );
        self.store.commit_links(from, to, &writes).await?;
        Ok(Committed::Yes)
    }

    /// Links the facts of CDEvent `seq` alone; if the database refuses them, records the
    /// refusal instead (and if even that is refused, moves on with a log line).
    async fn link_one(&self, seq: i64) -> Result<(), StoreError> {
        let error = match self.link_and_commit(seq - 1, seq).await {
            Ok(_) => return Ok(()),
            Err(error) if error.blame() == Blame::Event => error,
            Err(error) => return Err(error),
        };
        tracing::error!(seq, error = %error,
            "the database refused the links of a CDEvent; recorded in fact_failures and skipped");
        let recorded = LinkWrites {
            failures: vec![NewFactFailure {
                cdevent_seq: seq,
                reason: format!("the database refused this CDEvent's links: {error}"),
            }],
            ..LinkWrites::default()
        };
        match self.store.commit_links(seq - 1, seq, &recorded).await {
            Err(error) if error.blame() == Blame::Event => {
                tracing::error!(seq, error = %error,
                    "the database refused even the failure record of a CDEvent's links; skipped");
                self.store
                    .commit_links(seq - 1, seq, &LinkWrites::default())
                    .await
            }
            other => other,
        }
    }

    /// Runs passes until caught up with the observer.
    pub async fn run_until_idle(&self) -> Result<usize, StoreError> {
        crate::observer::until_idle(|| self.run_pass()).await
    }

    async fn relink(
        &self,
        deployments: &[DeploymentRecord],
        observed: &[Observed],
    ) -> Result<LinkWrites, StoreError> {
        let mut pass = Pass::default();
        let mut changes: BTreeSet<String> = BTreeSet::new();
        let mut incidents: BTreeSet<String> = BTreeSet::new();
        for observed in observed {
            observation_keys(observed, &mut pass.writes.keys);
            match observed.observation.kind() {
                FactKind::Change => changes.insert(observed.fact_id.clone()),
                FactKind::Incident => incidents.insert(observed.fact_id.clone()),
            };
        }
        let started = std::time::Instant::now();
        self.facts_new_deployments_touch(deployments, &mut pass, &mut changes, &mut incidents)
            .await?;
        let touched = started.elapsed();
        let changes = self.fold_groups(changes, &pass.writes.keys).await?;
        let grouped = started.elapsed();
        self.link_changes_and_incidents(changes, incidents, &mut pass)
            .await?;
        let linked = started.elapsed();
        self.ranges_around(deployments, &mut pass).await?;
        let ranged = started.elapsed();
        self.link_ranges(&mut pass).await?;
        tracing::debug!(
            ?touched,
            ?grouped,
            ?linked,
            ?ranged,
            total = ?started.elapsed(),
            "links pass phases"
        );
        let mut writes = pass.writes;
        writes.dirty_days = pass.dirty_days.into_iter().collect();
        Ok(writes)
    }

    /// Changes and incidents new deployments can change: those naming them, sharing their
    /// revision or artifact, or detected after them within reach of the attribution rules.
    async fn facts_new_deployments_touch(
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
    async fn fold_groups(
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

    /// Folds and links `changes` (whole fold groups) and `incidents`; records their rows and
    /// the deployment ranges changed incidents affect.
    async fn link_changes_and_incidents(
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
        // Every deployment a rule can pick for these changes and incidents.
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
        let facts = DoraFacts {
            deployments: candidates
                .values()
                .map(crate::folding::deployment_fact)
                .collect(),
            changes: folded.changes,
            incidents: folded.incidents,
        };
        let linked = Linked::new(&facts, &self.config);

        // Changes: write what differs; a change folded into another is removed.
        let stored: HashMap<String, ChangeLinkRow> = self
            .store
            .change_links(&change_ids)
            .await?
            .into_iter()
            .map(|row| (row.change_id.clone(), row))
            .collect();
        let mut kept = HashSet::new();
        for ci in 0..facts.changes.len() {
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

        // Incidents: write what differs, and relink the deployments they are (were) blamed on.
        let stored: HashMap<String, IncidentLinkRow> = self
            .store
            .incident_links(&incident_ids)
            .await?
            .into_iter()
            .map(|row| (row.incident_id.clone(), row))
            .collect();
        let mut kept = HashSet::new();
        for ii in 0..facts.incidents.len() {
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
                self.blamed_range(blamed, open_until, &candidates, pass)
                    .await?;
            }
            pass.incidents.insert(row.incident_id.clone(), row.clone());
            pass.writes.incidents.push(row);
        }
        for (id, old) in &stored {
            if !kept.contains(id) {
                pass.dirty_days.insert(day_number(old.detected_at));
                self.blamed_range(old, old.resolved_at, &candidates, pass)
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
        let until = open_until.map(|until| until.max(blamed.deployed_at));
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

    /// The deployments new deployments can change: from the last one before each whose rollout
    /// did not fail to the one after it. Many new deployments of one service and environment (a
    /// bulk load, a backfill) make one range, from before the first to after the last, rather
    /// than two lookups each.
    async fn ranges_around(
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
                let until = next.map_or(last.0, |n| n.deployed_at);
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

    /// Links each range of deployments again, with what their links depend on: the deployment
    /// before the range, those after it up to the first whose rollout did not fail, and the
    /// incidents blamed on the range or open during it.
    async fn link_ranges(&self, pass: &mut Pass) -> Result<(), StoreError> {
        let ranges = std::mem::take(&mut pass.ranges);
        for ((service, environment), range) in ranges {
            let inside = self
                .store
                .target_deployments(&service, &environment, range.from, range.until)
                .await?;
            let (Some(first), Some(last)) = (inside.first(), inside.last()) else {
                continue;
            };
            let mut context: BTreeMap<i64, DeploymentRecord> = BTreeMap::new();
            let around = [
                (order_key(first), Neighbour::Before, false),
                (order_key(last), Neighbour::After, false),
                (order_key(last), Neighbour::After, true),
            ];
            for (key, side, not_failed) in around {
                if let Some(d) = self
                    .store
                    .target_neighbour(&service, &environment, key, side, not_failed)
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
                        &service,
                        &environment,
                        order_key(last),
                        Some(next_ok.deployed_at),
                    )
                    .await?
                {
                    if order_key(&d) <= order_key(&next_ok) {
                        context.insert(d.id, d);
                    }
                }
            }
            let ids: Vec<i64> = inside.iter().map(|d| d.id).collect();
            let in_range: HashSet<i64> = ids.iter().copied().collect();
            let mut blamed: HashMap<String, IncidentLinkRow> = HashMap::new();
            let open = self
                .store
                .incidents_of_target(&service, &environment, range.until, first.deployed_at)
                .await?;
            for row in open
                .into_iter()
                .chain(self.store.incidents_attributed_to(&ids).await?)
            {
                blamed.insert(row.incident_id.clone(), row);
            }
            // This pass's rows replace the stored ones.
            for row in pass.incidents.values() {
                blamed.insert(row.incident_id.clone(), row.clone());
            }
            blamed.retain(|_, row| {
                row.deployment_id.is_some()
                    && row.target_service.as_deref() == Some(service.as_str())
                    && row.target_environment.as_deref() == Some(environment.as_str())
            });
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
            let linked = Linked::new(&facts, &self.config);
            let stored: HashMap<i64, DeploymentLinkRow> = self
                .store
                .deployment_links(&ids)
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
        }
        Ok(())
    }
}

/// Links every stored fact from scratch, in memory: what the link tables must hold (for the
/// differential tests and `dora-events links check`).
pub async fn links_from_scratch(
    store: &Store,
    config: &DoraConfig,
) -> Result<AllLinks, StoreError> {
    let rows = store.load_facts(&dora_store::FactFilter::default()).await?;
    let mut facts = crate::folding::fold(rows, &BTreeMap::new());
    for d in &mut facts.deployments {
        d.team = None;
    }
    Ok(Linked::new(&facts, config).all_rows())
}

/// The link tables' key rows as the keys' columns read them.
pub fn key_rows_from(
    records: dora_store::KeyRowsRecord,
) -> (
    Vec<DeploymentKeyRow>,
    Vec<ShippedKeyRow>,
    Vec<IncidentKeyRow>,
) {
    use crate::dora::link_rows::flags;
    let mut detections: HashMap<i64, Vec<DateTime<Utc>>> = HashMap::new();
    for (id, at) in records.detections {
        detections.entry(id).or_default().push(at);
    }
    let deployments = records
        .deployments
        .into_iter()
        .map(|d| {
            let has = |bit: i64| d.flags & bit != 0;
            let rework = if has(flags::REWORK_ROLLBACK) {
                Some(ReworkKind::Rollback)
            } else if has(flags::REWORK_DURING_INCIDENT) {
                Some(ReworkKind::DuringIncident)
            } else {
                None
            };
            let recovery = if has(flags::RECOVERED) {
                Some(RecoveryCell::Recovered {
                    seconds: d.recovery_seconds.unwrap_or_default(),
                })
            } else if has(flags::RECOVERY_OPEN) {
                Some(RecoveryCell::Open)
            } else if has(flags::RECOVERY_INVALID) {
                Some(RecoveryCell::InvalidTimes)
            } else {
                None
            };
            let mut times = detections.remove(&d.id).unwrap_or_default();
            times.sort_unstable();
            DeploymentKeyRow {
                id: d.id,
                at: d.at,
                rollback: has(flags::ROLLBACK),
                failed_rollout: has(flags::FAILED_ROLLOUT),
                reason_incident: has(flags::REASON_INCIDENT),
                reason_rolled_back: has(flags::REASON_ROLLED_BACK),
                rework,
                recovery,
                detections: times,
            }
        })
        .collect();
    let shipped = records
        .shipped
        .into_iter()
        .map(|c| ShippedKeyRow {
            change_id: c.change_id,
            at: c.at,
            deployment_id: c.deployment_id,
            lead: c.lead,
            skewed_commits: u32::try_from(c.skewed).unwrap_or_default(),
        })
        .collect();
    let incidents = records
        .incidents
        .into_iter()
        .map(|i| IncidentKeyRow {
            id: i.id,
            detected_at: i.detected_at,
            unattributed: i.unattributed,
        })
        .collect();
    (deployments, shipped, incidents)
}

/// The facts a filtered scope may need, as the linker folded them: the deployments of its
/// services and environments (team from `teams` first, as everywhere), the changes they contain
/// and the incidents of its services (or naming none). [`crate::scope::narrow`] then keeps
/// exactly what the scope reads; a change no deployment of the scope contains counts nowhere
/// in it, so leaving it out changes nothing.
///
/// Also returns each deployment's CDEvent id.
pub async fn scope_facts(
    store: &Store,
    teams: &BTreeMap<String, String>,
    scope: &crate::scope::Scope,
) -> Result<(DoraFacts, BTreeMap<i64, String>), StoreError> {
    let records = store
        .scope_records(scope.services.as_deref(), scope.environments.as_deref())
        .await?;
    let corrupt = |what: &str, e: serde_json::Error| StoreError::Corrupt {
        seq: 0,
        reason: format!("a stored {what} link cannot be read: {e}"),
    };
    let deployments = records
        .deployments
        .iter()
        .map(|record| Deployment {
            team: teams.get(&record.service).cloned().or(record.team.clone()),
            ..crate::folding::deployment_fact(record)
        })
        .collect();
    let mut changes = records
        .change_details
        .iter()
        .map(|text| {
            serde_json::from_str::<crate::dora::link_rows::ChangeDetail>(text)
                .map(|detail| detail.change)
                .map_err(|e| corrupt("change", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // In id order, as folding gives them (ties in the drill-down lists follow it).
    changes.sort_by(|a, b| a.id.cmp(&b.id));
    let incidents = records
        .incident_details
        .iter()
        .map(|text| {
            serde_json::from_str::<crate::dora::link_rows::IncidentDetail>(text)
                .map(|detail| detail.incident)
                .map_err(|e| corrupt("incident", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cdevent_ids = records
        .deployments
        .into_iter()
        .map(|d| (d.id, d.cdevent_id))
        .collect();
    Ok((
        DoraFacts {
            deployments,
            changes,
            incidents,
        },
        cdevent_ids,
    ))
}
