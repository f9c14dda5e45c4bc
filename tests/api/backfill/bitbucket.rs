//! `dora-events backfill bitbucket` against a fake Bitbucket Cloud API (pages through the body's
//! `next`): Pipelines deployments in, with pushes from the signed webhook, read back as the keys
//! of March 2025; a second run stores nothing; the command names what it could not read.

use std::collections::BTreeMap;

use dora_events::backfill::bitbucket::{self, Kind, Options};
use dora_events::backfill::client::ApiClient;
use dora_events::backfill::sink::Sink;
use dora_events::backfill::window::Window;
use dora_sources::webhook::sha256_signature;
use serde_json::json;

use super::fake::{FakeApi, Style, BITBUCKET_TOKEN};
use super::{dora_events, kept_notices, stored_of_type, test_limits};
use crate::helpers::{fixture_json, Backend, TestApp, TestDb};

const REPO: &str = "acme/shop";
const KEYS: &str = "/api/v1/dora?from=2025-03-01&to=2025-03-31";
const SECRET: &str = "bitbucket-webhook-secret";

backend_tests!(bitbucket_deployments_and_pushes_give_hand_checked_keys_and_count_once);

/// The fixtures as the fake serves them, in pages of 3.
async fn fake_bitbucket() -> FakeApi {
    let base = format!("/2.0/repositories/{REPO}");
    let objects = BTreeMap::from([(
        base.clone(),
        fixture_json("backfill/bitbucket/repository.json"),
    )]);
    let environments = fixture_json("backfill/bitbucket/environments.json")["values"].clone();
    let deployments = fixture_json("backfill/bitbucket/deployments.json");
    let lists = BTreeMap::from([
        (
            format!("{base}/environments/"),
            environments.as_array().unwrap().clone(),
        ),
        (
            format!("{base}/deployments/"),
            deployments.as_array().unwrap().clone(),
        ),
    ]);
    FakeApi::start_as(Style::Bitbucket, objects, lists, 3).await
}

async fn backfill_into(fake: &FakeApi, db: &TestDb) -> bitbucket::Report {
    let store = dora_store::Store::connect(&db.url).await.unwrap();
    let sink = Sink::Store {
        store: store.clone(),
        max_event_bytes: 1 << 20,
    };
    let (notice, notices) = kept_notices();
    let client = ApiClient::with_dialect(
        &bitbucket::BITBUCKET,
        &fake.url,
        Some(BITBUCKET_TOKEN),
        test_limits(),
        notice,
    )
    .unwrap();
    let options = Options {
        repos: vec![REPO.to_owned()],
        window: Window {
            since: Some("2025-03-01T00:00:00Z".parse().unwrap()),
            until: Some("2025-03-31T23:59:59Z".parse().unwrap()),
        },
        progress: false,
    };
    let report = bitbucket::run(&client, &sink, &options).await.unwrap();
    store.close().await;
    assert!(notices.lock().unwrap().is_empty());
    report
}

/// The signed `repo:push` of one commit onto `main` (the shape of the webhook fixtures).
fn push(before: &str, after: &str, date: &str) -> String {
    let sha = |name: &str| format!("{name:0>40}");
    let target = json!({"type": "commit", "hash": sha(after), "date": date, "message": format!("{after}\n")});
    json!({
        "actor": {"type": "user", "display_name": "Dev"},
        "repository": {"type": "repository", "full_name": REPO, "name": "shop",
                       "links": {"html": {"href": "https://bitbucket.org/acme/shop"}},
                       "mainbranch": {"type": "branch", "name": "main"}},
        "push": {"changes": [{
            "old": {"type": "branch", "name": "main", "target": {"type": "commit", "hash": sha(before)}},
            "new": {"type": "branch", "name": "main", "target": target},
            "commits": [target], "truncated": false, "created": false, "forced": false, "closed": false,
        }]},
    })
    .to_string()
}

async fn post_push(app: &TestApp, body: &str) {
    let response = app
        .client
        .post(app.url("/webhooks/bitbucket"))
        .header("content-type", "application/json")
        .header("x-event-key", "repo:push")
        .header(
            "x-hub-signature",
            sha256_signature(SECRET.as_bytes(), body.as_bytes()),
        )
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
}

/// Deployments (`tests/fixtures/backfill/bitbucket/deployments.json`), in Production: #11 of
/// `c1` 03-03 14:00, #13 of `c2` failed 03-05 12:00, #14 stopped (no rollout), #15 of `c2`
/// 15:00, #17 of `c3` 03-06 10:00; #16 in Staging; #10 in an environment deleted since (its
/// uuid is its name: not production); #18 still in progress. Pushes: `c1` written
/// 03-03 09:00, `c2` 03-04 10:00, `c3` 03-06 08:00.
async fn bitbucket_deployments_and_pushes_give_hand_checked_keys_and_count_once(backend: Backend) {
    let fake = fake_bitbucket().await;
    let db = backend.fresh_database().await;
    let report = backfill_into(&fake, &db).await;
    let deployments = &report.repos[REPO][&Kind::Deployments];
    // 10 listed in 4 pages; 8 completed in the window (the one in progress waits for a later
    // run; #8 completed before it), one in an environment no longer listed, and #9, which
    // started before `--since` and completed after it, listed after #8.
    assert_eq!(
        (deployments.pages, deployments.objects, deployments.stored),
        (4, 8, 8)
    );
    let log = fake.take_log();
    assert!(
        log.iter()
            .any(|r| r.contains("/deployments/?") && r.contains("page=4")),
        "{log:?}"
    );
    let stored = stored_of_type(&db, dora_sources::bitbucket::deployment::DEPLOYMENT_TYPE).await;
    assert_eq!(stored.len(), 8);
    assert!(stored.iter().all(|e| e["id"]
        .as_str()
        .unwrap()
        .starts_with("backfill:acme/shop:deployment:{")));

    let again = backfill_into(&fake, &db).await;
    let total = again.total(REPO);
    assert_eq!((total.stored, total.duplicates), (0, 8));

    let mut settings = crate::helpers::test_settings(&db);
    settings.webhooks.bitbucket.secret = Some(SECRET.into());
    let app = process_and_serve_with(db, settings).await;
    for (before, after, date) in [
        ("c0", "c1", "2025-03-03T09:00:00+00:00"),
        ("c1", "c2", "2025-03-04T10:00:00+00:00"),
        ("c2", "c3", "2025-03-06T08:00:00+00:00"),
    ] {
        post_push(&app, &push(before, after, date)).await;
    }
    app.wait_until_processed().await;
    let keys = app.get_json(KEYS).await["keys"].clone();
    // 4 rollouts in Production on 3 days (the stopped one is none), #13 failed.
    assert_eq!(keys["deployment_frequency"]["value"], 4, "{keys:#}");
    assert_eq!(keys["deployment_frequency"]["deploy_days"], 3);
    assert_eq!(keys["change_failure_rate"]["value"], 0.25);
    assert_eq!(keys["change_failure_rate"]["reasons"]["failed_rollout"], 1);
    // #13 failed at 12:00, #15 succeeded at 15:00.
    assert_eq!(keys["recovery_time"]["value"], 10800.0);
    // c1 09:00 -> 14:00 (5 h), c2 03-04 10:00 -> #13 03-05 12:00 (26 h), c3 08:00 -> 10:00 (2 h).
    assert_eq!(keys["lead_time"]["sample_size"], 3);
    assert_eq!(keys["lead_time"]["value"], 18000.0);
    assert_eq!(keys["lead_time"]["p90"], 93600.0);
    assert_eq!(app.pipeline().await["failures"], 0);
    app.stop().await;
}

/// The backfilled database processed, then served with `settings` (Production is production).
async fn process_and_serve_with(
    db: TestDb,
    mut settings: dora_events::config::Settings,
) -> TestApp {
    settings.dora.production_environments = vec!["Production".into()];
    dora_events::app::run_once(&settings, dora_events::app::Role::All)
        .await
        .unwrap();
    crate::helpers::spawn_with(settings, db).await
}

#[tokio::test]
async fn bitbucket_backfill_command_counts_and_names_what_it_cannot_read() {
    let fake = fake_bitbucket().await;
    let args = |repo: &str| -> Vec<String> {
        [
            "backfill",
            "bitbucket",
            "--repo",
            repo,
            "--api-url",
            &fake.url,
            "--since",
            "2025-03-01",
            "--dry-run",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let (code, out, err) = dora_events(&[("BITBUCKET_TOKEN", BITBUCKET_TOKEN)], args(REPO)).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("acme/shop: would send 8 events (deployments 8)"),
        "{out}"
    );
    assert!(out.contains("requests to the Bitbucket API"), "{out}");

    let (code, _, err) = dora_events(&[], args(REPO)).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("GET /2.0/repositories/acme/shop: Bitbucket answered 401 Unauthorized: Access token expired. (check BITBUCKET_TOKEN"),
        "{err}"
    );
    let (code, _, err) =
        dora_events(&[("BITBUCKET_TOKEN", BITBUCKET_TOKEN)], args("acme/nope")).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("acme/nope")
            && err.contains("404")
            && err.contains("Repository acme/nope not found"),
        "{err}"
    );
}
