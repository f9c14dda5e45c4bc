//! The background stages of `serve`: each runs passes until caught up, then sleeps until the
//! stage before it commits something (a [`Notify`]) or its interval elapses, whichever is first.
//! A failed pass (database away) is retried with backoff; nothing is skipped, since the cursor
//! only moves with a committed pass.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use dora_store::StoreError;
use tokio::sync::{watch, Notify};

/// How long a woken stage waits before its pass: long enough to gather the commits of a burst
/// into one pass, short against the latency users see.
const SETTLE_AFTER_WAKE: Duration = Duration::from_millis(10);

/// A pass that processed fewer rows than this kept up with what arrives: rows are coming in (the
/// stage is not idle) but in small numbers per pass. The next pass then waits
/// [`SETTLE_UNDER_LOAD`] so that it takes many rows at once: under a steady stream of ingested
/// events a stage that passed again at once would pay its per-pass cost (reads, a transaction,
/// the cursor) for a handful of rows each time, taking CPU from ingest on a small machine.
const SMALL_PASS: usize = 250;

/// How long a stage that keeps up lets rows gather before its next pass (see [`SMALL_PASS`]): a
/// bound on the delay it adds to the metrics, short against the latency users see.
const SETTLE_UNDER_LOAD: Duration = Duration::from_millis(50);

/// What one pass of a stage did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Rows processed (0: caught up, or waiting for `pending` rows).
    pub processed: usize,
    /// Rows exist that could not be read yet; pass again shortly rather than sleep.
    pub pending: bool,
    /// The pass read as many rows as one pass may (its batch size, or its text budget of large
    /// events): more may be waiting, pass again at once however few rows that was.
    pub full: bool,
}

/// How soon a stage passes again when rows are pending behind a running transaction.
const PENDING_RETRY: Duration = Duration::from_millis(20);

/// Runs `pass` until shutdown.
pub async fn run_stage<F, Fut>(
    name: &'static str,
    wake: Arc<Notify>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
    mut pass: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Progress, StoreError>>,
{
    let mut backoff = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let pause = match pass().await {
            Ok(progress) if progress.processed > 0 => {
                // The database is back: the next failure starts the backoff afresh (a stage
                // that never catches up under steady load would otherwise keep the 30 s pause
                // of an earlier outage for the next one).
                backoff = Duration::from_millis(100);
                if progress.processed < SMALL_PASS && !progress.full {
                    tokio::select! {
                        _ = tokio::time::sleep(SETTLE_UNDER_LOAD) => {}
                        _ = shutdown.changed() => return,
                    }
                }
                continue;
            }
            Ok(progress) => {
                backoff = Duration::from_millis(100);
                if progress.pending {
                    PENDING_RETRY
                } else {
                    interval
                }
            }
            Err(StoreError::CursorMoved { .. }) => continue,
            Err(error) => {
                tracing::error!(stage = name, error = %error, retry_in = ?backoff, "stage pass failed");
                let pause = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                pause
            }
        };
        tokio::select! {
            _ = wake.notified() => {
                // Let the commits that follow this one land, so one pass takes many of them.
                tokio::time::sleep(SETTLE_AFTER_WAKE).await;
            }
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Runs the worker of one external function until shutdown: passes while it finishes jobs, then
/// sleeps until its next job is due, the router enqueues one (`wake`), or `interval` elapses.
/// After a failed call the function is left alone until the retry is due, whatever wakes it.
pub async fn run_function_stage(
    worker: dora_pipeline::functions::FunctionWorker,
    wake: Arc<Notify>,
    cdevents_committed: Arc<Notify>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let mut paused_until = None;
        let pause = match worker.run_pass().await {
            Ok(pass) => {
                backoff = Duration::from_millis(100);
                if pass.cdevents > 0 {
                    cdevents_committed.notify_one();
                }
                if pass.finished > 0 && pass.paused_until.is_none() {
                    continue;
                }
                paused_until = pass.paused_until;
                let next_due = match pass.paused_until {
                    Some(at) => Ok(Some(at)),
                    None => worker.next_due().await,
                };
                match next_due {
                    Ok(Some(at)) => (at - chrono::Utc::now())
                        .to_std()
                        .unwrap_or(Duration::ZERO)
                        .clamp(Duration::from_millis(10), interval),
                    Ok(None) => interval,
                    Err(error) => {
                        tracing::error!(function = worker.name(), error = %error, "function stage failed");
                        backoff
                    }
                }
            }
            Err(error) => {
                tracing::error!(function = worker.name(), error = %error, retry_in = ?backoff, "function stage pass failed");
                let pause = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                pause
            }
        };
        let sleep = tokio::time::sleep(pause);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = wake.notified() => {
                    // New jobs wait for the retry of a function that is away.
                    if paused_until.is_some_and(|at| at > chrono::Utc::now()) {
                        continue;
                    }
                    tokio::time::sleep(SETTLE_AFTER_WAKE).await;
                }
                _ = &mut sleep => {}
                _ = shutdown.changed() => return,
            }
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::time::Instant;

    fn unavailable() -> StoreError {
        StoreError::Database(sqlx::Error::PoolTimedOut)
    }

    /// Runs a stage whose `n`th pass (from 1) answers `answer(n)`; the pass `last` stops it.
    /// Returns when each pass began.
    async fn pass_times(
        last: usize,
        answer: impl Fn(usize) -> Result<Progress, StoreError> + Clone + Send + 'static,
    ) -> Vec<Instant> {
        let calls: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let (stop, shutdown) = watch::channel(false);
        let stop = Arc::new(stop);
        let pass = {
            let calls = calls.clone();
            move || {
                let (calls, stop, answer) = (calls.clone(), stop.clone(), answer.clone());
                async move {
                    let n = {
                        let mut calls = calls.lock().unwrap_or_else(|e| e.into_inner());
                        calls.push(Instant::now());
                        calls.len()
                    };
                    if n == last {
                        let _ = stop.send(true);
                    }
                    answer(n)
                }
            }
        };
        let stage = run_stage(
            "test",
            Arc::new(Notify::new()),
            Duration::from_secs(60),
            shutdown,
            pass,
        );
        tokio::time::timeout(Duration::from_secs(10), stage)
            .await
            .unwrap_or_else(|_| panic!("the stage did not stop"));
        let calls = calls.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert_eq!(calls.len(), last);
        calls
    }

    /// A pass of few rows that filled its text budget (large events) is followed at once; one of
    /// as few rows that did not waits [`SETTLE_UNDER_LOAD`] for more to gather.
    #[tokio::test(start_paused = true)]
    async fn a_small_pass_that_filled_its_budget_is_followed_at_once() {
        for (full, expected) in [(true, Duration::ZERO), (false, SETTLE_UNDER_LOAD)] {
            let calls = pass_times(3, move |n| {
                Ok(match n {
                    3 => Progress::default(),
                    _ => Progress {
                        processed: 16,
                        pending: false,
                        full,
                    },
                })
            })
            .await;
            assert_eq!(calls[1] - calls[0], expected, "full: {full}");
            assert_eq!(calls[2] - calls[1], expected, "full: {full}");
        }
    }

    /// Three failed passes (pauses of 100, 200 and 400 ms), one that processed rows, then a
    /// failure again: the pause after it is 100 ms again, not the 800 ms the backoff had reached.
    #[tokio::test]
    async fn a_pass_that_processed_rows_resets_the_backoff() {
        let calls = pass_times(6, |n| match n {
            4 => Ok(Progress {
                processed: 1,
                ..Progress::default()
            }),
            6 => Ok(Progress::default()),
            _ => Err(unavailable()),
        })
        .await;
        // Before the fix: 800 ms.
        let pause = calls[5] - calls[4];
        assert!(
            pause < Duration::from_millis(500),
            "paused {pause:?} after a recovered pass"
        );
        assert!(pause >= Duration::from_millis(100), "paused {pause:?}");
    }
}
