//! The folded facts, kept between requests while the calculator has not moved.
//!
//! Every key, series, drill-down and gauge starts from all stored facts folded together (a change
//! or an incident is judged on all its observations). Loading and folding them is most of a
//! request's cost, and it only changes when the facts calculator commits: the cache is keyed by
//! the calculator's cursor, read on every request (one indexed row), so answers are never staler
//! than without it. One reload runs at a time; requests arriving meanwhile wait for it.

use std::collections::BTreeMap;
use std::sync::Arc;

use dora_metrics::dora::facts::DoraFacts;
use dora_store::{FactFilter, Position, Store, StoreError, DEPLOYMENTS_CURSOR};
use tokio::sync::Mutex;

/// Facts folded at one position of the calculator.
#[derive(Debug)]
pub struct CachedFacts {
    pub version: Position,
    pub facts: Arc<DoraFacts>,
    /// Deployment id -> the id of the CDEvent it came from (for drill-down).
    pub cdevent_ids: BTreeMap<i64, String>,
}

/// The process's cache of folded facts.
#[derive(Debug, Default)]
pub struct FactsCache {
    current: Mutex<Option<Arc<CachedFacts>>>,
}

impl FactsCache {
    /// The facts as of the calculator's current position, reloaded when it has moved.
    pub async fn get(
        &self,
        store: &Store,
        teams: &BTreeMap<String, String>,
    ) -> Result<Arc<CachedFacts>, StoreError> {
        // Read before loading: rows committed meanwhile may be included under the older
        // version, which only causes one more reload later; none can be missing.
        let version = store.cursor(DEPLOYMENTS_CURSOR).await?;
        let mut current = self.current.lock().await;
        if let Some(cached) = current.as_ref().filter(|c| c.version == version) {
            return Ok(Arc::clone(cached));
        }
        let rows = store.load_facts(&FactFilter::default()).await?;
        let cdevent_ids = rows
            .deployments
            .iter()
            .map(|d| (d.id, d.cdevent_id.clone()))
            .collect();
        let fresh = Arc::new(CachedFacts {
            version,
            facts: Arc::new(dora_metrics::facts::fold(rows, teams)),
            cdevent_ids,
        });
        *current = Some(Arc::clone(&fresh));
        Ok(fresh)
    }
}
