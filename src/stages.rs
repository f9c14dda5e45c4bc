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

/// Runs `pass` until shutdown. `pass` returns how much it processed (0: caught up).
pub async fn run_stage<F, Fut>(
    name: &'static str,
    wake: Arc<Notify>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
    mut pass: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, StoreError>>,
{
    let mut backoff = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let pause = match pass().await {
            Ok(0) => {
                backoff = Duration::from_millis(100);
                interval
            }
            Ok(_) => continue,
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
