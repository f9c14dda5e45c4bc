//! `dora-events demo`: the generated history, posted through the real ingest path, gives every key
//! a value and the demo's services the levels they are meant to have.

use std::time::Duration;

use chrono::{DateTime, Utc};
use dora_events::demo;
use dora_metrics::dora::Key;
use serde_json::Value;

use crate::helpers::{spawn_with, test_settings, Backend};

fn end() -> DateTime<Utc> {
    "2024-06-03T00:00:00Z".parse().unwrap()
}

/// The 90 days before `end()`.
const WINDOW: &str = "from=2024-03-05&to=2024-06-02";

#[test]
fn the_same_seed_gives_the_same_history_and_another_seed_another() {
    let first = demo::generate(42, 90, end());
    let again = demo::generate(42, 90, end());
    assert!(first.len() > 1000, "a realistic history: {}", first.len());
    assert_eq!(first, again);
    let other = demo::generate(43, 90, end());
    assert_ne!(first, other);
    assert!(
        first.windows(2).all(|pair| pair[0].at <= pair[1].at),
        "sent in time order"
    );
    assert!(first.iter().all(|d| d.at < end()));
    for path in [
        "/webhooks/github",
        "/webhooks/argocd",
        "/webhooks/alertmanager",
        "/webhooks/pagerduty",
        "/events",
        "/cdevents",
    ] {
        assert!(
            first.iter().any(|d| d.path == path),
            "the history uses {path}"
        );
    }
}

async fn the_demo_history_gives_every_key_a_value_and_its_services_different_levels(
    backend: Backend,
) {
    let db = backend.fresh_database().await;
    let app = spawn_with(demo::demo_settings(test_settings(&db)), db).await;
    let deliveries = demo::generate(42, 90, end());

    let loaded = demo::load(&app.address, &deliveries).await.unwrap();
    let state = demo::wait_until_processed(&app.address, Duration::from_secs(60))
        .await
        .unwrap();

    assert_eq!(loaded.requests, deliveries.len());
    assert_eq!(loaded.duplicates, 0);
    let failures = app.get_json("/api/v1/failures?limit=5").await;
    assert_eq!(
        state["failures"], 0,
        "every demo event transforms: {failures}"
    );
    let all = app.get_json(&format!("/api/v1/dora?{WINDOW}")).await;
    for key in Key::ALL.map(Key::name) {
        assert!(
            !all["keys"][key]["value"].is_null(),
            "{key} has a value: {}",
            all["keys"][key]
        );
    }
    assert!(all["keys"]["change_failure_rate"]["unattributed_incidents"].as_u64() > Some(0));

    let levels = |body: &Value| -> Vec<String> {
        // Rework rate has no DORA levels.
        Key::ALL[..4]
            .iter()
            .map(|key| {
                body["keys"][key.name()]["level"]
                    .as_str()
                    .unwrap_or("none")
                    .to_owned()
            })
            .collect()
    };
    let mut by_service = Vec::new();
    for service in demo::services() {
        let body = app
            .get_json(&format!("/api/v1/dora?{WINDOW}&service={service}"))
            .await;
        by_service.push((service, levels(&body)));
    }
    let elite = &by_service[0];
    let struggling = by_service.last().unwrap();
    assert_eq!(
        elite.1,
        ["elite", "elite", "elite", "elite"],
        "{by_service:?}"
    );
    assert!(
        struggling.1.iter().filter(|level| *level == "low").count() >= 3,
        "{by_service:?}"
    );
    let teams = app
        .get_json(&format!("/api/v1/dora?{WINDOW}&team=storefront"))
        .await;
    assert!(teams["keys"]["deployment_frequency"]["value"].as_u64() > Some(0));
    app.stop().await;
}

/// The demo's backfill: a fake GitHub API serving `acme/ledger`, read by `backfill github` into
/// the server. Over 14 days ending at `end()` (2024-05-20 .. 2024-06-03), pull requests on days
/// 1, 3, ..., 13 (7 of them), each with its commit written at 08:00 and deployed at 15:00; the
/// 5th deployment fails and its commit is deployed again at 17:00.
/// - deployments: 7 + 1 = 8, of which 1 failed: change failure rate 1/8 = 0.125;
/// - lead time: six changes of 7 h (08:00 -> 15:00) and one of 9 h (08:00 -> 17:00, the first
///   successful rollout): median 7 h = 25,200 s, over 7 changes;
/// - recovery: the failure at 15:00 is recovered by the 17:00 rollout: 2 h = 7,200 s.
async fn the_demo_backfill_gives_the_ledger_hand_checked_keys(backend: Backend) {
    let db = backend.fresh_database().await;
    let app = spawn_with(demo::demo_settings(test_settings(&db)), db).await;
    let report = demo::backfill::run(&app.address, 14, end()).await.unwrap();
    demo::wait_until_processed(&app.address, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(report.rejected, 0);
    assert!(report.stored > 0 && report.duplicates == 0, "{report:?}");
    let body = app
        .get_json("/api/v1/dora?service=ledger&from=2024-05-20&to=2024-06-03")
        .await;
    let keys = &body["keys"];
    assert_eq!(keys["deployment_frequency"]["value"], 8, "{keys}");
    assert_eq!(keys["change_failure_rate"]["value"], 0.125, "{keys}");
    assert_eq!(keys["lead_time"]["value"], 25_200.0, "{keys}");
    assert_eq!(keys["lead_time"]["sample_size"], 7, "{keys}");
    assert_eq!(keys["recovery_time"]["value"], 7_200.0, "{keys}");
    // A second run is all duplicates.
    let again = demo::backfill::run(&app.address, 14, end()).await.unwrap();
    assert_eq!(
        (again.stored, again.duplicates),
        (0, report.stored),
        "{again:?}"
    );
}

backend_tests!(
    the_demo_history_gives_every_key_a_value_and_its_services_different_levels,
    the_demo_backfill_gives_the_ledger_hand_checked_keys,
);
