//! `dora-events backfill github|gitlab` against a fake API of the tool (`fake`): pages, rate
//! limits, an interruption and its resume, a second run, the same history later delivered by
//! webhooks, and the keys of a backfilled history against those of the same history sent as
//! webhooks.

mod bitbucket;
mod fake;
mod github;
mod gitlab;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dora_events::app::{run_once, Role};
use dora_events::backfill::client::{Limits, Notice};
use dora_events::backfill::KindReport;

use crate::helpers::{spawn_with, test_settings, TestApp, TestDb};

/// The limits of the tests: waits of at most 50 ms, a backoff from 10 ms.
fn test_limits() -> Limits {
    Limits {
        max_wait: Duration::from_millis(50),
        retry_base: Duration::from_millis(10),
        ..Limits::default()
    }
}

/// A notice callback that keeps what it is told, and where.
fn kept_notices() -> (Notice, Arc<Mutex<Vec<String>>>) {
    let notices = Arc::new(Mutex::new(Vec::new()));
    let seen = notices.clone();
    (
        Arc::new(move |line: String| seen.lock().unwrap().push(line)),
        notices,
    )
}

/// `backfill` (the totals of one run into `db`) twice: the first stores `events`, the second
/// finds them all again and stores nothing; the raw store holds each once.
async fn assert_twice_stores_nothing_new<Fut>(db: TestDb, events: u64, backfill: impl Fn() -> Fut)
where
    Fut: Future<Output = KindReport>,
{
    let first = backfill().await;
    assert_eq!(first.stored, events);
    let total = backfill().await;
    assert_eq!(
        (total.events, total.stored, total.duplicates),
        (events, 0, events)
    );
    let app = process_and_serve(db).await;
    assert_eq!(app.pipeline().await["raw_events"], events);
    app.stop().await;
}

/// Runs the router and the calculators over `db`, then serves it.
async fn process_and_serve(db: TestDb) -> TestApp {
    let mut settings = test_settings(&db);
    settings.dora.production_environments = vec!["production".into()];
    run_once(&settings, Role::All).await.unwrap();
    spawn_with(settings, db).await
}

/// Runs the `dora-events` binary with `args` and the variables `env` (off the runtime: the fake
/// API is served on it); its exit code, standard output and standard error.
async fn dora_events(env: &[(&str, &str)], args: Vec<String>) -> (i32, String, String) {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        crate::cli::dora_events_with(&args, &env)
    })
    .await
    .unwrap()
}

/// The raw events of type `event_type` stored in `db`, once nothing is pending (on PostgreSQL,
/// rows wait behind transactions still running elsewhere: `more_pending`).
pub async fn stored_of_type(db: &TestDb, event_type: &str) -> Vec<serde_json::Value> {
    let store = dora_store::Store::connect(&db.url).await.unwrap();
    let raw = crate::helpers::poll_until(Duration::from_secs(10), || async {
        let raw = store
            .raw_after(dora_store::Position::START, 100)
            .await
            .unwrap();
        (!raw.more_pending).then_some(raw)
    })
    .await;
    store.close().await;
    raw.records
        .iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.content).unwrap())
        .filter(|e| e["type"] == event_type)
        .collect()
}
