//! The folded facts, kept between requests while the calculator has not moved.
//!
//! Every key, series, drill-down and gauge starts from all stored facts folded together (a change
//! or an incident is judged on all its observations). Loading and folding them is most of a
//! request's cost, and it only changes when the facts calculator commits: the cache is keyed by
//! the calculator's cursor, read on every request (one indexed row), so answers are never staler
//! than without it. One reload runs at a time; requests arriving meanwhile wait for it.
//!
//! Per version, the linked facts of each scope asked for are kept as [`KeyColumns`], so a request
//! for the five keys or a series only scans the rows of its window (BENCHMARKS.md). Linking runs
//! on a blocking thread, once per scope and version.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use dora_metrics::dora::facts::DoraFacts;
use dora_metrics::dora::linking::Linked;
use dora_metrics::dora::{DoraConfig, KeyColumns};
use dora_metrics::facts::{narrow, Scope};
use dora_store::{FactFilter, Position, Store, StoreError, DEPLOYMENTS_CURSOR};
use tokio::sync::Mutex;

/// Facts folded at one position of the calculator.
#[derive(Debug)]
pub struct CachedFacts {
    pub version: Position,
    pub facts: Arc<DoraFacts>,
    /// Deployment id -> the id of the CDEvent it came from (for drill-down).
    pub cdevent_ids: BTreeMap<i64, String>,
    /// Linked facts per scope, reduced to the keys' columns.
    columns: Mutex<HashMap<Scope, Arc<KeyColumns>>>,
}

/// Scopes whose columns are kept per version; past it the oldest are dropped all at once.
const MAX_CACHED_SCOPES: usize = 64;

impl CachedFacts {
    /// The facts of `scope` linked under `config` (the process's one configuration), reduced to
    /// the columns the keys read. Built on a blocking thread the first time a scope is asked for.
    pub async fn columns(
        &self,
        scope: &Scope,
        config: &DoraConfig,
    ) -> Result<Arc<KeyColumns>, tokio::task::JoinError> {
        let mut cached = self.columns.lock().await;
        if let Some(columns) = cached.get(scope) {
            return Ok(Arc::clone(columns));
        }
        let facts = Arc::clone(&self.facts);
        let (wanted, config) = (scope.clone(), config.clone());
        let built = tokio::task::spawn_blocking(move || {
            let linked_columns = |facts: &DoraFacts| Linked::new(facts, &config).columns();
            Arc::new(if wanted == Scope::default() {
                linked_columns(&facts)
            } else {
                linked_columns(&narrow(&facts, &wanted))
            })
        })
        .await?;
        if cached.len() >= MAX_CACHED_SCOPES {
            cached.clear();
        }
        cached.insert(scope.clone(), Arc::clone(&built));
        Ok(built)
    }
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
            columns: Mutex::default(),
        });
        *current = Some(Arc::clone(&fresh));
        Ok(fresh)
    }
}
