//! `POST /webhooks/argocd`: the adapter's checks (bearer token, payload fields), the CloudEvent
//! it makes, and the endpoint on a real server over a fresh SQLite store.
//!
//! The adapter's CloudEvent for `tests/fixtures/argocd/payloads/<name>.json` (repository root)
//! must equal the golden input `tests/fixtures/argocd/<name>-0/input.json` that `dora-pipeline`'s
//! `delivery_golden` test turns into CDEvents, so the two halves of the integration are tied
//! together. With `DORA_UPDATE_GOLDEN=1` the input files are rewritten from the adapter.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use axum::http::{HeaderMap, StatusCode};
use common::{bearer, compare_input, deliver_twice, serve, stored, update_golden, TempStore};
use dora_http::Problem;
use dora_model::cloudevent::{CloudEvent, Data};
use dora_sources::argocd::webhook::WEBHOOK;
use dora_sources::webhook::{TokenSetting, WebhookSettings};
use serde_json::{json, Value};

const TOKEN: &str = "s3cr3t-argocd-t0ken";

const TOOL: &str = "argocd";

fn fixtures() -> PathBuf {
    common::fixtures(TOOL)
}

fn payload_bytes(name: &str) -> Vec<u8> {
    common::payload_bytes(TOOL, name)
}

fn payload(name: &str) -> Value {
    common::payload(TOOL, name)
}

/// The payload names (file stems under `payloads/`), sorted.
fn payload_names() -> Vec<String> {
    common::payload_names(TOOL)
}

/// The golden case directories (those holding an `input.json`).
fn case_names() -> BTreeSet<String> {
    common::case_names(TOOL)
}

fn unsigned() -> WebhookSettings {
    WebhookSettings::default()
}

fn with_token(token: &str) -> WebhookSettings {
    WebhookSettings {
        argocd: TokenSetting {
            token: Some(token.to_owned()),
        },
        ..WebhookSettings::default()
    }
}

fn accepted(headers: &HeaderMap, body: &[u8], settings: &WebhookSettings) -> CloudEvent {
    let mut events = WEBHOOK
        .receive(headers, body, settings)
        .unwrap_or_else(|p| panic!("refused: {}", serde_json::to_string(&p).unwrap()));
    assert_eq!(events.len(), 1, "one CloudEvent per notification");
    events.remove(0)
}

fn refused(body: &[u8]) -> Problem {
    WEBHOOK
        .receive(&HeaderMap::new(), body, &unsigned())
        .expect_err("the payload is refused")
}

fn assert_unauthorized(result: Result<Vec<CloudEvent>, Problem>) {
    let problem = result.expect_err("refused");
    assert_eq!(problem.status, 401);
    assert_eq!(problem.field.as_deref(), Some("Authorization"));
}

#[test]
fn payloads_give_the_golden_inputs() {
    let update = update_golden();
    let mut produced = BTreeSet::new();
    let mut failures = Vec::new();
    for name in payload_names() {
        let event = accepted(&HeaderMap::new(), &payload_bytes(&name), &unsigned());
        let stored = event.to_json();
        // What the raw store keeps parses back to the same event.
        assert_eq!(
            CloudEvent::from_json_value(stored.clone()).unwrap(),
            event,
            "{name}"
        );
        let case = format!("{name}-0");
        let path = fixtures().join(&case).join("input.json");
        compare_input(&case, &path, &stored, update, &mut failures);
        produced.insert(case);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(produced.len() >= 13, "only {} cases", produced.len());
    if !update {
        // Every golden case comes from a payload: none is written by hand.
        assert_eq!(case_names(), produced, "cases without a payload");
    }
}

#[test]
fn the_cloudevent_of_a_notification() {
    let body = payload_bytes("cdviz-008-on-deployed");
    let event = accepted(&HeaderMap::new(), &body, &unsigned());
    assert_eq!(event.event_type, "io.argoproj.argocd.on-deployed");
    assert_eq!(event.source, "https://demo.cdviz.dev");
    assert_eq!(
        event.id,
        "argocd/aaaaaaaaa/94fcc5e8673e0d2d7fbca6b1c6c455ba308314fc/2025-10-02T16:20:55Z/\
         on-deployed/2025-09-30T12:01:51Z"
    );
    // The latest of startedAt, finishedAt and the health's lastTransitionTime.
    assert_eq!(event.time_text.as_deref(), Some("2025-10-02T16:20:59Z"));
    assert_eq!(event.subject.as_deref(), Some("aaaaaaaaa"));
    assert_eq!(event.datacontenttype.as_deref(), Some("application/json"));
    assert!(event.extensions.is_empty());
    assert_eq!(
        event.data,
        Some(Data::Json(payload("cdviz-008-on-deployed")))
    );
}

#[test]
fn the_same_notification_twice_has_the_same_id_and_another_trigger_another() {
    let body = payload_bytes("cdviz-008-on-deployed");
    let first = accepted(&HeaderMap::new(), &body, &unsigned());
    // Re-serialised (another key order, spacing): the same event.
    let again = serde_json::to_vec_pretty(&payload("cdviz-008-on-deployed")).unwrap();
    assert_eq!(accepted(&HeaderMap::new(), &again, &unsigned()), first);
    let other = accepted(
        &HeaderMap::new(),
        &payload_bytes("derived-008-on-sync-succeeded"),
        &unsigned(),
    );
    assert_ne!(other.id, first.id);
    assert_eq!(other.source, first.source);
}

#[test]
fn source_is_the_argocd_url_or_argocd() {
    let mut notification = payload("cdviz-008-on-deployed");
    notification["argocdUrl"] = json!("https://cd.example.com/");
    let event = accepted(
        &HeaderMap::new(),
        notification.to_string().as_bytes(),
        &unsigned(),
    );
    assert_eq!(event.source, "https://cd.example.com");
    for missing in [json!(null), json!(""), json!("  ")] {
        notification["argocdUrl"] = missing;
        let event = accepted(
            &HeaderMap::new(),
            notification.to_string().as_bytes(),
            &unsigned(),
        );
        assert_eq!(event.source, "argocd");
    }
    // A minimal payload: trigger and application name.
    let minimal = json!({"trigger": "on-created", "app": {"name": "guestbook"}});
    let event = accepted(
        &HeaderMap::new(),
        minimal.to_string().as_bytes(),
        &unsigned(),
    );
    assert_eq!(event.id, "guestbook/-/-/on-created/-");
    assert_eq!(event.time, None);
    assert_eq!(event.event_type, "io.argoproj.argocd.on-created");
}

#[test]
fn token_is_required_when_configured() {
    let body = payload_bytes("cdviz-008-on-deployed");
    let settings = with_token(TOKEN);
    accepted(&bearer(&format!("Bearer {TOKEN}")), &body, &settings);
    accepted(&bearer(&format!("bearer  {TOKEN} ")), &body, &settings);
    for wrong in [
        format!("Bearer {TOKEN}x"),
        "Bearer ".to_owned(),
        TOKEN.to_owned(),
        format!("Basic {TOKEN}"),
        "Bearer other".to_owned(),
    ] {
        assert_unauthorized(WEBHOOK.receive(&bearer(&wrong), &body, &settings));
    }
    assert_unauthorized(WEBHOOK.receive(&HeaderMap::new(), &body, &settings));
    // The token is checked before the body: unauthenticated callers learn nothing else.
    assert_unauthorized(WEBHOOK.receive(&HeaderMap::new(), b"{nope", &settings));
    // Without a token, any Authorization header is ignored.
    accepted(&bearer("Bearer whatever"), &body, &unsigned());
}

/// A change that breaks a payload.
type Breakage = Box<dyn Fn(&mut Value)>;

#[test]
fn malformed_payloads_are_400_naming_the_field() {
    let base = payload("cdviz-008-on-deployed");
    let cases: Vec<(&str, Breakage)> = vec![
        ("/trigger", Box::new(|p| p["trigger"] = json!(null))),
        ("/trigger", Box::new(|p| p["trigger"] = json!(""))),
        (
            "/trigger",
            Box::new(|p| p["trigger"] = json!("on deployed")),
        ),
        ("/trigger", Box::new(|p| p["trigger"] = json!(3))),
        (
            "/app",
            Box::new(|p| {
                p.as_object_mut().unwrap().remove("app");
            }),
        ),
        ("/app", Box::new(|p| p["app"] = json!("guestbook"))),
        ("/app/name", Box::new(|p| p["app"]["name"] = json!(""))),
        (
            "/app/labels/team",
            Box::new(|p| p["app"]["labels"] = json!({"team": 7})),
        ),
        ("/argocdUrl", Box::new(|p| p["argocdUrl"] = json!(["x"]))),
        ("/destination", Box::new(|p| p["destination"] = json!("ns"))),
        (
            "/operation/startedAt",
            Box::new(|p| p["operation"]["startedAt"] = json!("2025-10-02 16:20:55")),
        ),
        (
            "/operation/revisions/1",
            Box::new(|p| p["operation"]["revisions"] = json!(["a", {"b": 1}])),
        ),
        (
            "/health/lastTransitionTime",
            Box::new(|p| p["health"]["lastTransitionTime"] = json!(1_759_421_002)),
        ),
        ("/images", Box::new(|p| p["images"] = json!("nginx"))),
        ("/history/1", Box::new(|p| p["history"] = json!([{}, 5]))),
        (
            "/history/0/deployStartedAt",
            Box::new(|p| p["history"] = json!([{"deployStartedAt": "never"}])),
        ),
    ];
    for (field, breakage) in cases {
        let mut broken = base.clone();
        breakage(&mut broken);
        let problem = refused(broken.to_string().as_bytes());
        assert_eq!(problem.status, 400, "{field}");
        assert_eq!(problem.field.as_deref(), Some(field), "{}", problem.detail);
        assert!(problem.detail.starts_with(field), "{}", problem.detail);
    }
    for body in [b"not json".as_slice(), b"", b"[1]", b"\"text\"", b"null"] {
        let problem = refused(body);
        assert_eq!(problem.status, 400);
        assert_eq!(problem.field.as_deref(), Some("body"));
    }
}

// ---------------------------------------------------------------------------------------------
// Through the HTTP endpoint

/// The headers of a notification, with `authorization` when given.
fn notification_headers(authorization: Option<String>) -> Vec<(String, String)> {
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    if let Some(authorization) = authorization {
        headers.push(("Authorization".to_owned(), authorization));
    }
    headers
}

/// One HTTP/1.1 POST to `/webhooks/argocd`; returns the status and the JSON body.
async fn post(
    address: std::net::SocketAddr,
    authorization: Option<String>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let headers = notification_headers(authorization);
    common::post(address, "/webhooks/argocd", headers, body).await
}

#[tokio::test]
async fn notifications_are_stored_once_and_bad_tokens_not_at_all() {
    let temp = TempStore::new("argocd", "token").await;
    let address = serve(&temp.store, with_token(TOKEN)).await;
    let body = payload_bytes("cdviz-010-on-health-degraded");

    let (status, problem) = post(address, Some("Bearer wrong".into()), body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(problem["field"], "Authorization");
    let (status, _) = post(address, None, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        stored(&temp.store).await.is_empty(),
        "a refused notification is stored"
    );

    // Argo CD's webhook client retries: the same notification is a duplicate.
    let good = Some(format!("Bearer {TOKEN}"));
    let headers = notification_headers(good.clone());
    deliver_twice(address, "/webhooks/argocd", headers, body).await;

    // A trigger the transformer does not map is stored all the same.
    let (status, answer) = post(
        address,
        good.clone(),
        payload_bytes("cdviz-007-on-sync-running"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(answer["accepted"], 1);

    // A malformed payload is 400 and stores nothing.
    let (status, problem) = post(address, good, b"{\"app\": {\"name\": \"x\"}}".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["field"], "/trigger");

    let stored = stored(&temp.store).await;
    assert_eq!(stored.len(), 2);
    let event = &stored[0];
    assert_eq!(event.event_type, "io.argoproj.argocd.on-health-degraded");
    assert_eq!(event.source, "https://demo.cdviz.dev");
    assert_eq!(event.subject.as_deref(), Some("aaaaaaa"));
}

// ---------------------------------------------------------------------------------------------
// The documented Argo CD configuration

/// `tests/fixtures/argocd/argocd-notifications-cm.yaml` is what `docs/integrations/argocd.md`
/// tells users to install, and its templates differ only in the trigger they name.
#[test]
fn the_documented_configuration_is_the_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let yaml = fs::read_to_string(fixtures().join("argocd-notifications-cm.yaml")).unwrap();
    let doc = fs::read_to_string(root.join("docs/integrations/argocd.md")).unwrap();
    assert!(
        doc.contains(&format!("```yaml\n{yaml}```")),
        "docs/integrations/argocd.md does not hold the fixture's ConfigMap verbatim"
    );
    let triggers = [
        "on-sync-succeeded",
        "on-sync-failed",
        "on-health-degraded",
        "on-health-recovered",
    ];
    let mut bodies = Vec::new();
    for trigger in triggers {
        assert!(
            yaml.contains(&format!("  trigger.{trigger}: |\n")),
            "{trigger}"
        );
        assert!(
            yaml.contains(&format!("send: [dora-events-{trigger}]")),
            "{trigger}"
        );
        let start = yaml
            .find(&format!("  template.dora-events-{trigger}: |\n"))
            .unwrap_or_else(|| panic!("no template for {trigger}"));
        let rest = &yaml[start..];
        let end = rest[1..].find("\n\n  ").map_or(rest.len(), |end| end + 1);
        let template = &rest[..end];
        assert!(template.contains("path: /webhooks/argocd"), "{trigger}");
        assert!(template.contains("method: POST"), "{trigger}");
        assert!(
            template.contains(&format!("\"trigger\": \"{trigger}\",")),
            "{trigger}"
        );
        bodies.push(
            template
                .replace(trigger, "TRIGGER")
                .lines()
                .skip(1)
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
    assert!(
        bodies.windows(2).all(|pair| pair[0] == pair[1]),
        "{bodies:#?}"
    );
    // Every member the payload parser reads is rendered by the template.
    for member in [
        "\"argocdUrl\"",
        "\"destination\"",
        "\"sync\"",
        "\"operation\"",
        "\"startedAt\"",
        "\"finishedAt\"",
        "\"syncRevisions\"",
        "\"health\"",
        "\"images\"",
        "\"history\"",
        "\"deployStartedAt\"",
    ] {
        assert!(bodies[0].contains(member), "{member}");
    }
    // The payload fixtures use the documented triggers (and others the transformer ignores).
    for name in payload_names() {
        let trigger = payload(&name)["trigger"].as_str().unwrap().to_owned();
        assert!(name.contains(&trigger), "{name}: trigger {trigger}");
    }
}
