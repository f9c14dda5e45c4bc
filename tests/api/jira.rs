//! Jira end to end: signed Jira webhooks on `POST /webhooks/jira`, read back from
//! `GET /api/v1/dora`. The bodies are the golden fixtures of `tests/fixtures/jira/`; the
//! deployment the incident follows is a CDEvent.

use dora_sources::webhook::sha256_signature;
use serde_json::{json, Value};

use crate::helpers::{fixture_json, production_deployment, spawn_configured, Backend, TestApp};

const SECRET: &str = "jira-webhook-secret";
const KEYS: &str = "/api/v1/dora?from=2024-03-11&to=2024-03-14";

fn signature(body: &str) -> String {
    sha256_signature(SECRET.as_bytes(), body.as_bytes())
}

/// Posts `body` as Jira does, with `signature`.
async fn post_jira(app: &TestApp, body: &str, signature: &str) -> (u16, Value) {
    app.post_webhook("jira", ("x-hub-signature", signature), body)
        .await
}

fn body(case: &str) -> String {
    fixture_json(&format!("jira/{case}/input.json")).to_string()
}

async fn jira_incidents_count_once_and_unsigned_posts_are_refused(backend: Backend) {
    let app = spawn_configured(&backend, |settings| {
        settings.dora.production_environments = vec!["production".into()];
        settings.webhooks.jira.secret = Some(SECRET.into());
    })
    .await;
    let deployed = production_deployment("checkout-d1", "checkout", "2024-03-11T09:00:00Z");
    assert_eq!(app.post_json("/cdevents", &deployed).await.status(), 202);

    // Unsigned, or signed over another body: 401, nothing stored.
    let created = body("incident-created");
    assert_eq!(post_jira(&app, &created, "").await.0, 401);
    assert_eq!(post_jira(&app, &created, &signature("other")).await.0, 401);
    app.wait_until_processed().await;
    assert_eq!(app.failures_and_recovery(KEYS).await, (0, Value::Null));

    // Created, then resolved 30 minutes later (the update repeats the detection: counted once).
    assert_eq!(post_jira(&app, &created, &signature(&created)).await.0, 202);
    let resolved = body("incident-resolved");
    assert_eq!(
        post_jira(&app, &resolved, &signature(&resolved)).await.0,
        202
    );
    // A Story is no incident.
    let story = body("story-created-not-an-incident-type");
    assert_eq!(post_jira(&app, &story, &signature(&story)).await.0, 202);
    app.wait_until_processed().await;
    assert_eq!(app.failures_and_recovery(KEYS).await, (1, json!(1800.0)));

    // A payload without the issue names the member.
    let broken = r#"{"webhookEvent":"jira:issue_created","timestamp":1710148500000}"#;
    let (status, problem) = post_jira(&app, broken, &signature(broken)).await;
    assert_eq!(status, 400);
    assert_eq!(problem["field"], "/issue", "{problem:#}");
}

backend_tests!(jira_incidents_count_once_and_unsigned_posts_are_refused);
