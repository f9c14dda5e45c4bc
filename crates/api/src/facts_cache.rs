//! The folded and linked facts, kept between requests while the calculator has not moved: what
//! the metrics endpoint reads (... -> facts calculator -> **facts cache** -> keys, drill-down).
//!
//! Every key, series, drill-down and gauge starts from all stored facts folded together (a change
//! or an incident is judged on all its observations), linked once per scope ([`KeyColumns`]), so
//! a request only scans the rows of its window (BENCHMARKS.md). The cache is keyed by the facts
//! calculator's cursor, read on every request (one indexed row).
//!
//! When the cursor has moved, one rebuild (load, fold, link the unfiltered scope) runs in the
//! background and requests wait for it, but at most `[dora] freshness_wait` (default
//! [`DEFAULT_FRESHNESS_WAIT`]) when an older version is at hand: past that they answer from the
//! older version and say so (`stale`). On a history of millions of facts under constant ingest,
//! answers stay fast and lag by one rebuild; on small ones the rebuild takes milliseconds and
//! every answer is current. Rebuilds run one at a time, and a new one starts no sooner than the
//! previous one took after it ended (at most half of a core goes to rebuilding, however often the
//! cursor moves); a request that may still wait sleeps until then. A filtered scope is linked by
//! the first request for it in a version, which waits for that (the wait is not bounded by the
//! freshness wait; requests for other scopes are not held up).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dora_metrics::dora::facts::DoraFacts;
use dora_metrics::dora::linking::Linked;
use dora_metrics::dora::{DoraConfig, KeyColumns};
use dora_metrics::facts::{narrow, Scope};
use dora_store::{FactFilter, Position, Store, StoreError, DEPLOYMENTS_CURSOR};
use tokio::sync::{watch, OnceCell};

/// How long a request waits for a rebuild when it could answer from an older version, unless
/// configured otherwise.
pub const DEFAULT_FRESHNESS_WAIT: Duration = Duration::from_secs(2);

/// Facts folded at one position of the calculator.
#[derive(Debug)]
pub struct CachedFacts {
    pub version: Position,
    pub facts: Arc<DoraFacts>,
    /// Deployment id -> the id of the CDEvent it came from (for drill-down).
    pub cdevent_ids: BTreeMap<i64, String>,
    /// Linked facts per scope, reduced to the keys' columns; each scope is built once, and
    /// building one does not hold up requests for the others.
    columns: std::sync::Mutex<HashMap<Scope, ScopeColumns>>,
}

/// The columns of one scope, built by the first request that needs them.
type ScopeColumns = Arc<OnceCell<Arc<KeyColumns>>>;

/// Filtered scopes whose columns are kept per version; past it they are dropped (the unfiltered
/// scope stays) and built again when asked for.
const MAX_CACHED_SCOPES: usize = 256;

impl CachedFacts {
    /// The facts of `scope` linked under `config` (the process's one configuration), reduced to
    /// the columns the keys read. Built on a blocking thread the first time a scope is asked for.
    pub async fn columns(
        &self,
        scope: &Scope,
        config: &DoraConfig,
    ) -> Result<Arc<KeyColumns>, tokio::task::JoinError> {
        let cell = {
            let mut cached = self
                .columns
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !cached.contains_key(scope) && cached.len() > MAX_CACHED_SCOPES {
                cached.retain(|kept, _| kept == &Scope::default());
            }
            Arc::clone(cached.entry(scope.clone()).or_default())
        };
        let columns = cell
            .get_or_try_init(|| {
                let facts = Arc::clone(&self.facts);
                let (wanted, config) = (scope.clone(), config.clone());
                tokio::task::spawn_blocking(move || {
                    let linked_columns = |facts: &DoraFacts| Linked::new(facts, &config).columns();
                    Arc::new(if wanted == Scope::default() {
                        linked_columns(&facts)
                    } else {
                        linked_columns(&narrow(&facts, &wanted))
                    })
                })
            })
            .await?;
        Ok(Arc::clone(columns))
    }
}

/// The facts a request reads, and whether they lag behind the calculator.
#[derive(Debug, Clone)]
pub struct Facts {
    pub cached: Arc<CachedFacts>,
    /// A rebuild to the calculator's current position was still running after the freshness
    /// wait: these are the facts of the previous one.
    pub stale: bool,
}

/// The outcome of one rebuild, as its waiters see it.
type Rebuilt = Option<Result<Arc<CachedFacts>, Arc<StoreError>>>;

/// What a request does next when the cached facts are older than it needs.
enum Next {
    /// Wait for this rebuild (with these older facts to fall back on, if any).
    Wait(Option<Arc<CachedFacts>>, watch::Receiver<Rebuilt>),
    /// Sleep until rebuilding may start again.
    Rest(Instant),
}

#[derive(Debug, Default)]
struct CacheState {
    current: Option<Arc<CachedFacts>>,
    /// The rebuild running now.
    rebuilding: Option<watch::Receiver<Rebuilt>>,
    /// No rebuild starts before this (the last one's duration after its end).
    next_rebuild: Option<Instant>,
}

/// The process's cache of folded facts.
#[derive(Debug)]
pub struct FactsCache {
    state: std::sync::Mutex<CacheState>,
    freshness_wait: Duration,
}

impl Default for FactsCache {
    fn default() -> Self {
        Self::new(DEFAULT_FRESHNESS_WAIT)
    }
}

/// What a rebuild needs besides the store: the configuration's teams and DORA settings.
#[derive(Debug, Clone)]
pub struct FactsConfig {
    pub teams: BTreeMap<String, String>,
    pub dora: DoraConfig,
}

impl FactsCache {
    /// An empty cache whose requests wait at most `freshness_wait` for a rebuild.
    pub fn new(freshness_wait: Duration) -> Self {
        Self {
            state: std::sync::Mutex::default(),
            freshness_wait,
        }
    }

    /// The facts as of the calculator's current position (or, when a rebuild to it takes longer
    /// than the freshness wait, of the previous rebuild, marked `stale`).
    pub async fn get(
        self: &Arc<Self>,
        store: &Store,
        config: &FactsConfig,
    ) -> Result<Facts, Arc<StoreError>> {
        let wanted = store.cursor(DEPLOYMENTS_CURSOR).await?;
        let deadline = Instant::now() + self.freshness_wait;
        loop {
            let next = {
                let mut state = self.lock();
                let current = state.current.clone();
                if let Some(cached) = current.as_ref().filter(|c| c.version >= wanted) {
                    return Ok(Facts {
                        cached: Arc::clone(cached),
                        stale: false,
                    });
                }
                match (&state.rebuilding, state.next_rebuild, &current) {
                    (Some(rebuilding), _, _) => Next::Wait(current.clone(), rebuilding.clone()),
                    // Resting after the last rebuild, with older facts at hand: wait for the
                    // rest to end if the freshness wait allows, else answer from them.
                    (None, Some(rest_until), Some(cached)) if Instant::now() < rest_until => {
                        if rest_until < deadline {
                            Next::Rest(rest_until)
                        } else {
                            return Ok(Facts {
                                cached: Arc::clone(cached),
                                stale: true,
                            });
                        }
                    }
                    (None, _, _) => {
                        let receiver = self.start_rebuild(store.clone(), config.clone());
                        state.rebuilding = Some(receiver.clone());
                        Next::Wait(current.clone(), receiver)
                    }
                }
            };
            let (current, mut rebuilt) = match next {
                Next::Rest(until) => {
                    tokio::time::sleep_until(until.into()).await;
                    continue;
                }
                Next::Wait(current, rebuilt) => (current, rebuilt),
            };
            let finished = rebuilt.wait_for(Option::is_some);
            let outcome = match &current {
                None => finished.await.map(|r| r.clone()),
                Some(cached) => match tokio::time::timeout_at(deadline.into(), finished).await {
                    Ok(outcome) => outcome.map(|r| r.clone()),
                    Err(_) => {
                        return Ok(Facts {
                            cached: Arc::clone(cached),
                            stale: true,
                        })
                    }
                },
            };
            match outcome {
                Ok(Some(Err(error))) => return Err(error),
                // Rebuilt (maybe from before `wanted`: look again).
                Ok(_) => continue,
                // The rebuild ended without a word (its task was dropped): forget it, so that
                // the next look starts another one.
                Err(_) => {
                    let mut state = self.lock();
                    if state
                        .rebuilding
                        .as_ref()
                        .is_some_and(|r| r.same_channel(&rebuilt))
                    {
                        state.rebuilding = None;
                    }
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a rebuild in the background; its outcome is published on the returned channel.
    fn start_rebuild(
        self: &Arc<Self>,
        store: Store,
        config: FactsConfig,
    ) -> watch::Receiver<Rebuilt> {
        let (sender, receiver) = watch::channel(None);
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            let started = Instant::now();
            let outcome = rebuild(&store, &config).await.map_err(Arc::new);
            let mut state = cache.lock();
            if let Ok(fresh) = &outcome {
                if state
                    .current
                    .as_ref()
                    .is_none_or(|c| c.version <= fresh.version)
                {
                    state.current = Some(Arc::clone(fresh));
                }
            }
            state.rebuilding = None;
            state.next_rebuild = Some(Instant::now() + started.elapsed());
            sender.send_replace(Some(outcome));
        });
        receiver
    }
}

/// Loads and folds every fact as of the calculator's position now, and links the unfiltered scope.
async fn rebuild(store: &Store, config: &FactsConfig) -> Result<Arc<CachedFacts>, StoreError> {
    // Read before loading: rows committed meanwhile may be included under the older version,
    // which only causes one more rebuild later; none can be missing.
    let version = store.cursor(DEPLOYMENTS_CURSOR).await?;
    let rows = store.load_facts(&FactFilter::default()).await?;
    let teams = config.teams.clone();
    let folded = tokio::task::spawn_blocking(move || {
        let cdevent_ids = rows
            .deployments
            .iter()
            .map(|d| (d.id, d.cdevent_id.clone()))
            .collect();
        (
            Arc::new(dora_metrics::facts::fold(rows, &teams)),
            cdevent_ids,
        )
    })
    .await;
    let Ok((facts, cdevent_ids)) = folded else {
        return Err(StoreError::Corrupt {
            seq: 0,
            reason: "folding the facts failed".into(),
        });
    };
    let fresh = Arc::new(CachedFacts {
        version,
        facts,
        cdevent_ids,
        columns: std::sync::Mutex::default(),
    });
    // The unfiltered scope is what most requests read: link it now, off the request path.
    let _ = fresh.columns(&Scope::default(), &config.dora).await;
    Ok(fresh)
}
