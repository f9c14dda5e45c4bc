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
use dora_events::backfill::sink::Sink;
use dora_events::backfill::{KindReport, Report};
use serde_json::Value;

use crate::helpers::{spawn_with, test_settings, Backend, TestApp, TestDb};
use fake::FakeApi;

/// What one backfill run gives: its report, and the waits it announced.
type Outcome<K> = (anyhow::Result<Report<K>>, Vec<String>);

/// A tool's March scenario, as the tests that GitHub and GitLab share drive it.
trait Scenario {
    /// The tool's kinds of list.
    type Kind: std::fmt::Debug;
    /// The repository (or project) of the scenario.
    const REPO: &'static str;
    /// Its CloudEvents.
    const EVENTS: u64;
    /// Its CDEvents, once processed.
    const CDEVENTS: u64;
    /// The tool, as `/webhooks/{tool}` names it.
    const TOOL: &'static str;

    /// A fake API serving the scenario.
    async fn fake() -> FakeApi;
    /// One backfill run of the scenario from `fake` into `sink`.
    async fn backfill_to(fake: &FakeApi, sink: &Sink) -> Outcome<Self::Kind>;
    /// The pages a first run must have read (`log`: its requests).
    fn assert_first_run(report: &Report<Self::Kind>, log: &[String]);
    /// A server over `db` that takes the tool's webhooks (as the scenario signs them).
    async fn webhook_server(db: TestDb) -> TestApp;
    /// The webhook deliveries of the same history: an event name and its payload.
    fn webhooks() -> Vec<(&'static str, Value)>;
    /// The headers of the delivery number `index`, of `event` (its name, its id, a token).
    fn delivery_headers(index: usize, event: &str) -> Vec<(&'static str, String)>;
    /// The scenario's keys, checked by hand.
    fn assert_hand_checked(keys: &Value);

    /// The totals of a run over the scenario's repository.
    fn totals(report: &Report<Self::Kind>) -> KindReport {
        report.total(Self::REPO)
    }

    /// Posts the scenario's webhook deliveries to `app` and waits until they are processed.
    async fn post_webhooks(app: &TestApp) {
        post_hooks(app, Self::TOOL, Self::webhooks(), Self::delivery_headers).await;
    }

    /// One backfill run of the scenario from `fake` into the store of `db`.
    async fn backfill_into(fake: &FakeApi, db: &TestDb) -> Outcome<Self::Kind> {
        with_store(db, 1 << 20, async |sink: &Sink| {
            Self::backfill_to(fake, sink).await
        })
        .await
    }
}

/// `run` on a sink into the store of `db` that takes events of up to `max_event_bytes`; the
/// store is closed after.
async fn with_store<R>(
    db: &TestDb,
    max_event_bytes: usize,
    run: impl AsyncFnOnce(&Sink) -> R,
) -> R {
    let store = dora_store::Store::connect(&db.url).await.unwrap();
    let sink = Sink::Store {
        store: store.clone(),
        max_event_bytes,
    };
    let outcome = run(&sink).await;
    store.close().await;
    outcome
}

/// The backfilled history has the keys checked by hand, the same as the history sent as
/// webhooks; the same objects, delivered afterwards by webhooks, add no CDEvent and change no
/// number.
async fn keys_equal_webhook_keys_and_webhooks_after_a_backfill_add_nothing<S: Scenario>(
    backend: Backend,
) {
    let fake = S::fake().await;
    let db = backend.fresh_database().await;
    let (report, notices) = S::backfill_into(&fake, &db).await;
    let report = report.unwrap();
    assert!(notices.is_empty(), "{notices:?}");
    let total = S::totals(&report);
    assert_eq!(
        (total.events, total.stored, total.duplicates, total.rejected),
        (S::EVENTS, S::EVENTS, 0, 0)
    );
    S::assert_first_run(&report, &fake.take_log());

    let backfilled = process_and_serve(db).await;
    let backfilled_keys = backfilled.get_json(KEYS).await;
    S::assert_hand_checked(&backfilled_keys["keys"]);

    let hooked = S::webhook_server(backend.fresh_database().await).await;
    S::post_webhooks(&hooked).await;
    let webhook_keys = hooked.get_json(KEYS).await;
    assert_eq!(webhook_keys["keys"], backfilled_keys["keys"]);
    let hooked_cdevents = hooked.pipeline().await["cdevents"].clone();
    hooked.stop().await;

    let before = backfilled.pipeline().await;
    assert_eq!(before["cdevents"], hooked_cdevents);
    assert_eq!(before["cdevents"], S::CDEVENTS, "{before}");
    assert_eq!(before["failures"], 0, "{before}");
    let again = S::webhook_server(backfilled.stop().await).await;
    S::post_webhooks(&again).await;
    let after = again.pipeline().await;
    assert_eq!(after["cdevents"], before["cdevents"], "{after}");
    assert_eq!(
        after["raw_events"].as_i64().unwrap(),
        before["raw_events"].as_i64().unwrap() + S::webhooks().len() as i64
    );
    assert_eq!(again.get_json(KEYS).await["keys"], backfilled_keys["keys"]);
    again.stop().await;
}

/// A second run finds every event again and stores none.
async fn twice_stores_nothing_new<S: Scenario>(backend: Backend) {
    let fake = S::fake().await;
    let db = backend.fresh_database().await;
    let (fake_ref, db_ref) = (&fake, &db);
    let once =
        move || async move { S::totals(&S::backfill_into(fake_ref, db_ref).await.0.unwrap()) };
    assert_twice_stores_nothing_new(db.clone(), S::EVENTS, once).await;
}

/// A run to a running server's `POST /events` stores what a run to the store does.
async fn to_a_running_server_counts_the_same<S: Scenario>(backend: Backend) {
    let fake = S::fake().await;
    let app = S::webhook_server(backend.fresh_database().await).await;
    let sink = Sink::Server {
        client: reqwest::Client::new(),
        events_url: app.url("/events"),
    };
    let report = S::backfill_to(&fake, &sink).await.0.unwrap();
    let total = S::totals(&report);
    assert_eq!((total.stored, total.duplicates), (S::EVENTS, 0));
    app.wait_until_processed().await;
    S::assert_hand_checked(&app.get_json(KEYS).await["keys"]);
    let again = S::totals(&S::backfill_to(&fake, &sink).await.0.unwrap());
    assert_eq!((again.stored, again.duplicates), (0, S::EVENTS));
    app.stop().await;
}

/// A run of the scenario from `fake`, whose faults ask to wait, into a fresh database: every
/// event is stored all the same, and the first of the 4 waits announced (returned) is bounded
/// by `max_wait`.
async fn rate_limited_notices<S: Scenario>(backend: Backend, fake: &FakeApi) -> Vec<String> {
    let db = backend.fresh_database().await;
    let (report, notices) = S::backfill_into(fake, &db).await;
    assert_eq!(S::totals(&report.unwrap()).stored, S::EVENTS);
    assert_eq!(notices.len(), 4, "{notices:?}");
    assert!(
        notices[0].contains("waiting 50 ms"),
        "bounded by max_wait: {}",
        notices[0]
    );
    notices
}

/// A run from `fake` into `db` that stops at a fault: its error names each of `parts`. The
/// faults are cleared and the log emptied for the run that resumes.
async fn assert_interrupted<S: Scenario>(fake: &FakeApi, db: &TestDb, parts: &[&str]) {
    let error = S::backfill_into(fake, db).await.0.unwrap_err();
    let message = format!("{error:#}");
    for part in parts {
        assert!(message.contains(part), "{part:?} in {message}");
    }
    fake.clear_faults();
    fake.take_log();
}

/// A run once everything is in `db`: every event is found again, none stored.
async fn assert_all_found_again<S: Scenario>(fake: &FakeApi, db: &TestDb) {
    let again = S::backfill_into(fake, db).await.0.unwrap();
    let total = S::totals(&again);
    assert_eq!(
        (total.events, total.stored, total.duplicates),
        (S::EVENTS, 0, S::EVENTS)
    );
}

/// The keys of the March scenarios.
const KEYS: &str = "/api/v1/dora?from=2025-03-01&to=2025-03-31";

/// Posts `hooks` (an event name and its payload) to `/webhooks/{tool}` of `app`, each with the
/// headers `headers(index, event)`, and waits until they are processed.
async fn post_hooks(
    app: &TestApp,
    tool: &str,
    hooks: Vec<(&str, Value)>,
    headers: impl Fn(usize, &str) -> Vec<(&'static str, String)>,
) {
    for (index, (event, payload)) in hooks.into_iter().enumerate() {
        let response = app.deliver(tool, &headers(index, event), &payload).await;
        assert_eq!(response.status(), 202, "{event} #{index}");
    }
    app.wait_until_processed().await;
}

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
