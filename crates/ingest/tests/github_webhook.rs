//! `POST /webhooks/github`: the adapter's checks (signature, headers, body), the CloudEvent it
//! makes (compared with every webhook-shaped fixture of `tests/fixtures/github/`, so the golden
//! inputs of the transformer are what the adapter really produces), and the endpoint on a real
//! server over a fresh SQLite store (a bad signature stores nothing; a redelivery is a
//! duplicate).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use common::{
    assert_bodies_not_json_objects_are_400, assert_fixture_made, case_body, deliver_twice, headers,
    headers_and, post, read_json, serve, stored, webhook_cases, TempStore, WebhookCase,
};
use dora_model::cloudevent::Data;
use dora_sources::github::{self, webhook::WEBHOOK};
use dora_sources::webhook::sha256_signature;
use dora_sources::webhook::{SecretSetting, WebhookSettings};
use serde_json::Value;

const SECRET: &str = "It's a Secret to Everybody";

/// `sha256=<hex>` as GitHub computes it.
fn signature(secret: &str, body: &[u8]) -> String {
    sha256_signature(secret.as_bytes(), body)
}

fn with_secret(secret: &str) -> WebhookSettings {
    WebhookSettings {
        github: SecretSetting {
            secret: Some(secret.to_owned()),
        },
        ..WebhookSettings::default()
    }
}

/// A `pull_request` delivery: (body, event name, delivery GUID).
fn pull_request_body() -> Vec<u8> {
    case_body("github", "octokit-pull-request-opened")
}

const DELIVERY: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

fn delivery_headers(extra: &[(&str, &str)]) -> HeaderMap {
    let delivery = [
        ("X-GitHub-Event", "pull_request"),
        ("X-GitHub-Delivery", DELIVERY),
        ("Content-Type", "application/json"),
    ];
    headers_and(&delivery, extra)
}

#[test]
fn unsigned_delivery_is_accepted_without_a_secret_and_wrapped_like_github_source() {
    let body = pull_request_body();
    let events = WEBHOOK
        .receive(&delivery_headers(&[]), &body, &WebhookSettings::default())
        .unwrap();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.id, DELIVERY);
    assert_eq!(event.event_type, "dev.knative.source.github.pull_request");
    assert_eq!(event.source, "https://github.com/Codertocat/Hello-World");
    assert_eq!(event.subject.as_deref(), Some("2"));
    assert_eq!(event.datacontenttype.as_deref(), Some("application/json"));
    assert_eq!(event.time, None, "the request carries no time");
    assert!(event.extensions.is_empty());
    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event.data, Some(Data::Json(payload)));
    // Without a secret a signature, even a wrong one, is not checked.
    let signed = delivery_headers(&[("X-Hub-Signature-256", "sha256=00")]);
    assert!(WEBHOOK
        .receive(&signed, &body, &WebhookSettings::default())
        .is_ok());
}

#[test]
fn valid_signature_is_accepted() {
    let body = pull_request_body();
    let good = signature(SECRET, &body);
    let events = WEBHOOK
        .receive(
            &delivery_headers(&[("X-Hub-Signature-256", &good)]),
            &body,
            &with_secret(SECRET),
        )
        .unwrap();
    assert_eq!(events.len(), 1);
    // Hex case does not matter.
    let upper = format!("sha256={}", good["sha256=".len()..].to_uppercase());
    assert!(WEBHOOK
        .receive(
            &delivery_headers(&[("X-Hub-Signature-256", &upper)]),
            &body,
            &with_secret(SECRET),
        )
        .is_ok());
}

#[test]
fn the_example_of_githubs_documentation_checks_out() {
    // docs.github.com, "Validating webhook deliveries": secret and payload and the signature.
    let body = b"Hello, World!";
    let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_eq!(signature(SECRET, body), expected);
}

#[test]
fn wrong_or_missing_signature_is_401() {
    let body = pull_request_body();
    let good = signature(SECRET, &body);
    let cases: Vec<(&str, HeaderMap, Vec<u8>)> = vec![
        ("missing", delivery_headers(&[]), body.clone()),
        (
            "other secret",
            delivery_headers(&[("X-Hub-Signature-256", &signature("other", &body))]),
            body.clone(),
        ),
        (
            "other body",
            delivery_headers(&[("X-Hub-Signature-256", &good)]),
            [body.as_slice(), b" "].concat(),
        ),
        (
            "no sha256= prefix",
            delivery_headers(&[("X-Hub-Signature-256", &good["sha256=".len()..])]),
            body.clone(),
        ),
        (
            "sha1 header only",
            delivery_headers(&[("X-Hub-Signature", "sha1=0123456789abcdef")]),
            body.clone(),
        ),
        (
            "not hex",
            delivery_headers(&[("X-Hub-Signature-256", "sha256=zz")]),
            body.clone(),
        ),
    ];
    for (what, headers, body) in cases {
        let problem = WEBHOOK
            .receive(&headers, &body, &with_secret(SECRET))
            .unwrap_err();
        assert_eq!(problem.status, 401, "{what}");
        assert_eq!(
            problem.field.as_deref(),
            Some("X-Hub-Signature-256"),
            "{what}"
        );
    }
}

#[test]
fn the_signature_is_checked_before_anything_else() {
    // Unauthenticated callers learn nothing about what else is wrong with their request.
    let problem = WEBHOOK
        .receive(&HeaderMap::new(), b"not json", &with_secret(SECRET))
        .unwrap_err();
    assert_eq!(problem.status, 401);
}

#[test]
fn missing_headers_and_bad_bodies_are_400_naming_the_field() {
    let body = pull_request_body();
    let settings = WebhookSettings::default();
    let no_event = headers(&[("X-GitHub-Delivery", DELIVERY)]);
    let problem = WEBHOOK.receive(&no_event, &body, &settings).unwrap_err();
    assert_eq!(problem.status, 400);
    assert_eq!(problem.field.as_deref(), Some("X-GitHub-Event"));

    let blank_event = headers(&[("X-GitHub-Event", " "), ("X-GitHub-Delivery", DELIVERY)]);
    let problem = WEBHOOK.receive(&blank_event, &body, &settings).unwrap_err();
    assert_eq!(problem.field.as_deref(), Some("X-GitHub-Event"));

    let odd_event = headers(&[
        ("X-GitHub-Event", "pull request"),
        ("X-GitHub-Delivery", DELIVERY),
    ]);
    let problem = WEBHOOK.receive(&odd_event, &body, &settings).unwrap_err();
    assert_eq!(problem.status, 400);
    assert_eq!(problem.field.as_deref(), Some("X-GitHub-Event"));

    let no_delivery = headers(&[("X-GitHub-Event", "pull_request")]);
    let problem = WEBHOOK.receive(&no_delivery, &body, &settings).unwrap_err();
    assert_eq!(problem.status, 400);
    assert_eq!(problem.field.as_deref(), Some("X-GitHub-Delivery"));

    assert_bodies_not_json_objects_are_400(&WEBHOOK, &delivery_headers(&[]), &settings);
}

#[test]
fn header_names_are_case_insensitive() {
    let body = pull_request_body();
    let lower = headers(&[
        ("x-github-event", "pull_request"),
        ("x-github-delivery", DELIVERY),
        ("x-hub-signature-256", &signature(SECRET, &body)),
    ]);
    assert!(WEBHOOK.receive(&lower, &body, &with_secret(SECRET)).is_ok());
}

/// Every webhook-shaped fixture (not `knative-*`, which GitHubSource made) is exactly what the
/// adapter makes of its payload, with the captured headers where the fixture has them.
#[test]
fn the_transformer_fixtures_are_what_the_adapter_makes() {
    let mut checked = 0;
    for WebhookCase {
        name,
        dir,
        expected,
        body,
    } in webhook_cases("github")
    {
        let event_name = expected
            .event_type
            .strip_prefix(github::TYPE_PREFIX)
            .unwrap()
            .to_owned();
        let mut request = HeaderMap::new();
        if dir.join("headers.json").is_file() {
            // Captured from a real delivery (a few are descriptions, not headers: skipped).
            for (key, value) in read_json(&dir.join("headers.json")).as_object().unwrap() {
                if let (Ok(key), Some(value)) =
                    (HeaderName::from_bytes(key.as_bytes()), value.as_str())
                {
                    request.insert(key, HeaderValue::from_str(value).unwrap());
                }
            }
        } else {
            request = headers(&[
                ("X-GitHub-Event", &event_name),
                ("X-GitHub-Delivery", &expected.id),
            ]);
        }
        assert_fixture_made(&WEBHOOK, &name, &request, &body, expected);
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} fixtures checked");
}

// ---------------------------------------------------------------------------------------------
// Through the HTTP endpoint

fn delivery(event: &str, id: &str, signature: Option<String>) -> Vec<(String, String)> {
    let mut headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("X-GitHub-Event".to_owned(), event.to_owned()),
        ("X-GitHub-Delivery".to_owned(), id.to_owned()),
    ];
    if let Some(signature) = signature {
        headers.push(("X-Hub-Signature-256".to_owned(), signature));
    }
    headers
}

#[tokio::test]
async fn signed_deliveries_are_stored_once_and_bad_signatures_not_at_all() {
    let temp = TempStore::new("github", "signed").await;
    let address = serve(&temp.store, with_secret(SECRET)).await;
    let body = pull_request_body();

    let (status, problem) = post(
        address,
        "/webhooks/github",
        delivery(
            "pull_request",
            DELIVERY,
            Some(signature("wrong secret", &body)),
        ),
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["field"], "X-Hub-Signature-256");
    assert!(
        stored(&temp.store).await.is_empty(),
        "a rejected delivery is stored"
    );

    // GitHub redelivers with the same GUID: a duplicate, not a second event.
    let good = Some(signature(SECRET, &body));
    let headers = delivery("pull_request", DELIVERY, good);
    deliver_twice(address, "/webhooks/github", headers, body).await;

    let [event] = &stored(&temp.store).await[..] else {
        panic!("not one event stored");
    };
    assert_eq!(event.id, DELIVERY);
    assert_eq!(event.event_type, "dev.knative.source.github.pull_request");
    assert_eq!(event.source, "https://github.com/Codertocat/Hello-World");
}

#[tokio::test]
async fn unsigned_ping_is_stored_and_a_missing_event_header_is_400() {
    let temp = TempStore::new("github", "unsigned").await;
    let address = serve(&temp.store, WebhookSettings::default()).await;
    let body = case_body("github", "cdviz-ping");

    let mut headers = delivery("ping", "0b1c2d3e-0000-4000-8000-000000000001", None);
    headers.retain(|(name, _)| name != "X-GitHub-Event");
    let (status, problem) = post(address, "/webhooks/github", headers, body.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["field"], "X-GitHub-Event");

    // Events the transformer ignores are stored all the same, and answered 202.
    let (status, answer) = post(
        address,
        "/webhooks/github",
        delivery("ping", "0b1c2d3e-0000-4000-8000-000000000001", None),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(answer["accepted"], 1);
    let [event] = &stored(&temp.store).await[..] else {
        panic!("not one event stored");
    };
    assert_eq!(event.source, "https://github.com/aaaaa-aaa");
    assert_eq!(event.subject.as_deref(), Some("111111111"));
}
