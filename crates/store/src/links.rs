//! The link tables the calculator keeps beside the facts (facts calculator -> **links** ->
//! keys, drill-down): what each change, incident and deployment is linked to, written by
//! `dora_metrics::links` for what new facts change, atomically with the `calculator:links`
//! cursor. The rows carry a few indexed columns (what the linker looks up and the keys read) and
//! a `detail` JSON document (the rest, for drill-down); the store does not interpret `detail`.

use chrono::{DateTime, Utc};

use crate::sql::{OptionalStoredTime, StoredTime};
use crate::{DeploymentRecord, ObservationRecord, Store, StoreError};

mod commit;
mod pages;
mod reads;

pub(crate) use commit::link_commits;

/// Cursor of the linker over `cdevents_raw` (it follows the facts cursor).
pub const LINKS_CURSOR: &str = "calculator:links";

/// One change after folding, with its links.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChangeLinkRow {
    pub change_id: String,
    /// The first production deployment containing it.
    pub first_deployment: Option<i64>,
    #[sqlx(try_from = "OptionalStoredTime")]
    pub first_at: Option<DateTime<Utc>>,
    /// Lead time in seconds, or a negative code (no usable start); `None` when not shipped.
    pub lead: Option<i32>,
    pub skewed: i32,
    pub detail: String,
}

/// A deployment containing a change.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ContainmentRow {
    pub change_id: String,
    pub deployment_id: i64,
    pub service: String,
    pub environment: String,
    /// The first deployment of its service and environment to contain the change.
    pub shipped: bool,
}

/// One detected incident with its attribution.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IncidentLinkRow {
    pub incident_id: String,
    #[sqlx(try_from = "StoredTime")]
    pub detected_at: DateTime<Utc>,
    #[sqlx(try_from = "OptionalStoredTime")]
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
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
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

impl LinkWrites {
    /// The changes whose containments this pass replaces: those written and those removed.
    pub(crate) fn rewritten_changes(&self) -> Vec<&str> {
        self.changes
            .iter()
            .map(|c| c.change_id.as_str())
            .chain(self.removed_changes.iter().map(String::as_str))
            .collect()
    }
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
    /// Writes a links pass and moves the links cursor from `from` to `to`, atomically.
    pub async fn commit_links(
        &self,
        from: i64,
        to: i64,
        writes: &LinkWrites,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.commit_links(from, to, writes).await)
    }

    /// Forgets every link (and the links cursor) and records the fingerprint the next ones will
    /// be made under: the linker then links every fact again, from the first CDEvent.
    pub async fn reset_links(&self, fingerprint: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.reset_links(fingerprint).await)
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

/// The production deployments and the shipped changes that the keys read (each backend's
/// `key_records`).
pub(crate) type KeyRecords = (Vec<DeploymentKeyRecord>, Vec<ShippedKeyRecord>);

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
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IncidentKeyRecord {
    pub id: String,
    #[sqlx(try_from = "StoredTime")]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct LinkLag {
    /// The links cursor.
    pub version: i64,
    /// CDEvents stored but not linked yet (from the highest sequence number: on PostgreSQL a
    /// number left unused by a rolled back append counts too).
    pub cdevents_behind: i64,
    /// When the oldest of them was stored.
    #[sqlx(try_from = "OptionalStoredTime")]
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
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeploymentPageRow {
    #[sqlx(flatten)]
    pub deployment: DeploymentRecord,
    /// The `detail` of its links (absent while not linked yet).
    pub detail: Option<String>,
    /// Changes it shipped, sorted.
    #[sqlx(skip)]
    pub shipped: Vec<String>,
    /// Incidents blamed on it, by detection then id.
    #[sqlx(skip)]
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
