//! Jenkins end to end: the CDEvents plugin's CloudEvents 0.3 on `POST /events` (structured, as
//! its Java client posts them), read back from `GET /api/v1/dora`. The events are the golden
//! fixtures of `tests/fixtures/jenkins/`.

use crate::helpers::{fixture_json, spawn_configured, Backend, TestApp};

const KEYS: &str = "/api/v1/dora?from=2024-05-01&to=2024-05-04";

async fn post_plugin_event(app: &TestApp, case: &str) {
    let event = fixture_json(&format!("jenkins/{case}/input.json"));
    assert_eq!(
        event["specversion"], "0.3",
        "the plugin's own CloudEvents release"
    );
    let response = app.post_structured("/events", &event).await;
    assert!(
        response.status().is_success(),
        "{case}: {}",
        response.status()
    );
}

async fn jenkins_deploy_jobs_count_and_other_runs_are_stored_without_failures(backend: Backend) {
    let app = spawn_configured(&backend, |settings| {
        settings.dora.production_environments = vec!["prod".into()];
        settings.sources.jenkins.deploy_jobs = vec!["*/deploy-*".into()];
    })
    .await;

    // A successful deploy build, sent twice (the plugin's retry): one deployment.
    post_plugin_event(&app, "deploy-job-parameters").await;
    post_plugin_event(&app, "deploy-job-parameters").await;
    // Runs that are not deployments: queued, a task, another job, an aborted deploy.
    for case in [
        "pipelinerun-queued",
        "taskrun-finished",
        "pipelinerun-finished",
        "deploy-job-aborted",
    ] {
        post_plugin_event(&app, case).await;
    }
    app.wait_until_processed().await;
    assert_eq!(app.deployments_and_failures(KEYS).await, (1, 0));

    // The next build fails: a failed deployment.
    post_plugin_event(&app, "deploy-job-failure").await;
    app.wait_until_processed().await;
    assert_eq!(app.deployments_and_failures(KEYS).await, (2, 1));

    // Neither the jenkins transformer nor the pass-through failed on any of them.
    let failures = app.get_json("/api/v1/failures").await;
    assert_eq!(
        failures["items"].as_array().map(Vec::len),
        Some(0),
        "{failures:#}"
    );
}

backend_tests!(jenkins_deploy_jobs_count_and_other_runs_are_stored_without_failures);
