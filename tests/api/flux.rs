//! Flux end to end: notification-controller's `generic-hmac` posts on `POST /webhooks/flux`,
//! signed with the Provider's key, read back from `GET /api/v1/dora`. The bodies are the golden
//! fixtures of `tests/fixtures/flux/`.

use dora_sources::webhook::sha256_signature;

use crate::helpers::{fixture_json, spawn_configured, Backend, TestApp};

const KEY: &str = "flux-provider-key";
const KEYS: &str = "/api/v1/dora?from=2024-03-11&to=2024-03-14";

fn signature(body: &str) -> String {
    sha256_signature(KEY.as_bytes(), body.as_bytes())
}

/// Posts `body` as the notification-controller does, with `signature`; returns the status.
async fn post_flux(app: &TestApp, body: &str, signature: &str) -> u16 {
    let response = app
        .client
        .post(app.url("/webhooks/flux"))
        .header("content-type", "application/json")
        .header("gotk-component", "kustomize-controller")
        .header("x-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

fn body(case: &str) -> String {
    fixture_json(&format!("flux/{case}/input.json")).to_string()
}

async fn flux_rollouts_count_once_per_revision_and_unsigned_posts_are_refused(backend: Backend) {
    let app = spawn_configured(&backend, |settings| {
        settings.dora.production_environments = vec!["production".into()];
        settings.webhooks.flux.secret = Some(KEY.into());
    })
    .await;

    // Unsigned or signed with another key: 401, nothing stored.
    let applied = body("kustomization-applied");
    assert_eq!(post_flux(&app, &applied, "").await, 401);
    assert_eq!(
        post_flux(&app, &applied, &signature("other body")).await,
        401
    );
    app.wait_until_processed().await;
    assert_eq!(app.deployments_and_failures(KEYS).await, (0, 0));

    // An applied revision, then the same revision reconciled again at the next interval.
    assert_eq!(post_flux(&app, &applied, &signature(&applied)).await, 202);
    let again = applied.replace("09:14:02Z", "09:24:02Z");
    assert_eq!(post_flux(&app, &again, &signature(&again)).await, 202);
    app.wait_until_processed().await;
    assert_eq!(app.deployments_and_failures(KEYS).await, (1, 0));

    // The next revision fails its health checks: a failed rollout in production.
    let failed = body("kustomization-health-check-failed").replace("shop-web", "webapp");
    assert_eq!(post_flux(&app, &failed, &signature(&failed)).await, 202);
    // A validation failure rolled nothing out.
    let invalid = body("kustomization-validation-failed");
    assert_eq!(post_flux(&app, &invalid, &signature(&invalid)).await, 202);
    app.wait_until_processed().await;
    assert_eq!(app.deployments_and_failures(KEYS).await, (2, 1));

    // A body that is not a Flux event names the member.
    let broken = r#"{"involvedObject":{"name":"webapp"},"severity":"info","timestamp":"2024-03-11T09:14:02Z","reason":"x"}"#;
    let response = app
        .client
        .post(app.url("/webhooks/flux"))
        .header("content-type", "application/json")
        .header("x-signature", signature(broken))
        .body(broken)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["field"], "/involvedObject/kind", "{problem:#}");
}

backend_tests!(flux_rollouts_count_once_per_revision_and_unsigned_posts_are_refused);
