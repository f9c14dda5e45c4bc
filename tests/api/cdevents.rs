//! The CDEvents endpoint and CDEvents pass-through: every official example of v0.3.0, v0.4.1
//! and v0.5.1 is accepted; invalid ones get the schema path of the first error.

use serde_json::{json, Value};

use crate::helpers::{fixture_json, fixture_path, spawn_app, Backend, TestApp};

fn official_examples() -> Vec<(String, Value)> {
    let mut examples = Vec::new();
    for dir in [
        "v0.3.0/examples",
        "v0.4.1/conformance",
        "v0.5.1/conformance",
        "v0.4.1/custom",
        "v0.5.1/custom",
    ] {
        let path = fixture_path(&format!("cdevents-spec/{dir}"));
        let mut files: Vec<_> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".json") || name == "schema.json" {
                continue;
            }
            let relative = format!("cdevents-spec/{dir}/{name}");
            examples.push((relative.clone(), fixture_json(&relative)));
        }
    }
    examples
}

async fn stored_cdevents(app: &TestApp) -> Vec<dora_store::CdEventRecord> {
    let store = dora_store::Store::connect(&app.database_url).await.unwrap();
    let rows = store.cdevents_after(0, 10_000).await.unwrap();
    store.close().await;
    rows
}

async fn every_official_example_is_accepted_as_bare_cdevent_json(backend: Backend) {
    let app = spawn_app(&backend).await;
    let examples = official_examples();
    assert!(
        examples.len() >= 39 + 45 + 45 + 2,
        "all releases' examples are there: {}",
        examples.len()
    );
    let mut accepted = 0;
    for (name, example) in &examples {
        // Official examples reuse ids; give each its own so every one is stored.
        let mut event = example.clone();
        event["context"]["id"] = json!(name);
        let response = app.post_json("/cdevents", &event).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 202, "{name}: {body}");
        accepted += body["accepted"].as_u64().unwrap();
    }
    assert_eq!(accepted as usize, examples.len());
    app.wait_until_processed().await;
    let stored = stored_cdevents(&app).await;
    assert_eq!(stored.len(), examples.len());
    assert!(stored
        .iter()
        .any(|r| r.event_type == "dev.cdevents.service.deployed.0.3.0"));
}

async fn cdevents_are_accepted_as_cloudevents_in_every_mode(backend: Backend) {
    let app = spawn_app(&backend).await;
    let deployed = fixture_json("cdevents-spec/v0.5.1/conformance/service_deployed.json");
    let wrap = |id: &str| {
        json!({"specversion": "1.0", "id": id, "source": "/event/source/123",
               "type": "dev.cdevents.service.deployed.0.3.0", "datacontenttype": "application/json",
               "data": deployed})
    };
    assert_eq!(
        app.post_structured("/cdevents", &wrap("s-1"))
            .await
            .status(),
        202
    );
    let attributes = [
        ("specversion", "1.0"),
        ("id", "b-1"),
        ("source", "/event/source/123"),
        ("type", "dev.cdevents.service.deployed.0.3.0"),
    ];
    let binary = app
        .post_binary("/cdevents", &attributes, deployed.to_string())
        .await;
    assert_eq!(binary.status(), 202);
    let mut other = deployed.clone();
    other["context"]["id"] = json!("another-deployment");
    let mut batch_item = wrap("batch-1");
    batch_item["data"] = other;
    assert_eq!(
        app.post_batch("/cdevents", &json!([batch_item]))
            .await
            .status(),
        202
    );
    // Three CloudEvents, two distinct CDEvents (the first two carry the same CDEvent).
    let state = app.wait_until_processed().await;
    assert_eq!(state["raw_events"], 3);
    assert_eq!(stored_cdevents(&app).await.len(), 2);
    assert_eq!(state["deployments"], 2);
}

async fn an_invalid_cdevent_gets_a_400_with_the_schema_path(backend: Backend) {
    let app = spawn_app(&backend).await;
    let mut event = fixture_json("cdevents-spec/v0.5.1/conformance/service_deployed.json");
    event["subject"]["content"]
        .as_object_mut()
        .unwrap()
        .remove("artifactId");
    let response = app.post_json("/cdevents", &event).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["field"], "/subject/content/artifactId", "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("required"),
        "{body}"
    );

    // `customData.dora` is typed: a key the calculators read, of the wrong type, is named.
    let mut bad_dora = fixture_json("cdevents-spec/v0.5.1/conformance/service_deployed.json");
    bad_dora["customData"] = json!({"dora": {"changes": ["acme/web#1", 7], "futureKey": 1}});
    let response = app.post_json("/cdevents", &bad_dora).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["field"], "/customData/dora/changes/1", "{body}");

    let mut unsupported = fixture_json("cdevents-spec/v0.5.1/conformance/service_deployed.json");
    unsupported["context"]["specversion"] = json!("0.9.0");
    let response = app.post_structured(
        "/cdevents",
        &json!({"specversion": "1.0", "id": "x", "source": "/s", "type": "dev.cdevents.service.deployed.0.3.0",
                "data": unsupported}),
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["field"], "/data/context/specversion", "{body}");

    let in_batch = app
        .post_batch(
            "/cdevents",
            &json!([{"specversion": "1.0", "id": "y", "source": "/s", "type": "dev.cdevents.x", "data": "nope"}]),
        )
        .await;
    assert_eq!(in_batch.status(), 400);
    assert_eq!(in_batch.json::<Value>().await.unwrap()["index"], 0);
    let state = app.wait_until_processed().await;
    assert_eq!(state["raw_events"], 0, "nothing invalid was stored");
    assert!(stored_cdevents(&app).await.is_empty());
}

async fn a_cdevent_posted_to_events_passes_through_the_router(backend: Backend) {
    let app = spawn_app(&backend).await;
    let deployed = fixture_json("cdevents-spec/v0.5.1/conformance/service_deployed.json");
    let response = app
        .post_structured(
            "/events",
            &json!({"specversion": "1.0", "id": "pt-1", "source": "/ci", "type": "dev.cdevents.service.deployed.0.3.0",
                    "data": deployed}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let state = app.wait_until_processed().await;
    assert_eq!(state["cdevents"], 1);
    assert_eq!(state["deployments"], 1);
    // An invalid CDEvent sent to /events is stored raw (it is a valid CloudEvent) and recorded as
    // a failure with its reason, without holding back the cursor.
    let mut broken = deployed.clone();
    broken["context"]["id"] = json!("broken");
    broken["subject"]["content"]["environment"] = json!({});
    app.post_structured(
        "/events",
        &json!({"specversion": "1.0", "id": "pt-2", "source": "/ci", "type": "dev.cdevents.service.deployed.0.3.0",
                "data": broken}),
    )
    .await;
    let state = app.wait_until_processed().await;
    assert_eq!(state["failures"], 1);
    assert_eq!(state["cdevents"], 1);
    let failures = app.get_json("/api/v1/failures").await;
    let failure = &failures["items"][0];
    assert_eq!(failure["event_id"], "pt-2");
    assert_eq!(failure["transformer"], "cdevents");
    assert!(
        failure["reason"]
            .as_str()
            .unwrap()
            .contains("/subject/content/environment"),
        "{failure}"
    );
}

backend_tests!(
    every_official_example_is_accepted_as_bare_cdevent_json,
    cdevents_are_accepted_as_cloudevents_in_every_mode,
    an_invalid_cdevent_gets_a_400_with_the_schema_path,
    a_cdevent_posted_to_events_passes_through_the_router,
);
