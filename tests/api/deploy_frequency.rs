//! The book's flow: Kubernetes events in, `GET /deploy-frequency/{bucket}` out, in the book's
//! shape, with hand-computed buckets.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{
    deployment_event, fixture_json, fixture_path, poll_until, spawn_app, Backend, TestApp,
};

/// Rollouts (and one scale-only update) at hand-picked times. 2023-07-31 and 2024-01-01 are
/// Mondays; 2023-08-05 is a Saturday and 2023-08-06 a Sunday (still the week of 2023-07-31).
fn scenario() -> Vec<Value> {
    vec![
        deployment_event(
            "e1",
            "nginx-deployment",
            "default",
            1,
            "nginx:1.14.2",
            "2023-08-05T10:00:00Z",
        ),
        // Scale-only: same revision, not a rollout.
        deployment_event(
            "e2",
            "nginx-deployment",
            "default",
            1,
            "nginx:1.14.2",
            "2023-08-05T10:05:00Z",
        ),
        deployment_event(
            "e3",
            "nginx-deployment",
            "default",
            2,
            "nginx:1.16.1",
            "2023-08-05T11:00:00Z",
        ),
        deployment_event(
            "e4",
            "nginx-deployment",
            "default",
            3,
            "nginx:1.17.0",
            "2023-08-07T09:00:00Z",
        ),
        deployment_event(
            "e5",
            "nginx-deployment-3",
            "default",
            1,
            "nginx:1.14.2",
            "2023-08-05T12:00:00Z",
        ),
        deployment_event(
            "e6",
            "nginx-deployment-3",
            "default",
            2,
            "nginx:1.16.1",
            "2023-08-06T23:59:59Z",
        ),
        deployment_event(
            "e7",
            "api",
            "production",
            1,
            "ghcr.io/acme/api:v1",
            "2023-07-31T00:00:00Z",
        ),
        deployment_event(
            "e8",
            "api",
            "production",
            2,
            "ghcr.io/acme/api:v2",
            "2024-01-02T08:00:00Z",
        ),
    ]
}

fn row(name: &str, deployments: u64, time: &str) -> Value {
    json!({"DeployName": name, "Deployments": deployments, "Time": time})
}

async fn frequency(app: &TestApp, bucket: &str) -> Value {
    app.get_json(&format!("/deploy-frequency/{bucket}")).await
}

pub async fn post_scenario(app: &TestApp) {
    let response = app.post_batch("/events", &json!(scenario())).await;
    assert_eq!(response.status(), 202);
}

pub async fn all_buckets(app: &TestApp) -> Vec<Value> {
    let mut out = Vec::new();
    for bucket in ["day", "week", "month", "year"] {
        out.push(frequency(app, bucket).await);
    }
    out
}

async fn buckets_count_rollouts_in_utc_calendar_units_sorted_by_time_then_name(backend: Backend) {
    let app = spawn_app(&backend).await;
    post_scenario(&app).await;
    let state = app.wait_until_processed().await;
    assert_eq!(
        state["deployments"], 7,
        "the scale-only update is not a rollout"
    );

    assert_eq!(
        frequency(&app, "day").await,
        json!([
            row("api", 1, "2023-07-31T00:00:00Z"),
            row("nginx-deployment", 2, "2023-08-05T00:00:00Z"),
            row("nginx-deployment-3", 1, "2023-08-05T00:00:00Z"),
            row("nginx-deployment-3", 1, "2023-08-06T00:00:00Z"),
            row("nginx-deployment", 1, "2023-08-07T00:00:00Z"),
            row("api", 1, "2024-01-02T00:00:00Z"),
        ])
    );
    assert_eq!(
        frequency(&app, "week").await,
        json!([
            row("api", 1, "2023-07-31T00:00:00Z"),
            row("nginx-deployment", 2, "2023-07-31T00:00:00Z"),
            row("nginx-deployment-3", 2, "2023-07-31T00:00:00Z"),
            row("nginx-deployment", 1, "2023-08-07T00:00:00Z"),
            row("api", 1, "2024-01-01T00:00:00Z"),
        ])
    );
    assert_eq!(
        frequency(&app, "month").await,
        json!([
            row("api", 1, "2023-07-01T00:00:00Z"),
            row("nginx-deployment", 3, "2023-08-01T00:00:00Z"),
            row("nginx-deployment-3", 2, "2023-08-01T00:00:00Z"),
            row("api", 1, "2024-01-01T00:00:00Z"),
        ])
    );
    assert_eq!(
        frequency(&app, "year").await,
        json!([
            row("api", 1, "2023-01-01T00:00:00Z"),
            row("nginx-deployment", 3, "2023-01-01T00:00:00Z"),
            row("nginx-deployment-3", 2, "2023-01-01T00:00:00Z"),
            row("api", 1, "2024-01-01T00:00:00Z"),
        ])
    );
    assert_eq!(
        app.get_json("/deploy-frequency/year?environment=production")
            .await,
        json!([
            row("api", 1, "2023-01-01T00:00:00Z"),
            row("api", 1, "2024-01-01T00:00:00Z")
        ])
    );
}

async fn an_event_shows_in_deploy_frequency_within_two_seconds(backend: Backend) {
    let app = spawn_app(&backend).await;
    let started = Instant::now();
    let event = deployment_event(
        "fast-1",
        "nginx-deployment",
        "default",
        1,
        "nginx:1.14.2",
        "2023-08-05T10:00:00Z",
    );
    assert_eq!(app.post_structured("/events", &event).await.status(), 202);
    poll_until(Duration::from_secs(2), || async {
        let rows = frequency(&app, "day").await;
        (rows == json!([row("nginx-deployment", 1, "2023-08-05T00:00:00Z")])).then_some(())
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "poll_until holds the 2 s deadline"
    );
}

/// The book's tutorial events (Deployments and the `ScalingReplicaSet` Events the tutorial
/// watches), posted in order: the deployments counted are exactly the distinct CDEvents the
/// golden files say the transformer emits.
async fn the_books_kubernetes_events_become_the_golden_rollouts(backend: Backend) {
    let app = spawn_app(&backend).await;
    let mut cases: Vec<_> = std::fs::read_dir(fixture_path("kubernetes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("input.json").exists())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10);
    let mut expected_ids = BTreeSet::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let input = fixture_json(&format!("kubernetes/{name}/input.json"));
        let expected = fixture_json(&format!("kubernetes/{name}/expected.json"));
        for cdevent in expected.as_array().unwrap() {
            expected_ids.insert(cdevent["context"]["id"].as_str().unwrap().to_owned());
        }
        let response = app.post_structured("/events", &input).await;
        assert_eq!(response.status(), 202, "{name}");
    }
    assert!(!expected_ids.is_empty());
    let state = app.wait_until_processed().await;
    assert_eq!(state["failures"], 0);
    assert_eq!(state["deployments"], json!(expected_ids.len()));
    let deployments = app
        .get_json("/api/v1/deployments?from=2000-01-01&limit=1000")
        .await;
    let ids: BTreeSet<String> = deployments["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["cdevent_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, expected_ids);
    let total: u64 = frequency(&app, "day")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Deployments"].as_u64().unwrap())
        .sum();
    assert_eq!(total as usize, expected_ids.len());
}

async fn unknown_buckets_and_parameters_are_refused(backend: Backend) {
    let app = spawn_app(&backend).await;
    let response = app.get("/deploy-frequency/fortnight").await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.json::<Value>().await.unwrap()["field"], "bucket");
    let response = app.get("/deploy-frequency/day?enviroment=prod").await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["field"],
        "enviroment"
    );
    assert_eq!(frequency(&app, "day").await, json!([]));
}

backend_tests!(
    buckets_count_rollouts_in_utc_calendar_units_sorted_by_time_then_name,
    an_event_shows_in_deploy_frequency_within_two_seconds,
    the_books_kubernetes_events_become_the_golden_rollouts,
    unknown_buckets_and_parameters_are_refused,
);
