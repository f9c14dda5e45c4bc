//! `POST /webhooks/gitlab`: the adapter's checks (token, headers, body), the CloudEvent it makes
//! (compared with every webhook-shaped fixture of `tests/fixtures/gitlab/`, so the golden inputs
//! of the transformer are what the adapter really produces), and the endpoint on a real server
//! over a fresh SQLite store (a wrong token stores nothing; a redelivery is a duplicate).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::PathBuf;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use common::{
    assert_bodies_not_json_objects_are_400, assert_fixture_made, case_body, deliver_twice, headers,
    headers_and, read_json, serve, stored, webhook_cases, TempStore, WebhookCase,
};
use dora_model::cloudevent::Data;
use dora_sources::gitlab::{self, webhook::WEBHOOK};
use dora_sources::webhook::{TokenSetting, WebhookSettings};
use serde_json::Value;

const TOKEN: &str = "glwt-0123456789abcdef";
const EVENT_UUID: &str = "5c0c2b14-4c1b-4d7d-8f51-33f1a1c2b0de";

fn fixtures() -> PathBuf {
    common::fixtures("gitlab")
}

/// One HTTP/1.1 POST to `/webhooks/gitlab`; returns the status and the body.
async fn post(
    address: std::net::SocketAddr,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    common::post(address, "/webhooks/gitlab", headers, body).await
}

fn with_token(token: &str) -> WebhookSettings {
    WebhookSettings {
        gitlab: TokenSetting {
            token: Some(token.to_owned()),
        },
        ..WebhookSettings::default()
    }
}

/// The body of a `Merge Request Hook` delivery (GitLab's documented example).
fn merge_request_body() -> Vec<u8> {
    case_body("gitlab", "gitlab-docs-merge-request-hook-open")
}

fn delivery_headers(extra: &[(&str, &str)]) -> HeaderMap {
    let delivery = [
        ("X-Gitlab-Event", "Merge Request Hook"),
        ("X-Gitlab-Event-UUID", EVENT_UUID),
        ("Content-Type", "application/json"),
    ];
    headers_and(&delivery, extra)
}

#[test]
fn delivery_without_a_token_configured_is_wrapped_like_gitlab_source() {
    let body = merge_request_body();
    let events = WEBHOOK
        .receive(&delivery_headers(&[]), &body, &WebhookSettings::default())
        .unwrap();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.id, EVENT_UUID);
    assert_eq!(event.event_type, "dev.knative.sources.gitlab.merge_request");
    assert_eq!(event.source, "http://example.com/gitlabhq/gitlab-test");
    assert_eq!(event.subject, None);
    assert_eq!(event.datacontenttype.as_deref(), Some("application/json"));
    assert_eq!(event.time, None, "the request carries no time");
    assert_eq!(
        event.extension_str("comgitlabevent"),
        Some("Merge Request Hook")
    );
    assert_eq!(event.extensions.len(), 1);
    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event.data, Some(Data::Json(payload)));
    // Without a configured token, a token, even a wrong one, is not checked.
    let tokened = delivery_headers(&[("X-Gitlab-Token", "anything")]);
    assert!(WEBHOOK
        .receive(&tokened, &body, &WebhookSettings::default())
        .is_ok());
}

#[test]
fn the_configured_token_is_accepted() {
    let body = merge_request_body();
    let events = WEBHOOK
        .receive(
            &delivery_headers(&[("X-Gitlab-Token", TOKEN)]),
            &body,
            &with_token(TOKEN),
        )
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id, EVENT_UUID);
}

#[test]
fn wrong_or_missing_token_is_401_naming_the_header() {
    let body = merge_request_body();
    let upper = TOKEN.to_uppercase();
    let longer = format!("{TOKEN}0");
    let cases: Vec<(&str, HeaderMap)> = vec![
        ("missing", delivery_headers(&[])),
        (
            "other token",
            delivery_headers(&[("X-Gitlab-Token", "other")]),
        ),
        (
            "other case",
            delivery_headers(&[("X-Gitlab-Token", &upper)]),
        ),
        (
            "prefix",
            delivery_headers(&[("X-Gitlab-Token", &TOKEN[..10])]),
        ),
        ("longer", delivery_headers(&[("X-Gitlab-Token", &longer)])),
        ("empty", delivery_headers(&[("X-Gitlab-Token", "")])),
        (
            "as a bearer token",
            delivery_headers(&[("Authorization", &format!("Bearer {TOKEN}"))]),
        ),
    ];
    for (what, headers) in cases {
        let problem = WEBHOOK
            .receive(&headers, &body, &with_token(TOKEN))
            .unwrap_err();
        assert_eq!(problem.status, 401, "{what}");
        assert_eq!(problem.field.as_deref(), Some("X-Gitlab-Token"), "{what}");
    }
}

#[test]
fn the_token_is_checked_before_anything_else() {
    // Unauthenticated callers learn nothing about what else is wrong with their request.
    let problem = WEBHOOK
        .receive(&HeaderMap::new(), b"not json", &with_token(TOKEN))
        .unwrap_err();
    assert_eq!(problem.status, 401);
}

#[test]
fn missing_or_odd_event_headers_and_bad_bodies_are_400_naming_the_field() {
    let body = merge_request_body();
    let settings = WebhookSettings::default();
    for event in [
        None,
        Some(" "),
        Some("merge_request"),
        Some("Merge_Request Hook"),
    ] {
        let mut pairs = vec![("X-Gitlab-Event-UUID", EVENT_UUID)];
        if let Some(event) = event {
            pairs.push(("X-Gitlab-Event", event));
        }
        let problem = WEBHOOK
            .receive(&headers(&pairs), &body, &settings)
            .unwrap_err();
        assert_eq!(problem.status, 400, "{event:?}");
        assert_eq!(
            problem.field.as_deref(),
            Some("X-Gitlab-Event"),
            "{event:?}"
        );
    }
    assert_bodies_not_json_objects_are_400(&WEBHOOK, &delivery_headers(&[]), &settings);
    // GitLab's documentation shows the Job Hook with comments and a trailing comma: not JSON.
    let documented = fs::read(fixtures().join("gitlab-docs-job-hook.as-documented.jsonc")).unwrap();
    let problem = WEBHOOK
        .receive(
            &headers(&[("X-Gitlab-Event", "Job Hook")]),
            &documented,
            &settings,
        )
        .unwrap_err();
    assert_eq!(problem.status, 400);
    assert_eq!(problem.field.as_deref(), Some("body"));
}

#[test]
fn without_an_event_uuid_the_id_is_a_hash_of_the_body() {
    let body = merge_request_body();
    let no_uuid = headers(&[("X-Gitlab-Event", "Merge Request Hook")]);
    let first = WEBHOOK
        .receive(&no_uuid, &body, &WebhookSettings::default())
        .unwrap();
    let again = WEBHOOK
        .receive(&no_uuid, &body, &WebhookSettings::default())
        .unwrap();
    assert_eq!(first[0].id, again[0].id);
    assert_eq!(
        first[0].id,
        gitlab::webhook::body_id("merge_request", &body)
    );
    assert_eq!(first[0].id.len(), 36);
    let other_body = [body.as_slice(), b" "].concat();
    let other = WEBHOOK
        .receive(&no_uuid, &other_body, &WebhookSettings::default())
        .unwrap();
    assert_ne!(other[0].id, first[0].id);
    // A blank UUID header counts as none.
    let blank = headers(&[
        ("X-Gitlab-Event", "Merge Request Hook"),
        ("X-Gitlab-Event-UUID", " "),
    ]);
    assert_eq!(
        WEBHOOK
            .receive(&blank, &body, &WebhookSettings::default())
            .unwrap()[0]
            .id,
        first[0].id
    );
}

#[test]
fn header_names_are_case_insensitive() {
    let body = merge_request_body();
    let lower = headers(&[
        ("x-gitlab-event", "Merge Request Hook"),
        ("x-gitlab-event-uuid", EVENT_UUID),
        ("x-gitlab-token", TOKEN),
    ]);
    let events = WEBHOOK.receive(&lower, &body, &with_token(TOKEN)).unwrap();
    assert_eq!(events[0].id, EVENT_UUID);
}

#[test]
fn a_job_hook_without_project_takes_its_source_from_the_repository_or_the_instance() {
    let body = case_body("gitlab", "go-gitlab-build-no-uuid");
    let events = WEBHOOK
        .receive(
            &headers(&[("X-Gitlab-Event", "Job Hook")]),
            &body,
            &WebhookSettings::default(),
        )
        .unwrap();
    assert_eq!(
        events[0].source,
        "http://192.168.64.1:3005/gitlab-org/gitlab-test"
    );
    assert_eq!(events[0].event_type, "dev.knative.sources.gitlab.job");
    let system = WEBHOOK
        .receive(
            &headers(&[
                ("X-Gitlab-Event", "System Hook"),
                ("X-Gitlab-Instance", "https://gitlab.example.com"),
            ]),
            br#"{"event_name": "user_create"}"#,
            &WebhookSettings::default(),
        )
        .unwrap();
    assert_eq!(system[0].source, "https://gitlab.example.com");
    assert_eq!(system[0].event_type, "dev.knative.sources.gitlab.system");
}

/// Every webhook-shaped fixture (not `knative-*`, which GitLabSource made) is exactly what the
/// adapter makes of its payload with the headers of its `headers.json`.
#[test]
fn the_transformer_fixtures_are_what_the_adapter_makes() {
    let mut checked = 0;
    let mut without_uuid = 0;
    for WebhookCase {
        name,
        dir,
        expected,
        body,
    } in webhook_cases("gitlab")
    {
        let mut request = HeaderMap::new();
        let captured = read_json(&dir.join("headers.json"));
        for (key, value) in captured.as_object().unwrap() {
            request.insert(
                HeaderName::from_bytes(key.as_bytes()).unwrap(),
                HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
            );
        }
        if !request.contains_key("X-Gitlab-Event-UUID") {
            without_uuid += 1;
        }
        assert_fixture_made(&WEBHOOK, &name, &request, &body, expected);
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} fixtures checked");
    assert!(without_uuid >= 1, "no fixture without X-Gitlab-Event-UUID");
}

// ---------------------------------------------------------------------------------------------
// Through the HTTP endpoint

fn delivery(event: &str, uuid: Option<&str>, token: Option<&str>) -> Vec<(String, String)> {
    let mut headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("X-Gitlab-Event".to_owned(), event.to_owned()),
    ];
    if let Some(uuid) = uuid {
        headers.push(("X-Gitlab-Event-UUID".to_owned(), uuid.to_owned()));
    }
    if let Some(token) = token {
        headers.push(("X-Gitlab-Token".to_owned(), token.to_owned()));
    }
    headers
}

#[tokio::test]
async fn tokened_deliveries_are_stored_once_and_wrong_tokens_not_at_all() {
    let temp = TempStore::new("gitlab", "token").await;
    let address = serve(&temp.store, with_token(TOKEN)).await;
    let body = merge_request_body();

    let (status, problem) = post(
        address,
        delivery("Merge Request Hook", Some(EVENT_UUID), Some("wrong token")),
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["field"], "X-Gitlab-Token");
    assert!(
        stored(&temp.store).await.is_empty(),
        "a rejected delivery is stored"
    );

    // The same delivery again: a duplicate, not a second event.
    let headers = delivery("Merge Request Hook", Some(EVENT_UUID), Some(TOKEN));
    deliver_twice(address, "/webhooks/gitlab", headers, body).await;

    let [event] = &stored(&temp.store).await[..] else {
        panic!("not one event stored");
    };
    assert_eq!(event.id, EVENT_UUID);
    assert_eq!(event.event_type, "dev.knative.sources.gitlab.merge_request");
    assert_eq!(event.source, "http://example.com/gitlabhq/gitlab-test");
    assert_eq!(
        event.extension_str("comgitlabevent"),
        Some("Merge Request Hook")
    );
}

#[tokio::test]
async fn unmapped_events_are_stored_and_a_missing_event_header_is_400() {
    let temp = TempStore::new("gitlab", "unmapped").await;
    let address = serve(&temp.store, WebhookSettings::default()).await;
    let body = case_body("gitlab", "go-gitlab-release");

    let mut headers = delivery("Release Hook", None, None);
    headers.retain(|(name, _)| name != "X-Gitlab-Event");
    let (status, problem) = post(address, headers, body.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["field"], "X-Gitlab-Event");

    // Events the transformer ignores are stored all the same, and answered 202; without
    // X-Gitlab-Event-UUID the same body sent twice is stored once.
    let headers = delivery("Release Hook", None, None);
    deliver_twice(address, "/webhooks/gitlab", headers, body.clone()).await;
    let [event] = &stored(&temp.store).await[..] else {
        panic!("not one event stored");
    };
    assert_eq!(event.event_type, "dev.knative.sources.gitlab.release");
    assert_eq!(
        event.source,
        "http://example.com/exm-namespace/example-project"
    );
    assert_eq!(event.id, gitlab::webhook::body_id("release", &body));
}
