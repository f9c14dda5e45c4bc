//! Golden tests of the `jira` source: every directory under `tests/fixtures/jira/` (repository
//! root) holds `input.json` (the body a Jira webhook POSTs), `expected.json` (the JSON array of
//! CDEvents it must give once `POST /webhooks/jira` wrapped it) and, for some, `settings.json`
//! (`[sources.jira]`). With `DORA_UPDATE_GOLDEN=1` the expected files are rewritten from the
//! current output.
//!
//! Every emitted CDEvent must validate against the official CDEvents schemas, and the rules
//! (which issue types are incidents, one detection per issue, resolution, service and
//! environment) are asserted on the fixtures, so that a careless golden update cannot hide a
//! wrong one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::single;
use dora_sources::jira::{webhook, JiraSettings, JiraTransformer};
use dora_sources::transform::{INCIDENT_DETECTED, INCIDENT_RESOLVED};
use dora_sources::webhook::sha256_signature;
use dora_sources::{SecretSetting, WebhookSettings};
use http::{HeaderMap, HeaderValue};

golden_webhook_tool!("jira", JiraSettings, JiraTransformer::new, webhook::WEBHOOK, golden_minimum: 7);

#[test]
fn an_incident_is_detected_once_and_resolved_when_done() {
    let created = single(run("incident-created"), "incident-created");
    let resolved = run("incident-resolved");
    assert_eq!(resolved.len(), 2, "{resolved:#?}");
    assert_eq!(created["context"]["type"], INCIDENT_DETECTED);
    assert_eq!(created["context"]["id"], resolved[0]["context"]["id"]);
    assert_eq!(created["context"]["timestamp"], "2024-03-11T09:15:00Z");
    assert_eq!(resolved[1]["context"]["type"], INCIDENT_RESOLVED);
    assert_eq!(resolved[1]["context"]["timestamp"], "2024-03-11T09:45:00Z");
    assert_eq!(resolved[1]["subject"]["id"], "OPS-17");
    assert_eq!(created["context"]["source"], "https://acme.atlassian.net");
    let content = &created["subject"]["content"];
    assert_eq!(content["service"]["id"], "checkout");
    assert_eq!(content["environment"]["id"], "production");
}

#[test]
fn real_payloads_of_configured_types_and_nothing_of_others() {
    assert!(run("story-created-not-an-incident-type").is_empty());
    let created = single(run("story-created"), "story-created");
    assert_eq!(created["subject"]["id"], "TES-41");
    assert_eq!(created["subject"]["content"]["service"]["id"], "COMP-1");
    assert_eq!(created["context"]["timestamp"], "2019-02-16T03:01:52.971Z");
    let resolved = run("story-resolved");
    assert_eq!(
        resolved[1]["context"]["timestamp"],
        "2019-02-16T03:15:40.470Z"
    );
    assert_eq!(run("story-reopened").len(), 1, "reopened: detected only");
    assert_eq!(run("bug-closed-server").len(), 2);
}

#[test]
fn the_signature_is_checked_and_malformed_payloads_name_the_field() {
    let secret = "jira-secret";
    let settings = WebhookSettings {
        jira: SecretSetting {
            secret: Some(secret.into()),
        },
        ..WebhookSettings::default()
    };
    let text = body("incident-created");
    let signature = sha256_signature(secret.as_bytes(), text.as_bytes());
    let outcome = |headers: &HeaderMap, text: &str| {
        webhook::WEBHOOK
            .receive(headers, text.as_bytes(), &settings)
            .map(|events| events.len())
            .map_err(|problem| (problem.status, problem.field.clone()))
    };
    let mut headers = HeaderMap::new();
    assert_eq!(outcome(&headers, &text).unwrap_err().0, 401);
    headers.insert("x-hub-signature", HeaderValue::from_static("sha256=00"));
    assert_eq!(outcome(&headers, &text).unwrap_err().0, 401);
    let signed = HeaderValue::from_str(&signature).unwrap();
    headers.insert("x-hub-signature", signed);
    assert_eq!(outcome(&headers, &text), Ok(1));
    let unsigned = WebhookSettings::default();
    for (text, field) in [
        ("[]", "body"),
        (r#"{"timestamp":1,"issue":{}}"#, "/webhookEvent"),
        (
            r#"{"webhookEvent":"jira:issue_created","issue":{}}"#,
            "/timestamp",
        ),
        (
            r#"{"webhookEvent":"jira:issue_created","timestamp":1}"#,
            "/issue",
        ),
        (
            r#"{"webhookEvent":"jira:issue_created","timestamp":1,"issue":{}}"#,
            "/issue/id",
        ),
    ] {
        let problem = webhook::WEBHOOK
            .receive(&HeaderMap::new(), text.as_bytes(), &unsigned)
            .unwrap_err();
        assert_eq!(
            (problem.status, problem.field.as_deref()),
            (400, Some(field)),
            "{text}"
        );
    }
}
