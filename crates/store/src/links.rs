//! The link tables the calculator keeps beside the facts (facts calculator -> **links** ->
//! keys, drill-down): what each change, incident and deployment is linked to, written by
//! `dora_metrics::links` for what new facts change, atomically with the `calculator:links`
//! cursor. The rows carry a few indexed columns (what the linker looks up and the keys read) and
//! a `detail` JSON document (the rest, for drill-down); the store does not interpret `detail`.

use chrono::{DateTime, Utc};

use crate::{DeploymentRecord, ObservationRecord, Store, StoreError};

/// Cursor of the linker over `cdevents_raw` (it follows the facts cursor).
pub const LINKS_CURSOR: &str = "calculator:links";

/// One change after folding, with its links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeLinkRow {
    pub change_id: String,
    /// The first production deployment containing it.
    pub first_deployment: Option<i64>,
    pub first_at: Option<DateTime<Utc>>,
    /// Lead time in seconds, or a negative code (no usable start); `None` when not shipped.
    pub lead: Option<i32>,
    pub skewed: i32,
    pub detail: String,
}

/// A deployment containing a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainmentRow {
    pub change_id: String,
    pub deployment_id: i64,
    pub service: String,
    pub environment: String,
    /// The first deployment of its service and environment to contain the change.
    pub shipped: bool,
}

/// One detected incident with its attribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentLinkRow {
    pub incident_id: String,
    pub detected_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub artifact_id: Option<String>,
    /// The deployment it is attributed to, with that deployment's service and environment.
    pub deployment_id: Option<i64>,
    pub target_service: Option<String>,
    pub target_environment: Option<String>,
    pub unattributed: bool,
    pub detail: String,
}

/// One deployment's links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentLinkRow {
    pub deployment_id: i64,
    /// What the keys count of it, as bits (`dora_metrics::links` defines them).
    pub flags: i64,
    pub recovery_seconds: Option<i64>,
    pub detail: String,
}

/// What one links pass writes, atomically with the cursor move.
#[derive(Debug, Clone, Default)]
pub struct LinkWrites {
    pub changes: Vec<ChangeLinkRow>,
    /// Every containment of the changes written (and removed): they replace the stored ones.
    pub containments: Vec<ContainmentRow>,
    /// Changes that no longer exist on their own (folded into another).
    pub removed_changes: Vec<String>,
    pub incidents: Vec<IncidentLinkRow>,
    /// Incidents that are no longer incidents (never happens today; kept for symmetry).
    pub removed_incidents: Vec<String>,
    pub deployments: Vec<DeploymentLinkRow>,
    /// `(key, fact id)` pairs to add to `link_keys`.
    pub keys: Vec<(String, String)>,
    /// UTC days (since 1970-01-01) whose key rows changed.
    pub dirty_days: Vec<i32>,
    /// CDEvents whose links the database refused, recorded in `fact_failures` as the linker's.
    pub failures: Vec<crate::NewFactFailure>,
}

/// The name `fact_failures` (and `GET /api/v1/failures`) gives the linker.
pub const LINKER: &str = "linker";

/// Deployments matching any of these (an empty list matches nothing).
#[derive(Debug, Clone, Default)]
pub struct DeploymentMatch {
    pub ids: Vec<i64>,
    pub cdevent_ids: Vec<String>,
    /// Lowercase SHAs, compared with the lowercase revision.
    pub revisions: Vec<String>,
    pub artifacts: Vec<String>,
}

impl DeploymentMatch {
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
            && self.cdevent_ids.is_empty()
            && self.revisions.is_empty()
            && self.artifacts.is_empty()
    }
}

/// A deployment's place in the order of its service and environment: by time, ties by id.
pub type OrderKey = (DateTime<Utc>, i64);

/// Which neighbour of a position in a service and environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Neighbour {
    /// The latest strictly before.
    Before,
    /// The earliest strictly after.
    After,
}

/// The facts of a range of CDEvents.
#[derive(Debug, Clone, Default)]
pub struct NewFacts {
    pub deployments: Vec<DeploymentRecord>,
    pub observations: Vec<ObservationRecord>,
}

/// Every link row, for tests and checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllLinks {
    pub changes: Vec<ChangeLinkRow>,
    pub containments: Vec<ContainmentRow>,
    pub incidents: Vec<IncidentLinkRow>,
    pub deployments: Vec<DeploymentLinkRow>,
}

impl Store {
    /// Deployments and observations of the CDEvents with `from < seq <= to`, in stored order.
    pub async fn facts_between(&self, from: i64, to: i64) -> Result<NewFacts, StoreError> {
        dispatch!(self, s => s.facts_between(from, to).await)
    }

    /// Every observation of the facts `ids` of kind `fact`, in stored order.
    pub async fn observations_of(
        &self,
        fact: &str,
        ids: &[String],
    ) -> Result<Vec<ObservationRecord>, StoreError> {
        dispatch!(self, s => s.observations_of(fact, ids).await)
    }

    /// Deployments matching any criterion of `wanted`.
    pub async fn deployments_matching(
        &self,
        wanted: &DeploymentMatch,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        dispatch!(self, s => s.deployments_matching(wanted).await)
    }

    /// The latest (by time, then id) deployment of `service` in one of `environments` (`None`:
    /// any) with `from <= deployed_at <= to`.
    pub async fn latest_deployment(
        &self,
        service: &str,
        environments: Option<&[String]>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        dispatch!(self, s => s.latest_deployment(service, environments, from, to).await)
    }

    /// A service and environment's deployments from `from` (inclusive) in order, up to `until`
    /// (inclusive; `None`: to the end).
    pub async fn target_deployments(
        &self,
        service: &str,
        environment: &str,
        from: OrderKey,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        dispatch!(self, s => s.target_deployments(service, environment, from, until).await)
    }

    /// The neighbour of `at` among a service and environment's deployments (only those whose
    /// rollout did not fail, with `not_failed`).
    pub async fn target_neighbour(
        &self,
        service: &str,
        environment: &str,
        at: OrderKey,
        side: Neighbour,
        not_failed: bool,
    ) -> Result<Option<DeploymentRecord>, StoreError> {
        dispatch!(self, s => s.target_neighbour(service, environment, at, side, not_failed).await)
    }

    /// `(key, fact id)` pairs of `link_keys` with one of `keys`.
    pub async fn facts_with_keys(
        &self,
        keys: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        dispatch!(self, s => s.facts_with_keys(keys).await)
    }

    /// `(key, fact id)` pairs of `link_keys` of the facts `ids`.
    pub async fn keys_of_facts(&self, ids: &[String]) -> Result<Vec<(String, String)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        dispatch!(self, s => s.keys_of_facts(ids).await)
    }

    /// The stored links of these changes.
    pub async fn change_links(&self, ids: &[String]) -> Result<Vec<ChangeLinkRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        dispatch!(self, s => s.change_links(ids).await)
    }

    /// The stored links of these incidents.
    pub async fn incident_links(&self, ids: &[String]) -> Result<Vec<IncidentLinkRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        dispatch!(self, s => s.incident_links(ids).await)
    }

    /// Incidents of one of `services` detected in `[from, to]`, or naming one of `artifacts`.
    pub async fn incidents_near(
        &self,
        services: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        artifacts: &[String],
    ) -> Result<Vec<IncidentLinkRow>, StoreError> {
        if services.is_empty() && artifacts.is_empty() {
            return Ok(Vec::new());
        }
        dispatch!(self, s => s.incidents_near(services, from, to, artifacts).await)
    }

    /// Incidents attributed to a deployment of this service and environment, detected at or
    /// before `until` (`None`: any time) and not resolved at or before `open_after`.
    pub async fn incidents_of_target(
        &self,
        service: &str,
        environment: &str,
        until: Option<DateTime<Utc>>,
        open_after: DateTime<Utc>,
    ) -> Result<Vec<IncidentLinkRow>, StoreError> {
        dispatch!(self, s => s.incidents_of_target(service, environment, until, open_after).await)
    }

    /// Incidents attributed to one of these deployments.
    pub async fn incidents_attributed_to(
        &self,
        deployment_ids: &[i64],
    ) -> Result<Vec<IncidentLinkRow>, StoreError> {
        if deployment_ids.is_empty() {
            return Ok(Vec::new());
        }
        dispatch!(self, s => s.incidents_attributed_to(deployment_ids).await)
    }

    /// The stored links of these deployments.
    pub async fn deployment_links(
        &self,
        ids: &[i64],
    ) -> Result<Vec<DeploymentLinkRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        dispatch!(self, s => s.deployment_links(ids).await)
    }

    /// Writes a links pass and moves the links cursor from `from` to `to`, atomically.
    pub async fn commit_links(
        &self,
        from: i64,
        to: i64,
        writes: &LinkWrites,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.commit_links(from, to, writes).await)
    }

    /// The configuration fingerprint the links were made under, if any.
    pub async fn links_fingerprint(&self) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.links_fingerprint().await)
    }

    /// Forgets every link (and the links cursor) and records the fingerprint the next ones will
    /// be made under: the linker then links every fact again, from the first CDEvent.
    pub async fn reset_links(&self, fingerprint: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.reset_links(fingerprint).await)
    }

    /// Every link row, sorted by id (for tests and consistency checks).
    pub async fn all_links(&self) -> Result<AllLinks, StoreError> {
        // Sorted here: the databases' collations differ.
        let mut links = dispatch!(self, s => s.all_links().await)?;
        links.changes.sort_by(|a, b| a.change_id.cmp(&b.change_id));
        links
            .containments
            .sort_by(|a, b| (&a.change_id, a.deployment_id).cmp(&(&b.change_id, b.deployment_id)));
        links
            .incidents
            .sort_by(|a, b| a.incident_id.cmp(&b.incident_id));
        links.deployments.sort_by_key(|d| d.deployment_id);
        Ok(links)
    }
}

/// What the keys read of one production deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentKeyRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub flags: i64,
    pub recovery_seconds: Option<i64>,
}

/// What the keys read of one shipped change (the id is left empty by [`Store::key_rows`]: the
/// keys do not need it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedKeyRecord {
    pub change_id: String,
    pub at: DateTime<Utc>,
    pub deployment_id: i64,
    pub lead: i32,
    pub skewed: i32,
}

/// What the keys read of one incident (the id is left empty by [`Store::key_rows`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentKeyRecord {
    pub id: String,
    pub detected_at: DateTime<Utc>,
    pub unattributed: bool,
}

/// The key rows of a span of time: production deployments, shipped changes (by their first
/// production deployment's time), incidents (by detection), and the detection times of the
/// incidents blamed on those deployments.
#[derive(Debug, Clone, Default)]
pub struct KeyRowsRecord {
    pub deployments: Vec<DeploymentKeyRecord>,
    /// `(deployment id, detection time)` of the incidents blamed on `deployments`.
    pub detections: Vec<(i64, DateTime<Utc>)>,
    pub shipped: Vec<ShippedKeyRecord>,
    pub incidents: Vec<IncidentKeyRecord>,
}

/// How far the links are behind the CDEvents store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkLag {
    /// The links cursor.
    pub version: i64,
    /// CDEvents stored but not linked yet (from the highest sequence number: on PostgreSQL a
    /// number left unused by a rolled back append counts too).
    pub cdevents_behind: i64,
    /// When the oldest of them was stored.
    pub oldest_unlinked_at: Option<DateTime<Utc>>,
}

/// One page of a drill-down list, newest first.
#[derive(Debug, Clone, Default)]
pub struct Page<T> {
    /// Items in the window (all pages), when counted.
    pub total: Option<i64>,
    pub items: Vec<T>,
}

/// A deployment with its links, for drill-down.
#[derive(Debug, Clone)]
pub struct DeploymentPageRow {
    pub deployment: DeploymentRecord,
    /// The `detail` of its links (absent while not linked yet).
    pub detail: Option<String>,
    /// Changes it shipped, sorted.
    pub shipped: Vec<String>,
    /// Incidents blamed on it, by detection then id.
    pub incidents: Vec<String>,
}

/// Where a drill-down page starts: after this item of the previous page (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageAfter {
    /// A deployment's (time, id).
    Deployment(DateTime<Utc>, i64),
    /// A change's (first production deployment's time, its id, the change id).
    Change(DateTime<Utc>, i64, String),
    /// An incident's (detection, id).
    Incident(DateTime<Utc>, String),
}

/// A page request: the window, and either an offset or a keyset start.
#[derive(Debug, Clone)]
pub struct PageQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub limit: i64,
    pub offset: i64,
    pub after: Option<PageAfter>,
    /// Count the items of the window (`Page::total`); otherwise the caller knows it.
    pub count: bool,
}

/// The folded facts a filtered scope may need, as stored by the linker.
#[derive(Debug, Clone, Default)]
pub struct ScopeRecords {
    pub deployments: Vec<DeploymentRecord>,
    /// `detail` of the changes contained in a deployment of the scope's services and
    /// environments.
    pub change_details: Vec<String>,
    /// `detail` of the incidents of the scope's services, or naming no service.
    pub incident_details: Vec<String>,
}

/// How many link positions of dirty days are kept: a reader further behind loads everything.
pub const DIRTY_DAYS_KEPT: i64 = 1_000_000;

impl Store {
    /// The key rows with times in `[from, to)` (`None`: unbounded).
    pub async fn key_rows(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<KeyRowsRecord, StoreError> {
        dispatch!(self, s => s.key_rows(from, to).await)
    }

    /// The days whose key rows changed in link passes after `after` up to `upto`; `None` when
    /// those records were pruned (the reader must load everything again).
    pub async fn dirty_days_since(
        &self,
        after: i64,
        upto: i64,
    ) -> Result<Option<Vec<i32>>, StoreError> {
        dispatch!(self, s => s.dirty_days_since(after, upto).await)
    }

    /// The links cursor and how far it is behind the CDEvents store.
    pub async fn link_lag(&self) -> Result<LinkLag, StoreError> {
        dispatch!(self, s => s.link_lag().await)
    }

    /// A page of the deployments (any environment) in the window, newest first.
    pub async fn deployment_page(
        &self,
        query: &PageQuery,
    ) -> Result<Page<DeploymentPageRow>, StoreError> {
        dispatch!(self, s => s.deployment_page(query).await)
    }

    /// A page of the changes first deployed to production in the window, newest first.
    pub async fn change_page(&self, query: &PageQuery) -> Result<Page<ChangeLinkRow>, StoreError> {
        dispatch!(self, s => s.change_page(query).await)
    }

    /// A page of the incidents detected in the window, newest first.
    pub async fn incident_page(
        &self,
        query: &PageQuery,
    ) -> Result<Page<IncidentLinkRow>, StoreError> {
        dispatch!(self, s => s.incident_page(query).await)
    }

    /// Deployments (any environment) with `from <= deployed_at < to`, by time.
    pub async fn deployments_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        dispatch!(self, s => s.deployments_between(from, to).await)
    }

    /// What a scope of these services and environments (`None`: any) may need.
    pub async fn scope_records(
        &self,
        services: Option<&[String]>,
        environments: Option<&[String]>,
    ) -> Result<ScopeRecords, StoreError> {
        dispatch!(self, s => s.scope_records(services, environments).await)
    }
}
