//! Bitbucket Cloud end to end: signed webhook posts on `POST /webhooks/bitbucket` (a merged pull
//! request and the push that brought it onto a branch), then a deployment of the pushed head from
//! another source (a bare `service.deployed` CDEvent), read back from `GET /api/v1/dora` as a lead
//! time. The bodies are the golden fixtures of `tests/fixtures/bitbucket/`.

use dora_sources::webhook::sha256_signature;
use serde_json::{json, Value};

use crate::helpers::{fixture_path, spawn_configured, Backend, TestApp};

const SECRET: &str = "bitbucket-webhook-secret";
const KEYS: &str = "/api/v1/dora?from=2017-03-06&to=2017-03-08";
/// The head `repo-push-multiple-changes` moved branch `manchu` to; its listed commits include
/// the merge commit of pull request #2 (`1986c2284946`, committed 2017-03-06T10:41:57Z).
const HEAD: &str = "e22fcb49645b4586a845938afac5eb3ac1950586";

fn signature(body: &str) -> String {
    sha256_signature(SECRET.as_bytes(), body.as_bytes())
}

/// Posts `body` as Bitbucket does, with `key` and `signature`; returns the response.
async fn post(app: &TestApp, key: &str, body: &str, signature: &str) -> reqwest::Response {
    app.client
        .post(app.url("/webhooks/bitbucket"))
        .header("content-type", "application/json")
        .header("x-event-key", key)
        .header("x-hub-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

fn body(case: &str) -> String {
    std::fs::read_to_string(fixture_path(&format!("bitbucket/{case}/input.json"))).unwrap()
}

fn deployed(at: &str) -> Value {
    json!({
        "context": {"specversion": "0.5.1", "id": "deploy-manchu", "source": "/deployer",
                    "type": "dev.cdevents.service.deployed.0.3.0", "timestamp": at},
        "subject": {"id": "temp", "source": "/deployer",
                    "content": {"environment": {"id": "production"},
                                "artifactId": format!("pkg:generic/temp@{HEAD}")}},
        "customData": {"dora": {"revision": HEAD}}
    })
}

async fn bitbucket_changes_give_a_lead_time_and_unsigned_posts_are_refused(backend: Backend) {
    let app = spawn_configured(&backend, |settings| {
        settings.dora.production_environments = vec!["production".into()];
        settings.webhooks.bitbucket.secret = Some(SECRET.into());
    })
    .await;

    // Unsigned, or signed with another key: 401 naming the header, nothing stored.
    let push = body("repo-push-multiple-changes");
    let refused = post(&app, "repo:push", &push, "").await;
    assert_eq!(refused.status().as_u16(), 401);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["field"], "X-Hub-Signature", "{problem:#}");
    let forged = post(&app, "repo:push", &push, &signature("another body")).await;
    assert_eq!(forged.status().as_u16(), 401);

    // The merged pull request, and the push, delivered twice (a retry): one change each.
    let merged = body("pullrequest-fulfilled");
    let status = post(&app, "pullrequest:fulfilled", &merged, &signature(&merged)).await;
    assert_eq!(status.status().as_u16(), 202);
    for _ in 0..2 {
        let status = post(&app, "repo:push", &push, &signature(&push)).await;
        assert_eq!(status.status().as_u16(), 202);
    }

    // A payload the transformer cannot read is named.
    let broken = r#"{"repository": {"full_name": "cloudbeers/temp"}, "pullrequest": {"id": "2"}}"#;
    let response = post(&app, "pullrequest:fulfilled", broken, &signature(broken)).await;
    assert_eq!(response.status().as_u16(), 400);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["field"], "/pullrequest/id", "{problem:#}");

    // The head is deployed to production at 18:00: its oldest listed commit is from 10:41:57.
    let response = app
        .post_json("/cdevents", &deployed("2017-03-06T18:00:00Z"))
        .await;
    assert_eq!(response.status().as_u16(), 202);
    app.wait_until_processed().await;

    let report = app.get_json(KEYS).await;
    let keys = &report["keys"];
    assert_eq!(keys["deployment_frequency"]["value"], 1, "{report:#}");
    let lead_time = &keys["lead_time"];
    assert_eq!(lead_time["sample_size"], 1, "{lead_time}");
    assert_eq!(
        lead_time["value"],
        7.0 * 3600.0 + 18.0 * 60.0 + 3.0,
        "{lead_time}"
    );
}

backend_tests!(bitbucket_changes_give_a_lead_time_and_unsigned_posts_are_refused);
