//! Several processes per role against one database: every event is stored once, transformed
//! once and counted once, while clients post (and redeliver) to both ingest processes at once
//! and a router and a metrics process are killed and replaced mid-stream.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{deployment_event, poll_until, Backend, ServerProcess};

/// Posts every event to both ingest processes at once: to the first in batches of 20, to the
/// second one by one (20 concurrent senders each).
async fn post_to_both(client: &reqwest::Client, ingest: &[String; 2], events: &[Value]) {
    let mut senders = Vec::new();
    for (n, base) in ingest.iter().enumerate() {
        for chunk in events.chunks(20) {
            let client = client.clone();
            let url = format!("{base}/events");
            let chunk = chunk.to_vec();
            senders.push(tokio::spawn(async move {
                if n == 0 {
                    let response = client
                        .post(&url)
                        .header("content-type", "application/cloudevents-batch+json")
                        .body(json!(chunk).to_string())
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 202);
                } else {
                    for event in &chunk {
                        let response = client
                            .post(&url)
                            .header("content-type", "application/cloudevents+json")
                            .body(event.to_string())
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(response.status(), 202);
                    }
                }
            }));
        }
    }
    for sender in senders {
        sender.await.unwrap();
    }
}

async fn two_of_each_role_process_every_event_exactly_once(backend: Backend) {
    let db = backend.fresh_database().await;
    // Create the schema once up front (starting processes race for it otherwise; that is safe too).
    dora_store::Store::connect(&db.url)
        .await
        .unwrap()
        .close()
        .await;
    // SQLite processes share no notification channel: a short interval wakes them instead.
    let env = [
        ("DORA_ROUTER__INTERVAL", "100ms"),
        ("DORA_METRICS__INTERVAL", "100ms"),
    ];
    let mut processes: Vec<ServerProcess> =
        ["ingest", "ingest", "router", "router", "metrics", "metrics"]
            .iter()
            .map(|role| ServerProcess::start(&db.url, role, &env))
            .collect();
    let client = reqwest::Client::new();
    for process in &processes {
        process.wait_ready(&client).await;
    }
    let ingest = [processes[0].base.clone(), processes[1].base.clone()];

    let total = 240;
    let events: Vec<Value> = (0..total)
        .map(|i| {
            deployment_event(
                &format!("scale-{i}"),
                &format!("svc-{}", i % 5),
                "production",
                i + 1,
                "ghcr.io/acme/app:v1",
                "2023-08-05T10:00:00Z",
            )
        })
        .collect();
    // Every event goes to both ingest processes, concurrently, in batches of 20 and singly, in
    // two waves; between them one router and one metrics process are killed (SIGKILL) while
    // they work through the first wave, and replaced.
    let (first_wave, second_wave) = events.split_at(events.len() / 2);
    post_to_both(&client, &ingest, first_wave).await;
    processes[2].kill();
    processes[4].kill();
    processes[2] = ServerProcess::start(&db.url, "router", &env);
    processes[4] = ServerProcess::start(&db.url, "metrics", &env);
    post_to_both(&client, &ingest, second_wave).await;
    for process in &processes {
        process.wait_ready(&client).await;
    }

    let probe = format!("{}/api/v1/pipeline", processes[4].base);
    let state: Value = poll_until(Duration::from_secs(60), || async {
        let state: Value = client.get(&probe).send().await.ok()?.json().await.ok()?;
        (state["router_lag"] == 0 && state["deployments_lag"] == 0 && state["deployments"] == total)
            .then_some(state)
    })
    .await;
    assert_eq!(state["raw_events"], total, "stored once");
    assert_eq!(state["cdevents"], total, "transformed once");
    assert_eq!(state["failures"], 0);
    assert_eq!(state["deployments"], total, "counted once");

    // And the API role is not in this set: the ingest processes do not serve queries.
    let query = client
        .get(format!("{}/deploy-frequency/day", ingest[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 404);
}

backend_tests!(two_of_each_role_process_every_event_exactly_once,);
