//! The keys' columns the API answers from, kept up to date from the link tables (... -> links
//! -> **live keys** -> keys, series, gauges).
//!
//! - **Unfiltered**: one [`KeyColumns`] for every fact, loaded once from the link tables'
//!   key rows, then moved forward by replacing only the UTC days the linker marked as changed
//!   (`link_dirty_days`): the cost of an update follows what changed, not the history. Requests
//!   read the links cursor (one indexed row), and when it has moved one refresh runs in the
//!   background; a request waits for it at most `[dora] freshness_wait` and otherwise answers
//!   from the previous columns, marked stale.
//! - **Filtered** (service, environment, team): the scope's facts, as the linker folded them,
//!   are read from the database and linked in memory ([`Linked`] over the scope), once per links
//!   version and scope; the cost follows the scope's history. The same wait applies.
//!
//! Every answer says how far the links are behind the CDEvents store ([`Freshness`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dora_metrics::dora::facts::DoraFacts;
use dora_metrics::dora::linking::Linked;
use dora_metrics::dora::{DoraConfig, KeyColumns};
use dora_metrics::linker::{key_rows_from, scope_facts};
use dora_metrics::scope::{narrow, Scope};
use dora_store::{LinkLag, Store, StoreError};
use serde::Serialize;
use tokio::sync::{watch, OnceCell};

/// How long a request waits for fresher columns when it could answer from older ones, unless
/// configured otherwise.
pub const DEFAULT_FRESHNESS_WAIT: Duration = Duration::from_secs(2);

/// Filtered scopes kept per version; past it they are dropped and built again when asked for.
const MAX_CACHED_SCOPES: usize = 256;

/// How fresh an answer is.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Freshness {
    /// Answered from columns older than the links cursor (a refresh took longer than the
    /// freshness wait).
    pub stale: bool,
    /// CDEvents stored and not linked yet.
    pub behind_cdevents: i64,
    /// Seconds since the oldest of them was stored (0 when none).
    pub behind_seconds: i64,
    /// The links version the answer reflects.
    #[serde(skip)]
    pub version: i64,
}

impl Freshness {
    fn new(lag: &LinkLag, version: i64, stale: bool) -> Self {
        let behind_seconds = lag
            .oldest_unlinked_at
            .map_or(0, |at| (Utc::now() - at).num_seconds().max(0));
        Freshness {
            stale,
            behind_cdevents: lag.cdevents_behind,
            behind_seconds,
            version,
        }
    }
}

/// Columns as of one links version.
#[derive(Debug)]
struct Snapshot {
    version: i64,
    columns: Arc<KeyColumns>,
}

/// A filtered scope's facts and columns as of one links version.
#[derive(Debug)]
pub struct ScopeLinks {
    pub version: i64,
    /// The scope's facts, narrowed (for drill-down).
    pub facts: DoraFacts,
    /// Deployment id -> the id of the CDEvent it came from.
    pub cdevent_ids: BTreeMap<i64, String>,
    pub columns: Arc<KeyColumns>,
}

type Refreshed = Option<Result<(), Arc<StoreError>>>;

#[derive(Debug, Default)]
struct ScopeEntry {
    version: i64,
    cell: Arc<OnceCell<Arc<ScopeLinks>>>,
    /// The last built links of the scope, to answer from while a newer version is built.
    previous: Option<Arc<ScopeLinks>>,
}

/// The process's live columns.
#[derive(Debug)]
pub struct LiveKeys {
    snapshot: std::sync::Mutex<Option<Arc<Snapshot>>>,
    refreshing: std::sync::Mutex<Option<watch::Receiver<Refreshed>>>,
    scopes: std::sync::Mutex<HashMap<Scope, ScopeEntry>>,
    freshness_wait: Duration,
}

impl Default for LiveKeys {
    fn default() -> Self {
        Self::new(DEFAULT_FRESHNESS_WAIT)
    }
}

/// What building columns needs besides the store.
#[derive(Debug, Clone)]
pub struct KeysConfig {
    pub teams: BTreeMap<String, String>,
    pub dora: DoraConfig,
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LiveKeys {
    pub fn new(freshness_wait: Duration) -> Self {
        Self {
            snapshot: std::sync::Mutex::default(),
            refreshing: std::sync::Mutex::default(),
            scopes: std::sync::Mutex::default(),
            freshness_wait,
        }
    }

    /// The columns of `scope`, as fresh as the freshness wait allows.
    pub async fn columns(
        self: &Arc<Self>,
        store: &Store,
        config: &KeysConfig,
        scope: &Scope,
    ) -> Result<(Arc<KeyColumns>, Freshness), Arc<StoreError>> {
        if scope == &Scope::default() {
            self.unfiltered(store, config).await
        } else {
            let (links, freshness) = self.scope(store, config, scope).await?;
            Ok((Arc::clone(&links.columns), freshness))
        }
    }

    /// The unfiltered columns.
    pub async fn unfiltered(
        self: &Arc<Self>,
        store: &Store,
        config: &KeysConfig,
    ) -> Result<(Arc<KeyColumns>, Freshness), Arc<StoreError>> {
        let lag = store.link_lag().await?;
        let deadline = tokio::time::Instant::now() + self.freshness_wait;
        loop {
            let current = lock(&self.snapshot).clone();
            if let Some(snapshot) = current.as_ref().filter(|s| s.version == lag.version) {
                return Ok((
                    Arc::clone(&snapshot.columns),
                    Freshness::new(&lag, snapshot.version, false),
                ));
            }
            let mut refreshed = self.start_refresh(store, config, lag.version);
            let finished = refreshed.wait_for(Option::is_some);
            let outcome = match &current {
                None => finished.await.map(|r| r.clone()),
                Some(snapshot) => match tokio::time::timeout_at(deadline, finished).await {
                    Ok(outcome) => outcome.map(|r| r.clone()),
                    Err(_) => {
                        return Ok((
                            Arc::clone(&snapshot.columns),
                            Freshness::new(&lag, snapshot.version, true),
                        ))
                    }
                },
            };
            match outcome {
                Ok(Some(Err(error))) => return Err(error),
                Ok(_) | Err(_) => {
                    let now = lock(&self.snapshot).clone();
                    match now {
                        // At or past what this request read: answer (a newer version is fine).
                        Some(snapshot) if snapshot.version >= lag.version => {
                            let stale = snapshot.version < lag.version;
                            return Ok((
                                Arc::clone(&snapshot.columns),
                                Freshness::new(&lag, snapshot.version, stale),
                            ));
                        }
                        // A reset (the links cursor went back) or a refresh to an older
                        // version finished: look again.
                        _ => {
                            if tokio::time::Instant::now() >= deadline && current.is_some() {
                                if let Some(snapshot) = current {
                                    return Ok((
                                        Arc::clone(&snapshot.columns),
                                        Freshness::new(&lag, snapshot.version, true),
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Starts a refresh to `version` unless one runs; its outcome comes on the channel.
    fn start_refresh(
        self: &Arc<Self>,
        store: &Store,
        config: &KeysConfig,
        version: i64,
    ) -> watch::Receiver<Refreshed> {
        let mut refreshing = lock(&self.refreshing);
        if let Some(running) = refreshing.as_ref() {
            if running.borrow().is_none() {
                return running.clone();
            }
        }
        let (sender, receiver) = watch::channel(None);
        *refreshing = Some(receiver.clone());
        let (live, store, config) = (Arc::clone(self), store.clone(), config.dora.clone());
        tokio::spawn(async move {
            let outcome = live.refresh(&store, config, version).await;
            sender.send_replace(Some(outcome.map_err(Arc::new)));
        });
        receiver
    }

    /// Moves the columns to `version`: the changed days only, or everything when there is
    /// nothing to start from (first use, links made again, dirty days pruned).
    async fn refresh(
        &self,
        store: &Store,
        config: DoraConfig,
        version: i64,
    ) -> Result<(), StoreError> {
        let current = lock(&self.snapshot).clone();
        let days = match &current {
            Some(snapshot) if snapshot.version <= version => {
                store.dirty_days_since(snapshot.version, version).await?
            }
            _ => None,
        };
        let columns = match (current, days) {
            (Some(snapshot), Some(days)) => {
                if days.is_empty() {
                    Arc::clone(&snapshot.columns)
                } else {
                    let mut rows = dora_store::KeyRowsRecord::default();
                    for (start, end) in day_spans(&days) {
                        let part = store.key_rows(Some(start), Some(end)).await?;
                        rows.deployments.extend(part.deployments);
                        rows.detections.extend(part.detections);
                        rows.shipped.extend(part.shipped);
                        rows.incidents.extend(part.incidents);
                    }
                    let (deployments, shipped, incidents) = key_rows_from(rows);
                    let days: BTreeSet<i32> = days.into_iter().collect();
                    let old = Arc::clone(&snapshot.columns);
                    Arc::new(
                        blocking(move || {
                            old.with_days_replaced(&days, deployments, shipped, incidents)
                        })
                        .await?,
                    )
                }
            }
            _ => {
                let rows = store.key_rows(None, None).await?;
                Arc::new(
                    blocking(move || {
                        let (deployments, shipped, incidents) = key_rows_from(rows);
                        KeyColumns::from_rows(config, deployments, shipped, incidents)
                    })
                    .await?,
                )
            }
        };
        let mut snapshot = lock(&self.snapshot);
        if snapshot.as_ref().is_none_or(|s| s.version != version) {
            *snapshot = Some(Arc::new(Snapshot { version, columns }));
        }
        Ok(())
    }

    /// A filtered scope's facts and columns.
    pub async fn scope(
        self: &Arc<Self>,
        store: &Store,
        config: &KeysConfig,
        scope: &Scope,
    ) -> Result<(Arc<ScopeLinks>, Freshness), Arc<StoreError>> {
        let lag = store.link_lag().await?;
        let (cell, previous) = {
            let mut scopes = lock(&self.scopes);
            if !scopes.contains_key(scope) && scopes.len() >= MAX_CACHED_SCOPES {
                scopes.clear();
            }
            let entry = scopes.entry(scope.clone()).or_default();
            if entry.version != lag.version || entry.cell.get().is_none() && entry.version == 0 {
                let previous = entry.cell.get().cloned().or_else(|| entry.previous.clone());
                *entry = ScopeEntry {
                    version: lag.version,
                    cell: Arc::default(),
                    previous,
                };
            }
            (Arc::clone(&entry.cell), entry.previous.clone())
        };
        if let Some(links) = cell.get() {
            return Ok((
                Arc::clone(links),
                Freshness::new(&lag, links.version, false),
            ));
        }
        // Built in a task of its own, so that a request giving up does not cancel it.
        let build = {
            let (cell, store, config, scope) = (
                Arc::clone(&cell),
                store.clone(),
                config.clone(),
                scope.clone(),
            );
            let version = lag.version;
            tokio::spawn(async move {
                cell.get_or_try_init(|| build_scope(&store, &config, &scope, version))
                    .await
                    .cloned()
            })
        };
        let joined = match previous {
            None => build.await,
            Some(previous) => match tokio::time::timeout(self.freshness_wait, build).await {
                Ok(joined) => joined,
                Err(_) => {
                    let freshness = Freshness::new(&lag, previous.version, true);
                    return Ok((previous, freshness));
                }
            },
        };
        let links = joined
            .map_err(|e| {
                Arc::new(StoreError::Corrupt {
                    seq: 0,
                    reason: format!("linking a scope failed: {e}"),
                })
            })?
            .map_err(Arc::new)?;
        Ok((
            Arc::clone(&links),
            Freshness::new(&lag, links.version, false),
        ))
    }
}

/// Runs CPU work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Corrupt {
            seq: 0,
            reason: format!("building the key columns failed: {e}"),
        })
}

/// Runs of consecutive days as `[start, end)` instants.
fn day_spans(days: &[i32]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut spans: Vec<(i32, i32)> = Vec::new();
    for &day in days {
        match spans.last_mut() {
            Some((_, end)) if *end == day => *end = day + 1,
            _ => spans.push((day, day + 1)),
        }
    }
    let instant = |day: i32| {
        DateTime::from_timestamp(i64::from(day) * 86_400, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
    };
    spans
        .into_iter()
        .map(|(start, end)| (instant(start), instant(end)))
        .collect()
}

/// Reads a scope's facts as the linker folded them, narrows and links them.
async fn build_scope(
    store: &Store,
    config: &KeysConfig,
    scope: &Scope,
    version: i64,
) -> Result<Arc<ScopeLinks>, StoreError> {
    let (facts, cdevent_ids) = scope_facts(store, &config.teams, scope).await?;
    let dora = config.dora.clone();
    let scope = scope.clone();
    let version_built = version;
    blocking(move || {
        let facts = narrow(&facts, &scope);
        let columns = Arc::new(Linked::new(&facts, &dora).columns());
        Arc::new(ScopeLinks {
            version: version_built,
            facts,
            cdevent_ids,
            columns,
        })
    })
    .await
}
