//! Nothing acknowledged is lost, nothing is counted twice: across restarts, a killed process,
//! and `recompute`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::deploy_frequency::{all_buckets, post_scenario};
use crate::helpers::{
    deployment_event, poll_until, spawn_app, spawn_with, test_settings, Backend, ServerProcess,
};

async fn a_restarted_server_continues_where_it_stopped(backend: Backend) {
    let app = spawn_app(&backend).await;
    post_scenario(&app).await;
    let before = app.wait_until_processed().await;
    let buckets_before = all_buckets(&app).await;
    let db = app.stop().await;

    let app = spawn_with(test_settings(&db), db.clone()).await;
    let state = app.pipeline().await;
    assert_eq!(state["raw_events"], before["raw_events"]);
    assert_eq!(
        state["router_cursor"], before["router_cursor"],
        "the cursor survived the restart"
    );
    // Redelivery of everything plus one new rollout: only the new one counts.
    post_scenario(&app).await;
    let new = deployment_event(
        "after-restart",
        "api",
        "production",
        3,
        "ghcr.io/acme/api:v3",
        "2024-01-03T08:00:00Z",
    );
    assert_eq!(app.post_structured("/events", &new).await.status(), 202);
    let after = app.wait_until_processed().await;
    assert_eq!(
        after["raw_events"],
        before["raw_events"].as_i64().unwrap() + 1
    );
    assert_eq!(
        after["deployments"],
        before["deployments"].as_i64().unwrap() + 1
    );
    assert_ne!(all_buckets(&app).await, buckets_before);
    app.stop().await;
}

async fn recompute_rebuilds_the_same_numbers_as_the_incremental_path(backend: Backend) {
    let app = spawn_app(&backend).await;
    post_scenario(&app).await;
    // A failure, to check failures are rebuilt too.
    app.post_structured(
        "/events",
        &json!({"specversion": "1.0", "id": "bad-cd", "source": "/ci", "type": "dev.cdevents.service.deployed.0.3.0", "data": {"context": {}}}),
    )
    .await;
    // CDEvents posted to /cdevents (bare, standard and custom) are rebuilt too.
    let deployed =
        crate::helpers::fixture_json("cdevents-spec/v0.5.1/conformance/service_deployed.json");
    let mut custom = crate::helpers::fixture_json("cdevents-spec/v0.5.1/custom/conformance.json");
    // The official examples share one (source, id); a CDEvent is identified by them.
    custom["context"]["id"] = json!("custom-1");
    let response = app.post_json("/cdevents", &json!([deployed, custom])).await;
    assert_eq!(response.status(), 202);
    let incremental = app.wait_until_processed().await;
    assert_eq!(incremental["failures"], 1);
    assert_eq!(incremental["cdevents"], 7 + 2);
    let buckets = all_buckets(&app).await;
    let db = app.stop().await;

    let settings = test_settings(&db);
    let report = dora_events::app::recompute(&settings).await.unwrap();
    assert_eq!(
        report.raw_events as i64,
        incremental["raw_events"].as_i64().unwrap()
    );

    let app = spawn_with(settings, db.clone()).await;
    let rebuilt = app.wait_until_processed().await;
    for key in ["raw_events", "cdevents", "deployments", "failures"] {
        assert_eq!(rebuilt[key], incremental[key], "{key}");
    }
    assert_eq!(all_buckets(&app).await, buckets);
    app.stop().await;
}

/// Kills the server process (SIGKILL) while clients are posting, restarts it, redelivers
/// everything: every acknowledged event was stored, and each rollout is counted exactly once.
async fn a_killed_process_loses_no_acknowledged_event_and_counts_nothing_twice(backend: Backend) {
    let db = backend.fresh_database().await;
    let database_url = db.url.clone();
    let client = reqwest::Client::new();
    let mut server = ServerProcess::start(&database_url, "all", &[]);
    server.wait_ready(&client).await;
    let base = server.base.clone();

    let total = 400;
    let events: Vec<Value> = (0..total)
        .map(|i| {
            deployment_event(
                &format!("kill-{i}"),
                &format!("svc-{}", i % 7),
                "default",
                i + 1,
                "nginx:1.14.2",
                "2023-08-05T10:00:00Z",
            )
        })
        .collect();
    let (first_acks, mut enough_acknowledged) = tokio::sync::watch::channel(false);
    let sender = {
        let client = client.clone();
        let base = base.clone();
        let events = events.clone();
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for event in events {
                if acknowledged.len() == 50 {
                    let _ = first_acks.send(true);
                }
                let response = client
                    .post(format!("{base}/events"))
                    .header("content-type", "application/cloudevents+json")
                    .body(event.to_string())
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status() == 202 => {
                        acknowledged.push(event["id"].as_str().unwrap().to_owned())
                    }
                    _ => break,
                }
            }
            acknowledged
        })
    };
    // Kill once some, not all, events were acknowledged (the sender keeps going meanwhile).
    tokio::time::timeout(
        Duration::from_secs(20),
        enough_acknowledged.wait_for(|enough| *enough),
    )
    .await
    .expect("50 events acknowledged in time")
    .unwrap();
    server.kill();
    let acknowledged = sender.await.unwrap();
    assert!(
        !acknowledged.is_empty() && acknowledged.len() < total as usize,
        "killed mid-stream: {}",
        acknowledged.len()
    );

    let stored: Vec<String> = crate::helpers::stored_raw_events(&database_url)
        .await
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_owned())
        .collect();
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged event {id} was lost");
    }

    let server = ServerProcess::start(&database_url, "all", &[]);
    server.wait_ready(&client).await;
    let base = server.base.clone();
    let response = client
        .post(format!("{base}/events"))
        .header("content-type", "application/cloudevents-batch+json")
        .body(json!(events).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["accepted"].as_u64().unwrap() + body["duplicates"].as_u64().unwrap(),
        total as u64
    );
    assert!(body["duplicates"].as_u64().unwrap() >= acknowledged.len() as u64);
    let state: Value = poll_until(Duration::from_secs(20), || async {
        let state: Value = client
            .get(format!("{base}/api/v1/pipeline"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (state["router_lag"] == 0 && state["deployments_lag"] == 0 && state["deployments"] == total)
            .then_some(state)
    })
    .await;
    assert_eq!(state["raw_events"], total);
    assert_eq!(state["cdevents"], total);
}

backend_tests!(
    a_restarted_server_continues_where_it_stopped,
    recompute_rebuilds_the_same_numbers_as_the_incremental_path,
    a_killed_process_loses_no_acknowledged_event_and_counts_nothing_twice,
);

/// PostgreSQL goes away under a running server: ingest answers 503 with Retry-After (never 202
/// for an event it did not store), and every stage recovers by itself when it comes back.
#[tokio::test]
async fn a_database_outage_is_a_503_and_the_pipeline_recovers_by_itself() {
    let Some(backend) = Backend::postgres() else {
        return;
    };
    let Backend::Postgres(admin_url) = &backend else {
        return;
    };
    let app = spawn_app(&backend).await;
    let name = app.database_url.rsplit('/').next().unwrap().to_owned();
    let admin = sqlx::PgPool::connect(admin_url).await.unwrap();
    let first = deployment_event(
        "outage-0",
        "web",
        "prod",
        1,
        "web:1",
        "2023-08-05T10:00:00Z",
    );
    assert_eq!(app.post_structured("/events", &first).await.status(), 202);
    app.wait_until_processed().await;

    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&name)
        .execute(&admin)
        .await
        .unwrap();
    let mut acknowledged = vec!["outage-0".to_owned()];
    for i in 1..=5 {
        let event = deployment_event(
            &format!("outage-{i}"),
            "web",
            "prod",
            i + 1,
            "web:1",
            "2023-08-05T10:00:00Z",
        );
        let response = app.post_structured("/events", &event).await;
        match response.status().as_u16() {
            202 => acknowledged.push(format!("outage-{i}")),
            503 => assert!(
                response.headers().contains_key("retry-after"),
                "503 carries Retry-After"
            ),
            other => panic!("unexpected status {other} during the outage"),
        }
    }
    assert!(
        acknowledged.len() < 6,
        "the outage was seen: {acknowledged:?}"
    );

    sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .execute(&admin)
        .await
        .unwrap();
    let late = deployment_event(
        "outage-late",
        "web",
        "prod",
        10,
        "web:2",
        "2023-08-05T11:00:00Z",
    );
    poll_until(Duration::from_secs(30), || async {
        (app.post_structured("/events", &late).await.status() == 202).then_some(())
    })
    .await;
    acknowledged.push("outage-late".into());
    let state = poll_until(Duration::from_secs(60), || async {
        let response = app
            .client
            .get(app.url("/api/v1/pipeline"))
            .send()
            .await
            .ok()?;
        let state: Value = response.json().await.ok()?;
        (state["router_lag"] == 0
            && state["deployments_lag"] == 0
            && state["raw_events"] == acknowledged.len())
        .then_some(state)
    })
    .await;
    assert_eq!(
        state["deployments"],
        acknowledged.len(),
        "every acknowledged rollout counted once"
    );
    app.stop().await;
}
