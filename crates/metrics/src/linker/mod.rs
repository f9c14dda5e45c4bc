//! The incremental linker: the stage after the observer (observer -> **linker** -> keys,
//! drill-down). It reads the deployment rows and observations of new CDEvents after its own
//! cursor (`calculator:links`, which follows the observer's), works out which stored links they
//! can change, links only those again, and writes the rows that changed in the same transaction
//! as its cursor move.
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
//! Each group is linked by [`Linked`](crate::dora::linking::Linked) itself over the facts loaded for it, so the rules are the
//! ones of a from-scratch linking; a differential test holds the two equal. On a new
//! configuration (production environments, attribution horizon) every link is made again.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use dora_store::{
    Blame, DeploymentRecord, IncidentLinkRow, LinkWrites, NewFactFailure, OrderKey, Store,
    StoreError, DEPLOYMENTS_CURSOR, LINKS_CURSOR,
};

use crate::dora::facts::DoraConfig;
use crate::observation::{read_all, FactKind, Observed};
use touched::observation_keys;

mod relink;
mod tables;
mod touched;

pub use tables::{key_rows_from, links_from_scratch, scope_facts};

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

/// A range of one service and environment's deployments to link again.
#[derive(Debug, Clone, Copy)]
struct Range {
    from: OrderKey,
    /// Inclusive, by (time, id) position; `None`: to the end.
    until: Option<OrderKey>,
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

/// The last position at `at`: a range until it holds every deployment of that time.
fn through(at: DateTime<Utc>) -> OrderKey {
    (at, i64::MAX)
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
        crate::until_idle(|| self.run_pass()).await
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
        self.touched_by_new_deployments(deployments, &mut pass, &mut changes, &mut incidents)
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
}
