//! Opsgenie end to end: Webhook integration posts on `POST /webhooks/opsgenie`, with the bearer
//! token of a custom header, read back from `GET /api/v1/dora`. The bodies are the golden
//! fixtures of `tests/fixtures/opsgenie/`; the deployment they blame is a CDEvent.

use serde_json::{json, Value};

use crate::helpers::{fixture_json, production_deployment, spawn_configured, Backend, TestApp};

const TOKEN: &str = "opsgenie-webhook-token";
const KEYS: &str = "/api/v1/dora?from=2024-03-11&to=2024-03-14";

/// Posts `body` as the Webhook integration does, with `authorization`.
async fn post_opsgenie(app: &TestApp, body: &str, authorization: &str) -> (u16, Value) {
    app.post_webhook("opsgenie", ("authorization", authorization), body)
        .await
}

fn body(case: &str) -> String {
    fixture_json(&format!("opsgenie/{case}/input.json")).to_string()
}

async fn opsgenie_alerts_are_incidents_once_and_unauthenticated_posts_are_refused(
    backend: Backend,
) {
    let app = spawn_configured(&backend, |settings| {
        settings.dora.production_environments = vec!["production".into()];
        settings.webhooks.opsgenie.token = Some(TOKEN.into());
    })
    .await;
    let deployed = production_deployment("checkout-d1", "checkout", "2024-03-11T09:00:00Z");
    assert_eq!(app.post_json("/cdevents", &deployed).await.status(), 202);
    let bearer = format!("Bearer {TOKEN}");

    // Without the token, or with another: 401, nothing stored.
    let created = body("create-service-tags");
    assert_eq!(post_opsgenie(&app, &created, "").await.0, 401);
    assert_eq!(post_opsgenie(&app, &created, "Bearer other").await.0, 401);
    app.wait_until_processed().await;
    assert_eq!(app.failures_and_recovery(KEYS).await, (0, Value::Null));

    // The alert is created (and delivered twice), then closed 30 minutes later.
    assert_eq!(post_opsgenie(&app, &created, &bearer).await.0, 202);
    assert_eq!(post_opsgenie(&app, &created, &bearer).await.0, 202);
    app.wait_until_processed().await;
    assert_eq!(app.failures_and_recovery(KEYS).await.0, 1);
    let closed = body("close-service-tags");
    assert_eq!(post_opsgenie(&app, &closed, &bearer).await.0, 202);
    // An acknowledgement is stored and counts for nothing.
    let ack = body("acknowledge");
    assert_eq!(post_opsgenie(&app, &ack, &bearer).await.0, 202);
    app.wait_until_processed().await;
    // Times are kept to the second: 09:15:00 to 09:45:00.418 is 30 minutes.
    assert_eq!(app.failures_and_recovery(KEYS).await, (1, json!(1800.0)));

    // A payload without the alert's id names the member.
    let broken = r#"{"action":"Create","alert":{"createdAt":1710148500000}}"#;
    let (status, problem) = post_opsgenie(&app, broken, &bearer).await;
    assert_eq!(status, 400);
    assert_eq!(problem["field"], "/alert/alertId", "{problem:#}");
}

backend_tests!(opsgenie_alerts_are_incidents_once_and_unauthenticated_posts_are_refused);
