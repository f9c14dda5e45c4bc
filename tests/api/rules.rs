//! User-defined rules end to end: a `[[rules]]` entry turns a real kubewatch CloudEvent posted to
//! `/events` into a `service.deployed` the DORA keys count; a rule failing on another event is
//! recorded as a failure with its reason and holds nothing back.

use dora_events::config::{Overrides, Settings};
use serde_json::json;

use crate::helpers::{fixture_json, fixture_path, spawn_with, test_settings, Backend};

async fn a_rule_turns_a_kubewatch_event_into_a_counted_deployment(backend: Backend) {
    let db = backend.fresh_database().await;
    let mut settings = test_settings(&db);
    let rules = Settings::load(
        Some(&fixture_path("rules/kubewatch.toml")),
        &Overrides::default(),
    )
    .expect("the rules load")
    .rules;
    settings.rules = rules;
    let app = spawn_with(settings, db).await;

    // The failing event first: it must not hold back the one after it.
    let mut missing_obj = fixture_json("rules/kubewatch/deployment-update-missing-obj/input.json");
    missing_obj["id"] = json!("1111111111-missing-obj");
    let update = fixture_json("rules/kubewatch/deployment-update/input.json");
    for event in [&missing_obj, &update] {
        let response = app.post_structured("/events", event).await;
        assert_eq!(response.status(), 202);
    }
    let state = app.wait_until_processed().await;
    assert_eq!(state["cdevents"], 1);
    assert_eq!(state["deployments"], 1);
    assert_eq!(state["failures"], 1);

    let failures = app.get_json("/api/v1/failures").await;
    let failure = &failures["items"][0];
    assert_eq!(failure["event_id"], "1111111111-missing-obj");
    assert_eq!(failure["transformer"], "rule:kubewatch-deployments");
    assert_eq!(
        failure["reason"],
        "emit: data.obj is missing: kubewatch sent no Deployment"
    );

    let deployments = app
        .get_json("/api/v1/deployments?from=2024-12-01&to=2024-12-31")
        .await;
    assert_eq!(deployments["total"], 1, "{deployments}");
    let deployment = &deployments["items"][0];
    assert_eq!(deployment["service"], "aaaaaaaaa");
    assert_eq!(deployment["environment"], "aaaaaaaaa");
    let report = app
        .get_json("/api/v1/dora?from=2024-12-16&to=2024-12-22")
        .await;
    assert_eq!(
        report["keys"]["deployment_frequency"]["value"], 1,
        "{report}"
    );

    // The same event again is a duplicate at ingest and changes nothing (routing it again, as
    // `recompute` does, derives the same CDEvent id: see the rules unit tests).
    let response = app.post_structured("/events", &update).await;
    assert!(response.status().is_success());
    let state = app.wait_until_processed().await;
    assert_eq!(state["deployments"], 1);
}

backend_tests!(a_rule_turns_a_kubewatch_event_into_a_counted_deployment);
