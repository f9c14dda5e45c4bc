//! Keptn end to end: its CloudEvents (binary mode, as its Go SDK client posts them) and its
//! Kubernetes Events (through the ApiServerSource) on `POST /events`, read back from
//! `GET /api/v1/dora`. The payloads are the golden fixtures of `tests/fixtures/keptn/`.

use serde_json::Value;

use crate::helpers::{fixture_json, spawn_configured, Backend, TestApp};

const KEYS: &str = "/api/v1/dora?from=2024-04-29&to=2024-05-06";

/// A fixture's CloudEvent, with its version changed to `version` (a second rollout).
fn keptn_event(case: &str, version: &str) -> Value {
    let text = fixture_json(&format!("keptn/{case}/input.json"))
        .to_string()
        .replace("0.3.0", version);
    serde_json::from_str(&text).unwrap()
}

/// Posts a Keptn CloudEvent as the lifecycle operator does: binary mode, a fresh `ce-id` per
/// delivery (the Go SDK's UUIDs).
async fn post_keptn_binary(app: &TestApp, event: &Value, delivery: &str) {
    let attributes = [
        ("specversion", "1.0"),
        ("id", delivery),
        ("source", event["source"].as_str().unwrap()),
        ("type", event["type"].as_str().unwrap()),
        ("time", event["time"].as_str().unwrap()),
    ];
    let response = app
        .post_binary("/events", &attributes, event["data"].to_string())
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    app.wait_until_processed().await;
}

async fn post_structured(app: &TestApp, event: &Value) {
    let response = app.post_structured("/events", event).await;
    assert!(response.status().is_success(), "{}", response.status());
    app.wait_until_processed().await;
}

async fn keptn_outcomes_from_either_input_count_once_and_failed_checks_fail_the_rollout(
    backend: Backend,
) {
    let app = spawn_configured(&backend, |settings| {
        settings.dora.production_environments = vec!["production".into()];
        settings.sources.keptn.environment = Some("production".into());
    })
    .await;

    // A workload version Keptn completed: one successful deployment.
    let completed = keptn_event("ce-workload-completed-finished", "0.3.0");
    post_keptn_binary(&app, &completed, "0b5e8a4e-0000-4000-8000-000000000001").await;
    assert_eq!(app.deployments_and_failures(KEYS).await, (1, 0));

    // The same outcome as a Kubernetes Event, and a redelivery of the CloudEvent: nothing more.
    post_structured(
        &app,
        &keptn_event("event-workload-completed-finished", "0.3.0"),
    )
    .await;
    post_keptn_binary(&app, &completed, "0b5e8a4e-0000-4000-8000-000000000002").await;
    assert_eq!(app.deployments_and_failures(KEYS).await, (1, 0));

    // Version 0.3.1 is deployed but fails its post-deployment evaluation: a failed rollout.
    let deployed = keptn_event("ce-workload-deployment-finished", "0.3.1");
    post_keptn_binary(&app, &deployed, "0b5e8a4e-0000-4000-8000-000000000003").await;
    let failed = keptn_event("ce-workload-post-evaluations-failed", "0.3.1");
    post_keptn_binary(&app, &failed, "0b5e8a4e-0000-4000-8000-000000000004").await;
    post_structured(
        &app,
        &keptn_event("event-workload-post-evaluations-failed", "0.3.1"),
    )
    .await;
    let completed_failed = keptn_event("ce-workload-completed-failed", "0.3.1");
    post_keptn_binary(
        &app,
        &completed_failed,
        "0b5e8a4e-0000-4000-8000-000000000005",
    )
    .await;
    assert_eq!(app.deployments_and_failures(KEYS).await, (2, 1));

    let report = app.get_json(KEYS).await;
    let rate = report["keys"]["change_failure_rate"]["value"]
        .as_f64()
        .unwrap();
    assert!((rate - 0.5).abs() < 1e-9, "{report:#}");
    assert_eq!(
        report["keys"]["change_failure_rate"]["reasons"]["failed_rollout"], 1,
        "{report:#}"
    );
}

backend_tests!(keptn_outcomes_from_either_input_count_once_and_failed_checks_fail_the_rollout);
